//! `goro::debug::serve`: every path answers with its status, content type
//! and real content; bad requests (malformed, oversized, too many headers,
//! a body, a silent client) are refused with a 4xx and close only their
//! own connection; keep-alive and pipelining work; `shutdown` refuses new
//! connections and ends every goroutine of the server. Tried with raw
//! bytes over std sockets and with `curl`.
//!
//! The tests take one lock, so that the goroutine and fd counts of one are
//! not moved by another.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// One parsed response.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

/// A client connection that keeps what it read past one response.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads one response (headers only when it answers a `HEAD`).
    fn answer(&mut self, to_head: bool) -> Answer {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(len) = res.parse(&self.buf).unwrap() {
                let headers: Vec<(String, String)> = res
                    .headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8(h.value.to_vec()).unwrap();
                        (h.name.to_string(), value)
                    })
                    .collect();
                let status = res.code.unwrap();
                let length: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .expect("every response has a Content-Length")
                    .1
                    .parse()
                    .unwrap();
                let body_len = if to_head { 0 } else { length };
                while self.buf.len() < len + body_len {
                    self.fill();
                }
                let body = self.buf[len..len + body_len].to_vec();
                self.buf.drain(..len + body_len);
                return Answer {
                    status,
                    headers,
                    body,
                };
            }
            self.fill();
        }
    }

    fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the server closed before a whole response");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Asserts that the server closed the connection, with nothing more
    /// sent.
    fn assert_closed(&mut self) {
        assert!(self.buf.is_empty(), "unexpected bytes {:?}", self.buf);
        let mut rest = Vec::new();
        match self.stream.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "unexpected bytes {rest:?}"),
            // A reset also means closed (the server had unread bytes).
            Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
        }
    }
}

/// `GET path` on a new connection that closes after the answer.
fn get(addr: SocketAddr, path: &str) -> Answer {
    let mut client = Client::connect(addr);
    client
        .send(format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes());
    let answer = client.answer(false);
    assert_eq!(answer.header("connection"), Some("close"));
    client.assert_closed();
    answer
}

/// Sends `bytes` on a new connection and returns the one answer, after
/// which the server must have closed the connection.
fn refused(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut client = Client::connect(addr);
    client.send(bytes);
    let answer = client.answer(false);
    assert_eq!(answer.header("connection"), Some("close"));
    client.assert_closed();
    answer
}

const TEXT: &str = "text/plain; charset=utf-8";
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Goroutines parked on a channel receive, named `name`, until the
/// returned sender drops.
fn park_goroutines(name: &str, n: usize) -> goro::Sender<()> {
    let (tx, rx) = goro::chan::<()>(0);
    for _ in 0..n {
        let rx = rx.clone();
        goro::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let _ = rx.recv(); // parked here
            })
            .unwrap();
    }
    let parked = format!("\"{name}\" [chan receive, ");
    let start = Instant::now();
    while goro::dump().to_string().matches(&parked).count() < n {
        assert!(start.elapsed() < Duration::from_secs(20), "never parked");
        std::thread::sleep(Duration::from_millis(5));
    }
    tx
}

