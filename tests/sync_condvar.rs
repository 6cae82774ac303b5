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
