//! The execution trace (`goro::trace`, `GORO_TRACE`): the JSON is valid
//! Chrome trace-event JSON, a ping-pong's slices alternate between its two
//! goroutines and its flows link each waker to its wakee, misuse and bad
//! paths give clear errors, and `GORO_TRACE` records a whole run.

use serde_json::Value;
use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// One trace runs per process: the tests that start one take turns.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("goro-trace-{}-{name}.json", std::process::id()))
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A goroutine slice of the trace.
struct Slice {
    g: u64,
    tid: u64,
    ts: f64,
    dur: f64,
    end: String,
    reason: Option<String>,
    location: Option<String>,
    name: Option<String>,
}

fn parse(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON: {e}"));
    assert_eq!(json["displayTimeUnit"], "ns");
    assert!(json["traceEvents"].is_array());
    json
}

fn events(json: &Value) -> &Vec<Value> {
    json["traceEvents"].as_array().unwrap()
}

fn slices(json: &Value) -> Vec<Slice> {
    let mut out: Vec<Slice> = events(json)
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "goroutine")
        .map(|e| Slice {
            g: e["args"]["goroutine"].as_u64().unwrap(),
            tid: e["tid"].as_u64().unwrap(),
            ts: e["ts"].as_f64().unwrap(),
            dur: e["dur"].as_f64().unwrap(),
            end: e["args"]["end"].as_str().unwrap().to_string(),
            reason: e["args"]["reason"].as_str().map(String::from),
            location: e["args"]["location"].as_str().map(String::from),
            name: e["args"]["name"].as_str().map(String::from),
        })
        .collect();
    out.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    out
}

/// Two goroutines send a value back and forth `rounds` times over
/// unbuffered channels; returns their ids (the pinger's first).
fn ping_pong(rounds: u32) -> (u64, u64) {
    let (ping_tx, ping_rx) = goro::chan::<u32>(0);
    let (pong_tx, pong_rx) = goro::chan::<u32>(0);
    let ponger = goro::go!(move || {
        let me = goro::current().unwrap().id();
        for _ in 0..rounds {
            let v = ping_rx.recv().unwrap();
            pong_tx.send(v + 1).unwrap();
        }
        me
    });
    let pinger = goro::go!(move || {
        let me = goro::current().unwrap().id();
        for i in 0..rounds {
            ping_tx.send(i).unwrap();
            assert_eq!(pong_rx.recv().unwrap(), i + 1);
        }
        me
    });
    (pinger.join().unwrap(), ponger.join().unwrap())
}

