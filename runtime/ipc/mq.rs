//! [`MessageQueue`]: POSIX message queues (mq_overview(7)) that goroutines
//! send to and receive from without blocking their worker.
//!
//! A queue is a kernel object with a name (`/name`), a capacity in
//! messages and a largest message size, both fixed when it is created.
//! Messages keep their boundaries and come out highest priority first,
//! oldest first within a priority; every send and receive copies the
//! message between user and kernel space.
//!
//! On Linux a queue descriptor (`mqd_t`) is a file descriptor that epoll
//! watches: readable while the queue holds a message, writable while it
//! has room. Each `MessageQueue` opens its descriptor non-blocking and
//! registers it with the reactor; a send to a full queue or a receive
//! from an empty one (`EAGAIN`) parks the goroutine until the kernel
//! reports room or a message, whichever process made it. Timeouts are the
//! registration's timers. The attributes are read once at open
//! (`mq_getattr`), so bad input is refused before the kernel sees it and
//! each error says which limit it broke.
//!
//! This file never blocks a worker: every queue operation here is
//! non-blocking, and opening a queue does not wait.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::io::registration::{Direction, IoSource};
use crate::io::FdSource;

/// Priorities run from 0 to this, exclusive (Linux's `MQ_PRIO_MAX`).
const PRIORITY_LIMIT: u32 = 32768;

/// A POSIX message queue: named, shared by every process that opens the
/// name, with messages that keep their boundaries and come out highest
/// priority first.
///
/// `send` and `recv` take `&self`: goroutines and threads may share one
/// `MessageQueue` (it is `Send + Sync`). Waiting for room or for a
/// message parks the goroutine (a plain thread blocks). Dropping it
/// closes the descriptor; the queue itself lives until
/// [`unlink`](MessageQueue::unlink)ed and closed by everyone.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::MessageQueue;
/// let name = format!("/goro-doc-mq-{}", std::process::id());
/// let q = MessageQueue::create(&name, 8, 128)?;
/// q.send(b"low", 1)?;
/// q.send(b"high", 9)?;
/// let mut buf = [0u8; 128];
/// let (n, prio) = q.recv(&mut buf)?;
/// assert_eq!((&buf[..n], prio), (&b"high"[..], 9)); // highest first
/// MessageQueue::unlink(&name)?;
/// # Ok(()) }
/// ```
pub struct MessageQueue {
    io: IoSource<FdSource<OwnedFd>>,
    max_messages: usize,
    max_size: usize,
}

