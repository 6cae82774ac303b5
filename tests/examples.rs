//! The short examples run to the end, without a panic or an abort, when
//! their stdout is a pipe nobody reads any more (`| head -1` after `head`
//! quit). `hello` prints from a destructor while a goroutine unwinds
//! (`goexit`), where a panicking print aborts the process. The echo and
//! HTTP servers shut down gracefully on SIGTERM; the chat example delivers
//! every line and its server stops on SIGTERM. The prefork server restarts
//! a worker killed with SIGKILL while its sibling keeps serving, and stops
//! every worker on SIGTERM.
//!
//! Runs the example binaries themselves, built here with the profile of
//! this test (a no-op after `cargo test`, which builds the examples).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXAMPLES: [(&str, &[&str]); 3] = [("hello", &[]), ("pipeline", &[]), ("sieve", &["20"])];

/// Where cargo puts the examples of this test's profile, after building
/// `names`.
fn build_examples(names: &[&str]) -> PathBuf {
    let profile_dir = std::env::current_exe()
        .unwrap()
        .parent() // deps
        .and_then(|d| d.parent())
        .unwrap()
        .to_path_buf();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap());
    if profile_dir.ends_with("release") {
        cargo.arg("--release");
    }
    for name in names {
        cargo.args(["--example", name]);
    }
    let status = cargo.status().unwrap();
    assert!(status.success(), "cargo build of the examples: {status}");
    profile_dir.join("examples")
}

/// The writing end of a pipe whose reading end is already closed.
fn closed_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) writes two new descriptors into the array we own.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody
    // else; dropping the reading end closes it.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

#[test]
fn short_examples_survive_a_closed_stdout() {
    let dir = build_examples(&EXAMPLES.map(|(name, _)| name));
    for (name, args) in EXAMPLES {
        let out = Command::new(dir.join(name))
            .args(args)
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::from(closed_pipe()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {}\n{stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{name}:\n{stderr}");
    }
}

/// A server example started on a free port, with the address it printed.
fn start_server(
    name: &str,
    args: &[&str],
) -> (Child, SocketAddr, BufReader<std::process::ChildStdout>) {
    let dir = build_examples(&[name]);
    let mut child = Command::new(dir.join(name))
        .arg("127.0.0.1:0")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .trim_start_matches("listening on ")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("{name} printed {line:?}"));
    (child, addr, out)
}

fn sigterm(child: &Child) {
    // SAFETY: kill(2) sends a signal to our own child; no memory involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

/// Waits until connecting to `addr` is refused: the listener was closed.
fn until_refused(addr: SocketAddr) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "still accepting");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The rest of the server's stdout and its exit, which must come within
/// `within`.
fn finish(
    mut child: Child,
    mut out: BufReader<std::process::ChildStdout>,
    within: Duration,
) -> (String, Duration) {
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("the server did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    (rest, start.elapsed())
}

#[test]
fn echo_server_stops_accepting_on_sigterm_and_lets_connections_finish() {
    let (child, addr, out) = start_server("echo_server", &["--grace", "60"]);
    let mut conn = TcpStream::connect(addr).unwrap();
    let mut buf = [0u8; 5];
    conn.write_all(b"hello").unwrap();
    conn.read_exact(&mut buf).unwrap();
    sigterm(&child);
    until_refused(addr);
    // The open connection is still served...
    conn.write_all(b"again").unwrap();
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"again");
    // ...and once it ends, the server exits long before the grace period.
    drop(conn);
    let (rest, took) = finish(child, out, Duration::from_secs(30));
    // Served: ours and any probe of `until_refused` that came first.
    assert!(rest.contains("stopped by SIGTERM: "), "{rest}");
    assert!(rest.contains("connections served, 0 still open"), "{rest}");
    println!("echo_server exited {took:?} after its last connection closed");
}

#[test]
fn http_server_closes_keep_alive_after_the_response_and_ends_after_the_grace() {
    // The grace period must outlast the steps between the signal and the
    // second request, or the server exits under that request (a loaded
    // machine took over 0.5 s once).
    let (child, addr, out) = start_server("http_server", &["--grace", "5"]);
    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut busy = TcpStream::connect(addr).unwrap();
    let idle = TcpStream::connect(addr).unwrap();
    let mut buf = vec![0u8; 4096];
    busy.write_all(GET).unwrap();
    let n = busy.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    sigterm(&child);
    until_refused(addr);
    // The keep-alive connection closes after its current response: a
    // request sent after the signal is answered first if the connection's
    // goroutine was back in its read when the signal came, and not if it
    // still stood between the first response and its look at the flag
    // (CI saw both). Either way the server closes it: read_to_end ends.
    let _ = busy.write_all(GET);
    let mut answer = Vec::new();
    let _ = busy.read_to_end(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 200 OK"),
        "{answer:?}"
    );
    // The idle keep-alive connection holds the server for the grace period.
    let (rest, took) = finish(child, out, Duration::from_secs(30));
    assert!(rest.contains("stopped by SIGTERM: "), "{rest}");
    assert!(rest.contains("connections served, 1 still open"), "{rest}");
    assert!(took >= Duration::from_secs(1), "exited after {took:?}");
    drop(idle);
}

#[test]
fn http_server_serves_the_debug_endpoint_with_debug_addr() {
    let (child, _, mut out) = start_server("http_server", &["--debug-addr", "127.0.0.1:0"]);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let debug: SocketAddr = line
        .trim()
        .strip_prefix("debug endpoint on http://")
        .and_then(|rest| rest.strip_suffix("/debug/"))
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("printed {line:?}"));
    assert!(debug.ip().is_loopback());
    for (path, shows) in [
        ("/debug/goroutines?debug=2", "goro-debug-accept"),
        ("/debug/metrics", "goro_goroutines"),
    ] {
        let mut conn = TcpStream::connect(debug).unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        conn.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        conn.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "{path}: {answer}"
        );
        assert!(answer.contains(shows), "{path}: {answer}");
    }
    sigterm(&child);
    let (rest, _) = finish(child, out, Duration::from_secs(30));
    assert!(rest.contains("stopped by SIGTERM: "), "{rest}");
}

