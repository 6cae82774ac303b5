//! The `process` section of the report (issue 12's child-process goals):
//!
//! * 50 children of `sleep 0.2`, each spawned and waited for by its own
//!   goroutine with `goro::process` on 2 workers, beside the same 50 run by
//!   goroutines through `std::process` (the blocking waits goro had
//!   before), by 50 std threads and by 50 tokio tasks with
//!   `tokio::process` (2 workers): wall time, a 5 ms ticker's worst gap
//!   meanwhile (a goroutine for goro, a task for tokio) and the most
//!   threads the process had at once beyond those it had before (sampled
//!   every 2 ms);
//! * 1,000 short children (`true`, output captured) the same four ways:
//!   children per second;
//! * the time one `Command::spawn` takes with 0, 1,000 and 10,000 parked
//!   goroutines, beside a bare `fork()` (whose child only `_exit`s): std's
//!   spawn is a `CLONE_VM | CLONE_VFORK` clone, which copies no page
//!   tables, where fork copies those of every touched goroutine stack.
//!
//! Every case runs `reps` times, the contenders interleaved within each
//! repetition; the table prints the median with the smallest and largest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Workers (goro) and worker threads (tokio).
pub const WORKERS: usize = 2;
/// Children of `sleep 0.2` in the first load.
pub const SLEEPERS: usize = 50;
/// Short children in the second load.
pub const SHORT: usize = 1_000;
/// Parked goroutines beside the spawn-time measurement.
pub const PARKED: [usize; 3] = [0, 1_000, 10_000];
/// Spawns (and forks) per measurement.
pub const SPAWNS: usize = 100;

/// Who runs the children.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Contender {
    /// One goroutine per child, `goro::process`.
    Goro,
    /// One goroutine per child, `std::process` (waits block the worker).
    GoroStd,
    /// One std thread per child, `std::process`.
    Threads,
    /// One tokio task per child, `tokio::process`.
    Tokio,
}

impl Contender {
    pub const ALL: [Contender; 4] = [
        Contender::Goro,
        Contender::GoroStd,
        Contender::Threads,
        Contender::Tokio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Contender::Goro => "goro::process, goroutines",
            Contender::GoroStd => "std::process, goroutines",
            Contender::Threads => "std::process, threads",
            Contender::Tokio => "tokio::process, tasks",
        }
    }
}

/// One run of a load.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub wall: Duration,
    /// The ticker's worst gap (none for std threads: no ticker runs).
    pub worst_gap: Option<Duration>,
    /// The most threads the process had at once, less those it had
    /// before (goro's workers and spares, tokio's workers, this thread).
    pub threads_added: usize,
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Runs `load` (which returns its wall time and ticker gap) while a
/// thread samples the thread count.
fn sampled(load: impl FnOnce() -> (Duration, Option<Duration>)) -> Run {
    let before = threads();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while !stop.load(Ordering::Relaxed) {
                most = most.max(threads());
                std::thread::sleep(Duration::from_millis(2));
            }
            most
        })
    };
    let (wall, worst_gap) = load();
    stop.store(true, Ordering::Relaxed);
    Run {
        wall,
        worst_gap,
        // The sampler is not part of the load.
        threads_added: (sampler.join().unwrap() - 1).saturating_sub(before),
    }
}

/// `n` children of `program args`, output captured, by `who`.
pub fn run(
    who: Contender,
    n: usize,
    program: &'static str,
    args: &'static [&'static str],
    rt: &tokio::runtime::Runtime,
) -> Run {
    match who {
        Contender::Goro | Contender::GoroStd => sampled(|| {
            goro::run(move || {
                let stop = Arc::new(AtomicBool::new(false));
                let ticker = {
                    let stop = stop.clone();
                    goro::go!(move || {
                        let (mut worst, mut last) = (Duration::ZERO, Instant::now());
                        while !stop.load(Ordering::Relaxed) {
                            goro::time::sleep(Duration::from_millis(5));
                            worst = worst.max(last.elapsed());
                            last = Instant::now();
                        }
                        worst
                    })
                };
                goro::time::sleep(Duration::from_millis(20));
                let started = Instant::now();
                let children: Vec<_> = (0..n)
                    .map(|_| {
                        goro::go!(move || {
                            let ok = if who == Contender::Goro {
                                goro::process::Command::new(program).args(args).output()
                            } else {
                                std::process::Command::new(program).args(args).output()
                            };
                            assert!(ok.expect("run the child").status.success());
                        })
                    })
                    .collect();
                for c in children {
                    c.join().unwrap();
                }
                let wall = started.elapsed();
                stop.store(true, Ordering::Relaxed);
                (wall, Some(ticker.join().unwrap()))
            })
        }),
        Contender::Threads => sampled(|| {
            let started = Instant::now();
            let children: Vec<_> = (0..n)
                .map(|_| {
                    std::thread::spawn(move || {
                        let out = std::process::Command::new(program).args(args).output();
                        assert!(out.expect("run the child").status.success());
                    })
                })
                .collect();
            for c in children {
                c.join().unwrap();
            }
            (started.elapsed(), None)
        }),
        Contender::Tokio => sampled(|| {
            rt.block_on(async move {
                let stop = Arc::new(AtomicBool::new(false));
                let ticker = {
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        let (mut worst, mut last) = (Duration::ZERO, Instant::now());
                        while !stop.load(Ordering::Relaxed) {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            worst = worst.max(last.elapsed());
                            last = Instant::now();
                        }
                        worst
                    })
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
                let started = Instant::now();
                let children: Vec<_> = (0..n)
                    .map(|_| {
                        tokio::spawn(async move {
                            let out = tokio::process::Command::new(program)
                                .args(args)
                                .output()
                                .await;
                            assert!(out.expect("run the child").status.success());
                        })
                    })
                    .collect();
                for c in children {
                    c.await.unwrap();
                }
                let wall = started.elapsed();
                stop.store(true, Ordering::Relaxed);
                (wall, Some(ticker.await.unwrap()))
            })
        }),
    }
}

