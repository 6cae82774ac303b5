//! The monitor thread (Go's sysmon): ends time slices, pauses goroutines
//! that ignore that, hands off workers blocked in the kernel, makes overdue
//! timers count as waiting work, returns idle stack memory to the kernel,
//! and reports a deadlock when nothing can ever run again.
//!
//! Every [`LOOK`] while any worker is busy (backing off to [`MAX_DELAY`]
//! when all are idle) it looks at each thread executing goroutine code:
//!
//! - **Slice over.** The worker holding its token has been in one time
//!   slice for [`SLICE`] while work waits (queued goroutines, a paused
//!   thread's turn, an overdue timer): sysmon sets the worker's `preempt`
//!   flag. The worker ends the slice at its next scheduling point (a
//!   ping-pong pair in `runnext` stops inheriting it), and every goro call
//!   yields while it is set (`preempt::coop`). If at the next look the
//!   thread is still inside the same goroutine, and its CPU clock advanced
//!   (it computes), sysmon **pauses** it (`preempt.rs`): the goroutine goes
//!   to the global queue bound to its thread, and a replacement worker
//!   takes the token if the paused thread was an active worker.
//! - **Blocked in the kernel.** A worker inside one goroutine for
//!   [`BLOCKED_AFTER`] whose thread's CPU clock did not advance, while work
//!   waits, is handed off at once: its queue and token go to another
//!   thread, as Go retakes a P from a syscall.
//! - **No token.** A thread that computes without a token (its worker was
//!   handed off while it was in the kernel, and it came back) is paused at
//!   the first look that sees it.
//!
//! It never runs goroutines, never allocates in a look once warm, and only
//! takes the scheduler's own locks, which no paused thread holds.

use crossbeam_deque::Steal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::preempt::{self, Answer};
use super::stats::SYSMON;
use super::{deadlock, netpoll, trace};
use super::{timer, Runtime, WorkerShared, ACTIVE, DETACHED, PREEMPT, RETIRING, TIMERS};
use crate::coroutine::{num_goroutine, stack, GRef, G};
use crate::reactor;

/// A time slice: how long a goroutine (or a runnext chain) may run while
/// others wait (Go's forcePreemptNS).
const SLICE: Duration = Duration::from_millis(10);
/// The slice while freshly runnable goroutines wait (Go uses 10 ms for
/// both; 2 ms keeps an I/O-bound goroutine's wait beside a hog short).
const SLICE_WHEN_FRESH: Duration = Duration::from_millis(2);
/// Looks (of [`LOOK`]) a thread may decline pausing in a row before its
/// worker is handed off instead: code that lives in a shared library
/// (a plugin's loop) is never paused, but must not stall the others.
const DECLINES_BEFORE_HAND_OFF: u32 = 20;
/// CPU time a goroutine asked to yield gets to reach a goro call before
/// sysmon pauses it: far more than any goro call's distance in a loop that
/// makes them, and small beside a slice.
const GRACE_CPU: Duration = Duration::from_micros(200);
/// A worker inside one goroutine this long without using CPU is blocked in
/// the kernel and is handed off when work waits.
const BLOCKED_AFTER: Duration = Duration::from_millis(1);
/// The look interval while any worker is busy.
const LOOK: Duration = Duration::from_micros(500);
/// The slowest look interval, when every worker is idle.
const MAX_DELAY: Duration = Duration::from_millis(50);
/// How long sysmon waits for a paused thread's handler to answer.
const PAUSE_ANSWER: Duration = Duration::from_millis(2);
/// How often free goroutine stacks beyond the warm pool are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(1);
/// Go's words for a deadlock.
const DEADLOCK: &str = "fatal error: all goroutines are asleep - deadlock!";
/// A suspected deadlock must stay unchanged this long to be reported.
const DEADLOCK_CONFIRM: Duration = Duration::from_millis(100);
/// Most threads goro starts for workers (Go's default limit is 10,000);
/// past it, blocked workers are no longer handed off.
pub(super) const MAX_THREADS: usize = 10_000;

