//! The channel itself (Go's `hchan`): a ring buffer of `cap` values and two
//! wait queues, all behind one lock, for buffered and unbuffered channels
//! alike, unbounded ones (`cap` = [`UNBOUNDED`]: the buffer grows, so a
//! send never waits) and `never()`'s (no sender, and it cannot be closed).
//!
//! Go's algorithm, unchanged:
//!
//! * send: a closed channel refuses the value; a waiting receiver takes it
//!   directly (copied into its slot); else the buffer takes it if not full;
//!   else the sender queues a waiter and parks.
//! * receive: the buffer's head, refilled from the first waiting sender (so
//!   FIFO order holds); else a waiting sender's value directly (the
//!   unbuffered rendezvous); else `Closed` if closed; else the receiver
//!   queues a waiter and parks.
//! * close: every queued receiver completes with nothing, every queued
//!   sender completes with its value still in its slot (it reports
//!   `SendError(value)`).
//!
//! One flavour covers capacity zero, capacity `n` and unbounded because
//! the only difference is the buffer size (a `VecDeque` grows; the bounded
//! send's `len < limit` test is the same instruction whatever the limit): a lock-free array flavour (crossbeam's)
//! would need a second wake-up protocol for select, and the lock here is
//! uncontended in the ping-pong case that matters most. Wait queues hold
//! [`Entry`]s whose waiters may already be claimed elsewhere (a select that
//! won on another channel) or aborted (a timeout): such entries are dead and
//! dropped when met.
//!
//! An entry whose slot is null is a *watcher* (`select_dynamic.rs`: a
//! [`Select`](crate::Select) send arm waiting for room or a receiver, or
//! `Select::ready`): it moves no value and only wants to look again. A peer
//! that meets one in [`State::claim_first`] wakes it and goes on to the
//! next entry.
//!
//! Every function that returns an [`Unparker`] expects the caller to call
//! it *after* releasing the lock. Nothing here parks: `mod.rs` and
//! `select.rs` do.

use parking_lot::lock_api::RawMutex as _;
use parking_lot::RawMutex;
use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::waiter::{Entry, Waiter};
use crate::scheduler::Unparker;

/// The capacity of an unbounded channel: the buffer never counts as full
/// (memory runs out long before `usize::MAX` values).
pub(crate) const UNBOUNDED: usize = usize::MAX;

/// Shared by every `Sender` and `Receiver` of one channel.
pub(crate) struct Chan<T> {
    lock: RawMutex,
    state: UnsafeCell<State<T>>,
    cap: usize,
    /// False only for `never()`'s channel, which stays open whatever its
    /// receivers do (Go's nil channel cannot be closed either).
    closable: bool,
    /// Mirrors `State::closed` for lock-free reads (`is_closed`).
    closed: AtomicBool,
    pub(crate) senders: AtomicUsize,
    pub(crate) receivers: AtomicUsize,
}

// SAFETY: `state` is only reached through `lock`, which serialises access
// from any thread; values of T move between threads, hence T: Send.
unsafe impl<T: Send> Sync for Chan<T> {}
// SAFETY: as above; the raw pointers in the wait queues point at waiters
// whose owners are blocked until the entries are removed (waiter.rs).
unsafe impl<T: Send> Send for Chan<T> {}

/// What is behind the lock.
pub(crate) struct State<T> {
    buf: VecDeque<T>,
    /// How many values the buffer may hold now: the capacity, less the
    /// slots a [`Select`](crate::Select) reserved for sends it chose but
    /// whose value it has not been given yet (`reserve_send`).
    limit: usize,
    closed: bool,
    sendq: VecDeque<Entry<T>>,
    recvq: VecDeque<Entry<T>>,
    /// Run once the last receiver is dropped: lets a timer that feeds the
    /// channel (`time::after`) be cancelled instead of firing into the
    /// void (and keeping its slot in the timer set) until its deadline.
    pub(crate) on_abandon: Option<Box<dyn FnOnce() + Send>>,
}

/// Why a non-blocking send did not complete.
pub(crate) enum SendFail<T> {
    Full(T),
    Closed(T),
}

/// Why a non-blocking receive did not complete.
pub(crate) enum RecvFail {
    Empty,
    Closed,
}

/// What a dynamic select's chosen send arm holds until it is given the
/// value (`select_dynamic.rs`).
pub(crate) enum SendReservation<T> {
    /// The channel was closed: the send will fail.
    Closed,
    /// A receiver, claimed and dequeued: it waits for the value.
    Receiver(Entry<T>),
    /// One buffer slot, taken off `limit`.
    Room,
}

