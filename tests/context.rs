//! `goro::context`: cancellation and deadlines flowing down a tree of
//! contexts, seen through `done()` in `select!` and `err()`. Cancel races
//! (many cancellers, many waiters, a deadline firing at the same time),
//! timeouts, propagation to children and grandchildren, deadlines capped
//! by the parent's, and contexts ended by dropping their handles. (That
//! cancelled children leave their parent's table and their timers at once
//! is checked by the unit tests in `runtime/context.rs`, which can count
//! both.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use goro::context::{Context, ContextError};
use goro::{RecvTimeoutError, TryRecvError};

/// Generous bound for "at once" and "on time".
const LONG: Duration = Duration::from_secs(10);

/// Whether `done` closed within [`LONG`] (a timeout is not a close).
fn closes(done: &goro::Receiver<()>) -> bool {
    matches!(done.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected))
}

#[test]
fn background_never_ends() {
    let bg = Context::background();
    assert_eq!(bg.err(), None);
    assert_eq!(bg.deadline(), None);
    let ended = goro::select! {
        recv(bg.done()) -> _ => true,
        default(Duration::from_millis(20)) => false,
    };
    assert!(!ended);
}

#[test]
fn cancel_wakes_every_waiter_in_select() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (_tx, never) = goro::chan::<u32>(0);
    let woken = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..100)
        .map(|_| {
            let (ctx, never, woken) = (ctx.clone(), never.clone(), woken.clone());
            goro::go!(move || {
                goro::select! {
                    recv(never) -> _ => unreachable!("nothing is sent"),
                    recv(ctx.done()) -> r => assert!(r.is_err(), "done carries no value"),
                }
                woken.fetch_add(1, Ordering::SeqCst);
                ctx.err()
            })
        })
        .collect();
    let thread = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let _ = ctx.done().recv();
            ctx.err()
        })
    };
    goro::time::sleep(Duration::from_millis(20));
    assert_eq!(woken.load(Ordering::SeqCst), 0, "woken before cancel");
    cancel.cancel();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(ContextError::Canceled));
    }
    assert_eq!(thread.join().unwrap(), Some(ContextError::Canceled));
}

#[test]
fn cancel_races_many_cancellers_and_waiters() {
    for round in 0..50 {
        let (parent, cancel) = Context::background().with_cancel();
        let (child, _child_cancel) = parent.with_cancel();
        let start = Arc::new(Barrier::new(8));
        let cancellers: Vec<_> = (0..8)
            .map(|_| {
                let (cancel, start) = (cancel.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    cancel.cancel();
                })
            })
            .collect();
        let waiters: Vec<_> = (0..32)
            .map(|i| {
                let ctx = if i % 2 == 0 {
                    parent.clone()
                } else {
                    child.clone()
                };
                goro::go!(move || {
                    let tick = goro::time::tick(Duration::from_millis(1));
                    loop {
                        goro::select! {
                            recv(ctx.done()) -> _ => return ctx.err(),
                            recv(tick) -> _ => {}
                        }
                    }
                })
            })
            .collect();
        for c in cancellers {
            c.join().unwrap();
        }
        // Right after cancel returned, the whole subtree has ended.
        assert_eq!(child.err(), Some(ContextError::Canceled), "round {round}");
        for w in waiters {
            assert_eq!(w.join().unwrap(), Some(ContextError::Canceled));
        }
    }
}

#[test]
fn a_deadline_racing_a_cancel_ends_it_once_with_one_reason() {
    for _ in 0..200 {
        let (ctx, cancel) = Context::background().with_timeout(Duration::from_micros(300));
        let (child, _c) = ctx.with_cancel();
        let h = goro::go!(move || {
            goro::time::sleep(Duration::from_micros(300));
            cancel.cancel();
        });
        assert!(child.done().recv().is_err());
        let err = ctx.err().expect("ended");
        assert_eq!(child.err(), Some(err), "the child ended for another reason");
        h.join().unwrap();
        assert_eq!(ctx.err(), Some(err), "the reason changed");
    }
}

#[test]
fn timeout_fires_on_time() {
    let t = Instant::now();
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(30));
    assert_eq!(ctx.err(), None);
    let closed = closes(ctx.done());
    let waited = t.elapsed();
    assert!(closed, "done never closed");
    assert!(
        waited >= Duration::from_millis(30),
        "ended early: {waited:?}"
    );
    assert!(waited < LONG);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    // From a plain thread too.
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(10));
    let on_thread = std::thread::spawn(move || {
        let _ = ctx.done().recv();
        ctx.err()
    });
    assert_eq!(
        on_thread.join().unwrap(),
        Some(ContextError::DeadlineExceeded)
    );
}

#[test]
fn a_past_deadline_gives_an_ended_context() {
    let (ctx, _cancel) = Context::background().with_deadline(Instant::now());
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Disconnected));
    let (ctx, _cancel) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn cancelling_a_parent_ends_children_and_grandchildren_at_once() {
    let (root, cancel) = Context::background().with_cancel();
    let (a, _ca) = root.with_cancel();
    let (b, _cb) = root.with_timeout(Duration::from_secs(3600));
    let (a1, _ca1) = a.with_cancel();
    let (b1, _cb1) = b.with_deadline(Instant::now() + Duration::from_secs(3600));
    let (b11, _cb11) = b1.with_cancel();
    let all = [&a, &b, &a1, &b1, &b11];
    assert!(all.iter().all(|c| c.err().is_none()));
    cancel.cancel();
    for c in all {
        assert_eq!(c.err(), Some(ContextError::Canceled));
        assert_eq!(c.done().try_recv(), Err(TryRecvError::Disconnected));
    }
    // A context derived from an ended one is born ended.
    let (late, _c) = b11.with_cancel();
    assert_eq!(late.err(), Some(ContextError::Canceled));
}

