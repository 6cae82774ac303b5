//! The wait queue under every `goro::sync` primitive.
//!
//! A primitive keeps a `parking_lot::Mutex<WaitQueue<D>>` beside its own
//! atomic state word. To wait, it locks the queue, re-checks its condition,
//! and calls [`wait`] (or [`wait_until`], with a deadline), which queues a
//! node *on the waiter's own stack*, releases the queue lock and parks
//! until a waker gives the node a *verdict* (any `u32` but [`WAITING`];
//! what it means is the primitive's business: "the lock is yours", "try
//! again", ...). Nothing allocates per wait except the queue's amortised
//! `VecDeque` growth.
//!
//! The protocol that makes stack nodes safe:
//! * a node is only touched under the queue lock, except its `state`, which
//!   the waiter polls after each (possibly spurious) park;
//! * a waker removes the node from the queue, clones its [`Unparker`], and
//!   only then stores the verdict (Release); after that store the waiter may
//!   return and its stack frame vanish, so the waker never touches the node
//!   again. It calls `unpark` on its clone once the queue lock is released;
//! * a waiter leaves a wait only once its node is out of the queue: it saw
//!   a verdict, or it removed the node itself under the lock (timeout,
//!   unwinding).
//!
//! Both take the queue's guard and never hand it back: what a waiter that
//! timed out must fix under the queue lock (a semaphore's `PARKED` bit) it
//! does in the `on_timeout` callback, inside [`wait_until`]. So no caller
//! can still hold the queue lock when a wait returns, which is what a
//! condvar needs: it relocks its mutex right after, and a notifier holding
//! that mutex takes this queue lock (a timed-out `Condvar::wait_timeout`
//! once relocked with the guard alive, and deadlocked against
//! `notify_one`).
//!
//! This file must never hold the queue lock across a park or past a wait's
//! return, and never let a node outlive its place in the queue.
//! `tests/loom_sync_waiter.rs` model-checks the protocol with loom, which
//! is why the atomics and the lock come from a cfg switch: in a loom test
//! crate (`cfg(all(loom, test))`) they are loom's, and the crate stands in
//! for the scheduler.

use std::collections::VecDeque;
use std::panic::Location;
use std::ptr::NonNull;
use std::time::Instant;

#[cfg(all(loom, test))]
use crate::loom_lock::{Mutex, MutexGuard};
#[cfg(all(loom, test))]
use loom::sync::atomic::{AtomicU32, Ordering};
#[cfg(not(all(loom, test)))]
use parking_lot::{Mutex, MutexGuard};
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{AtomicU32, Ordering};

use crate::coroutine::WaitReason;
use crate::scheduler::{park_at, park_until_at, unparker, Unparker};

/// Why a waiter parks and where: the reason and the place of the goro
/// call it waits in, which `dump()` shows. Taken with [`Why::here`] in the
/// public method (every function between it and the user's call carries
/// `#[track_caller]`), outside any closure, which would end the chain.
#[derive(Clone, Copy)]
pub(crate) struct Why {
    reason: WaitReason,
    at: &'static Location<'static>,
}

impl Why {
    /// `reason`, at the caller's place.
    #[track_caller]
    #[inline]
    pub(crate) fn here(reason: WaitReason) -> Why {
        Why::at(reason, Location::caller())
    }

    /// `reason`, at a place the caller took.
    pub(crate) fn at(reason: WaitReason, at: &'static Location<'static>) -> Why {
        Why { reason, at }
    }
}

/// Node state while it sits in the queue; every other value is a verdict.
pub(crate) const WAITING: u32 = 0;

/// One waiter, living on the waiting goroutine's (or thread's) stack.
struct Node {
    unparker: Unparker,
    state: AtomicU32,
}

struct Entry<D> {
    node: NonNull<Node>,
    data: D,
}

/// FIFO queue of parked waiters, each tagged with primitive-specific `D`.
pub(crate) struct WaitQueue<D> {
    entries: VecDeque<Entry<D>>,
}

// SAFETY: the queue holds pointers to `Node`s owned by other goroutines or
// threads. They are dereferenced only by whoever holds the queue's lock,
// while the node is still queued (so still alive, by the protocol above),
// and a `Node` is `Sync` (an `Unparker` and an atomic). `D` moves with the
// queue, hence the `D: Send` bound.
unsafe impl<D: Send> Send for WaitQueue<D> {}

/// Which end of the queue a new waiter joins.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The usual FIFO place.
    Back,
    /// Ahead of everyone (a waiter that was woken, lost a race and waits
    /// again keeps its seniority).
    Front,
}

/// How [`wait_until`] ended. It borrows nothing: the queue is unlocked by then.
pub(crate) enum Wait {
    /// A waker dequeued us and gave this verdict.
    Woken(u32),
    /// The deadline passed first; the node was taken out of the queue and
    /// `on_timeout` ran under the queue lock, which is released now.
    TimedOut,
}

impl<D> Default for WaitQueue<D> {
    fn default() -> Self {
        WaitQueue::new()
    }
}

impl<D> WaitQueue<D> {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        WaitQueue {
            entries: VecDeque::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The head's tag.
    pub(crate) fn front(&self) -> Option<&D> {
        self.entries.front().map(|e| &e.data)
    }

