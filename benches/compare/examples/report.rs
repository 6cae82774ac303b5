//! The claims report: a quick run (a few minutes on 2 cores) of the loads of
//! `benches/compare/benches/claims.rs` — switching, creation, a CPU-bound job split into 64
//! tasks and an IO-bound echo load — by goroutines (goro), OS threads,
//! processes, tokio tasks and may coroutines, on one core (pinned to CPU 0,
//! one worker) and on all cores. It prints one table, checks the four claims
//! of the textbook notes against the numbers (which held, which did not, by
//! how much), and writes a bar chart to `target/report/claims.svg`.
//!
//! Then the `sched` section (the loads of `benches/sched.rs`, run directly):
//! a 1 ms sleeper's wake-up lateness beside 1, 2, 8 and 64 CPU hogs on 1 and
//! 2 workers, each case in its own process with signal pausing on (the
//! chosen design) and off (`GORO_ASYNCPREEMPT=0`, the rejected one: hogs
//! only handed off), with the most threads seen executing goroutine code at
//! once and CPU time / wall time; the hand-off of 200 blocked goroutines
//! with a 5 ms ticker's worst gap; and an echo server's p99 at 100
//! connections with and without 4 hogs.
//!
//! Then the `scale` section (issue 11's timer goals; the loads are in
//! `benches/compare/support/scale.rs`): N = 1,000, 10,000 and 100,000 goroutines
//! each looping `sleep(1 ms)`, wake-ups per second and mean lateness, on
//! one worker and on all, beside the same load as tokio tasks and as Go
//! goroutines (`benches/compare/go/sleepers.go`, when `go` is on PATH);
//! and deadline churn: an echo server whose connections set a read
//! timeout before every read against the same server without, round
//! trips per second at 100 and 10,000 connections, client and server in
//! separate processes, runs interleaved.
//!
//! Then the `process` section (issue 12's child-process goals; the loads
//! are in `benches/compare/support/process.rs`): 50 children of `sleep 0.2` and
//! 1,000 of `true`, by goroutines with `goro::process` and with
//! `std::process`, by std threads and by tokio tasks (`tokio::process`), with
//! a ticker's worst gap; and one spawn's time beside parked goroutines.
//!
//! Then the `ipc` section (issue 15; `benches/compare/support/ipc.rs`):
//! 64 B round trips and one-way throughput (64 B and 64 KiB messages)
//! between two processes over pipes, FIFOs, Unix stream and datagram
//! sockets, TCP loopback, POSIX message queues, `ShmRing` and shared
//! memory with semaphores, by goroutines and by plain threads, with the
//! verdicts on the notes' IPC claims and `target/report/ipc.svg`; and the
//! `prefork` section (`support/prefork.rs`): a worker of
//! `examples/prefork.rs` killed under load, N processes x 1 worker
//! against 1 process x N workers, and a thread that segfaults.
//!
//! ```text
//! cargo run --release -p goro-compare --example report            # every section
//! cargo run --release -p goro-compare --example report -- claims  # the claims only
//! cargo run --release -p goro-compare --example report -- sched   # the sched section only (< 1 min)
//! cargo run --release -p goro-compare --example report -- scale   # the scale section only (~7 min)
//! cargo run --release -p goro-compare --example report -- scale --duration 3 --echo-duration 2 --reps 3
//! cargo run --release -p goro-compare --example report -- process # child processes (< 1 min)
//! cargo run --release -p goro-compare --example report -- ipc --reps 5      # IPC (~1 min)
//! cargo run --release -p goro-compare --example report -- prefork --reps 5  # prefork, crashes (~1 min)
//! ```
//!
//! Every value is the median of several repetitions (the count is printed),
//! with the smallest and largest beside it; nothing is rounded up. The
//! loads and their caveats are documented in `benches/compare/support/claims.rs`
//! and `examples/support/sched.rs`; criterion's full runs (with HTML
//! reports) are `cargo bench -p goro-compare --bench claims` and `cargo bench --bench sched`.

#[macro_use]
#[path = "../../../examples/support/out.rs"]
mod out;
#[path = "../../../examples/support/child.rs"]
mod child;
#[path = "../support/claims.rs"]
mod claims;
#[path = "../../../examples/support/fd_limit.rs"]
mod fd_limit;
#[path = "../support/ipc.rs"]
mod ipc;
#[path = "../../../examples/support/loadgen.rs"]
mod loadgen;
#[path = "../support/prefork.rs"]
mod prefork;
#[path = "../support/process.rs"]
mod process;
#[path = "../support/scale.rs"]
mod scale;
#[path = "../../../examples/support/sched.rs"]
mod sched;

use claims::Setting;
use clap::{builder::RangedU64ValueParser, Parser, ValueEnum};
use std::fmt::Write as _;
use std::time::Duration;

/// Repetitions of each switching, creation and CPU measurement.
const REPS: usize = 5;
/// Repetitions of each IO run.
const IO_REPS: usize = 3;
/// One-way handoffs per switching measurement.
const HANDOFFS: u64 = 10_000;
/// Rounds of the CPU-bound job (same as the criterion bench) and its tasks.
const CPU_TOTAL: u64 = 64 * 1_500_000;
const CPU_TASKS: u64 = 64;
/// IO-bound: task counts, round trips per task, where processes stop.
const IO_N: [usize; 3] = [100, 1_000, 10_000];
const IO_K: usize = 10;
const IO_PROCESS_MAX: usize = 1_000;

/// One measured cell of the table.
#[derive(Clone, Debug)]
struct Row {
    load: String,
    setting: String,
    contender: String,
    median: f64,
    min: f64,
    max: f64,
    unit: String,
    note: String,
}

impl Row {
    fn encode(&self) -> String {
        format!(
            "ROW\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.load,
            self.setting,
            self.contender,
            self.median,
            self.min,
            self.max,
            self.unit,
            self.note
        )
    }

