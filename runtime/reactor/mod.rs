//! The mio poller (Go's netpoll): readiness in, wakers out. It calls
//! nothing above it: [`Poller::poll`] records each event in its
//! registration's per-direction readiness and hands back the waiters it
//! woke, and the caller (the scheduler, `scheduler/netpoll.rs`) unparks
//! them. The reactor is generic over who is woken (`W`), so it never names
//! a goroutine or the scheduler; waiting for readiness (try the syscall,
//! park on `WouldBlock`) lives above the scheduler, in
//! `io/registration.rs`. Timers are the scheduler's (`scheduler/timer.rs`).
//!
//! # The poller
//!
//! One mio `Poll` for the process, behind a mutex: whoever holds it polls.
//! Workers that run out of work poll without blocking, the idle worker
//! that watches timers blocks in [`Poller::poll`] until the next timer is
//! due, and new work wakes it with the mio `Waker` ([`Reactor::wake_poller`];
//! the scheduler decides when). The monitor thread polls when nobody has
//! for 1 ms, so busy workers cannot starve I/O. There is no I/O thread.
//!
//! mio is edge-triggered; `slots.rs` turns edges into a "ready" flag per
//! direction (`readiness.rs`) that a waiter consumes before it retries its
//! syscall, so readiness that arrives between a `WouldBlock` and the park
//! is kept.

mod readiness;
mod slots;

pub(crate) use slots::{Direction, ScheduledIo};

use mio::event::Source;
use mio::{Events, Poll, Token, Waker};
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slots::Slots;

/// The token of the reactor's own waker.
const WAKER: Token = Token(usize::MAX);

/// The poller and its table of registrations; `W` is who a readiness edge
/// wakes (the scheduler's `Unparker`).
pub(crate) struct Reactor<W> {
    poller: Mutex<(Poll, Events)>,
    registry: mio::Registry,
    waker: Waker,
    slots: Slots<W>,
    /// When the last poll finished, as nanoseconds since `epoch`.
    last_poll: AtomicU64,
    epoch: Instant,
}

/// Goroutines and threads parked on readiness right now. A plain static,
/// not a field of the reactor, so that the scheduler can ask
/// [`has_waiters`] before anyone has created the reactor (and its epoll
/// instance) with one load.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Polls made and I/O events they saw (the waker's not counted), for the
/// metrics. Written only while holding the poller (one writer at a time:
/// a relaxed load and store, no locked instruction); statics, like
/// [`WAITING`], so reading them never creates the reactor.
static POLLS: AtomicU64 = AtomicU64::new(0);
static EVENTS: AtomicU64 = AtomicU64::new(0);

/// Polls made so far and the I/O events they returned.
pub(crate) fn poll_counts() -> (u64, u64) {
    (
        POLLS.load(Ordering::Relaxed),
        EVENTS.load(Ordering::Relaxed),
    )
}

/// Goroutines and threads parked on readiness right now.
pub(crate) fn waiters() -> usize {
    WAITING.load(Ordering::Relaxed)
}

/// Whether any goroutine or thread waits on I/O: only then is polling worth
/// a system call, and only then can I/O wake anyone.
#[inline]
pub(crate) fn has_waiters() -> bool {
    WAITING.load(Ordering::SeqCst) > 0
}

/// A waiter is about to park on readiness (counted before it parks, so a
/// worker that goes idle after this sees it and watches the poller).
#[inline]
pub(crate) fn waiter_parks() {
    WAITING.fetch_add(1, Ordering::SeqCst);
}

/// A waiter counted by [`waiter_parks`] is back from its park.
#[inline]
pub(crate) fn waiter_returns() {
    WAITING.fetch_sub(1, Ordering::SeqCst);
}

impl<W> Reactor<W> {
    /// Creates the epoll instance and its waker. Panics if the kernel
    /// refuses (fd exhaustion at start-up): without a poller no socket can
    /// work.
    pub(crate) fn new() -> Reactor<W> {
        let poll = Poll::new().expect("goro: cannot create the epoll instance");
        let registry = poll
            .registry()
            .try_clone()
            .expect("goro: cannot clone the mio registry");
        let waker =
            Waker::new(poll.registry(), WAKER).expect("goro: cannot create the reactor waker");
        Reactor {
            poller: Mutex::new((poll, Events::with_capacity(1024))),
            registry,
            waker,
            slots: Slots::default(),
            last_poll: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// The right to poll, if nobody holds it: only one thread may ever wait
    /// for the poller, because the waker's wake-up reaches the thread
    /// inside `epoll_wait`, not one queued on the lock.
    pub(crate) fn try_poller(&self) -> Option<Poller<'_, W>> {
        self.poller.try_lock().map(|guard| Poller {
            reactor: self,
            guard,
        })
    }

    /// Interrupts a blocking [`Poller::poll`].
    pub(crate) fn wake_poller(&self) {
        if let Err(e) = self.waker.wake() {
            // The eventfd cannot fail short of fd exhaustion at creation; a
            // failure here would strand the poller, so say so.
            crate::fatal::eprint(format_args!("goro: reactor waker failed: {e}\n"));
        }
    }

    /// How long since anyone polled.
    pub(crate) fn since_last_poll(&self) -> Duration {
        let last = self.last_poll.load(Ordering::Relaxed);
        let now = self.epoch.elapsed().as_nanos() as u64;
        Duration::from_nanos(now.saturating_sub(last))
    }

    /// Registers `source` (readable and writable, edge-triggered) and
    /// returns its entry, whose readiness the poller keeps from now on.
    pub(crate) fn register(&self, source: &mut impl Source) -> io::Result<Arc<ScheduledIo<W>>> {
        let sio = self.slots.insert();
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = self.registry.register(source, Token(sio.token()), interest) {
            self.slots.remove(sio.token());
            return Err(e);
        }
        Ok(sio)
    }

    /// Undoes [`register`](Self::register): no event reaches `sio` after
    /// this, even one already in flight for its token.
    pub(crate) fn deregister(&self, source: &mut impl Source, sio: &ScheduledIo<W>) {
        let _ = self.registry.deregister(source);
        self.slots.remove(sio.token());
    }
}

/// The right to poll (see [`Reactor::try_poller`]).
pub(crate) struct Poller<'a, W> {
    reactor: &'a Reactor<W>,
    guard: parking_lot::MutexGuard<'a, (Poll, Events)>,
}

impl<W> Poller<'_, W> {
    /// Waits for I/O, the waker, or `timeout` (`Some(ZERO)`: only looks;
    /// computed by the caller *after* taking the poller, so it reflects the
    /// latest timer), records every event's readiness and appends the
    /// waiters it woke to `woken`, for the caller to unpark.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>, woken: &mut Vec<W>) {
        let r = self.reactor;
        let (poll, events) = &mut *self.guard;
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                crate::fatal::eprint(format_args!("goro: epoll_wait failed: {e}\n"));
            }
            return;
        }
        r.last_poll
            .store(r.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
        let mut seen = 0;
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            seen += 1;
            r.slots.dispatch(event, woken);
        }
        // Under the poller's lock: one writer at a time.
        POLLS.store(POLLS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        EVENTS.store(EVENTS.load(Ordering::Relaxed) + seen, Ordering::Relaxed);
    }
}
