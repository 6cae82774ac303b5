//! The scheduling loads behind `benches/sched.rs` (criterion) and the
//! `sched` section of `benches/compare/examples/report.rs` (one table): what preemption,
//! the CPU-token cap and the blocked-worker hand-off buy a program.
//!
//! - [`probe`]: a goroutine sleeps 1 ms over and over beside N CPU hogs
//!   (goroutines that compute and never call goro); its wake-up lateness
//!   (time asleep minus 1 ms) is how long a ready goroutine waits for a
//!   thread. Optionally a plain thread samples `/proc/self/task/*/stat`
//!   every ~1 ms and counts the `goro-worker-*` threads in state `R`: at
//!   most `gomaxprocs` should be executing goroutine code at once.
//! - [`handoff`]: 200 goroutines each block their thread in
//!   `std::thread::sleep(200 ms)` on `gomaxprocs(2)`; how long until all
//!   are done (hand-off of blocked workers) and the worst gap of a 5 ms
//!   ticker goroutine meanwhile (do timers and other goroutines keep going).
//! - [`EchoServer`] + [`echo`]: an echo server in a child process (this
//!   binary re-executed with [`ROLE_ENV`]`=echo_server`) with 0 or 4 hogs
//!   among its goroutines, driven by `support/loadgen.rs` from this process:
//!   p99 round trip of 100 connections. The client is a separate process so
//!   that the hogs slow only the server, as they would in production, and
//!   the client's own scheduling is not charged to them.
//!
//! [`probe_child`] runs a probe case in a child process (same re-execution,
//! [`ROLE_ENV`]`=probe`): `GORO_ASYNCPREEMPT` is read once per process, so
//! the rejected design (no signal pausing: hogs only handed off, every goro
//! call a cooperative check) needs a process of its own, and a fresh
//! process per case keeps one case's extra threads out of the next.
//!
//! Uses `support/loadgen.rs`, which prints with `say!`: include
//! `support/out.rs` (with `#[macro_use]`) and `support/loadgen.rs` as
//! `loadgen` at the crate root before this module.

#![allow(dead_code)]

use crate::child::ChildServer;
use crate::loadgen;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Environment variable naming a helper role of this binary: `probe`
/// (with [`PROBE_ENV`]) or `echo_server` (with [`HOGS_ENV`]).
pub const ROLE_ENV: &str = "GORO_SCHED_ROLE";
/// A probe child's case: `hogs,workers,max_probes,max_ms,limit_ms`.
pub const PROBE_ENV: &str = "GORO_SCHED_PROBE";
/// The echo server child's hog count and workers: `hogs,workers`.
pub const HOGS_ENV: &str = "GORO_SCHED_HOGS";

/// The probe's sleep.
pub const PROBE_SLEEP: Duration = Duration::from_millis(1);
/// How long the hogs run before the probe starts: long enough for every
/// worker to be busy with one.
pub const SETTLE: Duration = Duration::from_millis(20);

/// CPU time of this process (all threads).
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec we own.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU hogs: goroutines that compute until stopped and never call goro (no
/// scheduling point, no cooperative check), each counting its rounds of
/// 1,000 multiply-adds.
pub struct Hogs {
    stop: Arc<AtomicBool>,
    handles: Vec<goro::JoinHandle<u64>>,
}

impl Hogs {
    /// Starts `n` hogs; call from a goroutine.
    pub fn start(n: usize) -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = (0..n)
            .map(|_| {
                let stop = stop.clone();
                goro::go!(move || {
                    let mut x = 1u64;
                    let mut rounds = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..1000 {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        }
                        std::hint::black_box(x);
                        rounds += 1;
                    }
                    rounds
                })
            })
            .collect();
        Hogs { stop, handles }
    }

    /// Stops and joins them; returns how many ran at all.
    pub fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.handles
            .into_iter()
            .map(|h| h.join().expect("a hog panicked"))
            .filter(|&r| r > 0)
            .count()
    }
}

