//! `goro::Select`: a select over operations known only at run time, with
//! `select!`'s fairness, blocking on one waiter, from goroutines and plain
//! threads; what a `SelectedOperation` reserves, and what dropping one
//! gives back.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use goro::{Receiver, RecvError, Select, SendError, Sender};

fn channels(n: usize, cap: usize) -> (Vec<Sender<usize>>, Vec<Receiver<usize>>) {
    (0..n).map(|_| goro::chan::<usize>(cap)).unzip()
}

#[test]
fn every_one_of_1000_channels_gets_selected_fairly() {
    let (txs, rxs) = channels(1000, 1);
    let mut sel = Select::new();
    for rx in &rxs {
        sel.recv(rx);
    }
    // All ready at once: the choice is uniform, and each is chosen once
    // its value is there. Refill the chosen one, so all stay ready.
    for (i, tx) in txs.iter().enumerate() {
        tx.send(i).unwrap();
    }
    let mut hits = vec![0u32; 1000];
    for _ in 0..50_000 {
        let op = sel.select();
        let i = op.index();
        assert_eq!(op.recv(&rxs[i]), Ok(i), "the value of the chosen channel");
        hits[i] += 1;
        txs[i].send(i).unwrap();
    }
    // 50 expected per channel; a biased choice (first ready, last ready)
    // gives thousands to one and none to most.
    let (min, max) = (hits.iter().min().unwrap(), hits.iter().max().unwrap());
    assert!(*min >= 10 && *max <= 150, "min {min} max {max}");
}

#[test]
fn each_of_1000_channels_is_selected_when_it_alone_is_ready() {
    goro::run(|| {
        let (txs, rxs) = channels(1000, 0);
        let feeder = goro::go!(move || {
            // Unbuffered: every send waits for the select to take it.
            for (i, tx) in txs.iter().enumerate().rev() {
                tx.send(i).unwrap();
            }
        });
        let mut sel = Select::new();
        for rx in &rxs {
            sel.recv(rx);
        }
        let mut seen = vec![false; 1000];
        for _ in 0..1000 {
            let op = sel.select();
            let i = op.index();
            assert_eq!(op.recv(&rxs[i]), Ok(i));
            assert!(!seen[i], "channel {i} chosen twice");
            seen[i] = true;
        }
        feeder.join().unwrap();
        assert!(seen.iter().all(|&s| s));
    });
}

#[test]
fn closed_channels_are_ready_with_an_error() {
    let (txs, rxs) = channels(100, 0);
    let (closed_tx, closed_rx) = goro::chan::<usize>(0);
    drop(closed_tx);
    let mut sel = Select::new();
    for rx in &rxs {
        sel.recv(rx);
    }
    let closed = sel.recv(&closed_rx);
    for _ in 0..10 {
        let op = sel.select();
        assert_eq!(op.index(), closed);
        assert_eq!(op.recv(&closed_rx), Err(RecvError));
    }
    // A send arm on a closed channel is chosen and fails with the value.
    let (tx, rx) = goro::chan::<usize>(0);
    drop(rx);
    let mut sel = Select::new();
    let i = sel.send(&tx);
    let op = sel.select();
    assert_eq!(op.index(), i);
    assert_eq!(op.send(&tx, 5), Err(SendError(5)));
    drop(txs);
}

#[test]
fn blocks_from_a_plain_thread_until_a_goroutine_sends() {
    let (txs, rxs) = channels(64, 0);
    let waiter = std::thread::spawn(move || {
        let mut sel = Select::new();
        for rx in &rxs {
            sel.recv(rx);
        }
        let op = sel.select();
        let i = op.index();
        (i, op.recv(&rxs[i]).unwrap())
    });
    std::thread::sleep(Duration::from_millis(30));
    goro::go!(move || txs[41].send(4100).unwrap())
        .join()
        .unwrap();
    assert_eq!(waiter.join().unwrap(), (41, 4100));
}

#[test]
fn a_send_arm_waits_for_a_receiver_then_hands_it_the_value() {
    goro::run(|| {
        let (tx, rx) = goro::chan::<String>(0);
        let (_idle_tx, idle_rx) = goro::chan::<String>(0);
        let receiver = goro::go!(move || {
            goro::time::sleep(Duration::from_millis(20));
            rx.recv().unwrap()
        });
        let mut sel = Select::new();
        sel.recv(&idle_rx);
        let send = sel.send(&tx);
        let op = sel.select();
        assert_eq!(op.index(), send);
        op.send(&tx, "hello".to_string()).unwrap();
        assert_eq!(receiver.join().unwrap(), "hello");
    });
}

#[test]
fn a_send_arm_waits_for_room_in_a_full_buffer() {
    let (tx, rx) = goro::chan::<u32>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.send(&tx);
    assert!(sel.try_select().is_err(), "full: not ready");
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        let first = rx.recv().unwrap();
        (first, rx.recv().unwrap())
    });
    let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
    op.send(&tx, 2).unwrap();
    assert_eq!(reader.join().unwrap(), (1, 2));
}

