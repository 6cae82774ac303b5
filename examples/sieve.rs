//! The concurrent prime sieve from Go's tour: a generator goroutine feeds
//! a chain of filter goroutines, one per prime found so far.
//!
//! Run: `cargo run --release --example sieve -- 20`

#[macro_use]
#[path = "support/out.rs"]
mod out;

use clap::Parser;
use goro::{chan, Receiver, Sender};

/// The concurrent prime sieve: prints the first N primes, each found by a
/// chain of filter goroutines.
#[derive(Parser)]
struct Args {
    /// How many primes to print.
    #[arg(default_value_t = 100)]
    n: usize,
}

/// Sends 2, 3, 4, ... until the receiver goes away.
fn generate(out: Sender<u64>) {
    for i in 2.. {
        if out.send(i).is_err() {
            return;
        }
    }
}

/// Passes on the values of `input` that `prime` does not divide.
fn filter(input: Receiver<u64>, out: Sender<u64>, prime: u64) {
    for i in &input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

fn main() {
    let Args { n } = Args::parse();
    goro::main(move || {
        let (tx, mut rx) = chan(0);
        goro::go!(generate(tx));
        for _ in 0..n {
            let prime = rx.recv().unwrap();
            say!("{prime}");
            let (tx, next) = chan(0);
            goro::go!(filter(rx, tx, prime));
            rx = next;
        }
    })
}
