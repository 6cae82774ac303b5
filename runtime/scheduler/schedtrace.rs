//! Go's scheduler trace: `GORO_DEBUG=schedtrace=MS` prints one line about
//! the scheduler to stderr every `MS` milliseconds, and
//! `GORO_DEBUG=schedtrace=MS,scheddetail=1` adds a line per worker, per
//! thread and per goroutine, in the shape of Go's `GODEBUG` of the same
//! names (`runtime/proc.go`, `schedtrace`).
//!
//! # The format
//!
//! ```text
//! SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=1 runqueue=0 [3 0]
//! ```
//!
//! - `SCHED 1004ms`: milliseconds since the runtime started;
//! - `gomaxprocs`: active workers (Go's Ps);
//! - `idleprocs`: active workers parked with nothing to do;
//! - `threads`: threads goro runs now (workers of every status, sysmon,
//!   the blocking pool's threads and this printer's);
//! - `spinningthreads`: workers looking for work to steal;
//! - `idlethreads`: spare worker threads, parked until `gomaxprocs` or a
//!   hand-off needs them;
//! - `runqueue`: goroutines in the global queue;
//! - `[3 0]`: each active worker's local queue (its `runnext` included),
//!   `gomaxprocs` numbers.
//!
//! With `scheddetail=1` the bracket is left out, the first line goes on
//! with `pausedqueue=` (goroutines sysmon paused, waiting for their turn),
//! `preemptions=` (time slices sysmon asked to end), `pauses=` (threads it
//! paused) and `handoffs=` (workers handed off while stuck), and below it
//! come:
//!
//! ```text
//!   P0: status=running schedtick=48213 runqsize=3 timers=2 m=0
//!   M2: p=nil status=detached tid=81723 curg=17 lockedg=17
//!   G17: status=running() m=2 lockedm=2
//!   G18: status=blocked(chan receive) m=nil lockedm=nil
//! ```
//!
//! one `P` line per active worker (`status` is `idle`, `running`,
//! `lending` (its token, to the thread of a paused or locked goroutine) or
//! `scheduling` (between goroutines); `schedtick` counts the goroutines it
//! ran; `timers` those armed in its heap; `m` its thread), one `M` line
//! per worker thread (`p=nil` unless it is active; `status` also `paused`
//! (sysmon stopped it inside its goroutine, which waits for its turn),
//! `retiring`, `detached` (handed off, or locked to a goroutine), `spare`
//! or `exited`; `curg` the goroutine it executes, paused or not;
//! `lockedg` the goroutine locked to it), and one `G` line per live
//! goroutine (its state, and while blocked the wait reason; the thread
//! executing it; the thread it is locked to). A paused goroutine reads
//! `running`: it is inside its turn, on its stopped thread. goro's
//! worker is both Go's P and its M, so `P0` and `M0` are the same slot.
//! Go prints the P and G statuses as numbers; goro prints the words
//! `dump()` uses.
//!
//! The numbers are read one by one while the scheduler runs, as in Go:
//! they need not add up within a report.
//!
//! # Where it runs
//!
//! On a thread of its own (`goro-schedtrace`), started with the runtime
//! when `GORO_DEBUG` asks for it: never on sysmon, which must not take the
//! goroutine registry's locks (a paused thread may hold one), nor on a
//! worker. Each report is formatted first and written with one call
//! through `fatal::eprint`, so reports do not interleave with each other
//! and a closed stderr ends nothing. Other `GORO_DEBUG` keys are left for
//! whoever reads them.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::rt;
use super::stats::{self, SchedSnapshot};
use crate::coroutine::for_each_live;

/// What `GORO_DEBUG` asked for.
#[derive(Debug, PartialEq)]
struct Asked {
    every: Duration,
    detail: bool,
}

/// Parses `GORO_DEBUG` (`key=value` pairs separated by commas). A
/// `schedtrace` value that is not a positive number of milliseconds is
/// reported on stderr and ignored, as is `scheddetail` without
/// `schedtrace` (Go needs both too).
fn parse(value: &str) -> Result<Option<Asked>, String> {
    let mut every = None;
    let mut detail = false;
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "schedtrace" => match val.parse::<u64>() {
                Ok(0) => every = None,
                Ok(ms) => every = Some(Duration::from_millis(ms)),
                Err(_) => {
                    return Err(format!(
                        "GORO_DEBUG: schedtrace wants milliseconds, got {val:?}"
                    ))
                }
            },
            "scheddetail" => detail = val != "0",
            _ => {}
        }
    }
    Ok(every.map(|every| Asked { every, detail }))
}