#[test]
fn a_reserved_slot_is_kept_from_other_senders() {
    let (tx, rx) = goro::chan::<u32>(1);
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.select();
    // The one slot is reserved for `op`: another send finds it full.
    assert!(tx.try_send(9).unwrap_err().is_full());
    op.send(&tx, 1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn timeouts_and_try_select() {
    let (_tx, rx) = goro::chan::<u32>(0);
    let mut sel = Select::new();
    sel.recv(&rx);
    assert!(sel.try_select().is_err());
    let start = Instant::now();
    assert!(sel.select_timeout(Duration::from_millis(30)).is_err());
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert!(sel.try_ready().is_err());
    assert!(sel.ready_timeout(Duration::from_millis(10)).is_err());
}

#[test]
fn ready_says_which_without_completing() {
    let (tx, rx) = goro::chan::<u32>(1);
    let (_tx2, rx2) = goro::chan::<u32>(1);
    let mut sel = Select::new();
    sel.recv(&rx2);
    let i = sel.recv(&rx);
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(7).unwrap();
        tx
    });
    assert_eq!(sel.ready(), i);
    assert_eq!(rx.len(), 1, "ready took nothing");
    assert_eq!(rx.try_recv(), Ok(7));
    drop(sender.join().unwrap());
    // A send arm is ready when a receiver waits on an unbuffered channel.
    let (tx, rx) = goro::chan::<u32>(0);
    let receiver = goro::go!(move || rx.recv().unwrap());
    let mut sel = Select::new();
    sel.send(&tx);
    assert_eq!(sel.ready(), 0);
    tx.try_send(3).unwrap();
    assert_eq!(receiver.join().unwrap(), 3);
}

#[test]
fn dropping_a_chosen_send_panics_and_the_claimed_receiver_tries_again() {
    goro::run(|| {
        let (tx, rx) = goro::chan::<u32>(0);
        let receiver = goro::go!(move || rx.recv_timeout(Duration::from_secs(10)));
        goro::time::sleep(Duration::from_millis(20)); // the receiver waits
        let mut sel = Select::new();
        sel.send(&tx);
        let op = sel.select(); // claims the waiting receiver
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(op)));
        assert!(dropped.is_err(), "dropping an uncompleted operation panics");
        // The receiver was released and waits again: a later send reaches it.
        tx.send(42).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(42));
    });
}

#[test]
fn dropping_a_chosen_send_frees_its_reserved_slot() {
    let (tx, rx) = goro::chan::<u32>(1);
    let mut sel = Select::new();
    sel.send(&tx);
    let op = sel.select();
    assert!(tx.try_send(1).unwrap_err().is_full());
    assert!(catch_unwind(AssertUnwindSafe(|| drop(op))).is_err());
    tx.try_send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn completing_with_the_wrong_channel_panics() {
    let (tx, rx) = goro::chan::<u32>(1);
    let (_tx2, rx2) = goro::chan::<u32>(1);
    tx.send(1).unwrap();
    let mut sel = Select::new();
    sel.recv(&rx);
    let op = sel.select();
    assert!(catch_unwind(AssertUnwindSafe(|| op.recv(&rx2))).is_err());
    // The value was taken by the select and dropped with the operation.
    assert!(rx.try_recv().is_err());
}

#[test]
fn selects_race_senders_and_receivers_without_losing_values() {
    goro::run(|| {
        const N: usize = 20_000;
        let (txs, rxs) = channels(16, 0);
        let (out_tx, out_rx) = goro::chan::<usize>(0);
        // Producers send 0..N over 16 unbuffered channels; one goroutine
        // forwards each value through a dynamic send arm (beside a receive
        // arm that never fires), so the send's reservation (a claimed
        // receiver) races the consumer's own waits.
        let producers: Vec<_> = txs
            .into_iter()
            .enumerate()
            .map(|(p, tx)| {
                goro::go!(move || {
                    for v in (p..N).step_by(16) {
                        tx.send(v).unwrap();
                    }
                    tx // kept open: a closed channel is always ready
                })
            })
            .collect();
        let forwarder = goro::go!(move || {
            let idle = goro::never::<usize>();
            let mut inputs = Select::new();
            for rx in &rxs {
                inputs.recv(rx);
            }
            let mut output = Select::new();
            output.recv(&idle);
            let send = output.send(&out_tx);
            for k in 0..N {
                let op = inputs.select();
                let i = op.index();
                let v = op
                    .recv(&rxs[i])
                    .unwrap_or_else(|e| panic!("value {k}: {e}"));
                let op = output.select();
                assert_eq!(op.index(), send);
                op.send(&out_tx, v).unwrap();
            }
        });
        let consumer = goro::go!(move || out_rx.iter().sum::<usize>());
        let senders: Vec<_> = producers.into_iter().map(|p| p.join().unwrap()).collect();
        forwarder.join().unwrap(); // drops out_tx: the consumer ends
        drop(senders);
        assert_eq!(consumer.join().unwrap(), (0..N).sum::<usize>());
    });
}
