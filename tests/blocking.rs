//! `goro::blocking`: results, panics, borrowing, pool growth, and workers
//! that keep running goroutines while jobs block.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn returns_the_result_to_the_goroutine() {
    let h = goro::go!(|| goro::blocking(|| 6 * 7));
    assert_eq!(h.join().unwrap(), 42);
}

#[test]
fn runs_inline_on_a_plain_thread() {
    let me = std::thread::current().id();
    assert_eq!(goro::blocking(|| std::thread::current().id()), me);
}

#[test]
fn runs_off_the_worker_thread() {
    let h = goro::go!(|| {
        let worker = std::thread::current().id();
        let pool = goro::blocking(|| std::thread::current().id());
        assert_ne!(worker, pool);
        std::thread::current().name().map(str::to_owned)
    });
    h.join().unwrap();
}

#[test]
fn borrows_from_the_goroutine_stack() {
    let h = goro::go!(|| {
        let data = [1u64, 2, 3, 4];
        let mut out = String::new();
        let sum: u64 = goro::blocking(|| {
            out.push_str("summed");
            data.iter().sum()
        });
        (sum, out)
    });
    assert_eq!(h.join().unwrap(), (10, "summed".to_string()));
}

#[test]
fn panic_in_the_job_resumes_in_the_caller() {
    let h = goro::go!(|| {
        let r = std::panic::catch_unwind(|| goro::blocking(|| panic!("boom in the pool")));
        let payload = r.unwrap_err();
        payload.downcast_ref::<&str>().map(|s| s.to_string())
    });
    assert_eq!(h.join().unwrap().as_deref(), Some("boom in the pool"));
}

#[test]
fn uncaught_panic_fails_the_join() {
    let h = goro::go!(|| goro::blocking(|| -> u32 { panic!("job failed") }));
    assert!(h.join().is_err());
}

#[test]
fn pool_grows_for_concurrent_jobs() {
    // 50 jobs sleeping 200 ms each: one thread would take 10 s.
    let start = Instant::now();
    let hs: Vec<_> = (0..50)
        .map(|i| {
            goro::go!(move || goro::blocking(move || {
                std::thread::sleep(Duration::from_millis(200));
                i
            }))
        })
        .collect();
    let total: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, (0..50).sum());
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn workers_keep_running_goroutines_while_jobs_block() {
    // One worker: if blocking() stalled it, the counter could not move.
    let prev = goro::gomaxprocs(1);
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let ticker = goro::go!(move || {
        for _ in 0..20 {
            goro::time::sleep(Duration::from_millis(5));
            t.fetch_add(1, Ordering::SeqCst);
        }
    });
    let job = goro::go!(|| goro::blocking(|| std::thread::sleep(Duration::from_millis(300))));
    job.join().unwrap();
    ticker.join().unwrap();
    assert_eq!(ticks.load(Ordering::SeqCst), 20);
    goro::gomaxprocs(prev);
}

#[test]
fn main_waiting_on_a_long_job_is_not_a_deadlock() {
    // Everything is parked for longer than the 100 ms deadlock confirmation
    // while the job runs; the report must not fire.
    let v = goro::run(|| {
        goro::blocking(|| {
            std::thread::sleep(Duration::from_millis(400));
            "done"
        })
    });
    assert_eq!(v, "done");
}

/// Regression: a job's wake-up arrives after its goroutine has already
/// seen `done` and moved on to its next blocking call, so the next job's
/// wake-up can find the goroutine runnable (woken by the stale one). That
/// wake was a plain load that ordered nothing: the goroutine could read
/// its new `done` flag unset, park, and never be woken (the runtime then
/// reported a deadlock and exited, failing this test; 4 to 6 runs in 6
/// hung before the fix, see `tests/loom_park.rs`).
#[test]
fn back_to_back_blocking_calls_never_lose_a_wake_up() {
    for _ in 0..3 {
        for n in [1usize, 2, 4, 8, 16] {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    goro::go!(|| for _ in 0..2000 {
                        goro::blocking(|| ())
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
        }
    }
}
