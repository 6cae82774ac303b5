//! The worker run loop: find a runnable goroutine, resume it, act on how it
//! gave the thread back; park when there is nothing to do.
//!
//! A worker's thread-owned state (`Worker`) is reachable from goroutine code
//! running on it through a thread-local read by a non-inlined accessor, so
//! a goroutine that migrates never uses a stale worker.
//!
//! A goroutine *bound* to another thread (paused there by sysmon, or locked
//! to it) is not resumed here: the worker lends that thread its CPU token
//! and sleeps until it comes back (`preempt.rs` explains the rule). A
//! thread whose goroutine called `lock_os_thread` leaves the active set and
//! from then on runs that goroutine only, each time a worker lends it a
//! token.

use corosensei::CoroutineResult;
use crossbeam_deque::Steal;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{
    compiler_fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::netpoll;
use super::preempt::{self, LendWord, PauseWord};
use super::stats::WorkerStats;
use super::timer::{self, TimerShard};
use super::trace;
use super::{
    finish_park, Runtime, SeenRunnext, WorkerShared, ACTIVE, EXITED, PREEMPT, SPARE, TIMERS,
};
use crate::coroutine::stack::{self, Stack};
use crate::coroutine::{current_g, overflow, set_current_g, GRef, Yield};
use crate::reactor;

/// A worker's own state; lives on its thread's stack for the thread's life.
pub(crate) struct Worker {
    pub(crate) shared: Arc<WorkerShared>,
    pub(crate) local: crossbeam_deque::Worker<GRef>,
    stacks: RefCell<Vec<Stack>>,
    /// Picks left until the next every-61st look at the global queue.
    countdown: Cell<u8>,
    spinning: Cell<bool>,
    seed: Cell<u64>,
    seen_runnext: Cell<Option<SeenRunnext>>,
    /// The goroutine locked to this thread (`lock_os_thread`), if any.
    locked: RefCell<Option<GRef>>,
    /// The locked goroutine ended still locked: the thread exits (Go's
    /// rule: the goroutine may have changed the thread's state).
    exit: Cell<bool>,
}

/// How long a spare thread waits to be needed before it exits (the
/// blocking pool's idle threads wait as long).
const SPARE_EXIT_AFTER: Duration = Duration::from_secs(10);

/// How long a spinning worker keeps looking before it parks.
const SPIN_FOR: Duration = Duration::from_micros(50);

thread_local! {
    static WORKER: Cell<*const Worker> = const { Cell::new(std::ptr::null()) };
}

/// The worker this thread runs, if it is a worker thread. Never inlined (see
/// the module docs); callers must not hold the reference across a switch.
#[inline(never)]
pub(crate) fn current_worker() -> Option<&'static Worker> {
    let ptr = WORKER.with(Cell::get);
    // SAFETY: WORKER is set once, by `run`, to a `Worker` that lives on the
    // same thread's stack until the thread exits (workers never return), and
    // only this thread reads it.
    unsafe { ptr.as_ref() }
}

/// Runs `f` with this worker's stack cache (None on a plain thread).
pub(crate) fn with_stack_cache<R>(f: impl FnOnce(Option<&mut Vec<Stack>>) -> R) -> R {
    match current_worker() {
        Some(w) => f(Some(&mut w.stacks.borrow_mut())),
        None => f(None),
    }
}

