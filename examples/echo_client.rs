//! An echo load generator: N connections from goroutines, fixed-size
//! messages, every reply verified; prints progress each second and a
//! summary (round trips per second, p50/p99/max latency, errors).
//!
//! ```text
//! cargo run --release --example echo_client -- \
//!     --addr 127.0.0.1:7000 --conns 100 --size 64 --duration 10
//! cargo run --release --example echo_client -- --conns 10000 --rounds 20
//! ```
//!
//! Options: `--addr A` (127.0.0.1:7000), `--conns N` (100), `--rounds R`
//! per connection (0: until the duration is over; default 0), `--size B`
//! bytes (64), `--duration S` seconds (10; 0: only rounds). Exits 1 if any
//! round trip failed.

#[macro_use]
#[path = "support/out.rs"]
mod out;
#[path = "support/fd_limit.rs"]
mod fd_limit;
#[path = "support/loadgen.rs"]
mod loadgen;

use std::time::Duration;

fn usage() -> ! {
    eprintln!("usage: echo_client [--addr A] [--conns N] [--rounds R] [--size B] [--duration S]");
    std::process::exit(2);
}

fn main() {
    let mut cfg = loadgen::Config {
        addr: "127.0.0.1:7000".parse().unwrap(),
        conns: 100,
        rounds: 0,
        size: 64,
        duration: Some(Duration::from_secs(10)),
        progress: true,
        connect_timeout: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let bad = |_| usage();
        match flag.as_str() {
            "--addr" => {
                cfg.addr = std::net::ToSocketAddrs::to_socket_addrs(&value)
                    .ok()
                    .and_then(|mut a| a.next())
                    .unwrap_or_else(|| usage())
            }
            "--conns" => cfg.conns = value.parse().unwrap_or_else(bad),
            "--rounds" => cfg.rounds = value.parse().unwrap_or_else(|_| usage()),
            "--size" => cfg.size = value.parse().unwrap_or_else(bad),
            "--duration" => {
                let s: f64 = value.parse().unwrap_or_else(|_| usage());
                cfg.duration = (s > 0.0).then(|| Duration::from_secs_f64(s));
            }
            _ => usage(),
        }
    }
    if cfg.rounds == 0 && cfg.duration.is_none() {
        eprintln!("echo_client: give --rounds or --duration");
        usage();
    }
    let limit = fd_limit::raise_fd_limit();
    if (limit as usize) < cfg.conns + 64 {
        eprintln!(
            "echo_client: warning: fd limit {limit} is below {} connections",
            cfg.conns
        );
    }
    say!(
        "echo_client: {} connections to {}, {}-byte messages, {}",
        cfg.conns,
        cfg.addr,
        cfg.size,
        match (cfg.rounds, cfg.duration) {
            (0, Some(d)) => format!("for {d:?}"),
            (r, None) => format!("{r} round trips each"),
            (r, Some(d)) => format!("{r} round trips each, at most {d:?}"),
        }
    );
    let report = goro::run(move || loadgen::run(&cfg));
    report.print();
    if report.errors > 0 || report.connect_errors > 0 {
        std::process::exit(1);
    }
}
