//! A TCP echo server: one goroutine per connection, written as plain
//! blocking code.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:7000
//! GOMAXPROCS=1 cargo run --release --example echo_server   # one worker
//! ```
//!
//! Prints `listening on ADDR` on stdout once bound (port 0 picks a free
//! one), so scripts and `examples/c10k.rs` can find it. Raises its soft fd
//! limit to the hard limit. Running out of fds never stops or spins it:
//! `incoming()` backs off and the loop carries on.

#[macro_use]
#[path = "support/out.rs"]
mod out;

use goro::net::{TcpListener, TcpStream};
use std::io::{Read, Write};

#[path = "support/fd_limit.rs"]
mod fd_limit;

fn serve(mut conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut buf = [0u8; 16 * 1024];
    loop {
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

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".to_string());
    fd_limit::raise_fd_limit();
    goro::main(move || {
        let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
            eprintln!("echo_server: cannot bind {addr}: {e}");
            std::process::exit(1);
        });
        say!("listening on {}", listener.local_addr().unwrap());
        for conn in listener.incoming() {
            match conn {
                Ok(conn) => {
                    goro::go!(serve(conn));
                }
                Err(e) => eprintln!("echo_server: accept: {e}"),
            }
        }
    })
}