/// Starts a new worker thread, already counted active by the caller.
pub(super) fn spawn_worker(rt: &'static Runtime) {
    let local = crossbeam_deque::Worker::new_fifo();
    let mut workers = rt.workers.write();
    // The slot of a thread that exited, else a new one: ids stay small
    // however often spare threads come and go. A reused slot keeps its
    // timers (`timer.rs`).
    let id = workers
        .iter()
        .position(|w| w.status.load(Ordering::SeqCst) == EXITED)
        .unwrap_or(workers.len());
    let timers = workers
        .get(id)
        .map_or_else(TimerShard::leak, |old| old.timers);
    let stats = workers
        .get(id)
        .map_or_else(WorkerStats::leak, |old| old.stats);
    // A new thread in an old slot goes on from its turn count: the count
    // is a total since start (`metrics()`), and sysmon, seeing it
    // unchanged on a worker that is not busy, does not take it for a
    // stuck one.
    let ticks = workers
        .get(id)
        .map_or(0, |old| old.ticks.load(Ordering::Relaxed));
    let shared = Arc::new(WorkerShared {
        id,
        stealer: local.stealer(),
        runnext: AtomicPtr::new(std::ptr::null_mut()),
        thread: OnceLock::new(),
        status: AtomicU8::new(ACTIVE),
        idle: AtomicBool::new(false),
        notified: AtomicBool::new(false),
        in_poll: AtomicBool::new(false),
        woken_spinning: AtomicBool::new(false),
        busy: AtomicBool::new(false),
        ticks: AtomicU64::new(ticks),
        slices: AtomicU64::new(0),
        // A new worker fires overdue timers first (see `activate_one`).
        attention: AtomicU8::new(TIMERS),
        tid: AtomicI32::new(0),
        running: AtomicPtr::new(std::ptr::null_mut()),
        pause: PauseWord::new(),
        lent_to: AtomicUsize::new(0),
        lend: LendWord::new(),
        lender: AtomicUsize::new(0),
        timers,
        stats,
    });
    if id == workers.len() {
        workers.push(shared.clone());
    } else {
        workers[id] = shared.clone();
    }
    drop(workers);
    let id = shared.id;
    rt.own_threads.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name(format!("goro-worker-{id}"))
        .stack_size(256 * 1024)
        .spawn(move || {
            let worker = Worker {
                seed: Cell::new(
                    0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407),
                ),
                shared,
                local,
                stacks: RefCell::new(Vec::new()),
                countdown: Cell::new(61),
                spinning: Cell::new(false),
                seen_runnext: Cell::new(None),
                locked: RefCell::new(None),
                exit: Cell::new(false),
            };
            worker.run(rt);
            // `worker` is about to go: a thread-local destructor that runs
            // goro code on this exiting thread must find no worker.
            WORKER.with(|w| w.set(std::ptr::null()));
            rt.own_threads.fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        // Without a thread the runtime cannot honour gomaxprocs; running
        // goroutines would silently stall instead, so fail loudly.
        panic!("goro: cannot start worker thread {id}: {e}");
    }
}

impl Worker {
    /// The thread's life. Returns only when a goroutine ended while locked
    /// to this thread (the thread then exits).
    fn run(&self, rt: &'static Runtime) {
        let _ = self.shared.thread.set(std::thread::current());
        self.shared.tid.store(preempt::gettid(), Ordering::SeqCst);
        WORKER.with(|w| w.set(self));
        overflow::thread_init();
        self.shared.stats.wakes();
        loop {
            match self.shared.status.load(Ordering::SeqCst) {
                ACTIVE => {
                    if let Some((g, inherit)) = self.find_runnable(rt) {
                        self.execute(rt, g, inherit);
                    }
                }
                SPARE => {
                    if self.wait_as_spare(rt) {
                        return;
                    }
                }
                // Detached (a locked thread always is) or retiring.
                _ => {
                    if self.off_duty(rt) {
                        return;
                    }
                }
            }
        }
    }

    /// Parks a spare until `gomaxprocs` or a hand-off needs it; a spare
    /// idle for [`SPARE_EXIT_AFTER`] leaves (returns true: the thread
    /// exits), so a burst of blocking calls does not keep its threads.
    #[cold]
    fn wait_as_spare(&self, rt: &'static Runtime) -> bool {
        let since = Instant::now();
        self.shared.stats.falls_asleep();
        std::thread::park_timeout(SPARE_EXIT_AFTER);
        self.shared.stats.wakes();
        if since.elapsed() < SPARE_EXIT_AFTER {
            return false;
        }
        let mut sched = rt.lock_sched();
        if self.shared.status.load(Ordering::SeqCst) != SPARE {
            return false; // taken just now
        }
        sched.spares.retain(|w| !Arc::ptr_eq(w, &self.shared));
        // Before EXITED: a new thread may take the slot (and its stats) then.
        self.shared.stats.falls_asleep();
        self.shared.status.store(EXITED, Ordering::SeqCst);
        true
    }

