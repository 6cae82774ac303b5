//! A chat server written the way a Go programmer writes one: a hub
//! goroutine owns the room and `select!`s over joins, messages, a
//! `Ticker` and the server's `Context`; every client has a reader and a
//! writer goroutine; SIGINT or SIGTERM cancels the context, which closes
//! the listener and ends every client.
//!
//! ```text
//! cargo run --release --example chat                      # demo: server + 8 clients, one process
//! cargo run --release --example chat -- serve 127.0.0.1:7100
//! cargo run --release --example chat -- client 127.0.0.1:7100 100 10
//! nc 127.0.0.1 7100                                       # chat by hand: lines in, lines out
//! ```
//!
//! `client ADDR CLIENTS MESSAGES` connects CLIENTS clients, waits until
//! the room holds them all (`/online` asks the hub), has each send
//! MESSAGES lines, and reads until every client has every other client's
//! lines, then prints what arrived and how fast. The hub never waits for a
//! slow client: a client whose queue of 1,024 lines is full misses lines,
//! and the hub counts them (Go's chat examples do the same).

use clap::{Parser, Subcommand};
use goro::context::{CancelFunc, Context};
use goro::net::{TcpListener, TcpStream};
use goro::{Receiver, Sender};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What clients tell the hub.
enum Event {
    Join(u64, Sender<Arc<str>>),
    Leave(u64),
    Say(u64, String),
    /// `/online`: the hub answers with the room's size.
    Online(u64),
}

/// What the hub saw, printed when it stops.
#[derive(Default)]
struct HubStats {
    joined: u64,
    said: u64,
    delivered: u64,
    dropped: u64,
}

/// Lines a client may have queued before it misses some.
const CLIENT_QUEUE: usize = 1024;

/// The room: the only goroutine that touches the member list, so it needs
/// no lock. Ends when the context is cancelled or every sender is gone.
fn hub(ctx: Context, events: Receiver<Event>, report_every: Option<Duration>) -> HubStats {
    let mut members: HashMap<u64, Sender<Arc<str>>> = HashMap::new();
    let mut stats = HubStats::default();
    // A ticker that never fires when no report is wanted.
    let ticks = match report_every {
        Some(every) => goro::time::tick(every),
        None => goro::never(),
    };
    loop {
        goro::select! {
            recv(events) -> event => match event {
                Ok(Event::Join(id, tx)) => {
                    stats.joined += 1;
                    members.insert(id, tx);
                }
                Ok(Event::Leave(id)) => {
                    members.remove(&id);
                }
                Ok(Event::Say(from, text)) => {
                    stats.said += 1;
                    let line: Arc<str> = format!("#{from}: {text}").into();
                    for (&id, tx) in &members {
                        if id == from {
                            continue;
                        }
                        match tx.try_send(line.clone()) {
                            Ok(()) => stats.delivered += 1,
                            Err(_) => stats.dropped += 1, // full, or the writer left
                        }
                    }
                }
                Ok(Event::Online(id)) => {
                    if let Some(tx) = members.get(&id) {
                        let _ = tx.try_send(format!("online {}", members.len()).into());
                    }
                }
                Err(_) => break,
            },
            recv(ticks) -> _ => println!(
                "hub: {} online, {} said, {} delivered, {} dropped",
                members.len(), stats.said, stats.delivered, stats.dropped
            ),
            recv(ctx.done()) -> _ => break,
        }
    }
    // Dropping `members` ends every writer, which shuts its socket down,
    // which ends its reader.
    stats
}

/// One client: a writer goroutine drains its queue onto the socket; this
/// goroutine reads lines and hands them to the hub.
fn client(id: u64, conn: TcpStream, events: Sender<Event>) {
    // Short lines: do not let Nagle hold them back for the peer's ACK.
    let _ = conn.set_nodelay(true);
    let conn = Arc::new(conn);
    let (tx, rx) = goro::chan::<Arc<str>>(CLIENT_QUEUE);
    if events.send(Event::Join(id, tx)).is_err() {
        return;
    }
    let out = conn.clone();
    let writer = goro::go!(move || {
        for line in &rx {
            if writeln!(&*out, "{line}").is_err() {
                break;
            }
        }
        // The hub let go of us (or the socket failed): end the reader too.
        let _ = out.shutdown(std::net::Shutdown::Both);
    });
    for line in BufReader::new(&*conn).lines() {
        let Ok(line) = line else { break };
        let event = match line.trim() {
            "/online" => Event::Online(id),
            text => Event::Say(id, text.to_string()),
        };
        if events.send(event).is_err() {
            break;
        }
    }
    let _ = events.send(Event::Leave(id));
    let _ = conn.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
}

/// Accepts until the context is cancelled (which closes the listener),
/// then waits for the hub.
fn serve(ctx: Context, listener: TcpListener, report_every: Option<Duration>) -> HubStats {
    let listener = Arc::new(listener);
    let (events_tx, events_rx) = goro::unbounded::<Event>();
    let room = {
        let ctx = ctx.clone();
        goro::go!(move || hub(ctx, events_rx, report_every))
    };
    let closer = {
        let (ctx, listener) = (ctx.clone(), listener.clone());
        goro::go!(move || {
            let _ = ctx.done().recv();
            let _ = listener.close();
        })
    };
    let mut next_id = 0;
    for conn in listener.incoming() {
        match conn {
            Ok(conn) => {
                next_id += 1;
                let events = events_tx.clone();
                goro::go!(move || client(next_id, conn, events));
            }
            Err(e) if ctx.err().is_none() => eprintln!("chat: accept: {e}"),
            Err(_) => {}
        }
    }
    drop(events_tx);
    closer.join().unwrap();
    room.join().unwrap()
}

