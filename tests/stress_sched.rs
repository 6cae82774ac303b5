//! Stress: the scheduler under every kind of load at once, with a watchdog.
//!
//! For its [`stress::budget`], a crowd of participants (goroutines and
//! plain threads, which is which drawn from a seed: printed, and taken from
//! `GORO_STRESS_SEED` to replay the same choices, though not the same
//! interleaving) run side by side:
//!
//! * **spawn storms**: trees of goroutines spawning goroutines (up to four
//!   levels, some children started from a plain thread that a node
//!   starts), and flat bursts of a few hundred, from goroutines and from
//!   plain threads; every goroutine runs exactly once (a ledger slot each)
//!   and is joined exactly once with the value it must return;
//! * **ping-pong pairs** over unbuffered channels (one side a goroutine,
//!   the other a goroutine or a thread): every ball comes back incremented,
//!   and both sides count the same number of exchanges;
//! * **timers**: `time::sleep`, `recv_timeout` racing a late sender,
//!   `time::after` in a `select!` racing another channel, and `Timer`
//!   stop/reset: every `after` delivers exactly one value and then closes,
//!   every late value arrives exactly once, a stopped timer delivers none
//!   and a reset one exactly one;
//! * **gomaxprocs churn**: one participant sets `gomaxprocs` to 1..=4 at
//!   random while everything runs;
//! * **hand-offs**: goroutines in plain blocking calls
//!   (`std::thread::sleep` of 1–20 ms);
//! * **CPU hogs**: goroutines that spin 5–50 ms without calling goro; each
//!   must finish (its driver joins it), must not stall the others (their
//!   beats), and stays on its thread (a paused goroutine is not moved);
//! * **locked goroutines**: `lock_os_thread` (nested too) across sleeps,
//!   channel waits, yields, spins, plain blocking calls and spawns, with
//!   the thread id checked after each; some end while locked (their
//!   thread exits);
//! * **panics and goexit with parking destructors**: victims that panic
//!   (`resume_unwind`, and now and then a real `panic!`) or call
//!   `goexit`, whose guards' `Drop` parks (a `recv_timeout` racing a late
//!   sender, a sleep, a yield). Each guard drops exactly once, sees
//!   `std::thread::panicking()` true before and after its park, on the same
//!   thread; and every other participant (the bystanders) asserts
//!   `std::thread::panicking()` is false at each step, which a panic count
//!   left behind on a worker thread would break.
//!
//! Every participant ticks its [`stress::Beat`] at each step, so a stuck
//! one (or one starved by a hog) fails the test through the watchdog, with
//! a goroutine dump, instead of hanging it. There are no timing assertions
//! besides the watchdog.
//!
//! This file holds one test because it changes the process-wide
//! `gomaxprocs`; a test added here must not run alongside it.

#[path = "support/stress.rs"]
mod stress;

use std::io::Write;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use goro::{chan, select, RecvTimeoutError, TryRecvError};
use stress::{Beat, Rng, Watchdog};

/// Real `panic!`s (which goro's hook reports on stderr) per run; other
/// victims panic with `resume_unwind`, which skips the hook.
const LOUD_PANICS: usize = 3;

// ---- randomness ----

/// splitmix64's finaliser: a node's value, a seed's scramble.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ---- what every participant shares ----

struct Shared {
    deadline: Instant,
    /// Checks that failed where a panic would abort (in a `Drop` during
    /// unwinding), or where one would hide the others.
    failures: Mutex<Vec<String>>,
    loud_panics: AtomicUsize,
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    spawned: AtomicU64,
    storms: AtomicU64,
    exchanges: AtomicU64,
    timers: AtomicU64,
    churns: AtomicU64,
    handoffs: AtomicU64,
    hogs: AtomicU64,
    locked: AtomicU64,
    victims: AtomicU64,
}

impl Shared {
    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }

    fn fail(&self, what: String) {
        let _ = writeln!(std::io::stderr(), "stress_sched: FAILED: {what}");
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }
}

