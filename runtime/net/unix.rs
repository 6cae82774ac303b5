//! Unix domain sockets: `UnixListener`, `UnixStream` and `UnixDatagram`,
//! with `std::os::unix::net`'s API.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use std::io::{Read, Write};
//! use goro::net::unix::UnixStream; // was: std::os::unix::net::UnixStream
//! goro::run(|| -> std::io::Result<()> {
//!     let (mut a, mut b) = UnixStream::pair()?;
//!     let echo = goro::go!(move || -> std::io::Result<()> {
//!         let mut buf = [0u8; 4];
//!         b.read_exact(&mut buf)?;
//!         b.write_all(&buf)
//!     });
//!     a.write_all(b"ping")?;
//!     let mut buf = [0u8; 4];
//!     a.read_exact(&mut buf)?;
//!     assert_eq!(&buf, b"ping");
//!     echo.join().unwrap()
//! })
//! # }
//! ```
//!
//! Like TCP, each socket is a non-blocking mio socket registered with the
//! reactor once; every would-block parks the goroutine (a plain thread
//! blocks) and clones from `try_clone` share the registration. A
//! listener's `close` ends every accept waiting on it (`net/listener.rs`).
//!
//! A non-blocking `connect` to a listener whose backlog is full fails with
//! `WouldBlock` and, for Unix sockets, gives no readiness to wait for; goro
//! retries it after a short sleep (100 µs doubling to 10 ms), which is what
//! a blocking std connect does in the kernel. This file never blocks a
//! worker thread in a syscall.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::listener::{is_closed_error, Listener};
use super::{AcceptBackoff, Stream, Timeout};
use crate::io::registration::{Direction, IoSource};

/// A Unix stream socket server. Clones from
/// [`try_clone`](UnixListener::try_clone) share the socket.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::{Read, Write};
/// use goro::net::unix::{UnixListener, UnixStream};
/// goro::run(|| -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("goro-doc-listener-{}.sock", std::process::id()));
///     # let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path)?;
///     goro::go!(move || -> std::io::Result<()> {
///         let (mut conn, _) = listener.accept()?; // parks this goroutine only
///         conn.write_all(b"hello")
///     });
///     let mut client = UnixStream::connect(&path)?;
///     let mut got = String::new();
///     client.read_to_string(&mut got)?;
///     assert_eq!(got, "hello");
///     std::fs::remove_file(&path)?;
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixListener {
    inner: Arc<Listener<mio::net::UnixListener>>,
}

