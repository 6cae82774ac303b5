//! gosched on one worker: goroutines take strict turns (each yield sends the
//! caller to the back of the global queue).

use std::sync::{Arc, Mutex};

#[test]
fn gosched_interleaves_goroutines_on_one_worker() {
    goro::gomaxprocs(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    let order = goro::run({
        let log = log.clone();
        move || {
            let handles: Vec<_> = (0..3)
                .map(|id| {
                    let log = log.clone();
                    goro::go!(move || {
                        for round in 0..4 {
                            log.lock().unwrap().push((round, id));
                            goro::gosched();
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            log.lock().unwrap().clone()
        }
    });
    // Every goroutine finishes round r before any starts round r + 1.
    assert_eq!(order.len(), 12);
    for window in order.chunks(3) {
        let round = window[0].0;
        assert!(
            window.iter().all(|&(r, _)| r == round),
            "not interleaved: {order:?}"
        );
        let mut ids: Vec<_> = window.iter().map(|&(_, id)| id).collect();
        ids.sort();
        assert_eq!(ids, vec![0, 1, 2], "{order:?}");
    }
}

#[test]
fn gosched_on_a_plain_thread_just_yields() {
    goro::gosched();
    assert!(goro::current().is_none());
}
