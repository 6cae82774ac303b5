//! [`Select`]: `select!` for a number of operations known only at run
//! time, in crossbeam-channel's shape.
//!
//! It runs the very machinery of `select!` (`select.rs`'s `run`: lock the
//! channels in address order, try the arms in a fresh random order, else
//! one waiter queued on every channel, park, dequeue), over arms it keeps
//! boxed in a `Vec`. Two things differ, both because the caller only
//! learns which operation was chosen afterwards:
//!
//! * **A chosen receive** has already taken its value (or seen the channel
//!   closed); the [`SelectedOperation`] holds it until
//!   [`SelectedOperation::recv`] hands it over.
//! * **A chosen send** has no value yet, so it *reserves* what lets it
//!   complete without waiting (`channel.rs`'s `reserve_send`): a waiting
//!   receiver, claimed and taken off the queue (it stays parked until
//!   [`SelectedOperation::send`] fills its slot), or one buffer slot, or
//!   the fact that the channel is closed (the send then fails). Blocked,
//!   a send arm queues a *watcher* (an entry with no slot) that a receiver
//!   or a freed buffer slot wakes; the select then tries again.
//!
//! [`Select::ready`] uses watchers for every arm: it waits until some
//! operation *could* complete, completes none, and says which.
//!
//! # A `SelectedOperation` must be completed
//!
//! As in crossbeam, dropping a [`SelectedOperation`] without calling its
//! `recv` or `send` panics (unless the thread is already panicking), since
//! a received value would be lost silently. What it reserved is given back
//! first, so the channels stay sound: a claimed receiver is woken to try
//! again (`waiter.rs`'s `RETRY`), a reserved buffer slot is released to the
//! next sender, and a received value is dropped.
//!
//! Nothing here blocks with a channel lock held, and no operation is ever
//! polled: every wait is one park on one waiter.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::channel::{Chan, SendReservation};
use super::error::{ReadyTimeoutError, SelectTimeoutError, TryReadyError, TrySelectError};
use super::select::{run, AsCase, Case, Mode, RecvCase};
use super::waiter::{Waiter, RETRY};
use super::{Receiver, RecvError, SendError, Sender};
use crate::scheduler::Unparker;

/// Waits on a list of send and receive operations built at run time, and
/// chooses one (Go's `reflect.Select`, crossbeam-channel's `Select`).
///
/// Add operations with [`Select::recv`] and [`Select::send`] (each returns
/// the operation's index), then call [`Select::select`] (or `try_select`,
/// `select_timeout`): among the operations ready, one is chosen at random,
/// as in `select!`, and the returned [`SelectedOperation`] must be
/// completed with the same channel. A `Select` may be reused.
///
/// ```
/// let chans: Vec<_> = (0..4).map(|_| goro::chan::<usize>(1)).collect();
/// chans[2].0.send(20).unwrap();
///
/// let mut sel = goro::Select::new();
/// for (_, rx) in &chans {
///     sel.recv(rx);
/// }
/// let op = sel.select();
/// let i = op.index();
/// assert_eq!(i, 2);
/// assert_eq!(op.recv(&chans[i].1), Ok(20));
/// ```
///
/// A send's value is given after the choice:
///
/// ```
/// let (tx, rx) = goro::chan::<String>(1);
/// let mut sel = goro::Select::new();
/// let send = sel.send(&tx);
/// let op = sel.select();
/// assert_eq!(op.index(), send);
/// op.send(&tx, "hello".to_string()).unwrap();
/// assert_eq!(rx.recv().unwrap(), "hello");
/// ```
pub struct Select<'a> {
    arms: Vec<Box<dyn DynArm<'a> + 'a>>,
}