impl UnixListener {
    /// Binds to the socket file `path` (which must not exist).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixListener;
    /// let path = std::env::temp_dir().join(format!("goro-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// let err = UnixListener::bind(&path).unwrap_err(); // the file exists
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::from_std(std::os::unix::net::UnixListener::bind(path)?)
    }

    /// Binds to `addr` (a path or, on Linux, an abstract name).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::os::linux::net::SocketAddrExt;
    /// let name = format!("goro-doc-bind-addr-{}", std::process::id());
    /// let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    /// let listener = goro::net::unix::UnixListener::bind_addr(&addr)?; // no file
    /// let client = goro::net::unix::UnixStream::connect_addr(&addr)?;
    /// assert!(client.peer_addr()?.as_abstract_name().is_some());
    /// # let _ = listener;
    /// # Ok(()) }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::from_std(std::os::unix::net::UnixListener::bind_addr(addr)?)
    }

    /// Wraps a std listener (made non-blocking here).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-from-std-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let std_listener = std::os::unix::net::UnixListener::bind(&path)?;
    /// let listener = goro::net::unix::UnixListener::from_std(std_listener)?;
    /// let _client = goro::net::unix::UnixStream::connect(&path)?;
    /// listener.accept()?;
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            inner: Arc::new(Listener::new(mio::net::UnixListener::from_std(listener))?),
        })
    }

    /// Waits for a connection: parks the goroutine until one arrives.
    /// Fails with `NotConnected` once the listener is
    /// [closed](UnixListener::close).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path)?;
    /// let (conn, _peer) = listener.accept()?;
    /// assert_eq!(conn.local_addr()?.as_pathname(), Some(path.as_path()));
    /// listener.close()?;
    /// assert_eq!(listener.accept().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, peer) = self.inner.accept(|l| l.accept())?;
        Ok((UnixStream::from_mio(stream)?, peer))
    }

    /// An iterator over accepted connections, endless until the listener
    /// is [closed](UnixListener::close) (then it yields the error once and
    /// ends). Backs off before yielding EMFILE/ENFILE, like
    /// [`crate::net::TcpListener::incoming`].
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// use goro::net::unix::{UnixListener, UnixStream};
    /// goro::run(|| -> std::io::Result<()> {
    ///     let path = std::env::temp_dir().join(format!("goro-doc-incoming-{}.sock", std::process::id()));
    ///     # let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path)?;
    ///     let client_path = path.clone();
    ///     goro::go!(move || UnixStream::connect(client_path)?.write_all(b"hi"));
    ///     for conn in listener.incoming().take(1) {
    ///         let conn = conn?; // log and `continue` in a real server
    ///         assert_eq!(std::io::read_to_string(conn)?, "hi");
    ///     }
    ///     std::fs::remove_file(&path)?;
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
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = goro::net::unix::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// Takes the pending socket error, if any.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-listener-error-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = goro::net::unix::UnixListener::bind(&path)?;
    /// assert!(listener.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// Iterator over a listener's connections, from [`UnixListener::incoming`].
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::net::unix::{UnixListener, UnixStream};
/// goro::run(|| -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("goro-doc-incoming-type-{}.sock", std::process::id()));
///     # let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path)?;
///     let _client = UnixStream::connect(&path)?;
///     let mut incoming: goro::net::unix::Incoming<'_> = listener.incoming();
///     assert!(incoming.next().unwrap().is_ok());
///     listener.close()?;
///     let err = incoming.next().unwrap().unwrap_err(); // the close, once
///     assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
///     assert!(incoming.next().is_none());
///     std::fs::remove_file(&path)?;
///     Ok(())
/// })
/// # }
/// ```
pub struct Incoming<'a> {
    listener: &'a UnixListener,
    backoff: AcceptBackoff,
    /// The listener was closed and the error yielded.
    done: bool,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;
    #[track_caller]
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        if self.done {
            return None;
        }
        let result = self.backoff.after(self.listener.accept().map(|(s, _)| s));
        self.done = result.as_ref().is_err_and(is_closed_error);
        Some(result)
    }
}

/// A Unix stream connection. `Read` and `Write` are implemented for
/// `UnixStream` and `&UnixStream`; clones from `try_clone` share the socket.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::Write;
/// goro::run(|| -> std::io::Result<()> {
///     let (mut a, b) = goro::net::unix::UnixStream::pair()?;
///     let reader = goro::go!(move || std::io::read_to_string(&b));
///     a.write_all(b"hello")?;
///     drop(a); // EOF for the reader
///     assert_eq!(reader.join().unwrap()?, "hello");
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixStream {
    inner: Arc<Stream<mio::net::UnixStream>>,
}

