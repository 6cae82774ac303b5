//! Name lookups: what it costs that `goro::net::lookup_host` never blocks a
//! worker. A name (`localhost`, answered from /etc/hosts) goes to the
//! blocking pool while the goroutine parks; a literal address is parsed in
//! place. Beside them: std's `to_socket_addrs` on a plain thread (which
//! blocks that thread in getaddrinfo) and tokio's `lookup_host` (its own
//! blocking pool). One lookup per iteration, and a batch of 64 concurrent
//! lookups per iteration (64 goroutines, 64 threads, 64 tasks).
//!
//! `cargo bench -p goro-compare --bench dns`; quick look: `cargo bench -p goro-compare --bench dns -- --quick`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::net::ToSocketAddrs;
use std::time::Instant;

const NAME: &str = "localhost:80";
const BATCH: usize = 64;

fn one_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup_one");
    goro::gomaxprocs(goro::num_cpu());
    for (label, addr) in [("goro_name", NAME), ("goro_literal", "127.0.0.1:80")] {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(goro::net::lookup_host(addr).unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.bench_function("std_thread_name", |b| {
        b.iter(|| NAME.to_socket_addrs().unwrap().count())
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("tokio_name", |b| {
        b.iter(|| rt.block_on(async { tokio::net::lookup_host(NAME).await.unwrap().count() }))
    });
    group.finish();
}

fn batch_of_lookups(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup_batch_64");
    goro::gomaxprocs(goro::num_cpu());
    group.bench_function("goro_goroutines", |b| {
        b.iter_custom(|iters| {
            goro::run(move || {
                let start = Instant::now();
                for _ in 0..iters {
                    let hs: Vec<_> = (0..BATCH)
                        .map(|_| goro::go!(|| goro::net::lookup_host(NAME).unwrap().len()))
                        .collect();
                    black_box(hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("std_threads", |b| {
        b.iter(|| {
            let hs: Vec<_> = (0..BATCH)
                .map(|_| std::thread::spawn(|| NAME.to_socket_addrs().unwrap().count()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        })
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("tokio_tasks", |b| {
        b.iter(|| {
            rt.block_on(async {
                let hs: Vec<_> = (0..BATCH)
                    .map(|_| {
                        tokio::spawn(async { tokio::net::lookup_host(NAME).await.unwrap().count() })
                    })
                    .collect();
                let mut n = 0;
                for h in hs {
                    n += h.await.unwrap();
                }
                n
            })
        })
    });
    group.finish();
}

criterion_group!(benches, one_lookup, batch_of_lookups);
criterion_main!(benches);
