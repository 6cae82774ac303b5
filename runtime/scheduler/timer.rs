//! Timers, owned by the workers (Go's per-P timer heaps).
//!
//! A timer is a deadline and what to do then: an [`Unparker`] to call
//! (`sleep`, every `park_until`, socket deadlines), so timers wake
//! goroutines through the same path as everything else, or a callback
//! (`time::after`, `tick`, `Timer`, `Ticker`), which must never block: it
//! does a non-blocking channel send, as Go's `time.After` does.
//!
//! # Who holds a timer
//!
//! Every worker owns a [`TimerShard`]: a 4-ary min-heap of deadlines over a
//! slab of entries, behind a lock that only its own worker takes in the
//! common case. A timer armed on an active worker goes into that worker's
//! shard; one armed anywhere else (a plain thread, a thread sysmon
//! detached, a goroutine locked to its thread) goes into the runtime's one
//! shared shard. A [`TimerKey`] names its shard, slot and generation, so
//! [`cancel`] — every `park_until` woken early, every read that beat its
//! deadline — is O(log n) on that shard, from whichever thread the
//! goroutine runs on by then, with no global lock.
//!
//! # Who fires a timer
//!
//! - A worker fires its own shard's due timers in its find-work loop, before
//!   it looks at the global queue (`fire_own`): one atomic load when nothing
//!   is due.
//! - A worker that ran out of work, or that sysmon asked to fire timers,
//!   fires every shard's due timers (`fire_all`): the shard of a busy
//!   worker (inside a long goroutine), of a retired or detached one, and the
//!   shared shard (Go's `stealWork` runs other Ps' timers the same way).
//! - The idle *timer watcher* sleeps in the poller until the earliest
//!   deadline of all shards ([`next`]). Arming a timer earlier than the
//!   watcher's wake-up (published in `WATCH_UNTIL`) wakes it, and so does
//!   arming one while nobody watches and a worker is idle.
//! - sysmon treats an overdue timer as waiting work (time slices end for
//!   it) and asks busy workers to fire timers.
//!
//! A shard outlives the thread that owned it: shards are allocated once per
//! worker slot and never freed (at most one per thread goro ever ran at the
//! same time), so a key stays valid for as long as anyone holds it, and a
//! slot reused by a new thread inherits the shard, pending timers and all.
//! Nothing moves between shards: a worker that stops being active (retired
//! by `gomaxprocs`, detached by sysmon, locked to a goroutine) leaves its
//! pending timers where they are, and the rules above fire them.
//!
//! This module never resumes a goroutine itself, and never runs a callback
//! or drops an action while holding a shard's lock (a callback may arm or
//! cancel timers, and an action may own channel ends).

use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::stats::Counter;
use super::timer_heap::Heap;
use super::trace;
use super::{current_worker, rt, NoPreempt, Runtime, Unparker, WorkerShared, ACTIVE};

/// Identifies an armed timer, for [`cancel`]. Stale keys (the timer fired
/// or was cancelled) are harmless: the generation no longer matches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerKey {
    shard: &'static TimerShard,
    slot: u32,
    gen: u64,
}

/// What a timer does when it fires.
enum Action {
    Unpark(Unparker),
    Call(Box<dyn FnOnce() + Send>),
}

impl Action {
    fn fire(self) {
        match self {
            Action::Unpark(who) => who.unpark(),
            Action::Call(f) => f(),
        }
    }
}

/// One worker's timers (or the shared ones). Padded to its own cache lines:
/// its owner writes `earliest` on every arm and fire, and every other
/// worker reads it when it looks for due timers.
#[repr(align(128))]
pub(crate) struct TimerShard {
    heap: Mutex<Heap<Action>>,
    /// The earliest deadline (nanoseconds since [`epoch`]), `u64::MAX` if
    /// none: the find-work loop reads it to skip the lock when nothing is
    /// due.
    earliest: AtomicU64,
    /// Armed timers, for deadlock detection and tests.
    len: AtomicUsize,
    /// Totals for the metrics, bumped under the heap's lock (so each has
    /// one writer at a time, see `stats.rs`).
    armed: Counter,
    fired: Counter,
    cancelled: Counter,
}

