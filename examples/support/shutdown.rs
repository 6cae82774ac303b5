//! Graceful shutdown for the example servers: on SIGINT or SIGTERM stop
//! accepting ([`TcpListener::close`] ends the accept loop), let the open
//! connections finish for a grace period, and print one summary line.
//!
//! ```ignore
//! let shutdown = Shutdown::on_signals(listener.clone());
//! for conn in listener.incoming() {           // ends once closed
//!     let conn = match conn { Ok(c) => c, Err(e) => { shutdown.log("srv", e); continue } };
//!     let open = shutdown.track();            // counts the connection
//!     goro::go!(move || { serve(conn); drop(open) });
//! }
//! shutdown.finish("srv", grace);              // waits, then prints
//! ```

use goro::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A server's shutdown state, shared by its accept loop, its connections
/// and the goroutine that waits for a signal.
pub struct Shutdown {
    /// The signal that stopped the server (0: none yet).
    signal: AtomicI32,
    stopping: AtomicBool,
    open: AtomicUsize,
    served: AtomicUsize,
}

/// One open connection; dropping it (the connection's goroutine ended)
/// counts it closed.
pub struct Open(Arc<Shutdown>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Shutdown {
    /// Watches SIGINT and SIGTERM; the first one closes `listener`.
    pub fn on_signals(listener: Arc<TcpListener>) -> Arc<Shutdown> {
        let shutdown = Arc::new(Shutdown {
            signal: AtomicI32::new(0),
            stopping: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            served: AtomicUsize::new(0),
        });
        let signals = goro::signal::notify(&[libc::SIGINT, libc::SIGTERM])
            .unwrap_or_else(|e| panic!("cannot watch SIGINT/SIGTERM: {e}"));
        let s = shutdown.clone();
        goro::go!(move || {
            if let Ok(sig) = signals.recv() {
                s.signal.store(sig, Ordering::Relaxed);
                s.stopping.store(true, Ordering::Release);
                // A second signal gets the default action again: kill.
                let _ = goro::signal::reset(libc::SIGINT);
                let _ = goro::signal::reset(libc::SIGTERM);
                if let Err(e) = listener.close() {
                    eprintln!("cannot close the listener: {e}");
                }
            }
        });
        shutdown
    }

    /// Whether a signal asked the server to stop.
    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Counts a newly accepted connection as open until the guard drops.
    pub fn track(self: &Arc<Self>) -> Open {
        self.served.fetch_add(1, Ordering::Relaxed);
        self.open.fetch_add(1, Ordering::Relaxed);
        Open(self.clone())
    }

    /// Reports an accept error, except the close that ends the loop.
    pub fn log(&self, server: &str, error: std::io::Error) {
        if !self.stopping() {
            eprintln!("{server}: accept: {error}");
        }
    }

    /// After the accept loop: waits until every connection has finished
    /// or `grace` has passed, then prints the summary line.
    pub fn finish(&self, server: &str, grace: Duration) {
        let deadline = Instant::now() + grace;
        while self.open.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            goro::time::sleep(Duration::from_millis(10));
        }
        let signal = match self.signal.load(Ordering::Relaxed) {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "the listener closing",
        };
        say!(
            "{server}: stopped by {signal}: {} connections served, {} still open at exit (grace period {:?})",
            self.served.load(Ordering::Relaxed),
            self.open.load(Ordering::Relaxed),
            grace
        );
    }
}

/// Parses a `--grace SECONDS` value (fractions allowed, >= 0), for clap.
pub fn parse_grace(value: &str) -> Result<Duration, String> {
    let secs: f64 = value.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| "not a number of seconds >= 0".into())
}
