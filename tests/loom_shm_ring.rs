//! Model checks (loom) of `ShmRing`'s wake-up handshake,
//! `runtime/ipc/wake.rs`, compiled here as it is in the crate: `announce`,
//! `published`, `waiting` and `check_or_drain` run unchanged over loom's
//! atomics. The ring is reduced to what the handshake sees: `tail` and
//! `head` count messages, the receive lock is a loom mutex, and the
//! doorbell FIFO is a byte count under a mutex with a condvar, where a
//! parked waiter sleeps while the count is 0 (poll(2)'s level semantics,
//! and epoll's too: a FIFO drained before the event is delivered reports
//! nothing). `send` and `recv` have `ring.rs`'s shape: store, fence, ring
//! if counted; take under the lock, then pass the turn on.
//!
//! Checked in every interleaving loom explores: no wake-up is lost, i.e.
//! every receiver gets a message (a receiver parked forever with a
//! message queued is a deadlock, which loom reports) — including when one
//! receiver drains the rings meant for another. A regression model takes
//! the turn-passing ring out and expects loom to find the hang.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_shm_ring` (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

#[path = "../runtime/ipc/wake.rs"]
mod wake;

use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use loom::sync::{Condvar, Mutex};
use loom::thread;
use std::io;
use std::mem::ManuallyDrop;

/// The data doorbell: bytes written and not yet drained.
#[derive(Default)]
struct Bell {
    bytes: Mutex<u32>,
    rung: Condvar,
}

impl Bell {
    fn ring(&self) {
        *self.bytes.lock().unwrap() += 1;
        self.rung.notify_all();
    }

    /// `drain` in ring.rs: `Ok` if it took bytes, else `WouldBlock`.
    fn drain(&self) -> io::Result<()> {
        match std::mem::take(&mut *self.bytes.lock().unwrap()) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    }

    /// Parks while nothing is readable.
    fn park(&self) {
        let mut bytes = self.bytes.lock().unwrap();
        while *bytes == 0 {
            bytes = self.rung.wait(bytes).unwrap();
        }
    }
}

struct Ring {
    /// Messages published.
    tail: AtomicU64,
    /// Messages taken.
    head: AtomicU64,
    recv_lock: Mutex<()>,
    recv_waiters: AtomicU32,
    data_bell: Bell,
    /// Whether `try_recv` passes the turn on (false: the regression).
    pass_turn: bool,
}

impl Ring {
    fn new(pass_turn: bool) -> Ring {
        Ring {
            tail: AtomicU64::new(0),
            head: AtomicU64::new(0),
            recv_lock: Mutex::new(()),
            recv_waiters: AtomicU32::new(0),
            data_bell: Bell::default(),
            pass_turn,
        }
    }

    /// `send_until` after the copy (one sender here: no send lock).
    fn send(&self) {
        let tail = self.tail.load(Ordering::Relaxed);
        self.tail.store(tail + 1, Ordering::Release);
        wake::published();
        if wake::waiting(&self.recv_waiters) {
            self.data_bell.ring();
        }
    }

    /// `recv_until`: try, else wait, until a message is taken.
    fn recv(&self) {
        while !self.try_recv() {
            self.wait();
        }
    }

    /// `try_recv`: take under the lock, then wake.
    fn try_recv(&self) -> bool {
        let lock = self.recv_lock.lock().unwrap();
        let head = self.head.load(Ordering::Relaxed);
        if self.tail.load(Ordering::Acquire) == head {
            return false;
        }
        self.head.store(head + 1, Ordering::Release);
        drop(lock);
        wake::published();
        if self.pass_turn
            && wake::waiting(&self.recv_waiters)
            && self.tail.load(Ordering::Acquire) != head + 1
        {
            self.data_bell.ring();
        }
        true
    }

    /// `wait` after its spin: count, then try and park until ready.
    fn wait(&self) {
        // Dropped by hand on return, not while unwinding: when loom reports
        // the regression's hang, a loom atomic touched while unwinding
        // panics again and aborts the test process.
        let counted = ManuallyDrop::new(wake::announce(&self.recv_waiters));
        let ready = || self.tail.load(Ordering::Acquire) != self.head.load(Ordering::Acquire);
        loop {
            match wake::check_or_drain(ready, || self.data_bell.drain()) {
                Ok(()) => return drop(ManuallyDrop::into_inner(counted)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.data_bell.park(),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

/// `receivers` threads take one message each; the main thread sends as
/// many.
fn model(receivers: usize, pass_turn: bool) {
    // Leaked, not an `Arc`, for the same reason as `counted` in `wait`.
    let ring: &'static Ring = Box::leak(Box::new(Ring::new(pass_turn)));
    let threads: Vec<_> = (0..receivers)
        .map(|_| thread::spawn(move || ring.recv()))
        .collect();
    for _ in 0..receivers {
        ring.send();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ring.head.load(Ordering::Relaxed), receivers as u64);
}

#[test]
fn one_receiver_gets_its_message() {
    loom::model(|| model(1, true));
}

#[test]
fn two_receivers_both_wake_when_one_drains_the_other_s_ring() {
    loom::model(|| model(2, true));
}

#[test]
fn three_receivers_all_wake() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.unwrap_or(2).min(2));
    builder.check(|| model(3, true));
}

/// Regression: without passing the turn on, a receiver that drained
/// another's ring leaves it parked with a message queued.
#[test]
#[should_panic(expected = "deadlock")]
fn without_passing_the_turn_a_receiver_stays_parked() {
    loom::model(|| model(3, false));
}
