//! Channels: the rules of the channel API, between goroutines and threads.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::{
    chan, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

#[test]
fn buffered_fifo_and_len() {
    let (tx, rx) = chan::<u32>(3);
    assert_eq!(rx.capacity(), 3);
    for i in 0..3 {
        tx.send(i).unwrap();
    }
    assert_eq!(rx.len(), 3);
    assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
    assert_eq!(
        (0..3).map(|_| rx.recv().unwrap()).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(rx.is_empty());
}

#[test]
fn close_then_drain() {
    let (tx, rx) = chan::<u32>(4);
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert!(tx.close());
    assert!(!tx.close(), "second close reports it was closed");
    assert!(!rx.close());
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn dropping_all_senders_closes_and_range_ends() {
    let (tx, rx) = chan::<u32>(0);
    let tx2 = tx.clone();
    let a = goro::go!(move || (0..50).for_each(|i| tx.send(i).unwrap()));
    let b = goro::go!(move || (50..100).for_each(|i| tx2.send(i).unwrap()));
    let mut got: Vec<u32> = (&rx).into_iter().collect();
    got.sort();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(rx.is_closed());
    a.join().unwrap();
    b.join().unwrap();
}

#[test]
fn send_on_closed_returns_the_value() {
    let (tx, rx) = chan::<String>(1);
    assert!(rx.close(), "closing from the receiving end");
    let err = tx.send("kept".to_string()).unwrap_err();
    assert_eq!(err, SendError("kept".to_string()));
    assert_eq!(format!("{err:?}"), "SendError(..)"); // std's: the value may not be Debug
    assert!(!format!("{err}").is_empty());
    assert_eq!(
        tx.try_send("t".into()),
        Err(TrySendError::Disconnected("t".into()))
    );
    assert_eq!(
        tx.send_timeout("s".into(), Duration::from_millis(1)),
        Err(SendTimeoutError::Disconnected("s".into()))
    );

    let (tx, rx) = chan::<u32>(0);
    tx.close();
    assert_eq!(tx.send(5), Err(SendError(5)));
    assert_eq!(rx.recv(), Err(RecvError));
}

#[test]
fn close_wakes_blocked_senders_with_their_values() {
    let (tx, rx) = chan::<u32>(0);
    let senders: Vec<_> = (0..4)
        .map(|i| {
            let tx = tx.clone();
            goro::go!(move || tx.send(i))
        })
        .collect();
    goro::time::sleep(Duration::from_millis(20));
    assert!(rx.close());
    let mut back: Vec<u32> = senders
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_err().0)
        .collect();
    back.sort();
    assert_eq!(back, [0, 1, 2, 3]);
}

#[test]
fn close_wakes_blocked_receivers() {
    let (tx, rx) = chan::<u32>(0);
    let receivers: Vec<_> = (0..4)
        .map(|_| {
            let rx = rx.clone();
            goro::go!(move || rx.recv())
        })
        .collect();
    goro::time::sleep(Duration::from_millis(20));
    drop(tx);
    for h in receivers {
        assert_eq!(h.join().unwrap(), Err(RecvError));
    }
}

#[test]
fn dropping_all_receivers_closes() {
    let (tx, rx) = chan::<u32>(0);
    let h = goro::go!(move || tx.send(1));
    goro::time::sleep(Duration::from_millis(10));
    drop(rx);
    assert_eq!(h.join().unwrap(), Err(SendError(1)));
}

#[test]
fn unbuffered_send_waits_for_a_receiver() {
    let (tx, rx) = chan::<u32>(0);
    assert_eq!(
        tx.try_send(1),
        Err(TrySendError::Full(1)),
        "no receiver waiting"
    );
    let sent = Arc::new(AtomicBool::new(false));
    let s = sent.clone();
    let h = goro::go!(move || {
        tx.send(7).unwrap();
        s.store(true, Ordering::SeqCst);
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !sent.load(Ordering::SeqCst),
        "send completed with no receiver"
    );
    assert_eq!(rx.recv(), Ok(7));
    h.join().unwrap();
    assert!(sent.load(Ordering::SeqCst));
}

#[test]
fn try_send_hands_off_to_a_waiting_receiver() {
    let (tx, rx) = chan::<u32>(0);
    let h = goro::go!(move || rx.recv());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tx.try_send(3) {
            Ok(()) => break,
            Err(TrySendError::Full(_)) => {
                assert!(Instant::now() < deadline, "receiver never waited");
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(h.join().unwrap(), Ok(3));
}

#[test]
fn timeouts() {
    let (tx, rx) = chan::<u32>(0);
    let t = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(30));
    let t = Instant::now();
    assert_eq!(
        tx.send_timeout(4, Duration::from_millis(30)),
        Err(SendTimeoutError::Timeout(4))
    );
    assert!(t.elapsed() >= Duration::from_millis(30));

    // Inside a goroutine, and the timed-out waiter leaves nothing behind:
    // the next value goes to the next receiver, not to the one that left.
    let h = goro::go!(move || {
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        rx.recv_timeout(Duration::from_secs(10))
    });
    std::thread::sleep(Duration::from_millis(60));
    tx.send(5).unwrap();
    assert_eq!(h.join().unwrap(), Ok(5));

    // A value that arrives in time.
    let (tx, rx) = chan::<u32>(0);
    let h = goro::go!(move || rx.recv_timeout(Duration::from_secs(10)));
    goro::time::sleep(Duration::from_millis(10));
    tx.send_timeout(6, Duration::from_secs(10)).unwrap();
    assert_eq!(h.join().unwrap(), Ok(6));
}

#[test]
fn thread_and_goroutine_talk_both_ways() {
    let (to_g, from_t) = chan::<u64>(0);
    let (to_t, from_g) = chan::<u64>(0);
    let g = goro::go!(move || {
        for v in &from_t {
            to_t.send(v * 2).unwrap();
        }
    });
    let mut sum = 0;
    for i in 0..2000 {
        to_g.send(i).unwrap();
        sum += from_g.recv().unwrap();
    }
    drop(to_g);
    g.join().unwrap();
    assert_eq!(sum, 2 * (0..2000).sum::<u64>());
}

#[test]
fn threads_only() {
    let (tx, rx) = chan::<u32>(2);
    let t = std::thread::spawn(move || (0..1000).for_each(|i| tx.send(i).unwrap()));
    assert_eq!(rx.iter().count(), 1000);
    t.join().unwrap();
}

#[test]
fn many_senders_many_receivers_lose_nothing() {
    for cap in [0, 1, 16] {
        let (tx, rx) = chan::<u64>(cap);
        let total = Arc::new(AtomicUsize::new(0));
        let recvs: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                let total = total.clone();
                goro::go!(move || {
                    let mut s = 0u64;
                    for v in &rx {
                        s += v;
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                    s
                })
            })
            .collect();
        drop(rx);
        let sends: Vec<_> = (0..4u64)
            .map(|k| {
                let tx = tx.clone();
                goro::go!(move || (0..2500).for_each(|i| tx.send(k * 2500 + i).unwrap()))
            })
            .collect();
        drop(tx);
        let t = std::thread::spawn(|| ());
        t.join().unwrap();
        sends.into_iter().for_each(|h| h.join().unwrap());
        let sum: u64 = recvs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total.load(Ordering::Relaxed), 10_000, "cap {cap}");
        assert_eq!(sum, (0..10_000u64).sum::<u64>(), "cap {cap}");
    }
}

#[test]
fn select_fairness_between_two_ready_arms() {
    let (tx_a, rx_a) = chan::<u32>(1);
    let (tx_b, rx_b) = chan::<u32>(1);
    let (mut a, mut b) = (0u32, 0u32);
    for _ in 0..10_000 {
        tx_a.try_send(0).ok();
        tx_b.try_send(0).ok();
        goro::select! {
            recv(rx_a) -> _ => a += 1,
            recv(rx_b) -> _ => b += 1,
        }
    }
    // Binomial(10000, 0.5) has sd 50: 4000..6000 is 20 sd away.
    assert!(
        (4000..=6000).contains(&a),
        "a chosen {a} times, b {b} times"
    );
    assert_eq!(a + b, 10_000);
}

#[test]
fn select_fairness_in_a_goroutine_with_send_arms() {
    let h = goro::go!(|| {
        let (tx_a, rx_a) = chan::<u32>(1);
        let (tx_b, rx_b) = chan::<u32>(1);
        let (mut a, mut b) = (0u32, 0u32);
        for _ in 0..10_000 {
            goro::select! {
                send(tx_a, 1) -> r => { r.unwrap(); a += 1 },
                send(tx_b, 2) -> r => { r.unwrap(); b += 1 },
            }
            let _ = rx_a.try_recv();
            let _ = rx_b.try_recv();
        }
        (a, b)
    });
    let (a, b) = h.join().unwrap();
    assert!((4000..=6000).contains(&a), "a {a} b {b}");
}

#[test]
fn select_loser_leaves_no_waiter_behind() {
    let (tx_a, rx_a) = chan::<u32>(0);
    let (tx_b, rx_b) = chan::<u32>(0);
    let keep_open = rx_a.clone();
    let h = goro::go!(move || {
        let first = goro::select! {
            recv(rx_a) -> v => ("a", v.unwrap()),
            recv(rx_b) -> v => ("b", v.unwrap()),
        };
        // The select won on B; A's entry must be gone, so a later value
        // on A goes to this plain recv and nothing else.
        let second = rx_a.recv().unwrap();
        (first, second)
    });
    std::thread::sleep(Duration::from_millis(30));
    tx_b.send(1).unwrap();
    tx_a.send(2).unwrap();
    assert_eq!(h.join().unwrap(), (("b", 1), 2));
    // A send on A with no receiver at all must not complete.
    assert_eq!(tx_a.try_send(3), Err(TrySendError::Full(3)));
    drop(keep_open);
}

#[test]
fn select_timed_out_leaves_no_waiter_behind() {
    let (tx, rx) = chan::<u32>(0);
    let r = goro::select! {
        recv(rx) -> _ => false,
        default(Duration::from_millis(20)) => true,
    };
    assert!(r);
    assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
}

#[test]
fn select_default_and_closed() {
    let (tx, rx) = chan::<u32>(0);
    let v = goro::select! {
        recv(rx) -> _ => 1,
        default => 2,
    };
    assert_eq!(v, 2);
    drop(tx);
    let v = goro::select! {
        recv(rx) -> r => { assert_eq!(r, Err(RecvError)); 1 }
        default => 2
    };
    assert_eq!(v, 1);
}

#[test]
fn select_send_on_closed_returns_the_value() {
    let (tx, rx) = chan::<String>(0);
    rx.close();
    let back = goro::select! {
        send(tx, "v".to_string()) -> r => r.unwrap_err().0,
    };
    assert_eq!(back, "v");
}

#[test]
fn select_same_channel_twice() {
    let (tx, rx) = chan::<u32>(1);
    tx.send(1).unwrap();
    let v = goro::select! {
        recv(rx) -> v => v.unwrap(),
        recv(rx) -> v => v.unwrap() + 10,
    };
    assert!(v == 1 || v == 11);
    let r = goro::select! {
        send(tx, 5) -> _ => "sent",
        recv(rx) -> _ => "recv",
    };
    assert_eq!(r, "sent");
}

#[test]
fn select_blocks_until_a_peer_arrives() {
    let (tx_a, rx_a) = chan::<u32>(0);
    let (_tx_b, rx_b) = chan::<u32>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx_a.send(9).unwrap();
    });
    let h = goro::go!(move || goro::select! {
        recv(rx_a) -> v => v.unwrap(),
        recv(rx_b) -> v => v.unwrap() + 100,
    });
    assert_eq!(h.join().unwrap(), 9);
    t.join().unwrap();
}

