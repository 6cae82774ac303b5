//! Model checks (loom) of the preemption pause protocol: the pause word
//! and the lend word of `runtime/scheduler/pause.rs`, compiled here as
//! they are in the crate.
//!
//! sysmon, the paused thread and idle workers (lenders) are loom threads
//! that do what `sysmon.rs` `pause()`, `worker.rs` `execute_here` and
//! `lend_token`, and the handler (`on_signal` -> `answer_pause`) do, with
//! the same orderings on the same fields. loom cannot interrupt a thread,
//! so sysmon's `tgkill` sets the thread's pending-signal flag, and the
//! thread runs the handler at its *signal points*: inside the goroutine
//! (the handler may accept), after it left (`in_goroutine` is false: it
//! declines), after a locked thread's `pause_self`, and before the thread
//! exits (a pending signal is always delivered). A signal that comes while
//! the thread sleeps in `wait_resumed` finds WAITING or PAUSED (a request
//! needs RUNNING), and the handler returns at once, so the model leaves it
//! out. sysmon polls the answer once, then withdraws (its 2 ms of polling
//! are one poll or many: the withdraw and its second look are the same).
//! The run queue is a loom mutex: idle workers sleep on it until the
//! goroutine is queued or finished.
//!
//! Checked in every interleaving loom explores:
//! * a request is answered exactly once: sysmon takes it for a pause only
//!   when the handler paused the thread inside its goroutine (`running` is
//!   set), and every pause the handler makes is one sysmon saw (never both
//!   paused and withdrawn or declined);
//! * a paused or waiting thread is resumed once per wait, by the lender
//!   that popped its goroutine (its id is in the thread's `lender`);
//! * a lender's token always comes back, exactly once per lend, and no
//!   thread waits forever (loom reports a deadlock otherwise: under loom
//!   the futex is a mutex and a condvar, see `pause.rs`);
//! * the goroutine is queued once per pause (and once per yield of a locked
//!   goroutine), never twice at a time, and it finishes exactly once.
//!
//! Two regressions run the model with the bugs found on 2026-12-01 put
//! back, and expect it to fail: sysmon reading the answer with two loads,
//! and a locked thread's `pause_self` storing PAUSED over a request.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_preempt` (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

#[path = "../runtime/scheduler/pause.rs"]
mod pause;

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

use pause::{Answer, Handled, LendWord, PauseWord};

/// `running` while the thread executes the goroutine (the runtime stores
/// the goroutine's pointer; null outside).
const G: usize = 1;

/// The protocol as the runtime calls it, or with an old bug put back.
#[derive(Clone, Copy)]
struct Variant {
    answer: fn(&PauseWord) -> Answer,
    pause_self: fn(&PauseWord),
}

const FIXED: Variant = Variant {
    answer: PauseWord::answer,
    pause_self: PauseWord::pause_self,
};

/// What a worker thread shares (`WorkerShared`'s fields the protocol uses).
struct Worker {
    id: usize,
    pause: PauseWord,
    lend: LendWord,
    /// While it runs on a lent token: the lender's id + 1 (SeqCst).
    lender: AtomicUsize,
    /// Inside the goroutine (Relaxed: read by its own handler, and by
    /// sysmon as a hint).
    in_goroutine: AtomicBool,
    /// The goroutine it executes, while inside (Relaxed, as the runtime's).
    running: AtomicUsize,
    /// A pause signal is pending (the model's `tgkill`).
    signal: AtomicBool,
    // Instrumentation (Relaxed: orders nothing the protocol must order).
    /// In its handler right now.
    in_handler: AtomicBool,
    /// Pauses its handler made (it waited and was resumed).
    paused: AtomicUsize,
    /// Waits it came out of (paused in the handler, or locked and waiting).
    resumed: AtomicUsize,
    /// Times it lent its token.
    lends: AtomicUsize,
    /// Times its token was given back.
    returns: AtomicUsize,
}

impl Worker {
    /// `inside`: executing the goroutine already.
    fn new(id: usize, inside: bool) -> Worker {
        Worker {
            id,
            pause: PauseWord::new(),
            lend: LendWord::new(),
            lender: AtomicUsize::new(0),
            in_goroutine: AtomicBool::new(inside),
            running: AtomicUsize::new(if inside { G } else { 0 }),
            signal: AtomicBool::new(false),
            in_handler: AtomicBool::new(false),
            paused: AtomicUsize::new(0),
            resumed: AtomicUsize::new(0),
            lends: AtomicUsize::new(0),
            returns: AtomicUsize::new(0),
        }
    }
}

