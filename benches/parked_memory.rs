//! Memory per parked goroutine: RSS growth while 100,000 goroutines are
//! parked (each in `join` on the previous one), and the time to get them
//! there. The memory figure is printed; criterion times the parking.
//!
//! `cargo bench --bench parked_memory`

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARKED: usize = 100_000;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Parks `PARKED` goroutines in a join chain, calls `measure` while all are
/// parked, releases them and returns the time taken to park them.
fn park_chain(measure: impl FnOnce()) -> Duration {
    let release = Arc::new(AtomicBool::new(false));
    let parked = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let rel = release.clone();
    let mut last = goro::go!(move || {
        while !rel.load(Ordering::SeqCst) {
            goro::time::sleep(Duration::from_millis(1));
        }
    });
    for _ in 1..PARKED {
        let parked = parked.clone();
        let prev = last;
        last = goro::go!(move || {
            parked.fetch_add(1, Ordering::SeqCst);
            prev.join().unwrap();
        });
    }
    while parked.load(Ordering::SeqCst) < PARKED - 1 {
        goro::gosched();
    }
    // Let the last ones finish switching out.
    goro::time::sleep(Duration::from_millis(5));
    let elapsed = start.elapsed();
    measure();
    release.store(true, Ordering::SeqCst);
    last.join().unwrap();
    elapsed
}

fn parked_memory(c: &mut Criterion) {
    // First run in a fresh process: fresh stacks, so RSS growth is what
    // 100,000 parked goroutines really cost.
    let per_goroutine = goro::run(|| {
        let before = rss_bytes();
        let mut after = 0;
        park_chain(|| after = rss_bytes());
        (after - before) / PARKED
    });
    println!("parked_memory: {per_goroutine} bytes of RSS per parked goroutine ({PARKED} parked, default stacks)");
    c.bench_function("park_100k_goroutines", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += goro::run(|| park_chain(|| ()));
            }
            total
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = parked_memory
}
criterion_main!(benches);
