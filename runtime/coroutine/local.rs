//! Goroutine-local storage: `goroutine_local!` statics, one value per
//! goroutine, the safe replacement for `thread_local!` in goroutines.
//!
//! A goroutine migrates between worker threads at every blocking point, so
//! a `thread_local!` it uses belongs to whichever worker runs it at the
//! moment (the crate's migration rules). A [`LocalKey`] belongs to the
//! goroutine instead: [`LocalKey::with`] finds the value in the running
//! goroutine's own table, creating it on first use, and the goroutine's
//! values are dropped when it ends (returns, panics or calls `goexit`),
//! before its `join` returns. On a plain thread the same key is a
//! `thread_local!` (each thread its own value, std's rules).
//!
//! The table (`Locals`, one per G) is a `Vec` indexed by a number every key
//! takes once, from a global counter, the first time any goroutine uses it.
//! It stays unallocated until its goroutine's first `with`, so goroutines
//! that never use one pay three word stores at spawn and one load at exit.
//! Values are boxed, so a pointer handed to `with`'s closure stays valid
//! while that closure uses other keys (which may grow the table); nothing
//! but the goroutine itself ever touches its table.
//!
//! Values must be `Send`: they travel with their goroutine from thread to
//! thread and are dropped on whichever thread it ends on.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{current_g, G};

/// Keys that have taken a number so far: the next one takes this + 1.
static KEYS: AtomicUsize = AtomicUsize::new(0);

/// A goroutine-local value's key, declared with
/// [`goroutine_local!`](crate::goroutine_local): each goroutine that calls
/// [`with`](LocalKey::with) gets its own value, created by the key's
/// initialiser on first use and dropped when the goroutine ends. On a plain
/// thread, the key is a `thread_local!`.
///
/// ```
/// use std::cell::Cell;
///
/// goro::goroutine_local! {
///     static REQUESTS: Cell<u32> = Cell::new(0);
/// }
///
/// let handles: Vec<_> = (0..3)
///     .map(|_| goro::go!(|| {
///         REQUESTS.with(|n| n.set(n.get() + 1));
///         goro::gosched(); // may resume on another thread: still ours
///         REQUESTS.with(|n| n.get())
///     }))
///     .collect();
/// for h in handles {
///     assert_eq!(h.join().unwrap(), 1); // one value per goroutine
/// }
/// ```
pub struct LocalKey<T: Send + 'static> {
    /// The key's number + 1 in every goroutine's table; 0 until first used.
    index: AtomicUsize,
    init: fn() -> T,
    thread: &'static std::thread::LocalKey<T>,
    name: &'static str,
}

