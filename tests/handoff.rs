//! A goroutine stuck in a plain blocking call does not strand the others:
//! with one worker, sysmon hands its queue to another thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// gomaxprocs is process-wide: these tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn blocking_syscall_does_not_stop_other_goroutines_on_one_worker() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    goro::gomaxprocs(1);
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (seen_during_sleep, total) = goro::run({
        let progress = progress.clone();
        let stop = stop.clone();
        move || {
            let counter = {
                let progress = progress.clone();
                let stop = stop.clone();
                goro::go!(move || {
                    while !stop.load(Ordering::SeqCst) {
                        progress.fetch_add(1, Ordering::SeqCst);
                        goro::gosched();
                    }
                })
            };
            let sleeper = goro::go!(move || {
                let before = progress.load(Ordering::SeqCst);
                // Holds this worker hostage for 300 ms.
                std::thread::sleep(Duration::from_millis(300));
                progress.load(Ordering::SeqCst) - before
            });
            let during = sleeper.join().unwrap();
            stop.store(true, Ordering::SeqCst);
            counter.join().unwrap();
            (during, goro::gomaxprocs(0))
        }
    });
    assert_eq!(total, 1);
    assert!(
        seen_during_sleep > 100,
        "the counter goroutine made only {seen_during_sleep} steps while its worker was blocked"
    );
}

#[test]
fn goroutines_spawned_by_a_stuck_goroutine_still_run() {
    // Regression: after sysmon detached the stuck worker, goroutines that
    // the stuck goroutine spawned went to that worker's runnext, where no
    // other worker could take them.
    use std::time::Instant;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    goro::gomaxprocs(1);
    let rounds = goro::run(|| {
        goro::go!(|| {
            let mut ran = Vec::new();
            for _ in 0..3 {
                let flag = Arc::new(AtomicBool::new(false));
                let f = flag.clone();
                goro::go!(move || f.store(true, Ordering::SeqCst));
                let start = Instant::now();
                // Never yields: holds this worker hostage until the child ran.
                while !flag.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(3) {
                    std::hint::spin_loop();
                }
                ran.push(flag.load(Ordering::SeqCst));
            }
            ran
        })
        .join()
        .unwrap()
    });
    assert_eq!(rounds, vec![true, true, true]);
}

/// Threads of this process named `goro-worker-*`.
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("goro-worker"))
        .count()
}

#[test]
fn spare_threads_left_by_a_burst_of_blocking_calls_exit() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    goro::gomaxprocs(2);
    let peak = goro::run(|| {
        let sleepers: Vec<_> = (0..50)
            .map(|_| goro::go!(|| std::thread::sleep(Duration::from_millis(100))))
            .collect();
        let mut peak = 0;
        for s in sleepers {
            peak = peak.max(worker_threads());
            s.join().unwrap();
        }
        peak
    });
    assert!(
        peak > 4,
        "the blocking calls were not handed off ({peak} threads)"
    );
    // Spares exit after 10 s idle; look for up to 30 s.
    let start = std::time::Instant::now();
    while worker_threads() > 4 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = worker_threads();
    assert!(left <= 4, "{left} worker threads remain of {peak}");
    // And the runtime still works, with new threads where needed.
    assert_eq!(goro::run(|| goro::go!(|| 7).join().unwrap()), 7);
}
