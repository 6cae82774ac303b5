//! CPU-bound goroutines do not stall the others: `hogs [N] [WORKERS]`
//! starts N goroutines that compute without ever calling goro, beside a
//! probe goroutine that sleeps 1 ms 200 times, and prints how late the
//! probe woke (mean, p99, worst), how many threads ran goroutine code at
//! once, and CPU time over wall time (at most about WORKERS).

use clap::Parser;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU-bound goroutines do not stall the others: N goroutines compute
/// without calling goro beside a probe that sleeps 1 ms 200 times; prints
/// how late the probe woke and CPU time over wall time.
#[derive(Parser)]
struct Args {
    /// CPU-bound goroutines (hogs).
    #[arg(default_value_t = 8)]
    hogs: usize,
    /// Workers (`gomaxprocs`).
    #[arg(default_value_t = 2)]
    workers: usize,
}

fn main() {
    let Args { hogs, workers } = Args::parse();
    goro::gomaxprocs(workers);
    let (lateness, cpu_ratio) = goro::run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..hogs)
            .map(|_| {
                let stop = stop.clone();
                goro::go!(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        std::hint::black_box(x);
                    }
                })
            })
            .collect();
        let (cpu0, wall0) = (process_cpu(), Instant::now());
        let mut late = Vec::with_capacity(200);
        for _ in 0..200 {
            let t = Instant::now();
            goro::time::sleep(Duration::from_millis(1));
            late.push(t.elapsed().saturating_sub(Duration::from_millis(1)));
        }
        let ratio = (process_cpu() - cpu0).as_secs_f64() / wall0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
        (late, ratio)
    });
    let mut late = lateness;
    late.sort();
    let mean = late.iter().sum::<Duration>() / late.len() as u32;
    println!(
        "{hogs} hogs on {workers} workers: probe lateness mean {:.2?} p99 {:.2?} worst {:.2?}; CPU/wall {:.2}",
        mean,
        late[late.len() * 99 / 100],
        late[late.len() - 1],
        cpu_ratio
    );
}