/// The 2-worker tokio runtime the tokio contender runs on.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Goroutines parked on a channel until the returned sender is dropped.
pub fn park_goroutines(n: usize) -> (goro::Sender<()>, Vec<goro::JoinHandle<()>>) {
    let (tx, rx) = goro::chan::<()>(0);
    let parked = (0..n)
        .map(|_| {
            let rx = rx.clone();
            goro::go!(move || {
                let _ = rx.recv();
            })
        })
        .collect();
    // Let them all reach the park.
    while goro::num_goroutine() < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(20));
    (tx, parked)
}

/// The median time of one `goro::process::Command::spawn` of `true` (the
/// wait after it not counted), over [`SPAWNS`] spawns.
pub fn spawn_time() -> Duration {
    let mut times: Vec<Duration> = (0..SPAWNS)
        .map(|_| {
            let started = Instant::now();
            let mut child = goro::process::Command::new("true")
                .spawn()
                .expect("spawn true");
            let took = started.elapsed();
            child.wait().expect("wait for true");
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// The median time of one bare `fork()` whose child `_exit`s at once
/// (the parent's side: until fork returns), over [`SPAWNS`] forks.
pub fn fork_time() -> Duration {
    let mut times: Vec<Duration> = (0..SPAWNS)
        .map(|_| {
            let started = Instant::now();
            // SAFETY: the child calls only `_exit`, which is
            // async-signal-safe, so forking a multi-threaded process is
            // sound; the parent reaps it below.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: see above: the child's only call.
                unsafe { libc::_exit(0) };
            }
            let took = started.elapsed();
            assert!(pid > 0, "fork failed: {}", std::io::Error::last_os_error());
            let mut status = 0;
            // SAFETY: `pid` is our child; `status` is a valid out-pointer.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Repetitions of every case.
pub const REPS: usize = 5;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// Median, smallest and largest.
fn spread<T: Copy + Ord>(v: &[T]) -> (T, T, T) {
    let mut v = v.to_vec();
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Prints the section (see the module docs).
pub fn section() {
    let previous = goro::gomaxprocs(WORKERS);
    let rt = tokio_runtime();
    say!();
    say!(
        "process report: {} CPU(s); goro gomaxprocs({WORKERS}), tokio {WORKERS} workers; \
         median (min-max) of {REPS} runs, contenders interleaved",
        goro::num_cpu()
    );
    say!("command: cargo run --release -p goro-compare --example report -- process");
    let loads: [(&str, usize, &'static str, &'static [&'static str]); 2] = [
        ("sleep 0.2", SLEEPERS, "sleep", &["0.2"]),
        ("true", SHORT, "true", &[]),
    ];
    for (what, n, program, args) in loads {
        say!();
        say!("{n} children of `{what}`, each run with output() by its own goroutine/thread/task:");
        say!(
            "{:<27} {:>24} {:>12} {:>26} {:>14}",
            "contender",
            "wall ms",
            "children/s",
            "5 ms ticker worst gap ms",
            "threads added"
        );
        let mut runs: Vec<Vec<Run>> = vec![Vec::new(); Contender::ALL.len()];
        for _ in 0..REPS {
            for (i, who) in Contender::ALL.into_iter().enumerate() {
                runs[i].push(run(who, n, program, args, &rt));
            }
        }
        for (who, runs) in Contender::ALL.into_iter().zip(&runs) {
            let walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
            let (wall, lo, hi) = spread(&walls);
            let rate = n as f64 / wall.as_secs_f64();
            let gaps: Vec<Duration> = runs.iter().filter_map(|r| r.worst_gap).collect();
            let gap = if gaps.is_empty() {
                "-".to_string()
            } else {
                let (g, glo, ghi) = spread(&gaps);
                format!("{} ({}-{})", ms(g), ms(glo), ms(ghi))
            };
            let threads: Vec<usize> = runs.iter().map(|r| r.threads_added).collect();
            let (t, tlo, thi) = spread(&threads);
            say!(
                "{:<27} {:>24} {:>12.0} {:>26} {:>14}",
                who.name(),
                format!("{} ({}-{})", ms(wall), ms(lo), ms(hi)),
                rate,
                gap,
                format!("{t} ({tlo}-{thi})")
            );
        }
    }
    drop(rt);
    say!();
    say!(
        "One spawn beside parked goroutines (median of {SPAWNS} per run; parked counts in rising \
         order, each set parked while measured):"
    );
    say!(
        "{:>8} {:>30} {:>30}",
        "parked",
        "goro Command::spawn µs",
        "fork() µs (child _exits)"
    );
    for parked in PARKED {
        let (release, handles) = park_goroutines(parked);
        let mut spawns = Vec::new();
        let mut forks = Vec::new();
        for _ in 0..REPS {
            spawns.push(spawn_time());
            forks.push(fork_time());
        }
        drop(release);
        for h in handles {
            h.join().unwrap();
        }
        let (s, slo, shi) = spread(&spawns);
        let (f, flo, fhi) = spread(&forks);
        say!(
            "{parked:>8} {:>30} {:>30}",
            format!("{} ({}-{})", us(s), us(slo), us(shi)),
            format!("{} ({}-{})", us(f), us(flo), us(fhi))
        );
    }
    goro::gomaxprocs(previous);
}
