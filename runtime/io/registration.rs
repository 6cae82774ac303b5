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
//! # Deadlines and timeouts
//!
//! Each direction also holds a Go-style deadline (an absolute instant, one
//! atomic word, none by default). An operation fails with `TimedOut` if it
//! starts after its direction's deadline, and a waiter parks with a timer
//! for the earlier of the deadline and the caller's timeout. Setting a
//! deadline wakes the direction's waiters without an edge (they are
//! listed in its `Readiness`); each re-reads the deadline: one that has
//! passed ends its wait, a later one re-arms its timer, `None` leaves it
//! waiting for readiness alone. A timeout (std's `set_read_timeout`) is
//! relative to the operation's start and ends it with std's error,
//! `WouldBlock`; when both are set the one that passes first decides the
//! error. No thread and nothing allocated per operation: the timer is
//! the one every `park_until` arms.
//!
//! This file is the waiting half, above the scheduler (it parks). The
//! table and the per-direction `Readiness` the poller records edges in
//! are `reactor/slots.rs` and `reactor/readiness.rs`, below it: the poller
//! hands the woken waiters back to the scheduler instead of calling up.
//!
//! This file never performs the I/O itself; callers pass the syscall in.

use mio::event::Source;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub(crate) use crate::reactor::Direction;

use crate::coroutine::WaitReason;
use crate::reactor::{self, ScheduledIo};
use crate::scheduler::{self, park_at, park_until_at, unparker, watch_io, Unparker};

/// A mio source registered with the reactor (readable and writable,
/// edge-triggered), with a Go-style deadline per direction. Deregisters on
/// drop.
pub(crate) struct IoSource<S: Source> {
    source: S,
    sio: Arc<ScheduledIo<Unparker>>,
    /// Indexed by `Direction as usize`.
    deadlines: [Deadline; 2],
    /// The source's fd, which `dump()` names as what a waiter waits on.
    fd: RawFd,
}

impl<S: Source> IoSource<S> {
    pub(crate) fn new(mut source: S) -> io::Result<IoSource<S>>
    where
        S: AsRawFd,
    {
        let sio = scheduler::reactor().register(&mut source)?;
        let fd = source.as_raw_fd();
        Ok(IoSource {
            source,
            sio,
            deadlines: Default::default(),
            fd,
        })
    }

    /// The wrapped source, for syscalls that do not block.
    pub(crate) fn get(&self) -> &S {
        &self.source
    }

    /// Deregisters the source and hands it back, fd and all (the
    /// conversions to std's types).
    pub(crate) fn into_inner(self) -> S {
        let mut this = std::mem::ManuallyDrop::new(self);
        let fields: &mut IoSource<S> = &mut this;
        scheduler::reactor().deregister(&mut fields.source, &fields.sio);
        // SAFETY: `this` is never dropped (ManuallyDrop) nor used again
        // after these two reads, so each field is moved out exactly once:
        // `source` to the caller, `sio` dropped here (releasing the
        // registration's reference to its readiness slot). `deadlines`
        // holds plain atomics and needs no drop.
        unsafe {
            std::ptr::drop_in_place(&mut this.sio);
            std::ptr::read(&this.source)
        }
    }

    #[inline]
    fn deadline(&self, dir: Direction) -> &Deadline {
        &self.deadlines[dir as usize]
    }

    /// Sets (or, `None`, clears) the deadline of `dir` for the operations
    /// that start later and for those waiting now: every waiter of `dir`
    /// is woken to re-check it (a deadline that has passed ends its wait,
    /// a later one re-arms its timer).
    ///
    /// No waiter can miss the change: a waiter lists itself and *then*
    /// reads the deadline under the registration's lock; this stores the
    /// deadline and then takes the same lock to wake the listed waiters.
    /// Either the waiter's read comes after our unlock (it sees the new
    /// deadline), or it listed itself before our lock (we wake it).
    pub(crate) fn set_deadline(&self, dir: Direction, at: Option<Instant>) {
        self.deadline(dir).set(at);
        let mut woken = Vec::new();
        self.sio.lock().side(dir).wake_waiters(&mut woken);
        for who in woken {
            who.unpark();
        }
    }