/// The global run queue, holding at most the one goroutine.
#[derive(Default)]
struct Queue {
    queued: bool,
    finished: bool,
    /// Times it was queued.
    pushes: usize,
}

struct Rt {
    /// `workers[0]` is the thread the goroutine runs on; the rest are idle
    /// workers that lend their token.
    workers: Vec<Worker>,
    /// The goroutine's `bound`: the thread's id + 1 while it is bound.
    bound: AtomicUsize,
    /// The id + 1 of the worker that popped it last (instrumentation).
    popped_by: AtomicUsize,
    queue: Mutex<Queue>,
    queue_changed: Condvar,
    /// Pauses sysmon saw accepted.
    sysmon_paused: AtomicUsize,
    finished: AtomicUsize,
    variant: Variant,
}

impl Rt {
    /// `inside`: the goroutine's thread is inside it already.
    fn new(lenders: usize, variant: Variant, inside: bool) -> Arc<Rt> {
        Arc::new(Rt {
            workers: (0..=lenders)
                .map(|i| Worker::new(i, inside && i == 0))
                .collect(),
            bound: AtomicUsize::new(0),
            popped_by: AtomicUsize::new(0),
            queue: Mutex::new(Queue::default()),
            queue_changed: Condvar::new(),
            sysmon_paused: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            variant,
        })
    }

    fn push(&self) {
        let mut q = self.queue.lock().unwrap();
        assert!(!q.queued, "the goroutine was queued twice");
        q.queued = true;
        q.pushes += 1;
        drop(q);
        self.queue_changed.notify_all();
    }

    /// An idle worker's `find_runnable`: false once the goroutine finished.
    fn pop(&self, me: &Worker) -> bool {
        let mut q = self.queue.lock().unwrap();
        loop {
            if q.queued {
                q.queued = false;
                self.popped_by.store(me.id + 1, Ordering::Relaxed);
                return true;
            }
            if q.finished {
                return false;
            }
            q = self.queue_changed.wait(q).unwrap();
        }
    }

    /// `g.retire()`, and the model's end: idle workers stop.
    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        self.queue.lock().unwrap().finished = true;
        self.queue_changed.notify_all();
    }

    /// `rt.read_workers()[lender - 1].lend.give_back()`.
    fn give_back(&self, lender: usize) {
        let l = &self.workers[lender - 1];
        l.returns.fetch_add(1, Ordering::Relaxed);
        l.lend.give_back();
    }
}

/// A point where the thread may take its pending signal.
fn signal_point(rt: &Rt, t: &Worker) {
    if t.signal.swap(false, Ordering::Acquire) {
        on_signal(rt, t);
    }
}

/// `on_signal` -> `WorkerShared::answer_pause` (no scheduler lock held).
fn on_signal(rt: &Rt, t: &Worker) {
    t.in_handler.store(true, Ordering::Relaxed);
    let inside = t.in_goroutine.load(Ordering::Relaxed);
    let handled = t.pause.answer_and_wait(inside);
    t.in_handler.store(false, Ordering::Relaxed);
    if handled == Handled::Resumed {
        assert!(inside, "paused outside its goroutine");
        t.paused.fetch_add(1, Ordering::Relaxed);
        came_out_of_a_wait(rt, t);
    }
}

/// The thread was resumed: by the lender that popped its goroutine, once.
fn came_out_of_a_wait(rt: &Rt, t: &Worker) {
    let waits = t.resumed.fetch_add(1, Ordering::Relaxed) + 1;
    let lender = t.lender.load(Ordering::SeqCst);
    assert_ne!(lender, 0, "resumed without a lender");
    let popped_by = rt.popped_by.load(Ordering::Relaxed);
    assert_eq!(lender, popped_by, "resumed by a lender that did not pop it");
    let lends: usize = rt.workers[1..]
        .iter()
        .map(|l| l.lends.load(Ordering::Relaxed))
        .sum();
    assert_eq!(lends, waits, "a wait that no lend (or two) ended");
}

/// `execute_here` entering the goroutine.
fn enter(t: &Worker) {
    t.running.store(G, Ordering::Relaxed);
    t.in_goroutine.store(true, Ordering::Relaxed);
}

/// The rest of `execute_here`'s turn, up to the lender swap: inside the
/// goroutine for `steps` signal points, then out of it.
fn turn(rt: &Rt, t: &Worker, steps: usize) -> usize {
    for _ in 0..steps {
        signal_point(rt, t);
    }
    t.in_goroutine.store(false, Ordering::Relaxed);
    t.running.store(0, Ordering::Relaxed);
    signal_point(rt, t);
    t.lender.swap(0, Ordering::SeqCst)
}

