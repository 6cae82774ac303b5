//! `goro::metrics()`: one snapshot of everything the runtime counts, read
//! through methods (so it can grow without breaking anyone), and its
//! Prometheus text form for the debug endpoint.
//!
//! Goroutine counts are *now*: one walk of the goroutine registry, so
//! `goroutines() == runnable() + running() + blocked()` holds within a
//! snapshot. Everything called a total (spawned, finished, ticks, pops,
//! parks, hand-offs, timers, polls, stacks) counts since the runtime
//! started and never goes down. The numbers are read one after another
//! while the runtime runs, as Go's `runtime/metrics` are: two of them
//! need not be from the same instant.
//!
//! Taking a snapshot costs a walk of every goroutine (each registry shard
//! locked in turn) and a look at each worker: meant for a monitoring
//! poll, not for a loop. It never blocks in the kernel and may be taken
//! from a goroutine or a plain thread.

use std::fmt::Write as _;
use std::time::Duration;

use crate::coroutine::{self, stack, WaitReason};
use crate::scheduler::stats::{self, WorkerSnapshot};

/// Number of wait reasons (`WaitReason`'s values are 1..=this).
const REASONS: usize = WaitReason::ALL.len();

/// A snapshot of the runtime's counters and gauges (see [`metrics`]).
///
/// ```
/// let m = goro::metrics();
/// assert_eq!(m.goroutines(), m.runnable() + m.running() + m.blocked());
/// assert_eq!(m.workers().len() as u64, m.gomaxprocs());
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    goroutines: u64,
    runnable: u64,
    running: u64,
    blocked: u64,
    blocked_by: [u64; REASONS],
    locked: u64,
    spawned: u64,
    finished: u64,
    uptime: Duration,
    gomaxprocs: u64,
    workers: Vec<WorkerMetrics>,
    all_workers: WorkerMetrics,
    idle_workers: u64,
    spinning_workers: u64,
    threads: u64,
    worker_threads: u64,
    spare_threads: u64,
    detached_threads: u64,
    blocking_threads: u64,
    idle_blocking_threads: u64,
    blocking_jobs: u64,
    global_queue: u64,
    paused_queue: u64,
    preempt_requests: u64,
    pauses: u64,
    handoffs: u64,
    timers_armed: u64,
    timers_fired: u64,
    timers_cancelled: u64,
    timers_pending: u64,
    reactor_polls: u64,
    reactor_events: u64,
    io_waiters: u64,
    stacks: stack::StackCounts,
}

/// One worker's counts (Go's P), in a [`Metrics`] snapshot.
///
/// ```
/// for w in goro::metrics().workers() {
///     println!("worker {}: {} goroutines run, {} queued", w.id(), w.ticks(), w.queue_depth());
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct WorkerMetrics {
    id: u64,
    status: &'static str,
    ticks: u64,
    runnext_hits: u64,
    local_pops: u64,
    global_pops: u64,
    stolen_pops: u64,
    paused_pops: u64,
    steal_attempts: u64,
    spins: u64,
    parks: u64,
    busy_time: Duration,
    queue_depth: u64,
    timers: u64,
}

impl WorkerMetrics {
    fn from_snapshot(w: &WorkerSnapshot) -> WorkerMetrics {
        WorkerMetrics {
            id: w.id as u64,
            status: w.status,
            ticks: w.ticks,
            runnext_hits: w.runnext_hits,
            local_pops: w.local_pops,
            global_pops: w.global_pops,
            stolen_pops: w.stolen_pops,
            paused_pops: w.paused_pops,
            steal_attempts: w.steal_attempts,
            spins: w.spins,
            parks: w.parks,
            busy_time: w.busy_time,
            queue_depth: w.queue_depth,
            timers: w.timers,
        }
    }

    /// The worker's slot number (`P0`, `P1`, .. in schedtrace; slots of
    /// exited threads are reused).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.workers().iter().all(|w| w.id() < 1024));
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What the worker does now: `"running"` (a goroutine), `"idle"`
    /// (parked), `"lending"` (its token to the thread of a paused or
    /// locked goroutine), or `"scheduling"` (between goroutines: looking
    /// for work). [`Metrics::worker_totals`] says `"total"`.
    ///
    /// ```
    /// let m = goro::metrics();
    /// for w in m.workers() {
    ///     assert!(["running", "idle", "lending", "scheduling"].contains(&w.status()));
    /// }
    /// assert_eq!(m.worker_totals().status(), "total");
    /// ```
    pub fn status(&self) -> &str {
        self.status
    }

