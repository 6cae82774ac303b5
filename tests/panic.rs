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