impl<T: Send + 'static> LocalKey<T> {
    /// Used by [`goroutine_local!`](crate::goroutine_local); not public API.
    #[doc(hidden)]
    pub const fn new(
        init: fn() -> T,
        thread: &'static std::thread::LocalKey<T>,
        name: &'static str,
    ) -> LocalKey<T> {
        LocalKey {
            index: AtomicUsize::new(0),
            init,
            thread,
            name,
        }
    }

    /// Calls `f` with a reference to the running goroutine's value (on a
    /// plain thread: the thread's value), creating it first if this
    /// goroutine has none yet.
    ///
    /// The reference lives only for the call. The value is the goroutine's,
    /// so `f` may block (`gosched`, a channel, a lock) and the value still
    /// holds what this goroutine put there, whichever thread it resumes on.
    /// For mutation, keep a `Cell` or `RefCell` in the key, as with
    /// `thread_local!`; a nested `with` on the same key gets the same value
    /// (`RefCell`'s rules apply to overlapping borrows).
    ///
    /// ```
    /// use std::cell::RefCell;
    ///
    /// goro::goroutine_local! {
    ///     static TRAIL: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    /// }
    ///
    /// let trail = goro::go!(|| {
    ///     TRAIL.with(|t| t.borrow_mut().push("start"));
    ///     goro::time::sleep(std::time::Duration::from_millis(1));
    ///     TRAIL.with(|t| t.borrow_mut().push("woke"));
    ///     TRAIL.with(|t| t.borrow().clone())
    /// });
    /// assert_eq!(trail.join().unwrap(), ["start", "woke"]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the key's initialiser uses the key itself (in a goroutine: there
    /// is no value to give it yet), or if the destructor of a goroutine's
    /// local value uses a goroutine-local key (the values are being
    /// dropped). Both panics happen in the goroutine, which then ends with
    /// that panic ([`JoinHandle::join`](crate::JoinHandle::join) reports it).
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        let Some(g) = current_g() else {
            return self.thread.with(f);
        };
        let value = g.local_value(self.index(), &|| Box::new((self.init)()), self.name);
        // SAFETY: `local_value` returns a pointer to a live boxed value of
        // this goroutine's table, which is only freed when the goroutine's
        // locals are dropped (`drop_locals`), after its closure returned, so
        // never during this call. No `&mut` to the value exists: the table
        // only ever hands out shared references.
        let value: &(dyn Any + Send) = unsafe { value.as_ref() };
        f(value
            .downcast_ref::<T>()
            .expect("a goroutine-local slot holds its key's type"))
    }

    /// This key's index in every goroutine's table, taken on first use.
    fn index(&self) -> usize {
        // Relaxed: the number is the only data; every thread that races
        // here agrees on the winner of the compare-exchange.
        match self.index.load(Ordering::Relaxed) {
            0 => {
                let mine = KEYS.fetch_add(1, Ordering::Relaxed) + 1;
                match self
                    .index
                    .compare_exchange(0, mine, Ordering::Relaxed, Ordering::Relaxed)
                {
                    Ok(_) => mine - 1,
                    Err(theirs) => theirs - 1,
                }
            }
            n => n - 1,
        }
    }
}

impl<T: Send + 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .finish()
    }
}

/// Declares goroutine-local statics ([`LocalKey`]s), shaped like
/// `thread_local!`: any number of `static NAME: T = init;` items, each with
/// its attributes and visibility. `T` must be `Send + 'static`.
///
/// Each goroutine sees its own value, created by `init` on its first
/// [`with`](LocalKey::with) and dropped when the goroutine ends; on a plain
/// thread the key is a `thread_local!`. This is the safe replacement for
/// thread-locals in goroutines, which migrate between threads (see the
/// crate's migration rules).
///
/// ```
/// use std::cell::{Cell, RefCell};
///
/// goro::goroutine_local! {
///     /// The request this goroutine serves.
///     pub static REQUEST_ID: Cell<u64> = Cell::new(0);
///     static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
/// }
///
/// let h = goro::go!(|| {
///     REQUEST_ID.with(|id| id.set(7));
///     LOG.with(|log| log.borrow_mut().push("accepted".to_string()));
///     REQUEST_ID.with(|id| id.get())
/// });
/// assert_eq!(h.join().unwrap(), 7);
/// assert_eq!(REQUEST_ID.with(|id| id.get()), 0); // this thread's own value
/// ```
#[macro_export]
macro_rules! goroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::goroutine_local!(@key $(#[$attr])* $vis $name, $t, $init);
        $crate::goroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::goroutine_local!(@key $(#[$attr])* $vis $name, $t, $init);
    };
    (@key $(#[$attr:meta])* $vis:vis $name:ident, $t:ty, $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = {
            fn init() -> $t {
                $init
            }
            ::std::thread_local! {
                static THREAD: $t = init();
            }
            $crate::LocalKey::new(init, &THREAD, ::core::stringify!($name))
        };
    };
}

/// One key's place in a goroutine's table.
enum Slot {
    /// Never used by this goroutine.
    Empty,
    /// Its initialiser is running.
    Initializing,
    /// The value, from `Box::into_raw`; freed by `drop_locals`.
    Ready(NonNull<dyn Any + Send>),
}

/// A goroutine's local values (a field of G).
pub(crate) struct Locals {
    /// Only the goroutine itself reads or writes this, from its own code
    /// (found through `current_g`), and never keeps a reference across a
    /// call into user code (an initialiser, `with`'s closure, a
    /// destructor).
    table: UnsafeCell<Table>,
}

enum Table {
    /// Values by key index; empty (unallocated) until first used.
    Live(Vec<Slot>),
    /// The values were dropped: the goroutine is ending.
    Dropped,
}

impl Locals {
    pub(crate) const fn new() -> Locals {
        Locals {
            table: UnsafeCell::new(Table::Live(Vec::new())),
        }
    }
}

/// Resets a slot left `Initializing` to `Empty` when its initialiser
/// panics, so the goroutine's next `with` runs the initialiser again.
struct InitGuard<'a> {
    g: &'a G,
    index: usize,
}

impl Drop for InitGuard<'_> {
    fn drop(&mut self) {
        self.g.set_slot(self.index, Slot::Empty);
    }
}

