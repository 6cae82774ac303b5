//! Model checks (loom) of the timer watcher's handshake: how arming a timer
//! (`scheduler/timer.rs`: `insert`) and the idle worker that sleeps in the
//! poller until the earliest deadline (`worker.rs`: `idle`,
//! `sleep_in_poller`; `timer::watch`/`unwatch`) make sure no deadline is
//! slept through.
//!
//! Unlike the other loom tests this one cannot include the runtime's file:
//! the handshake is spread over `timer.rs` (the `WATCH_UNTIL` word and the
//! shards' `earliest`), `worker.rs` (the order of the watcher's steps) and
//! `mod.rs` (`sched.timer_watcher`, `wakep`, `timers_changed`), all of them
//! tied to the live runtime (threads, the poller, the worker list). So the
//! steps are copied here, in the code's order and with its orderings, one
//! function per runtime function; a change to any of them must be made here
//! too. One shard stands for all (the watcher takes the minimum over them;
//! one is enough to race with).
//!
//! loom treats SeqCst loads and stores as AcqRel (its README: a Dekker
//! pair of them then fails as a false alarm), but models `fence(SeqCst)`:
//! each Dekker pair here (a store, then a load of the other side's word)
//! has one between its store and its load, which stands for the single
//! order of SeqCst operations that the runtime's code relies on.
//!
//! Checked in every interleaving loom explores:
//! * **Dekker** (`arming_an_earlier_timer_reaches_the_watcher`): a timer
//!   armed earlier than the watcher's wake-up, while it goes to sleep,
//!   either is seen by the watcher (it sleeps no later than the deadline)
//!   or kicks it (a wake-up reaches its poll).
//! * **A deposed watcher** (`a_deposed_watcher_leaves_no_wake_up_behind`):
//!   `wakep` takes the chosen watcher off the idle list while it is on its
//!   way to the poller; afterwards nobody watches, and `WATCH_UNTIL` must
//!   say so. A stale wake-up left there makes `insert` wake nobody for any
//!   later deadline (found by review: a plain thread's `after` then fired
//!   only at sysmon's next look, up to 50 ms late). The model of the old
//!   protocol, without the deposed watcher's `unwatch`, fails
//!   (`the_old_protocol_left_a_stale_wake_up`), so this model can see the
//!   race.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3
//! CARGO_TARGET_DIR=target/loom cargo test --release --test
//! loom_timer_watch`.
#![cfg(loom)]

use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// `WATCH_UNTIL`'s "nobody watches".
const NO_WATCHER: u64 = 0;
/// A shard's `earliest` with nothing armed.
const NONE: u64 = u64::MAX;

/// The scheduler's lock (`Sched`), for the one worker modelled.
struct Sched {
    /// `sched.timer_watcher == Some(the worker)`.
    worker_watches: bool,
    /// The worker is in the idle list (`WorkerShared::idle`).
    worker_idle: bool,
}

struct Rt {
    sched: Mutex<Sched>,
    npidle: AtomicUsize,
    /// `timer::WATCH_UNTIL`.
    watch_until: AtomicU64,
    /// One shard's `earliest`, written under its lock.
    earliest: AtomicU64,
    shard: Mutex<()>,
    /// The worker's `notified` and `in_poll`.
    notified: AtomicBool,
    in_poll: AtomicBool,
    /// `netpoll::wake_poller` was called: the watcher's poll returns.
    poller_kicked: AtomicBool,
    /// How many times `netpoll::wake_poller` was called: a kick counted
    /// after a poll began ends that poll.
    kicks: AtomicUsize,
}

impl Rt {
    /// A runtime whose one worker is busy, with a timer armed at `armed`.
    fn new(armed: u64) -> Arc<Rt> {
        Arc::new(Rt {
            sched: Mutex::new(Sched {
                worker_watches: false,
                worker_idle: false,
            }),
            npidle: AtomicUsize::new(0),
            watch_until: AtomicU64::new(NO_WATCHER),
            earliest: AtomicU64::new(armed),
            shard: Mutex::new(()),
            notified: AtomicBool::new(false),
            in_poll: AtomicBool::new(false),
            poller_kicked: AtomicBool::new(false),
            kicks: AtomicUsize::new(0),
        })
    }

    /// `WorkerShared::unpark`.
    fn unpark_worker(&self) {
        self.notified.store(true, SeqCst);
        fence(SeqCst);
        if self.in_poll.load(SeqCst) {
            self.poller_kicked.store(true, SeqCst);
            self.kicks.fetch_add(1, SeqCst);
        }
    }

    /// `timer::unwatch`.
    fn unwatch(&self) {
        self.watch_until.store(NO_WATCHER, SeqCst);
    }

