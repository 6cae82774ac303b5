//! Stress: the per-worker timers (`scheduler/timer.rs`) under every kind of
//! use at once, from goroutines and plain threads, while workers come and
//! go, with a watchdog.
//!
//! For its [`stress::budget`], participants (goroutines, and plain threads
//! beside them: their timers go to the shared shard) draw their choices
//! from a seed (printed; `GORO_STRESS_SEED` replays the same choices,
//! though not the same interleaving):
//!
//! * **sleepers**: `time::sleep` of 0–2 ms; a sleep never returns before
//!   its deadline;
//! * **select against `after`**: a `select!` of a fed channel against
//!   `time::after` of 0–1.5 ms, each side winning often; the `after` arm
//!   wins only once its deadline has passed (and delivers a time past it),
//!   the data arrives in the order it was sent;
//! * **`Timer` reset and stop**: a timer that is reset (maybe several
//!   times) fires once, not before the last reset's deadline; a stopped
//!   one delivers nothing, even well past its deadline;
//! * **`Ticker` reset and stop**: the n-th tick received is not earlier
//!   than n periods after the ticker started (or was reset); after `stop`
//!   no tick arrives;
//! * **`recv_timeout` woken early**: a receiver waits 0.1–1.5 ms on a
//!   channel that a feeder (on another goroutine or thread, so usually
//!   another worker) sends to at random; a `Timeout` really waited its
//!   timeout, values arrive in order;
//! * **socket read timeouts**: loopback TCP clients set a read timeout
//!   (0.2–2 ms) before every read while their server writes a byte every
//!   0–2.5 ms: reads get data or time out, and a timed-out read waited its
//!   timeout;
//! * **chaos**: `gomaxprocs` changes between 1 and 4 every 0–5 ms; CPU hogs
//!   spin 2–20 ms without calling goro (sysmon pauses them, or hands their
//!   worker off); blockers arm `Timer`s on their worker, then block the
//!   thread in `std::thread::sleep` (sysmon hands the worker off, so a
//!   detached worker's shard holds those timers), sometimes locked to
//!   their thread (whose timers go to the shared shard); every such timer
//!   still fires, not early.
//!
//! The checks are invariants, never timings: nothing fires early, nothing
//! stopped fires, every outcome of each race happened at least once, and
//! every participant keeps making progress (the watchdog: a lost wake-up
//! leaves one asleep, and the test fails with a goroutine dump instead of
//! hanging).
//!
//! This file holds one test because it changes the process-wide
//! `gomaxprocs`.

#[path = "support/stress.rs"]
mod stress;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::net::{TcpListener, TcpStream};
use goro::time::{after, sleep, Ticker, Timer};
use goro::{chan, select, Receiver, RecvTimeoutError, Sender, TryRecvError};
use stress::{Beat, Participant, Rng, Watchdog};

/// How often each outcome happened, for the final checks and report.
#[derive(Default)]
struct Counts {
    sleeps: AtomicU64,
    after_won: AtomicU64,
    data_won: AtomicU64,
    timers_fired: AtomicU64,
    timers_stopped: AtomicU64,
    ticks: AtomicU64,
    tickers_stopped: AtomicU64,
    recv_timeouts: AtomicU64,
    recv_values: AtomicU64,
    read_timeouts: AtomicU64,
    read_data: AtomicU64,
    churns: AtomicU64,
    hogs: AtomicU64,
    blocked_timers: AtomicU64,
}

fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Shared {
    deadline: Instant,
    /// Set once every timed participant has finished: the chaos stops.
    stop_chaos: AtomicBool,
    counts: Counts,
}

impl Shared {
    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }
}

/// Panics unless `now` has reached `deadline`: the invariant of every
/// timer here.
fn not_early(who: &str, what: &str, deadline: Instant, now: Instant) {
    assert!(
        now >= deadline,
        "{who}: {what} {:?} before its deadline",
        deadline - now
    );
}

// ---- sleepers ----

fn sleeper(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        let d = rng.micros(0, 2000);
        let deadline = Instant::now() + d;
        sleep(d);
        not_early(who, "sleep returned", deadline, Instant::now());
        count(&s.counts.sleeps);
        beat.tick();
    }
}

// ---- a fed channel against `after` ----

/// Sends 1, 2, 3, ... on `tx`, each after a random pause, until the
/// receiver is gone; a send gives up after a few milliseconds (the
/// receiver may be busy elsewhere) and the value is dropped.
fn feeder(tx: Sender<u64>, seed: u64, beat: &Beat, max_pause_us: u64) {
    let mut rng = Rng::new(seed);
    let mut next = 1;
    loop {
        sleep(rng.micros(0, max_pause_us));
        match tx.send_timeout(next, Duration::from_millis(3)) {
            Ok(()) => {}
            Err(goro::SendTimeoutError::Timeout(_)) => {}
            Err(goro::SendTimeoutError::Disconnected(_)) => break,
        }
        next += 1;
        beat.tick();
    }
}

