//! Timed locks: `Mutex::try_lock_for`, `RwLock::try_read_for` /
//! `try_write_for`, `Semaphore::acquire_timeout` (and their `_until`
//! forms). A wait that times out gives up, one that is served in time
//! succeeds, from goroutines and plain threads; and a waiter that times out
//! just as the lock (or a permit) is handed to it keeps it or passes it
//! on: the stress test at the end runs that race in a loop under a
//! watchdog, where a lost hand-off is a waiter that never wakes.

#[path = "support/stress.rs"]
mod stress;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::{Mutex, RwLock, Semaphore};
use stress::{budget, seed, Participant, Rng, Watchdog};

const SHORT: Duration = Duration::from_millis(30);
/// Generous: what "in time" means for a wait that should succeed.
const LONG: Duration = Duration::from_secs(10);

#[test]
fn mutex_try_lock_for_gives_up_while_held() {
    let m = Arc::new(Mutex::new(0));
    let held = m.lock();
    for on_thread in [false, true] {
        let m = m.clone();
        let gave_up = Participant::start(on_thread, move || {
            let t = Instant::now();
            let got = m.try_lock_for(SHORT).is_some();
            (got, t.elapsed())
        });
        let (got, waited) = gave_up.join();
        assert!(!got, "took a lock someone held");
        assert!(
            waited >= SHORT,
            "gave up after {waited:?}, before its timeout"
        );
    }
    drop(held);
    // Nothing was left queued: the lock is free and unlock's slow path
    // (a stale PARKED bit) is harmless.
    *m.try_lock_for(SHORT).expect("free lock") += 1;
    assert_eq!(*m.lock(), 1);
}

#[test]
fn mutex_try_lock_for_gets_a_lock_released_in_time() {
    let m = Arc::new(Mutex::new(0));
    for on_thread in [false, true] {
        let held = m.lock();
        let waiter = {
            let m = m.clone();
            Participant::start(on_thread, move || {
                let mut g = m.try_lock_for(LONG).expect("the lock came in time");
                *g += 1;
            })
        };
        goro::time::sleep(Duration::from_millis(20));
        drop(held);
        waiter.join();
    }
    assert_eq!(*m.lock(), 2);
}

#[test]
fn mutex_try_lock_until_a_past_deadline_still_takes_a_free_lock() {
    let m = Mutex::new(());
    let past = Instant::now();
    goro::time::sleep(Duration::from_millis(1));
    assert!(m.try_lock_until(past).is_some());
    let _held = m.lock();
    assert!(m.try_lock_until(past).is_none());
}

#[test]
fn mutex_waiters_behind_a_timed_out_one_still_get_the_lock() {
    // A queue of waiters with a timed-out one in the middle: every other
    // waiter must still be woken in turn.
    let m = Arc::new(Mutex::new(0u32));
    let held = m.lock();
    let mut waiters = Vec::new();
    for i in 0..6 {
        let m = m.clone();
        waiters.push(goro::go!(move || {
            if i % 2 == 0 {
                *m.lock() += 1;
                true
            } else {
                m.try_lock_for(Duration::from_millis(10)).is_some()
            }
        }));
        goro::time::sleep(Duration::from_millis(2));
    }
    goro::time::sleep(Duration::from_millis(40)); // the timed ones give up
    drop(held);
    let results: Vec<bool> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results, [true, false, true, false, true, false]);
    assert_eq!(*m.lock(), 3);
}

