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

use clap::{CommandFactory, Parser};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// An echo load generator: N connections from goroutines, fixed-size
/// messages, every reply verified; prints progress each second and a
/// summary. Exits 1 if any round trip failed.
#[derive(Parser)]
#[command(name = "echo_client")]
struct Args {
    /// The echo server's address (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:7000", value_parser = resolve)]
    addr: SocketAddr,
    /// Connections, each driven by a goroutine.
    #[arg(long, default_value_t = 100)]
    conns: usize,
    /// Round trips per connection (0: until the duration is over).
    #[arg(long, default_value_t = 0)]
    rounds: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Seconds to run, fractions allowed (0: only --rounds).
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds, allow_negative_numbers = true)]
    duration: Duration,
}

/// A number of seconds, fractions allowed, >= 0.
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| "not a number of seconds >= 0".into())
}

/// The first address `HOST:PORT` resolves to.
fn resolve(s: &str) -> Result<SocketAddr, String> {
    let mut addrs = s.to_socket_addrs().map_err(|e| e.to_string())?;
    addrs
        .next()
        .ok_or_else(|| "resolves to no address".to_string())
}

fn main() {
    let args = Args::parse();
    let cfg = loadgen::Config {
        addr: args.addr,
        conns: args.conns,
        rounds: args.rounds,
        size: args.size,
        duration: (!args.duration.is_zero()).then_some(args.duration),
        progress: true,
        connect_timeout: Duration::from_secs(10),
    };
    if cfg.rounds == 0 && cfg.duration.is_none() {
        Args::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "give --rounds or --duration",
            )
            .exit();
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
