//! Goroutine-local storage (`goro::goroutine_local!`): one value per
//! goroutine, kept across migrations between threads, created on first use
//! and dropped when the goroutine ends (returns, panics, goexits); one
//! value per thread on plain threads; the faults (an initialiser that uses
//! its own key, a destructor that uses a key, a panicking initialiser or
//! destructor) end only the goroutine, with a clear message.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

goro::goroutine_local! {
    static COUNTER: Cell<u64> = Cell::new(0);
    /// Attributes and visibility, as `thread_local!` takes them.
    #[allow(dead_code)]
    pub(crate) static TRAIL: RefCell<Vec<u64>> = RefCell::new(Vec::new())
}

static INITS: AtomicUsize = AtomicUsize::new(0);

goro::goroutine_local! {
    static COUNTED_INIT: u64 = {
        INITS.fetch_add(1, Ordering::SeqCst);
        7
    };
}

/// Counts the drops of values of its own key (each test its own counter).
struct Tracked(&'static AtomicUsize);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_goroutine_keeps_its_own_value_across_migrations() {
    let handles: Vec<_> = (0..64u64)
        .map(|i| {
            goro::go!(move || {
                for step in 0..50 {
                    COUNTER.with(|c| c.set(c.get() + i));
                    TRAIL.with(|t| t.borrow_mut().push(step));
                    if step % 10 == 0 {
                        goro::time::sleep(Duration::from_millis(1));
                    } else {
                        goro::gosched();
                    }
                }
                (COUNTER.with(Cell::get), TRAIL.with(|t| t.borrow().len()))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), (i as u64 * 50, 50));
    }
}

#[test]
fn values_are_created_lazily_once_per_goroutine() {
    let before = INITS.load(Ordering::SeqCst);
    let unused = goro::go!(|| goro::gosched());
    unused.join().unwrap();
    assert_eq!(
        INITS.load(Ordering::SeqCst),
        before,
        "init ran for a goroutine that never used the key"
    );
    let used = goro::go!(|| {
        let a = COUNTED_INIT.with(|v| *v);
        goro::gosched();
        a + COUNTED_INIT.with(|v| *v)
    });
    assert_eq!(used.join().unwrap(), 14);
    assert_eq!(INITS.load(Ordering::SeqCst), before + 1);
}

#[test]
fn values_are_dropped_when_goroutines_return_panic_or_goexit() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    goro::goroutine_local! {
        static VALUE: Tracked = Tracked(&DROPS);
    }
    let returned = goro::go!(|| VALUE.with(|_| ()));
    let panicked = goro::go!(|| {
        VALUE.with(|_| ());
        panic!("ends with a panic");
    });
    let exited = goro::go!(|| {
        VALUE.with(|_| ());
        goro::goexit();
    });
    let untouched = goro::go!(|| ());
    assert!(returned.join().is_ok());
    assert!(panicked.join().unwrap_err().is_panic());
    assert!(exited.join().unwrap_err().is_goexit());
    untouched.join().unwrap();
    // `join` returns after the goroutine's values were dropped.
    assert_eq!(DROPS.load(Ordering::SeqCst), 3);
}

