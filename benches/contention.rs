//! Contention benches: N contenders (N = 1, 2, 4, 8, 16) hammer one of
//! goro's process-wide structures through the public API, and the bench
//! reports operations per second *per contender*. ARCHITECTURE.md's "At 64
//! cores" section reads these numbers.
//!
//! Every group runs the same storm: N contenders (goroutines, or plain
//! threads) wait at a start line, then each performs `iters` operations.
//! Each sample runs in a fresh child process (this bench, started again
//! with `GOMAXPROCS=N`): the runtime never changes `gomaxprocs` under a
//! storm, and every sample starts from the same state (each child first
//! runs an unmeasured storm of up to 200 operations per contender, so
//! thread starts and fresh stack pages stay out of the sample; a child
//! that takes over 60 s fails the bench as stuck). In one process, lowering `gomaxprocs`
//! from 16 to 1 between storms left a goroutine spawned right after it
//! runnable and never run in 5 of 30 `--test` runs (a lost wake-up of the
//! runtime's, reported in ARCHITECTURE.md); one process per sample also
//! keeps that out of these numbers. One sample's time is from the first
//! contender's start to the last one's finish, so
//! criterion's time per iteration is how long each contender needs per
//! operation while N run at once (`Throughput::Elements(1)`: its `thrpt`
//! is ops/s per contender). Each case also prints the median, min and max
//! of ops/s per contender over its samples, and the total (x N).
//!
//! | group | operation | what it contends on |
//! |---|---|---|
//! | `contention_baseline` | `gosched()` | nothing shared but read-mostly words (the worker's own queue; the injector's emptiness is read) |
//! | `contention_spawn` | `spawn(|| ()).join()` from a goroutine | `NEXT_ID` (one atomic), the spawning worker's registry shard, the worker's stack cache, `wakep` |
//! | `contention_stack_pool` | same with `Builder::stack_size(192 KiB)` | as `spawn`, plus the global stack pool mutex twice (a size other than the default bypasses the worker caches) |
//! | `contention_outside_wake` | channel round trip between a plain thread and its own goroutine | the global injector (a wake from outside a worker), `wakep_slow` and idle workers' `sched` mutex, `npidle`/`nmspinning` |
//! | `contention_poller` | byte round trip over a goro `UnixStream` pair between two goroutines | the one mio poller (a mutex, try-locked) and the registration table's mutex, taken per event |
//! | `contention_blocking` | `blocking(|| ())` from a goroutine | the blocking pool's mutex and condvar, then the injector (a pool thread wakes the caller) |
//! | `contention_timers/add_cancel` | `Timer::new(1 h)` then drop (arm + cancel) | the timers' lock (one map for the process), twice |
//! | `contention_timers/sleep_1us` | `sleep(1 µs)` | the timers' lock (arm, fire, cancel), the timer watcher, `sched` |
//!
//! The timers have their own group so that a before/after comparison of a
//! timer change is one filter: `cargo bench --bench contention --
//! contention_timers`. `add_cancel` keeps one earlier timer armed through
//! the storm, so no arm is the earliest and none wakes the timer
//! watcher: it measures the timers' lock alone.
//!
//! What the public API cannot isolate: the registry shards alone (every
//! spawn also takes an id, a stack and a queue slot; `stack_pool` minus
//! `spawn` is the pool's share), and the worker list's `RwLock` that
//! spinning workers read on every steal attempt (no public operation makes
//! workers spin without also doing something else).
//!
//! `contention_blocking` runs last: today it trips a lost wake-up (a
//! goroutine stays parked after its job finished, and sysmon reports a
//! deadlock; ARCHITECTURE.md, "At 64 cores"), and a failed child ends the
//! bench, so the other groups report first.
//!
//! On a machine with fewer cores than N, the contenders oversubscribe
//! them: the numbers then show lock hold times, convoys (a holder
//! descheduled while others queue) and futex hand-offs, not cache-line
//! traffic between cores. Per-contender ops/s must fall as N grows past the
//! core count; what tells contention is the total (x N) falling.
//!
//! ```text
//! cargo bench --bench contention                       # everything (~1 min)
//! cargo bench --bench contention -- contention_timers  # the timer cases
//! ```
//!
//! Under `cargo test --benches` every case runs once (about a second).

#[macro_use]
#[path = "../examples/support/out.rs"]
mod out;

use criterion::{criterion_group, BenchmarkGroup, Criterion, SamplingMode, Throughput};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many contenders each case runs.
const CONTENDERS: [usize; 5] = [1, 2, 4, 8, 16];

/// A stack size other than the default (256 KiB unless `GORO_STACK_SIZE`
/// says otherwise): such stacks come from the global pool on every spawn.
const POOL_STACK_SIZE: usize = 192 * 1024;

/// Where the contenders run.
#[derive(Clone, Copy)]
enum On {
    Goroutines,
    Threads,
}

/// One contender's operation, and the helper goroutine it talks to, if
/// any (joined after the storm: it ends when the operation is dropped).
struct Contender<F> {
    op: F,
    partner: Option<goro::JoinHandle<()>>,
}

