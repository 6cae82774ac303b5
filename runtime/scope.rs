//! Scoped goroutines: [`scope`] lets goroutines borrow from the caller's
//! stack, shaped like `std::thread::scope`.
//!
//! `scope(|s| ..)` runs its closure, then waits until every goroutine
//! spawned with [`Scope::spawn`] has finished, whether the closure returned
//! or panicked, and only then returns (or resumes the closure's panic). So
//! the goroutines may borrow anything that outlives the call (`'env`). A
//! goroutine that panicked and was never joined makes `scope` panic with
//! its payload, after all are done.
//!
//! Its own file rather than `spawn.rs`: the soundness argument lives here,
//! beside the one `unsafe` call that needs it; `spawn.rs` provides
//! `spawn_unchecked` (a spawn for borrowing closures, with a last call when
//! the goroutine is done) and knows nothing of scopes.

use parking_lot::Mutex;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::coroutine::{WaitReason, NO_OBJECT};
use crate::scheduler::{park, unparker, Unparker};
use crate::spawn::{Builder, JoinError, JoinHandle};

/// Runs `f` with a [`Scope`] in which goroutines may borrow from the
/// caller, and returns `f`'s value once every goroutine spawned in it has
/// finished.
///
/// Works on a plain thread (which blocks) and in a goroutine (which parks
/// while it waits, as `join` does).
///
/// ```
/// let mut counts = vec![0u32; 4];
/// let words = ["go", "goroutine", "gopher"];
/// goro::scope(|s| {
///     for (i, n) in counts.iter_mut().enumerate() {
///         s.spawn(move || *n = words.iter().filter(|w| w.len() > i).count() as u32);
///     }
/// }); // every goroutine is done here
/// assert_eq!(counts, [3, 3, 2, 2]);
/// ```
///
/// # Panics
///
/// If `f` panics, `scope` waits for the goroutines, then resumes that
/// panic. Otherwise, if a goroutine panicked and its handle was dropped
/// without [`ScopedJoinHandle::join`], `scope` resumes the first such
/// panic (std's `thread::scope` panics with a message of its own; goro
/// keeps the goroutine's payload):
///
/// ```
/// let caught = std::panic::catch_unwind(|| {
///     goro::scope(|s| {
///         s.spawn(|| panic!("boom"));
///     })
/// });
/// let payload = caught.unwrap_err();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            unclaimed_panic: Mutex::new(None),
            owner: unparker(),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // SAFETY (the argument for `spawn_unchecked` in `Scope::spawn`): the
    // goroutines borrow for `'scope`, which ends when this function
    // returns or unwinds. It can do neither before this wait is over: the
    // closure's panic was caught above, and the wait below cannot unwind
    // (it only loads, parks and loops). So every goroutine has run its
    // closure to the end, dropped its goroutine-local values and any result
    // its handle gave up, and called `finished` (its very last use of
    // anything: `ScopeData` is reference-counted) before anything it
    // borrows can go away. Results still held for a handle are dropped by
    // the handle, which cannot outlive `'scope` (the closure's return type
    // cannot name it), so inside `f` or a goroutine we waited for.
    //
    // What makes this hold is that the scope is a *function that blocks*,
    // not a value: a scope guard whose drop waited (the first design of
    // `crossbeam::scope`, and the known unsoundness of scoped coroutine
    // APIs that return a guard or a future) can be `mem::forget`-ed, and
    // then goroutines run on with dangling borrows. No safe code can skip
    // a function's remaining statements.
    scope.data.wait_all();
    match result {
        Err(payload) => resume_unwind(payload),
        Ok(value) => match scope.data.unclaimed_panic.lock().take() {
            Some(payload) => resume_unwind(payload),
            None => value,
        },
    }
}

/// Where goroutines borrowing from the caller are spawned: the argument of
/// [`scope`]'s closure. `'scope` is the scope's own lifetime, `'env` that
/// of what goroutines may borrow (which outlives the scope), as in
/// `std::thread::Scope`.
///
/// ```
/// fn total<'scope, 'env>(s: &'scope goro::Scope<'scope, 'env>, v: &'env [u32]) -> u32 {
///     let (a, b) = v.split_at(v.len() / 2);
///     let left = s.spawn(move || a.iter().sum::<u32>());
///     b.iter().sum::<u32>() + left.join().unwrap()
/// }
///
/// let data = [1, 2, 3, 4, 5];
/// assert_eq!(goro::scope(|s| total(s, &data)), 15);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    // Invariant in both, as std's: a scope cannot pass for one with a
    // shorter or longer lifetime.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// What the goroutines of a scope share with the scope's caller.
struct ScopeData {
    /// Goroutines spawned and not yet finished.
    running: AtomicUsize,
    /// The first panic of a goroutine whose handle was dropped unjoined.
    unclaimed_panic: Mutex<Option<Box<dyn Any + Send + 'static>>>,
    /// The caller of `scope`, woken when `running` drops to zero.
    owner: Unparker,
}

