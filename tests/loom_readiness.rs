//! Model checks (loom) of the reactor's per-direction readiness,
//! `runtime/reactor/readiness.rs`, compiled here as it is in the crate.
//!
//! A reader runs `IoSource::io_drained`'s loop (its shape copied here, its
//! transitions the real ones) against a model socket; a writer thread plays
//! the kernel and the poller: it adds data (or closes), then delivers the
//! edge under the registration's lock and unparks the waiters after. The
//! edge is the only wake-up, as with edge-triggered epoll. Checked in every
//! interleaving loom explores: no readiness is lost, i.e. the reader gets
//! every byte and the end of stream (a reader parked forever with data
//! pending is a deadlock, which loom reports).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_readiness` (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

#[path = "../runtime/reactor/readiness.rs"]
#[allow(dead_code)] // `wake_waiters` is modelled in loom_deadline.rs
mod readiness;

use loom::sync::{Arc, Mutex};
use loom::thread;

use readiness::Readiness;

/// The kernel's side of a socket: bytes queued and whether the peer closed.
#[derive(Default)]
struct Socket {
    queued: usize,
    closed: bool,
}

/// What a read returned.
enum Read {
    Data(usize),
    Eof,
    WouldBlock,
}

struct Source {
    socket: Mutex<Socket>,
    read: Mutex<Readiness<thread::Thread>>,
}

impl Source {
    /// The syscall: takes everything queued.
    fn recv(&self) -> Read {
        let mut s = self.socket.lock().unwrap();
        match std::mem::take(&mut s.queued) {
            0 if s.closed => Read::Eof,
            0 => Read::WouldBlock,
            n => Read::Data(n),
        }
    }

    /// `IoSource::io_drained` for one read; `drained`: treat a read that
    /// returned data as a short read (it emptied the socket).
    fn io(&self, drained: bool) -> Read {
        let me = thread::current();
        let mut woken = false;
        loop {
            let mut side = self.read.lock().unwrap();
            let Some(tick) = side.try_begin(woken) else {
                side.wait(me.clone());
                drop(side);
                thread::park();
                self.read.lock().unwrap().unlist(|t| t.id() == me.id());
                woken = true;
                continue;
            };
            drop(side);
            woken = false;
            let result = self.recv();
            let (would_block, short) = match result {
                Read::WouldBlock => (true, false),
                Read::Data(_) => (false, drained),
                Read::Eof => (false, false),
            };
            if would_block || short {
                self.read
                    .lock()
                    .unwrap()
                    .finished(tick, would_block, would_block, short);
            }
            match result {
                Read::WouldBlock => continue,
                done => return done,
            }
        }
    }

    /// The kernel queues `bytes` (and closes, if `close`), then the poller
    /// delivers the edge: `Slots::dispatch`, unparking after the lock.
    fn arrive(&self, bytes: usize, close: bool) {
        {
            let mut s = self.socket.lock().unwrap();
            s.queued += bytes;
            s.closed |= close;
        }
        let mut woken = Vec::new();
        self.read.lock().unwrap().edge(close, false, &mut woken);
        for t in woken {
            t.unpark();
        }
    }
}

/// The writer delivers each of `arrivals` (bytes, close) in turn; the
/// reader reads until it has `want` bytes (and, if `eof`, the end).
fn model(arrivals: &'static [(usize, bool)], want: usize, eof: bool, drained: bool) {
    loom::model(move || {
        let src = Arc::new(Source {
            socket: Mutex::new(Socket::default()),
            read: Mutex::new(Readiness::default()),
        });
        let writer = {
            let src = src.clone();
            thread::spawn(move || {
                for &(bytes, close) in arrivals {
                    src.arrive(bytes, close);
                }
            })
        };
        let mut got = 0;
        while got < want {
            match src.io(drained) {
                Read::Data(n) => got += n,
                Read::Eof => panic!("end of stream before {want} bytes"),
                Read::WouldBlock => unreachable!(),
            }
        }
        assert_eq!(got, want);
        if eof {
            assert!(matches!(src.io(drained), Read::Eof));
        }
        writer.join().unwrap();
    });
}

#[test]
fn edge_during_would_block_is_not_lost() {
    model(&[(1, false)], 1, false, false);
}

#[test]
fn second_edge_during_a_short_read_is_not_lost() {
    model(&[(1, false), (1, false)], 2, false, true);
}

#[test]
fn close_after_a_short_read_is_seen() {
    model(&[(1, false), (0, true)], 1, true, true);
}
