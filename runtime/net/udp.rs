//! UDP: `UdpSocket`, with std's API.
//!
//! One mio socket registered with the reactor once; `send_to`/`recv_from`
//! (and `send`/`recv` once connected) retry on readiness, parking the
//! goroutine in between (a plain thread blocks). Clones from `try_clone`
//! share the socket and its registration, so one goroutine can receive
//! while another sends.
//!
//! This file never blocks a worker thread in a syscall: the socket is
//! non-blocking, every wait goes through the reactor, and names resolve
//! on the blocking pool (`net/dns.rs`).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use super::dns::{each_addr, first_addr, ToSocketAddrs};
use super::Timeout;
use crate::io::registration::{Direction, IoSource};

struct Inner {
    io: IoSource<mio::net::UdpSocket>,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl super::Registered for Inner {
    type Source = mio::net::UdpSocket;
    fn registration(&self) -> &IoSource<mio::net::UdpSocket> {
        &self.io
    }
    fn into_registration(self) -> IoSource<mio::net::UdpSocket> {
        self.io
    }
}

/// A UDP socket. Every method takes `&self`; clones from
/// [`try_clone`](UdpSocket::try_clone) share the socket.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::net::UdpSocket;
/// goro::run(|| -> std::io::Result<()> {
///     let server = UdpSocket::bind("127.0.0.1:0")?;
///     let client = UdpSocket::bind("127.0.0.1:0")?;
///     client.send_to(b"ping", server.local_addr()?)?;
///     let mut buf = [0u8; 16];
///     let (n, from) = server.recv_from(&mut buf)?; // parks the goroutine
///     server.send_to(&buf[..n], from)?; // echo
///     assert_eq!(client.recv(&mut buf)?, 4);
///     Ok(())
/// })
/// # }
/// ```
pub struct UdpSocket {
    inner: Arc<Inner>,
}

impl UdpSocket {
    /// Binds to `addr` (the first address that works, as std does).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// let err = goro::net::UdpSocket::bind("127.0.0.1:99999").unwrap_err(); // bad port
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let std = each_addr(addr, std::net::UdpSocket::bind)?;
        UdpSocket::from_std(std)
    }

