//! The scheduler's counters, and the snapshot of its state that
//! `goro::metrics()` (`debug/metrics.rs`) and schedtrace (`schedtrace.rs`)
//! are read from.
//!
//! # Where counts live
//!
//! Each worker slot owns a [`WorkerStats`] block on cache lines of its own,
//! written only by the thread that runs the slot, with a relaxed load and
//! a relaxed store ([`Counter::bump`]): no locked instruction and no line
//! shared with another writer on the switch path. Readers load the words
//! and sum them; a count read while its owner bumps it is one behind,
//! never torn. A slot outlives its thread (like its timers, `timer.rs`):
//! a new thread that reuses the slot goes on counting where the last one
//! stopped, so every total only grows. An exiting thread writes its last
//! count before it marks the slot exited (under `sched`, where the slot
//! is handed out again), so two threads never write one block.
//!
//! sysmon's own counts (slice-end requests, pauses, hand-offs) have one
//! writer too, sysmon, and live in [`SYSMON`]. Counts made elsewhere sit
//! beside what they count, under the lock that already guards it: timers
//! in their shard (`timer.rs`), polls in the reactor (`reactor/mod.rs`),
//! stacks in the stack pool (`coroutine/stack.rs`).
//!
//! This file never blocks and never runs goroutine code: a snapshot takes
//! the scheduler's lock and the worker list's read lock for a moment each,
//! never the goroutine registry's (that is `debug/`'s walk, made apart).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{rt, timer, WorkerShared, ACTIVE, DETACHED, EXITED, RETIRING, SPARE};

/// A count with a single writer: [`bump`](Self::bump) is a relaxed load
/// and store, which is all a single writer needs (a `fetch_add` would be a
/// locked instruction on the hot path).
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Adds one. Only the counter's one writer may call it.
    #[inline(always)]
    pub(crate) fn bump(&self) {
        self.add(1);
    }

    /// Adds `n`. Only the counter's one writer may call it.
    #[inline(always)]
    pub(crate) fn add(&self, n: u64) {
        // Relaxed: readers only want a recent value, and nothing is
        // published through the count.
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// The count now.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One worker slot's counts, on cache lines of their own (see the module
/// docs): only the slot's thread writes them.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct WorkerStats {
    /// Goroutines taken from `runnext`.
    pub(crate) runnext_hits: Counter,
    /// Goroutines popped from the local queue.
    pub(crate) local_pops: Counter,
    /// Goroutines taken from the global queue.
    pub(crate) global_pops: Counter,
    /// Goroutines taken from another worker (its queue or a stale runnext).
    pub(crate) stolen_pops: Counter,
    /// Goroutines taken from the paused queue (sysmon paused them).
    pub(crate) paused_pops: Counter,
    /// Passes over the other workers' queues looking for work to steal.
    pub(crate) steal_attempts: Counter,
    /// Times the worker spun looking for work before parking.
    pub(crate) spins: Counter,
    /// Times the worker parked idle (on its token or in the poller).
    pub(crate) parks: Counter,
    /// Goroutines that ended on this worker.
    pub(crate) finished: Counter,
    /// Time the worker spent not parked, in nanoseconds, up to
    /// `awake_since` (an idle or spare worker has closed its stretch).
    busy_ns: Counter,
    /// When the current awake stretch began (nanoseconds since the
    /// runtime's start), or [`ASLEEP`].
    awake_since: AtomicU64,
}

/// `awake_since` while the worker sleeps.
const ASLEEP: u64 = u64::MAX;

impl WorkerStats {
    /// A block for a new worker slot, alive for the rest of the process
    /// (kept when a new thread reuses the slot).
    pub(super) fn leak() -> &'static WorkerStats {
        Box::leak(Box::default())
    }

    /// The worker is about to sleep (idle or spare): closes its awake
    /// stretch. Off the switch path: only where it parks.
    pub(super) fn falls_asleep(&self) {
        let since = self.awake_since.load(Ordering::Relaxed);
        if since != ASLEEP {
            self.busy_ns.add(now_ns().saturating_sub(since));
            self.awake_since.store(ASLEEP, Ordering::Relaxed);
        }
    }

    /// The worker woke up (or started): opens an awake stretch.
    pub(super) fn wakes(&self) {
        self.awake_since.store(now_ns(), Ordering::Relaxed);
    }

    /// Time not parked so far, the open stretch included.
    fn busy_time(&self) -> Duration {
        // The stretch first: a worker closing it meanwhile adds it to
        // `busy_ns`, so this may count it twice for a moment, never lose it.
        let since = self.awake_since.load(Ordering::Relaxed);
        let open = match since {
            ASLEEP => 0,
            since => now_ns().saturating_sub(since),
        };
        Duration::from_nanos(self.busy_ns.get() + open)
    }
}

