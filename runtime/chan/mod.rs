//! Channels: Go's `chan T` with Rust's manners, and `select!`.
//!
//! [`chan`] makes a channel of capacity `cap` and returns its two ends.
//! `cap == 0` is Go's unbuffered channel: a send completes only when a
//! receiver takes the value (a rendezvous). `cap > 0` buffers up to `cap`
//! values. Both ends are `Clone` (many senders, many receivers) and work
//! from goroutines and plain OS threads alike: a blocked goroutine parks
//! (its worker runs others), a blocked thread parks the thread.
//!
//! ```
//! let (tx, rx) = goro::chan::<u32>(0);
//! let h = goro::go!(move || for i in 0..3 { tx.send(i).unwrap() });
//! assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]); // ends: tx dropped
//! h.join().unwrap();
//! ```
//!
//! [`unbounded`] makes a channel whose sends never wait; [`never`] a
//! receiver that never receives (Go's nil channel). [`select!`](crate::select!)
//! and [`Select`] wait on several operations at once.
//!
//! # Closing
//!
//! (The public copy of these rules is on [`chan`], [`Sender`] and
//! [`Receiver`]; this module is private.)
//! [`Sender::close`] or [`Receiver::close`] closes the channel (Go's
//! `close(ch)`), and so does dropping every `Sender` or every `Receiver`
//! (nobody could ever send, or receive, again). Receivers then drain what
//! is buffered and get `Err(RecvError)`; a send on a closed channel, and a
//! send blocked when it closes, gets its value back in
//! `Err(SendError(value))`. Dropping the last `Receiver` also drops the
//! values still buffered, since nobody can receive them.
//!
//! ```
//! let (tx, rx) = goro::chan::<String>(4);
//! tx.send("never received".to_string()).unwrap();
//! drop(rx); // drops the buffered string too
//! assert_eq!(tx.send("late".to_string()).unwrap_err().0, "late");
//! ```
//!
//! # Layout
//!
//! * `channel.rs`: the buffer, the wait queues and Go's send/receive/close
//!   algorithm, behind one lock; nothing there parks.
//! * `waiter.rs`: the record a blocked operation leaves in wait queues
//!   (Go's sudog), and the one atomic state that decides who completes it.
//! * `select.rs`: `select!`, which waits on many channels with one waiter.
//! * `select_dynamic.rs`: [`Select`], the same machinery over arms known
//!   only at run time.
//! * `error.rs`: the error types.
//!
//! This module only parks through the runtime's one park/unpark path; it
//! never spawns, never sleeps a worker thread, and never drops a value it
//! was given without handing it back, unless no receiver is left.

mod channel;
mod error;
pub mod select;
mod select_dynamic;
mod waiter;

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::scheduler::{self, park, park_until, unparker};
use channel::{Chan, RecvFail, SendFail, UNBOUNDED};
use waiter::{Waiter, RETRY};

pub use error::{
    ReadyTimeoutError, RecvError, RecvTimeoutError, SelectTimeoutError, SendError,
    SendTimeoutError, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use select_dynamic::{Select, SelectedOperation};

/// Makes a channel that holds up to `cap` values (0: unbuffered, Go's
/// `make(chan T)`) and returns its sending and receiving ends.
///
/// # Closing rules
///
/// * **Who closes.** Either end may close the channel ([`Sender::close`],
///   [`Receiver::close`]: Go's `close(ch)`), and dropping every `Sender`,
///   or every `Receiver`, closes it too (nobody could send, or receive,
///   again). Closing twice is harmless: `close` returns false.
/// * **Send on a closed channel** fails at once and hands the value back
///   in `Err(SendError(value))` (Go panics instead). A send blocked when
///   the channel closes fails the same way.
/// * **Receive after close** drains what is buffered first, in order; once
///   the buffer is empty every receive gets `Err(RecvError)` at once (Go's
///   zero value with `ok == false`), and [`Receiver::iter`] ends.
/// * **Dropping the last `Receiver`** drops the values still buffered:
///   nobody can receive them.
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(2);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// tx.close();
/// assert_eq!(tx.send(3).unwrap_err().into_inner(), 3); // refused
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2]);   // drained
/// assert_eq!(rx.recv(), Err(goro::RecvError));         // then closed
///
/// let (tx, rx) = goro::chan::<String>(4);
/// tx.send("never received".to_string()).unwrap();
/// drop(rx); // closes, and drops the buffered string
/// assert_eq!(tx.send("late".to_string()).unwrap_err().0, "late");
/// ```
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    from_chan(Chan::new(cap))
}

