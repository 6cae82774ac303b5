//! A crash-isolated prefork echo server: a supervisor process and N worker
//! processes, each worker running goroutines on its own workers and
//! accepting on the same address (`SO_REUSEPORT`: the kernel spreads new
//! connections over the workers' listeners).
//!
//! ```text
//! cargo run --release --example prefork -- --workers 4 127.0.0.1:7000
//! GOMAXPROCS=1 cargo run --release --example prefork -- --workers 2 127.0.0.1:0
//! ```
//!
//! The supervisor re-executes its own binary (`std::env::current_exe()`)
//! with `PREFORK_WORKER` in the environment: it never `fork()`s itself, a
//! runtime with live goroutines and threads. It prints `listening on ADDR`
//! once every worker is ready, then one line per event (`worker 0 started:
//! pid 1234`, `worker 0 (pid 1234) died: signal 9 (SIGKILL); restarting`),
//! and the workers' own lines prefixed with their slot.
//!
//! A worker that dies is restarted (after a second's pause when it lived
//! less than a second, so a worker that cannot start does not spin); the
//! connections it held end, the other workers' never notice. SIGINT or
//! SIGTERM stops the server gracefully: the supervisor forwards SIGTERM to
//! every worker (through a pidfd, so a reaped worker's recycled pid is
//! never hit), each closes its listener, gives its open connections
//! `--grace SECONDS` to finish and exits; the supervisor exits 0 once all
//! of them did so cleanly. A second signal kills the workers at once.
//!
//! Each worker is in its own process group (a terminal's Ctrl-C reaches
//! only the supervisor, which forwards it) and reads its stdin, a pipe
//! from the supervisor: when the supervisor dies however it dies, that
//! pipe ends and the worker stops as for a signal, so no worker is left
//! orphaned.

#[macro_use]
#[path = "support/out.rs"]
mod out;
#[path = "support/fd_limit.rs"]
mod fd_limit;
#[path = "support/shutdown.rs"]
mod shutdown;

use clap::Parser;
use goro::net::{TcpListener, TcpStream};
use goro::process::{Child, ChildStdin};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shutdown::Shutdown;

/// Set (to the worker's slot number) in a worker's environment.
const WORKER_ENV: &str = "PREFORK_WORKER";
/// A worker that lived less than this is restarted only after this long.
const MIN_LIFETIME: Duration = Duration::from_secs(1);
/// The listen backlog of each worker's socket.
const BACKLOG: i32 = 1024;

/// An echo server on ADDR served by N worker processes; prints `listening
/// on ADDR` once all are ready. SIGINT or SIGTERM stops it gracefully.
#[derive(Parser)]
struct Args {
    /// Worker processes (each runs goroutines on GOMAXPROCS workers).
    #[arg(long, default_value = "2", value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: u32,
    /// The address to listen on (port 0 picks a free one).
    #[arg(default_value = "127.0.0.1:7000")]
    addr: String,
    /// Seconds open connections get to finish after a signal.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = shutdown::parse_grace, allow_negative_numbers = true)]
    grace: Duration,
}

fn main() {
    let args = Args::parse();
    fd_limit::raise_fd_limit();
    match std::env::var(WORKER_ENV) {
        Ok(slot) => goro::main(move || worker(&slot, &args)),
        Err(_) => goro::main(move || std::process::exit(supervise(&args))),
    }
}

/// A TCP socket bound to `addr` with SO_REUSEADDR and SO_REUSEPORT, so
/// that every worker (and the supervisor, which holds the port) can bind
/// the same address.
fn reuseport_socket(addr: SocketAddr) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

// ---------------------------------------------------------------------
// The worker: an echo server, one goroutine per connection.