    fn decode(line: &str) -> Option<Row> {
        let f: Vec<&str> = line.strip_prefix("ROW\t")?.split('\t').collect();
        Some(Row {
            load: f[0].into(),
            setting: f[1].into(),
            contender: f[2].into(),
            median: f[3].parse().ok()?,
            min: f[4].parse().ok()?,
            max: f[5].parse().ok()?,
            unit: f[6].into(),
            note: f.get(7).unwrap_or(&"").to_string(),
        })
    }
}

/// Median, min and max of `v` (not empty).
fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    let ipc::Spread { median, min, max } = ipc::Spread::of(v.to_vec());
    (median, min, max)
}

fn emit(load: &str, setting: Setting, contender: &str, mut v: Vec<f64>, unit: &str, note: String) {
    let (median, min, max) = stats(&mut v);
    let row = Row {
        load: load.into(),
        setting: setting.name().into(),
        contender: contender.into(),
        median,
        min,
        max,
        unit: unit.into(),
        note,
    };
    say!("{}", row.encode());
}

/// Runs every load in `setting` (this process is already in it) and prints
/// the rows on stdout: first the contenders that fork, while this process
/// is still lean, then the rest (see `claims::is_process`).
fn measure(setting: Setting) {
    eprintln!(
        "[{}] {} CPU(s) visible, fd limit {}; {}",
        setting.name(),
        claims::all_cpus(),
        claims::nofile_limit(),
        memory()
    );
    let server = claims::echo_server(setting);
    for forks in [true, false] {
        let pick = |name: &str| claims::is_process(name) == forks;
        for name in claims::SWITCHES.into_iter().filter(|n| pick(n)) {
            claims::switch(name, 1_000); // warm-up
            let v = (0..REPS)
                .map(|_| claims::switch(name, HANDOFFS).as_nanos() as f64 / HANDOFFS as f64)
                .collect();
            emit("switch", setting, name, v, "ns/handoff", String::new());
        }
        for name in claims::CREATIONS.into_iter().filter(|n| pick(n)) {
            let iters: u64 = match name {
                "thread_spawn_join" => 1_000,
                "process_fork_wait" => 300,
                "process_spawn_bin_true" => 100,
                _ => 10_000,
            };
            claims::create(name, iters / 10); // warm-up
            let v = (0..REPS)
                .map(|_| claims::create(name, iters).as_nanos() as f64 / iters as f64 / 1e3)
                .collect();
            emit("create", setting, name, v, "us/spawn+join", String::new());
        }
        let expected = claims::cpu_expected(CPU_TOTAL, CPU_TASKS);
        for name in claims::CPU_CONTENDERS.into_iter().filter(|n| pick(n)) {
            let v = (0..REPS)
                .map(|_| {
                    let (t, r) = claims::cpu(name, CPU_TOTAL, CPU_TASKS);
                    assert_eq!(r, expected, "{name} computed a wrong result");
                    t.as_secs_f64() * 1e3
                })
                .collect();
            emit("cpu64", setting, name, v, "ms", String::new());
        }
        for n in IO_N {
            for name in claims::IO_CONTENDERS.into_iter().filter(|n| pick(n)) {
                if claims::is_process(name) && n > IO_PROCESS_MAX {
                    continue;
                }
                let mut tput = Vec::new();
                let mut lat = Vec::new();
                let mut walls = Vec::new();
                for _ in 0..IO_REPS {
                    let run = claims::io(name, server.addr, n, IO_K);
                    tput.push(run.throughput());
                    walls.push(run.wall);
                    lat.extend(run.lat_ns);
                }
                let p50 = claims::quantile(&mut lat, 0.50) as f64 / 1e3;
                let p99 = claims::quantile(&mut lat, 0.99) as f64 / 1e3;
                walls.sort();
                let note = format!(
                    "p50 {p50:.0} us, p99 {p99:.0} us, wall {:.1} ms",
                    walls[walls.len() / 2].as_secs_f64() * 1e3
                );
                emit(
                    &format!("io_n{n}"),
                    setting,
                    name,
                    tput,
                    "round trips/s",
                    note,
                );
            }
        }
        eprintln!(
            "[{}] {} done; {}",
            setting.name(),
            if forks { "processes" } else { "the rest" },
            memory()
        );
    }
    drop(server);
}

/// Resident memory, page-table size and mapping count of this process:
/// what `fork` has to copy.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l[name.len()..].trim().to_string())
            .unwrap_or_default()
    };
    let maps = std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0);
    format!(
        "VmSize {}, VmRSS {}, VmPTE {}, {maps} mappings",
        field("VmSize:"),
        field("VmRSS:"),
        field("VmPTE:")
    )
}

/// Table order: setting, load, then each load's contender order.
fn order(r: &Row) -> (usize, usize, usize) {
    let setting = Setting::ALL.iter().position(|s| s.name() == r.setting);
    let loads = [
        "switch",
        "create",
        "cpu64",
        "io_n100",
        "io_n1000",
        "io_n10000",
    ];
    let load = loads.iter().position(|l| *l == r.load);
    let list: &[&str] = match r.load.as_str() {
        "switch" => &claims::SWITCHES,
        "create" => &claims::CREATIONS,
        "cpu64" => &claims::CPU_CONTENDERS,
        _ => &claims::IO_CONTENDERS,
    };
    let c = list.iter().position(|c| *c == r.contender);
    (setting.unwrap_or(9), load.unwrap_or(99), c.unwrap_or(99))
}

fn find<'a>(rows: &'a [Row], load: &str, setting: &str, contender: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.load == load && r.setting == setting && r.contender == contender)
}

/// Formats a value with 3 significant digits (no rounding up beyond that).
fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

