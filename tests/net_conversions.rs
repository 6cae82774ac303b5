//! goro sockets to and from std's, `socket2`-built ones and raw fds:
//! options set outside goro survive `from_std` (SO_REUSEPORT, a backlog),
//! std gets its sockets back deregistered and blocking, raw fds go both
//! ways for every socket type, and bad fds fail clearly; no fd is left
//! open afterwards.

use goro::net::unix::{UnixDatagram, UnixListener, UnixStream};
use goro::net::{TcpListener, TcpStream, UdpSocket};
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tests count fds, so they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The fd count once the runtime (its poller) has started.
fn open_fds_started() -> usize {
    goro::run(|| ());
    open_fds()
}

fn is_nonblocking(fd: impl AsFd) -> bool {
    // SAFETY: F_GETFL only reads the flags of an fd borrowed for the call.
    let flags = unsafe { libc::fcntl(fd.as_fd().as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

/// A listener std cannot make: SO_REUSEPORT and a backlog of 16.
fn reuseport_listener(addr: SocketAddr) -> std::net::TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(16).unwrap();
    socket.into()
}

#[test]
fn socket2_reuseport_listeners_share_a_port_and_accept() {
    let _serial = serial();
    let before = open_fds_started();
    goro::run(|| {
        let first = TcpListener::from_std(reuseport_listener("127.0.0.1:0".parse().unwrap()));
        let first = first.unwrap();
        let addr = first.local_addr().unwrap();
        // The option survived from_std: a second listener binds the port.
        let second = TcpListener::from_std(reuseport_listener(addr)).unwrap();
        let reuse = socket2::SockRef::from(&second).reuse_port().unwrap();
        assert!(reuse, "SO_REUSEPORT was reset");
        assert!(is_nonblocking(&first) && is_nonblocking(&second));
        // The kernel spreads connections over both; each accepts its own.
        let accepted = Arc::new(AtomicUsize::new(0));
        let listeners = [Arc::new(first), Arc::new(second)];
        let acceptors: Vec<_> = listeners
            .iter()
            .map(|l| {
                let (l, accepted) = (l.clone(), accepted.clone());
                goro::go!(move || {
                    let mut conns = Vec::new();
                    while let Ok(conn) = l.accept() {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        conns.push(conn);
                    }
                })
            })
            .collect();
        let clients: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let start = Instant::now();
        while accepted.load(Ordering::Relaxed) < clients.len() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "connections lost"
            );
            goro::time::sleep(Duration::from_millis(1));
        }
        for (listener, acceptor) in listeners.iter().zip(acceptors) {
            listener.close().unwrap();
            acceptor.join().unwrap();
        }
    });
    assert_eq!(open_fds(), before, "fds leaked");
}

#[test]
fn tcp_stream_from_std_and_back_to_blocking_std() {
    let _serial = serial();
    let before = open_fds_started();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let std_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let mut client = TcpStream::from_std(std_client).unwrap();
        assert!(is_nonblocking(&client));
        let (server, _) = listener.accept().unwrap();
        // A goroutine reads through goro: it parks until data comes.
        let reader = goro::go!(move || {
            let mut server = server;
            let mut buf = [0u8; 5];
            server.read_exact(&mut buf).unwrap();
            server
        });
        goro::time::sleep(Duration::from_millis(10));
        client.write_all(b"hello").unwrap();
        let server = reader.join().unwrap();
        let fds = open_fds();
        // Back to std: one fd for one fd, blocking, and it still works.
        let mut std_server: std::net::TcpStream = server.into();
        assert_eq!(open_fds(), fds, "the original fd was not closed");
        assert!(!is_nonblocking(&std_server));
        std_server
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client.write_all(b"again").unwrap();
        let mut buf = [0u8; 5];
        std_server.read_exact(&mut buf).unwrap(); // a blocking std read
        assert_eq!(&buf, b"again");
        let std_listener = std::net::TcpListener::from(listener);
        assert!(!is_nonblocking(&std_listener));
    });
    assert_eq!(open_fds(), before, "fds leaked");
}

#[test]
fn into_std_while_a_clone_lives_stays_nonblocking_for_the_clone() {
    let _serial = serial();
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let clone = server.try_clone().unwrap();
        let std_server: std::net::TcpStream = server.into();
        // The clone still parks instead of blocking its worker.
        assert!(is_nonblocking(&std_server) && is_nonblocking(&clone));
        let reader = goro::go!(move || {
            let mut buf = [0u8; 2];
            (&clone).read_exact(&mut buf).map(|_| buf)
        });
        goro::time::sleep(Duration::from_millis(10));
        (&client).write_all(b"ok").unwrap();
        assert_eq!(&reader.join().unwrap().unwrap(), b"ok");
        drop(std_server);
    });
}

