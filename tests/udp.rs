//! UDP over loopback: datagrams between goroutines and threads, connected
//! sockets, timeouts, shared clones.

use goro::net::UdpSocket;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

#[test]
fn send_to_and_recv_from_between_goroutines() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    let echo = goro::go!(move || {
        let mut buf = [0u8; 1500];
        for _ in 0..100 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let client = goro::go!(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 1500];
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            sock.send_to(&msg, addr).unwrap();
            let (n, from) = sock.recv_from(&mut buf).unwrap();
            assert_eq!(from, addr);
            assert_eq!(&buf[..n], &msg);
        }
    });
    client.join().unwrap();
    echo.join().unwrap();
}

#[test]
fn connected_send_and_recv_from_a_plain_thread() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let n = b.recv(&mut buf).unwrap();
        b.send(&buf[..n]).unwrap();
    });
    a.send(b"ping").unwrap();
    let mut buf = [0u8; 16];
    let n = a.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    t.join().unwrap();
}

#[test]
fn recv_timeout_expires_with_would_block_as_in_std() {
    let h = goro::go!(|| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let start = Instant::now();
        let err = s.recv_from(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert!(start.elapsed() < Duration::from_secs(5));
    });
    h.join().unwrap();
}

#[test]
fn zero_timeout_is_invalid_input() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = s.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn unconnected_peer_addr_is_not_connected() {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(s.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
}

#[test]
fn clone_receives_while_original_sends() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b_addr = b.local_addr().unwrap();
    let a_addr = a.local_addr().unwrap();
    let a2 = a.try_clone().unwrap();
    let recv = goro::go!(move || {
        let mut buf = [0u8; 8];
        let (n, _) = a2.recv_from(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    let echo = goro::go!(move || {
        let mut buf = [0u8; 8];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        b.send_to(&buf[..n], from).unwrap();
    });
    a.send_to(b"hey", b_addr).unwrap();
    assert_eq!(recv.join().unwrap(), b"hey");
    echo.join().unwrap();
    let _ = a_addr;
}

#[test]
fn ipv6_loopback_round_trip() {
    let Ok(a) = UdpSocket::bind("[::1]:0") else {
        return; // no IPv6 loopback on this machine
    };
    let b = UdpSocket::bind("[::1]:0").unwrap();
    a.send_to(b"six", b.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 8];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"six");
    assert_eq!(from, a.local_addr().unwrap());
}

/// A connected socket that sends to a closed port gets `ConnectionRefused`
/// on its next receive (the ICMP port-unreachable arrives as an error
/// event); that error is transient, so a later receive must park and honour
/// its timeout — and still get the datagram once the port is bound — rather
/// than spin on `WouldBlock` forever.
#[test]
fn recv_after_port_unreachable_parks_and_honours_its_timeout() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port_addr = closed.local_addr().unwrap();
    drop(closed);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(port_addr).unwrap();
    let sender = s.try_clone().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    goro::go!(move || {
        let mut buf = [0u8; 16];
        // Parked when the error arrives, so the poller delivers the event.
        let first = s.recv(&mut buf).unwrap_err();
        assert_eq!(first.kind(), ErrorKind::ConnectionRefused);
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let start = Instant::now();
        let second = s.recv(&mut buf).unwrap_err();
        assert_eq!(second.kind(), ErrorKind::WouldBlock);
        let waited = start.elapsed();
        // The port opens again: the socket works as before.
        let server = std::net::UdpSocket::bind(port_addr).unwrap();
        server.send_to(b"back", s.local_addr().unwrap()).unwrap();
        let n = s.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"back");
        done_tx.send(waited).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50));
    sender.send(b"anyone?").unwrap();
    // The old code spins in the second receive forever: bound the wait.
    let waited = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the receive after an ICMP error never returned");
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
}