#[test]
fn every_path_answers_with_its_status_content_type_and_content() {
    let _one = one_at_a_time();
    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let release = park_goroutines("endpoint-parked", 3);

    for index in ["/debug/", "/debug"] {
        let page = get(addr, index);
        assert_eq!(page.status, 200);
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let html = page.text();
        for path in ["/debug/goroutines", "/debug/metrics", "/debug/trace"] {
            assert!(html.contains(&format!("href=\"{path}")), "{html}");
        }
    }

    // Where they wait: the line of this file marked "parked here".
    let line = 1 + include_str!("debug_endpoint.rs")
        .lines()
        .position(|l| l.ends_with("// parked here"))
        .unwrap();
    let place = format!("{}:{line}:", file!());

    let grouped = get(addr, "/debug/goroutines");
    assert_eq!(grouped.status, 200);
    assert_eq!(grouped.header("content-type"), Some(TEXT));
    let text = grouped.text();
    assert!(text.starts_with("goroutine profile: total "), "{text}");
    let group = format!("\n3 @ [chan receive] {place}");
    assert!(text.contains(&group), "no {group:?} in\n{text}");
    assert!(
        text.contains("1 @ [running]"),
        "the serving goroutine:\n{text}"
    );

    let full = get(addr, "/debug/goroutines?debug=2");
    assert_eq!(full.status, 200);
    assert_eq!(full.header("content-type"), Some(TEXT));
    let text = full.text();
    let parked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"endpoint-parked\" [chan receive, "))
        .collect();
    assert_eq!(parked.len(), 3, "{text}");
    assert!(parked.iter().all(|l| l.contains(&place)), "{text}");
    assert!(text.contains("\"goro-debug-conn\" [running]"), "{text}");
    assert!(text.contains("\"goro-debug-accept\" [accept, "), "{text}");

    let metrics = get(addr, "/debug/metrics");
    assert_eq!(metrics.status, 200);
    assert_eq!(metrics.header("content-type"), Some(PROMETHEUS));
    let samples = parse_exposition(&metrics.text());
    let goroutines = samples
        .iter()
        .find(|(name, _)| name == "goro_goroutines")
        .expect("goro_goroutines");
    assert!(
        goroutines.1 >= 5.0,
        "3 parked, the acceptor, the connection: {goroutines:?}"
    );

    let receiving = samples
        .iter()
        .find(|(name, _)| name == "goro_goroutines_blocked{reason=\"chan receive\"}")
        .expect("goroutines blocked by reason");
    assert!(receiving.1 >= 3.0, "the 3 parked: {receiving:?}");

    for (path, status) in [
        ("/", 404),
        ("/debug/nothing", 404),
        ("/debug/goroutines?debug=7", 400),
        ("/debug/trace?seconds=0", 400),
        ("/debug/trace?seconds=-1", 400),
        ("/debug/trace?seconds=61", 400),
        ("/debug/trace?seconds=abc", 400),
        ("/debug/trace?seconds=NaN", 400),
        ("/debug/trace?seconds=inf", 400),
    ] {
        let mut client = Client::connect(addr);
        client.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        let answer = client.answer(false);
        assert_eq!(answer.status, status, "{path}: {}", answer.text());
        assert_eq!(answer.header("content-type"), Some(TEXT));
        assert!(answer.text().starts_with(&format!("{status} ")), "{path}");
        assert_eq!(answer.header("connection"), None, "{path}");
        // Not a fault of the request's framing: the connection stays.
        client.send(b"GET /debug/ HTTP/1.1\r\nHost: test\r\n\r\n");
        assert_eq!(client.answer(false).status, 200, "after {path}");
    }

    let post = refused(
        addr,
        b"POST /debug/metrics HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    drop(release);
    server.shutdown();
}

/// Checks the Prometheus text exposition format line by line: every
/// sample's family has a `# TYPE` before it, names start with `goro_`,
/// values are numbers. Returns (name with labels, value) per sample.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    let kinds = ["counter", "gauge", "histogram", "summary", "untyped"];
                    assert!(kinds.contains(&kind), "{line}");
                    typed.push(name.to_string());
                }
                (Some("HELP"), Some(_), _) => {}
                _ => panic!("not a HELP or TYPE line: {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name.starts_with("goro_"), "{line}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split(',') {
                    let (key, value) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                    assert!(
                        !key.is_empty() && value.starts_with('"') && value.ends_with('"'),
                        "{line}"
                    );
                }
            }
        }
        let family_typed = typed.iter().any(|t| {
            name == t
                || ["_total", "_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(t))
        });
        assert!(family_typed, "no # TYPE before {line}");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        samples.push((series.to_string(), value));
    }
    assert!(!samples.is_empty(), "no samples in {text}");
    samples
}

