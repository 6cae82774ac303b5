//! The debug endpoint: a small HTTP/1.1 server, made of goroutines and
//! goro's own sockets, that shows a running program from the inside (Go's
//! `net/http/pprof`).
//!
//! One goroutine accepts; each connection gets its own goroutine, which
//! reads requests with a deadline, parses them with `httparse`, answers
//! with a `Content-Length` body and keeps the connection open (HTTP/1.1
//! keep-alive, pipelined requests in order) until the client closes it,
//! asks to (`Connection: close`, or HTTP/1.0 without `keep-alive`), goes
//! quiet, or sends something it will not take: such a request is answered
//! with a status and a one-line reason, and only its connection closes.
//!
//! [`Server::shutdown`] closes the listener, shuts down every open
//! connection (which ends its goroutine's read) and waits for all of the
//! server's goroutines to return. The table of open connections exists
//! for that; its lock is never held across a wait.
//!
//! This file never blocks a worker thread: sockets park their goroutine,
//! and nothing here sleeps.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::{TcpListener, TcpStream, ToSocketAddrs};
use crate::sync::WaitGroup;

/// The longest request head (request line and headers) taken, in bytes.
const MAX_HEAD: usize = 8 * 1024;
/// The most headers one request may have.
const MAX_HEADERS: usize = 32;
/// How long a client has to send a whole request head, counted from when
/// the server starts waiting for it (the connection opened, or the
/// previous response was written).
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing one response may take (a client that stops reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest trace `/debug/trace?seconds=N` records.
const MAX_TRACE_SECONDS: f64 = 60.0;
/// The trace's length when the request names none (Go's default).
const DEFAULT_TRACE_SECONDS: f64 = 1.0;

/// A running debug endpoint, from [`serve`].
///
/// Dropping it leaves the endpoint serving for the rest of the process;
/// [`shutdown`](Server::shutdown) stops it.
///
/// ```
/// let server = goro::debug::serve("127.0.0.1:0").unwrap();
/// println!("goroutines: http://{}/debug/goroutines", server.local_addr());
/// server.shutdown();
/// ```
pub struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

/// What the server's goroutines and its [`Server`] handle share.
struct Shared {
    listener: TcpListener,
    conns: parking_lot::Mutex<Conns>,
    /// Counts the acceptor and every connection goroutine still running.
    running: WaitGroup,
}

/// The open connections, each a clone of the stream its goroutine serves,
/// so that `shutdown` can end their reads.
struct Conns {
    /// Set by `shutdown`: the acceptor drops what it accepts from then on.
    stopping: bool,
    next_id: u64,
    open: HashMap<u64, TcpStream>,
}

/// Starts the debug endpoint on `addr` and returns at once; goroutines
/// serve it in the background.
///
/// Bind it to loopback, as here: on any other address it shows the names
/// of your goroutines, where in your code each one waits, your metrics and
/// execution traces to everyone who can reach the port (Go's
/// `net/http/pprof` carries the same warning).
///
/// Paths (`GET` or `HEAD`):
///
/// | path | answer |
/// |------|--------|
/// | `/debug/` | an index of these paths (HTML) |
/// | `/debug/goroutines` | goroutines grouped by state and location, with counts ([`dump_grouped`](crate::dump_grouped), `text/plain`) |
/// | `/debug/goroutines?debug=2` | the full per-goroutine [`dump`](crate::dump) |
/// | `/debug/metrics` | the runtime's metrics in Prometheus' text format |
/// | `/debug/trace?seconds=N` | an execution trace of the next N seconds (default 1, at most 60; fractions allowed) as Chrome trace JSON |
///
/// Requests it refuses, each with a one-line reason, after which the
/// connection closes (what follows on it is not trusted; other connections
/// are not disturbed):
///
/// * `400 Bad Request`: bytes that do not parse as an HTTP/1.x request, a
///   request target that is not a path (or `http://` URL), an HTTP/1.1
///   request without `Host` (or any request with two), a request with a
///   body (`Content-Length` other than 0, or any `Transfer-Encoding`);
/// * `405 Method Not Allowed`: a method other than `GET` or `HEAD`;
/// * `408 Request Timeout`: a request head not complete 5 s after the
///   server began waiting for it (an idle keep-alive connection that has
///   been answered before is closed without a word instead);
/// * `431 Request Header Fields Too Large`: a head over 8 KiB or with more
///   than 32 headers.
///
/// Well-formed requests it cannot answer keep the connection open: `404
/// Not Found` for an unknown path, `400 Bad Request` for a bad `debug` or
/// `seconds` value, `409 Conflict` for a trace asked for while another is
/// being recorded (by this endpoint, `goro::trace::start` or `GORO_TRACE`),
/// `500` if recording fails.
/// Writing one response may take up to 10 s.
///
/// Fails as [`TcpListener::bind`] does (an address in use, a name that
/// does not resolve).
///
/// ```
/// use std::io::{Read, Write};
/// let server = goro::debug::serve("127.0.0.1:0").unwrap();
/// let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
/// client
///     .write_all(b"GET /debug/goroutines HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
///     .unwrap();
/// let mut answer = String::new();
/// client.read_to_string(&mut answer).unwrap();
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.contains("goroutine"));
/// server.shutdown();
/// ```
pub fn serve<A: ToSocketAddrs>(addr: A) -> io::Result<Server> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        listener,
        conns: parking_lot::Mutex::new(Conns {
            stopping: false,
            next_id: 0,
            open: HashMap::new(),
        }),
        running: WaitGroup::new(),
    });
    shared.running.add(1);
    let acceptor = shared.clone();
    let spawned = crate::Builder::new()
        .name("goro-debug-accept".to_string())
        .spawn(move || {
            let _running = Running(&acceptor.running);
            accept_loop(&acceptor);
        });
    if let Err(e) = spawned {
        shared.running.done();
        return Err(e);
    }
    Ok(Server { shared, addr })
}

