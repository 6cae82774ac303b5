//! M and P: worker threads that run goroutines, and how work finds them.
//!
//! # Design (Go's G-M-P, in Rust)
//!
//! Each *worker* is an OS thread (an M) holding a processor's worth of state
//! (a P): a crossbeam-deque local queue, a `runnext` slot, and a cache of
//! goroutine stacks. Goroutines made runnable by a worker go to its
//! `runnext` (so a woken peer runs next: channel ping-pong stays on one
//! core and in cache) or local queue; goroutines made runnable from outside
//! any worker, and every `gosched`, go to the global `Injector`.
//!
//! A worker looks for work in this order (`worker.rs`): every 61st tick the
//! global queue first (fairness), then `runnext`, the local queue, the
//! global queue, expired timers, then stealing half of a random victim's
//! queue, then it parks. At most half of the busy workers spin looking for
//! work; a worker that finds work while spinning wakes another spinner
//! if it was the last one, and new work wakes one idle worker only if no
//! worker is spinning (`wakep`): no lost work, no thundering herd.
//!
//! The number of *active* workers is `gomaxprocs`. Lowering it retires
//! workers at their next scheduling point (their queues go to the global
//! queue, they park as spares); raising it wakes spares or starts threads.
//! The monitor thread (`sysmon.rs`) detaches a worker stuck in one goroutine
//! for over 10 ms while work waits (Go's hand-off), and starts a replacement;
//! the stuck thread becomes a spare when its goroutine finally yields.
//!
//! Idle workers park on their thread's park token. One of them (the timer
//! watcher) sleeps in the poller only until the next timer is due.
//!
//! This module never touches channels, locks or sockets: it only moves
//! goroutines between queues and wakes threads. Below it are only the
//! goroutine object (`coroutine/`) and the mio poller (`reactor/`), whose
//! polls hand back the waiters to unpark (`netpoll.rs`); what lives above
//! it and must be seen by sysmon pushes its counts down here
//! (`count_own_thread`, `count_outside_job`) rather than being asked.

pub(crate) mod deadlock;
mod netpoll;
mod park;
mod pause;
mod preempt;
mod schedtrace;
pub(crate) mod stats;
mod sysmon;
pub(crate) mod timer;
mod timer_heap;
pub(crate) mod trace;
mod worker;

pub(crate) use netpoll::reactor;
pub(crate) use park::{
    finish_park, gosched, park, park_at, park_until, park_until_at, park_until_future, unparker,
    Unparker,
};
pub(crate) use preempt::{coop, NoPreempt};
pub(crate) use worker::{current_worker, with_stack_cache};
pub use worker::{lock_os_thread, unlock_os_thread};

use crossbeam_deque::{Injector, Steal, Stealer};
use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use self::preempt::{Handled, LendWord, PauseWord};
use self::timer::TimerShard;
use crate::coroutine::{GRef, G};

/// Most workers `gomaxprocs` accepts (Go allows 1024 too).
pub(crate) const MAX_PROCS: usize = 1024;

// Worker status (`WorkerShared::status`), changed under `Runtime::sched`.
const ACTIVE: u8 = 0;
/// Asked to retire by `gomaxprocs`: no longer counted active.
const RETIRING: u8 = 1;
/// Handed off by sysmon while stuck: no longer counted active.
const DETACHED: u8 = 2;
/// Parked, holding no work, until `gomaxprocs` or sysmon needs it.
const SPARE: u8 = 3;
/// Its thread has exited (its goroutine ended locked to it).
const EXITED: u8 = 4;

// Bits of `WorkerShared::attention`.
/// End the current time slice.
const PREEMPT: u8 = 1;
/// A timer is overdue: fire timers.
const TIMERS: u8 = 2;