impl MessageQueue {
    /// Creates the queue `name` (a `/`, then up to 255 bytes without `/`)
    /// holding up to `max_messages` messages of up to `max_size` bytes
    /// each, readable and writable by this user only (mode 0600), and
    /// opens it. A queue of that name with the same attributes is opened
    /// instead; one with other attributes is an `AlreadyExists` error.
    ///
    /// Linux limits both numbers: `/proc/sys/fs/mqueue/msg_max` and
    /// `msgsize_max` (10 and 8192 by default; 65536 and 16 MiB for a
    /// process with `CAP_SYS_RESOURCE`), and the memory of all of a
    /// user's queues (`RLIMIT_MSGQUEUE`, `ulimit -q`). Past them this
    /// fails with `InvalidInput` or `EMFILE`, saying which.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// let name = format!("/goro-doc-create-{}", std::process::id());
    /// let q = MessageQueue::create(&name, 4, 64)?;
    /// let again = MessageQueue::create(&name, 4, 64)?; // same attributes: opened
    /// let err = MessageQueue::create(&name, 5, 64).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// let err = MessageQueue::create("no-slash", 4, 64).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// MessageQueue::unlink(&name)?;
    /// # drop((q, again)); Ok(()) }
    /// ```
    pub fn create(name: &str, max_messages: usize, max_size: usize) -> io::Result<MessageQueue> {
        let c_name = queue_name(name)?;
        if max_messages == 0 || max_size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message queue {name}: max_messages ({max_messages}) and max_size \
                     ({max_size}) must both be at least 1"
                ),
            ));
        }
        let too_big = || limits_error(name, max_messages, max_size);
        // SAFETY: mq_attr is plain integers (and padding); all zeroes is a
        // valid value, and the fields that matter are set below.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        attr.mq_maxmsg = max_messages.try_into().map_err(|_| too_big())?;
        attr.mq_msgsize = max_size.try_into().map_err(|_| too_big())?;
        let flags =
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: `c_name` is a NUL-terminated string and `attr` a valid
        // mq_attr, both alive for the call, which only reads them; the
        // mode is passed as the variadic argument O_CREAT expects.
        let fd = unsafe { libc::mq_open(c_name.as_ptr(), flags, 0o600 as libc::c_uint, &attr) };
        if fd >= 0 {
            // SAFETY: mq_open just returned this descriptor, an fd on
            // Linux, owned by nobody else.
            return MessageQueue::register(unsafe { OwnedFd::from_raw_fd(fd) }, name);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EEXIST) => {
                let q = MessageQueue::open(name)?;
                if (q.max_messages, q.max_size) != (max_messages, max_size) {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "message queue {name} already exists with max_messages {} and \
                             max_size {} (asked for {max_messages} and {max_size}): open it, \
                             or unlink it first",
                            q.max_messages, q.max_size
                        ),
                    ));
                }
                Ok(q)
            }
            Some(libc::EINVAL) => Err(too_big()),
            Some(libc::EMFILE) => Err(io::Error::new(
                err.kind(),
                format!(
                    "message queue {name}: {err}: this process has too many files open, or \
                     a queue of {max_messages} x {max_size} bytes would pass this user's \
                     RLIMIT_MSGQUEUE (ulimit -q: {} bytes for all of its queues)",
                    msgqueue_rlimit()
                ),
            )),
            _ => Err(named_error(name, err)),
        }
    }

    /// Opens the existing queue `name`, for sending and receiving.
    /// Fails with `NotFound` if there is none.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// let name = format!("/goro-doc-open-{}", std::process::id());
    /// let err = MessageQueue::open(&name).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// let q = MessageQueue::create(&name, 4, 64)?;
    /// let peer = MessageQueue::open(&name)?;
    /// peer.send(b"hi", 0)?;
    /// assert_eq!(q.recv(&mut [0u8; 64])?, (2, 0));
    /// MessageQueue::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    pub fn open(name: &str) -> io::Result<MessageQueue> {
        let c_name = queue_name(name)?;
        let flags = libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: `c_name` is a NUL-terminated string alive for the call;
        // without O_CREAT, mq_open reads no variadic argument.
        let fd = unsafe { libc::mq_open(c_name.as_ptr(), flags) };
        if fd < 0 {
            return Err(named_error(name, io::Error::last_os_error()));
        }
        // SAFETY: mq_open just returned this descriptor, owned by nobody
        // else.
        MessageQueue::register(unsafe { OwnedFd::from_raw_fd(fd) }, name)
    }

    fn register(fd: OwnedFd, name: &str) -> io::Result<MessageQueue> {
        // SAFETY: as in `create`: all zeroes is a valid mq_attr.
        let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is an open queue descriptor and `attr` a writable
        // mq_attr that mq_getattr fills in.
        if unsafe { libc::mq_getattr(fd.as_raw_fd(), &mut attr) } < 0 {
            return Err(named_error(name, io::Error::last_os_error()));
        }
        Ok(MessageQueue {
            io: IoSource::new(FdSource(fd))?,
            max_messages: attr.mq_maxmsg as usize,
            max_size: attr.mq_msgsize as usize,
        })
    }

    /// Removes the name `name`; the queue goes once every descriptor
    /// open on it is closed. Fails with `NotFound` if there is no such
    /// queue.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// let name = format!("/goro-doc-unlink-{}", std::process::id());
    /// let q = MessageQueue::create(&name, 4, 64)?;
    /// MessageQueue::unlink(&name)?;
    /// q.send(b"still works", 0)?; // until q is dropped
    /// let err = MessageQueue::open(&name).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    pub fn unlink(name: &str) -> io::Result<()> {
        let c_name = queue_name(name)?;
        // SAFETY: `c_name` is a NUL-terminated string alive for the call.
        if unsafe { libc::mq_unlink(c_name.as_ptr()) } < 0 {
            return Err(named_error(name, io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Sends `msg` with `priority` (0 to 32767, higher first), parking
    /// while the queue is full. A message longer than the queue's
    /// `max_size` is an `InvalidInput` error.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// let name = format!("/goro-doc-send-{}", std::process::id());
    /// let q = MessageQueue::create(&name, 1, 8)?;
    /// let err = q.send(b"nine bytes", 0).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// q.send(b"one", 0)?;
    /// let peer = MessageQueue::open(&name)?;
    /// let sender = goro::go!(move || peer.send(b"two", 0)); // parks: the queue is full
    /// let mut buf = [0u8; 8];
    /// assert_eq!(q.recv(&mut buf)?.0, 3);
    /// sender.join().unwrap()?;
    /// MessageQueue::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send(&self, msg: &[u8], priority: u32) -> io::Result<()> {
        self.send_until(msg, priority, None)
    }

    /// [`send`](MessageQueue::send), failing with `TimedOut` if the queue
    /// is still full after `timeout`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// use std::time::Duration;
    /// let name = format!("/goro-doc-send-timeout-{}", std::process::id());
    /// let q = MessageQueue::create(&name, 1, 8)?;
    /// q.send_timeout(b"fits", 0, Duration::from_millis(10))?;
    /// let err = q.send_timeout(b"full", 0, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// MessageQueue::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send_timeout(&self, msg: &[u8], priority: u32, timeout: Duration) -> io::Result<()> {
        self.send_until(msg, priority, Some(timeout))
    }

    #[track_caller]
    fn send_until(&self, msg: &[u8], priority: u32, timeout: Option<Duration>) -> io::Result<()> {
        if msg.len() > self.max_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a message of {} bytes does not fit this queue's max_size of {} bytes",
                    msg.len(),
                    self.max_size
                ),
            ));
        }
        if priority >= PRIORITY_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "message priority {priority} is past the largest, {}",
                    PRIORITY_LIMIT - 1
                ),
            ));
        }
        let fd = self.fd();
        let op = |_: &FdSource<OwnedFd>| {
            // SAFETY: `msg` is `msg.len()` readable bytes for the whole
            // call; mq_send only reads them.
            let rc = unsafe { libc::mq_send(fd, msg.as_ptr().cast(), msg.len(), priority) };
            if rc < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        self.wait(Direction::Write, timeout, op, "send")
    }

    /// Receives the next message (the oldest of the highest priority)
    /// into `buf`, parking while the queue is empty: its length and
    /// priority. `buf` must hold the queue's `max_size` bytes, whatever
    /// the message's length (mq_receive(3) refuses smaller buffers with
    /// `EMSGSIZE`): a smaller one is an `InvalidInput` error that says
    /// the size needed.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// let name = format!("/goro-doc-recv-{}", std::process::id());
    /// let q = MessageQueue::create(&name, 4, 64)?;
    /// let err = q.recv(&mut [0u8; 16]).unwrap_err(); // smaller than max_size
    /// assert!(err.to_string().contains("64 bytes"));
    /// let peer = MessageQueue::open(&name)?;
    /// let sender = goro::go!(move || peer.send(b"later", 2));
    /// let mut buf = [0u8; 64];
    /// let (n, prio) = q.recv(&mut buf)?; // parks until the message comes
    /// assert_eq!((&buf[..n], prio), (&b"later"[..], 2));
    /// sender.join().unwrap()?;
    /// MessageQueue::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, u32)> {
        self.recv_until(buf, None)
    }

    /// [`recv`](MessageQueue::recv), failing with `TimedOut` if the
    /// queue is still empty after `timeout`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::MessageQueue;
    /// use std::time::Duration;
    /// let name = format!("/goro-doc-recv-timeout-{}", std::process::id());
    /// let q = MessageQueue::create(&name, 4, 64)?;
    /// let err = q.recv_timeout(&mut [0u8; 64], Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// MessageQueue::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> io::Result<(usize, u32)> {
        self.recv_until(buf, Some(timeout))
    }

    #[track_caller]
    fn recv_until(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<(usize, u32)> {
        if buf.len() < self.max_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a receive buffer of {} bytes is too small: this queue's messages may be \
                     up to {} bytes, and mq_receive needs room for that many (EMSGSIZE)",
                    buf.len(),
                    self.max_size
                ),
            ));
        }
        let fd = self.fd();
        let op = |_: &FdSource<OwnedFd>| {
            let mut priority = 0;
            // SAFETY: `buf` is `buf.len()` writable bytes for the whole
            // call, mq_receive writes at most that many, and `priority`
            // is a writable u32.
            let n =
                unsafe { libc::mq_receive(fd, buf.as_mut_ptr().cast(), buf.len(), &mut priority) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok((n as usize, priority))
            }
        };
        self.wait(Direction::Read, timeout, op, "receive")
    }

    /// Runs `op` until it stops failing with `EAGAIN`, parking on `dir`
    /// readiness in between, for at most `timeout`.
    #[track_caller]
    fn wait<R>(
        &self,
        dir: Direction,
        timeout: Option<Duration>,
        op: impl FnMut(&FdSource<OwnedFd>) -> io::Result<R>,
        what: &str,
    ) -> io::Result<R> {
        // Past what an Instant holds: as good as no timeout.
        let until = timeout.and_then(|t| Instant::now().checked_add(t));
        self.io.io(dir, until, op).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                // The registration's timeout error: `timeout` has passed.
                let waited = timeout.unwrap_or_default();
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("message queue {what} timed out after {waited:?}"),
                )
            } else {
                e
            }
        })
    }

    fn fd(&self) -> RawFd {
        self.io.get().0.as_raw_fd()
    }
}