#[test]
fn select_with_after() {
    let (_tx, rx) = chan::<u32>(0);
    let t = Instant::now();
    let r = goro::select! {
        recv(rx) -> _ => "value",
        recv(goro::time::after(Duration::from_millis(20))) -> _ => "timeout",
    };
    assert_eq!(r, "timeout");
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn selects_race_on_both_sides() {
    // Goroutines selecting on send and receive of the same channels: every
    // value is delivered exactly once.
    let (tx1, rx1) = chan::<u64>(0);
    let (tx2, rx2) = chan::<u64>(0);
    let n = 5000u64;
    let sender = {
        let (tx1, tx2) = (tx1.clone(), tx2.clone());
        goro::go!(move || {
            for i in 0..n {
                goro::select! {
                    send(tx1, i) -> r => r.unwrap(),
                    send(tx2, i) -> r => r.unwrap(),
                }
            }
        })
    };
    drop((tx1, tx2));
    let recv = goro::go!(move || {
        let mut sum = 0;
        for _ in 0..n {
            sum += goro::select! {
                recv(rx1) -> v => v.unwrap(),
                recv(rx2) -> v => v.unwrap(),
            };
        }
        sum
    });
    sender.join().unwrap();
    assert_eq!(recv.join().unwrap(), (0..n).sum::<u64>());
}

#[test]
fn select_arms_can_break_and_take_references() {
    let (tx, rx) = chan::<u32>(8);
    for i in 1..=5 {
        tx.send(i).unwrap();
    }
    drop(tx);
    let rx_ref = &rx;
    let mut sum = 0;
    loop {
        goro::select! {
            recv(rx_ref) -> v => match v {
                Ok(x) => sum += x,
                Err(_) => break,
            },
        }
    }
    assert_eq!(sum, 15);
    // Nested, with only a default.
    let v = goro::select! {
        default => goro::select! { default => 7 },
    };
    assert_eq!(v, 7);
}

/// How often each of two arms on one unbuffered channel wins when the
/// select always has to wait: `peer` completes one waiting select per
/// call, through the select's queued entries, never by the select's own
/// try pass.
fn wins_of_duplicate_arms_when_blocked(
    rounds: u32,
    select_once: impl Fn() -> bool + Send + 'static,
    peer: impl Fn(),
) -> (u32, u32) {
    let (done_tx, done_rx) = chan::<bool>(0);
    let selector = goro::go!(move || {
        for _ in 0..rounds {
            done_tx.send(select_once()).unwrap();
        }
    });
    let (mut first, mut second) = (0, 0);
    for _ in 0..rounds {
        peer();
        if done_rx.recv().unwrap() {
            first += 1;
        } else {
            second += 1;
        }
    }
    selector.join().unwrap();
    (first, second)
}

// Go's TestPseudoRandomSend (runtime/chan_test.go), made to always hit the
// blocking path: the receiver takes a value only once the select queued.
#[test]
fn pseudo_random_send_when_the_select_waits() {
    let (tx, rx) = chan::<u32>(0);
    let (first, second) = wins_of_duplicate_arms_when_blocked(
        1000,
        move || {
            goro::select! {
                send(tx, 1) -> r => { r.unwrap(); true },
                send(tx, 0) -> r => { r.unwrap(); false },
            }
        },
        // On an unbuffered channel, try_recv succeeds only from a queued
        // sender: the select is waiting.
        || loop {
            match rx.try_recv() {
                Ok(_) => break,
                Err(_) => std::thread::yield_now(),
            }
        },
    );
    // Binomial(1000, 0.5) has sd 16: 350..650 is 9 sd away.
    assert!(
        (350..=650).contains(&first),
        "first arm won {first} times, second {second}"
    );
}

#[test]
fn duplicate_recv_arms_share_the_wins_when_the_select_waits() {
    let (tx, rx) = chan::<u32>(0);
    let (first, second) = wins_of_duplicate_arms_when_blocked(
        1000,
        move || {
            goro::select! {
                recv(rx) -> v => { v.unwrap(); true },
                recv(rx) -> v => { v.unwrap(); false },
            }
        },
        // try_send succeeds only into a queued receiver: the select waits.
        || {
            while tx.try_send(7).is_err() {
                std::thread::yield_now();
            }
        },
    );
    assert!(
        (350..=650).contains(&first),
        "first arm won {first} times, second {second}"
    );
}

#[test]
fn select_arm_expressions_keep_their_temporaries_for_the_whole_select() {
    // The channels are reached through a `Ref` guard: a temporary that the
    // arm's expression borrows from, so it must outlive the select.
    let (tx, rx) = chan::<u32>(1);
    let senders = RefCell::new(vec![tx]);
    let receivers = RefCell::new(vec![rx]);
    goro::select! {
        send(senders.borrow().first().unwrap(), 5) -> r => r.unwrap(),
    }
    let v = goro::select! {
        recv(receivers.borrow().first().unwrap()) -> v => v.unwrap(),
    };
    assert_eq!(v, 5);

    // A temporary in a send's value expression lives until the select ends
    // too, as it would in one expression.
    struct SetOnDrop<'a>(&'a AtomicBool, u32);
    impl SetOnDrop<'_> {
        fn value(&self) -> u32 {
            self.1
        }
    }
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let dropped = AtomicBool::new(false);
    let still_alive_in_body = goro::select! {
        send(senders.borrow()[0], SetOnDrop(&dropped, 6).value()) -> r => {
            r.unwrap();
            !dropped.load(Ordering::Relaxed)
        },
    };
    assert!(still_alive_in_body);
    assert!(dropped.load(Ordering::Relaxed));
    assert_eq!(receivers.borrow()[0].recv(), Ok(6));
}

