//! TCP: `TcpListener` and `TcpStream`, with std's API.
//!
//! Each socket is a mio socket registered with the reactor once; reads,
//! writes, accepts and connects retry on readiness (see
//! `io/registration.rs`). Clones (`try_clone`) share one registration, so
//! one goroutine can read while another writes, and closing a listener
//! (`net/listener.rs`) reaches every clone. Names in `bind` and `connect`
//! resolve on the blocking pool (`net/dns.rs`).

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dns::{each_addr, ToSocketAddrs};
use super::listener::{is_closed_error, Listener};
use super::{AcceptBackoff, Stream};
use crate::io::registration::Direction;

/// A TCP socket server, listening for connections. Clones from
/// [`try_clone`](TcpListener::try_clone) share the socket.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::{Read, Write};
/// use goro::net::{TcpListener, TcpStream};
/// goro::run(|| -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     goro::go!(move || -> std::io::Result<()> {
///         let (mut conn, _) = listener.accept()?; // parks this goroutine only
///         let mut buf = [0u8; 4];
///         conn.read_exact(&mut buf)?;
///         conn.write_all(&buf) // echo
///     });
///     let mut client = TcpStream::connect(addr)?;
///     client.write_all(b"ping")?;
///     let mut buf = [0u8; 4];
///     client.read_exact(&mut buf)?;
///     assert_eq!(&buf, b"ping");
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpListener {
    inner: Arc<Listener<mio::net::TcpListener>>,
}

impl TcpListener {
    /// Binds to `addr` (the first address that works, as std does).
    ///
    /// The accept backlog is the kernel's maximum (`net.core.somaxconn`,
    /// as Go uses), not std's 128: a burst of thousands of connects would
    /// otherwise overflow the queue and wait for SYN retransmits (1 s+).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::TcpListener;
    /// let listener = TcpListener::bind("127.0.0.1:0")?; // port 0: the kernel picks one
    /// let addr = listener.local_addr()?;
    /// let err = TcpListener::bind(addr).unwrap_err(); // taken
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let std = each_addr(addr, std::net::TcpListener::bind)?;
        // SAFETY: listen(2) on a socket we own and that is already
        // listening only changes its backlog; Linux clamps the value to
        // somaxconn. It touches no memory.
        if unsafe { libc::listen(std.as_raw_fd(), i32::MAX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        TcpListener::from_std(std)
    }

    /// Waits for a connection: parks the goroutine until one arrives.
    /// Fails with `NotConnected` once the listener is
    /// [closed](TcpListener::close).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (conn, peer) = listener.accept()?;
    /// assert_eq!(peer, client.local_addr()?);
    /// assert_eq!(conn.peer_addr()?, peer);
    /// listener.close()?;
    /// assert_eq!(listener.accept().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.accept(|l| l.accept())?;
        Ok((TcpStream::from_mio(stream)?, peer))
    }

    /// An iterator over accepted connections (std's `incoming`), endless
    /// until the listener is [closed](TcpListener::close): then it yields
    /// the `NotConnected` error once and ends.
    ///
    /// Unlike std's, it backs off before yielding an EMFILE/ENFILE error
    /// (5 ms doubling to 1 s, reset on success; see [`crate::net`]), so a
    /// loop that logs and continues does not spin while fds run out.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// goro::run(|| -> std::io::Result<()> {
    ///     let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     goro::go!(move || goro::net::TcpStream::connect(addr)?.write_all(b"hi"));
    ///     for conn in listener.incoming().take(1) {
    ///         let conn = conn?; // log and `continue` in a real server
    ///         assert_eq!(std::io::read_to_string(conn)?, "hi");
    ///     }
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: AcceptBackoff::default(),
            done: false,
        }
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
    /// assert_ne!(addr.port(), 0);
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// Sets the IP time-to-live of accepted sockets.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_ttl(100)?;
    /// assert_eq!(listener.ttl()?, 100);
    /// assert!(listener.set_ttl(0).is_err()); // 1..=255
    /// # Ok(()) }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.io.get().set_ttl(ttl)
    }

    /// Takes the pending socket error, if any.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.take_error()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
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
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// goro::run(|| -> std::io::Result<()> {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
///     let _client = goro::net::TcpStream::connect(listener.local_addr()?)?;
///     let mut incoming: goro::net::Incoming<'_> = listener.incoming();
///     assert!(incoming.next().unwrap().is_ok());
///     listener.close()?;
///     let err = incoming.next().unwrap().unwrap_err(); // the close, once
///     assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
///     assert!(incoming.next().is_none());
///     Ok(())
/// })
/// # }
/// ```
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: AcceptBackoff,
    /// The listener was closed and the error yielded.
    done: bool,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    #[track_caller]
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        next_incoming(self.listener, &mut self.backoff, &mut self.done)
    }
}

