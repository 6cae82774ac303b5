//! Names without blocking a worker: `lookup_host`, and names in
//! `connect`, `bind`, `send_to`. A name resolves on the blocking pool
//! (shown by the pool thread it starts, in a child process so no other
//! test has started one); a literal never does; bad input fails clearly;
//! connect tries every address in order.

use goro::net::{lookup_host, TcpListener, TcpStream, UdpSocket};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::process::Command;

const CHILD_ENV: &str = "GORO_DNS_CHILD";

#[test]
fn localhost_resolves_to_loopback_with_the_port() {
    goro::run(|| {
        let addrs = lookup_host("localhost:8080").unwrap();
        assert!(!addrs.is_empty());
        for a in &addrs {
            assert!(a.ip().is_loopback(), "{a}");
            assert_eq!(a.port(), 8080);
        }
        // `&String` works too.
        let name = format!("localhost:{}", 443);
        assert!(lookup_host(&name).unwrap().iter().all(|a| a.port() == 443));
    });
}

#[test]
fn literals_parse_in_place() {
    goro::run(|| {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(lookup_host("127.0.0.1:80").unwrap(), vec![v4]);
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(lookup_host("[::1]:443").unwrap(), vec![v6]);
    });
}

#[test]
fn bad_input_fails_with_a_clear_error() {
    goro::run(|| {
        let err = lookup_host("localhost").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("host:port"), "{err}");
        let err = lookup_host("localhost:http").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("port"), "{err}");
        // RFC 6761: `.invalid` never resolves. The error names the host.
        let err = lookup_host("no-such-host.invalid:80").unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
        let err = TcpStream::connect("no-such-host.invalid:80").unwrap_err();
        assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    });
}

#[test]
fn connect_bind_and_send_to_take_names() {
    goro::run(|| {
        let listener = TcpListener::bind("localhost:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = TcpStream::connect(format!("localhost:{port}")).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let _by_pair = TcpStream::connect(("localhost", port)).unwrap();

        let receiver = UdpSocket::bind("localhost:0").unwrap();
        let port = receiver.local_addr().unwrap().port();
        let sender = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        sender.send_to(b"hi", format!("localhost:{port}")).unwrap();
        let mut buf = [0u8; 2];
        let (n, from) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!((n, from), (2, sender.local_addr().unwrap()));
        sender.connect(("localhost", port)).unwrap();
        sender.send(b"yo").unwrap();
        assert_eq!(receiver.recv(&mut buf).unwrap(), 2);
    });
}

#[test]
fn connect_tries_each_address_in_order_and_returns_the_last_error() {
    goro::run(|| {
        // A port nobody listens on: bind one, note it, close it.
        let refused = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let stream = TcpStream::connect(&[refused, good][..]).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), good);
        let err = TcpStream::connect(&[refused, refused][..]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let err = TcpStream::connect(&[][..]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

fn pool_threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| *n == "goro-blocking")
        .count()
}

/// In the child: literals leave the pool unstarted; a name starts it.
#[test]
fn names_resolve_on_the_blocking_pool_and_literals_do_not() {
    if std::env::var_os(CHILD_ENV).is_none() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "names_resolve_on_the_blocking_pool_and_literals_do_not",
                "--nocapture",
            ])
            .env(CHILD_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("1 passed"), "{stdout}");
        return;
    }
    goro::run(|| {
        assert_eq!(pool_threads(), 0, "{:?}", thread_names());
        lookup_host("127.0.0.1:80").unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _s = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert_eq!(pool_threads(), 0, "a literal went to the pool");
        lookup_host("localhost:80").unwrap();
        assert_eq!(pool_threads(), 1, "the name did not go to the pool");
    });
}
