//! gomaxprocs semantics and that CPU-bound goroutines really run in
//! parallel on every worker. One test: gomaxprocs is process-wide.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Spawns `n` goroutines that each wait (spinning, never yielding) until all
/// `n` run at once; returns the distinct OS threads they ran on. Only
/// possible if `n` workers run them in parallel.
fn all_running_at_once(n: usize) -> usize {
    let arrived = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let arrived = arrived.clone();
            let threads = threads.clone();
            goro::go!(move || {
                threads.lock().unwrap().insert(std::thread::current().id());
                arrived.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(20);
                while arrived.load(Ordering::SeqCst) < n {
                    assert!(
                        Instant::now() < deadline,
                        "goroutines never ran in parallel"
                    );
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let count = threads.lock().unwrap().len();
    count
}

#[test]
fn gomaxprocs_reads_sets_and_spreads_work() {
    let default = goro::gomaxprocs(0);
    let expected = std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(goro::num_cpu);
    assert_eq!(default, expected);
    assert_eq!(goro::gomaxprocs(0), default, "0 only reads");

    assert_eq!(goro::gomaxprocs(2), default);
    assert_eq!(goro::gomaxprocs(0), 2);
    assert_eq!(
        all_running_at_once(2),
        2,
        "two CPU-bound goroutines on two workers"
    );

    assert_eq!(goro::gomaxprocs(3), 2);
    assert_eq!(
        all_running_at_once(3),
        3,
        "raising gomaxprocs adds a worker at run time"
    );

    assert_eq!(goro::gomaxprocs(1), 3);
    // With one worker, goroutines still all complete.
    let sum: u64 = goro::run(|| {
        let hs: Vec<_> = (0..100u64).map(|i| goro::go!(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sum, 4950);
    assert_eq!(goro::gomaxprocs(default), 1);
}
