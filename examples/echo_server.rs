//! A TCP echo server: one goroutine per connection, written as plain
//! blocking code.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:7000
//! GOMAXPROCS=1 cargo run --release --example echo_server   # one worker
//! cargo run --release --example echo_server -- 127.0.0.1:7000 --read-timeout 10000
//! cargo run --release --example echo_server -- 127.0.0.1:7000 --grace 30
//! ```
//!
//! Prints `listening on ADDR` on stdout once bound (port 0 picks a free
//! one), so scripts and `examples/c10k.rs` can find it. Raises its soft fd
//! limit to the hard limit. Running out of fds never stops or spins it:
//! `incoming()` backs off and the loop carries on.
//!
//! `--read-timeout MS` sets a read timeout on the connection before every
//! read, as a server with a per-request deadline does: each read that
//! waits arms a timer and the data's arrival cancels it (the `scale`
//! section of `benches/compare/examples/report.rs` measures what that costs). A client
//! silent for longer is disconnected.
//!
//! SIGINT or SIGTERM shuts it down gracefully: the listener is closed (no
//! new connections), open connections get `--grace SECONDS` (default 5)
//! to finish, then it prints a summary line (`echo_server: stopped by
//! SIGTERM: N connections served, M still open at exit ...`) and exits. A
//! second signal kills it at once.

#[macro_use]
#[path = "support/out.rs"]
mod out;

use clap::Parser;
use goro::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/fd_limit.rs"]
mod fd_limit;
#[path = "support/shutdown.rs"]
mod shutdown;

use shutdown::Shutdown;

fn serve(mut conn: TcpStream, read_timeout: Option<Duration>) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    loop {
        if read_timeout.is_some() && conn.set_read_timeout(read_timeout).is_err() {
            return;
        }
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A TCP echo server, one goroutine per connection. Prints `listening on
/// ADDR` once bound; SIGINT or SIGTERM stops it gracefully.
#[derive(Parser)]
struct Args {
    /// The address to listen on (port 0 picks a free one).
    #[arg(default_value = "127.0.0.1:7000")]
    addr: String,
    /// Set a read timeout of MS milliseconds (> 0) before every read.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    read_timeout: Option<u64>,
    /// Seconds open connections get to finish after a signal.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = shutdown::parse_grace, allow_negative_numbers = true)]
    grace: Duration,
}

fn main() {
    let Args {
        addr,
        read_timeout,
        grace,
    } = Args::parse();
    let read_timeout = read_timeout.map(Duration::from_millis);
    fd_limit::raise_fd_limit();
    goro::main(move || {
        let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
            eprintln!("echo_server: cannot bind {addr}: {e}");
            std::process::exit(1);
        });
        say!("listening on {}", listener.local_addr().unwrap());
        let listener = Arc::new(listener);
        let shutdown = Shutdown::on_signals(listener.clone());
        // Ends when a signal closes the listener.
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    let open = shutdown.track();
                    goro::go!(move || {
                        serve(conn, read_timeout);
                        drop(open);
                    });
                }
                Err(e) => shutdown.log("echo_server", e),
            }
        }
        shutdown.finish("echo_server", grace);
    })
}