/// Nanoseconds since the runtime started.
fn now_ns() -> u64 {
    rt().started.elapsed().as_nanos() as u64
}

/// sysmon's counts (it is their only writer).
#[derive(Default)]
pub(crate) struct SysmonStats {
    /// Time slices sysmon asked to end (`PREEMPT` set).
    pub(crate) preempt_requests: Counter,
    /// Threads sysmon paused inside a goroutine (`SIGURG`, answered).
    pub(crate) pauses: Counter,
    /// Workers handed off while stuck (blocked in the kernel, or a hog
    /// that would not pause).
    pub(crate) handoffs: Counter,
}

/// sysmon's counts.
pub(crate) static SYSMON: SysmonStats = SysmonStats {
    preempt_requests: Counter::new(),
    pauses: Counter::new(),
    handoffs: Counter::new(),
};

/// One worker slot, as a snapshot saw it.
#[derive(Clone, Debug, Default)]
pub(crate) struct WorkerSnapshot {
    pub(crate) id: usize,
    /// What it does now, in words (see [`status_name`]).
    pub(crate) status: &'static str,
    pub(crate) ticks: u64,
    pub(crate) runnext_hits: u64,
    pub(crate) local_pops: u64,
    pub(crate) global_pops: u64,
    pub(crate) stolen_pops: u64,
    pub(crate) paused_pops: u64,
    pub(crate) steal_attempts: u64,
    pub(crate) spins: u64,
    pub(crate) parks: u64,
    pub(crate) finished: u64,
    pub(crate) busy_time: Duration,
    /// Goroutines in its local queue and `runnext`.
    pub(crate) queue_depth: u64,
    /// Timers armed in its shard.
    pub(crate) timers: u64,
    /// Its thread's kernel id (0 before it started).
    pub(crate) tid: i32,
    /// The address (`Arc::as_ptr`) of the goroutine its thread executes
    /// now, 0 if none: the caller matches it against the registry's walk,
    /// which this file never takes.
    pub(crate) running: usize,
}

impl WorkerSnapshot {
    /// Adds `other`'s totals (not its state) into `self`.
    pub(crate) fn add_totals(&mut self, other: &WorkerSnapshot) {
        self.ticks += other.ticks;
        self.runnext_hits += other.runnext_hits;
        self.local_pops += other.local_pops;
        self.global_pops += other.global_pops;
        self.stolen_pops += other.stolen_pops;
        self.paused_pops += other.paused_pops;
        self.steal_attempts += other.steal_attempts;
        self.spins += other.spins;
        self.parks += other.parks;
        self.finished += other.finished;
        self.busy_time += other.busy_time;
        self.queue_depth += other.queue_depth;
        self.timers += other.timers;
    }
}

/// The scheduler's state at one moment (each field read once; they are
/// not all from the same instant).
#[derive(Clone, Debug, Default)]
pub(crate) struct SchedSnapshot {
    pub(crate) since_start: Duration,
    pub(crate) gomaxprocs: u64,
    /// The active workers (`gomaxprocs` of them), by slot.
    pub(crate) active: Vec<WorkerSnapshot>,
    /// Every other slot: retiring, detached (handed off, or locked to a
    /// goroutine), spare, or whose thread exited.
    pub(crate) off_duty: Vec<WorkerSnapshot>,
    pub(crate) idle_workers: u64,
    pub(crate) spinning_workers: u64,
    pub(crate) spare_threads: u64,
    pub(crate) detached_threads: u64,
    /// Threads goro runs now: workers (active, spare, detached), sysmon,
    /// the blocking pool's and schedtrace's.
    pub(crate) threads: u64,
    pub(crate) global_queue: u64,
    pub(crate) paused_queue: u64,
    pub(crate) preempt_requests: u64,
    pub(crate) pauses: u64,
    pub(crate) handoffs: u64,
    pub(crate) timers: timer::TimerCounts,
}

