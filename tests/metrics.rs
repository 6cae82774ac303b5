//! `goro::metrics()` against workloads whose counts are known: goroutines
//! by state and wait reason, spawn and finish totals, the workers' pops,
//! timers, the reactor, threads and stacks.
//!
//! The counts are process-wide, so every test here runs under one lock
//! (`serial`) and measures deltas from a snapshot taken after it. Counts
//! that move a moment after the event (a goroutine is counted finished
//! just after its result is out) are waited for with a generous deadline.

use goro::{Metrics, WaitReason};
use std::io::{Read, Write};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `metrics()` until `ok` holds, or fails after 10 s with `what`
/// and the last snapshot.
fn wait_for(what: &str, mut ok: impl FnMut(&Metrics) -> bool) -> Metrics {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = goro::metrics();
        if ok(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {m:#?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_thousand_spawned_five_hundred_parked_on_a_channel() {
    let _serial = serial();
    let before = wait_for("a quiet runtime", |m| m.running() == 0);
    let (tx, rx) = goro::chan::<()>(0);
    let mut handles = Vec::new();
    for i in 0..1000 {
        let rx = rx.clone();
        handles.push(goro::go!(move || {
            if i % 2 == 0 {
                assert!(rx.recv().is_err()); // parks until the channel closes
            }
        }));
    }
    drop(rx);
    let parked = wait_for("500 receivers parked, 500 finished", |m| {
        m.blocked_on(WaitReason::ChanRecv) == before.blocked_on(WaitReason::ChanRecv) + 500
            && m.goroutines() == before.goroutines() + 500
    });
    assert_eq!(parked.spawned() - before.spawned(), 1000);
    assert_eq!(parked.blocked() - before.blocked(), 500);
    assert_eq!(
        parked.goroutines(),
        parked.runnable() + parked.running() + parked.blocked()
    );
    // Every goroutine ran at least once; the 500 parked ones are not done.
    // A snapshot reads the workers' counts (turns, goroutines finished)
    // before it walks the goroutines, whose counts `parked` was chosen
    // by: read the totals again, after.
    let later = goro::metrics();
    assert!(later.worker_totals().ticks() - before.worker_totals().ticks() >= 1000);
    assert!(later.finished() - before.finished() >= 500);
    assert!(later.finished() - before.finished() < 1000);

    drop(tx); // every receive fails: the rest finish
    for h in handles {
        h.join().unwrap();
    }
    let done = wait_for("all 1000 finished", |m| {
        m.finished() - before.finished() == 1000 && m.goroutines() == before.goroutines()
    });
    assert_eq!(
        done.blocked_on(WaitReason::ChanRecv),
        before.blocked_on(WaitReason::ChanRecv)
    );
}

#[test]
fn every_turn_is_one_counted_pop() {
    let _serial = serial();
    let before = goro::metrics().worker_totals().clone();
    // Ping-pong (runnext), spawns from a goroutine (runnext and local
    // queue, stolen by the idle worker), spawns from this thread (global
    // queue), gosched (local or global queue).
    let (ping_tx, ping_rx) = goro::chan::<u32>(0);
    let (pong_tx, pong_rx) = goro::chan::<u32>(0);
    let echo = goro::go!(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).unwrap();
        }
    });
    let pinger = goro::go!(move || {
        for i in 0..1000 {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
        }
    });
    let fan = goro::go!(|| {
        let hs: Vec<_> = (0..200).map(|_| goro::go!(goro::gosched())).collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
    let outside: Vec<_> = (0..200).map(|_| goro::go!(|| ())).collect();
    pinger.join().unwrap();
    echo.join().unwrap();
    fan.join().unwrap();
    outside.into_iter().for_each(|h| h.join().unwrap());

    let after = wait_for("the pops to add up to the ticks", |m| {
        let w = m.worker_totals();
        w.ticks()
            == w.runnext_hits()
                + w.local_pops()
                + w.global_pops()
                + w.stolen_pops()
                + w.paused_pops()
    });
    let w = after.worker_totals();
    // 2,000 channel hops, 400 spawns, 200 yields, 4 drivers.
    assert!(w.ticks() - before.ticks() >= 2600, "{w:?}");
    assert!(w.runnext_hits() - before.runnext_hits() >= 1000, "{w:?}");
    assert!(w.global_pops() - before.global_pops() >= 1, "{w:?}");
    assert!(w.parks() >= before.parks());
    assert!(w.busy_time() > before.busy_time());
    assert_eq!(after.workers().len() as u64, after.gomaxprocs());
    let active_ticks: u64 = after.workers().iter().map(|w| w.ticks()).sum();
    assert!(active_ticks <= w.ticks());
}

#[test]
fn sleepers_show_as_sleeping() {
    let _serial = serial();
    let before = goro::metrics();
    let sleepers: Vec<_> = (0..50)
        .map(|_| goro::go!(|| goro::time::sleep(Duration::from_secs(1))))
        .collect();
    // The snapshot reads the timer heaps before it walks the goroutines,
    // so a sleeper may count as sleeping in a snapshot that read the heaps
    // just before it armed its timer: wait for both. Pending is a gauge,
    // not a total (timers cancelled before this test may leave the heaps
    // meanwhile), so only the sleepers' own 50 are certain.
    let m = wait_for("50 sleepers and their timers", |m| {
        m.blocked_on(WaitReason::Sleep) == before.blocked_on(WaitReason::Sleep) + 50
            && m.timers_pending() >= 50
    });
    assert_eq!(
        m.blocked_on(WaitReason::ChanRecv),
        before.blocked_on(WaitReason::ChanRecv)
    );
    sleepers.into_iter().for_each(|h| h.join().unwrap());
    wait_for("the sleepers gone", |m| {
        m.blocked_on(WaitReason::Sleep) == before.blocked_on(WaitReason::Sleep)
    });
}

#[test]
fn timers_armed_fired_and_cancelled_add_up() {
    let _serial = serial();
    let before = goro::metrics();
    let fire: Vec<_> = (0..20)
        .map(|_| goro::time::after(Duration::from_millis(1)))
        .collect();
    let cancel: Vec<_> = (0..30)
        .map(|_| goro::time::after(Duration::from_secs(60)))
        .collect();
    for rx in &fire {
        rx.recv().unwrap();
    }
    drop(fire); // already fired: dropping cancels nothing
    drop(cancel);
    let m = goro::metrics();
    assert_eq!(m.timers_armed() - before.timers_armed(), 50);
    assert_eq!(m.timers_fired() - before.timers_fired(), 20);
    assert_eq!(m.timers_cancelled() - before.timers_cancelled(), 30);
    assert_eq!(m.timers_pending(), before.timers_pending());
}

#[test]
fn socket_traffic_goes_through_the_reactor() {
    let _serial = serial();
    let before = goro::metrics();
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = goro::go!(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            conn.write_all(&buf[..n]).unwrap();
        }
    });
    let (done_tx, done_rx) = goro::chan::<()>(0);
    let client = goro::go!(move || {
        let mut conn = goro::net::TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 5];
        for _ in 0..100 {
            conn.write_all(b"hello").unwrap();
            conn.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hello");
        }
        // Keeps the connection open: the server waits in a read meanwhile.
        let _ = done_rx.recv();
    });
    wait_for("the server parked reading its socket", |m| {
        m.blocked_on(WaitReason::IoRead) > before.blocked_on(WaitReason::IoRead)
            && m.io_waiters() > 0
    });
    drop(done_tx);
    client.join().unwrap();
    server.join().unwrap();
    let m = goro::metrics();
    // Each round trip parks a reader at least once on a loaded machine;
    // at least one wake came from a poll's event.
    assert!(m.reactor_polls() > before.reactor_polls(), "{m:#?}");
    assert!(m.reactor_events() > before.reactor_events(), "{m:#?}");
}

