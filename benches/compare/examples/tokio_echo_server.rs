//! The peer for the echo-server comparison in README: the same echo
//! protocol on tokio (current-thread runtime: one worker, like the goro
//! server under `GOMAXPROCS=1`), driven by the same `echo_client`.
//!
//! ```text
//! cargo run --release -p goro-compare --example tokio_echo_server -- 127.0.0.1:7002
//! ```

#[macro_use]
#[path = "../../../examples/support/out.rs"]
mod out;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../../../examples/support/fd_limit.rs"]
mod fd_limit;

/// The tokio peer of `echo_server` (current-thread runtime: one worker).
/// Prints `tokio echo server on ADDR` once bound.
#[derive(Parser)]
struct Args {
    /// The address to listen on (port 0 picks a free one).
    #[arg(default_value = "127.0.0.1:7002")]
    addr: String,
}

fn main() -> std::io::Result<()> {
    let Args { addr } = Args::parse();
    fd_limit::raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        say!("tokio echo server on {}", listener.local_addr()?);
        loop {
            let (mut conn, _) = listener.accept().await?;
            let _ = conn.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}