fn print_table(rows: &[Row]) {
    say!(
        "{:<8} {:<12} {:<23} {:>11} {:<14} {:<23} note",
        "load",
        "setting",
        "contender",
        "median",
        "unit",
        "min .. max"
    );
    say!("{}", "-".repeat(118));
    for r in rows {
        say!(
            "{:<8} {:<12} {:<23} {:>11} {:<14} {:<23} {}",
            r.load,
            r.setting,
            r.contender,
            sig3(r.median),
            r.unit,
            format!("{} .. {}", sig3(r.min), sig3(r.max)),
            r.note
        );
    }
}

fn verdicts(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    let io_ns: Vec<usize> = IO_N.to_vec();

    // Claim 1: one core, IO-bound: coroutines win.
    {
        let mut lines = Vec::new();
        let mut held = 0;
        let mut tried = 0;
        for &n in &io_ns {
            let load = format!("io_n{n}");
            let Some(g) = find(rows, &load, "single_core", "goro") else {
                continue;
            };
            let mut parts = Vec::new();
            let mut wins = true;
            for other in ["thread", "process"] {
                if let Some(o) = find(rows, &load, "single_core", other) {
                    wins &= g.min > o.max;
                    parts.push(format!(
                        "{:.2}x {other}{}",
                        g.median / o.median,
                        judge(g, o)
                    ));
                }
            }
            for peer in ["tokio", "may"] {
                if let Some(o) = find(rows, &load, "single_core", peer) {
                    parts.push(format!("({:.2}x {peer})", g.median / o.median));
                }
            }
            tried += 1;
            held += wins as usize;
            lines.push(format!("    N={n}: goro throughput = {}", parts.join(", ")));
        }
        out.push(format!(
            "1. One core, IO-bound: coroutines win. {} (goro measurably beat both thread-per-task and process-per-task at {held} of {tried} task counts)",
            verdict(held, tried)
        ));
        out.extend(lines);
    }

    // Claim 2: one core, CPU-bound: a single process/thread wins. "Wins"
    // is read as: nothing is measurably faster (its whole min..max range
    // below sequential's).
    if let Some(seq) = find(rows, "cpu64", "single_core", "sequential") {
        let mut parts = Vec::new();
        let mut faster = Vec::new();
        let mut slower = Vec::new();
        for other in ["goro", "thread", "process", "tokio", "may"] {
            if let Some(o) = find(rows, "cpu64", "single_core", other) {
                let ratio = o.median / seq.median;
                parts.push(format!("{other} {ratio:.3}x"));
                if o.max < seq.min {
                    faster.push(format!("{other} {ratio:.3}x"));
                } else if o.min > seq.max {
                    slower.push(format!("{other} {ratio:.3}x"));
                }
            }
        }
        let v = if !faster.is_empty() {
            format!(
                "DID NOT HOLD: measurably faster than sequential: {}",
                faster.join(", ")
            )
        } else if slower.is_empty() {
            "HELD only as a tie: every split was within the spread of sequential".to_string()
        } else {
            format!(
                "HELD: nothing was measurably faster; measurably slower: {}; the rest tie",
                slower.join(", ")
            )
        };
        out.push(format!(
            "2. One core, CPU-bound: a single thread (sequential) wins. {v}"
        ));
        out.push(format!(
            "    wall time relative to sequential ({} ms): {}",
            sig3(seq.median),
            parts.join(", ")
        ));
    }

    // Claim 3: many cores, CPU-bound: threads, and goroutines on as many
    // workers, win.
    if let (Some(seq), Some(th), Some(g)) = (
        find(rows, "cpu64", "multi_core", "sequential"),
        find(rows, "cpu64", "multi_core", "thread"),
        find(rows, "cpu64", "multi_core", "goro"),
    ) {
        let speedup = seq.median / th.median;
        let goro_vs_thread = g.median / th.median;
        let mut parts = vec![
            format!("threads {:.2}x faster than sequential", speedup),
            format!("goro {:.2}x faster than sequential", seq.median / g.median),
            format!("goro/thread wall = {:.3}", goro_vs_thread),
        ];
        let mut others_faster = Vec::new();
        // Processes are the rival model; tokio and may are, like goro,
        // threads running coroutines, so they are shown, not judged.
        for other in ["process", "tokio", "may"] {
            if let Some(o) = find(rows, "cpu64", "multi_core", other) {
                parts.push(format!("{other}/thread = {:.3}", o.median / th.median));
                if other == "process" && o.median < th.median.min(g.median) {
                    others_faster.push(other);
                }
            }
        }
        let held = speedup > 1.0 && goro_vs_thread <= 1.05 && others_faster.is_empty();
        let process_beat_threads = find(rows, "cpu64", "multi_core", "process")
            .filter(|p| p.median < th.median)
            .map(|p| {
                format!(
                    " (but plain threads were {:.1}% slower than processes)",
                    (th.median / p.median - 1.0) * 100.0
                )
            })
            .unwrap_or_default();
        let v = if held {
            format!("HELD{process_beat_threads}")
        } else if speedup <= 1.0 {
            "DID NOT HOLD: threads were not faster than sequential".to_string()
        } else if goro_vs_thread > 1.05 {
            format!(
                "PARTLY: threads won, goro {:.1}% slower than threads",
                (goro_vs_thread - 1.0) * 100.0
            )
        } else {
            format!(
                "PARTLY: faster than threads and goro: {}",
                others_faster.join(", ")
            )
        };
        out.push(format!(
            "3. Many cores ({} here), CPU-bound: threads and goroutines on as many workers win. {v}",
            claims::all_cpus()
        ));
        out.push(format!("    {}", parts.join(", ")));
    }

    // Claim 4: many cores, IO-bound: threads running many coroutines win.
    {
        let mut lines = Vec::new();
        let mut held = 0;
        let mut tried = 0;
        for &n in &io_ns {
            let load = format!("io_n{n}");
            let Some(g) = find(rows, &load, "multi_core", "goro") else {
                continue;
            };
            let mut parts = Vec::new();
            let mut wins = true;
            for other in ["thread", "process"] {
                if let Some(o) = find(rows, &load, "multi_core", other) {
                    wins &= g.min > o.max;
                    parts.push(format!(
                        "{:.2}x {other}{}",
                        g.median / o.median,
                        judge(g, o)
                    ));
                }
            }
            if let Some(o) = find(rows, &load, "single_core", "goro") {
                parts.push(format!("{:.2}x goro on one core", g.median / o.median));
            }
            for peer in ["tokio", "may"] {
                if let Some(o) = find(rows, &load, "multi_core", peer) {
                    parts.push(format!("({:.2}x {peer})", g.median / o.median));
                }
            }
            tried += 1;
            held += wins as usize;
            lines.push(format!(
                "    N={n}: goro (all workers) throughput = {}",
                parts.join(", ")
            ));
        }
        out.push(format!(
            "4. Many cores, IO-bound: threads running many coroutines win. {} (goro on all workers measurably beat both thread-per-task and process-per-task at {held} of {tried} task counts)",
            verdict(held, tried)
        ));
        out.extend(lines);
    }
    out
}

