//! THE demo: 10,000 concurrent TCP connections, every message verified.
//!
//! ```text
//! cargo run --release --example c10k
//! cargo run --release --example c10k -- --conns 10000 --rounds 20 --size 64
//! ```
//!
//! Starts an echo server in a child process (this same binary, re-run with
//! `GORO_C10K_SERVER=1`), raises the soft fd limit to the hard limit in
//! both, opens the connections from goroutines, runs the round trips on
//! all of them at once, checks every byte, and prints how long opening
//! took, round trips per second, p50/p99/max latency, errors, and the
//! server's CPU time per round trip. Exits 1 on any error.
//!
//! `--dump-after SECS` makes the server print its goroutine profile
//! (`goro::dump_grouped()`) to stderr SECS seconds after it starts: where
//! its ten thousand goroutines wait, grouped by line.

#[macro_use]
#[path = "support/out.rs"]
mod out;
#[path = "support/fd_limit.rs"]
mod fd_limit;
#[path = "support/loadgen.rs"]
mod loadgen;

use clap::Parser;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVER_ENV: &str = "GORO_C10K_SERVER";
/// Seconds after which the server prints its grouped dump (`--dump-after`).
const DUMP_AFTER_ENV: &str = "GORO_C10K_DUMP_AFTER";

fn server() -> ! {
    fd_limit::raise_fd_limit();
    goro::main(|| {
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        say!("listening on {}", listener.local_addr().unwrap());
        let _ = std::io::stdout().flush();
        if let Some(secs) = std::env::var(DUMP_AFTER_ENV)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            goro::go!(move || {
                goro::time::sleep(Duration::from_secs_f64(secs));
                eprint!("{}", goro::dump_grouped());
            });
        }
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            goro::go!(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    })
}

/// utime + stime of `pid`, from /proc (clock ticks converted to seconds).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// THE demo: an echo server in a child process holding N concurrent TCP
/// connections, every message verified. Exits 1 on any error.
#[derive(Parser)]
struct Args {
    /// Connections, each driven by a goroutine.
    #[arg(long, default_value_t = 10_000)]
    conns: usize,
    /// Round trips per connection.
    #[arg(long, default_value_t = 20)]
    rounds: u64,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Make the server print its grouped goroutine dump to stderr this
    /// many seconds after it starts.
    #[arg(long)]
    dump_after: Option<f64>,
}

fn main() {
    if std::env::var_os(SERVER_ENV).is_some() {
        server();
    }
    let Args {
        conns,
        rounds,
        size,
        dump_after,
    } = Args::parse();
    let mut cfg = loadgen::Config {
        addr: "127.0.0.1:1".parse().unwrap(),
        conns,
        rounds,
        size,
        duration: Some(Duration::from_secs(30)),
        progress: true,
        connect_timeout: Duration::from_secs(20),
    };
    let limit = fd_limit::raise_fd_limit();
    say!("c10k: fd limit {limit}; starting the echo server in a child process");
    let mut server = Command::new(std::env::current_exe().expect("current_exe"));
    server.env(SERVER_ENV, "1").stdout(Stdio::piped());
    if let Some(secs) = dump_after {
        server.env(DUMP_AFTER_ENV, secs.to_string());
    }
    let mut child = server.spawn().expect("cannot start the server process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(a) = line.strip_prefix("listening on ") {
                    break a.parse().expect("server address");
                }
            }
            _ => {
                eprintln!("c10k: the server exited before listening");
                std::process::exit(1);
            }
        }
    };
    cfg.addr = addr;
    let conns = cfg.conns;
    say!(
        "c10k: server pid {} on {addr}; {} connections x {} round trips of {} bytes",
        child.id(),
        cfg.conns,
        cfg.rounds,
        cfg.size
    );
    let cpu_before = cpu_time(child.id());
    let start = Instant::now();
    let report = goro::run(move || loadgen::run(&cfg));
    let total = start.elapsed();
    let cpu_after = cpu_time(child.id());
    let _ = child.kill();
    let _ = child.wait();
    say!("--- summary ---");
    report.print();
    if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
        let per_rt = (b - a).as_secs_f64() / report.round_trips.max(1) as f64;
        say!(
            "server CPU: {:.3} s in all (accepts included), {:.2} us per round trip",
            (b - a).as_secs_f64(),
            per_rt * 1e6
        );
    }
    say!("total time: {:.2} s", total.as_secs_f64());
    if report.errors > 0 || report.connect_errors > 0 || report.connected < conns {
        std::process::exit(1);
    }
}
