//! A goroutine that overflows its stack is reported by id, name and stack
//! size, then the process aborts: never a bare SIGSEGV. And the default
//! stack holds ordinary code: a 64 KiB local, a few hundred levels of
//! recursion, a backtrace; `set_default_stack_size` and `GORO_STACK_SIZE`
//! change it.

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
    child_output_with(scenario, None)
}

/// Runs `scenario` in a child with `GORO_STACK_SIZE` set to `stack_size`,
/// or removed.
fn child_output_with(
    scenario: &str,
    stack_size: Option<&str>,
) -> (String, std::process::ExitStatus) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", scenario, "--nocapture", "--test-threads=1"])
        .env("GORO_CHILD", scenario);
    match stack_size {
        Some(size) => cmd.env("GORO_STACK_SIZE", size),
        None => cmd.env_remove("GORO_STACK_SIZE"),
    };
    let out = cmd.output().unwrap();
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
    let expected = format!("goroutine {id} (deep) overflowed its 256 KiB stack");
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

/// Recursion with 256-byte frames, as ordinary recursive code has.
#[inline(never)]
fn recurse_256(depth: u32) -> u64 {
    let mut frame = [depth as u8; 256];
    std::hint::black_box(&mut frame);
    if depth == 0 {
        return u64::from(frame[3]);
    }
    recurse_256(depth - 1) + u64::from(std::hint::black_box(frame[7]))
}

#[test]
fn a_64_kib_local_fits_the_default_stack() {
    let h = goro::go!(|| {
        let mut buf = [0u8; 65536];
        std::hint::black_box(&mut buf);
        buf[65535] = 1;
        std::hint::black_box(&buf)
            .iter()
            .map(|&b| u64::from(b))
            .sum::<u64>()
    });
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn deep_recursion_and_a_backtrace_fit_the_default_stack() {
    let h = goro::go!(|| {
        let sum = recurse_256(400);
        let trace = std::backtrace::Backtrace::force_capture().to_string();
        (sum, trace.len())
    });
    let (sum, _) = h.join().unwrap();
    assert_eq!(sum, (1..=400u64).map(|d| d % 256).sum::<u64>());
}

/// In a child: the change is process-wide, and the other tests here
/// check the built-in default.
#[test]
fn set_default_stack_size_applies_to_new_goroutines() {
    let me = "set_default_stack_size_applies_to_new_goroutines";
    if std::env::var("GORO_CHILD").as_deref() == Ok(me) {
        assert_eq!(goro::set_default_stack_size(2 << 20), 256 * 1024);
        assert_eq!(goro::set_default_stack_size(2 << 20), 2 << 20);
        // 1 MiB on the stack needs more than the built-in default.
        let h = goro::go!(|| {
            let mut big = [3u8; 1 << 20];
            std::hint::black_box(&mut big);
            big[(1 << 20) - 1]
        });
        assert_eq!(h.join().unwrap(), 3);
        // Back to a small default: the overflow report names it.
        goro::set_default_stack_size(64 * 1024);
        let _ = goro::go!(|| recurse(0, &mut [0; 512])).join();
        unreachable!("the overflow aborts the process");
    }
    let (stderr, status) = child_output(me);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc_sigabrt()), "{stderr}");
    assert!(stderr.contains("overflowed its 64 KiB stack"), "{stderr}");
}

#[test]
fn goro_stack_size_sets_the_default() {
    let me = "goro_stack_size_sets_the_default";
    if std::env::var("GORO_CHILD").as_deref() == Ok(me) {
        let previous = goro::set_default_stack_size(1 << 20);
        assert_eq!(previous, 128 * 1024, "GORO_STACK_SIZE was read");
        goro::set_default_stack_size(previous);
        let _ = goro::go!(|| recurse(0, &mut [0; 512])).join();
        unreachable!("the overflow aborts the process");
    }
    let (stderr, status) = child_output_with(me, Some("131072"));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc_sigabrt()), "{stderr}");
    assert!(stderr.contains("overflowed its 128 KiB stack"), "{stderr}");
}