/// " (won)", " (lost)" or " (tie)": higher is better; a win or a loss
/// needs the two min..max ranges apart.
fn judge(g: &Row, o: &Row) -> &'static str {
    if g.min > o.max {
        " (won)"
    } else if g.max < o.min {
        " (lost)"
    } else {
        " (tie: ranges overlap)"
    }
}

fn verdict(held: usize, tried: usize) -> &'static str {
    if tried == 0 {
        "NOT MEASURED"
    } else if held == tried {
        "HELD"
    } else if held == 0 {
        "DID NOT HOLD"
    } else {
        "HELD IN PART"
    }
}

// ---------------------------------------------------------------------
// The plot: an SVG bar chart written by hand, one panel per load, grouped
// by setting (and task count), log-scale value axis.

fn family_color(contender: &str) -> &'static str {
    let fam = contender.split('_').next().unwrap_or("");
    match fam {
        "goro" | "goroutines" => "#1f77b4",
        "tokio" => "#2ca02c",
        "may" => "#9467bd",
        "thread" | "threads" => "#ff7f0e",
        "process" => "#d62728",
        _ => "#7f7f7f",
    }
}

/// A bar: label, median, min, max.
type Bar = (String, f64, f64, f64);
/// A group of bars under one label.
type Group = (String, Vec<Bar>);

struct Panel {
    title: String,
    /// (group label, bars: (bar label, value, min, max))
    groups: Vec<Group>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The claims plot's legend: (family, label).
const CLAIMS_LEGEND: [(&str, &str); 6] = [
    ("goro", "goro (goroutines)"),
    ("tokio", "tokio (async tasks)"),
    ("may", "may (coroutines)"),
    ("thread", "OS threads"),
    ("process", "processes"),
    ("sequential", "sequential"),
];

fn svg(title: &str, legend: &[(&str, &str)], panels: &[Panel], subtitle: &str) -> String {
    let width = 1100.0;
    let panel_h = 300.0;
    let top = 70.0;
    let left = 80.0;
    let right = 20.0;
    let label_h = 125.0;
    let height = top + panels.len() as f64 * (panel_h + label_h + 40.0) + 20.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="24" font-size="17" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="44" fill="#444">{}</text>"##,
        esc(subtitle)
    );
    // Legend.
    let mut lx = left;
    for &(fam, label) in legend {
        let _ = writeln!(
            s,
            r#"<rect x="{lx}" y="52" width="12" height="12" fill="{}"/><text x="{}" y="62">{label}</text>"#,
            family_color(fam),
            lx + 16.0
        );
        lx += 150.0;
    }
    let mut y0 = top;
    for p in panels {
        let plot_top = y0 + 25.0;
        let plot_bottom = plot_top + panel_h - 25.0;
        let vals: Vec<f64> = p
            .groups
            .iter()
            .flat_map(|(_, b)| b.iter().flat_map(|x| [x.1, x.2, x.3]))
            .filter(|v| *v > 0.0)
            .collect();
        let lo = vals
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor();
        let hi = vals
            .iter()
            .cloned()
            .fold(0.0, f64::max)
            .log10()
            .ceil()
            .max(lo + 1.0);
        let ypos = |v: f64| {
            plot_bottom - (v.max(1e-300).log10() - lo) / (hi - lo) * (plot_bottom - plot_top)
        };
        let _ = writeln!(
            s,
            r#"<text x="{left}" y="{}" font-size="14" font-weight="bold">{}</text>"#,
            y0 + 15.0,
            esc(&p.title)
        );
        // Grid and axis labels at powers of ten.
        let mut e = lo;
        while e <= hi + 1e-9 {
            let y = ypos(10f64.powf(e));
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                width - right,
                left - 6.0,
                y + 4.0,
                axis_label(10f64.powf(e))
            );
            e += 1.0;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{plot_top}" x2="{left}" y2="{plot_bottom}" stroke="#333"/><line x1="{left}" y1="{plot_bottom}" x2="{}" y2="{plot_bottom}" stroke="#333"/>"##,
            width - right
        );
        let nbars: usize = p.groups.iter().map(|g| g.1.len()).sum();
        let gap = 24.0;
        let avail = width - left - right - gap * (p.groups.len() as f64 + 1.0);
        let bw = (avail / nbars.max(1) as f64).min(60.0);
        let mut x = left + gap;
        for (glabel, bars) in &p.groups {
            let gx = x;
            for (blabel, v, vmin, vmax) in bars {
                let y = ypos(*v);
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                    x + 1.0,
                    bw - 2.0,
                    (plot_bottom - y).max(0.0),
                    family_color(blabel),
                    esc(glabel),
                    esc(blabel),
                    sig3(*v)
                );
                // Spread: min..max whisker.
                let cx = x + bw / 2.0;
                let _ = writeln!(
                    s,
                    r##"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="#000" stroke-width="1"/>"##,
                    ypos(*vmin),
                    ypos(*vmax)
                );
                let _ = writeln!(
                    s,
                    r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="9">{}</text>"#,
                    y.min(ypos(*vmax)) - 3.0,
                    compact(*v)
                );
                let _ = writeln!(
                    s,
                    r#"<text transform="translate({:.1},{:.1}) rotate(-50)" text-anchor="end" font-size="10">{}</text>"#,
                    cx + 3.0,
                    plot_bottom + 12.0,
                    esc(blabel)
                );
                x += bw;
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{}</text>"#,
                (gx + x) / 2.0,
                plot_bottom + label_h,
                esc(glabel)
            );
            x += gap;
        }
        y0 += panel_h + label_h + 40.0;
    }
    s.push_str("</svg>\n");
    s
}

