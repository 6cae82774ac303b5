//! Keeping every goroutine moving: CPU hogs are preempted, `gomaxprocs` is a
//! cap on threads executing goroutines, blocking calls are handed off fast,
//! timers fire while every worker is stuck, `runnext` does not starve the
//! local queue, and goroutines that only ever call ready goro operations
//! yield. The bounds are generous (several times what goro needs) and
//! still far below what the runtime did before preemption, so each test
//! fails on the old scheduler and none measures speed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// gomaxprocs is process-wide: these tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Threads of this process named `goro-worker-*`.
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("goro-worker"))
        .count()
}

/// Starts `n` goroutines that compute until `stop`, never calling goro;
/// each counts its rounds.
fn hogs(n: usize, stop: &Arc<AtomicBool>) -> Vec<(goro::JoinHandle<()>, Arc<AtomicU64>)> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            let rounds = Arc::new(AtomicU64::new(0));
            let counted = rounds.clone();
            let h = goro::go!(move || {
                let mut x = 1u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1000 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    }
                    std::hint::black_box(x);
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            });
            (h, rounds)
        })
        .collect()
}

#[test]
fn eight_hogs_on_two_workers_do_not_stall_a_sleeping_probe() {
    let _serial = serial();
    goro::gomaxprocs(2);
    let worst = goro::run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let hogs = hogs(8, &stop);
        let mut worst = Duration::ZERO;
        for _ in 0..50 {
            let t = Instant::now();
            goro::time::sleep(Duration::from_millis(1));
            worst = worst.max(t.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        for (h, rounds) in hogs {
            h.join().unwrap();
            assert!(rounds.load(Ordering::Relaxed) > 0, "a hog never ran");
        }
        worst
    });
    // Before preemption: up to 4 s. With it: tens of milliseconds.
    assert!(
        worst < Duration::from_millis(500),
        "probe woke {worst:?} late"
    );
}

#[test]
fn gomaxprocs_one_caps_cpu_use_and_every_hog_still_runs() {
    let _serial = serial();
    goro::gomaxprocs(1);
    let (ratio, rounds) = goro::run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let hogs = hogs(4, &stop);
        // Let every hog get its first slice, then measure.
        goro::time::sleep(Duration::from_millis(100));
        let (cpu0, wall0) = (process_cpu(), Instant::now());
        goro::time::sleep(Duration::from_millis(600));
        let ratio = (process_cpu() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let rounds: Vec<u64> = hogs
            .into_iter()
            .map(|(h, r)| {
                h.join().unwrap();
                r.load(Ordering::Relaxed)
            })
            .collect();
        (ratio, rounds)
    });
    goro::gomaxprocs(2);
    assert!(rounds.iter().all(|&r| r > 0), "a hog never ran: {rounds:?}");
    // Four threads ran hogs at once before (about 2.0 on two cores).
    assert!(
        ratio < 1.4,
        "CPU time / wall time {ratio:.2} on gomaxprocs(1)"
    );
}

#[test]
fn two_hundred_blocking_calls_are_handed_off_and_a_ticker_keeps_ticking() {
    let _serial = serial();
    goro::gomaxprocs(2);
    let (elapsed, worst_gap) = goro::run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let stop = stop.clone();
            goro::go!(move || {
                let mut worst = Duration::ZERO;
                let mut last = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    goro::time::sleep(Duration::from_millis(5));
                    worst = worst.max(last.elapsed());
                    last = Instant::now();
                }
                worst
            })
        };
        let start = Instant::now();
        let sleepers: Vec<_> = (0..200)
            .map(|_| goro::go!(|| std::thread::sleep(Duration::from_millis(200))))
            .collect();
        for s in sleepers {
            s.join().unwrap();
        }
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        (elapsed, ticker.join().unwrap())
    });
    // Before: 2.3 s and an 826 ms gap. Go: 0.23 s and 5.4 ms.
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    assert!(
        worst_gap < Duration::from_millis(300),
        "ticker gap {worst_gap:?}"
    );
}

fn timer_fires_while_the_only_worker_is_stuck(stuck: fn()) -> Duration {
    goro::gomaxprocs(1);
    let late = goro::run(move || {
        let started = Arc::new(AtomicBool::new(false));
        let blocker = {
            let started = started.clone();
            goro::go!(move || {
                started.store(true, Ordering::SeqCst);
                stuck();
            })
        };
        let sleeper = goro::go!(move || {
            while !started.load(Ordering::SeqCst) {
                goro::gosched();
            }
            let t = Instant::now();
            goro::time::sleep(Duration::from_millis(20));
            let slept = t.elapsed();
            let (_tx, rx) = goro::chan::<()>(0);
            let t = Instant::now();
            assert!(rx.recv_timeout(Duration::from_millis(20)).is_err());
            slept.max(t.elapsed())
        });
        let late = sleeper.join().unwrap();
        blocker.join().unwrap();
        late
    });
    goro::gomaxprocs(2);
    late
}

