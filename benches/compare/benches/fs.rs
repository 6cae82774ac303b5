//! File benches: `goro::fs` from goroutines beside `std::fs` from OS
//! threads and `tokio::fs` from tokio tasks, on files in the page cache
//! (what is measured is the cost of getting the call off the worker, not
//! the disk).
//!
//! * `fs_call/*`: one call's cost: an empty job on goro's pool
//!   (`goro::blocking(|| ())`) and on tokio's (`spawn_blocking`), and a
//!   `metadata` (one `statx`) by std in place, by goro and by tokio.
//! * `fs_small_reads_1MiB/*`: a 1 MiB file read in 64-byte `read` calls:
//!   std unbuffered (a syscall each) and with `BufReader` (8 KiB), goro's
//!   `File` (its own 64 KiB buffer: one pool job per 64 KiB), tokio's
//!   `File` with `tokio::io::BufReader` (one pool job per 8 KiB; tokio's
//!   `File` alone runs a job per call, so a `BufReader` is how it is used).
//! * `fs_read_to_end/{1MiB,64MiB}/*`: `File::open` + `read_to_end`, one
//!   call each.
//! * `fs_many_small_files/*`: 1,000 files of 4 KiB read with `fs::read` by
//!   100 goroutines, 100 OS threads or 100 tokio tasks, 10 files each; the
//!   100 are started in every iteration (thread creation is part of the
//!   threads' cost, as spawning is of the others').
//!
//! Setting: goro with `gomaxprocs` = the CPU count, tokio's multi-thread
//! runtime with a worker per CPU (the default), both pools at their
//! defaults (goro 512 threads, tokio 512). Criterion's time per iteration
//! is one call, one whole read, or all 1,000 files.
//!
//! `cargo bench -p goro-compare --bench fs`; one group: `cargo bench -p goro-compare --bench fs -- fs_call`.

use criterion::{criterion_group, BenchmarkId, Criterion};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SMALL_READ: usize = 64;
const SMALL_FILES: usize = 1_000;
const SMALL_FILE_SIZE: usize = 4 * 1024;
const READERS: usize = 100;

/// The files, written once before the benches run.
struct Fixture {
    dir: PathBuf,
    one_mib: PathBuf,
    sixty_four_mib: PathBuf,
    small: Vec<PathBuf>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("goro-bench-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, len: usize| {
            let path = dir.join(name);
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            std::fs::write(&path, bytes).unwrap();
            path
        };
        Fixture {
            one_mib: write("1MiB", 1 << 20),
            sixty_four_mib: write("64MiB", 64 << 20),
            small: (0..SMALL_FILES)
                .map(|i| write(&format!("small{i:04}"), SMALL_FILE_SIZE))
                .collect(),
            dir,
        }
    })
}

fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Runs `body` `iters` times in a goroutine and returns the time taken.
fn goro_timed(iters: u64, body: impl Fn() + Send + 'static) -> Duration {
    goro::run(move || {
        let start = Instant::now();
        for _ in 0..iters {
            body();
        }
        start.elapsed()
    })
}

