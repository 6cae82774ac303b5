//! `GORO_DEBUG=schedtrace=MS[,scheddetail=1]`: each test runs a workload
//! in a child process (this binary, `GORO_CHILD=name`) with the setting,
//! and parses every line it printed to stderr with a strict pattern.

use std::process::{Command, Stdio};
use std::time::Duration;

fn is_child(name: &str) -> bool {
    std::env::var("GORO_CHILD").as_deref() == Ok(name)
}

/// Runs this binary's test `name` as a child with `GORO_DEBUG=debug` on
/// two workers; returns its stderr after checking it succeeded.
fn child(name: &str, debug: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", name)
        .env("GORO_DEBUG", debug)
        .env("GOMAXPROCS", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {stderr}");
    stderr
}

/// A workload that keeps the scheduler busy for `ms`: a channel
/// ping-pong with short sleeps, a goroutine parked on a channel receive,
/// and one locked to its thread.
fn workload(ms: u64) {
    let (stop_tx, stop_rx) = goro::chan::<()>(0);
    let parked = goro::Builder::new()
        .name("parked".to_string())
        .spawn(move || {
            let _ = stop_rx.recv();
        })
        .unwrap();
    let (lock_tx, lock_rx) = goro::chan::<()>(0);
    let locked = goro::go!(move || {
        goro::lock_os_thread();
        let _ = lock_rx.recv();
        goro::unlock_os_thread();
    });
    let (ping_tx, ping_rx) = goro::chan::<u64>(0);
    let (pong_tx, pong_rx) = goro::chan::<u64>(0);
    let echo = goro::go!(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).unwrap();
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_millis(ms);
    goro::go!(move || {
        let mut i = 0;
        while std::time::Instant::now() < deadline {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i);
            i += 1;
            if i % 100 == 0 {
                goro::time::sleep(Duration::from_millis(1));
            }
        }
    })
    .join()
    .unwrap();
    echo.join().unwrap();
    drop(stop_tx);
    drop(lock_tx);
    parked.join().unwrap();
    locked.join().unwrap();
}

/// The value of `key=` in `fields` (space-separated `key=value`), which
/// must come in exactly the order of `keys`; every value must pass `ok`.
fn keyed<'a>(fields: &'a str, keys: &[&str], ok: impl Fn(&str, &str) -> bool) -> Vec<&'a str> {
    let parts: Vec<&str> = fields.split(' ').collect();
    assert_eq!(parts.len(), keys.len(), "fields of {fields:?}");
    parts
        .iter()
        .zip(keys)
        .map(|(part, key)| {
            let value = part
                .strip_prefix(key)
                .and_then(|p| p.strip_prefix('='))
                .unwrap_or_else(|| panic!("{key}= expected in {fields:?}"));
            assert!(ok(key, value), "bad {key}={value} in {fields:?}");
            value
        })
        .collect()
}

fn number(s: &str) -> u64 {
    assert!(
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
        "not a number: {s:?}"
    );
    s.parse().unwrap()
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn number_or_nil(s: &str) -> bool {
    s == "nil" || is_number(s)
}

const SCHED_KEYS: [&str; 6] = [
    "gomaxprocs",
    "idleprocs",
    "threads",
    "spinningthreads",
    "idlethreads",
    "runqueue",
];

/// Parses `SCHED <n>ms: ...`: returns the stamp and the rest after it.
fn sched_stamp(line: &str) -> (u64, &str) {
    let rest = line.strip_prefix("SCHED ").expect("SCHED line");
    let (ms, rest) = rest.split_once("ms: ").expect("SCHED <n>ms: ");
    (number(ms), rest)
}

/// Stamps advance on a 100 ms schedule: in order, never closer than half
/// a period, and most gaps one period.
fn check_stamps(stamps: &[u64], period: u64) {
    assert!(stamps.len() >= 4, "too few reports: {stamps:?}");
    assert!(stamps[0] < 3 * period, "first report late: {stamps:?}");
    let gaps: Vec<u64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|&g| g >= period / 2),
        "reports too close: {stamps:?}"
    );
    let mut sorted = gaps.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    assert!(
        (period * 9 / 10..=period * 3 / 2).contains(&median),
        "median gap {median} ms for a {period} ms period: {stamps:?}"
    );
}

#[test]
fn schedtrace_prints_gos_line_every_period() {
    if is_child("schedtrace_prints_gos_line_every_period") {
        workload(650);
        return;
    }
    let stderr = child("schedtrace_prints_gos_line_every_period", "schedtrace=100");
    let mut stamps = Vec::new();
    for line in stderr.lines().filter(|l| l.starts_with("SCHED")) {
        let (ms, rest) = sched_stamp(line);
        let (fields, bracket) = rest.split_once(" [").expect("the per-worker bracket");
        let v = keyed(fields, &SCHED_KEYS, |_, v| number(v) < 100_000);
        let (gomaxprocs, idle, threads) = (number(v[0]), number(v[1]), number(v[2]));
        assert_eq!(gomaxprocs, 2, "{line}");
        assert!(idle <= gomaxprocs, "{line}");
        // The workers, sysmon and the printer, at least.
        assert!(threads >= gomaxprocs + 2, "{line}");
        let queues = bracket.strip_suffix(']').expect("bracket closes the line");
        let queues: Vec<u64> = queues.split(' ').map(number).collect();
        assert_eq!(queues.len() as u64, gomaxprocs, "{line}");
        stamps.push(ms);
    }
    check_stamps(&stamps, 100);
    // Nothing else was printed but the harness's own lines.
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("SCHED") || l.trim().is_empty()),
        "{stderr}"
    );
}

