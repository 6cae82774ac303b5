//! Go's deadlines (`set_deadline`, `set_read_deadline`,
//! `set_write_deadline`) on TCP, UDP and Unix sockets, listeners and pipes:
//! a deadline that has passed fails the next operation at once with
//! `TimedOut`; one set, moved or cleared from another goroutine or thread
//! reaches an operation already waiting; a socket works again once its
//! deadline is cleared; and a timeout (`set_read_timeout`) keeps std's
//! `WouldBlock` beside it.
//!
//! The tests run one at a time (a lock) so that each can check the
//! process's open fds before and after. Bounds are generous: "promptly"
//! means within 2 s of an operation whose first deadline was 60 s away.

use goro::io::pipe;
use goro::net::unix::{UnixDatagram, UnixListener, UnixStream};
use goro::net::{TcpListener, TcpStream, UdpSocket};
use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A deadline no test reaches: what "promptly" is measured against.
const FAR: Duration = Duration::from_secs(60);
/// How long "promptly" may take on a loaded machine.
const PROMPT: Duration = Duration::from_secs(2);
/// How long a waiter is given to park before another goroutine acts.
const SETTLE: Duration = Duration::from_millis(50);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs `test` alone, in a goroutine, and checks that the open fds are
/// the same before and after.
fn alone(test: impl FnOnce() + Send + 'static) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Start the runtime and its reactor (their fds stay open).
    drop(pipe().unwrap());
    let before = open_fds();
    goro::spawn(test).join().unwrap();
    // A goroutine's sockets close when the worker reaps it, which can be a
    // moment after `join` returns.
    let settle = Instant::now() + Duration::from_secs(5);
    while open_fds() != before && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(open_fds(), before, "open fds before and after");
}

/// A connected TCP pair: (client, server side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

fn in_past() -> Option<Instant> {
    Some(Instant::now() - Duration::from_millis(1))
}

fn from_now(d: Duration) -> Option<Instant> {
    Some(Instant::now() + d)
}

/// Writes to `w` until a write fails, returning the error: the socket or
/// pipe is full and nobody reads. Panics if 256 MiB fit.
fn write_until_error(mut w: impl Write) -> std::io::Error {
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..4096 {
        if let Err(e) = w.write(&chunk) {
            return e;
        }
    }
    panic!("256 MiB written to a peer that never reads");
}

// ---- TCP ---------------------------------------------------------------

#[test]
fn past_deadline_fails_the_next_read_at_once_even_with_data_waiting() {
    alone(|| {
        let (mut a, mut b) = tcp_pair();
        b.write_all(b"data").unwrap();
        goro::time::sleep(SETTLE); // the data has arrived
        a.set_read_deadline(in_past()).unwrap();
        let start = Instant::now();
        let err = a.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() < PROMPT, "{:?}", start.elapsed());
        // Go's rule: the socket still works once the deadline is cleared,
        // and the data is still there.
        a.set_read_deadline(None).unwrap();
        let mut buf = [0u8; 8];
        let n = a.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"data");
    });
}

#[test]
fn future_deadline_ends_a_read_that_is_already_waiting() {
    alone(|| {
        let (a, _b) = tcp_pair();
        let wait = Duration::from_millis(100);
        a.set_read_deadline(from_now(wait)).unwrap();
        let start = Instant::now();
        let err = (&a).read(&mut [0u8; 8]).unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(took >= wait - Duration::from_millis(1), "{took:?}");
        assert!(took < wait + PROMPT, "{took:?}");
    });
}

#[test]
fn moving_the_deadline_earlier_from_another_goroutine_ends_a_waiting_read() {
    alone(|| {
        let (a, _b) = tcp_pair();
        a.set_read_deadline(from_now(FAR)).unwrap();
        let reader = a.try_clone().unwrap();
        let waiting = goro::go!(move || {
            let start = Instant::now();
            let err = (&reader).read(&mut [0u8; 8]).unwrap_err();
            (err.kind(), start.elapsed())
        });
        goro::time::sleep(SETTLE);
        let moved = Instant::now();
        a.set_read_deadline(Some(moved)).unwrap();
        let (kind, _) = waiting.join().unwrap();
        assert_eq!(kind, ErrorKind::TimedOut);
        assert!(moved.elapsed() < PROMPT, "{:?}", moved.elapsed());
    });
}

