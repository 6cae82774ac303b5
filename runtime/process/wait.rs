//! Waiting for a child to exit without blocking a thread: the child's
//! pidfd is registered with the reactor, and a wait tries `waitpid(pid,
//! WNOHANG)` (std's `try_wait`) and parks on the pidfd's readability
//! between tries, as a socket read parks on its fd. A plain thread parks
//! the same way (`io/registration.rs` handles both).
//!
//! Fallback, where no pidfd could be opened (a kernel before 5.3, a
//! seccomp filter, `GORO_PIDFD=0`, or no descriptor left): the waiter
//! watches SIGCHLD through [`crate::signal::notify`] and retries
//! `try_wait` on every SIGCHLD (signals coalesce, so any one of them may
//! stand for this child's exit; the watch starts before the first try, so
//! no exit is missed). That installs goro's SIGCHLD handler while someone
//! waits; it chains to a handler installed before it, and the disposition
//! is put back when the last waiter is gone.
//!
//! Reaping goes through std's `Child::try_wait`, so std keeps the status
//! (a later `wait` returns it, `kill` after exit is `Ok(())`, std's rule)
//! and the pid is never reaped twice. This file never calls a blocking
//! `waitpid`.

use std::io;
use std::process::ExitStatus;
use std::time::Instant;

use super::pidfd::{self, PidFd};
use crate::chan::RecvTimeoutError;
use crate::io::registration::{Direction, IoSource};
use crate::io::FdSource;

/// A spawned child process and how its exit is watched.
#[derive(Debug)]
pub(super) struct Process {
    child: std::process::Child,
    exit: Exit,
}

/// How a waiter learns that the child may have exited.
enum Exit {
    /// The pidfd, registered with the reactor: readable once it exited.
    Pidfd(IoSource<FdSource<PidFd>>),
    /// No pidfd: every SIGCHLD.
    Sigchld,
}

impl std::fmt::Debug for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Exit::Pidfd(_) => "Pidfd",
            Exit::Sigchld => "Sigchld",
        })
    }
}

impl Process {
    /// Watches `child` (its pipes already taken out) for its exit.
    pub(super) fn new(child: std::process::Child) -> Process {
        let exit = if pidfd::enabled() {
            match PidFd::open(child.id()).and_then(|fd| IoSource::new(FdSource(fd))) {
                Ok(source) => Exit::Pidfd(source),
                Err(_) => Exit::Sigchld,
            }
        } else {
            Exit::Sigchld
        };
        Process { child, exit }
    }

    pub(super) fn id(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn kill(&mut self) -> io::Result<()> {
        self.child.kill()
    }

    pub(super) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Waits until the child has exited and is reaped, or until
    /// `deadline` (then `Ok(None)`), parking the caller meanwhile.
    #[track_caller]
    pub(super) fn wait_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> io::Result<Option<ExitStatus>> {
        let child = &mut self.child;
        match &self.exit {
            Exit::Pidfd(pidfd) => {
                let reaped = pidfd.io(Direction::Read, deadline, |_| match child.try_wait()? {
                    Some(status) => Ok(status),
                    None => Err(io::ErrorKind::WouldBlock.into()),
                });
                match reaped {
                    Ok(status) => Ok(Some(status)),
                    // The timeout, as std's kind for an expired timeout
                    // (`io` retries the op's own WouldBlock; try_wait's
                    // errors are never EAGAIN).
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Exit::Sigchld => {
                if let Some(status) = child.try_wait()? {
                    return Ok(Some(status));
                }
                let mut sigchld = crate::signal::notify(&[libc::SIGCHLD])?;
                loop {
                    if let Some(status) = child.try_wait()? {
                        return Ok(Some(status));
                    }
                    let closed = match deadline {
                        Some(d) => match sigchld.recv_deadline(d) {
                            Ok(_) => false,
                            // The deadline passed: one last look.
                            Err(RecvTimeoutError::Timeout) => return child.try_wait(),
                            Err(RecvTimeoutError::Disconnected) => true,
                        },
                        None => sigchld.recv().is_err(),
                    };
                    if closed {
                        // `signal::reset(SIGCHLD)` ended the watch: watch
                        // again (before the next try, as above).
                        sigchld = crate::signal::notify(&[libc::SIGCHLD])?;
                    }
                }
            }
        }
    }
}
