//! goro::sync::Barrier: everyone waits for the last arrival, one leader
//! per generation, reusable.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use goro::sync::Barrier;

#[test]
fn parties_meet_generation_after_generation() {
    const PARTIES: usize = 5;
    const GENERATIONS: usize = 100;
    let barrier = Arc::new(Barrier::new(PARTIES));
    let arrived: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
    let leaders: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
    let body = {
        let (barrier, arrived, leaders) = (barrier.clone(), arrived.clone(), leaders.clone());
        move || {
            for gen in 0..GENERATIONS {
                arrived[gen].fetch_add(1, Ordering::SeqCst);
                let r = barrier.wait();
                // Nobody passes before everyone of this generation arrived.
                assert_eq!(
                    arrived[gen].load(Ordering::SeqCst),
                    PARTIES,
                    "generation {gen}"
                );
                if r.is_leader() {
                    leaders[gen].fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    };
    // Four goroutines and one plain thread.
    let gs: Vec<_> = (0..PARTIES - 1)
        .map(|_| {
            let body = body.clone();
            goro::go!(move || body())
        })
        .collect();
    let t = std::thread::spawn(body);
    gs.into_iter().for_each(|h| h.join().unwrap());
    t.join().unwrap();
    for (gen, l) in leaders.iter().enumerate() {
        assert_eq!(l.load(Ordering::SeqCst), 1, "generation {gen}");
    }
}

#[test]
fn a_barrier_of_one_never_waits() {
    for n in [0, 1] {
        let b = Barrier::new(n);
        assert!(b.wait().is_leader());
        assert!(b.wait().is_leader());
    }
}
