//! Regression: sysmon must never pause a hog inside libc's `malloc`.
//!
//! A thread paused there holds its malloc arena's lock. Other threads
//! share arenas; a worker that then allocated while holding the
//! scheduler's `sched` lock (a `Vec` push when it goes idle, a new worker
//! thread in `activate_one`, which sysmon's hand-off also calls) blocked
//! on that arena with `sched` held, and so did sysmon and every worker that
//! could have lent the paused thread a token: the whole runtime hung
//! (found by `tests/stress_sched.rs`: a goroutine paused while its panic
//! report symbolised a backtrace). With one arena for the process
//! (`M_ARENA_MAX=1`) every thread shares the lock, and goroutines that do
//! little but allocate are paused in `malloc` almost every time.
//!
//! On a hang this test cannot even format a message (that allocates), so
//! its watchdog writes a fixed one with `write(2)` and `_exit`s.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn hogs_that_allocate_never_hang_the_runtime() {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    // SAFETY: mallopt before any thread of ours allocates concurrently; it
    // only changes glibc's arena limit.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    goro::gomaxprocs(2);

    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if done_rx.recv_timeout(Duration::from_secs(15)).is_err() {
            let msg = b"preempt_malloc: the runtime hung (a hog paused inside malloc?)\n";
            // SAFETY: write(2) of a static buffer, then _exit: no
            // allocation, no lock.
            unsafe {
                libc::write(2, msg.as_ptr().cast(), msg.len());
                libc::_exit(101);
            }
        }
    });

    let until = Instant::now() + Duration::from_secs(2);
    // Hogs that spend their time in malloc and free, calling no goro
    // function: sysmon pauses them (or must decline to, inside libc).
    let hogs: Vec<_> = (0..3)
        .map(|h| {
            goro::spawn(move || {
                let mut rounds = 0u64;
                while Instant::now() < until {
                    let start = Instant::now();
                    let mut kept: Vec<Vec<u8>> = Vec::new();
                    let mut n = 1usize + h;
                    while start.elapsed() < Duration::from_millis(30) {
                        n = (n * 7 + 13) % 4096;
                        kept.push(Vec::with_capacity(16 + n));
                        if kept.len() > 64 {
                            kept.clear();
                        }
                    }
                    rounds += 1;
                    goro::gosched();
                }
                rounds
            })
        })
        .collect();
    // Allocating goroutines that go idle and wake, and blocking calls
    // that make sysmon hand workers off (starting threads).
    let churn: Vec<_> = (0..2)
        .map(|_| {
            goro::spawn(move || {
                let mut joined = 0u64;
                while Instant::now() < until {
                    let kids: Vec<_> = (0..16).map(|i| goro::spawn(move || vec![i; 64])).collect();
                    for k in kids {
                        joined += k.join().unwrap().len() as u64 / 64;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                    goro::time::sleep(Duration::from_micros(300));
                }
                joined
            })
        })
        .collect();
    for h in hogs {
        assert!(h.join().unwrap() > 0);
    }
    for c in churn {
        assert!(c.join().unwrap() > 0);
    }
    let _ = done_tx.send(());
}
