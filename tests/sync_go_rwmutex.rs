//! Go's `src/sync/rwmutex_test.go` ported to `goro::sync::RwLock`, test by
//! test under Go's names in snake_case. Every body runs twice
//! (`support/mix.rs`): all workers goroutines, then half of them plain
//! threads.
//!
//! Adaptations:
//! * `RLock`/`RUnlock` are `read()` and dropping its guard, `Lock`/`Unlock`
//!   are `write()` and dropping its guard; `TryRLock`/`TryLock` are
//!   `try_read()`/`try_write()`.
//! * `chan bool` is `goro::chan`; `select { ... default: }` is `try_recv`.
//! * `runtime.GOMAXPROCS(n)` is `goro::gomaxprocs(n)`, restored at the end;
//!   the tests that change it take a lock so that two of them running in
//!   parallel cannot restore each other's value.
//! * `test_rlocker`: goro has no `Locker` interface, so no `RLocker()`. The
//!   goroutine read-locks twice and then write-locks through the `RwLock`
//!   itself, and hands each guard to the test over the channel it signals
//!   on (guards are `Send`); the test "unlocks" by dropping them, in Go's
//!   order.
//!
//! Skipped: the `Benchmark*` functions (benchmarks, not tests). The
//! `RWMutex` misuse cases live in `mutex_test.go`'s table; see
//! `sync_go_mutex.rs`.

#[path = "support/mix.rs"]
mod mix;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use goro::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use mix::{each_mix, Mix};

/// Serialises the tests that change `gomaxprocs`.
static GOMAXPROCS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn parallel_reader(
    m: &RwLock<()>,
    clocked: goro::Sender<bool>,
    cunlock: goro::Receiver<bool>,
    cdone: goro::Sender<bool>,
) {
    let g = m.read();
    clocked.send(true).unwrap();
    cunlock.recv().unwrap();
    drop(g);
    cdone.send(true).unwrap();
}

fn do_test_parallel_readers(mix: Mix, num_readers: usize, gomaxprocs: usize) {
    goro::gomaxprocs(gomaxprocs);
    let m = Arc::new(RwLock::new(()));
    let (clocked, clocked_r) = goro::chan(0);
    let (cunlock, cunlock_r) = goro::chan(0);
    let (cdone, cdone_r) = goro::chan(0);
    for i in 0..num_readers {
        let (m, clocked, cunlock_r, cdone) =
            (m.clone(), clocked.clone(), cunlock_r.clone(), cdone.clone());
        drop(mix.spawn(i, move || parallel_reader(&m, clocked, cunlock_r, cdone)));
    }
    // Wait for all parallel RLock()s to succeed.
    for _ in 0..num_readers {
        clocked_r.recv().unwrap();
    }
    for _ in 0..num_readers {
        cunlock.send(true).unwrap();
    }
    // Wait for the goroutines to finish.
    for _ in 0..num_readers {
        cdone_r.recv().unwrap();
    }
}

#[test]
fn test_parallel_readers() {
    let _serial = GOMAXPROCS.lock().unwrap_or_else(|e| e.into_inner());
    let procs = goro::gomaxprocs(0);
    each_mix(|mix| {
        do_test_parallel_readers(mix, 1, 4);
        do_test_parallel_readers(mix, 3, 4);
        do_test_parallel_readers(mix, 4, 2);
    });
    goro::gomaxprocs(procs);
}

fn reader(
    rwm: &RwLock<()>,
    num_iterations: usize,
    activity: &AtomicI32,
    cdone: goro::Sender<bool>,
) {
    for _ in 0..num_iterations {
        let g = rwm.read();
        let n = activity.fetch_add(1, Ordering::SeqCst) + 1;
        if !(1..10000).contains(&n) {
            drop(g);
            panic!("wlock({n})");
        }
        for i in 0..100 {
            std::hint::black_box(i);
        }
        activity.fetch_add(-1, Ordering::SeqCst);
        drop(g);
    }
    cdone.send(true).unwrap();
}

