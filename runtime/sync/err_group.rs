//! `ErrGroup<E>`: goroutines working on parts of one task, as Go's
//! `golang.org/x/sync/errgroup`: wait for all of them, get the first error,
//! and (with a context) tell the others to stop once one fails.
//!
//! A group is a [`WaitGroup`] counting its goroutines, a slot for the
//! first error, an optional [`CancelFunc`] for the group's context, and,
//! with [`ErrGroup::set_limit`], a [`Semaphore`] whose permits are the
//! goroutines allowed to run at once: `go` takes one before it spawns (so
//! the caller waits) and the goroutine gives it back when it ends.
//!
//! Panics: a goroutine of the group that panics is reported by goro's
//! panic hook like any other, counts as a failure (the group's context is
//! cancelled, so the others stop), and `wait`, once every goroutine has
//! ended, re-raises the first panic with its original payload — as
//! `goro::scope` and `std::thread::scope` do — rather than return an
//! error the closure never produced. A panic wins over an error that came
//! before it: a bug is never hidden behind an ordinary failure. A goroutine that calls
//! [`goexit`](crate::goexit) just ends: it reported no error.
//!
//! This file must never let `wait` return while a goroutine of the group
//! runs, and never lose the first error or the first panic.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Semaphore, WaitGroup};
use crate::context::{CancelFunc, Context};

/// Runs goroutines that each return a `Result<(), E>`, and waits for all
/// of them, keeping the first error (Go's `errgroup.Group`). Clones share
/// one group, so a goroutine of the group can add more to it.
///
/// ```
/// let g = goro::sync::ErrGroup::new();
/// for i in 0..4 {
///     g.go(move || if i == 2 { Err(format!("part {i} failed")) } else { Ok(()) });
/// }
/// assert_eq!(g.wait(), Err("part 2 failed".to_string()));
/// ```
pub struct ErrGroup<E> {
    inner: Arc<Inner<E>>,
}

struct Inner<E> {
    running: WaitGroup,
    first: Mutex<First<E>>,
    /// Cancels the group's context ([`ErrGroup::with_context`]).
    cancel: Option<CancelFunc>,
    /// At most this many goroutines at once ([`ErrGroup::set_limit`]).
    limit: Mutex<Option<Arc<Semaphore>>>,
}

/// What went wrong first.
struct First<E> {
    error: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

impl<E> Clone for ErrGroup<E> {
    fn clone(&self) -> Self {
        ErrGroup {
            inner: self.inner.clone(),
        }
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> Self {
        ErrGroup::new()
    }
}

impl<E: Send + 'static> ErrGroup<E> {
    /// An empty group with no limit and no context.
    ///
    /// ```
    /// let g: goro::sync::ErrGroup<std::io::Error> = goro::sync::ErrGroup::new();
    /// assert!(g.wait().is_ok()); // nothing ran
    /// ```
    pub fn new() -> Self {
        ErrGroup::make(None)
    }

    /// A group and a context derived from `parent` that is cancelled when
    /// a goroutine of the group fails (an error or a panic) or when
    /// [`wait`](ErrGroup::wait) returns, whichever comes first (Go's
    /// `errgroup.WithContext`).
    ///
    /// ```
    /// use goro::context::Context;
    /// let (g, ctx) = goro::sync::ErrGroup::with_context(&Context::background());
    /// let stopped = ctx.clone();
    /// g.go(move || {
    ///     let _ = stopped.done().recv(); // parks until the group fails
    ///     Ok(())
    /// });
    /// g.go(|| Err("disk full"));
    /// assert_eq!(g.wait(), Err("disk full"));
    /// assert!(ctx.err().is_some());
    /// ```
    pub fn with_context(parent: &Context) -> (Self, Context) {
        let (ctx, cancel) = parent.with_cancel();
        (ErrGroup::make(Some(cancel)), ctx)
    }

    fn make(cancel: Option<CancelFunc>) -> Self {
        ErrGroup {
            inner: Arc::new(Inner {
                running: WaitGroup::new(),
                first: Mutex::new(First {
                    error: None,
                    panic: None,
                }),
                cancel,
                limit: Mutex::new(None),
            }),
        }
    }