impl Server {
    /// The address the endpoint listens on (with the port the kernel
    /// picked, for port 0).
    ///
    /// ```
    /// let server = goro::debug::serve("127.0.0.1:0").unwrap();
    /// assert!(server.local_addr().ip().is_loopback());
    /// assert_ne!(server.local_addr().port(), 0);
    /// server.shutdown();
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the endpoint and waits until it has: closes the listener (a
    /// connect after this returns is refused), shuts down every open
    /// connection, keep-alive ones included, and waits for all of its
    /// goroutines to return. A trace being recorded for a client is
    /// finished first (at most 60 s), then its connection ends.
    ///
    /// Parks a calling goroutine; blocks a calling plain thread.
    ///
    /// ```
    /// let server = goro::debug::serve("127.0.0.1:0").unwrap();
    /// let addr = server.local_addr();
    /// server.shutdown();
    /// assert!(std::net::TcpStream::connect(addr).is_err()); // refused
    /// ```
    pub fn shutdown(self) {
        // Fails only if already closed, and only `shutdown` closes it.
        let _ = self.shared.listener.close();
        let open = {
            let mut conns = self.shared.conns.lock();
            conns.stopping = true;
            std::mem::take(&mut conns.open)
        };
        for conn in open.values() {
            // Ends a waiting read (it returns 0) and any later write; an
            // error means the peer has already gone, which ends it too.
            let _ = conn.shutdown(Shutdown::Both);
        }
        self.shared.running.wait();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

/// Marks one of the server's goroutines done when it returns or unwinds.
struct Running<'a>(&'a WaitGroup);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// Takes connections until the listener is closed, one goroutine each.
fn accept_loop(shared: &Arc<Shared>) {
    // `incoming` backs off while fds run out and ends once closed.
    for conn in shared.listener.incoming() {
        let Ok(conn) = conn else { continue };
        let Ok(clone) = conn.try_clone() else {
            continue;
        };
        let id = {
            let mut conns = shared.conns.lock();
            if conns.stopping {
                return;
            }
            let id = conns.next_id;
            conns.next_id += 1;
            conns.open.insert(id, clone);
            shared.running.add(1);
            id
        };
        let server = shared.clone();
        let spawned = crate::Builder::new()
            .name("goro-debug-conn".to_string())
            .spawn(move || {
                let _open = Open(&server, id);
                serve_connection(conn);
            });
        if spawned.is_err() {
            // Out of memory for a stack: this connection is dropped (the
            // closure with it), the server goes on.
            drop(Open(shared, id));
        }
    }
}

/// One open connection: on drop (its goroutine returned or unwound, or
/// never started) it leaves the table and counts as done.
struct Open<'a>(&'a Shared, u64);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        // Taken out under the lock, dropped after it (the last handle
        // deregisters and closes the socket).
        let stream = self.0.conns.lock().open.remove(&self.1);
        drop(stream);
        self.0.running.done();
    }
}