#[test]
fn cancelling_a_child_leaves_parent_and_siblings_alone() {
    let (parent, _cancel) = Context::background().with_cancel();
    let (a, cancel_a) = parent.with_cancel();
    let (b, _cb) = parent.with_cancel();
    cancel_a.cancel();
    assert_eq!(a.err(), Some(ContextError::Canceled));
    assert_eq!(parent.err(), None);
    assert_eq!(b.err(), None);
}

#[test]
fn a_parents_deadline_ends_its_children_with_deadline_exceeded() {
    let (parent, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
    let (child, _c) = parent.with_cancel();
    let (grandchild, _g) = child.with_timeout(Duration::from_secs(3600));
    assert_eq!(
        grandchild.deadline(),
        parent.deadline(),
        "a later deadline was kept"
    );
    assert!(closes(grandchild.done()));
    assert_eq!(grandchild.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn a_childs_deadline_is_the_earliest_of_the_chain() {
    let bg = Context::background();
    let near = Instant::now() + Duration::from_secs(100);
    let (p, _c) = bg.with_deadline(near);
    let (later, _c) = p.with_deadline(near + Duration::from_secs(1));
    let (earlier, _c) = p.with_deadline(near - Duration::from_secs(1));
    let (plain, _c) = p.with_cancel();
    assert_eq!(p.deadline(), Some(near));
    assert_eq!(later.deadline(), Some(near));
    assert_eq!(earlier.deadline(), Some(near - Duration::from_secs(1)));
    assert_eq!(plain.deadline(), Some(near));
    // A timeout too large for an Instant is no deadline at all.
    let (forever, _c) = bg.with_timeout(Duration::MAX);
    assert_eq!(forever.deadline(), None);
}

#[test]
fn an_earlier_child_deadline_ends_the_child_only() {
    let (parent, _c) = Context::background().with_timeout(Duration::from_secs(3600));
    let (child, _cc) = parent.with_timeout(Duration::from_millis(10));
    assert!(closes(child.done()));
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(parent.err(), None);
}

#[test]
fn dropping_every_handle_cancels_and_a_kept_channel_sees_it() {
    let (ctx, cancel) = Context::background().with_timeout(Duration::from_secs(3600));
    let (child, child_cancel) = ctx.with_cancel();
    let done = ctx.done().clone();
    drop(cancel);
    assert_eq!(ctx.err(), None, "a live Context keeps it alive");
    drop(ctx);
    // The child holds its parent: still alive, nothing ended.
    assert_eq!(child.err(), None);
    assert_eq!(done.try_recv(), Err(TryRecvError::Empty));
    drop(child);
    assert_eq!(
        done.try_recv(),
        Err(TryRecvError::Empty),
        "the child's CancelFunc keeps it"
    );
    drop(child_cancel);
    assert!(closes(&done), "the channel never closed");
}

#[test]
fn a_parent_dropped_early_still_ends_its_children_at_its_deadline() {
    let (child, _c) = {
        let (parent, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
        parent.with_cancel()
    };
    assert!(closes(child.done()));
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn values_are_found_up_the_chain_by_type() {
    #[derive(Debug, PartialEq)]
    struct User(&'static str);
    #[derive(Debug, PartialEq)]
    struct Trace(u64);
    let (ctx, cancel) = Context::background().with_value(User("ann")).with_cancel();
    let ctx = ctx.with_value(Trace(1));
    let (child, _c) = ctx.with_timeout(Duration::from_secs(60));
    let shadow = child.with_value(User("bob"));
    assert_eq!(child.value::<User>(), Some(&User("ann")));
    assert_eq!(child.value::<Trace>(), Some(&Trace(1)));
    assert_eq!(shadow.value::<User>(), Some(&User("bob")));
    assert_eq!(ctx.value::<u8>(), None);
    // A value context ends with the context it came from.
    cancel.cancel();
    assert_eq!(shadow.err(), Some(ContextError::Canceled));
}

#[test]
fn context_error_is_a_plain_error() {
    let e: Box<dyn std::error::Error + Send + Sync> = Box::new(ContextError::DeadlineExceeded);
    assert_eq!(e.to_string(), "context deadline exceeded");
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_ne!(ContextError::Canceled, ContextError::DeadlineExceeded);
}

#[test]
fn many_short_lived_children_of_a_long_lived_parent() {
    // The table and timers are counted by the unit tests; here, the same
    // churn from many goroutines at once must end every child and leave
    // the parent working.
    let (parent, cancel) = Context::background().with_cancel();
    let hs: Vec<_> = (0..8)
        .map(|_| {
            let parent = parent.clone();
            goro::go!(move || {
                for i in 0..2000 {
                    let (child, c) = parent.with_timeout(Duration::from_secs(60));
                    if i % 2 == 0 {
                        c.cancel();
                        assert_eq!(child.err(), Some(ContextError::Canceled));
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let (last, _c) = parent.with_cancel();
    cancel.cancel();
    assert_eq!(last.err(), Some(ContextError::Canceled));
}