impl std::fmt::Debug for TimerShard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerShard")
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl TimerShard {
    const fn new() -> TimerShard {
        TimerShard {
            heap: Mutex::new(Heap::new()),
            earliest: AtomicU64::new(u64::MAX),
            len: AtomicUsize::new(0),
            armed: Counter::new(),
            fired: Counter::new(),
            cancelled: Counter::new(),
        }
    }

    /// A shard for a new worker slot, alive for the rest of the process.
    pub(super) fn leak() -> &'static TimerShard {
        Box::leak(Box::new(TimerShard::new()))
    }

    /// The heap; the thread is not paused by preemption meanwhile (other
    /// workers cancel and fire timers in this shard too).
    fn lock(&self) -> (MutexGuard<'_, Heap<Action>>, NoPreempt) {
        let no_preempt = NoPreempt::enter();
        (self.heap.lock(), no_preempt)
    }

    /// Publishes the heap's earliest deadline and length (under its lock).
    fn publish(&self, heap: &Heap<Action>) {
        self.earliest.store(heap.earliest(), Ordering::SeqCst);
        self.len.store(heap.len(), Ordering::Relaxed);
    }

    /// Timers armed here now.
    pub(super) fn pending(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether a timer here is due at `now` (nanoseconds since the epoch).
    #[inline]
    fn due(&self, now: u64) -> bool {
        self.earliest.load(Ordering::Relaxed) <= now
    }

    /// Fires every timer due at `now`, one at a time: each is taken under
    /// the lock and fired outside it (a batch buffer cost more than the
    /// lock: most calls find one or two due). `wait`: take the lock even if
    /// another thread holds it (else give up: the holder is firing or
    /// arming here right now).
    fn fire_due(&self, now: u64, wait: bool) -> usize {
        let mut fired = 0;
        loop {
            let action = {
                let no_preempt = NoPreempt::enter();
                let mut heap = match wait {
                    true => self.heap.lock(),
                    false => match self.heap.try_lock() {
                        Some(heap) => heap,
                        None => return fired,
                    },
                };
                let action = heap.pop_due(now);
                if action.is_some() {
                    self.publish(&heap);
                    self.fired.bump();
                }
                drop(heap);
                drop(no_preempt);
                action
            };
            match action {
                Some(action) => {
                    let at = trace::on().then(trace::now);
                    action.fire();
                    if let Some(at) = at {
                        trace::timer_fired(at);
                    }
                }
                None => return fired,
            }
            fired += 1;
        }
    }
}

/// The shard for timers armed off the active workers.
static SHARED: TimerShard = TimerShard::new();

/// When the timer watcher will wake (nanoseconds since the epoch), or
/// [`NO_WATCHER`]. Arming an earlier timer must wake it.
static WATCH_UNTIL: AtomicU64 = AtomicU64::new(NO_WATCHER);
const NO_WATCHER: u64 = 0;

/// The instant deadlines are counted from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos(at: Instant) -> u64 {
    at.saturating_duration_since(epoch())
        .as_nanos()
        .min(u64::MAX as u128 - 1) as u64
}

/// Arms a timer that unparks `who` at `deadline`.
pub(crate) fn add(deadline: Instant, who: Unparker) -> TimerKey {
    insert(deadline, Action::Unpark(who))
}

/// Arms a timer that runs `f` on a worker at `deadline`. `f` must not
/// block (it runs in the scheduler's find-work loop).
pub(crate) fn add_callback(deadline: Instant, f: impl FnOnce() + Send + 'static) -> TimerKey {
    insert(deadline, Action::Call(Box::new(f)))
}

fn insert(deadline: Instant, action: Action) -> TimerKey {
    let at = nanos(deadline);
    let shard = match current_worker() {
        Some(w) if w.shared.status.load(Ordering::Relaxed) == ACTIVE => w.shared.timers,
        _ => &SHARED,
    };
    let (mut heap, no_preempt) = shard.lock();
    let (slot, gen) = heap.insert(at, action);
    let first = heap.earliest() == at;
    shard.publish(&heap);
    shard.armed.bump();
    drop(heap);
    drop(no_preempt);
    if first {
        // Dekker with the watcher (`watch`): it publishes its wake-up, then
        // reads every shard's earliest; we published ours, then read its
        // wake-up (all SeqCst): one of us sees the other.
        let until = WATCH_UNTIL.load(Ordering::SeqCst);
        if at < until || (until == NO_WATCHER && rt().npidle.load(Ordering::SeqCst) > 0) {
            super::timers_changed();
        }
    }
    TimerKey { shard, slot, gen }
}

/// Disarms a timer; a no-op if it already fired. Returns whether it was
/// still armed (so it will never fire).
pub(crate) fn cancel(key: TimerKey) -> bool {
    let (mut heap, no_preempt) = key.shard.lock();
    let removed = heap.cancel(key.slot, key.gen);
    if removed.is_some() {
        key.shard.publish(&heap);
        key.shard.cancelled.bump();
    }
    drop(heap);
    drop(no_preempt);
    // A callback may own channel ends: dropped here, outside the lock.
    removed.is_some()
}

