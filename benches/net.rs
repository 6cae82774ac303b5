//! I/O benches: a 64-byte TCP round trip over loopback between two
//! goroutines, and 64-byte ping-pongs over a pipe pair and a Unix
//! socketpair between two goroutines, on one worker and on all workers
//! (the setting is part of the bench name). Criterion's time per
//! iteration is one round trip.
//!
//! `cargo bench --bench net`; quick look: `cargo bench --bench net -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion};
use goro::net::unix::UnixStream;
use goro::net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const MSG: usize = 64;

fn settings() -> [(&'static str, usize); 2] {
    [("one_worker", 1), ("all_workers", goro::num_cpu())]
}

/// Echoes `iters` messages from `r` to `w`.
fn echo(mut r: impl Read, mut w: impl Write, iters: u64) {
    let mut buf = [0u8; MSG];
    for _ in 0..iters {
        r.read_exact(&mut buf).unwrap();
        w.write_all(&buf).unwrap();
    }
}

/// Sends `iters` messages on `w` and waits for each to come back on `r`.
fn ping(mut r: impl Read, mut w: impl Write, iters: u64) -> Duration {
    let msg = [7u8; MSG];
    let mut buf = [0u8; MSG];
    let start = Instant::now();
    for _ in 0..iters {
        w.write_all(&msg).unwrap();
        r.read_exact(&mut buf).unwrap();
    }
    start.elapsed()
}

fn tcp_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("tcp_round_trip_64B");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                    let addr = listener.local_addr().unwrap();
                    let server = goro::go!(move || {
                        let (s, _) = listener.accept().unwrap();
                        s.set_nodelay(true).unwrap();
                        echo(&s, &s, iters);
                    });
                    let s = TcpStream::connect(addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    let took = ping(&s, &s, iters);
                    server.join().unwrap();
                    took
                })
            })
        });
    }
    group.finish();
}

fn pipe_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipe_ping_pong_64B");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let (r1, w1) = goro::io::pipe().unwrap();
                    let (r2, w2) = goro::io::pipe().unwrap();
                    let peer = goro::go!(move || echo(r1, w2, iters));
                    let took = ping(r2, w1, iters);
                    peer.join().unwrap();
                    took
                })
            })
        });
    }
    group.finish();
}

fn unix_pair_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("unix_pair_ping_pong_64B");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let (a, b) = UnixStream::pair().unwrap();
                    let peer = goro::go!(move || echo(&b, &b, iters));
                    let took = ping(&a, &a, iters);
                    peer.join().unwrap();
                    took
                })
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = tcp_round_trip, pipe_ping_pong, unix_pair_ping_pong
}
criterion_main!(benches);