    /// A thread that is not an active worker: runs its locked goroutine's
    /// next turn, or retires. Returns true when the thread must exit.
    #[cold]
    fn off_duty(&self, rt: &'static Runtime) -> bool {
        let locked = self.locked.borrow().clone();
        if let Some(g) = locked {
            // Wait until a worker lends us a token, then run it.
            self.shared.stats.falls_asleep();
            self.shared.pause.wait_resumed();
            self.shared.stats.wakes();
            match trace::on() {
                true => self.execute_here_traced(rt, g, true),
                false => self.execute_here::<false>(rt, g, true),
            }
            return false;
        }
        if self.exit.get() {
            let _sched = rt.lock_sched();
            self.shared.stats.falls_asleep(); // before the slot is free again
            self.shared.status.store(EXITED, Ordering::SeqCst);
            return true;
        }
        self.retire(rt);
        false
    }

    /// Leaves the active set: work goes to the global queue, the thread
    /// waits as a spare.
    fn retire(&self, rt: &Runtime) {
        // A spinner that leaves must look for the work it was counted as
        // looking for (Go's resetspinning): a producer that saw it
        // spinning woke nobody. (Left out, a goroutine spawned from a
        // plain thread just as `gomaxprocs` shrank waited forever beside an
        // idle worker: found by the contention bench.)
        let was_spinning = self.spinning.replace(false);
        if was_spinning {
            rt.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        let mut moved = false;
        while let Some(g) = self.shared.take_runnext().or_else(|| self.local.pop()) {
            rt.injector.push(g);
            moved = true;
        }
        stack::release_all(&mut self.stacks.borrow_mut());
        let mut sched = rt.sched.lock();
        // gomaxprocs may have taken the retirement back meanwhile (and
        // counted this worker active again): then stay.
        if self.shared.status.load(Ordering::SeqCst) != ACTIVE {
            self.shared.status.store(SPARE, Ordering::SeqCst);
            sched.spares.push(self.shared.clone());
        }
        drop(sched);
        if moved || was_spinning {
            rt.wakep();
        }
    }

    /// The next goroutine to run, and whether it inherits the current time
    /// slice (it came from `runnext`).
    fn find_runnable(&self, rt: &Runtime) -> Option<(GRef, bool)> {
        let found = self.find_runnable_inner(rt);
        if found.is_some() && self.spinning.replace(false) {
            // The last spinner found work: there may be more, so keep one
            // worker looking (Go's resetspinning).
            if rt.nmspinning.fetch_sub(1, Ordering::SeqCst) == 1 {
                rt.wakep();
            }
        }
        found
    }

    fn find_runnable_inner(&self, rt: &Runtime) -> Option<(GRef, bool)> {
        loop {
            let shared = &self.shared;
            if shared.status.load(Ordering::Relaxed) != ACTIVE {
                return None;
            }
            // Every 61st pick, or when sysmon asks, step aside first.
            let countdown = self.countdown.get().wrapping_sub(1);
            self.countdown.set(countdown);
            if countdown == 0 || shared.attention.load(Ordering::Relaxed) != 0 {
                if let Some(g) = self.between_slices(rt, countdown == 0) {
                    return Some((g, false));
                }
            }
            if let Some(g) = shared.take_runnext() {
                shared.stats.runnext_hits.bump();
                return Some((g, true));
            }
            // Its own due timers before its queue (Go's checkTimers), as
            // soon as a runnext chain ends: the goroutines they wake go to
            // runnext.
            if timer::fire_own(shared.timers) > 0 {
                continue;
            }
            if let Some(g) = self.local.pop() {
                shared.stats.local_pops.bump();
                return Some((g, false));
            }
            if let Some(g) = self.take_global(rt) {
                return Some((g, false));
            }
            // Every shard's: those of busy, retired and detached workers,
            // and the shared one.
            if timer::fire_all(rt) > 0 {
                continue;
            }
            if reactor::has_waiters() && netpoll::poll_now() > 0 {
                continue;
            }
            if let Some(g) = self.take_paused(rt) {
                return Some((g, false));
            }
            if self.spinning.get() || self.start_spinning(rt) {
                if let Some(g) = self.spin_for_work(rt) {
                    return Some((g, false));
                }
            }
            self.idle(rt);
        }
    }

    /// What a worker does between slices, now and then: every 61st pick
    /// (`fair`) fire its timers and take from the global queue first (so it
    /// cannot starve behind a busy local queue); on sysmon's `PREEMPT`, put
    /// whatever waits in runnext behind the local queue instead of letting
    /// it inherit the slice; on `TIMERS`, fire every shard's overdue timers.
    #[cold]
    fn between_slices(&self, rt: &Runtime, fair: bool) -> Option<GRef> {
        if fair {
            self.countdown.set(61);
        }
        let asked = self.shared.attention.swap(0, Ordering::Relaxed);
        if asked & PREEMPT != 0 {
            if let Some(g) = self.shared.take_runnext() {
                self.local.push(g);
            }
        }
        if asked & TIMERS != 0 {
            timer::fire_all(rt);
        } else if fair {
            timer::fire_own(self.shared.timers);
        }
        if fair {
            return self.take_global(rt).or_else(|| self.take_paused(rt));
        }
        None
    }

    /// Looks for work for up to [`SPIN_FOR`] before giving up: parking and
    /// being woken costs two futex calls (microseconds), more than a burst
    /// of spawns or wake-ups leaves between them.
    /// Backs off between looks (32 doubling to 1024 pause instructions) so
    /// a spinner does not keep pulling the busy workers' queue indices into
    /// its cache.
    ///
    /// A lone worker (`gomaxprocs(1)`) looks once: the only queues it can
    /// steal from are those of workers sysmon detached, which do not refill
    /// in bursts, and spinning would only burn its core.
    fn spin_for_work(&self, rt: &Runtime) -> Option<GRef> {
        let start = Instant::now();
        let budget = if rt.maxprocs.load(Ordering::Relaxed) > 1 {
            SPIN_FOR
        } else {
            Duration::ZERO
        };
        let mut pause = 32;
        self.shared.stats.spins.bump();
        loop {
            // Retired meanwhile: whatever it stole now would only have to
            // be given back.
            if self.shared.status.load(Ordering::Relaxed) != ACTIVE {
                return None;
            }
            self.shared.stats.steal_attempts.bump();
            if let Some(g) =
                rt.steal_from_others(self.shared.id, &self.local, &self.seed, &self.seen_runnext)
            {
                self.shared.stats.stolen_pops.bump();
                return Some(g);
            }
            if let Some(g) = self.take_global(rt).or_else(|| self.take_paused(rt)) {
                return Some(g);
            }
            if start.elapsed() >= budget {
                return None;
            }
            for _ in 0..pause {
                std::hint::spin_loop();
            }
            pause = (pause * 2).min(1024);
        }
    }

    /// Becomes a spinner unless half the busy workers already spin.
    fn start_spinning(&self, rt: &Runtime) -> bool {
        let spinning = rt.nmspinning.load(Ordering::SeqCst);
        let procs = rt.maxprocs.load(Ordering::Relaxed);
        let busy = procs.saturating_sub(rt.npidle.load(Ordering::SeqCst));
        if 2 * spinning >= busy {
            return false;
        }
        rt.nmspinning.fetch_add(1, Ordering::SeqCst);
        self.spinning.set(true);
        true
    }

    /// Parks until there may be work. The caller loops back to look.
    fn idle(&self, rt: &Runtime) {
        if self.spinning.replace(false) {
            rt.nmspinning.fetch_sub(1, Ordering::SeqCst);
            // Work may have arrived after we looked and before we stopped
            // spinning, while wakep saw us spinning and woke nobody.
            if rt.any_work() {
                return;
            }
        }
        let shared = &self.shared;
        let mut sched = rt.sched.lock();
        if shared.status.load(Ordering::SeqCst) != ACTIVE {
            return;
        }
        shared.idle.store(true, Ordering::SeqCst);
        sched.idle.push(shared.clone());
        rt.npidle.fetch_add(1, Ordering::SeqCst);
        // One idle worker watches timers and I/O: it blocks in the poller
        // until the next deadline. The others just park.
        let watch = sched.timer_watcher.is_none()
            && (timer::next(&rt.read_workers()).is_some() || reactor::has_waiters());
        if watch {
            sched.timer_watcher = Some(shared.id);
        }
        drop(sched);

        // Re-check after announcing ourselves idle: a producer that queued
        // work before seeing npidle > 0 did not wake anyone.
        if !rt.any_work() {
            shared.stats.parks.bump();
            shared.stats.falls_asleep();
            if watch {
                self.watch(rt);
            } else if !shared.notified.swap(false, Ordering::SeqCst) {
                std::thread::park();
            }
            shared.stats.wakes();
        }

        let mut sched = rt.sched.lock();
        let was_watcher = sched.timer_watcher == Some(shared.id);
        if shared.idle.load(Ordering::SeqCst) {
            // Timed out, spurious, or found work ourselves: still listed.
            rt.remove_idle(&mut sched, shared.id);
        } else if was_watcher {
            sched.timer_watcher = None;
            timer::unwatch();
        } else if watch {
            // Chosen as the watcher, then taken off the idle list (by
            // `wakep` or `gomaxprocs`), which cleared `WATCH_UNTIL` under
            // `sched` and then set `notified`: between the two this thread
            // may have checked `notified` and published its wake-up, left
            // behind with nobody watching, and `timer::insert` then wakes
            // nobody for a later deadline (a plain thread's `after` fired
            // at sysmon's next look, up to 50 ms late). Clearing is always
            // safe: a listed watcher is woken by `timers_changed` instead.
            timer::unwatch();
        }
        drop(sched);
        if (was_watcher || watch) && timer::next(&rt.read_workers()).is_some() {
            // We leave to run work: hand the timers to another idle worker
            // (a wake-up meant for the watcher may have been spent on us).
            rt.wake_idle_for_timers();
        }
        if shared.woken_spinning.swap(false, Ordering::SeqCst) {
            // wakep counted us spinning when it popped us.
            self.spinning.set(true);
        }
    }

    /// Sleeps in the poller as the timer watcher, and sleeps there again
    /// for as long as a poll only woke plain threads (or nothing) and no
    /// timer is due: it stays listed idle, and the watcher, between polls.
    /// Leaving the role after each poll made a plain thread that started
    /// waiting just then (its peer, woken by that poll, writing back and
    /// reading again) find nobody watching and wake the other idle worker
    /// (`watch_io`), which polled and then spun for 50 µs on a core the
    /// threads needed: a futex wake, a poll and a spin per hop that one
    /// worker never pays, having no other worker to wake.
    ///
    /// Returns once taken off the idle list (`wakep`, `gomaxprocs`), once
    /// there is work or a due timer (the run loop fires it), or once there
    /// is nothing left to watch. `idle` is read under `sched`, where those
    /// two clear it before they notify: a notification that the poll just
    /// spent (`sleep_in_poller` clears `notified` on its way out) came
    /// before this lock, so the flag reads false; a later one ends the
    /// next poll at once (`loom_timer_watch` models both).
    fn watch(&self, rt: &Runtime) {
        let shared = &self.shared;
        loop {
            self.sleep_in_poller(rt);
            let listed = {
                let _sched = rt.sched.lock();
                shared.idle.load(Ordering::SeqCst)
            };
            if !listed || shared.status.load(Ordering::SeqCst) != ACTIVE || rt.any_work() {
                return;
            }
            match timer::next(&rt.read_workers()) {
                Some(due) if due.is_zero() => return,
                None if !reactor::has_waiters() => return,
                _ => shared.stats.parks.bump(),
            }
        }
    }

    /// Blocks in the reactor until I/O, the next timer, or a wake-up.
    /// `in_poll` tells wakers to use the reactor's waker rather than the
    /// thread's park token; `notified` closes the window before the poll
    /// (see `WorkerShared::unpark`). If another thread holds the poller (a
    /// worker polling without blocking, or a previous watcher on its way
    /// out), this one must not queue for it — a wake-up would reach the
    /// holder, not us — so it parks until the next timer or for 1 ms, then looks again.
    fn sleep_in_poller(&self, rt: &Runtime) {
        let shared = &self.shared;
        // Publishes when this watcher wakes, so that arming an earlier
        // timer wakes it (`timer::watch`).
        let timeout = |cap: Option<Duration>| {
            let workers = rt.read_workers();
            let next = timer::next(&workers);
            let timeout = match (next, cap) {
                (Some(d), Some(c)) => Some(d.min(c)),
                (d, c) => d.or(c),
            };
            timer::watch(&workers, timeout)
        };
        match netpoll::try_poller() {
            Some(poller) => {
                shared.in_poll.store(true, Ordering::SeqCst);
                if !shared.notified.swap(false, Ordering::SeqCst) {
                    match timeout(None) {
                        Some(d) if d.is_zero() => {}
                        timeout => {
                            poller.poll(timeout);
                        }
                    }
                }
                shared.in_poll.store(false, Ordering::SeqCst);
            }
            None => {
                // The holder may be a worker polling without blocking, gone
                // a moment later: look again soon, or at the next timer.
                if !shared.notified.swap(false, Ordering::SeqCst) {
                    let retry = Duration::from_millis(1);
                    std::thread::park_timeout(timeout(Some(retry)).unwrap_or(retry));
                }
            }
        }
        shared.notified.store(false, Ordering::SeqCst);
    }

    /// Runs `g` for one turn: here, or, if it is bound to another thread,
    /// by lending that thread this worker's token.
    fn execute(&self, rt: &'static Runtime, g: GRef, inherit: bool) {
        let shared = &self.shared;
        shared.busy.store(true, Ordering::Relaxed);
        shared.ticks.store(
            shared.ticks.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        if !inherit {
            shared.slices.store(
                shared.slices.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
        match g.bound.load(Ordering::Acquire) {
            0 if trace::on() => self.execute_here_traced(rt, g, false),
            0 => self.execute_here::<false>(rt, g, false),
            bound => self.lend_token(rt, g, bound - 1),
        }
        shared.busy.store(false, Ordering::Relaxed);
    }

    /// Lends this worker's token to the thread `g` is bound to, and sleeps
    /// until it comes back: the bound thread's goroutine parked, yielded or
    /// ended, or sysmon paused that thread again (and requeued `g`). Only
    /// one of the two threads executes goroutine code at a time.
    fn lend_token(&self, rt: &Runtime, g: GRef, to: usize) {
        let target = rt.read_workers()[to].clone();
        // A paused thread (inside its goroutine, unlike a locked one that
        // waits in its run loop) runs on from where sysmon stopped it.
        if trace::on() && target.in_goroutine() {
            trace::resumed(g.id, to);
        }
        // The queue's reference: the bound thread holds its own.
        drop(g);
        let shared = &self.shared;
        shared.lent_to.store(to + 1, Ordering::SeqCst);
        shared.lend.lend();
        target.lender.store(shared.id + 1, Ordering::SeqCst);
        target.pause.resume();
        shared.lend.wait_returned();
        shared.lent_to.store(0, Ordering::SeqCst);
    }

    /// [`execute_here`](Self::execute_here) recording the turn in the
    /// running trace: a copy of its own, so that the untraced switch
    /// carries no trace code (two checks inside it cost 8 instructions
    /// per switch: callgrind, `examples/hotpath.rs gosched`).
    #[cold]
    #[inline(never)]
    fn execute_here_traced(&self, rt: &'static Runtime, g: GRef, locked: bool) {
        self.execute_here::<true>(rt, g, locked);
    }

    /// Resumes `g` on this thread until it gives the thread back, then acts
    /// on why. `locked`: `g` is locked to this thread; `TRACE`: record the
    /// turn. Inlined: it is the switch's hot path (measured: 21
    /// instructions of call overhead per switch otherwise).
    #[inline(always)]
    fn execute_here<const TRACE: bool>(&self, rt: &'static Runtime, g: GRef, locked: bool) {
        let shared = &self.shared;
        g.state.start_running();
        set_current_g(Arc::as_ptr(&g));
        if TRACE {
            trace::run(&g);
        }
        // SAFETY: this worker popped `g` from a queue (or runnext), or `g`
        // is locked to this thread and a lender handed it over; a goroutine
        // is in at most one queue at a time, so this thread has exclusive
        // access to its coroutine until it yields or returns.
        let co = unsafe { &mut *g.co.get() };
        shared
            .running
            .store(Arc::as_ptr(&g) as *mut _, Ordering::Relaxed);
        // The pause handler runs on this thread: it must see `running` set
        // before the switch and cleared after it, in program order.
        compiler_fence(Ordering::SeqCst);
        // The goroutine root catches every panic of the goroutine; one that
        // still escapes (a panicking destructor of a panic payload) would
        // unwind through this worker and silently lose it and its count.
        let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            co.as_mut()
                .expect("a queued goroutine has a coroutine")
                .resume(())
        }));
        compiler_fence(Ordering::SeqCst);
        shared
            .running
            .store(std::ptr::null_mut(), Ordering::Relaxed);
        // Who lent this turn's token, taken before `g` can be queued again
        // (a new lender stores itself here once it pops `g`). A plain load
        // first: the lender stored itself before waking this thread (a
        // happens-before edge), and most turns run on no lent token.
        let lender = match shared.lender.load(Ordering::Relaxed) {
            0 => 0,
            _ => shared.lender.swap(0, Ordering::SeqCst),
        };
        if shared.attention.load(Ordering::Relaxed) != 0
            && shared.status.load(Ordering::Relaxed) != ACTIVE
        {
            // A request meant for this turn: nobody else will take it.
            shared.attention.store(0, Ordering::Relaxed);
        }
        let Ok(result) = resumed else {
            crate::fatal::abort(format_args!(
                "fatal error: a panic escaped goroutine {}'s root; aborting\n",
                g.id
            ));
        };
        set_current_g(std::ptr::null());
        if !g.stack.canary_intact() {
            overflow::report_and_abort(&g);
        }
        if TRACE {
            let asked = shared.attention.load(Ordering::Relaxed);
            trace::end(&g, trace::stop_of(&g, &result, asked));
        }
        // A paused goroutine resumed here (sysmon bound it to this thread)
        // is free again; a locked one stays bound. Cleared before `g` can
        // be queued by anyone.
        if !locked {
            if g.bound.load(Ordering::Relaxed) != 0 {
                g.bound.store(0, Ordering::Release);
            }
        } else {
            // Ready for the next lend before `g` becomes visible to lenders.
            shared.pause.pause_self();
        }
        let bound_here = locked;
        match result {
            CoroutineResult::Yield(Yield::Park) => {
                if let Some(g) = finish_park(g) {
                    self.requeue_woken(g, bound_here);
                }
            }
            CoroutineResult::Yield(Yield::Gosched) => {
                // Queued as it is, RUNNING (or NOTIFIED): a wake meanwhile
                // leaves a token instead of queueing it again, and the
                // worker that resumes it needs no read-modify-write
                // (`State::start_running`), which keeps the yield cheap.
                if bound_here {
                    super::schedule_global(g);
                } else {
                    self.requeue_yielded(g);
                }
            }
            CoroutineResult::Yield(Yield::LockThread) => self.lock_here(rt, g),
            CoroutineResult::Yield(Yield::UnlockThread) => {
                self.locked.borrow_mut().take();
                shared.pause.resume_self();
                g.bound.store(0, Ordering::Release);
                g.state.yielded();
                super::schedule_global(g);
            }
            CoroutineResult::Return(()) => {
                let done = co.take().expect("a finished goroutine had a coroutine");
                stack::release(done.into_stack(), Some(&mut self.stacks.borrow_mut()));
                if locked {
                    // Go ends a thread whose goroutine exits locked to it,
                    // unless goro did the locking (an unwinding park).
                    self.locked.borrow_mut().take();
                    shared.pause.resume_self();
                    let ours = g.unwind_locked.load(Ordering::Relaxed)
                        && g.lock_count.load(Ordering::Relaxed) == 1;
                    self.exit.set(!ours);
                }
                g.retire();
                shared.stats.finished.bump();
            }
        }
        // Ran on a lent token: give it back.
        if lender != 0 {
            rt.read_workers()[lender - 1].lend.give_back();
        }
    }

    /// A goroutine that must run again at once (woken while switching out).
    fn requeue_woken(&self, g: GRef, bound_here: bool) {
        if bound_here || self.shared.status.load(Ordering::Relaxed) != ACTIVE {
            super::schedule_global(g);
        } else if let Some(old) = self.shared.put_runnext(g) {
            self.local.push(old);
        }
    }

    /// `g` called `lock_os_thread`: this thread becomes its own. An active
    /// worker hands its role (and queue) to another thread; then the run
    /// loop resumes `g` here at once. It never waits in a queue on the
    /// way, so its state stays RUNNING and a wake-up that arrives meanwhile
    /// stays a token (it may be locking inside `park`). Until it next
    /// blocks it runs without a token of its own; sysmon pauses it if it
    /// computes on (like any thread that came back from the kernel).
    ///
    /// A worker that `gomaxprocs` asked to retire while `g` ran (RETIRING:
    /// no longer counted active, but not a spare yet) retires here for
    /// good, as DETACHED: left RETIRING, a later raise of `gomaxprocs`
    /// would take the retirement back and count this thread, which runs
    /// nothing but `g` from now on, as an active worker, and whatever `g`
    /// spawned would wait in its `runnext`, where nobody runs it.
    fn lock_here(&self, rt: &'static Runtime, g: GRef) {
        let shared = &self.shared;
        // Whatever the thread limit: a locked thread must not stay an
        // active worker (the run loop takes it off duty by its status).
        super::sysmon::take_off_duty(rt, shared);
        let mut moved = false;
        while let Some(queued) = shared.take_runnext().or_else(|| self.local.pop()) {
            rt.injector.push(queued);
            moved = true;
        }
        if moved {
            rt.wakep();
        }
        g.bound.store(shared.id + 1, Ordering::Release);
        *self.locked.borrow_mut() = Some(g);
    }
}

impl Worker {
    /// A batch from the global queue, counted.
    fn take_global(&self, rt: &Runtime) -> Option<GRef> {
        let g = steal_global(rt, &self.local);
        if g.is_some() {
            self.shared.stats.global_pops.bump();
        }
        g
    }

