//! goro::sync::RwLock: shared readers, exclusive writers, and writer
//! preference (a waiting writer blocks new readers).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::{Mutex, RwLock};

/// Waits until the goroutine named `name` is parked on `what` (read from
/// `goro::dump()`); panics after a generous bound.
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
fn waiting_writer_blocks_new_readers() {
    let l = Arc::new(RwLock::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let r0 = l.read();
    let w = {
        let (l, order) = (l.clone(), order.clone());
        named("rw-writer", move || {
            // Pushed under the write lock: the reader cannot get in (and
            // push first) between the write and the push.
            let mut g = l.write();
            *g += 1;
            order.lock().push("writer");
        })
    };
    wait_until_blocked("rw-writer", "rwlock");
    // A writer waits: new readers must not get in, not even by try_read.
    assert!(l.try_read().is_none(), "try_read got past a waiting writer");
    assert!(l.try_write().is_none());
    let r1 = {
        let (l, order) = (l.clone(), order.clone());
        named("rw-reader", move || {
            let v = *l.read();
            order.lock().push("reader");
            v
        })
    };
    wait_until_blocked("rw-reader", "rwlock");
    drop(r0);
    w.join().unwrap();
    // The late reader saw the writer's value, and ran after it.
    assert_eq!(r1.join().unwrap(), 1);
    assert_eq!(*order.lock(), ["writer", "reader"]);
    assert!(l.try_write().is_some());
}

#[test]
fn readers_hold_the_lock_together() {
    const READERS: usize = 4;
    let l = Arc::new(RwLock::new(()));
    let inside = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..READERS)
        .map(|_| {
            let (l, inside) = (l.clone(), inside.clone());
            goro::go!(move || {
                let _g = l.read();
                inside.fetch_add(1, Ordering::SeqCst);
                let give_up = Instant::now() + Duration::from_secs(10);
                // Everyone is inside at once, or this never ends.
                while inside.load(Ordering::SeqCst) < READERS {
                    assert!(Instant::now() < give_up, "readers excluded each other");
                    goro::gosched();
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
}

/// Writers update two fields with a yield in between; readers (goroutines
/// and threads) must never see them differ.
#[test]
fn writers_exclude_readers_and_writers() {
    let l = Arc::new(RwLock::new((0u64, 0u64)));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let l = l.clone();
            goro::go!(move || {
                for i in 0..300 {
                    let mut g = l.write();
                    g.0 += 1;
                    if i % 8 == 0 {
                        goro::gosched();
                    }
                    g.1 += 1;
                }
            })
        })
        .collect();
    let check = |l: &RwLock<(u64, u64)>| {
        let g = l.read();
        assert_eq!(g.0, g.1, "a reader saw a half-done write");
    };
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (l, stop) = (l.clone(), stop.clone());
            goro::go!(move || {
                while !stop.load(Ordering::Relaxed) {
                    check(&l);
                    goro::gosched();
                }
            })
        })
        .collect();
    let thread = {
        let (l, stop) = (l.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                check(&l);
            }
        })
    };
    writers.into_iter().for_each(|h| h.join().unwrap());
    stop.store(true, Ordering::Relaxed);
    readers.into_iter().for_each(|h| h.join().unwrap());
    thread.join().unwrap();
    assert_eq!(*l.read(), (1200, 1200));
}

/// Overlapping readers that never all let go at once would starve a
/// writer without writer preference.
#[test]
fn overlapping_readers_do_not_starve_a_writer() {
    let l = Arc::new(RwLock::new(0u32));
    let written = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (l, written) = (l.clone(), written.clone());
            goro::go!(move || {
                let give_up = Instant::now() + Duration::from_secs(10);
                let mut reads = 0u64;
                while !written.load(Ordering::Relaxed) && Instant::now() < give_up {
                    let _g = l.read();
                    goro::gosched();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let l2 = l.clone();
    let w = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(2));
        *l2.write() = 1;
    });
    w.join().unwrap();
    written.store(true, Ordering::Relaxed);
    readers.into_iter().for_each(|h| {
        h.join().unwrap();
    });
    assert_eq!(*l.read(), 1);
}

#[test]
fn guards_released_on_another_thread() {
    let l = Arc::new(RwLock::new(5));
    let w = l.write();
    std::thread::scope(|s| {
        s.spawn(move || drop(w));
    });
    let r = l.read();
    std::thread::scope(|s| {
        s.spawn(move || assert_eq!(*r, 5));
    });
    assert!(l.try_write().is_some());
}