#[test]
fn many_goroutines_drop_every_value() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    goro::goroutine_local! {
        static VALUE: Tracked = Tracked(&DROPS);
    }
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            goro::go!(|| {
                VALUE.with(|_| ());
                goro::gosched();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(DROPS.load(Ordering::SeqCst), 1000);
}

#[test]
fn plain_threads_have_their_own_value() {
    COUNTER.with(|c| c.set(5));
    let other = std::thread::spawn(|| {
        COUNTER.with(|c| c.set(c.get() + 1));
        COUNTER.with(Cell::get)
    });
    assert_eq!(other.join().unwrap(), 1);
    let in_goroutine = goro::go!(|| COUNTER.with(Cell::get)).join().unwrap();
    assert_eq!(in_goroutine, 0, "a goroutine saw a thread's value");
    assert_eq!(COUNTER.with(Cell::get), 5);
}

#[test]
fn scoped_goroutines_have_their_own_value() {
    COUNTER.with(|c| c.set(9));
    let seen = goro::scope(|s| {
        let h = s.spawn(|| {
            COUNTER.with(|c| c.set(c.get() + 2));
            COUNTER.with(Cell::get)
        });
        h.join().unwrap()
    });
    assert_eq!(seen, 2);
    assert_eq!(COUNTER.with(Cell::get), 9);
}

#[test]
fn nested_with_on_the_same_key_sees_the_same_value() {
    let lens = goro::go!(|| {
        TRAIL.with(|outer| {
            outer.borrow_mut().push(1);
            TRAIL.with(|inner| {
                inner.borrow_mut().push(2);
                assert!(std::ptr::eq(outer, inner));
            });
            outer.borrow().len()
        })
    });
    assert_eq!(lens.join().unwrap(), 2);
}

#[test]
fn an_initialiser_that_uses_its_own_key_panics_clearly() {
    goro::goroutine_local! {
        static SELF_REFERENCE: u32 = SELF_REFERENCE.with(|v| *v + 1);
    }
    let e = goro::go!(|| SELF_REFERENCE.with(|v| *v))
        .join()
        .unwrap_err();
    let message = e.panic_message().unwrap();
    assert!(
        message.contains("SELF_REFERENCE: its initialiser used SELF_REFERENCE itself"),
        "{message}"
    );
}

#[test]
fn an_initialiser_may_use_other_keys() {
    goro::goroutine_local! {
        static DERIVED: u64 = COUNTER.with(|c| c.get() * 3);
    }
    let v = goro::go!(|| {
        COUNTER.with(|c| c.set(4));
        DERIVED.with(|d| *d)
    });
    assert_eq!(v.join().unwrap(), 12);
}

#[test]
fn a_panicking_initialiser_runs_again_next_time() {
    static TRIES: AtomicUsize = AtomicUsize::new(0);
    goro::goroutine_local! {
        static FLAKY: usize = {
            let n = TRIES.fetch_add(1, Ordering::SeqCst);
            assert!(n > 0, "first try fails");
            n
        };
    }
    let v = goro::go!(|| {
        let first = std::panic::catch_unwind(|| FLAKY.with(|v| *v));
        assert!(first.is_err());
        FLAKY.with(|v| *v)
    });
    assert_eq!(v.join().unwrap(), 1);
}

#[test]
fn a_destructor_that_uses_a_key_ends_the_goroutine_with_a_clear_panic() {
    struct UsesKeyOnDrop;
    impl Drop for UsesKeyOnDrop {
        fn drop(&mut self) {
            COUNTER.with(|c| c.set(1));
        }
    }
    goro::goroutine_local! {
        static NOISY: UsesKeyOnDrop = UsesKeyOnDrop;
    }
    let e = goro::go!(|| NOISY.with(|_| 42)).join().unwrap_err();
    let message = e.panic_message().unwrap();
    assert!(
        message.contains("COUNTER used while its goroutine's locals are dropped"),
        "{message}"
    );
}

#[test]
fn a_panicking_destructor_still_drops_the_other_values() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop boom");
        }
    }
    goro::goroutine_local! {
        static FIRST: Tracked = Tracked(&DROPS);
        static BAD: PanicsOnDrop = PanicsOnDrop;
        static LAST: Tracked = Tracked(&DROPS);
    }
    let h = goro::go!(|| {
        FIRST.with(|_| ());
        BAD.with(|_| ());
        LAST.with(|_| ());
        "returned"
    });
    let e = h.join().unwrap_err();
    assert_eq!(e.panic_message(), Some("drop boom"));
    assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    // The worker survived: goroutines still run.
    assert_eq!(goro::go!(|| 1).join().unwrap(), 1);
}

#[test]
fn a_destructor_may_block() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct SleepsOnDrop;
    impl Drop for SleepsOnDrop {
        fn drop(&mut self) {
            goro::time::sleep(Duration::from_millis(5));
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    goro::goroutine_local! {
        static SLOW: SleepsOnDrop = SleepsOnDrop;
    }
    goro::go!(|| SLOW.with(|_| ())).join().unwrap();
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
}
