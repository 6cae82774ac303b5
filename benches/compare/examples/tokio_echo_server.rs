//! The peer for the echo-server comparison in README: the same echo
//! protocol on tokio (current-thread runtime: one worker, like the goro
//! server under `GOMAXPROCS=1`), driven by the same `echo_client`.
//!
//! ```text
//! cargo run --release --example tokio_echo_server -- 127.0.0.1:7002
//! ```

#[macro_use]
#[path = "../../../examples/support/out.rs"]
mod out;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../../../examples/support/fd_limit.rs"]
mod fd_limit;

fn main() -> std::io::Result<()> {
    fd_limit::raise_fd_limit();
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7002".to_string());
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