/// What the client mode measured.
struct ClientRun {
    received: u64,
    expected: u64,
    took: Duration,
}

/// `clients` clients each say `messages` lines and read everyone else's.
fn run_clients(
    addr: std::net::SocketAddr,
    clients: u64,
    messages: u64,
) -> std::io::Result<ClientRun> {
    let conns: Vec<TcpStream> = (0..clients)
        .map(|_| {
            let conn = TcpStream::connect(addr)?;
            conn.set_nodelay(true)?;
            Ok(conn)
        })
        .collect::<std::io::Result<_>>()?;
    // Wait until the hub has every client in the room.
    let probe = &conns[0];
    let mut lines = BufReader::new(probe).lines();
    loop {
        writeln!(&*probe, "/online")?;
        let line = lines.next().transpose()?.unwrap_or_default();
        if line
            .strip_prefix("online ")
            .and_then(|n| n.parse::<u64>().ok())
            == Some(clients)
        {
            break;
        }
        goro::time::sleep(Duration::from_millis(5));
    }
    drop(lines);
    let start = Instant::now();
    let expected_each = (clients - 1) * messages;
    let readers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            goro::go!(move || -> std::io::Result<u64> {
                for m in 0..messages {
                    writeln!(&conn, "hello {m} from client {i}")?;
                }
                // Lines from others; give up after 5 s of silence.
                let mut got = 0;
                let mut lines = BufReader::new(&conn).lines();
                while got < expected_each {
                    conn.set_read_deadline(Some(Instant::now() + Duration::from_secs(5)))?;
                    match lines.next() {
                        Some(Ok(line)) if line.starts_with('#') => got += 1,
                        Some(Ok(_)) => {}
                        Some(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => break,
                        Some(Err(e)) => return Err(e),
                        None => break,
                    }
                }
                Ok(got)
            })
        })
        .collect();
    let mut received = 0;
    for r in readers {
        received += r.join().expect("a client panicked")?;
    }
    Ok(ClientRun {
        received,
        expected: expected_each * clients,
        took: start.elapsed(),
    })
}

fn print_run(clients: u64, messages: u64, run: &ClientRun) {
    println!(
        "{clients} clients x {messages} lines: {} of {} lines delivered in {:.1} ms ({:.0} lines/s)",
        run.received,
        run.expected,
        run.took.as_secs_f64() * 1e3,
        run.received as f64 / run.took.as_secs_f64()
    );
}

fn print_hub(stats: &HubStats) {
    println!(
        "hub stopped: {} joined, {} lines said, {} delivered, {} dropped (slow clients)",
        stats.joined, stats.said, stats.delivered, stats.dropped
    );
}

/// SIGINT or SIGTERM cancels the server's context.
fn cancel_on_signals(cancel: CancelFunc) {
    let signals = goro::signal::notify(&[libc::SIGINT, libc::SIGTERM])
        .unwrap_or_else(|e| panic!("cannot watch SIGINT/SIGTERM: {e}"));
    goro::go!(move || {
        if signals.recv().is_ok() {
            eprintln!("chat: stopping");
            cancel.cancel();
        }
    });
}

/// A chat server the Go way: a hub goroutine, a reader and a writer
/// goroutine per client, shutdown on SIGINT or SIGTERM. Without a command:
/// a demo of a server and 8 clients in this process.
#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Runs the server (prints `chat server on ADDR`; `nc ADDR` to chat).
    Serve {
        /// The address to listen on (port 0 picks a free one).
        #[arg(default_value = "127.0.0.1:7100")]
        addr: String,
    },
    /// Connects CLIENTS clients that each say MESSAGES lines and read
    /// everyone else's, then prints what arrived and how fast.
    Client {
        /// The server's address (HOST:PORT).
        addr: String,
        /// Clients to connect (> 0).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        clients: u64,
        /// Lines each client says (> 0).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        messages: u64,
    },
}

fn main() {
    let Args { mode } = Args::parse();
    goro::run(move || match mode {
        None => {
            // The demo: a server and 8 clients in this process.
            let (ctx, cancel) = Context::background().with_cancel();
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("local_addr");
            println!("chat server on {addr}");
            let server = goro::go!(move || serve(ctx, listener, None));
            let run = run_clients(addr, 8, 5).expect("clients");
            print_run(8, 5, &run);
            cancel.cancel();
            print_hub(&server.join().unwrap());
        }
        Some(Mode::Serve { addr }) => {
            let listener = TcpListener::bind(addr.as_str()).unwrap_or_else(|e| {
                eprintln!("chat: cannot listen on {addr}: {e}");
                std::process::exit(1);
            });
            println!(
                "chat server on {}",
                listener.local_addr().expect("local_addr")
            );
            let (ctx, cancel) = Context::background().with_cancel();
            cancel_on_signals(cancel);
            print_hub(&serve(ctx, listener, Some(Duration::from_secs(5))));
        }
        Some(Mode::Client {
            addr,
            clients,
            messages,
        }) => {
            let addr = match goro::net::lookup_host(&addr).map(|a| a.first().copied()) {
                Ok(Some(addr)) => addr,
                Ok(None) => {
                    eprintln!("chat: {addr} resolves to no address");
                    std::process::exit(1);
                }
                Err(e) => {
                    eprintln!("chat: {addr}: {e}");
                    std::process::exit(1);
                }
            };
            match run_clients(addr, clients, messages) {
                Ok(run) => print_run(clients, messages, &run),
                Err(e) => {
                    eprintln!("chat: {e}");
                    std::process::exit(1);
                }
            }
        }
    });
}
