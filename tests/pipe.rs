//! Pipes and `Pollable` fds: goroutines on both ends, EOF, broken pipes,
//! timeouts, and wrapping an fd from elsewhere.

use goro::io::{pipe, Pollable};
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

#[test]
fn bytes_flow_from_writer_to_reader_between_goroutines() {
    let (mut r, mut w) = pipe().unwrap();
    let writer = goro::go!(move || {
        // More than the pipe buffer (64 KiB): the writer must park.
        let chunk = [7u8; 4096];
        for _ in 0..64 {
            w.write_all(&chunk).unwrap();
        }
    });
    let mut got = Vec::new();
    let reader = goro::go!(move || {
        r.read_to_end(&mut got).unwrap();
        got
    });
    writer.join().unwrap();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 64 * 4096);
    assert!(got.iter().all(|&b| b == 7));
}

#[test]
fn ping_pong_over_two_pipes() {
    let (mut r1, mut w1) = pipe().unwrap();
    let (mut r2, mut w2) = pipe().unwrap();
    let echo = goro::go!(move || {
        let mut buf = [0u8; 8];
        for _ in 0..1000 {
            r1.read_exact(&mut buf).unwrap();
            w2.write_all(&buf).unwrap();
        }
    });
    for i in 0..1000u64 {
        w1.write_all(&i.to_le_bytes()).unwrap();
        let mut buf = [0u8; 8];
        r2.read_exact(&mut buf).unwrap();
        assert_eq!(u64::from_le_bytes(buf), i);
    }
    echo.join().unwrap();
}

#[test]
fn write_after_reader_dropped_is_broken_pipe() {
    let (r, mut w) = pipe().unwrap();
    drop(r);
    let err = w.write(b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn read_after_writer_dropped_is_eof() {
    let (mut r, w) = pipe().unwrap();
    let g = goro::go!(move || {
        let mut buf = [0u8; 8];
        r.read(&mut buf).unwrap()
    });
    goro::time::sleep(Duration::from_millis(20));
    drop(w);
    assert_eq!(g.join().unwrap(), 0);
}

#[test]
fn read_timeout_expires_with_would_block_as_in_std() {
    let (r, _w) = pipe().unwrap();
    r.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    let g = goro::go!(move || {
        let start = Instant::now();
        let err = (&r).read(&mut [0u8; 4]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        start.elapsed()
    });
    assert!(g.join().unwrap() >= Duration::from_millis(30));
}

#[test]
fn pollable_wraps_a_std_unix_stream() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = Pollable::new(a).unwrap();
    let b = Pollable::new(b).unwrap();
    let g = goro::go!(move || {
        let mut buf = [0u8; 5];
        (&b).read_exact(&mut buf).unwrap();
        // read_with runs any non-blocking call with the same retry.
        b.write_with(|s| (&*s).write(&buf)).unwrap()
    });
    (&a).write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    (&a).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    assert_eq!(g.join().unwrap(), 5);
}

#[test]
fn pollable_refuses_a_regular_file() {
    let path = std::env::temp_dir().join(format!("goro-pipe-test-{}", std::process::id()));
    let f = std::fs::File::create(&path).unwrap();
    let err = Pollable::new(f).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn dropping_a_pollable_closes_the_fd_it_owns() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = Pollable::new(std::os::fd::OwnedFd::from(a)).unwrap();
    let b = Pollable::new(b).unwrap();
    drop(a); // deregisters and closes: the peer sees EOF
    let mut buf = [0u8; 1];
    assert_eq!((&b).read(&mut buf).unwrap(), 0);
}

/// Two plain threads ping-pong one byte over goro pipes while every worker
/// is idle: the reader's wait must be seen by the poller at once, not when
/// the monitor thread next polls (every 10 ms or more). 200 round trips
/// took about 4 s that way; they take milliseconds when an idle worker
/// watches the poller.
#[test]
fn plain_thread_pipe_ping_pong_does_not_wait_for_the_monitor() {
    const ROUND_TRIPS: usize = 200;
    let (ping_r, mut ping_w) = pipe().unwrap();
    let (mut pong_r, pong_w) = pipe().unwrap();
    // Start the runtime and let every worker go idle.
    goro::go!(|| ()).join().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let echo = std::thread::spawn(move || {
        let mut b = [0u8; 1];
        for _ in 0..ROUND_TRIPS {
            (&ping_r).read_exact(&mut b).unwrap();
            (&pong_w).write_all(&b).unwrap();
        }
    });
    let start = std::time::Instant::now();
    let mut b = [7u8; 1];
    for _ in 0..ROUND_TRIPS {
        ping_w.write_all(&b).unwrap();
        pong_r.read_exact(&mut b).unwrap();
    }
    let took = start.elapsed();
    echo.join().unwrap();
    assert!(
        took < std::time::Duration::from_secs(2),
        "{ROUND_TRIPS} round trips took {took:?}"
    );
}
