//! goro::sync::Mutex: mutual exclusion between goroutines and threads,
//! no starvation, guards released after migration.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::Mutex;

/// A plain counter (no atomics) incremented in a read-yield-write race
/// window, plus an "inside" flag that catches two holders at once.
struct Shared {
    count: Mutex<u64>,
    inside: AtomicBool,
}

fn critical_section(s: &Shared, i: u64, on_goroutine: bool) {
    let mut g = s.count.lock();
    assert!(
        !s.inside.swap(true, Ordering::Relaxed),
        "two holders at once"
    );
    let v = *g;
    if i % 16 == 0 {
        // Widen the race window; on a goroutine this may migrate it.
        if on_goroutine {
            goro::gosched();
        } else {
            std::thread::yield_now();
        }
    }
    *g = v + 1;
    s.inside.store(false, Ordering::Relaxed);
}

#[test]
fn mutual_exclusion_between_goroutines_and_threads() {
    const GOROUTINES: u64 = 64;
    const THREADS: u64 = 4;
    const ITERS: u64 = 1000;
    let s = Arc::new(Shared {
        count: Mutex::new(0),
        inside: AtomicBool::new(false),
    });
    let gs: Vec<_> = (0..GOROUTINES)
        .map(|_| {
            let s = s.clone();
            goro::go!(move || (0..ITERS).for_each(|i| critical_section(&s, i, true)))
        })
        .collect();
    let ts: Vec<_> = (0..THREADS)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || (0..ITERS).for_each(|i| critical_section(&s, i, false)))
        })
        .collect();
    gs.into_iter().for_each(|h| h.join().unwrap());
    ts.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(*s.count.lock(), (GOROUTINES + THREADS) * ITERS);
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let m = Mutex::new(5);
    let g = m.lock();
    assert!(m.try_lock().is_none());
    assert!(m.is_locked());
    drop(g);
    assert_eq!(*m.try_lock().unwrap(), 5);
    assert!(!m.is_locked());
}

#[test]
fn guard_released_after_goroutine_migrates() {
    let m = Arc::new(Mutex::new(Vec::new()));
    let hs: Vec<_> = (0..8)
        .map(|k| {
            let m = m.clone();
            goro::go!(move || {
                let mut g = m.lock();
                let first = std::thread::current().id();
                let mut moved = false;
                for _ in 0..50 {
                    goro::gosched();
                    moved |= std::thread::current().id() != first;
                }
                g.push(k);
                moved
            })
        })
        .collect();
    let moved = hs.into_iter().map(|h| h.join().unwrap());
    let moved = moved.filter(|&m| m).count();
    // Migration is likely but not guaranteed on one core; the lock must
    // work either way.
    eprintln!("{moved} of 8 goroutines unlocked on another thread");
    let mut v = m.lock().clone();
    v.sort();
    assert_eq!(v, (0..8).collect::<Vec<_>>());
}

#[test]
fn guard_sent_to_a_thread_unlocks_there() {
    let m = Arc::new(Mutex::new(0u32));
    let m2 = m.clone();
    let h = goro::go!(move || {
        let mut g = m2.lock();
        *g = 7;
        // Hand the held guard to a plain thread, which drops it.
        std::thread::scope(|s| {
            s.spawn(move || drop(g));
        });
    });
    h.join().unwrap();
    // Another goroutine can now take it.
    let m3 = m.clone();
    assert_eq!(goro::go!(move || *m3.lock()).join().unwrap(), 7);
    // And a goroutine blocked on it is woken by a thread's unlock.
    let g = m.lock();
    let m4 = m.clone();
    let waiter = goro::go!(move || *m4.lock() + 1);
    std::thread::scope(|s| {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            drop(g);
        });
    });
    assert_eq!(waiter.join().unwrap(), 8);
}

/// Port of Go's `TestMutexFairness`: a hog holds the lock for 100 us at a
/// time and relocks at once. A woken waiter needs longer than that relock
/// to get running, so without hand-off it loses nearly every race; with
/// it, each of its acquisitions waits about 1 ms. `hog_is_thread` picks a
/// plain thread or a goroutine (which sleeps with the guard held, so it
/// may also migrate while holding it).
fn fairness(hog_is_thread: bool, waiter_is_thread: bool) {
    const WANTED: u64 = 10;
    let m = Arc::new(Mutex::new(0u64));
    let stop = Arc::new(AtomicBool::new(false));
    let hog_body = {
        let (m, stop) = (m.clone(), stop.clone());
        move || {
            // The generous bound of Go's test: fail, rather than hang, if
            // the waiter starves this long.
            let give_up = Instant::now() + Duration::from_secs(10);
            while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
                let mut g = m.lock();
                *g += 1;
                if hog_is_thread {
                    std::thread::sleep(Duration::from_micros(100));
                } else {
                    goro::time::sleep(Duration::from_micros(100));
                }
                drop(g);
            }
        }
    };
    let hog_done = Arc::new(AtomicBool::new(false));
    let hog = {
        let hog_done = hog_done.clone();
        let body = move || {
            hog_body();
            hog_done.store(true, Ordering::Relaxed);
        };
        if hog_is_thread {
            std::thread::spawn(body);
            None
        } else {
            Some(goro::spawn(body))
        }
    };
    let got = Arc::new(AtomicU64::new(0));
    let waiter_body = {
        let (m, got) = (m.clone(), got.clone());
        move || {
            for _ in 0..WANTED {
                std::thread::sleep(Duration::from_micros(100));
                drop(m.lock());
                got.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    if waiter_is_thread {
        std::thread::spawn(waiter_body);
    } else {
        goro::spawn(waiter_body);
    }
    // The waiter finishes while the hog still runs, or the hog gives up.
    while got.load(Ordering::Relaxed) < WANTED && !hog_done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let waiter_got = got.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = hog {
        h.join().unwrap();
    }
    let hog_got = *m.lock();
    assert_eq!(
        waiter_got, WANTED,
        "waiter starved: {waiter_got} acquisitions against the hog's {hog_got}"
    );
}

#[test]
fn mutex_fairness_thread_hog_goroutine_waiter() {
    fairness(true, false);
}

#[test]
fn mutex_fairness_goroutine_hog_thread_waiter() {
    fairness(false, true);
}

#[test]
fn mutex_fairness_goroutine_hog_goroutine_waiter() {
    fairness(false, false);
}

/// Informal throughput report (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn contended_throughput_report() {
    for &workers in &[1usize, 2, 4] {
        let prev = goro::gomaxprocs(workers);
        let m = Arc::new(Mutex::new(0u64));
        let per = 200_000u64;
        let n = 8u64;
        let start = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let m = m.clone();
                goro::go!(move || (0..per).for_each(|_| *m.lock() += 1))
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let el = start.elapsed();
        assert_eq!(*m.lock(), n * per);
        println!(
            "gomaxprocs={workers}: {n} goroutines x {per} lock/unlock: {:.1} ns per lock",
            el.as_nanos() as f64 / (n * per) as f64
        );
        goro::gomaxprocs(prev);
    }
}
