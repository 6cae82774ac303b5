//! `WaitGroup`: wait for a collection of goroutines (or threads) to finish,
//! as Go's `sync.WaitGroup`.
//!
//! One shared counter (an atomic, so `add`/`done` never lock) and a wait
//! queue. Whoever brings the counter to zero wakes every waiter. The
//! counter going negative is a bug in the caller and panics, as in Go.
//! This file must never let `wait` return while the counter is non-zero,
//! and never lock the queue on the `add` fast path.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use crate::coroutine::WaitReason;
use crate::sync::waiter::{wait, End, WaitQueue, Why};

/// Verdict: the counter reached zero.
const ZERO: u32 = 1;

/// Waits for a collection of goroutines to finish.
///
/// Clones share one counter. Call [`add`](WaitGroup::add) before starting
/// the work, [`done`](WaitGroup::done) when each piece finishes, and
/// [`wait`](WaitGroup::wait) to park until the counter is zero.
///
/// ```
/// let wg = goro::sync::WaitGroup::new();
/// for _ in 0..4 {
///     wg.add(1);
///     let wg = wg.clone();
///     goro::go!(move || wg.done());
/// }
/// wg.wait();
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    count: AtomicIsize,
    queue: parking_lot::Mutex<WaitQueue<()>>,
}

impl WaitGroup {
    /// A wait group with a zero counter.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// assert_eq!(wg.count(), 0);
    /// wg.wait(); // nothing to wait for
    /// ```
    pub fn new() -> Self {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the counter; at zero, every
    /// waiter wakes.
    ///
    /// # Panics
    ///
    /// If the counter goes negative: `sync: negative WaitGroup counter`.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(3);
    /// wg.add(-2);
    /// assert_eq!(wg.count(), 1);
    /// ```
    ///
    /// ```should_panic
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(-1); // panics: sync: negative WaitGroup counter
    /// ```
    pub fn add(&self, delta: isize) {
        // AcqRel: a waiter that sees zero (Acquire) must see everything the
        // goroutines did before their `done` (Release), in a chain.
        let now = self.inner.count.fetch_add(delta, Ordering::AcqRel) + delta;
        if now < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if now == 0 && delta != 0 {
            self.wake_all();
        }
    }

    /// Decrements the counter by one.
    ///
    /// # Panics
    ///
    /// If the counter goes negative: `sync: negative WaitGroup counter`.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// goro::go!(move || w.done());
    /// wg.wait();
    /// assert_eq!(wg.count(), 0);
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks until the counter is zero (returns at once if it is).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let (wg, results) = (goro::sync::WaitGroup::new(), Arc::new(goro::sync::Mutex::new(0)));
    /// for i in 1..=3 {
    ///     wg.add(1);
    ///     let (wg, results) = (wg.clone(), results.clone());
    ///     goro::go!(move || {
    ///         *results.lock() += i;
    ///         wg.done();
    ///     });
    /// }
    /// wg.wait(); // every goroutine has added its part
    /// assert_eq!(*results.lock(), 6);
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        loop {
            // Acquire: pairs with the AcqRel of the `add` that reached zero.
            if self.inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            let q = self.inner.queue.lock();
            // Re-check under the queue lock: the `add` reaching zero locks it
            // after its decrement, so either we see zero now or it sees us.
            if self.inner.count.load(Ordering::Acquire) == 0 {
                return;
            }
            // One wake per zero crossing; loop in case the counter went up
            // again before we ran (Go calls that a misuse; we just wait on).
            let _ = wait(q, (), End::Back, Why::here(WaitReason::WaitGroup));
        }
    }

    /// Runs `f` in a new goroutine counted by this group (Go 1.25's
    /// `wg.Go`): adds one, spawns, and counts it done when `f` returns,
    /// panics or calls [`goexit`](crate::goexit). A panic in `f` is
    /// reported by goro's panic hook and ends only that goroutine; `wait`
    /// returns all the same.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// let wg = goro::sync::WaitGroup::new();
    /// let hits = Arc::new(AtomicU32::new(0));
    /// for _ in 0..4 {
    ///     let hits = hits.clone();
    ///     wg.go(move || {
    ///         hits.fetch_add(1, Ordering::Relaxed);
    ///     });
    /// }
    /// wg.go(|| panic!("counted down all the same"));
    /// wg.wait();
    /// assert_eq!(hits.load(Ordering::Relaxed), 4);
    /// ```
    ///
    /// # Panics
    ///
    /// If the goroutine cannot be started (no memory for its stack); the
    /// counter is left as it was.
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        self.add(1);
        let done = DoneOnDrop(self.clone());
        let spawned = crate::Builder::new().spawn(move || {
            let _done = done;
            f()
        });
        // On failure the closure, and `done` with it, was dropped: counted.
        if let Err(e) = spawned {
            panic!("goro: WaitGroup::go cannot spawn a goroutine: {e}");
        }
    }

    /// The counter's current value (a racy snapshot).
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// assert_eq!(wg.count(), 1);
    /// ```
    pub fn count(&self) -> isize {
        self.inner.count.load(Ordering::Relaxed)
    }

    fn wake_all(&self) {
        let mut woken = Vec::new();
        self.inner
            .queue
            .lock()
            .wake_where(ZERO, |_| true, &mut woken);
        for u in woken {
            u.unpark();
        }
    }
}

/// Counts one goroutine of [`WaitGroup::go`] done when dropped: when its
/// closure returns, and while it unwinds (a panic, `goexit`).
struct DoneOnDrop(WaitGroup);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}

// A WaitGroup guards no user data and cannot be left inconsistent by a
// panic (its counter moves atomically), so catching one is harmless.
impl UnwindSafe for WaitGroup {}
impl RefUnwindSafe for WaitGroup {}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
