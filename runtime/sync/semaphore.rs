//! `Semaphore`: a counting semaphore with FIFO fairness and a permit
//! guard, for bounding concurrency among goroutines and threads.
//!
//! One state word: the available permits shifted left by one, and a
//! `PARKED` bit saying the wait queue is (or was just) non-empty. While
//! `PARKED` is set nobody takes permits by the fast path: a released
//! permit goes straight to the queue head (hand-off), so waiters are served
//! strictly in arrival order and a stream of `try_acquire`s cannot starve
//! them. `PARKED` changes only under the queue lock.
//!
//! This file must never hand out more permits than were created and
//! added, never let the count wrap (adding past `MAX_PERMITS` panics), and
//! never park while holding the queue lock.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::sync::waiter::{wait_until, End, Wait, WaitQueue, Why};

const PARKED: usize = 1;
const ONE_PERMIT: usize = 2;

/// Verdict: a released permit was handed to us.
const GRANTED: u32 = 1;

/// A counting semaphore; waiters get permits in arrival order.
///
/// ```
/// let s = goro::sync::Semaphore::new(1);
/// let p = s.acquire();
/// assert!(s.try_acquire().is_none());
/// drop(p);
/// assert!(s.try_acquire().is_some());
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    queue: parking_lot::Mutex<WaitQueue<()>>,
}

