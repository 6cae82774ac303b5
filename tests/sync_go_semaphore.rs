//! The tests of `golang.org/x/sync/semaphore` (`semaphore_test.go`, from
//! golang/sync at ec11c4a93de2) ported to `goro::sync::Semaphore`, test by
//! test under Go's names in snake_case. Every body runs twice
//! (`support/mix.rs`): all workers goroutines, then half of them plain
//! threads.
//!
//! goro's `Semaphore` hands out one permit at a time, FIFO, with a guard;
//! Go's `Weighted` acquires `n` at once and cancels through a `Context`.
//! Adaptations:
//! * `Acquire(ctx, 1)` / `Release(1)` are `acquire()` and dropping the
//!   guard, or `acquire().forget()` / `add_permits(1)` where Go acquires on
//!   one goroutine and releases on another; `TryAcquire(1)` is
//!   `try_acquire()`.
//! * `Acquire(ctx, n)` for `n > 1` takes `n` single permits one after the
//!   other (`acquire_n`). Each is served in FIFO order, so the caller is
//!   not starved, but unlike Go's `Weighted` others may be served between
//!   two of its permits; with one such caller at a time two of them cannot
//!   deadlock holding part of what each needs.
//! * A context with a timeout is `acquire_timeout`; a cancelled context is
//!   a deadline that passes. A timed-out multi-permit acquire gives back
//!   the permits it had collected (Go's all-or-nothing).
//! * `test_weighted`: every worker weighs 1 (Go gives worker `i` weight
//!   `i`), there are twice as many workers as permits, each runs 200 loops
//!   (Go: `10000 / GOMAXPROCS`), and the port also checks that no more
//!   workers than permits are ever inside.
//! * `test_weighted_acquire_canceled`: Go requires the acquire to fail when
//!   the context is cancelled before the permit is released. goro checks a
//!   deadline only when the waiter wakes, so a permit handed over after the
//!   deadline but before the waiter's timer fired is a success; the port
//!   accepts either outcome and asserts what the Go issue (63615) was
//!   about: no permit is lost or duplicated. Go's last step (a done context
//!   fails even when a permit is free) is asserted the other way round:
//!   goro's `acquire_timeout(ZERO)` takes a free permit.
//! * `time.Sleep` is `goro::time::sleep`; `rand.Int63n` is a xorshift.
//!
//! * `test_weighted_panic`: Go panics when more is released than was
//!   acquired. goro returns a permit by dropping its guard, so that misuse
//!   cannot be written, and `add_permits` deliberately grows the
//!   semaphore; the port checks the limit goro does have: adding permits
//!   past `Semaphore::MAX_PERMITS` panics (with the message of `new`)
//!   instead of wrapping the count around, which it did until this port.
//!
//! Skipped:
//! * `TestWeightedDoesntBlockIfTooBig`: needs a request larger than the
//!   semaphore (Go fails it without blocking others); a goro request is
//!   one permit, which any semaphore with a permit can grant.

#[path = "support/mix.rs"]
mod mix;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::{Semaphore, SemaphorePermit, WaitGroup};
use mix::each_mix;

const MAX_SLEEP: Duration = Duration::from_millis(1);

fn hammer_weighted(sem: &Semaphore, inside: &AtomicUsize, cap: usize, seed: u64, loops: usize) {
    let mut x = seed | 1;
    for _ in 0..loops {
        let permit = sem.acquire();
        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(n <= cap, "{n} holders of {cap} permits");
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        goro::time::sleep(Duration::from_nanos(x % MAX_SLEEP.as_nanos() as u64));
        inside.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
    }
}

#[test]
fn test_weighted() {
    each_mix(|mix| {
        let n = goro::gomaxprocs(0).max(2);
        let loops = 200;
        let sem = Arc::new(Semaphore::new(n));
        let inside = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        wg.add(2 * n as isize);
        for i in 0..2 * n {
            let (sem, inside, wg) = (sem.clone(), inside.clone(), wg.clone());
            drop(mix.spawn(i, move || {
                hammer_weighted(&sem, &inside, n, i as u64 + 1, loops);
                wg.done();
            }));
        }
        wg.wait();
        assert_eq!(sem.available_permits(), n);
    });
}

#[test]
fn test_weighted_panic() {
    each_mix(|mix| {
        // On the body's goroutine or thread, then on a thread worker.
        let body = || {
            let w = Semaphore::new(Semaphore::MAX_PERMITS);
            let r = catch_unwind(AssertUnwindSafe(|| w.add_permits(1)));
            let err = r.expect_err("adding a permit past MAX_PERMITS did not panic");
            assert_eq!(
                err.downcast_ref::<&str>().copied(),
                Some("sync: too many Semaphore permits")
            );
            assert_eq!(w.available_permits(), Semaphore::MAX_PERMITS);
        };
        body();
        mix.spawn(1, body).join();
    });
}

#[test]
fn test_weighted_try_acquire() {
    each_mix(|mix| {
        // On the body's goroutine or thread, then on a thread worker.
        let body = || {
            let sem = Semaphore::new(2);
            let mut tries = Vec::new();
            let mut held = vec![sem.acquire()];
            let t = sem.try_acquire();
            tries.push(t.is_some());
            held.extend(t);
            let t = sem.try_acquire();
            tries.push(t.is_some());
            held.extend(t);

            held.clear(); // Release(2)

            let t = sem.try_acquire();
            tries.push(t.is_some());
            held.extend(t);
            held.push(sem.acquire());
            let t = sem.try_acquire();
            tries.push(t.is_some());
            held.extend(t);

            assert_eq!(tries, [true, false, true, false]);
        };
        body();
        mix.spawn(1, body).join();
    });
}

