//! `OnceLock<T>`: a cell written once, std's `OnceLock` whose waiters park
//! the goroutine (not the worker) while the first caller initialises it.
//!
//! One state byte, `EMPTY -> RUNNING -> FULL`, the value, and a wait
//! queue for the callers that arrive while an initialiser runs. The panic
//! rule is std's, not `Once`'s: an initialiser that panics leaves the cell
//! `EMPTY` (its panic goes on in its caller), the waiters wake, and the
//! next of them initialises it. The value is written before `FULL` is
//! stored (Release) and read only after `FULL` is seen (Acquire).
//!
//! This file must never hand out a reference to a value that is not fully
//! written, never run two initialisers at once, and never let a waiter
//! sleep through the end of an initialiser (it re-checks the state under
//! the queue lock, where the initialiser's wake-up is given).

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::coroutine::WaitReason;
use crate::scheduler::Unparker;
use crate::sync::waiter::{wait, End, WaitQueue, Why};

/// No value, no initialiser running.
const EMPTY: u8 = 0;
/// An initialiser runs; callers wait.
const RUNNING: u8 = 1;
/// The value is written and never changes again (short of `&mut self`).
const FULL: u8 = 2;

/// Verdict: the initialiser ended (returned or panicked); look again.
const ENDED: u32 = 1;

/// A cell that is written at most once, for goroutines and threads alike
/// (std's `OnceLock`, with waiting that parks the goroutine).
///
/// ```
/// static CONFIG: goro::sync::OnceLock<String> = goro::sync::OnceLock::new();
/// let h = goro::go!(|| CONFIG.get_or_init(|| "from a goroutine".to_string()).len());
/// let len = h.join().unwrap();
/// assert_eq!(CONFIG.get().map(String::len), Some(len));
/// ```
pub struct OnceLock<T> {
    state: AtomicU8,
    queue: parking_lot::Mutex<WaitQueue<()>>,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: a shared `OnceLock` hands out `&T` to every thread (needs
// `T: Sync`) and lets any thread store a `T` it made, which the owner later
// drops (needs `T: Send`): std's bounds. The value is written once, by the
// caller that won `EMPTY -> RUNNING`, before `FULL` is published (Release)
// and read only after `FULL` is seen (Acquire).
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: sending the cell sends the `T` inside (the queue is empty when
// nobody borrows the cell).
unsafe impl<T: Send> Send for OnceLock<T> {}

// std's: a caught panic in an initialiser leaves the cell empty, never
// half-written.
impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell (usable in a `static`).
    ///
    /// ```
    /// let cell: goro::sync::OnceLock<u32> = goro::sync::OnceLock::new();
    /// assert!(cell.get().is_none());
    /// ```
    pub const fn new() -> Self {
        OnceLock {
            state: AtomicU8::new(EMPTY),
            queue: parking_lot::Mutex::new(WaitQueue::new()),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if the cell is initialised; never waits.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(7).unwrap();
    /// assert_eq!(cell.get(), Some(&7));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        // Acquire: pairs with the Release that published the value.
        if self.state.load(Ordering::Acquire) == FULL {
            // SAFETY: FULL means the value is written and never written
            // again while `&self` lives.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, mutably, if the cell is initialised.
    ///
    /// ```
    /// let mut cell = goro::sync::OnceLock::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if *self.state.get_mut() == FULL {
            // SAFETY: FULL means the value is written; `&mut self` makes
            // this the only borrow.
            Some(unsafe { self.value.get_mut().assume_init_mut() })
        } else {
            None
        }
    }

    /// Stores `value` if the cell is empty (waiting for a running
    /// initialiser first); gives it back in `Err` if the cell was full.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// assert_eq!(cell.get(), Some(&1));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("the initialiser runs once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, initialising it with `f` if the cell is empty. If
    /// another caller is initialising it, the caller parks (a goroutine;
    /// a plain thread blocks) until that ends. If `f` panics, the panic
    /// goes on here and the cell stays empty: the next caller runs its own
    /// initialiser (std's rule). Calling `get_or_init` on the same cell
    /// from inside `f` deadlocks.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// let tried = std::panic::catch_unwind(|| cell.get_or_init(|| -> u32 { panic!("no") }));
    /// assert!(tried.is_err());
    /// assert_eq!(*cell.get_or_init(|| 5), 5);
    /// assert_eq!(*cell.get_or_init(|| 6), 5);
    /// ```
    #[inline]
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        self.init_slow(f)
    }

    /// Consumes the cell, returning its value if it was initialised.
    ///
    /// ```
    /// let cell = goro::sync::OnceLock::new();
    /// cell.set("v").unwrap();
    /// assert_eq!(cell.into_inner(), Some("v"));
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// ```
    /// let mut cell = goro::sync::OnceLock::from(3);
    /// assert_eq!(cell.take(), Some(3));
    /// assert_eq!(cell.get(), None);
    /// assert_eq!(cell.take(), None);
    /// ```
    pub fn take(&mut self) -> Option<T> {
        if *self.state.get_mut() == FULL {
            *self.state.get_mut() = EMPTY;
            // SAFETY: the cell was FULL, so the value is written; marking
            // it EMPTY first means nothing reads or drops it again.
            Some(unsafe { self.value.get_mut().assume_init_read() })
        } else {
            None
        }
    }

    #[cold]
    #[track_caller]
    fn init_slow<F: FnOnce() -> T>(&self, f: F) -> &T {
        let mut f = Some(f);
        loop {
            // Acquire on failure: if FULL, see the value.
            match self
                .state
                .compare_exchange(EMPTY, RUNNING, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // Back to EMPTY, waking the waiters, if `f` unwinds.
                    let reset = Reset(self);
                    let f = f
                        .take()
                        .expect("only the winner of EMPTY -> RUNNING runs f");
                    let value = f();
                    // SAFETY: RUNNING is ours, so nobody reads or writes the
                    // value until we publish FULL.
                    unsafe { (*self.value.get()).write(value) };
                    std::mem::forget(reset);
                    self.finish(FULL);
                }
                Err(FULL) => {}
                Err(_) => {
                    let q = self.queue.lock();
                    // `finish` stores the new state before it takes the
                    // queue lock, so either we see it here or it finds us
                    // queued.
                    if self.state.load(Ordering::Relaxed) == RUNNING {
                        let _ = wait(q, (), End::Back, Why::here(WaitReason::Once));
                    }
                }
            }
            if let Some(value) = self.get() {
                return value;
            }
        }
    }

    /// Ends an initialiser: publishes `state` (FULL, or EMPTY after a
    /// panic) and wakes everyone who waited for it.
    fn finish(&self, state: u8) {
        // Release: whoever sees FULL sees the value.
        self.state.store(state, Ordering::Release);
        let mut woken = Vec::new();
        self.queue.lock().wake_where(ENDED, |_| true, &mut woken);
        woken.into_iter().for_each(Unparker::unpark);
    }
}

/// Undoes a panicking initialiser: the cell goes back to empty.
struct Reset<'a, T>(&'a OnceLock<T>);

impl<T> Drop for Reset<'_, T> {
    fn drop(&mut self) {
        self.0.finish(EMPTY);
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    fn from(value: T) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(value);
        cell
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    fn clone(&self) -> Self {
        match self.get() {
            Some(value) => OnceLock::from(value.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(value) => d.field(value),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