    /// At most `n` goroutines of the group run at once: from now on
    /// [`go`](ErrGroup::go) parks its caller while `n` do (Go's
    /// `SetLimit`). With `n == 0`, `go` waits for ever.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// let g = goro::sync::ErrGroup::<()>::new();
    /// g.set_limit(2);
    /// let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    /// for _ in 0..8 {
    ///     let (now, most) = (now.clone(), most.clone());
    ///     g.go(move || {
    ///         most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
    ///         goro::time::sleep(std::time::Duration::from_millis(1));
    ///         now.fetch_sub(1, Ordering::SeqCst);
    ///         Ok(())
    ///     });
    /// }
    /// g.wait().unwrap();
    /// assert!(most.load(Ordering::SeqCst) <= 2);
    /// ```
    ///
    /// # Panics
    ///
    /// If goroutines of the group are running (Go's rule: the limit must
    /// not change under them).
    pub fn set_limit(&self, n: usize) {
        let mut limit = self.inner.limit.lock();
        assert!(
            self.inner.running.count() == 0,
            "errgroup: modify limit while {} goroutines in the group are still active",
            self.inner.running.count()
        );
        *limit = Some(Arc::new(Semaphore::new(n)));
    }

    /// Runs `f` in a new goroutine of the group; with a limit, first waits
    /// (parks the caller) until fewer than the limit run. The first `Err`
    /// (or panic) of the group is what [`wait`](ErrGroup::wait) reports,
    /// and it cancels the group's context.
    ///
    /// ```
    /// let g = goro::sync::ErrGroup::new();
    /// g.go(|| "42".parse::<u32>().map(drop));
    /// g.go(|| "x".parse::<u32>().map(drop));
    /// assert!(g.wait().is_err());
    /// ```
    ///
    /// # Panics
    ///
    /// If the goroutine cannot be started (no memory for its stack).
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let permit = self.inner.limit.lock().clone();
        if let Some(sem) = &permit {
            // Given back by `Member`'s drop when the goroutine ends.
            sem.acquire().forget();
        }
        let member = Member {
            group: self.inner.clone(),
            permit,
        };
        self.inner.running.add(1);
        let spawned = crate::Builder::new().spawn(move || {
            let member = member;
            match catch_unwind(AssertUnwindSafe(f)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => member.group.fail(Some(e), None),
                Err(payload) if payload.is::<crate::spawn::Goexit>() => {
                    // Not a failure: let the goroutine end as it asked
                    // (`member` drops on the way and counts it done).
                    drop(member);
                    resume_unwind(payload)
                }
                Err(payload) => member.group.fail(None, Some(payload)),
            }
        });
        // On failure the closure was dropped, and `member` with it: the
        // count and the permit are back.
        if let Err(e) = spawned {
            panic!("goro: ErrGroup::go cannot spawn a goroutine: {e}");
        }
    }

    /// Waits until every goroutine of the group has ended, cancels the
    /// group's context, and returns the first error (Go's `Wait`). The
    /// error is handed out once: a later `wait` returns `Ok(())` unless new
    /// goroutines failed since.
    ///
    /// ```
    /// let g = goro::sync::ErrGroup::<String>::new();
    /// g.go(|| Ok(()));
    /// assert_eq!(g.wait(), Ok(()));
    /// ```
    ///
    /// # Panics
    ///
    /// If a goroutine of the group panicked: the first panic resumes here,
    /// with its payload, once all have ended (even if an error came
    /// first).
    #[track_caller]
    pub fn wait(&self) -> Result<(), E> {
        self.inner.running.wait();
        if let Some(cancel) = &self.inner.cancel {
            cancel.cancel();
        }
        let mut first = self.inner.first.lock();
        if let Some(payload) = first.panic.take() {
            drop(first);
            resume_unwind(payload);
        }
        match first.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<E> Inner<E> {
    /// Records a failure: the first error and the first panic are kept
    /// (each its own slot: an error that came first must not swallow a
    /// later panic), and the first failure of either kind cancels the
    /// group's context.
    fn fail(&self, error: Option<E>, panic: Option<Box<dyn Any + Send>>) {
        let mut first = self.first.lock();
        let is_first = first.error.is_none() && first.panic.is_none();
        if first.error.is_none() {
            first.error = error;
        }
        if first.panic.is_none() {
            first.panic = panic;
        }
        drop(first);
        if is_first {
            if let Some(cancel) = &self.cancel {
                cancel.cancel();
            }
        }
    }
}

/// One running goroutine of a group: when it drops (the goroutine ended,
/// however), its permit goes back and it is counted done.
struct Member<E> {
    group: Arc<Inner<E>>,
    permit: Option<Arc<Semaphore>>,
}

impl<E> Drop for Member<E> {
    fn drop(&mut self) {
        if let Some(sem) = &self.permit {
            sem.add_permits(1);
        }
        self.group.running.done();
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrGroup")
            .field("running", &self.inner.running.count())
            .finish_non_exhaustive()
    }
}