/// One step of [`Incoming`] or [`IntoIncoming`].
#[track_caller]
fn next_incoming(
    listener: &TcpListener,
    backoff: &mut AcceptBackoff,
    done: &mut bool,
) -> Option<io::Result<TcpStream>> {
    if *done {
        return None;
    }
    let result = backoff.after(listener.accept().map(|(s, _)| s));
    *done = result.as_ref().is_err_and(is_closed_error);
    Some(result)
}

/// A TCP connection. `Read` and `Write` are implemented for `TcpStream`
/// and `&TcpStream`; clones from `try_clone` share the socket.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::{Read, Write};
/// goro::run(|| -> std::io::Result<()> {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
///     let mut client = goro::net::TcpStream::connect(listener.local_addr()?)?;
///     let (server, _) = listener.accept()?;
///     let reader = goro::go!(move || std::io::read_to_string(&server));
///     client.write_all(b"hello")?;
///     drop(client); // EOF for the reader
///     assert_eq!(reader.join().unwrap()?, "hello");
///     Ok(())
/// })
/// # }
/// ```
pub struct TcpStream {
    inner: Arc<Stream<mio::net::TcpStream>>,
}

impl TcpStream {
    fn from_mio(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::new(Stream::new(stream)?),
        })
    }

    /// Connects to `addr`, trying each address in turn and returning the
    /// last error if none accepts. Parks the goroutine while a name
    /// resolves (on the blocking pool) and while the connection is being
    /// established.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// let closed = listener.local_addr()?;
    /// drop((stream, listener));
    /// let err = goro::net::TcpStream::connect(closed).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        // Taken here: the closure would end the `#[track_caller]` chain.
        let at = Location::caller();
        each_addr(addr, |a| TcpStream::connect_until(a, None, at))
    }

    /// Connects to `addr`, failing with `TimedOut` after `timeout`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use goro::net::TcpStream;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let deadline = Instant::now().checked_add(timeout);
        TcpStream::connect_until(*addr, deadline, Location::caller())
    }

    /// Connects to `addr`; a wait shows `at` in `dump()`.
    fn connect_until(
        addr: SocketAddr,
        deadline: Option<Instant>,
        at: &'static Location<'static>,
    ) -> io::Result<TcpStream> {
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?)?;
        // Writable means the handshake finished, one way or the other.
        let op = |s: &mio::net::TcpStream| {
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
        };
        let connected = stream.inner.io.io_at(Direction::Write, deadline, op, at);
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
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok(()) }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (_conn, peer) = listener.accept()?;
    /// assert_eq!(stream.local_addr()?, peer);
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// Shuts down the read, write or both halves (for every clone).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use std::net::Shutdown;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (mut conn, _) = listener.accept()?;
    /// stream.shutdown(Shutdown::Write)?;
    /// assert_eq!(conn.read(&mut [0u8; 8])?, 0); // EOF
    /// assert_eq!(stream.write(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io.get().shutdown(how)
    }

    /// Another handle to the same socket, usable from another goroutine.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// goro::run(|| -> std::io::Result<()> {
    ///     let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let mut stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let (conn, _) = listener.accept()?;
    ///     let mut writer = stream.try_clone()?;
    ///     goro::go!(move || writer.write_all(b"hi"));
    ///     let mut buf = [0u8; 2];
    ///     (&conn).read_exact(&mut buf)?;
    ///     (&conn).write_all(&buf)?;
    ///     stream.read_exact(&mut buf)?; // read on one handle while the other wrote
    ///     assert_eq!(&buf, b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = stream.read(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// assert!(stream.set_read_timeout(Some(Duration::ZERO)).is_err()); // InvalidInput
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.inner.read_timeout.set(d)
    }

    /// Writes fail after waiting this long (`None`: never), with
    /// `ErrorKind::WouldBlock` as in std.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// use std::time::Duration;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_write_timeout(Some(Duration::from_millis(10)))?;
    /// let chunk = vec![0u8; 1 << 16];
    /// let err = loop {
    ///     if let Err(e) = stream.write(&chunk) {
    ///         break e; // the buffers are full and nobody reads
    ///     }
    /// };
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(()) }
    /// ```
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.inner.write_timeout.set(d)
    }

    /// The read timeout.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.read_timeout()?, None);
    /// stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(stream.read_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok(()) }
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout.get())
    }

    /// The write timeout.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.write_timeout()?, None);
    /// stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(stream.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok(()) }
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout.get())
    }

    /// Sets TCP_NODELAY.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok(()) }
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.io.get().set_nodelay(nodelay)
    }

    /// Reads TCP_NODELAY.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert!(!stream.nodelay()?); // Nagle's algorithm is on by default
    /// # Ok(()) }
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.io.get().nodelay()
    }

    /// Sets the IP time-to-live.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_ttl(64)?;
    /// assert_eq!(stream.ttl()?, 64);
    /// assert!(stream.set_ttl(0).is_err()); // 1..=255
    /// # Ok(()) }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.io.get().set_ttl(ttl)
    }

    /// Takes the pending socket error, if any.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.take_error()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
    }

    /// Reads without consuming (MSG_PEEK), parking until data arrives.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = goro::net::TcpStream::connect(listener.local_addr()?)?;
    /// listener.accept()?.0.write_all(b"hello")?;
    /// let mut buf = [0u8; 8];
    /// let n = stream.peek(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hello");
    /// assert_eq!(stream.read(&mut buf)?, n); // still there
    /// # Ok(()) }
    /// ```
    #[track_caller]
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
        self.inner.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.io.get().as_fd()
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

