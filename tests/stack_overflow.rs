//! A goroutine that overflows its stack is reported by id, name and stack
//! size, then the process aborts: never a bare SIGSEGV.

use std::process::Command;

#[inline(never)]
fn recurse(depth: u64, sink: &mut [u8; 512]) -> u64 {
    let mut local = [depth as u8; 512];
    std::hint::black_box(&mut local);
    sink[0] = sink[0].wrapping_add(local[7]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1, &mut local) + std::hint::black_box(1)
}

fn child_output(scenario: &str) -> (String, std::process::ExitStatus) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", scenario, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", scenario)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status,
    )
}

#[test]
fn overflow_names_the_goroutine_and_its_stack_size() {
    if std::env::var("GORO_CHILD").as_deref()
        == Ok("overflow_names_the_goroutine_and_its_stack_size")
    {
        let (go_tx, go_rx) = goro::chan::<()>(0);
        let h = goro::Builder::new()
            .name("deep".to_string())
            .spawn(move || {
                go_rx.recv().unwrap(); // not before the id is printed
                recurse(0, &mut [0; 512])
            })
            .unwrap();
        eprintln!("spawned goroutine {}", h.id());
        go_tx.send(()).unwrap();
        let _ = h.join();
        unreachable!("the overflow aborts the process");
    }
    let (stderr, status) = child_output("overflow_names_the_goroutine_and_its_stack_size");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc_sigabrt()), "{stderr}");
    let id = stderr
        .lines()
        .find_map(|l| l.strip_prefix("spawned goroutine "))
        .expect("child printed the id");
    let expected = format!("goroutine {id} (deep) overflowed its 64 KiB stack");
    assert!(
        stderr.contains(&expected),
        "want {expected:?} in:\n{stderr}"
    );
}

#[test]
fn overflow_of_a_custom_stack_reports_its_size() {
    if std::env::var("GORO_CHILD").as_deref() == Ok("overflow_of_a_custom_stack_reports_its_size") {
        let h = goro::Builder::new()
            .stack_size(128 * 1024)
            .spawn(|| recurse(0, &mut [0; 512]))
            .unwrap();
        let _ = h.join();
        unreachable!("the overflow aborts the process");
    }
    let (stderr, _) = child_output("overflow_of_a_custom_stack_reports_its_size");
    assert!(stderr.contains("overflowed its 128 KiB stack"), "{stderr}");
}

fn libc_sigabrt() -> i32 {
    6
}
