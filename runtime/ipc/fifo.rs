//! Named pipes (FIFOs, fifo(7)): [`Fifo::create`] makes the node,
//! [`Fifo::open_read`] and [`Fifo::open_write`] open its ends as
//! goroutine-aware [`FifoReader`] and [`FifoWriter`].
//!
//! Both ends are opened non-blocking and registered with the reactor
//! through [`Pollable`]; reads and writes park the goroutine on
//! `EAGAIN`. What is left is to give the ends the semantics of a
//! *blocking* open(2) and read(2) without ever blocking a worker:
//!
//! * **A writer waits for a reader.** A non-blocking open for writing
//!   fails with `ENXIO` while no process has the FIFO open for reading,
//!   and poll(2) has nothing to wait on until an open succeeds. So
//!   [`Fifo::open_write`] tries a non-blocking open first (a reader is
//!   usually there: no thread hop) and, on `ENXIO`, makes the blocking
//!   open(2) on the [`crate::blocking`] pool, its goroutine parked. The
//!   kernel wakes that open the moment a reader comes, blocking or not.
//!   The price: one pool thread per writer still waiting, held until a
//!   reader comes (a blocking open cannot be given up). Rejected, after
//!   measuring (ARCHITECTURE.md, "IPC"): retrying on a backoff timer
//!   (latency up to its cap, and a wake-up per try: 2% of a core per
//!   waiting writer at a 10 ms cap), and an inotify `IN_OPEN` watch to
//!   retry at once (it misses readers inside a blocking open, and closing
//!   an inotify instance that held a watch blocks about 8 ms in the
//!   kernel, waiting for an SRCU grace period, on the worker).
//! * **A reader waits for its first writer.** A non-blocking open for
//!   reading succeeds at once, and until a writer has come, read(2)
//!   returns 0 as if at end of file (there are no writers) while poll(2)
//!   reports neither data nor a hang-up: Linux's `pipe_poll` suppresses
//!   `POLLHUP` until the pipe's writer counter (`w_counter`) moves past
//!   the value the reader saw at open. So a read that gets 0 asks poll(2):
//!   `POLLHUP` means a writer came and every writer has gone (end of
//!   file: return 0); no `POLLHUP` means no writer yet, so the read parks
//!   like `EAGAIN`. The next edge (data, or the first writer's close)
//!   wakes it. A reader that gets 0 after that is at end of file again
//!   each time no writer is left, as with a blocking read.
//! * **EPIPE.** A write once every reader has gone fails with
//!   `BrokenPipe`, as on [`crate::io::pipe`] (Rust programs ignore
//!   SIGPIPE).
//!
//! This file never blocks a worker: its opens on the worker are
//! non-blocking, the one blocking open runs on the blocking pool, and
//! reads and writes wait on reactor readiness.

use std::ffi::CString;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::io::Pollable;

/// Named pipes: the node on the file system, and the two ways to open it.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::Fifo;
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("goro-doc-fifo-{}", std::process::id()));
/// Fifo::create(&path, 0o600)?;
/// let mut reader = Fifo::open_read(&path)?; // returns at once
/// let p = path.clone();
/// let writer = goro::go!(move || -> std::io::Result<()> {
///     let mut w = Fifo::open_write(&p)?; // a reader exists: opens
///     w.write_all(b"through a named pipe")
/// });
/// let mut got = String::new();
/// reader.read_to_string(&mut got)?; // waits for the writer, then its EOF
/// writer.join().unwrap()?;
/// assert_eq!(got, "through a named pipe");
/// std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub enum Fifo {}

/// The read end of a named pipe, from [`Fifo::open_read`]. Reads park
/// until data comes; they return 0 (end of file) only once a writer has
/// come and every writer has closed.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::Fifo;
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("goro-doc-reader-{}", std::process::id()));
/// Fifo::create(&path, 0o600)?;
/// let mut r = Fifo::open_read(&path)?;
/// let mut w = Fifo::open_write(&path)?;
/// w.write_all(b"hi")?;
/// let mut buf = [0u8; 8];
/// assert_eq!(r.read(&mut buf)?, 2);
/// drop(w);
/// assert_eq!(r.read(&mut buf)?, 0); // the only writer is gone
/// std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
pub struct FifoReader(Pollable<OwnedFd>);

/// The write end of a named pipe, from [`Fifo::open_write`]. Writes park
/// while the pipe is full and fail with `BrokenPipe` once every reader
/// has closed. Writes of at most `PIPE_BUF` (4096) bytes are atomic:
/// several writers' messages never interleave.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::Fifo;
/// use std::io::Write;
/// let path = std::env::temp_dir().join(format!("goro-doc-writer-{}", std::process::id()));
/// Fifo::create(&path, 0o600)?;
/// let r = Fifo::open_read(&path)?;
/// let mut w = Fifo::open_write(&path)?;
/// drop(r);
/// let err = w.write_all(b"anyone?").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
/// std::fs::remove_file(&path)?;
/// # Ok(()) }
/// ```
pub struct FifoWriter(Pollable<OwnedFd>);

