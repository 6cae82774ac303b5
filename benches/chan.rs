//! Channel and lock benches: goroutines on goro channels beside OS threads
//! on crossbeam-channel, on one core and on all cores (the setting is part
//! of the bench name).
//!
//! - `*_ping_pong`: one round trip (A sends to B, B answers) per iteration;
//!   `unbounded_ping_pong` on `goro::unbounded` / crossbeam's `unbounded`.
//! - `select4`: one `select!` over 4 channels per iteration (a producer
//!   feeds them round-robin).
//! - `mutex_contended`: one lock+increment+unlock per iteration, by 4
//!   goroutines (or 2 threads) fighting over one lock.
//!
//! goro's "one_worker" is `gomaxprocs(1)`; the threads' "one_core" pins both
//! threads to CPU 0 with sched_setaffinity (else the OS spreads them).
//!
//! `cargo bench --bench chan`

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::{Duration, Instant};

fn settings() -> [(&'static str, usize); 2] {
    [("one_worker", 1), ("all_workers", goro::num_cpu())]
}

/// Pins the calling thread to CPU 0.
fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside
    // it; sched_setaffinity(0, ..) applies to the calling thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A channel's capacity: `Some(n)` bounded, `None` unbounded.
type Cap = Option<usize>;

fn goro_chan(cap: Cap) -> (goro::Sender<u64>, goro::Receiver<u64>) {
    match cap {
        Some(n) => goro::chan(n),
        None => goro::unbounded(),
    }
}

fn crossbeam_chan(
    cap: Cap,
) -> (
    crossbeam_channel::Sender<u64>,
    crossbeam_channel::Receiver<u64>,
) {
    match cap {
        Some(n) => crossbeam_channel::bounded(n),
        None => crossbeam_channel::unbounded(),
    }
}

fn goro_ping_pong(iters: u64, cap: Cap) -> Duration {
    goro::run(move || {
        let (to_b, from_a) = goro_chan(cap);
        let (to_a, from_b) = goro_chan(cap);
        let b = goro::go!(move || {
            for v in &from_a {
                if to_a.send(v).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        for i in 0..iters {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i);
        }
        let elapsed = start.elapsed();
        drop(to_b);
        b.join().unwrap();
        elapsed
    })
}

fn thread_ping_pong(iters: u64, cap: Cap, pin: bool) -> Duration {
    let (to_b, from_a) = crossbeam_chan(cap);
    let (to_a, from_b) = crossbeam_chan(cap);
    let b = std::thread::spawn(move || {
        if pin {
            pin_to_cpu0();
        }
        for v in from_a {
            if to_a.send(v).is_err() {
                return;
            }
        }
    });
    let start_in = std::thread::spawn(move || {
        if pin {
            pin_to_cpu0();
        }
        let start = Instant::now();
        for i in 0..iters {
            to_b.send(i).unwrap();
            assert_eq!(from_b.recv().unwrap(), i);
        }
        start.elapsed()
    });
    let elapsed = start_in.join().unwrap();
    b.join().unwrap();
    elapsed
}

fn ping_pong(c: &mut Criterion) {
    for (name, cap) in [
        ("unbuffered_ping_pong", Some(0)),
        ("buffered_ping_pong", Some(1)),
        ("unbounded_ping_pong", None),
    ] {
        let mut group = c.benchmark_group(name);
        for (label, procs) in settings() {
            goro::gomaxprocs(procs);
            group.bench_function(format!("goro/{label}"), |b| {
                b.iter_custom(|n| goro_ping_pong(n, cap))
            });
        }
        group.bench_function("threads_crossbeam/one_core", |b| {
            b.iter_custom(|n| thread_ping_pong(n, cap, true))
        });
        group.bench_function("threads_crossbeam/all_cores", |b| {
            b.iter_custom(|n| thread_ping_pong(n, cap, false))
        });
        group.finish();
    }
}

fn select4(c: &mut Criterion) {
    let mut group = c.benchmark_group("select4");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(format!("goro/{label}"), |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let chans: Vec<_> = (0..4).map(|_| goro::chan::<u64>(16)).collect();
                    let senders: Vec<_> = chans.iter().map(|(tx, _)| tx.clone()).collect();
                    let [r0, r1, r2, r3] = [0, 1, 2, 3].map(|i| chans[i].1.clone());
                    drop(chans);
                    // The producer hands its senders back instead of dropping
                    // them: a closed channel is always ready in a select.
                    let producer = goro::go!(move || {
                        for i in 0..iters {
                            senders[(i % 4) as usize].send(i).unwrap();
                        }
                        senders
                    });
                    let start = Instant::now();
                    let mut sum = 0u64;
                    for _ in 0..iters {
                        sum += goro::select! {
                            recv(r0) -> v => v.unwrap(),
                            recv(r1) -> v => v.unwrap(),
                            recv(r2) -> v => v.unwrap(),
                            recv(r3) -> v => v.unwrap(),
                        };
                    }
                    let elapsed = start.elapsed();
                    drop(producer.join().unwrap());
                    assert_eq!(sum, iters * iters.saturating_sub(1) / 2);
                    elapsed
                })
            })
        });
    }
    for (label, pin) in [("one_core", true), ("all_cores", false)] {
        group.bench_function(format!("threads_crossbeam/{label}"), |b| {
            b.iter_custom(|iters| {
                let chans: Vec<_> = (0..4)
                    .map(|_| crossbeam_channel::bounded::<u64>(16))
                    .collect();
                let senders: Vec<_> = chans.iter().map(|(tx, _)| tx.clone()).collect();
                let rs: Vec<_> = chans.iter().map(|(_, rx)| rx.clone()).collect();
                drop(chans);
                let producer = std::thread::spawn(move || {
                    if pin {
                        pin_to_cpu0();
                    }
                    for i in 0..iters {
                        senders[(i % 4) as usize].send(i).unwrap();
                    }
                    senders
                });
                let consumer = std::thread::spawn(move || {
                    if pin {
                        pin_to_cpu0();
                    }
                    let start = Instant::now();
                    let mut sum = 0u64;
                    for _ in 0..iters {
                        sum += crossbeam_channel::select! {
                            recv(rs[0]) -> v => v.unwrap(),
                            recv(rs[1]) -> v => v.unwrap(),
                            recv(rs[2]) -> v => v.unwrap(),
                            recv(rs[3]) -> v => v.unwrap(),
                        };
                    }
                    (start.elapsed(), sum)
                });
                let (elapsed, sum) = consumer.join().unwrap();
                drop(producer.join().unwrap());
                assert_eq!(sum, iters * iters.saturating_sub(1) / 2);
                elapsed
            })
        });
    }
    group.finish();
}

fn mutex_contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_contended");
    for (label, procs) in settings() {
        goro::gomaxprocs(procs);
        group.bench_function(format!("goro_4_goroutines/{label}"), |b| {
            b.iter_custom(|iters| {
                goro::run(move || {
                    let lock = std::sync::Arc::new(goro::sync::Mutex::new(0u64));
                    let per = iters.div_ceil(4);
                    let start = Instant::now();
                    let hs: Vec<_> = (0..4)
                        .map(|_| {
                            let lock = lock.clone();
                            goro::go!(move || {
                                for _ in 0..per {
                                    *lock.lock() += 1;
                                }
                            })
                        })
                        .collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                    let elapsed = start.elapsed();
                    assert_eq!(*lock.lock(), per * 4);
                    elapsed
                })
            })
        });
    }
    group.bench_function("std_2_threads/all_cores", |b| {
        b.iter_custom(|iters| {
            let lock = std::sync::Arc::new(std::sync::Mutex::new(0u64));
            let per = iters.div_ceil(2);
            let start = Instant::now();
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let lock = lock.clone();
                    std::thread::spawn(move || {
                        for _ in 0..per {
                            *lock.lock().unwrap() += 1;
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = ping_pong, select4, mutex_contended
}
criterion_main!(benches);
