//! Registrations: a mio source known to the reactor, and the goroutines
//! and threads waiting for it to become readable or writable.
//!
//! Each registration has a slot in a table; its mio token is the slot index
//! plus a generation, so an event still in flight for a closed socket is
//! never delivered to the socket that reuses the slot. Per direction, a
//! registration keeps a `ready` flag set by the poller on each edge, an
//! edge counter, and a list of waiters. [`IoSource::io`] clears the flag
//! when its syscall says `WouldBlock` — unless an edge arrived while the
//! syscall ran — and parks only while the flag is clear, so an edge that
//! arrives between `WouldBlock` and the park is never lost: the waiter sees
//! the flag under the same lock the poller sets it with.
//!
//! A `WouldBlock` always clears the flag: the kernel just said the call
//! blocks, whatever events came before. An error event (`EPOLLERR`) is a
//! one-shot report, not a close: the next syscall returns the error and
//! clears it (`SO_ERROR`), after which a datagram socket blocks as before —
//! a connected UDP socket that sent to a closed port gets one
//! `ConnectionRefused` and then works again. So an error marks the
//! direction `error` (the next call must run, even after a short read)
//! until a syscall reports it, and only a peer's close marks it `closed`.
//!
//! This file is the waiting half, above the scheduler (it parks). The
//! table and the per-direction `Readiness` the poller records edges in
//! are `reactor/slots.rs` and `reactor/readiness.rs`, below it: the poller
//! hands the woken waiters back to the scheduler instead of calling up.
//!
//! This file never performs the I/O itself; callers pass the syscall in.

use mio::event::Source;
use std::io;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use crate::reactor::Direction;

use crate::coroutine::WaitReason;
use crate::reactor::{self, ScheduledIo};
use crate::scheduler::{self, park, park_until, unparker, watch_io, Unparker};

/// A mio source registered with the reactor (readable and writable,
/// edge-triggered). Deregisters on drop.
pub(crate) struct IoSource<S: Source> {
    source: S,
    sio: Arc<ScheduledIo<Unparker>>,
}

impl<S: Source> IoSource<S> {
    pub(crate) fn new(mut source: S) -> io::Result<IoSource<S>> {
        let sio = scheduler::reactor().register(&mut source)?;
        Ok(IoSource { source, sio })
    }

    /// The wrapped source, for syscalls that do not block.
    pub(crate) fn get(&self) -> &S {
        &self.source
    }

    /// Runs `op` on the source until it stops returning `WouldBlock`,
    /// parking between tries until the reactor reports `dir` readiness, or
    /// until `deadline` (then `TimedOut`).
    pub(crate) fn io<R>(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_drained(dir, deadline, op, |_| false)
    }

    /// Like [`io`](Self::io), with a hint: `drained(&result)` says the
    /// syscall emptied the socket (a short read) or filled it (a short
    /// write), so the next call parks without first paying for a syscall
    /// that would say `WouldBlock`.
    ///
    /// `ready` is only ever cleared if no edge arrived while the syscall
    /// ran (the `tick` is unchanged), so data that lands meanwhile is never
    /// missed. A waiter that is woken always retries its syscall, even if
    /// another waiter consumed `ready` first: one edge wakes every waiter of
    /// a direction (several acceptors on one listener, two readers of one
    /// socket), and the first may take only part of what is ready.
    pub(crate) fn io_drained<R>(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        let why = match dir {
            Direction::Read => WaitReason::IoRead,
            Direction::Write => WaitReason::IoWrite,
        };
        // A socket that is always ready never parks: let sysmon's request
        // to end the slice through here.
        crate::scheduler::coop();
        let mut me: Option<Unparker> = None;
        let mut woken = false;
        loop {
            let mut state = self.sio.lock();
            let side = state.side(dir);
            let Some(tick) = side.try_begin(woken) else {
                let who = me.get_or_insert_with(unparker).clone();
                let thread = matches!(who, Unparker::Thread(_));
                side.wait(who);
                reactor::waiter_parks();
                drop(state);
                if thread {
                    // Counted as a waiter first, so a worker that goes idle
                    // after this call sees a waiter and watches anyway.
                    watch_io();
                }
                let timed_out = match deadline {
                    Some(d) => park_until(why, d),
                    None => {
                        park(why);
                        false
                    }
                };
                reactor::waiter_returns();
                // Still listed if woken by the deadline or spuriously.
                let mut state = self.sio.lock();
                let mine = me.as_ref().expect("set above");
                state.side(dir).unlist(|w| w.same_as(mine));
                drop(state);
                if timed_out {
                    return Err(timed_out_error(dir));
                }
                woken = true;
                continue;
            };
            drop(state);
            woken = false;
            let result = op(&self.source);
            let (failed, would_block, short) = match &result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => (true, e.kind() == io::ErrorKind::WouldBlock, false),
                Ok(r) => (false, false, drained(r)),
            };
            if failed || short {
                self.sio
                    .lock()
                    .side(dir)
                    .finished(tick, failed, would_block, short);
            }
            match result {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // An edge arrived while the call ran: retry, unless
                    // the deadline has passed meanwhile.
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(timed_out_error(dir));
                    }
                    continue;
                }
                done => return done,
            }
        }
    }
}

fn timed_out_error(dir: Direction) -> io::Error {
    let what = match dir {
        Direction::Read => "read",
        Direction::Write => "write",
    };
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        scheduler::reactor().deregister(&mut self.source, &self.sio);
    }
}