    /// The first half of `Worker::idle`: join the idle list; become the
    /// watcher if nobody is and a timer is armed. Returns whether it did.
    fn go_idle(&self) -> bool {
        let mut sched = self.sched.lock().unwrap();
        sched.worker_idle = true;
        self.npidle.fetch_add(1, SeqCst);
        fence(SeqCst);
        let watch = !sched.worker_watches && self.earliest.load(SeqCst) != NONE;
        sched.worker_watches |= watch;
        watch
    }

    /// `Worker::sleep_in_poller` with the poller free, up to the poll, and
    /// `timer::watch` in it: returns the deadline the poll sleeps until
    /// (`None`: it does not sleep, a wake-up was pending). The poll then
    /// sleeps until [`Rt::wake_from_poll`].
    fn sleep_in_poller(&self) -> Option<u64> {
        self.in_poll.store(true, SeqCst);
        fence(SeqCst);
        if self.notified.swap(false, SeqCst) {
            return None;
        }
        // `timeout`: the next deadline, then `watch` publishes it and looks
        // again.
        let until = self.earliest.load(SeqCst);
        self.watch_until.store(until.max(NO_WATCHER + 1), SeqCst);
        fence(SeqCst);
        Some(until.min(self.earliest.load(SeqCst)))
    }

    /// The rest of `Worker::sleep_in_poller`, once the poll returned.
    fn wake_from_poll(&self) {
        self.in_poll.store(false, SeqCst);
        self.notified.store(false, SeqCst);
    }

    /// `Worker::watch` after a poll: still listed idle (and nothing else
    /// to do), it polls again, staying the watcher. Returns what that poll
    /// sleeps until (as [`Rt::sleep_in_poller`]), or `None` if it leaves.
    ///
    /// It reads its `idle` flag under `sched`, where `wakep` clears it and
    /// after which `wakep` notifies: a notification the poll that just
    /// returned may have cleared came before that lock, so `idle` reads
    /// false then; else it comes later and ends the next poll.
    fn poll_again(&self) -> Option<Option<u64>> {
        if !self.sched.lock().unwrap().worker_idle {
            return None;
        }
        Some(self.sleep_in_poller())
    }

    /// The second half of `Worker::idle`; `fixed`: with the deposed
    /// watcher's `unwatch`.
    fn leave_idle(&self, watch: bool, fixed: bool) {
        let mut sched = self.sched.lock().unwrap();
        let was_watcher = sched.worker_watches;
        if sched.worker_idle {
            // `remove_idle`.
            sched.worker_idle = false;
            self.npidle.fetch_sub(1, SeqCst);
            if was_watcher {
                sched.worker_watches = false;
                self.unwatch();
            }
        } else if was_watcher {
            sched.worker_watches = false;
            self.unwatch();
        } else if watch && fixed {
            self.unwatch();
        }
    }

    /// `Runtime::wakep_slow` (or `gomaxprocs` retiring an idle worker):
    /// takes the worker off the idle list and wakes it.
    /// Returns whether it took the worker.
    fn wakep(&self) -> bool {
        let mut sched = self.sched.lock().unwrap();
        if !sched.worker_idle {
            return false;
        }
        sched.worker_idle = false;
        self.npidle.fetch_sub(1, SeqCst);
        if sched.worker_watches {
            sched.worker_watches = false;
            self.unwatch();
        }
        drop(sched);
        self.unpark_worker();
        true
    }

    /// `timer::insert` of a deadline `at`, then `timers_changed` /
    /// `wake_idle_for_timers` if it must wake someone.
    fn insert(&self, at: u64) {
        let shard = self.shard.lock().unwrap();
        let earliest = self.earliest.load(SeqCst).min(at);
        self.earliest.store(earliest, SeqCst);
        drop(shard);
        if earliest != at {
            return;
        }
        fence(SeqCst);
        let until = self.watch_until.load(SeqCst);
        if at < until || (until == NO_WATCHER && self.npidle.load(SeqCst) > 0) {
            let mut sched = self.sched.lock().unwrap();
            if sched.worker_watches {
                drop(sched);
                self.unpark_worker();
            } else if sched.worker_idle {
                sched.worker_idle = false;
                self.npidle.fetch_sub(1, SeqCst);
                drop(sched);
                self.unpark_worker();
            }
        }
    }
}

/// The watcher goes to sleep until the armed timer (at 10) while another
/// thread arms one at 5: it must not sleep past 5 unwoken.
#[test]
fn arming_an_earlier_timer_reaches_the_watcher() {
    loom::model(|| {
        let rt = Rt::new(10);
        let watcher = {
            let rt = rt.clone();
            thread::spawn(move || {
                assert!(
                    rt.go_idle(),
                    "the only idle worker, with a timer armed, watches"
                );
                // Its poll sleeps past the end of the model: only a kick
                // or an early enough deadline wakes it in time.
                rt.sleep_in_poller()
            })
        };
        let armer = {
            let rt = rt.clone();
            thread::spawn(move || rt.insert(5))
        };
        armer.join().unwrap();
        let slept = watcher.join().unwrap();
        let kicked = rt.poller_kicked.load(SeqCst);
        assert!(
            slept.is_none_or(|until| until <= 5) || kicked,
            "the watcher sleeps until {slept:?} past a timer at 5, and nobody woke it"
        );
    });
}

