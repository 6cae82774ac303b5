//! goexit ends a goroutine after running its destructors, silently.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn nested_exit(drops: Arc<AtomicUsize>) -> u32 {
    let _inner = CountOnDrop(drops);
    goro::goexit()
}

#[test]
fn goexit_runs_destructors_and_join_reports_it() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let h = goro::go!(move || -> u32 {
        let _outer = CountOnDrop(d.clone());
        nested_exit(d)
    });
    let err = h.join().unwrap_err();
    assert!(err.is_goexit());
    assert!(!err.is_panic());
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "both frames' destructors ran"
    );
    assert!(err.to_string().contains("called goexit"), "{err}");
}

#[test]
fn goexit_on_a_plain_thread_panics() {
    let r = std::thread::spawn(|| goro::goexit()).join();
    assert!(r.is_err());
}

#[test]
fn goexit_prints_nothing() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("goexit") {
        let h = goro::go!(|| -> () { goro::goexit() });
        assert!(h.join().unwrap_err().is_goexit());
        eprintln!("child done");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "goexit_prints_nothing",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GORO_CHILD", "goexit")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("child done"), "{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "goexit printed a panic message:\n{stderr}"
    );
}
