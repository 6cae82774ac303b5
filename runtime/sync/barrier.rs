//! `Barrier`: `n` goroutines (or threads) wait until all `n` have arrived,
//! then all go on; reusable, generation after generation.
//!
//! The arrival count lives beside the wait queue and changes only under the
//! queue lock, so one lock acquisition decides both "am I last?" and "wake
//! everyone". Each waiter is woken individually by the last arrival of its
//! own generation, so a fast goroutine that re-enters the barrier at once
//! is counted in the next generation and cannot be confused with this one.
//! This file must never release a generation before its `n`th arrival.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::coroutine::WaitReason;
use crate::sync::waiter::{wait, End, WaitQueue, Why};

/// Verdict: the generation is complete.
const RELEASED: u32 = 1;

/// A reusable rendezvous point for a fixed number of goroutines.
///
/// ```
/// use std::sync::Arc;
/// let b = Arc::new(goro::sync::Barrier::new(3));
/// let hs: Vec<_> = (0..3)
///     .map(|_| {
///         let b = b.clone();
///         goro::go!(move || b.wait().is_leader())
///     })
///     .collect();
/// let leaders = hs.into_iter().map(|h| h.join().unwrap());
/// assert_eq!(leaders.filter(|&l| l).count(), 1);
/// ```
pub struct Barrier {
    n: usize,
    /// Arrivals in the current generation; only touched under `queue`'s
    /// lock, so Relaxed suffices (the lock orders it).
    arrived: AtomicUsize,
    queue: parking_lot::Mutex<WaitQueue<()>>,
}

// No user data; a panic cannot leave the count half-updated.
impl UnwindSafe for Barrier {}
impl RefUnwindSafe for Barrier {}

/// What [`Barrier::wait`] returns: exactly one waiter per generation is
/// the leader (the last to arrive).
///
/// ```
/// use goro::sync::Barrier;
/// let b = Barrier::new(1); // one party: nobody waits, the caller leads
/// let r: goro::sync::BarrierWaitResult = b.wait();
/// assert!(r.is_leader());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this waiter was the generation's leader.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let b = Arc::new(goro::sync::Barrier::new(2));
    /// let b2 = b.clone();
    /// let h = goro::go!(move || b2.wait().is_leader());
    /// let mine = b.wait().is_leader();
    /// assert!(mine ^ h.join().unwrap()); // exactly one of the two leads
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

impl Barrier {
    /// A barrier for `n` parties (`0` behaves like `1`: nobody waits).
    ///
    /// ```
    /// static START: goro::sync::Barrier = goro::sync::Barrier::new(0);
    /// assert!(START.wait().is_leader()); // returns at once
    /// ```
    pub const fn new(n: usize) -> Self {
        Barrier {
            n,
            arrived: AtomicUsize::new(0),
            queue: parking_lot::Mutex::new(WaitQueue::new()),
        }
    }

    /// Parks until `n` parties (this one included) have called `wait` in
    /// this generation. The last to arrive is the leader and releases the
    /// rest; the barrier is then ready for the next generation.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Barrier, Mutex};
    /// let (b, log) = (Arc::new(Barrier::new(2)), Arc::new(Mutex::new(Vec::new())));
    /// let (b2, log2) = (b.clone(), log.clone());
    /// let h = goro::go!(move || {
    ///     log2.lock().push("a1");
    ///     b2.wait(); // the second round waits for "b1" and "a1"
    ///     log2.lock().push("a2");
    /// });
    /// log.lock().push("b1");
    /// b.wait();
    /// h.join().unwrap();
    /// assert_eq!(log.lock()[2], "a2");
    /// ```
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        let mut q = self.queue.lock();
        let arrived = self.arrived.load(Ordering::Relaxed) + 1;
        if arrived < self.n {
            self.arrived.store(arrived, Ordering::Relaxed);
            // Only the leader gives verdicts, so waking means released.
            let _ = wait(q, (), End::Back, Why::here(WaitReason::Barrier));
            return BarrierWaitResult { leader: false };
        }
        self.arrived.store(0, Ordering::Relaxed);
        let mut woken = Vec::new();
        q.wake_where(RELEASED, |_| true, &mut woken);
        drop(q);
        woken
            .into_iter()
            .for_each(crate::scheduler::Unparker::unpark);
        BarrierWaitResult { leader: true }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