impl<F> Contender<F> {
    fn alone(op: F) -> Self {
        Contender { op, partner: None }
    }
}

/// Runs `n` contenders `on` goroutines or threads, each doing `iters`
/// operations made by `make(i)`. Returns the time
/// from the first contender's start to the last one's finish.
fn storm<F>(n: usize, on: On, iters: u64, make: impl Fn(usize) -> Contender<F>) -> Duration
where
    F: FnMut() + Send + 'static,
{
    let start_line = Arc::new(goro::sync::Barrier::new(n));
    let mut partners = Vec::new();
    let runs: Vec<_> = (0..n)
        .map(|i| {
            let Contender { mut op, partner } = make(i);
            partners.extend(partner);
            let start_line = start_line.clone();
            let body = move || {
                start_line.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    op();
                }
                (start, Instant::now())
            };
            match on {
                On::Goroutines => Run::Goroutine(goro::spawn(body)),
                On::Threads => Run::Thread(std::thread::spawn(body)),
            }
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = runs.into_iter().map(Run::join).collect();
    for p in partners {
        p.join().expect("a partner goroutine panicked");
    }
    let first = spans.iter().map(|s| s.0).min().expect("n > 0");
    let last = spans.iter().map(|s| s.1).max().expect("n > 0");
    last - first
}

enum Run {
    Goroutine(goro::JoinHandle<(Instant, Instant)>),
    Thread(std::thread::JoinHandle<(Instant, Instant)>),
}

impl Run {
    fn join(self) -> (Instant, Instant) {
        match self {
            Run::Goroutine(h) => h.join().expect("a contender goroutine panicked"),
            Run::Thread(h) => h.join().expect("a contender thread panicked"),
        }
    }
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(1));
}

/// The cases, each a storm of one operation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Baseline,
    Spawn,
    StackPool,
    OutsideWake,
    Poller,
    TimerAddCancel,
    TimerSleep,
    Blocking,
}

impl Case {
    const ALL: [Case; 8] = [
        Case::Baseline,
        Case::Spawn,
        Case::StackPool,
        Case::OutsideWake,
        Case::Poller,
        Case::TimerAddCancel,
        Case::TimerSleep,
        Case::Blocking,
    ];

    /// Criterion group and function name.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Case::Baseline => ("contention_baseline", "gosched"),
            Case::Spawn => ("contention_spawn", "spawn_join"),
            Case::StackPool => ("contention_stack_pool", "spawn_join_192k"),
            Case::OutsideWake => ("contention_outside_wake", "thread_goroutine_rt"),
            Case::Poller => ("contention_poller", "unix_pair_rt"),
            Case::TimerAddCancel => ("contention_timers", "add_cancel"),
            Case::TimerSleep => ("contention_timers", "sleep_1us"),
            Case::Blocking => ("contention_blocking", "empty_job"),
        }
    }

    /// Runs the storm in this process (the child's side).
    fn run(self, n: usize, iters: u64) -> Duration {
        match self {
            Case::Baseline => storm(n, On::Goroutines, iters, |_| {
                Contender::alone(goro::gosched)
            }),
            Case::Spawn => storm(n, On::Goroutines, iters, |_| {
                Contender::alone(|| goro::spawn(|| ()).join().expect("an empty goroutine"))
            }),
            Case::StackPool => storm(n, On::Goroutines, iters, |_| {
                Contender::alone(|| {
                    goro::Builder::new()
                        .stack_size(POOL_STACK_SIZE)
                        .spawn(|| ())
                        .expect("a 192 KiB stack")
                        .join()
                        .expect("an empty goroutine")
                })
            }),
            Case::OutsideWake => storm(n, On::Threads, iters, |_| outside_wake()),
            Case::Poller => storm(n, On::Goroutines, iters, |_| poller()),
            Case::TimerAddCancel => {
                // Earlier than every timer the storm arms: none of them
                // becomes the earliest, so none wakes the timer watcher
                // (see the module docs).
                let keeper = goro::time::Timer::new(Duration::from_secs(1800));
                let took = storm(n, On::Goroutines, iters, |_| {
                    Contender::alone(|| drop(goro::time::Timer::new(Duration::from_secs(3600))))
                });
                assert!(keeper.stop(), "the keeper timer was still armed");
                took
            }
            Case::TimerSleep => storm(n, On::Goroutines, iters, |_| {
                Contender::alone(|| goro::time::sleep(Duration::from_micros(1)))
            }),
            Case::Blocking => storm(n, On::Goroutines, iters, |_| {
                Contender::alone(|| goro::blocking(|| ()))
            }),
        }
    }
}

