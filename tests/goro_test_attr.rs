//! `#[goro::test]`: test bodies run in a goroutine; `Result` returns,
//! `#[should_panic]` and `timeout` work; a hang past the timeout and a
//! deadlock fail the test (with the goroutine dump, and Go's deadlock
//! report) instead of hanging the harness.
//!
//! The failing cases run in a child process: this test binary again, with
//! `--ignored` and a filter that selects the `child_` tests below, which do
//! nothing unless `GORO_TEST_ATTR_CHILD` is set.

use std::error::Error;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

const CHILD: &str = "GORO_TEST_ATTR_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

#[goro::test]
fn body_runs_in_a_goroutine_named_after_the_test() {
    let me = goro::current().expect("a #[goro::test] body runs in a goroutine");
    assert_eq!(
        me.name(),
        Some("body_runs_in_a_goroutine_named_after_the_test")
    );
    let (tx, rx) = goro::chan::<u32>(0);
    goro::go!(move || tx.send(7).unwrap());
    assert_eq!(rx.recv().unwrap(), 7);
}

#[goro::test(timeout = "5s")]
fn a_test_within_its_timeout_passes() {
    goro::time::sleep(Duration::from_millis(20));
}

#[goro::test(timeout = "500ms")]
fn millisecond_timeouts_parse() {
    goro::gosched();
}

#[goro::test]
fn a_result_with_a_non_send_error_works() -> Result<(), Box<dyn Error>> {
    // Box<dyn Error> and Rc are !Send: they never leave the goroutine.
    let local = Rc::new(5);
    let n: u32 = "42".parse()?;
    assert_eq!(n + *local, 47);
    Ok(())
}

#[goro::test]
#[should_panic(expected = "expected boom")]
fn a_panic_fails_the_test_with_its_payload() {
    goro::gosched();
    panic!("expected boom");
}

#[goro::test]
fn early_return_leaves_the_body() {
    if goro::current().is_some() {
        return;
    }
    unreachable!("the body runs in a goroutine");
}

/// Runs the child tests whose names start with `filter` in this test
/// binary, one at a time, their output not captured; kills them after
/// 60 s. Exit code and the output of both streams.
fn run_children(filter: &str) -> (Option<i32>, String, Duration) {
    run_children_with(&[filter, "--nocapture"])
}

fn run_children_with(args: &[&str]) -> (Option<i32>, String, Duration) {
    let start = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--test-threads=1"])
        .args(args)
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let deadline = start + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    (code, output, start.elapsed())
}

