//! `goro::process`: output, exit codes, pipes both ways, kill, the three
//! waits, bad input, 50 children waited for by 50 goroutines without a
//! worker blocked, plain threads, and nothing left behind (fds, zombies),
//! with pidfds and, in a child process with `GORO_PIDFD=0`, the SIGCHLD
//! fallback.
//!
//! The tests share process-wide state (the fd table, this process's
//! children, `gomaxprocs`), so each holds one lock.

use goro::process::{Child, Command, Stdio};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Set in the child process that runs the fallback's checks.
const FALLBACK_CHILD: &str = "GORO_PROCESS_TEST_FALLBACK";

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn in_fallback_child() -> bool {
    std::env::var_os(FALLBACK_CHILD).is_some()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The open fds once the runtime is up and has waited for a child (its
/// poller, and in the fallback the signal pipe, stay open for good).
fn fds_when_warm() -> usize {
    assert!(Command::new("sleep")
        .arg("0.01")
        .status()
        .unwrap()
        .success());
    open_fds()
}

/// How many of this process's fds are pidfds.
fn open_pidfds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().contains("pidfd"))
        .count()
}

/// This process's children that are zombies (exited, never reaped).
fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false; // gone meanwhile
            };
            // "pid (comm) state ppid ...": comm may hold spaces and ')'.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            let mut fields = rest.split(' ');
            let state = fields.next().unwrap();
            let ppid: u32 = fields.next().unwrap().parse().unwrap();
            ppid == me && state == "Z"
        })
        .collect()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// No zombie child is left: waits up to 5 s for reapers to finish.
fn assert_no_zombies() {
    let start = Instant::now();
    loop {
        let zombies = zombie_children();
        if zombies.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "zombie children left: {zombies:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn output_captures_stdout_stderr_and_exit_code() {
    let _serial = serial();
    let out = goro::run(|| {
        Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .unwrap()
    });
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
    assert!(!out.status.success());
    // output() left the command's defaults alone: status() inherits again.
    let mut cmd = Command::new("true");
    cmd.output().unwrap();
    assert!(cmd.status().unwrap().success());
}

#[test]
fn output_reads_a_child_that_fills_stderr_before_writing_stdout() {
    let _serial = serial();
    // 1 MiB of stderr (16 pipe buffers) before a line of stdout: a reader
    // that drained stdout first would wait for the child, which waits for
    // it.
    let out = goro::run(|| {
        Command::new("sh")
            .args(["-c", "head -c 1048576 /dev/zero >&2; echo done"])
            .output()
            .unwrap()
    });
    assert_eq!(out.stderr.len(), 1 << 20);
    assert_eq!(out.stdout, b"done\n");
    assert!(out.status.success());
    // And the other way round, with both pipes full at once.
    let out = goro::run(|| {
        Command::new("sh")
            .args([
                "-c",
                "head -c 1048576 /dev/zero & head -c 1048576 /dev/zero >&2; wait",
            ])
            .output()
            .unwrap()
    });
    assert_eq!((out.stdout.len(), out.stderr.len()), (1 << 20, 1 << 20));
    assert!(out.status.success());
}

#[test]
fn stdin_round_trips_through_cat_while_both_pipes_park() {
    let _serial = serial();
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let (echoed, status) = goro::run(move || {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // 4 MiB: far beyond both pipes' buffers, so writer and reader
        // each park many times.
        let writer = goro::go!(move || stdin.write_all(&data).unwrap());
        let mut echoed = Vec::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut echoed)
            .unwrap();
        writer.join().unwrap();
        (echoed, child.wait().unwrap())
    });
    assert!(
        echoed == expected,
        "cat echoed {} bytes, not the 4 MiB written",
        echoed.len()
    );
    assert!(status.success());
}

#[test]
fn wait_closes_stdin_first_like_std() {
    let _serial = serial();
    let status = goro::run(|| {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        assert!(child.stdin.is_some());
        // cat ends only when stdin closes: wait must close it.
        child.wait().unwrap()
    });
    assert!(status.success());
}

#[test]
fn kill_then_wait_reports_the_signal_and_kill_after_exit_is_ok() {
    let _serial = serial();
    goro::run(|| {
        let mut child = Command::new("sleep").arg("10").spawn().unwrap();
        let started = Instant::now();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(status.code(), None);
        assert!(started.elapsed() < Duration::from_secs(5));
        // std's rule: killing a reaped child does nothing and succeeds,
        // and waiting again gives the same status.
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    });
}

