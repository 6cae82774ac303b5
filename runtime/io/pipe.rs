//! Anonymous pipes whose ends goroutines read and write: [`pipe`].
//!
//! Both ends are created non-blocking and close-on-exec (pipe2) and
//! registered with the reactor through [`Pollable`]. A write to a pipe
//! whose reader is gone fails with `BrokenPipe` (Rust programs ignore
//! SIGPIPE); a read from a pipe whose writers are all gone returns 0.
//! Nothing here blocks a worker thread.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::Pollable;

/// The read end of a [`pipe`].
#[derive(Debug)]
pub struct PipeReader(Pollable<OwnedFd>);

/// The write end of a [`pipe`].
#[derive(Debug)]
pub struct PipeWriter(Pollable<OwnedFd>);

/// Creates a pipe: bytes written to the [`PipeWriter`] come out of the
/// [`PipeReader`]. Both ends park goroutines instead of blocking threads.
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two c_ints that pipe2 fills in.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody
    // else; each OwnedFd takes sole ownership of one.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((PipeReader(Pollable::new(r)?), PipeWriter(Pollable::new(w)?)))
}

impl PipeReader {
    /// Reads fail with `TimedOut` after waiting this long (`None`: never).
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(d)
    }
}

impl PipeWriter {
    /// Writes fail with `TimedOut` after waiting this long (`None`: never).
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(d)
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for PipeReader {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for PipeReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for PipeWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for PipeWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
