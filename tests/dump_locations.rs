//! `goro::dump()` says where each goroutine waits: for every kind of
//! blocking call (channel receive, mutex, sleep, socket read, accept,
//! join, select) the dump line of a goroutine parked in it names this
//! file and the line of the call, the wait reason, what it waits on, and a
//! wait time that grows. `goro::dump_grouped()` counts goroutines parked
//! at one place.
//!
//! Each call's line is taken with `line!()` right beside it. The tests of
//! this binary run in parallel, so each one matches only its own
//! goroutines (by name, or by its own lines).

use std::io::Read;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use goro::net::{TcpListener, TcpStream};
use goro::sync::Mutex;

/// How long a goroutine may take to show up parked: far more than it needs.
const PATIENCE: Duration = Duration::from_secs(20);

/// The dump line of the goroutine named `name` once it is parked with
/// `reason`, polled until it is there.
fn parked_line(name: &str, reason: &str) -> String {
    let head = format!("{name:?} [{reason}, ");
    let start = Instant::now();
    loop {
        let dump = goro::dump().to_string();
        if let Some(line) = dump.lines().find(|l| l.contains(&head)) {
            return line.to_string();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{name} never parked with {reason}:\n{dump}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The wait time in a dump line: `850ms` or `3.2s`.
fn waited(line: &str) -> Duration {
    let after = line
        .split(", ")
        .nth(1)
        .expect("a wait time after the reason");
    let text = &after[..after.find(']').expect("the bracket closes")];
    match text.strip_suffix("ms") {
        Some(ms) => Duration::from_millis(ms.parse().expect("whole milliseconds")),
        None => {
            let secs = text.strip_suffix('s').expect("seconds");
            Duration::from_secs_f64(secs.parse().expect("decimal seconds"))
        }
    }
}

/// Checks the line of the goroutine `name`, parked with `reason` at
/// `line` of this file, waiting on `object` (the dump's parenthesis, as a
/// prefix), and that its wait time grows.
fn check(name: &str, reason: &str, line: u32, object: &str) {
    let first = parked_line(name, reason);
    let place = format!("]: {}:{line}:", file!());
    assert!(first.contains(&place), "not at {place}: {first}");
    let column: u32 = first[first.find(&place).unwrap() + place.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no column in {first}"));
    assert!(column > 0, "{first}");
    assert!(
        first.ends_with(')') && first.contains(&format!(" ({object}")),
        "does not wait on {object}: {first}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let second = parked_line(name, reason);
    assert!(second.contains(&place), "moved: {second}");
    assert!(
        waited(&second) >= waited(&first) + Duration::from_millis(200),
        "the wait time did not grow: {first} then {second}"
    );
}

fn spawn_named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> goro::JoinHandle<T> {
    goro::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .unwrap()
}

#[test]
fn a_channel_receive_names_its_line_and_channel() {
    let (tx, rx) = goro::chan::<u8>(0);
    let line = line!() + 1;
    let h = spawn_named("loc-recv", move || rx.recv());
    check("loc-recv", "chan receive", line, "chan 0x");
    drop(tx);
    assert!(h.join().unwrap().is_err());
}

#[test]
fn a_mutex_lock_names_its_line() {
    let m = std::sync::Arc::new(Mutex::new(0));
    let held = m.lock();
    let m2 = m.clone();
    let line = line!() + 1;
    let h = spawn_named("loc-mutex", move || *m2.lock() + 1);
    check("loc-mutex", "mutex", line, "on 0x");
    drop(held);
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn a_sleep_names_its_line() {
    let line = line!() + 1;
    let h = spawn_named("loc-sleep", || goro::time::sleep(Duration::from_secs(2)));
    let first = parked_line("loc-sleep", "sleep");
    assert!(
        first.contains(&format!("]: {}:{line}:", file!())),
        "{first}"
    );
    // A sleep waits on nothing the dump could name.
    assert!(!first.ends_with(')'), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    let second = parked_line("loc-sleep", "sleep");
    assert!(waited(&second) >= waited(&first) + Duration::from_millis(200));
    h.join().unwrap();
}

#[test]
fn a_socket_read_through_the_read_trait_names_its_line_and_fd() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (fd_tx, fd_rx) = goro::chan::<i32>(1);
    let h = spawn_named("loc-read", move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        fd_tx.send(stream.as_raw_fd()).unwrap();
        let mut buf = [0u8; 16];
        let n = Read::read(&mut stream, &mut buf).unwrap();
        (line!() - 1, n)
    });
    let (peer, _) = listener.accept().unwrap();
    let fd = fd_rx.recv().unwrap();
    // The line is only known once the goroutine returns: read it from the
    // dump, then check it against the one the goroutine reports.
    let first = parked_line("loc-read", "IO read");
    assert!(first.ends_with(&format!(" (fd {fd})")), "{first}");
    drop(peer); // EOF: the read returns 0
    let (line, n) = h.join().unwrap();
    assert_eq!(n, 0);
    assert!(
        first.contains(&format!("]: {}:{line}:", file!())),
        "{first}"
    );
}

#[test]
fn a_write_all_that_fills_the_socket_names_its_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (fd_tx, fd_rx) = goro::chan::<i32>(1);
    let h = spawn_named("loc-write-all", move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        fd_tx.send(stream.as_raw_fd()).unwrap();
        // Far more than the socket buffers hold while nobody reads.
        let big = vec![7u8; 64 << 20];
        let result = std::io::Write::write_all(&mut stream, &big);
        (line!() - 1, result.is_err())
    });
    let (peer, _) = listener.accept().unwrap();
    let fd = fd_rx.recv().unwrap();
    let first = parked_line("loc-write-all", "IO write");
    assert!(first.ends_with(&format!(" (fd {fd})")), "{first}");
    drop(peer); // the write fails (reset) or ends
    let (line, _) = h.join().unwrap();
    assert!(
        first.contains(&format!("]: {}:{line}:", file!())),
        "{first}"
    );
}

#[test]
fn an_accept_names_its_line_and_the_listeners_fd() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    let line = line!() + 2;
    let h = spawn_named("loc-accept", move || {
        listener.accept().map(|(_, peer)| peer)
    });
    check("loc-accept", "accept", line, &format!("fd {fd}"));
    let client = std::net::TcpStream::connect(addr).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), client.local_addr().unwrap());
}

