//! The rest of std's socket surface on goro's types: listener clones
//! accepting side by side, TTLs, `into_incoming`, `SO_LINGER`, and UDP
//! `peek_from`/`peek` parking until a datagram comes without taking it.

use goro::net::{TcpListener, TcpStream, UdpSocket};
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

#[test]
fn listener_clones_accept_side_by_side() {
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let l = listener.try_clone().unwrap();
                goro::go!(move || l.accept().map(|(_, peer)| peer))
            })
            .collect();
        let clients: Vec<_> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let mut peers: Vec<_> = acceptors
            .into_iter()
            .map(|a| a.join().unwrap().unwrap())
            .collect();
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected);
    });
}

#[test]
fn ttls_read_back_what_was_set() {
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_ttl(33).unwrap();
        assert_eq!(listener.ttl().unwrap(), 33);
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert_ne!(stream.ttl().unwrap(), 0);
        stream.set_ttl(17).unwrap();
        assert_eq!(stream.ttl().unwrap(), 17);
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        udp.set_ttl(5).unwrap();
        assert_eq!(udp.ttl().unwrap(), 5);
        // Bad input: the kernel's EINVAL, as std reports it.
        assert_eq!(
            stream.set_ttl(1000).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn into_incoming_moves_the_listener_into_a_goroutine() {
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = goro::go!(move || {
            for conn in listener.into_incoming().take(3) {
                conn.unwrap().write_all(b"!").unwrap();
            }
        });
        for _ in 0..3 {
            let mut c = TcpStream::connect(addr).unwrap();
            let mut buf = [0u8; 1];
            c.read_exact(&mut buf).unwrap();
        }
        server.join().unwrap();
        // The iterator dropped the listener: its port is free again.
        assert_eq!(
            TcpStream::connect(addr).unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
    });
}

#[test]
fn zero_linger_resets_the_connection_on_close() {
    goro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert_eq!(client.linger().unwrap(), None);
        client.set_linger(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(3)));
        client.set_linger(Some(Duration::ZERO)).unwrap();
        drop(client);
        // Without SO_LINGER 0 this read would see a clean EOF (Ok(0)).
        let mut buf = [0u8; 8];
        let err = server.read(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

#[test]
fn peek_from_parks_until_a_datagram_comes_and_leaves_it_queued() {
    goro::run(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let from = sender.local_addr().unwrap();
        let s = socket.try_clone().unwrap();
        let peeker = goro::go!(move || {
            let mut buf = [0u8; 16];
            let (n, peer) = s.peek_from(&mut buf).unwrap();
            (buf[..n].to_vec(), peer)
        });
        goro::time::sleep(Duration::from_millis(20));
        assert!(
            !peeker.is_finished(),
            "peek_from returned with nothing queued"
        );
        sender.send_to(b"first", addr).unwrap();
        assert_eq!(peeker.join().unwrap(), (b"first".to_vec(), from));
        // Still queued: recv_from gets the same datagram.
        let mut buf = [0u8; 16];
        let (n, peer) = socket.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], peer), (&b"first"[..], from));

        // Connected: peek parks the same way.
        socket.connect(from).unwrap();
        let s = socket.try_clone().unwrap();
        let peeker = goro::go!(move || {
            let mut buf = [0u8; 16];
            let n = s.peek(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        goro::time::sleep(Duration::from_millis(20));
        assert!(!peeker.is_finished(), "peek returned with nothing queued");
        sender.send_to(b"second", addr).unwrap();
        assert_eq!(peeker.join().unwrap(), b"second");
        assert_eq!(socket.recv(&mut buf).unwrap(), 6);
    });
}
