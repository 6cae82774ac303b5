//! A fan-out/fan-in pipeline (Go blog, "Pipelines and cancellation"): one
//! stage generates numbers, several workers square them in parallel, one
//! merge stage collects their results; a `done` channel cancels everything
//! early.
//!
//! Run: `cargo run --release --example pipeline`

#[macro_use]
#[path = "support/out.rs"]
mod out;

use std::time::Duration;

use clap::Parser;
use goro::{chan, select, Receiver};

/// Stage 1: emits `0..n`, or stops when `done` is closed.
fn generate(n: u64, done: Receiver<()>) -> Receiver<u64> {
    let (out, rx) = chan(0);
    goro::go!(move || {
        for i in 0..n {
            select! {
                send(out, i) -> _ => {}
                recv(done) -> _ => return,
            }
        }
    });
    rx
}

/// Stage 2 (fanned out): squares what it receives.
fn square(input: Receiver<u64>, done: Receiver<()>) -> Receiver<u64> {
    let (out, rx) = chan(0);
    goro::go!(move || {
        for v in &input {
            goro::time::sleep(Duration::from_micros(100)); // pretend to work
            select! {
                send(out, v * v) -> _ => {}
                recv(done) -> _ => return,
            }
        }
    });
    rx
}

/// Stage 3 (fan-in): one channel carrying every worker's output. It closes
/// when every worker is finished, since each forwarder drops its sender.
fn merge(inputs: Vec<Receiver<u64>>) -> Receiver<u64> {
    let (out, rx) = chan(16);
    for input in inputs {
        let out = out.clone();
        goro::go!(move || {
            for v in &input {
                if out.send(v).is_err() {
                    return;
                }
            }
        });
    }
    rx
}

/// A fan-out/fan-in pipeline of goroutines with cancellation. Takes no
/// arguments.
#[derive(Parser)]
struct Args {}

fn main() {
    Args::parse();
    goro::main(|| {
        // The whole pipeline: 1000 numbers, 8 workers.
        let (done_tx, done) = chan::<()>(0);
        let source = generate(1000, done.clone());
        let workers = (0..8)
            .map(|_| square(source.clone(), done.clone()))
            .collect();
        let results = merge(workers);
        let sum: u64 = results.iter().sum();
        assert_eq!(sum, (0..1000u64).map(|i| i * i).sum());
        say!("sum of squares below 1000: {sum}");
        drop(done_tx);

        // Cancellation: take three results, then close `done`; every stage
        // sees it in its select and returns.
        let (done_tx, done) = chan::<()>(0);
        let source = generate(1_000_000, done.clone());
        let workers = (0..8)
            .map(|_| square(source.clone(), done.clone()))
            .collect();
        let results = merge(workers);
        let first: Vec<u64> = results.iter().take(3).collect();
        say!("first three results: {first:?}");
        done_tx.close();
    })
}