/// Reads `r` to its end in `SMALL_READ`-byte calls; returns the bytes.
fn small_reads(mut r: impl Read) -> usize {
    let mut buf = [0u8; SMALL_READ];
    let mut total = 0;
    loop {
        match r.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

fn call_cost(c: &mut Criterion) {
    let path = &fixture().one_mib;
    let mut group = c.benchmark_group("fs_call");
    group.bench_function("empty_job/goro_blocking", |b| {
        b.iter_custom(|iters| goro_timed(iters, || goro::blocking(|| ())))
    });
    group.bench_function("empty_job/tokio_spawn_blocking", |b| {
        b.iter_custom(|iters| {
            tokio_runtime().block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    tokio::task::spawn_blocking(|| ()).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("metadata/std_thread", |b| {
        b.iter(|| std::fs::metadata(path).unwrap().len())
    });
    group.bench_function("metadata/goro", |b| {
        b.iter_custom(|iters| {
            goro_timed(iters, move || {
                std::hint::black_box(goro::fs::metadata(&fixture().one_mib).unwrap());
            })
        })
    });
    group.bench_function("metadata/tokio", |b| {
        b.iter_custom(|iters| {
            tokio_runtime().block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(tokio::fs::metadata(path).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn small_reads_1mib(c: &mut Criterion) {
    let path = &fixture().one_mib;
    let mut group = c.benchmark_group("fs_small_reads_1MiB");
    group.sample_size(20);
    group.bench_function("std_thread_unbuffered", |b| {
        b.iter(|| small_reads(std::fs::File::open(path).unwrap()))
    });
    group.bench_function("std_thread_bufreader", |b| {
        b.iter(|| small_reads(std::io::BufReader::new(std::fs::File::open(path).unwrap())))
    });
    group.bench_function("goro_file", |b| {
        b.iter_custom(|iters| {
            goro_timed(iters, || {
                let f = goro::fs::File::open(&fixture().one_mib).unwrap();
                assert_eq!(small_reads(f), 1 << 20);
            })
        })
    });
    group.bench_function("tokio_file_bufreader", |b| {
        b.iter_custom(|iters| {
            tokio_runtime().block_on(async move {
                use tokio::io::AsyncReadExt;
                let start = Instant::now();
                for _ in 0..iters {
                    let f = tokio::fs::File::open(path).await.unwrap();
                    let mut r = tokio::io::BufReader::new(f);
                    let mut buf = [0u8; SMALL_READ];
                    let mut total = 0;
                    loop {
                        match r.read(&mut buf).await.unwrap() {
                            0 => break,
                            n => total += n,
                        }
                    }
                    assert_eq!(total, 1 << 20);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn read_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("fs_read_to_end");
    group.sample_size(10);
    for (label, path) in [
        ("1MiB", &fixture().one_mib),
        ("64MiB", &fixture().sixty_four_mib),
    ] {
        let path: &'static Path = path;
        group.bench_function(BenchmarkId::new(label, "std_thread"), |b| {
            b.iter(|| {
                let mut out = Vec::new();
                std::fs::File::open(path)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap()
            })
        });
        group.bench_function(BenchmarkId::new(label, "goro"), |b| {
            b.iter_custom(|iters| {
                goro_timed(iters, move || {
                    let mut out = Vec::new();
                    let mut f = goro::fs::File::open(path).unwrap();
                    std::hint::black_box(f.read_to_end(&mut out).unwrap());
                })
            })
        });
        group.bench_function(BenchmarkId::new(label, "tokio"), |b| {
            b.iter_custom(|iters| {
                tokio_runtime().block_on(async move {
                    use tokio::io::AsyncReadExt;
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut out = Vec::new();
                        let mut f = tokio::fs::File::open(path).await.unwrap();
                        std::hint::black_box(f.read_to_end(&mut out).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn many_small_files(c: &mut Criterion) {
    let per_reader = SMALL_FILES / READERS;
    let mut group = c.benchmark_group("fs_many_small_files");
    group.sample_size(20);
    group.bench_function("goro_100_goroutines", |b| {
        b.iter_custom(|iters| {
            goro_timed(iters, move || {
                let readers: Vec<_> = fixture()
                    .small
                    .chunks(per_reader)
                    .map(|files| {
                        goro::go!(move || {
                            files
                                .iter()
                                .map(|p| goro::fs::read(p).unwrap().len())
                                .sum::<usize>()
                        })
                    })
                    .collect();
                let total: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
                assert_eq!(total, SMALL_FILES * SMALL_FILE_SIZE);
            })
        })
    });
    group.bench_function("std_100_threads", |b| {
        b.iter(|| {
            let total: usize = std::thread::scope(|s| {
                let readers: Vec<_> = fixture()
                    .small
                    .chunks(per_reader)
                    .map(|files| {
                        s.spawn(move || {
                            files
                                .iter()
                                .map(|p| std::fs::read(p).unwrap().len())
                                .sum::<usize>()
                        })
                    })
                    .collect();
                readers.into_iter().map(|r| r.join().unwrap()).sum()
            });
            assert_eq!(total, SMALL_FILES * SMALL_FILE_SIZE);
        })
    });
    group.bench_function("tokio_100_tasks", |b| {
        b.iter_custom(|iters| {
            tokio_runtime().block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let readers: Vec<_> = fixture()
                        .small
                        .chunks(per_reader)
                        .map(|files| {
                            tokio::spawn(async move {
                                let mut total = 0;
                                for p in files {
                                    total += tokio::fs::read(p).await.unwrap().len();
                                }
                                total
                            })
                        })
                        .collect();
                    let mut total = 0;
                    for r in readers {
                        total += r.await.unwrap();
                    }
                    assert_eq!(total, SMALL_FILES * SMALL_FILE_SIZE);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    call_cost,
    small_reads_1mib,
    read_to_end,
    many_small_files
);

/// criterion_main!, plus removing the files afterwards.
fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let Some(fixture) = FIXTURE.get() {
        let _ = std::fs::remove_dir_all(&fixture.dir);
    }
}
