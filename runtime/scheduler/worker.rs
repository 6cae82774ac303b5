//! The worker run loop: find a runnable goroutine, resume it, act on how it
//! gave the thread back; park when there is nothing to do.
//!
//! A worker's thread-owned state (`Worker`) is reachable from goroutine code
//! running on it through a thread-local read by a non-inlined accessor, so
//! a goroutine that migrates never uses a stale worker.

use corosensei::CoroutineResult;
use crossbeam_deque::Steal;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::{finish_park, Runtime, SeenRunnext, WorkerShared, ACTIVE, SPARE};
use crate::coroutine::stack::{self, Stack};
use crate::coroutine::{overflow, set_current_g, GRef, Yield};
use crate::reactor::{self, timer};

/// A worker's own state; lives on its thread's stack for the thread's life.
pub(crate) struct Worker {
    pub(crate) shared: Arc<WorkerShared>,
    pub(crate) local: crossbeam_deque::Worker<GRef>,
    stacks: RefCell<Vec<Stack>>,
    tick: Cell<u64>,
    spinning: Cell<bool>,
    seed: Cell<u64>,
    seen_runnext: Cell<Option<SeenRunnext>>,
}

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
    let shared = Arc::new(WorkerShared {
        id: workers.len(),
        stealer: local.stealer(),
        runnext: AtomicPtr::new(std::ptr::null_mut()),
        thread: OnceLock::new(),
        status: AtomicU8::new(ACTIVE),
        idle: AtomicBool::new(false),
        notified: AtomicBool::new(false),
        in_poll: AtomicBool::new(false),
        woken_spinning: AtomicBool::new(false),
        busy: AtomicBool::new(false),
        ticks: AtomicU64::new(0),
    });
    workers.push(shared.clone());
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
                tick: Cell::new(0),
                spinning: Cell::new(false),
                seen_runnext: Cell::new(None),
            };
            worker.run(rt)
        });
    if let Err(e) = spawned {
        // Without a thread the runtime cannot honour gomaxprocs; running
        // goroutines would silently stall instead, so fail loudly.
        panic!("goro: cannot start worker thread {id}: {e}");
    }
}

impl Worker {
    fn run(&self, rt: &'static Runtime) -> ! {
        let _ = self.shared.thread.set(std::thread::current());
        WORKER.with(|w| w.set(self));
        overflow::thread_init();
        loop {
            match self.shared.status.load(Ordering::SeqCst) {
                ACTIVE => {
                    if let Some(g) = self.find_runnable(rt) {
                        self.execute(g);
                    }
                }
                SPARE => std::thread::park(),
                _ => self.retire(rt),
            }
        }
    }