/// What other threads may touch of a worker.
pub(crate) struct WorkerShared {
    pub(crate) id: usize,
    stealer: Stealer<GRef>,
    /// The goroutine to run next (an `Arc<G>` from `into_raw`, or null).
    /// Taken only by its own worker, or by sysmon when the worker is stuck.
    runnext: AtomicPtr<G>,
    thread: OnceLock<std::thread::Thread>,
    status: AtomicU8,
    /// In the idle list (changed under `sched`).
    idle: AtomicBool,
    /// Taken off the idle list by `wakep`, which counted it spinning.
    woken_spinning: AtomicBool,
    /// A wake-up is pending (see `unpark`).
    notified: AtomicBool,
    /// Blocked in the reactor's poll rather than on its park token.
    in_poll: AtomicBool,
    /// Executing a goroutine right now, or lending its token to a thread
    /// that does.
    pub(crate) busy: AtomicBool,
    /// Goroutines executed so far (every switch): sysmon compares it
    /// between looks to tell a thread stuck in one goroutine.
    pub(crate) ticks: AtomicU64,
    /// Time slices begun so far: like `ticks`, but a goroutine taken from
    /// `runnext` inherits the slice of the one that woke it (Go's
    /// `inheritTime`), so a ping-pong pair is one slice.
    pub(crate) slices: AtomicU64,
    /// What sysmon asks of this worker at its next scheduling point:
    /// [`PREEMPT`] (end the slice; every goro call yields meanwhile, see
    /// [`coop`]) and [`TIMERS`] (fire overdue timers). One word, so the
    /// find-work loop pays one load for both.
    attention: AtomicU8,
    /// The thread's kernel id, for sysmon's signal and CPU clock.
    tid: AtomicI32,
    /// The goroutine this thread is inside (between resume and its
    /// return; a borrowed `Arc::as_ptr`, the thread holds the reference),
    /// or null: the only place the pause handler may stop the thread.
    running: AtomicPtr<G>,
    /// Whether and where this thread waits to be lent a token.
    pause: PauseWord,
    /// While this worker lends its token: the borrower's id + 1.
    lent_to: AtomicUsize,
    /// The lender waits on this until its token comes back.
    lend: LendWord,
    /// The timers this worker arms and fires (its slot's, kept when a new
    /// thread reuses the slot).
    timers: &'static TimerShard,
    /// While this thread runs on a lent token: the lender's id + 1.
    lender: AtomicUsize,
    /// The slot's counters (`stats.rs`), kept like `timers` on reuse.
    pub(crate) stats: &'static stats::WorkerStats,
}

impl WorkerShared {
    fn take_runnext(&self) -> Option<GRef> {
        // A plain load first: most looks find it empty, and a swap is a
        // locked instruction.
        if self.runnext.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let ptr = self.runnext.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: non-null values in `runnext` come from `Arc::into_raw` in
        // `put_runnext`, and the swap gives this caller sole ownership.
        (!ptr.is_null()).then(|| unsafe { Arc::from_raw(ptr) })
    }

    /// Stores `g` as runnext, returning the goroutine it displaced.
    fn put_runnext(&self, g: GRef) -> Option<GRef> {
        let old = self
            .runnext
            .swap(Arc::into_raw(g) as *mut G, Ordering::AcqRel);
        // SAFETY: as in `take_runnext`.
        (!old.is_null()).then(|| unsafe { Arc::from_raw(old) })
    }

    /// Whether this thread is inside a goroutine now.
    #[inline]
    fn in_goroutine(&self) -> bool {
        !self.running.load(Ordering::Relaxed).is_null()
    }

    fn has_work(&self) -> bool {
        !self.stealer.is_empty() || !self.runnext.load(Ordering::Acquire).is_null()
    }

    /// The pause handler's half (on this worker's own thread): pause if
    /// sysmon asked, the thread is inside a goroutine and `unlocked` (it
    /// holds none of the scheduler's locks). Returns whether a request of
    /// sysmon's was pending.
    pub(crate) fn answer_pause(&self, unlocked: bool) -> bool {
        let inside = self.in_goroutine();
        self.pause.answer_and_wait(inside && unlocked) != Handled::NotOurs
    }

