//! `goro::signal::notify`: signals sent to ourselves arrive on channels.
//! One test function, run in order: signal handlers are process-wide.

use std::time::Duration;

fn raise(sig: i32) {
    // SAFETY: kill(2) on our own pid with a signal we have a handler for.
    let rc = unsafe { libc::kill(libc::getpid(), sig) };
    assert_eq!(rc, 0);
}

#[test]
fn signals_arrive_on_channels() {
    goro::run(|| {
        // Delivered to the channel, in a goroutine.
        let usr1 = goro::signal::notify(&[libc::SIGUSR1]).unwrap();
        raise(libc::SIGUSR1);
        assert_eq!(
            usr1.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGUSR1
        );

        // Repeated notify: both receivers get the signal they asked for.
        let both = goro::signal::notify(&[libc::SIGUSR1, libc::SIGUSR2]).unwrap();
        raise(libc::SIGUSR2);
        assert_eq!(
            both.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGUSR2
        );
        raise(libc::SIGUSR1);
        assert_eq!(
            usr1.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGUSR1
        );
        assert_eq!(
            both.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGUSR1
        );

        // A full channel drops, it does not block the handler or the sender.
        for _ in 0..(goro::signal::BUFFER + 50) {
            raise(libc::SIGUSR2);
        }
        goro::time::sleep(Duration::from_millis(100));
        let mut got = 0;
        while both.try_recv().is_ok() {
            got += 1;
        }
        // The kernel may merge pending signals; never more than the buffer.
        assert!((1..=goro::signal::BUFFER).contains(&got), "got {got}");

        // A dropped receiver's watcher unregisters at the next signal.
        drop(usr1);
        raise(libc::SIGUSR1);
        assert_eq!(
            both.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGUSR1
        );
    });
}

#[test]
fn uncatchable_and_invalid_signals_are_errors() {
    for sig in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
        assert_eq!(
            goro::signal::notify(&[sig]).unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    }
    assert_eq!(
        goro::signal::notify(&[0]).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    assert_eq!(
        goro::signal::notify(&[1000]).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}

/// Runs this test binary again with only `scenario`, marked by an env var;
/// returns the child's exit status and stderr.
fn child(scenario: &str) -> (std::process::ExitStatus, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", scenario, "--nocapture", "--test-threads=1"])
        .env("GORO_SIGNAL_CHILD", scenario)
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_child(scenario: &str) -> bool {
    std::env::var("GORO_SIGNAL_CHILD").as_deref() == Ok(scenario)
}

/// Asserts that the child died of `sig` (its default action), not that it
/// lived on with the signal ignored.
fn assert_killed_by(scenario: &str, sig: i32) {
    use std::os::unix::process::ExitStatusExt;
    let (status, stderr) = child(scenario);
    assert_eq!(status.signal(), Some(sig), "{status:?}\n{stderr}");
    assert!(stderr.contains("watched and received"), "{stderr}");
}

#[test]
fn dropping_the_last_receiver_restores_the_default_action() {
    let me = "dropping_the_last_receiver_restores_the_default_action";
    if is_child(me) {
        let rx = goro::signal::notify(&[libc::SIGINT]).unwrap();
        raise(libc::SIGINT);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGINT
        );
        eprintln!("watched and received");
        drop(rx);
        raise(libc::SIGINT); // Ctrl-C terminates again
        std::thread::sleep(Duration::from_secs(3));
        eprintln!("still alive: SIGINT stayed ignored");
        std::process::exit(0);
    }
    assert_killed_by(me, libc::SIGINT);
}

#[test]
fn reset_gives_the_signal_its_default_action_back() {
    let me = "reset_gives_the_signal_its_default_action_back";
    if is_child(me) {
        let rx = goro::signal::notify(&[libc::SIGTERM]).unwrap();
        raise(libc::SIGTERM);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGTERM
        );
        // Watched again after a reset, then reset for good.
        goro::signal::reset(libc::SIGTERM).unwrap();
        let again = goro::signal::notify(&[libc::SIGTERM]).unwrap();
        raise(libc::SIGTERM);
        assert_eq!(
            again.recv_timeout(Duration::from_secs(5)).unwrap(),
            libc::SIGTERM
        );
        eprintln!("watched and received");
        goro::signal::reset(libc::SIGTERM).unwrap();
        raise(libc::SIGTERM); // `rx` and `again` are still alive
        std::thread::sleep(Duration::from_secs(3));
        eprintln!("still alive: SIGTERM stayed ignored");
        drop((rx, again));
        std::process::exit(0);
    }
    assert_killed_by(me, libc::SIGTERM);
}