/// The locked channel. Unlocks on drop.
pub(crate) struct Guard<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = State<T>;
    fn deref(&self) -> &State<T> {
        // SAFETY: a Guard exists only while `lock` is held by its creator.
        unsafe { &*self.chan.state.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut State<T> {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.chan.state.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the Guard was created by locking `lock` on this thread
        // (or this goroutine, which cannot switch out while holding it:
        // nothing under the lock parks).
        unsafe { self.chan.lock.unlock() }
    }
}

impl<T> Chan<T> {
    /// A channel of capacity `cap` ([`UNBOUNDED`]: no limit).
    pub(crate) fn new(cap: usize) -> Self {
        let buffered = if cap == UNBOUNDED { 0 } else { cap.min(1024) };
        Chan {
            lock: RawMutex::INIT,
            state: UnsafeCell::new(State {
                buf: VecDeque::with_capacity(buffered),
                limit: cap,
                closed: false,
                sendq: VecDeque::new(),
                recvq: VecDeque::new(),
                on_abandon: None,
            }),
            cap,
            closable: true,
            closed: AtomicBool::new(false),
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
        }
    }

    /// `never()`'s channel: unbuffered, no sender (none can be made: only
    /// a `Receiver` is handed out), and closing it is refused, so nothing
    /// ever completes a receive on it.
    pub(crate) fn never() -> Self {
        Chan {
            closable: false,
            senders: AtomicUsize::new(0),
            ..Chan::new(0)
        }
    }

    /// The channel's address: what `dump()` names as waited on.
    #[inline]
    pub(crate) fn address(&self) -> usize {
        self as *const Chan<T> as usize
    }

    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.lock.lock();
        Guard { chan: self }
    }

    /// Takes the lock without a guard (select locks several channels).
    #[inline]
    pub(crate) fn raw_lock(&self) {
        self.lock.lock();
    }

    /// # Safety
    ///
    /// The caller took the lock with [`Chan::raw_lock`] and holds no
    /// reference obtained from [`Chan::locked`].
    #[inline]
    pub(crate) unsafe fn raw_unlock(&self) {
        // SAFETY: per the contract, the lock is held by this caller.
        unsafe { self.lock.unlock() }
    }

    /// The state, for a caller that took the lock with `raw_lock`.
    ///
    /// # Safety
    ///
    /// The lock is held by the caller, and the reference does not outlive
    /// the matching `raw_unlock` nor coexist with another from here.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn locked(&self) -> &mut State<T> {
        // SAFETY: per the contract, the lock serialises this access.
        unsafe { &mut *self.state.get() }
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release in `close`; a stale `false` is
        // acceptable (Go's closed check is a snapshot too).
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the channel. Returns false if it was closed already, or is
    /// `never()`'s.
    pub(crate) fn close(&self) -> bool {
        if !self.closable {
            return false;
        }
        let mut wake = Vec::new();
        {
            let mut st = self.lock();
            if st.closed {
                return false;
            }
            st.closed = true;
            self.closed.store(true, Ordering::Release);
            while let Some(e) = st.recvq.pop_front() {
                // SAFETY: we hold the lock and the entry was in the queue.
                let w = unsafe { e.waiter() };
                if w.try_claim() {
                    // The receiver's slot stays None: "closed".
                    wake.push(w.complete(e.index));
                }
            }
            while let Some(e) = st.sendq.pop_front() {
                // SAFETY: as above.
                let w = unsafe { e.waiter() };
                if w.try_claim() {
                    // The sender's value stays in its slot: it gets it back.
                    wake.push(w.complete(e.index));
                }
            }
            // Buffered values stay for receivers to drain (or until the
            // last receiver is dropped: `Receiver`'s drop).
        }
        for u in wake {
            u.unpark();
        }
        true
    }
}

impl<T> State<T> {
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Empties the buffer and returns what it held, for the caller to drop
    /// once unlocked (a value's drop may use this very channel).
    pub(crate) fn take_buffered(&mut self) -> VecDeque<T> {
        std::mem::take(&mut self.buf)
    }

    /// The first waiter in `q` that this caller managed to claim; dead
    /// entries in front of it are dropped, watchers are woken and dropped.
    #[inline]
    fn claim_first(q: &mut VecDeque<Entry<T>>) -> Option<Entry<T>> {
        while let Some(e) = q.pop_front() {
            // SAFETY: the caller holds the lock (State is only reachable
            // through it) and `e` was in the queue.
            let waiter = unsafe { e.waiter() };
            if waiter.try_claim() {
                if e.slot.is_null() {
                    // A watcher: it will look again once woken. Woken
                    // under the lock, unlike every other wake here (they
                    // are handed back to the caller), to keep the hot
                    // paths' return types one `Option<Unparker>`; unpark
                    // only queues a goroutine or unparks a thread and
                    // never takes a channel lock, so this cannot deadlock,
                    // and watchers are rare (dynamic selects only).
                    waiter.complete(e.index).unpark();
                    continue;
                }
                return Some(e);
            }
        }
        None
    }

    /// Non-blocking send. On success, returns the receiver to wake.
    #[inline]
    pub(crate) fn try_send(&mut self, value: T) -> Result<Option<Unparker>, SendFail<T>> {
        if self.closed {
            return Err(SendFail::Closed(value));
        }
        if let Some(e) = Self::claim_first(&mut self.recvq) {
            // SAFETY: we claimed the receiver's waiter under the lock, so
            // its slot is ours to write until we complete it.
            unsafe { *e.slot = Some(value) };
            // SAFETY: lock held, entry claimed by us.
            return Ok(Some(unsafe { e.waiter() }.complete(e.index)));
        }
        if self.buf.len() < self.limit {
            self.buf.push_back(value);
            return Ok(None);
        }
        Err(SendFail::Full(value))
    }

