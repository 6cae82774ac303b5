//! `goro::ipc::MessageQueue`: messages between goroutines, threads and
//! processes, priority order, full and empty queues that park (with a
//! worker left free), timeouts, every bad input the docs name, a peer
//! killed with SIGKILL mid-exchange, and nothing left behind (fds,
//! queue names).

#[path = "support/ipc.rs"]
mod ipc;

use goro::ipc::MessageQueue;
use ipc::{open_fds, open_fds_when_warm, peer_role, serial, spawn_peer, unique_name, wait_parked};
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Unlinks the queue `name` when dropped, so a failing test leaves none.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = MessageQueue::unlink(&self.0);
    }
}

fn assert_gone(name: &str) {
    let err = MessageQueue::open(name).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::NotFound,
        "{name} was left behind: {err}"
    );
}

#[test]
fn messages_come_out_highest_priority_first_oldest_first_within_one() {
    let _serial = serial();
    let name = unique_name("prio");
    let _unlink = Unlink(name.clone());
    let q = MessageQueue::create(&name, 10, 64).unwrap();
    for (msg, prio) in [
        ("a1", 1),
        ("c5", 5),
        ("b3", 3),
        ("a1-again", 1),
        ("c5-again", 5),
        ("z0", 0),
    ] {
        q.send(msg.as_bytes(), prio).unwrap();
    }
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    for _ in 0..6 {
        let (n, prio) = q.recv(&mut buf).unwrap();
        got.push((String::from_utf8(buf[..n].to_vec()).unwrap(), prio));
    }
    let expected = [
        ("c5", 5),
        ("c5-again", 5),
        ("b3", 3),
        ("a1", 1),
        ("a1-again", 1),
        ("z0", 0),
    ];
    let expected: Vec<_> = expected.iter().map(|&(m, p)| (m.to_owned(), p)).collect();
    assert_eq!(got, expected);
    // Boundaries are kept, empty messages included.
    q.send(b"", 0).unwrap();
    assert_eq!(q.recv(&mut buf).unwrap(), (0, 0));
    MessageQueue::unlink(&name).unwrap();
    assert_gone(&name);
}

/// On one worker, a receiver parked on an empty queue and a sender
/// parked on a full one wait in the scheduler (the dump shows them
/// parked), leaving the worker to the goroutine that unblocks them.
#[test]
fn full_and_empty_queues_park_the_goroutine_not_the_worker() {
    let _serial = serial();
    let name = unique_name("park");
    let _unlink = Unlink(name.clone());
    let q = Arc::new(MessageQueue::create(&name, 2, 16).unwrap());
    let previous = goro::gomaxprocs(1);
    let streamed = goro::run({
        let q = q.clone();
        move || {
            let rx = q.clone();
            let receiver = goro::Builder::new()
                .name("mq-receiver".to_owned())
                .spawn(move || rx.recv(&mut [0u8; 16]).unwrap())
                .unwrap();
            wait_parked("mq-receiver", "IO read");
            q.send(b"first", 4).unwrap();
            assert_eq!(receiver.join().unwrap(), (5, 4));

            q.send(b"1", 0).unwrap();
            q.send(b"2", 0).unwrap();
            let tx = q.clone();
            let sender = goro::Builder::new()
                .name("mq-sender".to_owned())
                .spawn(move || tx.send(b"3", 0).unwrap())
                .unwrap();
            wait_parked("mq-sender", "IO write");
            let mut buf = [0u8; 16];
            assert_eq!(q.recv(&mut buf).unwrap(), (1, 0));
            sender.join().unwrap();
            assert_eq!(q.recv(&mut buf).unwrap(), (1, 0));
            assert_eq!(q.recv(&mut buf).unwrap(), (1, 0));
            assert_eq!(buf[0], b'3');

            // 100 messages through a queue of 2: each side parks in turn.
            let rx = q.clone();
            let receiver = goro::go!(move || {
                let mut buf = [0u8; 16];
                (0..100)
                    .map(|_| {
                        let (n, _) = rx.recv(&mut buf).unwrap();
                        u32::from_le_bytes(buf[..n].try_into().unwrap())
                    })
                    .collect::<Vec<_>>()
            });
            for i in 0..100u32 {
                q.send(&i.to_le_bytes(), 0).unwrap();
            }
            receiver.join().unwrap() == (0..100).collect::<Vec<_>>()
        }
    });
    goro::gomaxprocs(previous);
    assert!(streamed, "messages lost or reordered");
}

