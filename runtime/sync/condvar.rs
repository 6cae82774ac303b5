//! `Condvar`: wait for a condition under a goro [`Mutex`], parking the
//! goroutine (not the worker) meanwhile; Go's `sync.Cond` with std's shape.
//!
//! `wait` queues the caller on the condvar *before* it releases the mutex,
//! so a `notify_*` made by whoever takes the mutex next always finds it:
//! no wake-up is lost between "check the condition" and "sleep". A waiter
//! is dequeued by exactly one notify (or its own timeout), then relocks the
//! mutex before returning.
//!
//! As with every condition variable, another goroutine may change the
//! condition between the notify and the relock: check it in a loop (or use
//! [`Condvar::wait_while`]). This file must never return from a wait
//! without the mutex locked again, even when unwinding.

use std::cell::Cell;
use std::fmt;
use std::panic::{Location, RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::sync::mutex::{Mutex, MutexGuard};
use crate::sync::waiter::{wait_until, End, Wait, WaitQueue, Why};

/// Verdict: a notify dequeued us.
const NOTIFIED: u32 = 1;

/// A condition variable for goro's [`Mutex`].
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::{Condvar, Mutex};
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = pair.clone();
/// goro::go!(move || {
///     *p.0.lock() = true;
///     p.1.notify_one();
/// });
/// let mut ready = pair.0.lock();
/// while !*ready {
///     pair.1.wait(&mut ready);
/// }
/// ```
pub struct Condvar {
    queue: parking_lot::Mutex<WaitQueue<()>>,
}

// No user data; a panic cannot leave the queue inconsistent.
impl UnwindSafe for Condvar {}
impl RefUnwindSafe for Condvar {}

/// Whether a timed wait returned because its time ran out.
///
/// ```
/// use std::time::Duration;
/// use goro::sync::{Condvar, Mutex};
/// let (m, cv) = (Mutex::new(()), Condvar::new());
/// let mut g = m.lock();
/// let r: goro::sync::WaitTimeoutResult = cv.wait_timeout(&mut g, Duration::from_millis(5));
/// assert!(r.timed_out()); // nobody notified
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended by timeout rather than a notify.
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// use goro::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// goro::go!(move || {
    ///     *p.0.lock() = true;
    ///     p.1.notify_one();
    /// });
    /// let mut done = pair.0.lock();
    /// while !*done {
    ///     let r = pair.1.wait_timeout(&mut done, Duration::from_secs(10));
    ///     assert!(!r.timed_out() || *done);
    /// }
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable with no waiters.
    ///
    /// ```
    /// static READY: goro::sync::Condvar = goro::sync::Condvar::new();
    /// assert!(!READY.notify_one()); // no waiters yet
    /// ```
    pub const fn new() -> Self {
        Condvar {
            queue: parking_lot::Mutex::new(WaitQueue::new()),
        }
    }

    /// Releases the guard's mutex, parks until notified, relocks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    /// let p = pair.clone();
    /// goro::go!(move || {
    ///     p.0.lock().push(42);
    ///     p.1.notify_one();
    /// });
    /// let mut queue = pair.0.lock();
    /// while queue.is_empty() {
    ///     pair.1.wait(&mut queue); // the mutex is free while we wait
    /// }
    /// assert_eq!(queue.pop(), Some(42));
    /// ```
    #[track_caller]
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_inner(guard, None);
    }

    /// Like [`wait`](Condvar::wait), giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(0), Condvar::new());
    /// let mut g = m.lock();
    /// let r = cv.wait_timeout(&mut g, Duration::from_millis(10));
    /// assert!(r.timed_out());
    /// *g += 1; // the mutex is locked again
    /// ```
    #[track_caller]
    pub fn wait_timeout<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        timeout: Duration,
    ) -> WaitTimeoutResult {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(guard, deadline),
            None => {
                self.wait(guard);
                WaitTimeoutResult(false)
            }
        }
    }

    /// Like [`wait`](Condvar::wait), giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// let mut g = m.lock();
    /// assert!(cv.wait_until(&mut g, deadline).timed_out());
    /// assert!(Instant::now() >= deadline);
    /// ```
    #[track_caller]
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        WaitTimeoutResult(!self.wait_inner(guard, Some(deadline)))
    }

    /// Waits while `condition` holds for the guarded value.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// for _ in 0..3 {
    ///     let p = pair.clone();
    ///     goro::go!(move || {
    ///         *p.0.lock() += 1;
    ///         p.1.notify_all();
    ///     });
    /// }
    /// let mut n = pair.0.lock();
    /// pair.1.wait_while(&mut n, |n| *n < 3);
    /// assert_eq!(*n, 3);
    /// ```
    #[track_caller]
    pub fn wait_while<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) {
        while condition(&mut **guard) {
            self.wait(guard);
        }
    }

    /// Wakes one waiter (the longest waiting); returns whether there was
    /// one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// let h = goro::go!(move || {
    ///     let mut g = p.0.lock();
    ///     *g = true; // set under the lock, then wait: queued before unlocking
    ///     p.1.wait(&mut g);
    /// });
    /// while !*pair.0.lock() {
    ///     goro::gosched();
    /// }
    /// // The waiter released the mutex inside `wait`, so it is queued.
    /// assert!(pair.1.notify_one());
    /// assert!(!pair.1.notify_one()); // nobody else waits
    /// h.join().unwrap();
    /// ```
    pub fn notify_one(&self) -> bool {
        let woken = self.queue.lock().wake_front(NOTIFIED);
        match woken {
            Some((_, u)) => {
                u.unpark();
                true
            }
            None => false,
        }
    }

    /// Wakes every waiter; returns how many there were.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let p = pair.clone();
    /// let h = goro::go!(move || {
    ///     let mut g = p.0.lock();
    ///     *g = true; // set under the lock, then wait: queued before unlocking
    ///     p.1.wait(&mut g);
    /// });
    /// while !*pair.0.lock() {
    ///     goro::gosched();
    /// }
    /// // The waiter released the mutex inside `wait`, so it is queued.
    /// assert_eq!(pair.1.notify_all(), 1);
    /// assert_eq!(pair.1.notify_all(), 0);
    /// h.join().unwrap();
    /// ```
    pub fn notify_all(&self) -> usize {
        let mut woken = Vec::new();
        self.queue.lock().wake_where(NOTIFIED, |_| true, &mut woken);
        let n = woken.len();
        woken
            .into_iter()
            .for_each(crate::scheduler::Unparker::unpark);
        n
    }

    /// Returns true if notified, false on timeout.
    #[track_caller]
    fn wait_inner<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
    ) -> bool {
        let mutex: &Mutex<T> = MutexGuard::mutex(guard);
        // Relocks on return and on unwind (once the mutex was released), so
        // `guard` is valid again when control goes back to its owner.
        let at = Location::caller();
        let relock = Relock {
            mutex,
            unlocked: Cell::new(false),
            at,
        };
        let q = self.queue.lock();
        let unlock = || {
            // Queued first, unlocked second: a notify cannot slip between.
            mutex.unlock_raw();
            relock.unlocked.set(true);
        };
        // `wait_until` has released the queue lock when it returns, so
        // `relock` (which may park until a notifier drops the mutex, and
        // that notifier takes the queue lock) never runs under it.
        let waited = wait_until(
            q,
            (),
            End::Back,
            Why::at(WaitReason::Condvar, at),
            deadline,
            unlock,
            |_| (),
        );
        matches!(waited, Wait::Woken(_))
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

struct Relock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    unlocked: Cell<bool>,
    /// The place of the `Condvar` call, which a wait to relock shows.
    at: &'static Location<'static>,
}

impl<T: ?Sized> Drop for Relock<'_, T> {
    fn drop(&mut self) {
        if self.unlocked.get() {
            self.mutex.lock_raw(self.at);
        }
    }
}
