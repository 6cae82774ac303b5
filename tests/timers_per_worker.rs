//! Timers live in their worker's shard (`scheduler/timer.rs`): a timer
//! must still fire when the worker that armed it stops running goroutines
//! (retired by `gomaxprocs`, or stuck in a blocking call and handed off),
//! and cancelling from another worker must disarm it. One test at a time:
//! `gomaxprocs` is process-wide.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// Aborts the test process, naming `what`, if it is still running after
/// `limit` (a timer that never fires hangs instead of failing).
fn watchdog(what: &'static str, limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::SeqCst) {
            if start.elapsed() > limit {
                eprintln!(
                    "watchdog: {what} still waiting after {limit:?}\n{}",
                    goro::dump()
                );
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    done
}

/// Waits (on this plain thread) until `count` reaches `n`.
fn wait_for(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::SeqCst) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn timers_of_a_retired_worker_still_fire() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let done = watchdog("sleepers on a retired worker", Duration::from_secs(30));
    let before = goro::gomaxprocs(2);
    const N: usize = 2000;
    let armed = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let armed = armed.clone();
            goro::go!(move || {
                armed.fetch_add(1, Ordering::SeqCst);
                goro::time::sleep(Duration::from_millis(50));
            })
        })
        .collect();
    wait_for(&armed, N);
    // Half the timers (or so) sit in the shard of the worker that retires.
    goro::gomaxprocs(1);
    for h in handles {
        h.join().unwrap();
    }
    goro::gomaxprocs(before);
    done.store(true, Ordering::SeqCst);
}

#[test]
fn timers_of_a_worker_blocked_in_the_kernel_fire_before_it_returns() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let done = watchdog("sleepers behind a blocked worker", Duration::from_secs(30));
    let before = goro::gomaxprocs(1);
    const N: usize = 100;
    let armed = Arc::new(AtomicUsize::new(0));
    let blocker_done = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicUsize::new(0));
    // On one worker, every sleeper's timer is in that worker's shard.
    let sleepers: Vec<_> = (0..N)
        .map(|_| {
            let (armed, blocker_done, late) = (armed.clone(), blocker_done.clone(), late.clone());
            goro::go!(move || {
                armed.fetch_add(1, Ordering::SeqCst);
                goro::time::sleep(Duration::from_millis(20));
                if blocker_done.load(Ordering::SeqCst) {
                    late.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    wait_for(&armed, N);
    // Now the worker blocks in the kernel for far longer than the sleeps:
    // its timers must be fired by the thread that takes its place.
    let flag = blocker_done.clone();
    let blocker = goro::go!(move || {
        std::thread::sleep(Duration::from_millis(1500));
        flag.store(true, Ordering::SeqCst);
    });
    for h in sleepers {
        h.join().unwrap();
    }
    blocker.join().unwrap();
    goro::gomaxprocs(before);
    done.store(true, Ordering::SeqCst);
    assert_eq!(
        late.load(Ordering::SeqCst),
        0,
        "sleepers waited for the blocked worker to come back"
    );
}

#[test]
fn deadlines_armed_on_one_worker_and_cancelled_on_another() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let done = watchdog("early wake-ups", Duration::from_secs(60));
    let before = goro::gomaxprocs(2);
    // Receivers park with a deadline (a timer in their worker's shard),
    // are woken early by a sender on any worker, and cancel the timer
    // wherever they run by then: 40,000 arm/cancel pairs racing with both
    // workers' arming and firing. A cancel that removed the wrong entry
    // (or corrupted the heap) leaves a receiver asleep for 20 s or loses
    // a wake-up: the watchdog or the timeout count says so.
    const PAIRS: usize = 200;
    const ROUNDS: usize = 200;
    let timeouts = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..PAIRS {
        let (tx, rx) = goro::chan::<usize>(0);
        let timeouts = timeouts.clone();
        handles.push(goro::go!(move || {
            for i in 0..ROUNDS {
                match rx.recv_timeout(Duration::from_secs(20)) {
                    Ok(v) => assert_eq!(v, i),
                    Err(_) => {
                        timeouts.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
        }));
        handles.push(goro::go!(move || {
            for i in 0..ROUNDS {
                if i % 8 == 0 {
                    goro::gosched();
                }
                tx.send(i).unwrap();
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    goro::gomaxprocs(before);
    done.store(true, Ordering::SeqCst);
    assert_eq!(timeouts.load(Ordering::SeqCst), 0);
}

/// A timer cancelled before its deadline stays in its shard's heap until
/// it comes due; then the shard's published earliest deadline must move
/// on. It did not (only a live timer's firing republished it), so every
/// idle worker found a timer "due", polled without sleeping and found
/// nothing, for good: an idle server burned a third of a core after its
/// connections' read deadlines had been reset (found through the debug
/// endpoint's 5 s request deadlines).
#[test]
fn idle_workers_sleep_once_a_cancelled_timer_comes_due() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A goroutine waiting for I/O: an idle worker then waits in the
    // poller, for as long as the earliest timer lets it.
    let listener = Arc::new(goro::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let acceptor = {
        let listener = listener.clone();
        goro::go!(move || listener.accept().map(drop))
    };
    let (tx, rx) = goro::chan::<()>(0);
    let waiter = goro::go!(move || rx.recv_timeout(Duration::from_millis(50)).is_ok());
    let start = Instant::now();
    while !goro::dump().to_string().contains("[chan receive, ")
        || !goro::dump().to_string().contains("[accept, ")
    {
        assert!(start.elapsed() < Duration::from_secs(20), "never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Woken early by a plain thread: its timer is cancelled, and no other
    // timer is armed while this thread sleeps past the deadline.
    tx.send(()).unwrap();
    assert!(waiter.join().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    let before = goro::metrics().reactor_polls();
    std::thread::sleep(Duration::from_millis(300));
    let polls = goro::metrics().reactor_polls() - before;
    // Asleep, the workers poll a few times (sysmon's looks, a stray
    // wake-up); the bug made it tens of thousands.
    assert!(polls < 1_000, "{polls} reactor polls in 300 ms of idling");
    listener.close().unwrap();
    acceptor.join().unwrap().unwrap_err();
}