/// A plain thread's round trip with its own goroutine over two unbuffered
/// channels: every hop to the goroutine is a wake from outside a worker.
fn outside_wake() -> Contender<impl FnMut() + Send + 'static> {
    let (to_g, from_t) = goro::chan::<u8>(0);
    let (to_t, from_g) = goro::chan::<u8>(0);
    let partner = goro::go!(move || {
        for v in &from_t {
            if to_t.send(v).is_err() {
                break;
            }
        }
    });
    Contender {
        op: move || {
            to_g.send(1).expect("the partner goroutine is alive");
            from_g.recv().expect("the partner goroutine answers");
        },
        partner: Some(partner),
    }
}

/// A one-byte round trip with a partner goroutine over a socket pair:
/// every hop is a readiness event through the poller.
fn poller() -> Contender<impl FnMut() + Send + 'static> {
    let (mut near, mut far) = goro::net::unix::UnixStream::pair().expect("a socket pair");
    let partner = goro::go!(move || {
        let mut byte = [0u8; 1];
        // Echo until the contender's end closes (read returns 0).
        while far.read(&mut byte).expect("partner read") == 1 {
            far.write_all(&byte).expect("partner write");
        }
    });
    Contender {
        op: move || {
            let mut byte = [7u8; 1];
            near.write_all(&byte).expect("contender write");
            near.read_exact(&mut byte).expect("contender read");
        },
        partner: Some(partner),
    }
}

/// Set in a child process: "<case index> <N> <iterations>".
const CHILD_CASE: &str = "GORO_CONTENTION_CASE";

/// Operations per contender of the child's unmeasured first storm.
const WARM_UP_OPS: u64 = 200;

/// How long a child may take before the bench calls it stuck.
const CHILD_LIMIT: Duration = Duration::from_secs(60);

/// Runs one sample of `case` in a fresh process started with
/// `GOMAXPROCS=n`, and returns the storm's time it reports. A fresh
/// process per sample means `gomaxprocs` never changes while goroutines
/// run, and every sample starts from the same runtime state.
fn in_child(case: Case, n: usize, iters: u64) -> Duration {
    let index = Case::ALL.iter().position(|&c| c == case).expect("listed");
    let mut child = Command::new(std::env::current_exe().expect("the bench's own path"))
        .env(CHILD_CASE, format!("{index} {n} {iters}"))
        .env("GOMAXPROCS", n.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start the bench's child process");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if started.elapsed() > CHILD_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{case:?} with {n} contenders x {iters}: the child was stuck for {CHILD_LIMIT:?} (a lost wake-up?)");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut out)
        .expect("the child's report");
    assert!(
        status.success(),
        "{case:?} with {n} contenders x {iters}: the child failed ({status}); its stderr is above"
    );
    let nanos: u64 = out
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the child reported {out:?}, not nanoseconds"));
    Duration::from_nanos(nanos)
}

/// The child's side: runs the sample `spec` describes and prints its time
/// in nanoseconds.
fn child(spec: &str) {
    let fields: Vec<u64> = spec
        .split_whitespace()
        .map(|f| f.parse().expect("a number"))
        .collect();
    let [index, n, iters] = fields[..] else {
        panic!("{CHILD_CASE} must be \"<case> <N> <iterations>\", not {spec:?}");
    };
    let case = Case::ALL[index as usize];
    // A storm of the same shape first: thread starts, slab maps and first
    // page faults stay out of the measured one.
    case.run(n as usize, iters.min(WARM_UP_OPS));
    let took = case.run(n as usize, iters);
    say!("{}", took.as_nanos());
}

/// Benches `case` for every N in [`CONTENDERS`] as `<name>/<N>`, and
/// prints ops/s per contender (median, min, max over the samples) and in
/// total.
fn cases(c: &mut Criterion, case: Case) {
    let (group, name) = case.names();
    let mut g = c.benchmark_group(group);
    configure(&mut g);
    for n in CONTENDERS {
        // (iterations, ops/s per contender) of every call; the measured
        // samples are the calls with the last call's iteration count
        // (flat sampling), the warm-up calls differ.
        let mut calls: Vec<(u64, f64)> = Vec::new();
        g.bench_function(format!("{name}/{n}"), |b| {
            b.iter_custom(|iters| {
                let took = in_child(case, n, iters);
                calls.push((iters, iters as f64 / took.as_secs_f64()));
                took
            })
        });
        report(group, name, n, &calls);
    }
    g.finish();
}

fn report(group: &str, name: &str, n: usize, calls: &[(u64, f64)]) {
    let Some(&(last, _)) = calls.last() else {
        return;
    };
    let mut rates: Vec<f64> = calls.iter().filter(|c| c.0 == last).map(|c| c.1).collect();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    say!(
        "{group}/{name} N={n}: {:.0} ops/s per contender (min {:.0}, max {:.0}, {} samples of {last}), total {:.0} ops/s",
        median,
        rates[0],
        rates[rates.len() - 1],
        rates.len(),
        median * n as f64
    );
}

fn all_cases(c: &mut Criterion) {
    for case in Case::ALL {
        cases(c, case);
    }
}

criterion_group!(benches, all_cases);

/// criterion_main!, after answering a child's role (one sample).
fn main() {
    if let Ok(spec) = std::env::var(CHILD_CASE) {
        child(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