#[test]
fn a_deadline_set_from_a_plain_thread_ends_a_waiting_goroutine_read() {
    alone(|| {
        let (a, _b) = tcp_pair();
        let a = Arc::new(a);
        let setter = a.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(SETTLE);
            setter.set_read_deadline(Some(Instant::now())).unwrap();
            Instant::now()
        });
        let err = (&*a).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        let set_at = thread.join().unwrap();
        assert!(set_at.elapsed() < PROMPT, "{:?}", set_at.elapsed());
    });
}

#[test]
fn a_deadline_set_from_a_goroutine_ends_a_waiting_plain_thread_read() {
    alone(|| {
        let (a, _b) = tcp_pair();
        let a = Arc::new(a);
        let reader = a.clone();
        let thread = std::thread::spawn(move || {
            let err = (&*reader).read(&mut [0u8; 8]).unwrap_err();
            (err.kind(), Instant::now())
        });
        goro::time::sleep(SETTLE);
        let set_at = Instant::now();
        a.set_read_deadline(Some(set_at)).unwrap();
        let (kind, ended) = thread.join().unwrap();
        assert_eq!(kind, ErrorKind::TimedOut);
        assert!(ended.duration_since(set_at) < PROMPT);
    });
}

#[test]
fn moving_the_deadline_later_lets_a_waiting_read_wait_for_its_data() {
    alone(|| {
        let (a, mut b) = tcp_pair();
        let first = Duration::from_millis(150);
        a.set_read_deadline(from_now(first)).unwrap();
        let reader = a.try_clone().unwrap();
        let start = Instant::now();
        let waiting = goro::go!(move || {
            let mut buf = [0u8; 8];
            let n = (&reader).read(&mut buf)?;
            Ok::<_, std::io::Error>(buf[..n].to_vec())
        });
        goro::time::sleep(SETTLE);
        a.set_read_deadline(from_now(FAR)).unwrap();
        // Well past the first deadline.
        goro::time::sleep(first * 2);
        b.write_all(b"late").unwrap();
        assert_eq!(waiting.join().unwrap().unwrap(), b"late");
        assert!(start.elapsed() >= first * 2);
    });
}

#[test]
fn clearing_the_deadline_lets_a_waiting_read_wait_for_its_data() {
    alone(|| {
        let (a, mut b) = tcp_pair();
        let first = Duration::from_millis(150);
        a.set_read_deadline(from_now(first)).unwrap();
        let reader = a.try_clone().unwrap();
        let waiting = goro::go!(move || {
            let mut buf = [0u8; 8];
            let n = (&reader).read(&mut buf)?;
            Ok::<_, std::io::Error>(buf[..n].to_vec())
        });
        goro::time::sleep(SETTLE);
        a.set_read_deadline(None).unwrap();
        goro::time::sleep(first * 2);
        b.write_all(b"none").unwrap();
        assert_eq!(waiting.join().unwrap().unwrap(), b"none");
    });
}

#[test]
fn data_arriving_before_the_deadline_is_read_normally() {
    alone(|| {
        let (mut a, mut b) = tcp_pair();
        a.set_deadline(from_now(FAR)).unwrap();
        let writer = goro::go!(move || {
            goro::time::sleep(SETTLE);
            b.write_all(b"in time").unwrap();
            b
        });
        let mut buf = [0u8; 16];
        let n = a.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"in time");
        a.write_all(b"back").unwrap();
        let mut b = writer.join().unwrap();
        let n = b.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
    });
}

#[test]
fn one_deadline_ends_every_read_waiting_on_the_socket() {
    alone(|| {
        let (a, _b) = tcp_pair();
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let r = a.try_clone().unwrap();
                goro::go!(move || (&r).read(&mut [0u8; 8]).unwrap_err().kind())
            })
            .collect();
        goro::time::sleep(SETTLE);
        a.set_read_deadline(Some(Instant::now())).unwrap();
        for r in readers {
            assert_eq!(r.join().unwrap(), ErrorKind::TimedOut);
        }
    });
}

