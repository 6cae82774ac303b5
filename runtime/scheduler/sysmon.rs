//! The monitor thread (Go's sysmon): hands off workers stuck in one
//! goroutine, wakes a worker for overdue timers nobody watches, returns
//! idle stack memory to the kernel, and reports a deadlock when nothing can
//! ever run again.
//!
//! It never runs goroutines and never blocks a worker: it only looks at
//! counters and, rarely, takes the scheduler lock.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Runtime, WorkerShared, ACTIVE, DETACHED};
use crate::coroutine::{dump, num_goroutine, stack};
use crate::reactor::{self, timer};

/// A worker running one goroutine this long, while work waits, is handed
/// off.
const STUCK_AFTER: Duration = Duration::from_millis(10);
/// Fastest and slowest look interval: fast while busy, backing off when
/// every worker is idle.
const MIN_DELAY: Duration = Duration::from_millis(2);
const MAX_DELAY: Duration = Duration::from_millis(50);
/// How often free goroutine stacks beyond the warm pool are trimmed.
const TRIM_EVERY: Duration = Duration::from_secs(1);
/// A suspected deadlock must stay unchanged this long to be reported.
const DEADLOCK_CONFIRM: Duration = Duration::from_millis(100);

pub(super) fn start(rt: &'static Runtime) {
    rt.own_threads.fetch_add(1, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("goro-sysmon".into())
        .stack_size(256 * 1024)
        .spawn(move || run(rt))
        .expect("goro: cannot start the monitor thread");
}

struct Seen {
    ticks: u64,
    since: Instant,
}

fn run(rt: &'static Runtime) -> ! {
    let mut seen: Vec<Seen> = Vec::new();
    let mut delay = MIN_DELAY;
    let mut suspect: Option<(u64, Instant)> = None;
    let mut last_trim = Instant::now();
    loop {
        std::thread::sleep(delay);
        let now = Instant::now();
        let workers: Vec<Arc<WorkerShared>> = rt.workers.read().clone();
        while seen.len() < workers.len() {
            seen.push(Seen {
                ticks: u64::MAX,
                since: now,
            });
        }
        let mut all_idle = true;
        for (w, s) in workers.iter().zip(seen.iter_mut()) {
            let ticks = w.ticks.load(Ordering::Relaxed);
            let busy = w.busy.load(Ordering::Relaxed);
            if busy {
                all_idle = false;
            }
            if ticks != s.ticks || !busy {
                s.ticks = ticks;
                s.since = now;
                continue;
            }
            let waiting = w.has_work() || !rt.injector.is_empty();
            if waiting && now - s.since >= STUCK_AFTER && w.status.load(Ordering::SeqCst) == ACTIVE
            {
                hand_off(rt, w);
                s.since = now;
            }
        }
        if now - last_trim >= TRIM_EVERY {
            stack::trim();
            last_trim = now;
        }
        // Busy workers do not poll: make sure I/O is seen within 10 ms.
        if reactor::has_waiters() && reactor::since_last_poll() >= STUCK_AFTER {
            reactor::poll_now();
        }
        if timer::next().is_some_and(|d| d.is_zero()) {
            rt.wake_idle_for_timers();
        }
        delay = if all_idle {
            (delay * 2).min(MAX_DELAY)
        } else {
            MIN_DELAY
        };

        if deadlocked(rt) {
            let activity = activity(rt, &workers);
            match suspect {
                Some((a, since)) if a == activity => {
                    if now - since >= DEADLOCK_CONFIRM {
                        crate::fatal::exit(format_args!(
                            "fatal error: all goroutines are asleep - deadlock!\n\n{}\n",
                            dump()
                        ));
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

/// Detaches a stuck worker and starts another in its place. The stuck
/// thread keeps running its goroutine; its queued work is taken by others.
fn hand_off(rt: &'static Runtime, w: &WorkerShared) {
    let mut sched = rt.sched.lock();
    if w.status.load(Ordering::SeqCst) != ACTIVE || !w.busy.load(Ordering::SeqCst) {
        return;
    }
    w.status.store(DETACHED, Ordering::SeqCst);
    sched.active -= 1;
    if let Some(g) = w.take_runnext() {
        rt.injector.push(g);
    }
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
    {
        let sched = rt.sched.lock();
        if sched.active == 0 || rt.npidle.load(Ordering::SeqCst) != sched.active {
            return false;
        }
    }
    if rt
        .workers
        .read()
        .iter()
        .any(|w| w.busy.load(Ordering::SeqCst))
        || rt.any_work()
        || timer::len() != 0
        || crate::blocking::in_flight() > 0
        || reactor::has_waiters()
    {
        return false;
    }
    let accounted =
        rt.own_threads.load(Ordering::SeqCst) + rt.external_blocked.load(Ordering::SeqCst);
    process_threads() == Some(accounted)
}

/// Threads in this process, from /proc/self/stat (field 20).
fn process_threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(17)?.parse().ok()
}
