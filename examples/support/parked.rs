//! The million-goroutine load, shared by `benches/parked_memory.rs` and
//! `examples/scale_spawn.rs` (both `#[path]`-include this file): N
//! goroutines parked receiving on one channel, then released by closing
//! it, and what the process's memory looks like meanwhile.

use std::time::{Duration, Instant};

/// What one [`park_on_channel`] run measured.
pub struct Parked {
    /// Spawning the goroutines until every one had parked.
    pub park: Duration,
    /// Closing the channel until every one had returned.
    pub release: Duration,
    /// RSS growth while all were parked, per goroutine.
    pub rss_bytes_per_g: usize,
    /// Kernel map entries of the process then (the `vm.max_map_count`
    /// budget).
    pub maps: usize,
}

/// Parks `n` goroutines receiving on one channel, then closes it and waits
/// for all to return.
pub fn park_on_channel(n: usize) -> Parked {
    goro::run(move || {
        let (release, parked_on) = goro::chan::<()>(0);
        let parked = goro::sync::WaitGroup::new();
        let done = goro::sync::WaitGroup::new();
        parked.add(n as isize);
        done.add(n as isize);
        let before = rss_bytes();
        let start = Instant::now();
        for _ in 0..n {
            let (parked, done, rx) = (parked.clone(), done.clone(), parked_on.clone());
            drop(goro::go!(move || {
                parked.done();
                // Closed, never sent to: every receiver wakes with an error.
                assert!(rx.recv().is_err(), "nothing is ever sent");
                done.done();
            }));
        }
        parked.wait();
        let parked_at = Instant::now();
        let rss = rss_bytes().saturating_sub(before);
        let maps = map_entries();
        release.close();
        done.wait();
        Parked {
            park: parked_at - start,
            release: parked_at.elapsed(),
            rss_bytes_per_g: rss / n.max(1),
            maps,
        }
    })
}

/// Resident memory of this process, from `/proc/self/statm`.
pub fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm's second field is the resident page count");
    pages * 4096
}

/// Kernel map entries of this process.
pub fn map_entries() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn mem_available() -> Option<usize> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kib| kib * 1024)
}