fn select_after(s: &Shared, rx: Receiver<u64>, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    let mut last = 0;
    while s.running() {
        let d = rng.micros(0, 1500);
        let deadline = Instant::now() + d;
        select! {
            recv(rx) -> v => {
                let v = v.expect("the feeder outlives the receiver");
                assert!(v > last, "{who}: value {v} after {last}");
                last = v;
                count(&s.counts.data_won);
            }
            recv(after(d)) -> at => {
                let now = Instant::now();
                not_early(who, "after's arm won", deadline, now);
                let at = at.expect("after delivers a time");
                not_early(who, "after delivered a time", deadline, at);
                count(&s.counts.after_won);
            }
        }
        beat.tick();
    }
}

// ---- Timer and Ticker ----

fn timers(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while s.running() {
        if rng.one_in(3) {
            ticker(s, &mut rng, beat, who);
        } else {
            timer(s, &mut rng, who);
        }
        beat.tick();
    }
}

fn timer(s: &Shared, rng: &mut Rng, who: &str) {
    let d = rng.micros(0, 1500);
    let mut deadline = Instant::now() + d;
    let t = Timer::new(d);
    for _ in 0..rng.below(3) {
        sleep(rng.micros(0, 800));
        let d = rng.micros(0, 1500);
        let at = Instant::now() + d;
        t.reset(d);
        deadline = at;
    }
    if rng.one_in(2) {
        let fired = t.c.recv().expect("a timer delivers its time");
        not_early(who, "a reset Timer fired", deadline, fired);
        not_early(
            who,
            "a reset Timer's value arrived",
            deadline,
            Instant::now(),
        );
        // Fires once: nothing more, even after a while.
        sleep(rng.micros(0, 500));
        assert_eq!(
            t.c.try_recv(),
            Err(TryRecvError::Empty),
            "{who}: a Timer fired twice"
        );
        count(&s.counts.timers_fired);
    } else {
        sleep(rng.micros(0, 1500));
        t.stop();
        // Whether it fired before `stop` or not: nothing arrives after.
        sleep(deadline.saturating_duration_since(Instant::now()) + rng.micros(0, 1000));
        assert_eq!(
            t.c.try_recv(),
            Err(TryRecvError::Empty),
            "{who}: a stopped Timer delivered"
        );
        count(&s.counts.timers_stopped);
    }
}

fn ticker(s: &Shared, rng: &mut Rng, beat: &Beat, who: &str) {
    let mut period = rng.micros(200, 1000);
    let mut start = Instant::now();
    let t = Ticker::new(period);
    let mut received = 0u32;
    for _ in 0..1 + rng.below(6) {
        if rng.one_in(4) {
            period = rng.micros(200, 1000);
            start = Instant::now();
            t.reset(period);
            received = 0;
        }
        let at = t.c.recv().expect("a ticker ticks");
        received += 1;
        // Ticks a slow receiver missed are dropped, so the n-th received
        // is at least n periods in.
        not_early(who, "a tick", start + period * received, at);
        count(&s.counts.ticks);
        beat.tick();
    }
    t.stop();
    sleep(period * 2 + rng.micros(0, 500));
    assert_eq!(
        t.c.try_recv(),
        Err(TryRecvError::Empty),
        "{who}: a stopped Ticker ticked"
    );
    count(&s.counts.tickers_stopped);
}

// ---- recv_timeout woken early ----

fn receiver(s: &Shared, rx: Receiver<u64>, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    let mut last = 0;
    while s.running() {
        let timeout = rng.micros(100, 1500);
        let start = Instant::now();
        match rx.recv_timeout(timeout) {
            Ok(v) => {
                assert!(v > last, "{who}: value {v} after {last}");
                last = v;
                count(&s.counts.recv_values);
            }
            Err(RecvTimeoutError::Timeout) => {
                not_early(
                    who,
                    "recv_timeout timed out",
                    start + timeout,
                    Instant::now(),
                );
                count(&s.counts.recv_timeouts);
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{who}: the feeder left early"),
        }
        beat.tick();
    }
}

// ---- socket read timeouts ----

/// One connection's server side: a byte every 0–2.5 ms until the client
/// hangs up.
fn server(mut conn: TcpStream, seed: u64) {
    let mut rng = Rng::new(seed);
    loop {
        sleep(rng.micros(0, 2500));
        if conn.write_all(&[rng.below(256) as u8]).is_err() {
            break;
        }
    }
}

fn reader(s: &Shared, addr: std::net::SocketAddr, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    let mut conn = TcpStream::connect(addr).expect("connect to the loopback server");
    let mut buf = [0u8; 64];
    while s.running() {
        let timeout = rng.micros(200, 2000);
        conn.set_read_timeout(Some(timeout))
            .expect("set_read_timeout");
        let start = Instant::now();
        match conn.read(&mut buf) {
            Ok(0) => panic!("{who}: the server hung up early"),
            Ok(_) => count(&s.counts.read_data),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                not_early(who, "a read timed out", start + timeout, Instant::now());
                count(&s.counts.read_timeouts);
            }
            Err(e) => panic!("{who}: read failed: {e}"),
        }
        beat.tick();
    }
}

