//! `Mutex`: a mutual-exclusion lock that parks the goroutine, not the
//! worker, and may be unlocked on any thread.
//!
//! The lock is one state byte (parking_lot's `raw_mutex` shape, its
//! transitions in `mutex_state.rs`) plus a wait queue:
//!
//! * `LOCKED`: someone owns the lock;
//! * `PARKED`: the wait queue is (or was just) non-empty, so unlock must
//!   take the slow path and wake someone. Set and cleared only under the
//!   queue lock.
//!
//! Fast paths are a single compare-exchange (`0 -> LOCKED` to lock,
//! `LOCKED -> 0` to unlock). The slow paths (`#[cold]`) spin briefly, then
//! queue and park.
//!
//! Fairness, Go's `sync.Mutex` starvation mode made per unlock: normally an
//! unlock releases the lock and wakes the queue head, which then competes
//! with newcomers (barging keeps throughput high: the running goroutine
//! that wants the lock again usually gets it without a switch). A woken
//! waiter that loses goes back to the *front* of the queue, keeping the
//! time it first queued. Once the head has waited `STARVATION` (1 ms, as in
//! Go), unlock does not release at all: it hands the lock, still `LOCKED`,
//! directly to the head. So no waiter waits much longer than 1 ms plus the
//! critical sections of the waiters queued before it.
//!
//! `try_lock_for`/`try_lock_until` wait with a deadline (a timer on the
//! one park path, `park_until`). A waiter whose deadline passes takes its
//! node out of the queue under the queue lock, where every verdict is
//! given, so a hand-off that raced with the timeout is seen and kept, and
//! a "compete again" wake-up makes it try the lock once more before it
//! gives up: nobody queued behind it is left waiting for a wake-up it
//! swallowed.
//!
//! The lock is not thread-affine: a guard taken on one worker may be
//! dropped on another after the goroutine migrated. There is no poisoning.
//! This file must never park while holding the queue lock, and never let
//! the fast paths grow beyond one atomic operation.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::time::{Duration, Instant};

use super::mutex_state::{MutexState, Waited};
use crate::coroutine::WaitReason;
use crate::sync::waiter::{wait_until, End, Wait, WaitQueue, Why};

/// Verdict: the unlocker handed us the lock; we own it.
const HANDOFF: u32 = 1;
/// Verdict: the lock was released; compete for it again.
const RETRY: u32 = 2;

/// How long the queue head may wait before unlock hands the lock to it.
const STARVATION: Duration = Duration::from_millis(1);