#[test]
fn mutex_an_unlock_at_the_timeout_never_strands_the_next_waiter() {
    // A timed waiter at the head of the queue and an untimed one behind
    // it; the holder unlocks around the moment the timed one's deadline
    // passes, and then nobody touches the lock again. However the unlock
    // and the timeout interleave (the unlock's wake-up reaching a waiter
    // that has just timed out), the untimed waiter must get the lock: a
    // timed waiter that swallowed the wake-up would leave it parked for
    // ever. The offsets sweep the unlock across the deadline, and on odd
    // rounds every worker is kept busy across the deadline, so the timed
    // waiter, woken by the unlock before its deadline, runs only after it.
    // Under 1 ms, so the unlock does not hand the lock to a starving head
    // but wakes it to compete (the case where a swallowed wake-up is lost).
    let timeout = Duration::from_micros(700);
    let workers = goro::gomaxprocs(0);
    for round in 0..300u64 {
        let m = Arc::new(Mutex::new(()));
        let held = m.lock();
        let timed = {
            let m = m.clone();
            goro::go!(move || drop(m.try_lock_for(timeout)))
        };
        let queued_at = Instant::now();
        goro::time::sleep(Duration::from_micros(100));
        let (tx, rx) = goro::chan::<()>(1);
        let untimed = {
            let m = m.clone();
            goro::go!(move || {
                let _g = m.lock();
                tx.send(()).unwrap();
            })
        };
        // From 300 µs before the deadline to 200 µs after it.
        let unlock_at = queued_at + timeout - Duration::from_micros(300)
            + Duration::from_micros(round % 6 * 100);
        let hogs: Vec<_> = (0..if round % 2 == 1 { workers } else { 0 })
            .map(|_| {
                let until = queued_at + timeout + Duration::from_micros(300);
                goro::go!(move || while Instant::now() < until {
                    std::hint::spin_loop();
                })
            })
            .collect();
        while Instant::now() < unlock_at {
            std::hint::spin_loop();
        }
        drop(held);
        hogs.into_iter().for_each(|h| h.join().unwrap());
        assert!(
            rx.recv_timeout(LONG).is_ok(),
            "round {round}: the untimed waiter was stranded\n{}",
            goro::dump()
        );
        timed.join().unwrap();
        untimed.join().unwrap();
    }
}

#[test]
fn rwlock_timed_waits_give_up_and_succeed() {
    let l = Arc::new(RwLock::new(0));
    let w = l.write();
    for on_thread in [false, true] {
        let l2 = l.clone();
        let r = Participant::start(on_thread, move || {
            (
                l2.try_read_for(SHORT).is_none(),
                l2.try_write_for(SHORT).is_none(),
            )
        });
        assert_eq!(r.join(), (true, true), "a timed wait took a held lock");
    }
    drop(w);
    let r = l.read();
    assert!(l.try_write_for(SHORT).is_none(), "wrote under a reader");
    assert!(l.try_read_for(SHORT).is_some(), "readers share");
    drop(r);
    let writer = {
        let held = l.read();
        let l = l.clone();
        let h = goro::go!(move || *l.try_write_for(LONG).expect("in time") += 1);
        goro::time::sleep(Duration::from_millis(20));
        drop(held);
        h
    };
    writer.join().unwrap();
    assert_eq!(*l.read(), 1);
}

#[test]
fn rwlock_a_writer_that_gives_up_lets_queued_readers_in() {
    // A reader holds the lock; a timed writer queues, which holds back a
    // new reader (writer preference). When the writer gives up, that
    // reader must go in at once, without waiting for the first reader.
    let l = Arc::new(RwLock::new(()));
    let first = l.read();
    let writer = {
        let l = l.clone();
        goro::go!(move || l.try_write_for(Duration::from_millis(50)).is_none())
    };
    goro::time::sleep(Duration::from_millis(10));
    assert!(
        l.try_read().is_none(),
        "the queued writer should block readers"
    );
    let (tx, rx) = goro::chan::<()>(1);
    let reader = {
        let l = l.clone();
        goro::go!(move || {
            let _r = l.read();
            tx.send(()).unwrap();
        })
    };
    assert!(
        writer.join().unwrap(),
        "the writer got a lock a reader held"
    );
    let admitted = rx.recv_timeout(LONG).is_ok();
    drop(first);
    reader.join().unwrap();
    assert!(admitted, "the reader waited for a writer that had given up");
    assert!(l.try_write().is_some(), "flags left behind by the writer");
}

#[test]
fn semaphore_acquire_timeout_gives_up_and_succeeds() {
    let s = Arc::new(Semaphore::new(1));
    let p = s.acquire();
    for on_thread in [false, true] {
        let s = s.clone();
        let r = Participant::start(on_thread, move || s.acquire_timeout(SHORT).is_none());
        assert!(r.join(), "got a permit that was taken");
    }
    let waiter = {
        let s = s.clone();
        goro::go!(move || s.acquire_timeout(LONG).map(|p| p.forget()).is_some())
    };
    goro::time::sleep(Duration::from_millis(20));
    drop(p);
    assert!(waiter.join().unwrap());
    assert_eq!(s.available_permits(), 0, "the permit went to the waiter");
}

