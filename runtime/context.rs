//! Go's `context`: cancellation and deadlines that flow down a tree of
//! contexts, seen as a channel that closes.
//!
//! A [`Context`] says when the work it is handed to should stop. The root
//! is [`Context::background`], which never ends. [`Context::with_cancel`],
//! [`with_timeout`](Context::with_timeout) and
//! [`with_deadline`](Context::with_deadline) derive a child and a
//! [`CancelFunc`]; the child ends when its function is called, when its
//! deadline passes, or when its parent ends — whichever comes first — and
//! then [`done`](Context::done), a `Receiver<()>` usable in `select!`, is
//! closed (closing wakes every receiver at once) and
//! [`err`](Context::err) says why.
//!
//! ```
//! use std::time::Duration;
//! let (ctx, cancel) = goro::context::Context::background().with_cancel();
//! let worker = goro::go!(move || loop {
//!     goro::select! {
//!         recv(ctx.done()) -> _ => return ctx.err(),
//!         default(Duration::from_millis(1)) => {} // a slice of work
//!     }
//! });
//! cancel.cancel();
//! assert_eq!(worker.join().unwrap(), Some(goro::context::ContextError::Canceled));
//! ```
//!
//! # How it works
//!
//! Each derived context is one node: its done channel (capacity 0; only
//! ever closed), its deadline (the earliest of its own and its parent's),
//! and, under a lock, why it ended, its children and its timer. A child
//! registers with its parent (a weak reference in the parent's table) and
//! holds its parent alive; cancelling a node takes its table, closes its
//! channel, disarms its timer (`timer::cancel`: the timer is gone at once,
//! not when it would have fired), then cancels the children it took with
//! the same error — a loop over a work list, not recursion, so a chain a
//! million deep cannot overflow a stack — and finally removes itself from
//! its parent's table. So a long-lived parent with many short-lived
//! children holds only the live ones. The deadline is a callback timer on
//! the scheduler's timer heaps that holds a weak reference: it never keeps
//! a context alive, and it fires on a worker without blocking it.
//!
//! Dropping the last handle of a context (every `Context` clone and every
//! `CancelFunc` clone) cancels it: nobody could cancel it any more, its
//! timer would only keep memory alive, and Go's `defer cancel()` is Rust's
//! drop. A child's handles keep the parent's node alive, so a parent
//! dropped early still ends its children at its deadline.
//!
//! # Values
//!
//! [`Context::with_value`] attaches a value *keyed by its type* and
//! [`Context::value`] finds the nearest one up the chain. Go keys values by
//! an unexported key type to avoid collisions; in Rust the value's own
//! type is that key (wrap a `String` in a private newtype), and the lookup
//! is typed, so no downcast can fail. Use values for request-scoped data
//! that crosses API boundaries with the context (a request id, a trace
//! span); state a goroutine keeps for itself belongs in goroutine-local
//! storage instead.
//!
//! This module never blocks a worker thread (cancelling takes short locks
//! one at a time, never two at once) and never holds a lock while it
//! closes a channel or touches the timers.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::chan::{chan, Receiver, Sender};
use crate::scheduler::timer::{self, TimerKey};

