//! A goroutine's state word and the park/unpark token protocol on it: every
//! transition is a named function here, and nothing else writes the word.
//!
//! ```text
//!   NEW/RUNNABLE --start_running (the worker that popped it)----> RUNNING
//!   RUNNING  --wake (a waker, while it runs: leaves a token)------> NOTIFIED
//!   NOTIFIED --take_token (park, without switching out)-----------> RUNNING
//!   RUNNING  --finish_park (its worker, after the switch-out)-----> PARKED
//!   NOTIFIED --finish_park (the wake raced with the switch)-------> RUNNING (requeued)
//!   PARKED   --wake (the waker then queues it, exactly once)------> RUNNING (queued)
//!   RUNNING  --gosched: queued as it is (a wake leaves NOTIFIED)
//!   RUNNING  --yielded (unlock_os_thread's requeue)---------------> RUNNABLE
//!   RUNNING  --retire (its worker, after the coroutine returned)--> DEAD
//! ```
//!
//! What it guarantees: a wake is never lost (a wake before the switch-out
//! leaves NOTIFIED, which makes `finish_park` requeue instead of park); a
//! goroutine is queued at most once per wake (only the PARKED -> RUNNING
//! and NOTIFIED -> RUNNING requeues queue it, and each has one winner; a
//! queued goroutine is RUNNING, so a wake meanwhile leaves a token);
//! and it is never resumed while still switching out (only the worker that
//! ran it leaves RUNNING, after the switch). `tests/loom_park.rs` checks
//! this under the loom model checker, which is why the atomics come from a
//! cfg switch and this file imports nothing else (loom's only in a loom
//! test crate, `cfg(all(loom, test))`: the library those tests link keeps
//! std's). It never queues, resumes or parks anything itself: callers do,
//! as the return values tell them.

#[cfg(all(loom, test))]
use loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{AtomicU8, Ordering};

/// Spawned, never run yet (queued once by `spawn`).
const NEW: u8 = 0;
/// In a run queue (or runnext), waiting for a worker.
const RUNNABLE: u8 = 1;
/// A worker runs it, or it is switching out to park.
const RUNNING: u8 = 2;
/// RUNNING with a wake-up token pending: its next park returns at once.
const NOTIFIED: u8 = 3;
/// Switched out and blocked; whoever holds its `Unparker` may wake it.
const PARKED: u8 = 4;
/// Its coroutine returned.
const DEAD: u8 = 5;

/// The state word of one goroutine (`G::state`).
pub(crate) struct State(AtomicU8);

impl State {
    /// NEW: spawned, not run yet.
    pub(crate) fn new() -> State {
        State(AtomicU8::new(NEW))
    }

