//! The scheduler's side of the poller (Go's `netpoll` glue): the process's
//! one [`Reactor`], and the polls the scheduler makes, which unpark
//! whatever the reactor hands back. The reactor itself (`reactor/`) sits
//! below the scheduler and calls nothing above it; this file is where its
//! wakers meet the run queues.
//!
//! Who polls: a worker that runs out of work ([`poll_now`]), the idle
//! worker that watches timers and I/O (blocking, through [`try_poller`]),
//! and sysmon when nobody has polled for 1 ms.

use std::sync::OnceLock;
use std::time::Duration;

use super::park::Unparker;
use super::trace;
use crate::reactor::{self, Reactor};

/// The reactor, created on first use (by the first registration: a
/// process without sockets or pipes never makes an epoll instance).
pub(crate) fn reactor() -> &'static Reactor<Unparker> {
    static REACTOR: OnceLock<Reactor<Unparker>> = OnceLock::new();
    REACTOR.get_or_init(Reactor::new)
}

/// Polls without blocking if no one else is polling, and unparks what it
/// woke. Returns how many waiters it woke.
///
/// This and [`wake_poller`] stay out of line: the find-work loop and
/// `wakep` reach them only when someone waits on I/O or sleeps in the
/// poller, and inlined they made LLVM spill more registers in the switch
/// loop around them (callgrind, `examples/hotpath.rs gosched`: 439 instead
/// of 435 instructions per round).
#[inline(never)]
pub(super) fn poll_now() -> usize {
    match reactor().try_poller() {
        Some(mut poller) => poll_and_unpark(&mut poller, Some(Duration::ZERO)),
        None => 0,
    }
}

/// The right to block in the poller, if nobody holds it (see
/// [`Reactor::try_poller`]).
pub(super) fn try_poller() -> Option<Poller> {
    reactor().try_poller().map(Poller)
}

/// The right to poll, held by a worker or sysmon.
pub(super) struct Poller(reactor::Poller<'static, Unparker>);

impl Poller {
    /// Blocks until I/O, the waker, or `timeout` (computed by the caller
    /// *after* taking the poller, so it reflects the latest timer), and
    /// unparks what it woke. Returns how many waiters it woke.
    pub(super) fn poll(mut self, timeout: Option<Duration>) -> usize {
        poll_and_unpark(&mut self.0, timeout)
    }
}

/// Polls, then unparks every waiter the poll woke, still holding the
/// poller.
#[inline(never)]
fn poll_and_unpark(poller: &mut reactor::Poller<'_, Unparker>, timeout: Option<Duration>) -> usize {
    let at = trace::on().then(trace::now);
    let mut woken = Vec::new();
    poller.poll(timeout, &mut woken);
    let n = woken.len();
    woken.into_iter().for_each(Unparker::unpark);
    if let Some(at) = at {
        trace::polled(at, n, timeout != Some(Duration::ZERO));
    }
    n
}

/// Interrupts a blocking [`Poller::poll`].
#[inline(never)]
pub(super) fn wake_poller() {
    reactor().wake_poller();
}

/// How long since anyone polled.
pub(super) fn since_last_poll() -> Duration {
    reactor().since_last_poll()
}
