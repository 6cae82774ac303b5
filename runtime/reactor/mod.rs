//! What wakes goroutines from outside the run queues: timers and I/O
//! readiness. Everything here wakes through `Unparker::unpark`; nothing
//! here runs goroutine code.
//!
//! # The poller (Go's netpoller)
//!
//! One mio `Poll` for the process, behind a mutex: whoever holds it polls.
//! Workers that run out of work poll without blocking (`poll_now`), the idle
//! worker that watches timers blocks in [`poll`] until the next timer is due,
//! and new work wakes it with the mio `Waker` (the scheduler decides when:
//! see `WorkerShared::unpark`). A plain thread that parks on I/O wakes an
//! idle worker to watch the poller if none does (`scheduler::watch_io`).
//! The monitor thread polls when nobody has for 10 ms, so busy workers
//! cannot starve I/O. There is no I/O thread.
//!
//! mio is edge-triggered; `registration.rs` turns edges into a "ready" flag
//! per direction that a goroutine consumes before it retries its syscall,
//! so readiness that arrives between a `WouldBlock` and the park is kept.

pub(crate) mod readiness;
pub(crate) mod timer;

use mio::{Events, Poll, Token, Waker};
use parking_lot::Mutex;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::scheduler::Unparker;
use crate::io::registration::Slots;

/// The token of the reactor's own waker.
const WAKER: Token = Token(usize::MAX);

pub(crate) struct Reactor {
    poller: Mutex<(Poll, Events)>,
    pub(crate) registry: mio::Registry,
    waker: Waker,
    pub(crate) slots: Slots,
    /// When the last poll finished, as nanoseconds since `epoch`.
    last_poll: AtomicU64,
    epoch: Instant,
}

/// The reactor, created on first use.
pub(crate) fn reactor() -> &'static Reactor {
    static REACTOR: OnceLock<Reactor> = OnceLock::new();
    REACTOR.get_or_init(|| {
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
    })
}

/// Goroutines and threads parked on readiness right now.
pub(crate) static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Whether any goroutine or thread waits on I/O: only then is polling worth
/// a system call, and only then can I/O wake anyone.
pub(crate) fn has_waiters() -> bool {
    WAITING.load(Ordering::SeqCst) > 0
}

/// Polls without blocking if no one else is polling. Returns how many
/// waiters it woke.
pub(crate) fn poll_now() -> usize {
    match reactor().poller.try_lock() {
        Some(mut guard) => run_poll(&mut guard, Some(Duration::ZERO)),
        None => 0,
    }
}

/// The right to block in the poller, if nobody holds it: only one thread
/// may ever wait for the poller, because the waker's wake-up reaches the
/// thread inside `epoll_wait`, not one queued on the lock.
pub(crate) struct Poller(parking_lot::MutexGuard<'static, (Poll, Events)>);

pub(crate) fn try_poller() -> Option<Poller> {
    reactor().poller.try_lock().map(Poller)
}

impl Poller {
    /// Blocks until I/O, the waker, or `timeout` (computed by the caller
    /// *after* taking the poller, so it reflects the latest timer).
    pub(crate) fn poll(mut self, timeout: Option<Duration>) -> usize {
        run_poll(&mut self.0, timeout)
    }
}

/// Interrupts a blocking [`Poller::poll`].
pub(crate) fn wake_poller() {
    if let Err(e) = reactor().waker.wake() {
        // The eventfd cannot fail short of fd exhaustion at creation; a
        // failure here would strand the poller, so say so.
        crate::fatal::eprint(format_args!("goro: reactor waker failed: {e}\n"));
    }
}

/// How long since anyone polled.
pub(crate) fn since_last_poll() -> Duration {
    let r = reactor();
    let last = r.last_poll.load(Ordering::Relaxed);
    let now = r.epoch.elapsed().as_nanos() as u64;
    Duration::from_nanos(now.saturating_sub(last))
}

fn run_poll(guard: &mut (Poll, Events), timeout: Option<Duration>) -> usize {
    let r = reactor();
    let (poll, events) = guard;
    if let Err(e) = poll.poll(events, timeout) {
        if e.kind() != io::ErrorKind::Interrupted {
            crate::fatal::eprint(format_args!("goro: epoll_wait failed: {e}\n"));
        }
        return 0;
    }
    r.last_poll
        .store(r.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
    let mut woken: Vec<Unparker> = Vec::new();
    for event in events.iter() {
        if event.token() == WAKER {
            continue;
        }
        r.slots.dispatch(event, &mut woken);
    }
    let n = woken.len();
    woken.into_iter().for_each(Unparker::unpark);
    n
}