#[test]
fn test_weighted_acquire() {
    each_mix(|mix| {
        let body = || {
            let sem = Semaphore::new(2);
            let try_acquire = || sem.acquire_timeout(Duration::from_millis(10));

            let mut tries = Vec::new();
            let mut held = vec![sem.acquire()];
            let t = try_acquire();
            tries.push(t.is_some());
            held.extend(t);
            let t = try_acquire();
            tries.push(t.is_some());
            held.extend(t);

            held.clear(); // Release(2)

            let t = try_acquire();
            tries.push(t.is_some());
            held.extend(t);
            held.push(sem.acquire());
            let t = try_acquire();
            tries.push(t.is_some());
            held.extend(t);

            assert_eq!(tries, [true, false, true, false]);
        };
        body();
        mix.spawn(1, body).join();
    });
}

/// Go's `Acquire(ctx, n)` with a deadline for `ctx`: all `n` permits (to be
/// returned with `add_permits`), or none.
fn acquire_n(sem: &Semaphore, n: usize, deadline: Option<Instant>) -> bool {
    let mut got: Vec<SemaphorePermit<'_>> = Vec::with_capacity(n);
    while got.len() < n {
        let permit = match deadline {
            Some(d) => sem.acquire_deadline(d),
            None => Some(sem.acquire()),
        };
        match permit {
            Some(p) => got.push(p),
            None => return false, // `got` drops: the permits go back
        }
    }
    got.into_iter().for_each(SemaphorePermit::forget);
    true
}

// TestLargeAcquireDoesntStarve times out if a large call to Acquire starves.
// Merely returning from the test function indicates success.
#[test]
fn test_large_acquire_doesnt_starve() {
    each_mix(|mix| {
        let n = goro::gomaxprocs(0).max(2);
        let sem = Arc::new(Semaphore::new(n));
        let running = Arc::new(AtomicBool::new(true));

        let wg = WaitGroup::new();
        wg.add(n as isize);
        for i in 0..n {
            sem.acquire().forget();
            let (sem, running, wg) = (sem.clone(), running.clone(), wg.clone());
            drop(mix.spawn(i, move || {
                while running.load(Ordering::SeqCst) {
                    goro::time::sleep(Duration::from_millis(1));
                    sem.add_permits(1);
                    sem.acquire().forget();
                }
                // Go's deferred Release(1) and wg.Done().
                sem.add_permits(1);
                wg.done();
            }));
        }

        assert!(acquire_n(&sem, n, None));
        running.store(false, Ordering::SeqCst);
        sem.add_permits(n);
        wg.wait();
        assert_eq!(sem.available_permits(), n);
    });
}

// translated from https://github.com/zhiqiangxu/util/blob/master/mutex/crwmutex_test.go#L43
#[test]
fn test_alloc_cancel_doesnt_starve() {
    each_mix(|mix| {
        let sem = Arc::new(Semaphore::new(10));

        // Block off a portion of the semaphore so that Acquire(_, 10) can
        // eventually succeed.
        sem.acquire().forget();

        // In the background, Acquire(_, 10), "cancelled" by a deadline.
        let finished = Arc::new(AtomicBool::new(false));
        let big = mix.spawn(1, {
            let (sem, finished) = (sem.clone(), finished.clone());
            move || {
                let deadline = Instant::now() + Duration::from_millis(50);
                let got = acquire_n(&sem, 10, Some(deadline));
                finished.store(true, Ordering::SeqCst);
                got
            }
        });

        // Wait until the Acquire(_, 10) call blocks (or already gave up).
        while !finished.load(Ordering::SeqCst) {
            match sem.try_acquire() {
                Some(p) => drop(p),
                None => break,
            }
            goro::gosched();
        }

        // Now try to grab a permit while the Acquire(_, 10) call gets
        // cancelled. Both calls should unblock and return, in either order.
        let p = sem.acquire();
        drop(p);
        assert!(!big.join(), "Acquire(_, 10) succeeded with a permit held");
        sem.add_permits(1);
        assert_eq!(sem.available_permits(), 10);
    });
}

#[test]
fn test_weighted_acquire_canceled() {
    // https://go.dev/issue/63615
    each_mix(|mix| {
        let sem = Arc::new(Semaphore::new(2));
        let deadline = Instant::now() + Duration::from_millis(20);
        sem.acquire().forget();
        let (ch, ch_r) = goro::chan::<()>(0);
        drop(mix.spawn(1, {
            let sem = sem.clone();
            move || {
                // Synchronize with the Acquire(2) below (or stop at the
                // deadline, should it have given up before queueing).
                while Instant::now() < deadline {
                    match sem.try_acquire() {
                        Some(p) => drop(p),
                        None => break,
                    }
                }
                // Now let the deadline pass ("cancel"), then release the
                // permit.
                goro::time::sleep(deadline.saturating_duration_since(Instant::now()));
                sem.add_permits(1);
                ch.close();
            }
        }));
        // Go requires this to fail; here a hand-off that beats the waiter's
        // timer succeeds (see the header). Either way it takes all or none.
        let got = acquire_n(&sem, 2, Some(deadline));
        // There must always be two permits in the semaphore after the other
        // worker releases the one we held at the start.
        assert!(ch_r.recv().is_err());
        if got {
            sem.add_permits(2);
        }
        let two = (sem.try_acquire(), sem.try_acquire());
        assert!(
            two.0.is_some() && two.1.is_some(),
            "TryAcquire after canceled Acquire failed"
        );
        assert!(sem.try_acquire().is_none(), "a third permit appeared");
        drop(two);
        // goro takes a free permit even once the deadline has passed.
        assert!(sem.acquire_timeout(Duration::ZERO).is_some());
    });
}