/// What a worker slot does now, in words (`P0: status=..` in schedtrace):
/// an active worker is `idle` (parked), `running` (a goroutine),
/// `lending` (its token to a paused or locked goroutine's thread) or
/// `scheduling` (between goroutines); a thread that left the active set is
/// `paused` (stopped by sysmon inside its goroutine), `retiring`,
/// `detached` (handed off, or locked to a goroutine), `spare` or `exited`.
fn status_name(w: &WorkerShared, status: u8) -> &'static str {
    if w.pause.is_paused() && w.in_goroutine() {
        return "paused";
    }
    match status {
        ACTIVE if w.idle.load(Ordering::Relaxed) => "idle",
        ACTIVE if w.busy.load(Ordering::Relaxed) && w.lent_to.load(Ordering::Relaxed) != 0 => {
            "lending"
        }
        ACTIVE if w.busy.load(Ordering::Relaxed) => "running",
        ACTIVE => "scheduling",
        RETIRING => "retiring",
        DETACHED => "detached",
        SPARE => "spare",
        EXITED => "exited",
        _ => "unknown",
    }
}

fn worker_snapshot(w: &WorkerShared, status: u8) -> WorkerSnapshot {
    let s = w.stats;
    let running = w.running.load(Ordering::Relaxed) as usize;
    let runnext = !w.runnext.load(Ordering::Relaxed).is_null();
    WorkerSnapshot {
        id: w.id,
        status: status_name(w, status),
        ticks: w.ticks.load(Ordering::Relaxed),
        runnext_hits: s.runnext_hits.get(),
        local_pops: s.local_pops.get(),
        global_pops: s.global_pops.get(),
        stolen_pops: s.stolen_pops.get(),
        paused_pops: s.paused_pops.get(),
        steal_attempts: s.steal_attempts.get(),
        spins: s.spins.get(),
        parks: s.parks.get(),
        finished: s.finished.get(),
        busy_time: s.busy_time(),
        queue_depth: w.stealer.len() as u64 + u64::from(runnext),
        timers: w.timers.pending() as u64,
        tid: w.tid.load(Ordering::Relaxed),
        running,
    }
}

/// Reads the scheduler's state now.
pub(crate) fn snapshot() -> SchedSnapshot {
    let rt = rt();
    // Statuses change under `sched` (and the worker list is locked after
    // it, as `activate_one` does): read under it, exactly `gomaxprocs`
    // workers are active.
    let sched = rt.lock_sched();
    let workers: Vec<(Arc<WorkerShared>, u8)> = rt
        .read_workers()
        .iter()
        .map(|w| (w.clone(), w.status.load(Ordering::Relaxed)))
        .collect();
    let spares = sched.spares.len() as u64;
    let gomaxprocs = rt.maxprocs.load(Ordering::Relaxed) as u64;
    drop(sched);
    let shared: Vec<Arc<WorkerShared>> = workers.iter().map(|(w, _)| w.clone()).collect();
    let mut snap = SchedSnapshot {
        since_start: rt.started.elapsed(),
        gomaxprocs,
        idle_workers: rt.npidle.load(Ordering::Relaxed) as u64,
        spinning_workers: rt.nmspinning.load(Ordering::Relaxed) as u64,
        spare_threads: spares,
        threads: rt.own_threads.load(Ordering::Relaxed) as u64,
        global_queue: rt.injector.len() as u64,
        paused_queue: rt.paused.len() as u64,
        preempt_requests: SYSMON.preempt_requests.get(),
        pauses: SYSMON.pauses.get(),
        handoffs: SYSMON.handoffs.get(),
        timers: timer::counts(&shared),
        ..SchedSnapshot::default()
    };
    for (w, status) in workers {
        let one = worker_snapshot(&w, status);
        if status == DETACHED {
            snap.detached_threads += 1;
        }
        if status == ACTIVE {
            snap.active.push(one);
        } else {
            snap.off_duty.push(one);
        }
    }
    snap
}
