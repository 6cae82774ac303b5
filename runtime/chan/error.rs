//! The errors of channel operations, named as crossbeam-channel names them
//! ("disconnected" is Go's "closed"). Every error that refuses a value hands
//! it back: nothing sent is ever dropped silently.
//!
//! The errors that hold a value are `Debug` for every `T` (printing the
//! variant, not the value, as std's and crossbeam's do), so `.unwrap()`
//! works on a send of anything.
//!
//! This file holds plain data types only; it never touches a channel.

use std::error::Error;
use std::fmt;

/// A send on a closed channel. Holds the value that was not sent.
///
/// ```
/// struct NotDebug;
/// let (tx, rx) = goro::chan::<NotDebug>(1);
/// drop(rx);
/// let err = tx.send(NotDebug).unwrap_err(); // `Debug` without `T: Debug`
/// assert_eq!(format!("{err:?}"), "SendError(..)");
/// assert_eq!(err.to_string(), "sending on a closed channel");
/// let _value: NotDebug = err.into_inner();
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// drop(rx);
    /// assert_eq!(tx.send(3).unwrap_err().into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> Error for SendError<T> {}

/// A receive on a closed and drained channel.
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(1);
/// tx.send(1).unwrap();
/// drop(tx);
/// assert_eq!(rx.recv(), Ok(1));
/// let err = rx.recv().unwrap_err();
/// assert_eq!(err, goro::RecvError);
/// assert_eq!(err.to_string(), "receiving on a closed and empty channel");
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on a closed and empty channel")
    }
}

impl Error for RecvError {}

/// Why [`Sender::try_send`](crate::Sender::try_send) failed. Holds the value.
///
/// ```
/// struct Job;
/// let (tx, _rx) = goro::chan::<Job>(0);
/// let err = tx.try_send(Job).unwrap_err(); // no receiver waits
/// assert!(err.is_full());
/// assert_eq!(format!("{err:?}"), "Full(..)");
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full (or, unbuffered, no receiver is waiting).
    Full(T),
    /// The channel is closed.
    Disconnected(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<String>(0);
    /// let err = tx.try_send("job".to_string()).unwrap_err();
    /// assert_eq!(err.into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }

    /// Whether the channel was full (not closed).
    ///
    /// ```
    /// let (tx, _rx) = goro::chan::<u32>(1);
    /// tx.try_send(1).unwrap();
    /// let err = tx.try_send(2).unwrap_err();
    /// assert!(err.is_full());
    /// assert!(!err.is_disconnected());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the channel was closed.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// drop(rx);
    /// let err = tx.try_send(1).unwrap_err();
    /// assert!(err.is_disconnected());
    /// assert_eq!(err.to_string(), "sending on a closed channel");
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> Error for TrySendError<T> {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Disconnected(e.0)
    }
}

/// Why [`Sender::send_timeout`](crate::Sender::send_timeout) failed. Holds
/// the value.
///
/// ```
/// use std::time::Duration;
/// struct Job;
/// let (tx, _rx) = goro::chan::<Job>(0);
/// let err = tx.send_timeout(Job, Duration::from_millis(1)).unwrap_err();
/// assert!(err.is_timeout());
/// assert_eq!(format!("{err:?}"), "Timeout(..)");
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// No room or no receiver before the timeout.
    Timeout(T),
    /// The channel is closed.
    Disconnected(T),
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = goro::chan::<String>(0);
    /// let err = tx.send_timeout("job".to_string(), Duration::from_millis(1));
    /// assert_eq!(err.unwrap_err().into_inner(), "job");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }

    /// Whether the send timed out (the channel is not closed).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = goro::chan::<u32>(0); // no receiver waits
    /// let err = tx.send_timeout(1, Duration::from_millis(1)).unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.to_string(), "timed out sending on a full channel");
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether the channel was closed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = goro::chan::<u32>(0);
    /// drop(rx);
    /// let err = tx.send_timeout(1, Duration::from_secs(10)).unwrap_err(); // at once
    /// assert!(err.is_disconnected());
    /// assert!(!err.is_timeout());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out sending on a full channel"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> Error for SendTimeoutError<T> {}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        SendTimeoutError::Disconnected(e.0)
    }
}