    /// Runs `op` on the source until it stops returning `WouldBlock`,
    /// parking between tries until the reactor reports `dir` readiness.
    /// Fails with `TimedOut` once the deadline of `dir` has passed (see
    /// [`set_deadline`](Self::set_deadline)), or with std's timeout error
    /// (`WouldBlock`, `EAGAIN`) once `timeout_at` has, whichever comes
    /// first.
    #[track_caller]
    pub(crate) fn io<R>(
        &self,
        dir: Direction,
        timeout_at: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_at(dir, timeout_at, op, Location::caller())
    }

    /// [`io`](Self::io), showing `at` as the place of a wait in `dump()`:
    /// for callers that run it inside a closure (a connect tried on each
    /// address), where the `#[track_caller]` chain ends.
    pub(crate) fn io_at<R>(
        &self,
        dir: Direction,
        timeout_at: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
        at: &'static Location<'static>,
    ) -> io::Result<R> {
        self.wait_ready(dir, io_wait(dir), timeout_at, op, |_| false, at)
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
    ///
    /// Without a deadline or timeout this costs one relaxed load more than
    /// the syscall and reads no clock; with one, the clock is read before
    /// the first try and after every wake-up.
    #[track_caller]
    pub(crate) fn io_drained<R>(
        &self,
        dir: Direction,
        timeout_at: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        self.wait_ready(
            dir,
            io_wait(dir),
            timeout_at,
            op,
            drained,
            Location::caller(),
        )
    }

    /// [`io`](Self::io) for a listener's accept: waits for read readiness
    /// and shows `accept` as the wait reason.
    #[track_caller]
    pub(crate) fn accept_io<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.io_as(Direction::Read, WaitReason::Accept, None, op)
    }

    /// [`io`](Self::io) showing `why` as the wait reason: for fds that
    /// stand for something other than a byte stream (a listener, an
    /// eventfd semaphore).
    #[track_caller]
    pub(crate) fn io_as<R>(
        &self,
        dir: Direction,
        why: WaitReason,
        timeout_at: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.wait_ready(dir, why, timeout_at, op, |_| false, Location::caller())
    }

