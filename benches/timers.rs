//! Timer benches (issue 11, goals 1 and 2): how many sleeping goroutines
//! the timers wake per second, and what arming and cancelling a timer
//! costs, on one worker and on all workers (the setting is part of the
//! bench name). Only the public API is used, so the same bench measures
//! any timer design.
//!
//! - `timers_sleep_wakeups/<N>_sleepers_<setting>` (N = 1,000, 10,000,
//!   100,000): N goroutines each loop `goro::time::sleep(1 ms)`, started
//!   once per configuration and kept running while criterion measures;
//!   one iteration is one wake-up (criterion's throughput is wake-ups per
//!   second). Every wake-up adds one to a shared counter, and the wake-up
//!   that reaches the measurement's target sends the time on a channel:
//!   that counter is the harness's own cost, the same for every design.
//! - `timers_add_cancel/timer_new_stop_<setting>_<P>_pending` (P = 0,
//!   10,000 other timers armed an hour ahead): `Timer::new(60 s)` then
//!   `stop()` (which must report the timer was still pending), split over
//!   one goroutine per worker; one iteration is one add/cancel pair.
//! - `timers_woken_early/<recv|recv_timeout>_<setting>`: pairs of
//!   goroutines (one pair per worker) ping-pong over unbuffered channels,
//!   receiving with `recv()` or with `recv_timeout(60 s)`, which arms a
//!   timer at every wait and cancels it when the value comes first (what
//!   every socket read with a deadline does); one iteration is one round
//!   trip, so the difference between the two is two add/cancel pairs on
//!   the park path.
//!
//! ```text
//! cargo bench --bench timers                          # everything (~1 min)
//! cargo bench --bench timers -- timers_sleep_wakeups  # one group
//! cargo run --release -p goro-compare --example report -- scale       # beside tokio and Go
//! ```
//!
//! Under `cargo test --benches` every bench runs once (a few seconds).

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use goro::time::Timer;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SLEEPERS: [usize; 3] = [1_000, 10_000, 100_000];
const NAP: Duration = Duration::from_millis(1);
/// Far enough ahead never to fire during a bench.
const FAR: Duration = Duration::from_secs(60);

/// ("one_worker", 1) and ("all_workers", cpus).
fn settings() -> [(&'static str, usize); 2] {
    [("one_worker", 1), ("all_workers", goro::num_cpu())]
}

/// A value alone on its cache line pair, so the counter the sleepers bump
/// does not share a line with the target they read.
#[repr(align(128))]
struct Padded<T>(T);

/// What the sleepers and the measuring thread share.
struct Shared {
    wakeups: Padded<AtomicU64>,
    /// The wake-up count that ends the current measurement (u64::MAX
    /// between measurements).
    target: Padded<AtomicU64>,
    /// Set by the wake-up that reached `target`, so only one reports it.
    reported: AtomicBool,
    stop: AtomicBool,
    reached: goro::Sender<Instant>,
}

/// `n` goroutines looping `sleep(1 ms)` until dropped.
struct SleepLoad {
    shared: Arc<Shared>,
    reached: goro::Receiver<Instant>,
    sleepers: Vec<goro::JoinHandle<()>>,
}

impl SleepLoad {
    fn start(n: usize) -> SleepLoad {
        let (tx, rx) = goro::chan(1);
        let shared = Arc::new(Shared {
            wakeups: Padded(AtomicU64::new(0)),
            target: Padded(AtomicU64::new(u64::MAX)),
            reported: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            reached: tx,
        });
        let sleepers = (0..n)
            .map(|_| {
                let s = shared.clone();
                goro::go!(move || {
                    while !s.stop.load(Ordering::Relaxed) {
                        goro::time::sleep(NAP);
                        let seen = s.wakeups.0.fetch_add(1, Ordering::Relaxed) + 1;
                        if seen >= s.target.0.load(Ordering::Acquire)
                            && !s.reported.swap(true, Ordering::AcqRel)
                        {
                            let _ = s.reached.try_send(Instant::now());
                        }
                    }
                })
            })
            .collect();
        SleepLoad {
            shared,
            reached: rx,
            sleepers,
        }
    }

    /// The time the sleepers take to wake `count` more times.
    fn wakeups(&self, count: u64) -> Duration {
        let s = &self.shared;
        s.target.0.store(u64::MAX, Ordering::Release);
        while self.reached.try_recv().is_ok() {}
        s.reported.store(false, Ordering::Release);
        let base = s.wakeups.0.load(Ordering::Relaxed);
        let start = Instant::now();
        s.target.0.store(base + count.max(1), Ordering::Release);
        let end = self.reached.recv().expect("the sleepers hold the sender");
        end.saturating_duration_since(start)
    }
}

impl Drop for SleepLoad {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for h in self.sleepers.drain(..) {
            h.join().expect("a sleeper panicked");
        }
    }
}