    /// Goroutine turns run so far (Go's `schedtick`).
    ///
    /// ```
    /// goro::go!(|| ()).join().unwrap();
    /// assert!(goro::metrics().worker_totals().ticks() >= 1);
    /// ```
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Goroutines taken from the `runnext` slot (woken or spawned by the
    /// goroutine before them: a ping-pong stays here).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.worker_totals().runnext_hits() <= m.worker_totals().ticks());
    /// ```
    pub fn runnext_hits(&self) -> u64 {
        self.runnext_hits
    }

    /// Goroutines popped from the worker's own queue.
    ///
    /// ```
    /// let w = goro::metrics().worker_totals().clone();
    /// assert!(w.local_pops() <= w.ticks());
    /// ```
    pub fn local_pops(&self) -> u64 {
        self.local_pops
    }

    /// Goroutines taken from the global queue (spawned from plain threads,
    /// yielded with `gosched`, handed over by a retiring worker).
    ///
    /// ```
    /// let before = goro::metrics().worker_totals().global_pops();
    /// goro::go!(|| ()).join().unwrap(); // spawned from a plain thread
    /// assert!(goro::metrics().worker_totals().global_pops() > before);
    /// ```
    pub fn global_pops(&self) -> u64 {
        self.global_pops
    }

    /// Goroutines stolen from another worker's queue (or its `runnext`).
    ///
    /// ```
    /// let w = goro::metrics().worker_totals().clone();
    /// assert!(w.stolen_pops() <= w.steal_attempts());
    /// ```
    pub fn stolen_pops(&self) -> u64 {
        self.stolen_pops
    }

    /// Goroutines taken from the paused queue: sysmon paused them at the
    /// end of a time slice, and they waited behind fresher work.
    ///
    /// ```
    /// let w = goro::metrics().worker_totals().clone();
    /// assert!(w.paused_pops() <= w.ticks());
    /// ```
    pub fn paused_pops(&self) -> u64 {
        self.paused_pops
    }

    /// Passes over the other workers' queues in search of work to steal.
    ///
    /// ```
    /// let w = goro::metrics().worker_totals().clone();
    /// assert!(w.steal_attempts() >= w.stolen_pops());
    /// ```
    pub fn steal_attempts(&self) -> u64 {
        self.steal_attempts
    }

    /// Times the worker spun (looked for work for up to 50 µs) before it
    /// found some or parked.
    ///
    /// ```
    /// let w = goro::metrics().worker_totals().clone();
    /// assert!(w.steal_attempts() >= w.spins()); // each spin looks at least once
    /// ```
    pub fn spins(&self) -> u64 {
        self.spins
    }

    /// Times the worker parked with nothing to do.
    ///
    /// ```
    /// goro::go!(|| ()).join().unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(10));
    /// assert!(goro::metrics().worker_totals().parks() >= 1);
    /// ```
    pub fn parks(&self) -> u64 {
        self.parks
    }

    /// Time the worker was not parked (running goroutines, or looking for
    /// them), as tokio-metrics' busy duration.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let spin = Duration::from_millis(20);
    /// goro::go!(move || {
    ///     let start = Instant::now();
    ///     while start.elapsed() < spin {} // a worker busy for 20 ms
    /// })
    /// .join()
    /// .unwrap();
    /// assert!(goro::metrics().worker_totals().busy_time() >= spin);
    /// ```
    pub fn busy_time(&self) -> Duration {
        self.busy_time
    }

    /// Goroutines queued on this worker now (its local queue and
    /// `runnext`).
    ///
    /// ```
    /// let queued: u64 = goro::metrics().workers().iter().map(|w| w.queue_depth()).sum();
    /// assert!(queued <= goro::metrics().goroutines() + 1);
    /// ```
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth
    }

    /// Timers armed in this worker's heap now.
    ///
    /// ```
    /// let w = goro::metrics().worker_totals().clone();
    /// assert!(w.timers() <= goro::metrics().timers_pending());
    /// ```
    pub fn timers(&self) -> u64 {
        self.timers
    }

    fn add_totals(&mut self, w: &WorkerSnapshot) {
        let mut sum = WorkerSnapshot {
            ticks: self.ticks,
            runnext_hits: self.runnext_hits,
            local_pops: self.local_pops,
            global_pops: self.global_pops,
            stolen_pops: self.stolen_pops,
            paused_pops: self.paused_pops,
            steal_attempts: self.steal_attempts,
            spins: self.spins,
            parks: self.parks,
            busy_time: self.busy_time,
            queue_depth: self.queue_depth,
            timers: self.timers,
            ..WorkerSnapshot::default()
        };
        sum.add_totals(w);
        *self = WorkerMetrics {
            status: "total",
            ..WorkerMetrics::from_snapshot(&sum)
        };
    }
}