/// A hog popped by its own worker (unbound, its own token), inside its
/// goroutine when the model starts (the only threads sysmon asks):
/// computes through `steps` signal points and returns.
fn hog(rt: &Rt, steps: usize) {
    let t = &rt.workers[0];
    let lender = turn(rt, t, steps);
    rt.bound.store(0, Ordering::Release);
    rt.finish();
    if lender != 0 {
        rt.give_back(lender);
    }
    signal_point(rt, t);
}

/// A thread whose goroutine is locked to it, from its first yield: it
/// waits for a token, runs a turn, yields `turns - 1` times and returns.
fn locked(rt: &Rt, turns: usize) {
    let t = &rt.workers[0];
    // Its first turn ended in a yield: ready for a lend, then queued.
    (rt.variant.pause_self)(&t.pause);
    rt.bound.store(t.id + 1, Ordering::Release);
    rt.push();
    for n in 1..=turns {
        t.pause.wait_resumed();
        came_out_of_a_wait(rt, t);
        enter(t);
        let lender = turn(rt, t, 1);
        (rt.variant.pause_self)(&t.pause);
        signal_point(rt, t);
        if n < turns {
            // Gosched: `schedule_global`.
            rt.push();
        } else {
            t.pause.resume_self();
            rt.finish();
        }
        if lender != 0 {
            rt.give_back(lender);
        }
    }
    signal_point(rt, t);
}

/// An idle worker: pops the goroutine while it runs and lends its token
/// to the thread it is bound to (`lend_token`).
fn lender(rt: &Rt, me: usize) {
    let me = &rt.workers[me];
    while rt.pop(me) {
        let bound = rt.bound.load(Ordering::Acquire);
        assert_ne!(bound, 0, "an unbound goroutine queued");
        let target = &rt.workers[bound - 1];
        me.lends.fetch_add(1, Ordering::Relaxed);
        me.lend.lend();
        target.lender.store(me.id + 1, Ordering::SeqCst);
        target.pause.resume();
        me.lend.wait_returned();
    }
}

/// What came of one of sysmon's `pause()` calls.
#[derive(Debug, PartialEq)]
enum Verdict {
    NotAsked,
    Paused,
    Declined,
    Withdrawn,
}

/// sysmon's `preempt::signal`: the signal is pending, then `tgkill`
/// returns. The kernel may run the whole handler before it does: the load
/// (its value unused) is where loom can place it, which loom's DPOR would
/// not find otherwise (it backtracks only to an object's last access, and
/// the handler's own load of the word hides sysmon's first poll from the
/// handler's compare-exchange).
fn signal(t: &Worker) {
    t.signal.store(true, Ordering::Release);
    t.signal.load(Ordering::Relaxed);
}

/// sysmon gave up on its request: the handler did not pause the thread
/// for it (nobody would resume the thread: it would wait forever, with
/// its lender). Only sysmon requests, so PAUSED now would be this
/// request's.
fn not_paused(t: &Worker, verdict: Verdict) -> Verdict {
    assert!(
        !matches!(t.pause.answer(), Answer::Paused),
        "sysmon misread the pause word: a pause it took for {verdict:?}"
    );
    verdict
}

/// sysmon's `pause()` of the goroutine's thread.
fn pause(rt: &Rt) -> Verdict {
    let t = &rt.workers[0];
    let answer = rt.variant.answer;
    if !t.in_goroutine.load(Ordering::Relaxed) || !t.pause.request() {
        return Verdict::NotAsked;
    }
    signal(t);
    match answer(&t.pause) {
        Answer::Paused => {}
        Answer::Declined => return not_paused(t, Verdict::Declined),
        Answer::Pending => {
            if t.pause.withdraw() {
                return not_paused(t, Verdict::Withdrawn);
            }
            match answer(&t.pause) {
                Answer::Paused => {}
                _ => return not_paused(t, Verdict::Declined),
            }
        }
    }
    // It waits in its handler, inside its goroutine: `running` and
    // `lender` are its turn's.
    let running = t.running.load(Ordering::Relaxed);
    assert_eq!(
        running, G,
        "sysmon misread the pause word: an accepted pause with a null running"
    );
    assert!(
        t.in_handler.load(Ordering::Relaxed),
        "paused outside its handler"
    );
    assert!(t.pause.is_paused());
    rt.sysmon_paused.fetch_add(1, Ordering::Relaxed);
    rt.bound.store(t.id + 1, Ordering::Release);
    let lender = t.lender.swap(0, Ordering::SeqCst);
    rt.push();
    if lender != 0 {
        rt.give_back(lender);
    }
    Verdict::Paused
}