/// Retries a non-blocking Unix connect while the listener's backlog is full.
#[track_caller]
fn retry_full_backlog<T>(mut connect: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut delay = Duration::from_micros(100);
    loop {
        match connect() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                crate::time::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

impl UnixStream {
    fn from_mio(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Arc::new(Stream::new(stream)?),
        })
    }

    /// Connects to the socket at `path`, parking while the listener's
    /// backlog is full.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let err = UnixStream::connect(&path).unwrap_err(); // nothing there yet
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let _listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect(&path)?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let addr = SocketAddr::from_pathname(path)?;
        UnixStream::connect_addr(&addr)
    }

    /// Connects to `addr` (a path or, on Linux, an abstract name).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::os::linux::net::SocketAddrExt;
    /// use goro::net::unix::{UnixListener, UnixStream};
    /// let name = format!("goro-doc-connect-addr-{}", std::process::id());
    /// let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    /// let err = UnixStream::connect_addr(&addr).unwrap_err(); // no listener
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// let _listener = UnixListener::bind_addr(&addr)?;
    /// assert!(UnixStream::connect_addr(&addr).is_ok());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let stream = retry_full_backlog(|| mio::net::UnixStream::connect_addr(addr))?;
        UnixStream::from_mio(stream)
    }

    /// A connected pair of sockets (socketpair(2)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// let (mut a, mut b) = goro::net::unix::UnixStream::pair()?;
    /// a.write_all(b"hi")?;
    /// let mut buf = [0u8; 2];
    /// b.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # Ok(()) }
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// Wraps a std stream (made non-blocking here).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let mut a = goro::net::unix::UnixStream::from_std(a)?;
    /// (&b).write_all(b"hi")?;
    /// assert_eq!(a.read(&mut [0u8; 8])?, 2);
    /// # Ok(()) }
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::from_mio(mio::net::UnixStream::from_std(stream))
    }

    /// The local address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-stream-local-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let client = UnixStream::connect(&path)?;
    /// assert!(client.local_addr()?.is_unnamed()); // a client has no path
    /// let (conn, _) = listener.accept()?;
    /// assert_eq!(conn.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// The remote address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::{UnixListener, UnixStream};
    /// let path = std::env::temp_dir().join(format!("goro-doc-stream-peer-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _listener = UnixListener::bind(&path)?;
    /// let client = UnixStream::connect(&path)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().peer_addr()
    }

    /// Shuts down the read, write or both halves (for every clone).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use std::net::Shutdown;
    /// let (mut a, mut b) = goro::net::unix::UnixStream::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// assert_eq!(b.read(&mut [0u8; 8])?, 0); // EOF
    /// assert_eq!(a.write(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
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
    ///     let (mut a, b) = goro::net::unix::UnixStream::pair()?;
    ///     let mut writer = a.try_clone()?;
    ///     goro::go!(move || writer.write_all(b"hi"));
    ///     let mut buf = [0u8; 2];
    ///     (&b).read_exact(&mut buf)?;
    ///     (&b).write_all(&buf)?;
    ///     a.read_exact(&mut buf)?; // read on one handle while the other wrote
    ///     assert_eq!(&buf, b"hi");
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: self.inner.clone(),
        })
    }

    /// Reads fail after waiting this long (`None`: never), with the error
    /// std gives on Linux: `ErrorKind::WouldBlock` ("Resource temporarily
    /// unavailable"), not `TimedOut`. Shared by all clones. A deadline
    /// ([`set_read_deadline`](UnixStream::set_read_deadline)) fails with
    /// `TimedOut`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (mut a, _b) = goro::net::unix::UnixStream::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = a.read(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// assert!(a.set_read_timeout(Some(Duration::ZERO)).is_err()); // InvalidInput
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
    /// let (mut a, _b) = goro::net::unix::UnixStream::pair()?;
    /// a.set_write_timeout(Some(Duration::from_millis(10)))?;
    /// let chunk = vec![0u8; 1 << 16];
    /// let err = loop {
    ///     if let Err(e) = a.write(&chunk) {
    ///         break e; // the buffer is full and nobody reads
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
    /// let (a, _b) = goro::net::unix::UnixStream::pair()?;
    /// assert_eq!(a.read_timeout()?, None);
    /// a.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.read_timeout()?, Some(Duration::from_secs(1)));
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
    /// let (a, _b) = goro::net::unix::UnixStream::pair()?;
    /// assert_eq!(a.write_timeout()?, None);
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok(()) }
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout.get())
    }

    /// Takes the pending socket error, if any.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = goro::net::unix::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
    }
}

