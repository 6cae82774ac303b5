//! Runtime core benches: gosched switch, spawn+join, on one worker and on
//! all workers (the setting is part of the bench name).
//!
//! `cargo bench --bench core`; quick look: `cargo bench --bench core -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

/// Two goroutines gosched in turn; criterion's "time per iteration" is one
/// round of both, i.e. two switches: halve it for ns per switch.
fn gosched_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("gosched_round");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let start = Instant::now();
                    let other = goro::go!(move || {
                        for _ in 0..iters {
                            goro::gosched();
                        }
                    });
                    for _ in 0..iters {
                        goro::gosched();
                    }
                    other.join().unwrap();
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// Spawn `iters` goroutines from a goroutine, then join them all: time per
/// goroutine.
fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let start = Instant::now();
                    let mut handles = Vec::with_capacity(iters as usize);
                    for i in 0..iters {
                        handles.push(goro::go!(move || i));
                    }
                    for h in handles {
                        std::hint::black_box(h.join().unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

/// ("one_worker", 1) and ("all_workers", cpus).
fn settings() -> [(&'static str, usize); 2] {
    [("one_worker", 1), ("all_workers", goro::num_cpu())]
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = gosched_ping_pong, spawn_join
}
criterion_main!(benches);