// std's remaining surface: conversions, clones, TTL, linger, closing.

impl TcpListener {
    /// Wraps a std listener (or a `socket2`-built one, converted with
    /// `.into()`): makes it non-blocking and registers it. Its options
    /// (the backlog, `SO_REUSEPORT`, buffer sizes) are kept as they are.
    ///
    /// ```
    /// # goro::run(|| {
    /// let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let listener = goro::net::TcpListener::from_std(std_listener).unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let _client = goro::net::TcpStream::connect(addr).unwrap();
    /// listener.accept().unwrap();
    /// # });
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            inner: Arc::new(Listener::new(mio::net::TcpListener::from_std(listener))?),
        })
    }

    /// Stops accepting, from any goroutine or thread: every goroutine
    /// waiting in [`accept`](TcpListener::accept) or
    /// [`incoming`](TcpListener::incoming) on this listener or any of its
    /// clones returns promptly with `ErrorKind::NotConnected` ("listener
    /// closed"), and so does every later accept (Go's `net.ErrClosed`).
    /// Connections queued but not yet accepted are reset and new ones are
    /// refused (the socket is shut down); accepted connections are not
    /// touched. The fd stays open until the last handle drops, so a waiter
    /// never retries on a reused fd number. Closing twice fails with the
    /// same error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # goro::run(|| {
    /// let listener = Arc::new(goro::net::TcpListener::bind("127.0.0.1:0").unwrap());
    /// let l = listener.clone();
    /// let acceptor = goro::go!(move || l.accept().map(|_| ()));
    /// goro::time::sleep(std::time::Duration::from_millis(10));
    /// listener.close().unwrap();
    /// let err = acceptor.join().unwrap().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # });
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    /// Another handle to the same listener, usable from another goroutine
    /// (several goroutines may accept at once). Clones share the socket:
    /// [`close`](TcpListener::close) on one closes them all.
    ///
    /// ```
    /// # goro::run(|| {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let clone = listener.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap(), listener.local_addr().unwrap());
    /// # });
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: self.inner.clone(),
        })
    }

    /// Reads the IP time-to-live of accepted sockets.
    ///
    /// ```
    /// # goro::run(|| {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// listener.set_ttl(42).unwrap();
    /// assert_eq!(listener.ttl().unwrap(), 42);
    /// # });
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.io.get().ttl()
    }

    /// An owning iterator over accepted connections (std's
    /// `into_incoming`): [`incoming`](TcpListener::incoming) that keeps the
    /// listener, so it can be moved into a goroutine.
    ///
    /// ```
    /// # goro::run(|| {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = listener.local_addr().unwrap();
    /// let server = goro::go!(move || listener.into_incoming().take(1).count());
    /// let _client = goro::net::TcpStream::connect(addr).unwrap();
    /// assert_eq!(server.join().unwrap(), 1);
    /// # });
    /// ```
    pub fn into_incoming(self) -> IntoIncoming {
        IntoIncoming {
            listener: self,
            backoff: AcceptBackoff::default(),
            done: false,
        }
    }
}

