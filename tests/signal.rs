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