/// `name` as mq_open takes it, or why it is not a queue name.
fn queue_name(name: &str) -> io::Result<CString> {
    super::posix_name(name, "message queue")
}

/// Why a queue of these attributes cannot be created (`EINVAL`).
fn limits_error(name: &str, max_messages: usize, max_size: usize) -> io::Error {
    let limit = |file: &str| {
        std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{file}"))
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "message queue {name}: max_messages {max_messages} or max_size {max_size} is past \
             the system's limits (/proc/sys/fs/mqueue/msg_max = {}, msgsize_max = {}; a \
             process with CAP_SYS_RESOURCE may go to 65536 messages of 16 MiB)",
            limit("msg_max"),
            limit("msgsize_max")
        ),
    )
}

/// This user's RLIMIT_MSGQUEUE, in bytes.
fn msgqueue_rlimit() -> String {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a writable rlimit that getrlimit fills in.
    if unsafe { libc::getrlimit(libc::RLIMIT_MSGQUEUE, &mut lim) } < 0 {
        return "unknown".to_owned();
    }
    if lim.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        lim.rlim_cur.to_string()
    }
}

/// `err` from an operation on the queue `name`, with the name in it.
fn named_error(name: &str, err: io::Error) -> io::Error {
    let hint = match err.raw_os_error() {
        Some(libc::ENOENT) => " (no queue by that name: create it first)",
        Some(libc::EACCES) => " (the queue's mode does not let this user open it)",
        Some(libc::ENOSPC) => {
            " (the system's queue count, /proc/sys/fs/mqueue/queues_max, is reached)"
        }
        _ => "",
    };
    io::Error::new(err.kind(), format!("message queue {name}: {err}{hint}"))
}

impl AsRawFd for MessageQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

impl AsFd for MessageQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get().0.as_fd()
    }
}

impl fmt::Debug for MessageQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageQueue")
            .field("fd", &self.fd())
            .field("max_messages", &self.max_messages)
            .field("max_size", &self.max_size)
            .finish()
    }
}
