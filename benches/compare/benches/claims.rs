//! The textbook's claims, measured with criterion: switching (ns per
//! one-way handoff), creation (spawn + join), a CPU-bound job split into 64
//! tasks (wall time) and an IO-bound echo load of N tasks x K round trips
//! over loopback TCP (wall time of the exchange phase) — each by goroutines
//! (goro), OS threads, processes, tokio tasks and may coroutines, in two
//! settings that are part of every bench id: `single_core` (process pinned
//! to CPU 0 with `sched_setaffinity` before any thread starts, one worker)
//! and `multi_core` (all CPUs, a worker per CPU). The loads and the reasons
//! behind them (fork in the bench, a separate echo server process) are
//! documented in `benches/compare/support/claims.rs`.
//!
//! ```text
//! cargo bench -p goro-compare --bench claims                     # everything, both settings
//! cargo bench -p goro-compare --bench claims -- claims_switch    # one load
//! GORO_CLAIMS_SETTING=single_core cargo bench -p goro-compare --bench claims   # one setting
//! cargo run --release -p goro-compare --example report           # quick table + SVG plot
//! ```
//!
//! In each setting's process the contenders that fork run first, before
//! goro, tokio or may have made any coroutine stacks: a fork copies every
//! mapping of this process (see `claims::is_process`).
//!
//! Each setting runs in its own process: this binary re-executes itself
//! with `GORO_CLAIMS_SETTING` set (same arguments), first `single_core`,
//! then `multi_core`. Under `cargo test --benches` (criterion's test mode,
//! no `--bench` argument) every bench runs once on small sizes.
//!
//! Peers: tokio 1.54 (`rt-multi-thread`, `net`, `io-util`, `sync` only) and
//! may 0.3.51 (default features: work stealing, IO timeouts) both build
//! and run with rustc 1.95. One may quirk shapes its switching bench: a
//! new coroutine waits on a global queue that a worker reads only when its
//! local queue is empty, so `may_yield` lets the peer start (over a
//! channel) before yield-spinning, else one worker livelocks. criterion is
//! built without its HTML/plot features (see Cargo.toml), so its reports
//! are the terminal output and `target/criterion/`'s JSON.
//!
//! Bench ids: `claims_<load>/<contender>[_<N>]/<setting>`. IO-bound runs
//! stop at 1,000 processes (see [`IO_N`]).

#[path = "../../../examples/support/child.rs"]
mod child;
#[path = "../support/claims.rs"]
mod claims;

use child::ChildServer;
use claims::Setting;
use criterion::{BenchmarkId, Criterion, SamplingMode};
use std::time::Duration;

/// Tasks the CPU-bound job is split into.
const CPU_TASKS: u64 = 64;
/// Rounds of the CPU-bound job in a real run (about 100 ms sequentially on
/// the 2-core CI machine class); test mode runs 1/50 of it.
const CPU_TOTAL: u64 = 64 * 1_500_000;
/// Task counts of the IO-bound load. Processes stop at 1,000: beyond that,
/// forking (a page-table copy of this multi-threaded process each) takes
/// longer than the exchanges it sets up, and 10,000 processes plus the
/// server's 10,000 connections crowd the 2-core machine class for little
/// news; threads go to 10,000 with 128 KiB stacks.
const IO_N: [usize; 3] = [100, 1_000, 10_000];
const IO_PROCESS_MAX: usize = 1_000;
/// Round trips per task.
const IO_K: usize = 20;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn switching(c: &mut Criterion, setting: Setting, forks: bool) {
    let mut g = c.benchmark_group("claims_switch");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for name in claims::SWITCHES
        .into_iter()
        .filter(|n| claims::is_process(n) == forks)
    {
        g.bench_function(BenchmarkId::new(name, setting.name()), |b| {
            b.iter_custom(|iters| claims::switch(name, iters))
        });
    }
    g.finish();
}

fn creation(c: &mut Criterion, setting: Setting, forks: bool) {
    let mut g = c.benchmark_group("claims_create");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for name in claims::CREATIONS
        .into_iter()
        .filter(|n| claims::is_process(n) == forks)
    {
        g.bench_function(BenchmarkId::new(name, setting.name()), |b| {
            b.iter_custom(|iters| claims::create(name, iters))
        });
    }
    g.finish();
}

fn cpu(c: &mut Criterion, setting: Setting, forks: bool) {
    let total = if full_run() {
        CPU_TOTAL
    } else {
        CPU_TOTAL / 50
    };
    let expected = claims::cpu_expected(total, CPU_TASKS);
    let mut g = c.benchmark_group("claims_cpu64");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for name in claims::CPU_CONTENDERS
        .into_iter()
        .filter(|n| claims::is_process(n) == forks)
    {
        g.bench_function(BenchmarkId::new(name, setting.name()), |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    let (t, v) = claims::cpu(name, total, CPU_TASKS);
                    assert_eq!(v, expected, "{name} computed a wrong result");
                    took += t;
                }
                took
            })
        });
    }
    g.finish();
}

fn io(c: &mut Criterion, setting: Setting, forks: bool, server: &ChildServer) {
    let full = full_run();
    let (ns, k): (&[usize], usize) = if full { (&IO_N, IO_K) } else { (&IO_N[..1], 2) };
    let mut g = c.benchmark_group("claims_io");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for &n in ns {
        for name in claims::IO_CONTENDERS
            .into_iter()
            .filter(|n| claims::is_process(n) == forks)
        {
            if name == "process" && n > IO_PROCESS_MAX {
                continue;
            }
            let id = BenchmarkId::new(format!("{name}_{n}"), setting.name());
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut took = Duration::ZERO;
                    for _ in 0..iters {
                        took += claims::io(name, server.addr, n, k).wall;
                    }
                    took
                })
            });
        }
    }
    g.finish();
}

fn main() {
    claims::handle_roles();
    let ok = claims::run_settings(
        |setting| {
            let mut c = Criterion::default().configure_from_args();
            let server = claims::echo_server(setting);
            // Forking contenders first, while this process is lean (see
            // `claims::is_process`), then the rest.
            for forks in [true, false] {
                switching(&mut c, setting, forks);
                creation(&mut c, setting, forks);
                cpu(&mut c, setting, forks);
                io(&mut c, setting, forks, &server);
            }
            c.final_summary();
        },
        |line| println!("{line}"),
    );
    if !ok {
        std::process::exit(1);
    }
}