/// What the thread sampler saw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Running {
    /// Most `goro-worker-*` threads in state `R` in one sample.
    pub max: usize,
    /// Their mean over the samples.
    pub mean: f64,
    /// Most `goro-worker-*` threads alive in one sample.
    pub threads: usize,
    pub samples: u64,
    /// Samples with more threads in `R` than the limit given to
    /// [`Sampler::start`] (gomaxprocs).
    pub over: u64,
    /// CPU time of the sampler thread itself (left out of CPU/wall).
    pub cpu: Duration,
}

/// A plain thread that counts running goroutine workers every ~1 ms.
///
/// State `R` is "running or runnable" (on a CPU or waiting for one), so on
/// a loaded machine it counts the threads that want to execute goroutine
/// code; a worker paused in the preemption signal handler, lending its
/// CPU token or parked waits on a futex (`S`). A worker that is looking
/// for work also shows `R`, so the count can only overstate.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Running>,
}

impl Sampler {
    /// Starts sampling; samples with more than `limit` running workers
    /// are counted in [`Running::over`].
    pub fn start(limit: usize) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sched-sampler".into())
            .spawn(move || {
                let mut out = Running::default();
                let mut sum = 0u64;
                let mut buf = String::new();
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                    let (running, threads) = count_running_workers(&mut buf);
                    out.max = out.max.max(running);
                    out.threads = out.threads.max(threads);
                    sum += running as u64;
                    out.samples += 1;
                    out.over += (running > limit) as u64;
                }
                out.mean = sum as f64 / out.samples.max(1) as f64;
                out.cpu = thread_cpu();
                out
            })
            .expect("start the sampler thread");
        Sampler { stop, thread }
    }

    pub fn stop(self) -> Running {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler thread")
    }
}

/// (`goro-worker-*` threads in state `R`, all `goro-worker-*` threads).
fn count_running_workers(buf: &mut String) -> (usize, usize) {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    let (mut running, mut threads) = (0, 0);
    for entry in dir.flatten() {
        buf.clear();
        let path = entry.path().join("stat");
        let Ok(mut f) = std::fs::File::open(path) else {
            continue; // the thread just ended
        };
        if f.read_to_string(buf).is_err() {
            continue;
        }
        // "tid (comm) S ...": comm may hold spaces and parentheses, so
        // split at the last ')'.
        let (Some(open), Some(close)) = (buf.find('('), buf.rfind(')')) else {
            continue;
        };
        if !buf[open + 1..close].starts_with("goro-worker-") {
            continue;
        }
        threads += 1;
        if buf[close + 1..].trim_start().starts_with('R') {
            running += 1;
        }
    }
    (running, threads)
}

/// One probe case's outcome.
#[derive(Clone, Debug)]
pub struct ProbeRun {
    pub hogs: usize,
    pub workers: usize,
    /// Each probe's lateness, sorted.
    pub late: Vec<Duration>,
    /// Wall time of the probing.
    pub wall: Duration,
    /// Process CPU time over wall time while probing (sampler left out).
    pub cpu_wall: f64,
    /// Hogs that ran at least one round.
    pub hogs_ran: usize,
    pub running: Option<Running>,
}

impl ProbeRun {
    pub fn mean(&self) -> Duration {
        self.late.iter().sum::<Duration>() / self.late.len().max(1) as u32
    }

    pub fn p99(&self) -> Duration {
        quantile(&self.late, 0.99)
    }

    pub fn worst(&self) -> Duration {
        self.late.last().copied().unwrap_or_default()
    }

    /// One tab-separated line (a probe child's answer).
    pub fn encode(&self) -> String {
        let r = self.running.unwrap_or_default();
        let late: Vec<String> = self.late.iter().map(|d| d.as_nanos().to_string()).collect();
        format!(
            "PROBE\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.hogs,
            self.workers,
            self.wall.as_nanos(),
            self.cpu_wall,
            self.hogs_ran,
            r.max,
            r.mean,
            r.threads,
            r.samples,
            r.over,
            r.cpu.as_nanos(),
            late.join(",")
        )
    }

