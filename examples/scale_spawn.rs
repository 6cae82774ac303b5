//! goro beside Go as the number of goroutines grows: a million parked
//! goroutines, and spawning 200,000 in a fresh process (cold: no stack
//! pooled yet). Every measurement runs in a process of its own, since
//! "cold" means one.
//!
//! ```text
//! cargo run --release --example scale_spawn -- idle-mem 1000000
//! GOMAXPROCS=2 cargo run --release --example scale_spawn -- spawn 200000
//! cargo run --release --example scale_spawn -- compare 5   # goro and Go, interleaved
//! ```
//!
//! * `idle-mem N`: N goroutines block receiving on one channel; once all
//!   have announced themselves the channel is closed and all return. Go's
//!   peer is `benches/compare/go/idle_mem.go`, line for line the same.
//! * `spawn N`: spawns N goroutines that return a value, then joins them
//!   all, twice in one process: the first round is cold (every stack is
//!   fresh memory), the second warm (stacks come from the pool). Go's peer
//!   is `benches/compare/go/spawn.go`.
//! * `compare [REPS]`: runs both loads REPS times (default 5) as fresh
//!   processes of this example and of the Go peers (built once with `go
//!   build`), goro and Go alternating, and prints the median with the
//!   smallest and largest beside it. The 1,000,000 case runs only when
//!   `MemAvailable` covers both runtimes' parked goroutines.
//!
//! Each mode prints one line of `key=value` fields; `compare` parses them.

#[macro_use]
#[path = "support/out.rs"]
mod out;
#[path = "support/parked.rs"]
mod parked;

use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use parked::{mem_available, park_on_channel};

/// goro beside Go as the number of goroutines grows. Each mode prints one
/// line of `key=value` fields.
#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// N goroutines block receiving on one channel, then all return.
    IdleMem {
        /// Goroutines to park.
        #[arg(default_value_t = 100_000)]
        n: usize,
    },
    /// Spawns N goroutines and joins them, cold then warm.
    Spawn {
        /// Goroutines to spawn.
        #[arg(default_value_t = 200_000)]
        n: usize,
    },
    /// Runs both loads REPS times as fresh processes, goro and Go
    /// alternating, and prints the medians.
    Compare {
        /// Repetitions.
        #[arg(default_value_t = 5)]
        reps: usize,
    },
}

fn main() {
    match Args::parse().mode {
        Mode::IdleMem { n } => idle_mem(n.max(1)),
        Mode::Spawn { n } => spawn(n.max(1)),
        Mode::Compare { reps } => compare(reps.max(1)),
    }
}

fn idle_mem(n: usize) {
    let run = park_on_channel(n);
    let total = run.park + run.release;
    say!(
        "idle_mem runtime=goro n={n} procs={} park_s={:.4} release_s={:.4} total_s={:.4} us_per_g={:.3} rss_bytes_per_g={} maps={}",
        goro::gomaxprocs(0),
        run.park.as_secs_f64(),
        run.release.as_secs_f64(),
        total.as_secs_f64(),
        total.as_secs_f64() * 1e6 / n as f64,
        run.rss_bytes_per_g,
        run.maps,
    );
}

/// One round of the spawn load: spawn `n`, then join them all.
fn spawn_round(n: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..n).map(|i| goro::go!(move || i)).collect();
    let mut sum = 0;
    for h in handles {
        sum += h.join().expect("a goroutine that returns a number");
    }
    let elapsed = start.elapsed();
    assert_eq!(
        sum,
        n * (n - 1) / 2,
        "every goroutine's result arrived once"
    );
    elapsed
}

fn spawn(n: usize) {
    let (cold, warm) = goro::run(move || (spawn_round(n), spawn_round(n)));
    say!(
        "spawn runtime=goro n={n} procs={} total_s={:.4} ns_per_task={:.1} warm_ns_per_task={:.1}",
        goro::gomaxprocs(0),
        cold.as_secs_f64(),
        cold.as_nanos() as f64 / n as f64,
        warm.as_nanos() as f64 / n as f64,
    );
}

