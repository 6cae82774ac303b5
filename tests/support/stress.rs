//! Shared harness of the stress tests (`tests/stress_*.rs`): a time budget
//! and a watchdog.
//!
//! Each stress test runs its load for [`budget`]: a few seconds under
//! `cargo test`, as long as `GORO_STRESS_SECS` says for a soak run
//! (`GORO_STRESS_SECS=300 cargo test --release --test stress_chan`). Every
//! participant (a goroutine or a plain thread) holds a [`Beat`] and calls
//! [`Beat::tick`] each time it makes progress; the [`Watchdog`] fails the
//! test, with a goroutine dump, if any participant that has not called
//! [`Beat::done`] makes no progress for [`STALL`].
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A participant that makes no progress this long is stuck.
pub const STALL: Duration = Duration::from_secs(5);

/// How long a stress test runs: `GORO_STRESS_SECS` (seconds, may be
/// fractional), else `default`.
pub fn budget(default: Duration) -> Duration {
    std::env::var("GORO_STRESS_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(default)
}

/// The run's seed: `GORO_STRESS_SEED` (to replay a run's choices), else
/// the clock. Printed with the test's name and budget straight to stderr:
/// the watchdog ends the process on a stall, which would lose output the
/// test harness captured.
pub fn seed(test: &str, budget: Duration) -> u64 {
    let seed = std::env::var("GORO_STRESS_SEED")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "{test}: seed {seed} (GORO_STRESS_SEED={seed} replays its choices), {budget:?}"
    );
    seed
}

/// A participant run as a goroutine or on a plain thread, joined alike.
pub enum Participant<T> {
    Goroutine(goro::JoinHandle<T>),
    Thread(std::thread::JoinHandle<T>),
}

impl<T: Send + 'static> Participant<T> {
    /// Starts `f` on a new plain thread if `on_thread`, else as a goroutine.
    pub fn start(on_thread: bool, f: impl FnOnce() -> T + Send + 'static) -> Participant<T> {
        if on_thread {
            Participant::Thread(std::thread::spawn(f))
        } else {
            Participant::Goroutine(goro::spawn(f))
        }
    }

    /// Its result; its panic (a failed check) resumes here and fails the
    /// test with the original message.
    pub fn join(self) -> T {
        match self {
            Participant::Goroutine(h) => match h.join() {
                Ok(v) => v,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => panic!("participant: {e}"),
            },
            Participant::Thread(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        }
    }
}

struct BeatState {
    name: String,
    ticks: AtomicU64,
    done: AtomicBool,
}

/// One participant's heartbeat. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Beat(Arc<BeatState>);

impl Beat {
    /// Records one step of progress.
    pub fn tick(&self) {
        self.0.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// This participant has finished: the watchdog stops watching it.
    pub fn done(&self) {
        self.0.done.store(true, Ordering::Relaxed);
    }

    /// Steps recorded so far.
    pub fn ticks(&self) -> u64 {
        self.0.ticks.load(Ordering::Relaxed)
    }
}

/// Watches every [`Beat`] it handed out from a plain thread; on a stall it
/// prints which participants are stuck and `goro::dump()`, then exits the
/// process with status 101 (a failed test, never a hang). Dropping it stops
/// the watch.
pub struct Watchdog {
    test: String,
    beats: Arc<Mutex<Vec<Beat>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching for the test named `test`.
    pub fn start(test: &str) -> Watchdog {
        let beats: Arc<Mutex<Vec<Beat>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name(format!("watchdog-{test}"))
            .spawn({
                let (beats, stop, test) = (beats.clone(), stop.clone(), test.to_string());
                move || watch(&test, &beats, &stop)
            })
            .expect("start the watchdog thread");
        Watchdog {
            test: test.to_string(),
            beats,
            stop,
            thread: Some(thread),
        }
    }

    /// A heartbeat for a new participant called `name`.
    pub fn beat(&self, name: impl Into<String>) -> Beat {
        let beat = Beat(Arc::new(BeatState {
            name: name.into(),
            ticks: AtomicU64::new(0),
            done: AtomicBool::new(false),
        }));
        self.beats.lock().unwrap().push(beat.clone());
        beat
    }

    /// The test's name, for messages.
    pub fn test(&self) -> &str {
        &self.test
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(test: &str, beats: &Mutex<Vec<Beat>>, stop: &AtomicBool) {
    // Per participant: the ticks last seen and when they last changed.
    let mut seen: Vec<(u64, Instant)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        let beats = beats.lock().unwrap().clone();
        seen.resize(beats.len(), (u64::MAX, now));
        let mut stuck = Vec::new();
        for (beat, (ticks, since)) in beats.iter().zip(seen.iter_mut()) {
            let t = beat.ticks();
            if t != *ticks || beat.0.done.load(Ordering::Relaxed) {
                *ticks = t;
                *since = now;
            } else if now - *since >= STALL {
                stuck.push(format!("{} (at {} steps)", beat.0.name, t));
            }
        }
        if !stuck.is_empty() {
            // Straight to stderr: `eprintln!` here would go to the test's
            // captured output (threads inherit it), which the exit loses.
            let _ = writeln!(
                std::io::stderr(),
                "stress test {test}: no progress for {STALL:?} from: {}\n\ngoroutine dump:\n{}",
                stuck.join(", "),
                goro::dump()
            );
            std::process::exit(101);
        }
    }
}

/// Replayable random choices: xorshift64*, seeded through one splitmix64
/// step so that nearby seeds (1, 2, ...) start far apart. Every stress
/// test draws from one of these per participant, seeded from [`seed`].
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True once in `n` draws, on average.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// A duration of `lo..=hi` microseconds.
    pub fn micros(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(lo + self.below(hi - lo + 1))
    }

    /// A duration of `lo..=hi` milliseconds.
    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}
