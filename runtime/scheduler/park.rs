//! The one park/unpark path (Go's gopark/goready) under every blocking
//! operation in goro.
//!
//! A primitive that must wait does three things: take an [`Unparker`] for
//! the current goroutine or thread, store it where the waker will find it,
//! re-check its condition, then call [`park`] in a loop until the condition
//! holds. The waker changes the condition first and calls
//! [`Unparker::unpark`] after. `park` may return spuriously; it never misses
//! a wake-up, because `unpark` leaves a token when the target is not parked
//! yet (the same contract as `std::thread::park`).
//!
//! For a goroutine the token lives in its state word (NOTIFIED). The
//! goroutine switches out with `Yield::Park` *while still RUNNING*, and only
//! its worker, once the switch is complete, moves RUNNING -> PARKED. An
//! `unpark` racing with the switch finds RUNNING, leaves NOTIFIED, and the
//! worker's compare-exchange fails and requeues the goroutine at once: the
//! wake is never lost, and nobody resumes a coroutine that is still
//! switching out.
//!
//! On a plain OS thread, `park` is `std::thread::park`, so channels, locks
//! and join handles work between threads and goroutines alike.
//!
//! Every park says why, where and on what it waits, for `dump()`: the
//! reason, the caller's place (`#[track_caller]` from the public blocking
//! API down to here, so the place is the user's line and no backtrace is
//! taken: one pointer store) and an object word (an address, an fd, or
//! `NO_OBJECT`). A caller that parks inside a closure, where the chain of
//! `#[track_caller]` breaks, takes `Location::caller()` outside it and
//! passes it to the `_at` form.
//!
//! Nothing here knows about channels, locks or sockets.

use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::coroutine::{current_g, GRef, WaitReason, Yield, G};
use crate::scheduler::{self, timer, trace};

/// Wakes one parked goroutine or thread. Cheap to clone.
#[derive(Clone)]
pub(crate) enum Unparker {
    Goroutine(GRef),
    Thread(std::thread::Thread),
}

impl Unparker {
    /// Makes the target runnable, or leaves it a token if it is not parked.
    /// Consumes the handle: the goroutine reference moves into the run
    /// queue without another count increment.
    pub(crate) fn unpark(self) {
        match self {
            Unparker::Goroutine(g) => ready(g),
            Unparker::Thread(t) => t.unpark(),
        }
    }

    /// Whether two unparkers wake the same goroutine or thread.
    pub(crate) fn same_as(&self, other: &Unparker) -> bool {
        match (self, other) {
            (Unparker::Goroutine(a), Unparker::Goroutine(b)) => Arc::ptr_eq(a, b),
            (Unparker::Thread(a), Unparker::Thread(b)) => a.id() == b.id(),
            _ => false,
        }
    }
}

/// An unparker for the caller: its goroutine, else its thread.
pub(crate) fn unparker() -> Unparker {
    match current_g() {
        Some(g) => Unparker::Goroutine(g_ref(g)),
        None => Unparker::Thread(std::thread::current()),
    }
}

/// A strong reference to the running goroutine.
fn g_ref(g: &G) -> GRef {
    let ptr: *const G = g;
    // SAFETY: the worker publishes a running goroutine through `CURRENT`
    // with `Arc::as_ptr` of a GRef it keeps alive for the whole run, so
    // `ptr` came from an `Arc<G>` whose count is at least one here.
    unsafe {
        Arc::increment_strong_count(ptr);
        Arc::from_raw(ptr)
    }
}

/// Blocks the caller until unparked (or spuriously). `why`, the caller's
/// place and `on` (what it waits on: an address, an fd, or `NO_OBJECT`)
/// are what `dump()` shows meanwhile.
#[track_caller]
#[inline]
pub(crate) fn park(why: WaitReason, on: usize) {
    park_at(why, on, Location::caller());
}

/// [`park`] at a place the caller took (`Location::caller()` outside a
/// closure that parks).
pub(crate) fn park_at(why: WaitReason, on: usize, at: &'static Location<'static>) {
    match current_g() {
        Some(g) => park_goroutine(g, why, at, on),
        None => scheduler::external_park(None),
    }
}

/// Like [`park`], but also returns once `deadline` has passed. Returns
/// whether the deadline had passed on return.
#[track_caller]
#[inline]
pub(crate) fn park_until(why: WaitReason, on: usize, deadline: Instant) -> bool {
    park_until_at(why, on, deadline, Location::caller())
}

/// [`park_until`] at a place the caller took.
pub(crate) fn park_until_at(
    why: WaitReason,
    on: usize,
    deadline: Instant,
    at: &'static Location<'static>,
) -> bool {
    if Instant::now() >= deadline {
        return true;
    }
    park_until_future_at(why, on, deadline, at)
}