/// Takes a snapshot of the runtime's counters and gauges: goroutines by
/// state and wait reason, each worker's scheduling counts, threads,
/// preemptions, timers, the reactor, the stack pool. Starts the runtime if
/// it has not started.
///
/// It is read in two steps, not at one instant: first the scheduler's
/// side (workers, threads, timers, reactor, stacks), then a walk over the
/// goroutines (their counts by state). A goroutine that runs in between
/// can be counted as finished or parked in the second step while its
/// turn, or the timer it armed, is not yet in the first: to check one
/// against the other, take a second snapshot (totals only grow).
///
/// ```
/// use goro::WaitReason;
///
/// let (tx, rx) = goro::chan::<()>(0);
/// let before = goro::metrics();
/// let h = goro::go!(move || rx.recv());
/// while goro::metrics().blocked_on(WaitReason::ChanRecv) == before.blocked_on(WaitReason::ChanRecv) {
///     goro::gosched(); // until it parks
/// }
/// assert!(goro::metrics().spawned() > before.spawned());
/// drop(tx);
/// h.join().unwrap().unwrap_err();
/// ```
pub fn metrics() -> Metrics {
    let mut runnable = 0;
    let mut running = 0;
    let mut blocked = 0;
    let mut locked = 0;
    let mut blocked_by = [0u64; REASONS];
    // Finished and spawned first, the walk after: a goroutine that starts
    // or ends meanwhile makes `goroutines()` differ from their difference
    // by the churn of the walk, never by a stale start.
    let spawned = coroutine::spawned();
    let sched = stats::snapshot();
    coroutine::for_each_live(|g| {
        match g.state_name() {
            "running" => running += 1,
            "blocked" => {
                blocked += 1;
                if let Some(r) = g.wait_reason() {
                    blocked_by[r as usize - 1] += 1;
                }
            }
            // New and queued (woken, yielded) goroutines.
            _ => runnable += 1,
        }
        if g.lock_count.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            locked += 1;
        }
    });
    let mut all_workers = WorkerMetrics {
        status: "total",
        ..WorkerMetrics::default()
    };
    for w in sched.active.iter().chain(&sched.off_duty) {
        all_workers.add_totals(w);
    }
    let (blocking_threads, idle_blocking_threads, blocking_jobs) = crate::blocking::pool_counts();
    let (reactor_polls, reactor_events) = crate::reactor::poll_counts();
    let worker_threads = sched
        .active
        .iter()
        .chain(&sched.off_duty)
        .filter(|w| w.status != "exited")
        .count() as u64;
    Metrics {
        goroutines: runnable + running + blocked,
        runnable,
        running,
        blocked,
        blocked_by,
        locked,
        spawned,
        finished: all_workers_finished(&sched),
        uptime: sched.since_start,
        gomaxprocs: sched.gomaxprocs,
        workers: sched
            .active
            .iter()
            .map(WorkerMetrics::from_snapshot)
            .collect(),
        all_workers,
        idle_workers: sched.idle_workers,
        spinning_workers: sched.spinning_workers,
        threads: sched.threads,
        worker_threads,
        spare_threads: sched.spare_threads,
        detached_threads: sched.detached_threads,
        blocking_threads,
        idle_blocking_threads,
        blocking_jobs,
        global_queue: sched.global_queue,
        paused_queue: sched.paused_queue,
        preempt_requests: sched.preempt_requests,
        pauses: sched.pauses,
        handoffs: sched.handoffs,
        timers_armed: sched.timers.armed,
        timers_fired: sched.timers.fired,
        timers_cancelled: sched.timers.cancelled,
        timers_pending: sched.timers.pending,
        reactor_polls,
        reactor_events,
        io_waiters: crate::reactor::waiters() as u64,
        stacks: stack::counts(),
    }
}

fn all_workers_finished(sched: &stats::SchedSnapshot) -> u64 {
    sched
        .active
        .iter()
        .chain(&sched.off_duty)
        .map(|w| w.finished)
        .sum()
}

impl Metrics {
    /// Goroutines that exist now (not finished): runnable + running +
    /// blocked.
    ///
    /// ```
    /// let n = goro::go!(|| goro::metrics().goroutines()).join().unwrap();
    /// assert!(n >= 1); // at least the one that asked
    /// ```
    pub fn goroutines(&self) -> u64 {
        self.goroutines
    }

    /// Goroutines ready to run, waiting in a queue for a worker (new ones
    /// included, as Go counts them).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.runnable() <= m.goroutines());
    /// ```
    pub fn runnable(&self) -> u64 {
        self.runnable
    }

    /// Goroutines executing on a thread now.
    ///
    /// ```
    /// let n = goro::go!(|| goro::metrics().running()).join().unwrap();
    /// assert!(n >= 1); // the one taking the snapshot
    /// ```
    pub fn running(&self) -> u64 {
        self.running
    }

    /// Goroutines parked, for any reason ([`blocked_on`](Self::blocked_on)
    /// tells them apart).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.blocked_on(goro::WaitReason::Sleep) <= m.blocked());
    /// ```
    pub fn blocked(&self) -> u64 {
        self.blocked
    }

