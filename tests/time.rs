//! Time: sleep, after, tick, Timer and Ticker, and many concurrent sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::time::{after, sleep, tick, Ticker, Timer};

const MS: Duration = Duration::from_millis(1);

#[test]
fn sleep_in_a_goroutine_and_on_a_thread() {
    let h = goro::go!(|| {
        let t = Instant::now();
        sleep(20 * MS);
        t.elapsed()
    });
    assert!(h.join().unwrap() >= 20 * MS);
    let t = Instant::now();
    sleep(20 * MS);
    assert!(t.elapsed() >= 20 * MS);
}

#[test]
fn sleeping_goroutines_do_not_block_their_worker() {
    // Ten goroutines sleeping 50 ms each finish in about 50 ms, not 500,
    // whatever the number of workers.
    let h = goro::go!(|| {
        let t = Instant::now();
        let hs: Vec<_> = (0..10).map(|_| goro::go!(|| sleep(50 * MS))).collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        t.elapsed()
    });
    let took = h.join().unwrap();
    assert!(took >= 50 * MS);
    assert!(took < 400 * MS, "sleeps ran one after another: {took:?}");
}

#[test]
fn after_delivers_once_then_closes() {
    let t = Instant::now();
    let rx = after(20 * MS);
    let at = rx.recv().unwrap();
    assert!(at >= t + 20 * MS);
    assert!(t.elapsed() >= 20 * MS);
    assert!(rx.recv().is_err(), "after's channel closes after its value");
}

#[test]
fn after_in_select_from_a_goroutine() {
    let h = goro::go!(|| {
        let (_tx, rx) = goro::chan::<u32>(0);
        let t = Instant::now();
        let r = goro::select! {
            recv(rx) -> _ => 0,
            recv(after(30 * MS)) -> v => { assert!(v.is_ok()); 1 }
        };
        (r, t.elapsed())
    });
    let (r, took) = h.join().unwrap();
    assert_eq!(r, 1);
    assert!(took >= 30 * MS);
}

#[test]
fn tick_ticks_and_keeps_the_grid() {
    let rx = tick(10 * MS);
    let t = Instant::now();
    let mut last = t;
    for _ in 0..5 {
        let at = rx.recv().unwrap();
        assert!(at >= last);
        last = at;
    }
    assert!(
        t.elapsed() >= 40 * MS,
        "5 ticks of 10 ms in {:?}",
        t.elapsed()
    );
}

#[test]
fn tick_drops_ticks_for_a_slow_receiver() {
    let rx = tick(20 * MS);
    std::thread::sleep(200 * MS); // ~10 ticks fire meanwhile
                                  // The channel holds one tick; the others were dropped, not queued. A
                                  // tight loop may see one more tick fire, never the ten.
    let piled = rx.try_iter().count();
    assert!((1..=3).contains(&piled), "{piled} ticks were waiting");
    // And it keeps ticking.
    assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[test]
fn timer_fires_once() {
    let t = Timer::new(10 * MS);
    assert!(t.c.recv_timeout(Duration::from_secs(5)).is_ok());
    assert!(t.c.recv_timeout(50 * MS).is_err(), "fired twice");
    assert!(!t.stop(), "stop after firing reports false");
}

#[test]
fn timer_stop_prevents_firing() {
    let t = Timer::new(20 * MS);
    assert!(t.stop());
    assert!(!t.stop(), "second stop reports false");
    assert!(t.c.recv_timeout(80 * MS).is_err(), "a stopped timer fired");
}

#[test]
fn timer_stop_drops_a_stale_value() {
    let t = Timer::new(MS);
    std::thread::sleep(30 * MS);
    t.stop();
    assert!(t.c.try_recv().is_err(), "stale value after stop");
}

#[test]
fn timer_reset_moves_the_deadline() {
    let start = Instant::now();
    let t = Timer::new(Duration::from_secs(30));
    assert!(t.reset(20 * MS), "reset of a pending timer reports true");
    let at = t.c.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(at >= start + 20 * MS);
    assert!(start.elapsed() < Duration::from_secs(5));
    // Reset after firing rearms it.
    assert!(!t.reset(10 * MS));
    assert!(t.c.recv_timeout(Duration::from_secs(5)).is_ok());
}

#[test]
fn ticker_stop_and_reset() {
    let k = Ticker::new(5 * MS);
    assert!(k.c.recv_timeout(Duration::from_secs(5)).is_ok());
    k.stop();
    assert!(
        k.c.recv_timeout(60 * MS).is_err(),
        "a stopped ticker ticked"
    );
    k.reset(5 * MS);
    for _ in 0..3 {
        assert!(k.c.recv_timeout(Duration::from_secs(5)).is_ok());
    }
}

#[test]
fn dropping_a_timer_stops_it() {
    let t = Timer::new(10 * MS);
    let rx = t.c.clone();
    drop(t);
    // No value ever comes: the channel closes instead.
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(1)),
        Err(goro::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn hundred_thousand_concurrent_sleeps() {
    let n = 100_000;
    let woke = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let w = woke.clone();
    goro::run(move || {
        let (done_tx, done_rx) = goro::chan::<()>(0);
        for _ in 0..n {
            let w = w.clone();
            let done_tx = done_tx.clone();
            goro::go!(move || {
                sleep(200 * MS);
                w.fetch_add(1, Ordering::Relaxed);
                drop(done_tx);
            });
        }
        drop(done_tx);
        // Closed once every goroutine dropped its sender.
        assert!(done_rx.recv().is_err());
    });
    assert_eq!(woke.load(Ordering::Relaxed), n);
    let took = t.elapsed();
    assert!(took >= 200 * MS);
    assert!(took < Duration::from_secs(30), "100k sleeps took {took:?}");
}