/// `into_raw_fd` gives a blocking fd that `from_raw_fd` takes back as a
/// working non-blocking goro socket, for `T`. The only handle hands over
/// its own fd, not a duplicate (an inherited or passed fd number stays).
fn raw_round_trip<T: IntoRawFd + FromRawFd + AsRawFd>(socket: T) -> T {
    let own = socket.as_raw_fd();
    let fd: RawFd = socket.into_raw_fd();
    assert_eq!(fd, own, "into_raw_fd handed over another fd");
    // SAFETY: F_GETFL only reads the flags of the open fd we now own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(
        flags >= 0 && flags & libc::O_NONBLOCK == 0,
        "fd {fd} not blocking"
    );
    // SAFETY: `fd` came from into_raw_fd just above: open, owned by us.
    let back = unsafe { T::from_raw_fd(fd) };
    // SAFETY: as above, for the fd `back` owns.
    let flags = unsafe { libc::fcntl(back.as_raw_fd(), libc::F_GETFL) };
    assert!(flags & libc::O_NONBLOCK != 0);
    back
}

#[test]
fn raw_fds_round_trip_for_every_socket_type() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("goro-rawfd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let before = open_fds_started();
    let d = dir.clone();
    goro::run(move || {
        let listener = raw_round_trip(TcpListener::bind("127.0.0.1:0").unwrap());
        let client = raw_round_trip(TcpStream::connect(listener.local_addr().unwrap()).unwrap());
        let (mut server, _) = listener.accept().unwrap();
        (&client).write_all(b"tcp").unwrap();
        let mut buf = [0u8; 3];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"tcp");

        let udp = raw_round_trip(UdpSocket::bind("127.0.0.1:0").unwrap());
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"udp", udp.local_addr().unwrap()).unwrap();
        assert_eq!(udp.recv_from(&mut buf).unwrap().0, 3);

        let path = d.join("s.sock");
        let unix_listener = raw_round_trip(UnixListener::bind(&path).unwrap());
        let unix_client = raw_round_trip(UnixStream::connect(&path).unwrap());
        let (mut unix_server, _) = unix_listener.accept().unwrap();
        (&unix_client).write_all(b"uds").unwrap();
        unix_server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"uds");

        let (a, b) = UnixDatagram::pair().unwrap();
        let a = raw_round_trip(a);
        a.send(b"dgm").unwrap();
        assert_eq!(b.recv(&mut buf).unwrap(), 3);

        // And into std's types, blocking.
        let std_socket = std::os::unix::net::UnixDatagram::from(b);
        assert!(!is_nonblocking(&std_socket));
        let std_stream = std::os::unix::net::UnixStream::from(unix_client);
        assert!(!is_nonblocking(&std_stream));
        let std_listener = std::os::unix::net::UnixListener::from(unix_listener);
        assert!(!is_nonblocking(&std_listener));
        let std_udp = std::net::UdpSocket::from(udp);
        assert!(!is_nonblocking(&std_udp));
    });
    assert_eq!(open_fds(), before, "fds leaked");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_file_is_refused_with_a_clear_error_and_closed() {
    let _serial = serial();
    goro::run(|| {
        // from_std of something epoll cannot watch: a regular file
        // disguised as a socket. The error is epoll's, nothing stays open.
        let file = std::fs::File::open("Cargo.toml").unwrap();
        // SAFETY: the fd is open and owned by `file`, handed over whole.
        let fake = unsafe { std::net::TcpStream::from_raw_fd(file.into_raw_fd()) };
        let err = TcpStream::from_std(fake).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");

        // from_raw_fd cannot return the error: it panics, naming it.
        let file = std::fs::File::open("Cargo.toml").unwrap();
        let fd = file.into_raw_fd();
        // SAFETY: as above; the panic's unwinding closes the fd.
        let panic = std::panic::catch_unwind(|| unsafe { UdpSocket::from_raw_fd(fd) })
            .map(|_| ())
            .unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.contains("UdpSocket::from_raw_fd") && message.contains("not permitted"),
            "{message}"
        );
    });
    // Not the fd count: the panic's backtrace may open (and cache) files.
    assert_eq!(fds_open_on("Cargo.toml"), 0, "the file's fd leaked");
}

/// How many of this process's fds are open on a file named `name`.
fn fds_open_on(name: &str) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.file_name().is_some_and(|n| n == name))
        .count()
}

#[test]
fn a_listener_that_is_not_listening_fails_to_accept_clearly() {
    let _serial = serial();
    goro::run(|| {
        // A bound socket2 socket without listen(): accept says EINVAL.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let listener = TcpListener::from_std(socket.into()).unwrap();
        let err = listener.accept().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}
