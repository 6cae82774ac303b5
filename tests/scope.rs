//! Scoped goroutines (`goro::scope`): goroutines borrow from the caller,
//! the scope waits for every one of them (also when its closure panics),
//! and a panic nobody joined is re-raised by `scope` once all are done. On
//! a plain thread and inside a goroutine.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn pause() {
    goro::time::sleep(Duration::from_millis(30));
}

#[test]
fn goroutines_borrow_from_the_caller() {
    let words = ["alpha".to_string(), "beta".to_string()];
    let total = 5usize;
    let (a, b) = goro::scope(|s| {
        let a = s.spawn(|| words[0].len() + total);
        let b = s.spawn(|| words.iter().map(String::len).sum::<usize>());
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a, b), (10, 9));
    assert_eq!(words.len(), 2); // still ours
}

#[test]
fn goroutines_mutate_through_iter_mut_without_join() {
    let mut data = vec![1u32, 2, 3, 4];
    goro::scope(|s| {
        for x in data.iter_mut() {
            s.spawn(move || {
                pause(); // still running when the closure returns
                *x *= 10;
            });
        }
    });
    assert_eq!(data, [10, 20, 30, 40]);
}

#[test]
fn scope_inside_a_goroutine_parks_instead_of_blocking() {
    let sums = goro::run(|| {
        let data: Vec<u64> = (1..=100).collect();
        let (left, right) = data.split_at(50);
        goro::scope(|s| {
            let l = s.spawn(|| {
                pause();
                left.iter().sum::<u64>()
            });
            let r = s.spawn(|| right.iter().sum::<u64>());
            (l.join().unwrap(), r.join().unwrap())
        })
    });
    assert_eq!(sums, (1275, 3775));
}

#[test]
fn unjoined_panic_is_reraised_after_all_goroutines_are_done() {
    let finished = AtomicUsize::new(0);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        goro::scope(|s| {
            s.spawn(|| panic!("scoped boom"));
            for _ in 0..3 {
                s.spawn(|| {
                    pause();
                    finished.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    }));
    let payload = caught.expect_err("the scope must re-raise the goroutine's panic");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"scoped boom"));
    assert_eq!(finished.load(Ordering::SeqCst), 3, "scope returned early");
}

#[test]
fn unjoined_panic_is_reraised_inside_a_goroutine_too() {
    let message = goro::run(|| {
        let caught = catch_unwind(|| {
            goro::scope(|s| {
                s.spawn(|| -> u32 { panic!("{}", "formatted boom") });
            })
        });
        *caught.unwrap_err().downcast::<String>().unwrap()
    });
    assert_eq!(message, "formatted boom");
}

#[test]
fn joined_panic_is_not_reraised() {
    let message = goro::scope(|s| {
        let h = s.spawn(|| panic!("seen by join"));
        h.join().unwrap_err().panic_message().map(str::to_string)
    });
    assert_eq!(message.as_deref(), Some("seen by join"));
}

#[test]
fn panicking_scope_body_still_waits_for_its_goroutines() {
    let done = AtomicBool::new(false);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        goro::scope(|s| {
            s.spawn(|| {
                pause();
                done.store(true, Ordering::SeqCst);
            });
            panic!("body boom");
        })
    }));
    assert!(
        done.load(Ordering::SeqCst),
        "scope unwound before its goroutine ended"
    );
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"body boom"));
}

#[test]
fn the_body_panic_wins_over_a_goroutine_panic() {
    let caught = catch_unwind(|| {
        goro::scope(|s| {
            s.spawn(|| panic!("goroutine boom"));
            pause();
            panic!("body boom");
        })
    });
    assert_eq!(
        caught.unwrap_err().downcast_ref::<&str>(),
        Some(&"body boom")
    );
}

#[test]
fn goexit_in_a_scoped_goroutine_is_not_a_panic() {
    let after = goro::scope(|s| {
        s.spawn(|| goro::goexit());
        let h = s.spawn(|| goro::goexit());
        h.join().unwrap_err().is_goexit()
    });
    assert!(after);
}

#[test]
fn goexit_in_the_scope_body_waits_then_ends_the_goroutine() {
    static DONE: AtomicBool = AtomicBool::new(false);
    let h = goro::go!(|| {
        let local = 5u32;
        goro::scope(|s| {
            s.spawn(|| {
                pause();
                assert_eq!(local, 5);
                DONE.store(true, Ordering::SeqCst);
            });
            goro::goexit();
        });
        unreachable!("goexit resumes after the scope's wait");
    });
    assert!(h.join().unwrap_err().is_goexit());
    assert!(
        DONE.load(Ordering::SeqCst),
        "the scope unwound before its goroutine ended"
    );
}

#[test]
fn nested_scopes_borrow_from_both_levels() {
    let outer = vec![1u32, 2, 3];
    let mut results = vec![0u32; 3];
    goro::scope(|s| {
        for (i, slot) in results.iter_mut().enumerate() {
            let outer = &outer;
            s.spawn(move || {
                let local = [i as u32; 4];
                *slot = goro::scope(|inner| {
                    let a = inner.spawn(|| local.iter().sum::<u32>());
                    let b = inner.spawn(|| outer[i] * 100);
                    a.join().unwrap() + b.join().unwrap()
                });
            });
        }
    });
    assert_eq!(results, [100, 204, 308]);
}

#[test]
fn a_scoped_goroutine_spawns_into_its_scope() {
    let hits = AtomicUsize::new(0);
    goro::scope(|s| {
        s.spawn(|| {
            for _ in 0..10 {
                s.spawn(|| {
                    pause();
                    hits.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
    });
    assert_eq!(hits.load(Ordering::SeqCst), 10);
}

#[test]
fn handles_travel_to_other_scoped_goroutines() {
    let v = [3u32, 4];
    let total = goro::scope(|s| {
        let first = s.spawn(|| v[0]);
        let second = s.spawn(move || first.join().unwrap() + v[1]);
        second.join().unwrap()
    });
    assert_eq!(total, 7);
}

/// A result that counts its drop, borrowing the counter.
struct CountsDrop<'a>(&'a AtomicUsize);

impl Drop for CountsDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn unclaimed_results_are_dropped_before_scope_returns() {
    let drops = AtomicUsize::new(0);
    goro::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| CountsDrop(&drops)); // handle dropped at once
        }
        let kept = s.spawn(|| {
            pause();
            CountsDrop(&drops)
        });
        drop(kept); // dropped while the goroutine still runs
    });
    assert_eq!(drops.load(Ordering::SeqCst), 6);
}

#[test]
fn ten_thousand_scoped_goroutines_on_a_thread() {
    let mut cells = vec![0u64; 10_000];
    goro::scope(|s| {
        for (i, c) in cells.iter_mut().enumerate() {
            s.spawn(move || *c = i as u64 * 2);
        }
    });
    assert!(cells.iter().enumerate().all(|(i, &c)| c == i as u64 * 2));
}

#[test]
fn ten_thousand_scoped_goroutines_in_a_goroutine() {
    let sum = goro::run(|| {
        let data: Vec<u64> = (0..10_000).collect();
        goro::scope(|s| {
            let handles: Vec<_> = data
                .iter()
                .map(|x| {
                    s.spawn(move || {
                        goro::gosched();
                        *x
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    });
    assert_eq!(sum, 10_000 * 9_999 / 2);
}
