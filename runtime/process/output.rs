//! Reading a child's stdout and stderr to their ends at once, from one
//! goroutine: [`read_both`], behind `output` and `wait_with_output`.
//!
//! Reading one pipe to its end before the other deadlocks on a child
//! that fills the other first. A helper goroutine per pipe (Go's exec
//! does that) avoids it, but a spawn takes the spawner's `runnext` slot
//! and sends whoever sat there to the back of the run queue: with 1,000
//! children started at once, a 5 ms ticker waited 230-245 ms between
//! ticks behind them, against 15 ms without the helper (report section
//! `process`). So the two pipes share one wait instead: a small epoll set
//! (a `mio::Poll`) holding both, whose own fd is registered with the
//! reactor; it is readable whenever either pipe is, and the goroutine
//! parks on it between draining the pipes.
//!
//! The pipes are read with read(2) on their non-blocking fds directly,
//! not through their reactor registrations (which would park on one
//! pipe). This file never blocks: every read stops at `WouldBlock`.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::{ChildStderr, ChildStdout};
use crate::io::registration::{Direction, IoSource};

/// An epoll set as a reactor source. `RefCell`: polling it needs `&mut`,
/// and it lives on one goroutine's stack.
struct EitherPipe(RefCell<Poll>);

/// The epoll set's fd: what a waiter waits on in `dump()`.
impl AsRawFd for EitherPipe {
    fn as_raw_fd(&self) -> RawFd {
        self.0.borrow().as_raw_fd()
    }
}

impl mio::event::Source for EitherPipe {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.get_mut().as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.get_mut().as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        SourceFd(&self.0.get_mut().as_raw_fd()).deregister(registry)
    }
}

/// Reads both pipes to their ends, parking while neither has data.
#[track_caller]
pub(super) fn read_both(
    out: &mut ChildStdout,
    err: &mut ChildStderr,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let set = Poll::new()?;
    for (fd, token) in [(out.as_raw_fd(), Token(0)), (err.as_raw_fd(), Token(1))] {
        set.registry()
            .register(&mut SourceFd(&fd), token, Interest::READABLE)?;
    }
    let either = IoSource::new(EitherPipe(RefCell::new(set)))?;
    let mut events = Events::with_capacity(2);
    let (mut out_buf, mut err_buf) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    loop {
        if out_open {
            out_open = drain(out.as_raw_fd(), &mut out_buf)?;
        }
        if err_open {
            err_open = drain(err.as_raw_fd(), &mut err_buf)?;
        }
        if !(out_open || err_open) {
            return Ok((out_buf, err_buf));
        }
        // Both said WouldBlock: wait until the set has an event. An event
        // left over from data already drained only costs one more round.
        either.io(Direction::Read, None, |set| {
            set.0.borrow_mut().poll(&mut events, Some(Duration::ZERO))?;
            if events.is_empty() {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        })?;
    }
}

/// Reads `fd` into `buf` until it would block (`Ok(true)`: still open) or
/// reaches its end (`Ok(false)`).
fn drain(fd: RawFd, buf: &mut Vec<u8>) -> io::Result<bool> {
    const CHUNK: usize = 16 << 10;
    loop {
        let len = buf.len();
        buf.resize(len + CHUNK, 0);
        // SAFETY: `buf[len..]` is CHUNK initialised, writable bytes for the
        // whole call, and read(2) writes at most that many into it.
        let n = unsafe { libc::read(fd, buf[len..].as_mut_ptr().cast(), CHUNK) };
        let result = if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        };
        buf.truncate(len + *result.as_ref().unwrap_or(&0));
        match result {
            Ok(0) => return Ok(false),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => return Err(e),
        }
    }
}
