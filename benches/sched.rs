//! Scheduling benches: what preemption, the CPU-token cap and the
//! blocked-worker hand-off buy, measured with criterion.
//!
//! - `sched_probe_lateness/<N>_hogs_<W>_workers` (N = 1, 2, 8, 64; W = 1,
//!   2): a goroutine sleeps 1 ms beside N CPU hogs (goroutines that never
//!   call goro); criterion's time per iteration is the probe's mean wake-up
//!   lateness (`iter_custom` returns the summed lateness). Each
//!   configuration also prints the p99 and worst lateness over every
//!   probe it ran.
//! - `sched_handoff/200_blocked_200ms_2_workers`: 200 goroutines each in
//!   `std::thread::sleep(200 ms)` on `gomaxprocs(2)`; time until all are
//!   done (0.2 s is the floor), and a 5 ms ticker goroutine's worst gap
//!   printed.
//! - `sched_echo_p99_100_conns/<no|4>_hogs`: an echo server in a child
//!   process (2 workers, with 0 or 4 hogs among its goroutines) driven by
//!   100 connections of 64-byte round trips from this process (2 workers).
//!   One iteration is one round trip on every connection; criterion's time
//!   per iteration is the p99 round trip of that sample (`iter_custom`
//!   returns p99 x iterations). p50/p99/max over all samples are printed.
//!
//! The loads are `examples/support/sched.rs`, shared with the `sched`
//! section of `benches/compare/examples/report.rs` (which also counts threads executing
//! goroutine code and runs the design without signal pausing).
//!
//! ```text
//! cargo bench --bench sched                         # everything (~1 min)
//! cargo bench --bench sched -- sched_probe_lateness # one group
//! cargo run --release -p goro-compare --example report -- sched     # the table
//! ```
//!
//! Criterion plans iteration counts by wall time (its warm-up times the
//! calls), whatever `iter_custom` returns, so each probe configuration
//! takes about 3 s however late the probes are: ~150 probes when each is
//! ~10 ms late, thousands when each is ~0.1 ms late. Sampling is flat
//! (every sample the same iteration count) because each call pays a fixed
//! set-up (starting the hogs, connecting).
//! Under `cargo test --benches` every bench runs once (a few seconds).

#[macro_use]
#[path = "../examples/support/out.rs"]
mod out;
#[path = "../examples/support/child.rs"]
mod child;
#[path = "../examples/support/loadgen.rs"]
mod loadgen;
#[path = "../examples/support/sched.rs"]
mod sched;

use criterion::{criterion_group, Criterion, SamplingMode};
use std::time::Duration;

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn probe_lateness(c: &mut Criterion) {
    let mut group = c.benchmark_group("sched_probe_lateness");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    for workers in [1, 2] {
        for hogs in [1, 2, 8, 64] {
            let mut all = Vec::new();
            group.bench_function(format!("{hogs}_hogs_{workers}_workers"), |b| {
                b.iter_custom(|iters| {
                    let run = sched::probe(hogs, workers, iters as usize, Duration::MAX, false);
                    all.extend_from_slice(&run.late);
                    run.late.iter().sum()
                })
            });
            all.sort();
            let mean = all.iter().sum::<Duration>() / all.len().max(1) as u32;
            say!(
                "sched_probe_lateness {hogs} hogs, {workers} workers: {} probes, mean {}, p99 {}, worst {}",
                all.len(),
                ms(mean),
                ms(sched::quantile(&all, 0.99)),
                ms(all.last().copied().unwrap_or_default())
            );
        }
    }
    group.finish();
}

fn handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("sched_handoff");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(3));
    let mut runs = Vec::new();
    group.bench_function("200_blocked_200ms_2_workers", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let h = sched::handoff(200, Duration::from_millis(200), 2);
                    runs.push(h);
                    h.elapsed
                })
                .sum()
        })
    });
    group.finish();
    let mut took: Vec<Duration> = runs.iter().map(|h| h.elapsed).collect();
    took.sort();
    say!(
        "sched_handoff 200 x sleep(200 ms) on 2 workers: {} runs, median {}, worst {}; 5 ms ticker worst gap {}",
        runs.len(),
        ms(took.get(took.len() / 2).copied().unwrap_or_default()),
        ms(took.last().copied().unwrap_or_default()),
        ms(runs.iter().map(|h| h.worst_gap).max().unwrap_or_default())
    );
}

fn echo_p99(c: &mut Criterion) {
    let mut group = c.benchmark_group("sched_echo_p99_100_conns");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(1));
    for hogs in [0, 4] {
        let server = sched::echo_server(hogs, 2, &[]);
        let mut hist = loadgen::Histogram::default();
        let name = if hogs == 0 {
            "no_hogs".to_string()
        } else {
            format!("{hogs}_hogs")
        };
        group.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let report = sched::echo(server.addr, 100, iters, None, 2);
                hist.merge(&report.latency);
                report.latency.quantile(0.99) * iters as u32
            })
        });
        drop(server);
        say!(
            "sched_echo 100 conns, server 2 workers, {hogs} hogs: {} round trips, p50 {}, p99 {}, max {}",
            hist.count(),
            ms(hist.quantile(0.50)),
            ms(hist.quantile(0.99)),
            ms(hist.max())
        );
    }
    group.finish();
}

criterion_group!(benches, probe_lateness, handoff, echo_p99);

/// criterion_main!, after answering a helper role (the echo server child).
fn main() {
    sched::handle_role();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
