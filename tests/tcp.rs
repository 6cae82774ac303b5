//! TCP over loopback: echo between goroutines and plain threads, timeouts,
//! refused connections, half-close.

use goro::net::{TcpListener, TcpStream};
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    goro::go!(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            goro::go!(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => conn.write_all(&buf[..n]).unwrap(),
                    }
                }
            });
        }
    });
    addr
}

fn round_trips(addr: std::net::SocketAddr, n: usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    for i in 0..n {
        let msg = format!("message {i:05}");
        s.write_all(msg.as_bytes()).unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, msg.as_bytes());
    }
}

#[test]
fn echo_between_goroutines() {
    let addr = echo_server();
    let clients: Vec<_> = (0..50).map(|_| goro::go!(round_trips(addr, 100))).collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn echo_from_a_plain_thread() {
    let addr = echo_server();
    std::thread::spawn(move || round_trips(addr, 100))
        .join()
        .unwrap();
}

#[test]
fn read_timeout_expires_with_would_block_as_in_std() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = goro::go!(move || listener.accept().map(|(s, _)| s));
    let client = goro::go!(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let start = Instant::now();
        let err = s.read(&mut [0u8; 8]).unwrap_err();
        (err.kind(), start.elapsed())
    });
    let (kind, waited) = client.join().unwrap();
    assert_eq!(kind, ErrorKind::WouldBlock);
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    drop(server.join().unwrap());
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = goro::go!(move || TcpStream::connect(addr).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn half_close_delivers_eof_and_keeps_the_other_direction() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = goro::go!(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap(); // ends at the client's shutdown
        s.write_all(&all).unwrap();
        all.len()
    });
    let client = goro::go!(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"half-closed").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    assert_eq!(client.join().unwrap(), b"half-closed");
    assert_eq!(server.join().unwrap(), 11);
}

#[test]
fn split_reader_and_writer_goroutines() {
    let addr = echo_server();
    let stream = TcpStream::connect(addr).unwrap();
    let writer = stream.try_clone().unwrap();
    let w = goro::go!(move || {
        for i in 0..1000u32 {
            (&writer).write_all(&i.to_le_bytes()).unwrap();
        }
    });
    let r = goro::go!(move || {
        let mut buf = [0u8; 4];
        for i in 0..1000u32 {
            (&stream).read_exact(&mut buf).unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
        }
    });
    w.join().unwrap();
    r.join().unwrap();
}

#[test]
fn two_acceptors_on_one_listener_both_get_a_connection() {
    // Both connections are queued before the poller looks, so epoll reports
    // one edge that wakes both acceptors. The one that finds the ready flag
    // already consumed must retry accept, not wait for an edge that never
    // comes.
    for round in 0..10 {
        let listener = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let l = listener.clone();
                goro::go!(move || l.accept().map(|(s, _)| s))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20)); // both parked in accept
                                                       // Keep every worker busy so nobody polls while the two connect.
        let busy: Vec<_> = (0..goro::gomaxprocs(0))
            .map(|_| {
                goro::go!(|| {
                    let until = Instant::now() + Duration::from_millis(30);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(5));
        let a = std::net::TcpStream::connect(addr).unwrap();
        let b = std::net::TcpStream::connect(addr).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        for h in &acceptors {
            while !h.is_finished() {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: an acceptor never woke"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        for h in acceptors {
            h.join().unwrap().unwrap();
        }
        for h in busy {
            h.join().unwrap();
        }
        drop((a, b));
    }
}