    /// Goroutines parked for `reason` now.
    ///
    /// ```
    /// use goro::WaitReason;
    /// use std::time::Duration;
    ///
    /// let h = goro::go!(|| goro::time::sleep(Duration::from_millis(50)));
    /// std::thread::sleep(Duration::from_millis(10));
    /// assert!(goro::metrics().blocked_on(WaitReason::Sleep) >= 1);
    /// h.join().unwrap();
    /// ```
    pub fn blocked_on(&self, reason: WaitReason) -> u64 {
        self.blocked_by[reason as usize - 1]
    }

    /// Goroutines locked to their thread now
    /// ([`lock_os_thread`](crate::lock_os_thread)).
    ///
    /// ```
    /// let n = goro::go!(|| {
    ///     goro::lock_os_thread();
    ///     let n = goro::metrics().locked_to_thread();
    ///     goro::unlock_os_thread();
    ///     n
    /// });
    /// assert!(n.join().unwrap() >= 1);
    /// ```
    pub fn locked_to_thread(&self) -> u64 {
        self.locked
    }

    /// Goroutines spawned since the runtime started.
    ///
    /// ```
    /// let before = goro::metrics().spawned();
    /// goro::go!(|| ()).join().unwrap();
    /// assert!(goro::metrics().spawned() > before);
    /// ```
    pub fn spawned(&self) -> u64 {
        self.spawned
    }

    /// Goroutines that finished (returned, panicked or called `goexit`)
    /// since the runtime started.
    ///
    /// ```
    /// let before = goro::metrics().finished();
    /// goro::go!(|| ()).join().unwrap();
    /// while goro::metrics().finished() == before {
    ///     std::thread::yield_now(); // counted just after the result is out
    /// }
    /// ```
    pub fn finished(&self) -> u64 {
        self.finished
    }

    /// Time since the runtime started.
    ///
    /// ```
    /// let a = goro::metrics().uptime();
    /// std::thread::sleep(std::time::Duration::from_millis(2));
    /// assert!(goro::metrics().uptime() > a);
    /// ```
    pub fn uptime(&self) -> Duration {
        self.uptime
    }

    /// Active workers ([`gomaxprocs`](crate::gomaxprocs)).
    ///
    /// ```
    /// assert_eq!(goro::metrics().gomaxprocs(), goro::gomaxprocs(0) as u64);
    /// ```
    pub fn gomaxprocs(&self) -> u64 {
        self.gomaxprocs
    }

    /// The active workers' counts, one entry per worker (`gomaxprocs` of
    /// them), by slot. A worker that left the active set (retired, handed
    /// off, locked to a goroutine) is counted in
    /// [`worker_totals`](Self::worker_totals) only.
    ///
    /// ```
    /// let m = goro::metrics();
    /// let ticks: u64 = m.workers().iter().map(|w| w.ticks()).sum();
    /// assert!(ticks <= m.worker_totals().ticks());
    /// ```
    pub fn workers(&self) -> &[WorkerMetrics] {
        &self.workers
    }

    /// Every worker slot's counts summed: the active workers and those
    /// that left the active set, so every total in it only grows.
    ///
    /// ```
    /// let before = goro::metrics().worker_totals().ticks();
    /// goro::go!(|| ()).join().unwrap();
    /// assert!(goro::metrics().worker_totals().ticks() > before);
    /// ```
    pub fn worker_totals(&self) -> &WorkerMetrics {
        &self.all_workers
    }

    /// Active workers parked with nothing to do (schedtrace's `idleprocs`).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.idle_workers() <= m.gomaxprocs());
    /// ```
    pub fn idle_workers(&self) -> u64 {
        self.idle_workers
    }

    /// Workers looking for work to steal now.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.spinning_workers() <= m.gomaxprocs());
    /// ```
    pub fn spinning_workers(&self) -> u64 {
        self.spinning_workers
    }

    /// Threads goro runs now: worker threads (active, spare, detached),
    /// the monitor, the blocking pool's, and schedtrace's if on.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.threads() >= m.worker_threads() + 1); // and sysmon
    /// ```
    pub fn threads(&self) -> u64 {
        self.threads
    }

    /// Worker threads alive: active, retiring, detached and spare.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.worker_threads() >= m.gomaxprocs());
    /// ```
    pub fn worker_threads(&self) -> u64 {
        self.worker_threads
    }

    /// Spare worker threads, parked until `gomaxprocs` or a hand-off needs
    /// them (schedtrace's `idlethreads`).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.spare_threads() <= m.worker_threads());
    /// ```
    pub fn spare_threads(&self) -> u64 {
        self.spare_threads
    }