/// Owning iterator over a listener's connections, from
/// [`TcpListener::into_incoming`]; ends like [`Incoming`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// goro::run(|| -> std::io::Result<()> {
///     let listener = goro::net::TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let mut conns: goro::net::IntoIncoming = listener.into_incoming();
///     let _client = goro::net::TcpStream::connect(addr)?;
///     assert_eq!(conns.next().unwrap()?.local_addr()?, addr);
///     Ok(())
/// })
/// # }
/// ```
pub struct IntoIncoming {
    listener: TcpListener,
    backoff: AcceptBackoff,
    done: bool,
}

impl Iterator for IntoIncoming {
    type Item = io::Result<TcpStream>;
    #[track_caller]
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        next_incoming(&self.listener, &mut self.backoff, &mut self.done)
    }
}

impl fmt::Debug for IntoIncoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIncoming")
            .field("listener", &self.listener)
            .finish()
    }
}

impl TcpStream {
    /// Wraps a std stream (a connected one, or a `socket2`-built one):
    /// makes it non-blocking and registers it.
    ///
    /// ```
    /// # goro::run(|| {
    /// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// let stream = goro::net::TcpStream::from_std(std_stream).unwrap();
    /// assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
    /// # });
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream))
    }

    /// Reads the IP time-to-live.
    ///
    /// ```
    /// # goro::run(|| {
    /// # let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_ttl(7).unwrap();
    /// assert_eq!(stream.ttl().unwrap(), 7);
    /// # });
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.io.get().ttl()
    }

    /// Sets `SO_LINGER` (std's unstable `set_linger`): `Some(ZERO)` makes
    /// the close reset the connection at once (RST) and drop unsent data;
    /// `None` (the default) closes in the background. With a positive
    /// duration the kernel's `close(2)` of the last handle waits up to
    /// that long (whole seconds) for unsent data, blocking its thread;
    /// sysmon hands a blocked worker off after about a millisecond, as Go
    /// does, so the other goroutines keep running.
    ///
    /// ```
    /// use std::time::Duration;
    /// # goro::run(|| {
    /// # let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// stream.set_linger(Some(Duration::ZERO)).unwrap();
    /// assert_eq!(stream.linger().unwrap(), Some(Duration::ZERO));
    /// # });
    /// ```
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let value = libc::linger {
            l_onoff: linger.is_some() as libc::c_int,
            l_linger: linger.map_or(0, |d| {
                d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
            }),
        };
        // SAFETY: setsockopt reads `size_of::<linger>()` bytes from
        // `value`, a live local of exactly that type; the fd is open while
        // `self` is borrowed.
        let r = unsafe {
            libc::setsockopt(
                self.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&value as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads `SO_LINGER` (see [`set_linger`](TcpStream::set_linger)).
    ///
    /// ```
    /// # goro::run(|| {
    /// # let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let stream = goro::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert_eq!(stream.linger().unwrap(), None);
    /// # });
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        let mut value = libc::linger {
            l_onoff: 0,
            l_linger: 0,
        };
        let mut len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`, a
        // live local of exactly that size, and the length into `len`; the
        // fd is open while `self` is borrowed.
        let r = unsafe {
            libc::getsockopt(
                self.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&mut value as *mut libc::linger).cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((value.l_onoff != 0).then(|| Duration::from_secs(value.l_linger.max(0) as u64)))
    }
}

/// Deregisters the listener and hands its socket to std, in blocking mode
/// (see [`crate::net`] on clones: a duplicate fd).
///
/// ```
/// # goro::run(|| {
/// let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let std_listener = std::net::TcpListener::from(listener);
/// assert!(std_listener.local_addr().is_ok());
/// # });
/// ```
///
/// # Panics
///
/// If other clones live and the process is out of fds (the duplicate cannot be made).
impl From<TcpListener> for std::net::TcpListener {
    fn from(listener: TcpListener) -> std::net::TcpListener {
        super::detach(listener.inner).into()
    }
}

/// Deregisters the stream and hands its socket to std, in blocking mode
/// (see [`crate::net`] on clones: a duplicate fd).
///
/// ```
/// use std::io::Write;
/// # goro::run(|| {
/// # let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let stream = goro::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let mut std_stream: std::net::TcpStream = stream.into();
/// std_stream.write_all(b"hi").unwrap();
/// # });
/// ```
///
/// # Panics
///
/// If other clones live and the process is out of fds (the duplicate cannot be made).
impl From<TcpStream> for std::net::TcpStream {
    fn from(stream: TcpStream) -> std::net::TcpStream {
        super::detach(stream.inner).into()
    }
}

/// The fd, deregistered and in blocking mode (as `From` for std's type).
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd};
/// # goro::run(|| {
/// let fd = goro::net::TcpListener::bind("127.0.0.1:0").unwrap().into_raw_fd();
/// // SAFETY: `fd` is an open listening socket that nothing else owns.
/// let listener = unsafe { goro::net::TcpListener::from_raw_fd(fd) };
/// assert!(listener.local_addr().is_ok());
/// # });
/// ```
impl IntoRawFd for TcpListener {
    fn into_raw_fd(self) -> RawFd {
        std::net::TcpListener::from(self).into_raw_fd()
    }
}

/// Takes ownership of a listening socket's fd (inherited, systemd-passed,
/// `socket2`-built) as [`TcpListener::from_std`] does.
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd};
/// # goro::run(|| {
/// let fd = std::net::TcpListener::bind("127.0.0.1:0").unwrap().into_raw_fd();
/// // SAFETY: `fd` is an open listening socket that nothing else owns.
/// let listener = unsafe { goro::net::TcpListener::from_raw_fd(fd) };
/// assert!(listener.local_addr().is_ok());
/// # });
/// ```
///
/// # Panics
///
/// If the fd cannot be made non-blocking or registered (`EBADF`, not
/// pollable); the fd is closed first. `from_std` reports it as an error.
impl FromRawFd for TcpListener {
    unsafe fn from_raw_fd(fd: RawFd) -> TcpListener {
        // SAFETY: the caller passes an open socket it owns (this trait's
        // contract), which is what std's `from_raw_fd` needs.
        let std = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        super::from_raw_fd_or_panic(std, "TcpListener", TcpListener::from_std)
    }
}

