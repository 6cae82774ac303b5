//! goro::sync::Once: exactly one run under contention, and Go's panic
//! rule (a panicking closure counts as done).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::Once;

#[test]
fn runs_once_under_contention_and_callers_wait_for_it() {
    let once = Arc::new(Once::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let (once, runs) = (once.clone(), runs.clone());
            goro::go!(move || {
                once.call_once(|| {
                    goro::time::sleep(Duration::from_millis(10));
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                // Nobody returns before the closure finished.
                runs.load(Ordering::SeqCst)
            })
        })
        .collect();
    let ts: Vec<_> = (0..2)
        .map(|_| {
            let (once, runs) = (once.clone(), runs.clone());
            std::thread::spawn(move || {
                once.call_once(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                runs.load(Ordering::SeqCst)
            })
        })
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 1);
    }
    for t in ts {
        assert_eq!(t.join().unwrap(), 1);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(once.is_completed());
}

#[test]
fn panicking_closure_counts_as_done() {
    let once = Arc::new(Once::new());
    let started = Arc::new(AtomicBool::new(false));
    let (o, st) = (once.clone(), started.clone());
    let first = goro::go!(move || {
        o.call_once(|| {
            st.store(true, Ordering::SeqCst);
            goro::time::sleep(Duration::from_millis(10));
            panic!("boom in once");
        })
    });
    // Only once `first` runs the closure do the others come along.
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // Callers arriving while it runs return normally after the panic.
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let o = once.clone();
            goro::go!(move || o.call_once(|| unreachable!("ran twice")))
        })
        .collect();
    let err = first.join().unwrap_err();
    assert_eq!(err.panic_message(), Some("boom in once"));
    for w in waiters {
        w.join().expect("a waiter saw the panic");
    }
    assert!(once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(!ran, "the closure was retried after a panic");
}

#[test]
fn works_as_a_static() {
    static INIT: Once = Once::new();
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let hs: Vec<_> = (0..8)
        .map(|_| {
            goro::go!(|| INIT.call_once(|| {
                RUNS.fetch_add(1, Ordering::SeqCst);
            }))
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
}