#[test]
fn a_hang_past_the_timeout_fails_with_the_dump() {
    let (code, output, took) = run_children("child_timeout_");
    assert_eq!(
        code,
        Some(101),
        "child (None: killed after 60 s):\n{output}"
    );
    assert!(output.contains("test timed out after 300ms"), "{output}");
    assert!(
        output.contains(r#""child_timeout_hangs" [sleep, "#),
        "{output}"
    );
    assert!(output.contains(r#""sleeper" [chan receive, "#), "{output}");
    // The harness went on: the next test ran and passed.
    assert!(output.contains("1 passed; 1 failed"), "{output}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn a_deadlock_fails_the_test_with_gos_report() {
    let (code, output, _) = run_children("child_deadlock_");
    assert_eq!(
        code,
        Some(101),
        "child (None: killed after 60 s):\n{output}"
    );
    assert!(
        output.contains("fatal error: all goroutines are asleep - deadlock!"),
        "{output}"
    );
    assert!(
        output.contains(r#""child_deadlock_main_waits" [chan receive, "#),
        "{output}"
    );
    assert!(
        output.contains(r#""stuck-sender" [chan send, "#),
        "{output}"
    );
    // Reported long before the 60 s timeout of the second deadlock, and
    // the harness went on to the passing test.
    assert!(!output.contains("timed out"), "{output}");
    assert!(output.contains("1 passed; 2 failed"), "{output}");
}

#[test]
fn an_err_result_fails_the_test_with_stds_report_in_its_own_output() {
    // Captured output, and the runtime started by an earlier test: the
    // report must still land in the failing test's section.
    let (code, output, _) = run_children_with(&["child_err_"]);
    assert_eq!(code, Some(101), "{output}");
    assert!(
        output.contains("child_err_a_passing_test_starts_the_runtime ... ok"),
        "{output}"
    );
    assert!(
        output.contains("child_err_returns_err ... FAILED"),
        "{output}"
    );
    assert!(
        output.contains("---- child_err_returns_err stdout ----\nError: \"not a number\""),
        "{output}"
    );
    assert!(
        output.contains(") panicked: child boom"),
        "the panic is not in the test's output:\n{output}"
    );
    assert!(output.contains("1 passed; 2 failed"), "{output}");
}

#[test]
fn a_wait_that_a_thread_or_timer_ends_is_no_deadlock() {
    let (code, output, _) = run_children("child_wakes_");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("2 passed; 0 failed"), "{output}");
}

#[goro::test(timeout = "20s")]
#[ignore = "run by a_wait_that_a_thread_or_timer_ends_is_no_deadlock"]
fn child_wakes_by_a_plain_thread() {
    let (tx, rx) = goro::chan::<u8>(0);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        tx.send(7).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 7);
}

#[goro::test(timeout = "20s")]
#[ignore = "run by a_wait_that_a_thread_or_timer_ends_is_no_deadlock"]
fn child_wakes_by_a_timer() {
    let (tx, rx) = goro::chan::<u8>(0);
    goro::go!(move || {
        goro::time::sleep(Duration::from_millis(400));
        tx.send(9).unwrap();
    });
    assert_eq!(rx.recv().unwrap(), 9);
}

#[goro::test(timeout = "300ms")]
#[ignore = "run by a_hang_past_the_timeout_fails_with_the_dump"]
fn child_timeout_hangs() {
    if !in_child() {
        return;
    }
    let (_tx, rx) = goro::chan::<()>(0);
    goro::Builder::new()
        .name("sleeper".to_string())
        .spawn(move || {
            let _ = rx.recv();
        })
        .unwrap();
    goro::time::sleep(Duration::from_secs(3600));
}

#[goro::test]
#[ignore = "run by the child tests' parents"]
fn child_timeout_then_passes() {}

#[goro::test]
#[ignore = "run by a_deadlock_fails_the_test_with_gos_report"]
fn child_deadlock_main_waits() {
    if !in_child() {
        return;
    }
    let (tx, rx) = goro::chan::<u8>(0);
    let _held = tx; // a sender exists, but nobody will ever send
    goro::Builder::new()
        .name("stuck-sender".to_string())
        .spawn(|| {
            let (tx2, _rx2) = goro::chan::<u8>(0);
            let _ = tx2.send(1);
        })
        .unwrap();
    let _ = rx.recv();
}

#[goro::test(timeout = "60s")]
#[ignore = "run by a_deadlock_fails_the_test_with_gos_report"]
fn child_deadlock_with_a_timeout_is_still_a_deadlock() {
    if !in_child() {
        return;
    }
    let m = goro::sync::Mutex::new(());
    let _held = m.lock();
    let _again = m.lock();
}

#[goro::test]
#[ignore = "run by a_deadlock_fails_the_test_with_gos_report"]
fn child_deadlock_then_passes() {}

#[goro::test]
#[ignore = "run by an_err_result_fails_the_test_with_stds_report_in_its_own_output"]
fn child_err_a_passing_test_starts_the_runtime() {}

#[goro::test]
#[ignore = "run by an_err_result_fails_the_test_with_stds_report_in_its_own_output"]
fn child_err_panics() {
    if in_child() {
        panic!("child boom");
    }
}

#[goro::test]
#[ignore = "run by an_err_result_fails_the_test_with_stds_report_in_its_own_output"]
fn child_err_returns_err() -> Result<(), String> {
    if !in_child() {
        return Ok(());
    }
    Err("not a number".to_string())
}