/// Why a context ended (Go's `context.Canceled` and
/// `context.DeadlineExceeded`).
///
/// ```
/// use goro::context::{Context, ContextError};
/// let (ctx, _cancel) = Context::background().with_timeout(std::time::Duration::ZERO);
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ContextError {
    /// Its [`CancelFunc`] (or an ancestor's) was called, or every handle
    /// to it was dropped.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// `Node::err` values.
const LIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE_EXCEEDED: u8 = 2;

fn encode(err: ContextError) -> u8 {
    match err {
        ContextError::Canceled => CANCELED,
        ContextError::DeadlineExceeded => DEADLINE_EXCEEDED,
    }
}

/// Ids for the parents' tables.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// One context of the tree (the background or a derived one).
struct Node {
    /// Key in the parent's table.
    id: u64,
    /// Kept only so the channel stays open until cancel closes it.
    done_tx: Sender<()>,
    done_rx: Receiver<()>,
    /// The earliest deadline of the chain.
    deadline: Option<Instant>,
    /// The node this one is registered with; `None` under the background,
    /// which never ends and so keeps no table.
    parent: Option<Arc<Node>>,
    /// Why it ended (`LIVE` until then): `err()` without the lock. Stored
    /// before the channel closes, so whoever saw `done` sees it.
    err: AtomicU8,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The live children registered here, by id.
    children: HashMap<u64, Weak<Node>>,
    /// The deadline's timer while it is armed.
    timer: Option<TimerKey>,
}

impl Node {
    fn new(deadline: Option<Instant>, parent: Option<Arc<Node>>) -> Node {
        let (done_tx, done_rx) = chan(0);
        Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            done_tx,
            done_rx,
            deadline,
            parent,
            err: AtomicU8::new(LIVE),
            state: Mutex::new(State::default()),
        }
    }

    fn err(&self) -> Option<ContextError> {
        // Acquire: pairs with the Release in `end`.
        match self.err.load(Ordering::Acquire) {
            CANCELED => Some(ContextError::Canceled),
            DEADLINE_EXCEEDED => Some(ContextError::DeadlineExceeded),
            _ => None,
        }
    }

    /// Cancels this node and everything below it with `err` (a no-op if it
    /// has ended already), then detaches it from its parent.
    fn cancel(&self, err: ContextError) {
        let Some(children) = self.end(err) else {
            return;
        };
        let mut work: Vec<Arc<Node>> = children;
        while let Some(node) = work.pop() {
            // The children were taken out of this node's table with it, so
            // they need no detaching; theirs go on the work list.
            if let Some(grandchildren) = node.end(err) {
                work.extend(grandchildren);
            }
        }
        self.detach();
    }

    /// Marks the node ended, closes its channel and disarms its timer.
    /// Returns its live children, or `None` if it had ended already.
    fn end(&self, err: ContextError) -> Option<Vec<Arc<Node>>> {
        let (children, timer) = {
            let mut st = self.state.lock();
            if self.err.load(Ordering::Relaxed) != LIVE {
                return None;
            }
            // Release: whoever sees the channel closed, or this value,
            // sees that it ended.
            self.err.store(encode(err), Ordering::Release);
            (std::mem::take(&mut st.children), st.timer.take())
        };
        self.done_tx.close();
        if let Some(key) = timer {
            timer::cancel(key);
        }
        // A child being dropped right now fails to upgrade: its own drop
        // cancels it.
        Some(children.into_values().filter_map(|w| w.upgrade()).collect())
    }

    /// Removes this node from its parent's table.
    fn detach(&self) {
        if let Some(parent) = &self.parent {
            let children = &mut parent.state.lock().children;
            children.remove(&self.id);
            // A table that once held a crowd gives the memory back.
            let live = children.len();
            if children.capacity() > 64 && live * 4 < children.capacity() {
                children.shrink_to(live * 2);
            }
        }
    }

    /// Derives a child that ends at `deadline` at the latest.
    fn derive(self: &Arc<Node>, deadline: Option<Instant>) -> Arc<Node> {
        let deadline = match (self.deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Only a node that can end keeps a table: the background cannot.
        let cancellable = !is_background(self);
        let child = Arc::new(Node::new(deadline, cancellable.then(|| self.clone())));
        if cancellable {
            let mut st = self.state.lock();
            match self.err() {
                None => {
                    st.children.insert(child.id, Arc::downgrade(&child));
                }
                Some(err) => {
                    drop(st);
                    child.cancel(err);
                }
            }
        }
        // Arm a timer only for a deadline of its own: one inherited from
        // the parent reaches it through the parent's cancel.
        if let Some(at) = deadline.filter(|&at| Some(at) != self.deadline) {
            if Instant::now() >= at {
                child.cancel(ContextError::DeadlineExceeded);
            } else {
                let mut st = child.state.lock();
                if child.err().is_none() {
                    let weak = Arc::downgrade(&child);
                    st.timer = Some(timer::add_callback(at, move || {
                        if let Some(node) = weak.upgrade() {
                            node.cancel(ContextError::DeadlineExceeded);
                        }
                    }));
                }
            }
        }
        child
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The last handle went: nobody can cancel it or see it end, except
        // a clone of its channel, which sees it closed. Its children hold
        // it alive, so it has none left.
        self.cancel(ContextError::Canceled);
    }
}

/// The background's node: made once, never ended.
fn background_node() -> &'static Arc<Node> {
    static BACKGROUND: OnceLock<Arc<Node>> = OnceLock::new();
    BACKGROUND.get_or_init(|| Arc::new(Node::new(None, None)))
}

fn is_background(node: &Arc<Node>) -> bool {
    Arc::ptr_eq(node, background_node())
}