    /// Every waiter's tag, head first.
    pub(crate) fn tags(&self) -> impl Iterator<Item = &D> {
        self.entries.iter().map(|e| &e.data)
    }

    /// Dequeues the head and gives it `verdict`. Returns its tag and the
    /// unparker to call once the queue lock is released.
    pub(crate) fn wake_front(&mut self, verdict: u32) -> Option<(D, Unparker)> {
        let e = self.entries.pop_front()?;
        Some((e.data, give_verdict(e.node, verdict)))
    }

    /// Dequeues every waiter whose tag satisfies `pick` and gives each
    /// `verdict`; their unparkers go to `out`, to be called after unlock.
    pub(crate) fn wake_where(
        &mut self,
        verdict: u32,
        mut pick: impl FnMut(&D) -> bool,
        out: &mut Vec<Unparker>,
    ) {
        self.entries.retain(|e| {
            if pick(&e.data) {
                out.push(give_verdict(e.node, verdict));
                false
            } else {
                true
            }
        });
    }

    fn remove(&mut self, node: &Node) {
        let ptr = NonNull::from(node);
        if let Some(i) = self.entries.iter().position(|e| e.node == ptr) {
            self.entries.remove(i);
        }
    }
}

/// The waker's half of the protocol: clone the unparker, then publish the
/// verdict. The node must have just been removed from a locked queue.
fn give_verdict(node: NonNull<Node>, verdict: u32) -> Unparker {
    debug_assert_ne!(verdict, WAITING);
    // SAFETY: the caller holds the queue lock and the node was queued until
    // this instant, so its waiter is still inside `wait` (it cannot leave
    // before it sees a verdict or removes the node under this same lock).
    let node = unsafe { node.as_ref() };
    let unparker = node.unparker.clone();
    // Release: the waiter's Acquire load of the verdict must also see what
    // the waker did before (e.g. the data a lock hand-off protects).
    node.state.store(verdict, Ordering::Release);
    unparker
}

/// Queues the caller at `end` of `queue` with tag `data`, unlocks the
/// queue and parks until a waker gives a verdict, which it returns.
pub(crate) fn wait<D>(queue: MutexGuard<'_, WaitQueue<D>>, data: D, end: End, why: Why) -> u32 {
    match wait_until(queue, data, end, why, None, || (), |_| ()) {
        Wait::Woken(verdict) => verdict,
        Wait::TimedOut => unreachable!("a wait without a deadline timed out"),
    }
}

/// Queues the caller at `end` of `queue` with tag `data`, unlocks the
/// queue, runs `after_enqueue` (e.g. a condvar releasing its mutex), then
/// parks until a waker gives a verdict or `deadline` passes. On timeout it
/// relocks the queue, takes the node out and runs `on_timeout` (e.g. a
/// semaphore clearing `PARKED` once the queue is empty) before unlocking.
/// The queue is unlocked whenever this returns.
pub(crate) fn wait_until<D>(
    mut queue: MutexGuard<'_, WaitQueue<D>>,
    data: D,
    end: End,
    why: Why,
    deadline: Option<Instant>,
    after_enqueue: impl FnOnce(),
    on_timeout: impl FnOnce(&mut WaitQueue<D>),
) -> Wait {
    let lock: &Mutex<WaitQueue<D>> = MutexGuard::mutex(&queue);
    // What `dump()` names as waited on: the primitive's wait queue.
    let on = lock as *const Mutex<WaitQueue<D>> as usize;
    let node = Node {
        unparker: unparker(),
        state: AtomicU32::new(WAITING),
    };
    let entry = Entry {
        node: NonNull::from(&node),
        data,
    };
    match end {
        End::Back => queue.entries.push_back(entry),
        End::Front => queue.entries.push_front(entry),
    }
    drop(queue);
    // From here on `node` is shared; `Dequeue` takes it out of the queue if
    // we unwind (a panic in `after_enqueue`, a coroutine torn down while
    // parked) before a waker did.
    let dequeue = Dequeue { lock, node: &node };
    after_enqueue();
    loop {
        let timed_out = match deadline {
            None => {
                park_at(why.reason, on, why.at);
                false
            }
            Some(d) => park_until_at(why.reason, on, d, why.at),
        };
        // Acquire: pairs with the Release in `give_verdict`.
        let verdict = node.state.load(Ordering::Acquire);
        if verdict != WAITING {
            std::mem::forget(dequeue);
            return Wait::Woken(verdict);
        }
        if timed_out {
            let mut q = lock.lock();
            // Wakers store verdicts under this lock, so this read is final.
            let verdict = node.state.load(Ordering::Acquire);
            std::mem::forget(dequeue);
            if verdict != WAITING {
                return Wait::Woken(verdict);
            }
            q.remove(&node);
            on_timeout(&mut q);
            return Wait::TimedOut;
        }
    }
}

/// Removes a still-queued node when [`wait_until`] unwinds.
struct Dequeue<'a, D> {
    lock: &'a Mutex<WaitQueue<D>>,
    node: &'a Node,
}

impl<D> Drop for Dequeue<'_, D> {
    fn drop(&mut self) {
        let mut q = self.lock.lock();
        if self.node.state.load(Ordering::Acquire) == WAITING {
            q.remove(self.node);
        }
    }
}