    /// Worker threads no longer active because they are stuck in one
    /// goroutine (handed off) or locked to one.
    ///
    /// ```
    /// let n = goro::go!(|| {
    ///     goro::lock_os_thread(); // the thread leaves the active set
    ///     let n = goro::metrics().detached_threads();
    ///     goro::unlock_os_thread();
    ///     n
    /// });
    /// assert!(n.join().unwrap() >= 1);
    /// ```
    pub fn detached_threads(&self) -> u64 {
        self.detached_threads
    }

    /// Threads of the blocking pool ([`blocking`](crate::blocking())) alive now.
    ///
    /// ```
    /// let n = goro::go!(|| goro::blocking(|| goro::metrics().blocking_threads()));
    /// assert!(n.join().unwrap() >= 1); // the one running the closure
    /// ```
    pub fn blocking_threads(&self) -> u64 {
        self.blocking_threads
    }

    /// Threads of the blocking pool waiting for a job.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.idle_blocking_threads() <= m.blocking_threads());
    /// ```
    pub fn idle_blocking_threads(&self) -> u64 {
        self.idle_blocking_threads
    }

    /// Jobs handed to the blocking pool since the runtime started.
    ///
    /// ```
    /// let before = goro::metrics().blocking_jobs();
    /// goro::go!(|| goro::blocking(|| ())).join().unwrap();
    /// assert!(goro::metrics().blocking_jobs() > before);
    /// ```
    pub fn blocking_jobs(&self) -> u64 {
        self.blocking_jobs
    }

    /// Goroutines in the global queue now (schedtrace's `runqueue`).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.global_queue() <= m.goroutines());
    /// ```
    pub fn global_queue(&self) -> u64 {
        self.global_queue
    }

    /// Goroutines sysmon paused mid-slice, waiting for their next turn.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.paused_queue() <= m.goroutines());
    /// ```
    pub fn paused_queue(&self) -> u64 {
        self.paused_queue
    }

    /// Time slices sysmon asked to end (a goroutine ran 10 ms, or 2 ms
    /// while fresh work waited).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.pauses() <= m.preempt_requests());
    /// ```
    pub fn preempt_requests(&self) -> u64 {
        self.preempt_requests
    }

    /// Threads sysmon paused inside a goroutine that ignored the request
    /// to end its slice (it called no goro function).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.pauses() <= m.preempt_requests());
    /// ```
    pub fn pauses(&self) -> u64 {
        self.pauses
    }

    /// Workers sysmon handed off because their goroutine was stuck
    /// (blocked in the kernel, or computing and not pausable): their queue
    /// and token went to another thread.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// goro::gomaxprocs(1);
    /// let before = goro::metrics().handoffs();
    /// // A plain blocking call holds the only worker's thread in the kernel...
    /// let stuck = goro::go!(|| std::thread::sleep(Duration::from_millis(200)));
    /// while goro::metrics().running() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// // ...while work waits: within a millisecond or so sysmon hands the
    /// // worker off, and another thread runs this one.
    /// goro::go!(|| ()).join().unwrap();
    /// assert!(goro::metrics().handoffs() > before);
    /// stuck.join().unwrap();
    /// ```
    pub fn handoffs(&self) -> u64 {
        self.handoffs
    }

    /// Timers armed since the runtime started (sleeps, timeouts, `after`,
    /// tickers).
    ///
    /// ```
    /// let before = goro::metrics().timers_armed();
    /// goro::go!(|| goro::time::sleep(std::time::Duration::from_millis(1))).join().unwrap();
    /// assert!(goro::metrics().timers_armed() > before);
    /// ```
    pub fn timers_armed(&self) -> u64 {
        self.timers_armed
    }

    /// Timers fired since the runtime started.
    ///
    /// ```
    /// let before = goro::metrics().timers_fired();
    /// goro::go!(|| goro::time::sleep(std::time::Duration::from_millis(1))).join().unwrap();
    /// assert!(goro::metrics().timers_fired() > before);
    /// ```
    pub fn timers_fired(&self) -> u64 {
        self.timers_fired
    }

    /// Timers cancelled before they fired (a timeout that did not expire,
    /// a dropped `after`).
    ///
    /// ```
    /// let before = goro::metrics().timers_cancelled();
    /// drop(goro::time::after(std::time::Duration::from_secs(60)));
    /// assert!(goro::metrics().timers_cancelled() > before);
    /// ```
    pub fn timers_cancelled(&self) -> u64 {
        self.timers_cancelled
    }

    /// Timers armed now.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.timers_pending() <= m.timers_armed());
    /// ```
    pub fn timers_pending(&self) -> u64 {
        self.timers_pending
    }

    /// Polls of the I/O reactor (epoll) since the runtime started.
    ///
    /// ```
    /// let before = goro::metrics().reactor_polls();
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let acceptor = goro::go!(move || listener.accept().map(|_| ()));
    /// std::thread::sleep(std::time::Duration::from_millis(10)); // it parks; idle workers poll
    /// let _conn = std::net::TcpStream::connect(addr).unwrap();
    /// acceptor.join().unwrap().unwrap();
    /// assert!(goro::metrics().reactor_polls() > before);
    /// ```
    pub fn reactor_polls(&self) -> u64 {
        self.reactor_polls
    }