/// How long a connection the server closes may go on sending before it
/// is dropped, and how much of that is read.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// Serves requests on `conn` until it ends (see the module docs). When the
/// server is the one that ends it, it first shuts down its sending half
/// and reads what the client still sends, for a little while: closing a
/// socket with unread bytes resets the connection, and the reset can reach
/// the client before it has read the answer (Go's server lingers too).
fn serve_connection(mut conn: TcpStream) {
    if answer_requests(&mut conn) == Ended::ByServer && conn.shutdown(Shutdown::Write).is_ok() {
        let _ = conn.set_read_deadline(Some(Instant::now() + LINGER));
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < LINGER_BYTES {
            match conn.read(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
}

/// Who ended a connection.
#[derive(PartialEq)]
enum Ended {
    /// The client closed it or it failed: nothing more to say.
    ByClient,
    /// The server closes it after its last answer.
    ByServer,
}

/// Answers requests on `conn` until one side ends the connection.
fn answer_requests(conn: &mut TcpStream) -> Ended {
    let _ = conn.set_nodelay(true);
    let mut buf = vec![0u8; MAX_HEAD];
    let mut filled = 0;
    let mut answered = false;
    let _ = conn.set_read_deadline(Some(Instant::now() + HEAD_TIMEOUT));
    let last = loop {
        match parse(&buf[..filled]) {
            Parsed::Request { len, request } => {
                let response = respond(&request);
                let close = request.close;
                if send(conn, &response, request.head, close).is_err() {
                    return Ended::ByClient;
                }
                if close {
                    return Ended::ByServer;
                }
                buf.copy_within(len..filled, 0);
                filled -= len;
                answered = true;
                let _ = conn.set_read_deadline(Some(Instant::now() + HEAD_TIMEOUT));
                continue;
            }
            Parsed::Refused(response) => break response,
            Parsed::Partial if filled == MAX_HEAD => {
                break Response::refuse(431, "the request head is over 8 KiB");
            }
            Parsed::Partial => {}
        }
        match conn.read(&mut buf[filled..]) {
            Ok(0) => return Ended::ByClient,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                if filled == 0 && answered {
                    return Ended::ByServer;
                }
                break Response::refuse(408, "no complete request head within 5 s");
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Ended::ByClient,
        }
    };
    match send(conn, &last, false, true) {
        Ok(()) => Ended::ByServer,
        Err(_) => Ended::ByClient,
    }
}

/// A request the server takes: what it asks for and how to answer.
struct Request {
    /// `HEAD`: the answer has headers only.
    head: bool,
    /// The target as sent: a path and maybe `?query`.
    target: String,
    /// The client asked to close after this answer.
    close: bool,
}

enum Parsed {
    /// A whole request, `len` bytes of the buffer.
    Request { len: usize, request: Request },
    /// Not yet a whole head.
    Partial,
    /// Answered with this, then the connection closes.
    Refused(Response),
}

/// Parses the request at the start of `buf`, checking the limits in
/// [`serve`]'s docs.
fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Refused(Response::refuse(431, "more than 32 request headers"));
        }
        Err(e) => {
            return Parsed::Refused(Response::refuse(400, &format!("malformed request: {e}")));
        }
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        unreachable!("a complete request has a method, a target and a version");
    };
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            let mut refused = Response::refuse(405, "only GET and HEAD are served");
            refused.allow = true;
            return Parsed::Refused(refused);
        }
    };
    // A path, or the absolute form a proxy sends (`http://host/path`).
    let target = match target.strip_prefix("http://") {
        Some(absolute) => absolute.find('/').map_or("/", |path| &absolute[path..]),
        None => target,
    };
    if !target.starts_with('/') {
        return Parsed::Refused(Response::refuse(400, "the request target is not a path"));
    }
    // HTTP/1.0 closes unless asked to keep alive; HTTP/1.1 the other way.
    let mut close = version == 0;
    let mut hosts = 0;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            if h.value.trim_ascii() != b"0" {
                return Parsed::Refused(Response::refuse(400, "a request body is not accepted"));
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Refused(Response::refuse(400, "a request body is not accepted"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    close = false;
                }
            }
        }
    }
    if hosts > 1 || (version == 1 && hosts == 0) {
        return Parsed::Refused(Response::refuse(
            400,
            "an HTTP/1.1 request needs one Host header",
        ));
    }
    Parsed::Request {
        len,
        request: Request {
            head,
            target: target.to_string(),
            close,
        },
    }
}