#[test]
fn timers_fire_while_the_only_worker_sleeps_in_the_kernel() {
    let _serial = serial();
    let late = timer_fires_while_the_only_worker_is_stuck(|| {
        std::thread::sleep(Duration::from_millis(1000))
    });
    // Before: 1.0 s (the timer waited for the blocked worker).
    assert!(late < Duration::from_millis(400), "woke after {late:?}");
}

#[test]
fn timers_fire_while_the_only_worker_computes() {
    let _serial = serial();
    let late = timer_fires_while_the_only_worker_is_stuck(|| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1000) {
            std::hint::spin_loop();
        }
    });
    assert!(late < Duration::from_millis(400), "woke after {late:?}");
}

#[test]
fn a_runnext_ping_pong_pair_does_not_starve_the_local_queue() {
    let _serial = serial();
    goro::gomaxprocs(1);
    let steps = goro::run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let (ping_tx, ping_rx) = goro::chan::<u64>(0);
        let (pong_tx, pong_rx) = goro::chan::<u64>(0);
        let pinger = {
            let stop = stop.clone();
            goro::go!(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    ping_tx.send(n).unwrap();
                    n = pong_rx.recv().unwrap();
                }
            })
        };
        let ponger = goro::go!(move || {
            while let Ok(n) = ping_rx.recv() {
                if pong_tx.send(n + 1).is_err() {
                    break;
                }
            }
        });
        let steps = Arc::new(AtomicU64::new(0));
        let third = {
            let (stop, steps) = (stop.clone(), steps.clone());
            goro::go!(move || {
                while !stop.load(Ordering::Relaxed) {
                    steps.fetch_add(1, Ordering::Relaxed);
                    goro::gosched();
                }
            })
        };
        // This thread is the main goroutine's: it sleeps on a timer, which
        // must fire too.
        goro::time::sleep(Duration::from_millis(500));
        let seen = steps.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        pinger.join().unwrap();
        ponger.join().unwrap();
        third.join().unwrap();
        seen
    });
    goro::gomaxprocs(2);
    // Before: 0 steps in 1 s.
    assert!(steps > 0, "the third goroutine never ran");
}

#[test]
fn goroutines_looping_on_ready_operations_yield_without_a_signal() {
    let _serial = serial();
    if std::env::var("PREEMPT_CHILD").is_ok() {
        return;
    }
    // A child with signal preemption off: only the cooperative check can
    // make the spinners give way.
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "ready_loop_spinners_child", "--nocapture"])
        .env("PREEMPT_CHILD", "1")
        .env("GORO_ASYNCPREEMPT", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SLEEPER WOKE"),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ready_loop_spinners_child() {
    if std::env::var("PREEMPT_CHILD").is_err() {
        return;
    }
    goro::gomaxprocs(2);
    let (late, threads_before, threads_after) = goro::run(|| {
        // Every worker thread started and named.
        goro::time::sleep(Duration::from_millis(50));
        let threads_before = worker_threads();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = goro::chan::<u8>(1);
        let lock = Arc::new(goro::sync::Mutex::new(0u64));
        // Operations that are always ready: an empty channel's try_recv, an
        // uncontended lock, a buffered channel that is never empty.
        let spinners: Vec<_> = (0..3)
            .map(|kind| {
                let (stop, rx, lock) = (stop.clone(), rx.clone(), lock.clone());
                goro::go!(move || {
                    let (own_tx, own_rx) = goro::chan::<u8>(1);
                    while !stop.load(Ordering::Relaxed) {
                        match kind {
                            0 => drop(rx.try_recv()),
                            1 => *lock.lock() += 1,
                            _ => {
                                own_tx.send(1).unwrap();
                                own_rx.recv().unwrap();
                            }
                        }
                    }
                })
            })
            .collect();
        let t = Instant::now();
        goro::go!(|| goro::time::sleep(Duration::from_millis(100)))
            .join()
            .unwrap();
        let late = t.elapsed();
        let threads_after = worker_threads();
        stop.store(true, Ordering::Relaxed);
        drop(tx);
        for s in spinners {
            s.join().unwrap();
        }
        (late, threads_before, threads_after)
    });
    assert!(
        late < Duration::from_secs(2),
        "the sleeper woke after {late:?}"
    );
    // They yielded: sysmon never had to hand a worker off (which starts a
    // thread).
    assert_eq!(threads_before, threads_after, "workers were handed off");
    println!("SLEEPER WOKE after {late:?}");
}

