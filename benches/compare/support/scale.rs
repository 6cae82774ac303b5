//! The loads of the `scale` section of `benches/compare/examples/report.rs` (issue 11's
//! timer goals), each run in a fresh child process so that one case's
//! goroutines, threads and timers never disturb the next:
//!
//! - **Sleepers**: N goroutines each loop `sleep(1 ms)`; after a warm-up
//!   (every sleeper has slept a while) the wake-ups are counted for a set
//!   time, with their mean lateness (time asleep minus 1 ms). The same
//!   load runs as goro goroutines ([`goro_sleepers`]), tokio tasks
//!   ([`tokio_sleepers`]: `tokio::time::sleep`, a current-thread runtime
//!   for one worker, a multi-thread one otherwise) and Go goroutines
//!   (`benches/compare/go/sleepers.go`, run with `go run` when `go` is on
//!   PATH: [`go_sleepers`]). All three print the same [`Sleepers`] line.
//! - **Deadline churn**: an echo server ([`EchoServer`], a child process)
//!   whose connections set a read timeout before every read, or none; the
//!   client ([`echo`]) runs `support/loadgen.rs` from this process, so
//!   the timers the server arms are the server's alone.
//!
//! The counting is the same for every contender: a shared phase word
//! (warm-up, measured, stopped) that each sleeper reads after it wakes;
//! a wake-up counts when it sees "measured". Each sleeper keeps its own
//! count and lateness sum (no shared counter on the hot path) and hands
//! them back when it ends.
//!
//! Include `support/out.rs` (with `#[macro_use]`), `support/loadgen.rs`
//! as `loadgen` and `support/fd_limit.rs` as `fd_limit` at the crate root
//! before this module.

use crate::child::ChildServer;
use crate::{fd_limit, loadgen};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Environment variable naming a helper role of this binary:
/// `sleepers` or `echo_server`, with the case in [`CASE_ENV`].
pub const ROLE_ENV: &str = "GORO_SCALE_ROLE";
/// A role's case: `contender,n,workers,warmup_ms,duration_ms,limit_ms`
/// for `sleepers`; `workers,read_timeout_ms` (0: none) for `echo_server`.
pub const CASE_ENV: &str = "GORO_SCALE_CASE";

/// Each sleeper's sleep.
pub const NAP: Duration = Duration::from_millis(1);
/// How long the sleepers run before the counting starts.
pub const WARMUP: Duration = Duration::from_millis(500);

/// The sleeper contenders run in this binary (Go runs on its own).
pub const TOKIO_CURRENT: &str = "tokio current_thread";
pub const TOKIO_MULTI: &str = "tokio multi_thread";
pub const GORO: &str = "goro";
pub const GO: &str = "go";

const WARMING: u8 = 0;
const MEASURED: u8 = 1;
const STOPPED: u8 = 2;

/// One sleepers run: the line `SLEEPERS contender=.. n=.. workers=..
/// seconds=.. wakeups=.. mean_late_ns=..` (spaces in the contender's name
/// written as `+`), which `sleepers.go` prints too.
#[derive(Clone, Debug)]
pub struct Sleepers {
    pub contender: String,
    pub n: usize,
    pub workers: usize,
    /// Length of the measured phase.
    pub seconds: f64,
    /// Wake-ups counted in it.
    pub wakeups: u64,
    /// Their mean lateness.
    pub mean_late_ns: u64,
}

impl Sleepers {
    fn from_counts(
        contender: &str,
        n: usize,
        workers: usize,
        measured: Duration,
        counts: impl Iterator<Item = (u64, u64)>,
    ) -> Sleepers {
        let (wakeups, late) = counts.fold((0u64, 0u64), |(w, l), (cw, cl)| (w + cw, l + cl));
        Sleepers {
            contender: contender.into(),
            n,
            workers,
            seconds: measured.as_secs_f64(),
            wakeups,
            mean_late_ns: late / wakeups.max(1),
        }
    }

    /// Wake-ups per second.
    pub fn rate(&self) -> f64 {
        self.wakeups as f64 / self.seconds.max(1e-9)
    }

    pub fn encode(&self) -> String {
        format!(
            "SLEEPERS contender={} n={} workers={} seconds={:.6} wakeups={} mean_late_ns={}",
            self.contender.replace(' ', "+"),
            self.n,
            self.workers,
            self.seconds,
            self.wakeups,
            self.mean_late_ns
        )
    }

    pub fn decode(line: &str) -> Option<Sleepers> {
        let rest = line.trim().strip_prefix("SLEEPERS ")?;
        let field = |key: &str| {
            rest.split(' ')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        };
        Some(Sleepers {
            contender: field("contender")?.replace('+', " "),
            n: field("n")?.parse().ok()?,
            workers: field("workers")?.parse().ok()?,
            seconds: field("seconds")?.parse().ok()?,
            wakeups: field("wakeups")?.parse().ok()?,
            mean_late_ns: field("mean_late_ns")?.parse().ok()?,
        })
    }
}