    /// Non-blocking receive. On success, returns the value and the sender
    /// to wake, if one was waiting.
    #[inline]
    pub(crate) fn try_recv(&mut self) -> Result<(T, Option<Unparker>), RecvFail> {
        if let Some(v) = self.buf.pop_front() {
            // Refill the slot we freed from the first waiting sender.
            let wake = Self::claim_first(&mut self.sendq).map(|e| {
                // SAFETY: claimed under the lock: the slot is ours until
                // completion; a queued sender's slot always holds a value.
                let moved = unsafe { (*e.slot).take() };
                self.buf.extend(moved);
                // SAFETY: lock held, entry claimed by us.
                unsafe { e.waiter() }.complete(e.index)
            });
            return Ok((v, wake));
        }
        if let Some(e) = Self::claim_first(&mut self.sendq) {
            // SAFETY: as above.
            let v = unsafe { (*e.slot).take() }.expect("queued sender without a value");
            // SAFETY: lock held, entry claimed by us.
            return Ok((v, Some(unsafe { e.waiter() }.complete(e.index))));
        }
        if self.closed {
            Err(RecvFail::Closed)
        } else {
            Err(RecvFail::Empty)
        }
    }

    /// Queues a blocked sender whose value is in `*slot`.
    pub(crate) fn push_sender(&mut self, waiter: &Waiter, slot: *mut Option<T>, index: usize) {
        self.sendq.push_back(Entry {
            waiter,
            slot,
            index,
        });
    }

    /// Queues a blocked receiver that gets its value in `*slot`.
    pub(crate) fn push_receiver(&mut self, waiter: &Waiter, slot: *mut Option<T>, index: usize) {
        self.recvq.push_back(Entry {
            waiter,
            slot,
            index,
        });
    }

    /// Whether a receive would complete now (a value, a waiting sender, or
    /// closed), without doing it: `Select::ready`.
    pub(crate) fn recv_ready(&self) -> bool {
        !self.buf.is_empty() || self.closed || Self::any_live(&self.sendq)
    }

    /// Whether a send would complete now (room, a waiting receiver, or
    /// closed: the send fails at once), without doing it.
    pub(crate) fn send_ready(&self) -> bool {
        self.closed || self.buf.len() < self.limit || Self::any_live(&self.recvq)
    }

    /// Whether `q` holds an entry that is not a watcher and not claimed.
    fn any_live(q: &VecDeque<Entry<T>>) -> bool {
        q.iter().any(|e| {
            // SAFETY: the caller holds the lock and `e` is in the queue.
            !e.slot.is_null() && unsafe { e.waiter() }.is_waiting()
        })
    }

    /// Chooses a send whose value comes later (`SelectedOperation::send`):
    /// reserves what will let it complete without waiting, or `None` if
    /// a send would wait now.
    pub(crate) fn reserve_send(&mut self) -> Option<SendReservation<T>> {
        if self.closed {
            return Some(SendReservation::Closed);
        }
        if let Some(e) = Self::claim_first(&mut self.recvq) {
            return Some(SendReservation::Receiver(e));
        }
        if self.buf.len() < self.limit {
            self.limit -= 1;
            return Some(SendReservation::Room);
        }
        None
    }

    /// Sends `value` into the slot [`State::reserve_send`] reserved
    /// (`Room`). Fails only if the channel was closed since.
    pub(crate) fn send_reserved(&mut self, value: T) -> Result<Option<Unparker>, T> {
        self.limit += 1;
        match self.try_send(value) {
            Ok(wake) => Ok(wake),
            Err(SendFail::Closed(v)) => Err(v),
            // While the slot was reserved nobody could fill the buffer past
            // `limit - 1`, so with the slot given back there is room.
            Err(SendFail::Full(_)) => unreachable!("a reserved buffer slot was taken"),
        }
    }

    /// Gives back a slot reserved by [`State::reserve_send`] that will not
    /// be used; a sender that queued because the buffer looked full takes
    /// it. Returns the sender to wake.
    pub(crate) fn release_reserved(&mut self) -> Option<Unparker> {
        self.limit += 1;
        let e = Self::claim_first(&mut self.sendq)?;
        // SAFETY: claimed under the lock: the slot is ours until completion;
        // a queued sender's slot holds its value.
        let moved = unsafe { (*e.slot).take() };
        self.buf.extend(moved);
        // SAFETY: lock held, entry claimed by us.
        Some(unsafe { e.waiter() }.complete(e.index))
    }

    /// Removes every entry of `waiter` from both queues.
    pub(crate) fn remove(&mut self, waiter: &Waiter) {
        let w: *const Waiter = waiter;
        self.sendq.retain(|e| !std::ptr::eq(e.waiter, w));
        self.recvq.retain(|e| !std::ptr::eq(e.waiter, w));
    }
}
