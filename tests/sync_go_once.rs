//! Go's `src/sync/once_test.go` ported to `goro::sync::Once`, test by test
//! under Go's names in snake_case. Every body runs twice
//! (`support/mix.rs`): all workers goroutines, then half of them plain
//! threads.
//!
//! Adaptations:
//! * `once.Do(f)` is `once.call_once(f)`.
//! * Go's `one` (a plain int the closure increments, read by every caller
//!   after `Do`) is an `AtomicU32` used with Relaxed loads and stores only:
//!   seeing 1 after `call_once` returns still relies on the `Once` for the
//!   happens-before, as in Go.
//! * `test_once_panic`: Go's `recover()` is `catch_unwind`. goro's `Once`
//!   follows Go's rule (a panicking closure counts as done), so the port
//!   asserts what Go asserts.
//!
//! Skipped: `BenchmarkOnce` (a benchmark, not a test).

#[path = "support/mix.rs"]
mod mix;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use goro::sync::Once;
use mix::each_mix;

fn run(once: &Once, o: &AtomicU32, c: goro::Sender<bool>) {
    once.call_once(|| {
        let v = o.load(Ordering::Relaxed);
        o.store(v + 1, Ordering::Relaxed);
    });
    let v = o.load(Ordering::Relaxed);
    assert_eq!(v, 1, "once failed inside run: {v} is not 1");
    c.send(true).unwrap();
}

#[test]
fn test_once() {
    each_mix(|mix| {
        let o = Arc::new(AtomicU32::new(0));
        let once = Arc::new(Once::new());
        let (c, cr) = goro::chan(0);
        const N: usize = 10;
        for i in 0..N {
            let (once, o, c) = (once.clone(), o.clone(), c.clone());
            drop(mix.spawn(i, move || run(&once, &o, c)));
        }
        for _ in 0..N {
            cr.recv().unwrap();
        }
        let v = o.load(Ordering::Relaxed);
        assert_eq!(v, 1, "once failed outside run: {v} is not 1");
    });
}

#[test]
fn test_once_panic() {
    each_mix(|mix| {
        // On the body's goroutine or thread, then on a thread worker.
        let body = || {
            let once = Once::new();
            for i in 0..2 {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    once.call_once(|| panic!("failed"));
                }));
                assert!(
                    !(r.is_ok() && i == 0),
                    "Once.Do() has not panic'ed on first iteration"
                );
                assert!(
                    !(r.is_err() && i == 1),
                    "Once.Do() has panic'ed on second iteration"
                );
            }
            once.call_once(|| {});
            once.call_once(|| panic!("Once called twice"));
        };
        body();
        mix.spawn(1, body).join();
    });
}