impl Fifo {
    /// Makes a named pipe at `path` (mkfifo(3)) with permission bits
    /// `mode`, less the process umask, as `std::fs::DirBuilderExt::mode`
    /// does for directories. Fails with `AlreadyExists` if `path` exists.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// use std::os::unix::fs::FileTypeExt;
    /// let path = std::env::temp_dir().join(format!("goro-doc-create-{}", std::process::id()));
    /// Fifo::create(&path, 0o600)?;
    /// assert!(std::fs::metadata(&path)?.file_type().is_fifo());
    /// let err = Fifo::create(&path, 0o600).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn create(path: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let path = path.as_ref();
        let c_path = c_path(path)?;
        // SAFETY: `c_path` is a NUL-terminated string alive for the call,
        // which only reads it.
        if unsafe { libc::mkfifo(c_path.as_ptr(), mode as libc::mode_t) } < 0 {
            return Err(path_error(path, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Opens the named pipe at `path` for reading. Returns at once, with
    /// or without a writer; the first read waits (parked) for a writer
    /// and its data. Fails with `InvalidInput` if `path` is not a FIFO.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// let err = Fifo::open_read("/dev/null").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// let err = Fifo::open_read("/no/such/fifo").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    pub fn open_read(path: impl AsRef<Path>) -> io::Result<FifoReader> {
        let path = path.as_ref();
        let fd = open_fifo(path, libc::O_RDONLY)?.map_err(|e| path_error(path, e))?;
        Ok(FifoReader(Pollable::new(fd)?))
    }

    /// Opens the named pipe at `path` for writing, parking until some
    /// process (this one included) has it open for reading, as a blocking
    /// open(2) waits: the wait is a blocking open on the
    /// [`crate::blocking`] pool, which the kernel ends as soon as a reader
    /// comes (see the module docs for why). Fails with `InvalidInput` if
    /// `path` is not a FIFO.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// use std::io::{Read, Write};
    /// let path = std::env::temp_dir().join(format!("goro-doc-open-write-{}", std::process::id()));
    /// Fifo::create(&path, 0o600)?;
    /// let p = path.clone();
    /// let writer = goro::go!(move || Fifo::open_write(&p)?.write_all(b"x"));
    /// goro::time::sleep(std::time::Duration::from_millis(20)); // it waits meanwhile
    /// let mut r = Fifo::open_read(&path)?;
    /// writer.join().unwrap()?;
    /// let mut buf = Vec::new();
    /// r.read_to_end(&mut buf)?;
    /// assert_eq!(buf, b"x");
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn open_write(path: impl AsRef<Path>) -> io::Result<FifoWriter> {
        let path = path.as_ref();
        let fd = match open_fifo(path, libc::O_WRONLY)? {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                // No reader yet: wait for one in a blocking open, off the
                // worker.
                let fd = crate::blocking(|| open_fifo_blocking(path))?;
                crate::io::set_nonblocking(fd.as_raw_fd())?;
                fd
            }
            Err(e) => return Err(path_error(path, e)),
        };
        Ok(FifoWriter(Pollable::new(fd)?))
    }
}

/// A blocking open of the FIFO at `path` for writing: returns once a
/// reader has it open. Runs on the blocking pool.
fn open_fifo_blocking(path: &Path) -> io::Result<OwnedFd> {
    let c_path = c_path(path)?;
    loop {
        // SAFETY: `c_path` is NUL-terminated and alive for the call;
        // without O_CREAT, open(2) reads no mode argument.
        let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: open(2) just returned this fd, owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            check_fifo(&fd, path)?;
            return Ok(fd);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(path_error(path, err));
        }
    }
}

/// Fails with `InvalidInput` unless `fd` is a FIFO (`path` was replaced
/// by something else between a check and the open).
fn check_fifo(fd: &OwnedFd, path: &Path) -> io::Result<()> {
    // SAFETY: zeroes are a valid stat, which fstat fills in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` writable.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(not_a_fifo(path));
    }
    Ok(())
}

/// Opens the FIFO at `path` non-blocking and close-on-exec with `access`:
/// the outer error if it is not a FIFO (or cannot be named), the inner
/// one as open(2) failed.
fn open_fifo(path: &Path, access: libc::c_int) -> io::Result<io::Result<OwnedFd>> {
    let c_path = c_path(path)?;
    // SAFETY: `c_path` is NUL-terminated and alive for the call, and
    // `st` a writable stat that stat(2) fills in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::stat(c_path.as_ptr(), &mut st) } < 0 {
        return Err(path_error(path, io::Error::last_os_error()));
    }
    // Checked before opening: opening a device may have effects, and a
    // write-only open of something else would not fail with ENXIO.
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(not_a_fifo(path));
    }
    let flags = access | libc::O_NONBLOCK | libc::O_CLOEXEC;
    loop {
        // SAFETY: `c_path` is NUL-terminated and alive for the call;
        // without O_CREAT, open(2) reads no mode argument.
        let fd = unsafe { libc::open(c_path.as_ptr(), flags) };
        if fd >= 0 {
            // SAFETY: open(2) just returned this fd, owned by nobody else.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            check_fifo(&fd, path)?;
            return Ok(Ok(fd));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Ok(Err(err));
        }
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("FIFO path {} holds a NUL byte", path.display()),
        )
    })
}

