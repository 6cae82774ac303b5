//! Regression: a worker that retires while it spins for work must look
//! for that work again (Go's resetspinning). A goroutine spawned or woken
//! from a plain thread just as `gomaxprocs` shrank saw the spinner, woke
//! nobody, and waited forever beside an idle worker once the spinner
//! retired (found by the contention bench: 1 to 2 runs in 4 stalled
//! within 300 rounds).

use std::time::{Duration, Instant};

#[test]
fn work_queued_while_spinners_retire_is_run() {
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