#[test]
fn chat_delivers_every_line_and_its_server_stops_on_sigterm() {
    let dir = build_examples(&["chat"]);
    // The demo: a server and 8 clients in one process.
    let demo = Command::new(dir.join("chat")).output().unwrap();
    let text = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "{}", demo.status);
    assert!(text.contains("280 of 280 lines delivered"), "{text}");
    assert!(
        text.contains("hub stopped: 8 joined, 40 lines said, 280 delivered, 0 dropped"),
        "{text}"
    );
    // Server and clients apart; the server stops on SIGTERM.
    let mut server = Command::new(dir.join("chat"))
        .args(["serve", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .trim_start_matches("chat server on ")
        .to_string();
    let clients = Command::new(dir.join("chat"))
        .args(["client", &addr, "20", "5"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&clients.stdout);
    assert!(clients.status.success(), "{}", clients.status);
    assert!(text.contains("1900 of 1900 lines delivered"), "{text}");
    // A bad number names the argument and the value.
    let bad = Command::new(dir.join("chat"))
        .args(["client", &addr, "many", "5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("invalid value 'many' for '<CLIENTS>'"),
        "{err}"
    );
    sigterm(&server);
    let (rest, _) = finish(server, out, Duration::from_secs(20));
    assert!(
        rest.contains("hub stopped: 20 joined, 100 lines said, 1900 delivered"),
        "{rest}"
    );
}

/// The next line the server printed (without its newline).
fn next_line(out: &mut BufReader<std::process::ChildStdout>) -> String {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    line.trim_end().to_string()
}

/// The pid at the end of a `... pid N` line.
fn pid_in(line: &str) -> u32 {
    let pid = line.rsplit("pid ").next().unwrap();
    pid.parse().unwrap_or_else(|_| panic!("no pid in {line:?}"))
}

/// Sockets in `pid`'s fd table.
fn sockets_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|link| link.to_string_lossy().starts_with("socket:"))
        .count()
}

/// A connection that echoed `msg`, or the error that ended it.
fn echo_once(conn: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    conn.write_all(msg)?;
    let mut buf = vec![0u8; msg.len()];
    conn.read_exact(&mut buf)?;
    assert_eq!(buf, msg);
    Ok(())
}

#[test]
fn prefork_restarts_a_killed_worker_while_its_sibling_keeps_serving_and_stops_on_sigterm() {
    const CONNS: usize = 16;
    let (child, addr, mut out) = start_server("prefork", &["--workers", "2", "--grace", "5"]);
    // A supervisor that stops printing would leave `next_line` waiting:
    // after a minute it is killed, its stdout ends and the test fails.
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let supervisor = child.id() as i32;
    let dog = std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(60)).is_err() {
            // SAFETY: kill(2) signals our own child, not yet reaped
            // (`finish` reaps it only after `done` is sent); no memory.
            unsafe { libc::kill(supervisor, libc::SIGKILL) };
        }
    });
    let first = next_line(&mut out);
    let second = next_line(&mut out);
    assert!(first.starts_with("worker 0 started: pid "), "{first}");
    assert!(second.starts_with("worker 1 started: pid "), "{second}");
    let (doomed, survivor) = (pid_in(&first), pid_in(&second));
    let mut conns: Vec<TcpStream> = (0..CONNS)
        .map(|_| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            echo_once(&mut c, b"ping").unwrap(); // accepted by a worker
            c
        })
        .collect();
    // Each worker holds its listener and the connections it accepted.
    let held = sockets_of(doomed) - 1;
    assert_eq!(held + sockets_of(survivor) - 1, CONNS);
    // SAFETY: kill(2) sends a signal to a process we started; no memory.
    assert_eq!(unsafe { libc::kill(doomed as i32, libc::SIGKILL) }, 0);
    let died = next_line(&mut out);
    assert!(
        died.starts_with(&format!("worker 0 (pid {doomed}) died after"))
            && died.ends_with("signal 9 (SIGKILL); restarting"),
        "{died}"
    );
    let restarted = next_line(&mut out);
    assert!(
        restarted.starts_with("worker 0 restarted: pid "),
        "{restarted}"
    );
    let replacement = pid_in(&restarted);
    // Only the killed worker's connections ended; the sibling's never
    // noticed.
    let failed = conns
        .iter_mut()
        .map(|c| echo_once(c, b"again"))
        .filter(Result::is_err)
        .count();
    assert_eq!(failed, held, "{held} connections were on the killed worker");
    // New connections are served (by the replacement or the sibling).
    for _ in 0..CONNS {
        echo_once(&mut TcpStream::connect(addr).unwrap(), b"new").unwrap();
    }
    drop(conns);
    sigterm(&child);
    done.send(()).unwrap();
    dog.join().unwrap();
    let (rest, _) = finish(child, out, Duration::from_secs(30));
    assert!(
        rest.contains("prefork: stopped by SIGTERM: 2 workers, 1 restarts, 0 unclean exits"),
        "{rest}"
    );
    // Every worker was waited for: none is left, not even as a zombie.
    for pid in [survivor, replacement] {
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(pid as i32, 0) };
        assert_eq!(rc, -1, "worker pid {pid} is still there");
        assert_eq!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ESRCH)
        );
    }
}