#[test]
fn ping_pong_slices_alternate_and_flows_link_waker_to_wakee() {
    const ROUNDS: u32 = 500;
    let _turn = one_at_a_time();
    let path = temp_path("ping-pong");
    goro::trace::start(&path).unwrap();
    let (a, b) = ping_pong(ROUNDS);
    goro::trace::stop().unwrap();
    let json = parse(&path);
    std::fs::remove_file(&path).unwrap();

    // Every worker lane is named.
    let named: Vec<u64> = events(&json)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    let all = slices(&json);
    assert!(all.iter().all(|s| named.contains(&s.tid)));

    // Each round parks each goroutine once, in a channel operation: their
    // slices take turns. (A wake-up that beats the park, when the two run
    // on two workers at once, merges two rounds into one slice now and
    // then: allow a few.)
    let pair: Vec<&Slice> = all.iter().filter(|s| s.g == a || s.g == b).collect();
    for g in [a, b] {
        let n = pair.iter().filter(|s| s.g == g).count();
        assert!(n >= ROUNDS as usize * 9 / 10, "goroutine {g}: {n} slices");
    }
    let repeats = pair.windows(2).filter(|w| w[0].g == w[1].g).count();
    assert!(
        repeats <= ROUNDS as usize / 10,
        "{repeats} of {} slices follow one of the same goroutine",
        pair.len()
    );
    // Each park says where: the channel calls of `ping_pong`, in this file.
    for s in &pair {
        if s.end == "park" {
            let reason = s.reason.as_deref().unwrap();
            assert!(["chan send", "chan receive"].contains(&reason), "{reason}");
            let at = s.location.as_deref().unwrap_or("");
            assert!(at.starts_with("tests/trace.rs:"), "park at {at:?}");
        }
    }
    assert!(pair.last().unwrap().dur >= 0.0);

    // Flows: each starts inside a slice of the waker and ends where a
    // slice of the wakee starts.
    let mut ends: HashMap<u64, &Value> = HashMap::new();
    for e in events(&json).iter().filter(|e| e["ph"] == "f") {
        assert_eq!(e["bp"], "e");
        ends.insert(e["id"].as_u64().unwrap(), e);
    }
    let mut linked: HashMap<u64, usize> = HashMap::new();
    for s in events(&json).iter().filter(|e| e["ph"] == "s") {
        let wakee = s["args"]["wakee"].as_u64().unwrap();
        if wakee != a && wakee != b {
            continue;
        }
        let waker = s["args"]["waker"].as_u64();
        let other = if wakee == a { b } else { a };
        assert_eq!(waker, Some(other), "{s}");
        let (tid, ts) = (s["tid"].as_u64().unwrap(), s["ts"].as_f64().unwrap());
        assert!(
            all.iter()
                .any(|x| x.g == other && x.tid == tid && x.ts <= ts && ts <= x.ts + x.dur),
            "flow {s} starts in no slice of its waker"
        );
        // It ends where the wakee next runs: its first slice after it.
        let f = ends[&s["id"].as_u64().unwrap()];
        let (to, at) = (f["tid"].as_u64().unwrap(), f["ts"].as_f64().unwrap());
        let next = all
            .iter()
            .find(|x| x.g == wakee && x.ts >= ts)
            .unwrap_or_else(|| panic!("flow {s}: its wakee never ran again"));
        assert!(
            next.tid == to && next.ts == at,
            "flow {s} ends at {f}, not at its wakee's next slice"
        );
        *linked.entry(wakee).or_default() += 1;
    }
    for g in [a, b] {
        let n = linked.get(&g).copied().unwrap_or(0);
        assert!(
            n >= ROUNDS as usize * 9 / 10,
            "goroutine {g}: woken {n} times"
        );
    }
}

#[test]
fn stop_from_a_goroutine_writes_the_trace() {
    let _turn = one_at_a_time();
    let path = temp_path("from-goroutine");
    let p = path.clone();
    let written = goro::go!(move || {
        goro::trace::start(&p)?;
        let sleeper = goro::go!(|| goro::time::sleep(std::time::Duration::from_millis(1)));
        sleeper.join().unwrap();
        goro::trace::stop()
    });
    written.join().unwrap().unwrap();
    let json = parse(&path);
    std::fs::remove_file(&path).unwrap();
    let all = slices(&json);
    // (The turn that started the trace is not in it: the run loop picks
    // the traced switch per turn.)
    assert!(all.iter().any(|s| s.reason.as_deref() == Some("sleep")));
    // The goroutine that stopped the trace was still in its turn.
    assert!(all.iter().any(|s| s.end == "running at trace end"));
}

