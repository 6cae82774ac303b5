//! The `prefork` section of the report (issue 15): the notes' claim that
//! "multiple processes are more robust than multiple threads: one crashing
//! does not take the others down", measured both ways, and the
//! process-vs-thread trade-off with goroutines inside both.
//!
//! * A worker killed under load: `examples/prefork.rs` with 2 worker
//!   processes (GOMAXPROCS=1 each) serves [`CONNS`] connections, each a
//!   goroutine of this process doing 64-byte echo round trips back to back
//!   (reconnecting after an error); one worker gets SIGKILL. Counted: the
//!   connections that saw an error against those the killed worker held
//!   (the sockets in its `/proc/PID/fd`, less its listener) and the
//!   connections that never saw one; the round trips per 100 ms around
//!   the kill, and the time until they are back to 90% of the rate before.
//! * N processes x 1 worker against 1 process x N workers (N = the CPUs):
//!   the same prefork server either way, the same load, runs interleaved.
//! * A crashing thread: a child process (this binary re-executed) whose
//!   three threads beat (a line every 5 ms) while a fourth writes to a
//!   page mapped without access (a real SIGSEGV, not a Rust panic); the
//!   same with goroutines. Its exit signal and the beats after the crash.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Client connections of the load.
pub const CONNS: usize = 64;
/// The throughput series' bucket.
const BUCKET: Duration = Duration::from_millis(100);
/// Load before the kill, and after it.
const BEFORE_KILL: Duration = Duration::from_millis(1500);
const AFTER_KILL: Duration = Duration::from_millis(2500);
/// Each run of the processes-vs-workers comparison.
const COMPARE_TIME: Duration = Duration::from_secs(2);
/// "Recovered": a bucket at this share of the rate before the kill.
const RECOVERED: f64 = 0.9;
/// Set in the crash child's environment: `thread` or `goroutine`.
const CRASH_ENV: &str = "GORO_REPORT_CRASH";
/// Beats per thread before the crash, and the beat period.
const BEATS_BEFORE: u64 = 20;
const BEAT: Duration = Duration::from_millis(5);

// ---------------------------------------------------------------------
// The prefork server as a child of the report.

/// A running `examples/prefork.rs`: the supervisor, its address, its
/// workers' pids and the rest of its stdout (a thread reads it).
struct Server {
    child: Child,
    addr: SocketAddr,
    workers: Vec<u32>,
    lines: std::sync::mpsc::Receiver<(Instant, String)>,
}

/// The prefork binary beside this one (built by cargo first, with this
/// binary's profile).
fn prefork_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("the examples folder").to_path_buf();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--quiet",
            "--example",
            "prefork",
            "--manifest-path",
            root,
        ])
        .arg("--target-dir")
        .arg(
            dir.parent()
                .and_then(|d| d.parent())
                .expect("the target folder"),
        );
    if dir.parent().is_some_and(|d| d.ends_with("release")) {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("run cargo");
    assert!(status.success(), "cargo build --example prefork: {status}");
    dir.join("prefork")
}

impl Server {
    fn start(binary: &std::path::Path, workers: usize, gomaxprocs: usize) -> Server {
        let mut child = Command::new(binary)
            .args([
                "--workers",
                &workers.to_string(),
                "--grace",
                "2",
                "127.0.0.1:0",
            ])
            .env("GOMAXPROCS", gomaxprocs.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the prefork server");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("the server's first line");
        let addr = line
            .trim()
            .trim_start_matches("listening on ")
            .parse()
            .unwrap_or_else(|_| panic!("prefork printed {line:?}"));
        let pids = (0..workers)
            .map(|_| {
                line.clear();
                out.read_line(&mut line).expect("a worker line");
                pid_at_end(&line)
            })
            .collect();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send((Instant::now(), l)).is_err() {
                    return;
                }
            }
        });
        Server {
            child,
            addr,
            workers: pids,
            lines,
        }
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) signals our own child; no memory is involved.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().expect("wait for the prefork server")
    }
}

fn pid_at_end(line: &str) -> u32 {
    let pid = line.trim().rsplit("pid ").next().unwrap_or("");
    pid.parse()
        .unwrap_or_else(|_| panic!("no pid in prefork's line {line:?}"))
}