/// Makes a channel without a capacity limit: a send never blocks (the
/// buffer grows), so a `send` arm of [`select!`](crate::select!) on it is
/// always ready. The ends are the same [`Sender`] and [`Receiver`] as
/// [`chan`]'s, with the same closing rules; [`Sender::capacity`] says
/// `usize::MAX`. crossbeam-channel's `unbounded`.
///
/// ```
/// let (tx, rx) = goro::unbounded::<u32>();
/// for i in 0..10_000 {
///     tx.send(i).unwrap(); // never waits for a receiver
/// }
/// drop(tx);
/// assert_eq!(rx.iter().count(), 10_000);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    from_chan(Chan::new(UNBOUNDED))
}

/// A receiver that never receives and is never closed (Go's nil channel,
/// crossbeam-channel's `never`): [`Receiver::recv`] on it blocks forever,
/// [`Receiver::try_recv`] says `Empty`, [`Receiver::close`] is refused
/// (returns false), and its arm in [`select!`](crate::select!) or
/// [`Select`] is never chosen, which switches that arm off.
///
/// A goroutine blocked on it for good is a blocked goroutine like any
/// other: if nothing else can run, goro reports the deadlock.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = goro::chan::<u32>(1);
/// tx.send(5).unwrap();
/// // Switch the first arm off without changing the select.
/// let input = if true { goro::never() } else { rx.clone() };
/// let got = goro::select! {
///     recv(input) -> v => v.unwrap(),
///     recv(rx) -> v => v.unwrap() * 10,
/// };
/// assert_eq!(got, 50);
/// assert!(goro::never::<u32>().try_recv().unwrap_err().is_empty());
/// assert!(goro::never::<u32>().recv_timeout(Duration::from_millis(1)).is_err());
/// ```
pub fn never<T>() -> Receiver<T> {
    Receiver {
        chan: Arc::new(Chan::never()),
    }
}

