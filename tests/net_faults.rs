//! Faults and bad input on sockets: fd exhaustion on accept (no crash, no
//! spin, recovery), peer resets, half-closes, refused connects, invalid
//! addresses, timeouts — with the std `io::ErrorKind`s — and no fd or
//! goroutine leaks after a burst of connections.
//!
//! The fd-exhaustion and leak tests run in a child process (this binary
//! re-run with `GORO_FAULTS_CHILD=<test name>`), so the fd limit and the
//! fd count are not disturbed by the tests running beside them.

use goro::net::{TcpListener, TcpStream, UdpSocket};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "GORO_FAULTS_CHILD";

/// Whether this process is the child running `name`.
fn child_mode(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == name)
}

/// In the parent: whether to skip (we are a child running another test).
fn in_some_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

fn spawn_child(name: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The fd limit that leaves exactly `free` fd numbers available (the
/// kernel hands out the lowest free number, and the limit caps numbers,
/// not counts).
fn limit_leaving(free: usize) -> u64 {
    let open: std::collections::HashSet<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut left = free;
    let mut fd = 0;
    loop {
        if !open.contains(&fd) {
            if left == 0 {
                return fd;
            }
            left -= 1;
        }
        fd += 1;
    }
}

/// utime + stime of `pid` from /proc, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn echo(conn: TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match (&conn).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if (&conn).write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

// ---- running out of fds on accept ----------------------------------------

/// Child: an echo server whose fd limit leaves room for about 20
/// connections; it logs each accept error on stdout.
#[test]
fn emfile_server_child() {
    if !child_mode("emfile_server_child") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Start the runtime (epoll, eventfd, threads) before measuring.
    goro::go!(|| ()).join().unwrap();
    let limit = limit_leaving(20) as libc::rlim_t;
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit reads the struct we pass.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    println!("listening on {addr}");
    std::io::stdout().flush().unwrap();
    let errors = Arc::new(AtomicUsize::new(0));
    let e2 = errors.clone();
    goro::go!(move || {
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    goro::go!(echo(conn));
                }
                Err(e) => {
                    let n = e2.fetch_add(1, Ordering::SeqCst) + 1;
                    println!("accept error {n}: {:?} {e}", e.raw_os_error());
                    std::io::stdout().flush().unwrap();
                }
            }
        }
    });
    // Until the parent kills us (bounded).
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn emfile_on_accept_backs_off_keeps_serving_and_recovers() {
    if in_some_child() {
        return;
    }
    let mut child = KillOnDrop(spawn_child("emfile_server_child"));
    let pid = child.0.id();
    let (line_tx, line_rx) = std::sync::mpsc::channel::<String>();
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    let addr: SocketAddr = loop {
        let line = line_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        if let Some(at) = line.find("listening on ") {
            break line[at + 13..].trim().parse().unwrap();
        }
    };

    // 30 connections: about 20 get accepted, the rest wait in the backlog
    // while accept fails with EMFILE.
    let conns: Vec<std::net::TcpStream> = (0..30)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    for c in &conns {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let first_error = line_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        first_error.contains(&format!("Some({})", libc::EMFILE)),
        "{first_error}"
    );

    // Backing off, not spinning: little CPU over a full second.
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        used * 1000 / hz < 150,
        "the server used {} ms of CPU in 1 s while out of fds",
        used * 1000 / hz
    );
    // The back-off sleeps 5, 10, 20, ... ms: few errors, not thousands.
    let mut errors = 1;
    while let Ok(line) = line_rx.try_recv() {
        errors += line.starts_with("accept error") as usize;
    }
    println!(
        "out of fds: {} ms CPU in 1 s, {errors} accept errors",
        used * 1000 / hz
    );
    assert!(errors <= 12, "{errors} accept errors in ~1.2 s");

    // Connections already open are still served.
    let mut first = &conns[0];
    first.write_all(b"still here").unwrap();
    let mut buf = [0u8; 10];
    first.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");

    // Free fds: close 15 served connections; every waiting one gets
    // accepted and served (the back-off is at most 1 s).
    let mut conns = conns;
    let waiting = conns.split_off(15);
    drop(conns);
    for (i, mut c) in waiting.iter().enumerate() {
        let msg = format!("conn {i:02}");
        c.write_all(msg.as_bytes()).unwrap();
        let mut got = [0u8; 7];
        c.read_exact(&mut got)
            .unwrap_or_else(|e| panic!("waiting connection {i} was never served: {e}"));
        assert_eq!(&got, msg.as_bytes());
    }
    // A brand-new connection is accepted too.
    let mut fresh = std::net::TcpStream::connect(addr).unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    fresh.write_all(b"new").unwrap();
    let mut got = [0u8; 3];
    fresh.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"new");
    drop(child);
}

// ---- leaks ------------------------------------------------------------------

