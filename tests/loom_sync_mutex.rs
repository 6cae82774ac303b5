//! Model checks (loom) of the `Mutex` state byte, `runtime/sync/mutex_state.rs`,
//! compiled here as it is in the crate: its fast paths and the lock slow
//! path's loop run as they are; the wait queue they are given is a loom
//! `Mutex<VecDeque>` of nodes with a verdict word (the shape of
//! `sync/waiter.rs`), and unlock's slow path is `Mutex::unlock_slow`'s six
//! lines over it, with "the head is starving" a fixed choice per model.
//! Checked in every interleaving loom explores:
//! * mutual exclusion: the data is a loom `UnsafeCell`, so two holders at
//!   once (or a holder not ordered after the previous one) fail the model;
//! * no lost wake-up: every locker gets the lock (a waiter parked forever
//!   is a deadlock, which loom reports);
//! * the starvation hand-off keeps the lock exclusive: with every unlock
//!   handing the lock to a queued head, newcomers still cannot barge in.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_sync_mutex` (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

#[path = "../runtime/sync/mutex_state.rs"]
#[allow(dead_code)] // `try_lock`, `is_locked` are for the API
mod mutex_state;

use std::collections::VecDeque;

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::{Arc, Mutex, MutexGuard};
use loom::thread;

use mutex_state::{MutexState, Waited};

/// Verdicts, as in `mutex.rs`.
const HANDOFF: u32 = 1;
const RETRY: u32 = 2;

/// A queued waiter: its verdict (0 while queued) and who to unpark.
struct Node {
    verdict: AtomicU32,
    thread: thread::Thread,
}

type Queue = VecDeque<Arc<Node>>;

struct Lock {
    state: MutexState,
    queue: Mutex<Queue>,
    data: UnsafeCell<usize>,
    /// Whether unlock finds the queue head starving (waited past 1 ms).
    starving: bool,
}

// SAFETY (model): `data` is only touched by the lock holder, which is what
// the model checks.
unsafe impl Sync for Lock {}
unsafe impl Send for Lock {}

/// `sync::waiter::wait`: queue, unlock the queue, park until a verdict.
fn wait(mut q: MutexGuard<'_, Queue>, front: bool) -> Waited {
    let node = Arc::new(Node {
        verdict: AtomicU32::new(0),
        thread: thread::current(),
    });
    if front {
        q.push_front(node.clone());
    } else {
        q.push_back(node.clone());
    }
    drop(q);
    loop {
        // Acquire: pairs with the Release of the verdict.
        match node.verdict.load(Ordering::Acquire) {
            0 => thread::park(),
            HANDOFF => return Waited::Owned,
            _ => return Waited::Retry,
        }
    }
}

impl Lock {
    fn lock(&self) {
        if !self.state.lock_fast() {
            let owned = self
                .state
                .lock_contended(|| self.queue.lock().unwrap(), wait);
            assert!(owned, "a wait without a deadline gave up");
        }
    }

    fn unlock(&self) {
        if self.state.unlock_fast() {
            return;
        }
        // `Mutex::unlock_slow`.
        let mut q = self.queue.lock().unwrap();
        let starving = self.starving && !q.is_empty();
        self.state.release_contended(starving, q.len() > 1);
        let verdict = if starving { HANDOFF } else { RETRY };
        let woken = q.pop_front().map(|node| {
            let thread = node.thread.clone();
            node.verdict.store(verdict, Ordering::Release);
            thread
        });
        drop(q);
        if let Some(t) = woken {
            t.unpark();
        }
    }

    /// A critical section: lock, bump the data, unlock.
    fn bump(&self) {
        self.lock();
        // SAFETY (model): loom checks the access is exclusive.
        self.data.with_mut(|d| unsafe { *d += 1 });
        self.unlock();
    }
}

/// `lockers` threads and the main thread each run one critical section.
fn model(lockers: usize, starving: bool) {
    loom::model(move || {
        let lock = Arc::new(Lock {
            state: MutexState::new(),
            queue: Mutex::new(VecDeque::new()),
            data: UnsafeCell::new(0),
            starving,
        });
        let threads: Vec<_> = (0..lockers)
            .map(|_| {
                let lock = lock.clone();
                thread::spawn(move || lock.bump())
            })
            .collect();
        lock.bump();
        for t in threads {
            t.join().unwrap();
        }
        let total = lock.data.with(|d| unsafe { *d });
        assert_eq!(total, lockers + 1);
    });
}

#[test]
fn two_lockers_exclude_each_other() {
    model(1, false);
}

#[test]
fn three_lockers_wake_and_retry() {
    model(2, false);
}

#[test]
fn starving_head_gets_the_lock_handed_over() {
    model(2, true);
}
