//! goro::sync::Condvar with goro::sync::Mutex: producer/consumer between
//! goroutines and threads, timeouts, notify_all.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::{Condvar, Mutex};

struct Bounded {
    queue: Mutex<VecDeque<u64>>,
    not_empty: Condvar,
    not_full: Condvar,
    cap: usize,
}

impl Bounded {
    fn push(&self, v: u64) {
        let mut q = self.queue.lock();
        self.not_full.wait_while(&mut q, |q| q.len() >= self.cap);
        q.push_back(v);
        drop(q);
        self.not_empty.notify_one();
    }

    fn pop(&self) -> u64 {
        let mut q = self.queue.lock();
        while q.is_empty() {
            self.not_empty.wait(&mut q);
        }
        let v = q.pop_front().unwrap();
        drop(q);
        self.not_full.notify_one();
        v
    }
}

#[test]
fn producer_consumer_over_a_bounded_queue() {
    const PER: u64 = 2000;
    let b = Arc::new(Bounded {
        queue: Mutex::new(VecDeque::new()),
        not_empty: Condvar::new(),
        not_full: Condvar::new(),
        cap: 4,
    });
    // 3 goroutine producers + 1 thread producer; 3 goroutine consumers + 1
    // thread consumer, each consuming the same share.
    let mut producers = Vec::new();
    for p in 0..3u64 {
        let b = b.clone();
        producers.push(goro::go!(move || (0..PER).for_each(|i| b.push(p * PER + i))));
    }
    let tp = {
        let b = b.clone();
        std::thread::spawn(move || (0..PER).for_each(|i| b.push(3 * PER + i)))
    };
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let b = b.clone();
            goro::go!(move || (0..PER).map(|_| b.pop()).sum::<u64>())
        })
        .collect();
    let tc = {
        let b = b.clone();
        std::thread::spawn(move || (0..PER).map(|_| b.pop()).sum::<u64>())
    };
    producers.into_iter().for_each(|h| h.join().unwrap());
    tp.join().unwrap();
    let total: u64 = consumers
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum::<u64>()
        + tc.join().unwrap();
    let n = 4 * PER;
    assert_eq!(total, n * (n - 1) / 2);
    assert!(b.queue.lock().is_empty());
}

#[test]
fn wait_timeout_times_out_and_relocks() {
    let m = Arc::new(Mutex::new(0));
    let cv = Arc::new(Condvar::new());
    let (m2, cv2) = (m.clone(), cv.clone());
    let h = goro::go!(move || {
        let mut g = m2.lock();
        let start = Instant::now();
        let r = cv2.wait_timeout(&mut g, Duration::from_millis(20));
        assert!(r.timed_out());
        assert!(start.elapsed() >= Duration::from_millis(20));
        // The mutex is ours again.
        assert!(m2.try_lock().is_none());
        *g += 1;
    });
    h.join().unwrap();
    assert_eq!(*m.lock(), 1);
    // On a thread too.
    let mut g = m.lock();
    assert!(cv
        .wait_timeout(&mut g, Duration::from_millis(5))
        .timed_out());
    assert_eq!(*g, 1);
}

#[test]
fn wait_timeout_returns_early_when_notified() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let p = pair.clone();
    let h = goro::go!(move || {
        let mut g = p.0.lock();
        let give_up = Instant::now() + Duration::from_secs(10);
        while !*g {
            let r = p.1.wait_timeout(&mut g, Duration::from_secs(10));
            assert!(!r.timed_out() || Instant::now() >= give_up);
        }
    });
    std::thread::sleep(Duration::from_millis(5));
    *pair.0.lock() = true;
    pair.1.notify_all();
    h.join().unwrap();
}

#[test]
fn notify_all_wakes_every_waiter() {
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let hs: Vec<_> = (0..20)
        .map(|_| {
            let p = pair.clone();
            goro::go!(move || {
                let mut g = p.0.lock();
                p.1.wait_while(&mut g, |go| !*go);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(5));
    *pair.0.lock() = true;
    pair.1.notify_all();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert!(!pair.1.notify_one(), "a waiter was left queued");
    assert_eq!(pair.1.notify_all(), 0);
}

/// Waits until the goroutine named `name` shows in `goro::dump()` as
/// parked on a goro `Mutex`; false if it ended (or never got there) first.
fn parked_on_mutex(name: &str, give_up: Instant) -> bool {
    let parked = format!("{name:?} [mutex, ");
    while Instant::now() < give_up {
        let dump = goro::dump().to_string();
        if dump.contains(&parked) {
            return true;
        }
        if !dump.contains(&format!("{name:?}")) {
            return false;
        }
        goro::time::sleep(Duration::from_millis(1));
    }
    false
}

/// The reliability issue's deadlock: a `wait_timeout` that timed out kept
/// the condvar's queue lock while it relocked the mutex, so whoever held the
/// mutex and called `notify_one` ("lock, change, notify") blocked its whole
/// thread on the queue lock while the waiter waited for the mutex. The
/// notifier runs on a plain thread and in a goroutine; each waits until the
/// timed-out waiter is parked on the mutex (seen in `goro::dump()`), so the
/// bad interleaving happens every run, and a watchdog turns the hang into a
/// failure.
#[test]
fn notify_under_the_mutex_while_a_timed_out_waiter_relocks() {
    for (round, notifier_is_goroutine) in [false, true].into_iter().enumerate() {
        let name = format!("timed-out-waiter-{round}");
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let waiter = goro::Builder::new().name(name.clone()).spawn({
            let pair = pair.clone();
            move || {
                let mut g = pair.0.lock();
                locked_tx.send(()).unwrap();
                pair.1.wait_timeout(&mut g, Duration::from_millis(50))
            }
        });
        let waiter = waiter.unwrap();
        locked_rx.recv().unwrap();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let notify = move || {
            // We get the mutex once the waiter has queued and released it.
            let mut g = pair.0.lock();
            let relocking = parked_on_mutex(&name, Instant::now() + Duration::from_secs(10));
            *g += 1;
            let woke = pair.1.notify_one();
            drop(g);
            done_tx.send((relocking, woke)).unwrap();
        };
        if notifier_is_goroutine {
            goro::spawn(notify);
        } else {
            std::thread::spawn(notify);
        }
        let (relocking, woke) = done_rx.recv_timeout(Duration::from_secs(15)).expect(
            "notify_one blocked: the timed-out waiter holds the queue lock while relocking",
        );
        assert!(
            relocking,
            "the waiter never parked on the mutex after its timeout"
        );
        assert!(!woke, "notify_one found the timed-out waiter still queued");
        assert!(waiter.join().unwrap().timed_out());
    }
}
