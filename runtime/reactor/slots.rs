//! The table of registrations the poller dispatches events to: each mio
//! source known to the reactor has a slot, and per direction (read,
//! write) a [`Readiness`] that the poller's edges set and waiters consume.
//!
//! A registration's mio token is its slot index plus a generation, so an
//! event still in flight for a closed socket is never delivered to the
//! socket that reuses the slot.
//!
//! How edges, errors and closes set each direction's flags, and why an
//! error is not a close: `io/registration.rs`.

use mio::event::Event;
use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;

use super::readiness::Readiness;

/// Which readiness a caller waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Both directions of a registration (their rules: `readiness.rs`).
pub(crate) struct IoState<W> {
    read: Readiness<W>,
    write: Readiness<W>,
}

impl<W> Default for IoState<W> {
    fn default() -> Self {
        IoState {
            read: Readiness::default(),
            write: Readiness::default(),
        }
    }
}

impl<W> IoState<W> {
    /// The readiness of one direction.
    #[inline]
    pub(crate) fn side(&mut self, dir: Direction) -> &mut Readiness<W> {
        match dir {
            Direction::Read => &mut self.read,
            Direction::Write => &mut self.write,
        }
    }
}

/// One registration's entry: its token and its readiness, under the lock
/// the poller records edges with.
pub(crate) struct ScheduledIo<W> {
    token: usize,
    state: Mutex<IoState<W>>,
}

impl<W> ScheduledIo<W> {
    /// The mio token the source is registered with.
    pub(crate) fn token(&self) -> usize {
        self.token
    }

    /// Locks the readiness of both directions.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, IoState<W>> {
        self.state.lock()
    }
}

/// The table of live registrations, indexed by the low half of a token.
pub(super) struct Slots<W> {
    table: Mutex<Table<W>>,
}

impl<W> Default for Slots<W> {
    fn default() -> Self {
        Slots {
            table: Mutex::new(Table {
                entries: Vec::new(),
                free: Vec::new(),
                generation: 0,
            }),
        }
    }
}

struct Table<W> {
    entries: Vec<Option<Arc<ScheduledIo<W>>>>,
    free: Vec<usize>,
    generation: u32,
}

const INDEX_BITS: u32 = 32;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

impl<W> Slots<W> {
    pub(super) fn insert(&self) -> Arc<ScheduledIo<W>> {
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

    pub(super) fn remove(&self, token: usize) {
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
    pub(super) fn dispatch(&self, event: &Event, woken: &mut Vec<W>) {
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
        // close here (see `io/registration.rs`), a hang-up still is.
        if event.is_writable() || event.is_write_closed() || error {
            let closed = event.is_write_closed() && (!error || event.is_read_closed());
            state.write.edge(closed, error, woken);
        }
    }
}
