//! `Once`: run a closure exactly once, however many goroutines and
//! threads race to call it, as Go's `sync.Once`.
//!
//! One state byte, `NEW -> RUNNING -> DONE`, plus a wait queue for the
//! callers that arrive while the closure runs; they park until it is done.
//!
//! The panic rule is Go's: if the closure panics, the panic goes on in the
//! caller that ran it, and the `Once` counts as done: later calls return at
//! once without running anything (std's `Once` poisons instead; goro has
//! no poisoning anywhere). Callers waiting meanwhile return normally.
//! This file must never run the closure twice, and never let a waiter
//! return before the closure has finished.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::coroutine::WaitReason;
use crate::sync::waiter::{wait, End, WaitQueue, Why};

const NEW: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;

/// Verdict: the closure has finished.
const FINISHED: u32 = 1;

/// Runs a closure exactly once.
///
/// ```
/// static INIT: goro::sync::Once = goro::sync::Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// ```
pub struct Once {
    state: AtomicU8,
    queue: parking_lot::Mutex<WaitQueue<()>>,
}

// No user data, and a panicking closure leaves the Once consistently DONE.
impl UnwindSafe for Once {}
impl RefUnwindSafe for Once {}

impl Once {
    /// A `Once` whose closure has not run.
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// assert!(!once.is_completed());
    /// ```
    pub const fn new() -> Self {
        Once {
            state: AtomicU8::new(NEW),
            queue: parking_lot::Mutex::new(WaitQueue::new()),
        }
    }

    /// Runs `f` if no call has run its closure yet; otherwise waits until
    /// the closure that runs (or ran) has finished, then returns.
    ///
    /// If `f` panics, the panic propagates to this caller and the `Once`
    /// is still done: `f` is never retried, later calls return at once.
    /// Calling `call_once` on the same `Once` from inside `f` deadlocks.
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicU32, Ordering}, Arc};
    /// use goro::sync::Once;
    /// let (once, runs) = (Arc::new(Once::new()), Arc::new(AtomicU32::new(0)));
    /// let hs: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let (once, runs) = (once.clone(), runs.clone());
    ///         goro::go!(move || once.call_once(|| { runs.fetch_add(1, Ordering::Relaxed); }))
    ///     })
    ///     .collect();
    /// hs.into_iter().for_each(|h| h.join().unwrap());
    /// assert_eq!(runs.load(Ordering::Relaxed), 1);
    /// ```
    ///
    /// A panicking closure still completes the `Once`:
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// let r = std::panic::catch_unwind(|| once.call_once(|| panic!("init failed")));
    /// assert!(r.is_err());
    /// assert!(once.is_completed());
    /// once.call_once(|| unreachable!()); // not retried
    /// ```
    #[inline]
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        // Acquire: see everything the closure did.
        if self.state.load(Ordering::Acquire) != DONE {
            self.call_once_slow(f);
        }
    }

    /// Whether the closure has finished (returned or panicked).
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// assert!(!once.is_completed());
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    #[cold]
    #[track_caller]
    fn call_once_slow<F: FnOnce()>(&self, f: F) {
        loop {
            // Acquire on failure: if DONE, see everything the closure did.
            match self
                .state
                .compare_exchange(NEW, RUNNING, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // Marks DONE and wakes the waiters on return *and* on
                    // unwind: that is the panic rule.
                    let _finish = Finish(self);
                    f();
                    return;
                }
                Err(DONE) => return,
                Err(_) => {
                    let q = self.queue.lock();
                    // `Finish` stores DONE before it takes the queue lock, so
                    // either we see DONE here or it finds us queued.
                    if self.state.load(Ordering::Acquire) == DONE {
                        return;
                    }
                    let _ = wait(q, (), End::Back, Why::here(WaitReason::Once));
                }
            }
        }
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}

struct Finish<'a>(&'a Once);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        // Release: waiters (and later fast-path callers) see what f did.
        self.0.state.store(DONE, Ordering::Release);
        let mut woken = Vec::new();
        self.0
            .queue
            .lock()
            .wake_where(FINISHED, |_| true, &mut woken);
        woken
            .into_iter()
            .for_each(crate::scheduler::Unparker::unpark);
    }
}
