//! 10,000 concurrent TCP connections between two processes, every byte of
//! every reply verified.
//!
//! The server is this test binary re-run with `GORO_C10K_SERVER=1`, which
//! makes `c10k_server_mode` serve echo and print its address (the other
//! test then ignores it); without the variable that test returns at once.

#[macro_use]
#[path = "../examples/support/out.rs"]
mod out;
#[path = "../examples/support/fd_limit.rs"]
mod fd_limit;
#[path = "../examples/support/loadgen.rs"]
mod loadgen;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVER_ENV: &str = "GORO_C10K_SERVER";

#[test]
fn c10k_server_mode() {
    if std::env::var_os(SERVER_ENV).is_none() {
        return;
    }
    fd_limit::raise_fd_limit();
    let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    std::io::stdout().flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    goro::go!(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            goro::go!(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    // Serve until killed by the parent, or give up after two minutes.
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills the server process when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ten_thousand_concurrent_connections_verified() {
    if std::env::var_os(SERVER_ENV).is_some() {
        return;
    }
    let limit = fd_limit::raise_fd_limit();
    assert!(
        limit >= 10_200,
        "need a hard fd limit of 10,200+, have {limit}"
    );
    let mut server = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "c10k_server_mode",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVER_ENV, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let out = server.0.stdout.take().unwrap();
    let addr = BufReader::new(out)
        .lines()
        .take(20)
        .map_while(Result::ok)
        // The harness may print "test c10k_server_mode ... " on the same line.
        .find_map(|l| {
            let at = l.find("listening on ")?;
            l[at + "listening on ".len()..].trim().parse().ok()
        })
        .expect("the server did not print its address");

    let cfg = loadgen::Config {
        addr,
        conns: 10_000,
        rounds: 10,
        size: 64,
        duration: Some(Duration::from_secs(40)),
        progress: false,
        connect_timeout: Duration::from_secs(20),
    };
    let start = Instant::now();
    let report = goro::run(move || loadgen::run(&cfg));
    report.print();
    assert_eq!(report.connect_errors, 0, "{:?}", report.first_error);
    assert_eq!(report.connected, 10_000);
    assert_eq!(report.errors, 0, "{:?}", report.first_error);
    assert_eq!(report.mismatches, 0);
    assert_eq!(report.round_trips, 100_000, "every message came back");
    assert!(
        start.elapsed() < Duration::from_secs(45),
        "{:?}",
        start.elapsed()
    );
    drop(server);
}