/// The chosen operation of a [`Select`]: complete it with
/// [`SelectedOperation::recv`] or [`SelectedOperation::send`], passing the
/// same channel end that was added at [`index`](SelectedOperation::index).
///
/// Dropping it without completing it panics (as crossbeam's does), after
/// giving back what it held: a received value is dropped, a claimed
/// receiver tries again, a reserved buffer slot is freed.
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(0);
/// goro::go!(move || tx.send(5).unwrap());
/// let mut sel = goro::Select::new();
/// sel.recv(&rx);
/// let op = sel.select();
/// assert_eq!(op.index(), 0);
/// assert_eq!(op.recv(&rx), Ok(5));
/// ```
pub struct SelectedOperation<'a> {
    index: usize,
    outcome: Option<Box<dyn Outcome + 'a>>,
    /// Holds a claimed receiver's raw pointers, and must be completed
    /// where it was chosen: neither `Send` nor `Sync`.
    _not_send: PhantomData<*const ()>,
}

impl<'a> Select<'a> {
    /// An empty select. With no operations, `select` blocks forever (Go's
    /// `select {}`) and `try_select` fails.
    ///
    /// ```
    /// let mut sel = goro::Select::new();
    /// assert!(sel.try_select().is_err());
    /// ```
    pub fn new() -> Select<'a> {
        Select { arms: Vec::new() }
    }

    /// Adds a receive on `rx`; returns its index.
    ///
    /// ```
    /// let (_tx, rx) = goro::chan::<u32>(0);
    /// let mut sel = goro::Select::new();
    /// assert_eq!(sel.recv(&rx), 0);
    /// assert_eq!(sel.recv(&rx), 1);
    /// ```
    pub fn recv<T>(&mut self, rx: &'a Receiver<T>) -> usize {
        self.arms.push(Box::new(RecvArm {
            case: RecvCase::new(&rx.chan),
            probe: false,
        }));
        self.arms.len() - 1
    }

    /// Adds a send on `tx`; returns its index. The value is given to
    /// [`SelectedOperation::send`] once this operation is chosen.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// let mut sel = goro::Select::new();
    /// let i = sel.send(&tx);
    /// let op = sel.select(); // room in the buffer: ready
    /// assert_eq!(op.index(), i);
    /// op.send(&tx, 1).unwrap();
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn send<T>(&mut self, tx: &'a Sender<T>) -> usize {
        self.arms.push(Box::new(SendArm {
            chan: &tx.chan,
            reservation: None,
            probe: false,
        }));
        self.arms.len() - 1
    }

    /// Blocks until one operation is ready, and chooses it (at random
    /// among those ready).
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// goro::go!(move || tx.send(1).unwrap());
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// let op = sel.select();
    /// assert_eq!(op.recv(&rx), Ok(1));
    /// ```
    #[track_caller]
    pub fn select(&mut self) -> SelectedOperation<'a> {
        crate::scheduler::coop();
        self.choose(Mode::Block)
            .expect("a blocking select returns only once an operation is chosen")
    }

    /// Chooses an operation that is ready now, or fails.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// tx.send(3).unwrap();
    /// let op = sel.try_select().unwrap();
    /// assert_eq!(op.recv(&rx), Ok(3));
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'a>, TrySelectError> {
        crate::scheduler::coop();
        self.choose(Mode::Try).ok_or(TrySelectError)
    }

    /// Blocks at most `timeout` for an operation to be ready.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
    /// goro::go!(move || tx.send(4).unwrap());
    /// let op = sel.select_timeout(Duration::from_secs(10)).unwrap();
    /// assert_eq!(op.recv(&rx), Ok(4));
    /// ```
    #[track_caller]
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        crate::scheduler::coop();
        self.choose(Mode::within(timeout)).ok_or(SelectTimeoutError)
    }

    /// Blocks until `deadline` at most for an operation to be ready.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = goro::chan::<u32>(0);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// let soon = Instant::now() + Duration::from_millis(5);
    /// assert!(sel.select_deadline(soon).is_err());
    /// ```
    #[track_caller]
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'a>, SelectTimeoutError> {
        crate::scheduler::coop();
        self.choose(Mode::Until(deadline)).ok_or(SelectTimeoutError)
    }

    /// Blocks until some operation is ready and returns its index, without
    /// completing it. Another goroutine may take the chance before the
    /// caller acts on it, so follow up with `try_recv`/`try_send`.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// goro::go!(move || tx.send(8).unwrap());
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.ready(), 0);
    /// assert_eq!(rx.try_recv(), Ok(8));
    /// ```
    #[track_caller]
    pub fn ready(&mut self) -> usize {
        crate::scheduler::coop();
        self.probe(Mode::Block)
            .expect("a blocking ready returns only once an operation is ready")
    }

    /// The index of an operation ready now, or an error.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// let mut sel = goro::Select::new();
    /// sel.send(&tx);
    /// assert_eq!(sel.try_ready(), Ok(0)); // room in the buffer
    /// # drop(rx);
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        crate::scheduler::coop();
        self.probe(Mode::Try).ok_or(TryReadyError)
    }

    /// [`Select::ready`], waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// let mut sel = goro::Select::new();
    /// sel.send(&tx);
    /// assert!(sel.ready_timeout(Duration::from_millis(5)).is_err()); // no receiver
    /// # drop(rx);
    /// ```
    #[track_caller]
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        crate::scheduler::coop();
        self.probe(Mode::within(timeout)).ok_or(ReadyTimeoutError)
    }

    #[track_caller]
    fn choose(&mut self, mode: Mode) -> Option<SelectedOperation<'a>> {
        self.set_probe(false);
        let index = run(&mut self.arms, mode)?;
        Some(SelectedOperation {
            index,
            outcome: Some(self.arms[index].take_outcome()),
            _not_send: PhantomData,
        })
    }

    #[track_caller]
    fn probe(&mut self, mode: Mode) -> Option<usize> {
        self.set_probe(true);
        run(&mut self.arms, mode)
    }

    fn set_probe(&mut self, probe: bool) {
        for arm in &mut self.arms {
            arm.set_probe(probe);
        }
    }
}

