//! The echo load generator shared by `echo_client`, `c10k` and
//! `tests/c10k.rs`: open N connections from goroutines, then run round
//! trips of fixed-size messages on all of them at once, verifying every
//! byte, and report throughput and latency.
//!
//! It must never trust the server: every reply is compared with what was
//! sent, and any mismatch, short read or error is counted, not ignored.
//!
//! It prints with `say!` (`support/out.rs`): include that module first.

#![allow(dead_code)]

use goro::net::TcpStream;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub conns: usize,
    /// Round trips per connection; 0 means until `duration` is over.
    pub rounds: u64,
    pub size: usize,
    /// Stop starting new round trips after this long (None: only `rounds`).
    pub duration: Option<Duration>,
    /// Print progress once a second.
    pub progress: bool,
    /// Give up on connecting after this long.
    pub connect_timeout: Duration,
}

/// A latency histogram in microseconds: exact below 64 µs, then 32
/// sub-buckets per power of two (≤ 3% error), up to ~70 minutes.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    max: u64,
    total: u64,
}

const SUB: u64 = 32;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; 64 + 32 * SUB as usize],
            max: 0,
            total: 0,
        }
    }
}

impl Histogram {
    fn index(us: u64) -> usize {
        if us < 64 {
            return us as usize;
        }
        let pow = 63 - us.leading_zeros() as u64; // >= 6
        let sub = (us >> (pow - 5)) & (SUB - 1);
        (64 + (pow - 6) * SUB + sub) as usize
    }

    fn lower_bound(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let pow = (i as u64 - 64) / SUB + 6;
        let sub = (i as u64 - 64) % SUB;
        (1 << pow) + (sub << (pow - 5))
    }

    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128 / 2) as u64;
        let i = Self::index(us).min(self.counts.len() - 1);
        self.counts[i] += 1;
        self.max = self.max.max(us);
        self.total += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max = self.max.max(other.max);
        self.total += other.total;
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The latency at quantile `q` (0..=1), as a bucket's lower bound.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_micros(Self::lower_bound(i).min(self.max));
            }
        }
        Duration::from_micros(self.max)
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max)
    }
}

/// What happened.
pub struct Report {
    pub connected: usize,
    pub connect_errors: u64,
    /// From the first connect to the last connection established.
    pub open_time: Duration,
    pub round_trips: u64,
    pub errors: u64,
    pub mismatches: u64,
    pub first_error: Option<String>,
    /// From the start signal to the last round trip.
    pub run_time: Duration,
    pub latency: Histogram,
    pub bytes: u64,
}

impl Report {
    pub fn rt_per_sec(&self) -> f64 {
        self.round_trips as f64 / self.run_time.as_secs_f64().max(1e-9)
    }

    pub fn print(&self) {
        say!(
            "connections: {} open ({} failed) in {:.3} s",
            self.connected,
            self.connect_errors,
            self.open_time.as_secs_f64()
        );
        say!(
            "round trips: {} in {:.3} s = {:.0} rt/s ({:.1} MB/s each way)",
            self.round_trips,
            self.run_time.as_secs_f64(),
            self.rt_per_sec(),
            self.bytes as f64 / self.run_time.as_secs_f64().max(1e-9) / 1e6
        );
        say!(
            "latency: p50 {:?}  p99 {:?}  max {:?}",
            self.latency.quantile(0.50),
            self.latency.quantile(0.99),
            self.latency.max()
        );
        say!(
            "errors: {} ({} mismatched replies){}",
            self.errors,
            self.mismatches,
            self.first_error
                .as_ref()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        );
    }
}