// ---- chaos ----

fn churn(s: &Shared, seed: u64, beat: &Beat) {
    let mut rng = Rng::new(seed);
    while !s.stop_chaos.load(Ordering::Relaxed) {
        goro::gomaxprocs(1 + rng.below(4) as usize);
        count(&s.counts.churns);
        sleep(rng.micros(0, 5000));
        beat.tick();
    }
}

/// Spins for `d` without calling goro.
fn spin(d: Duration) -> u64 {
    let start = Instant::now();
    let mut loops = 0u64;
    while start.elapsed() < d {
        loops = std::hint::black_box(loops.wrapping_add(1));
    }
    loops
}

fn hogs(s: &Shared, seed: u64, beat: &Beat) {
    let mut rng = Rng::new(seed);
    while !s.stop_chaos.load(Ordering::Relaxed) {
        let hogs: Vec<_> = (0..1 + rng.below(2))
            .map(|_| {
                let d = rng.micros(2000, 20_000);
                goro::spawn(move || spin(d))
            })
            .collect();
        for h in hogs {
            assert!(h.join().expect("a hog") > 0, "a hog never looped");
            count(&s.counts.hogs);
        }
        sleep(rng.micros(0, 3000));
        beat.tick();
    }
}

/// Arms timers on its worker, then blocks the thread in the kernel so
/// sysmon hands the worker off with those timers in its shard (or, locked
/// to its thread, arms them in the shared shard); every one must still
/// fire, not early.
fn blocker(s: &Shared, seed: u64, beat: &Beat, who: &str) {
    let mut rng = Rng::new(seed);
    while !s.stop_chaos.load(Ordering::Relaxed) {
        let locked = rng.one_in(3);
        if locked {
            goro::lock_os_thread();
        }
        let armed: Vec<(Instant, Timer)> = (0..1 + rng.below(4))
            .map(|_| {
                let d = rng.micros(0, 3000);
                (Instant::now() + d, Timer::new(d))
            })
            .collect();
        std::thread::sleep(rng.micros(1000, 8000));
        for (deadline, t) in armed {
            let at = t.c.recv().expect("a timer armed before blocking fires");
            not_early(who, "a timer armed before blocking fired", deadline, at);
            count(&s.counts.blocked_timers);
        }
        if locked {
            goro::unlock_os_thread();
        }
        sleep(rng.micros(0, 2000));
        beat.tick();
    }
}

/// A participant's body: `(name, on a plain thread, work)`.
type Work = Box<dyn FnOnce(&Beat) + Send>;