impl Default for Select<'_> {
    /// [`Select::new`].
    ///
    /// ```
    /// let sel: goro::Select<'_> = Default::default();
    /// # drop(sel);
    /// ```
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("operations", &self.arms.len())
            .finish()
    }
}

impl<'a> SelectedOperation<'a> {
    /// The index [`Select::recv`] or [`Select::send`] returned for the
    /// chosen operation.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// let (_tx2, rx2) = goro::chan::<u32>(1);
    /// tx.send(1).unwrap();
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx2);
    /// let i = sel.recv(&rx);
    /// let op = sel.select();
    /// assert_eq!(op.index(), i);
    /// op.recv(&rx).unwrap();
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes the chosen receive: the value, or `Err(RecvError)` if the
    /// channel was closed and drained.
    ///
    /// # Panics
    ///
    /// If `rx` is not an end of the channel chosen, or the operation chosen
    /// is a send.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// drop(tx);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Err(goro::RecvError)); // closed
    /// ```
    pub fn recv<T>(mut self, rx: &Receiver<T>) -> Result<T, RecvError> {
        let outcome = self.take_checked(&rx.chan, false);
        // SAFETY: `take_checked` checked that the outcome is a receive on
        // the channel at `rx.chan`'s address. The outcome was made by a
        // `RecvArm<'a, U>` for a `&'a Receiver<U>`, still borrowed (we are
        // alive within 'a), so a `Chan<U>` lives at that address, and so
        // does `rx`'s `Chan<T>`: two live objects at one address (of a
        // type that is not zero-sized) are one, made as one type, so
        // T is U and the box holds a `RecvOutcome<T>`.
        let outcome = unsafe { Box::from_raw(Box::into_raw(outcome) as *mut RecvOutcome<T>) };
        outcome.result
    }

    /// Completes the chosen send with `value`. It does not block: what the
    /// send needed was reserved when it was chosen. Fails, handing the
    /// value back, if the channel was closed.
    ///
    /// # Panics
    ///
    /// If `tx` is not an end of the channel chosen, or the operation chosen
    /// is a receive.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// drop(rx);
    /// let mut sel = goro::Select::new();
    /// sel.send(&tx);
    /// assert_eq!(sel.select().send(&tx, 1), Err(goro::SendError(1))); // closed
    /// ```
    pub fn send<'t, T>(mut self, tx: &'t Sender<T>, value: T) -> Result<(), SendError<T>> {
        let outcome = self.take_checked(&tx.chan, true);
        // SAFETY: as in `recv`: a send outcome on the channel at `tx.chan`'s
        // address was made by a `SendArm<'a, T>`, so it is a
        // `SendOutcome<'a, T>`. Read as `SendOutcome<'t, T>` (lifetimes do
        // not change the layout): its channel reference points at `tx`'s
        // channel, alive for 't, and the box is dropped in this call.
        let mut outcome =
            unsafe { Box::from_raw(Box::into_raw(outcome) as *mut SendOutcome<'t, T>) };
        outcome.complete(value)
    }

    /// The outcome, after checking it belongs to `chan` and is of the kind
    /// the caller completes.
    fn take_checked<T>(&mut self, chan: &Arc<Chan<T>>, send: bool) -> Box<dyn Outcome + 'a> {
        let outcome = self
            .outcome
            .take()
            .expect("a SelectedOperation is completed once");
        let addr = Arc::as_ptr(chan) as usize;
        if outcome.chan_addr() != addr || outcome.is_send() != send {
            // Give back what it holds before reporting the misuse.
            drop(outcome);
            panic!(
                "SelectedOperation::{}: not the channel and kind of operation {} that was chosen",
                if send { "send" } else { "recv" },
                self.index
            );
        }
        outcome
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        if let Some(outcome) = self.outcome.take() {
            // Release first: the channels and their peers stay sound.
            drop(outcome);
            if !std::thread::panicking() {
                panic!("dropped a SelectedOperation without completing it (call recv or send)");
            }
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// An arm of a [`Select`].
trait DynArm<'a>: Case {
    /// Probe mode (`ready`): only look, complete nothing, queue watchers.
    fn set_probe(&mut self, probe: bool);
    /// The chosen arm's result, moved out for its `SelectedOperation`.
    fn take_outcome(&mut self) -> Box<dyn Outcome + 'a>;
}

impl<'a> AsCase for Box<dyn DynArm<'a> + 'a> {
    fn case(&self) -> &dyn Case {
        &**self
    }

    fn case_mut(&mut self) -> &mut dyn Case {
        &mut **self
    }
}

/// What a [`SelectedOperation`] holds; its drop gives back what is
/// reserved.
trait Outcome {
    fn chan_addr(&self) -> usize;
    fn is_send(&self) -> bool;
}

/// A receive arm: `select!`'s [`RecvCase`], or a readiness probe.
struct RecvArm<'a, T> {
    case: RecvCase<'a, T>,
    probe: bool,
}