#[test]
fn a_join_names_its_line_and_the_goroutine_joined() {
    let (tx, rx) = goro::chan::<u8>(0);
    let inner = spawn_named("loc-joined", move || rx.recv());
    let joined = inner.id();
    let line = line!() + 1;
    let h = spawn_named("loc-join", move || inner.join().unwrap());
    check("loc-join", "join", line, &format!("goroutine {joined}"));
    tx.send(5).unwrap();
    assert_eq!(h.join().unwrap(), Ok(5));
}

#[test]
fn a_select_names_the_line_of_the_macro() {
    let (tx_a, rx_a) = goro::chan::<u8>(0);
    let (_tx_b, rx_b) = goro::chan::<u8>(0);
    let line = line!() + 2;
    let h = spawn_named("loc-select", move || {
        goro::select! {
            recv(rx_a) -> v => v.ok(),
            recv(rx_b) -> _ => None,
        }
    });
    let first = parked_line("loc-select", "select");
    assert!(
        first.contains(&format!("]: {}:{line}:", file!())),
        "{first}"
    );
    std::thread::sleep(Duration::from_millis(300));
    let second = parked_line("loc-select", "select");
    assert!(waited(&second) >= waited(&first) + Duration::from_millis(200));
    tx_a.send(3).unwrap();
    assert_eq!(h.join().unwrap(), Some(3));
}

#[test]
fn grouped_dump_counts_goroutines_by_line() {
    let (tx_a, rx_a) = goro::chan::<u8>(0);
    let (tx_b, rx_b) = goro::chan::<u8>(0);
    let mut handles = Vec::new();
    for _ in 0..300 {
        let rx = rx_a.clone();
        handles.push(goro::go!(move || rx.recv()));
    }
    let line_a = line!() - 2;
    for _ in 0..200 {
        let rx = rx_b.clone();
        handles.push(goro::go!(move || rx.recv()));
    }
    let line_b = line!() - 2;
    let want_a = format!("300 @ [chan receive] {}:{line_a}:", file!());
    let want_b = format!("200 @ [chan receive] {}:{line_b}:", file!());
    let start = Instant::now();
    loop {
        let grouped = goro::dump_grouped();
        let text = grouped.to_string();
        if text.lines().any(|l| l.starts_with(&want_a))
            && text.lines().any(|l| l.starts_with(&want_b))
        {
            // The accessors say the same, largest group first.
            let mine: Vec<usize> = grouped
                .groups()
                .filter(|(_, _, _, at)| {
                    at.is_some_and(|at| {
                        at.file() == file!() && (at.line() == line_a || at.line() == line_b)
                    })
                })
                .map(|(count, state, reason, _)| {
                    assert_eq!(
                        (state, reason),
                        ("blocked", Some(goro::WaitReason::ChanRecv))
                    );
                    count
                })
                .collect();
            assert_eq!(mine, [300, 200], "{text}");
            assert!(grouped.total() >= 500);
            break;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no groups of 300 and 200:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop((tx_a, tx_b));
    for h in handles {
        assert!(h.join().unwrap().is_err());
    }
}