#[test]
fn timers_mixed_under_churn() {
    let budget = stress::budget(Duration::from_secs(4));
    let seed = stress::seed("stress_timers", budget);
    let mut seeds = Rng::new(seed);
    let procs_before = goro::gomaxprocs(0);
    let dog = Watchdog::start("stress_timers");
    let s = Arc::new(Shared {
        deadline: Instant::now() + budget,
        stop_chaos: AtomicBool::new(false),
        counts: Counts::default(),
    });

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("listener address");
    const READERS: usize = 3;
    let accept_seed = seeds.next();
    let acceptor = goro::spawn(move || {
        let mut rng = Rng::new(accept_seed);
        for _ in 0..READERS {
            let (conn, _) = listener.accept().expect("accept a reader");
            let seed = rng.next();
            goro::spawn(move || server(conn, seed));
        }
    });

    // The participants whose timers are checked; the last of each kind
    // runs on a plain thread.
    let mut timed: Vec<(String, bool, Work)> = Vec::new();
    for i in 0..4 {
        let (s, seed) = (s.clone(), seeds.next());
        let name = format!("sleeper {i}");
        let who = name.clone();
        timed.push((name, i == 3, Box::new(move |b| sleeper(&s, seed, b, &who))));
    }
    let mut feeders: Vec<(String, bool, Work)> = Vec::new();
    for i in 0..3 {
        let (tx, rx) = chan::<u64>(rng_cap(&mut seeds));
        let (s, seed, feed_seed) = (s.clone(), seeds.next(), seeds.next());
        let name = format!("select/after {i}");
        let who = name.clone();
        timed.push((
            name,
            i == 2,
            Box::new(move |b| select_after(&s, rx, seed, b, &who)),
        ));
        feeders.push((
            format!("select/after feeder {i}"),
            i == 1,
            Box::new(move |b| feeder(tx, feed_seed, b, 1500)),
        ));
    }
    for i in 0..3 {
        let (s, seed) = (s.clone(), seeds.next());
        let name = format!("Timer/Ticker {i}");
        let who = name.clone();
        timed.push((name, i == 2, Box::new(move |b| timers(&s, seed, b, &who))));
    }
    for i in 0..3 {
        let (tx, rx) = chan::<u64>(rng_cap(&mut seeds));
        let (s, seed, feed_seed) = (s.clone(), seeds.next(), seeds.next());
        let name = format!("recv_timeout {i}");
        let who = name.clone();
        timed.push((
            name,
            i == 2,
            Box::new(move |b| receiver(&s, rx, seed, b, &who)),
        ));
        feeders.push((
            format!("recv_timeout feeder {i}"),
            i == 0,
            Box::new(move |b| feeder(tx, feed_seed, b, 2000)),
        ));
    }
    for i in 0..READERS {
        let (s, seed) = (s.clone(), seeds.next());
        let name = format!("socket reader {i}");
        let who = name.clone();
        timed.push((
            name,
            i == READERS - 1,
            Box::new(move |b| reader(&s, addr, seed, b, &who)),
        ));
    }
    let mut chaos: Vec<(String, bool, Work)> = Vec::new();
    {
        let (sc, seed) = (s.clone(), seeds.next());
        chaos.push((
            "gomaxprocs churn".into(),
            false,
            Box::new(move |b| churn(&sc, seed, b)),
        ));
        let (sc, seed) = (s.clone(), seeds.next());
        chaos.push(("hogs".into(), false, Box::new(move |b| hogs(&sc, seed, b))));
        for i in 0..2 {
            let (s, seed) = (s.clone(), seeds.next());
            let name = format!("blocker {i}");
            let who = name.clone();
            chaos.push((name, false, Box::new(move |b| blocker(&s, seed, b, &who))));
        }
    }

    let start = |list: Vec<(String, bool, Work)>| -> Vec<(Beat, Participant<()>)> {
        list.into_iter()
            .map(|(name, on_thread, work)| {
                let kind = if on_thread { "thread" } else { "goroutine" };
                let beat = dog.beat(format!("{name} ({kind})"));
                let b = beat.clone();
                (
                    beat,
                    Participant::start(on_thread, move || {
                        work(&b);
                        b.done();
                    }),
                )
            })
            .collect()
    };
    let chaos = start(chaos);
    let feeders = start(feeders);
    let timed = start(timed);
    for (_, p) in timed {
        p.join();
    }
    // The receivers are gone: the feeders see their channels close.
    for (_, p) in feeders {
        p.join();
    }
    s.stop_chaos.store(true, Ordering::Relaxed);
    for (_, p) in chaos {
        p.join();
    }
    acceptor.join().expect("the acceptor");
    drop(dog);
    goro::gomaxprocs(procs_before);

    let c = &s.counts;
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let _ = writeln!(
        std::io::stderr(),
        "stress_timers: {} sleeps; select: {} after won, {} data won; {} timers fired, {} \
         stopped; {} ticks, {} tickers stopped; recv_timeout: {} timeouts, {} values; socket \
         reads: {} timeouts, {} data; {} gomaxprocs changes, {} hogs, {} timers across \
         blocking calls",
        n(&c.sleeps),
        n(&c.after_won),
        n(&c.data_won),
        n(&c.timers_fired),
        n(&c.timers_stopped),
        n(&c.ticks),
        n(&c.tickers_stopped),
        n(&c.recv_timeouts),
        n(&c.recv_values),
        n(&c.read_timeouts),
        n(&c.read_data),
        n(&c.churns),
        n(&c.hogs),
        n(&c.blocked_timers),
    );
    // Every race had both outcomes (else the test did not test it).
    for (what, c) in [
        ("sleeps", &c.sleeps),
        ("after arms that won", &c.after_won),
        ("data arms that beat after", &c.data_won),
        ("Timers that fired", &c.timers_fired),
        ("Timers stopped", &c.timers_stopped),
        ("ticks", &c.ticks),
        ("recv_timeout timeouts", &c.recv_timeouts),
        ("recv_timeout values", &c.recv_values),
        ("socket read timeouts", &c.read_timeouts),
        ("socket reads with data", &c.read_data),
        ("gomaxprocs changes", &c.churns),
        ("timers armed before blocking", &c.blocked_timers),
    ] {
        assert!(n(c) > 0, "no {what} in the whole run");
    }
}

/// A channel capacity: unbuffered or one slot.
fn rng_cap(rng: &mut Rng) -> usize {
    rng.below(2) as usize
}
