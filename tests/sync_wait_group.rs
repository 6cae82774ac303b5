//! goro::sync::WaitGroup: waiting for goroutines and threads, clones
//! sharing one counter, reuse, and the negative-counter panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::WaitGroup;

#[test]
fn wait_returns_after_every_goroutine_is_done() {
    let wg = WaitGroup::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for i in 0..100 {
        wg.add(1);
        let (wg, finished) = (wg.clone(), finished.clone());
        goro::go!(move || {
            if i % 10 == 0 {
                goro::time::sleep(Duration::from_millis(2));
            }
            finished.fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(finished.load(Ordering::Relaxed), 100);
    assert_eq!(wg.count(), 0);
}

#[test]
fn many_waiters_goroutines_and_threads_all_wake() {
    let wg = WaitGroup::new();
    wg.add(3);
    let woken = Arc::new(AtomicUsize::new(0));
    let gs: Vec<_> = (0..10)
        .map(|_| {
            let (wg, woken) = (wg.clone(), woken.clone());
            goro::go!(move || {
                wg.wait();
                woken.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let (wg, woken) = (wg.clone(), woken.clone());
            std::thread::spawn(move || {
                wg.wait();
                woken.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(woken.load(Ordering::Relaxed), 0, "woke before zero");
    wg.done();
    wg.add(-2);
    gs.into_iter().for_each(|h| h.join().unwrap());
    ts.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(woken.load(Ordering::Relaxed), 13);
}

#[test]
fn reusable_after_reaching_zero() {
    let wg = WaitGroup::new();
    for round in 0..5 {
        let hits = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            wg.add(1);
            let (wg, hits) = (wg.clone(), hits.clone());
            goro::go!(move || {
                hits.fetch_add(1, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(hits.load(Ordering::Relaxed), 10, "round {round}");
    }
}

#[test]
fn wait_on_zero_returns_at_once() {
    WaitGroup::new().wait();
    goro::go!(|| WaitGroup::new().wait()).join().unwrap();
}

#[test]
fn negative_counter_panics_in_goroutine() {
    let h = goro::go!(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        wg.done();
        wg.done();
    });
    let err = h.join().unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        err.panic_message(),
        Some("sync: negative WaitGroup counter")
    );
}

#[test]
fn negative_counter_panics_on_thread() {
    let wg = WaitGroup::new();
    let r = std::panic::catch_unwind(|| wg.add(-1));
    let payload = r.unwrap_err();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
    assert_eq!(msg, Some("sync: negative WaitGroup counter"));
}
