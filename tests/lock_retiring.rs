//! Regression: a goroutine that calls `lock_os_thread` on a worker that
//! `gomaxprocs` has asked to retire (but that has not retired yet: it was
//! busy) must not take that worker's role with it.
//!
//! The lock kept the worker RETIRING; a later `gomaxprocs` raise then
//! "took the retirement back" and counted the locked thread as an active
//! worker again. That thread only ever runs its locked goroutine, so one
//! worker of `gomaxprocs` was gone, and a goroutine the locked one spawned
//! went to its `runnext`, which nobody runs or steals (the thread is not
//! `busy` between turns): the spawner's join hung forever (found by
//! `tests/stress_sched.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

#[test]
fn a_goroutine_locking_a_retiring_worker_does_not_strand_its_spawns() {
    goro::gomaxprocs(2);
    for round in 0..5 {
        let go = Arc::new(AtomicBool::new(false));
        // Two spinners keep both workers busy, so lowering gomaxprocs
        // retires a busy worker: it stays RETIRING until it switches.
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let go = Arc::clone(&go);
                goro::spawn(move || {
                    let start = Instant::now();
                    while !go.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(1) {
                        std::hint::spin_loop();
                    }
                    goro::lock_os_thread();
                    // Still locked when gomaxprocs goes back up.
                    goro::time::sleep(Duration::from_millis(30));
                    let v = goro::spawn(|| 7).join().unwrap();
                    goro::unlock_os_thread();
                    v
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        goro::gomaxprocs(1);
        go.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10));
        goro::gomaxprocs(2);

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let sum: i32 = spinners.into_iter().map(|h| h.join().unwrap()).sum();
            let _ = tx.send(sum);
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Ok(14),
            "round {round}: a goroutine spawned by a locked one never ran\n{}",
            goro::dump()
        );
    }
}
