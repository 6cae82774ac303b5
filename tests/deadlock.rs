//! Deadlock detection, checked in child processes: when every goroutine is
//! blocked and nothing can wake them, goro says so (Go's message) and exits
//! with status 2; when a timer or a plain thread can still wake one, it
//! stays quiet.
//!
//! No libtest harness (`harness = false` in Cargo.toml): the scenario must
//! run on the process's main thread, so that every thread is accounted for.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn scenario(name: &str) {
    match name {
        "deadlock" => {
            goro::run(|| {
                let (tx, rx) = goro::chan::<u8>(0);
                let _held = tx; // a sender exists, but nobody will ever send
                let _stuck = goro::Builder::new()
                    .name("stuck-sender".to_string())
                    .spawn(|| {
                        let (tx2, _rx2) = goro::chan::<u8>(0);
                        let _ = tx2.send(1);
                    })
                    .unwrap();
                let _ = rx.recv();
            });
            println!("unreachable: the deadlock was not reported");
        }
        "woken_by_thread" => {
            let (tx, rx) = goro::chan::<u8>(0);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(400));
                tx.send(7).unwrap();
            });
            let got = goro::run(move || rx.recv().unwrap());
            println!("received {got}");
        }
        "woken_by_timer" => {
            let got = goro::run(|| {
                let (tx, rx) = goro::chan::<u8>(0);
                goro::go!(move || {
                    goro::time::sleep(Duration::from_millis(400));
                    tx.send(9).unwrap();
                });
                rx.recv().unwrap()
            });
            println!("received {got}");
        }
        "never" => {
            goro::run(|| {
                // Go's `<-nilChan` in main: blocked for good, and reported.
                let _ = goro::never::<u8>().recv();
            });
            println!("unreachable: the deadlock was not reported");
        }
        "ten_thousand" => {
            goro::run(|| {
                let (tx, rx) = goro::chan::<u8>(0);
                let _held = tx;
                let stuck: Vec<_> = (0..10_000)
                    .map(|_| {
                        let rx = rx.clone();
                        goro::go!(move || rx.recv())
                    })
                    .collect();
                // Printed for the parent, which looks for the group's line.
                eprintln!("stuck at {}:{}:", file!(), line!() - 4);
                let _ = rx.recv();
                drop(stuck);
            });
            println!("unreachable: the deadlock was not reported");
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn run_child(name: &str) -> (i32, String, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("GORO_DEADLOCK_SCENARIO", name)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs scenario `name` with stderr a pipe whose reading end is closed
/// (`| head` that has quit): its exit code, or None if it still runs after
/// 10 s (then it is killed).
fn run_child_with_stderr_closed(name: &str) -> Option<i32> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("GORO_DEADLOCK_SCENARIO", name)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    None
}

fn main() {
    if let Ok(name) = std::env::var("GORO_DEADLOCK_SCENARIO") {
        scenario(&name);
        return;
    }

    let (code, stdout, stderr) = run_child("deadlock");
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("fatal error: all goroutines are asleep - deadlock!"),
        "{stderr}"
    );
    assert!(stderr.contains(r#""main" [chan receive, "#), "{stderr}");
    assert!(
        stderr.contains(r#""stuck-sender" [chan send, "#),
        "{stderr}"
    );
    println!("deadlock_is_reported ... ok");

    let code = run_child_with_stderr_closed("deadlock");
    assert_eq!(
        code,
        Some(2),
        "exit status (None: still running after 10 s)"
    );
    println!("deadlock_report_exits_when_stderr_is_closed ... ok");

    let (code, stdout, stderr) = run_child("woken_by_thread");
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("received 7"), "{stdout}");
    println!("no_report_while_a_plain_thread_can_wake ... ok");

    let (code, stdout, stderr) = run_child("woken_by_timer");
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("received 9"), "{stdout}");
    println!("no_report_while_a_timer_is_armed ... ok");

    let (code, stdout, stderr) = run_child("never");
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains("fatal error: all goroutines are asleep - deadlock!"),
        "{stderr}"
    );
    assert!(stderr.contains(r#""main" [chan receive, "#), "{stderr}");
    println!("receive_on_never_is_reported_as_a_deadlock ... ok");

    let (code, stdout, stderr) = run_child("ten_thousand");
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    let place = stderr
        .lines()
        .find_map(|l| l.strip_prefix("stuck at "))
        .expect("the child names its line");
    let group = format!("10000 @ [chan receive] {place}");
    assert!(
        stderr.lines().any(|l| l.starts_with(&group)),
        "no line {group:?} in:\n{stderr}"
    );
    // One line for the ten thousand, one for main, the headline: no list.
    assert!(stderr.lines().count() < 10, "{stderr}");
    println!("ten_thousand_stuck_on_one_line_print_one_line ... ok");
    println!("6 passed, 0 failed");
}