fn worker(slot: &str, args: &Args) {
    let fail = |what: String| -> ! {
        eprintln!("prefork worker {slot}: {what}");
        std::process::exit(1)
    };
    let addr: SocketAddr = args
        .addr
        .parse()
        .unwrap_or_else(|e| fail(format!("bad address {}: {e}", args.addr)));
    let socket = reuseport_socket(addr)
        .and_then(|s| s.listen(BACKLOG).map(|()| s))
        .unwrap_or_else(|e| fail(format!("cannot listen on {addr}: {e}")));
    let listener = TcpListener::from_std(socket.into())
        .unwrap_or_else(|e| fail(format!("cannot register the listener: {e}")));
    let listener = Arc::new(listener);
    let shutdown = Shutdown::on_signals(listener.clone());
    watch_supervisor(slot.to_string());
    say!("ready");
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                let open = shutdown.track();
                goro::go!(move || {
                    echo(conn);
                    drop(open);
                });
            }
            Err(e) => shutdown.log("prefork worker", e),
        }
    }
    shutdown.finish(&format!("pid {}", std::process::id()), args.grace);
}

fn echo(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    loop {
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

/// Stops the worker when its stdin, a pipe from the supervisor, ends (the
/// supervisor is gone) by sending itself the SIGTERM the supervisor would
/// have sent: the same graceful stop.
fn watch_supervisor(slot: String) {
    let stdin = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(goro::io::Pollable::new);
    let mut stdin = match stdin {
        Ok(s) => s,
        Err(e) => {
            eprintln!("prefork worker {slot}: cannot watch the supervisor: {e}");
            return;
        }
    };
    goro::go!(move || {
        let mut buf = [0u8; 64];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        eprintln!("prefork worker {slot}: the supervisor is gone; stopping");
        // SAFETY: kill(2) sends a signal to this process; no memory.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    });
}

// ---------------------------------------------------------------------
// The supervisor.

/// What the supervisor's loop hears about.
enum Event {
    Signal(i32),
    Exited {
        slot: usize,
        pid: u32,
        status: std::io::Result<ExitStatus>,
    },
}

/// A running worker: its pidfd (to signal it), the write end of its
/// stdin (its end tells the worker the supervisor is gone) and its start.
struct Running {
    pid: u32,
    pidfd: OwnedFd,
    _stdin: ChildStdin,
    started: Instant,
}

/// Runs the supervisor; returns the process's exit status.
fn supervise(args: &Args) -> i32 {
    let fail = |what: String| -> i32 {
        eprintln!("prefork: {what}");
        1
    };
    let addr = match resolve(&args.addr) {
        Ok(a) => a,
        Err(e) => return fail(format!("bad address {}: {e}", args.addr)),
    };
    // Bound, never listening: holds the port (port 0 picks it once, for
    // every worker and restart) without taking connections.
    let holder = match reuseport_socket(addr) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot bind {addr}: {e}")),
    };
    let addr = match holder.local_addr().map(|a| a.as_socket()) {
        Ok(Some(a)) => a,
        other => return fail(format!("no local address: {other:?}")),
    };
    let signals = match goro::signal::notify(&[libc::SIGINT, libc::SIGTERM]) {
        Ok(rx) => rx,
        Err(e) => return fail(format!("cannot watch SIGINT/SIGTERM: {e}")),
    };
    let (events, inbox) = goro::unbounded();
    {
        let events = events.clone();
        goro::go!(move || {
            for sig in signals.iter() {
                if events.send(Event::Signal(sig)).is_err() {
                    return;
                }
            }
        });
    }
    let n = args.workers as usize;
    let mut running: Vec<Option<Running>> = (0..n).map(|_| None).collect();
    for (slot, entry) in running.iter_mut().enumerate() {
        match start_worker(slot, addr, args.grace, &events) {
            Ok(r) => *entry = Some(r),
            Err(e) => {
                stop_all(&running, libc::SIGKILL);
                return fail(format!("worker {slot} did not start: {e}"));
            }
        }
    }
    say!("listening on {addr}");
    for (slot, r) in running.iter().enumerate() {
        if let Some(r) = r {
            say!("worker {slot} started: pid {}", r.pid);
        }
    }
    let mut stopping: Option<i32> = None;
    let mut restarts = 0usize;
    let mut unclean = 0usize;
    for event in inbox.iter() {
        match event {
            Event::Signal(sig) if stopping.is_none() => {
                say!(
                    "prefork: {}: stopping {} workers (grace {:?})",
                    signal_name(sig),
                    running.iter().flatten().count(),
                    args.grace
                );
                stopping = Some(sig);
                stop_all(&running, libc::SIGTERM);
            }
            Event::Signal(sig) => {
                say!(
                    "prefork: a second {}: killing the workers",
                    signal_name(sig)
                );
                stop_all(&running, libc::SIGKILL);
                unclean += 1;
            }
            Event::Exited { slot, pid, status } => {
                let lived = running[slot]
                    .take()
                    .map_or(Duration::ZERO, |r| r.started.elapsed());
                let how = describe(&status);
                if stopping.is_some() {
                    let clean = matches!(&status, Ok(s) if s.success());
                    unclean += usize::from(!clean);
                    say!("worker {slot} (pid {pid}) exited: {how}");
                    if running.iter().all(Option::is_none) {
                        break;
                    }
                    continue;
                }
                say!("worker {slot} (pid {pid}) died after {lived:.1?}: {how}; restarting");
                if lived < MIN_LIFETIME {
                    goro::time::sleep(MIN_LIFETIME);
                }
                // A signal may have come while it slept.
                if stopping.is_some() {
                    continue;
                }
                match start_worker(slot, addr, args.grace, &events) {
                    Ok(r) => {
                        restarts += 1;
                        say!("worker {slot} restarted: pid {}", r.pid);
                        running[slot] = Some(r);
                    }
                    Err(e) => {
                        // Retried by the same path: report it as an exit.
                        eprintln!("prefork: worker {slot} did not restart: {e}");
                        let _ = events.send(Event::Exited {
                            slot,
                            pid: 0,
                            status: Err(e),
                        });
                    }
                }
            }
        }
        if stopping.is_some() && running.iter().all(Option::is_none) {
            break;
        }
    }
    drop(holder);
    let sig = stopping.map_or("the event channel closing", signal_name);
    say!("prefork: stopped by {sig}: {n} workers, {restarts} restarts, {unclean} unclean exits");
    i32::from(unclean > 0)
}

fn resolve(addr: &str) -> std::io::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address"))
}

/// Starts the worker of `slot`, waits for its `ready` line, and leaves a
/// goroutine that reports its exit as an [`Event::Exited`].
fn start_worker(
    slot: usize,
    addr: SocketAddr,
    grace: Duration,
    events: &goro::Sender<Event>,
) -> std::io::Result<Running> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.env(WORKER_ENV, slot.to_string())
        .arg(addr.to_string())
        .arg("--grace")
        .arg(grace.as_secs_f64().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .process_group(0);
    let mut child = Child::from_std(cmd.spawn()?)?;
    let pid = child.id();
    // Opened before anything can reap the child: it names this process
    // and no later one with a recycled pid.
    let pidfd = pidfd_open(pid).inspect_err(|_| {
        let _ = child.kill();
    })?;
    let stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let status = child.wait()?;
        return Err(std::io::Error::other(format!(
            "it printed {line:?} and exited: {}",
            describe(&Ok(status))
        )));
    }
    let forwarder = goro::go!(move || {
        for line in stdout.lines() {
            match line {
                Ok(l) => say!("worker {slot}: {l}"),
                Err(_) => break,
            }
        }
    });
    let events = events.clone();
    goro::go!(move || {
        let status = child.wait();
        // Its last lines (it closed stdout by exiting) before its exit.
        let _ = forwarder.join();
        let _ = events.send(Event::Exited { slot, pid, status });
    });
    Ok(Running {
        pid,
        pidfd,
        _stdin: stdin,
        started: Instant::now(),
    })
}

/// Sends `sig` to every running worker.
fn stop_all(running: &[Option<Running>], sig: i32) {
    for r in running.iter().flatten() {
        // SAFETY: pidfd_send_signal takes a pidfd we own, a signal number
        // and a null siginfo (the kernel fills in a SI_USER one); no memory
        // of ours is written.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                r.pidfd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                eprintln!("prefork: cannot signal worker pid {}: {e}", r.pid);
            }
        }
    }
}

fn pidfd_open(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1;
    // no memory is involved.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the syscall succeeded: `fd` is a new descriptor nobody else
    // owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn describe(status: &std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal {sig} ({})", signal_name(sig)),
            _ => format!("{s}"),
        },
        Err(e) => format!("unknown ({e})"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        _ => "a signal",
    }
}
