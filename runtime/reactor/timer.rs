//! Timers: one deadline-ordered set for the whole runtime.
//!
//! A timer is a deadline and what to do then: an [`Unparker`] to call
//! (`sleep`, every `park_until`), so timers wake goroutines through the
//! same path as everything else, or a callback (`time::after`, `tick`,
//! `Timer`), which must never block: it does a non-blocking channel send,
//! as Go's `time.After` does. Both fire on workers (the scheduler calls
//! [`fire_expired`] from its find-work loop, and the idle worker that
//! watches timers sleeps until [`next`]), outside the timers' lock.
//!
//! A `BTreeMap` keyed by (deadline, sequence) gives O(log n) insert and
//! cancel; cancellation matters because every `park_until` that is woken
//! early removes its timer. One lock for all workers is simple and, for the
//! 2-16 workers goro targets, cheaper than merging per-worker heaps (see
//! ARCHITECTURE.md).
//!
//! This module never resumes a goroutine itself, and never runs a callback
//! while holding its lock (a callback may arm or cancel timers).

use parking_lot::{Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::scheduler::{self, NoPreempt, Unparker};

/// Identifies a pending timer, for [`cancel`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) struct TimerKey(Instant, u64);

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

struct Timers {
    pending: Mutex<BTreeMap<TimerKey, Action>>,
    /// Earliest deadline as nanoseconds since `epoch`, u64::MAX if none:
    /// lets the find-work loop skip the lock when nothing is due.
    earliest: AtomicU64,
    seq: AtomicU64,
    epoch: Instant,
}

impl Timers {
    /// The pending set; the thread is not paused by preemption meanwhile
    /// (every worker's find-work loop needs this lock).
    fn lock(&self) -> (MutexGuard<'_, BTreeMap<TimerKey, Action>>, NoPreempt) {
        let no_preempt = NoPreempt::enter();
        (self.pending.lock(), no_preempt)
    }
}

fn timers() -> &'static Timers {
    static TIMERS: OnceLock<Timers> = OnceLock::new();
    TIMERS.get_or_init(|| Timers {
        pending: Mutex::new(BTreeMap::new()),
        earliest: AtomicU64::new(u64::MAX),
        seq: AtomicU64::new(0),
        epoch: Instant::now(),
    })
}

fn nanos(t: &Timers, at: Instant) -> u64 {
    at.saturating_duration_since(t.epoch)
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

fn insert(deadline: Instant, who: Action) -> TimerKey {
    let t = timers();
    let key = TimerKey(deadline, t.seq.fetch_add(1, Ordering::Relaxed));
    let (mut pending, _no_preempt) = t.lock();
    let first = pending.first_key_value().is_none_or(|(k, _)| key < *k);
    pending.insert(key, who);
    if first {
        t.earliest.store(nanos(t, deadline), Ordering::SeqCst);
        drop(pending);
        // The idle worker watching timers may be asleep until a later
        // deadline: wake it to re-arm.
        scheduler::timers_changed();
    }
    key
}

/// Disarms a timer; a no-op if it already fired. Returns whether it was
/// still armed (so it will never fire).
pub(crate) fn cancel(key: TimerKey) -> bool {
    let t = timers();
    let (mut pending, no_preempt) = t.lock();
    let removed = pending.remove(&key);
    if removed.is_some() {
        let next = pending
            .first_key_value()
            .map_or(u64::MAX, |(k, _)| nanos(t, k.0));
        t.earliest.store(next, Ordering::SeqCst);
    }
    drop(pending);
    drop(no_preempt);
    // A callback may own channel ends: drop it outside the lock.
    removed.is_some()
}

/// Fires every timer whose deadline has passed. Returns how many fired.
pub(crate) fn fire_expired() -> usize {
    let t = timers();
    if t.earliest.load(Ordering::SeqCst) == u64::MAX {
        return 0;
    }
    let now = Instant::now();
    if t.earliest.load(Ordering::SeqCst) > nanos(t, now) {
        return 0;
    }
    let mut due = Vec::new();
    {
        let (mut pending, _no_preempt) = t.lock();
        while let Some(entry) = pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        let next = pending
            .first_key_value()
            .map_or(u64::MAX, |(k, _)| nanos(t, k.0));
        t.earliest.store(next, Ordering::SeqCst);
    }
    let fired = due.len();
    for who in due {
        who.fire();
    }
    fired
}

/// How long until the earliest timer is due (zero if overdue), or `None`.
pub(crate) fn next() -> Option<Duration> {
    let t = timers();
    let earliest = t.earliest.load(Ordering::SeqCst);
    (earliest != u64::MAX)
        .then(|| Duration::from_nanos(earliest.saturating_sub(nanos(t, Instant::now()))))
}

/// Number of armed timers.
pub(crate) fn len() -> usize {
    timers().lock().0.len()
}
