//! Regression: a worker that retires while it spins for work must look
//! for that work again (Go's resetspinning). A goroutine spawned or woken
//! from a plain thread just as `gomaxprocs` shrank saw the spinner, woke
//! nobody, and waited forever beside an idle worker once the spinner
//! retired (found by the contention bench: 1 to 2 runs in 4 stalled
//! within 300 rounds).
//!
//! Regression: a worker retired while it computes is paused by sysmon at
//! once and detached; its local queue must go to the global queue then,
//! since a paused thread never gets back to its run loop to empty it. The
//! goroutines in it waited for as long as the paused one computed: a hog
//! "never ran" on `gomaxprocs(1)` in 1 run of `tests/preempt.rs` in 32.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The tests change `gomaxprocs`, which is process-wide.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn work_queued_while_spinners_retire_is_run() {
    let _serial = serial();
    for round in 0..300 {
        goro::gomaxprocs(16);
        let burst: Vec<_> = (0..16)
            .map(|_| goro::go!(|| goro::spawn(|| ()).join().unwrap()))
            .collect();
        for h in burst {
            h.join().unwrap();
        }
        goro::gomaxprocs(1);
        // A goroutine spawned from this plain thread, woken by another.
        let (to_g, from_t) = goro::chan::<u8>(0);
        let (to_t, from_g) = goro::chan::<u8>(0);
        let partner = goro::go!(move || {
            for v in &from_t {
                if to_t.send(v).is_err() {
                    break;
                }
            }
        });
        let thread = std::thread::spawn(move || {
            to_g.send(1).unwrap();
            from_g.recv().unwrap();
        });
        let start = Instant::now();
        while !thread.is_finished() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "round {round}: queued work not run for 10 s\n{}",
                goro::dump()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        thread.join().unwrap();
        partner.join().unwrap();
    }
}

#[test]
fn a_worker_retired_while_it_computes_leaves_its_queue_behind() {
    let _serial = serial();
    for round in 0..20 {
        goro::gomaxprocs(2);
        goro::run(move || {
            let stop = Arc::new(AtomicBool::new(false));
            // Eight hogs on two workers: each worker computes in one and
            // holds some of the others in its local queue.
            let hogs: Vec<_> = (0..8)
                .map(|_| {
                    let stop = stop.clone();
                    let rounds = Arc::new(AtomicU64::new(0));
                    let counted = rounds.clone();
                    let h = goro::go!(move || {
                        while !stop.load(Ordering::Relaxed) {
                            std::hint::black_box((0..1000u64).sum::<u64>());
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                    (h, rounds)
                })
                .collect();
            goro::time::sleep(Duration::from_millis(5));
            // A busy worker retires, and is paused in its hog at once.
            goro::gomaxprocs(1);
            let start = Instant::now();
            while hogs.iter().any(|(_, r)| r.load(Ordering::Relaxed) == 0) {
                let ran: Vec<u64> = hogs
                    .iter()
                    .map(|(_, r)| r.load(Ordering::Relaxed))
                    .collect();
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "round {round}: a hog never ran in 5 s: {ran:?}\n{}",
                    goro::dump()
                );
                goro::time::sleep(Duration::from_millis(10));
            }
            stop.store(true, Ordering::Relaxed);
            for (h, _) in hogs {
                h.join().unwrap();
            }
        });
    }
    goro::gomaxprocs(2);
}