/// Lateness of a sleep of [`NAP`] that started at `t0`, in nanoseconds.
fn late_ns(t0: Instant) -> u64 {
    t0.elapsed().saturating_sub(NAP).as_nanos() as u64
}

/// `n` goroutines on `workers` workers, each looping `goro::time::sleep(1 ms)`.
pub fn goro_sleepers(n: usize, workers: usize, warmup: Duration, measure: Duration) -> Sleepers {
    goro::gomaxprocs(workers);
    goro::run(move || {
        let phase = Arc::new(AtomicU8::new(WARMING));
        let sleepers: Vec<_> = (0..n)
            .map(|_| {
                let phase = phase.clone();
                goro::go!(move || {
                    let (mut wakeups, mut late) = (0u64, 0u64);
                    loop {
                        let t0 = Instant::now();
                        goro::time::sleep(NAP);
                        let l = late_ns(t0);
                        match phase.load(Ordering::Relaxed) {
                            MEASURED => {
                                wakeups += 1;
                                late += l;
                            }
                            STOPPED => return (wakeups, late),
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        goro::time::sleep(warmup);
        let start = Instant::now();
        phase.store(MEASURED, Ordering::Relaxed);
        goro::time::sleep(measure);
        let measured = start.elapsed();
        phase.store(STOPPED, Ordering::Relaxed);
        let counts = sleepers
            .into_iter()
            .map(|h| h.join().expect("a sleeper panicked"));
        Sleepers::from_counts(GORO, n, workers, measured, counts)
    })
}

/// `n` tokio tasks, each looping `tokio::time::sleep(1 ms)`: on a
/// current-thread runtime ([`TOKIO_CURRENT`], one worker) or a
/// multi-thread one with `workers` workers ([`TOKIO_MULTI`]).
pub fn tokio_sleepers(
    flavor: &str,
    n: usize,
    workers: usize,
    warmup: Duration,
    measure: Duration,
) -> Sleepers {
    let rt = match flavor {
        TOKIO_CURRENT => tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .build(),
    }
    .expect("build the tokio runtime");
    let flavor = flavor.to_string();
    rt.block_on(async move {
        let phase = Arc::new(AtomicU8::new(WARMING));
        let sleepers: Vec<_> = (0..n)
            .map(|_| {
                let phase = phase.clone();
                tokio::spawn(async move {
                    let (mut wakeups, mut late) = (0u64, 0u64);
                    loop {
                        let t0 = Instant::now();
                        tokio::time::sleep(NAP).await;
                        let l = late_ns(t0);
                        match phase.load(Ordering::Relaxed) {
                            MEASURED => {
                                wakeups += 1;
                                late += l;
                            }
                            STOPPED => return (wakeups, late),
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(warmup).await;
        let start = Instant::now();
        phase.store(MEASURED, Ordering::Relaxed);
        tokio::time::sleep(measure).await;
        let measured = start.elapsed();
        phase.store(STOPPED, Ordering::Relaxed);
        let mut counts = Vec::with_capacity(n);
        for s in sleepers {
            counts.push(s.await.expect("a sleeper task panicked"));
        }
        Sleepers::from_counts(&flavor, n, workers, measured, counts.into_iter())
    })
}

/// The path of the Go program, for the report's output.
pub fn go_program() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("go/sleepers.go")
}

/// The Go toolchain's version line, or `None` if `go` is not on PATH.
pub fn go_version() -> Option<String> {
    let out = Command::new("go").arg("version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The same load in Go: `go run benches/compare/go/sleepers.go` with
/// GOMAXPROCS = `workers`.
pub fn go_sleepers(
    n: usize,
    workers: usize,
    warmup: Duration,
    measure: Duration,
) -> Result<Sleepers, String> {
    let out = Command::new("go")
        .arg("run")
        .arg(go_program())
        .args(["-n", &n.to_string(), "-procs", &workers.to_string()])
        .args(["-warmup", &format!("{}ms", warmup.as_millis())])
        .args(["-duration", &format!("{}ms", measure.as_millis())])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("go run: {e}"))?;
    parse_answer(&out, "go run sleepers.go")
}

fn parse_answer(out: &std::process::Output, what: &str) -> Result<Sleepers, String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().find_map(Sleepers::decode) {
        Some(run) if out.status.success() => Ok(run),
        _ => Err(format!("{what} failed: {}; {}", out.status, stdout.trim())),
    }
}

/// Runs [`goro_sleepers`] or [`tokio_sleepers`] in a child process (this
/// binary re-executed with [`ROLE_ENV`]`=sleepers`); the child gives up
/// after `limit` (a watchdog thread ends it), then this returns an error.
pub fn sleepers_child(
    contender: &str,
    n: usize,
    workers: usize,
    warmup: Duration,
    measure: Duration,
    limit: Duration,
) -> Result<Sleepers, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(ROLE_ENV, "sleepers")
        .env(
            CASE_ENV,
            format!(
                "{},{n},{workers},{},{},{}",
                contender.replace(' ', "+"),
                warmup.as_millis(),
                measure.as_millis(),
                limit.as_millis()
            ),
        )
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("spawn: {e}"))?;
    parse_answer(&out, &format!("{contender} sleepers child (n={n})"))
}

/// Runs a helper role if this process was started as one, then exits.
/// Call first thing in `main`.
pub fn handle_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let case = std::env::var(CASE_ENV).unwrap_or_else(|_| panic!("{CASE_ENV} is not set"));
    let f: Vec<&str> = case.split(',').collect();
    let num = |i: usize| -> u64 {
        f.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{CASE_ENV}={case}: field {i} is not a number"))
    };
    match role.as_str() {
        "sleepers" => {
            let contender = f[0].replace('+', " ");
            let (n, workers) = (num(1) as usize, num(2) as usize);
            let (warmup, measure) = (Duration::from_millis(num(3)), Duration::from_millis(num(4)));
            let limit = Duration::from_millis(num(5));
            std::thread::spawn(move || {
                std::thread::sleep(limit);
                say!("SLEEPERS_TIMEOUT after {limit:?}");
                std::process::exit(3);
            });
            let run = match contender.as_str() {
                GORO => goro_sleepers(n, workers, warmup, measure),
                TOKIO_CURRENT | TOKIO_MULTI => {
                    tokio_sleepers(&contender, n, workers, warmup, measure)
                }
                other => panic!("unknown sleepers contender {other:?}"),
            };
            say!("{}", run.encode());
        }
        "echo_server" => {
            let timeout = (num(1) > 0).then(|| Duration::from_millis(num(1)));
            echo_server_main(num(0) as usize, timeout);
        }
        other => panic!("unknown {ROLE_ENV}={other}"),
    }
    let _ = std::io::stdout().flush();
    std::process::exit(0);
}

/// Starts a goro echo server in a child process on `workers` workers,
/// whose connections set `read_timeout` before every read (or never).
pub fn echo_server(workers: usize, read_timeout: Option<Duration>) -> ChildServer {
    let ms = read_timeout.map_or(0, |d| d.as_millis().max(1));
    let mut cmd = ChildServer::this_binary();
    cmd.env(ROLE_ENV, "echo_server")
        .env(CASE_ENV, format!("{workers},{ms}"));
    ChildServer::spawn(cmd)
}

/// Echoes on `conn` until EOF or an error, setting `read_timeout` before
/// every read when given (what a server with a per-request deadline does:
/// each read that waits arms a timer, and the data's arrival cancels it).
pub fn serve(mut conn: goro::net::TcpStream, read_timeout: Option<Duration>) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 4096];
    loop {
        if read_timeout.is_some() && conn.set_read_timeout(read_timeout).is_err() {
            return;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn echo_server_main(workers: usize, read_timeout: Option<Duration>) {
    fd_limit::raise_fd_limit();
    goro::gomaxprocs(workers);
    goro::run(move || {
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        say!("{}", listener.local_addr().unwrap());
        let _ = std::io::stdout().flush();
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    goro::go!(serve(conn, read_timeout));
                }
                // Out of fds: back off (incoming() does) and carry on.
                Err(_) => continue,
            }
        }
    })
}

/// Drives `addr` with `conns` connections of 64-byte round trips for
/// `duration`, from goroutines of this process on `workers` workers. An
/// error if any connect or round trip failed.
pub fn echo(
    addr: SocketAddr,
    conns: usize,
    duration: Duration,
    workers: usize,
) -> Result<loadgen::Report, String> {
    let cfg = loadgen::Config {
        addr,
        conns,
        rounds: 0,
        size: 64,
        duration: Some(duration),
        progress: false,
        connect_timeout: Duration::from_secs(20),
    };
    fd_limit::raise_fd_limit();
    goro::gomaxprocs(workers);
    let report = goro::run(move || loadgen::run(&cfg));
    if report.errors > 0 || report.connect_errors > 0 {
        return Err(format!(
            "{} errors, {} failed connects; first: {}",
            report.errors,
            report.connect_errors,
            report.first_error.as_deref().unwrap_or("?")
        ));
    }
    Ok(report)
}
