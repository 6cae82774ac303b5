//! `goro::sync::OnceLock`: std's shape and rules, and callers that arrive
//! while the first initialises park the goroutine (not spin, not block the
//! worker); a panicking initialiser leaves the cell empty and the next
//! caller initialises it.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::OnceLock;

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn std_shape() {
    send_sync::<OnceLock<String>>();
    send::<OnceLock<Cell<u32>>>(); // Send like std's, though not Sync
    static S: OnceLock<Vec<u8>> = OnceLock::new();
    assert!(S.get().is_none());
    assert_eq!(S.get_or_init(|| vec![1]), &[1]);
    assert_eq!(S.set(vec![2]), Err(vec![2]));

    let mut cell = OnceLock::new();
    assert_eq!(cell.get_mut(), None);
    assert_eq!(cell.take(), None);
    assert_eq!(cell.set(1), Ok(()));
    *cell.get_mut().unwrap() += 1;
    assert_eq!(cell.get(), Some(&2));
    assert_eq!(cell.take(), Some(2));
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(3), Ok(()));
    assert_eq!(cell.clone().into_inner(), Some(3));
    assert_eq!(format!("{cell:?}"), "OnceLock(3)");
    assert_eq!(format!("{:?}", OnceLock::<u8>::new()), "OnceLock(<uninit>)");
}

#[test]
fn the_value_is_dropped_with_the_cell_and_by_take() {
    let value = Arc::new(());
    let cell = OnceLock::new();
    cell.set(value.clone()).unwrap();
    assert_eq!(Arc::strong_count(&value), 2);
    drop(cell);
    assert_eq!(Arc::strong_count(&value), 1, "the cell leaked its value");
    let mut cell = OnceLock::from(value.clone());
    drop(cell.take());
    drop(cell);
    assert_eq!(Arc::strong_count(&value), 1, "take left a copy behind");
}

#[test]
fn concurrent_callers_park_while_the_first_initialises() {
    const WAITERS: usize = 50;
    let cell = Arc::new(OnceLock::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = goro::chan::<()>(1);
    let (release_tx, release_rx) = goro::chan::<()>(0);
    let first = {
        let (cell, runs) = (cell.clone(), runs.clone());
        goro::go!(move || *cell.get_or_init(|| {
            runs.fetch_add(1, Ordering::SeqCst);
            started_tx.send(()).unwrap();
            let _ = release_rx.recv(); // parks until the test has looked
            7u32
        }))
    };
    started_rx.recv().unwrap();
    let mut waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (cell, runs) = (cell.clone(), runs.clone());
            goro::Builder::new()
                .name("once-waiter".to_string())
                .spawn(move || {
                    *cell.get_or_init(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        8
                    })
                })
                .unwrap()
        })
        .collect();
    let thread = {
        let cell = cell.clone();
        std::thread::spawn(move || *cell.get_or_init(|| 9))
    };
    // Every waiter shows up parked on the cell (goroutines blocked on
    // "once"), not running or runnable (spinning would show those).
    let mut parked = 0;
    for _ in 0..1000 {
        let dump = goro::dump().to_string();
        parked = dump
            .lines()
            .filter(|l| l.contains(r#""once-waiter" [once, "#))
            .count();
        if parked == WAITERS {
            break;
        }
        goro::time::sleep(Duration::from_millis(5));
    }
    assert_eq!(parked, WAITERS, "waiters not parked:\n{}", goro::dump());
    release_tx.send(()).unwrap();
    assert_eq!(first.join().unwrap(), 7);
    for w in waiters.drain(..) {
        assert_eq!(w.join().unwrap(), 7);
    }
    assert_eq!(thread.join().unwrap(), 7);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "initialised more than once");
}

#[test]
fn a_panicking_initialiser_leaves_it_empty_and_the_next_caller_initialises() {
    let cell: Arc<OnceLock<u32>> = Arc::new(OnceLock::new());
    let (started_tx, started_rx) = goro::chan::<()>(1);
    let panicker = {
        let cell = cell.clone();
        goro::go!(move || {
            cell.get_or_init(|| {
                started_tx.send(()).unwrap();
                goro::time::sleep(Duration::from_millis(50));
                panic!("initialiser failed");
            });
        })
    };
    started_rx.recv().unwrap();
    // These wait for the panicking initialiser, then one of them runs its
    // own: every one sees that value.
    let runs = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..8u32)
        .map(|i| {
            let (cell, runs) = (cell.clone(), runs.clone());
            goro::go!(move || *cell.get_or_init(|| {
                runs.fetch_add(1, Ordering::SeqCst);
                100 + i
            }))
        })
        .collect();
    let err = panicker.join().unwrap_err();
    assert!(err.is_panic());
    let values: Vec<u32> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(
        values.iter().all(|&v| v == values[0] && v >= 100),
        "{values:?}"
    );
    assert_eq!(cell.get(), Some(&values[0]));

    // On a plain thread, the same rule.
    let cell = OnceLock::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        cell.get_or_init(|| -> u8 { panic!("no") })
    }));
    assert!(r.is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(1), Ok(()));
}

#[test]
fn set_races_with_get_or_init_and_exactly_one_wins() {
    for _ in 0..200 {
        let cell = Arc::new(OnceLock::new());
        let hs: Vec<_> = (0..4u32)
            .map(|i| {
                let cell = cell.clone();
                goro::go!(move || {
                    if i % 2 == 0 {
                        cell.set(i).is_ok()
                    } else {
                        *cell.get_or_init(|| i) == i
                    }
                })
            })
            .collect();
        let winners = hs.into_iter().map(|h| h.join().unwrap());
        assert_eq!(winners.filter(|&w| w).count(), 1);
    }
}
