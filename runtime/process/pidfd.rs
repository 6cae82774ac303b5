//! pidfds: a file descriptor for one child process that becomes readable
//! when the child exits (`pidfd_open(2)`, Linux 5.3), so the reactor can
//! wake whoever waits for it like any other readiness.
//!
//! Opening one after `std::process::Command::spawn` has no pid-reuse race:
//! the child cannot be reaped (and its pid reused) before goro reaps it,
//! unless something else in the process calls `waitpid(-1)` behind std's
//! back, which would break std's own `wait` as well.
//!
//! [`enabled`] says whether to try: `GORO_PIDFD=0` turns pidfds off (the
//! SIGCHLD path is then used for every child, as on kernels without
//! `pidfd_open`), and a kernel or seccomp filter that refuses the call
//! (`ENOSYS`, `EPERM`) is remembered so it is asked only once.
//!
//! This file never waits: it only opens and registers the descriptor.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};

/// `ENABLED`'s states.
const UNKNOWN: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;

/// Whether pidfds are used: read from `GORO_PIDFD` on first use, turned
/// off for good when the kernel refuses `pidfd_open`. Relaxed: a stale
/// read only costs one more refused syscall.
static ENABLED: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether to try `pidfd_open` for a new child.
pub(super) fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let on = std::env::var_os("GORO_PIDFD").is_none_or(|v| v != "0");
            ENABLED.store(if on { ON } else { OFF }, Ordering::Relaxed);
            on
        }
    }
}

/// An open pidfd (close-on-exec, as every pidfd is).
#[derive(Debug)]
pub(super) struct PidFd(OwnedFd);

impl PidFd {
    /// Opens a pidfd for the child `pid`. A refusal that means "never on
    /// this system" turns pidfds off for the rest of the process.
    pub(super) fn open(pid: u32) -> io::Result<PidFd> {
        let pid = libc::pid_t::try_from(pid)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
        // SAFETY: pidfd_open takes a pid and flags by value and touches no
        // memory of ours; it returns a new fd or -1 with errno set.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            let err = io::Error::last_os_error();
            if matches!(err.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
                ENABLED.store(OFF, Ordering::Relaxed);
            }
            return Err(err);
        }
        // SAFETY: the call succeeded, so `fd` is a new open descriptor that
        // nobody else owns; a c_long holding an fd fits an i32.
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