#[test]
fn hogs_are_preempted_and_resumed() {
    let _turn = one_at_a_time();
    let path = temp_path("hogs");
    let hogs = goro::gomaxprocs(0) + 1;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    goro::trace::start(&path).unwrap();
    let handles: Vec<_> = (0..hogs)
        .map(|_| {
            let stop = stop.clone();
            goro::go!(move || {
                let me = goro::current().unwrap().id();
                let mut x = 1u64;
                // Computes without calling goro: only sysmon ends its turns.
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
                me
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let ids: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    goro::trace::stop().unwrap();
    let json = parse(&path);
    std::fs::remove_file(&path).unwrap();
    let all = slices(&json);
    // More hogs than workers for 200 ms: sysmon ends turns (10 ms slices),
    // pausing a hog's thread or asking it to yield; every hog runs.
    let preempted: Vec<&Slice> = all
        .iter()
        .filter(|s| ids.contains(&s.g) && s.end.starts_with("preempted"))
        .collect();
    // (With pausing off, `GORO_ASYNCPREEMPT=0`, sysmon hands workers off
    // instead: then no turn ends early.)
    let pausing = std::env::var("GORO_ASYNCPREEMPT").map_or(true, |v| v != "0");
    assert!(!pausing || !preempted.is_empty(), "no hog was preempted");
    for g in &ids {
        assert!(all.iter().any(|s| s.g == *g), "hog {g} never ran");
    }
    // A paused hog goes on later on the same thread: its next slice is on
    // that lane.
    for p in preempted.iter().filter(|s| s.end == "preempted (paused)") {
        let next = all.iter().find(|s| s.g == p.g && s.ts > p.ts);
        if let Some(next) = next {
            assert_eq!(next.tid, p.tid, "a paused hog resumed on another thread");
        }
    }
}

#[test]
fn start_twice_is_an_error() {
    let _turn = one_at_a_time();
    goro::gomaxprocs(0); // the runtime's own fds first
    let fds = open_fds();
    let (first, second) = (temp_path("first"), temp_path("second"));
    goro::trace::start(&first).unwrap();
    let e = goro::trace::start(&second).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    let message = e.to_string();
    assert!(message.contains("already running"), "{message}");
    assert!(message.contains(&first.display().to_string()), "{message}");
    assert!(!second.exists(), "a refused start created its file");
    goro::trace::stop().unwrap();
    parse(&first);
    std::fs::remove_file(&first).unwrap();
    assert_eq!(open_fds(), fds, "the trace's file stayed open");
}

#[test]
fn stop_without_start_is_an_error() {
    let _turn = one_at_a_time();
    let e = goro::trace::stop().unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("no trace is running"), "{e}");
    // And after a trace stopped, again.
    let path = temp_path("stop-twice");
    goro::trace::start(&path).unwrap();
    goro::trace::stop().unwrap();
    assert!(goro::trace::stop().is_err());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unwritable_path_fails_at_start() {
    let _turn = one_at_a_time();
    let missing = std::env::temp_dir().join(format!("goro-no-such-dir-{}", std::process::id()));
    let path = missing.join("trace.json");
    let e = goro::trace::start(&path).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let message = e.to_string();
    assert!(
        message.starts_with("goro::trace::start: cannot create"),
        "{message}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
    let e = goro::trace::start(std::env::temp_dir()).unwrap_err();
    assert!(e.to_string().contains("cannot create"), "{e}");
    // Nothing runs after a failed start: stopping fails, starting works.
    assert!(goro::trace::stop().is_err());
    let good = temp_path("after-failure");
    goro::trace::start(&good).unwrap();
    goro::trace::stop().unwrap();
    std::fs::remove_file(&good).unwrap();
}

#[test]
fn goro_trace_env_records_a_whole_run() {
    if std::env::var_os("GORO_TRACE_CHILD").is_some() {
        // The child: a run whose trace is written when `run` returns.
        let path = PathBuf::from(std::env::var_os("GORO_TRACE").unwrap());
        goro::run(|| {
            let ponger = goro::Builder::new()
                .name("ponger".into())
                .spawn(|| goro::time::sleep(std::time::Duration::from_millis(2)))
                .unwrap();
            ponger.join().unwrap();
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.trim_end().ends_with('}'),
            "not written when run returned"
        );
        return;
    }
    let path = temp_path("env");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "goro_trace_env_records_a_whole_run",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GORO_TRACE_CHILD", "1")
        .env("GORO_TRACE", &path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "child failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let json = parse(&path);
    std::fs::remove_file(&path).unwrap();
    let all = slices(&json);
    let main = all.iter().find(|s| s.name.as_deref() == Some("main"));
    assert!(main.is_some(), "no slice of the main goroutine");
    let ponger: Vec<&Slice> = all
        .iter()
        .filter(|s| s.name.as_deref() == Some("ponger"))
        .collect();
    assert!(ponger.iter().any(|s| s.reason.as_deref() == Some("sleep")));
    assert!(ponger.iter().any(|s| s.end == "exit"));
    // The sleep's timer woke it: a flow from a zero-length wake slice.
    assert!(events(&json)
        .iter()
        .any(|e| e["ph"] == "X" && e["name"] == "wake"));
}

#[test]
fn goro_trace_env_with_a_bad_path_runs_untraced() {
    let missing = std::env::temp_dir()
        .join(format!("goro-no-such-dir-{}", std::process::id()))
        .join("t.json");
    if std::env::var_os("GORO_TRACE_CHILD").is_some() {
        assert_eq!(goro::run(|| 6 * 7), 42);
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "goro_trace_env_with_a_bad_path_runs_untraced",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GORO_TRACE_CHILD", "1")
        .env("GORO_TRACE", &missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "goro: GORO_TRACE={}: cannot trace",
            missing.display()
        )),
        "{stderr}"
    );
}
