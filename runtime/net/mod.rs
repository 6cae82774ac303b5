//! Goroutine sockets that mirror `std::net`: change the import, keep the
//! code. Every would-block parks the goroutine on the reactor (a plain
//! thread blocks); timeouts are runtime timers.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use std::io::{Read, Write};
//! use goro::net::{TcpListener, TcpStream}; // was: std::net::{TcpListener, TcpStream}
//! goro::run(|| -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let server = goro::go!(move || -> std::io::Result<()> {
//!         let (mut conn, _) = listener.accept()?;
//!         let mut buf = [0u8; 5];
//!         conn.read_exact(&mut buf)?;
//!         conn.write_all(&buf) // echo
//!     });
//!     let mut client = TcpStream::connect(addr)?;
//!     client.write_all(b"hello")?;
//!     let mut buf = [0u8; 5];
//!     client.read_exact(&mut buf)?;
//!     assert_eq!(&buf, b"hello");
//!     server.join().unwrap()
//! })
//! # }
//! ```
//!
//! Nothing here may block a worker thread in a syscall: every socket is
//! non-blocking and registered with the reactor.
//!
//! # Running out of file descriptors
//!
//! `accept` returns EMFILE/ENFILE (`io::Error::raw_os_error`) at once, as
//! std's does. The `incoming()` iterators of [`TcpListener`] and
//! [`unix::UnixListener`] instead *back off* before yielding such an error
//! (and ENOBUFS/ENOMEM): the goroutine sleeps 5 ms, doubling on each
//! consecutive failure up to 1 s, reset by the next successful accept. So
//! the usual `for conn in listener.incoming()` loop that logs errors and
//! continues neither spins a core nor stops serving: other goroutines keep
//! running their connections, and accepting resumes once fds are freed.
//!
//! # Closing a listener
//!
//! [`TcpListener::close`] and [`unix::UnixListener::close`] end every
//! accept waiting on the listener (and on its clones), from any goroutine
//! or thread, with `ErrorKind::NotConnected` ("listener closed"), and make
//! every later accept fail the same way; `incoming()` yields that error
//! once and then ends. The fd stays open until the last handle drops, so
//! no waiter ever touches a reused fd number.
//!
//! # Names
//!
//! [`lookup_host`] and every method that takes a [`ToSocketAddrs`]
//! resolve host names on the blocking pool while the goroutine parks;
//! literal addresses are parsed in place.
//!
//! # To and from std and raw fds
//!
//! Every socket type has `from_std`, `From<goro type> for std type`,
//! `AsFd`/`AsRawFd`, `IntoRawFd` and `FromRawFd`. Into std: the socket is
//! deregistered from the reactor and handed over in blocking mode, the
//! mode std expects, with its own fd (the same number). While other goro
//! clones of the socket (`try_clone`) are alive, std gets a duplicate of
//! the fd (`dup(2)`) instead, which shares their open file and stays
//! non-blocking (`O_NONBLOCK` belongs to the open file, and a blocking
//! one would block their workers in the kernel).