/// The lock under stress: a counter checked inside every critical section.
struct Guarded {
    mutex: Mutex<u64>,
    rw: RwLock<u64>,
    sem: Semaphore,
    inside: AtomicUsize,
    writers_inside: AtomicUsize,
    sem_inside: AtomicUsize,
}

const SEM_PERMITS: usize = 2;

#[test]
fn stress_timeouts_racing_hand_offs_lose_nothing() {
    let budget = budget(Duration::from_secs(3));
    let seed = seed("stress_timeouts_racing_hand_offs_lose_nothing", budget);
    let dog = Watchdog::start("timed_locks");
    let shared = Arc::new(Guarded {
        mutex: Mutex::new(0),
        rw: RwLock::new(0),
        sem: Semaphore::new(SEM_PERMITS),
        inside: AtomicUsize::new(0),
        writers_inside: AtomicUsize::new(0),
        sem_inside: AtomicUsize::new(0),
    });
    let end = Instant::now() + budget;
    let participants: Vec<_> = (0..12u64)
        .map(|i| {
            let beat = dog.beat(format!("participant {i}"));
            let s = shared.clone();
            // Two of twelve on plain threads: their timers live in the
            // shared shard and they park the thread.
            Participant::start(i % 6 == 5, move || {
                let mut rng = Rng::new(seed ^ i);
                let mut done = [0u64; 3];
                while Instant::now() < end {
                    // Timeouts around the 1 ms starvation threshold, so the
                    // hand-off path races the timeout path.
                    let t = rng.micros(0, 1500);
                    match rng.below(6) {
                        0 | 1 => {
                            let g = if rng.one_in(4) {
                                Some(s.mutex.lock())
                            } else {
                                s.mutex.try_lock_for(t)
                            };
                            if let Some(mut g) = g {
                                assert_eq!(s.inside.fetch_add(1, Ordering::SeqCst), 0);
                                *g += 1;
                                spin(&mut rng);
                                s.inside.fetch_sub(1, Ordering::SeqCst);
                                done[0] += 1;
                            }
                        }
                        2 => {
                            if let Some(mut g) = s.rw.try_write_for(t) {
                                assert_eq!(s.writers_inside.fetch_add(1, Ordering::SeqCst), 0);
                                *g += 1;
                                spin(&mut rng);
                                s.writers_inside.fetch_sub(1, Ordering::SeqCst);
                                done[1] += 1;
                            }
                        }
                        3 => {
                            let r = if rng.one_in(4) {
                                Some(s.rw.read())
                            } else {
                                s.rw.try_read_for(t)
                            };
                            if let Some(r) = r {
                                assert_eq!(s.writers_inside.load(Ordering::SeqCst), 0);
                                let _ = *r;
                                spin(&mut rng);
                            }
                        }
                        _ => {
                            let p = if rng.one_in(4) {
                                Some(s.sem.acquire())
                            } else {
                                s.sem.acquire_timeout(t)
                            };
                            if let Some(p) = p {
                                let n = s.sem_inside.fetch_add(1, Ordering::SeqCst);
                                assert!(n < SEM_PERMITS, "{} permits out of {SEM_PERMITS}", n + 1);
                                spin(&mut rng);
                                s.sem_inside.fetch_sub(1, Ordering::SeqCst);
                                drop(p);
                                done[2] += 1;
                            }
                        }
                    }
                    beat.tick();
                }
                beat.done();
                done
            })
        })
        .collect();
    let mut totals = [0u64; 3];
    for p in participants {
        for (t, d) in totals.iter_mut().zip(p.join()) {
            *t += d;
        }
    }
    // Every successful critical section counted; nothing is still held or
    // owed: untimed waits on everything go through at once.
    assert_eq!(*shared.mutex.lock(), totals[0]);
    assert_eq!(*shared.rw.write(), totals[1]);
    let permits: Vec<_> = (0..SEM_PERMITS).map(|_| shared.sem.acquire()).collect();
    assert!(shared.sem.try_acquire().is_none(), "a permit was made up");
    drop(permits);
    assert_eq!(
        shared.sem.available_permits(),
        SEM_PERMITS,
        "a permit was lost"
    );
    assert!(
        totals.iter().all(|&n| n > 0),
        "some lock never got through: {totals:?}"
    );
}

/// A short critical section, sometimes a yield in the middle.
fn spin(rng: &mut Rng) {
    if rng.one_in(8) {
        goro::gosched();
    }
    for _ in 0..rng.below(200) {
        std::hint::spin_loop();
    }
}