    /// Wakes the worker wherever it sleeps. Dekker-style with `in_poll`:
    /// we set `notified` then read `in_poll`; the worker sets `in_poll` then
    /// reads `notified` (all SeqCst), so either we see it polling and kick
    /// the poller, or it sees the notification and does not poll.
    fn unpark(&self) {
        self.notified.store(true, Ordering::SeqCst);
        if self.in_poll.load(Ordering::SeqCst) {
            netpoll::wake_poller();
        } else if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

struct Sched {
    idle: Vec<Arc<WorkerShared>>,
    spares: Vec<Arc<WorkerShared>>,
    /// Workers with status ACTIVE.
    active: usize,
    /// The idle worker that sleeps until the next timer, if any.
    timer_watcher: Option<usize>,
}

pub(crate) struct Runtime {
    injector: Injector<GRef>,
    /// Goroutines sysmon paused mid-slice, bound to their threads: they go
    /// behind everything freshly runnable (woken, spawned, yielded), so a
    /// goroutine that used a whole slice waits for those that did not, and
    /// take turns among themselves in FIFO order.
    paused: Injector<GRef>,
    workers: RwLock<Vec<Arc<WorkerShared>>>,
    sched: Mutex<Sched>,
    /// Idle workers (mirrors `sched.idle.len()`, read without the lock).
    npidle: AtomicUsize,
    /// Workers looking for work without having found any yet.
    nmspinning: AtomicUsize,
    maxprocs: AtomicUsize,
    /// Threads goro started (workers and sysmon), for deadlock detection.
    own_threads: AtomicUsize,
    /// Plain threads blocked in `park` with no deadline.
    external_blocked: AtomicUsize,
    /// Jobs handed to threads outside the scheduler that may still wake a
    /// goroutine (the blocking pool's, queued or running), counted by
    /// whoever runs them (`count_outside_job`): while any is in flight,
    /// sysmon reports no deadlock.
    outside_jobs: AtomicUsize,
    /// Plain-thread wake-ups so far: activity sysmon can see.
    external_wakes: AtomicU64,
    /// When the runtime started (schedtrace's and the metrics' clock).
    started: Instant,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime, started on first use.
#[inline]
pub(crate) fn rt() -> &'static Runtime {
    match RUNTIME.get() {
        Some(rt) => rt,
        None => start(),
    }
}

#[cold]
fn start() -> &'static Runtime {
    let mut started = false;
    let rt = RUNTIME.get_or_init(|| {
        started = true;
        Runtime {
            injector: Injector::new(),
            paused: Injector::new(),
            workers: RwLock::new(Vec::new()),
            sched: Mutex::new(Sched {
                idle: Vec::new(),
                spares: Vec::new(),
                active: 0,
                timer_watcher: None,
            }),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(0),
            maxprocs: AtomicUsize::new(default_procs()),
            own_threads: AtomicUsize::new(0),
            external_blocked: AtomicUsize::new(0),
            outside_jobs: AtomicUsize::new(0),
            external_wakes: AtomicU64::new(0),
            started: Instant::now(),
        }
    });
    if started {
        trace::begin_from_env();
        crate::coroutine::overflow::install();
        preempt::install();
        crate::install_panic_hook();
        let mut sched = rt.lock_sched();
        for _ in 0..rt.maxprocs.load(Ordering::Relaxed) {
            rt.activate_one(&mut sched);
        }
        drop(sched);
        sysmon::start(rt);
        schedtrace::start_if_asked();
    }
    rt
}

fn default_procs() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(num_cpu)
        .min(MAX_PROCS)
}