/// A chosen receive's result.
struct RecvOutcome<T> {
    chan_addr: usize,
    result: Result<T, RecvError>,
}

impl<T> Outcome for RecvOutcome<T> {
    fn chan_addr(&self) -> usize {
        self.chan_addr
    }

    fn is_send(&self) -> bool {
        false
    }
}

impl<T> Case for RecvArm<'_, T> {
    fn addr(&self) -> usize {
        self.case.addr()
    }

    fn lock(&self) {
        self.case.lock()
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (trait contract).
        unsafe { self.case.unlock() }
    }

    unsafe fn try_complete(&mut self) -> Option<Option<Unparker>> {
        if self.probe {
            // SAFETY: the caller holds the lock (trait contract).
            let st = unsafe { self.case.chan().locked() };
            return st.recv_ready().then_some(None);
        }
        // SAFETY: the caller holds the lock (trait contract).
        unsafe { self.case.try_complete() }
    }

    unsafe fn enqueue(&mut self, waiter: &Waiter, index: usize) {
        if self.probe {
            // SAFETY: the caller holds the lock (trait contract).
            let st = unsafe { self.case.chan().locked() };
            st.push_receiver(waiter, std::ptr::null_mut(), index);
        } else {
            // SAFETY: as the trait contract: locked, and the caller keeps
            // the waiter and this arm in place until `dequeue`.
            unsafe { self.case.enqueue(waiter, index) }
        }
    }

    fn dequeue(&mut self, waiter: &Waiter) {
        self.case.dequeue(waiter)
    }

    fn finish(&mut self) -> bool {
        // A probe's watcher only says "look again".
        !self.probe && self.case.finish()
    }
}

