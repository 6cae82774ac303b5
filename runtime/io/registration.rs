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
//! This file never performs the I/O itself; callers pass the syscall in.

use mio::event::{Event, Source};
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::reactor::readiness::Readiness;
use crate::reactor::{reactor, WAITING};
use crate::coroutine::WaitReason;
use crate::scheduler::{park, park_until, unparker, watch_io, Unparker};

/// Which readiness a caller waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// One direction of a registration (its rules: `readiness.rs`).
type Waiting = Readiness<Unparker>;

#[derive(Default)]
struct IoState {
    read: Waiting,
    write: Waiting,
}

impl IoState {
    fn side(&mut self, dir: Direction) -> &mut Waiting {
        match dir {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
}

struct ScheduledIo {
    token: usize,
    state: Mutex<IoState>,
}

/// The table of live registrations, indexed by the low half of a token.
#[derive(Default)]
pub(crate) struct Slots {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: Vec<Option<Arc<ScheduledIo>>>,
    free: Vec<usize>,
    generation: u32,
}

const INDEX_BITS: u32 = 32;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

impl Slots {
    fn insert(&self) -> Arc<ScheduledIo> {
        let mut table = self.table.lock();
        table.generation = table.generation.wrapping_add(1);
        let index = match table.free.pop() {
            Some(i) => i,
            None => {
                table.entries.push(None);
                table.entries.len() - 1
            }
        };
        // Generation in the high half; the waker's token (usize::MAX) has an
        // index no table reaches.
        let token = ((table.generation as usize) << INDEX_BITS) | index;
        let sio = Arc::new(ScheduledIo {
            token,
            state: Mutex::new(IoState::default()),
        });
        table.entries[index] = Some(sio.clone());
        sio
    }

    fn remove(&self, token: usize) {
        let mut table = self.table.lock();
        let index = token & INDEX_MASK;
        if table.entries[index]
            .as_ref()
            .is_some_and(|s| s.token == token)
        {
            table.entries[index] = None;
            table.free.push(index);
        }
    }

    /// Records an event's readiness and collects the waiters to wake.
    pub(crate) fn dispatch(&self, event: &Event, woken: &mut Vec<Unparker>) {
        let token = event.token().0;
        let sio = {
            let table = self.table.lock();
            match table.entries.get(token & INDEX_MASK) {
                Some(Some(s)) if s.token == token => s.clone(),
                _ => return, // closed since
            }
        };
        let mut state = sio.state.lock();
        let error = event.is_error();
        if event.is_readable() || event.is_read_closed() || error {
            state.read.edge(event.is_read_closed(), error, woken);
        }
        // mio counts a bare EPOLLERR as write-closed; an error is not a
        // close here (see the module docs), a hang-up still is.
        if event.is_writable() || event.is_write_closed() || error {
            let closed = event.is_write_closed() && (!error || event.is_read_closed());
            state.write.edge(closed, error, woken);
        }
    }
}

/// A mio source registered with the reactor (readable and writable,
/// edge-triggered). Deregisters on drop.
pub(crate) struct IoSource<S: Source> {
    source: S,
    sio: Arc<ScheduledIo>,
}

impl<S: Source> IoSource<S> {
    pub(crate) fn new(mut source: S) -> io::Result<IoSource<S>> {
        let r = reactor();
        let sio = r.slots.insert();
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = r
            .registry
            .register(&mut source, mio::Token(sio.token), interest)
        {
            r.slots.remove(sio.token);
            return Err(e);
        }
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
            let mut state = self.sio.state.lock();
            let side = state.side(dir);
            let Some(tick) = side.try_begin(woken) else {
                let who = me.get_or_insert_with(unparker).clone();
                let thread = matches!(who, Unparker::Thread(_));
                side.wait(who);
                WAITING.fetch_add(1, Ordering::SeqCst);
                drop(state);
                if thread {
                    // Counted in WAITING first, so a worker that goes idle
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
                WAITING.fetch_sub(1, Ordering::SeqCst);
                // Still listed if woken by the deadline or spuriously.
                let mut state = self.sio.state.lock();
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
                    .state
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
        let r = reactor();
        let _ = r.registry.deregister(&mut self.source);
        r.slots.remove(self.sio.token);
    }
}