    /// Wraps a std socket (made non-blocking here).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let socket = goro::net::UdpSocket::from_std(std_socket)?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok(()) }
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            inner: Arc::new(Inner {
                io: IoSource::new(mio::net::UdpSocket::from_std(socket))?,
                read_timeout: Timeout::default(),
                write_timeout: Timeout::default(),
            }),
        })
    }

    /// Sends `buf` to `addr` (the first resolved address), parking while
    /// the send buffer is full.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"hello", b.local_addr()?)?, 5);
    /// assert_eq!(b.recv(&mut [0u8; 16])?, 5);
    /// let err = a.send_to(b"x", "no-port").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let target = first_addr(addr)?;
        let deadline = self.inner.write_timeout.deadline();
        self.inner
            .io
            .io(Direction::Write, deadline, |s| s.send_to(buf, target))
    }

    /// Receives one datagram, parking until one arrives.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"hello", b.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// let (n, from) = b.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from), (&b"hello"[..], a.local_addr()?));
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner
            .io
            .io(Direction::Read, deadline, |s| s.recv_from(buf))
    }

    /// Like [`recv_from`](UdpSocket::recv_from), leaving the datagram queued.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"hello", b.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(b.peek_from(&mut buf)?, (5, a.local_addr()?));
    /// assert_eq!(b.recv_from(&mut buf)?, (5, a.local_addr()?)); // still queued
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner
            .io
            .io(Direction::Read, deadline, |s| s.peek_from(buf))
    }

    /// Sets the default peer: `send`/`recv` then talk only to it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// let err = a.connect("127.0.0.1").unwrap_err(); // no port
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.inner.io.get().connect(a))
    }

    /// Sends to the connected peer.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(a.send(b"hi").is_err()); // no peer yet (EDESTADDRREQ)
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.send(b"hi")?, 2);
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
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"hi", b.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(b.recv(&mut buf)?, 2);
    /// assert_eq!(&buf[..2], b"hi");
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner.io.io(Direction::Read, deadline, |s| s.recv(buf))
    }

    /// Like [`recv`](UdpSocket::recv), leaving the datagram queued.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// a.send_to(b"hi", b.local_addr()?)?;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(b.peek(&mut buf)?, 2);
    /// assert_eq!(b.recv(&mut buf)?, 2); // the datagram was still queued
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_timeout.deadline();
        self.inner.io.io(Direction::Read, deadline, |s| s.peek(buf))
    }

    /// The local address.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = socket.local_addr()?;
    /// assert_eq!(addr.ip(), std::net::Ipv4Addr::LOCALHOST);
    /// assert_ne!(addr.port(), 0); // the port the kernel picked
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().local_addr()
    }

    /// The connected peer's address (`NotConnected` if none).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let a = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let b = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.peer_addr().unwrap_err().kind(), std::io::ErrorKind::NotConnected);
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok(()) }
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.io.get().peer_addr()
    }

    /// Another handle to the same socket, usable from another goroutine.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// goro::run(|| -> std::io::Result<()> {
    ///     let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let receiver = socket.try_clone()?;
    ///     let got = goro::go!(move || receiver.recv_from(&mut [0u8; 16]).map(|(n, _)| n));
    ///     socket.send_to(b"to myself", socket.local_addr()?)?;
    ///     assert_eq!(got.join().unwrap()?, 9);
    ///     Ok(())
    /// })
    /// # }
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: self.inner.clone(),
        })
    }

    /// Receives fail after waiting this long (`None`: never), with the
    /// error std gives on Linux: `ErrorKind::WouldBlock` ("Resource
    /// temporarily unavailable"), not `TimedOut`. Shared by all clones. A
    /// deadline ([`set_read_deadline`](UdpSocket::set_read_deadline))
    /// fails with `TimedOut`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = socket.recv_from(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// let err = socket.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
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
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.write_timeout()?, Some(Duration::from_secs(1)));
    /// let err = socket.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
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
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.read_timeout()?, None);
    /// socket.set_read_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.read_timeout()?, Some(Duration::from_secs(1)));
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
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.write_timeout()?, None);
    /// socket.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.write_timeout()?, Some(Duration::from_secs(1)));
    /// # Ok(()) }
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout.get())
    }

    /// Sets SO_BROADCAST.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// # Ok(()) }
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.io.get().set_broadcast(on)
    }

    /// Reads SO_BROADCAST.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(!socket.broadcast()?);
    /// # Ok(()) }
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.io.get().broadcast()
    }

    /// Sets the IP time-to-live.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_ttl(42)?;
    /// assert_eq!(socket.ttl()?, 42);
    /// # Ok(()) }
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.io.get().set_ttl(ttl)
    }

    /// Reads the IP time-to-live.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_ttl(7)?;
    /// assert_eq!(socket.ttl()?, 7);
    /// # Ok(()) }
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.io.get().ttl()
    }

    /// Sets IP_MULTICAST_LOOP.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("0.0.0.0:0")?;
    /// socket.set_multicast_loop_v4(false)?;
    /// let std_socket = std::net::UdpSocket::from(socket);
    /// assert!(!std_socket.multicast_loop_v4()?);
    /// # Ok(()) }
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.io.get().set_multicast_loop_v4(on)
    }

    /// Sets IP_MULTICAST_TTL.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("0.0.0.0:0")?;
    /// socket.set_multicast_ttl_v4(4)?;
    /// let std_socket = std::net::UdpSocket::from(socket);
    /// assert_eq!(std_socket.multicast_ttl_v4()?, 4);
    /// # Ok(()) }
    /// ```
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.io.get().set_multicast_ttl_v4(ttl)
    }

    /// Sets IPV6_MULTICAST_LOOP.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// // An IPv6 socket (skipped where the host has no IPv6).
    /// if let Ok(socket) = goro::net::UdpSocket::bind("[::1]:0") {
    ///     socket.set_multicast_loop_v6(false)?;
    ///     assert!(!std::net::UdpSocket::from(socket).multicast_loop_v6()?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.io.get().set_multicast_loop_v6(on)
    }

    /// Joins an IPv4 multicast group.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::net::Ipv4Addr;
    /// let socket = goro::net::UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(239, 255, 0, 1);
    /// socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// let err = socket.join_multicast_v4(&Ipv4Addr::LOCALHOST, &Ipv4Addr::LOCALHOST);
    /// assert_eq!(err.unwrap_err().kind(), std::io::ErrorKind::InvalidInput); // not a group
    /// # Ok(()) }
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.io.get().join_multicast_v4(multiaddr, interface)
    }

    /// Joins an IPv6 multicast group.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::net::Ipv6Addr;
    /// // An IPv6 socket (skipped where the host has no IPv6).
    /// if let Ok(socket) = goro::net::UdpSocket::bind("[::]:0") {
    ///     let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x123);
    ///     socket.join_multicast_v6(&group, 1)?; // interface 1: loopback on Linux
    ///     socket.leave_multicast_v6(&group, 1)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.io.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::net::Ipv4Addr;
    /// let socket = goro::net::UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(239, 255, 0, 2);
    /// socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// assert!(socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).is_err()); // not a member
    /// # Ok(()) }
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.io.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::net::Ipv6Addr;
    /// // An IPv6 socket (skipped where the host has no IPv6).
    /// if let Ok(socket) = goro::net::UdpSocket::bind("[::]:0") {
    ///     let group = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x124);
    ///     socket.join_multicast_v6(&group, 1)?;
    ///     socket.leave_multicast_v6(&group, 1)?;
    ///     assert!(socket.leave_multicast_v6(&group, 1).is_err()); // not a member
    /// }
    /// # Ok(()) }
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.io.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Takes the pending socket error, if any.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let socket = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.take_error()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.io.get().take_error()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.io.get().as_raw_fd()
    }
}

impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.io.get().as_fd()
    }
}

// Conversions to std and raw fds.

/// Deregisters the socket and hands it to std, in blocking mode (see
/// [`crate::net`] on clones: a duplicate fd).
///
/// ```
/// # goro::run(|| {
/// let socket = goro::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let std_socket = std::net::UdpSocket::from(socket);
/// assert!(std_socket.local_addr().is_ok());
/// # });
/// ```
///
/// # Panics
///
/// If other clones live and the process is out of fds (the duplicate cannot be made).
impl From<UdpSocket> for std::net::UdpSocket {
    fn from(socket: UdpSocket) -> std::net::UdpSocket {
        super::detach(socket.inner).into()
    }
}

/// The fd, deregistered and in blocking mode (as `From` for std's type).
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd};
/// # goro::run(|| {
/// let fd = goro::net::UdpSocket::bind("127.0.0.1:0").unwrap().into_raw_fd();
/// // SAFETY: `fd` is an open UDP socket that nothing else owns.
/// let socket = unsafe { goro::net::UdpSocket::from_raw_fd(fd) };
/// assert!(socket.local_addr().is_ok());
/// # });
/// ```
impl IntoRawFd for UdpSocket {
    fn into_raw_fd(self) -> RawFd {
        std::net::UdpSocket::from(self).into_raw_fd()
    }
}

/// Takes ownership of a UDP socket's fd as [`UdpSocket::from_std`] does.
///
/// ```
/// use std::os::fd::{FromRawFd, IntoRawFd};
/// # goro::run(|| {
/// let fd = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().into_raw_fd();
/// // SAFETY: `fd` is an open UDP socket that nothing else owns.
/// let socket = unsafe { goro::net::UdpSocket::from_raw_fd(fd) };
/// assert!(socket.local_addr().is_ok());
/// # });
/// ```
///
/// # Panics
///
/// If the fd cannot be made non-blocking or registered (`EBADF`, not
/// pollable); the fd is closed first. `from_std` reports it as an error.
impl FromRawFd for UdpSocket {
    unsafe fn from_raw_fd(fd: RawFd) -> UdpSocket {
        // SAFETY: the caller passes an open socket it owns (this trait's
        // contract), which is what std's `from_raw_fd` needs.
        let std = unsafe { std::net::UdpSocket::from_raw_fd(fd) };
        super::from_raw_fd_or_panic(std, "UdpSocket", UdpSocket::from_std)
    }
}

// Deadlines
impl UdpSocket {
    /// Sets the read and the write deadline (Go's `SetDeadline`).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let u = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// u.set_deadline(Some(std::time::Instant::now()))?;
    /// let err = u.recv_from(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    pub fn set_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.set_read_deadline(at)?;
        self.set_write_deadline(at)
    }

    /// Receives (and peeks) fail with `ErrorKind::TimedOut` once `at` has
    /// passed, also one already waiting in another goroutine; `None`
    /// clears it (Go's `SetReadDeadline`; the rules are
    /// [`TcpStream::set_read_deadline`](crate::net::TcpStream::set_read_deadline)'s).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::{Duration, Instant};
    /// let u = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// u.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))?;
    /// let err = u.recv_from(&mut [0u8; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
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
    /// let u = goro::net::UdpSocket::bind("127.0.0.1:0")?;
    /// u.set_write_deadline(Some(std::time::Instant::now()))?;
    /// let err = u.send_to(b"x", u.local_addr()?).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// u.set_write_deadline(None)?;
    /// assert_eq!(u.send_to(b"x", u.local_addr()?)?, 1);
    /// # Ok(()) }
    /// ```
    pub fn set_write_deadline(&self, at: Option<std::time::Instant>) -> io::Result<()> {
        self.inner.io.set_deadline(Direction::Write, at);
        Ok(())
    }
}