/// [`park_until`] for a deadline the caller knows has not passed (it just
/// computed it from the clock): one clock read fewer, which is a tenth of
/// a `sleep` loop's wake-up.
#[track_caller]
#[inline]
pub(crate) fn park_until_future(why: WaitReason, on: usize, deadline: Instant) -> bool {
    park_until_future_at(why, on, deadline, Location::caller())
}

fn park_until_future_at(
    why: WaitReason,
    on: usize,
    deadline: Instant,
    at: &'static Location<'static>,
) -> bool {
    match current_g() {
        Some(g) => {
            let key = timer::add(deadline, Unparker::Goroutine(g_ref(g)));
            park_goroutine(g, why, at, on);
            let now = Instant::now();
            if now < deadline {
                // Woken early: disarm. Past the deadline the timer fired,
                // or is overdue and fires at its worker's next look into
                // a wake-up every park tolerates: no second lock for the
                // common case, a sleep that ran its course.
                timer::cancel(key);
            }
            now >= deadline
        }
        None => {
            scheduler::external_park(Some(deadline));
            Instant::now() >= deadline
        }
    }
}

fn park_goroutine(g: &G, why: WaitReason, at: &'static Location<'static>, on: usize) {
    // A pending token: consume it and return without switching.
    if g.state.take_token() {
        return;
    }
    g.set_wait(why, at, on);
    suspend_in_place(g, Yield::Park);
    g.clear_wait();
}

/// Yields the running goroutine (Go's Gosched); on a plain thread, yields
/// the thread.
#[inline]
pub(crate) fn gosched() {
    match current_g() {
        Some(g) => {
            // Queued with its state word left RUNNING (see the worker's
            // Gosched arm); `dump` tells it runnable by this.
            g.set_yielded();
            suspend_in_place(g, Yield::Gosched);
            g.clear_wait();
        }
        None => std::thread::yield_now(),
    }
}

/// Switches out with `why`, keeping a goroutine that unwinds on its
/// thread (see [`stay_put_while_unwinding`]).
#[inline]
fn suspend_in_place(g: &G, why: Yield) {
    if std::thread::panicking() || g.unwind_locked.load(Ordering::Relaxed) {
        return suspend_unwinding(g, why);
    }
    g.suspend(why);
}

#[cold]
#[inline(never)]
fn suspend_unwinding(g: &G, why: Yield) {
    let unwinding = std::thread::panicking();
    if unwinding && !g.unwind_locked.load(Ordering::Relaxed) {
        stay_put_while_unwinding(g);
    }
    g.suspend(why);
    if !unwinding && g.unwind_locked.load(Ordering::Relaxed) {
        // The unwind is over: free to move again. Only here, after the
        // switch, may the goroutine yield through a queue: a parked one's
        // caller re-checks its condition after every park, so a wake-up
        // that finds it queued is not lost.
        g.unwind_locked.store(false, Ordering::Relaxed);
        scheduler::unlock_os_thread();
    }
}

/// std keeps the panic count in a thread-local: a goroutine that parks in
/// a destructor while unwinding (a panic or `goexit`) and resumed on
/// another thread would leave this thread's count at one and wrap the
/// other's below zero, so `std::thread::panicking()` would turn true for
/// unrelated goroutines and poison their `std::sync::Mutex`es. So while it
/// unwinds, a goroutine that parks is locked to its thread; its first park
/// after the unwind frees it again. Locking keeps the goroutine running
/// (it never waits in a queue), so a wake-up that arrives meanwhile stays
/// a token for the park that follows.
fn stay_put_while_unwinding(g: &G) {
    g.unwind_locked.store(true, Ordering::Relaxed);
    scheduler::lock_os_thread();
}

/// Second half of a park, run by the worker once the coroutine has switched
/// out: RUNNING -> PARKED, unless a wake-up arrived meanwhile. Returns the
/// goroutine if it must run again right away.
pub(crate) fn finish_park(g: GRef) -> Option<GRef> {
    // Parked: whoever holds an Unparker keeps it alive (and the registry
    // does, so dump() can list it). Else the wake raced with the switch.
    g.state.finish_park().then_some(g)
}

/// goready: PARKED -> RUNNABLE and queue it; RUNNING -> NOTIFIED (token);
/// already queued or notified: nothing to do.
fn ready(g: GRef) {
    if g.state.wake() {
        if trace::on() {
            trace::wake(&g);
        }
        scheduler::schedule(g, true);
    }
}