/// A value that counts its drops, to see when a channel lets go of it.
#[derive(Debug)]
struct Counted {
    id: u32,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn dropping_the_last_receiver_drops_the_buffered_values() {
    let drops = Arc::new(AtomicUsize::new(0));
    let counted = |id| Counted {
        id,
        drops: Arc::clone(&drops),
    };
    let (tx, rx) = chan::<Counted>(4);
    for id in 0..3 {
        tx.send(counted(id)).unwrap();
    }
    let other_rx = rx.clone();
    drop(rx);
    assert_eq!(drops.load(Ordering::Relaxed), 0, "still receivable");
    drop(other_rx);
    assert_eq!(
        drops.load(Ordering::Relaxed),
        3,
        "nobody can receive them: gone with the last receiver, though a sender lives"
    );
    let back = tx.send(counted(7)).unwrap_err().0;
    assert_eq!(back.id, 7, "a later send gets its value back");
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    drop(back);
    drop(tx);
    assert_eq!(drops.load(Ordering::Relaxed), 4);

    // A buffered value that holds the channel's last sender: dropping it
    // (outside the channel's lock) runs that sender's drop and close.
    struct HoldsSender {
        _sender: goro::Sender<HoldsSender>,
    }
    let (tx, rx) = chan::<HoldsSender>(1);
    let held = HoldsSender {
        _sender: tx.clone(),
    };
    assert!(tx.send(held).is_ok());
    drop(tx);
    drop(rx);
}

#[test]
fn dropping_the_last_receiver_hands_blocked_senders_their_values() {
    for cap in [0, 1] {
        let drops = Arc::new(AtomicUsize::new(0));
        let counted = |id| Counted {
            id,
            drops: Arc::clone(&drops),
        };
        let (tx, rx) = chan::<Counted>(cap);
        if cap == 1 {
            tx.send(counted(100)).unwrap(); // full: the senders below block
        }
        let senders: Vec<_> = (0..3)
            .map(|id| {
                let (tx, value) = (tx.clone(), counted(id));
                goro::go!(move || tx.send(value).unwrap_err().0.id)
            })
            .collect();
        goro::time::sleep(Duration::from_millis(20));
        drop(rx);
        let mut back: Vec<u32> = senders.into_iter().map(|h| h.join().unwrap()).collect();
        back.sort();
        assert_eq!(back, [0, 1, 2], "cap {cap}");
        // The three returned values were dropped by their senders, the
        // buffered one with the last receiver.
        assert_eq!(drops.load(Ordering::Relaxed), 3 + cap, "cap {cap}");
    }
}

#[test]
fn select_takes_crossbeams_spellings() {
    let (tx, rx) = chan::<u32>(1);
    // Trailing commas inside arms, and `default()`.
    let r = goro::select! {
        recv(rx,) -> _ => 0,
        send(tx, 3,) -> res => { res.unwrap(); 1 },
        default() => 2,
    };
    assert_eq!(r, 1);
    let r = goro::select! {
        send(tx, 4,) -> _ => 0,
        recv(rx,) -> v => v.unwrap(),
        default(Duration::from_millis(1),) => 2,
    };
    assert_eq!(r, 3, "full: only the receive can run");
    // No commas after block bodies, `default()` last.
    let r = goro::select! {
        recv(rx) -> _ => { 0 }
        default() => { 5 }
    };
    assert_eq!(r, 5);
}

#[test]
fn send_errors_are_debug_for_any_value() {
    struct Opaque;
    let (tx, rx) = chan::<Opaque>(0);
    assert_eq!(
        format!("{:?}", tx.try_send(Opaque).unwrap_err()),
        "Full(..)"
    );
    assert_eq!(
        format!("{:?}", tx.send_timeout(Opaque, Duration::ZERO).unwrap_err()),
        "Timeout(..)"
    );
    drop(rx);
    let err = tx.send(Opaque).unwrap_err();
    assert_eq!(format!("{err:?}"), "SendError(..)");
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert_eq!(boxed.to_string(), "sending on a closed channel");
    assert_eq!(
        format!("{:?}", tx.try_send(Opaque).unwrap_err()),
        "Disconnected(..)"
    );
}

#[test]
fn ends_cross_catch_unwind_and_stay_usable() {
    let (tx, rx) = chan::<u32>(1);
    let result = std::panic::catch_unwind(|| {
        tx.send(1).unwrap();
        assert_eq!(rx.len(), 1);
        panic!("after a send");
    });
    assert!(result.is_err());
    // Both ends crossed the unwind by reference (UnwindSafe): still whole.
    assert_eq!(rx.recv(), Ok(1));
    tx.send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}