/// The worker becomes the watcher and heads for the poller while `wakep`
/// takes it for work; once both are done nobody watches, so `WATCH_UNTIL`
/// must read "nobody" (else the next `insert` wakes no one).
fn deposed_watcher(fixed: bool) {
    loom::model(move || {
        let rt = Rt::new(10);
        let worker = {
            let rt = rt.clone();
            thread::spawn(move || {
                let watch = rt.go_idle();
                if watch {
                    // Woken (by `wakep`) or timed out: the model's poll
                    // returns at once.
                    rt.sleep_in_poller();
                    rt.wake_from_poll();
                }
                rt.leave_idle(watch, fixed);
            })
        };
        let waker = {
            let rt = rt.clone();
            thread::spawn(move || {
                rt.wakep();
            })
        };
        waker.join().unwrap();
        worker.join().unwrap();
        let sched = rt.sched.lock().unwrap();
        assert!(
            !sched.worker_watches,
            "the worker left idle: nobody watches"
        );
        assert_eq!(
            rt.watch_until.load(SeqCst),
            NO_WATCHER,
            "nobody watches, but WATCH_UNTIL promises a wake-up"
        );
    });
}

#[test]
fn a_deposed_watcher_leaves_no_wake_up_behind() {
    deposed_watcher(true);
}

#[test]
#[should_panic(expected = "nobody watches, but WATCH_UNTIL promises a wake-up")]
fn the_old_protocol_left_a_stale_wake_up() {
    deposed_watcher(false);
}

/// `Worker::watch`: the watcher's poll returns (it woke a plain thread)
/// and it polls again, still the watcher, while another thread arms a
/// timer at 5: the second poll must not sleep past 5 unwoken. Between the
/// polls `WATCH_UNTIL` still holds the first poll's wake-up (10), so the
/// armer kicks the watcher; or the watcher's second `watch` sees 5.
#[test]
fn a_watcher_that_polls_again_misses_no_earlier_timer() {
    loom::model(|| {
        let rt = Rt::new(10);
        let watcher = {
            let rt = rt.clone();
            thread::spawn(move || {
                assert!(rt.go_idle());
                rt.sleep_in_poller();
                rt.wake_from_poll();
                let kicks_before = rt.kicks.load(SeqCst);
                let slept = rt
                    .poll_again()
                    .expect("nobody took the worker: it watches on");
                (slept, kicks_before)
            })
        };
        let armer = {
            let rt = rt.clone();
            thread::spawn(move || rt.insert(5))
        };
        armer.join().unwrap();
        let (slept, kicks_before) = watcher.join().unwrap();
        let kicked = rt.kicks.load(SeqCst) > kicks_before;
        assert!(
            slept.is_none_or(|until| until <= 5) || kicked,
            "the second poll sleeps until {slept:?} past a timer at 5, and nobody woke it"
        );
    });
}

/// `Worker::watch` deposed between or in its polls by `wakep`: a second
/// poll that sleeps while `wakep` takes the worker is kicked (or it would
/// sleep on, counted as a spinner), and once the worker has left, nobody
/// watches and `WATCH_UNTIL` says so. A poll that sleeps stays asleep to
/// the end of the model (the model's `sleep_in_poller` cannot block), so
/// only a kick can be what ends it.
#[test]
fn a_watcher_that_polls_again_can_be_taken_for_work() {
    loom::model(|| {
        let rt = Rt::new(10);
        let worker = {
            let rt = rt.clone();
            thread::spawn(move || {
                assert!(rt.go_idle());
                rt.sleep_in_poller();
                rt.wake_from_poll();
                let kicks_before = rt.kicks.load(SeqCst);
                let again = rt.poll_again();
                if again.is_some_and(|until| until.is_some()) {
                    return Some(kicks_before);
                }
                if again.is_some() {
                    rt.wake_from_poll();
                }
                rt.leave_idle(true, true);
                None
            })
        };
        let waker = {
            let rt = rt.clone();
            thread::spawn(move || rt.wakep())
        };
        let took = waker.join().unwrap();
        match worker.join().unwrap() {
            Some(kicks_before) => assert!(
                !took || rt.kicks.load(SeqCst) > kicks_before,
                "taken for work, the worker sleeps in its second poll unwoken"
            ),
            None => {
                let sched = rt.sched.lock().unwrap();
                assert!(
                    !sched.worker_watches,
                    "the worker left idle: nobody watches"
                );
                assert_eq!(
                    rt.watch_until.load(SeqCst),
                    NO_WATCHER,
                    "nobody watches, but WATCH_UNTIL promises a wake-up"
                );
            }
        }
    });
}