#[test]
fn a_plain_thread_blocks_on_an_empty_queue_until_a_goroutine_sends() {
    let _serial = serial();
    let name = unique_name("thread");
    let _unlink = Unlink(name.clone());
    let q = MessageQueue::create(&name, 4, 32).unwrap();
    let peer = MessageQueue::open(&name).unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 32];
        let (n, prio) = q.recv(&mut buf).unwrap();
        (buf[..n].to_vec(), prio)
    });
    std::thread::sleep(Duration::from_millis(20));
    goro::go!(move || peer.send(b"from a goroutine", 7))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(thread.join().unwrap(), (b"from a goroutine".to_vec(), 7));
}

#[test]
fn timeouts_fail_with_timed_out_after_waiting_and_leave_the_queue_usable() {
    let _serial = serial();
    let name = unique_name("timeout");
    let _unlink = Unlink(name.clone());
    let q = MessageQueue::create(&name, 1, 8).unwrap();
    let mut buf = [0u8; 8];
    let start = Instant::now();
    let err = q
        .recv_timeout(&mut buf, Duration::from_millis(50))
        .unwrap_err();
    let waited = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(
        waited >= Duration::from_millis(50),
        "gave up after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");

    q.send_timeout(b"1", 0, Duration::from_millis(50)).unwrap();
    let start = Instant::now();
    let err = q
        .send_timeout(b"2", 0, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(start.elapsed() >= Duration::from_millis(50));
    // The timed-out send sent nothing; the queue still works.
    assert_eq!(
        q.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap(),
        (1, 0)
    );
    let err = q.recv_timeout(&mut buf, Duration::ZERO).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);

    // A message that arrives during the wait ends it at once.
    let peer = MessageQueue::open(&name).unwrap();
    let sender = goro::go!(move || {
        goro::time::sleep(Duration::from_millis(20));
        peer.send(b"late", 3)
    });
    let start = Instant::now();
    assert_eq!(
        q.recv_timeout(&mut buf, Duration::from_secs(30)).unwrap(),
        (4, 3)
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    sender.join().unwrap().unwrap();
}

#[test]
fn bad_names_are_refused_before_the_kernel_sees_them() {
    let _serial = serial();
    let long = format!("/{}", "x".repeat(256));
    for (name, why) in [
        ("no-slash", "start with '/'"),
        ("/two/slashes", "first character"),
        ("/", "a name follows"),
        ("/nul\0byte", "NUL"),
        (long.as_str(), "255 bytes"),
    ] {
        for err in [
            MessageQueue::create(name, 4, 16).unwrap_err(),
            MessageQueue::open(name).unwrap_err(),
            MessageQueue::unlink(name).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name:?}: {err}");
            assert!(err.to_string().contains(why), "{name:?}: {err}");
        }
    }
    let missing = unique_name("missing");
    let err = MessageQueue::open(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(&missing), "{err}");
    assert_eq!(
        MessageQueue::unlink(&missing).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn bad_sizes_and_attributes_are_explained() {
    let _serial = serial();
    let name = unique_name("sizes");
    let _unlink = Unlink(name.clone());
    for (m, s) in [(0, 16), (4, 0)] {
        let err = MessageQueue::create(&name, m, s).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("at least 1"), "{err}");
    }
    // Past the kernel's limits, even those of CAP_SYS_RESOURCE.
    let err = MessageQueue::create(&name, 100_000, 16).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains("/proc/sys/fs/mqueue/msg_max = "),
        "{err}"
    );
    let err = MessageQueue::create(&name, 1, 32 << 20).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("msgsize_max = "), "{err}");
    assert_gone(&name);

    let q = MessageQueue::create(&name, 4, 16).unwrap();
    let err = MessageQueue::create(&name, 4, 32).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert!(
        err.to_string().contains("max_messages 4 and max_size 16"),
        "{err}"
    );
    let err = MessageQueue::create(&name, 5, 16).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    // The same attributes: the existing queue, opened.
    let same = MessageQueue::create(&name, 4, 16).unwrap();
    same.send(b"shared", 0).unwrap();

    let err = q.send(&[0u8; 17], 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("17 bytes"), "{err}");
    let err = q.send(b"x", 32768).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("32767"), "{err}");
    let err = q.recv(&mut [0u8; 15]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("up to 16 bytes"), "{err}");
    // Nothing was taken by the refused receive.
    assert_eq!(q.recv(&mut [0u8; 16]).unwrap(), (6, 0));
    MessageQueue::unlink(&name).unwrap();
    assert_gone(&name);
}

