//! Model checks (loom) of the wait queue under every `goro::sync`
//! primitive, `runtime/sync/waiter.rs`, compiled here as it is in the crate:
//! its `wait` and `wake_front` run unchanged over loom's atomics and a loom
//! lock with parking_lot's shape; this crate stands in for the scheduler
//! (park is a loom park, a deadline passes at once).
//!
//! Checked in every interleaving loom explores:
//! * a verdict is never lost: a waiter woken by `wake_front` returns that
//!   verdict, and one whose deadline passed returns `TimedOut` only if no
//!   waker dequeued it;
//! * the waker never touches the node after the waiter may have left:
//!   the node's unparker marks its frame gone when `wait` returns, and the
//!   waker's clone of it checks the frame is still there.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_sync_waiter` (see README); `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

/// What `waiter.rs` names from `crate::coroutine`.
mod coroutine {
    #[derive(Clone, Copy)]
    pub(crate) enum WaitReason {
        Test,
    }
}

/// What `waiter.rs` names from `crate::scheduler`: loom's park, and an
/// unparker that watches its waiter's frame.
mod scheduler {
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;
    use loom::thread;
    use std::panic::Location;
    use std::time::Instant;

    use crate::coroutine::WaitReason;

    pub(crate) struct Unparker {
        thread: thread::Thread,
        /// Whether the waiter's frame (the node holding the original) is
        /// still there: an atomic, not a cell, so that loom explores the
        /// orders of the waker's clone and the frame's end (it switches
        /// threads only at atomic operations).
        frame: Arc<AtomicBool>,
        original: bool,
    }

    impl Clone for Unparker {
        fn clone(&self) -> Self {
            assert!(
                self.frame.load(Ordering::Relaxed),
                "a waker touched a gone node"
            );
            Unparker {
                thread: self.thread.clone(),
                frame: self.frame.clone(),
                original: false,
            }
        }
    }

    impl Drop for Unparker {
        fn drop(&mut self) {
            if self.original {
                self.frame.store(false, Ordering::Relaxed);
            }
        }
    }

    impl Unparker {
        pub(crate) fn unpark(self) {
            self.thread.unpark();
        }
    }

    pub(crate) fn unparker() -> Unparker {
        Unparker {
            thread: thread::current(),
            frame: Arc::new(AtomicBool::new(true)),
            original: true,
        }
    }

    pub(crate) fn park_at(_why: WaitReason, _on: usize, _at: &'static Location<'static>) {
        thread::park();
    }

    /// The deadline passes at once (after a scheduling point).
    pub(crate) fn park_until_at(
        _why: WaitReason,
        _on: usize,
        _deadline: Instant,
        _at: &'static Location<'static>,
    ) -> bool {
        thread::yield_now();
        true
    }
}

/// parking_lot's `Mutex`/`MutexGuard` shape over loom's lock.
mod loom_lock {
    use std::ops::{Deref, DerefMut};

    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) struct MutexGuard<'a, T> {
        mutex: &'a Mutex<T>,
        guard: loom::sync::MutexGuard<'a, T>,
    }

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: self,
                guard: self.0.lock().unwrap(),
            }
        }
    }

    impl<'a, T> MutexGuard<'a, T> {
        pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
            guard.mutex
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.guard
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            &mut self.guard
        }
    }
}

#[path = "../runtime/sync/waiter.rs"]
#[allow(dead_code)] // the rest of the queue API is for other primitives
mod waiter;

use std::time::Instant;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

use coroutine::WaitReason;
use loom_lock::Mutex;
use waiter::{wait_until, End, Wait, WaitQueue, Why};

const VERDICT: u32 = 7;

/// A waiter (with a deadline that passes at once, if `deadline`) and a
/// waker that gives the queue head `VERDICT`: once if `deadline`, else
/// until it finds the waiter queued.
fn model(deadline: bool) {
    loom::model(move || {
        let queue = Arc::new(Mutex::new(WaitQueue::<()>::new()));
        let woke = Arc::new(AtomicBool::new(false));
        let waiter = {
            let queue = queue.clone();
            thread::spawn(move || {
                let deadline = deadline.then(Instant::now);
                match wait_until(
                    queue.lock(),
                    (),
                    End::Back,
                    Why::here(WaitReason::Test),
                    deadline,
                    || (),
                    |_| (),
                ) {
                    Wait::Woken(v) => Some(v),
                    Wait::TimedOut => None,
                }
            })
        };
        loop {
            let woken = queue.lock().wake_front(VERDICT);
            if let Some(((), unparker)) = woken {
                woke.store(true, Ordering::Relaxed);
                unparker.unpark();
                break;
            }
            if deadline {
                break;
            }
            thread::yield_now();
        }
        let got = waiter.join().unwrap();
        let expected = woke.load(Ordering::Relaxed).then_some(VERDICT);
        assert_eq!(got, expected, "a verdict was lost or invented");
        assert!(queue.lock().is_empty(), "a node outlived its wait");
    });
}

#[test]
fn verdict_reaches_the_parked_waiter() {
    model(false);
}

#[test]
fn deadline_races_with_the_verdict() {
    model(true);
}