stream_read_write!(UnixStream);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}

struct DatagramInner {
    io: IoSource<mio::net::UnixDatagram>,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl super::Registered for DatagramInner {
    type Source = mio::net::UnixDatagram;
    fn registration(&self) -> &IoSource<mio::net::UnixDatagram> {
        &self.io
    }
    fn into_registration(self) -> IoSource<mio::net::UnixDatagram> {
        self.io
    }
}

/// A Unix datagram socket. Every method takes `&self`; clones from
/// `try_clone` share the socket.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::net::unix::UnixDatagram;
/// goro::run(|| -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("goro-doc-datagram-{}.sock", std::process::id()));
///     # let _ = std::fs::remove_file(&path);
///     let server = UnixDatagram::bind(&path)?;
///     let client = UnixDatagram::unbound()?;
///     client.send_to(b"ping", &path)?;
///     let mut buf = [0u8; 16];
///     let (n, from) = server.recv_from(&mut buf)?; // parks the goroutine
///     assert_eq!(&buf[..n], b"ping");
///     assert!(from.is_unnamed()); // the client has no path to answer to
///     std::fs::remove_file(&path)?;
///     Ok(())
/// })
/// # }
/// ```
pub struct UnixDatagram {
    inner: Arc<DatagramInner>,
}

impl UnixDatagram {
    fn from_mio(socket: mio::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Arc::new(DatagramInner {
                io: IoSource::new(socket)?,
                read_timeout: Timeout::default(),
                write_timeout: Timeout::default(),
            }),
        })
    }

    /// A socket bound to the file `path` (which must not exist).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// let err = UnixDatagram::bind(&path).unwrap_err(); // the file exists
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind(path)?)
    }

    /// A socket bound to `addr` (a path or, on Linux, an abstract name).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::os::linux::net::SocketAddrExt;
    /// use goro::net::unix::UnixDatagram;
    /// let name = format!("goro-doc-dgram-bind-addr-{}", std::process::id());
    /// let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    /// let socket = UnixDatagram::bind_addr(&addr)?; // no file
    /// assert!(socket.local_addr()?.as_abstract_name().is_some());
    /// let err = UnixDatagram::bind_addr(&addr).unwrap_err(); // the name is taken
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok(()) }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::bind_addr(addr)?)
    }

    /// A socket bound to no address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixDatagram;
    /// let socket = UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// let err = socket.send(b"x").unwrap_err(); // no peer
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok(()) }
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_mio(mio::net::UnixDatagram::unbound()?)
    }

    /// A connected pair of sockets (socketpair(2)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.send(b"one")?;
    /// a.send(b"two")?;
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf)?, 3); // one datagram at a time
    /// let n = b.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"two");
    /// # Ok(()) }
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a)?, UnixDatagram::from_mio(b)?))
    }

    /// Wraps a std socket (made non-blocking here).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
    /// let a = goro::net::unix::UnixDatagram::from_std(a)?;
    /// b.send(b"hi")?;
    /// assert_eq!(a.recv(&mut [0u8; 8])?, 2);
    /// # Ok(()) }
    /// ```
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        UnixDatagram::from_mio(mio::net::UnixDatagram::from_std(socket))
    }

    /// Sets the default peer: `send`/`recv` then talk only to it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = UnixDatagram::unbound()?;
    /// let err = socket.connect(&path).unwrap_err(); // nothing there yet
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let server = UnixDatagram::bind(&path)?;
    /// socket.connect(&path)?;
    /// socket.send(b"hi")?;
    /// assert_eq!(server.recv(&mut [0u8; 8])?, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.inner.io.get().connect(path)
    }

    /// Sends `buf` to the socket at `path`, parking while the peer's queue
    /// is full.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-send-to-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = UnixDatagram::unbound()?;
    /// let err = socket.send_to(b"hi", &path).unwrap_err(); // nothing there yet
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let server = UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.send_to(b"hi", &path)?, 2);
    /// assert_eq!(server.recv(&mut [0u8; 8])?, 2);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        let deadline = self.inner.write_timeout.deadline();
        self.inner
            .io
            .io(Direction::Write, deadline, |s| s.send_to(buf, path))
    }

    /// Receives one datagram, parking until one arrives.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-recv-from-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// let (a, _b) = UnixDatagram::pair()?;
    /// a.send_to(b"hi", &path)?;
    /// let mut buf = [0u8; 8];
    /// let (n, from) = server.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from.is_unnamed()), (&b"hi"[..], true));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner
            .io
            .io(Direction::Read, deadline, |s| s.recv_from(buf))
    }

    /// Sends to the connected peer.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, b) = goro::net::unix::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"hi")?, 2);
    /// assert_eq!(b.recv(&mut [0u8; 8])?, 2);
    /// drop(b);
    /// assert!(a.send(b"hi").is_err()); // the peer is gone (ECONNREFUSED)
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.inner.write_timeout.deadline();
        self.inner
            .io
            .io(Direction::Write, deadline, |s| s.send(buf))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let (a, b) = goro::net::unix::UnixDatagram::pair()?;
    /// b.send(b"hi")?;
    /// let mut buf = [0u8; 8];
    /// let n = a.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], b"hi");
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// assert_eq!(a.recv(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner.io.io(Direction::Read, deadline, |s| s.recv(buf))
    }

    /// The local address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-local-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = goro::net::unix::UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// The connected peer's address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::net::unix::UnixDatagram;
    /// let path = std::env::temp_dir().join(format!("goro-doc-dgram-peer-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _server = UnixDatagram::bind(&path)?;
    /// let socket = UnixDatagram::unbound()?;
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// socket.connect(&path)?;
    /// assert_eq!(socket.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().peer_addr()
    }

    /// Shuts down the read, write or both halves (for every clone).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::net::Shutdown;
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// assert_eq!(a.send(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.io.get().shutdown(how)
    }

    /// Another handle to the same socket, usable from another goroutine.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// goro::run(|| -> std::io::Result<()> {
    ///     let (a, b) = goro::net::unix::UnixDatagram::pair()?;
    ///     let receiver = a.try_clone()?;
    ///     let got = goro::go!(move || receiver.recv(&mut [0u8; 8]));
    ///     b.send(b"hi")?;
    ///     assert_eq!(got.join().unwrap()?, 2);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: self.inner.clone(),
        })
    }

    /// Receives fail after waiting this long (`None`: never), with the
    /// error std gives on Linux: `ErrorKind::WouldBlock` ("Resource
    /// temporarily unavailable"), not `TimedOut`. Shared by all clones. A
    /// deadline ([`set_read_deadline`](UnixDatagram::set_read_deadline))
    /// fails with `TimedOut`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = a.recv(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// assert!(a.set_read_timeout(Some(Duration::ZERO)).is_err()); // InvalidInput
    /// # Ok(()) }
    /// ```
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.inner.read_timeout.set(d)
    }

    /// Sends fail after waiting this long (`None`: never), with
    /// `ErrorKind::WouldBlock` as in std.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.set_write_timeout(Some(Duration::from_millis(10)))?;
    /// let err = loop {
    ///     if let Err(e) = a.send(&[0u8; 1024]) {
    ///         break e; // the peer's queue is full and nobody receives
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
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// assert_eq!(a.read_timeout()?, None);
    /// a.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.read_timeout()?, Some(Duration::from_secs(1)));
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
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// assert_eq!(a.write_timeout()?, None);
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok(()) }
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout.get())
    }

    /// Takes the pending socket error, if any.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

