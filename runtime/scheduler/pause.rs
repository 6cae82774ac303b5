//! The preemption pause protocol's two words, every transition a named
//! function here, and nothing else writes them: a thread's [`PauseWord`]
//! (sysmon asks it to pause, its signal handler answers and waits, a lender
//! resumes it) and a lender's [`LendWord`] (it sleeps until its CPU token
//! comes back). `preempt.rs` explains the protocol and uses these; this
//! file never signals, queues a goroutine or reads a thread's state.
//!
//! ```text
//!   RUNNING --request (sysmon, CAS)------------> REQUESTED
//!   REQUESTED --accept (handler, CAS)----------> PAUSED   (then futex-wait)
//!   REQUESTED --decline (handler) / withdraw (sysmon, CAS)--> RUNNING
//!   RUNNING or REQUESTED --pause_self (the thread itself)--> WAITING
//!   PAUSED or WAITING --resume (lender: store + futex wake)--> RUNNING
//! ```
//!
//! What it guarantees: a request is answered exactly once (accepted,
//! declined or withdrawn: the three leave REQUESTED by compare-exchange, so
//! one wins), and sysmon learns which from one load ([`PauseWord::answer`]);
//! a thread's own wait (WAITING) is never taken for an accepted pause; a
//! resume or a token given back is never lost (the futex re-checks the
//! word before it sleeps). `tests/loom_preempt.rs` checks this under the
//! loom model checker, which is why the atomics come from a cfg switch and
//! this file imports nothing else (loom's only in a loom test crate,
//! `cfg(all(loom, test))`: the library those tests link keeps std's).
//!
//! Under loom the futex is a loom `Mutex` and `Condvar` per word: the wait
//! compares the word under the lock and sleeps on the condvar, the wake
//! takes the lock and notifies all, which is the kernel's futex (a wait
//! queue whose lock the compare runs under) and nothing more, so loom sees
//! a wake-up that comes before the wait, between the caller's load and the
//! wait, or never. A wake that is missing or goes to the wrong word leaves
//! the waiter asleep, and loom reports the deadlock. (A `yield_now` spin
//! on the word would make the wake a no-op, so a missing one would pass;
//! park/unpark needs the waiter's thread handle, which a futex wake does
//! not have.)

#[cfg(all(loom, test))]
use loom::sync::atomic::{AtomicU32, Ordering};
#[cfg(not(all(loom, test)))]
use std::sync::atomic::{AtomicU32, Ordering};

/// The thread runs (or has not been asked to stop).
const RUNNING: u32 = 0;
/// sysmon asked it to pause and signalled it; the handler has not answered.
const REQUESTED: u32 = 1;
/// Paused by the handler, inside a goroutine: it waits for a token.
const PAUSED: u32 = 2;
/// Its locked goroutine blocked or yielded: it waits, in its run loop,
/// for a token to run that goroutine again. Distinct from PAUSED, so
/// sysmon never mistakes it for an answer to a request.
const WAITING: u32 = 3;

/// One thread's pause state (see the module docs for the transitions).
pub(crate) struct PauseWord(Futex);

impl PauseWord {
    pub(crate) fn new() -> Self {
        PauseWord(Futex::new(RUNNING))
    }