fn writer(
    rwm: &RwLock<()>,
    num_iterations: usize,
    activity: &AtomicI32,
    cdone: goro::Sender<bool>,
) {
    for _ in 0..num_iterations {
        let g = rwm.write();
        let n = activity.fetch_add(10000, Ordering::SeqCst) + 10000;
        if n != 10000 {
            drop(g);
            panic!("wlock({n})");
        }
        for i in 0..100 {
            std::hint::black_box(i);
        }
        activity.fetch_add(-10000, Ordering::SeqCst);
        drop(g);
    }
    cdone.send(true).unwrap();
}

fn hammer_rwmutex(mix: Mix, gomaxprocs: usize, num_readers: usize, num_iterations: usize) {
    goro::gomaxprocs(gomaxprocs);
    // Number of active readers + 10000 * number of active writers.
    let activity = Arc::new(AtomicI32::new(0));
    let rwm = Arc::new(RwLock::new(()));
    let (cdone, cdone_r) = goro::chan(0);
    let mut worker = 0;
    let mut start = |is_writer: bool| {
        let (rwm, activity, cdone) = (rwm.clone(), activity.clone(), cdone.clone());
        drop(mix.spawn(worker, move || {
            if is_writer {
                writer(&rwm, num_iterations, &activity, cdone)
            } else {
                reader(&rwm, num_iterations, &activity, cdone)
            }
        }));
        worker += 1;
    };
    start(true);
    let mut i = 0;
    while i < num_readers / 2 {
        start(false);
        i += 1;
    }
    start(true);
    while i < num_readers {
        start(false);
        i += 1;
    }
    // Wait for the 2 writers and all readers to finish.
    for _ in 0..2 + num_readers {
        cdone_r.recv().unwrap();
    }
}

#[test]
fn test_rwmutex() {
    let _serial = GOMAXPROCS.lock().unwrap_or_else(|e| e.into_inner());
    let procs = goro::gomaxprocs(0);
    each_mix(|mix| {
        let m = RwLock::new(());

        let w = m.write();
        assert!(
            m.try_write().is_none(),
            "TryLock succeeded with mutex locked"
        );
        assert!(
            m.try_read().is_none(),
            "TryRLock succeeded with mutex locked"
        );
        drop(w);

        let w = m.try_write();
        assert!(w.is_some(), "TryLock failed with mutex unlocked");
        drop(w);

        let r1 = m.try_read();
        assert!(r1.is_some(), "TryRLock failed with mutex unlocked");
        let r2 = m.try_read();
        assert!(r2.is_some(), "TryRLock failed with mutex rlocked");
        assert!(
            m.try_write().is_none(),
            "TryLock succeeded with mutex rlocked"
        );
        drop(r1);
        drop(r2);

        let n = 1000;
        hammer_rwmutex(mix, 1, 1, n);
        hammer_rwmutex(mix, 1, 3, n);
        hammer_rwmutex(mix, 1, 10, n);
        hammer_rwmutex(mix, 4, 1, n);
        hammer_rwmutex(mix, 4, 3, n);
        hammer_rwmutex(mix, 4, 10, n);
        hammer_rwmutex(mix, 10, 1, n);
        hammer_rwmutex(mix, 10, 3, n);
        hammer_rwmutex(mix, 10, 10, n);
        hammer_rwmutex(mix, 10, 5, n);
    });
    goro::gomaxprocs(procs);
}

#[test]
fn test_rlocker() {
    each_mix(|mix| {
        let wl: &'static RwLock<()> = Box::leak(Box::new(RwLock::new(())));
        type Read = RwLockReadGuard<'static, ()>;
        let (wlocked, wlocked_r) = goro::chan::<RwLockWriteGuard<'static, ()>>(1);
        let (rlocked, rlocked_r) = goro::chan::<(Read, Read)>(1);
        let n = 10;
        // The locking side is worker 1: a thread in the mixed run.
        drop(mix.spawn(1, move || {
            for _ in 0..n {
                let a = wl.read();
                let b = wl.read();
                rlocked.send((a, b)).unwrap();
                wlocked.send(wl.write()).unwrap();
            }
        }));
        for _ in 0..n {
            let (a, b) = rlocked_r.recv().unwrap();
            drop(a);
            assert!(
                wlocked_r.try_recv().is_err(),
                "RLocker() didn't read-lock it"
            );
            drop(b);
            let w = wlocked_r.recv().unwrap();
            assert!(
                rlocked_r.try_recv().is_err(),
                "RLocker() didn't respect the write lock"
            );
            drop(w);
        }
    });
}