#[test]
fn fd_and_goroutine_leak_child() {
    if !child_mode("fd_and_goroutine_leak_child") {
        return;
    }
    // Warm up the runtime (epoll, eventfd, worker threads, stacks).
    goro::go!(|| goro::time::sleep(Duration::from_millis(1)))
        .join()
        .unwrap();
    // `join` returns once the result is in, which can be milliseconds
    // before the worker reaps the goroutine: let the baseline settle.
    let settle = Instant::now() + Duration::from_secs(5);
    while goro::num_goroutine() != 0 && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(1));
    }
    let fds = open_fds();
    let goroutines = goro::num_goroutine();

    for _ in 0..3 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = goro::go!(move || {
            let mut handlers = Vec::new();
            for _ in 0..200 {
                let (conn, _) = listener.accept().unwrap();
                handlers.push(goro::go!(echo(conn)));
            }
            for h in handlers {
                h.join().unwrap();
            }
        });
        let clients: Vec<_> = (0..200)
            .map(|i| {
                goro::go!(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    let msg = format!("client {i:03}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut got = vec![0u8; msg.len()];
                    s.read_exact(&mut got).unwrap();
                    assert_eq!(got, msg.as_bytes());
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
    }
    // Failed operations must not leak either.
    for _ in 0..50 {
        let dead = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        assert!(TcpStream::connect(addr).is_err());
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while (open_fds() != fds || goro::num_goroutine() != goroutines) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), fds, "open fds before and after");
    assert_eq!(
        goro::num_goroutine(),
        goroutines,
        "goroutines before and after"
    );
    println!("LEAK CHECK OK");
}

#[test]
fn no_fd_or_goroutine_leaks_after_a_burst_of_connections() {
    if in_some_child() {
        return;
    }
    let child = spawn_child("fd_and_goroutine_leak_child");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stdout}");
    assert!(stdout.contains("LEAK CHECK OK"), "{stdout}");
}

// ---- resets, half-close, refused, invalid, timeouts ---------------------------

/// Closes `s` with SO_LINGER 0, so the peer gets a RST.
fn reset(s: std::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `linger` (on this stack) for the call, on a
    // socket we own.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    drop(s);
}

#[test]
fn peer_reset_reads_connection_reset() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = goro::go!(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"x").unwrap();
        let mut buf = [0u8; 8];
        s.read(&mut buf).unwrap_err().kind()
    });
    let (peer, _) = listener.accept().unwrap();
    let mut one = [0u8; 1];
    (&peer).read_exact(&mut one).unwrap();
    reset(peer);
    assert_eq!(h.join().unwrap(), ErrorKind::ConnectionReset);
}

#[test]
fn writing_to_a_reset_peer_fails_with_reset_or_broken_pipe() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (connected_tx, connected) = goro::chan::<()>(0);
    let h = goro::go!(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        connected_tx.send(()).unwrap();
        goro::time::sleep(Duration::from_millis(50)); // let the RST arrive
        for _ in 0..1000 {
            if let Err(e) = s.write(&[0u8; 1024]) {
                return e.kind();
            }
        }
        panic!("writes to a reset connection kept succeeding");
    });
    let (peer, _) = listener.accept().unwrap();
    // Reset only once connect has returned: an RST that lands while the
    // handshake is being confirmed fails the connect itself (as in Go).
    connected.recv().unwrap();
    reset(peer);
    let kind = h.join().unwrap();
    assert!(
        matches!(kind, ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
        "{kind:?}"
    );
}

#[test]
fn half_close_reads_eof_and_still_writes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = goro::go!(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap(); // client shut its write half
        s.write_all(b"reply after EOF").unwrap();
        got
    });
    let client = goro::go!(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"request").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).unwrap();
        reply
    });
    assert_eq!(server.join().unwrap(), b"request");
    assert_eq!(client.join().unwrap(), b"reply after EOF");
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let h = goro::go!(move || {
        (
            TcpStream::connect(addr).unwrap_err().kind(),
            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_err()
                .kind(),
        )
    });
    assert_eq!(
        h.join().unwrap(),
        (ErrorKind::ConnectionRefused, ErrorKind::ConnectionRefused)
    );
    // From a plain thread too.
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn connect_to_a_closed_ipv6_port_is_refused() {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        return; // no IPv6 loopback here
    };
    let addr = l.local_addr().unwrap();
    drop(l);
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn invalid_addresses_are_invalid_input() {
    assert_eq!(
        TcpStream::connect("127.0.0.1").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        TcpListener::bind("127.0.0.1:99999").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let no_addrs: &[SocketAddr] = &[];
    assert_eq!(
        TcpStream::connect(no_addrs).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(
        udp.send_to(b"x", no_addrs).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert_eq!(
        TcpStream::connect_timeout(&addr, Duration::ZERO)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let long = format!("/tmp/{}", "x".repeat(200));
    assert_eq!(
        goro::net::unix::UnixStream::connect(long)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn binding_a_port_in_use_is_addr_in_use() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

#[test]
fn read_timeout_is_would_block_on_goroutines_and_threads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let keep = goro::go!(move || {
        let a = listener.accept().unwrap();
        let b = listener.accept().unwrap();
        goro::time::sleep(Duration::from_millis(500));
        drop((a, b));
    });
    let g = goro::go!(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(40))).unwrap();
        (&s).read(&mut [0u8; 4]).unwrap_err().kind()
    });
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(40))).unwrap();
    assert_eq!(
        (&s).read(&mut [0u8; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    assert_eq!(g.join().unwrap(), ErrorKind::WouldBlock);
    keep.join().unwrap();
}

#[test]
fn write_timeout_is_would_block_when_the_peer_never_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = goro::go!(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let start = Instant::now();
        // Bounded: loopback buffers hold a few MiB at most.
        for _ in 0..4096 {
            if let Err(e) = (&s).write(&chunk) {
                return (e.kind(), start.elapsed());
            }
        }
        panic!("256 MiB written to a peer that never reads");
    });
    let (_peer, _) = listener.accept().unwrap();
    let (kind, took) = h.join().unwrap();
    assert_eq!(kind, ErrorKind::WouldBlock);
    assert!(took < Duration::from_secs(10));
}