    /// I/O readiness events the reactor's polls returned.
    ///
    /// ```
    /// let before = goro::metrics().reactor_events();
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let acceptor = goro::go!(move || listener.accept().map(|_| ()));
    /// std::thread::sleep(std::time::Duration::from_millis(10)); // it parks on readiness
    /// let _conn = std::net::TcpStream::connect(addr).unwrap(); // an event wakes it
    /// acceptor.join().unwrap().unwrap();
    /// assert!(goro::metrics().reactor_events() > before);
    /// ```
    pub fn reactor_events(&self) -> u64 {
        self.reactor_events
    }

    /// Goroutines and threads waiting for I/O readiness now.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.io_waiters() <= m.goroutines() + m.threads() + 64);
    /// ```
    pub fn io_waiters(&self) -> u64 {
        self.io_waiters
    }

    /// Goroutine stacks mapped since the runtime started (stacks are
    /// reused, never unmapped).
    ///
    /// ```
    /// goro::go!(|| ()).join().unwrap();
    /// assert!(goro::metrics().stacks_mapped() >= 1);
    /// ```
    pub fn stacks_mapped(&self) -> u64 {
        self.stacks.mapped
    }

    /// Free stacks in the global pool now (each worker also keeps a few of
    /// its own, not counted here).
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.stacks_pooled() <= m.stacks_mapped());
    /// ```
    pub fn stacks_pooled(&self) -> u64 {
        self.stacks.pooled
    }

    /// Free stacks whose memory was returned to the kernel, since the
    /// runtime started (sysmon trims stacks idle for a second).
    ///
    /// ```
    /// let m = goro::metrics();
    /// println!("{} stacks trimmed", m.stacks_trimmed());
    /// ```
    pub fn stacks_trimmed(&self) -> u64 {
        self.stacks.trimmed
    }

    /// Mapped stacks with a guard page that faults on overflow.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert_eq!(m.stacks_guarded() + m.stacks_canary_checked(), m.stacks_mapped());
    /// ```
    pub fn stacks_guarded(&self) -> u64 {
        self.stacks.guarded
    }

    /// Mapped stacks without a faulting guard page (past the kernel's map
    /// budget), checked by a canary at every switch instead.
    ///
    /// ```
    /// let m = goro::metrics();
    /// assert!(m.stacks_canary_checked() <= m.stacks_mapped());
    /// ```
    pub fn stacks_canary_checked(&self) -> u64 {
        self.stacks.canary_checked
    }

    /// The snapshot in Prometheus' text exposition format (version 0.0.4):
    /// names prefixed `goro_`, totals as counters, the rest gauges,
    /// per-worker series labelled `worker="N"`, blocked goroutines
    /// labelled `reason="chan receive"`.
    // Served by the debug endpoint (`debug::serve`, the next part of
    // issue 14); until it lands only the tests here call it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn to_prometheus(&self) -> String {
        let mut out = Prometheus::default();
        out.gauge("goroutines", "Goroutines that exist now.", self.goroutines);
        out.family(
            "goroutines_by_state",
            "gauge",
            "Goroutines now, by state.",
            &[
                ("state=\"runnable\"", self.runnable),
                ("state=\"running\"", self.running),
                ("state=\"blocked\"", self.blocked),
            ],
        );
        let reasons: Vec<(String, u64)> = WaitReason::ALL
            .iter()
            .map(|&r| (format!("reason=\"{r}\""), self.blocked_on(r)))
            .collect();
        let reasons: Vec<(&str, u64)> = reasons.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        out.family(
            "goroutines_blocked",
            "gauge",
            "Goroutines parked now, by wait reason.",
            &reasons,
        );
        out.gauge(
            "goroutines_locked",
            "Goroutines locked to their OS thread now.",
            self.locked,
        );
        out.counter(
            "goroutines_spawned_total",
            "Goroutines spawned.",
            self.spawned,
        );
        out.counter(
            "goroutines_finished_total",
            "Goroutines that finished.",
            self.finished,
        );
        out.gauge(
            "uptime_seconds",
            "Seconds since the runtime started.",
            self.uptime.as_secs_f64(),
        );
        out.gauge("gomaxprocs", "Active workers.", self.gomaxprocs);
        let per_worker = |f: fn(&WorkerMetrics) -> f64| -> Vec<(String, f64)> {
            self.workers
                .iter()
                .map(|w| (format!("worker=\"{}\"", w.id), f(w)))
                .collect()
        };
        for (name, kind, help, f) in WORKER_SERIES {
            let series = per_worker(f);
            let series: Vec<(&str, f64)> = series.iter().map(|(l, v)| (l.as_str(), *v)).collect();
            out.family(name, kind, help, &series);
        }
        out.gauge(
            "idle_workers",
            "Active workers parked now.",
            self.idle_workers,
        );
        out.gauge(
            "spinning_workers",
            "Workers looking for work now.",
            self.spinning_workers,
        );
        out.gauge("threads", "Threads goro runs now.", self.threads);
        out.family(
            "worker_threads",
            "gauge",
            "Worker threads alive now, by role.",
            &[
                ("role=\"all\"", self.worker_threads),
                ("role=\"spare\"", self.spare_threads),
                ("role=\"detached\"", self.detached_threads),
            ],
        );
        out.gauge(
            "blocking_threads",
            "Blocking-pool threads alive now.",
            self.blocking_threads,
        );
        out.gauge(
            "blocking_threads_idle",
            "Blocking-pool threads waiting for a job.",
            self.idle_blocking_threads,
        );
        out.counter(
            "blocking_jobs_total",
            "Jobs handed to the blocking pool.",
            self.blocking_jobs,
        );
        out.gauge(
            "global_queue",
            "Goroutines in the global queue now.",
            self.global_queue,
        );
        out.gauge(
            "paused_queue",
            "Paused goroutines waiting for their turn.",
            self.paused_queue,
        );
        out.counter(
            "preempt_requests_total",
            "Time slices sysmon asked to end.",
            self.preempt_requests,
        );
        out.counter(
            "pauses_total",
            "Threads sysmon paused inside a goroutine.",
            self.pauses,
        );
        out.counter(
            "handoffs_total",
            "Workers handed off while stuck.",
            self.handoffs,
        );
        out.counter("timers_armed_total", "Timers armed.", self.timers_armed);
        out.counter("timers_fired_total", "Timers fired.", self.timers_fired);
        out.counter(
            "timers_cancelled_total",
            "Timers cancelled before firing.",
            self.timers_cancelled,
        );
        out.gauge("timers_pending", "Timers armed now.", self.timers_pending);
        out.counter(
            "reactor_polls_total",
            "Polls of the I/O reactor.",
            self.reactor_polls,
        );
        out.counter(
            "reactor_events_total",
            "I/O events the polls returned.",
            self.reactor_events,
        );
        out.gauge(
            "io_waiters",
            "Goroutines and threads waiting for I/O now.",
            self.io_waiters,
        );
        out.counter(
            "stacks_mapped_total",
            "Goroutine stacks mapped.",
            self.stacks.mapped,
        );
        out.gauge(
            "stacks_pooled",
            "Free stacks in the global pool now.",
            self.stacks.pooled,
        );
        out.counter(
            "stacks_trimmed_total",
            "Free stacks returned to the kernel.",
            self.stacks.trimmed,
        );
        out.family(
            "stacks_by_protection",
            "gauge",
            "Mapped stacks, by overflow protection.",
            &[
                ("protection=\"guard page\"", self.stacks.guarded),
                ("protection=\"canary\"", self.stacks.canary_checked),
            ],
        );
        out.text
    }
}