/// A mutual-exclusion lock for goroutines and threads alike.
///
/// `lock` parks the calling goroutine (or blocks the calling thread) until
/// the lock is free. No waiter starves: after 1 ms of waiting, the lock is
/// handed over to the longest waiter directly. There is no poisoning: a
/// panic while holding the guard just unlocks.
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(goro::sync::Mutex::new(0));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let m = m.clone();
///         goro::go!(move || *m.lock() += 1)
///     })
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*m.lock(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    state: MutexState,
    queue: parking_lot::Mutex<WaitQueue<Instant>>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one guard at a time, and guards
// may be sent to (or released on) other threads, so sharing the Mutex is
// sharing T by move: `T: Send` suffices, as for `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// ```
    /// static HITS: goro::sync::Mutex<u32> = goro::sync::Mutex::new(0);
    /// *HITS.lock() += 1;
    /// assert_eq!(*HITS.lock(), 1);
    /// ```
    pub const fn new(value: T) -> Self {
        Mutex {
            state: MutexState::new(),
            queue: parking_lot::Mutex::new(WaitQueue::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(vec![1]);
    /// m.lock().push(2);
    /// assert_eq!(m.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks, parking the goroutine (or blocking the thread) meanwhile.
    ///
    /// Locking a mutex the caller already holds deadlocks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let m = Arc::new(goro::sync::Mutex::new(String::new()));
    /// let m2 = m.clone();
    /// goro::go!(move || m2.lock().push_str("hi")).join().unwrap();
    /// let mut s = m.lock(); // held until `s` drops
    /// s.push('!');
    /// assert_eq!(*s, "hi!");
    /// ```
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        crate::scheduler::coop();
        self.lock_raw(Location::caller());
        MutexGuard {
            mutex: self,
            _marker: PhantomData,
        }
    }

    /// Locks, waiting at most `timeout`; `None` if the lock did not come
    /// in time (parking_lot's name). A timeout too large for an `Instant`
    /// waits for ever, as [`lock`](Mutex::lock).
    ///
    /// ```
    /// use std::time::Duration;
    /// let m = goro::sync::Mutex::new(0);
    /// let held = m.lock();
    /// assert!(m.try_lock_for(Duration::from_millis(5)).is_none());
    /// drop(held);
    /// *m.try_lock_for(Duration::from_millis(5)).unwrap() += 1;
    /// assert_eq!(*m.lock(), 1);
    /// ```
    #[track_caller]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        // A free lock costs no clock read.
        if self.state.lock_fast() {
            crate::scheduler::coop();
            return Some(MutexGuard {
                mutex: self,
                _marker: PhantomData,
            });
        }
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_lock_until(deadline),
            None => Some(self.lock()),
        }
    }

    /// Locks, waiting until `deadline` at the latest; `None` if the lock
    /// did not come in time. A deadline already past still takes a free
    /// lock.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let m = goro::sync::Mutex::new(());
    /// let _held = m.lock();
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(m.try_lock_until(deadline).is_none());
    /// assert!(Instant::now() >= deadline);
    /// ```
    #[track_caller]
    pub fn try_lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        crate::scheduler::coop();
        (self.state.lock_fast() || self.lock_slow(Some(deadline), Location::caller())).then(|| {
            MutexGuard {
                mutex: self,
                _marker: PhantomData,
            }
        })
    }

    /// Locks if the lock is free right now.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(1);
    /// let held = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none()); // taken: no waiting
    /// drop(held);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        crate::scheduler::coop();
        // `then`, not `then_some`: a guard built eagerly would unlock on
        // drop when the try fails.
        self.state.try_lock().then(|| MutexGuard {
            mutex: self,
            _marker: PhantomData,
        })
    }

    /// Whether someone holds the lock (a racy snapshot).
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(());
    /// assert!(!m.is_locked());
    /// let _g = m.lock();
    /// assert!(m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state.is_locked()
    }

    /// The value, through an exclusive borrow: no locking needed.
    ///
    /// ```
    /// let mut m = goro::sync::Mutex::new(0);
    /// *m.get_mut() = 10;
    /// assert_eq!(*m.lock(), 10);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Locks; a wait shows `at` in `dump()`.
    #[inline]
    pub(crate) fn lock_raw(&self, at: &'static Location<'static>) {
        if !self.state.lock_fast() {
            let owned = self.lock_slow(None, at);
            debug_assert!(owned, "a lock without a deadline gave up");
        }
    }

    /// Releases the lock. The caller must hold it.
    #[inline]
    pub(crate) fn unlock_raw(&self) {
        if !self.state.unlock_fast() {
            self.unlock_slow();
        }
    }

    /// Waits for the lock until `deadline` (for ever if `None`); whether
    /// it is ours.
    #[cold]
    fn lock_slow(&self, deadline: Option<Instant>, at: &'static Location<'static>) -> bool {
        let mut first_queued: Option<Instant> = None;
        let why = Why::at(WaitReason::Mutex, at);
        self.state.lock_contended(
            || self.queue.lock(),
            |q, front| {
                let since = *first_queued.get_or_insert_with(Instant::now);
                let end = if front { End::Front } else { End::Back };
                // A timed-out waiter leaves `PARKED` set even if the queue
                // is empty now: the next unlock takes the slow path, finds
                // nobody and clears it.
                match wait_until(q, since, end, why, deadline, || (), |_| ()) {
                    Wait::Woken(HANDOFF) => Waited::Owned,
                    Wait::Woken(_) => Waited::Retry,
                    Wait::TimedOut => Waited::GaveUp,
                }
            },
        )
    }

    #[cold]
    fn unlock_slow(&self) {
        let mut q = self.queue.lock();
        let starving = q.front().is_some_and(|since| since.elapsed() >= STARVATION);
        self.state
            .release_contended(starving, q.tags().nth(1).is_some());
        let woken = q.wake_front(if starving { HANDOFF } else { RETRY });
        drop(q);
        if let Some((_, unparker)) = woken {
            unparker.unpark();
        }
    }

    /// The data pointer, for guards.
    fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Proof of holding a [`Mutex`]; unlocks on drop, on whatever thread the
/// goroutine runs by then.
///
/// `Send` when `T: Send` (unlike std's guard): unlocking is not tied to the
/// locking thread, so a goroutine may migrate while holding it.
///
/// ```
/// let m = goro::sync::Mutex::new(vec![1, 2]);
/// let mut g: goro::sync::MutexGuard<'_, Vec<i32>> = m.lock();
/// g.push(3); // DerefMut to the value
/// goro::gosched(); // fine to hold across a goro wait
/// assert_eq!(g.len(), 3);
/// drop(g); // unlocks
/// assert!(!m.is_locked());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    // &mut T: the guard is Send iff T: Send and Sync iff T: Sync, which is
    // exactly what handing out `&mut T` / `&T` through it requires.
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Condvar`).
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock, so no `&mut T` exists
        // elsewhere for the guard's lifetime.
        unsafe { &*self.mutex.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock exclusively, and
        // `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.mutex.data_ptr() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.unlock_raw();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
