//! Shared harness of the Go ports (`tests/sync_go_*.rs`): run one test body
//! with its workers as goroutines, and again with half of them as plain
//! threads, under a watchdog.
//!
//! [`each_mix`] runs the body twice. With [`Mix::Goroutines`] the body
//! itself is the main goroutine (`goro::run`) and every worker it starts
//! with [`Mix::spawn`] is a goroutine, as in Go. With [`Mix::HalfThreads`]
//! the body runs on the test's own thread and every odd-numbered worker is
//! a `std::thread`, so each primitive is also handed between goroutines and
//! threads. Go's tests report a bug as a deadlock; the watchdog turns one
//! into a failure (a goroutine dump, exit status 101) instead of a hang.
#![allow(dead_code)]

use std::panic::resume_unwind;
use std::sync::mpsc;
use std::time::Duration;

/// Longer than any port needs; a body still running by then is stuck.
const STUCK: Duration = Duration::from_secs(60);

/// Where a body's workers run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Every worker a goroutine; the body is the main goroutine.
    Goroutines,
    /// Odd-numbered workers are plain threads; the body is the test thread.
    HalfThreads,
}

/// A worker started by [`Mix::spawn`].
pub enum Worker<T> {
    /// Runs as a goroutine.
    Goroutine(goro::JoinHandle<T>),
    /// Runs as a plain thread.
    Thread(std::thread::JoinHandle<T>),
}

impl<T> Worker<T> {
    /// Waits for the worker; its panic, if any, goes on here.
    pub fn join(self) -> T {
        match self {
            Worker::Goroutine(h) => match h.join() {
                Ok(v) => v,
                Err(e) if e.is_panic() => resume_unwind(e.into_panic()),
                Err(e) => panic!("worker goroutine: {e}"),
            },
            Worker::Thread(h) => h.join().unwrap_or_else(|p| resume_unwind(p)),
        }
    }
}

impl Mix {
    /// Whether worker number `i` runs as a plain thread.
    pub fn is_thread(self, i: usize) -> bool {
        self == Mix::HalfThreads && i % 2 == 1
    }

    /// Starts worker number `i`: a goroutine, or a plain thread when
    /// [`is_thread`](Mix::is_thread) says so. Dropping the returned handle
    /// detaches the worker (Go's `go f()`).
    pub fn spawn<T, F>(self, i: usize, f: F) -> Worker<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.is_thread(i) {
            Worker::Thread(std::thread::spawn(f))
        } else {
            Worker::Goroutine(goro::spawn(f))
        }
    }
}

/// Runs `body` under both mixes, each under the watchdog.
pub fn each_mix<F>(body: F)
where
    F: Fn(Mix) + Send + Copy + 'static,
{
    for mix in [Mix::Goroutines, Mix::HalfThreads] {
        let (finished, watch) = mpsc::channel::<()>();
        let name = std::thread::current().name().unwrap_or("?").to_string();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = watch.recv_timeout(STUCK) {
                eprintln!(
                    "{name} ({mix:?}) still running after {STUCK:?}: deadlocked?\n\n\
                     goroutine dump:\n{}",
                    goro::dump()
                );
                std::process::exit(101);
            }
        });
        match mix {
            Mix::Goroutines => goro::run(move || body(mix)),
            Mix::HalfThreads => body(mix),
        }
        drop(finished);
    }
}