#[test]
fn trace_records_the_next_seconds_as_json_one_trace_at_a_time() {
    let _one = one_at_a_time();
    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    // Work for the trace to see: a ping-pong running meanwhile.
    let (ping, pong) = goro::chan::<u32>(0);
    let player = goro::go!(move || pong.iter().count());
    let pinger = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(600) {
            ping.send(1).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let start = Instant::now();
    let traced = get(addr, "/debug/trace?seconds=0.3");
    let took = start.elapsed();
    assert_eq!(
        traced.status,
        200,
        "{}",
        String::from_utf8_lossy(&traced.body)
    );
    assert_eq!(traced.header("content-type"), Some("application/json"));
    assert!(
        took >= Duration::from_millis(300),
        "answered after {took:?}"
    );
    let json: serde_json::Value = serde_json::from_slice(&traced.body).expect("trace JSON");
    let events = json["traceEvents"].as_array().expect("a traceEvents array");
    assert!(!events.is_empty(), "{json}");

    // While one trace runs, another is refused, from this endpoint or not.
    let busy = std::thread::spawn(move || get(addr, "/debug/trace?seconds=2"));
    // The capture sleeps in its connection's goroutine while it records.
    let start = Instant::now();
    while !goro::dump()
        .to_string()
        .contains("\"goro-debug-conn\" [sleep, ")
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the trace never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let conflict = get(addr, "/debug/trace?seconds=0.01");
    assert_eq!(conflict.status, 409, "{}", conflict.text());
    assert!(
        conflict.text().contains("409 Conflict: "),
        "{}",
        conflict.text()
    );
    assert_eq!(busy.join().unwrap().status, 200);
    let path = std::env::temp_dir().join(format!("goro-endpoint-{}.json", std::process::id()));
    goro::trace::start(&path).unwrap();
    assert_eq!(get(addr, "/debug/trace?seconds=0.01").status, 409);
    goro::trace::stop().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(get(addr, "/debug/trace?seconds=0.01").status, 200);

    pinger.join().unwrap();
    assert!(player.join().unwrap() > 0);
    server.shutdown();
}

#[test]
fn keep_alive_answers_pipelined_requests_in_order_and_heads_without_bodies() {
    let _one = one_at_a_time();
    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let mut client = Client::connect(server.local_addr());
    // Three requests in one write: answered in order on one connection.
    client.send(
        b"GET /debug/metrics HTTP/1.1\r\nHost: t\r\n\r\n\
          HEAD /debug/goroutines HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /debug/nothing HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let metrics = client.answer(false);
    assert_eq!(
        (metrics.status, metrics.header("content-type")),
        (200, Some(PROMETHEUS))
    );
    assert!(metrics.text().contains("goro_goroutines"));
    let head = client.answer(true);
    assert_eq!(
        (head.status, head.header("content-type")),
        (200, Some(TEXT))
    );
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    assert!(length > 0, "HEAD gives the GET's length");
    assert_eq!(client.answer(false).status, 404);
    // A body over 64 KiB (written apart from its head), then the next
    // answer on the same connection.
    let release = park_goroutines("bulk", 2_000);
    client.send(b"GET /debug/goroutines?debug=2 HTTP/1.1\r\nHost: t\r\n\r\nGET /debug/ HTTP/1.1\r\nHost: t\r\n\r\n");
    let big = client.answer(false);
    assert!(big.body.len() > 64 * 1024, "{} bytes", big.body.len());
    assert!(big.text().matches("\"bulk\" [chan receive, ").count() >= 2_000);
    assert_eq!(client.answer(false).status, 200);
    drop(release);
    // A request sent in pieces, then one that asks to close.
    client.send(b"GET /debug/ HT");
    std::thread::sleep(Duration::from_millis(20));
    client.send(b"TP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.answer(false).status, 200);
    client.send(b"GET /debug/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let last = client.answer(false);
    assert_eq!(
        (last.status, last.header("connection")),
        (200, Some("close"))
    );
    client.assert_closed();

    // HTTP/1.0 closes after one answer, unless asked to keep alive.
    let mut old = Client::connect(server.local_addr());
    old.send(b"GET /debug/ HTTP/1.0\r\n\r\n");
    assert_eq!(old.answer(false).status, 200);
    old.assert_closed();
    let mut old = Client::connect(server.local_addr());
    old.send(b"GET /debug/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(old.answer(false).header("connection"), None);
    old.send(b"GET /debug/ HTTP/1.0\r\n\r\n");
    assert_eq!(old.answer(false).header("connection"), Some("close"));
    old.assert_closed();
    server.shutdown();
}

#[test]
fn bad_requests_get_a_4xx_and_the_server_keeps_serving() {
    let _one = one_at_a_time();
    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let oversized = format!(
        "GET /debug/ HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let many: String = (0..40).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET /debug/ HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    let cases: [(&str, &[u8], u16); 10] = [
        ("binary garbage", b"\x00\x01\x02\xff\r\n\r\n", 400),
        ("no method", b" /debug/ HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("HTTP/2.0", b"GET /debug/ HTTP/2.0\r\nHost: t\r\n\r\n", 400),
        ("not a path", b"GET debug HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        ("no Host", b"GET /debug/ HTTP/1.1\r\n\r\n", 400),
        (
            "two Hosts",
            b"GET /debug/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
        ),
        (
            "a body",
            b"GET /debug/ HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            400,
        ),
        (
            "chunked",
            b"GET /debug/ HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        ("head over 8 KiB", oversized.as_bytes(), 431),
        ("40 headers", many.as_bytes(), 431),
    ];
    // A keep-alive client served before, between and after the bad ones.
    let mut good = Client::connect(addr);
    for (what, bytes, status) in cases {
        let answer = refused(addr, bytes);
        assert_eq!(answer.status, status, "{what}: {}", answer.text());
        assert_eq!(answer.header("content-type"), Some(TEXT), "{what}");
        assert!(answer.text().starts_with(&format!("{status} ")), "{what}");
        good.send(b"GET /debug/metrics HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(good.answer(false).status, 200, "after {what}");
        assert_eq!(get(addr, "/debug/").status, 200, "after {what}");
    }
    // The absolute form a proxy sends is taken.
    good.send(b"GET http://t/debug/metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    let metrics = good.answer(false);
    assert_eq!(
        (metrics.status, metrics.header("content-type")),
        (200, Some(PROMETHEUS))
    );
    // 8 KiB exactly is still taken.
    let pad = 8 * 1024 - "GET /debug/ HTTP/1.1\r\nHost: t\r\nX: \r\n\r\n".len();
    let at_limit = format!(
        "GET /debug/ HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "a".repeat(pad)
    );
    assert_eq!(at_limit.len(), 8 * 1024);
    good.send(at_limit.as_bytes());
    assert_eq!(good.answer(false).status, 200);
    server.shutdown();
}

#[test]
fn a_silent_client_gets_408_and_others_are_served_meanwhile() {
    let _one = one_at_a_time();
    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let start = Instant::now();
    let mut silent = Client::connect(addr);
    let mut partial = Client::connect(addr);
    partial.send(b"GET /debug/ HTTP/1.1\r\nHo");
    let mut idle = Client::connect(addr);
    idle.send(b"GET /debug/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(idle.answer(false).status, 200);
    // Others are served while those wait.
    for _ in 0..10 {
        assert_eq!(get(addr, "/debug/metrics").status, 200);
    }
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "served while the silent ones waited"
    );
    for client in [&mut silent, &mut partial] {
        let answer = client.answer(false);
        assert_eq!(answer.status, 408, "{}", answer.text());
        assert_eq!(answer.header("connection"), Some("close"));
        client.assert_closed();
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(4),
        "the timeout is 5 s, answered after {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(30),
        "answered after {waited:?}"
    );
    // An idle keep-alive connection that was answered closes silently.
    idle.assert_closed();
    assert_eq!(get(addr, "/debug/").status, 200);
    server.shutdown();
}

/// The goroutine count once the runtime is up (its threads and fds exist)
/// and no goroutine is finishing: the same in two looks 20 ms apart (a
/// goroutine counts until it has switched out for the last time, a moment
/// after its join returns).
fn settled_goroutines() -> usize {
    goro::go!(|| ()).join().unwrap();
    let mut last = goro::num_goroutine();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = goro::num_goroutine();
        if now == last {
            return now;
        }
        last = now;
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits until `f()` is `want`, for up to 10 s; returns the last value.
fn settles(want: usize, f: impl Fn() -> usize) -> usize {
    let start = Instant::now();
    loop {
        let now = f();
        if now == want || start.elapsed() > Duration::from_secs(10) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Serves, holds keep-alive and silent connections open, and shuts down
/// from `stop` (a plain thread or a goroutine): new connects are refused,
/// the open ones end, goroutines and fds return to where they were.
fn shutdown_ends_everything(stop: impl FnOnce(goro::debug::Server) + Send + 'static) {
    let goroutines = settled_goroutines();
    let fds = open_fds();

    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    let mut open: Vec<Client> = (0..3)
        .map(|_| {
            let mut client = Client::connect(addr);
            client.send(b"GET /debug/ HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(client.answer(false).status, 200);
            client
        })
        .collect();
    open.push(Client::connect(addr)); // connected, says nothing
    assert_eq!(
        settles(goroutines + 5, goro::num_goroutine),
        goroutines + 5,
        "acceptor + 4"
    );

    let start = Instant::now();
    let stopper = std::thread::spawn(move || stop(server));
    stopper.join().unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "shutdown waited for the read timeout: {took:?}"
    );
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    // (A goroutine counts until it has switched out for the last time,
    // a moment after its last line.)
    assert_eq!(
        settles(goroutines, goro::num_goroutine),
        goroutines,
        "goroutines left"
    );
    for mut client in open {
        client.assert_closed();
    }
    assert_eq!(settles(fds, open_fds), fds, "fds leaked");
}

#[test]
fn shutdown_from_a_thread_refuses_connects_and_ends_every_goroutine() {
    let _one = one_at_a_time();
    shutdown_ends_everything(|server| server.shutdown());
}

#[test]
fn shutdown_from_a_goroutine_refuses_connects_and_ends_every_goroutine() {
    let _one = one_at_a_time();
    shutdown_ends_everything(|server| goro::run(move || server.shutdown()));
}

#[test]
fn a_dropped_server_keeps_serving() {
    let _one = one_at_a_time();
    let goroutines = settled_goroutines();
    let server = goro::debug::serve(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = server.local_addr();
    drop(server);
    assert_eq!(get(addr, "/debug/").status, 200);
    // Only the acceptor stays (the other tests count goroutines).
    assert_eq!(settles(goroutines + 1, goro::num_goroutine), goroutines + 1);
}

#[test]
fn serve_reports_an_address_in_use() {
    let _one = one_at_a_time();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = goro::debug::serve(taken.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

/// Runs curl with `args`; `None` when there is no curl to run.
fn curl(args: &[&str]) -> Option<String> {
    let out = match std::process::Command::new("curl").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => return None,
        Err(e) => panic!("curl: {e}"),
    };
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn curl_reads_every_path_on_one_connection_and_is_refused_an_oversized_head() {
    let _one = one_at_a_time();
    let server = goro::debug::serve("127.0.0.1:0").unwrap();
    let base = format!("http://{}", server.local_addr());
    let paths = [
        "/debug/",
        "/debug/goroutines",
        "/debug/goroutines?debug=2",
        "/debug/metrics",
    ];
    let urls: Vec<String> = paths.iter().map(|p| format!("{base}{p}")).collect();
    let mut args = vec![
        "-sS",
        "-w",
        "%{http_code} %{num_connects} %{content_type}\\n",
    ];
    for url in &urls {
        args.extend(["-o", "/dev/null", url]); // one -o per URL
    }
    let Some(out) = curl(&args) else {
        eprintln!("skipped: no curl on PATH");
        server.shutdown();
        return;
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "200 1 text/html; charset=utf-8",
            "200 0 text/plain; charset=utf-8", // 0 new connects: kept alive
            "200 0 text/plain; charset=utf-8",
            "200 0 text/plain; version=0.0.4; charset=utf-8",
        ],
        "{out}"
    );
    let metrics = curl(&["-sS", &urls[3]]).unwrap();
    assert!(parse_exposition(&metrics)
        .iter()
        .any(|(n, _)| n == "goro_goroutines"));

    let big = format!("X-Big: {}", "a".repeat(9000));
    let status = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &big,
        &urls[0],
    ])
    .unwrap();
    assert_eq!(status, "431");
    let status = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "DELETE",
        &urls[0],
    ])
    .unwrap();
    assert_eq!(status, "405");
    let status = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/debug/x"),
    ])
    .unwrap();
    assert_eq!(status, "404");
    assert_eq!(get(server.local_addr(), "/debug/").status, 200);
    server.shutdown();
}
