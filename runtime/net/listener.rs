//! What the TCP and Unix listeners share: the registered socket, and
//! `close`, which ends every accept waiting on it (Go's `Listener.Close`).
//!
//! Closing must wake goroutines parked in `accept` without closing the fd
//! under them: a closed fd number is reused by the next `open`/`socket`,
//! and a waiter that retried `accept` on it would accept on, or the drop
//! would deregister, someone else's file. So `close` sets a flag that
//! every accept checks before and after its syscall, and shuts the socket
//! down (`shutdown(2)` on a listener: Linux stops listening, resets the
//! connections queued but not accepted, refuses new ones, and reports a
//! hang-up to epoll — the kernel's own way to end a blocked `accept`).
//! That hang-up is an ordinary readiness edge: the reactor wakes every
//! waiter, each retries, sees the flag and returns [`closed_error`]. The
//! fd itself closes when the last handle drops.
//!
//! This file never closes an fd and never blocks a worker thread.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::io::registration::IoSource;

/// A listening socket registered with the reactor, shared by a listener's
/// clones.
pub(crate) struct Listener<S: mio::event::Source> {
    pub(crate) io: IoSource<S>,
    /// Set once by `close`. Release/Acquire: a waiter woken by the
    /// shutdown's edge (through the registration's lock) sees it set.
    closed: AtomicBool,
}

/// The error of every accept on a closed listener: `NotConnected` (accept
/// itself never reports `ENOTCONN`, so the kind alone tells a closed
/// listener from a failed accept), "listener closed".
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, ListenerClosed)
}

/// Whether `e` is [`closed_error`]: `incoming` ends after yielding it.
pub(crate) fn is_closed_error(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<ListenerClosed>())
}

/// The payload of [`closed_error`], which tells it from a user's error of
/// the same kind.
#[derive(Debug)]
struct ListenerClosed;

impl std::fmt::Display for ListenerClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("listener closed")
    }
}

impl std::error::Error for ListenerClosed {}

impl<S: mio::event::Source + AsRawFd> Listener<S> {
    pub(crate) fn new(socket: S) -> io::Result<Listener<S>> {
        Ok(Listener {
            io: IoSource::new(socket)?,
            closed: AtomicBool::new(false),
        })
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Runs the accept `op`, parking until a connection arrives; fails
    /// with [`closed_error`] once the listener is closed, including while
    /// it waits.
    #[track_caller]
    pub(crate) fn accept<T>(&self, mut op: impl FnMut(&S) -> io::Result<T>) -> io::Result<T> {
        self.io.accept_io(|socket| {
            if self.is_closed() {
                return Err(closed_error());
            }
            match op(socket) {
                // Closed while the syscall ran: the kernel's own error
                // (EINVAL once the socket stopped listening) or a
                // WouldBlock that must not park.
                Err(_) if self.is_closed() => Err(closed_error()),
                done => done,
            }
        })
    }

    /// Closes the listener for accepting (see the module docs); a second
    /// call fails with [`closed_error`], as Go's does.
    pub(crate) fn close(&self) -> io::Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Err(closed_error());
        }
        // SAFETY: shutdown(2) on the fd this listener owns (open until the
        // last handle drops, which cannot happen during `&self`); it
        // changes the socket's state and touches no memory of ours.
        if unsafe { libc::shutdown(self.io.get().as_raw_fd(), libc::SHUT_RDWR) } != 0 {
            let e = io::Error::last_os_error();
            // A TCP socket that was not listening (yet) still wakes its
            // waiters and reports ENOTCONN: nothing to undo.
            if e.raw_os_error() != Some(libc::ENOTCONN) {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl<S: mio::event::Source + AsFd + Into<OwnedFd>> super::Registered for Listener<S> {
    type Source = S;
    fn registration(&self) -> &IoSource<S> {
        &self.io
    }
    fn into_registration(self) -> IoSource<S> {
        self.io
    }
}
