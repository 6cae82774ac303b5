//! Goroutine I/O on file descriptors that are not sockets: [`pipe`] and
//! [`Pollable`], a wrapper that makes any pollable fd (a pipe, a tty, a
//! character device, an eventfd, a socket from another library) wait on
//! the reactor instead of blocking its thread.
//!
//! Each fd is made non-blocking and registered with the reactor once
//! (edge-triggered, readable and writable); reads and writes retry on
//! readiness, parking the goroutine in between (a plain thread blocks).
//!
//! This module must never block a worker in a syscall, so it refuses what
//! epoll cannot watch: regular files and directories fail to register
//! (`EPERM`). Run file I/O through [`crate::blocking`] instead.

mod pipe;

pub use pipe::{pipe, PipeReader, PipeWriter};

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use crate::net::Timeout;
use crate::reactor::registration::{Direction, IoSource};

/// A mio source for any fd-owning value.
struct FdSource<T>(T);

impl<T: AsRawFd> mio::event::Source for FdSource<T> {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// Puts `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL only reads and writes the file
    // status flags of `fd`; on an invalid fd it fails with EBADF, which we
    // report, and it touches no memory of ours.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A pollable file descriptor, owned, whose reads and writes park the
/// goroutine instead of blocking the thread (tokio calls this `AsyncFd`).
///
/// [`Pollable::new`] sets `O_NONBLOCK` on the fd: the flag belongs to the
/// open file description, so other holders of a duplicate (say, a shell
/// sharing a tty) see it too. `Read` and `Write` use read(2)/write(2) on
/// the fd; [`read_with`](Pollable::read_with) and
/// [`write_with`](Pollable::write_with) run any non-blocking operation
/// (recvmsg, an ioctl, a library call) with the same retry-on-readiness.
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use std::io::Read;
/// let tty = std::fs::File::open("/dev/tty")?;
/// let mut tty = goro::io::Pollable::new(tty)?;
/// let mut line = [0u8; 128];
/// let n = tty.read(&mut line)?; // parks the goroutine, not the thread
/// # let _ = n; Ok(()) }
/// ```
pub struct Pollable<T: AsRawFd> {
    io: IoSource<FdSource<T>>,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl<T: AsRawFd> Pollable<T> {
    /// Makes `inner`'s fd non-blocking and registers it with the reactor.
    /// Fails with `PermissionDenied` (EPERM) for regular files.
    pub fn new(inner: T) -> io::Result<Pollable<T>> {
        set_nonblocking(inner.as_raw_fd())?;
        Ok(Pollable {
            io: IoSource::new(FdSource(inner))?,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        })
    }

    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        &self.io.get().0
    }

    /// Runs `op` until it stops failing with `WouldBlock`, parking until
    /// the fd is readable between tries. Honours the read timeout.
    pub fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        let deadline = self.read_timeout.deadline();
        self.io.io(Direction::Read, deadline, |s| op(&s.0))
    }

    /// Runs `op` until it stops failing with `WouldBlock`, parking until
    /// the fd is writable between tries. Honours the write timeout.
    pub fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        let deadline = self.write_timeout.deadline();
        self.io.io(Direction::Write, deadline, |s| op(&s.0))
    }

    /// Reads fail with `TimedOut` after waiting this long (`None`: never).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(d)
    }

    /// Writes fail with `TimedOut` after waiting this long (`None`: never).
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(d)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }
}

/// read(2) on a non-blocking fd.
fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for the
    // whole call, and read(2) writes at most that many bytes into it.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// write(2) on a non-blocking fd.
fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, readable region of `buf.len()` bytes for the
    // whole call; write(2) only reads from it.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl<T: AsRawFd> Read for &Pollable<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|t| read_fd(t.as_raw_fd(), buf))
    }
}

impl<T: AsRawFd> Write for &Pollable<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|t| write_fd(t.as_raw_fd(), buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: AsRawFd> Read for Pollable<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl<T: AsRawFd> Write for Pollable<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: AsRawFd> AsRawFd for Pollable<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd + AsFd> AsFd for Pollable<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsRawFd> fmt::Debug for Pollable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pollable")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