/// Fires the due timers of the calling worker's own shard. Returns how
/// many fired.
#[inline]
pub(super) fn fire_own(shard: &TimerShard) -> usize {
    if shard.earliest.load(Ordering::Relaxed) == u64::MAX {
        return 0;
    }
    let now = nanos(Instant::now());
    if !shard.due(now) {
        return 0;
    }
    shard.fire_due(now, true)
}

/// Every shard: those of the worker slots in `workers`, and the shared one.
fn shards(workers: &[Arc<WorkerShared>]) -> impl Iterator<Item = &TimerShard> + '_ {
    workers
        .iter()
        .map(|w| w.timers)
        .chain(std::iter::once(&SHARED))
}

/// Fires the due timers of every shard. A shard whose lock is held right
/// now is skipped (its holder is arming or firing there). Returns how many
/// fired. Fires with no scheduler lock held (a callback wakes goroutines,
/// which may take the worker list again): the shards are copied out of the
/// worker list a few at a time.
pub(super) fn fire_all(rt: &Runtime) -> usize {
    const CHUNK: usize = 16;
    let now = nanos(Instant::now());
    let mut fired = 0;
    let mut start = 0;
    loop {
        let mut chunk: [Option<&'static TimerShard>; CHUNK] = [None; CHUNK];
        let more = {
            let workers = rt.read_workers();
            let end = workers.len().min(start + CHUNK);
            for (into, w) in chunk.iter_mut().zip(&workers[start.min(end)..end]) {
                *into = Some(w.timers);
            }
            start = end;
            end < workers.len()
        };
        for shard in chunk.into_iter().flatten().filter(|s| s.due(now)) {
            fired += shard.fire_due(now, false);
        }
        if !more {
            break;
        }
    }
    if SHARED.due(now) {
        fired += SHARED.fire_due(now, false);
    }
    fired
}

/// How long until the earliest timer of all shards is due (zero if
/// overdue), or `None` if no timer is armed.
pub(super) fn next(workers: &[Arc<WorkerShared>]) -> Option<Duration> {
    let earliest = earliest(workers);
    (earliest != u64::MAX)
        .then(|| Duration::from_nanos(earliest.saturating_sub(nanos(Instant::now()))))
}

fn earliest(workers: &[Arc<WorkerShared>]) -> u64 {
    shards(workers)
        .map(|s| s.earliest.load(Ordering::SeqCst))
        .min()
        .unwrap_or(u64::MAX)
}

/// The timer watcher is about to sleep for `timeout` (`None`: until woken):
/// publishes when it wakes, and returns the timeout to use, which is
/// shorter if a timer was armed meanwhile (see `insert`).
pub(super) fn watch(workers: &[Arc<WorkerShared>], timeout: Option<Duration>) -> Option<Duration> {
    let now = nanos(Instant::now());
    let until = timeout.map_or(u64::MAX, |d| {
        now.saturating_add(d.as_nanos().min(u64::MAX as u128) as u64)
    });
    // Never NO_WATCHER itself: that reads as "nobody watches".
    WATCH_UNTIL.store(until.max(NO_WATCHER + 1), Ordering::SeqCst);
    let earliest = earliest(workers);
    if earliest < until {
        return Some(Duration::from_nanos(earliest.saturating_sub(now)));
    }
    timeout
}

/// Nobody watches timers any more (the watcher woke, or was taken to run
/// work): arming a timer while a worker is idle wakes one again.
pub(super) fn unwatch() {
    WATCH_UNTIL.store(NO_WATCHER, Ordering::SeqCst);
}

/// Timer totals of every shard, for the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimerCounts {
    pub(crate) armed: u64,
    pub(crate) fired: u64,
    pub(crate) cancelled: u64,
    /// Armed now (not fired, not cancelled).
    pub(crate) pending: u64,
}

/// Sums the timer counts of every shard.
pub(super) fn counts(workers: &[Arc<WorkerShared>]) -> TimerCounts {
    let mut c = TimerCounts::default();
    for s in shards(workers) {
        c.armed += s.armed.get();
        c.fired += s.fired.get();
        c.cancelled += s.cancelled.get();
        c.pending += s.len.load(Ordering::Relaxed) as u64;
    }
    c
}

/// Number of armed timers in every shard.
pub(super) fn len(workers: &[Arc<WorkerShared>]) -> usize {
    shards(workers).map(|s| s.len.load(Ordering::Relaxed)).sum()
}

/// Held by the unit tests that count armed timers or arm many: run side
/// by side they saw each other's (a thousand `after`s dropped while a
/// context test counted its own thousand failed CI once).
#[cfg(test)]
pub(crate) fn counting_timers() -> std::sync::MutexGuard<'static, ()> {
    static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    COUNTING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Number of armed timers, for tests (see [`counting_timers`]).
#[cfg(test)]
pub(crate) fn armed() -> usize {
    len(&rt().read_workers())
}
