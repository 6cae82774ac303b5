//! Model check (loom) of how a deadline set from another thread reaches a
//! waiter: `IoSource::io_drained`'s wait and `IoSource::set_deadline`
//! (`runtime/io/registration.rs`), their shapes copied here, over the real
//! `runtime/reactor/readiness.rs`.
//!
//! A reader waits for readiness that never comes (its syscall always says
//! `WouldBlock`); a setter thread moves the deadline into the past (a
//! relaxed store, as in the crate), then takes the registration's lock,
//! wakes the listed waiters without an edge (`wake_waiters`) and unparks
//! them after. The reader lists itself, reads the deadline under the same
//! lock, and parks unless it has passed. Checked in every interleaving: the
//! reader always ends with the deadline's error (a reader parked forever is
//! a deadlock, which loom reports). Time itself is not modelled: "the
//! deadline has passed" is the flag the setter stores.
//!
//! `reading_the_deadline_before_listing_loses_the_wake` is the protocol
//! with the read moved before the waiter lists itself, and expects loom to
//! find the lost wake-up.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test
//! loom_deadline`; `LOOM_MAX_PREEMPTIONS` bounds the search.
#![cfg(loom)]

#[path = "../runtime/reactor/readiness.rs"]
#[allow(dead_code)] // the poller's `edge` has no part here
mod readiness;

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Mutex;
use loom::thread;

use readiness::Readiness;

struct Source {
    read: Mutex<Readiness<thread::Thread>>,
    /// The read deadline has passed.
    deadline_passed: AtomicBool,
}

/// `io_drained` for a read that never becomes ready; returns once the
/// deadline ends it. `read_first`: the broken order (deadline read before
/// the waiter is listed).
fn read_until_deadline(src: &Source, read_first: bool) {
    let me = thread::current();
    let mut woken = false;
    loop {
        let early = read_first && src.deadline_passed.load(Ordering::Relaxed);
        let mut side = src.read.lock().unwrap();
        let Some(tick) = side.try_begin(woken) else {
            side.wait(me.clone());
            let passed = if read_first {
                early
            } else {
                src.deadline_passed.load(Ordering::Relaxed)
            };
            drop(side);
            if !passed {
                thread::park();
            }
            src.read.lock().unwrap().unlist(|t| t.id() == me.id());
            if src.deadline_passed.load(Ordering::Relaxed) {
                return; // TimedOut
            }
            woken = true;
            continue;
        };
        drop(side);
        woken = false;
        // The syscall: WouldBlock, always.
        src.read.lock().unwrap().finished(tick, true, true, false);
    }
}

/// `set_deadline` with a deadline in the past.
fn set_deadline_in_past(src: &Source) {
    src.deadline_passed.store(true, Ordering::Relaxed);
    let mut woken = Vec::new();
    src.read.lock().unwrap().wake_waiters(&mut woken);
    for t in woken {
        t.unpark();
    }
}

fn model(read_first: bool) {
    loom::model(move || {
        // Leaked, not an `Arc`: when loom reports the lost wake-up of the
        // regression, a loom `Arc` dropped while unwinding panics again
        // and aborts the test process.
        let src: &'static Source = Box::leak(Box::new(Source {
            read: Mutex::new(Readiness::default()),
            deadline_passed: AtomicBool::new(false),
        }));
        let setter = thread::spawn(move || set_deadline_in_past(src));
        read_until_deadline(src, read_first);
        setter.join().unwrap();
    });
}

#[test]
fn a_deadline_set_from_another_thread_always_ends_the_wait() {
    model(false);
}

#[test]
#[should_panic(expected = "deadlock")]
fn reading_the_deadline_before_listing_loses_the_wake() {
    model(true);
}