#[test]
fn a_locked_goroutine_keeps_its_thread_and_has_it_to_itself() {
    let _serial = serial();
    goro::gomaxprocs(2);
    let (same, intruders) = goro::run(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let locked_thread = Arc::new(parking_lot::Mutex::new(None));
        let intruders = Arc::new(AtomicU64::new(0));
        let others: Vec<_> = (0..4)
            .map(|_| {
                let (stop, lt, intruders) =
                    (stop.clone(), locked_thread.clone(), intruders.clone());
                goro::go!(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if *lt.lock() == Some(std::thread::current().id()) {
                            intruders.fetch_add(1, Ordering::Relaxed);
                        }
                        goro::time::sleep(Duration::from_micros(200));
                    }
                })
            })
            .collect();
        let locked = {
            let lt = locked_thread.clone();
            goro::go!(move || {
                goro::lock_os_thread();
                goro::lock_os_thread(); // nests
                let me = std::thread::current().id();
                *lt.lock() = Some(me);
                let mut same = true;
                for _ in 0..50 {
                    goro::time::sleep(Duration::from_millis(1));
                    goro::gosched();
                    same &= std::thread::current().id() == me;
                }
                goro::unlock_os_thread();
                same &= std::thread::current().id() == me; // still locked once
                *lt.lock() = None;
                goro::unlock_os_thread();
                same
            })
        };
        let same = locked.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        for o in others {
            o.join().unwrap();
        }
        (same, intruders.load(Ordering::Relaxed))
    });
    assert!(same, "the locked goroutine changed threads");
    assert_eq!(intruders, 0, "other goroutines ran on the locked thread");
}

/// Parks (a channel receive with a timeout) when dropped.
struct ParksOnDrop;

impl Drop for ParksOnDrop {
    fn drop(&mut self) {
        let before = std::thread::current().id();
        let (_tx, rx) = goro::chan::<()>(0);
        let _ = rx.recv_timeout(Duration::from_millis(2));
        assert_eq!(before, std::thread::current().id(), "moved while unwinding");
    }
}

#[test]
fn goroutines_that_park_while_unwinding_poison_nobody_elses_mutex() {
    let _serial = serial();
    goro::gomaxprocs(2);
    let poisoned = goro::run(|| {
        let unwinders: Vec<_> = (0..50)
            .map(|i| {
                goro::go!(move || {
                    let _guard = ParksOnDrop;
                    if i % 2 == 0 {
                        panic!("unwinding goroutine {i}");
                    } else {
                        goro::goexit();
                    }
                })
            })
            .collect();
        let bystanders: Vec<_> = (0..200)
            .map(|_| {
                goro::go!(|| {
                    let m = std::sync::Mutex::new(0);
                    for _ in 0..20 {
                        let guard = m.lock();
                        // std poisons a mutex whose guard drops while
                        // `thread::panicking()` is true.
                        drop(guard);
                        goro::time::sleep(Duration::from_micros(100));
                    }
                    m.is_poisoned()
                })
            })
            .collect();
        for u in unwinders {
            assert!(u.join().is_err());
        }
        bystanders
            .into_iter()
            .filter(|_| true)
            .map(|b| b.join().unwrap())
            .filter(|&p| p)
            .count()
    });
    assert_eq!(poisoned, 0, "bystanders' mutexes were poisoned");
}

#[test]
fn gomaxprocs_churn_beside_paused_hogs_keeps_a_worker_running() {
    // Regression: sysmon paused a hog whose worker gomaxprocs had asked to
    // retire; the next raise took the retirement back and counted the
    // paused thread as the active worker, which lent nobody a token: every
    // other worker parked as a spare and nothing ran again.
    let _serial = serial();
    goro::gomaxprocs(2);
    let stop = Arc::new(AtomicBool::new(false));
    let hogs = hogs(4, &stop);
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(2) {
        for i in 0..200u32 {
            goro::gomaxprocs(1);
            std::thread::sleep(Duration::from_micros(u64::from(i % 7) * 300));
            goro::gomaxprocs(2);
            std::thread::sleep(Duration::from_micros(u64::from(i % 5) * 300));
        }
        round += 1;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(goro::go!(|| 7).join().unwrap());
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Ok(7),
            "round {round}: no worker ran a new goroutine"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for (h, _) in hogs {
        h.join().unwrap();
    }
}