fn count(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// A bystander's step: nobody else's panic may show on this thread.
fn step(beat: &Beat, who: &str) {
    assert!(
        !std::thread::panicking(),
        "{who}: std::thread::panicking() is true in a bystander (a panic count leaked onto this thread)"
    );
    beat.tick();
}

/// Marks a participant finished however it ends (a failed check too), so
/// the watchdog reports stalls, not failures.
struct DoneOnDrop(Beat);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// A participant's work, given its beat and its name.
type Body = Box<dyn FnOnce(&Beat, &str) + Send>;

enum Participant {
    Goroutine(goro::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl Participant {
    fn start(
        on_thread: bool,
        name: String,
        beat: Beat,
        f: impl FnOnce(&Beat, &str) + Send + 'static,
    ) -> (String, Participant) {
        let body = {
            let name = name.clone();
            move || {
                let _done = DoneOnDrop(beat.clone());
                f(&beat, &name);
            }
        };
        let p = if on_thread {
            Participant::Thread(std::thread::spawn(body))
        } else {
            Participant::Goroutine(goro::spawn(body))
        };
        (name, p)
    }

    fn join(self, name: &str) {
        let failed = match self {
            Participant::Goroutine(h) => h.join().map_err(|e| format!("{e:?}")).err(),
            Participant::Thread(h) => h.join().map_err(|e| panic_text(&*e)).err(),
        };
        if let Some(why) = failed {
            panic!("participant {name} failed: {why}");
        }
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".to_string())
}

/// Sleeps the way the caller should: parks a goroutine, sleeps a thread.
fn nap(d: Duration) {
    goro::time::sleep(d);
}

// ---- spawn storms ----

/// Nodes in a full tree of `depth` levels below the root and `fanout`.
fn tree_size(depth: u32, fanout: u64) -> u64 {
    (0..=depth).map(|d| fanout.pow(d)).sum()
}

/// The value the subtree rooted at node `id` (with `depth` levels below
/// it) must return: the wrapping sum of its nodes' values.
fn subtree_value(seed: u64, id: u64, depth: u32, fanout: u64) -> u64 {
    let mut sum = mix(seed ^ id);
    if depth > 0 {
        let child = tree_size(depth - 1, fanout);
        for j in 0..fanout {
            sum = sum.wrapping_add(subtree_value(seed, id + 1 + j * child, depth - 1, fanout));
        }
    }
    sum
}

struct Tree {
    seed: u64,
    fanout: u64,
    /// How many times each node ran: all must end at exactly 1.
    ran: Vec<AtomicU32>,
}

fn tree_node(tree: Arc<Tree>, id: u64, depth: u32) -> u64 {
    assert!(!std::thread::panicking(), "storm node {id}: panicking");
    let before = tree.ran[id as usize].fetch_add(1, Ordering::Relaxed);
    assert_eq!(before, 0, "storm node {id} ran twice");
    let mut rng = Rng::new(tree.seed ^ id.rotate_left(17));
    let mut sum = mix(tree.seed ^ id);
    if depth == 0 {
        match rng.below(4) {
            0 => goro::gosched(),
            1 => nap(rng.micros(0, 200)),
            _ => {}
        }
        return sum;
    }
    let child_size = tree_size(depth - 1, tree.fanout);
    let children: Vec<(u64, goro::JoinHandle<u64>)> = (0..tree.fanout)
        .map(|j| {
            let child = id + 1 + j * child_size;
            let t = Arc::clone(&tree);
            let h = if rng.one_in(8) {
                // Spawned from a plain thread: the goroutine starts off the
                // runtime and its handle crosses back.
                std::thread::spawn(move || goro::spawn(move || tree_node(t, child, depth - 1)))
                    .join()
                    .expect("a spawning thread")
            } else {
                goro::spawn(move || tree_node(t, child, depth - 1))
            };
            (child, h)
        })
        .collect();
    for (child, h) in children {
        let got = h.join().expect("a storm goroutine panicked");
        let want = subtree_value(tree.seed, child, depth - 1, tree.fanout);
        assert_eq!(got, want, "storm node {child} returned a wrong value");
        sum = sum.wrapping_add(got);
    }
    sum
}

fn storm(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        let storm_seed = rng.next();
        if rng.one_in(3) {
            // A flat burst, joined in a random order.
            let n = 50 + rng.below(250);
            let mut handles: Vec<(u64, goro::JoinHandle<u64>)> = (0..n)
                .map(|i| {
                    let v = mix(storm_seed ^ i);
                    (v, goro::spawn(move || v))
                })
                .collect();
            while !handles.is_empty() {
                let (want, h) = handles.swap_remove(rng.below(handles.len() as u64) as usize);
                assert_eq!(
                    h.join().expect("a burst goroutine"),
                    want,
                    "{who}: burst value"
                );
                step(beat, who);
            }
            count(&s.counts.spawned, n);
        } else {
            let depth = 1 + rng.below(3) as u32;
            let fanout = 1 + rng.below(if depth == 3 { 4 } else { 6 });
            let size = tree_size(depth, fanout);
            let tree = Arc::new(Tree {
                seed: storm_seed,
                fanout,
                ran: (0..size).map(|_| AtomicU32::new(0)).collect(),
            });
            let t = Arc::clone(&tree);
            let got = goro::spawn(move || tree_node(t, 0, depth))
                .join()
                .expect("a storm root");
            assert_eq!(
                got,
                subtree_value(storm_seed, 0, depth, fanout),
                "{who}: tree value"
            );
            for (id, ran) in tree.ran.iter().enumerate() {
                let ran = ran.load(Ordering::Relaxed);
                assert_eq!(ran, 1, "{who}: storm node {id} ran {ran} times");
            }
            count(&s.counts.spawned, size);
        }
        count(&s.counts.storms, 1);
        step(beat, who);
    }
}

// ---- ping-pong ----

/// One side of a pair: serves balls until the pinger hangs up; returns how
/// many it served.
fn ponger(rx: goro::Receiver<u64>, tx: goro::Sender<u64>, beat: &Beat, who: &str) -> u64 {
    let mut served = 0;
    while let Ok(ball) = rx.recv() {
        tx.send(ball + 1).expect("the pinger waits for its ball");
        served += 1;
        step(beat, who);
    }
    served
}

fn pinger(
    s: &Shared,
    seed: u64,
    tx: goro::Sender<u64>,
    rx: goro::Receiver<u64>,
    beat: &Beat,
    who: &str,
) -> u64 {
    let mut rng = Rng::new(seed);
    let mut sent = 0u64;
    while s.running() {
        let ball = rng.next() >> 1;
        tx.send(ball).expect("the ponger serves until we hang up");
        let back = match rng.below(4) {
            // Wait with a timeout, retried: timers under the pair too.
            0 => loop {
                match rx.recv_timeout(Duration::from_micros(100)) {
                    Ok(b) => break b,
                    Err(RecvTimeoutError::Timeout) => step(beat, who),
                    Err(RecvTimeoutError::Disconnected) => panic!("{who}: ponger gone"),
                }
            },
            _ => rx.recv().expect("the ponger sends the ball back"),
        };
        assert_eq!(back, ball + 1, "{who}: the ball came back wrong");
        sent += 1;
        if rng.one_in(64) {
            goro::gosched();
        }
        step(beat, who);
    }
    sent
}

// ---- timers ----

fn timers(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        match rng.below(4) {
            0 => nap(rng.micros(0, 3000)),
            1 => {
                // recv_timeout racing a late sender: the value arrives
                // exactly once, in time or after.
                let (tx, rx) = chan::<u64>(1);
                let delay = rng.micros(0, 2000);
                let v = rng.next();
                goro::spawn(move || {
                    nap(delay);
                    tx.send(v).expect("the receiver keeps its end");
                });
                let got = match rx.recv_timeout(rng.micros(0, 2000)) {
                    Ok(got) => got,
                    Err(RecvTimeoutError::Timeout) => rx.recv().expect("the late value"),
                    Err(RecvTimeoutError::Disconnected) => panic!("{who}: sender lost its value"),
                };
                assert_eq!(got, v, "{who}: late value");
                assert!(rx.recv().is_err(), "{who}: a second value arrived");
            }
            2 => {
                // time::after racing another channel in a select: the timer
                // delivers exactly one value, then closes.
                let (tx, rx) = chan::<u64>(0);
                let delay = rng.micros(0, 2000);
                let sender = goro::spawn(move || {
                    nap(delay);
                    let _ = tx.send_timeout(7, Duration::from_micros(500));
                });
                let after = goro::time::after(rng.micros(0, 2000));
                let timer_won = select! {
                    recv(rx) -> v => {
                        // Err: the sender gave up (nobody received in
                        // time) and closed the channel.
                        assert!(matches!(v, Ok(7) | Err(_)), "{who}: the other arm's value");
                        false
                    },
                    recv(after) -> t => {
                        assert!(t.is_ok(), "{who}: time::after closed without a value");
                        true
                    },
                };
                if !timer_won {
                    assert!(after.recv().is_ok(), "{who}: time::after never fired");
                }
                assert!(after.recv().is_err(), "{who}: time::after fired twice");
                sender.join().expect("the select's sender");
            }
            _ => {
                // Timer stop/reset: a stopped timer delivers nothing, a
                // reset one exactly one value.
                let d = rng.micros(0, 2000);
                let t = goro::time::Timer::new(d);
                if rng.one_in(2) {
                    nap(rng.micros(0, 2000));
                }
                t.stop();
                nap(d + Duration::from_micros(500));
                assert_eq!(
                    t.c.try_recv(),
                    Err(TryRecvError::Empty),
                    "{who}: a stopped timer delivered"
                );
                t.reset(rng.micros(0, 1000));
                t.c.recv().expect("a reset timer fires");
                nap(Duration::from_micros(500));
                assert_eq!(
                    t.c.try_recv(),
                    Err(TryRecvError::Empty),
                    "{who}: a reset timer fired twice"
                );
            }
        }
        count(&s.counts.timers, 1);
        step(beat, who);
    }
}

// ---- gomaxprocs churn, hand-offs, hogs ----

fn churn(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        goro::gomaxprocs(1 + rng.below(4) as usize);
        count(&s.counts.churns, 1);
        nap(rng.micros(0, 5000));
        step(beat, who);
    }
}

fn handoff(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        std::thread::sleep(rng.millis(1, 20));
        count(&s.counts.handoffs, 1);
        if rng.one_in(2) {
            goro::gosched();
        }
        step(beat, who);
    }
}