#[test]
fn write_deadline_ends_a_write_waiting_on_a_full_socket() {
    alone(|| {
        let (a, _b) = tcp_pair(); // _b never reads
        a.set_write_deadline(from_now(Duration::from_millis(100)))
            .unwrap();
        let start = Instant::now();
        let err = write_until_error(&a);
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() < PROMPT + Duration::from_millis(100));
        // Moved from another goroutine while a write waits for room.
        a.set_write_deadline(from_now(FAR)).unwrap();
        let writer = a.try_clone().unwrap();
        let waiting = goro::go!(move || write_until_error(&writer).kind());
        goro::time::sleep(SETTLE);
        let set_at = Instant::now();
        a.set_write_deadline(Some(set_at)).unwrap();
        assert_eq!(waiting.join().unwrap(), ErrorKind::TimedOut);
        assert!(set_at.elapsed() < PROMPT);
    });
}

#[test]
fn split_halves_each_see_their_own_direction_deadline() {
    const TOTAL: usize = 32 << 20; // more than loopback buffers hold
    alone(|| {
        let (a, mut b) = tcp_pair();
        let a = Arc::new(a);
        // A writer waits for room on a full socket.
        let writer = a.clone();
        let writing = goro::go!(move || {
            let chunk = vec![1u8; 64 * 1024];
            for _ in 0..TOTAL / chunk.len() {
                (&*writer).write_all(&chunk)?;
            }
            Ok::<_, std::io::Error>(())
        });
        // A reader waits for data that does not come.
        let reader = a.clone();
        let reading = goro::go!(move || (&*reader).read(&mut [0u8; 8]).unwrap_err().kind());
        goro::time::sleep(SETTLE);
        a.set_read_deadline(Some(Instant::now())).unwrap();
        assert_eq!(reading.join().unwrap(), ErrorKind::TimedOut);
        // The writer was not ended by the read deadline: drain and it
        // finishes.
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while got < TOTAL {
            got += b.read(&mut buf).unwrap();
        }
        writing.join().unwrap().unwrap();
    });
}

#[test]
fn timeout_and_deadline_coexist_and_the_earlier_decides_the_error() {
    alone(|| {
        let (a, _b) = tcp_pair();
        // The timeout passes first: std's WouldBlock.
        a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        a.set_read_deadline(from_now(FAR)).unwrap();
        let err = (&a).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
        // The deadline passes first: TimedOut.
        a.set_read_timeout(Some(FAR)).unwrap();
        a.set_read_deadline(from_now(Duration::from_millis(50)))
            .unwrap();
        let start = Instant::now();
        let err = (&a).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() < PROMPT);
        // A deadline is absolute: the next read fails at once, where a
        // timeout would start again.
        let start = Instant::now();
        let err = (&a).read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(start.elapsed() < PROMPT);
    });
}

#[test]
fn accept_deadline_ends_a_waiting_accept() {
    alone(|| {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let acceptor = listener.clone();
        let waiting = goro::go!(move || acceptor.accept().map(|_| ()).unwrap_err().kind());
        goro::time::sleep(SETTLE);
        let set_at = Instant::now();
        listener.set_deadline(Some(set_at)).unwrap();
        assert_eq!(waiting.join().unwrap(), ErrorKind::TimedOut);
        assert!(set_at.elapsed() < PROMPT);
        // Cleared: accepting works again.
        listener.set_deadline(None).unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        listener.accept().unwrap();
    });
}

// ---- UDP ---------------------------------------------------------------

#[test]
fn udp_recv_deadline_ends_a_waiting_receive_and_clears() {
    alone(|| {
        let u = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        u.set_read_deadline(from_now(FAR)).unwrap();
        let receiver = u.clone();
        let waiting = goro::go!(move || receiver.recv_from(&mut [0u8; 8]).unwrap_err().kind());
        goro::time::sleep(SETTLE);
        let set_at = Instant::now();
        u.set_read_deadline(Some(set_at)).unwrap();
        assert_eq!(waiting.join().unwrap(), ErrorKind::TimedOut);
        assert!(set_at.elapsed() < PROMPT);
        // A datagram that is queued: the deadline still wins, then
        // clearing it lets the datagram through.
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"dgram", u.local_addr().unwrap()).unwrap();
        goro::time::sleep(SETTLE);
        let err = u.recv_from(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        u.set_deadline(None).unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = u.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"dgram"[..], peer.local_addr().unwrap())
        );
        // Sends have their own deadline.
        u.set_write_deadline(in_past()).unwrap();
        let err = u.send_to(b"x", peer.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
    });
}

// ---- Unix --------------------------------------------------------------

