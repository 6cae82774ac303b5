//! IPC between two processes with criterion: the 64-byte round trip of
//! every method of the report's `ipc` section (pipe, FIFO, Unix stream and
//! datagram sockets, TCP loopback, POSIX message queue, `ShmRing`, shared
//! memory with `Semaphore`), with goroutines on both sides (one goroutine
//! per process, `gomaxprocs(1)`, goro's types) and with plain threads on
//! both sides (std's types where std has them). The peer is this binary
//! re-executed (`support/ipc.rs`'s peer role), echoing until the bench
//! drops the link.
//!
//! ```text
//! cargo bench -p goro-compare --bench ipc                    # every method, both sides
//! cargo bench -p goro-compare --bench ipc -- 'ipc_round_trip/pipe'
//! cargo run --release -p goro-compare --example report -- ipc   # + one-way throughput, verdicts, plot
//! ```
//!
//! Bench ids: `ipc_round_trip/<method>/<side>`; one iteration is one
//! round trip. Under `cargo test --benches` each runs once.

#[macro_use]
#[path = "../../../examples/support/out.rs"]
mod out;
#[path = "../support/ipc.rs"]
mod ipc;

use criterion::Criterion;
use ipc::{Method, Plan, Session, Side, ECHO_FOREVER};

fn round_trips(c: &mut Criterion, side: Side) {
    let mut g = c.benchmark_group("ipc_round_trip");
    let plan = Plan {
        round_trips: ECHO_FOREVER,
        small: 0,
        big: 0,
    };
    for method in Method::ALL {
        // Started where it runs: a goroutine's link is made by a goroutine.
        let session = ipc::on_side(side, move || Session::start(method, side, plan));
        let mut session = match session {
            Ok(s) => Some(s),
            Err(e) => {
                say!(
                    "ipc_round_trip/{}/{}: skipped: {e}",
                    method.short(),
                    side.name()
                );
                continue;
            }
        };
        // The peer checks every message's sequence number: it runs on
        // across criterion's calls.
        let mut seq = 0;
        g.bench_function(format!("{}/{}", method.short(), side.name()), |b| {
            b.iter_custom(|iters| {
                let n = iters as usize;
                let mut s = session.take().expect("the session is back after each call");
                let (s, took) = ipc::on_side(side, move || {
                    let took = ipc::round_trips(&mut *s.link, seq, n);
                    (s, took)
                });
                session = Some(s);
                seq += n;
                took.expect("a round trip")
            })
        });
        drop(session); // kills and reaps the echoing peer
    }
    g.finish();
}

fn main() {
    ipc::handle_role();
    let mut c = Criterion::default().configure_from_args();
    for side in Side::ALL {
        round_trips(&mut c, side);
    }
    c.final_summary();
}