/// One value of [`Context::with_value`], linked to the values above it.
struct Value {
    key: TypeId,
    value: Box<dyn Any + Send + Sync>,
    next: Option<Arc<Value>>,
}

/// Carries cancellation, a deadline and request-scoped values to the
/// goroutines doing a piece of work (Go's `context.Context`). Clones share
/// one context; it is `Send + Sync`. See the [module docs](self).
///
/// ```
/// use goro::context::{Context, ContextError};
/// let (parent, cancel) = Context::background().with_cancel();
/// let (child, _child_cancel) = parent.with_cancel();
/// cancel.cancel(); // ends the child too
/// assert!(child.done().recv().is_err()); // closed: returns at once
/// assert_eq!(child.err(), Some(ContextError::Canceled));
/// ```
#[derive(Clone)]
pub struct Context {
    node: Arc<Node>,
    values: Option<Arc<Value>>,
}

/// Cancels the [`Context`] it came with, and every context derived from
/// it (Go's `context.CancelFunc`). Calling it again does nothing. Clones
/// cancel the same context.
///
/// ```
/// let (ctx, cancel) = goro::context::Context::background().with_cancel();
/// let again = cancel.clone();
/// cancel.cancel();
/// again.cancel(); // a no-op
/// assert!(ctx.err().is_some());
/// ```
#[derive(Clone)]
pub struct CancelFunc {
    node: Arc<Node>,
}

impl CancelFunc {
    /// Cancels the context with [`ContextError::Canceled`] unless it has
    /// ended already: closes its `done` channel, disarms its timer, cancels
    /// its descendants and detaches it from its parent.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::Context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(goro::context::ContextError::Canceled));
    /// ```
    pub fn cancel(&self) {
        self.node.cancel(ContextError::Canceled);
    }
}

impl Context {
    /// The root context: never cancelled, no deadline, no values (Go's
    /// `context.Background()`). Cheap: every call shares one.
    ///
    /// ```
    /// let bg = goro::context::Context::background();
    /// assert_eq!(bg.err(), None);
    /// assert_eq!(bg.deadline(), None);
    /// assert_eq!(bg.done().try_recv(), Err(goro::TryRecvError::Empty)); // never closes
    /// ```
    pub fn background() -> Context {
        Context {
            node: background_node().clone(),
            values: None,
        }
    }

    /// A child that ends when the returned [`CancelFunc`] is called or
    /// this context ends, whichever comes first.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::Context::background().with_cancel();
    /// let h = goro::go!(move || {
    ///     let _ = ctx.done().recv(); // parks until cancel
    ///     ctx.err()
    /// });
    /// cancel.cancel();
    /// assert!(h.join().unwrap().is_some());
    /// ```
    pub fn with_cancel(&self) -> (Context, CancelFunc) {
        self.child(None)
    }

