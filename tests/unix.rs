//! Unix domain sockets in temporary directories: stream echo, pairs,
//! datagrams, timeouts, half-close.

use goro::net::unix::{UnixDatagram, UnixListener, UnixStream};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("goro-unix-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn stream_echo_between_goroutines() {
    let dir = TempDir::new();
    let path = dir.path("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    goro::go!(move || {
        for conn in listener.incoming().take(20) {
            let mut conn = conn.unwrap();
            goro::go!(move || {
                let mut buf = [0u8; 1024];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => conn.write_all(&buf[..n]).unwrap(),
                    }
                }
            });
        }
    });
    let clients: Vec<_> = (0..20)
        .map(|c| {
            let path = path.clone();
            goro::go!(move || {
                let mut s = UnixStream::connect(&path).unwrap();
                for i in 0..50 {
                    let msg = format!("client {c} message {i}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut got = vec![0u8; msg.len()];
                    s.read_exact(&mut got).unwrap();
                    assert_eq!(got, msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn pair_ping_pong_with_a_plain_thread() {
    let (a, b) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        let mut b = b;
        let mut buf = [0u8; 4];
        for _ in 0..100 {
            b.read_exact(&mut buf).unwrap();
            b.write_all(&buf).unwrap();
        }
    });
    let g = goro::go!(move || {
        let mut a = a;
        for i in 0..100u32 {
            a.write_all(&i.to_le_bytes()).unwrap();
            let mut buf = [0u8; 4];
            a.read_exact(&mut buf).unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
        }
    });
    g.join().unwrap();
    t.join().unwrap();
}

#[test]
fn clones_read_and_write_from_two_goroutines() {
    let (a, b) = UnixStream::pair().unwrap();
    let reader = a.try_clone().unwrap();
    let r = goro::go!(move || {
        let mut got = Vec::new();
        (&reader).read_to_end(&mut got).unwrap();
        got
    });
    let echo = goro::go!(move || {
        let mut buf = [0u8; 64];
        loop {
            match (&b).read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => (&b).write_all(&buf[..n]).unwrap(),
            }
        }
    });
    (&a).write_all(b"hello over a unix pair").unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    echo.join().unwrap(); // saw EOF, dropped b: reader sees EOF too
    assert_eq!(r.join().unwrap(), b"hello over a unix pair");
}

#[test]
fn read_timeout_expires_with_would_block_as_in_std() {
    let (a, _b) = UnixStream::pair().unwrap();
    let h = goro::go!(move || {
        a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let start = Instant::now();
        let err = (&a).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(50));
    });
    h.join().unwrap();
}

#[test]
fn connect_to_a_missing_path_is_not_found() {
    let dir = TempDir::new();
    let path = dir.path("missing.sock");
    let err = UnixStream::connect(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn connect_to_a_closed_listener_is_refused() {
    let dir = TempDir::new();
    let path = dir.path("closed.sock");
    drop(UnixListener::bind(&path).unwrap());
    let err = UnixStream::connect(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn bind_twice_is_addr_in_use() {
    let dir = TempDir::new();
    let path = dir.path("twice.sock");
    let _l = UnixListener::bind(&path).unwrap();
    let err = UnixListener::bind(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

#[test]
fn full_backlog_connects_once_accepted() {
    let dir = TempDir::new();
    let path = dir.path("backlog.sock");
    let listener = UnixListener::bind(&path).unwrap();
    // More connects than the default backlog (128) can hold at once: the
    // excess retry until the acceptor drains the queue.
    let clients: Vec<_> = (0..300)
        .map(|_| {
            let path = path.clone();
            goro::go!(move || UnixStream::connect(&path).map(|_| ()))
        })
        .collect();
    goro::time::sleep(Duration::from_millis(50));
    let acceptor = goro::go!(move || {
        for _ in 0..300 {
            listener.accept().unwrap();
        }
    });
    for c in clients {
        c.join().unwrap().unwrap();
    }
    acceptor.join().unwrap();
}

#[test]
fn datagrams_between_bound_sockets() {
    let dir = TempDir::new();
    let a_path = dir.path("a.dgram");
    let b_path = dir.path("b.dgram");
    let a = UnixDatagram::bind(&a_path).unwrap();
    let b = UnixDatagram::bind(&b_path).unwrap();
    let g = goro::go!(move || {
        let mut buf = [0u8; 64];
        for _ in 0..10 {
            let (n, from) = b.recv_from(&mut buf).unwrap();
            let from = from.as_pathname().unwrap().to_path_buf();
            b.send_to(&buf[..n], from).unwrap();
        }
    });
    for i in 0..10u8 {
        a.send_to(&[i; 3], &b_path).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[i; 3]);
        assert_eq!(from.as_pathname(), Some(b_path.as_path()));
    }
    g.join().unwrap();
}

#[test]
fn unbound_connected_and_pair_datagrams() {
    let dir = TempDir::new();
    let path = dir.path("srv.dgram");
    let server = UnixDatagram::bind(&path).unwrap();
    let client = UnixDatagram::unbound().unwrap();
    client.connect(&path).unwrap();
    client.send(b"unbound hello").unwrap();
    let mut buf = [0u8; 64];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"unbound hello");

    let (x, y) = UnixDatagram::pair().unwrap();
    let g = goro::go!(move || {
        let mut buf = [0u8; 8];
        let n = y.recv(&mut buf).unwrap();
        y.send(&buf[..n]).unwrap();
    });
    x.send(b"pair").unwrap();
    let n = x.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pair");
    g.join().unwrap();

    x.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(x.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
}
