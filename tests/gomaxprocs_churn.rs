//! Regression: lowering and raising gomaxprocs in a tight loop, while
//! workers are busy, must never leave the runtime without a running worker
//! (a worker re-activated while it was retiring used to park as a spare
//! anyway, and the active count drifted until nobody ran goroutines).

use std::sync::mpsc;
use std::time::{Duration, Instant};

fn spawn_and_join_within(limit: Duration) -> bool {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(goro::go!(|| 7).join().unwrap());
    });
    rx.recv_timeout(limit) == Ok(7)
}

#[test]
fn gomaxprocs_churn_keeps_a_worker_running() {
    goro::gomaxprocs(2);
    for _ in 0..4 {
        goro::go!(|| loop {
            for _ in 0..200 {
                std::hint::spin_loop();
            }
            goro::gosched();
        });
    }
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(4) {
        for i in 0..2000u32 {
            goro::gomaxprocs(1);
            for _ in 0..(i % 64) * 50 {
                std::hint::spin_loop();
            }
            goro::gomaxprocs(2);
            for _ in 0..(i % 37) * 50 {
                std::hint::spin_loop();
            }
        }
        round += 1;
        goro::gomaxprocs(1);
        assert!(
            spawn_and_join_within(Duration::from_secs(3)),
            "round {round}: no worker ran a new goroutine after gomaxprocs churn"
        );
        goro::gomaxprocs(2);
    }
}