impl G {
    /// The running goroutine's value for key `index`, created with `init`
    /// if it has none. Must be called by the goroutine itself (callers get
    /// `self` from `current_g`).
    #[track_caller]
    fn local_value(
        &self,
        index: usize,
        init: &dyn Fn() -> Box<dyn Any + Send>,
        name: &str,
    ) -> NonNull<dyn Any + Send> {
        {
            // SAFETY: only this goroutine touches its table (see `Locals`),
            // and this borrow ends before any user code runs.
            let table = unsafe { &mut *self.locals.table.get() };
            let Table::Live(slots) = table else {
                panic!("goroutine_local {name} used while its goroutine's locals are dropped");
            };
            if slots.len() <= index {
                slots.resize_with(index + 1, || Slot::Empty);
            }
            match slots[index] {
                Slot::Ready(value) => return value,
                Slot::Initializing => {
                    panic!("goroutine_local {name}: its initialiser used {name} itself")
                }
                Slot::Empty => slots[index] = Slot::Initializing,
            }
        }
        let guard = InitGuard { g: self, index };
        let value = NonNull::from(Box::leak(init()));
        std::mem::forget(guard);
        self.set_slot(index, Slot::Ready(value));
        value
    }

    /// Puts `slot` at `index` of this goroutine's table (which holds it: a
    /// slot is only set after `local_value` made room for it).
    fn set_slot(&self, index: usize, slot: Slot) {
        // SAFETY: only this goroutine touches its table, and this borrow
        // ends before any user code runs.
        let table = unsafe { &mut *self.locals.table.get() };
        if let Table::Live(slots) = table {
            slots[index] = slot;
        }
    }

    /// Whether the running goroutine used any goroutine-local key (and
    /// its values are not dropped yet). Must be called by the goroutine.
    #[inline]
    pub(crate) fn has_locals(&self) -> bool {
        // SAFETY: only this goroutine touches its table, and this shared
        // borrow ends before the function returns.
        match unsafe { &*self.locals.table.get() } {
            Table::Live(slots) => !slots.is_empty(),
            Table::Dropped => false,
        }
    }

    /// Drops the running goroutine's local values (it is ending). Must be
    /// called by the goroutine itself, once its closure has returned.
    /// Their destructors run here, on the goroutine; one that uses a
    /// goroutine-local key panics. A panicking destructor unwinds out of
    /// this call after the remaining values are dropped.
    pub(crate) fn drop_locals(&self) {
        // SAFETY: only this goroutine touches its table; the borrow ends
        // with the swap, before any destructor runs.
        let table = unsafe { &mut *self.locals.table.get() };
        let Table::Live(slots) = std::mem::replace(table, Table::Dropped) else {
            return;
        };
        let values: Vec<Box<dyn Any + Send>> = slots
            .into_iter()
            .filter_map(|slot| match slot {
                // SAFETY: `value` came from `Box::leak` in `local_value`,
                // and the table was taken out of its goroutine, so this is
                // its only owner and nothing can hand it out again.
                Slot::Ready(value) => Some(unsafe { Box::from_raw(value.as_ptr()) }),
                Slot::Empty | Slot::Initializing => None,
            })
            .collect();
        // In the order the keys took numbers. If one destructor panics, the
        // `Vec` still drops the others while the panic unwinds.
        drop(values);
    }
}