impl<'a, T> DynArm<'a> for RecvArm<'a, T> {
    fn set_probe(&mut self, probe: bool) {
        self.probe = probe;
    }

    fn take_outcome(&mut self) -> Box<dyn Outcome + 'a> {
        Box::new(RecvOutcome {
            chan_addr: self.case.addr(),
            result: self.case.take().expect("the chosen receive has a result"),
        })
    }
}

/// A send arm: reserves instead of sending (the value comes later).
struct SendArm<'a, T> {
    chan: &'a Chan<T>,
    reservation: Option<SendReservation<T>>,
    probe: bool,
}

/// A chosen send's reservation, until it is given its value.
struct SendOutcome<'a, T> {
    chan: &'a Chan<T>,
    reservation: Option<SendReservation<T>>,
}

impl<T> SendOutcome<'_, T> {
    fn complete(&mut self, value: T) -> Result<(), SendError<T>> {
        let reservation = self.reservation.take().expect("completed once");
        let mut st = self.chan.lock();
        let (result, wake) = match reservation {
            SendReservation::Closed => (Err(SendError(value)), None),
            SendReservation::Receiver(e) => {
                // SAFETY: we claimed this receiver's waiter under the lock
                // and dequeued it: its slot is ours to write, and its frame
                // stays alive, until we complete it; the lock we hold is
                // the one of the channel whose queue held the entry.
                unsafe { *e.slot = Some(value) };
                // SAFETY: as above.
                (Ok(()), Some(unsafe { e.waiter() }.complete(e.index)))
            }
            SendReservation::Room => match st.send_reserved(value) {
                Ok(wake) => (Ok(()), wake),
                Err(v) => (Err(SendError(v)), None),
            },
        };
        drop(st);
        if let Some(u) = wake {
            u.unpark();
        }
        result
    }
}

impl<T> Drop for SendOutcome<'_, T> {
    fn drop(&mut self) {
        let wake = match self.reservation.take() {
            None | Some(SendReservation::Closed) => None,
            Some(SendReservation::Receiver(e)) => {
                let _st = self.chan.lock();
                // SAFETY: as in `complete`: claimed and dequeued by us, so
                // the waiter is alive until we complete it; it gets nothing
                // and tries its receive again.
                Some(unsafe { e.waiter() }.complete(RETRY))
            }
            Some(SendReservation::Room) => self.chan.lock().release_reserved(),
        };
        if let Some(u) = wake {
            u.unpark();
        }
    }
}

impl<T> Outcome for SendOutcome<'_, T> {
    fn chan_addr(&self) -> usize {
        self.chan as *const Chan<T> as usize
    }

    fn is_send(&self) -> bool {
        true
    }
}

impl<T> Case for SendArm<'_, T> {
    fn addr(&self) -> usize {
        self.chan as *const Chan<T> as usize
    }

    fn lock(&self) {
        self.chan.raw_lock();
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (trait contract).
        unsafe { self.chan.raw_unlock() }
    }

    unsafe fn try_complete(&mut self) -> Option<Option<Unparker>> {
        // SAFETY: the caller holds the lock (trait contract); the reference
        // dies before this function returns.
        let st = unsafe { self.chan.locked() };
        if self.probe {
            return st.send_ready().then_some(None);
        }
        self.reservation = Some(st.reserve_send()?);
        Some(None)
    }

    unsafe fn enqueue(&mut self, waiter: &Waiter, index: usize) {
        // SAFETY: the caller holds the lock (trait contract).
        let st = unsafe { self.chan.locked() };
        // A watcher: woken by a receiver or a freed slot, never given a
        // value to move.
        st.push_sender(waiter, std::ptr::null_mut(), index);
    }

    fn dequeue(&mut self, waiter: &Waiter) {
        self.chan.lock().remove(waiter);
    }

    fn finish(&mut self) -> bool {
        // Only watchers are queued: look again.
        false
    }
}

impl<'a, T> DynArm<'a> for SendArm<'a, T> {
    fn set_probe(&mut self, probe: bool) {
        self.probe = probe;
    }

    fn take_outcome(&mut self) -> Box<dyn Outcome + 'a> {
        Box::new(SendOutcome {
            chan: self.chan,
            reservation: Some(
                self.reservation
                    .take()
                    .expect("the chosen send holds a reservation"),
            ),
        })
    }
}
