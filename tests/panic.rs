//! A panicking goroutine is contained: its worker and other goroutines keep
//! running, join returns the payload, and the message names the goroutine.

use std::process::Command;

#[test]
fn panics_are_contained_and_reported_to_join() {
    let survivors: Vec<_> = (0..50)
        .map(|i| {
            goro::go!(move || {
                goro::gosched();
                i
            })
        })
        .collect();
    let bad: Vec<_> = (0..50)
        .map(|i| goro::go!(move || -> u32 { panic!("boom {i}") }))
        .collect();
    for (i, h) in bad.into_iter().enumerate() {
        let err = h.join().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.panic_message(), Some(format!("boom {i}").as_str()));
        let payload = err.into_panic();
        assert_eq!(
            payload.downcast_ref::<String>().unwrap(),
            &format!("boom {i}")
        );
    }
    let sum: i32 = survivors.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, (0..50).sum());
    // Workers are all still alive: a CPU-bound batch on every worker runs.
    let n = goro::gomaxprocs(0);
    let done: Vec<_> = (0..n * 4)
        .map(|_| goro::go!(|| (0..1000u64).sum::<u64>()))
        .collect();
    for h in done {
        assert_eq!(h.join().unwrap(), 499_500);
    }
}

#[test]
fn run_resumes_the_main_goroutine_panic_in_the_caller() {
    let r = std::panic::catch_unwind(|| goro::run(|| -> u8 { panic!("main failed") }));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main failed"));
}

#[test]
fn panic_message_names_the_goroutine() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("panic") {
        let h = goro::Builder::new()
            .name("doomed".to_string())
            .spawn(|| -> () { panic!("kaboom") })
            .unwrap();
        let id = h.id();
        assert!(h.join().is_err());
        eprintln!("child id {id}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panic_message_names_the_goroutine",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GORO_CHILD", "panic")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let id = stderr
        .lines()
        .find_map(|l| l.strip_prefix("child id "))
        .expect("child printed its goroutine id");
    let expected = format!("goroutine {id} (doomed) panicked at tests/panic.rs");
    assert!(
        stderr.contains(&expected),
        "want {expected:?} in:\n{stderr}"
    );
    assert!(stderr.contains("kaboom"), "{stderr}");
}

/// Recurses `depth` frames of about 256 bytes each, then panics.
#[inline(never)]
fn panic_at_depth(depth: u32) -> u32 {
    let frame = std::hint::black_box([depth as u8; 256]);
    if depth == 0 {
        panic!("deep panic");
    }
    panic_at_depth(depth - 1) + u32::from(frame[7])
}

/// With a backtrace wanted, a panic ~50 KiB deep into a 64 KiB stack is
/// still an ordinary panic: the report's heavy work (symbolising, printing)
/// does not run on the goroutine's stack. (An explicit 64 KiB stack: the
/// test keeps testing this if the default grows.)
#[test]
fn backtrace_of_a_deep_panic_fits_the_stack() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("deep") {
        let h = goro::Builder::new()
            .name("deep".to_string())
            .stack_size(64 << 10)
            .spawn(|| panic_at_depth(170))
            .unwrap();
        let err = h.join().unwrap_err();
        assert_eq!(err.panic_message(), Some("deep panic"));
        eprintln!("child joined: {err}");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "backtrace_of_a_deep_panic_fits_the_stack",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GORO_CHILD", "deep")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(
        stderr.contains("(deep) panicked at tests/panic.rs"),
        "{stderr}"
    );
    assert!(stderr.contains("deep panic\nstack backtrace:"), "{stderr}");
    assert!(
        stderr.contains("panic_at_depth"),
        "the goroutine's frames: {stderr}"
    );
    assert!(stderr.contains("child joined: goroutine"), "{stderr}");
}

/// Runs this test binary's test `name` in a child process with
/// `GORO_CHILD=name` (and `RUST_BACKTRACE=0`): its status and stderr.
fn child(name: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", name)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_child(name: &str) -> bool {
    std::env::var("GORO_CHILD").as_deref() == Ok(name)
}

struct SpawnOnDrop;

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        let h = goro::go!(move || 6 * 7);
        eprintln!("joined {}", h.join().unwrap());
    }
}

/// The runtime may start inside a destructor that runs while a plain
/// thread unwinds (std refuses to change the panic hook there).
#[test]
fn runtime_starts_during_unwinding() {
    let name = "runtime_starts_during_unwinding";
    if is_child(name) {
        let r = std::panic::catch_unwind(|| {
            let _spawns = SpawnOnDrop;
            panic!("the plain thread panics");
        });
        assert!(r.is_err());
        eprintln!("child survived");
        return;
    }
    let (status, stderr) = child(name);
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains("joined 42\n"), "{stderr}");
    assert!(stderr.contains("child survived"), "{stderr}");
}

/// A panic hook installed before the runtime starts still sees goroutine
/// panics, after goro's own line; std's default hook never adds its
/// `thread '...' panicked` line to a goroutine's report.
#[test]
fn earlier_panic_hook_sees_goroutine_panics() {
    let name = "earlier_panic_hook_sees_goroutine_panics";
    if is_child(name) {
        std::panic::set_hook(Box::new(|info| {
            let msg = info.payload().downcast_ref::<&str>().unwrap_or(&"?");
            eprintln!("user hook saw: {msg}");
        }));
        let h = goro::Builder::new()
            .name("hooked".to_string())
            .spawn(|| -> () { panic!("in a goroutine") })
            .unwrap();
        assert!(h.join().is_err());
        let r = std::thread::spawn(|| -> () { panic!("on a thread") }).join();
        assert!(r.is_err());
        return;
    }
    let (status, stderr) = child(name);
    assert!(status.success(), "{status:?}\n{stderr}");
    let goro_line = stderr
        .find("(hooked) panicked at")
        .unwrap_or_else(|| panic!("goro's line in:\n{stderr}"));
    let user_line = stderr
        .find("user hook saw: in a goroutine")
        .unwrap_or_else(|| panic!("the user hook's line in:\n{stderr}"));
    assert!(goro_line < user_line, "goro's line first:\n{stderr}");
    assert!(stderr.contains("user hook saw: on a thread"), "{stderr}");
}

#[test]
fn default_hook_adds_nothing_to_a_goroutine_panic() {
    let name = "default_hook_adds_nothing_to_a_goroutine_panic";
    if is_child(name) {
        let h = goro::go!(|| -> () { panic!("alone") });
        assert!(h.join().is_err());
        return;
    }
    let (status, stderr) = child(name);
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(stderr.contains("panicked at"), "{stderr}");
    assert!(!stderr.contains("thread '"), "{stderr}");
}

/// A goroutine panic is reported, and contained, with stderr a closed pipe
/// (`2>&1 | head` after `head` quit): the report's failed write is ignored.
#[test]
fn panic_report_survives_a_closed_stderr() {
    let name = "panic_report_survives_a_closed_stderr";
    if is_child(name) {
        let h = goro::go!(|| -> () { panic!("nobody reads this") });
        assert!(h.join().unwrap_err().is_panic());
        println!("child joined");
        return;
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", name)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stderr.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stdout}", out.status);
    assert!(stdout.contains("child joined"), "{stdout}");
}
