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