/// The message for round `round` on connection `conn`: distinct per
/// connection and round so a reply crossed between connections or rounds
/// is caught.
fn fill(msg: &mut [u8], conn: usize, round: u64) {
    let seed = (conn as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ round.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut x = seed | 1;
    for chunk in msg.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let bytes = x.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

struct Outcome {
    connected: bool,
    connect_error: Option<String>,
    rounds: u64,
    errors: u64,
    mismatches: u64,
    first_error: Option<String>,
    hist: Histogram,
}

/// Runs the load; call from a goroutine or a plain thread.
pub fn run(cfg: &Config) -> Report {
    let (start_tx, start_rx) = goro::chan::<()>(0);
    let connected = Arc::new(goro::sync::WaitGroup::new());
    let stop = Arc::new(AtomicBool::new(false));
    let done_rounds = Arc::new(AtomicU64::new(0));
    let open_start = Instant::now();
    let mut handles = Vec::with_capacity(cfg.conns);
    for conn in 0..cfg.conns {
        let cfg = cfg.clone();
        let start_rx = start_rx.clone();
        let connected = connected.clone();
        let stop = stop.clone();
        let done_rounds = done_rounds.clone();
        connected.add(1);
        handles.push(goro::go!(move || {
            let mut out = Outcome {
                connected: false,
                connect_error: None,
                rounds: 0,
                errors: 0,
                mismatches: 0,
                first_error: None,
                hist: Histogram::default(),
            };
            let stream = TcpStream::connect_timeout(&cfg.addr, cfg.connect_timeout);
            connected.done();
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    out.connect_error = Some(e.to_string());
                    return out;
                }
            };
            out.connected = true;
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let _ = start_rx.recv(); // closed: go
            let mut msg = vec![0u8; cfg.size];
            let mut got = vec![0u8; cfg.size];
            let mut round = 0;
            while (cfg.rounds == 0 || round < cfg.rounds) && !stop.load(Ordering::Relaxed) {
                fill(&mut msg, conn, round);
                let t = Instant::now();
                let r = stream
                    .write_all(&msg)
                    .and_then(|()| stream.read_exact(&mut got));
                match r {
                    Ok(()) if got == msg => {
                        out.hist.record(t.elapsed());
                        out.rounds += 1;
                        done_rounds.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(()) => {
                        out.mismatches += 1;
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| {
                            format!("conn {conn} round {round}: reply differs")
                        });
                        break;
                    }
                    Err(e) => {
                        out.errors += 1;
                        out.first_error
                            .get_or_insert_with(|| format!("conn {conn} round {round}: {e}"));
                        break;
                    }
                }
                round += 1;
            }
            out
        }));
    }
    drop(start_rx);
    connected.wait();
    let open_time = open_start.elapsed();
    if cfg.progress {
        say!(
            "opened {} connections in {:.3} s",
            cfg.conns,
            open_time.as_secs_f64()
        );
    }
    let run_start = Instant::now();
    drop(start_tx); // close: every connection starts
    let ticker = {
        let stop = stop.clone();
        let done_rounds = done_rounds.clone();
        let (progress, duration) = (cfg.progress, cfg.duration);
        goro::go!(move || {
            let mut last = 0;
            let mut second = 0u64;
            loop {
                for _ in 0..10 {
                    goro::time::sleep(Duration::from_millis(100));
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    if duration.is_some_and(|d| run_start.elapsed() >= d) {
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                second += 1;
                let now = done_rounds.load(Ordering::Relaxed);
                if progress {
                    say!("{second:>4} s: {:>9} rt/s, {now} total", now - last);
                }
                last = now;
            }
        })
    };
    let mut report = Report {
        connected: 0,
        connect_errors: 0,
        open_time,
        round_trips: 0,
        errors: 0,
        mismatches: 0,
        first_error: None,
        run_time: Duration::ZERO,
        latency: Histogram::default(),
        bytes: 0,
    };
    for h in handles {
        match h.join() {
            Ok(o) => {
                report.connected += o.connected as usize;
                if let Some(e) = o.connect_error {
                    report.connect_errors += 1;
                    report.first_error.get_or_insert(format!("connect: {e}"));
                }
                report.round_trips += o.rounds;
                report.errors += o.errors;
                report.mismatches += o.mismatches;
                if report.first_error.is_none() {
                    report.first_error = o.first_error;
                }
                report.latency.merge(&o.hist);
            }
            Err(e) => {
                report.errors += 1;
                report
                    .first_error
                    .get_or_insert(format!("goroutine: {e:?}"));
            }
        }
    }
    report.run_time = run_start.elapsed();
    report.bytes = report.round_trips * cfg.size as u64;
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.join();
    report
}