/// The `key=value` fields of a mode's output line.
fn fields(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs `cmd` with `GOMAXPROCS=procs` and returns its output's fields.
fn measure(mut cmd: Command, procs: usize) -> BTreeMap<String, String> {
    let out = cmd
        .env("GOMAXPROCS", procs.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    fields(stdout.lines().last().unwrap_or_default())
}

/// Builds a Go peer once; None (with the reason printed) without Go.
fn build_go(name: &str, dir: &Path) -> Option<PathBuf> {
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("benches/compare/go/{name}.go"));
    let binary = dir.join(name);
    match Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
    {
        Ok(s) if s.success() => Some(binary),
        Ok(s) => {
            say!("(Go peer {name} not built: go build exited with {s}; Go column skipped)");
            None
        }
        Err(e) => {
            say!("(Go peer {name} not built: cannot run go: {e}; Go column skipped)");
            None
        }
    }
}

/// Median, smallest and largest of some samples.
fn spread(mut xs: Vec<f64>) -> String {
    if xs.is_empty() {
        return "-".to_string();
    }
    xs.sort_by(f64::total_cmp);
    format!(
        "{:.3} ({:.3}..{:.3})",
        xs[xs.len() / 2],
        xs[0],
        xs[xs.len() - 1]
    )
}

/// One row of the table: a load, its setting, and the fields that matter.
struct Case {
    label: String,
    args: Vec<String>,
    procs: usize,
    go: Option<PathBuf>,
    keys: &'static [&'static str],
}

fn compare(reps: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scale-go");
    std::fs::create_dir_all(&dir).expect("create target/scale-go");
    let go_idle = build_go("idle_mem", &dir);
    let go_spawn = build_go("spawn", &dir);
    let cpus = goro::num_cpu();
    let mut cases = Vec::new();
    for n in [100_000usize, 300_000, 1_000_000] {
        // Measured per parked goroutine: goro about 4.4 KB of RSS and
        // 0.5 KB of page tables, Go about 2.7 KB: ask for twice the sum.
        let needed = n * 16 * 1024;
        if n == 1_000_000 && mem_available().is_none_or(|a| a < needed) {
            say!(
                "(idle_mem n={n} skipped: needs {} MiB available, /proc/meminfo says {:?} MiB)",
                needed >> 20,
                mem_available().map(|a| a >> 20)
            );
            continue;
        }
        cases.push(Case {
            label: format!("idle_mem n={n} procs={cpus}"),
            args: vec!["idle-mem".into(), n.to_string()],
            procs: cpus,
            go: go_idle.clone(),
            keys: &["total_s", "us_per_g", "park_s", "rss_bytes_per_g", "maps"],
        });
    }
    for procs in [1, cpus] {
        cases.push(Case {
            label: format!("spawn n=200000 procs={procs}"),
            args: vec!["spawn".into(), "200000".into()],
            procs,
            go: go_spawn.clone(),
            keys: &["ns_per_task", "warm_ns_per_task"],
        });
    }
    let me = std::env::current_exe().expect("this example's path");
    // samples[case][runtime][key]
    let mut samples: Vec<[BTreeMap<&str, Vec<f64>>; 2]> =
        (0..cases.len()).map(|_| Default::default()).collect();
    for rep in 0..reps {
        for (case, got) in cases.iter().zip(samples.iter_mut()) {
            let mut goro_cmd = Command::new(&me);
            goro_cmd.args(&case.args);
            let mut runs = vec![(0, measure(goro_cmd, case.procs))];
            if let Some(go) = &case.go {
                let mut go_cmd = Command::new(go);
                go_cmd.arg(&case.args[1]);
                runs.push((1, measure(go_cmd, case.procs)));
            }
            // Alternate which runtime goes first, so neither always runs
            // right after the other's memory was freed.
            if rep % 2 == 1 {
                runs.reverse();
            }
            for (runtime, fields) in runs {
                for key in case.keys {
                    if let Some(v) = fields.get(*key).and_then(|v| v.parse().ok()) {
                        got[runtime].entry(key).or_default().push(v);
                    }
                }
            }
        }
        eprintln!("scale_spawn: repetition {} of {reps} done", rep + 1);
    }
    say!("command: cargo run --release --example scale_spawn -- compare {reps}; median (min..max) of {reps} fresh processes each, goro and Go alternating; {cpus} CPUs");
    for (case, got) in cases.iter().zip(samples) {
        for key in case.keys {
            let [goro, go] = [0, 1].map(|r| spread(got[r].get(key).cloned().unwrap_or_default()));
            say!("{:<28} {key:<17} goro {goro:<30} go {go}", case.label);
        }
    }
}