fn not_a_fifo(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not a named pipe (make one with Fifo::create)",
            path.display()
        ),
    )
}

/// `err` from an operation on the FIFO at `path`, with the path in it.
fn path_error(path: &Path, err: io::Error) -> io::Error {
    io::Error::new(err.kind(), format!("FIFO {}: {err}", path.display()))
}

/// One read(2) with a blocking FIFO's end of file: 0 only once a writer
/// has come and every writer has gone, else `WouldBlock` (see the module
/// docs).
fn read_fifo(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is `buf.len()` writable bytes for the whole call,
        // and read(2) writes at most that many.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 || buf.is_empty() {
            return Ok(n.max(0) as usize);
        }
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        // No writer now: has one come and gone, or has none come yet?
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd for the call; a timeout of 0
        // never waits.
        if unsafe { libc::poll(&mut pfd, 1, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        if pfd.revents & libc::POLLIN != 0 {
            continue; // a writer came and wrote since the read
        }
        if pfd.revents & libc::POLLHUP != 0 {
            return Ok(0);
        }
        return Err(io::ErrorKind::WouldBlock.into());
    }
}

/// write(2) on a non-blocking fd.
fn write_fifo(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is `buf.len()` readable bytes for the whole call;
    // write(2) only reads them.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl FifoReader {
    /// Reads fail after waiting this long (`None`: never), with the error
    /// std gives on Linux: `ErrorKind::WouldBlock`. A deadline fails with
    /// `TimedOut` instead (as [`crate::io::Pollable::set_read_timeout`]).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// use std::io::Read;
    /// let path = std::env::temp_dir().join(format!("goro-doc-rt-{}", std::process::id()));
    /// Fifo::create(&path, 0o600)?;
    /// let mut r = Fifo::open_read(&path)?;
    /// r.set_read_timeout(Some(std::time::Duration::from_millis(10)))?;
    /// let err = r.read(&mut [0u8; 8]).unwrap_err(); // no writer came
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(d)
    }

    /// Reads fail with `ErrorKind::TimedOut` once `at` has passed, also a
    /// read already waiting in another goroutine; `None` clears it (Go's
    /// `SetReadDeadline`; details at [`Pollable::set_read_deadline`]).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// use std::io::Read;
    /// let path = std::env::temp_dir().join(format!("goro-doc-rd-{}", std::process::id()));
    /// Fifo::create(&path, 0o600)?;
    /// let mut r = Fifo::open_read(&path)?;
    /// r.set_read_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(r.read(&mut [0u8; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.0.set_read_deadline(at)
    }
}

impl FifoWriter {
    /// Writes fail after waiting this long for room (`None`: never), with
    /// `ErrorKind::WouldBlock` as in std.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("goro-doc-wt-{}", std::process::id()));
    /// Fifo::create(&path, 0o600)?;
    /// let _r = Fifo::open_read(&path)?; // a reader that never reads
    /// let mut w = Fifo::open_write(&path)?;
    /// w.set_write_timeout(Some(std::time::Duration::from_millis(10)))?;
    /// let err = loop {
    ///     if let Err(e) = w.write(&[0u8; 4096]) {
    ///         break e; // the pipe is full
    ///     }
    /// };
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.0.set_write_timeout(d)
    }

    /// Writes fail with `ErrorKind::TimedOut` once `at` has passed, also a
    /// write already waiting for room; `None` clears it (Go's
    /// `SetWriteDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Fifo;
    /// use std::io::Write;
    /// let path = std::env::temp_dir().join(format!("goro-doc-wd-{}", std::process::id()));
    /// Fifo::create(&path, 0o600)?;
    /// let _r = Fifo::open_read(&path)?;
    /// let mut w = Fifo::open_write(&path)?;
    /// w.set_write_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(w.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.0.set_write_deadline(at)
    }
}

impl Read for &FifoReader {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_with(|fd| read_fifo(fd.as_raw_fd(), buf))
    }
}

impl Read for FifoReader {
    #[track_caller]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &FifoWriter {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_with(|fd| write_fifo(fd.as_raw_fd(), buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for FifoWriter {
    #[track_caller]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsRawFd for FifoReader {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for FifoReader {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for FifoWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl AsFd for FifoWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl fmt::Debug for FifoReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoReader")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for FifoWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FifoWriter")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