/// A short bar label: 3 significant digits, k/M above 10,000.
fn compact(v: f64) -> String {
    if v >= 1e7 {
        format!("{}M", sig3(v / 1e6))
    } else if v >= 1e4 {
        format!("{}k", sig3(v / 1e3))
    } else {
        sig3(v)
    }
}

fn axis_label(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else if v >= 1.0 {
        format!("{v}")
    } else {
        format!("{v:.3}")
    }
}

fn panels(rows: &[Row]) -> Vec<Panel> {
    let bars = |load: &str, setting: &str| -> Vec<Bar> {
        rows.iter()
            .filter(|r| r.load == load && r.setting == setting)
            .map(|r| (r.contender.clone(), r.median, r.min, r.max))
            .collect()
    };
    let settings = ["single_core", "multi_core"];
    let two = |load: &str| -> Vec<Group> {
        settings
            .iter()
            .map(|s| (s.replace('_', " "), bars(load, s)))
            .collect()
    };
    let mut io_groups = Vec::new();
    for s in settings {
        for n in IO_N {
            let b = bars(&format!("io_n{n}"), s);
            if !b.is_empty() {
                io_groups.push((format!("{} N={n}", s.replace('_', " ")), b));
            }
        }
    }
    vec![
        Panel {
            title: "Switching: ns per one-way handoff (lower is better, log scale)".into(),
            groups: two("switch"),
        },
        Panel {
            title: "Creation: us per spawn + join (lower is better, log scale)".into(),
            groups: two("create"),
        },
        Panel {
            title: format!(
                "CPU-bound: one job split into {CPU_TASKS} tasks, wall ms (lower is better, log scale)"
            ),
            groups: two("cpu64"),
        },
        Panel {
            title: format!(
                "IO-bound: N tasks x {IO_K} echo round trips over loopback TCP, round trips/s (higher is better, log scale)"
            ),
            groups: io_groups,
        },
    ]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The claims report, then the sched, scale and process sections: goro
/// beside threads, processes, tokio and may (and Go where installed).
#[derive(Parser)]
struct Args {
    /// The sections to run (none: all of them).
    #[arg(value_enum)]
    sections: Vec<Section>,
    /// The scale section's measured time per sleepers case, in seconds.
    #[arg(long = "duration", value_name = "SECS", default_value = "3", value_parser = secs, allow_negative_numbers = true)]
    sleep_time: Duration,
    /// The scale section's time per echo run, in seconds.
    #[arg(long = "echo-duration", value_name = "SECS", default_value = "2", value_parser = secs, allow_negative_numbers = true)]
    echo_time: Duration,
    /// The scale, ipc and prefork sections' runs of every case.
    #[arg(long, default_value_t = SCALE_REPS, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    reps: usize,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Section {
    /// The claims table (switching, creation, CPU, IO) and its SVG chart.
    Claims,
    /// Wake-up lateness beside CPU hogs, hand-off, echo p99 with hogs.
    Sched,
    /// Many sleeping goroutines and deadline churn (issue 11).
    Scale,
    /// Child processes (issue 12).
    Process,
    /// IPC between two processes, goroutines and threads (issue 15), and its plot.
    Ipc,
    /// The prefork server: a worker killed under load, processes vs workers,
    /// a crashing thread (issue 15).
    Prefork,
}

/// A number of seconds > 0, fractions allowed.
fn secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|e| format!("{e}"))?;
    match Duration::try_from_secs_f64(secs) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err("not a number of seconds > 0".into()),
    }
}

fn main() {
    claims::handle_roles();
    sched::handle_role();
    scale::handle_role();
    ipc::handle_role();
    prefork::handle_role();
    let args = Args::parse();
    let run = |s| args.sections.is_empty() || args.sections.contains(&s);
    let mut ok = !run(Section::Claims) || claims_section();
    if std::env::var(claims::SETTING_ENV).is_ok() {
        return; // a claims setting child: its rows are printed
    }
    if run(Section::Sched) {
        sched_section();
    }
    if run(Section::Scale) && !scale_section(args.sleep_time, args.echo_time, args.reps) {
        ok = false;
    }
    if run(Section::Process) {
        process::section();
    }
    if run(Section::Ipc) {
        ipc_section(args.reps);
    }
    if run(Section::Prefork) && !prefork::section(args.reps) {
        ok = false;
    }
    if !ok {
        std::process::exit(1);
    }
}

