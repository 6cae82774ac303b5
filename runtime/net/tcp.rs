//! TCP: `TcpListener` and `TcpStream`, with std's API.
//!
//! Each socket is a mio socket registered with the reactor once; reads,
//! writes, accepts and connects retry on readiness (see
//! `io/registration.rs`). A stream's clones (`try_clone`) share one
//! registration, so one goroutine can read while another writes.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{AcceptBackoff, Stream};
use crate::io::registration::{Direction, IoSource};

/// A TCP socket server, listening for connections.
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first address that works, as std does).
    ///
    /// The accept backlog is the kernel's maximum (`net.core.somaxconn`,
    /// as Go uses), not std's 128: a burst of thousands of connects would
    /// otherwise overflow the queue and wait for SYN retransmits (1 s+).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let std = std::net::TcpListener::bind(addr)?;
        // SAFETY: listen(2) on a socket we own and that is already
        // listening only changes its backlog; Linux clamps the value to
        // somaxconn. It touches no memory.
        if unsafe { libc::listen(std.as_raw_fd(), i32::MAX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        std.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(mio::net::TcpListener::from_std(std))?,
        })
    }

    /// Waits for a connection: parks the goroutine until one arrives.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.io.io(Direction::Read, None, |l| l.accept())?;
        Ok((TcpStream::from_mio(stream)?, peer))
    }

    /// An endless iterator over accepted connections (std's `incoming`).
    ///
    /// Unlike std's, it backs off before yielding an EMFILE/ENFILE error
    /// (5 ms doubling to 1 s, reset on success; see [`crate::net`]), so a
    /// loop that logs and continues does not spin while fds run out.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: AcceptBackoff::default(),
        }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// Takes the pending socket error, if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// Iterator over a listener's connections, from [`TcpListener::incoming`].
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: AcceptBackoff,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.backoff.after(self.listener.accept().map(|(s, _)| s)))
    }
}

/// A TCP connection. `Read` and `Write` are implemented for `TcpStream`
/// and `&TcpStream`; clones from `try_clone` share the socket.
pub struct TcpStream {
    inner: Arc<Stream<mio::net::TcpStream>>,
}

impl TcpStream {
    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::new(Stream::new(stream)?),
        })
    }

    /// Connects to `addr`, trying each resolved address in turn. Parks the
    /// goroutine while the connection is being established.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_until(a, None) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "could not resolve to any addresses",
            )
        }))
    }

    /// Connects to `addr`, failing with `TimedOut` after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_until(*addr, Instant::now().checked_add(timeout))
    }

    fn connect_until(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // Writable means the handshake finished, one way or the other.
        let connected = stream.inner.io.io(Direction::Write, deadline, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        });
        match connected {
            // The op never lets `WouldBlock` out: this is the timeout, which
            // std's `connect_timeout` reports as `TimedOut`.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection timed out",
            )),
            Err(e) => Err(e),
            Ok(()) => Ok(stream),
        }
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// Shuts down the read, write or both halves (for every clone).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io.get().shutdown(how)
    }

    /// Another handle to the same socket, usable from another goroutine.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: self.inner.clone(),
        })
    }

    /// Reads fail after waiting this long (`None`: never), with the error
    /// std gives on Linux: `ErrorKind::WouldBlock` ("Resource temporarily
    /// unavailable"), not `TimedOut`. Shared by all clones. A deadline
    /// ([`set_read_deadline`](TcpStream::set_read_deadline)) fails with
    /// `TimedOut`.
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.inner.read_timeout.set(d)
    }

    /// Writes fail after waiting this long (`None`: never), with
    /// `ErrorKind::WouldBlock` as in std.
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.inner.write_timeout.set(d)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout.get())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout.get())
    }

    /// Sets TCP_NODELAY.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.io.get().set_nodelay(nodelay)
    }

    /// Reads TCP_NODELAY.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.io.get().nodelay()
    }

    /// Sets the IP time-to-live.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.io.get().set_ttl(ttl)
    }

    /// Takes the pending socket error, if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
    }

    /// Reads without consuming (MSG_PEEK), parking until data arrives.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner.io.io(Direction::Read, deadline, |s| s.peek(buf))
    }
}

stream_read_write!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

impl std::os::fd::AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().as_fd()
    }
}

impl std::os::fd::AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for TcpStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.io.get().as_fd()
    }
}

// Deadlines
impl TcpListener {
    /// Accepts fail with `ErrorKind::TimedOut` once `at` has passed, also
    /// one already waiting in another goroutine; `None` clears it (Go's
    /// `TCPListener.SetDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let l = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// l.set_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.io.set_deadline(Direction::Read, at);
        Ok(())
    }
}

// Deadlines
impl TcpStream {
    /// Sets the read and the write deadline (Go's `SetDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// let l = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut s = goro::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(s.read(&mut [0u8; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.set_read_deadline(at)?;
        self.set_write_deadline(at)
    }

    /// Reads (and `peek`s) fail with `ErrorKind::TimedOut` once `at` has
    /// passed (Go's `SetReadDeadline`). A read that starts later fails
    /// before it tries, even with data waiting; one already waiting — in
    /// another goroutine or thread, on any clone — wakes and fails when
    /// `at` passes, or at once if it already has. Moving the deadline later
    /// lets a waiting read wait on; `None` clears it, and the stream works
    /// again. Unlike a timeout the deadline is absolute and shared by all
    /// clones; the write direction has its own, so one goroutine's read
    /// deadline never ends another's write. With a read timeout set too,
    /// whichever passes first ends the read: the deadline with `TimedOut`,
    /// the timeout with `WouldBlock`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use std::time::{Duration, Instant};
    /// goro::run(|| -> std::io::Result<()> {
    ///     let l = goro::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let s = goro::net::TcpStream::connect(l.local_addr()?)?;
    ///     let (mut peer, _) = l.accept()?;
    ///     let reader = s.try_clone()?;
    ///     let waiting = goro::go!(move || (&reader).read(&mut [0u8; 8]));
    ///     goro::time::sleep(Duration::from_millis(10));
    ///     s.set_read_deadline(Some(Instant::now()))?; // ends the waiting read
    ///     let err = waiting.join().unwrap().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    ///     s.set_read_deadline(None)?;
    ///     peer.write_all(b"hi")?;
    ///     assert_eq!((&s).read(&mut [0u8; 8])?, 2);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Read, at);
        Ok(())
    }

    /// Writes fail with `ErrorKind::TimedOut` once `at` has passed, also a
    /// write already waiting for room (Go's `SetWriteDeadline`; see
    /// [`set_read_deadline`](TcpStream::set_read_deadline)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// let l = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut s = goro::net::TcpStream::connect(l.local_addr()?)?;
    /// s.set_write_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(s.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// s.set_write_deadline(None)?;
    /// assert_eq!(s.write(b"x")?, 1);
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Write, at);
        Ok(())
    }
}