#[test]
fn try_wait_is_none_while_running_and_the_status_after_exit() {
    let _serial = serial();
    goro::run(|| {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 0.2; exit 7"])
            .spawn()
            .unwrap();
        assert!(child.try_wait().unwrap().is_none());
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the child never exited");
            goro::time::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(7));
        assert_eq!(child.try_wait().unwrap().unwrap().code(), Some(7));
        assert_eq!(child.wait().unwrap().code(), Some(7));
    });
}

#[test]
fn wait_timeout_expires_on_a_running_child_then_returns_its_status() {
    let _serial = serial();
    goro::run(|| {
        let mut child = Command::new("sleep").arg("0.3").spawn().unwrap();
        let started = Instant::now();
        assert!(child
            .wait_timeout(Duration::from_millis(50))
            .unwrap()
            .is_none());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(50),
            "returned after {waited:?}"
        );
        let status = child.wait_timeout(Duration::from_secs(10)).unwrap();
        assert!(status.unwrap().success());
        // It returned at the exit, not at the timeout.
        assert!(started.elapsed() < Duration::from_secs(5));
        // After the exit a zero timeout still reports it.
        assert!(child
            .wait_timeout(Duration::ZERO)
            .unwrap()
            .unwrap()
            .success());
    });
}

#[test]
fn a_missing_program_is_not_found_and_named() {
    let _serial = serial();
    let fds = fds_when_warm();
    let err = Command::new("goro-no-such-program").spawn().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("goro-no-such-program"), "{err}");
    let err = Command::new("/nonexistent/bin/x").output().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // A file without execute permission.
    let path = std::env::temp_dir().join(format!("goro-not-a-program-{}", std::process::id()));
    std::fs::write(&path, "echo hi\n").unwrap();
    let err = Command::new(&path).status().unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(open_fds(), fds);
}

#[test]
fn a_bad_current_dir_fails_naming_the_directory() {
    let _serial = serial();
    let fds = fds_when_warm();
    let err = Command::new("true")
        .current_dir("/nonexistent/dir")
        .spawn()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("/nonexistent/dir"), "{err}");
    let err = Command::new("true")
        .current_dir("/etc/hostname")
        .status()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotADirectory, "{err}");
    assert_eq!(open_fds(), fds);
}

/// `n` children of `sleep 0.2`, each spawned and waited for by its own
/// goroutine, on `workers` workers, with a 5 ms ticker beside them:
/// (wall time, most threads in the process at once, ticker's worst gap).
fn sleep_children(n: usize, workers: usize) -> (Duration, usize, Duration) {
    let previous = goro::gomaxprocs(workers);
    let result = goro::run(move || {
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let stop = stop.clone();
            goro::go!(move || {
                let (mut worst, mut last) = (Duration::ZERO, Instant::now());
                while !stop.load(Ordering::Relaxed) {
                    goro::time::sleep(Duration::from_millis(5));
                    worst = worst.max(last.elapsed());
                    last = Instant::now();
                }
                worst
            })
        };
        let sampler = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut most = 0;
                while !stop.load(Ordering::Relaxed) {
                    most = most.max(threads());
                    std::thread::sleep(Duration::from_millis(2));
                }
                most
            })
        };
        goro::time::sleep(Duration::from_millis(20));
        let started = Instant::now();
        let waiters: Vec<_> = (0..n)
            .map(|_| {
                goro::go!(move || {
                    let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
                    child.wait().unwrap()
                })
            })
            .collect();
        for w in waiters {
            assert!(w.join().unwrap().success());
        }
        let took = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        (took, sampler.join().unwrap(), ticker.join().unwrap())
    });
    goro::gomaxprocs(previous);
    result
}

#[test]
fn fifty_children_are_waited_for_without_blocking_a_worker() {
    let _serial = serial();
    let fds = fds_when_warm();
    let threads_before = threads();
    // One worker: waits that blocked it would run one at a time (10 s)
    // or, handed off by sysmon, start a thread each (+50 threads).
    let (took, most_threads, worst_gap) = sleep_children(50, 1);
    assert!(
        took < Duration::from_secs(2),
        "50 children of sleep 0.2 took {took:?}"
    );
    assert!(
        most_threads < threads_before + 20,
        "threads grew from {threads_before} to {most_threads}: waits blocked workers"
    );
    assert!(
        worst_gap < Duration::from_millis(500),
        "a 5 ms ticker waited {worst_gap:?}"
    );
    assert_eq!(open_fds(), fds, "pidfds or pipes leaked");
    assert_no_zombies();
}

