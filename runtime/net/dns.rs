//! Name resolution that never blocks a worker: [`lookup_host`], and the
//! [`ToSocketAddrs`] trait that `connect`, `bind`, `send_to` take.
//!
//! The system resolver (`getaddrinfo`, behind std's `to_socket_addrs`)
//! blocks its thread for as long as a name server takes to answer, which
//! can be seconds. So a *name* is resolved on the blocking pool
//! ([`crate::blocking`]) while the goroutine parks, as Go's cgo resolver
//! does on a thread of its own; a *literal* address (`"127.0.0.1:80"`,
//! `"[::1]:80"`, a `SocketAddr`, `(IpAddr, u16)`) is parsed in place and
//! never costs a pool hop, so the connect and bind hot paths stay as they
//! were.
//!
//! goro has its own [`ToSocketAddrs`] (tokio does the same) because std's
//! trait cannot tell a caller whether it would resolve a name: calling it
//! on a worker is exactly the blocking this file exists to avoid. It is
//! implemented for the same types as std's.
//!
//! This file must never call the system resolver on a worker thread.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Resolves `"host:port"` to its socket addresses, in the resolver's
/// order, parking the goroutine while the system resolver runs on the
/// blocking pool (a plain thread just resolves). A literal address
/// (`"127.0.0.1:80"`, `"[::1]:443"`) is parsed without the pool.
///
/// Errors: `InvalidInput` for a missing or bad port, and the resolver's
/// error, naming the host, for a name that does not resolve.
///
/// ```
/// # goro::run(|| {
/// let addrs = goro::net::lookup_host("localhost:80").unwrap();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// let err = goro::net::lookup_host("localhost").unwrap_err(); // no port
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # });
/// ```
#[track_caller]
pub fn lookup_host(host_and_port: &str) -> io::Result<Vec<SocketAddr>> {
    resolve_str(host_and_port).map(Iterator::collect)
}

/// Something that names one or more socket addresses: what
/// [`TcpStream::connect`](super::TcpStream::connect),
/// [`TcpListener::bind`](super::TcpListener::bind) and the
/// [`UdpSocket`](super::UdpSocket) methods take. Implemented for the types
/// std's `ToSocketAddrs` is: `SocketAddr` (and V4/V6), `(IpAddr, u16)`
/// (and V4/V6), `(&str, u16)`, `(String, u16)`, `&str`, `String`,
/// `&[SocketAddr]`, and references to these. Names resolve on the blocking
/// pool ([`lookup_host`]); literal addresses never leave the goroutine.
///
/// Sealed: it cannot be implemented outside goro.
///
/// ```
/// use goro::net::{TcpListener, TcpStream};
/// # goro::run(|| {
/// let listener = TcpListener::bind("localhost:0").unwrap(); // a name
/// let port = listener.local_addr().unwrap().port();
/// let _a = TcpStream::connect(("127.0.0.1", port)).unwrap(); // a literal
/// let _b = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
/// # });
/// ```
pub trait ToSocketAddrs: sealed::Resolve {}

pub(crate) mod sealed {
    use std::net::SocketAddr;

    /// The addresses a [`ToSocketAddrs`](super::ToSocketAddrs) names.
    pub enum Addrs {
        /// A literal: no allocation.
        One(std::option::IntoIter<SocketAddr>),
        /// A resolved name or a slice.
        Many(std::vec::IntoIter<SocketAddr>),
    }

    impl Iterator for Addrs {
        type Item = SocketAddr;
        fn next(&mut self) -> Option<SocketAddr> {
            match self {
                Addrs::One(a) => a.next(),
                Addrs::Many(a) => a.next(),
            }
        }
    }

    /// The resolving half of `ToSocketAddrs`, private to goro.
    pub trait Resolve {
        /// The addresses, resolving names on the blocking pool.
        #[track_caller]
        fn resolve(&self) -> std::io::Result<Addrs>;
    }
}

use sealed::{Addrs, Resolve};

fn one(addr: SocketAddr) -> io::Result<Addrs> {
    Ok(Addrs::One(Some(addr).into_iter()))
}

/// `"host:port"`: a literal socket address in place, else the name on the
/// pool. The port is checked first, as std does, so a typo fails at once
/// with `InvalidInput`.
#[track_caller]
fn resolve_str(s: &str) -> io::Result<Addrs> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return one(addr);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid socket address {s:?}: expected host:port"),
        ));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid port value in {s:?}"),
        ));
    };
    resolve_host(host, port)
}

/// `(host, port)`: a literal IP in place, else the name on the pool.
#[track_caller]
fn resolve_host(host: &str, port: u16) -> io::Result<Addrs> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return one(SocketAddr::new(ip, port));
    }
    let found = crate::blocking(|| {
        std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map(Iterator::collect::<Vec<_>>)
    });
    match found {
        Ok(addrs) => Ok(Addrs::Many(addrs.into_iter())),
        Err(e) => Err(io::Error::new(e.kind(), format!("lookup {host}: {e}"))),
    }
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl Resolve for $t {
            #[track_caller]
            fn resolve(&self) -> io::Result<Addrs> {
                one(SocketAddr::from(*self))
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for (&str, u16) {}
impl Resolve for (&str, u16) {
    #[track_caller]
    fn resolve(&self) -> io::Result<Addrs> {
        resolve_host(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Resolve for (String, u16) {
    #[track_caller]
    fn resolve(&self) -> io::Result<Addrs> {
        resolve_host(&self.0, self.1)
    }
}

impl ToSocketAddrs for str {}
impl Resolve for str {
    #[track_caller]
    fn resolve(&self) -> io::Result<Addrs> {
        resolve_str(self)
    }
}

impl ToSocketAddrs for String {}
impl Resolve for String {
    #[track_caller]
    fn resolve(&self) -> io::Result<Addrs> {
        resolve_str(self)
    }
}

impl ToSocketAddrs for [SocketAddr] {}
impl Resolve for [SocketAddr] {
    #[track_caller]
    fn resolve(&self) -> io::Result<Addrs> {
        Ok(Addrs::Many(Vec::from(self).into_iter()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: Resolve + ?Sized> Resolve for &T {
    #[track_caller]
    fn resolve(&self) -> io::Result<Addrs> {
        (**self).resolve()
    }
}

/// Runs `f` on each address `addr` names until one succeeds, returning
/// the last error otherwise (std's rule for `connect` and `bind`).
#[track_caller]
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.resolve()? {
        match f(a) {
            Ok(t) => return Ok(t),
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

/// The first address `addr` names (for `send_to`).
#[track_caller]
pub(crate) fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    addr.resolve()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))
}