/// Starts the printer if `GORO_DEBUG` asks for it (called once, when the
/// runtime starts).
pub(super) fn start_if_asked() {
    let Ok(value) = std::env::var("GORO_DEBUG") else {
        return;
    };
    let asked = match parse(&value) {
        Ok(Some(asked)) => asked,
        Ok(None) => return,
        Err(e) => {
            crate::fatal::eprint(format_args!("goro: {e}; no schedtrace\n"));
            return;
        }
    };
    let rt = rt();
    // A thread of goro's own: deadlock detection accounts for it.
    rt.own_threads.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new()
        .name("goro-schedtrace".into())
        .stack_size(256 * 1024)
        .spawn(move || run(asked));
    if let Err(e) = spawned {
        rt.own_threads.fetch_sub(1, Ordering::SeqCst);
        crate::fatal::eprint(format_args!("goro: cannot start schedtrace: {e}\n"));
    }
}

/// Prints a report at 0 ms and every `asked.every` after, on a fixed
/// schedule (a slow report does not shift the later ones).
fn run(asked: Asked) -> ! {
    let started = rt().started;
    let mut next = started;
    loop {
        let now = std::time::Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
        let report = report(&stats::snapshot(), asked.detail);
        crate::fatal::eprint(format_args!("{report}"));
        next += asked.every;
        // Fell behind (the machine was stopped): skip what was missed.
        let now = std::time::Instant::now();
        while next + asked.every <= now {
            next += asked.every;
        }
    }
}

/// One report: the `SCHED` line, and with `detail` the P, M and G lines.
fn report(s: &SchedSnapshot, detail: bool) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={}",
        s.since_start.as_millis(),
        s.gomaxprocs,
        s.idle_workers,
        s.threads,
        s.spinning_workers,
        s.spare_threads,
        s.global_queue,
    );
    if !detail {
        out.push_str(" [");
        for (i, w) in s.active.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{}", w.queue_depth);
        }
        out.push_str("]\n");
        return out;
    }
    let _ = writeln!(
        out,
        " pausedqueue={} preemptions={} pauses={} handoffs={}",
        s.paused_queue, s.preempt_requests, s.pauses, s.handoffs
    );
    for w in &s.active {
        let _ = writeln!(
            out,
            "  P{}: status={} schedtick={} runqsize={} timers={} m={}",
            w.id, w.status, w.ticks, w.queue_depth, w.timers, w.id
        );
    }
    // Who runs what, and who is locked where, from one walk of the
    // registry (every goroutine the threads execute is live in it).
    let mut running: Vec<(usize, u64)> = Vec::new();
    let mut locked: Vec<(usize, u64)> = Vec::new();
    let mut gs = String::new();
    let threads: Vec<(usize, usize)> = s
        .active
        .iter()
        .chain(&s.off_duty)
        .map(|w| (w.running, w.id))
        .collect();
    for_each_live(|g| {
        let addr = g as *const _ as usize;
        let m = threads
            .iter()
            .find(|&&(r, _)| r == addr && r != 0)
            .map(|&(_, id)| id);
        if let Some(m) = m {
            running.push((m, g.id));
        }
        let lockedm = match g.lock_count.load(Ordering::Relaxed) {
            0 => None,
            _ => g.bound.load(Ordering::Relaxed).checked_sub(1),
        };
        if let Some(t) = lockedm {
            locked.push((t, g.id));
        }
        // A queued goroutine still carries the reason it last waited for.
        let state = g.state_name();
        let reason = match state {
            "blocked" => g.wait_reason().map(|r| r.to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        let _ = writeln!(
            gs,
            "  G{}: status={}({}) m={} lockedm={}",
            g.id,
            state,
            reason,
            or_nil(m),
            or_nil(lockedm)
        );
    });
    let mut slots: Vec<_> = s.active.iter().chain(&s.off_duty).collect();
    slots.sort_by_key(|w| w.id);
    for w in slots {
        let p = match s.active.iter().any(|a| a.id == w.id) {
            true => Some(w.id),
            false => None,
        };
        let curg = running.iter().find(|(m, _)| *m == w.id).map(|&(_, g)| g);
        let lockedg = locked.iter().find(|(m, _)| *m == w.id).map(|&(_, g)| g);
        let _ = writeln!(
            out,
            "  M{}: p={} status={} tid={} curg={} lockedg={}",
            w.id,
            or_nil(p),
            w.status,
            w.tid,
            or_nil(curg),
            or_nil(lockedg)
        );
    }
    out.push_str(&gs);
    out
}

/// `n`, or Go's `nil`.
fn or_nil<T: std::fmt::Display>(n: Option<T>) -> String {
    n.map_or_else(|| "nil".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_settings() {
        let ms = Duration::from_millis;
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("other=1"), Ok(None));
        assert_eq!(parse("scheddetail=1"), Ok(None));
        assert_eq!(parse("schedtrace=0"), Ok(None));
        assert_eq!(
            parse("schedtrace=1000"),
            Ok(Some(Asked {
                every: ms(1000),
                detail: false
            }))
        );
        assert_eq!(
            parse("x=2, schedtrace=50,scheddetail=1"),
            Ok(Some(Asked {
                every: ms(50),
                detail: true
            }))
        );
        assert!(parse("schedtrace=soon").is_err());
    }
}
