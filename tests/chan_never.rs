//! `goro::never`: a receiver that is never ready and never closed (Go's
//! nil channel). That a goroutine blocked on it for good is reported as a
//! deadlock is checked in `tests/deadlock.rs` (it needs its own process).

use std::time::{Duration, Instant};

use goro::{RecvTimeoutError, TryRecvError};

#[test]
fn try_recv_is_empty_and_it_never_closes() {
    let rx = goro::never::<u32>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(!rx.is_closed());
    assert!(!rx.close(), "a never channel refuses to close");
    assert!(!rx.is_closed());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let clone = rx.clone();
    drop(rx); // dropping receivers does not close it either
    assert!(!clone.is_closed());
    assert_eq!(clone.capacity(), 0);
    assert!(clone.is_empty());
}

#[test]
fn recv_blocks_until_the_timeout() {
    let rx = goro::never::<u32>();
    let start = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(30)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    // From a goroutine too.
    let h = goro::go!(move || rx.recv_timeout(Duration::from_millis(30)));
    assert_eq!(h.join().unwrap(), Err(RecvTimeoutError::Timeout));
}

#[test]
fn a_blocked_recv_stays_blocked() {
    let (done_tx, done_rx) = goro::chan::<()>(1);
    let _blocked = goro::go!(move || {
        let _ = goro::never::<u32>().recv();
        done_tx.send(()).unwrap(); // never reached
    });
    assert_eq!(
        done_rx.recv_timeout(Duration::from_millis(100)),
        Err(RecvTimeoutError::Timeout)
    );
}

#[test]
fn select_picks_the_other_arm_or_the_default() {
    let off = goro::never::<u32>();
    let (tx, rx) = goro::chan::<u32>(1);
    for i in 0..100 {
        tx.send(i).unwrap();
        let got = goro::select! {
            recv(off) -> _ => unreachable!("never is never ready"),
            recv(rx) -> v => v.unwrap(),
        };
        assert_eq!(got, i);
    }
    let r = goro::select! {
        recv(off) -> _ => 0,
        default() => 1,
    };
    assert_eq!(r, 1);
    let start = Instant::now();
    let r = goro::select! {
        recv(off) -> _ => 0,
        default(Duration::from_millis(20)) => 2,
    };
    assert_eq!(r, 2);
    assert!(start.elapsed() >= Duration::from_millis(20));
    let mut sel = goro::Select::new();
    sel.recv(&off);
    assert!(sel.try_select().is_err());
    assert!(sel.select_timeout(Duration::from_millis(10)).is_err());
}
