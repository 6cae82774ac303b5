//! Model checks (loom) of the park/unpark token on a goroutine's state
//! word, `runtime/coroutine/state.rs`, compiled here as it is in the crate.
//!
//! Workers, wakers and the goroutine's body are loom threads and plain
//! functions that call the state word's transitions where goro's worker
//! (`execute`), `park` and `Unparker::unpark` call them. The goroutine waits
//! the way every primitive does: under the primitive's lock it checks its
//! condition and registers, then parks, and re-checks after every return.
//! Checked in every interleaving loom explores:
//! * a wake is never lost: the goroutine finishes exactly once;
//! * a goroutine is queued at most once at a time (`queue` asserts it);
//! * it is never resumed while still switching out: the coroutine is a loom
//!   `UnsafeCell` written on switch-out and on resume, so two accesses not
//!   ordered by happens-before fail the model.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_park`
//! (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

#[path = "../runtime/coroutine/state.rs"]
#[allow(dead_code)] // `name` is for dump()
mod state;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

use state::State;

/// Where the goroutine's body is; lives in its coroutine.
#[derive(Clone, Copy)]
enum Step {
    /// Not run yet; yields once first if `gosched`.
    Start,
    /// Waits for the condition.
    Waiting,
    /// Returned.
    Done,
}

/// Why the body gave its worker back.
enum Yield {
    Park,
    Gosched,
    Return,
}

/// The waited-for condition and the registered unparker, both under the
/// primitive's lock (a channel's, a wait queue's).
#[derive(Default)]
struct Wait {
    ready: bool,
    registered: bool,
}

struct G {
    state: State,
    coroutine: UnsafeCell<Step>,
    gosched: bool,
    wait: Mutex<Wait>,
    /// The condition as a bare flag instead (`blocking`'s `done`): set
    /// with Release, read with Acquire, no lock; the waker always unparks.
    flag: Option<AtomicBool>,
    /// In a run queue right now (instrumentation: Relaxed, so it orders
    /// nothing the protocol must order itself).
    queued: AtomicBool,
    finished: AtomicUsize,
}

impl G {
    fn new(gosched: bool, flag: bool) -> Arc<G> {
        Arc::new(G {
            state: State::new(),
            coroutine: UnsafeCell::new(Step::Start),
            gosched,
            wait: Mutex::new(Wait::default()),
            flag: flag.then(|| AtomicBool::new(false)),
            queued: AtomicBool::new(false),
            finished: AtomicUsize::new(0),
        })
    }

    /// Puts it in a run queue (the caller pops and runs it next).
    fn queue(&self) {
        assert!(
            !self.queued.swap(true, Ordering::Relaxed),
            "a goroutine queued twice"
        );
    }

    /// Runs the body from where it was until it yields: resume reads the
    /// coroutine, the switch-out writes it.
    fn resume(&self) -> Yield {
        let mut step = self.coroutine.with(|c| unsafe { *c });
        let why = loop {
            match step {
                Step::Start if self.gosched => {
                    step = Step::Waiting;
                    break Yield::Gosched;
                }
                Step::Start | Step::Waiting if self.flag.is_some() => {
                    if self.flag.as_ref().unwrap().load(Ordering::Acquire) {
                        step = Step::Done;
                        break Yield::Return;
                    }
                    if self.state.take_token() {
                        step = Step::Waiting;
                        continue;
                    }
                    step = Step::Waiting;
                    break Yield::Park;
                }
                Step::Start | Step::Waiting => {
                    let mut wait = self.wait.lock().unwrap();
                    if wait.ready {
                        step = Step::Done;
                        break Yield::Return;
                    }
                    wait.registered = true;
                    drop(wait);
                    // park(): a pending token returns at once.
                    if self.state.take_token() {
                        step = Step::Waiting;
                        continue;
                    }
                    step = Step::Waiting;
                    break Yield::Park;
                }
                Step::Done => unreachable!("a finished goroutine resumed"),
            }
        };
        // SAFETY (model): loom checks this access is exclusive.
        self.coroutine.with_mut(|c| unsafe { *c = step });
        why
    }
}

/// A worker's `execute` for a goroutine it popped, and what it does with
/// the goroutine afterwards (runnext and the local queue: it runs it
/// again itself).
fn execute(g: &G) {
    loop {
        assert!(g.queued.swap(false, Ordering::Relaxed), "ran unqueued");
        g.state.start_running();
        match g.resume() {
            Yield::Park => {
                if !g.state.finish_park() {
                    return;
                }
            }
            // Queued as it is, RUNNING (goro's worker does the same).
            Yield::Gosched => {}
            Yield::Return => {
                g.state.retire();
                g.finished.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        g.queue();
    }
}

/// `Unparker::unpark`: wakes it, and a woken goroutine goes to this
/// thread's runnext and runs here.
fn unpark(g: &G) {
    if g.state.wake() {
        g.queue();
        execute(g);
    }
}

/// One goroutine waiting for a condition that a waker sets (if `waker`);
/// `gosched`: it yields once first; `stale`: another thread calls unpark
/// with a stale unparker (a timer of an earlier park that fires late).
fn model(gosched: bool, waker: bool, stale: bool) {
    model_with(gosched, waker, stale, false)
}

/// [`model`]; `flag`: the condition is a bare atomic flag (see `G::flag`).
fn model_with(gosched: bool, waker: bool, stale: bool, flag: bool) {
    loom::model(move || {
        let g = G::new(gosched, flag);
        g.queue(); // spawn
        let worker = {
            let g = g.clone();
            thread::spawn(move || execute(&g))
        };
        let wakes = usize::from(waker);
        let waker = waker.then(|| {
            let g = g.clone();
            thread::spawn(move || {
                if let Some(flag) = &g.flag {
                    flag.store(true, Ordering::Release);
                    unpark(&g);
                    return;
                }
                let mut wait = g.wait.lock().unwrap();
                wait.ready = true;
                let registered = std::mem::take(&mut wait.registered);
                drop(wait);
                if registered {
                    unpark(&g);
                }
            })
        });
        let stale = stale.then(|| {
            let g = g.clone();
            thread::spawn(move || unpark(&g))
        });
        worker.join().unwrap();
        for t in waker.into_iter().chain(stale) {
            t.join().unwrap();
        }
        let finished = g.finished.load(Ordering::Relaxed);
        assert_eq!(finished, wakes, "a wake was lost");
    });
}

#[test]
fn wake_racing_with_park_is_not_lost() {
    model(false, true, false);
}

#[test]
fn stale_wake_never_queues_twice() {
    model(false, true, true);
}

/// A stale wake racing with the gosched requeue, and the waker proper
/// after the goroutine registered. The requeue leaves the state word
/// RUNNING (no plain store to race with the wakes' compare-exchanges: an
/// earlier version stored RUNNABLE, and loom then reported a lost wake it
/// could not tell from a real one, tokio-rs/loom#282).
#[test]
fn gosched_racing_with_stale_wake_queues_once() {
    model(true, false, true);
    model(true, true, true);
}

/// The condition is a bare flag, and a stale wake (an earlier park's late
/// timer or job) may have made the goroutine runnable when the real wake
/// comes: the real waker must still leave something the goroutine
/// synchronizes with when it runs, or the flag it set may be unseen and
/// the goroutine park for good. (Found by the contention bench: a loop of
/// `blocking(|| ())` hung; `wake` on RUNNABLE was a plain load.)
#[test]
fn stale_wake_then_flag_wake_is_not_lost() {
    model_with(false, true, true, true);
}