/// The goroutine's thread runs `body` (`inside` the goroutine from the
/// start, or not); sysmon tries `attempts` pauses; `lenders` idle workers
/// lend their tokens.
fn model(variant: Variant, lenders: usize, attempts: usize, inside: bool, body: fn(&Rt)) {
    loom::model(move || {
        let rt = Rt::new(lenders, variant, inside);
        let mut threads = vec![];
        for i in 1..=lenders {
            let rt = rt.clone();
            threads.push(thread::spawn(move || lender(&rt, i)));
        }
        let sysmon = {
            let rt = rt.clone();
            thread::spawn(move || (0..attempts).map(|_| pause(&rt)).collect::<Vec<_>>())
        };
        {
            let rt = rt.clone();
            threads.push(thread::spawn(move || body(&rt)));
        }
        let verdicts = sysmon.join().unwrap();
        for t in threads {
            t.join().unwrap();
        }
        let t = &rt.workers[0];
        let q = rt.queue.lock().unwrap();
        let paused = verdicts.iter().filter(|v| **v == Verdict::Paused).count();
        assert_eq!(rt.finished.load(Ordering::Relaxed), 1);
        assert!(!q.queued, "queued after it finished");
        assert_eq!(
            t.paused.load(Ordering::Relaxed),
            paused,
            "a pause sysmon did not see, or saw twice: {verdicts:?}"
        );
        assert_eq!(rt.sysmon_paused.load(Ordering::Relaxed), paused);
        let lends: usize = rt.workers[1..]
            .iter()
            .map(|l| l.lends.load(Ordering::Relaxed))
            .sum();
        assert_eq!(lends, q.pushes, "a queued goroutine nobody lent to");
        assert_eq!(t.resumed.load(Ordering::Relaxed), lends);
        for l in &rt.workers[1..] {
            assert_eq!(
                l.returns.load(Ordering::Relaxed),
                l.lends.load(Ordering::Relaxed),
                "a token given back twice, or to a worker that did not lend"
            );
        }
        assert_eq!(t.returns.load(Ordering::Relaxed), 0);
        drop(q);
    });
}

fn hog_one_step(rt: &Rt) {
    hog(rt, 1)
}

fn hog_two_steps(rt: &Rt) {
    hog(rt, 2)
}

fn locked_one_turn(rt: &Rt) {
    locked(rt, 1)
}

/// A request racing with the hog's turn ending: accepted (then requeued,
/// lent to, resumed, token back), declined outside the goroutine, or
/// withdrawn; and the sysmon fix of 2026-12-01 (one load of the answer).
#[test]
fn pause_request_is_answered_once() {
    model(FIXED, 1, 1, true, hog_one_step);
}

/// The hog paused twice: the second time it runs on a lent token, which
/// sysmon gives back before it requeues the goroutine, and the lender
/// pops it again.
#[test]
fn repause_on_a_lent_token_gives_it_back() {
    model(FIXED, 1, 2, true, hog_two_steps);
}

/// A locked thread waits for a token, and its turn ends (`pause_self`)
/// while a request may be pending: WAITING is not an accept. If the
/// handler pauses it instead, sysmon requeues the goroutine and the idle
/// worker lends to it again; each lend resumes it once.
#[test]
fn locked_thread_waiting_is_not_an_accepted_pause() {
    model(FIXED, 1, 1, false, locked_one_turn);
}

/// Regression: sysmon read the word twice (`is_paused()`, then
/// `is_requested()`), and an accept between the loads read as a decline:
/// the thread stayed paused, nobody queued its goroutine, and everyone
/// waits for it.
#[test]
#[should_panic(expected = "a pause it took for Declined")]
fn regression_answer_read_twice_loses_a_pause() {
    let variant = Variant {
        answer: PauseWord::old_answer_read_twice,
        ..FIXED
    };
    model(variant, 1, 1, true, hog_one_step);
}

/// Regression: a locked thread's `pause_self` stored PAUSED over a pending
/// request, and sysmon took it for an accepted pause of a thread outside
/// any goroutine (and dereferenced a null `running`), or, after a
/// withdraw, left a PAUSED word nobody would resume.
#[test]
#[should_panic(expected = "sysmon misread the pause word")]
fn regression_pause_self_over_a_request_looks_accepted() {
    let variant = Variant {
        pause_self: PauseWord::old_pause_self_stores_paused,
        ..FIXED
    };
    model(variant, 1, 1, false, locked_one_turn);
}