impl std::os::fd::AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.io.get().as_fd()
    }
}

impl std::os::fd::AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.io.get().as_fd()
    }
}

impl std::os::fd::AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UnixDatagram {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.io.get().as_fd()
    }
}

// Closing, clones, conversions to std and raw fds.

impl UnixListener {
    /// Stops accepting, from any goroutine or thread, as
    /// [`TcpListener::close`](crate::net::TcpListener::close) does: every
    /// accept waiting on this listener or its clones, and every later one,
    /// fails with `ErrorKind::NotConnected` ("listener closed"); new
    /// connects are refused. The fd (and the socket file) stay until the
    /// last handle drops. Closing twice fails with the same error.
    ///
    /// ```
    /// # goro::run(|| {
    /// let path = std::env::temp_dir().join(format!("goro-doc-close-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = goro::net::unix::UnixListener::bind(&path).unwrap();
    /// listener.close().unwrap();
    /// let err = listener.accept().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # std::fs::remove_file(&path).unwrap();
    /// # });
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.inner.close()
    }

    /// Another handle to the same listener, usable from another goroutine.
    /// Clones share the socket: [`close`](UnixListener::close) on one
    /// closes them all.
    ///
    /// ```
    /// # goro::run(|| {
    /// let path = std::env::temp_dir().join(format!("goro-doc-clone-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = goro::net::unix::UnixListener::bind(&path).unwrap();
    /// let clone = listener.try_clone().unwrap();
    /// assert_eq!(clone.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// # std::fs::remove_file(&path).unwrap();
    /// # });
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: self.inner.clone(),
        })
    }
}

