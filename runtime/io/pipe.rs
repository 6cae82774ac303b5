//! Anonymous pipes whose ends goroutines read and write: [`pipe`].
//!
//! Both ends are created non-blocking and close-on-exec (pipe2) and
//! registered with the reactor through [`Pollable`]. A write to a pipe
//! whose reader is gone fails with `BrokenPipe` (Rust programs ignore
//! SIGPIPE); a read from a pipe whose writers are all gone returns 0.
//! Nothing here blocks a worker thread.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use super::Pollable;

/// The read end of a [`pipe`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::{Read, Write};
/// let (mut r, mut w) = goro::io::pipe()?;
/// w.write_all(b"hi")?;
/// let mut buf = [0u8; 2];
/// r.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"hi");
/// drop(w);
/// assert_eq!(r.read(&mut buf)?, 0); // every writer is gone: EOF
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PipeReader(Pollable<OwnedFd>);

/// The write end of a [`pipe`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::Write;
/// let (r, mut w) = goro::io::pipe()?;
/// w.write_all(b"hi")?;
/// drop(r);
/// let err = w.write_all(b"hi").unwrap_err(); // the reader is gone
/// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PipeWriter(Pollable<OwnedFd>);

/// Creates a pipe: bytes written to the [`PipeWriter`] come out of the
/// [`PipeReader`]. Both ends park goroutines instead of blocking threads.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::{Read, Write};
/// let (mut r, mut w) = goro::io::pipe()?;
/// let writer = goro::go!(move || w.write_all(b"through a pipe"));
/// let mut got = String::new();
/// r.read_to_string(&mut got)?; // EOF once the writer is dropped
/// writer.join().unwrap()?;
/// assert_eq!(got, "through a pipe");
/// # Ok(()) }
/// ```
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
    /// Reads fail after waiting this long (`None`: never), with the error
    /// std gives on Linux: `ErrorKind::WouldBlock` ("Resource temporarily
    /// unavailable"). A deadline fails with `TimedOut` instead.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// let (mut r, _w) = goro::io::pipe()?;
    /// r.set_read_timeout(Some(std::time::Duration::from_millis(10)))?;
    /// let err = r.read(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(d)
    }
}

impl PipeWriter {
    /// Writes fail after waiting this long (`None`: never), with
    /// `ErrorKind::WouldBlock` as in std.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// let (_r, mut w) = goro::io::pipe()?;
    /// w.set_write_timeout(Some(std::time::Duration::from_millis(10)))?;
    /// let chunk = [0u8; 4096];
    /// let err = loop {
    ///     if let Err(e) = w.write(&chunk) {
    ///         break e; // the pipe is full and nobody reads
    ///     }
    /// };
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(()) }
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(d)
    }
}

// Deadlines
impl PipeReader {
    /// Reads fail with `ErrorKind::TimedOut` once `at` has passed, also a
    /// read already waiting in another goroutine; `None` clears it (Go's
    /// `SetReadDeadline`; details at [`Pollable::set_read_deadline`]).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use std::time::{Duration, Instant};
    /// let (mut r, mut w) = goro::io::pipe()?;
    /// r.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = r.read(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// r.set_read_deadline(None)?; // the pipe works again
    /// w.write_all(b"hi")?;
    /// assert_eq!(r.read(&mut [0u8; 8])?, 2);
    /// # Ok(()) }
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.0.set_read_deadline(at)
    }
}

// Deadlines
impl PipeWriter {
    /// Writes fail with `ErrorKind::TimedOut` once `at` has passed, also a
    /// write already waiting for room in another goroutine; `None` clears
    /// it (Go's `SetWriteDeadline`; details at
    /// [`Pollable::set_read_deadline`]).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// let (_r, mut w) = goro::io::pipe()?;
    /// w.set_write_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(w.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.0.set_write_deadline(at)
    }
}

impl Read for &PipeReader {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Read for PipeReader {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

impl Write for &PipeWriter {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for PipeWriter {
    #[track_caller]
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