/// A per-worker series: name, type, help, and how to read it.
type WorkerSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&WorkerMetrics) -> f64,
);

/// The per-worker series of the Prometheus text.
const WORKER_SERIES: [WorkerSeries; 11] = [
    (
        "worker_ticks_total",
        "counter",
        "Goroutine turns run.",
        |w| w.ticks as f64,
    ),
    (
        "worker_runnext_hits_total",
        "counter",
        "Goroutines taken from runnext.",
        |w| w.runnext_hits as f64,
    ),
    (
        "worker_local_pops_total",
        "counter",
        "Goroutines popped from the local queue.",
        |w| w.local_pops as f64,
    ),
    (
        "worker_global_pops_total",
        "counter",
        "Goroutines taken from the global queue.",
        |w| w.global_pops as f64,
    ),
    (
        "worker_stolen_pops_total",
        "counter",
        "Goroutines stolen from other workers.",
        |w| w.stolen_pops as f64,
    ),
    (
        "worker_steal_attempts_total",
        "counter",
        "Passes over other workers' queues.",
        |w| w.steal_attempts as f64,
    ),
    (
        "worker_spins_total",
        "counter",
        "Times the worker spun looking for work.",
        |w| w.spins as f64,
    ),
    (
        "worker_parks_total",
        "counter",
        "Times the worker parked idle.",
        |w| w.parks as f64,
    ),
    (
        "worker_busy_seconds_total",
        "counter",
        "Time the worker was not parked.",
        |w| w.busy_time.as_secs_f64(),
    ),
    (
        "worker_queue_depth",
        "gauge",
        "Goroutines queued on the worker now.",
        |w| w.queue_depth as f64,
    ),
    (
        "worker_timers",
        "gauge",
        "Timers armed in the worker's heap now.",
        |w| w.timers as f64,
    ),
];