/// Hands out the two ends of `chan` (its counts start at one each).
fn from_chan<T>(chan: Chan<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan);
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending end of a channel. Clone it for more senders; it may move to
/// and be used from any goroutine or thread.
///
/// Closing (see [`chan`] for all the rules): [`Sender::close`] closes the
/// channel for everyone, and so does dropping the last `Sender`; a send on
/// a closed channel, or one blocked when it closes, returns its value in
/// `Err(SendError(value))`; receivers still drain what was buffered.
///
/// ```
/// let (tx, rx) = goro::chan::<&str>(1);
/// let tx2 = tx.clone();
/// goro::go!(move || tx2.send("hello").unwrap()).join().unwrap();
/// drop(tx); // the last sender: closes the channel
/// assert_eq!(rx.recv(), Ok("hello")); // drained first
/// assert!(rx.recv().is_err());        // then closed
/// ```
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving end of a channel. Clone it for more receivers (each value
/// goes to one of them); it may move to and be used from any goroutine or
/// thread.
///
/// Closing (see [`chan`] for all the rules): receives drain the buffered
/// values, then fail with [`RecvError`] once the channel is closed (by
/// either end's `close`, or the last `Sender` dropped). [`Receiver::close`]
/// closes it from this side; dropping the last `Receiver` closes it too
/// and drops what was still buffered, and senders get their values back.
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(0);
/// goro::go!(move || {
///     for i in 1..=3 {
///         tx.send(i).unwrap();
///     }
/// }); // tx dropped at the end: closed
/// assert_eq!(rx.iter().sum::<u32>(), 6);
/// ```
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

// Why not automatic: `Chan` holds its state in an `UnsafeCell` (and raw
// pointers in its queues), which makes `Arc<Chan<T>>` neither `UnwindSafe`
// nor `RefUnwindSafe`. Asserting both is sound in the sense these traits
// mean (no broken invariant is observable after a caught panic): every
// change to the state happens under the channel lock, and no user code runs
// while it is held (values are only moved under it; they are dropped, and
// wakes delivered, after unlocking), so a panic can never unwind out of
// the middle of a channel operation. A value is either still with its
// sender, in the channel, or with a receiver. std's and crossbeam's
// channels make the same promise.
impl<T> UnwindSafe for Sender<T> {}
impl<T> RefUnwindSafe for Sender<T> {}
impl<T> UnwindSafe for Receiver<T> {}
impl<T> RefUnwindSafe for Receiver<T> {}

/// Parks until a peer completes `waiter` (returns `Some(entry index)`) or
/// the deadline passes first (returns `None`; the waiter is then aborted
/// and no peer will touch its entries).
#[track_caller]
fn wait(
    waiter: &Waiter,
    why: WaitReason,
    on: usize,
    mut deadline: Option<Instant>,
) -> Option<usize> {
    loop {
        if let Some(i) = waiter.done() {
            return Some(i);
        }
        match deadline {
            None => park(why, on),
            Some(d) => {
                if park_until(why, on, d) && waiter.done().is_none() {
                    if waiter.try_abort() {
                        return None;
                    }
                    // A peer claimed it just now and is moving the value:
                    // its DONE and its unpark follow shortly.
                    deadline = None;
                }
            }
        }
    }
}

impl<T> Sender<T> {
    /// Sends `value`, blocking while the channel is full (unbuffered: until
    /// a receiver takes it; unbounded: never). Fails, handing the value
    /// back, if the channel is closed, or gets closed while this send waits.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// tx.send(1).unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send(2), Err(goro::SendError(2)));
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends without blocking.
    ///
    /// ```
    /// use goro::TrySendError;
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// rx.close();
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        scheduler::coop();
        let mut st = self.chan.lock();
        match st.try_send(value) {
            Ok(wake) => {
                drop(st);
                if let Some(u) = wake {
                    u.unpark();
                }
                Ok(())
            }
            Err(SendFail::Full(v)) => Err(TrySendError::Full(v)),
            Err(SendFail::Closed(v)) => Err(TrySendError::Disconnected(v)),
        }
    }

    /// Sends, blocking at most `timeout`. On timeout, or if the channel is
    /// closed, the value comes back in the error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::SendTimeoutError;
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// assert_eq!(tx.send_timeout(1, Duration::from_millis(5)), Ok(()));
    /// // Full, and nobody receives: times out with the value.
    /// let err = tx.send_timeout(2, Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, SendTimeoutError::Timeout(2));
    /// drop(rx);
    /// let err = tx.send_timeout(3, Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, SendTimeoutError::Disconnected(3));
    /// ```
    #[track_caller]
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Instant::now().checked_add(timeout))
    }

    /// Sends, blocking until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, _rx) = goro::chan::<u32>(0); // unbuffered: needs a receiver
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// let err = tx.send_deadline(7, deadline).unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    #[track_caller]
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(deadline))
    }

    #[track_caller]
    fn send_until(&self, value: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        scheduler::coop();
        let chan = &*self.chan;
        let mut st = chan.lock();
        let value = match st.try_send(value) {
            Ok(wake) => {
                drop(st);
                if let Some(u) = wake {
                    u.unpark();
                }
                return Ok(());
            }
            Err(SendFail::Closed(v)) => return Err(SendTimeoutError::Disconnected(v)),
            Err(SendFail::Full(v)) => v,
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(SendTimeoutError::Timeout(value));
        }
        let mut slot = Some(value);
        let waiter = Waiter::new(unparker(), deadline.is_some());
        // The entry points into this frame: we return only after a peer
        // completed it (it was dequeued) or after we aborted and removed
        // it below (waiter.rs argues this).
        st.push_sender(&waiter, std::ptr::addr_of_mut!(slot), 0);
        drop(st);
        if wait(&waiter, WaitReason::ChanSend, chan.address(), deadline).is_none() {
            chan.lock().remove(&waiter);
            let v = slot.take().expect("aborted sender lost its value");
            return Err(SendTimeoutError::Timeout(v));
        }
        // Received: the receiver took the value. Closed: it is still here.
        match slot.take() {
            None => Ok(()),
            Some(v) => Err(SendTimeoutError::Disconnected(v)),
        }
    }

    /// Closes the channel (Go's `close(ch)`). Returns false if it was
    /// already closed. Receivers drain buffered values, then get errors;
    /// blocked and later sends fail with their value.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// tx.send(1).unwrap();
    /// assert!(tx.close());
    /// assert!(!tx.close()); // already closed
    /// assert_eq!(rx.recv(), Ok(1));
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// assert!(!tx.is_closed());
    /// drop(rx); // the last receiver: closes the channel
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Number of buffered values (Go's `len(ch)`).
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<u32>(4);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(tx.len(), 2);
    /// assert_eq!(goro::chan::<u32>(0).0.len(), 0); // unbuffered: always 0
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// assert!(tx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!tx.is_empty());
    /// rx.recv().unwrap();
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`chan`] (Go's `cap(ch)`); `usize::MAX`
    /// for an [`unbounded`] channel.
    ///
    /// ```
    /// assert_eq!(goro::chan::<u8>(3).0.capacity(), 3);
    /// assert_eq!(goro::unbounded::<u8>().0.capacity(), usize::MAX);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both handles are ends of the same channel.
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<u32>(1);
    /// let (other, _rx2) = goro::chan::<u32>(1);
    /// assert!(tx.same_channel(&tx.clone()));
    /// assert!(!tx.same_channel(&other));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    #[doc(hidden)]
    pub fn __select_send(&self, value: T) -> select::SendCase<'_, T> {
        select::SendCase::new(&self.chan, value)
    }
}

