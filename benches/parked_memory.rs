//! Memory per parked goroutine: RSS growth while 100,000 goroutines are
//! parked (each in `join` on the previous one), and the time to get them
//! there. The memory figure is printed; criterion times the parking.
//!
//! Then a million: 1,000,000 goroutines parked receiving on one channel,
//! released by closing it, in a fresh process of this bench (so every stack
//! is fresh memory); it prints the time to park and to release them, and
//! bytes of RSS and map entries per parked goroutine. It runs only when
//! `MemAvailable` covers it (about 5 GB; the reason is printed otherwise).
//! `examples/scale_spawn.rs` runs the same load beside Go.
//!
//! `cargo bench --bench parked_memory`

#[path = "../examples/support/parked.rs"]
mod parked;

use criterion::{criterion_group, Criterion};
use parked::{mem_available, park_on_channel, rss_bytes, Parked};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PARKED: usize = 100_000;

/// The million case, and the environment variable that makes a process of
/// this bench run only that case.
const MILLION: usize = 1_000_000;
const MILLION_CHILD: &str = "GORO_PARKED_MEMORY_MILLION";

/// Memory the million case needs: measured 4.4 KB of RSS and 0.5 KB of page
/// tables per parked goroutine; asked for with room to spare.
const MILLION_NEEDS: usize = MILLION * 8 * 1024;

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

/// Runs the million case in a fresh process of this bench, if the machine
/// has the memory.
fn million_parked() {
    match mem_available() {
        Some(available) if available >= MILLION_NEEDS => {}
        available => {
            println!(
                "parked_memory: {MILLION} parked skipped: needs {} MiB available, /proc/meminfo says {}",
                MILLION_NEEDS >> 20,
                available.map_or("nothing readable".to_string(), |a| format!("{} MiB", a >> 20))
            );
            return;
        }
    }
    let status = std::process::Command::new(std::env::current_exe().expect("this bench's path"))
        .env(MILLION_CHILD, "1")
        .status()
        .expect("run the million case in a fresh process");
    assert!(status.success(), "the million case failed: {status}");
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = parked_memory
}

fn main() {
    if std::env::var_os(MILLION_CHILD).is_some() {
        let Parked {
            park,
            release,
            rss_bytes_per_g: rss,
            maps,
        } = park_on_channel(MILLION);
        println!(
            "parked_memory: {MILLION} parked on one channel in {:.2} s ({:.2} µs each), released in {:.2} s; {rss} bytes of RSS per parked goroutine, {maps} map entries (vm.max_map_count: {})",
            park.as_secs_f64(),
            park.as_secs_f64() * 1e6 / MILLION as f64,
            release.as_secs_f64(),
            std::fs::read_to_string("/proc/sys/vm/max_map_count").map_or("unknown".into(), |s| s.trim().to_string()),
        );
        return;
    }
    benches();
    million_parked();
    Criterion::default().configure_from_args().final_summary();
}
