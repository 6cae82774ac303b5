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
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::sync::mutex::{Mutex, MutexGuard};
use crate::sync::waiter::{wait_until, End, Wait, WaitQueue};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended by timeout rather than a notify.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

impl Condvar {
    /// A condition variable with no waiters.
    pub const fn new() -> Self {
        Condvar {
            queue: parking_lot::Mutex::new(WaitQueue::new()),
        }
    }

    /// Releases the guard's mutex, parks until notified, relocks.
    pub fn wait<T: ?Sized>(&self, guard: &mut MutexGuard<'_, T>) {
        self.wait_inner(guard, None);
    }

    /// Like [`wait`](Condvar::wait), giving up after `timeout`.
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
    pub fn wait_until<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        WaitTimeoutResult(!self.wait_inner(guard, Some(deadline)))
    }

    /// Waits while `condition` holds for the guarded value.
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
    fn wait_inner<T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, T>,
        deadline: Option<Instant>,
    ) -> bool {
        let mutex: &Mutex<T> = MutexGuard::mutex(guard);
        // Relocks on return and on unwind (once the mutex was released), so
        // `guard` is valid again when control goes back to its owner.
        let relock = Relock {
            mutex,
            unlocked: Cell::new(false),
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
            WaitReason::Condvar,
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
}

impl<T: ?Sized> Drop for Relock<'_, T> {
    fn drop(&mut self) {
        if self.unlocked.get() {
            self.mutex.lock_raw();
        }
    }
}
