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

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: hotpath gosched|chan|spawn N [PROCS]";
    let mode = args.next().expect(usage);
    let n: u64 = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let procs: usize = args.next().map_or(1, |p| p.parse().expect(usage));
    goro::gomaxprocs(procs);
    let start = std::time::Instant::now();
    let label = mode.clone();
    goro::run(move || match mode.as_str() {
        "gosched" => {
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
        "chan" => {
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
        "spawn" => {
            let handles: Vec<_> = (0..n).map(|i| goro::go!(move || i)).collect();
            for h in handles {
                h.join().unwrap();
            }
        }
        _ => panic!("{usage}"),
    });
    let per_op = start.elapsed().as_nanos() / u128::from(n.max(1));
    say!("hotpath {label}: {per_op} ns per op on {procs} worker(s)");
}