/// Spins for `d` without calling goro; returns its thread (a paused
/// goroutine resumes where it was: on the same thread) and its loops.
fn hog(d: Duration) -> (ThreadId, ThreadId, u64) {
    let thread = std::thread::current().id();
    let start = Instant::now();
    let mut loops = 0u64;
    while start.elapsed() < d {
        loops = std::hint::black_box(loops.wrapping_add(1));
    }
    (thread, std::thread::current().id(), loops)
}

fn hog_driver(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        let hogs: Vec<_> = (0..1 + rng.below(3))
            .map(|_| {
                let d = rng.millis(5, 50);
                goro::spawn(move || hog(d))
            })
            .collect();
        let n = hogs.len() as u64;
        for h in hogs {
            let (before, after, loops) = h.join().expect("a hog");
            assert_eq!(before, after, "{who}: a hog moved threads mid-spin");
            assert!(loops > 0, "{who}: a hog never looped");
            step(beat, who);
        }
        count(&s.counts.hogs, n);
    }
}

// ---- locked goroutines ----

fn locked_session(rng: &mut Rng, beat: &Beat, who: &str) {
    goro::lock_os_thread();
    let here = std::thread::current().id();
    let check = |what: &str| {
        assert_eq!(
            std::thread::current().id(),
            here,
            "{who}: a locked goroutine moved threads after {what}"
        );
    };
    for _ in 0..1 + rng.below(8) {
        match rng.below(7) {
            0 => {
                nap(rng.micros(0, 2000));
                check("a sleep");
            }
            1 => {
                goro::gosched();
                check("gosched");
            }
            2 => {
                let (tx, rx) = chan::<u64>(0);
                let delay = rng.micros(0, 1000);
                goro::spawn(move || {
                    nap(delay);
                    tx.send(1).expect("the locked receiver");
                });
                assert_eq!(rx.recv(), Ok(1), "{who}: locked receive");
                check("a channel receive");
            }
            3 => {
                let _ = hog(rng.millis(1, 10));
                check("a spin");
            }
            4 => {
                std::thread::sleep(rng.millis(1, 5));
                check("a blocking call");
            }
            5 => {
                goro::lock_os_thread();
                nap(rng.micros(0, 500));
                goro::unlock_os_thread();
                check("a nested lock");
            }
            _ => {
                let v = rng.next();
                assert_eq!(goro::spawn(move || v).join().expect("a child"), v);
                check("a spawn and join");
            }
        }
        step(beat, who);
    }
    goro::unlock_os_thread();
}

