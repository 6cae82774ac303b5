//! The waiter record (Go's `sudog`): how a blocked send, receive or select
//! is found, claimed and completed by the goroutine or thread that unblocks
//! it.
//!
//! A blocked operation owns one [`Waiter`] on its own stack frame and puts
//! one [`Entry`] per channel it waits on into that channel's wait queue (a
//! plain send or receive: one entry; a select: one per arm). Every entry
//! points at the same waiter, so the waiter's `state` word decides, once,
//! which channel completes the operation:
//!
//! ```text
//!   WAITING --claim (CAS, by a peer holding that channel's lock)--> CLAIMED
//!   CLAIMED --peer moved the value, then store(Release)---------> DONE + i
//!   WAITING --abort (CAS, by the owner: timeout)----------------> ABORTED
//! ```
//!
//! A peer that claimed a receiver but then backs out (a dynamic select's
//! chosen send, dropped before it was given its value) completes it with
//! [`RETRY`]: the owner then starts its operation again from the top.
//!
//! A peer that fails the claim skips (and drops) the entry: it is dead. So
//! an arm that lost a select never receives or sends anything, and the
//! owner removes its remaining entries, under each channel's lock, before
//! its frame goes away.
//!
//! # Why the waiter may live on the owner's stack
//!
//! Entries hold raw pointers to the waiter and to the value slot, both on
//! the owner's stack. A peer dereferences them only while holding the lock
//! of a channel whose queue still holds the entry. The owner leaves its
//! frame only after (a) it saw `DONE` (Acquire), which the peer stores as
//! its last access to the frame (it moved the unparker out before), or it
//! won the abort CAS, and (b) it removed every entry it still had in a
//! queue, under that queue's lock. After (a) and (b) no queue points into
//! the frame, and no peer is between a claim and its `DONE`. Between
//! queueing and removal only runtime code runs (park, timers), which does
//! not unwind, so no early exit can skip (b); no user code runs there
//! (a select's arm bodies run after it).
//!
//! This module never parks or blocks by itself; it only names states.
//! `tests/loom_chan_waiter.rs` model-checks the state word with loom, which
//! is why the atomics and the cell come from a cfg switch (loom's only in a
//! loom test crate, `cfg(all(loom, test))`, which also stands in for
//! `crate::scheduler::Unparker`).

use std::mem::ManuallyDrop;

#[cfg(all(loom, test))]
use loom::cell::UnsafeCell;
#[cfg(all(loom, test))]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::scheduler::Unparker;

/// std's `UnsafeCell` behind loom's access API, so the code below is the
/// same code under the model checker.
#[cfg(not(all(loom, test)))]
struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(all(loom, test)))]
impl<T> UnsafeCell<T> {
    #[inline]
    fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    #[inline]
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Nobody has claimed the operation yet.
const WAITING: usize = 0;
/// A peer won the claim and is moving the value.
const CLAIMED: usize = 1;
/// The owner gave up (timeout); peers must skip its entries.
const ABORTED: usize = 2;
/// `DONE + i`: completed through the entry with index `i`.
const DONE: usize = 3;
/// The index a backed-out peer completes a waiter with: nothing moved, the
/// owner must try its operation again (`DONE + RETRY` is `usize::MAX`).
pub(crate) const RETRY: usize = usize::MAX - DONE;

/// One blocked operation: a state word and who to wake.
pub(crate) struct Waiter {
    state: AtomicUsize,
    /// False for a plain send or receive without deadline: its single
    /// entry can only be claimed by the one peer that dequeues it, so the
    /// claim needs no compare-exchange (the common, fast case).
    contended: bool,
    /// Moved out by the peer that completes the operation (no reference
    /// count traffic on the hot path); dropped by the owner otherwise.
    unparker: UnsafeCell<ManuallyDrop<Unparker>>,
}

impl Waiter {
    /// A waiter for `unparker`'s goroutine or thread. `contended`: it may
    /// be claimed by several peers (select) or aborted (deadline).
    pub(crate) fn new(unparker: Unparker, contended: bool) -> Self {
        Waiter {
            state: AtomicUsize::new(WAITING),
            contended,
            unparker: UnsafeCell::new(ManuallyDrop::new(unparker)),
        }
    }

    /// Peer side: WAITING -> CLAIMED. On success the caller must move the
    /// value and then call [`Waiter::complete`]. Acquire: the owner's
    /// writes to the slot (the value it sends) happen before (they also
    /// happen before through the channel lock the peer holds).
    #[inline]
    pub(crate) fn try_claim(&self) -> bool {
        if !self.contended {
            // Only the peer that just dequeued the single entry can get
            // here, and the owner cannot abort: the claim is ours.
            debug_assert_eq!(self.state.load(Ordering::Relaxed), WAITING);
            return true;
        }
        self.state
            .compare_exchange(WAITING, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Peer side, after a successful claim and the value move: publishes
    /// `DONE + index` and returns the unparker to call once the channel
    /// lock is released. The store is the peer's last access to the waiter
    /// (the owner may return as soon as it sees it), so the unparker is
    /// moved out first. Release: the slot writes happen before.
    #[inline]
    pub(crate) fn complete(&self, index: usize) -> Unparker {
        // SAFETY: the caller won the claim, so no one else reads or moves
        // the unparker until DONE is published; the owner's Drop leaves a
        // DONE waiter's unparker alone, so it is moved out exactly once.
        let wake = self
            .unparker
            .with_mut(|u| unsafe { ManuallyDrop::take(&mut *u) });
        self.state.store(DONE + index, Ordering::Release);
        wake
    }

    /// Owner side: WAITING -> ABORTED. Fails if a peer claimed first; the
    /// owner must then wait for [`Waiter::done`].
    pub(crate) fn try_abort(&self) -> bool {
        debug_assert!(self.contended, "aborting a waiter made without a deadline");
        self.state
            .compare_exchange(WAITING, ABORTED, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
    }

    /// Whether no peer has claimed the waiter and its owner has not given
    /// up: a snapshot, for readiness probes under the channel lock.
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    /// Owner side: the index of the entry that completed the operation, if
    /// done. Acquire: pairs with the Release in [`Waiter::complete`].
    #[inline]
    pub(crate) fn done(&self) -> Option<usize> {
        let s = self.state.load(Ordering::Acquire);
        (s >= DONE).then(|| s - DONE)
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.done().is_none() {
            // Never completed (try mode, or aborted): the unparker is ours.
            // SAFETY: no peer completed it, so it was never moved out, and
            // `&mut self` means no peer can still reach it.
            self.unparker
                .with_mut(|u| unsafe { ManuallyDrop::drop(&mut *u) })
        }
    }
}

/// A waiter's place in one channel's wait queue.
pub(crate) struct Entry<T> {
    pub(crate) waiter: *const Waiter,
    /// A blocked sender's value (taken by the receiver: left `Some` on
    /// close), or the place a blocked receiver gets its value (left `None`
    /// on close).
    pub(crate) slot: *mut Option<T>,
    /// Which arm of the owner's select this entry is (0 outside select).
    pub(crate) index: usize,
}

impl<T> Entry<T> {
    /// The waiter behind this entry.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the channel whose queue holds (or held
    /// until this call) the entry: see the module docs.
    #[inline]
    pub(crate) unsafe fn waiter(&self) -> &Waiter {
        // SAFETY: per this function's contract, the owner has not removed
        // the entry yet, so its frame (and the waiter in it) is alive.
        unsafe { &*self.waiter }
    }
}