/// `From`, `IntoRawFd` and `FromRawFd` for a Unix socket type: into std
/// deregistered and blocking (its own fd; a duplicate while clones live, see [`crate::net`]); from a
/// raw fd as `from_std` does, panicking where that fails.
macro_rules! unix_fd_conversions {
    ($t:ident, $std:ty, $make:expr) => {
        #[doc = concat!("Deregisters the socket and hands it to std, in blocking mode (see\n",
            "[`crate::net`] on clones: a duplicate fd).\n\n",
            "```\n",
            "use std::os::fd::{FromRawFd, IntoRawFd};\n",
            "# goro::run(|| {\n",
            $make, "\n",
            "let std_socket = <", stringify!($std), ">::from(socket);\n",
            "let fd = std_socket.into_raw_fd();\n",
            "// SAFETY: `fd` is an open socket that nothing else owns.\n",
            "let socket = unsafe { goro::net::unix::", stringify!($t), "::from_raw_fd(fd) };\n",
            "assert!(socket.local_addr().is_ok());\n",
            "# });\n",
            "```\n\n",
            "# Panics\n\n",
            "If other clones live and the process is out of fds (the duplicate cannot be made).")]
        impl From<$t> for $std {
            fn from(socket: $t) -> $std {
                super::detach(socket.inner).into()
            }
        }

        /// The fd, deregistered and in blocking mode (as `From` for std's
        /// type; example there).
        impl IntoRawFd for $t {
            fn into_raw_fd(self) -> RawFd {
                <$std>::from(self).into_raw_fd()
            }
        }

        /// Takes ownership of a socket's fd as `from_std` does (example at
        /// `From` for std's type).
        ///
        /// # Panics
        ///
        /// If the fd cannot be made non-blocking or registered (`EBADF`,
        /// not pollable); the fd is closed first. `from_std` reports it as
        /// an error.
        impl FromRawFd for $t {
            unsafe fn from_raw_fd(fd: RawFd) -> $t {
                // SAFETY: the caller passes an open socket it owns (this
                // trait's contract), which is what std's `from_raw_fd`
                // needs.
                let std = unsafe { <$std>::from_raw_fd(fd) };
                super::from_raw_fd_or_panic(std, stringify!($t), $t::from_std)
            }
        }
    };
}