/// Builds a text exposition: each family's `# HELP` and `# TYPE` once,
/// then its samples.
#[derive(Default)]
struct Prometheus {
    text: String,
}

impl Prometheus {
    fn counter(&mut self, name: &str, help: &str, value: impl Sample) {
        self.family(name, "counter", help, &[("", value)]);
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl Sample) {
        self.family(name, "gauge", help, &[("", value)]);
    }

    /// `labels` is the inside of the braces (`worker="0"`), or empty.
    fn family<V: Sample>(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, V)]) {
        // Writing into a String cannot fail.
        let _ = writeln!(self.text, "# HELP goro_{name} {help}");
        let _ = writeln!(self.text, "# TYPE goro_{name} {kind}");
        for &(labels, value) in samples {
            let value = value.value();
            match labels {
                "" => {
                    let _ = writeln!(self.text, "goro_{name} {value}");
                }
                labels => {
                    let _ = writeln!(self.text, "goro_{name}{{{labels}}} {value}");
                }
            }
        }
    }
}

/// A sample's value: counts print as integers, times as seconds.
trait Sample: Copy {
    fn value(self) -> f64;
}

impl Sample for u64 {
    fn value(self) -> f64 {
        self as f64
    }
}

impl Sample for f64 {
    fn value(self) -> f64 {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Checks the text exposition format line by line: every sample is
    /// `name{labels} value` or `name value` with a known family, every
    /// family has one HELP and one TYPE (counter or gauge) before its
    /// samples, and label values are quoted.
    fn check_exposition(text: &str) -> HashMap<String, f64> {
        let mut help: HashMap<&str, usize> = HashMap::new();
        let mut kind: HashMap<&str, &str> = HashMap::new();
        let mut samples = HashMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, text) = rest.split_once(' ').expect("HELP has a name and text");
                assert!(!text.is_empty(), "{line}");
                *help.entry(name).or_default() += 1;
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, k) = rest.split_once(' ').expect("TYPE has a name and a type");
                assert!(k == "counter" || k == "gauge", "{line}");
                assert!(kind.insert(name, k).is_none(), "TYPE twice: {line}");
                continue;
            }
            assert!(!line.starts_with('#'), "unknown comment: {line}");
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            assert!(value.is_finite() && value >= 0.0, "{line}");
            let name = match series.split_once('{') {
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').expect("labels close");
                    for label in labels.split(',') {
                        let (k, v) = label.split_once('=').expect("label is k=v");
                        assert!(
                            k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                            "{line}"
                        );
                        assert!(
                            v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                            "{line}"
                        );
                    }
                    name
                }
                None => series,
            };
            assert!(name.starts_with("goro_"), "{line}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert!(help.get(name) == Some(&1), "no single HELP before {line}");
            assert!(kind.contains_key(name), "no TYPE before {line}");
            if kind[name] == "counter" {
                assert!(name.ends_with("_total"), "counter without _total: {line}");
            }
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "sample twice: {line}"
            );
        }
        assert_eq!(help.len(), kind.len());
        assert!(help.values().all(|&n| n == 1));
        samples
    }

    #[test]
    fn prometheus_text_parses_and_carries_the_counts() {
        let (tx, rx) = crate::chan::<()>(0);
        let h = crate::go!(move || rx.recv());
        while crate::metrics().blocked_on(WaitReason::ChanRecv) == 0 {
            std::thread::yield_now();
        }
        let m = crate::metrics();
        let samples = check_exposition(&m.to_prometheus());
        assert!(samples[r#"goro_goroutines_blocked{reason="chan receive"}"#] >= 1.0);
        assert_eq!(samples["goro_gomaxprocs"], m.gomaxprocs() as f64);
        for w in m.workers() {
            let key = format!(r#"goro_worker_ticks_total{{worker="{}"}}"#, w.id());
            assert_eq!(samples[&key], w.ticks() as f64);
        }
        assert_eq!(samples["goro_goroutines_spawned_total"], m.spawned() as f64);
        drop(tx);
        h.join().unwrap().unwrap_err();
    }

    #[test]
    fn the_checker_rejects_what_prometheus_would() {
        let bad = [
            "goro_x 1\n",                                            // no HELP/TYPE
            "# HELP goro_x h\n# TYPE goro_x counter\ngoro_x 1\n",    // counter without _total
            "# HELP goro_x h\n# TYPE goro_x gauge\ngoro_x{a=b} 1\n", // unquoted label
            "# HELP goro_x h\n# TYPE goro_x gauge\ngoro_x one\n",    // not a number
        ];
        for text in bad {
            let caught = std::panic::catch_unwind(|| check_exposition(text)).is_err();
            assert!(caught, "accepted: {text}");
        }
    }
}
