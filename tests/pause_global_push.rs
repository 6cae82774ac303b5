//! Regression test: a goroutine paused by sysmon in the middle of a push
//! onto the global queue must not hang the runtime.
//!
//! Closing a channel that 200,000 goroutines wait on wakes them all in one
//! turn, too long for a time slice: sysmon pauses the closer, and once its
//! worker was handed off the remaining wake-ups go to the global queue. A
//! push there reserves a slot before it fills it, and every worker that
//! reaches the slot spins until it is filled; with the closer paused in
//! between, every worker spun and none was left to resume it. Before the
//! fix this test hung 3 runs of 3 (and `scale_spawn idle-mem 300000` on one
//! worker hung 2 runs of 2); with it, 3 of 3 passed in 3 to 6 s.

use std::time::Duration;

const PARKED: usize = 200_000;
const ROUNDS: usize = 3;
/// Far beyond what a round needs (about 1 s on a loaded 2-core machine).
const HANG: Duration = Duration::from_secs(120);

#[test]
fn closing_a_channel_with_many_waiters_never_hangs() {
    std::thread::spawn(move || {
        std::thread::sleep(HANG);
        eprintln!("closing a channel of {PARKED} waiters hung for {HANG:?}");
        std::process::exit(101);
    });
    goro::gomaxprocs(1);
    goro::run(|| {
        for _ in 0..ROUNDS {
            let (release, waiting_on) = goro::chan::<()>(0);
            let parked = goro::sync::WaitGroup::new();
            let done = goro::sync::WaitGroup::new();
            parked.add(PARKED as isize);
            done.add(PARKED as isize);
            for _ in 0..PARKED {
                let (parked, done, rx) = (parked.clone(), done.clone(), waiting_on.clone());
                drop(goro::go!(move || {
                    parked.done();
                    assert!(rx.recv().is_err(), "nothing is ever sent");
                    done.done();
                }));
            }
            parked.wait();
            release.close();
            done.wait();
        }
    });
}
