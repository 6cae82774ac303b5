//! `goro::unbounded`: the same `Sender`/`Receiver` as `chan`, whose sends
//! never wait; the bounded closing rules; a `send` arm always ready.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::{RecvError, SendError, Sender, TrySendError};

#[test]
fn sends_never_block_without_a_receiver() {
    let (tx, rx) = goro::unbounded::<u64>();
    assert_eq!(tx.capacity(), usize::MAX);
    // Far past any preallocation: a bounded channel would block here.
    for i in 0..100_000 {
        tx.try_send(i).unwrap();
    }
    tx.send_timeout(100_000, Duration::ZERO).unwrap();
    assert_eq!(rx.len(), 100_001);
    drop(tx);
    let got: Vec<u64> = rx.iter().collect();
    assert_eq!(got.len(), 100_001);
    assert!(got.windows(2).all(|w| w[0] + 1 == w[1]), "FIFO order");
}

#[test]
fn closing_rules_match_the_bounded_channel() {
    let (tx, rx) = goro::unbounded::<u32>();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert!(tx.close());
    assert_eq!(tx.send(3), Err(SendError(3)));
    assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));
    assert_eq!(rx.recv(), Ok(1), "drained after close");
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(rx.recv(), Err(RecvError));

    // Dropping the last receiver drops what is buffered at once.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = goro::unbounded::<Counted>();
    for _ in 0..10 {
        tx.send(Counted(drops.clone())).unwrap();
    }
    drop(rx);
    assert_eq!(drops.load(Ordering::Relaxed), 10);
    assert!(tx.send(Counted(drops.clone())).is_err());
    assert_eq!(drops.load(Ordering::Relaxed), 11);
}

#[test]
fn receivers_block_until_a_send_between_goroutines_and_threads() {
    let (tx, rx) = goro::unbounded::<u32>();
    let rx2 = rx.clone();
    let goroutine = goro::go!(move || rx2.recv().unwrap());
    let thread = std::thread::spawn(move || rx.recv().unwrap());
    std::thread::sleep(Duration::from_millis(20));
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    let mut got = [goroutine.join().unwrap(), thread.join().unwrap()];
    got.sort();
    assert_eq!(got, [1, 2]);
    // The last sender dropped wakes a blocked receiver with the error.
    let (tx, rx) = goro::unbounded::<u32>();
    let h = goro::go!(move || rx.recv());
    std::thread::sleep(Duration::from_millis(20));
    drop(tx);
    assert_eq!(h.join().unwrap(), Err(RecvError));
}

#[test]
fn many_senders_lose_nothing() {
    goro::run(|| {
        let (tx, rx) = goro::unbounded::<u64>();
        let senders: Vec<_> = (0..8u64)
            .map(|s| {
                let tx: Sender<u64> = tx.clone();
                goro::go!(move || {
                    for i in 0..10_000 {
                        tx.send(s * 10_000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        for h in senders {
            h.join().unwrap();
        }
        let sum: u64 = rx.iter().sum();
        assert_eq!(sum, (0..80_000u64).sum::<u64>());
    });
}

#[test]
fn a_send_arm_is_always_ready() {
    let (tx, rx) = goro::unbounded::<u32>();
    let (_other_tx, other_rx) = goro::chan::<u32>(0);
    for i in 0..1_000 {
        let sent = goro::select! {
            send(tx, i) -> res => { res.unwrap(); true },
            recv(other_rx) -> _ => false,
            default => false,
        };
        assert!(sent, "iteration {i}: the unbounded send was not ready");
    }
    assert_eq!(rx.len(), 1_000);
}
