//! The scheduler's hot paths, N times, for instruction counts that do not
//! depend on how busy the machine is: `hotpath MODE N [PROCS]`, MODE one
//! of `gosched` (N rounds of two goroutines yielding in turn), `chan` (N
//! unbuffered round trips), `spawn` (N goroutines spawned, then joined),
//! on `gomaxprocs(PROCS)` (default 1). Run it under callgrind twice, with
//! two values of N, and divide the difference of the worker thread's
//! totals by the difference of N (startup cancels out):
//!
//! ```text
//! valgrind --tool=callgrind --separate-threads=yes target/release/examples/hotpath gosched 21000
//! ```
//!
//! It also prints the wall time per operation (per round for `gosched`
//! and `chan`), for A/B runs by hand: `hotpath chan 2000000 2` against
//! `hotpath chan 2000000 1` is the two-workers-vs-one round trip.

#[path = "support/out.rs"]
#[macro_use]
mod out;

use clap::{Parser, ValueEnum};

/// The scheduler's hot paths, N times, for instruction counts (callgrind)
/// and wall time per operation.
#[derive(Parser)]
struct Args {
    /// The hot path to run.
    mode: Mode,
    /// Operations (rounds for gosched and chan).
    n: u64,
    /// Workers (`gomaxprocs`).
    #[arg(default_value_t = 1)]
    procs: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// N rounds of two goroutines yielding in turn.
    Gosched,
    /// N unbuffered round trips.
    Chan,
    /// N goroutines spawned, then joined.
    Spawn,
}

fn main() {
    let Args { mode, n, procs } = Args::parse();
    goro::gomaxprocs(procs);
    let start = std::time::Instant::now();
    let label = mode.to_possible_value().unwrap().get_name().to_string();
    goro::run(move || match mode {
        Mode::Gosched => {
            let other = goro::go!(move || {
                for _ in 0..n {
                    goro::gosched();
                }
            });
            for _ in 0..n {
                goro::gosched();
            }
            other.join().unwrap();
        }
        Mode::Chan => {
            let (ping_tx, ping_rx) = goro::chan::<u64>(0);
            let (pong_tx, pong_rx) = goro::chan::<u64>(0);
            let echo = goro::go!(move || {
                for _ in 0..n {
                    let v = ping_rx.recv().unwrap();
                    pong_tx.send(v).unwrap();
                }
            });
            for i in 0..n {
                ping_tx.send(i).unwrap();
                pong_rx.recv().unwrap();
            }
            echo.join().unwrap();
        }
        Mode::Spawn => {
            let handles: Vec<_> = (0..n).map(|i| goro::go!(move || i)).collect();
            for h in handles {
                h.join().unwrap();
            }
        }
    });
    let per_op = start.elapsed().as_nanos() / u128::from(n.max(1));
    say!("hotpath {label}: {per_op} ns per op on {procs} worker(s)");
}