impl<T> Receiver<T> {
    /// Receives a value, blocking until one is there. Fails once the
    /// channel is closed and drained.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// goro::go!(move || tx.send(9).unwrap());
    /// assert_eq!(rx.recv(), Ok(9));
    /// assert_eq!(rx.recv(), Err(goro::RecvError)); // the sender is gone
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Receives without blocking: `Empty` if nothing is buffered (and no
    /// sender waits), `Disconnected` once the channel is closed and drained.
    ///
    /// ```
    /// use goro::TryRecvError;
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1)); // drained first
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        scheduler::coop();
        self.try_recv_now()
    }

    /// [`Receiver::try_recv`] that never yields (no `coop`): for callers
    /// that hold a lock a timer callback also takes (`time.rs`).
    pub(crate) fn try_recv_now(&self) -> Result<T, TryRecvError> {
        let mut st = self.chan.lock();
        match st.try_recv() {
            Ok((v, wake)) => {
                drop(st);
                if let Some(u) = wake {
                    u.unpark();
                }
                Ok(v)
            }
            Err(RecvFail::Empty) => Err(TryRecvError::Empty),
            Err(RecvFail::Closed) => Err(TryRecvError::Disconnected),
        }
    }

    /// Receives, blocking at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::RecvTimeoutError;
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// let err = rx.recv_timeout(Duration::from_millis(5)).unwrap_err();
    /// assert_eq!(err, RecvTimeoutError::Timeout);
    /// goro::go!(move || tx.send(1).unwrap());
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(1));
    /// // The sender is gone now: closed, not a timeout.
    /// let err = rx.recv_timeout(Duration::from_secs(10)).unwrap_err();
    /// assert_eq!(err, RecvTimeoutError::Disconnected);
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Receives, blocking until `deadline` at most.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = goro::chan::<u32>(1);
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(rx.recv_deadline(deadline).unwrap_err().is_timeout());
    /// ```
    #[track_caller]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    #[track_caller]
    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        scheduler::coop();
        let chan = &*self.chan;
        let mut st = chan.lock();
        match st.try_recv() {
            Ok((v, wake)) => {
                drop(st);
                if let Some(u) = wake {
                    u.unpark();
                }
                return Ok(v);
            }
            Err(RecvFail::Closed) => return Err(RecvTimeoutError::Disconnected),
            Err(RecvFail::Empty) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(RecvTimeoutError::Timeout);
        }
        let mut slot: Option<T> = None;
        let waiter = Waiter::new(unparker(), deadline.is_some());
        // As in `send_until`: we leave this frame only once the entry is
        // completed (dequeued by the peer) or aborted and removed.
        st.push_receiver(&waiter, std::ptr::addr_of_mut!(slot), 0);
        drop(st);
        match wait(&waiter, WaitReason::ChanRecv, chan.address(), deadline) {
            None => {
                chan.lock().remove(&waiter);
                Err(RecvTimeoutError::Timeout)
            }
            // A dynamic select's send claimed us and backed out (rare: a
            // dropped `SelectedOperation`): start over. Out of line, so
            // the common path keeps its shape.
            Some(RETRY) => self.recv_again(deadline),
            // A sender filled the slot, or a close left it empty.
            Some(_) => slot.ok_or(RecvTimeoutError::Disconnected),
        }
    }

    #[cold]
    #[inline(never)]
    #[track_caller]
    fn recv_again(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        self.recv_until(deadline)
    }

    /// Iterates over received values until the channel is closed and
    /// drained (Go's `for v := range ch`).
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// goro::go!(move || {
    ///     for i in 1..=3 {
    ///         tx.send(i).unwrap();
    ///     }
    /// }); // tx dropped: the loop below ends
    /// let mut got = Vec::new();
    /// for v in rx.iter() {
    ///     got.push(v);
    /// }
    /// assert_eq!(got, [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Iterates over the values that can be received without blocking.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(4);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// // Stops when the buffer is empty, though the channel is open.
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// assert_eq!(rx.try_iter().next(), None);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Closes the channel (Go's `close(ch)`, from the receiving side).
    /// Returns false if it was already closed (or is [`never`](fn@crate::never)'s, which
    /// stays open). Blocked and later senders get their values back in
    /// `SendError`; buffered values can still be received.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// tx.send(1).unwrap();
    /// assert!(rx.close());
    /// assert!(tx.send(2).is_err());
    /// assert_eq!(rx.recv(), Ok(1)); // drains first
    /// assert!(!goro::never::<u32>().close());
    /// ```
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed (buffered values may remain).
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert!(rx.is_closed());
    /// assert_eq!(rx.recv(), Ok(1)); // still there to drain
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Number of buffered values (Go's `len(ch)`).
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(4);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// rx.recv().unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether no value is buffered.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// assert!(rx.is_empty());
    /// tx.send(1).unwrap();
    /// assert!(!rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`chan`] (Go's `cap(ch)`); `usize::MAX`
    /// for an [`unbounded`] channel, 0 for [`never`](fn@crate::never)'s.
    ///
    /// ```
    /// assert_eq!(goro::chan::<u8>(0).1.capacity(), 0);
    /// assert_eq!(goro::unbounded::<u8>().1.capacity(), usize::MAX);
    /// ```
    pub fn capacity(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both handles are ends of the same channel.
    ///
    /// ```
    /// let (_tx, rx) = goro::chan::<u32>(1);
    /// assert!(rx.same_channel(&rx.clone()));
    /// assert!(!rx.same_channel(&goro::never()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }

    #[doc(hidden)]
    pub fn __select_recv(&self) -> select::RecvCase<'_, T> {
        select::RecvCase::new(&self.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: we already hold a count, so it cannot reach zero
        // meanwhile (Arc's reasoning).
        self.chan.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender's close sees every other sender's use.
        if self.chan.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: as for Sender.
        self.chan.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: as for Sender.
        if self.chan.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.chan.close();
            // Nobody can receive what is buffered any more, and the closed
            // channel takes nothing new: drop it now rather than with the
            // last sender, which may live on for long.
            let (unreceivable, hook) = {
                let mut st = self.chan.lock();
                (st.take_buffered(), st.on_abandon.take())
            };
            // Both outside the lock: the hook may take other locks
            // (timers), and a value's drop may even drop a Sender of this
            // channel.
            if let Some(hook) = hook {
                hook();
            }
            drop(unreceivable);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.chan.cap())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.chan.cap())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Blocking iterator over a [`Receiver`]: see [`Receiver::iter`]. Also
/// what `for v in &rx` uses.
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(3);
/// for i in 0..3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx);
/// let mut it: goro::Iter<'_, u32> = rx.iter();
/// assert_eq!(it.next(), Some(0));
/// assert_eq!(it.collect::<Vec<_>>(), [1, 2]); // ends: closed and drained
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator over a [`Receiver`]: see [`Receiver::try_iter`].
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(2);
/// tx.send(5).unwrap();
/// let mut it: goro::TryIter<'_, u32> = rx.try_iter();
/// assert_eq!(it.next(), Some(5));
/// assert_eq!(it.next(), None); // empty now, though still open
/// # drop(tx);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator over a [`Receiver`]: what `for v in rx` (by
/// value) uses; it ends once the channel is closed and drained.
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(0);
/// goro::go!(move || {
///     tx.send(1).unwrap();
///     tx.send(2).unwrap();
/// });
/// let it: goro::IntoIter<u32> = rx.into_iter();
/// assert_eq!(it.sum::<u32>(), 3);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
