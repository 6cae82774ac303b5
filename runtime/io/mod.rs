//! Goroutine I/O on file descriptors that are not sockets: [`pipe`] and
//! [`Pollable`], a wrapper that makes any pollable fd (a pipe, a tty, a
//! character device, an eventfd, a socket from another library) wait on
//! the reactor instead of blocking its thread.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use std::io::{Read, Write};
//! // Any pollable fd-owning value: here one end of a std socket pair.
//! let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
//! let mut a = goro::io::Pollable::new(a)?;
//! b.write_all(b"hi")?;
//! let mut buf = [0u8; 2];
//! a.read_exact(&mut buf)?; // parks the goroutine, not the thread
//! assert_eq!(&buf, b"hi");
//! // Regular files cannot be polled: run them through goro::blocking.
//! let file = std::fs::File::open(std::env::current_exe()?)?;
//! let err = goro::io::Pollable::new(file).unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
//! # Ok(()) }
//! ```
//!
//! Each fd is made non-blocking and registered with the reactor once
//! (edge-triggered, readable and writable); reads and writes retry on
//! readiness, parking the goroutine in between (a plain thread blocks).
//!
//! Reads and writes honour std's timeouts (`set_read_timeout`: relative,
//! failing with `WouldBlock` as std does) and Go's deadlines
//! (`set_read_deadline`: absolute, failing with `TimedOut`, and reaching
//! an operation already waiting); `registration.rs` says how.
//!
//! This module must never block a worker in a syscall, so it refuses what
//! epoll cannot watch: regular files and directories fail to register
//! (`EPERM`). Run file I/O through [`crate::blocking`] instead.

mod pipe;
pub(crate) mod registration;

pub use pipe::{pipe, PipeReader, PipeWriter};

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use registration::{Direction, IoSource};

/// A socket timeout as set by `set_read_timeout`/`set_write_timeout`:
/// nanoseconds, 0 for none.
#[derive(Default)]
pub(crate) struct Timeout(AtomicU64);

impl Timeout {
    pub(crate) fn set(&self, d: Option<Duration>) -> std::io::Result<()> {
        if d == Some(Duration::ZERO) {
            // std's rule: a zero timeout is an error, not "no timeout".
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let nanos = d.map_or(0, |d| d.as_nanos().clamp(1, u64::MAX as u128) as u64);
        self.0.store(nanos, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// The deadline for an operation starting now.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.get().and_then(|d| Instant::now().checked_add(d))
    }
}

/// A mio source for any fd-owning value (a `Pollable`'s, a child's
/// pidfd).
pub(crate) struct FdSource<T>(pub(crate) T);

impl<T: AsFd> AsRawFd for FdSource<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl<T: AsFd> mio::event::Source for FdSource<T> {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_fd().as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_fd().as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_fd().as_raw_fd()).deregister(registry)
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
/// `Pollable` owns what it polls: `T` is an fd-owning value (`OwnedFd`,
/// `File`, `UnixStream`, ...), so the fd stays open exactly as long as its
/// registration, and dropping the `Pollable` deregisters and closes it. A
/// bare `RawFd` or a `BorrowedFd` is refused at compile time: its fd could
/// be closed and reused by an unrelated file while still registered, and
/// the drop would then deregister the newcomer.
///
/// ```compile_fail
/// use std::os::fd::AsRawFd;
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let p = goro::io::Pollable::new(a.as_raw_fd()); // a RawFd owns nothing
/// ```
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
pub struct Pollable<T: AsFd> {
    io: IoSource<FdSource<T>>,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl<T: AsFd> Pollable<T> {
    /// Takes ownership of `inner`, makes its fd non-blocking and registers
    /// it with the reactor. Fails with `PermissionDenied` (EPERM) for
    /// regular files.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use std::os::fd::OwnedFd;
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let mut a = goro::io::Pollable::new(OwnedFd::from(a))?;
    /// let mut b = goro::io::Pollable::new(b)?;
    /// a.write_all(b"hi")?;
    /// let mut buf = [0u8; 2];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok(()) }
    /// ```
    pub fn new(inner: T) -> io::Result<Pollable<T>>
    where
        T: IntoRawFd,
    {
        set_nonblocking(inner.as_fd().as_raw_fd())?;
        Ok(Pollable {
            io: IoSource::new(FdSource(inner))?,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        })
    }

    /// The wrapped value.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let p = goro::io::Pollable::new(a)?;
    /// assert!(p.get_ref().peer_addr().is_ok());
    /// # Ok(()) }
    /// ```
    pub fn get_ref(&self) -> &T {
        &self.io.get().0
    }

    /// Runs `op` until it stops failing with `WouldBlock`, parking until
    /// the fd is readable between tries. Honours the read timeout and the
    /// read deadline.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::io::Pollable::new(a)?;
    /// b.write_all(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// let n = a.read_with(|mut s| s.read(&mut buf))?;
    /// assert_eq!(&buf[..n], b"hi");
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        let deadline = self.read_timeout.deadline();
        self.io.io(Direction::Read, deadline, |s| op(&s.0))
    }

    /// Runs `op` until it stops failing with `WouldBlock`, parking until
    /// the fd is writable between tries. Honours the write timeout and the
    /// write deadline.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::io::Pollable::new(a)?;
    /// let n = a.write_with(|mut s| s.write(b"hi"))?;
    /// assert_eq!(n, 2);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        let deadline = self.write_timeout.deadline();
        self.io.io(Direction::Write, deadline, |s| op(&s.0))
    }

    /// Reads fail after waiting this long (`None`: never; zero is
    /// `InvalidInput`, as in std), with the error std gives on Linux:
    /// `ErrorKind::WouldBlock` (`EAGAIN`, "Resource temporarily
    /// unavailable"). A deadline ([`set_read_deadline`]) fails with
    /// `TimedOut` instead; with both, the one that passes first decides.
    ///
    /// [`set_read_deadline`]: Pollable::set_read_deadline
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let mut a = goro::io::Pollable::new(a)?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = a.read(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(d)
    }

    /// Writes fail after waiting this long (`None`: never), with
    /// `ErrorKind::WouldBlock` as in std (see
    /// [`set_read_timeout`](Pollable::set_read_timeout)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::io::Pollable::new(a)?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok(()) }
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(d)
    }