    /// Worker, before resuming a goroutine it popped: NEW/RUNNABLE ->
    /// RUNNING. A NOTIFIED one (requeued by gosched with a token pending)
    /// stays NOTIFIED, so its next park returns at once.
    ///
    /// A compare-exchange, not a plain store, though only this worker moves
    /// a queued goroutine's state: a waker that finds it RUNNABLE (made
    /// runnable by a stale wake: an earlier park's late timer or job) does
    /// a same-value compare-exchange in `wake`, and the two read-modify-
    /// writes are ordered, so either `wake` sees RUNNING and leaves a token,
    /// or this one reads what `wake` wrote and the goroutine then sees the
    /// condition its waker set. With a plain store the goroutine could read
    /// a stale condition and park for good (`tests/loom_park.rs`,
    /// `stale_wake_then_flag_wake_is_not_lost`; found as a hang in a loop of
    /// `blocking(|| ())`). Go's `execute` CASes the status the same way.
    ///
    /// A goroutine queued by gosched is still RUNNING (or NOTIFIED): a
    /// plain load suffices, since a waker that came meanwhile changed
    /// RUNNING to NOTIFIED with a compare-exchange that its next park's
    /// `take_token` reads.
    #[inline]
    pub(crate) fn start_running(&self) {
        let mut state = self.0.load(Ordering::Acquire);
        while state != NOTIFIED && state != RUNNING {
            match self
                .0
                .compare_exchange_weak(state, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
    }

    /// Park's fast path, run by the goroutine itself: consumes a pending
    /// token (NOTIFIED -> RUNNING) and returns true, so park returns
    /// without switching. A plain load first: most parks find no token, and
    /// the CAS is a locked instruction. Acquire: see what the waker did
    /// before its wake.
    #[inline]
    pub(crate) fn take_token(&self) -> bool {
        self.0.load(Ordering::Acquire) == NOTIFIED
            && self
                .0
                .compare_exchange(NOTIFIED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Worker, once the coroutine switched out to park: RUNNING -> PARKED,
    /// unless a wake arrived meanwhile (NOTIFIED): then the token is
    /// consumed (-> RUNNING) and it returns true: the caller must run the
    /// goroutine again. Release on success: a waker that finds PARKED
    /// (Acquire) and resumes the goroutine elsewhere sees the switch-out
    /// complete.
    #[inline]
    pub(crate) fn finish_park(&self) -> bool {
        match self
            .0
            .compare_exchange(RUNNING, PARKED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(_) => {
                // NOTIFIED, or NOTIFIED again by a waker's same-value
                // compare-exchange meanwhile: a swap reads the latest, so
                // that waker's condition is seen. Requeued RUNNING, the
                // token spent (see `wake`).
                self.0.swap(RUNNING, Ordering::AcqRel);
                true
            }
        }
    }

    /// A waker (goready): PARKED -> RUNNING, and returns true: the caller
    /// must queue it. It is queued RUNNING, not RUNNABLE: a second wake
    /// before it runs leaves a token (its next park returns at once and
    /// re-checks) instead of queueing it twice, and the worker that pops it
    /// needs no read-modify-write (`start_running`): the ping-pong path
    /// stays one compare-exchange per wake. RUNNING -> NOTIFIED (a token
    /// for its park). Already queued RUNNABLE or NEW, or notified: nothing
    /// to do, but still a (same-value) compare-exchange, so the waker's
    /// condition is seen by the goroutine once it runs or takes its token;
    /// only a dead goroutine is left with a plain load.
    #[inline]
    pub(crate) fn wake(&self) -> bool {
        let mut state = self.0.load(Ordering::Acquire);
        loop {
            let next = match state {
                RUNNING => NOTIFIED,
                PARKED => RUNNING,
                DEAD => return false,
                same => same,
            };
            match self
                .0
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return state == PARKED,
                Err(now) => state = now,
            }
        }
    }

    /// Worker, after a goroutine switched out in `gosched`, before it
    /// requeues it: RUNNING -> RUNNABLE; a pending token (NOTIFIED)
    /// survives. A plain store, not a CAS: a wake racing between the load
    /// and the store finds RUNNING, leaves NOTIFIED and queues nothing, so
    /// the goroutine is queued once either way; the token it may lose is
    /// stale (no primitive yields between registering as a waiter and
    /// parking).
    #[inline]
    pub(crate) fn yielded(&self) {
        if self.0.load(Ordering::Acquire) == RUNNING {
            self.0.store(RUNNABLE, Ordering::Release);
        }
    }

    /// Worker, after the coroutine returned: -> DEAD.
    #[inline]
    pub(crate) fn retire(&self) {
        self.0.store(DEAD, Ordering::Release);
    }

    /// Whether the goroutine finished (its worker called `retire`).
    #[inline]
    pub(crate) fn is_dead(&self) -> bool {
        self.0.load(Ordering::Acquire) == DEAD
    }

    /// The state as `dump()` names it (a racy snapshot).
    pub(crate) fn name(&self) -> &'static str {
        match self.0.load(Ordering::Acquire) {
            NEW => "new",
            RUNNABLE => "runnable",
            RUNNING | NOTIFIED => "running",
            PARKED => "blocked",
            _ => "dead",
        }
    }
}