/// The fd, deregistered and in blocking mode (as `From` for std's type).
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd};
/// # goro::run(|| {
/// # let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let stream = goro::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// let fd = stream.into_raw_fd();
/// // SAFETY: `fd` is an open connected socket that nothing else owns.
/// let stream = unsafe { goro::net::TcpStream::from_raw_fd(fd) };
/// assert!(stream.peer_addr().is_ok());
/// # });
/// ```
impl IntoRawFd for TcpStream {
    fn into_raw_fd(self) -> RawFd {
        std::net::TcpStream::from(self).into_raw_fd()
    }
}

/// Takes ownership of a TCP socket's fd as [`TcpStream::from_std`] does.
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd};
/// # goro::run(|| {
/// # let listener = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let fd = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap().into_raw_fd();
/// // SAFETY: `fd` is an open connected socket that nothing else owns.
/// let stream = unsafe { goro::net::TcpStream::from_raw_fd(fd) };
/// assert!(stream.peer_addr().is_ok());
/// # });
/// ```
///
/// # Panics
///
/// As [`TcpListener`]'s `from_raw_fd`.
impl FromRawFd for TcpStream {
    unsafe fn from_raw_fd(fd: RawFd) -> TcpStream {
        // SAFETY: the caller passes an open socket it owns (this trait's
        // contract), which is what std's `from_raw_fd` needs.
        let std = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        super::from_raw_fd_or_panic(std, "TcpStream", TcpStream::from_std)
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
        self.inner.io.set_deadline(Direction::Read, at);
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