/// The child processes of `pid` (of all its threads).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Sockets in `pid`'s fd table.
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|l| l.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------
// The load: goroutines in this process, one per connection.

/// What the load saw.
struct Load {
    /// Round trips completed at the end of each bucket, from the start.
    series: Vec<u64>,
    /// Errors per connection (each error is followed by a reconnect).
    errors: Vec<usize>,
}

/// Something to do (on a plain thread) once a time into the load has
/// passed.
type Event = (Duration, Box<dyn FnOnce() + Send>);

/// Runs `conns` echo connections against `addr` for `total`, and the
/// `events` at their times.
fn load(addr: SocketAddr, conns: usize, total: Duration, events: Vec<Event>) -> Load {
    goro::run(move || {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let errors: Arc<Vec<AtomicUsize>> =
            Arc::new((0..conns).map(|_| AtomicUsize::new(0)).collect());
        let clients: Vec<_> = (0..conns)
            .map(|i| {
                let (done, stop, errors) = (done.clone(), stop.clone(), errors.clone());
                goro::go!(move || {
                    let mut msg = [7u8; 64];
                    while !stop.load(Ordering::Relaxed) {
                        let served = (|| -> std::io::Result<()> {
                            let mut c = goro::net::TcpStream::connect(addr)?;
                            c.set_nodelay(true)?;
                            c.set_read_timeout(Some(Duration::from_secs(5)))?;
                            while !stop.load(Ordering::Relaxed) {
                                c.write_all(&msg)?;
                                c.read_exact(&mut msg)?;
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(())
                        })();
                        if served.is_err() && !stop.load(Ordering::Relaxed) {
                            errors[i].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let events: Vec<_> = events
            .into_iter()
            .map(|(at, f)| {
                std::thread::spawn(move || {
                    std::thread::sleep(at);
                    f();
                })
            })
            .collect();
        let start = Instant::now();
        let mut series = Vec::new();
        let mut next = start;
        while next < start + total {
            next += BUCKET;
            goro::time::sleep(next.saturating_duration_since(Instant::now()));
            series.push(done.load(Ordering::Relaxed));
        }
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            let _ = c.join();
        }
        for e in events {
            let _ = e.join();
        }
        Load {
            series,
            errors: errors.iter().map(|e| e.load(Ordering::Relaxed)).collect(),
        }
    })
}

/// One kill under load.
pub struct KillRun {
    /// Connections the killed worker held when it was killed.
    pub held: usize,
    /// Connections that saw an error, and those that saw none.
    pub failed: usize,
    pub untouched: usize,
    /// Round trips per bucket (rates, not totals), and the kill's bucket.
    pub rates: Vec<u64>,
    pub kill_bucket: usize,
    /// Time from the kill until a bucket reached 90% of the rate before
    /// (None: never within the run).
    pub recovered_after: Option<Duration>,
    /// Time from the kill until the supervisor reported the restart.
    pub restarted_after: Option<Duration>,
    /// Connections the sibling and the replacement held near the end.
    pub sibling_at_end: usize,
    pub replacement_at_end: usize,
    /// The surviving worker was never touched: the same pid, alive.
    pub sibling_alive: bool,
    pub exit_clean: bool,
}

fn kill_run(binary: &std::path::Path) -> KillRun {
    let server = Server::start(binary, 2, 1);
    let (victim, sibling) = (server.workers[0], server.workers[1]);
    let held = Arc::new(AtomicUsize::new(0));
    let killed_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let event: Box<dyn FnOnce() + Send> = {
        let (held, killed_at) = (held.clone(), killed_at.clone());
        Box::new(move || {
            held.store(sockets_of(victim).saturating_sub(1), Ordering::Relaxed);
            *killed_at.lock().unwrap() = Some(Instant::now());
            // SAFETY: kill(2) signals a worker of our child server; no memory.
            unsafe { libc::kill(victim as i32, libc::SIGKILL) };
        })
    };
    // Near the end: where the connections are (the workers are the
    // supervisor's children; any but the sibling is the replacement).
    let at_end = Arc::new(std::sync::Mutex::new((0, 0)));
    let probe: Box<dyn FnOnce() + Send> = {
        let (at_end, supervisor) = (at_end.clone(), server.child.id());
        Box::new(move || {
            let replacement: usize = children_of(supervisor)
                .into_iter()
                .filter(|&p| p != sibling)
                .map(|p| sockets_of(p).saturating_sub(1))
                .sum();
            *at_end.lock().unwrap() = (sockets_of(sibling).saturating_sub(1), replacement);
        })
    };
    let total = BEFORE_KILL + AFTER_KILL;
    let events = vec![(BEFORE_KILL, event), (total - BUCKET * 2, probe)];
    let l = load(server.addr, CONNS, total, events);
    let (sibling_at_end, replacement_at_end) = *at_end.lock().unwrap();
    let killed_at = killed_at.lock().unwrap().expect("the kill ran");
    let restarted_after = server
        .lines
        .try_iter()
        .find(|(_, line)| line.starts_with("worker 0 restarted"))
        .map(|(t, _)| t.saturating_duration_since(killed_at));
    let sibling_alive = std::path::Path::new(&format!("/proc/{sibling}")).exists();
    let exit_clean = server.stop().success();
    let rates: Vec<u64> = l
        .series
        .iter()
        .scan(0, |prev, &total| {
            let r = total - *prev;
            *prev = total;
            Some(r)
        })
        .collect();
    let kill_bucket = (BEFORE_KILL.as_millis() / BUCKET.as_millis()) as usize;
    // The rate before: the buckets of the last second before the kill.
    let before = &rates[kill_bucket.saturating_sub(10)..kill_bucket];
    let mean = before.iter().sum::<u64>() as f64 / before.len().max(1) as f64;
    let recovered_after = rates[kill_bucket..]
        .iter()
        .position(|&r| r as f64 >= RECOVERED * mean)
        .map(|i| BUCKET * (i as u32 + 1));
    let failed = l.errors.iter().filter(|&&e| e > 0).count();
    KillRun {
        held: held.load(Ordering::Relaxed),
        failed,
        untouched: l.errors.len() - failed,
        rates,
        kill_bucket,
        recovered_after,
        restarted_after,
        sibling_at_end,
        replacement_at_end,
        sibling_alive,
        exit_clean,
    }
}

/// Round trips per second of the load against a fresh server of
/// `workers` processes with `gomaxprocs` each.
fn throughput(binary: &std::path::Path, workers: usize, gomaxprocs: usize) -> (f64, usize) {
    let server = Server::start(binary, workers, gomaxprocs);
    let l = load(server.addr, CONNS, COMPARE_TIME, Vec::new());
    let clean = server.stop().success();
    assert!(clean, "the prefork server did not stop cleanly");
    let errors: usize = l.errors.iter().sum();
    let total = *l.series.last().unwrap_or(&0);
    (total as f64 / COMPARE_TIME.as_secs_f64(), errors)
}

// ---------------------------------------------------------------------
// The crashing thread.

/// In the crash child (this binary with [`CRASH_ENV`]): three beaters and
/// one crasher, as threads or goroutines; never returns.
pub fn handle_role() {
    let Ok(kind) = std::env::var(CRASH_ENV) else {
        return;
    };
    let beat = |id: usize| {
        for n in 0.. {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "beat {id} {n}");
            let _ = out.flush();
            drop(out);
            if kind_is_goroutine() {
                goro::time::sleep(BEAT);
            } else {
                std::thread::sleep(BEAT);
            }
        }
    };
    let crash = || {
        let before = BEAT * BEATS_BEFORE as u32;
        if kind_is_goroutine() {
            goro::time::sleep(before);
        } else {
            std::thread::sleep(before);
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "crash");
        let _ = out.flush();
        drop(out);
        fault();
    };
    match kind.as_str() {
        "thread" => {
            for id in 0..3 {
                std::thread::spawn(move || beat(id));
            }
            std::thread::spawn(crash).join().ok();
        }
        "goroutine" => goro::run(move || {
            for id in 0..3 {
                goro::go!(move || beat(id));
            }
            let _ = goro::go!(move || crash()).join();
        }),
        other => eprintln!("unknown {CRASH_ENV}={other}"),
    }
    // Reached only if the process survived its crash.
    std::thread::sleep(BEAT * 20);
    std::process::exit(0);
}

/// A real segmentation fault: a write to a page mapped with no access.
/// (`raise(SIGSEGV)` would not do: std's handler, there to report stack
/// overflows, returns from a SIGSEGV that did not hit a guard page, and
/// only a faulting instruction then faults again, under the default
/// action.)
fn fault() {
    // SAFETY: an anonymous PROT_NONE mapping of one page; no memory of
    // ours is involved and a failure is checked.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED, "mmap");
    // SAFETY: none: this write faults on purpose (the page allows no
    // access), which is the crash this child exists to show; no Rust
    // object lives there, so nothing is corrupted before the process dies.
    unsafe { std::ptr::write_volatile(page.cast::<u8>(), 1) };
}

fn kind_is_goroutine() -> bool {
    std::env::var(CRASH_ENV).is_ok_and(|k| k == "goroutine")
}

/// What the crash child showed.
pub struct Crash {
    pub signal: Option<i32>,
    pub code: Option<i32>,
    /// Beats of the other threads before the crash line, and after it.
    pub beats_before: usize,
    pub beats_after: usize,
}

fn crash_child(kind: &str) -> Crash {
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .env(CRASH_ENV, kind)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the crash child");
    let mut text = String::new();
    let _ = child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut text);
    let status = child.wait().expect("wait for the crash child");
    let crash_line = text.lines().position(|l| l == "crash");
    let beats =
        |lines: &mut dyn Iterator<Item = &str>| lines.filter(|l| l.starts_with("beat ")).count();
    let (beats_before, beats_after) = match crash_line {
        Some(i) => (
            beats(&mut text.lines().take(i)),
            beats(&mut text.lines().skip(i + 1)),
        ),
        None => (beats(&mut text.lines()), 0),
    };
    Crash {
        signal: status.signal(),
        code: status.code(),
        beats_before,
        beats_after,
    }
}

// ---------------------------------------------------------------------
// The section.

fn ms(d: Option<Duration>) -> String {
    d.map_or("never".into(), |d| format!("{} ms", d.as_millis()))
}

/// The prefork section; false if something failed that the verdict needs.
pub fn section(reps: usize) -> bool {
    let binary = prefork_binary();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    say!();
    say!("prefork report: {cpus} CPU(s); server: examples/prefork.rs; load: {CONNS} connections, each a goroutine of the report doing 64 B echo round trips back to back");
    say!("command: cargo run --release -p goro-compare --example report -- prefork --reps {reps}");
    say!();
    say!(
        "Kill: 2 worker processes (GOMAXPROCS=1 each); SIGKILL to worker 0 after {:?} of load, {:?} more; {reps} runs.",
        BEFORE_KILL,
        AFTER_KILL
    );
    say!(
        "{:>3} {:>5} {:>7} {:>10} {:>12} {:>11} {:>8} {:>9} {:>6}  round trips per 100 ms, from 300 ms before the kill ([kill bucket])",
        "run", "held", "failed", "untouched", "recovered", "restarted", "sibling", "at end", "exit"
    );
    let mut runs = Vec::new();
    for i in 0..reps {
        let r = kill_run(&binary);
        let from = r.kill_bucket.saturating_sub(3);
        let series: Vec<String> = r.rates[from..]
            .iter()
            .take(18)
            .enumerate()
            .map(|(k, v)| {
                if from + k == r.kill_bucket {
                    format!("[{v}]")
                } else {
                    v.to_string()
                }
            })
            .collect();
        say!(
            "{:>3} {:>5} {:>7} {:>10} {:>12} {:>11} {:>8} {:>9} {:>6}  {}",
            i + 1,
            r.held,
            r.failed,
            r.untouched,
            ms(r.recovered_after),
            ms(r.restarted_after),
            if r.sibling_alive { "alive" } else { "GONE" },
            format!("{}/{}", r.sibling_at_end, r.replacement_at_end),
            if r.exit_clean { "0" } else { "FAILED" },
            series.join(" ")
        );
        runs.push(r);
    }
    say!("(held: connections the killed worker had open (sockets in /proc/PID/fd less its listener); failed: connections that saw an error; untouched: connections that never saw one; recovered: until a bucket reached {}% of the mean of the second before the kill; restarted: until the supervisor printed the restart; at end: connections the sibling / the replacement held 200 ms before the end; exit: the supervisor's status after SIGTERM)", RECOVERED * 100.0);

    say!();
    say!(
        "Processes vs workers: the same server and load ({CONNS} connections, {:?} per run), {reps} runs interleaved:",
        COMPARE_TIME
    );
    let configs = [(cpus, 1), (1, cpus)];
    let mut rates = [Vec::new(), Vec::new()];
    let mut errors = 0;
    for rep in 0..reps {
        for k in 0..2 {
            let which = (k + rep) % 2;
            let (workers, procs) = configs[which];
            let (rate, e) = throughput(&binary, workers, procs);
            rates[which].push(rate);
            errors += e;
        }
    }
    for (which, (workers, procs)) in configs.iter().enumerate() {
        let (m, lo, hi) = crate::stats(&mut rates[which].clone());
        say!(
            "  {workers} process(es) x {procs} worker(s): {m:.0} round trips/s ({lo:.0} .. {hi:.0})"
        );
    }
    let (a, b) = (
        crate::stats(&mut rates[0].clone()),
        crate::stats(&mut rates[1].clone()),
    );
    say!(
        "  {cpus} processes x 1 / 1 process x {cpus}: {:.3} (medians); connection errors in these runs: {errors}",
        a.0 / b.0
    );

    say!();
    say!("Crash: a child process with three beating threads (a line every {:?}) and one that faults (SIGSEGV) after {BEATS_BEFORE} beats; the same with goroutines:", BEAT);
    let crashes: Vec<(&str, Crash)> = ["thread", "goroutine"]
        .into_iter()
        .map(|k| (k, crash_child(k)))
        .collect();
    for (kind, c) in &crashes {
        say!(
            "  {kind}s: the process ended by {}; the others' beats: {} before the crash, {} after it",
            match (c.signal, c.code) {
                (Some(s), _) => format!("signal {s}{}", if s == libc::SIGSEGV { " (SIGSEGV)" } else { "" }),
                (None, Some(code)) => format!("exit status {code}"),
                _ => "?".into(),
            },
            c.beats_before,
            c.beats_after
        );
    }

    // Claim 4.
    let isolated = runs
        .iter()
        .filter(|r| {
            r.failed == r.held && r.untouched == CONNS - r.held && r.sibling_alive && r.exit_clean
        })
        .count();
    let recovered: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.recovered_after.map(|d| d.as_secs_f64() * 1e3))
        .collect();
    let thread_crash = &crashes[0].1;
    // A beat already past its print when the fault came may land after
    // the crash line: at most one per beating thread.
    let process_wide = thread_crash.signal == Some(libc::SIGSEGV) && thread_crash.beats_after <= 3;
    let held = isolated == reps && process_wide;
    say!();
    say!(
        "4. One crashing process does not take its siblings down; one crashing thread takes its whole process down. {}",
        if held { "HOLDS" } else { "NOT HOLDING" }
    );
    say!(
        "    processes: in {isolated} of {reps} kills exactly the killed worker's connections failed (held/failed per run: {}), every other connection saw no error, the sibling kept its pid and the server stopped cleanly; throughput back to {}% of the second before the kill in {} of {reps} runs, {}",
        runs.iter().map(|r| format!("{}/{}", r.held, r.failed)).collect::<Vec<_>>().join(", "),
        RECOVERED * 100.0,
        recovered.len(),
        if recovered.is_empty() {
            "never within the run".to_string()
        } else {
            let (m, lo, hi) = crate::stats(&mut recovered.clone());
            format!("after {m:.0} ms (median of those; min .. max {lo:.0} .. {hi:.0})")
        },
    );
    say!(
        "    threads: a SIGSEGV in one thread ended the process ({}) and its three other threads beat {} times after it (surviving, they would beat ~60 more before it exits)",
        thread_crash.signal.map_or("no signal: it survived".into(), |s| format!("signal {s}")),
        thread_crash.beats_after
    );
    held
}
