//! Go's `src/sync/mutex_test.go` ported to `goro::sync::Mutex` (from
//! golang/go at 250fccbface5), test by test under Go's names in snake_case.
//! Every body runs twice (`support/mix.rs`): all workers goroutines, then
//! half of them plain threads.
//!
//! Adaptations:
//! * `m.Lock()` / `m.Unlock()` are `m.lock()` and dropping its guard;
//!   `m.TryLock()` is `m.try_lock()` (a guard or `None`).
//! * `chan bool` / `time.After` are `goro::chan` and `recv_timeout`;
//!   `select { case <-stop: ... default: }` is `try_recv`; `time.Sleep` is
//!   `goro::time::sleep` (parks a goroutine, sleeps a thread).
//! * `test_semaphore`: Go's `Runtime_Semacquire`/`Runtime_Semrelease` are
//!   the runtime's internal semaphore; the nearest public goro primitive is
//!   `Semaphore::new(1)`, hammered the same way (acquire, release).
//! * `test_mutex`: `runtime.SetMutexProfileFraction` has no goro
//!   equivalent (goro has no mutex profile) and is dropped.
//! * `test_mutex_fairness` runs twice in the mixed mode, so that the
//!   goroutine that hogs the lock and the one that must still get it are
//!   each once a thread.
//!
//! Skipped:
//! * `TestMutexMisuse` (and its table's `RWMutex` cases): unlocking a
//!   mutex that is not locked, or read-unlocking a write lock, is a fatal
//!   error in Go. goro unlocks by dropping a guard, so the misuse cannot be
//!   written: the compiler rejects it.
//! * The `Benchmark*` functions: benchmarks, not tests.

#[path = "support/mix.rs"]
mod mix;

use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Mutex, Semaphore};
use mix::{each_mix, Mix};

fn hammer_semaphore(s: &Semaphore, loops: usize, cdone: goro::Sender<bool>) {
    for _ in 0..loops {
        drop(s.acquire());
    }
    cdone.send(true).unwrap();
}

#[test]
fn test_semaphore() {
    each_mix(|mix| {
        let s = Arc::new(Semaphore::new(1));
        let (c, cr) = goro::chan(0);
        for i in 0..10 {
            let (s, c) = (s.clone(), c.clone());
            drop(mix.spawn(i, move || hammer_semaphore(&s, 1000, c)));
        }
        for _ in 0..10 {
            cr.recv().unwrap();
        }
        assert_eq!(s.available_permits(), 1);
    });
}

fn hammer_mutex(m: &Mutex<()>, loops: usize, cdone: goro::Sender<bool>) {
    for i in 0..loops {
        if i % 3 == 0 {
            drop(m.try_lock());
            continue;
        }
        drop(m.lock());
    }
    cdone.send(true).unwrap();
}

#[test]
fn test_mutex() {
    each_mix(|mix| {
        let m = Arc::new(Mutex::new(()));

        let g = m.lock();
        assert!(
            m.try_lock().is_none(),
            "TryLock succeeded with mutex locked"
        );
        drop(g);
        let g = m.try_lock();
        assert!(g.is_some(), "TryLock failed with mutex unlocked");
        drop(g);

        let (c, cr) = goro::chan(0);
        for i in 0..10 {
            let (m, c) = (m.clone(), c.clone());
            drop(mix.spawn(i, move || hammer_mutex(&m, 1000, c)));
        }
        for _ in 0..10 {
            cr.recv().unwrap();
        }
    });
}

#[test]
fn test_mutex_fairness() {
    each_mix(|mix| {
        let orders: &[(usize, usize)] = match mix {
            Mix::Goroutines => &[(0, 1)],
            Mix::HalfThreads => &[(0, 1), (1, 0)],
        };
        for &(hog, polite) in orders {
            let mu = Arc::new(Mutex::new(()));
            let (stop, stop_r) = goro::chan::<bool>(0);
            let hogging = mix.spawn(hog, {
                let mu = mu.clone();
                move || loop {
                    let g = mu.lock();
                    goro::time::sleep(Duration::from_micros(100));
                    drop(g);
                    if let Err(goro::TryRecvError::Disconnected) = stop_r.try_recv() {
                        return;
                    }
                }
            });
            let (done, done_r) = goro::chan(1);
            drop(mix.spawn(polite, move || {
                for _ in 0..10 {
                    goro::time::sleep(Duration::from_micros(100));
                    drop(mu.lock());
                }
                done.send(true).unwrap();
            }));
            if done_r.recv_timeout(Duration::from_secs(10)).is_err() {
                panic!("can't acquire Mutex in 10 seconds");
            }
            // Go's `defer close(stop)`.
            stop.close();
            hogging.join();
        }
    });
}
