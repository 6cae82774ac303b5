//! Go's `src/sync/cond_test.go` ported to `goro::sync::Condvar` with
//! `goro::sync::Mutex`, test by test under Go's names in snake_case. Every
//! body runs twice (`support/mix.rs`): all workers goroutines, then half of
//! them plain threads.
//!
//! Adaptations:
//! * `NewCond(&m)` is a `Condvar` beside a `Mutex`; `c.L.Lock()` is
//!   `m.lock()`, `c.Wait()` is `c.wait(&mut guard)` (std's shape: the
//!   guard is released while waiting), `Signal`/`Broadcast` are
//!   `notify_one`/`notify_all`.
//! * State Go's closures share under `c.L` (`x`, `exit`, `done`) is the
//!   `Mutex`'s data.
//! * `chan` / `time.After` are `goro::chan` / `recv_timeout`; `select {
//!   ... default: }` is `try_recv`; `runtime.Gosched` is `goro::gosched`
//!   (a thread yields).
//!
//! Skipped:
//! * `TestCondCopy`: Go panics when a `Cond` in use is copied. A goro
//!   `Condvar` is not `Clone`, and moving one that is borrowed by a waiter
//!   does not compile.
//! * The `Benchmark*` functions: benchmarks, not tests.

#[path = "support/mix.rs"]
mod mix;

use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Condvar, Mutex};
use mix::each_mix;

#[test]
fn test_cond_signal() {
    each_mix(|mix| {
        let c = Arc::new((Mutex::new(()), Condvar::new()));
        let mut n = 2;
        let (running, running_r) = goro::chan(n);
        let (awake, awake_r) = goro::chan(n);
        for i in 0..n {
            let (c, running, awake) = (c.clone(), running.clone(), awake.clone());
            drop(mix.spawn(i, move || {
                let mut g = c.0.lock();
                running.send(true).unwrap();
                c.1.wait(&mut g);
                awake.send(true).unwrap();
                drop(g);
            }));
        }
        for _ in 0..n {
            running_r.recv().unwrap(); // Wait for everyone to run.
        }
        while n > 0 {
            assert!(awake_r.try_recv().is_err(), "goroutine not asleep");
            let g = c.0.lock();
            c.1.notify_one();
            drop(g);
            awake_r.recv().unwrap(); // Will deadlock if no goroutine wakes up
            assert!(awake_r.try_recv().is_err(), "too many goroutines awake");
            n -= 1;
        }
        c.1.notify_one();
    });
}

#[test]
fn test_cond_signal_generations() {
    each_mix(|mix| {
        let c = Arc::new((Mutex::new(()), Condvar::new()));
        let n = 100;
        let (running, running_r) = goro::chan(n);
        let (awake, awake_r) = goro::chan(n);
        for i in 0..n {
            let (c2, running, awake) = (c.clone(), running.clone(), awake.clone());
            drop(mix.spawn(i, move || {
                let mut g = c2.0.lock();
                running.send(true).unwrap();
                c2.1.wait(&mut g);
                awake.send(i).unwrap();
                drop(g);
            }));
            if i > 0 {
                let a = awake_r.recv().unwrap();
                assert_eq!(a, i - 1, "wrong goroutine woke up: want {}, got {a}", i - 1);
            }
            running_r.recv().unwrap();
            let g = c.0.lock();
            c.1.notify_one();
            drop(g);
        }
    });
}

