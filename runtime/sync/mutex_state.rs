//! The `Mutex` state byte and every transition on it, including the lock
//! slow path's loop; the wait queue it parks on is passed in.
//!
//! ```text
//!   0 / PARKED          --lock (CAS, Acquire)---------------> | LOCKED
//!   LOCKED              --unlock_fast (CAS, Release)--------> 0
//!   LOCKED              --announce_waiter (queue locked)----> LOCKED | PARKED
//!   LOCKED | PARKED     --release_contended (queue locked)--> 0 / PARKED (wake head to retry)
//!                                                      or --> LOCKED / LOCKED | PARKED (hand-off)
//! ```
//!
//! `PARKED` changes only under the wait queue's lock, and says the queue
//! is (or was just) non-empty: an unlock that sees it takes the slow path
//! and wakes the head. `tests/loom_sync_mutex.rs` model-checks mutual
//! exclusion, no lost wake-up and the starvation hand-off with loom, which
//! is why the atomics come from a cfg switch (loom's only in a loom test
//! crate, `cfg(all(loom, test))`) and this file imports nothing else. It
//! never parks by itself: the caller's `wait` does.

#[cfg(all(loom, test))]
use loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{AtomicU8, Ordering};

/// Someone owns the lock.
const LOCKED: u8 = 1;
/// The wait queue is (or was just) non-empty, so unlock must take the slow
/// path and wake someone. Set and cleared only under the queue lock.
const PARKED: u8 = 2;

/// Spin rounds before queueing (each twice as long as the last).
const SPIN_ROUNDS: u32 = 4;

/// How one wait in [`MutexState::lock_contended`] ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Waited {
    /// The unlocker handed the lock over: it is ours.
    Owned,
    /// The lock was released and we were woken to compete for it.
    Retry,
    /// The deadline passed while we were queued; we left the queue.
    GaveUp,
}

/// The state byte of one `Mutex`.
pub(crate) struct MutexState(AtomicU8);

impl MutexState {
    /// Unlocked, nobody queued.
    #[cfg(not(all(loom, test)))]
    pub(crate) const fn new() -> Self {
        MutexState(AtomicU8::new(0))
    }

    /// Unlocked, nobody queued (loom's atomics have no `const fn new`).
    #[cfg(all(loom, test))]
    pub(crate) fn new() -> Self {
        MutexState(AtomicU8::new(0))
    }

    /// `try_lock`: takes the lock if it is free right now, whether or not
    /// someone is queued (no fairness promise for a try).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let mut s = self.0.load(Ordering::Relaxed);
        loop {
            if s & LOCKED != 0 {
                return false;
            }
            // Acquire: see the previous holder's writes to the data.
            match self
                .0
                .compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Whether someone holds the lock (a racy snapshot).
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.0.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// The lock fast path: `0 -> LOCKED`. False: take [`Self::lock_contended`].
    #[inline]
    pub(crate) fn lock_fast(&self) -> bool {
        // Acquire: see the previous holder's writes to the data.
        self.0
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// The unlock fast path: `LOCKED -> 0`. False: someone is queued; take
    /// the slow path ([`Self::release_contended`] under the queue lock).
    #[inline]
    pub(crate) fn unlock_fast(&self) -> bool {
        // Release: publish our writes to the next holder.
        self.0
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    /// The lock slow path: spins a little, then queues and parks until it
    /// owns the lock. `lock_queue` locks the wait queue; `wait(queue,
    /// front)` queues the caller (at the front if `front`: a woken waiter
    /// that lost keeps its seniority), unlocks the queue, parks until
    /// woken or its deadline, and says how it ended. Returns whether the
    /// lock is ours: false only after [`Waited::GaveUp`], which `wait`
    /// reports only once it has left the queue with no verdict, so no
    /// hand-off and no wake-up was meant for it.
    #[inline]
    pub(crate) fn lock_contended<Q>(
        &self,
        mut lock_queue: impl FnMut() -> Q,
        mut wait: impl FnMut(Q, bool) -> Waited,
    ) -> bool {
        let mut front = false;
        let mut spins = 0;
        loop {
            let s = self.0.load(Ordering::Relaxed);
            if s & LOCKED == 0 {
                // Acquire: see the previous holder's writes to the data.
                if self
                    .0
                    .compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            // Nobody queued yet: the holder may be about to unlock on another
            // worker. Spin a little before paying for a park.
            if s & PARKED == 0 && spins < SPIN_ROUNDS {
                spins += 1;
                for _ in 0..(1u32 << spins) {
                    std::hint::spin_loop();
                }
                continue;
            }
            let q = lock_queue();
            if !self.announce_waiter() {
                continue;
            }
            match wait(q, front) {
                Waited::Owned => return true,
                Waited::GaveUp => return false,
                // Woken to compete: the loop tries the lock at once (even
                // past a deadline: the unlocker woke nobody else); if we
                // lose, we requeue at the front.
                Waited::Retry => {
                    front = true;
                    spins = 0;
                }
            }
        }
    }

    /// Under the queue lock, before queueing: sets `PARKED` if the lock is
    /// still held. False if it was released meanwhile (retry from the top);
    /// true: the holder's unlock will see `PARKED` and find us in the queue
    /// (it takes the same queue lock).
    #[inline]
    fn announce_waiter(&self) -> bool {
        let s = self.0.load(Ordering::Relaxed);
        s & LOCKED != 0
            && (s & PARKED != 0
                || self
                    .0
                    .compare_exchange(s, s | PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok())
    }

    /// Unlock's slow path, under the queue lock, before the caller wakes
    /// the queue head: `hand_off` (the head is starving) keeps the lock
    /// `LOCKED` for the head, so no newcomer can barge in; otherwise it
    /// releases the lock and the head competes for it. `more_waiters`:
    /// someone stays queued behind the head, so `PARKED` stays set. Nobody
    /// else changes the state meanwhile: `LOCKED` is ours, so lockers only
    /// fail their CAS, and `PARKED` changes only under the queue lock.
    #[inline]
    pub(crate) fn release_contended(&self, hand_off: bool, more_waiters: bool) {
        let rest = if more_waiters { PARKED } else { 0 };
        if hand_off {
            // The state must be final before the verdict: the new owner may
            // unlock at once. Relaxed: the verdict's Release publishes our
            // writes to the head.
            self.0.store(LOCKED | rest, Ordering::Relaxed);
        } else {
            // Release: publish our writes to whoever locks next.
            self.0.store(rest, Ordering::Release);
        }
    }
}
