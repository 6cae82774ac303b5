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
//! # Closing
//!
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
//! * `error.rs`: the error types.
//!
//! This module only parks through the runtime's one park/unpark path; it
//! never spawns, never sleeps a worker thread, and never drops a value it
//! was given without handing it back, unless no receiver is left.

mod channel;
mod error;
pub mod select;
mod waiter;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::scheduler::{self, park, park_until, unparker};
use channel::{Chan, RecvFail, SendFail};
use waiter::Waiter;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

/// Makes a channel that holds up to `cap` values (0: unbuffered) and
/// returns its sending and receiving ends.
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan::new(cap));
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending end of a channel. Clone it for more senders.
pub struct Sender<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// The receiving end of a channel. Clone it for more receivers (each value
/// goes to one of them).
pub struct Receiver<T> {
    pub(crate) chan: Arc<Chan<T>>,
}

/// Parks until a peer completes `waiter` (returns `Some(entry index)`) or
/// the deadline passes first (returns `None`; the waiter is then aborted
/// and no peer will touch its entries).
fn wait(waiter: &Waiter, why: WaitReason, mut deadline: Option<Instant>) -> Option<usize> {
    loop {
        if let Some(i) = waiter.done() {
            return Some(i);
        }
        match deadline {
            None => park(why),
            Some(d) => {
                if park_until(why, d) && waiter.done().is_none() {
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
    /// a receiver takes it). Fails, handing the value back, if the channel
    /// is closed, or gets closed while this send waits.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends without blocking.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        scheduler::coop();
        let mut st = self.chan.lock();
        match st.try_send(self.chan.cap(), value) {
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

    /// Sends, blocking at most `timeout`.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Instant::now().checked_add(timeout))
    }

    /// Sends, blocking until `deadline` at most.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(deadline))
    }

    fn send_until(&self, value: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        scheduler::coop();
        let chan = &*self.chan;
        let mut st = chan.lock();
        let value = match st.try_send(chan.cap(), value) {
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
        if wait(&waiter, WaitReason::ChanSend, deadline).is_none() {
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
    /// already closed. Receivers drain buffered values, then get errors.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Number of buffered values.
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`chan`] (Go's `cap(ch)`).
    pub fn capacity(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both handles are ends of the same channel.
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
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Receives without blocking.
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
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Receives, blocking until `deadline` at most.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

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
        if wait(&waiter, WaitReason::ChanRecv, deadline).is_none() {
            chan.lock().remove(&waiter);
            return Err(RecvTimeoutError::Timeout);
        }
        // A sender filled the slot, or a close left it empty.
        slot.ok_or(RecvTimeoutError::Disconnected)
    }

    /// Iterates over received values until the channel is closed and
    /// drained (Go's `for v := range ch`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Iterates over the values that can be received without blocking.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Closes the channel (Go's `close(ch)`, from the receiving side).
    /// Returns false if it was already closed. Blocked and later senders
    /// get their values back in `SendError`.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed (buffered values may remain).
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Number of buffered values (Go's `len(ch)`).
    pub fn len(&self) -> usize {
        self.chan.lock().len()
    }

    /// Whether no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer size given to [`chan`] (Go's `cap(ch)`).
    pub fn capacity(&self) -> usize {
        self.chan.cap()
    }

    /// Whether both handles are ends of the same channel.
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

/// Blocking iterator over a [`Receiver`]: see [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator over a [`Receiver`]: see [`Receiver::try_iter`].
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

/// Owning blocking iterator over a [`Receiver`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
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