#[test]
fn drop_closes_the_descriptor() {
    let _serial = serial();
    let name = unique_name("fds");
    let _unlink = Unlink(name.clone());
    let before = open_fds();
    let q = MessageQueue::create(&name, 4, 16).unwrap();
    let peers: Vec<_> = (0..10)
        .map(|_| MessageQueue::open(&name).unwrap())
        .collect();
    assert_eq!(open_fds(), before + 11);
    drop((q, peers));
    assert_eq!(open_fds(), before, "a MessageQueue's fd outlived it");
    MessageQueue::unlink(&name).unwrap();
}

/// A child process opens both queues by name and echoes 500 requests
/// with their priority plus one; both sides park while they wait.
#[test]
fn requests_and_replies_with_a_child_process() {
    if let Some(args) = peer_role() {
        let requests = MessageQueue::open(&args[0]).unwrap();
        let replies = MessageQueue::open(&args[1]).unwrap();
        goro::go!(move || {
            let mut buf = [0u8; 64];
            loop {
                let (n, prio) = requests.recv(&mut buf).unwrap();
                if &buf[..n] == b"stop" {
                    return;
                }
                replies.send(&buf[..n], prio + 1).unwrap();
            }
        })
        .join()
        .unwrap();
        return;
    }
    let _serial = serial();
    let before = open_fds_when_warm();
    let (req, rep) = (unique_name("requests"), unique_name("replies"));
    let _unlink = (Unlink(req.clone()), Unlink(rep.clone()));
    let requests = MessageQueue::create(&req, 4, 64).unwrap();
    let replies = MessageQueue::create(&rep, 4, 64).unwrap();
    let mut child = spawn_peer(
        "requests_and_replies_with_a_child_process",
        &[req.clone(), rep.clone()],
    );
    goro::go!(move || {
        let mut buf = [0u8; 64];
        for i in 0..500u32 {
            requests
                .send(format!("request {i}").as_bytes(), i % 100)
                .unwrap();
            let (n, prio) = replies
                .recv_timeout(&mut buf, Duration::from_secs(30))
                .unwrap();
            assert_eq!(&buf[..n], format!("request {i}").as_bytes());
            assert_eq!(prio, i % 100 + 1);
        }
        requests.send(b"stop", 0).unwrap();
    })
    .join()
    .unwrap();
    assert!(child.wait().unwrap().success());
    drop(child);
    MessageQueue::unlink(&req).unwrap();
    MessageQueue::unlink(&rep).unwrap();
    assert_gone(&req);
    assert_gone(&rep);
    assert_eq!(open_fds(), before);
}

/// The child sends three replies, says so on a second queue, and is
/// killed with SIGKILL mid-exchange: what it sent is still there, and the
/// parent's next receive times out instead of hanging. A queue outlives
/// its users, so the parent removes the names.
#[test]
fn a_peer_killed_mid_exchange_leaves_a_timeout_not_a_hang() {
    if let Some(args) = peer_role() {
        let replies = MessageQueue::open(&args[0]).unwrap();
        let sent = MessageQueue::open(&args[1]).unwrap();
        for i in 0..3u8 {
            replies.send(&[i], 0).unwrap();
        }
        sent.send(b"3", 0).unwrap();
        ipc::wait_to_be_killed();
    }
    let _serial = serial();
    let before = open_fds_when_warm();
    let (name, sent_name) = (unique_name("killed"), unique_name("killed-sent"));
    let _unlink = (Unlink(name.clone()), Unlink(sent_name.clone()));
    let replies = MessageQueue::create(&name, 4, 8).unwrap();
    let sent = MessageQueue::create(&sent_name, 1, 8).unwrap();
    let mut child = spawn_peer(
        "a_peer_killed_mid_exchange_leaves_a_timeout_not_a_hang",
        &[name.clone(), sent_name.clone()],
    );
    let mut buf = [0u8; 8];
    let (n, _) = replies
        .recv_timeout(&mut buf, Duration::from_secs(30))
        .unwrap();
    assert_eq!(&buf[..n], [0]);
    sent.recv_timeout(&mut buf, Duration::from_secs(30))
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(child);
    for i in 1..3u8 {
        let (n, _) = replies
            .recv_timeout(&mut buf, Duration::from_secs(5))
            .unwrap();
        assert_eq!(&buf[..n], [i]);
    }
    let start = Instant::now();
    let err = replies
        .recv_timeout(&mut buf, Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(start.elapsed() < Duration::from_secs(5));
    drop((replies, sent));
    for name in [&name, &sent_name] {
        MessageQueue::unlink(name).unwrap();
        assert_gone(name);
    }
    assert_eq!(open_fds(), before);
}