pub(super) fn start(rt: &'static Runtime) {
    rt.own_threads.fetch_add(1, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("goro-sysmon".into())
        .stack_size(256 * 1024)
        .spawn(move || run(rt))
        .expect("goro: cannot start the monitor thread");
}

/// What sysmon remembers of one worker between looks.
struct Seen {
    /// The `WorkerShared` it describes (slots are reused when threads exit).
    worker: usize,
    ticks: u64,
    /// When `ticks` last changed.
    switched: Instant,
    slices: u64,
    /// When `slices` last changed.
    sliced: Instant,
    /// When sysmon set `PREEMPT` for the current slice, if it did, and the
    /// executing thread's CPU clock then.
    asked: Option<(Instant, Duration)>,
    /// Pause requests the handler declined in a row this slice.
    declined: u32,
    /// Whether the thread was runnable at the last look (inside a goroutine).
    runnable: Option<bool>,
    /// `Some(true)`: the thread computes (runnable now); `Some(false)`: it
    /// waits in the kernel (blocked at this look and the last); `None`: not
    /// known yet.
    computing: Option<bool>,
}

impl Seen {
    fn new(w: &Arc<WorkerShared>, now: Instant) -> Seen {
        Seen {
            worker: Arc::as_ptr(w) as usize,
            ticks: u64::MAX,
            switched: now,
            slices: u64::MAX,
            sliced: now,
            asked: None,
            declined: 0,
            runnable: None,
            computing: None,
        }
    }
}

fn run(rt: &'static Runtime) -> ! {
    let mut seen: Vec<Seen> = Vec::new();
    let mut workers: Vec<Arc<WorkerShared>> = Vec::new();
    let mut delay = LOOK;
    let mut suspect: Option<(u64, Instant)> = None;
    let mut last_trim = Instant::now();
    loop {
        std::thread::sleep(delay);
        let now = Instant::now();
        workers.clear();
        workers.extend(rt.read_workers().iter().cloned());
        seen.truncate(workers.len());
        for (i, w) in workers.iter().enumerate() {
            if i == seen.len() {
                seen.push(Seen::new(w, now));
            } else if seen[i].worker != Arc::as_ptr(w) as usize {
                seen[i] = Seen::new(w, now);
            }
        }
        let timers_overdue = timer::next(&workers).is_some_and(|d| d.is_zero());
        if timers_overdue {
            // Busy workers fire them at their next scheduling point.
            for w in workers.iter().filter(|w| w.busy.load(Ordering::Relaxed)) {
                w.attention.fetch_or(TIMERS, Ordering::Relaxed);
            }
        }
        let mut all_idle = true;
        let mut paused = false;
        // Every clock first: a lender's rules look at its borrower's.
        let mut asked = false;
        for (w, s) in workers.iter().zip(seen.iter_mut()) {
            asked |= w.attention.load(Ordering::Relaxed) & PREEMPT != 0;
            look_at_thread_state(w, s);
            paused |= w.pause.is_paused();
            all_idle &= !w.busy.load(Ordering::Relaxed);
        }
        if !asked {
            // Every request was honoured: goro calls skip the check again.
            preempt::ANY_ASKED.store(false, Ordering::Relaxed);
        }
        for i in 0..workers.len() {
            look_at(rt, &workers, i, &mut seen, now, timers_overdue);
        }
        if !paused && now - last_trim >= TRIM_EVERY {
            // Trimming takes the stack pool's lock, which a paused
            // goroutine may hold: only when nobody is paused.
            stack::trim();
            last_trim = now;
        }
        // Busy workers do not poll: make sure I/O is seen within 1 ms.
        if reactor::has_waiters() && netpoll::since_last_poll() >= BLOCKED_AFTER {
            netpoll::poll_now();
        }
        if timers_overdue {
            rt.wake_idle_for_timers();
        }
        // Backstop for a lost wake-up: work is queued, a worker is idle and
        // nobody spins for it. `tests/gomaxprocs_shrink.rs` still strands a
        // goroutine this way now and then (a race between `wakep` and
        // workers retiring that is not found yet): with this it waits for
        // one look instead of forever.
        if rt.npidle.load(Ordering::SeqCst) > 0
            && rt.nmspinning.load(Ordering::SeqCst) == 0
            && rt.any_work()
        {
            rt.wakep();
        }
        delay = if all_idle {
            (delay * 2).min(MAX_DELAY)
        } else {
            LOOK
        };

        if deadlocked(rt) {
            let activity = activity(rt, &workers);
            match suspect {
                Some((a, since)) if a == activity => {
                    if now - since >= DEADLOCK_CONFIRM {
                        let told_tests = deadlock::report_to_tests(|| deadlock::report(DEADLOCK));
                        if !told_tests {
                            crate::fatal::exit(format_args!("{}\n", deadlock::report(DEADLOCK)));
                        }
                        suspect = None;
                    }
                }
                _ => suspect = Some((activity, now)),
            }
            delay = delay.min(DEADLOCK_CONFIRM / 2);
        } else {
            suspect = None;
        }
    }
}

/// Reads whether a thread that has stayed inside one goroutine since the
/// last look computes (runnable) or waits in the kernel; a wait counts only
/// if the previous look saw one too. A thread that switched goroutines
/// since is neither stuck nor a hog: no `/proc` read for it (a busy server
/// switches between every look).
fn look_at_thread_state(w: &WorkerShared, s: &mut Seen) {
    let switched = w.ticks.load(Ordering::Relaxed) != s.ticks;
    if switched || !w.in_goroutine() || w.pause.is_paused() {
        s.runnable = None;
        s.computing = None;
        return;
    }
    let runnable = preempt::runnable(w.tid.load(Ordering::Relaxed));
    s.computing = match (s.runnable, runnable) {
        (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    };
    s.runnable = runnable;
}

/// Applies the rules of the module docs to worker `i`.
fn look_at(
    rt: &'static Runtime,
    workers: &[Arc<WorkerShared>],
    i: usize,
    seen: &mut [Seen],
    now: Instant,
    timers_overdue: bool,
) {
    let w = &workers[i];
    let status = w.status.load(Ordering::SeqCst);
    let ticks = w.ticks.load(Ordering::Relaxed);
    let slices = w.slices.load(Ordering::Relaxed);
    let busy = w.busy.load(Ordering::Relaxed);
    let s = &mut seen[i];
    if ticks != s.ticks || !busy {
        s.ticks = ticks;
        s.switched = now;
    }
    if slices != s.slices || !busy {
        s.slices = slices;
        s.sliced = now;
        s.asked = None;
        s.declined = 0;
    }
    // A thread computing on no token: its worker (or the worker that lent
    // it a token) was handed off while it waited in the kernel.
    // (Ids sysmon's snapshot does not have yet: workers started since;
    // look again next time.)
    let holder = match w.lender.load(Ordering::SeqCst) {
        0 => w,
        n => match workers.get(n - 1) {
            Some(lender) => lender,
            None => return,
        },
    };
    if s.computing == Some(true) && holder.status.load(Ordering::SeqCst) != ACTIVE {
        pause(rt, w);
        return;
    }
    if status != ACTIVE || !busy {
        return;
    }
    // The thread executing on this worker's token.
    let lent_to = w.lent_to.load(Ordering::SeqCst);
    let (exec, exec_seen) = match lent_to {
        0 => (w, i),
        n => match workers.get(n - 1) {
            Some(borrower) => (borrower, n - 1),
            None => return,
        },
    };
    let computing = seen[exec_seen].computing;
    let s = &mut seen[i];
    // Overdue timers wait for this worker only if no idle worker can fire
    // them.
    let timers_waiting = timers_overdue && rt.npidle.load(Ordering::Relaxed) == 0;
    let fresh = timers_waiting || w.has_work() || !rt.injector.is_empty();
    let waiting = timers_waiting || fresh || !rt.paused.is_empty();
    if !waiting {
        return;
    }
    if now - s.switched >= BLOCKED_AFTER && computing == Some(false) {
        // In the kernel (or paused on a lock another thread holds).
        hand_off_stuck(rt, w);
        s.switched = now;
        return;
    }
    // Freshly runnable goroutines (woken by I/O, spawned, yielded) wait:
    // a shorter slice keeps their latency down beside CPU hogs.
    let slice = if fresh { SLICE_WHEN_FRESH } else { SLICE };
    if now - s.sliced < slice {
        return;
    }
    let cpu = || preempt::thread_cpu_time(exec.tid.load(Ordering::Relaxed)).unwrap_or_default();
    match s.asked {
        None => {
            w.attention.fetch_or(PREEMPT, Ordering::Relaxed);
            exec.attention.fetch_or(PREEMPT, Ordering::Relaxed);
            preempt::ANY_ASKED.store(true, Ordering::Relaxed);
            s.asked = Some((now, cpu()));
            SYSMON.preempt_requests.bump();
        }
        // Asked at an earlier look, and no scheduling point since, though
        // the thread has had CPU time to reach one (on a loaded machine a
        // look may pass while it waits for a CPU): the goroutine calls no
        // goro function. Pause it; with pausing off (or if it will not
        // pause), hand its worker off instead.
        Some((at, cpu_then)) if s.switched <= at && cpu().saturating_sub(cpu_then) >= GRACE_CPU => {
            let paused = computing == Some(true) && pause(rt, exec);
            if paused {
                s.declined = 0;
            } else if computing == Some(true)
                && preempt::enabled()
                && s.declined < DECLINES_BEFORE_HAND_OFF
            {
                // The handler declined (the thread was in a shared library
                // or held a scheduler lock): try again at the next look.
                s.declined += 1;
                return;
            } else {
                s.declined = 0;
                hand_off_stuck(rt, w);
            }
            s.asked = None;
            s.sliced = now;
        }
        Some(_) => {}
    }
}

/// Pauses thread `t` inside its goroutine and queues that goroutine bound
/// to it; its lender (if any) gets its token back, and an active worker
/// is replaced. Gives up if the handler declines or does not answer (the
/// thread left the goroutine, holds a scheduler lock, or blocks signals).
fn pause(rt: &'static Runtime, t: &WorkerShared) -> bool {
    if !preempt::enabled() || !t.in_goroutine() || !t.pause.request() {
        return false;
    }
    if !preempt::signal(t.tid.load(Ordering::Relaxed)) {
        t.pause.withdraw();
        return false;
    }
    let asked = Instant::now();
    loop {
        match t.pause.answer() {
            Answer::Paused => break,
            Answer::Declined => return false,
            Answer::Pending if asked.elapsed() < PAUSE_ANSWER => std::thread::yield_now(),
            // No answer: take the request back, unless it is answered now.
            Answer::Pending => match t.pause.withdraw() {
                true => return false,
                false => match t.pause.answer() {
                    Answer::Paused => break,
                    _ => return false,
                },
            },
        }
    }
    // `t` waits in its handler, inside the goroutine it runs: nothing on
    // `t` can change `running` or `lender` until someone resumes it.
    let running = t.running.load(Ordering::Relaxed);
    // SAFETY: `running` is the `Arc::as_ptr` of the GRef that `t`'s
    // `execute_here` holds for the whole turn, and `t` is stopped inside
    // that turn, so the count is at least one; we take a reference of our
    // own for the queue.
    let g: GRef = unsafe {
        Arc::increment_strong_count(running as *const G);
        Arc::from_raw(running as *const G)
    };
    g.bound.store(t.id + 1, Ordering::Release);
    if trace::on() {
        trace::paused(g.id, t.id);
    }
    let lender = t.lender.swap(0, Ordering::SeqCst);
    rt.paused.push(g);
    SYSMON.pauses.bump();
    if lender != 0 {
        // The live list: the lender may be newer than sysmon's snapshot.
        rt.read_workers()[lender - 1].lend.give_back();
    } else {
        // Its token goes to another thread. (A retiring worker must be
        // detached too: `gomaxprocs` could otherwise take the retirement
        // back and count a paused thread as the active worker, which
        // then lends nobody anything: the stress test stalled so.)
        take_off_duty(rt, t);
    }
    rt.wakep();
    true
}

/// Makes sure `w` is no longer an active worker: an active one is handed
/// off, a retiring one detached (under `sched`, where `gomaxprocs` may take
/// a retirement back), anything else is left as it is. Either way its
/// queue goes to the global queue.
///
/// A retiring worker empties its own queue when it gets back to its run
/// loop, but a paused (or locked) one may never get back there: a
/// retiring worker had stolen a batch of hogs from the global queue, was
/// paused in the first one, and the rest of the batch waited in its local
/// queue, where no worker of a `gomaxprocs(1)` runtime ever looks, for as
/// long as the test ran (`tests/gomaxprocs_shrink.rs` keeps the race).
pub(super) fn take_off_duty(rt: &'static Runtime, w: &WorkerShared) {
    loop {
        match w.status.load(Ordering::SeqCst) {
            ACTIVE => hand_off(rt, w),
            RETIRING => {
                let sched = rt.lock_sched();
                if w.status.load(Ordering::SeqCst) == RETIRING {
                    w.status.store(DETACHED, Ordering::SeqCst);
                    let moved = queue_to_global(rt, w);
                    drop(sched);
                    if moved {
                        rt.wakep();
                    }
                }
            }
            _ => return,
        }
    }
}

/// Moves everything queued on `w` (its runnext and local queue) to the
/// global queue; returns whether there was anything. Safe beside `w`'s own
/// thread: runnext is taken by a swap, the local queue through its stealer.
fn queue_to_global(rt: &Runtime, w: &WorkerShared) -> bool {
    let mut moved = false;
    if let Some(g) = w.take_runnext() {
        rt.injector.push(g);
        moved = true;
    }
    loop {
        match w.stealer.steal() {
            Steal::Success(g) => {
                rt.injector.push(g);
                moved = true;
            }
            Steal::Retry => continue,
            Steal::Empty => return moved,
        }
    }
}

/// [`hand_off`] while the thread limit allows: a worker blocked in the
/// kernel or computing is handed off; past [`MAX_THREADS`] it keeps its
/// queue (and others wait, as in Go past its limit).
fn hand_off_stuck(rt: &'static Runtime, w: &WorkerShared) {
    if rt.own_threads.load(Ordering::Relaxed) < MAX_THREADS {
        hand_off(rt, w);
        SYSMON.handoffs.bump();
    }
}

/// Detaches a worker stuck inside one goroutine and activates another in
/// its place. The stuck thread keeps running (or waiting in the kernel);
/// its queued work is taken by others.
pub(super) fn hand_off(rt: &'static Runtime, w: &WorkerShared) {
    let mut sched = rt.lock_sched();
    if w.status.load(Ordering::SeqCst) != ACTIVE || !w.busy.load(Ordering::SeqCst) {
        return;
    }
    w.status.store(DETACHED, Ordering::SeqCst);
    sched.active -= 1;
    if trace::on() {
        trace::handed_off(w.id);
    }
    // Its queue goes with its role (Go hands the P, run queue and all, to
    // another M): only spinning workers would steal from a detached one.
    queue_to_global(rt, w);
    rt.activate_one(&mut sched);
    drop(sched);
    rt.wakep();
}

/// Every sign of progress, summed: unchanged means nothing ran.
fn activity(rt: &Runtime, workers: &[Arc<WorkerShared>]) -> u64 {
    workers
        .iter()
        .map(|w| w.ticks.load(Ordering::Relaxed))
        .sum::<u64>()
        + rt.external_wakes.load(Ordering::Relaxed)
}

/// Go's checkdead: goroutines exist, every worker is idle, nothing is queued,
/// no timer is armed, and every thread of the process is either goro's own
/// or a plain thread blocked in goro's park — so nothing can wake anyone.
fn deadlocked(rt: &Runtime) -> bool {
    if num_goroutine() == 0 || rt.nmspinning.load(Ordering::SeqCst) != 0 {
        return false;
    }
    if rt
        .read_workers()
        .iter()
        .any(|w| w.busy.load(Ordering::SeqCst))
    {
        return false;
    }
    {
        let sched = rt.lock_sched();
        if sched.active == 0 || rt.npidle.load(Ordering::SeqCst) != sched.active {
            return false;
        }
    }
    if rt.any_work()
        || timer::len(&rt.read_workers()) != 0
        || rt.outside_jobs.load(Ordering::SeqCst) > 0
        || reactor::has_waiters()
    {
        return false;
    }
    let accounted = rt.own_threads.load(Ordering::SeqCst)
        + rt.external_blocked.load(Ordering::SeqCst)
        + deadlock::harness_threads();
    process_threads() == Some(accounted)
}

/// Threads in this process, from /proc/self/stat (field 20).
fn process_threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(17)?.parse().ok()
}
