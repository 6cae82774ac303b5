//! A minimal HTTP/1.1 server with keep-alive and pipelining: every request
//! gets "Hello, World!". One goroutine per connection, blocking-style code,
//! requests parsed with httparse.
//!
//! ```text
//! cargo run --release --example http_server -- 127.0.0.1:8080
//! wrk -t2 -c10000 -d10s http://127.0.0.1:8080/
//! cargo run --release --example http_server -- 127.0.0.1:8080 --grace 30
//! cargo run --release --example http_server -- 127.0.0.1:8080 --debug-addr 127.0.0.1:6060
//! curl http://127.0.0.1:6060/debug/goroutines
//! ```
//!
//! Raises its soft fd limit to the hard limit. It never trusts the
//! client: a request head over 64 KiB or one that does not parse gets a
//! 400 and the connection is closed.
//!
//! SIGINT or SIGTERM shuts it down gracefully: the listener is closed (new
//! connections are refused), a keep-alive connection is closed after the
//! response it is writing, and open connections get `--grace SECONDS`
//! (default 5) to finish; then it prints a summary line and exits. An idle
//! keep-alive connection waits for its client's next request (answered,
//! then closed) or the end of the grace period. A second signal kills it.
//!
//! `--debug-addr ADDR` also starts goro's debug endpoint there
//! (`goro::debug::serve`: goroutines, metrics, traces over HTTP) and prints
//! `debug endpoint on http://ADDR/debug/` after the `listening on` line.
//! Keep it on loopback: it shows the program's insides to whoever connects.

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

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nServer: goro\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const MAX_HEAD: usize = 64 * 1024;

/// One parsed request: how many bytes it took (head and body) and whether
/// the client asked to close.
enum Parsed {
    Request { len: usize, close: bool },
    Partial,
    Bad,
}

fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(head)) => {
            let mut body = 0usize;
            let mut close = req.version == Some(0); // HTTP/1.0 closes by default
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    match std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                    {
                        Some(n) => body = n,
                        None => return Parsed::Bad,
                    }
                } else if h.name.eq_ignore_ascii_case("connection") {
                    let v = h.value;
                    if v.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if v.eq_ignore_ascii_case(b"keep-alive") {
                        close = false;
                    }
                } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                    return Parsed::Bad; // chunked bodies: not in this example
                }
            }
            if buf.len() < head + body {
                return Parsed::Partial;
            }
            Parsed::Request {
                len: head + body,
                close,
            }
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => Parsed::Partial,
        _ => Parsed::Bad,
    }
}

fn serve(mut conn: TcpStream, shutdown: &Shutdown) {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; 8192];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4096);
    loop {
        if filled == buf.len() {
            if buf.len() >= MAX_HEAD * 2 {
                let _ = conn.write_all(BAD_REQUEST);
                return;
            }
            buf.resize(buf.len() * 2, 0);
        }
        match conn.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        // Answer every complete request in the buffer (pipelining) with
        // one write.
        let mut start = 0;
        let mut close = false;
        loop {
            match parse(&buf[start..filled]) {
                Parsed::Request { len, close: c } => {
                    out.extend_from_slice(RESPONSE);
                    start += len;
                    if c {
                        close = true;
                        break;
                    }
                }
                Parsed::Partial => break,
                Parsed::Bad => {
                    out.extend_from_slice(BAD_REQUEST);
                    close = true;
                    break;
                }
            }
        }
        if !out.is_empty() {
            if conn.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close || shutdown.stopping() {
            return;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
    }
}

/// A minimal HTTP/1.1 server answering "Hello, World!", one goroutine per
/// connection. Prints `listening on http://ADDR/` once bound; SIGINT or
/// SIGTERM stops it gracefully.
#[derive(Parser)]
struct Args {
    /// The address to listen on (port 0 picks a free one).
    #[arg(default_value = "127.0.0.1:8080")]
    addr: String,
    /// Seconds open connections get to finish after a signal.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = shutdown::parse_grace, allow_negative_numbers = true)]
    grace: Duration,
    /// Also serve goro's debug endpoint (/debug/goroutines, /debug/metrics,
    /// /debug/trace) on this address; keep it on loopback.
    #[arg(long, value_name = "ADDR")]
    debug_addr: Option<String>,
}

fn main() {
    let Args {
        addr,
        grace,
        debug_addr,
    } = Args::parse();
    fd_limit::raise_fd_limit();
    goro::main(move || {
        let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
            eprintln!("http_server: cannot bind {addr}: {e}");
            std::process::exit(1);
        });
        say!("listening on http://{}/", listener.local_addr().unwrap());
        if let Some(debug_addr) = debug_addr {
            let debug = goro::debug::serve(&debug_addr).unwrap_or_else(|e| {
                eprintln!("http_server: cannot serve the debug endpoint on {debug_addr}: {e}");
                std::process::exit(1);
            });
            say!("debug endpoint on http://{}/debug/", debug.local_addr());
            // Dropped: it serves until the process exits.
        }
        let listener = Arc::new(listener);
        let shutdown = Shutdown::on_signals(listener.clone());
        // Ends when a signal closes the listener.
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    let open = shutdown.track();
                    let shutdown = shutdown.clone();
                    goro::go!(move || {
                        serve(conn, &shutdown);
                        drop(open);
                    });
                }
                Err(e) => shutdown.log("http_server", e),
            }
        }
        shutdown.finish("http_server", grace);
    })
}