/// Number of CPUs this process may run on (its affinity mask).
///
/// ```
/// let n = goro::num_cpu();
/// assert!(n >= 1);
/// ```
pub fn num_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Queues a runnable goroutine: on the current worker (as `runnext` when
/// `next`), else on the global queue; wakes an idle worker if useful.
pub(crate) fn schedule(g: GRef, next: bool) {
    let rt = rt();
    // A worker sysmon detached (its goroutine is stuck in a syscall or a
    // long loop) must not keep new work in its runnext, which nobody
    // steals: it goes to the global queue instead.
    match current_worker().filter(|w| w.shared.status.load(Ordering::Relaxed) == ACTIVE) {
        Some(w) => {
            if next {
                if let Some(old) = w.shared.put_runnext(g) {
                    w.local.push(old);
                }
            } else {
                w.local.push(g);
            }
        }
        None => push_global(rt, g),
    }
    rt.wakep();
}

/// Queues a goroutine on the global queue (gosched, hand-offs).
pub(crate) fn schedule_global(g: GRef) {
    let rt = rt();
    push_global(rt, g);
    rt.wakep();
}

/// Pushes onto the global queue, not to be paused meanwhile. A push first
/// reserves a slot and then fills it, and every stealer that reaches the
/// slot spins (yielding its thread) until it is filled: a goroutine paused
/// in between (a long `close` waking a million receivers from a worker
/// sysmon had detached) left every worker spinning in `steal` and none to
/// resume it, a hang seen at 1,000,000 parked goroutines.
fn push_global(rt: &Runtime, g: GRef) {
    let _no_preempt = NoPreempt::enter();
    rt.injector.push(g);
}

/// A timer was armed earlier than the timer watcher wakes, or while nobody
/// watches: the watcher re-arms, or an idle worker becomes the watcher.
pub(crate) fn timers_changed() {
    let rt = rt();
    let sched = rt.lock_sched();
    match sched.timer_watcher {
        Some(id) => rt.read_workers()[id].unpark(),
        None => {
            drop(sched);
            rt.wake_idle_for_timers();
        }
    }
}

/// A plain (non-goroutine) thread is about to park on I/O readiness: if no
/// idle worker watches the poller, wake one to become the watcher. A
/// goroutine's wait needs no such call (its worker, running dry, watches
/// the poller itself); without it a thread's wait was only seen when
/// sysmon polled (10 to 50 ms later).
pub(crate) fn watch_io() {
    rt().wake_idle_for_timers();
}

/// Parks a plain (non-goroutine) thread, counted for deadlock detection.
pub(crate) fn external_park(deadline: Option<Instant>) {
    let rt = rt();
    match deadline {
        Some(d) => std::thread::park_timeout(d.saturating_duration_since(Instant::now())),
        None => {
            rt.external_blocked.fetch_add(1, Ordering::SeqCst);
            std::thread::park();
            rt.external_blocked.fetch_sub(1, Ordering::SeqCst);
        }
    }
    rt.external_wakes.fetch_add(1, Ordering::Relaxed);
}

/// Sets the number of workers running goroutines and returns the previous
/// value; `n == 0` only reads it.
///
/// ```
/// let now = goro::gomaxprocs(0); // read only
/// assert!(now >= 1);
/// let before = goro::gomaxprocs(2);
/// assert_eq!(goro::gomaxprocs(0), 2);
/// goro::gomaxprocs(before); // put it back
/// ```
pub fn gomaxprocs(n: usize) -> usize {
    let rt = rt();
    let mut sched = rt.lock_sched();
    let prev = rt.maxprocs.load(Ordering::SeqCst);
    if n == 0 || n == prev {
        return prev;
    }
    let n = n.min(MAX_PROCS);
    rt.maxprocs.store(n, Ordering::SeqCst);
    while sched.active < n {
        rt.activate_one(&mut sched);
    }
    if sched.active > n {
        let workers = rt.read_workers();
        // Retire idle workers first, then the newest busy ones.
        let mut excess = sched.active - n;
        for pass in 0..2 {
            for w in workers.iter().rev() {
                if excess == 0 {
                    break;
                }
                let idle = w.idle.load(Ordering::Relaxed);
                if w.status.load(Ordering::Relaxed) != ACTIVE || (pass == 0 && !idle) {
                    continue;
                }
                w.status.store(RETIRING, Ordering::SeqCst);
                sched.active -= 1;
                excess -= 1;
                if idle {
                    rt.remove_idle(&mut sched, w.id);
                }
                w.unpark();
            }
        }
    }
    prev
}

/// A scheduler lock held together with [`NoPreempt`]: the guard drops
/// first, then preemption is allowed again.
pub(crate) struct Held<L> {
    guard: L,
    _no_preempt: NoPreempt,
}

impl<L: Deref> Deref for Held<L> {
    type Target = L::Target;
    fn deref(&self) -> &L::Target {
        &self.guard
    }
}

impl<L: DerefMut> DerefMut for Held<L> {
    fn deref_mut(&mut self) -> &mut L::Target {
        &mut self.guard
    }
}

impl Runtime {
    /// Locks `sched`; the thread cannot be paused while it holds it.
    fn lock_sched(&self) -> Held<MutexGuard<'_, Sched>> {
        let no_preempt = NoPreempt::enter();
        Held {
            guard: self.sched.lock(),
            _no_preempt: no_preempt,
        }
    }

    /// Reads the worker list; the thread cannot be paused meanwhile (a
    /// writer queued behind a paused reader would block every reader).
    fn read_workers(&self) -> Held<RwLockReadGuard<'_, Vec<Arc<WorkerShared>>>> {
        let no_preempt = NoPreempt::enter();
        Held {
            guard: self.workers.read(),
            _no_preempt: no_preempt,
        }
    }

    /// Wakes one idle worker to spin for work, unless one already spins or
    /// none is idle (Go's wakep).
    #[inline]
    pub(crate) fn wakep(&self) {
        if self.npidle.load(Ordering::SeqCst) == 0 || self.nmspinning.load(Ordering::SeqCst) != 0 {
            return;
        }
        self.wakep_slow();
    }

    #[cold]
    fn wakep_slow(&self) {
        if self
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let mut sched = self.lock_sched();
        match sched.idle.pop() {
            Some(w) => {
                w.idle.store(false, Ordering::SeqCst);
                w.woken_spinning.store(true, Ordering::SeqCst);
                self.npidle.fetch_sub(1, Ordering::SeqCst);
                if sched.timer_watcher == Some(w.id) {
                    sched.timer_watcher = None;
                    timer::unwatch();
                }
                drop(sched);
                w.unpark();
            }
            None => {
                self.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Timers are due or changed but no worker watches them: wake one idle
    /// worker (it becomes the watcher when it goes idle again).
    fn wake_idle_for_timers(&self) {
        let mut sched = self.lock_sched();
        if sched.timer_watcher.is_some() {
            return;
        }
        if let Some(w) = sched.idle.pop() {
            w.idle.store(false, Ordering::SeqCst);
            self.npidle.fetch_sub(1, Ordering::SeqCst);
            drop(sched);
            w.unpark();
        }
    }

    fn remove_idle(&self, sched: &mut Sched, id: usize) {
        if let Some(pos) = sched.idle.iter().position(|w| w.id == id) {
            let w = sched.idle.swap_remove(pos);
            w.idle.store(false, Ordering::SeqCst);
            self.npidle.fetch_sub(1, Ordering::SeqCst);
        }
        if sched.timer_watcher == Some(id) {
            sched.timer_watcher = None;
            timer::unwatch();
        }
    }

    /// Makes one more worker active: a spare if there is one, else a new
    /// thread.
    fn activate_one(&'static self, sched: &mut Sched) {
        sched.active += 1;
        // A worker asked to retire that has not yet done so just stays.
        let workers = self.read_workers();
        let retiring = workers
            .iter()
            .find(|w| w.status.load(Ordering::SeqCst) == RETIRING);
        if let Some(w) = retiring {
            w.status.store(ACTIVE, Ordering::SeqCst);
            return;
        }
        drop(workers);
        if let Some(w) = sched.spares.pop() {
            // A worker joining fires overdue timers before anything else: it
            // often replaces one stuck in a goroutine that kept them from
            // firing.
            w.attention.fetch_or(TIMERS, Ordering::Relaxed);
            w.status.store(ACTIVE, Ordering::SeqCst);
            w.unpark();
            return;
        }
        worker::spawn_worker(self);
    }

    /// Steals a batch from any worker but `me` into `dest`, returning one:
    /// one pass over the victims from a random start.
    ///
    /// A busy victim's `runnext` is taken too, but only once it has sat
    /// there for [`RUNNEXT_GRACE`] (`seen` remembers what this thief saw
    /// and when): a goroutine woken into runnext usually runs within
    /// nanoseconds, when the waker parks (channel ping-pong must stay on one
    /// core), but must not wait for a waker that computes for milliseconds.
    fn steal_from_others(
        &self,
        me: usize,
        dest: &crossbeam_deque::Worker<GRef>,
        seed: &Cell<u64>,
        seen: &Cell<Option<SeenRunnext>>,
    ) -> Option<GRef> {
        let workers = self.read_workers();
        let n = workers.len();
        if n <= 1 {
            return None;
        }
        let start = next_random(seed) as usize % n;
        for i in 0..n {
            let victim = &workers[(start + i) % n];
            if victim.id == me {
                continue;
            }
            loop {
                match victim.stealer.steal_batch_and_pop(dest) {
                    Steal::Success(g) => {
                        if trace::on() {
                            trace::stole(trace::Victim::Queue(victim.id), dest.len() + 1);
                        }
                        return Some(g);
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
            let waiting = victim.runnext.load(Ordering::Acquire);
            if waiting.is_null() || !victim.busy.load(Ordering::Relaxed) {
                continue;
            }
            // The victim's switch count tells "sat there since" from "ran
            // and came back": a ping-pong pair puts the same two goroutines
            // in runnext over and over, and taking one of them splits the
            // pair across cores.
            let ticks = victim.ticks.load(Ordering::Relaxed);
            match seen.get() {
                Some(s) if s.worker == victim.id && s.g == waiting as usize && s.ticks == ticks => {
                    if s.since.elapsed() >= RUNNEXT_GRACE {
                        seen.set(None);
                        if victim
                            .runnext
                            .compare_exchange(
                                waiting,
                                ptr::null_mut(),
                                Ordering::AcqRel,
                                Ordering::Acquire,
                            )
                            .is_ok()
                        {
                            // SAFETY: non-null runnext values come from
                            // `Arc::into_raw` in `put_runnext`; the
                            // successful compare-exchange made us its sole
                            // owner (as a swap does in `take_runnext`).
                            let g = unsafe { Arc::from_raw(waiting) };
                            if trace::on() {
                                trace::stole(trace::Victim::Runnext(victim.id), 1);
                            }
                            return Some(g);
                        }
                    }
                }
                _ => seen.set(Some(SeenRunnext {
                    worker: victim.id,
                    g: waiting as usize,
                    ticks,
                    since: Instant::now(),
                })),
            }
        }
        None
    }

    fn any_work(&self) -> bool {
        !self.injector.is_empty()
            || !self.paused.is_empty()
            || self.read_workers().iter().any(|w| w.has_work())
    }

    /// The longest-paused goroutine, if any.
    fn take_paused(&self) -> Option<GRef> {
        loop {
            match self.paused.steal() {
                Steal::Success(g) => return Some(g),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }
}

/// How long a goroutine may sit in a busy worker's runnext before a
/// spinning worker takes it (Go waits about 3 µs too).
const RUNNEXT_GRACE: std::time::Duration = std::time::Duration::from_micros(3);

/// A runnext a spinning worker saw, and since when.
#[derive(Clone, Copy)]
pub(crate) struct SeenRunnext {
    worker: usize,
    g: usize,
    /// The victim's `ticks` then.
    ticks: u64,
    since: Instant,
}

/// xorshift64*: cheap randomness for victim selection.
pub(crate) fn next_random(seed: &Cell<u64>) -> u64 {
    let mut x = seed.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    seed.set(x);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Counts a thread goro started outside the scheduler (the blocking pool)
/// in (`delta` > 0) or out of `own_threads`, for deadlock detection.
pub(crate) fn count_own_thread(delta: isize) {
    count(&rt().own_threads, delta);
}

/// Counts a job given to a thread outside the scheduler (the blocking
/// pool) in (`delta` > 0, when submitted) or out (when it has woken its
/// goroutine) of `outside_jobs`, for deadlock detection: the pool tells
/// the scheduler, so sysmon never calls up into it.
pub(crate) fn count_outside_job(delta: isize) {
    count(&rt().outside_jobs, delta);
}

fn count(counter: &AtomicUsize, delta: isize) {
    if delta >= 0 {
        counter.fetch_add(delta.unsigned_abs(), Ordering::SeqCst);
    } else {
        counter.fetch_sub(delta.unsigned_abs(), Ordering::SeqCst);
    }
}