    /// The longest-paused goroutine, counted.
    fn take_paused(&self, rt: &Runtime) -> Option<GRef> {
        let g = rt.take_paused();
        if g.is_some() {
            self.shared.stats.paused_pops.bump();
        }
        g
    }

    /// Queues a goroutine that called gosched behind every other runnable
    /// one. Go puts it on the global queue; when that queue is empty the
    /// back of this worker's FIFO queue is the same place in line (the
    /// worker only looks at the global queue once its own is empty) and
    /// costs a fraction of a global push and pop. A detached worker's
    /// queue is nobody's: then the global queue.
    fn requeue_yielded(&self, g: GRef) {
        if !super::rt().injector.is_empty() || self.shared.status.load(Ordering::Relaxed) != ACTIVE
        {
            super::schedule_global(g);
        } else {
            self.local.push(g);
        }
    }
}

fn steal_global(rt: &Runtime, dest: &crossbeam_deque::Worker<GRef>) -> Option<GRef> {
    loop {
        match rt.injector.steal_batch_and_pop(dest) {
            Steal::Success(g) => return Some(g),
            Steal::Retry => continue,
            Steal::Empty => return None,
        }
    }
}

/// Locks the calling goroutine to its current OS thread (Go's
/// `runtime.LockOSThread`): until as many [`unlock_os_thread`] calls, it
/// runs only on this thread, and no other goroutine runs here. The thread's
/// worker role passes to another thread; when the goroutine blocks, the
/// thread sleeps. It still counts against `gomaxprocs` only while it
/// executes. Calls nest (a count). On a plain thread it does nothing.
///
/// This is the tool for thread-affine code: thread-locals that must stay
/// put, a `std::sync::MutexGuard` held across a blocking call, GUI or
/// OpenGL contexts, per-thread kernel state (`setns`, signal masks). If the
/// goroutine ends while locked, the thread exits (as in Go), since the
/// goroutine may have left thread state behind.
///
/// ```
/// let same = goro::go!(|| {
///     goro::lock_os_thread();
///     let before = std::thread::current().id();
///     goro::time::sleep(std::time::Duration::from_millis(1));
///     let after = std::thread::current().id();
///     goro::unlock_os_thread();
///     before == after
/// });
/// assert!(same.join().unwrap());
/// ```
pub fn lock_os_thread() {
    let Some(g) = current_g() else { return };
    if g.lock_count.fetch_add(1, Ordering::Relaxed) == 0 {
        g.suspend(Yield::LockThread);
    }
}

/// Undoes one [`lock_os_thread`]; the last one frees the goroutine to run
/// on any worker again. Without a matching lock it does nothing (as in Go).
///
/// ```
/// goro::go!(|| {
///     goro::lock_os_thread();
///     goro::lock_os_thread();
///     goro::unlock_os_thread(); // still locked: one lock left
///     goro::unlock_os_thread(); // free again
/// })
/// .join()
/// .unwrap();
/// ```
pub fn unlock_os_thread() {
    let Some(g) = current_g() else { return };
    let depth = g.lock_count.load(Ordering::Relaxed);
    if depth == 0 {
        return;
    }
    g.lock_count.store(depth - 1, Ordering::Relaxed);
    if depth == 1 {
        g.suspend(Yield::UnlockThread);
    }
}