#[test]
fn test_cond_broadcast() {
    each_mix(|mix| {
        // The flag is Go's `exit`.
        let c = Arc::new((Mutex::new(false), Condvar::new()));
        let n = 200;
        let (running, running_r) = goro::chan(n);
        let (awake, awake_r) = goro::chan(n);
        for g in 0..n {
            let (c, running, awake) = (c.clone(), running.clone(), awake.clone());
            drop(mix.spawn(g, move || {
                let mut exit = c.0.lock();
                while !*exit {
                    running.send(g).unwrap();
                    c.1.wait(&mut exit);
                    awake.send(g).unwrap();
                }
                drop(exit);
            }));
        }
        for i in 0..n {
            for _ in 0..n {
                running_r.recv().unwrap(); // Will deadlock unless n are running.
            }
            if i == n - 1 {
                *c.0.lock() = true;
            }
            assert!(awake_r.try_recv().is_err(), "goroutine not asleep");
            let g = c.0.lock();
            c.1.notify_all();
            drop(g);
            let mut seen = vec![false; n];
            for _ in 0..n {
                let g = awake_r.recv().unwrap();
                assert!(!seen[g], "goroutine woke up twice");
                seen[g] = true;
            }
        }
        assert!(running_r.try_recv().is_err(), "goroutine did not exit");
        c.1.notify_all();
    });
}

#[test]
fn test_race() {
    each_mix(|mix| {
        // The data is Go's `x`.
        let c = Arc::new((Mutex::new(0), Condvar::new()));
        let (done, done_r) = goro::chan(0);
        drop(mix.spawn(0, {
            let (c, done) = (c.clone(), done.clone());
            move || {
                let mut x = c.0.lock();
                *x = 1;
                c.1.wait(&mut x);
                assert_eq!(*x, 2, "want 2");
                *x = 3;
                c.1.notify_one();
                drop(x);
                done.send(true).unwrap();
            }
        }));
        drop(mix.spawn(1, {
            let (c, done) = (c.clone(), done.clone());
            move || {
                let mut x = c.0.lock();
                loop {
                    if *x == 1 {
                        *x = 2;
                        c.1.notify_one();
                        break;
                    }
                    drop(x);
                    goro::gosched();
                    x = c.0.lock();
                }
                drop(x);
                done.send(true).unwrap();
            }
        }));
        drop(mix.spawn(2, move || {
            let mut x = c.0.lock();
            loop {
                if *x == 2 {
                    c.1.wait(&mut x);
                    assert_eq!(*x, 3, "want 3");
                    break;
                }
                if *x == 3 {
                    break;
                }
                drop(x);
                goro::gosched();
                x = c.0.lock();
            }
            drop(x);
            done.send(true).unwrap();
        }));
        for _ in 0..3 {
            done_r.recv().unwrap();
        }
    });
}

#[test]
fn test_cond_signal_stealing() {
    each_mix(|mix| {
        for iters in 0..1000 {
            // The flag is Go's `done`.
            let cond = Arc::new((Mutex::new(false), Condvar::new()));
            // Which of the three workers are threads changes every round.
            let first = iters % 3;

            // Start a waiter.
            let (ch, ch_r) = goro::chan(0);
            drop(mix.spawn(first, {
                let cond = cond.clone();
                move || {
                    let mut g = cond.0.lock();
                    ch.send(()).unwrap();
                    cond.1.wait(&mut g);
                    drop(g);

                    ch.send(()).unwrap();
                }
            }));

            ch_r.recv().unwrap();
            drop(cond.0.lock());

            // We know that the waiter is in the cond.wait() call because we
            // synchronized with it, then acquired/released the mutex it was
            // holding when we synchronized.
            //
            // Start two workers that will race: one will broadcast on the
            // cond var, the other will wait on it.
            //
            // The new waiter may or may not get notified, but the first one
            // has to be notified.
            drop(mix.spawn(first + 1, {
                let cond = cond.clone();
                move || {
                    cond.1.notify_all();
                }
            }));

            drop(mix.spawn(first + 2, {
                let cond = cond.clone();
                move || {
                    let mut done = cond.0.lock();
                    while !*done {
                        cond.1.wait(&mut done);
                    }
                    drop(done);
                }
            }));

            // Check that the first waiter does get signaled.
            if ch_r.recv_timeout(Duration::from_secs(2)).is_err() {
                panic!("First waiter didn't get broadcast.");
            }

            // Release the second waiter in case it didn't get the
            // broadcast.
            *cond.0.lock() = true;
            cond.1.notify_all();
        }
    });
}