fn locker(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        if rng.one_in(6) {
            // Ends while locked: its thread exits, a new one takes over.
            let v = rng.next();
            let nap_for = rng.micros(0, 1000);
            let got = goro::spawn(move || {
                goro::lock_os_thread();
                let here = std::thread::current().id();
                nap(nap_for);
                assert_eq!(std::thread::current().id(), here, "moved while locked");
                v
            })
            .join()
            .expect("a goroutine that ends locked");
            assert_eq!(got, v, "{who}: value of a goroutine that ended locked");
        } else {
            locked_session(&mut rng, beat, who);
        }
        count(&s.counts.locked, 1);
        step(beat, who);
    }
}

// ---- panics and goexit with destructors that park ----

/// A victim's payload for `resume_unwind`.
struct Boom(u64);

/// How a victim's guard waits in its `Drop`.
#[derive(Clone, Copy)]
enum DropPark {
    RecvTimeout(Duration),
    Sleep(Duration),
    Yield,
}

struct ParkingGuard {
    victim: u64,
    unwinding: bool,
    park: DropPark,
    /// A late value the `recv_timeout` may or may not see.
    rx: goro::Receiver<u64>,
    drops: Arc<AtomicU32>,
    shared: Arc<Shared>,
}

impl Drop for ParkingGuard {
    fn drop(&mut self) {
        // No assert here: a panic in a destructor that runs during
        // unwinding aborts. Failures are recorded instead.
        let v = self.victim;
        let thread = std::thread::current().id();
        let before = std::thread::panicking();
        match self.park {
            DropPark::RecvTimeout(d) => {
                let _ = self.rx.recv_timeout(d);
            }
            DropPark::Sleep(d) => goro::time::sleep(d),
            DropPark::Yield => goro::gosched(),
        }
        let after = std::thread::panicking();
        if before != self.unwinding || after != self.unwinding {
            self.shared.fail(format!(
                "victim {v}: std::thread::panicking() was {before} before and {after} after \
                 parking in a Drop, during {}",
                if self.unwinding {
                    "an unwind"
                } else {
                    "a normal return"
                }
            ));
        }
        if self.unwinding && std::thread::current().id() != thread {
            self.shared.fail(format!(
                "victim {v}: an unwinding goroutine moved threads while parked in a Drop"
            ));
        }
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    Return,
    Unwind,
    LoudPanic,
    Goexit,
}

fn victim_driver(s: &Arc<Shared>, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    let mut id = seed << 16;
    while s.running() {
        id = id.wrapping_add(1);
        let mut end = match rng.below(8) {
            0 => End::Return,
            1..=3 => End::Goexit,
            4 => End::LoudPanic,
            _ => End::Unwind,
        };
        if end == End::LoudPanic && s.loud_panics.fetch_add(1, Ordering::Relaxed) >= LOUD_PANICS {
            end = End::Unwind;
        }
        let guards = 1 + rng.below(3) as u32;
        let parks: Vec<DropPark> = (0..guards)
            .map(|_| match rng.below(3) {
                0 => DropPark::RecvTimeout(rng.micros(0, 2000)),
                1 => DropPark::Sleep(rng.micros(0, 1000)),
                _ => DropPark::Yield,
            })
            .collect();
        let lock = rng.one_in(4);
        let late = rng.micros(0, 2000);
        let (tx, rx) = chan::<u64>(guards as usize);
        // The late sender: wakes a guard parked in recv_timeout, or not.
        goro::spawn(move || {
            nap(late);
            for _ in 0..guards {
                let _ = tx.try_send(1);
            }
        });
        let drops = Arc::new(AtomicU32::new(0));
        let victim = {
            let (drops, shared) = (Arc::clone(&drops), Arc::clone(s));
            goro::spawn(move || {
                if lock {
                    goro::lock_os_thread();
                }
                let _guards: Vec<ParkingGuard> = parks
                    .into_iter()
                    .map(|park| ParkingGuard {
                        victim: id,
                        unwinding: end != End::Return,
                        park,
                        rx: rx.clone(),
                        drops: Arc::clone(&drops),
                        shared: Arc::clone(&shared),
                    })
                    .collect();
                goro::gosched();
                match end {
                    End::Return => id,
                    End::Unwind => std::panic::resume_unwind(Box::new(Boom(id))),
                    End::LoudPanic => panic!("stress_sched: victim {id} panics on purpose"),
                    End::Goexit => goro::goexit(),
                }
            })
        };
        let result = victim.join();
        match (end, result) {
            (End::Return, Ok(v)) => assert_eq!(v, id, "{who}: victim value"),
            (End::Goexit, Err(e)) if e.is_goexit() => {}
            (End::LoudPanic, Err(e)) if e.is_panic() => {
                let msg = e.panic_message().unwrap_or_default().to_string();
                assert!(msg.contains("on purpose"), "{who}: panic message {msg:?}");
            }
            (End::Unwind, Err(e)) if e.is_panic() => {
                let payload = e.into_panic();
                let boom = payload.downcast_ref::<Boom>();
                assert!(
                    matches!(boom, Some(Boom(v)) if *v == id),
                    "{who}: victim {id}'s payload came back wrong"
                );
            }
            (end, Ok(_)) => panic!("{who}: victim {id} meant to end by {end:?} returned"),
            (end, Err(e)) => panic!("{who}: victim {id} meant to end by {end:?}: {e:?}"),
        }
        let dropped = drops.load(Ordering::Relaxed);
        assert_eq!(
            dropped, guards,
            "{who}: victim {id}'s guards dropped {dropped} times"
        );
        count(&s.counts.victims, 1);
        step(beat, who);
    }
}

// ---- the test ----

#[test]
fn scheduler_survives_everything_at_once() {
    let budget = stress::budget(Duration::from_secs(4));
    let seed = stress::seed("stress_sched", budget);
    let watchdog = Watchdog::start("scheduler_survives_everything_at_once");
    let original_procs = goro::gomaxprocs(0);
    let s = Arc::new(Shared {
        deadline: Instant::now() + budget,
        failures: Mutex::new(Vec::new()),
        loud_panics: AtomicUsize::new(0),
        counts: Counts::default(),
    });
    let mut seeds = Rng::new(seed);
    let mut all: Vec<(String, Participant)> = Vec::new();
    let mut pairs: Vec<(Arc<AtomicU64>, Arc<AtomicU64>)> = Vec::new();
    let add = |all: &mut Vec<(String, Participant)>, name: String, on_thread: bool, f: Body| {
        let beat = watchdog.beat(name.clone());
        all.push(Participant::start(on_thread, name, beat, f));
    };

    // Participant 0 of a kind that may run on a thread always does, 1
    // never; the rest are drawn.
    let on_thread = |seeds: &mut Rng, i: usize| i == 0 || (i > 1 && seeds.one_in(3));
    for i in 0..3 {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        let t = on_thread(&mut seeds, i);
        add(
            &mut all,
            format!("storm {i}"),
            t,
            Box::new(move |b, w| storm(&s2, seed, b, w)),
        );
    }
    for i in 0..3 {
        let (tx, rx) = chan::<u64>(0);
        let (back_tx, back_rx) = chan::<u64>(0);
        let served = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        let pong_on_thread = on_thread(&mut seeds, i);
        let ping_on_thread = i == 2 && seeds.one_in(2);
        let sv = Arc::clone(&served);
        add(
            &mut all,
            format!("ponger {i}"),
            pong_on_thread,
            Box::new(move |b, w| sv.store(ponger(rx, back_tx, b, w), Ordering::Relaxed)),
        );
        let st = Arc::clone(&sent);
        add(
            &mut all,
            format!("pinger {i}"),
            ping_on_thread,
            Box::new(move |b, w| {
                let n = pinger(&s2, seed, tx, back_rx, b, w);
                st.store(n, Ordering::Relaxed);
                count(&s2.counts.exchanges, n);
            }),
        );
        // Checked once both have been joined (below).
        pairs.push((served, sent));
    }
    for i in 0..3 {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        let t = on_thread(&mut seeds, i);
        add(
            &mut all,
            format!("timers {i}"),
            t,
            Box::new(move |b, w| timers(&s2, seed, b, w)),
        );
    }
    {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        let t = seeds.one_in(2);
        add(
            &mut all,
            "gomaxprocs churn".into(),
            t,
            Box::new(move |b, w| churn(&s2, seed, b, w)),
        );
    }
    for i in 0..2 {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        add(
            &mut all,
            format!("hand-off {i}"),
            false,
            Box::new(move |b, w| handoff(&s2, seed, b, w)),
        );
    }
    for i in 0..2 {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        let t = i == 0 && seeds.one_in(2);
        add(
            &mut all,
            format!("hog driver {i}"),
            t,
            Box::new(move |b, w| hog_driver(&s2, seed, b, w)),
        );
    }
    for i in 0..2 {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        add(
            &mut all,
            format!("locker {i}"),
            false,
            Box::new(move |b, w| locker(&s2, seed, b, w)),
        );
    }
    for i in 0..2 {
        let (s2, seed) = (Arc::clone(&s), seeds.next());
        let t = on_thread(&mut seeds, i);
        add(
            &mut all,
            format!("victims {i}"),
            t,
            Box::new(move |b, w| victim_driver(&s2, seed, b, w)),
        );
    }

    // The joins have a beat of their own: a participant that is done (its
    // closure returned) but whose goroutine never ends stalls it.
    let joins = watchdog.beat("joining the participants");
    while s.running() {
        std::thread::sleep(Duration::from_millis(50));
        joins.tick();
    }
    for (name, p) in all {
        p.join(&name);
        joins.tick();
    }
    joins.done();
    goro::gomaxprocs(original_procs);
    for (i, (served, sent)) in pairs.into_iter().enumerate() {
        let (served, sent) = (served.load(Ordering::Relaxed), sent.load(Ordering::Relaxed));
        assert_eq!(served, sent, "pair {i}: {sent} balls sent, {served} served");
    }
    let failures = s.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed checks: {failures:#?}",
        failures.len()
    );
    drop(watchdog);
    let c = &s.counts;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let _ = writeln!(
        std::io::stderr(),
        "stress_sched: {} goroutines in {} storms, {} ping-pongs, {} timer ops, \
         {} gomaxprocs changes, {} hand-offs, {} hogs, {} locked sessions, {} victims",
        n(&c.spawned),
        n(&c.storms),
        n(&c.exchanges),
        n(&c.timers),
        n(&c.churns),
        n(&c.handoffs),
        n(&c.hogs),
        n(&c.locked),
        n(&c.victims),
    );
}