/// Why [`Receiver::try_recv`](crate::Receiver::try_recv) failed.
///
/// ```
/// use goro::TryRecvError;
/// let (tx, rx) = goro::chan::<u32>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive now.
    Empty,
    /// The channel is closed and drained.
    Disconnected,
}

impl TryRecvError {
    /// Whether the channel was just empty (not closed).
    ///
    /// ```
    /// let (_tx, rx) = goro::chan::<u32>(1);
    /// let err = rx.try_recv().unwrap_err();
    /// assert!(err.is_empty());
    /// assert_eq!(err.to_string(), "receiving on an empty channel");
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// Whether the channel was closed and drained.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => f.write_str("receiving on a closed and empty channel"),
        }
    }
}

impl Error for TryRecvError {}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}

/// Why [`Receiver::recv_timeout`](crate::Receiver::recv_timeout) failed.
///
/// ```
/// use std::time::Duration;
/// use goro::RecvTimeoutError;
/// let (tx, rx) = goro::chan::<u32>(1);
/// let err = rx.recv_timeout(Duration::from_millis(1));
/// assert_eq!(err, Err(RecvTimeoutError::Timeout));
/// drop(tx);
/// let err = rx.recv_timeout(Duration::from_secs(10)); // at once
/// assert_eq!(err, Err(RecvTimeoutError::Disconnected));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the timeout.
    Timeout,
    /// The channel is closed and drained.
    Disconnected,
}

impl RecvTimeoutError {
    /// Whether the receive timed out (the channel is not closed).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro::chan::<u32>(1);
    /// let err = rx.recv_timeout(Duration::from_millis(1)).unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.to_string(), "timed out receiving on an empty channel");
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// Whether the channel was closed and drained.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = goro::chan::<u32>(1);
    /// drop(tx);
    /// let err = rx.recv_timeout(Duration::from_secs(10)).unwrap_err();
    /// assert!(err.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvTimeoutError::Disconnected)
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out receiving on an empty channel"),
            RecvTimeoutError::Disconnected => {
                f.write_str("receiving on a closed and empty channel")
            }
        }
    }
}

impl Error for RecvTimeoutError {}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

/// [`Select::try_select`](crate::Select::try_select) found no operation
/// ready.
///
/// ```
/// let (_tx, rx) = goro::chan::<u32>(0);
/// let mut sel = goro::Select::new();
/// sel.recv(&rx);
/// assert!(sel.try_select().is_err());
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TrySelectError;

impl fmt::Display for TrySelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all operations in select would block")
    }
}

impl Error for TrySelectError {}

/// [`Select::select_timeout`](crate::Select::select_timeout) found no
/// operation ready before the timeout.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = goro::chan::<u32>(0);
/// let mut sel = goro::Select::new();
/// sel.recv(&rx);
/// assert!(sel.select_timeout(Duration::from_millis(1)).is_err());
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct SelectTimeoutError;

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}

impl Error for SelectTimeoutError {}

/// [`Select::try_ready`](crate::Select::try_ready) found no operation
/// ready.
///
/// ```
/// let (_tx, rx) = goro::chan::<u32>(0);
/// let mut sel = goro::Select::new();
/// sel.recv(&rx);
/// assert_eq!(sel.try_ready(), Err(goro::TryReadyError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct TryReadyError;

impl fmt::Display for TryReadyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("all operations in select would block")
    }
}

impl Error for TryReadyError {}

/// [`Select::ready_timeout`](crate::Select::ready_timeout) found no
/// operation ready before the timeout.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = goro::chan::<u32>(0);
/// let mut sel = goro::Select::new();
/// sel.recv(&rx);
/// assert_eq!(sel.ready_timeout(Duration::from_millis(1)), Err(goro::ReadyTimeoutError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct ReadyTimeoutError;

impl fmt::Display for ReadyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting on select")
    }
}

impl Error for ReadyTimeoutError {}
