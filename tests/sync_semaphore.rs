//! goro::sync::Semaphore: bounded concurrency, try/timeout, FIFO hand-off.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::Semaphore;

fn wait_until_blocked(name: &str, what: &str) {
    let needle = format!("{name:?} [{what}, ");
    let give_up = Instant::now() + Duration::from_secs(10);
    while !goro::dump().to_string().contains(&needle) {
        assert!(Instant::now() < give_up, "{name} never blocked on {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn named<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> goro::JoinHandle<T> {
    goro::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .unwrap()
}

#[test]
fn bounds_concurrency() {
    const LIMIT: usize = 3;
    let sem = Arc::new(Semaphore::new(LIMIT));
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let body = {
        let (sem, now, max) = (sem.clone(), now.clone(), max.clone());
        move |on_goroutine: bool| {
            for _ in 0..20 {
                let _p = sem.acquire();
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(n, Ordering::SeqCst);
                if on_goroutine {
                    goro::gosched();
                } else {
                    std::thread::yield_now();
                }
                now.fetch_sub(1, Ordering::SeqCst);
            }
        }
    };
    let gs: Vec<_> = (0..40)
        .map(|_| {
            let body = body.clone();
            goro::go!(move || body(true))
        })
        .collect();
    let ts: Vec<_> = (0..2)
        .map(|_| {
            let body = body.clone();
            std::thread::spawn(move || body(false))
        })
        .collect();
    gs.into_iter().for_each(|h| h.join().unwrap());
    ts.into_iter().for_each(|h| h.join().unwrap());
    let max = max.load(Ordering::SeqCst);
    assert!((1..=LIMIT).contains(&max), "{max} holders at once");
    assert_eq!(sem.available_permits(), LIMIT);
}

#[test]
fn try_acquire_takes_only_free_permits() {
    let sem = Semaphore::new(1);
    let p = sem.try_acquire().expect("a free permit");
    assert!(sem.try_acquire().is_none());
    drop(p);
    assert!(sem.try_acquire().is_some());
    let p = sem.acquire();
    p.forget();
    assert_eq!(sem.available_permits(), 0);
    assert!(sem.try_acquire().is_none());
}

#[test]
fn acquire_timeout_gives_up_then_loses_nothing() {
    let sem = Arc::new(Semaphore::new(0));
    let start = Instant::now();
    assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
    // The same from a goroutine.
    let s = sem.clone();
    let timed_out = goro::go!(move || s.acquire_timeout(Duration::from_millis(5)).is_none());
    assert!(timed_out.join().unwrap());
    // A permit added after the timeouts is not swallowed by them.
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.try_acquire().is_some());
}

#[test]
fn acquire_timeout_gets_a_permit_released_in_time() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.acquire();
    let s = sem.clone();
    let waiter = named("sem-timeout-waiter", move || {
        s.acquire_timeout(Duration::from_secs(10))
            .map(|p| p.forget())
            .is_some()
    });
    wait_until_blocked("sem-timeout-waiter", "semaphore");
    drop(held);
    assert!(waiter.join().unwrap());
}

/// Waiters are served in arrival order, and a released permit goes to the
/// queue head, not to a `try_acquire` that comes along meanwhile.
#[test]
fn waiters_are_served_fifo() {
    let sem = Arc::new(Semaphore::new(0));
    let order = Arc::new(goro::sync::Mutex::new(Vec::new()));
    let mut hs = Vec::new();
    for i in 0..5 {
        let (sem, order) = (sem.clone(), order.clone());
        let name = format!("sem-fifo-{i}");
        hs.push(named(&name, move || {
            let p = sem.acquire();
            order.lock().push(i);
            p.forget();
        }));
        wait_until_blocked(&name, "semaphore");
    }
    for k in 0..5 {
        sem.add_permits(1);
        // Handed over, not left for barging.
        assert!(sem.try_acquire().is_none());
        // One permit, one waiter served: let it record before the next.
        let give_up = Instant::now() + Duration::from_secs(10);
        while order.lock().len() <= k {
            assert!(Instant::now() < give_up, "no waiter got permit {k}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(*order.lock(), [0, 1, 2, 3, 4]);
}