    pub fn decode(line: &str) -> Option<ProbeRun> {
        let f: Vec<&str> = line.strip_prefix("PROBE\t")?.split('\t').collect();
        let ns = |s: &str| s.parse::<u64>().ok().map(Duration::from_nanos);
        Some(ProbeRun {
            hogs: f.first()?.parse().ok()?,
            workers: f.get(1)?.parse().ok()?,
            wall: ns(f.get(2)?)?,
            cpu_wall: f.get(3)?.parse().ok()?,
            hogs_ran: f.get(4)?.parse().ok()?,
            running: Some(Running {
                max: f.get(5)?.parse().ok()?,
                mean: f.get(6)?.parse().ok()?,
                threads: f.get(7)?.parse().ok()?,
                samples: f.get(8)?.parse().ok()?,
                over: f.get(9)?.parse().ok()?,
                cpu: ns(f.get(10)?)?,
            }),
            late: f
                .get(11)?
                .split(',')
                .filter(|s| !s.is_empty())
                .map(ns)
                .collect::<Option<Vec<_>>>()?,
        })
    }
}

/// The value at quantile `q` of sorted `v` (nearest rank).
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((v.len() as f64) * q).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

/// Runs `hogs` CPU hogs on `workers` workers and a probe goroutine (the
/// main goroutine) that sleeps [`PROBE_SLEEP`] until it has `max_probes`
/// wake-ups or `max_time` has passed (at least one). With `sample`, the
/// thread sampler runs during the probing.
pub fn probe(
    hogs: usize,
    workers: usize,
    max_probes: usize,
    max_time: Duration,
    sample: bool,
) -> ProbeRun {
    goro::gomaxprocs(workers);
    goro::run(move || {
        let hog_set = Hogs::start(hogs);
        goro::time::sleep(SETTLE);
        let sampler = sample.then(|| Sampler::start(workers));
        let (cpu0, wall0) = (process_cpu(), Instant::now());
        let mut late = Vec::with_capacity(max_probes);
        while late.is_empty() || (late.len() < max_probes && wall0.elapsed() < max_time) {
            let t = Instant::now();
            goro::time::sleep(PROBE_SLEEP);
            late.push(t.elapsed().saturating_sub(PROBE_SLEEP));
        }
        let wall = wall0.elapsed();
        let running = sampler.map(Sampler::stop);
        let cpu = (process_cpu() - cpu0).saturating_sub(running.map_or(Duration::ZERO, |r| r.cpu));
        let hogs_ran = hog_set.stop();
        late.sort();
        ProbeRun {
            hogs,
            workers,
            late,
            wall,
            cpu_wall: cpu.as_secs_f64() / wall.as_secs_f64(),
            hogs_ran,
            running,
        }
    })
}