    /// A child that also ends `timeout` from now, with
    /// [`ContextError::DeadlineExceeded`]; `with_deadline(now + timeout)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let bg = goro::context::Context::background();
    /// let (ctx, _cancel) = bg.with_timeout(Duration::from_millis(5));
    /// assert!(ctx.done().recv().is_err()); // closed after 5 ms
    /// assert_eq!(ctx.err(), Some(goro::context::ContextError::DeadlineExceeded));
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelFunc) {
        self.child(Instant::now().checked_add(timeout))
    }

    /// A child that also ends at `deadline`, with
    /// [`ContextError::DeadlineExceeded`]. Its deadline is never later than
    /// this context's: a later one is the parent's. A deadline already
    /// past gives a child that has ended.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let bg = goro::context::Context::background();
    /// let soon = Instant::now() + Duration::from_secs(1);
    /// let (parent, _c1) = bg.with_deadline(soon);
    /// let (child, _c2) = parent.with_deadline(soon + Duration::from_secs(60));
    /// assert_eq!(child.deadline(), Some(soon));
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFunc) {
        self.child(Some(deadline))
    }

    fn child(&self, deadline: Option<Instant>) -> (Context, CancelFunc) {
        let node = self.node.derive(deadline);
        let ctx = Context {
            node: node.clone(),
            values: self.values.clone(),
        };
        (ctx, CancelFunc { node })
    }

    /// A channel closed when this context ends (never, for the
    /// background). Receiving from it returns `Err` once closed, so it
    /// works in `select!` beside other arms; nothing is ever sent on it.
    /// Do not close it yourself: that ends no context.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (ctx, cancel) = goro::context::Context::background().with_cancel();
    /// let (_tx, work) = goro::chan::<u32>(0);
    /// cancel.cancel();
    /// let stopped = goro::select! {
    ///     recv(work) -> _ => false,
    ///     recv(ctx.done()) -> _ => true,
    /// };
    /// assert!(stopped);
    /// ```
    pub fn done(&self) -> &Receiver<()> {
        &self.node.done_rx
    }

    /// Why this context ended, or `None` while it has not (Go's `Err`).
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::Context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// drop(cancel); // the context lives on while `ctx` does
    /// assert_eq!(ctx.err(), None);
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.node.err()
    }

    /// When this context ends by itself: the earliest deadline of it and
    /// its ancestors, `None` if none has one.
    ///
    /// ```
    /// use std::time::Duration;
    /// let bg = goro::context::Context::background();
    /// let (ctx, _cancel) = bg.with_timeout(Duration::from_secs(5));
    /// assert!(ctx.deadline().is_some());
    /// assert_eq!(ctx.with_cancel().0.deadline(), ctx.deadline());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.deadline
    }

    /// A context that also carries `value`, found by
    /// [`value::<T>()`](Context::value) here and in every context derived
    /// from it; it ends with this one. The type is the key: a second value
    /// of the same type hides the first for those below.
    ///
    /// ```
    /// #[derive(Debug, PartialEq)]
    /// struct RequestId(u64);
    /// let ctx = goro::context::Context::background().with_value(RequestId(7));
    /// let (child, _cancel) = ctx.with_cancel();
    /// assert_eq!(child.value::<RequestId>(), Some(&RequestId(7)));
    /// assert_eq!(child.value::<String>(), None);
    /// ```
    pub fn with_value<T: Any + Send + Sync>(&self, value: T) -> Context {
        Context {
            node: self.node.clone(),
            values: Some(Arc::new(Value {
                key: TypeId::of::<T>(),
                value: Box::new(value),
                next: self.values.clone(),
            })),
        }
    }

    /// The nearest value of type `T` attached with
    /// [`with_value`](Context::with_value) to this context or an ancestor.
    ///
    /// ```
    /// let ctx = goro::context::Context::background()
    ///     .with_value(1u32)
    ///     .with_value(2u32);
    /// assert_eq!(ctx.value::<u32>(), Some(&2));
    /// ```
    pub fn value<T: Any>(&self) -> Option<&T> {
        let mut at = self.values.as_deref();
        while let Some(v) = at {
            if v.key == TypeId::of::<T>() {
                return v.value.downcast_ref();
            }
            at = v.next.as_deref();
        }
        None
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("err", &self.err())
            .field("deadline", &self.deadline())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn children(ctx: &Context) -> usize {
        ctx.node.state.lock().children.len()
    }

    #[test]
    fn cancelled_children_leave_the_parents_table() {
        let _counting = timer::counting_timers();
        let (parent, _cancel) = Context::background().with_cancel();
        for _ in 0..10_000 {
            let (child, cancel) = parent.with_cancel();
            let (_grandchild, _c) = child.with_timeout(Duration::from_secs(60));
            assert_eq!(children(&parent), 1);
            cancel.cancel();
            assert_eq!(children(&parent), 0, "a cancelled child stayed");
            assert_eq!(children(&child), 0);
        }
        for _ in 0..10_000 {
            // Dropped without cancel: the drop cancels and detaches.
            let _ = parent.with_timeout(Duration::from_secs(60));
        }
        assert_eq!(children(&parent), 0, "a dropped child stayed");
        assert!(parent.node.state.lock().children.capacity() <= 64);
    }

    #[test]
    fn cancelling_releases_the_timer_at_once() {
        let _counting = timer::counting_timers();
        // Other tests of this crate arm timers too: look for the difference
        // a thousand contexts make.
        const N: usize = 1000;
        let before = timer::armed();
        let contexts: Vec<_> = (0..N)
            .map(|_| Context::background().with_timeout(Duration::from_secs(3600)))
            .collect();
        assert!(timer::armed() >= before + N);
        for (_, cancel) in &contexts {
            cancel.cancel();
        }
        assert!(
            timer::armed() < before + N / 2,
            "cancelled contexts left their timers armed"
        );
        // A child whose deadline is its parent's arms no timer of its own.
        let (parent, _c) = Context::background().with_timeout(Duration::from_secs(3600));
        let before = timer::armed();
        let kids: Vec<_> = (0..N).map(|_| parent.with_cancel()).collect();
        assert!(timer::armed() < before + N / 2);
        drop(kids);
    }
}