/// The claims section; false if a setting child failed.
fn claims_section() -> bool {
    let started = std::time::Instant::now();
    let load_before = loadavg();
    let mut rows = Vec::new();
    let ok = claims::run_settings(measure, |line| match Row::decode(line) {
        Some(r) => rows.push(r),
        None => say!("{line}"),
    });
    if std::env::var(claims::SETTING_ENV).is_ok() {
        return ok; // a setting child: rows already printed
    }
    rows.sort_by_key(order);
    let machine = format!(
        "{} CPU(s), {}; single_core = pinned to CPU 0 + 1 worker, multi_core = all CPUs",
        claims::all_cpus(),
        cpu_model()
    );
    say!();
    say!("claims report: {machine}");
    say!(
        "command: cargo run --release -p goro-compare --example report; median of {REPS} runs ({IO_REPS} for IO), min .. max beside it;"
    );
    say!(
        "switch: {HANDOFFS} handoffs per run; cpu64: {CPU_TOTAL} rounds in {CPU_TASKS} tasks; io: N tasks x {IO_K} 64-byte round trips, p50/p99 over all runs"
    );
    say!();
    print_table(&rows);
    say!();
    say!(
        "The four claims of the textbook notes (a win needs the min..max ranges apart; \
         ratios are of medians, IO in throughput):"
    );
    for line in verdicts(&rows) {
        say!("{line}");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report");
    std::fs::create_dir_all(&dir).expect("create target/report");
    let path = dir.join("claims.svg");
    let subtitle = format!("{machine}. cargo run --release -p goro-compare --example report");
    let title = "Processes vs threads vs coroutines: the textbook claims, measured";
    let plot = svg(title, &CLAIMS_LEGEND, &panels(&rows), &subtitle);
    std::fs::write(&path, plot).expect("write the SVG");
    say!();
    say!("plot: {}", path.display());
    say!(
        "report took {:.0} s; load average (1, 5, 15 min) before: {load_before}, after: {} \
         (anything else running on the machine disturbs these numbers)",
        Duration::as_secs_f64(&started.elapsed()),
        loadavg()
    );
    ok
}

// ---------------------------------------------------------------------
// The sched section: the loads of `benches/sched.rs`, run directly.

/// Probes per case, and the most time a case probes for (a case stops at
/// whichever comes first; beside many hogs a probe can be late by more
/// than the whole budget, so the probe count is printed).
const SCHED_PROBES: usize = 200;
const SCHED_PROBE_TIME: Duration = Duration::from_millis(1500);
/// A probe child that has not answered by then is killed (its own
/// watchdog) and reported as such.
const SCHED_CHILD_LIMIT: Duration = Duration::from_secs(30);
const SCHED_HOGS: [usize; 4] = [1, 2, 8, 64];
const SCHED_WORKERS: [usize; 2] = [1, 2];
/// The echo load: connections, seconds per run, workers of the server and
/// of the client, hogs in the server.
const ECHO_CONNS: usize = 100;
const ECHO_TIME: Duration = Duration::from_secs(2);
const ECHO_WORKERS: usize = 2;
const ECHO_HOGS: usize = 4;
/// Hand-off runs.
const HANDOFF_RUNS: usize = 3;

/// Environment variables given to a child process.
type Env = &'static [(&'static str, &'static str)];

/// The two designs: signal pausing on (chosen) and off (rejected).
const DESIGNS: [(&str, Env); 2] = [
    ("signal pausing", &[]),
    ("GORO_ASYNCPREEMPT=0", &[("GORO_ASYNCPREEMPT", "0")]),
];

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn sched_section() {
    let started = std::time::Instant::now();
    let load_before = loadavg();
    let cpus = claims::all_cpus();
    say!();
    say!("sched report: {cpus} CPU(s), {}", cpu_model());
    say!("command: cargo run --release -p goro-compare --example report -- sched");
    say!();
    say!(
        "Probe: a goroutine sleeps {:?} beside N CPU hogs (goroutines that never call goro), \
         {SCHED_PROBES} times or for {:?}, whichever ends first; lateness = time asleep - {:?}.",
        sched::PROBE_SLEEP,
        SCHED_PROBE_TIME,
        sched::PROBE_SLEEP
    );
    say!(
        "Each case runs in its own process, with signal pausing (the chosen design) and with \
         GORO_ASYNCPREEMPT=0 (rejected: hogs only handed off, cooperative checks only)."
    );
    say!(
        "R threads: goro-worker-* threads in state R (running or runnable) in /proc/self/task/*/stat, \
         sampled every ~1 ms: max (mean) against gomaxprocs; CPU/wall leaves the sampler's own CPU out."
    );
    say!();
    say!(
        "{:>7} {:>4}  {:<19} {:>6} {:>9} {:>9} {:>9}  {:>14} {:>7} {:>7} {:>8} {:>8}",
        "workers",
        "hogs",
        "design",
        "probes",
        "mean ms",
        "p99 ms",
        "worst ms",
        "R max (mean)",
        "R>cap",
        "threads",
        "CPU/wall",
        "hogs ran"
    );
    say!("{}", "-".repeat(120));
    for workers in SCHED_WORKERS {
        for hogs in SCHED_HOGS {
            for (design, env) in DESIGNS {
                match sched::probe_child(
                    hogs,
                    workers,
                    SCHED_PROBES,
                    SCHED_PROBE_TIME,
                    env,
                    SCHED_CHILD_LIMIT,
                ) {
                    Ok(run) => {
                        let r = run.running.unwrap_or_default();
                        say!(
                            "{:>7} {:>4}  {:<19} {:>6} {:>9} {:>9} {:>9}  {:>14} {:>6.1}% {:>7} {:>8.2} {:>8}",
                            workers,
                            hogs,
                            design,
                            run.late.len(),
                            ms(run.mean()),
                            ms(run.p99()),
                            ms(run.worst()),
                            format!("{} / {workers} ({:.2})", r.max, r.mean),
                            r.over as f64 * 100.0 / r.samples.max(1) as f64,
                            r.threads,
                            run.cpu_wall,
                            format!("{}/{hogs}", run.hogs_ran)
                        );
                    }
                    Err(e) => say!("{:>7} {:>4}  {:<19} FAILED: {e}", workers, hogs, design),
                }
            }
        }
    }
    say!(
        "(R>cap: share of samples with more workers in R than gomaxprocs; threads: most \
         goro-worker-* threads alive in one sample; hogs ran: hogs that got a slice; with \
         fewer than 100 probes p99 is the worst)"
    );

    say!();
    say!(
        "Echo: server in a child process on {ECHO_WORKERS} workers (0 or {ECHO_HOGS} hogs among \
         its goroutines), {ECHO_CONNS} connections x 64-byte round trips for {:?} from this \
         process ({ECHO_WORKERS} workers):",
        ECHO_TIME
    );
    say!(
        "{:<36} {:>9} {:>9} {:>9} {:>9}",
        "server",
        "rt/s",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    say!("{}", "-".repeat(76));
    let echo_cases: [(String, usize, Env); 3] = [
        ("no hogs".into(), 0, &[]),
        (format!("{ECHO_HOGS} hogs, signal pausing"), ECHO_HOGS, &[]),
        (
            format!("{ECHO_HOGS} hogs, GORO_ASYNCPREEMPT=0"),
            ECHO_HOGS,
            &[("GORO_ASYNCPREEMPT", "0")],
        ),
    ];
    for (label, hogs, env) in echo_cases {
        let server = sched::echo_server(hogs, ECHO_WORKERS, env);
        let report = sched::echo(server.addr, ECHO_CONNS, 0, Some(ECHO_TIME), ECHO_WORKERS);
        drop(server);
        say!(
            "{:<36} {:>9.0} {:>9} {:>9} {:>9}",
            label,
            report.rt_per_sec(),
            ms(report.latency.quantile(0.50)),
            ms(report.latency.quantile(0.99)),
            ms(report.latency.max())
        );
    }

    say!();
    say!(
        "Hand-off: 200 goroutines each in std::thread::sleep(200 ms) on gomaxprocs(2) \
         (0.2 s is the floor), a 5 ms ticker goroutine beside them; {HANDOFF_RUNS} runs:"
    );
    for i in 0..HANDOFF_RUNS {
        let h = sched::handoff(200, Duration::from_millis(200), 2);
        say!(
            "  run {}: all done in {} ms; ticker's worst gap {} ms",
            i + 1,
            ms(h.elapsed),
            ms(h.worst_gap)
        );
    }
    say!();
    say!(
        "sched section took {:.0} s; load average (1, 5, 15 min) before: {load_before}, after: {} \
         (anything else running on the machine disturbs these numbers)",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}

// ---------------------------------------------------------------------
// The scale section: issue 11's timer loads (`support/scale.rs`).

/// Sleeping goroutines per case.
const SCALE_N: [usize; 3] = [1_000, 10_000, 100_000];
/// A sleepers child that has not answered this long after its measured
/// time is over is killed (its own watchdog) and reported as failed.
const SCALE_CHILD_SLACK: Duration = Duration::from_secs(60);
/// Deadline churn: connection counts (the time per run is
/// `--echo-duration`), runs of each server, and the read timeout (long:
/// it never fires, it is only armed and cancelled).
const SCALE_ECHO_CONNS: [usize; 2] = [100, 10_000];
/// Default runs of every case (`--reps`).
const SCALE_REPS: usize = 3;
const SCALE_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The scale section; false if a case failed.
fn scale_section(sleep_time: Duration, echo_time: Duration, reps: usize) -> bool {
    let started = std::time::Instant::now();
    let load_before = loadavg();
    let cpus = claims::all_cpus();
    let worker_counts: Vec<usize> = if cpus > 1 { vec![1, cpus] } else { vec![1] };
    let go = scale::go_version();
    let mut ok = true;
    say!();
    say!("scale report: {cpus} CPU(s), {}", cpu_model());
    say!(
        "command: cargo run --release -p goro-compare --example report -- scale --duration {} --echo-duration {} \
         --reps {reps}",
        sleep_time.as_secs_f64(),
        echo_time.as_secs_f64()
    );
    say!(
        "go: {}",
        go.as_deref()
            .unwrap_or("not installed (install Go to add its rows)")
    );
    say!();
    say!(
        "Sleepers: N goroutines (tokio: tasks) each loop sleep({:?}); after a {:?} warm-up the \
         wake-ups are counted for {:?}; lateness = time asleep - {:?}, mean over the counted \
         wake-ups. Each case runs in its own process (Go: go run {}).",
        scale::NAP,
        scale::WARMUP,
        sleep_time,
        scale::NAP,
        scale::go_program().display()
    );
    say!(
        "{:>7} {:>7}  {:<21} {:>28} {:>23} {:>9}",
        "N",
        "workers",
        "contender",
        "wake-ups/s (min .. max)",
        "mean late ms (min..max)",
        "goro/this"
    );
    say!("{}", "-".repeat(100));
    let limit = scale::WARMUP + sleep_time + SCALE_CHILD_SLACK;
    for n in SCALE_N {
        for &workers in &worker_counts {
            let tokio = if workers == 1 {
                scale::TOKIO_CURRENT
            } else {
                scale::TOKIO_MULTI
            };
            let mut contenders = vec![scale::GORO, tokio];
            if go.is_some() {
                contenders.push(scale::GO);
            }
            let mut runs: Vec<Vec<scale::Sleepers>> = vec![Vec::new(); contenders.len()];
            let mut failed: Vec<Option<String>> = vec![None; contenders.len()];
            for rep in 0..reps {
                // Rotate the order, so no contender always runs first (on
                // a machine the previous case left warm, or tired).
                for k in 0..contenders.len() {
                    let i = (k + rep) % contenders.len();
                    if failed[i].is_some() {
                        continue;
                    }
                    let contender = contenders[i];
                    let run = if contender == scale::GO {
                        scale::go_sleepers(n, workers, scale::WARMUP, sleep_time)
                    } else {
                        scale::sleepers_child(
                            contender,
                            n,
                            workers,
                            scale::WARMUP,
                            sleep_time,
                            limit,
                        )
                    };
                    match run {
                        Ok(r) => runs[i].push(r),
                        Err(e) => failed[i] = Some(e),
                    }
                }
            }
            let mut goro_rate = None;
            for (i, contender) in contenders.iter().enumerate() {
                if let Some(e) = &failed[i] {
                    ok = false;
                    say!("{n:>7} {workers:>7}  {contender:<21} FAILED: {e}");
                    continue;
                }
                let rate = stats(&mut runs[i].iter().map(|r| r.rate()).collect::<Vec<_>>());
                let late = stats(
                    &mut runs[i]
                        .iter()
                        .map(|r| r.mean_late_ns as f64 / 1e6)
                        .collect::<Vec<_>>(),
                );
                if *contender == scale::GORO {
                    goro_rate = Some(rate.0);
                }
                say!(
                    "{n:>7} {workers:>7}  {contender:<21} {:>28} {:>23} {:>9}",
                    format!("{:.0} ({:.0} .. {:.0})", rate.0, rate.1, rate.2),
                    format!("{} ({} .. {})", sig3(late.0), sig3(late.1), sig3(late.2)),
                    goro_rate.map_or("-".into(), |g| format!("{:.2}", g / rate.0))
                );
            }
            if go.is_none() {
                say!("{n:>7} {workers:>7}  {:<21} go: not installed", scale::GO);
            }
        }
    }
    say!(
        "(median of {reps} runs per contender, the order rotated each run; goro/this: goro's \
         median wake-up rate over this contender's)"
    );

    say!();
    say!(
        "Deadline churn: a goro echo server in a child process, its connections calling \
         set_read_timeout({:?}) before every read, or never; N connections x 64-byte round \
         trips for {:?} from this process ({cpus} workers); {reps} runs of each, \
         interleaved; median (min .. max).",
        SCALE_READ_TIMEOUT,
        echo_time
    );
    say!(
        "{:>6} {:>7}  {:>27} {:>27} {:>9} {:>17}",
        "conns",
        "server",
        "no timeout rt/s",
        "read timeout rt/s",
        "ratio",
        "p99 ms none/with"
    );
    say!("{}", "-".repeat(100));
    for conns in SCALE_ECHO_CONNS {
        for &workers in &worker_counts {
            let servers = [
                scale::echo_server(workers, None),
                scale::echo_server(workers, Some(SCALE_READ_TIMEOUT)),
            ];
            let mut rates = [Vec::new(), Vec::new()];
            let mut p99 = [Duration::ZERO; 2];
            let mut failed = None;
            'runs: for rep in 0..reps {
                // Alternate which server goes first, so neither always
                // runs on a machine warmed (or tired) by the other.
                let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    match scale::echo(servers[which].addr, conns, echo_time, cpus) {
                        Ok(r) => {
                            rates[which].push(r.rt_per_sec());
                            p99[which] = p99[which].max(r.latency.quantile(0.99));
                        }
                        Err(e) => {
                            failed = Some(e);
                            break 'runs;
                        }
                    }
                }
            }
            drop(servers);
            if let Some(e) = failed {
                ok = false;
                say!("{conns:>6} {workers:>7}w FAILED: {e}");
                continue;
            }
            let [none, with] = rates.map(|mut v| stats(&mut v));
            let cell =
                |(median, min, max): (f64, f64, f64)| format!("{median:.0} ({min:.0} .. {max:.0})");
            say!(
                "{conns:>6} {:>7}  {:>27} {:>27} {:>9.3} {:>17}",
                format!("{workers}w"),
                cell(none),
                cell(with),
                with.0 / none.0,
                format!("{} / {}", ms(p99[0]), ms(p99[1]))
            );
        }
    }
    say!(
        "(server: the echo server's workers; ratio: median with timeouts / median without, \
         the goal is >= 0.95; p99: the worst run's)"
    );
    say!();
    say!(
        "scale section took {:.0} s; load average (1, 5, 15 min) before: {load_before}, after: {} \
         (anything else running on the machine disturbs these numbers)",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
    ok
}

// ---------------------------------------------------------------------
// The ipc section (issue 15; the loads are in `support/ipc.rs`).

/// Per run: timed 64 B round trips, 64 B and 64 KiB messages one way.
const IPC_PLAN: ipc::Plan = ipc::Plan {
    round_trips: 20_000,
    small: 200_000,
    big: 4_000,
};

fn ipc_section(reps: usize) {
    let started = std::time::Instant::now();
    let load_before = loadavg();
    let results = ipc::section(reps, IPC_PLAN);
    let panels: Vec<Panel> = ipc::Metric::ALL
        .into_iter()
        .map(|metric| Panel {
            title: format!("{}, log scale", metric.title()),
            groups: ipc::Method::ALL
                .into_iter()
                .map(|method| {
                    let bars = ipc::Side::ALL
                        .into_iter()
                        .filter_map(|side| {
                            let s = results.get(method, side).spread(metric)?;
                            Some((side.name().to_string(), s.median, s.min, s.max))
                        })
                        .collect();
                    (method.name().to_string(), bars)
                })
                .collect(),
        })
        .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/report");
    std::fs::create_dir_all(&dir).expect("create target/report");
    let path = dir.join("ipc.svg");
    let subtitle = format!(
        "{} CPU(s), {}; two processes; median of {reps} runs, whiskers min..max. \
         cargo run --release -p goro-compare --example report -- ipc",
        claims::all_cpus(),
        cpu_model()
    );
    let legend = [("goroutines", "goroutines"), ("threads", "plain threads")];
    let title = "IPC between two processes: the textbook claims, measured";
    std::fs::write(&path, svg(title, &legend, &panels, &subtitle)).expect("write the SVG");
    say!();
    say!("plot: {}", path.display());
    say!(
        "ipc section took {:.0} s; load average (1, 5, 15 min) before: {load_before}, after: {} \
         (anything else running on the machine disturbs these numbers)",
        started.elapsed().as_secs_f64(),
        loadavg()
    );
}
