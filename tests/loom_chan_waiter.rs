//! Model checks (loom) of the channel waiter record's state word,
//! `runtime/chan/waiter.rs`, compiled here as it is in the crate.
//!
//! The owner (a blocked receive or select) keeps its `Waiter` and value
//! slot in a frame and has an entry in each channel's queue; peers (senders)
//! are loom threads that, under that channel's lock, take the entry, claim
//! the waiter, move their value into the slot, complete the waiter and
//! unpark the owner after unlocking, as `channel.rs` does. Checked in every
//! interleaving loom explores:
//! * exactly one peer completes the operation, or the owner aborts it and
//!   no peer does;
//! * the value the owner finds is the completing arm's (slot accesses are a
//!   loom `UnsafeCell`: a loser writing it, or a write not ordered before
//!   the owner's read, fails the model);
//! * after the owner saw DONE or won the abort and removed its entries, no
//!   peer touches the frame (`Frame::alive`);
//! * a peer that claims and then backs out (a dynamic select's chosen send
//!   dropped before its value came: it completes with `RETRY` after
//!   unlocking and locking again) leaves the slot empty and the owner sees
//!   `RETRY`, also when the owner's deadline races the claim.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_chan_waiter` (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

/// What `waiter.rs` wakes: here a loom thread.
mod scheduler {
    pub(crate) type Unparker = loom::thread::Thread;
}

#[path = "../runtime/chan/waiter.rs"]
#[allow(dead_code)] // `Entry` is the channels' business
mod waiter;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use waiter::Waiter;

/// The owner's stack frame: its waiter and value slot.
struct Frame {
    waiter: Waiter,
    slot: UnsafeCell<Option<usize>>,
    /// False once the frame is gone: a peer that reads it then (or not
    /// ordered after the owner's write) is a use after free.
    alive: UnsafeCell<bool>,
    /// Peers that completed the waiter (instrumentation, Relaxed).
    completed: AtomicUsize,
}

// SAFETY (model): the frame is shared the way channel entries share it:
// peers touch the waiter and the slot under a channel lock per the
// protocol under test, which loom checks.
unsafe impl Sync for Frame {}
unsafe impl Send for Frame {}

/// One channel: a spin lock over the owner's entry (the arm index), if
/// queued; it adds no ordering but Acquire to lock and Release to unlock.
struct Chan {
    locked: AtomicBool,
    entry: UnsafeCell<Option<usize>>,
}

impl Chan {
    fn new(index: usize) -> Chan {
        Chan {
            locked: AtomicBool::new(false),
            entry: UnsafeCell::new(Some(index)),
        }
    }

    /// Takes the entry, if still queued, under the lock; `f` runs with the
    /// lock held.
    fn take_entry<R>(&self, f: impl FnOnce(Option<usize>) -> R) -> R {
        while self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            thread::yield_now();
        }
        let entry = self.entry.with_mut(|e| unsafe { (*e).take() });
        let r = f(entry);
        self.locked.store(false, Ordering::Release);
        r
    }
}

// SAFETY (model): `entry` is only touched under `locked`.
unsafe impl Sync for Chan {}

/// Peer `arm`: under the channel lock, take the entry, claim, move the
/// value, complete; unpark after unlocking. With `back_out`, the peer
/// claims, unlocks, and later (under the lock again) completes with
/// `RETRY` without moving anything.
fn peer(frame: &Frame, chan: &Chan, back_out: bool) {
    let wake = chan.take_entry(|entry| {
        let index = entry?;
        frame
            .alive
            .with(|a| assert!(unsafe { *a }, "a peer touched a freed frame"));
        if !frame.waiter.try_claim() {
            return None; // dead entry: dropped
        }
        if back_out {
            return Some(None);
        }
        // SAFETY (model): loom checks this write is exclusive.
        frame.slot.with_mut(|s| unsafe { *s = Some(index) });
        frame.completed.fetch_add(1, Ordering::Relaxed);
        Some(Some(frame.waiter.complete(index)))
    });
    let wake = match wake {
        None => None,
        Some(Some(wake)) => Some(wake),
        // Claimed, lock released: now back out under the lock.
        Some(None) => chan.take_entry(|_| {
            frame
                .alive
                .with(|a| assert!(unsafe { *a }, "a backing-out peer touched a freed frame"));
            frame.completed.fetch_add(1, Ordering::Relaxed);
            Some(frame.waiter.complete(waiter::RETRY))
        }),
    };
    if let Some(wake) = wake {
        wake.unpark();
    }
}

/// The owner, after queueing an entry per channel: waits for DONE (or,
/// with `abort`, first tries to abort as a deadline would: `chan::wait`),
/// removes its leftover entries (a select always, a plain operation only
/// when it aborted), reads the slot and lets the frame go.
fn owner(frame: &Frame, chans: &[Arc<Chan>], abort: bool) {
    let done = if abort && frame.waiter.try_abort() {
        None
    } else {
        Some(loop {
            if let Some(i) = frame.waiter.done() {
                break i;
            }
            thread::park();
        })
    };
    if chans.len() > 1 || done.is_none() {
        for chan in chans {
            chan.take_entry(drop);
        }
    }
    let value = frame.slot.with_mut(|s| unsafe { (*s).take() });
    if done == Some(waiter::RETRY) {
        assert_eq!(value, None, "a backed-out peer moved a value");
    } else {
        assert_eq!(value, done, "the owner got a value not from its winner");
    }
    frame.alive.with_mut(|a| unsafe { *a = false });
}

/// An owner waiting on `arms` channels, a peer on each; `contended` as in
/// `Waiter::new`; `abort`: the owner's deadline fires at once.
fn model(arms: usize, contended: bool, abort: bool) {
    model_with(arms, contended, abort, false)
}

/// [`model`], where with `back_out` the first peer backs out.
fn model_with(arms: usize, contended: bool, abort: bool, back_out: bool) {
    loom::model(move || {
        let frame = Arc::new(Frame {
            waiter: Waiter::new(thread::current(), contended),
            slot: UnsafeCell::new(None),
            alive: UnsafeCell::new(true),
            completed: AtomicUsize::new(0),
        });
        let chans: Vec<Arc<Chan>> = (0..arms).map(|i| Arc::new(Chan::new(i))).collect();
        let peers: Vec<_> = chans
            .iter()
            .enumerate()
            .map(|(i, chan)| {
                let (frame, chan) = (frame.clone(), chan.clone());
                thread::spawn(move || peer(&frame, &chan, back_out && i == 0))
            })
            .collect();
        owner(&frame, &chans, abort);
        for p in peers {
            p.join().unwrap();
        }
        let completed = frame.completed.load(Ordering::Relaxed);
        if abort {
            assert!(completed <= 1, "two peers completed one waiter");
        } else {
            assert_eq!(completed, 1, "not exactly one peer completed it");
        }
    });
}

#[test]
fn plain_receive_is_completed_by_its_one_peer() {
    model(1, false, false);
}

#[test]
fn select_is_completed_by_exactly_one_arm() {
    model(2, true, false);
}

#[test]
fn deadline_abort_races_with_the_claim() {
    model(1, true, true);
}

#[test]
fn deadline_abort_races_with_select_claims() {
    model(2, true, true);
}

#[test]
fn a_peer_backing_out_leaves_the_slot_empty() {
    model_with(1, false, false, true);
}

#[test]
fn a_peer_backing_out_races_the_deadline_and_another_arm() {
    model_with(2, true, true, true);
}
