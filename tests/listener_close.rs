//! Closing a listener from another goroutine (Go's `Listener.Close`):
//! every goroutine or thread waiting in `accept`/`incoming` on it or its
//! clones returns `NotConnected` promptly, later accepts fail the same
//! way, accepted connections live on, and the fd stays open until the
//! last handle drops (no fd-reuse race), then nothing is left open.

use goro::chan;
use goro::net::unix::{UnixListener, UnixStream};
use goro::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tests run one at a time: they count fds and parked goroutines.
static SERIAL: Mutex<()> = Mutex::new(());

/// Far more than goro needs (a few ms on a loaded machine), far less than
/// "never".
const PROMPTLY: Duration = Duration::from_secs(10);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The fd count once the runtime (its poller) has started.
fn open_fds_started() -> usize {
    goro::run(|| ());
    open_fds()
}

fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags; an unknown fd gives EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until `n` goroutines are parked in accept, so the close below finds
/// them waiting rather than not yet started.
fn until_parked_in_accept(n: usize) {
    let start = Instant::now();
    while goro::dump().to_string().matches("[accept, ").count() < n {
        assert!(start.elapsed() < PROMPTLY, "acceptors never parked");
        goro::time::sleep(Duration::from_millis(1));
    }
}

/// Starts 100 goroutines waiting on `listener`, half in `accept`, half in
/// `incoming` (the two functions, each returning the error the wait ends
/// with), and returns, once all are parked, where their errors arrive.
fn hundred_acceptors<L: Send + Sync + 'static>(
    listener: &Arc<L>,
    accept: fn(&L) -> std::io::Error,
    incoming: fn(&L) -> std::io::Error,
) -> goro::Receiver<std::io::Error> {
    let (tx, rx) = chan::<std::io::Error>(0);
    for i in 0..100 {
        let listener = listener.clone();
        let tx = tx.clone();
        goro::go!(move || {
            let err = if i % 2 == 0 {
                accept(&listener)
            } else {
                incoming(&listener)
            };
            tx.send(err).unwrap();
        });
    }
    until_parked_in_accept(100);
    rx
}

#[test]
fn close_wakes_a_hundred_tcp_acceptors_promptly() {
    let _serial = serial();
    let before = open_fds_started();
    goro::run(|| {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let rx = hundred_acceptors(
            &listener,
            |l| l.accept().map(|_| ()).unwrap_err(),
            |l| l.incoming().next().unwrap().map(|_| ()).unwrap_err(),
        );
        let closer = listener.clone();
        let closed_at = Instant::now();
        goro::go!(move || closer.close().unwrap()).join().unwrap();
        for _ in 0..100 {
            let err = rx.recv_timeout(PROMPTLY).expect("an acceptor still waits");
            assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
            assert_eq!(err.to_string(), "listener closed");
        }
        println!(
            "100 acceptors returned {:?} after close",
            closed_at.elapsed()
        );
        // Later accepts fail the same way, without waiting.
        let err = listener.accept().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected);
        // The socket no longer listens: connects are refused...
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        // ...but its fd is still open under the handles.
        assert!(fd_is_open(listener.as_raw_fd()));
    });
    assert_eq!(open_fds(), before, "fds leaked");
}

#[test]
fn close_reaches_clones_and_plain_threads() {
    let _serial = serial();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let clone = listener.try_clone().unwrap();
        // A plain thread blocked in accept on the clone.
        let thread = std::thread::spawn(move || clone.accept().map(|_| ()).unwrap_err());
        // Give the thread time to block (if it has not, it fails anyway).
        goro::time::sleep(Duration::from_millis(20));
        listener.close().unwrap();
        let start = Instant::now();
        while !thread.is_finished() {
            assert!(start.elapsed() < PROMPTLY, "the thread still waits");
            goro::time::sleep(Duration::from_millis(1));
        }
        assert_eq!(thread.join().unwrap().kind(), ErrorKind::NotConnected);
    });
}

#[test]
fn incoming_yields_the_close_once_then_ends() {
    let _serial = serial();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let l = listener.try_clone().unwrap();
        let server = goro::go!(move || {
            let mut served = 0;
            let mut errors = Vec::new();
            for conn in l.incoming() {
                match conn {
                    Ok(mut c) => {
                        c.write_all(b"hi").unwrap();
                        served += 1;
                    }
                    Err(e) => errors.push(e.kind()),
                }
            }
            (served, errors)
        });
        let mut c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).unwrap();
        listener.close().unwrap();
        let (served, errors) = server.join().unwrap();
        assert_eq!(served, 1);
        assert_eq!(errors, vec![ErrorKind::NotConnected]);
    });
}

#[test]
fn into_incoming_ends_when_a_clone_closes() {
    let _serial = serial();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let closer = listener.try_clone().unwrap();
        let server = goro::go!(move || listener.into_incoming().count());
        goro::time::sleep(Duration::from_millis(10));
        closer.close().unwrap();
        assert_eq!(server.join().unwrap(), 1, "only the close error");
    });
}

#[test]
fn accepted_connections_outlive_the_close() {
    let _serial = serial();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut conn, _) = listener.accept().unwrap();
        listener.close().unwrap();
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        conn.write_all(&buf).unwrap();
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    });
}

#[test]
fn closing_twice_fails_like_go() {
    let _serial = serial();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.close().unwrap();
        let err = listener.close().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected);
    });
}

#[test]
fn close_wakes_a_hundred_unix_acceptors_promptly() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("goro-close-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("l.sock");
    let _ = std::fs::remove_file(&path);
    let before = open_fds_started();
    let p = path.clone();
    goro::run(move || {
        let path = p;
        let listener = Arc::new(UnixListener::bind(&path).unwrap());
        let rx = hundred_acceptors(
            &listener,
            |l| l.accept().map(|_| ()).unwrap_err(),
            |l| l.incoming().next().unwrap().map(|_| ()).unwrap_err(),
        );
        listener.close().unwrap();
        for _ in 0..100 {
            let err = rx.recv_timeout(PROMPTLY).expect("an acceptor still waits");
            assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
        }
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            ErrorKind::NotConnected
        );
        let err = UnixStream::connect(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        assert!(fd_is_open(listener.as_raw_fd()));
    });
    assert_eq!(open_fds(), before, "fds leaked");
    std::fs::remove_dir_all(&dir).unwrap();
}
