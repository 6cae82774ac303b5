//! Shared harness of the IPC tests (`tests/ipc_*.rs`): one lock for the
//! process-wide state they check (the fd table, the children), fd
//! counting, names unique to this process, and the test binary re-run as
//! a peer process that plays the other side of one test.
//!
//! A test that needs a peer calls [`spawn_peer`] with its own name; the
//! child runs the same binary with `--exact NAME` and [`PEER`] set, and
//! the test, finding [`peer_role`] set, plays the peer's part instead.
#![allow(dead_code)]

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Set in a peer process: the role it plays and its arguments, as the
/// parent wrote them.
pub const PEER: &str = "GORO_IPC_TEST_PEER";

/// Longer than any test here needs; one still running by then is stuck.
const STUCK: Duration = Duration::from_secs(60);

/// Held by every test of a file: they count fds and spawn children that
/// inherit fds, which tests running beside them would disturb. It also
/// arms a [`Watchdog`]: a test that hangs fails instead.
pub struct Serial {
    _lock: MutexGuard<'static, ()>,
    _watchdog: Watchdog,
}

/// Takes the file's lock (see [`Serial`]).
pub fn serial() -> Serial {
    static LOCK: Mutex<()> = Mutex::new(());
    let lock = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    Serial {
        _lock: lock,
        _watchdog: Watchdog::arm(),
    }
}

/// Ends the whole test process with a goroutine dump and exit status 101
/// if it is not dropped within [`STUCK`]: an IPC bug shows as a wait
/// that never ends, and a failure beats a hang.
pub struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    pub fn arm() -> Watchdog {
        let (disarm, armed) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(STUCK) {
                // Straight to fd 2: the test harness captures eprintln!.
                let report = format!("stuck for {STUCK:?}; goroutines:\n{}\n", goro::dump());
                let _ = std::io::Write::write_all(&mut std::io::stderr(), report.as_bytes());
                std::process::exit(101);
            }
        });
        Watchdog(Some(disarm))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Disconnecting wakes the watchdog thread, which then ends.
        self.0.take();
    }
}

/// How many fds this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// How many fds this process has open once the runtime has started and
/// waited for a child (what that opens stays open for good).
pub fn open_fds_when_warm() -> usize {
    let status = goro::process::Command::new("true").status().unwrap();
    assert!(status.success());
    open_fds()
}

/// A name unique to this process and `what`: `/goro-test-PID-what`.
pub fn unique_name(what: &str) -> String {
    format!("/goro-test-{}-{what}", std::process::id())
}

/// Waits until the goroutine named `name` is parked on `reason` (as
/// `goro::dump` words it, e.g. "IO read"): proof that it waits in the
/// scheduler, not in a syscall that holds its thread (that goroutine
/// would show as running). Fails after 10 s.
pub fn wait_parked(name: &str, reason: &str) {
    let want = format!("\"{name}\" [{reason}, ");
    let start = Instant::now();
    while !goro::dump().to_string().contains(&want) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "goroutine {name} never parked on {reason}:\n{}",
            goro::dump()
        );
        goro::time::sleep(Duration::from_millis(1));
    }
}

/// In a peer process, the arguments its parent gave it. A peer that is
/// stuck past [`STUCK`] ends itself (its watchdog stays armed).
pub fn peer_role() -> Option<Vec<String>> {
    let role = std::env::var(PEER).ok()?;
    std::mem::forget(Watchdog::arm());
    Some(role.split(',').map(str::to_owned).collect())
}

/// In a peer process, waits for the parent to kill it; ends it if the
/// parent has gone instead (the peer was reparented).
pub fn wait_to_be_killed() -> ! {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    // SAFETY: as above.
    while unsafe { libc::getppid() } == parent {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::process::exit(1);
}

/// A copy of `fd` that survives exec (no FD_CLOEXEC), for one spawn.
pub fn inheritable(fd: BorrowedFd<'_>) -> OwnedFd {
    // SAFETY: F_DUPFD only creates a new fd in our own table, without
    // FD_CLOEXEC; it touches no memory.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD, 3) };
    assert!(copy >= 0, "F_DUPFD: {}", std::io::Error::last_os_error());
    // SAFETY: the fd was just created and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(copy) }
}

/// Takes ownership of an fd a peer process inherited.
pub fn adopt(fd: &str) -> OwnedFd {
    let fd: RawFd = fd.parse().expect("an fd number");
    // SAFETY: the parent passed this fd to us to own; nothing else in
    // this process refers to it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Starts this test binary again, running only `test` as the peer with
/// `args` (inherited fds are passed as their numbers).
pub fn spawn_peer(test: &str, args: &[String]) -> goro::process::Child {
    goro::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(PEER, args.join(","))
        .spawn()
        .unwrap()
}