#[test]
fn unix_stream_deadlines_end_waiting_reads_and_writes() {
    alone(|| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let a = Arc::new(a);
        let reader = a.clone();
        let reading = goro::go!(move || (&*reader).read(&mut [0u8; 8]).unwrap_err().kind());
        goro::time::sleep(SETTLE);
        a.set_read_deadline(Some(Instant::now())).unwrap();
        assert_eq!(reading.join().unwrap(), ErrorKind::TimedOut);
        a.set_read_deadline(None).unwrap();
        b.write_all(b"again").unwrap();
        let mut buf = [0u8; 8];
        let n = (&*a).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"again");

        a.set_write_deadline(from_now(Duration::from_millis(100)))
            .unwrap();
        assert_eq!(write_until_error(&*a).kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn unix_datagram_deadline_ends_a_waiting_receive() {
    alone(|| {
        let (a, b) = UnixDatagram::pair().unwrap();
        let a = Arc::new(a);
        let receiver = a.clone();
        let waiting = goro::go!(move || receiver.recv(&mut [0u8; 8]).unwrap_err().kind());
        goro::time::sleep(SETTLE);
        a.set_read_deadline(Some(Instant::now())).unwrap();
        assert_eq!(waiting.join().unwrap(), ErrorKind::TimedOut);
        a.set_read_deadline(None).unwrap();
        b.send(b"dgram").unwrap();
        let mut buf = [0u8; 8];
        let n = a.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"dgram");
        a.set_write_deadline(in_past()).unwrap();
        assert_eq!(a.send(b"x").unwrap_err().kind(), ErrorKind::TimedOut);
    });
}

#[test]
fn unix_listener_accept_deadline() {
    alone(|| {
        let dir = std::env::temp_dir().join(format!("goro-deadlines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accept.sock");
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        l.set_deadline(from_now(Duration::from_millis(50))).unwrap();
        assert_eq!(
            l.accept().map(|_| ()).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        l.set_deadline(None).unwrap();
        let _c = UnixStream::connect(&path).unwrap();
        l.accept().unwrap();
        drop(l);
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

// ---- pipes -------------------------------------------------------------

#[test]
fn pipe_reader_deadline_ends_a_waiting_read_and_clears() {
    alone(|| {
        let (r, mut w) = pipe().unwrap();
        let r = Arc::new(r);
        let reader = r.clone();
        let waiting = goro::go!(move || {
            let start = Instant::now();
            let err = (&*reader).read(&mut [0u8; 8]).unwrap_err();
            (err.kind(), start.elapsed())
        });
        goro::time::sleep(SETTLE);
        r.set_read_deadline(from_now(Duration::from_millis(20)))
            .unwrap();
        let (kind, took) = waiting.join().unwrap();
        assert_eq!(kind, ErrorKind::TimedOut);
        assert!(took < PROMPT, "{took:?}");
        r.set_read_deadline(None).unwrap();
        w.write_all(b"pipe").unwrap();
        let mut buf = [0u8; 8];
        let n = (&*r).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pipe");
    });
}

#[test]
fn pipe_writer_deadline_ends_a_write_waiting_on_a_full_pipe() {
    alone(|| {
        let (mut r, w) = pipe().unwrap();
        let w = Arc::new(w);
        let writer = w.clone();
        let waiting = goro::go!(move || write_until_error(&*writer).kind());
        goro::time::sleep(SETTLE);
        let set_at = Instant::now();
        w.set_write_deadline(Some(set_at)).unwrap();
        assert_eq!(waiting.join().unwrap(), ErrorKind::TimedOut);
        assert!(set_at.elapsed() < PROMPT);
        // Cleared, and room made: writes work again.
        w.set_write_deadline(None).unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let _ = r.read(&mut buf).unwrap();
        assert!((&*w).write(b"x").unwrap() == 1);
    });
}

// ---- timeouts keep std's kinds ------------------------------------------

#[test]
fn connect_timeout_still_fails_with_timed_out_as_in_std() {
    use std::os::fd::AsRawFd;
    alone(|| {
        // A listener whose accept queue holds one connection and is never
        // accepted from: later SYNs are dropped, so a connect hangs.
        let full = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) on a socket this test owns, changing only its
        // backlog; it touches no memory.
        assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 0) }, 0);
        let addr = full.local_addr().unwrap();
        let mut queued = Vec::new();
        let err = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) if queued.len() < 16 => queued.push(s),
                Ok(_) => panic!("16 connections queued on a backlog of one"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    });
}