    /// sysmon: RUNNING -> REQUESTED. False if the thread is paused already
    /// or another request is pending.
    pub(crate) fn request(&self) -> bool {
        self.0
            .word
            .compare_exchange(RUNNING, REQUESTED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// sysmon: REQUESTED -> RUNNING, giving up on an unanswered request.
    /// False if the handler answered first (look at [`answer`]).
    ///
    /// [`answer`]: PauseWord::answer
    pub(crate) fn withdraw(&self) -> bool {
        self.0
            .word
            .compare_exchange(REQUESTED, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The handler: REQUESTED -> PAUSED when `accept`, else -> RUNNING.
    /// Returns whether the thread is now paused (and must wait).
    fn decide(&self, accept: bool) -> bool {
        let to = if accept { PAUSED } else { RUNNING };
        self.0
            .word
            .compare_exchange(REQUESTED, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            && accept
    }

    /// The handler's half: accept a pending request if `accept`, then wait
    /// for a token. Async-signal-safe.
    pub(crate) fn answer_and_wait(&self, accept: bool) -> Handled {
        if self.0.word.load(Ordering::SeqCst) != REQUESTED {
            return Handled::NotOurs;
        }
        if self.decide(accept) {
            self.wait_resumed();
            return Handled::Resumed;
        }
        Handled::Declined
    }

    /// sysmon, after a request: what the handler made of it, read once (a
    /// second read could see a different answer).
    pub(crate) fn answer(&self) -> Answer {
        match self.0.word.load(Ordering::SeqCst) {
            REQUESTED => Answer::Pending,
            PAUSED => Answer::Paused,
            _ => Answer::Declined,
        }
    }

    /// Paused by the handler or waiting for a token: not computing.
    pub(crate) fn is_paused(&self) -> bool {
        matches!(self.0.word.load(Ordering::SeqCst), PAUSED | WAITING)
    }

    /// A locked thread, before it makes its goroutine visible to lenders:
    /// -> WAITING (a pending request is moot: the goroutine has left the
    /// CPU). A lender that resumes it before it reaches
    /// [`wait_resumed`](PauseWord::wait_resumed) is not lost. A swap whose
    /// result is unused rather than a store: the same `xchg` on x86 (a
    /// SeqCst store is one), and it orders itself after a request it races
    /// with in loom too (loom keeps the modification order only among
    /// read-modify-writes, tokio-rs/loom#282: after a plain store,
    /// sysmon's compare-exchange could still read REQUESTED).
    pub(crate) fn pause_self(&self) {
        self.0.word.swap(WAITING, Ordering::SeqCst);
    }

    /// The thread itself: no longer waiting (its locked goroutine left).
    pub(crate) fn resume_self(&self) {
        self.0.word.store(RUNNING, Ordering::SeqCst);
    }

    /// Blocks the calling thread while PAUSED or WAITING.
    /// Async-signal-safe.
    pub(crate) fn wait_resumed(&self) {
        loop {
            match self.0.word.load(Ordering::Acquire) {
                state @ (PAUSED | WAITING) => self.0.wait(state),
                _ => return,
            }
        }
    }

    /// A lender: PAUSED or WAITING -> RUNNING and wake the thread.
    /// Release: what the lender did before (queue hand-over) happens
    /// before the thread runs on.
    pub(crate) fn resume(&self) {
        self.0.word.store(RUNNING, Ordering::Release);
        self.0.wake();
    }
}

/// The handler's answer to a pause request, as sysmon reads it.
pub(crate) enum Answer {
    /// Not answered yet.
    Pending,
    /// The thread waits in its handler.
    Paused,
    /// The handler declined (or the request was withdrawn).
    Declined,
}

/// What a signal came to ([`PauseWord::answer_and_wait`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Handled {
    /// No request of sysmon's was pending: a signal of the program's own.
    NotOurs,
    /// A request was pending; the handler declined it, or sysmon withdrew
    /// it first.
    Declined,
    /// The thread paused, and a lender has resumed it.
    Resumed,
}

/// A lending worker's wait: LENT while its token is out.
pub(crate) struct LendWord(Futex);

const RETURNED: u32 = 0;
const LENT: u32 = 1;

impl LendWord {
    pub(crate) fn new() -> Self {
        LendWord(Futex::new(RETURNED))
    }

    /// The lender, before it wakes the bound thread.
    pub(crate) fn lend(&self) {
        self.0.word.store(LENT, Ordering::SeqCst);
    }

    /// The lender: blocks until the token comes back.
    pub(crate) fn wait_returned(&self) {
        while self.0.word.load(Ordering::Acquire) == LENT {
            self.0.wait(LENT);
        }
    }

    /// The bound thread (its goroutine gave it back) or sysmon (it paused
    /// the bound thread again): the lender may run on.
    pub(crate) fn give_back(&self) {
        self.0.word.store(RETURNED, Ordering::Release);
        self.0.wake();
    }
}

/// A 32-bit word that threads sleep on until it changes (`futex(2)`).
struct Futex {
    word: AtomicU32,
    /// loom's futex: the compare and the sleep under this lock.
    #[cfg(all(loom, test))]
    queue: (loom::sync::Mutex<()>, loom::sync::Condvar),
}

#[cfg(not(all(loom, test)))]
impl Futex {
    const fn new(value: u32) -> Futex {
        Futex {
            word: AtomicU32::new(value),
        }
    }

    /// Sleeps unless the word no longer equals `expected`; may return
    /// early (EINTR, spurious wakes): callers re-check in a loop.
    fn wait(&self, expected: u32) {
        // SAFETY: FUTEX_WAIT on a live, aligned u32 that `self` borrows;
        // the kernel only reads it and returns at once if it no longer
        // equals `expected`. EINTR and spurious returns are handled by the
        // callers' loops.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }

    /// Wakes every thread sleeping on the word.
    fn wake(&self) {
        // SAFETY: FUTEX_WAKE on a live, aligned u32; it does not access
        // memory.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
    }
}

#[cfg(all(loom, test))]
impl Futex {
    fn new(value: u32) -> Futex {
        Futex {
            word: AtomicU32::new(value),
            queue: (loom::sync::Mutex::new(()), loom::sync::Condvar::new()),
        }
    }

    /// The kernel's FUTEX_WAIT: compare under the queue's lock, sleep
    /// until a wake. (The compare needs no ordering of its own: the lock
    /// orders it after any wake that took the lock first.)
    fn wait(&self, expected: u32) {
        let queue = self.queue.0.lock().unwrap();
        if self.word.load(Ordering::Relaxed) == expected {
            drop(self.queue.1.wait(queue).unwrap());
        }
    }

    /// The kernel's FUTEX_WAKE: every sleeper wakes.
    fn wake(&self) {
        let _queue = self.queue.0.lock().unwrap();
        self.queue.1.notify_all();
    }
}

/// The two bugs found on 2026-12-01, kept (in loom test builds only) so
/// that `tests/loom_preempt.rs` can show its model still catches them.
#[cfg(all(loom, test))]
impl PauseWord {
    /// sysmon's old reading of the answer: `is_paused()`, then
    /// `is_requested()`. An accept between the two loads reads as a
    /// decline, and the paused thread is never resumed.
    pub(crate) fn old_answer_read_twice(&self) -> Answer {
        if self.is_paused() {
            Answer::Paused
        } else if self.0.word.load(Ordering::SeqCst) == REQUESTED {
            Answer::Pending
        } else {
            Answer::Declined
        }
    }

    /// The old `pause_self`: PAUSED over a pending REQUESTED, which sysmon
    /// takes for an accepted pause of a thread outside any goroutine.
    pub(crate) fn old_pause_self_stores_paused(&self) {
        self.0.word.swap(PAUSED, Ordering::SeqCst);
    }
}