#[test]
fn threads_blocking_pool_and_locked_goroutines() {
    let _serial = serial();
    let before = goro::metrics();
    let blocked_before = before.blocked_on(WaitReason::Blocking);
    let (inside, locked) = goro::go!(move || {
        // On the pool's thread, until the caller has parked for it.
        let inside = goro::blocking(|| {
            wait_for("the caller parked", |m| {
                m.blocked_on(WaitReason::Blocking) == blocked_before + 1
            })
        });
        goro::lock_os_thread();
        let locked = goro::metrics();
        goro::unlock_os_thread();
        (inside, locked)
    })
    .join()
    .unwrap();
    assert!(inside.blocking_threads() >= 1);
    assert_eq!(inside.blocking_jobs() - before.blocking_jobs(), 1);
    assert!(inside.threads() > inside.worker_threads() + inside.blocking_threads()); // and sysmon
    assert_eq!(locked.locked_to_thread(), before.locked_to_thread() + 1);
    assert!(locked.detached_threads() >= 1);
    // The locked thread left the active set and another took its place.
    assert_eq!(locked.workers().len() as u64, locked.gomaxprocs());
    assert!(locked.worker_threads() > locked.gomaxprocs());
    assert!(locked.threads() > locked.worker_threads()); // and sysmon
}

#[test]
fn gomaxprocs_workers_while_threads_come_and_go() {
    let _serial = serial();
    // Goroutines locking and unlocking their threads make workers leave
    // and rejoin the active set all the time.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            goro::go!(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    goro::lock_os_thread();
                    goro::gosched();
                    goro::unlock_os_thread();
                }
            })
        })
        .collect();
    let mut looks = 0;
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        looks += 1;
        let m = goro::metrics();
        assert_eq!(m.workers().len() as u64, m.gomaxprocs(), "{m:#?}");
        assert!(m.locked_to_thread() <= 4);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.into_iter().for_each(|h| h.join().unwrap());
    assert!(looks > 100, "only {looks} snapshots");
}

#[test]
fn stacks_are_counted_by_protection() {
    let _serial = serial();
    goro::go!(|| ()).join().unwrap();
    let m = goro::metrics();
    assert!(m.stacks_mapped() >= 64, "stacks come in slabs of 64: {m:?}");
    assert_eq!(
        m.stacks_guarded() + m.stacks_canary_checked(),
        m.stacks_mapped()
    );
    assert!(m.stacks_pooled() <= m.stacks_mapped());
}
