//! The wake-up handshake of [`ShmRing`](super::ShmRing): how a waiter
//! and the end that will satisfy it agree, with no lock between them and
//! in different processes, that a doorbell must ring. It never rings nor
//! parks by itself: `ring.rs` does, with what these functions decide.
//!
//! It is Dekker's handshake, with SeqCst fences:
//!
//! ```text
//! waiter:  waiters += 1; fence; check the ring      -> park if not ready
//! waker:   store head/tail;  fence; load waiters    -> ring if not 0
//! ```
//!
//! In the fences' single total order, either the waiter's fence comes
//! first (so the waker's load sees its count and rings) or the waker's
//! comes first (so the waiter's check sees the store and does not park).
//! Fences rather than SeqCst accesses, because C11 (and loom, which
//! checks this file in `tests/loom_shm_ring.rs`) gives the store-buffer
//! guarantee to fences between relaxed accesses, while loom models SeqCst
//! accesses as AcqRel (tokio-rs/loom#180); on x86 it is one `mfence` where
//! the accesses would have taken one `xchg`.
//!
//! A parked waiter's try ([`check_or_drain`]) checks the ring, drains the
//! doorbell and checks again: a byte rung before the drain is answered by
//! the second check, one rung after it makes the doorbell readable again.
//! Draining may take bytes rung for another waiter of the same doorbell;
//! for receivers, all alike (any message will do), `ring.rs` passes the
//! turn on: a receiver that takes a message and sees another queued rings
//! again if anyone waits. Senders differ (each needs its own room), so
//! only one waits on the doorbell at a time, the one holding the send
//! lock.
//!
//! The atomics come from a cfg switch (loom's only in a loom test crate,
//! `cfg(all(loom, test))`), so the loom model runs this file unchanged.

#[cfg(all(loom, test))]
use loom::sync::atomic::{fence, AtomicU32, Ordering};
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{fence, AtomicU32, Ordering};

use std::io;

/// A waiter counted in a doorbell's `waiters` until dropped.
pub(crate) struct Counted<'a>(&'a AtomicU32);

/// Counts the caller as a waiter, then fences: a check of the ring after
/// this sees every store whose waker did not see the count.
pub(crate) fn announce(waiters: &AtomicU32) -> Counted<'_> {
    // Relaxed: the fence orders it (module docs).
    waiters.fetch_add(1, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    Counted(waiters)
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        // Relaxed: a count that stays high a moment longer only costs a
        // needless ring.
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Called by a waker after the store that may satisfy waiters and before
/// it reads their counts with [`waiting`].
pub(crate) fn published() {
    fence(Ordering::SeqCst);
}

/// Whether anyone counts as waiting on this doorbell (after
/// [`published`]).
pub(crate) fn waiting(waiters: &AtomicU32) -> bool {
    // Relaxed: the fence in `published` orders it (module docs).
    waiters.load(Ordering::Relaxed) != 0
}

/// One try of a counted waiter (after [`announce`]): `Ok` if `ready()`,
/// before or after draining the doorbell (`drain`: `Ok` if it took
/// bytes, `WouldBlock` if there were none); else `WouldBlock`, to park
/// until the doorbell is readable again.
pub(crate) fn check_or_drain(
    ready: impl Fn() -> bool,
    drain: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    if ready() {
        return Ok(());
    }
    match drain() {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    if ready() {
        Ok(())
    } else {
        Err(io::ErrorKind::WouldBlock.into())
    }
}