// The semaphore guards no user data and its state moves atomically, so a
// caught panic cannot leave it inconsistent.
impl UnwindSafe for Semaphore {}
impl RefUnwindSafe for Semaphore {}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    ///
    /// ```
    /// static POOL: goro::sync::Semaphore = goro::sync::Semaphore::new(3);
    /// assert_eq!(POOL.available_permits(), 3);
    /// ```
    ///
    /// ```should_panic
    /// let s = goro::sync::Semaphore::new(goro::sync::Semaphore::MAX_PERMITS + 1);
    /// ```
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "sync: too many Semaphore permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits * ONE_PERMIT),
            queue: parking_lot::Mutex::new(WaitQueue::new()),
        }
    }

    /// The most permits a semaphore can hold.
    ///
    /// ```
    /// use goro::sync::Semaphore;
    /// let s = Semaphore::new(Semaphore::MAX_PERMITS);
    /// assert_eq!(s.available_permits(), Semaphore::MAX_PERMITS);
    /// ```
    pub const MAX_PERMITS: usize = usize::MAX / ONE_PERMIT;

    /// Takes a permit, parking until one is free. The permit returns to
    /// the semaphore when the guard drops.
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicUsize, Ordering}, Arc};
    /// let (sem, busy) = (Arc::new(goro::sync::Semaphore::new(2)), Arc::new(AtomicUsize::new(0)));
    /// let hs: Vec<_> = (0..8)
    ///     .map(|_| {
    ///         let (sem, busy) = (sem.clone(), busy.clone());
    ///         goro::go!(move || {
    ///             let _permit = sem.acquire(); // at most 2 inside at once
    ///             assert!(busy.fetch_add(1, Ordering::SeqCst) < 2);
    ///             goro::gosched();
    ///             busy.fetch_sub(1, Ordering::SeqCst);
    ///         })
    ///     })
    ///     .collect();
    /// hs.into_iter().for_each(|h| h.join().unwrap());
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        crate::scheduler::coop();
        if !self.try_take() {
            self.acquire_slow(None);
        }
        SemaphorePermit { sem: self }
    }

    /// Takes a permit if one is free now and nobody is queued for one.
    ///
    /// ```
    /// let s = goro::sync::Semaphore::new(1);
    /// let p = s.try_acquire().unwrap();
    /// assert!(s.try_acquire().is_none()); // none left: no waiting
    /// drop(p);
    /// assert!(s.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        crate::scheduler::coop();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & PARKED != 0 || s < ONE_PERMIT {
                return None;
            }
            // Acquire: pairs with the Release of the permit's last holder.
            match self.state.compare_exchange_weak(
                s,
                s - ONE_PERMIT,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(SemaphorePermit { sem: self }),
                Err(now) => s = now,
            }
        }
    }

    /// Takes a permit, waiting at most `timeout`; `None` if none came. A
    /// waiter that times out just as a permit is handed to it keeps the
    /// permit (it is never lost). A timeout too large for an `Instant`
    /// waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = goro::sync::Semaphore::new(1);
    /// let p = s.acquire();
    /// assert!(s.acquire_timeout(Duration::from_millis(5)).is_none());
    /// drop(p);
    /// assert!(s.acquire_timeout(Duration::from_millis(5)).is_some());
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        // A free permit costs no clock read.
        if self.try_take() {
            return Some(SemaphorePermit { sem: self });
        }
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.acquire_deadline(deadline),
            None => Some(self.acquire()),
        }
    }

    /// Takes a permit, waiting until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let s = goro::sync::Semaphore::new(0);
    /// assert!(s.acquire_deadline(Instant::now() + Duration::from_millis(5)).is_none());
    /// s.add_permits(1);
    /// assert!(s.acquire_deadline(Instant::now()).is_some());
    /// ```
    #[track_caller]
    pub fn acquire_deadline(&self, deadline: Instant) -> Option<SemaphorePermit<'_>> {
        if self.try_take() || self.acquire_slow(Some(deadline)) {
            Some(SemaphorePermit { sem: self })
        } else {
            None
        }
    }

    /// Permits free right now (a racy snapshot).
    ///
    /// ```
    /// let s = goro::sync::Semaphore::new(2);
    /// let _p = s.acquire();
    /// assert_eq!(s.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) / ONE_PERMIT
    }

    /// Adds `n` permits, waking queued waiters first.
    ///
    /// ```
    /// let s = goro::sync::Semaphore::new(0);
    /// s.add_permits(2);
    /// assert_eq!(s.available_permits(), 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If the semaphore would hold more than [`Semaphore::MAX_PERMITS`]
    /// (the permits that fit are added first).
    pub fn add_permits(&self, n: usize) {
        for _ in 0..n {
            self.release();
        }
    }

    /// One fast-path attempt.
    #[inline]
    fn try_take(&self) -> bool {
        let s = self.state.load(Ordering::Relaxed);
        // Acquire: pairs with the Release of the permit's last holder.
        s & PARKED == 0
            && s >= ONE_PERMIT
            && self
                .state
                .compare_exchange(s, s - ONE_PERMIT, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Waits for a permit; false if `deadline` passed first.
    #[cold]
    #[track_caller]
    fn acquire_slow(&self, deadline: Option<Instant>) -> bool {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & PARKED == 0 && s >= ONE_PERMIT {
                if self.try_take() {
                    return true;
                }
                continue;
            }
            let q = self.queue.lock();
            let s = self.state.load(Ordering::Relaxed);
            if s & PARKED == 0 {
                if s >= ONE_PERMIT {
                    continue;
                }
                // Queue lock held: from here every release sees PARKED and
                // hands its permit over instead of adding it.
                if self
                    .state
                    .compare_exchange(s, s | PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
            }
            let on_timeout = |q: &mut WaitQueue<()>| {
                // The last waiter left: nobody is owed a hand-off any more.
                if q.is_empty() {
                    self.state.fetch_and(!PARKED, Ordering::Relaxed);
                }
            };
            let waited = wait_until(
                q,
                (),
                End::Back,
                Why::here(WaitReason::Semaphore),
                deadline,
                || (),
                on_timeout,
            );
            return matches!(waited, Wait::Woken(_));
        }
    }

    fn release(&self) {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & PARKED == 0 {
            // Only `add_permits` can get here with MAX_PERMITS free: a
            // guard's permit was counted out when it was taken.
            let Some(next) = s.checked_add(ONE_PERMIT) else {
                too_many_permits()
            };
            // Release: our critical section happens before the next taker's.
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => s = now,
            }
        }
        self.release_slow();
    }

    #[cold]
    fn release_slow(&self) {
        let mut q = self.queue.lock();
        match q.wake_front(GRANTED) {
            Some((_, unparker)) => {
                if q.is_empty() {
                    self.state.fetch_and(!PARKED, Ordering::Relaxed);
                }
                drop(q);
                unparker.unpark();
            }
            None => {
                // PARKED was stale (the last waiter timed out): add the
                // permit and clear the bit. Release as in `release`.
                let _ = self
                    .state
                    .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                        Some((s + ONE_PERMIT) & !PARKED)
                    });
            }
        }
    }
}

/// `add_permits` past `MAX_PERMITS`: the count would wrap around to none.
#[cold]
fn too_many_permits() -> ! {
    panic!("sync: too many Semaphore permits")
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .finish()
    }
}

/// One permit of a [`Semaphore`], returned when dropped (on any thread).
///
/// ```
/// let s = goro::sync::Semaphore::new(1);
/// let p: goro::sync::SemaphorePermit<'_> = s.acquire();
/// assert_eq!(s.available_permits(), 0);
/// drop(p);
/// assert_eq!(s.available_permits(), 1);
/// ```
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Drops the permit without returning it: the semaphore shrinks by one.
    ///
    /// ```
    /// let s = goro::sync::Semaphore::new(2);
    /// s.acquire().forget();
    /// assert_eq!(s.available_permits(), 1); // for good
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