#[test]
fn scheddetail_adds_a_line_per_worker_thread_and_goroutine() {
    if is_child("scheddetail_adds_a_line_per_worker_thread_and_goroutine") {
        workload(450);
        return;
    }
    let stderr = child(
        "scheddetail_adds_a_line_per_worker_thread_and_goroutine",
        "schedtrace=100,scheddetail=1",
    );
    let mut stamps = Vec::new();
    let mut saw_parked = false;
    let mut saw_locked = false;
    let mut lines = stderr.lines().filter(|l| !l.trim().is_empty()).peekable();
    while let Some(line) = lines.next() {
        let (ms, rest) = sched_stamp(line);
        stamps.push(ms);
        let mut keys = SCHED_KEYS.to_vec();
        keys.extend(["pausedqueue", "preemptions", "pauses", "handoffs"]);
        let v = keyed(rest, &keys, |_, v| number(v) < 1_000_000);
        let gomaxprocs = number(v[0]);
        assert_eq!(gomaxprocs, 2, "{line}");
        // P lines: one per active worker.
        let mut ps = 0;
        while let Some(p) = lines.next_if(|l| l.starts_with("  P")) {
            let (id, fields) = p[3..].split_once(": ").expect("P<n>: ");
            let v = keyed(
                fields,
                &["status", "schedtick", "runqsize", "timers", "m"],
                |k, v| match k {
                    "status" => ["idle", "running", "lending", "scheduling"].contains(&v),
                    _ => is_number(v),
                },
            );
            assert_eq!(v[4], id, "a worker is its own thread: {p}");
            ps += 1;
        }
        assert_eq!(ps, gomaxprocs, "P lines after {line}");
        // M lines: every worker thread, the active ones with their P.
        let mut lockedg = Vec::new();
        let mut ms_seen = 0;
        while let Some(m) = lines.next_if(|l| l.starts_with("  M")) {
            let (id, fields) = m[3..].split_once(": ").expect("M<n>: ");
            number(id);
            let v = keyed(
                fields,
                &["p", "status", "tid", "curg", "lockedg"],
                |k, v| match k {
                    "status" => [
                        "idle",
                        "running",
                        "lending",
                        "scheduling",
                        "paused",
                        "retiring",
                        "detached",
                        "spare",
                        "exited",
                    ]
                    .contains(&v),
                    "tid" => is_number(v), // 0 until the thread has started
                    _ => number_or_nil(v),
                },
            );
            assert!(v[0] == "nil" || v[0] == id, "{m}");
            if v[4] != "nil" {
                lockedg.push((id.to_string(), v[4].to_string()));
            }
            ms_seen += 1;
        }
        assert!(ms_seen >= gomaxprocs, "M lines after {line}");
        // G lines: every live goroutine.
        while let Some(g) = lines.next_if(|l| l.starts_with("  G")) {
            let (id, fields) = g[3..].split_once(": ").expect("G<n>: ");
            number(id);
            // The reason may hold spaces ("chan receive"): up to its ')'.
            let status = fields.strip_prefix("status=").expect("status= first");
            let (status, rest) = status.split_once(") ").expect("status=state(reason) ");
            let (state, reason) = status.split_once('(').expect("state(reason)");
            assert!(
                ["new", "runnable", "running", "blocked"].contains(&state),
                "{g}"
            );
            assert!(
                reason.is_empty() || state == "blocked",
                "a reason only while blocked: {g}"
            );
            let v = keyed(rest, &["m", "lockedm"], |_, v| number_or_nil(v));
            saw_parked |= status == "blocked(chan receive";
            if v[1] != "nil" {
                // The thread it is locked to names it back.
                assert!(
                    lockedg.contains(&(v[1].to_string(), id.to_string())),
                    "{g} not in {lockedg:?}"
                );
                saw_locked = true;
            }
        }
    }
    check_stamps(&stamps, 100);
    assert!(
        saw_parked,
        "no goroutine seen parked on a receive:\n{stderr}"
    );
    assert!(saw_locked, "no locked goroutine seen:\n{stderr}");
}

#[test]
fn a_bad_setting_is_reported_and_ignored() {
    if is_child("a_bad_setting_is_reported_and_ignored") {
        workload(150);
        return;
    }
    let stderr = child("a_bad_setting_is_reported_and_ignored", "schedtrace=soon");
    assert!(
        stderr.contains(
            "goro: GORO_DEBUG: schedtrace wants milliseconds, got \"soon\"; no schedtrace"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("SCHED"), "{stderr}");
}

#[test]
fn a_closed_stderr_stops_nothing() {
    if is_child("a_closed_stderr_stops_nothing") {
        workload(300);
        println!("workload done");
        return;
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "a_closed_stderr_stops_nothing",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("GORO_CHILD", "a_closed_stderr_stops_nothing")
    .env("GORO_DEBUG", "schedtrace=10")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stderr.take()); // every report now meets a closed pipe
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("workload done"), "{stdout}");
}