#[test]
fn a_plain_thread_spawns_pipes_and_waits() {
    let _serial = serial();
    let fds = fds_when_warm();
    std::thread::spawn(|| {
        let out = Command::new("sh")
            .args(["-c", "echo thread; exit 4"])
            .output()
            .unwrap();
        assert_eq!(
            (&out.stdout[..], out.status.code()),
            (&b"thread\n"[..], Some(4))
        );

        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        cat.stdin
            .as_mut()
            .unwrap()
            .write_all(b"from a thread")
            .unwrap();
        drop(cat.stdin.take());
        let mut text = String::new();
        cat.stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "from a thread");
        assert!(cat.wait().unwrap().success());

        let mut sleeper = Command::new("sleep").arg("0.2").spawn().unwrap();
        assert!(sleeper
            .wait_timeout(Duration::from_millis(20))
            .unwrap()
            .is_none());
        assert!(sleeper
            .wait_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap()
            .success());
    })
    .join()
    .unwrap();
    assert_eq!(open_fds(), fds);
    assert_no_zombies();
}

#[test]
fn a_child_dropped_without_wait_is_reaped_when_it_exits() {
    let _serial = serial();
    let fds = fds_when_warm();
    let pid = {
        let child = Command::new("sleep")
            .arg("0.1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.id()
    };
    // std would leave it a zombie until this process ends.
    std::thread::sleep(Duration::from_millis(300));
    assert_no_zombies();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "child {pid} is still there"
    );
    let fds_after = (0..500)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            open_fds()
        })
        .find(|&n| n == fds)
        .unwrap_or_else(open_fds);
    assert_eq!(fds_after, fds, "the reaper's pidfd stayed open");
}

#[test]
fn nothing_is_left_behind_after_many_children_and_errors() {
    let _serial = serial();
    let fds = fds_when_warm();
    goro::run(|| {
        let children: Vec<Child> = (0..20)
            .map(|_| {
                Command::new("cat")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // While they run, each has a pidfd open (SIGCHLD where there is
        // none: the fallback test below checks that case).
        assert!(open_pidfds() >= 20, "only {} pidfds open", open_pidfds());
        for mut child in children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        for _ in 0..20 {
            let _ = Command::new("goro-no-such-program").output().unwrap_err();
            let _ = Command::new("true")
                .current_dir("/nonexistent")
                .output()
                .unwrap_err();
        }
    });
    assert_eq!(open_fds(), fds);
    assert_eq!(open_pidfds(), 0);
    assert_no_zombies();
}

#[test]
fn the_sigchld_fallback_passes_the_same_checks() {
    let _serial = serial();
    if in_fallback_child() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigchld_fallback_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FALLBACK_CHILD, "1")
        .env("GORO_PIDFD", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("FALLBACK OK"),
        "the fallback child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigchld_fallback_child() {
    if !in_fallback_child() {
        return;
    }
    let fds = fds_when_warm();
    let threads_before = threads();
    goro::run(|| {
        let mut child = Command::new("sleep").arg("0.3").spawn().unwrap();
        assert_eq!(open_pidfds(), 0, "GORO_PIDFD=0 still opened a pidfd");
        assert!(child
            .wait_timeout(Duration::from_millis(50))
            .unwrap()
            .is_none());
        assert!(child.wait().unwrap().success());

        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b"err\n"[..])
        );
        assert_eq!(out.status.code(), Some(3));

        let mut child = Command::new("sleep").arg("10").spawn().unwrap();
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    });
    std::thread::spawn(|| {
        let mut child = Command::new("sleep").arg("0.1").spawn().unwrap();
        assert!(child.wait().unwrap().success());
    })
    .join()
    .unwrap();
    let (took, most_threads, worst_gap) = sleep_children(20, 1);
    assert!(
        took < Duration::from_secs(2),
        "20 children of sleep 0.2 took {took:?}"
    );
    assert!(
        most_threads < threads_before + 15,
        "threads grew from {threads_before} to {most_threads}"
    );
    assert!(
        worst_gap < Duration::from_millis(500),
        "a 5 ms ticker waited {worst_gap:?}"
    );
    drop(Command::new("sleep").arg("0.05").spawn().unwrap());
    assert_no_zombies();
    assert_eq!(open_fds(), fds);
    println!("FALLBACK OK");
}

#[test]
fn a_pipe_hands_on_to_another_child_in_blocking_mode() {
    let _serial = serial();
    let fds = fds_when_warm();
    let out = goro::run(|| {
        // 1 MiB through two children: the second must read a blocking
        // pipe (a non-blocking one would make `wc` fail with EAGAIN).
        let mut producer = Command::new("sh")
            .args(["-c", "sleep 0.1; head -c 1048576 /dev/zero"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let counter = Command::new("wc")
            .arg("-c")
            .stdin(producer.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(producer.wait().unwrap().success());
        counter
    });
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1048576");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(open_fds(), fds);
    assert_no_zombies();
}