    /// Leaves the active set: work goes to the global queue, the thread
    /// waits as a spare.
    fn retire(&self, rt: &Runtime) {
        if self.spinning.replace(false) {
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
        if moved {
            rt.wakep();
        }
    }

    fn find_runnable(&self, rt: &Runtime) -> Option<GRef> {
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

    fn find_runnable_inner(&self, rt: &Runtime) -> Option<GRef> {
        loop {
            if self.shared.status.load(Ordering::Relaxed) != ACTIVE {
                return None;
            }
            let tick = self.tick.get().wrapping_add(1);
            self.tick.set(tick);
            if tick % 61 == 0 {
                timer::fire_expired();
                if let Some(g) = steal_global(rt, &self.local) {
                    return Some(g);
                }
            }
            if let Some(g) = self.shared.take_runnext() {
                return Some(g);
            }
            if let Some(g) = self.local.pop() {
                return Some(g);
            }
            if let Some(g) = steal_global(rt, &self.local) {
                return Some(g);
            }
            if timer::fire_expired() > 0 {
                continue;
            }
            if reactor::has_waiters() && reactor::poll_now() > 0 {
                continue;
            }
            if self.spinning.get() || self.start_spinning(rt) {
                if let Some(g) = self.spin_for_work(rt) {
                    return Some(g);
                }
            }
            self.idle(rt);
        }
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
        loop {
            if let Some(g) =
                rt.steal_from_others(self.shared.id, &self.local, &self.seed, &self.seen_runnext)
            {
                return Some(g);
            }
            if let Some(g) = steal_global(rt, &self.local) {
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
        let watch =
            sched.timer_watcher.is_none() && (timer::next().is_some() || reactor::has_waiters());
        if watch {
            sched.timer_watcher = Some(shared.id);
        }
        drop(sched);

        // Re-check after announcing ourselves idle: a producer that queued
        // work before seeing npidle > 0 did not wake anyone.
        if !rt.any_work() {
            if watch {
                self.sleep_in_poller();
            } else if !shared.notified.swap(false, Ordering::SeqCst) {
                std::thread::park();
            }
        }

        let mut sched = rt.sched.lock();
        let was_watcher = sched.timer_watcher == Some(shared.id);
        if shared.idle.load(Ordering::SeqCst) {
            // Timed out, spurious, or found work ourselves: still listed.
            rt.remove_idle(&mut sched, shared.id);
        } else if was_watcher {
            sched.timer_watcher = None;
        }
        drop(sched);
        if was_watcher && timer::next().is_some() {
            // We leave to run work: hand the timers to another idle worker
            // (a wake-up meant for the watcher may have been spent on us).
            rt.wake_idle_for_timers();
        }
        if shared.woken_spinning.swap(false, Ordering::SeqCst) {
            // wakep counted us spinning when it popped us.
            self.spinning.set(true);
        }
    }

    /// Blocks in the reactor until I/O, the next timer, or a wake-up.
    /// `in_poll` tells wakers to use the reactor's waker rather than the
    /// thread's park token; `notified` closes the window before the poll
    /// (see `WorkerShared::unpark`). If another thread holds the poller (a
    /// worker polling without blocking, or a previous watcher on its way
    /// out), this one must not queue for it — a wake-up would reach the
    /// holder, not us — so it parks until the next timer or for 1 ms, then looks again.
    fn sleep_in_poller(&self) {
        let shared = &self.shared;
        match reactor::try_poller() {
            Some(poller) => {
                shared.in_poll.store(true, Ordering::SeqCst);
                if !shared.notified.swap(false, Ordering::SeqCst) {
                    match timer::next() {
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
                    std::thread::park_timeout(timer::next().map_or(retry, |d| d.min(retry)));
                }
            }
        }
        shared.notified.store(false, Ordering::SeqCst);
    }

    fn execute(&self, g: GRef) {
        let shared = &self.shared;
        shared.busy.store(true, Ordering::Relaxed);
        shared.ticks.store(
            shared.ticks.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        g.state.start_running();
        set_current_g(Arc::as_ptr(&g));
        // SAFETY: this worker popped `g` from a queue (or runnext), and a
        // goroutine is in at most one queue at a time, so this thread has
        // exclusive access to its coroutine until it yields or returns.
        let co = unsafe { &mut *g.co.get() };
        // The goroutine root catches every panic of the goroutine; one that
        // still escapes (a panicking destructor of a panic payload) would
        // unwind through this worker and silently lose it and its count.
        let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            co.as_mut()
                .expect("a queued goroutine has a coroutine")
                .resume(())
        }));
        let Ok(result) = resumed else {
            eprintln!(
                "fatal error: a panic escaped goroutine {}'s root; aborting",
                g.id
            );
            std::process::abort();
        };
        set_current_g(std::ptr::null());
        if !g.stack.canary_intact() {
            overflow::report_and_abort(&g);
        }
        shared.busy.store(false, Ordering::Relaxed);
        match result {
            CoroutineResult::Yield(Yield::Park) => {
                if let Some(g) = finish_park(g) {
                    if let Some(old) = shared.put_runnext(g) {
                        self.local.push(old);
                    }
                }
            }
            CoroutineResult::Yield(Yield::Gosched) => {
                // RUNNING -> RUNNABLE; a pending token survives.
                g.state.yielded();
                self.requeue_yielded(g);
            }
            CoroutineResult::Return(()) => {
                let done = co.take().expect("a finished goroutine had a coroutine");
                stack::release(done.into_stack(), Some(&mut self.stacks.borrow_mut()));
                g.retire();
            }
        }
    }
}

impl Worker {
    /// Queues a goroutine that called gosched behind every other runnable
    /// one. Go puts it on the global queue; when that queue is empty the
    /// back of this worker's FIFO queue is the same place in line (the
    /// worker only looks at the global queue once its own is empty) and
    /// costs a fraction of a global push and pop.
    fn requeue_yielded(&self, g: GRef) {
        if !super::rt().injector.is_empty() {
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
