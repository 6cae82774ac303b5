//! `goro::sync::ErrGroup` (Go's errgroup) and `WaitGroup::go` (Go 1.25's
//! `wg.Go`): the first error wins, the group's context is cancelled on the
//! first failure and when `wait` returns, `set_limit` parks the caller of
//! `go`, a panic is re-raised by `wait` once every goroutine has ended, and
//! `WaitGroup::go` counts a goroutine done however it ends.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::context::{Context, ContextError};
use goro::sync::{ErrGroup, WaitGroup};

const LONG: Duration = Duration::from_secs(10);

#[test]
fn wait_returns_the_first_error_after_all_have_ended() {
    let g = ErrGroup::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for i in 0..6u32 {
        let finished = finished.clone();
        g.go(move || {
            // The failures come in order: 10 ms, 20 ms, ... apart.
            goro::time::sleep(Duration::from_millis(10 * u64::from(i)));
            finished.fetch_add(1, Ordering::SeqCst);
            if i >= 2 {
                Err(i)
            } else {
                Ok(())
            }
        });
    }
    assert_eq!(g.wait(), Err(2));
    assert_eq!(finished.load(Ordering::SeqCst), 6, "wait returned early");
    // The error was handed out; the group is empty again.
    assert_eq!(g.wait(), Ok(()));
}

#[test]
fn no_errors_is_ok() {
    let g: ErrGroup<String> = ErrGroup::new();
    for _ in 0..100 {
        g.go(|| Ok(()));
    }
    assert_eq!(g.wait(), Ok(()));
}

#[test]
fn the_first_error_cancels_the_groups_context() {
    let (g, ctx) = ErrGroup::with_context(&Context::background());
    for _ in 0..10 {
        let ctx = ctx.clone();
        g.go(move || {
            // Would run for an hour if nobody cancelled it.
            goro::select! {
                recv(ctx.done()) -> _ => Err(ctx.err().expect("ended").to_string()),
                default(Duration::from_secs(3600)) => Ok(()),
            }
        });
    }
    g.go(|| {
        goro::time::sleep(Duration::from_millis(10));
        Err("the real failure".to_string())
    });
    let r = g.wait();
    assert_eq!(r, Err("the real failure".to_string()));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn wait_cancels_the_context_even_without_errors() {
    let parent = Context::background();
    let (g, ctx) = ErrGroup::<()>::with_context(&parent);
    let (tx, rx) = goro::chan::<()>(0);
    g.go(move || {
        let _ = rx.recv();
        Ok(())
    });
    goro::time::sleep(Duration::from_millis(10));
    assert_eq!(ctx.err(), None, "cancelled while the group works");
    drop(tx);
    g.wait().unwrap();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(
        parent.err(),
        None,
        "the parent is not the group's to cancel"
    );
}

#[test]
fn a_cancelled_parent_reaches_the_groups_goroutines() {
    let (parent, cancel) = Context::background().with_cancel();
    let (g, ctx) = ErrGroup::with_context(&parent);
    g.go(move || match ctx.done().recv_timeout(LONG) {
        Err(goro::RecvTimeoutError::Disconnected) => Err(ctx.err()),
        _ => Ok(()),
    });
    cancel.cancel();
    assert_eq!(g.wait(), Err(Some(ContextError::Canceled)));
}

#[test]
fn set_limit_bounds_the_running_goroutines_and_parks_the_caller() {
    let g = ErrGroup::<()>::new();
    g.set_limit(3);
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for _ in 0..30 {
        let (running, most) = (now.clone(), most.clone());
        g.go(move || {
            let now = running;
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(n, Ordering::SeqCst);
            goro::time::sleep(Duration::from_millis(2));
            now.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        });
        assert!(now.load(Ordering::SeqCst) <= 3);
    }
    g.wait().unwrap();
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=3).contains(&most),
        "{most} ran at once with a limit of 3"
    );

    // With one slot taken by a goroutine that waits for us, `go` parks.
    let g = ErrGroup::<()>::new();
    g.set_limit(1);
    let (release_tx, release_rx) = goro::chan::<()>(0);
    g.go(move || {
        let _ = release_rx.recv();
        Ok(())
    });
    let second_started = Arc::new(AtomicBool::new(false));
    let caller = {
        let (g, started) = (g.clone(), second_started.clone());
        goro::go!(move || {
            g.go(|| Ok(()));
            started.store(true, Ordering::SeqCst);
        })
    };
    goro::time::sleep(Duration::from_millis(30));
    assert!(
        !second_started.load(Ordering::SeqCst),
        "go did not wait for a slot"
    );
    release_tx.send(()).unwrap();
    caller.join().unwrap();
    assert!(second_started.load(Ordering::SeqCst));
    g.wait().unwrap();
}

#[test]
fn set_limit_while_goroutines_run_panics() {
    let g = ErrGroup::<()>::new();
    let (tx, rx) = goro::chan::<()>(0);
    g.go(move || {
        let _ = rx.recv();
        Ok(())
    });
    let r = catch_unwind(AssertUnwindSafe(|| g.set_limit(2)));
    assert!(r.is_err());
    drop(tx);
    g.wait().unwrap();
    g.set_limit(2); // fine once none runs
}

#[test]
fn a_panic_is_reraised_by_wait_after_every_goroutine_ended() {
    let (g, ctx) = ErrGroup::<()>::with_context(&Context::background());
    let slow_finished = Arc::new(AtomicBool::new(false));
    {
        let (slow_finished, ctx) = (slow_finished.clone(), ctx.clone());
        g.go(move || {
            // Stops early because the panic cancelled the context.
            let _ = ctx.done().recv_timeout(LONG);
            goro::time::sleep(Duration::from_millis(20));
            slow_finished.store(true, Ordering::SeqCst);
            Ok(())
        });
    }
    g.go(|| panic!("part failed"));
    g.go(|| Err(()));
    let payload = catch_unwind(AssertUnwindSafe(|| g.wait())).expect_err("wait must re-raise");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"part failed"));
    assert!(
        slow_finished.load(Ordering::SeqCst),
        "wait returned before all ended"
    );
    assert!(ctx.err().is_some());
}

#[test]
fn goexit_in_a_group_goroutine_is_no_failure() {
    let g = ErrGroup::<()>::new();
    g.go(|| goro::goexit());
    g.go(|| Ok(()));
    assert_eq!(g.wait(), Ok(()));
}

#[test]
fn a_group_goroutine_can_add_to_its_group() {
    let g = ErrGroup::<u32>::new();
    let inner = g.clone();
    g.go(move || {
        for i in 0..10 {
            inner.go(move || if i == 7 { Err(i) } else { Ok(()) });
        }
        Ok(())
    });
    assert_eq!(g.wait(), Err(7));
}

#[test]
fn waitgroup_go_counts_done_on_return_panic_and_goexit() {
    let wg = WaitGroup::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for i in 0..30 {
        let ran = ran.clone();
        wg.go(move || {
            goro::time::sleep(Duration::from_millis(1));
            ran.fetch_add(1, Ordering::SeqCst);
            match i % 3 {
                0 => {}
                1 => panic!("counted down all the same"),
                _ => goro::goexit(),
            }
        });
    }
    wg.wait();
    assert_eq!(ran.load(Ordering::SeqCst), 30);
    assert_eq!(wg.count(), 0);
    // From a plain thread too.
    let wg2 = wg.clone();
    std::thread::spawn(move || {
        wg2.go(|| goro::time::sleep(Duration::from_millis(5)));
        wg2.wait();
    })
    .join()
    .unwrap();
}