impl ScopeData {
    /// Waits until no goroutine of the scope runs. Never unwinds.
    #[track_caller]
    fn wait_all(&self) {
        // Acquire: pairs with `finished`'s release, so everything a
        // goroutine did (its writes through borrows) is seen after this.
        while self.running.load(Ordering::Acquire) != 0 {
            park(WaitReason::Join, NO_OBJECT);
        }
    }
}

impl ScopeData {
    /// A goroutine's result that its handle gave up: a panic in it is the
    /// scope's to re-raise (the first one only).
    fn unclaimed<T>(&self, result: Result<T, JoinError>) {
        if let Err(e) = result {
            if let Ok(payload) = e.try_into_panic() {
                self.unclaimed_panic.lock().get_or_insert(payload);
            }
        }
    }

    /// A goroutine of the scope is done: it uses nothing of the scope's
    /// after this.
    fn finished(&self) {
        if self.running.fetch_sub(1, Ordering::Release) == 1 {
            // The owner may have returned already (it saw zero before this
            // wake): a stale wake-up is a spurious return from a later
            // park, which every park tolerates.
            self.owner.clone().unpark();
        }
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a goroutine that may borrow from outside the scope and
    /// returns its handle. The scope waits for it even if the handle is
    /// dropped.
    ///
    /// ```
    /// let names = vec!["ana".to_string(), "bo".to_string()];
    /// let lens = goro::scope(|s| {
    ///     let h = s.spawn(|| names.iter().map(String::len).sum::<usize>());
    ///     h.join().unwrap()
    /// });
    /// assert_eq!(lens, 5);
    /// ```
    ///
    /// # Panics
    ///
    /// If stack memory for the goroutine cannot be mapped (as
    /// [`spawn`](crate::spawn)).
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.data.running.fetch_add(1, Ordering::Relaxed);
        let data = self.data.clone();
        let on_done = move |unclaimed: Option<Result<T, JoinError>>| {
            if let Some(result) = unclaimed {
                data.unclaimed(result);
            }
            data.finished();
        };
        // SAFETY: `scope` returns only once this goroutine's `on_done` has
        // returned (the argument is at the wait in `scope`), and a result
        // kept for the handle, a `T: 'scope`, is dropped by that handle,
        // which cannot outlive `'scope`: the contract of `spawn_unchecked`.
        let spawned = unsafe { Builder::new().spawn_unchecked(f, on_done) };
        match spawned {
            Ok(inner) => ScopedJoinHandle {
                inner: Some(inner),
                scope: &self.data,
            },
            Err(e) => {
                // Never started: nothing to wait for.
                self.data.running.fetch_sub(1, Ordering::Relaxed);
                panic!("goro: cannot spawn a scoped goroutine: {e}")
            }
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A handle to a goroutine spawned in a [`Scope`]: [`join`] it for its
/// value. Dropping it does not detach the goroutine: the scope still waits
/// for it (and re-raises its panic).
///
/// [`join`]: ScopedJoinHandle::join
///
/// ```
/// let v = [1, 2, 3];
/// goro::scope(|s| {
///     let h: goro::ScopedJoinHandle<'_, usize> = s.spawn(|| v.len());
///     assert_eq!(h.join().unwrap(), 3);
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    /// `None` once joined.
    inner: Option<JoinHandle<T>>,
    scope: &'scope ScopeData,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine: its value, or why there is none (as
    /// [`JoinHandle::join`]). A panic returned here is claimed: the scope
    /// does not re-raise it.
    ///
    /// ```
    /// goro::scope(|s| {
    ///     let h = s.spawn(|| -> u32 { panic!("bad input") });
    ///     let e = h.join().unwrap_err();
    ///     assert_eq!(e.panic_message(), Some("bad input"));
    /// }); // returns normally: the panic was joined
    /// ```
    #[track_caller]
    pub fn join(mut self) -> Result<T, JoinError> {
        self.handle().join()
    }

    /// The goroutine's id.
    ///
    /// ```
    /// goro::scope(|s| {
    ///     let h = s.spawn(|| goro::current().unwrap().id());
    ///     let id = h.id();
    ///     assert_eq!(h.join().unwrap(), id);
    /// });
    /// ```
    pub fn id(&self) -> u64 {
        self.inner().id()
    }

    /// Whether the goroutine has finished (returned, panicked or exited).
    ///
    /// ```
    /// goro::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     while !h.is_finished() {
    ///         goro::gosched();
    ///     }
    ///     assert!(h.join().is_ok());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner().is_finished()
    }

    fn inner(&self) -> &JoinHandle<T> {
        self.inner
            .as_ref()
            .expect("a scoped handle is joined only once")
    }

    fn handle(&mut self) -> JoinHandle<T> {
        self.inner
            .take()
            .expect("a scoped handle is joined only once")
    }
}

impl<T> Drop for ScopedJoinHandle<'_, T> {
    /// Gives the result up: dropped here if the goroutine is done, else by
    /// the goroutine; a panic in it goes to the scope either way.
    fn drop(&mut self) {
        if let Some(handle) = self.inner.take() {
            if let Some(result) = handle.abandon() {
                self.scope.unclaimed(result);
            }
        }
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.inner().id())
            .finish()
    }
}