pub use dns::{lookup_host, ToSocketAddrs};
pub use tcp::{Incoming, IntoIncoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use crate::io::registration::{Direction, IoSource};
use crate::io::Timeout;

/// The shared part of a connected stream socket (TCP, Unix): the registered
/// socket and its timeouts, with the blocking-style I/O that both types'
/// `Read` and `Write` forward to (see [`stream_read_write`]).
pub(crate) struct Stream<S: mio::event::Source> {
    pub(crate) io: IoSource<S>,
    pub(crate) read_timeout: Timeout,
    pub(crate) write_timeout: Timeout,
}

impl<S: mio::event::Source + AsRawFd> Stream<S>
where
    for<'a> &'a S: Read + Write,
{
    pub(crate) fn new(socket: S) -> io::Result<Stream<S>> {
        Ok(Stream {
            io: IoSource::new(socket)?,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        })
    }

    /// A short read emptied the socket: the next read parks without a
    /// syscall (see `IoSource::io_drained`).
    #[track_caller]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.read_timeout.deadline();
        let len = buf.len();
        self.io.io_drained(
            Direction::Read,
            deadline,
            |mut s| s.read(buf),
            |&n| n > 0 && n < len,
        )
    }

    #[track_caller]
    pub(crate) fn read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        let deadline = self.read_timeout.deadline();
        self.io
            .io(Direction::Read, deadline, |mut s| s.read_vectored(bufs))
    }

    /// A short write filled the send buffer: the next write parks.
    #[track_caller]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.write_timeout.deadline();
        let len = buf.len();
        self.io.io_drained(
            Direction::Write,
            deadline,
            |mut s| s.write(buf),
            |&n| n < len,
        )
    }

    #[track_caller]
    pub(crate) fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let deadline = self.write_timeout.deadline();
        self.io
            .io(Direction::Write, deadline, |mut s| s.write_vectored(bufs))
    }

    /// std's `Read::read_exact`, here so that a wait in it shows the
    /// caller's line in `dump()` (std's default method would show its own).
    #[track_caller]
    pub(crate) fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    ))
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// std's `Write::write_all`, here for the same reason as
    /// [`read_exact`](Self::read_exact).
    #[track_caller]
    pub(crate) fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "failed to write whole buffer",
                    ))
                }
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `Read` and `Write` for a stream type and for a shared reference to it
/// (so one goroutine reads while another writes), forwarding to its
/// `inner: Arc<Stream<_>>`.
macro_rules! stream_read_write {
    ($t:ty) => {
        impl std::io::Read for &$t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.inner.read(buf)
            }
            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.inner.read_vectored(bufs)
            }
            #[track_caller]
            fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
                self.inner.read_exact(buf)
            }
        }

        impl std::io::Write for &$t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.write(buf)
            }
            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.inner.write_vectored(bufs)
            }
            #[track_caller]
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                self.inner.write_all(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $t {
            #[track_caller]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.inner.read(buf)
            }
            #[track_caller]
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.inner.read_vectored(bufs)
            }
            #[track_caller]
            fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
                self.inner.read_exact(buf)
            }
        }

        impl std::io::Write for $t {
            #[track_caller]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.inner.write(buf)
            }
            #[track_caller]
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.inner.write_vectored(bufs)
            }
            #[track_caller]
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                self.inner.write_all(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

mod dns;
mod listener;
mod tcp;
mod udp;
pub mod unix;

/// The part of a socket handle its clones share: the registration.
pub(crate) trait Registered {
    type Source: mio::event::Source + AsFd + Into<OwnedFd>;
    fn registration(&self) -> &IoSource<Self::Source>;
    fn into_registration(self) -> IoSource<Self::Source>;
}

impl<S: mio::event::Source + AsFd + Into<OwnedFd>> Registered for Stream<S> {
    type Source = S;
    fn registration(&self) -> &IoSource<S> {
        &self.io
    }
    fn into_registration(self) -> IoSource<S> {
        self.io
    }
}

/// Takes the socket out of a goro handle for std (see the module docs):
/// the last handle deregisters and hands over its own fd, in blocking
/// mode; while other clones live, a duplicate of the fd, left
/// non-blocking.
///
/// # Panics
///
/// If other clones live and the process is out of fds (`dup` fails:
/// `From` cannot fail).
pub(crate) fn detach<T: Registered>(handle: Arc<T>) -> OwnedFd {
    match Arc::try_unwrap(handle) {
        Ok(last) => {
            let fd: OwnedFd = last.into_registration().into_inner().into();
            set_blocking(fd.as_fd());
            fd
        }
        Err(shared) => shared
            .registration()
            .get()
            .as_fd()
            .try_clone_to_owned()
            .unwrap_or_else(|e| panic!("goro: cannot hand a socket over to std: dup failed: {e}")),
    }
}

/// Clears `O_NONBLOCK` on `fd`.
fn set_blocking(fd: BorrowedFd<'_>) {
    // SAFETY: fcntl with F_GETFL/F_SETFL only reads and writes the file
    // status flags of `fd`, which is open for the borrow's lifetime; it
    // touches no memory of ours. Neither call can fail on an open fd.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// `FromRawFd` for a goro socket: the std socket of that fd, then
/// `from_std`.
///
/// # Panics
///
/// If the fd cannot be made non-blocking or registered with the reactor
/// (`FromRawFd` cannot fail); the fd is closed first. `from_std` is the
/// fallible way.
pub(crate) fn from_raw_fd_or_panic<Std, T>(
    std: Std,
    what: &str,
    from_std: fn(Std) -> io::Result<T>,
) -> T {
    from_std(std).unwrap_or_else(|e| panic!("goro: {what}::from_raw_fd: {e}"))
}

/// The back-off of `incoming()` iterators when accept runs out of
/// resources (see the module docs).
#[derive(Default)]
pub(crate) struct AcceptBackoff {
    /// The next sleep; `None` after a success.
    delay: Option<Duration>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    /// Looks at an accept result: resets on success, sleeps (parking the
    /// goroutine) on fd or memory exhaustion, and passes it through.
    pub(crate) fn after<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        match &result {
            Ok(_) => self.delay = None,
            Err(e) if is_resource_exhaustion(e) => {
                let d = self.delay.unwrap_or(Self::FIRST);
                crate::time::sleep(d);
                self.delay = Some((d * 2).min(Self::MAX));
            }
            Err(_) => {}
        }
        result
    }
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: accept failures that last until
/// something else frees resources, so retrying at once would spin.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