/// Runs one [`probe`] case (with the sampler) in a child process: this
/// binary re-executed with `extra_env` added (`GORO_ASYNCPREEMPT=0` for the
/// rejected design). The child gives up after `limit` (a watchdog thread
/// ends it), then this returns an error.
pub fn probe_child(
    hogs: usize,
    workers: usize,
    max_probes: usize,
    max_time: Duration,
    extra_env: &[(&str, &str)],
    limit: Duration,
) -> Result<ProbeRun, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.env(ROLE_ENV, "probe")
        .env(
            PROBE_ENV,
            format!(
                "{hogs},{workers},{max_probes},{},{}",
                max_time.as_millis(),
                limit.as_millis()
            ),
        )
        .stdout(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().map_err(|e| format!("spawn: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(ProbeRun::decode) {
        Some(run) if out.status.success() => Ok(run),
        _ => Err(format!(
            "probe child ({hogs} hogs, {workers} workers) failed: {}; {}",
            out.status,
            stdout.trim()
        )),
    }
}

/// Runs a helper role if this process was started as one, then exits.
/// Call first thing in `main`.
pub fn handle_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    match role.as_str() {
        "probe" => {
            let spec = std::env::var(PROBE_ENV).expect("GORO_SCHED_PROBE");
            let v: Vec<u64> = spec
                .split(',')
                .map(|s| s.parse().expect("GORO_SCHED_PROBE numbers"))
                .collect();
            let limit = Duration::from_millis(v[4]);
            std::thread::spawn(move || {
                std::thread::sleep(limit);
                println!("PROBE_TIMEOUT after {limit:?}");
                std::process::exit(3);
            });
            let run = probe(
                v[0] as usize,
                v[1] as usize,
                v[2] as usize,
                Duration::from_millis(v[3]),
                true,
            );
            println!("{}", run.encode());
        }
        "echo_server" => echo_server_main(),
        other => panic!("unknown {ROLE_ENV}={other}"),
    }
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// The time for `goroutines` goroutines that each block their thread in
/// `std::thread::sleep(block)` to finish, and a 5 ms ticker's worst gap.
#[derive(Clone, Copy, Debug)]
pub struct Handoff {
    pub elapsed: Duration,
    pub worst_gap: Duration,
}

/// See [`Handoff`]; runs on `workers` workers.
pub fn handoff(goroutines: usize, block: Duration, workers: usize) -> Handoff {
    goro::gomaxprocs(workers);
    goro::run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let stop = stop.clone();
            goro::go!(move || {
                let mut worst = Duration::ZERO;
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    goro::time::sleep(Duration::from_millis(5));
                    worst = worst.max(last.elapsed());
                    last = Instant::now();
                }
                worst
            })
        };
        // Let the ticker start ticking before the blocking begins.
        goro::time::sleep(Duration::from_millis(10));
        let start = Instant::now();
        let sleepers: Vec<_> = (0..goroutines)
            .map(|_| goro::go!(move || std::thread::sleep(block)))
            .collect();
        for s in sleepers {
            s.join().unwrap();
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        Handoff {
            elapsed,
            worst_gap: ticker.join().unwrap(),
        }
    })
}

/// Starts a goro echo server with `hogs` CPU hogs among its goroutines, in
/// a child process on `workers` workers; `extra_env` goes to the child
/// (`GORO_ASYNCPREEMPT=0`).
pub fn echo_server(hogs: usize, workers: usize, extra_env: &[(&str, &str)]) -> ChildServer {
    let mut cmd = ChildServer::this_binary();
    cmd.env(ROLE_ENV, "echo_server")
        .env(HOGS_ENV, format!("{hogs},{workers}"));
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    ChildServer::spawn(cmd)
}

fn echo_server_main() {
    let spec = std::env::var(HOGS_ENV).unwrap_or_else(|_| "0,2".into());
    let mut it = spec.split(',').map(|s| s.parse::<usize>().expect(HOGS_ENV));
    let (hogs, workers) = (it.next().unwrap_or(0), it.next().unwrap_or(2));
    goro::gomaxprocs(workers);
    goro::run(move || {
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let _hogs = Hogs::start(hogs); // run until the parent kills us
        goro::time::sleep(SETTLE);
        println!("{}", listener.local_addr().unwrap());
        let _ = std::io::stdout().flush();
        loop {
            let Ok((mut conn, _)) = listener.accept() else {
                goro::time::sleep(Duration::from_millis(1));
                continue;
            };
            goro::go!(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    })
}

/// Drives `addr` with `conns` connections of 64-byte round trips, from
/// goroutines of this process on `workers` workers: `rounds` each, or for
/// `duration` if given. Panics if any round trip failed.
pub fn echo(
    addr: SocketAddr,
    conns: usize,
    rounds: u64,
    duration: Option<Duration>,
    workers: usize,
) -> loadgen::Report {
    let cfg = loadgen::Config {
        addr,
        conns,
        rounds,
        size: 64,
        duration,
        progress: false,
        connect_timeout: Duration::from_secs(10),
    };
    goro::gomaxprocs(workers);
    let report = goro::run(move || loadgen::run(&cfg));
    assert!(
        report.errors == 0 && report.connect_errors == 0,
        "echo load failed: {:?}",
        report.first_error
    );
    report
}