    /// The loop behind [`io_drained`](Self::io_drained), parking with `why`.
    fn wait_ready<R>(
        &self,
        dir: Direction,
        why: WaitReason,
        timeout_at: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
        at: &'static Location<'static>,
    ) -> io::Result<R> {
        // A socket that is always ready never parks: let sysmon's request
        // to end the slice through here.
        crate::scheduler::coop();
        // Go's rule: once the deadline has passed, an operation fails
        // before it tries, even if it would not block.
        if self.deadline(dir).is_set() {
            self.check_expiry_now(dir, None)?;
        }
        let mut me: Option<Unparker> = None;
        let mut woken = false;
        loop {
            let mut state = self.sio.lock();
            let side = state.side(dir);
            let Some(tick) = side.try_begin(woken) else {
                let who = me.get_or_insert_with(unparker).clone();
                let thread = matches!(who, Unparker::Thread(_));
                side.wait(who);
                // Read after listing, under the lock `set_deadline` wakes
                // the listed waiters with: a change is seen here or wakes us.
                let deadline = self.deadline(dir).get();
                reactor::waiter_parks();
                drop(state);
                if thread {
                    // Counted as a waiter first, so a worker that goes idle
                    // after this call sees a waiter and watches anyway.
                    watch_io();
                }
                match earliest(deadline, timeout_at) {
                    Some(until) => {
                        park_until_at(why, self.fd as usize, until, at);
                    }
                    None => park_at(why, self.fd as usize, at),
                }
                reactor::waiter_returns();
                // Still listed if woken by a timer, a deadline change or
                // spuriously.
                let mut state = self.sio.lock();
                let mine = me.as_ref().expect("set above");
                state.side(dir).unlist(|w| w.same_as(mine));
                drop(state);
                // Whatever woke us, the deadline may have passed or moved.
                self.check_expiry(dir, timeout_at)?;
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
                    // the deadline or timeout has passed meanwhile.
                    self.check_expiry(dir, timeout_at)?;
                    continue;
                }
                done => return done,
            }
        }
    }

    /// The error an operation on `dir` ends with now, if its deadline or
    /// its timeout has passed: the one that passed first, a deadline on a
    /// tie. Reads the clock only if either is set.
    #[inline]
    fn check_expiry(&self, dir: Direction, timeout_at: Option<Instant>) -> io::Result<()> {
        if timeout_at.is_none() && !self.deadline(dir).is_set() {
            return Ok(());
        }
        self.check_expiry_now(dir, timeout_at)
    }

    /// [`check_expiry`](Self::check_expiry) once a deadline or timeout is
    /// set: out of line, so the common case stays small.
    #[inline(never)]
    fn check_expiry_now(&self, dir: Direction, timeout_at: Option<Instant>) -> io::Result<()> {
        let deadline = self.deadline(dir).get();
        let Some(first) = earliest(deadline, timeout_at) else {
            return Ok(());
        };
        if Instant::now() < first {
            return Ok(());
        }
        if deadline == Some(first) {
            Err(deadline_exceeded(dir))
        } else {
            Err(timeout_error())
        }
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a read or write whose timeout (`set_read_timeout`) ran out fails
/// with: std's error on Linux, where the kernel's `SO_RCVTIMEO` makes the
/// call return `EAGAIN` (`ErrorKind::WouldBlock`, "Resource temporarily
/// unavailable"), so code written for std's timeouts keeps working.
#[cold]
fn timeout_error() -> io::Error {
    io::Error::from_raw_os_error(libc::EAGAIN)
}

/// What an operation fails with once its direction's deadline has passed
/// (Go's `os.ErrDeadlineExceeded`, std's kind for it: `TimedOut`).
#[cold]
fn deadline_exceeded(dir: Direction) -> io::Error {
    let what = match dir {
        Direction::Read => "read",
        Direction::Write => "write",
    };
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} deadline exceeded"))
}

/// One direction's deadline: nanoseconds since [`epoch`] plus one, 0 for
/// none, so that the operations that find none pay one relaxed load.
///
/// Relaxed is enough: a waiter reads it under the registration's lock,
/// which [`IoSource::set_deadline`] takes after storing (see there); an
/// operation that starts later is ordered after the store by whatever
/// made it later (program order, or the synchronisation that told its
/// goroutine the deadline was set).
#[derive(Default)]
struct Deadline(AtomicU64);

impl Deadline {
    fn set(&self, at: Option<Instant>) {
        let encoded = at.map_or(0, |at| {
            let nanos = at.saturating_duration_since(epoch()).as_nanos();
            nanos.min(u128::from(u64::MAX - 1)) as u64 + 1
        });
        self.0.store(encoded, Ordering::Relaxed);
    }

    #[inline]
    fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    #[inline]
    fn get(&self) -> Option<Instant> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            // Past what an Instant holds: as good as never.
            n => epoch().checked_add(Duration::from_nanos(n - 1)),
        }
    }
}

/// The instant deadlines are counted from: the first use. A deadline set
/// before it is stored as the epoch itself, which has passed too.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        scheduler::reactor().deregister(&mut self.source, &self.sio);
    }
}

/// What a wait for `dir` readiness of a byte stream shows in the dump.
fn io_wait(dir: Direction) -> WaitReason {
    match dir {
        Direction::Read => WaitReason::IoRead,
        Direction::Write => WaitReason::IoWrite,
    }
}