fn sleep_wakeups(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers_sleep_wakeups");
    group
        .throughput(Throughput::Elements(1))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (label, procs) in settings() {
        let previous = goro::gomaxprocs(procs);
        for n in SLEEPERS {
            let load = SleepLoad::start(n);
            group.bench_function(BenchmarkId::new(format!("{n}_sleepers"), label), |b| {
                b.iter_custom(|iters| load.wakeups(iters))
            });
            drop(load);
        }
        goro::gomaxprocs(previous);
    }
    group.finish();
}

/// Runs `work(share)` in `goroutines` goroutines at once, splitting
/// `iters` between them; returns the wall time until all are done.
fn split(iters: u64, goroutines: usize, work: fn(u64)) -> Duration {
    goro::run(move || {
        let (start_tx, start_rx) = goro::chan::<()>(0);
        let n = goroutines as u64;
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let share = iters / n + u64::from(k < iters % n);
                let start_rx = start_rx.clone();
                goro::go!(move || {
                    let _ = start_rx.recv(); // closed: go
                    work(share);
                })
            })
            .collect();
        let start = Instant::now();
        drop(start_tx);
        for h in handles {
            h.join().expect("a timer goroutine panicked");
        }
        start.elapsed()
    })
}

fn timer_new_stop(pairs: u64) {
    for _ in 0..pairs {
        let t = Timer::new(FAR);
        assert!(t.stop(), "a timer 60 s ahead was not pending");
    }
}

fn add_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers_add_cancel");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (label, procs) in settings() {
        let previous = goro::gomaxprocs(procs);
        for pending in [0, 10_000] {
            let background: Vec<Timer> = (0..pending)
                .map(|_| Timer::new(Duration::from_secs(3600)))
                .collect();
            group.bench_function(
                BenchmarkId::new("timer_new_stop", format!("{label}_{pending}_pending")),
                |b| b.iter_custom(|iters| split(iters, procs, timer_new_stop)),
            );
            drop(background);
        }
        goro::gomaxprocs(previous);
    }
    group.finish();
}

/// `pairs` ping-pong pairs, `iters` round trips between them, receiving
/// with a timeout or without.
fn ping_pong(iters: u64, pairs: usize, with_timeout: bool) -> Duration {
    fn recv(rx: &goro::Receiver<u64>, with_timeout: bool) -> u64 {
        if with_timeout {
            rx.recv_timeout(FAR)
                .expect("the partner answers long before 60 s")
        } else {
            rx.recv().expect("the partner answers")
        }
    }
    goro::run(move || {
        let (start_tx, start_rx) = goro::chan::<()>(0);
        let n = pairs as u64;
        let mut handles = Vec::new();
        for k in 0..n {
            let rounds = iters / n + u64::from(k < iters % n);
            let (ping_tx, ping_rx) = goro::chan::<u64>(0);
            let (pong_tx, pong_rx) = goro::chan::<u64>(0);
            let start = start_rx.clone();
            handles.push(goro::go!(move || {
                let _ = start.recv();
                for i in 0..rounds {
                    ping_tx.send(i).unwrap();
                    assert_eq!(recv(&pong_rx, with_timeout), i);
                }
            }));
            handles.push(goro::go!(move || {
                for _ in 0..rounds {
                    let v = recv(&ping_rx, with_timeout);
                    pong_tx.send(v).unwrap();
                }
            }));
        }
        let start = Instant::now();
        drop(start_tx);
        for h in handles {
            h.join().expect("a ping-pong goroutine panicked");
        }
        start.elapsed()
    })
}

fn woken_early(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers_woken_early");
    group
        .throughput(Throughput::Elements(1))
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (label, procs) in settings() {
        let previous = goro::gomaxprocs(procs);
        for (name, with_timeout) in [("recv", false), ("recv_timeout", true)] {
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter_custom(|iters| ping_pong(iters, procs, with_timeout))
            });
        }
        goro::gomaxprocs(previous);
    }
    group.finish();
}

criterion_group!(benches, sleep_wakeups, add_cancel, woken_early);
criterion_main!(benches);