/// An answer: status, content type and body.
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    /// Send `Allow: GET, HEAD` (with a 405).
    allow: bool,
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status: 200,
            content_type,
            body: body.into(),
            allow: false,
        }
    }

    /// A refusal with a one-line reason as its body.
    fn refuse(status: u16, why: &str) -> Response {
        Response {
            status,
            content_type: TEXT,
            body: format!("{} {}: {why}\n", status, reason(status)).into_bytes(),
            allow: false,
        }
    }
}

/// The reason phrase of each status this server sends.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Writes `response` (without its body for a `HEAD`) within
/// [`WRITE_TIMEOUT`].
fn send(conn: &mut TcpStream, response: &Response, head: bool, close: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nServer: goro-debug\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
    )
    .into_bytes();
    if response.allow {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    let body: &[u8] = if head { &[] } else { &response.body };
    conn.set_write_deadline(Some(Instant::now() + WRITE_TIMEOUT))?;
    if body.len() <= COPIED_BODY {
        // One write, so a small answer leaves in one segment (nodelay).
        out.extend_from_slice(body);
        conn.write_all(&out)
    } else {
        // A trace may be hundreds of MB: not copied a second time.
        conn.write_all(&out)?;
        conn.write_all(body)
    }
}

/// The largest body copied behind its head for a single write.
const COPIED_BODY: usize = 64 * 1024;

/// Routes a request to its page.
fn respond(request: &Request) -> Response {
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (request.target.as_str(), ""),
    };
    match path {
        "/debug" | "/debug/" => Response::ok("text/html; charset=utf-8", INDEX),
        "/debug/goroutines" => match param(query, "debug") {
            None | Some("1") => Response::ok(TEXT, crate::dump_grouped().to_string()),
            Some("2") => Response::ok(TEXT, crate::dump().to_string()),
            Some(_) => Response::refuse(400, "debug must be 1 (grouped) or 2 (every goroutine)"),
        },
        "/debug/metrics" => Response::ok(PROMETHEUS, crate::metrics().to_prometheus()),
        "/debug/trace" => match trace_length(param(query, "seconds")) {
            Ok(length) => trace(length),
            Err(refused) => refused,
        },
        _ => Response::refuse(404, &format!("no page at {path}; see /debug/")),
    }
}

/// The value of the first `name=value` pair of a query string.
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The trace length a `seconds` value asks for: a positive number of
/// seconds up to [`MAX_TRACE_SECONDS`].
fn trace_length(seconds: Option<&str>) -> Result<Duration, Response> {
    let Some(text) = seconds else {
        return Ok(Duration::from_secs_f64(DEFAULT_TRACE_SECONDS));
    };
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_TRACE_SECONDS => Ok(Duration::from_secs_f64(s)),
        _ => Err(Response::refuse(
            400,
            &format!("seconds must be a number above 0 and at most 60, not {text:?}"),
        )),
    }
}

/// The content type of Prometheus' text exposition format.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The index page at `/debug/`.
const INDEX: &str = "<!DOCTYPE html>
<html><head><title>goro debug</title></head><body>
<h1>goro debug endpoint</h1>
<ul>
<li><a href=\"/debug/goroutines\">/debug/goroutines</a>: goroutines grouped by state and location, with counts</li>
<li><a href=\"/debug/goroutines?debug=2\">/debug/goroutines?debug=2</a>: every goroutine</li>
<li><a href=\"/debug/metrics\">/debug/metrics</a>: runtime metrics, Prometheus text format</li>
<li><a href=\"/debug/trace?seconds=1\">/debug/trace?seconds=N</a>: an execution trace of the next N seconds (at most 60), Chrome trace JSON for Perfetto or chrome://tracing</li>
</ul>
</body></html>
";

/// Records a trace of the next `length` and answers with it: `409` while
/// another trace runs (one of `goro::trace::start`, `GORO_TRACE` or
/// another client's).
fn trace(length: Duration) -> Response {
    match crate::debug::trace::capture(length) {
        Ok(json) => Response::ok("application/json", json),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Response::refuse(409, &e.to_string()),
        Err(e) => Response::refuse(500, &e.to_string()),
    }
}