unix_fd_conversions!(
    UnixListener,
    std::os::unix::net::UnixListener,
    "use std::os::linux::net::SocketAddrExt;\n\
     let name = format!(\"goro-doc-{}\", std::process::id());\n\
     let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).unwrap();\n\
     let socket = goro::net::unix::UnixListener::bind_addr(&addr).unwrap();"
);
unix_fd_conversions!(
    UnixStream,
    std::os::unix::net::UnixStream,
    "let (socket, _peer) = goro::net::unix::UnixStream::pair().unwrap();"
);
unix_fd_conversions!(
    UnixDatagram,
    std::os::unix::net::UnixDatagram,
    "let (socket, _peer) = goro::net::unix::UnixDatagram::pair().unwrap();"
);

// Deadlines
impl UnixListener {
    /// Accepts fail with `ErrorKind::TimedOut` once `at` has passed, also
    /// one already waiting in another goroutine; `None` clears it (Go's
    /// `UnixListener.SetDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("goro-doc-{}.sock", std::process::id()));
    /// let l = goro::net::unix::UnixListener::bind(&path)?;
    /// l.set_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// std::fs::remove_file(&path)?;
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Read, at);
        Ok(())
    }
}

// Deadlines
impl UnixStream {
    /// Sets the read and the write deadline (Go's `SetDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Read;
    /// let (mut a, _b) = goro::net::unix::UnixStream::pair()?;
    /// a.set_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(a.read(&mut [0u8; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.set_read_deadline(at)?;
        self.set_write_deadline(at)
    }

    /// Reads fail with `ErrorKind::TimedOut` once `at` has passed, also
    /// one already waiting in another goroutine; `None` clears it (Go's
    /// `SetReadDeadline`; the rules are
    /// [`TcpStream::set_read_deadline`](crate::net::TcpStream::set_read_deadline)'s).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::{Read, Write};
    /// use std::time::{Duration, Instant};
    /// let (mut a, mut b) = goro::net::unix::UnixStream::pair()?;
    /// a.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// assert_eq!(a.read(&mut [0u8; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// a.set_read_deadline(None)?;
    /// b.write_all(b"hi")?;
    /// assert_eq!(a.read(&mut [0u8; 8])?, 2);
    /// # Ok(()) }
    /// ```
    pub fn set_read_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Read, at);
        Ok(())
    }

    /// Writes fail with `ErrorKind::TimedOut` once `at` has passed (Go's
    /// `SetWriteDeadline`); `None` clears it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::io::Write;
    /// let (mut a, _b) = goro::net::unix::UnixStream::pair()?;
    /// a.set_write_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(a.write(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Write, at);
        Ok(())
    }
}

// Deadlines
impl UnixDatagram {
    /// Sets the read and the write deadline (Go's `SetDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.set_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(a.recv(&mut [0u8; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.set_read_deadline(at)?;
        self.set_write_deadline(at)
    }

    /// Receives fail with `ErrorKind::TimedOut` once `at` has passed, also
    /// one already waiting in another goroutine; `None` clears it (Go's
    /// `SetReadDeadline`; the rules are
    /// [`TcpStream::set_read_deadline`](crate::net::TcpStream::set_read_deadline)'s).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::{Duration, Instant};
    /// let (a, b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// assert_eq!(a.recv(&mut [0u8; 8]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// a.set_read_deadline(None)?;
    /// b.send(b"hi")?;
    /// assert_eq!(a.recv(&mut [0u8; 8])?, 2);
    /// # Ok(()) }
    /// ```
    pub fn set_read_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Read, at);
        Ok(())
    }

    /// Sends fail with `ErrorKind::TimedOut` once `at` has passed (Go's
    /// `SetWriteDeadline`); `None` clears it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let (a, _b) = goro::net::unix::UnixDatagram::pair()?;
    /// a.set_write_deadline(Some(std::time::Instant::now()))?;
    /// assert_eq!(a.send(b"x").unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Write, at);
        Ok(())
    }
}