    /// The read timeout.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::io::Pollable::new(a)?;
    /// assert_eq!(a.read_timeout()?, None);
    /// # Ok(()) }
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::io::Pollable::new(a)?;
    /// assert_eq!(a.write_timeout()?, None);
    /// # Ok(()) }
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }
}

// Deadlines
impl<T: AsFd> Pollable<T> {
    /// Sets the read and the write deadline (Go's `SetDeadline`): see
    /// [`set_read_deadline`](Pollable::set_read_deadline).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let a = goro::io::Pollable::new(a)?;
    /// a.set_deadline(Some(std::time::Instant::now()))?;
    /// let err = a.write_with(|mut s| std::io::Write::write(&mut s, b"x")).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.set_read_deadline(at)?;
        self.set_write_deadline(at)
    }

    /// Reads fail with `ErrorKind::TimedOut` once `at` has passed (Go's
    /// `SetReadDeadline`): one that starts later fails before it tries,
    /// and one waiting now — in another goroutine or thread — wakes and
    /// fails when `at` passes, or at once if it already has. Moving the
    /// deadline later lets a waiting read wait on; `None` clears it. The
    /// deadline is absolute: it does not restart with each read (unlike
    /// [`set_read_timeout`](Pollable::set_read_timeout)), and a read that
    /// timed out may be retried once the deadline is moved or cleared.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// use std::time::{Duration, Instant};
    /// goro::run(|| -> std::io::Result<()> {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     let a = std::sync::Arc::new(goro::io::Pollable::new(a)?);
    ///     let reader = a.clone();
    ///     let waiting = goro::go!(move || (&*reader).read(&mut [0u8; 8]));
    ///     goro::time::sleep(Duration::from_millis(10));
    ///     a.set_read_deadline(Some(Instant::now()))?; // ends the waiting read
    ///     let err = waiting.join().unwrap().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Read, at);
        Ok(())
    }

    /// Writes fail with `ErrorKind::TimedOut` once `at` has passed (Go's
    /// `SetWriteDeadline`), as [`set_read_deadline`] says of reads.
    ///
    /// [`set_read_deadline`]: Pollable::set_read_deadline
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let mut a = goro::io::Pollable::new(a)?;
    /// a.set_write_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(a.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// a.set_write_deadline(None)?;
    /// assert_eq!(a.write(b"x")?, 1);
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Write, at);
        Ok(())
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

impl<T: AsFd> Read for &Pollable<T> {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_with(|t| read_fd(t.as_fd().as_raw_fd(), buf))
    }
}

impl<T: AsFd> Write for &Pollable<T> {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_with(|t| write_fd(t.as_fd().as_raw_fd(), buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: AsFd> Read for Pollable<T> {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl<T: AsFd> Write for Pollable<T> {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: AsFd> AsRawFd for Pollable<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_fd().as_raw_fd()
    }
}

impl<T: AsFd> AsFd for Pollable<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsFd> fmt::Debug for Pollable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pollable")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
