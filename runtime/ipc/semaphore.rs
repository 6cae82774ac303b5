//! [`Semaphore`]: a counting semaphore that processes share, built on an
//! eventfd in semaphore mode (`EFD_SEMAPHORE`).
//!
//! The eventfd's 64-bit counter is the semaphore's value. In semaphore
//! mode a read(2) takes exactly one unit (P, [`Semaphore::acquire`]) and
//! fails with `EAGAIN` while the counter is 0; a write(2) of 1 adds one
//! (V, [`Semaphore::release`]). The fd is non-blocking and registered
//! with the reactor, so `acquire` parks on `EAGAIN` until the counter
//! becomes non-zero (the kernel reports the eventfd readable), whichever
//! process released it. Every waiter of this process wakes on a release
//! and retries its read: one wins, the others park again.
//!
//! What an eventfd is not: it has no name, so only processes that
//! inherit (or receive over a Unix socket) the descriptor share it, and
//! it has no undo on exit (`SEM_UNDO`): a holder that dies without
//! releasing keeps its unit forever. This file never blocks a worker:
//! every syscall here is non-blocking.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::io::registration::{Direction, IoSource};
use crate::io::{set_nonblocking, FdSource};
use crate::WaitReason;

/// A counting semaphore that goroutines, threads and processes share: an
/// eventfd in semaphore mode.
///
/// [`acquire`](Semaphore::acquire) (P) takes one unit, parking the
/// goroutine (a plain thread blocks) while there is none;
/// [`release`](Semaphore::release) (V) gives one back and wakes a waiter,
/// in this process or another.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::Semaphore;
/// let sem = Semaphore::new(2)?;
/// sem.acquire()?;
/// sem.acquire()?;
/// assert!(!sem.try_acquire()?); // both units are taken
/// sem.release()?;
/// assert!(sem.try_acquire()?);
/// # Ok(()) }
/// ```
///
/// # Sharing it with a child process
///
/// The descriptor is created close-on-exec. Let the child inherit a copy
/// whose `FD_CLOEXEC` is clear, tell the child its number, and rebuild the
/// semaphore there with [`from_fd`](Semaphore::from_fd):
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::Semaphore;
/// use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
/// let sem = Semaphore::new(0)?;
/// // Parent: a copy that survives exec, for this one spawn.
/// // SAFETY (of the example): fcntl only changes the fd flags of our own fd.
/// let copy = unsafe { OwnedFd::from_raw_fd(libc::fcntl(sem.as_raw_fd(), libc::F_DUPFD, 3)) };
/// let mut child = goro::process::Command::new(std::env::current_exe()?)
///     .env("SEM_FD", copy.as_raw_fd().to_string())
///     .spawn()?;
/// drop(copy); // the child has its own
/// sem.acquire()?; // parks until the child releases
/// child.wait()?;
///
/// // Child: take ownership of the inherited number.
/// let fd: i32 = std::env::var("SEM_FD").unwrap().parse().unwrap();
/// // SAFETY (of the example): the fd was inherited and nothing else owns it.
/// let sem = Semaphore::from_fd(unsafe { OwnedFd::from_raw_fd(fd) })?;
/// sem.release()?;
/// # Ok(()) }
/// ```
///
/// (`F_DUPFD` makes a copy without `FD_CLOEXEC`; clearing the flag on
/// `as_raw_fd()` itself with `F_SETFD` works too, but then every child
/// spawned meanwhile, by any thread, inherits it.) A child may also get
/// the descriptor as its stdin (`Stdio::from(OwnedFd)`), or over a Unix
/// socket with `SCM_RIGHTS`.
///
/// The semaphore lives while any process holds its descriptor; it has no
/// name to reopen it by, and no undo on exit: a process killed while
/// holding a unit does not give it back, so a peer that may die should be
/// waited for with [`acquire_timeout`](Semaphore::acquire_timeout).
pub struct Semaphore {
    io: IoSource<FdSource<OwnedFd>>,
}

/// What the kernel shows as an eventfd's target in `/proc/self/fd`.
const EVENTFD_LINK: &str = "anon_inode:[eventfd]";

impl Semaphore {
    /// A semaphore holding `initial` units.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = goro::ipc::Semaphore::new(1)?;
    /// assert!(sem.try_acquire()?);
    /// assert!(!sem.try_acquire()?);
    /// # Ok(()) }
    /// ```
    pub fn new(initial: u32) -> io::Result<Semaphore> {
        let flags = libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK | libc::EFD_CLOEXEC;
        // SAFETY: eventfd takes no pointers; it returns a new fd or -1.
        let fd = unsafe { libc::eventfd(initial, flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: eventfd just returned this fd, open and owned by nobody
        // else: the OwnedFd takes sole ownership.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Semaphore::register(fd)
    }

    /// Rebuilds a semaphore from an eventfd in semaphore mode, typically
    /// one a child process inherited (see [Sharing it with a child
    /// process](Semaphore#sharing-it-with-a-child-process)). The fd is
    /// made non-blocking and close-on-exec.
    ///
    /// Fails with `InvalidInput`, closing `fd`, if it is not an eventfd or
    /// an eventfd without `EFD_SEMAPHORE` (whose reads would take the
    /// whole count at once).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::Semaphore;
    /// use std::os::fd::OwnedFd;
    /// let not_one: OwnedFd = std::fs::File::open("/dev/null")?.into();
    /// let err = Semaphore::from_fd(not_one).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///
    /// let sem = Semaphore::new(1)?;
    /// let same = Semaphore::from_fd(std::os::fd::AsFd::as_fd(&sem).try_clone_to_owned()?)?;
    /// assert!(same.try_acquire()?); // one counter, two handles
    /// assert!(!sem.try_acquire()?);
    /// # Ok(()) }
    /// ```
    pub fn from_fd(fd: OwnedFd) -> io::Result<Semaphore> {
        let raw = fd.as_raw_fd();
        let target = std::fs::read_link(format!("/proc/self/fd/{raw}"))?;
        if target.as_os_str() != EVENTFD_LINK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "fd {raw} is not an eventfd (it is {}): a Semaphore can only be rebuilt \
                     from the eventfd of another Semaphore",
                    target.display()
                ),
            ));
        }
        // Linux 6.3 and later show the mode; older kernels cannot be asked.
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{raw}"))?;
        if info.lines().any(|l| {
            l.strip_prefix("eventfd-semaphore:")
                .is_some_and(|v| v.trim() == "0")
        }) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "eventfd {raw} is not in semaphore mode (EFD_SEMAPHORE): \
                     a read would take its whole count, not one unit"
                ),
            ));
        }
        set_nonblocking(raw)?;
        // SAFETY: F_SETFD only sets the descriptor flags of `raw`, an fd
        // we own (`fd`); it touches no memory of ours.
        if unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Semaphore::register(fd)
    }

    fn register(fd: OwnedFd) -> io::Result<Semaphore> {
        Ok(Semaphore {
            io: IoSource::new(FdSource(fd))?,
        })
    }

    fn fd(&self) -> RawFd {
        self.io.get().0.as_raw_fd()
    }

    /// Takes one unit (P), parking the goroutine while there is none.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::sync::Arc;
    /// let sem = Arc::new(goro::ipc::Semaphore::new(0)?);
    /// let s = sem.clone();
    /// let waiter = goro::go!(move || s.acquire());
    /// sem.release()?;
    /// waiter.join().unwrap()?;
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> io::Result<()> {
        self.io
            .io_as(Direction::Read, WaitReason::Semaphore, None, |_| {
                take_one(self.fd())
            })
    }

    /// Takes one unit if there is one, without waiting: whether it did.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = goro::ipc::Semaphore::new(0)?;
    /// assert!(!sem.try_acquire()?);
    /// # Ok(()) }
    /// ```
    pub fn try_acquire(&self) -> io::Result<bool> {
        loop {
            match take_one(self.fd()) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes one unit, parking at most `timeout` while there is none:
    /// whether it did.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = goro::ipc::Semaphore::new(0)?;
    /// assert!(!sem.acquire_timeout(Duration::from_millis(10))?);
    /// sem.release()?;
    /// assert!(sem.acquire_timeout(Duration::from_millis(10))?);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> io::Result<bool> {
        // Past what an Instant holds: wait as long as it takes.
        let until = Instant::now().checked_add(timeout);
        match self
            .io
            .io_as(Direction::Read, WaitReason::Semaphore, until, |_| {
                take_one(self.fd())
            }) {
            Ok(()) => Ok(true),
            // The registration's timeout error: it waited `timeout`.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives one unit back (V), waking a waiter in any process that
    /// shares the semaphore.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = goro::ipc::Semaphore::new(0)?;
    /// sem.release()?;
    /// assert!(sem.try_acquire()?);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn release(&self) -> io::Result<()> {
        // Blocks only at a count of 2^64 - 2, until someone acquires.
        self.io.io(Direction::Write, None, |_| {
            let one = 1u64.to_ne_bytes();
            // SAFETY: `one` is 8 readable bytes for the whole call, the size
            // an eventfd write takes; write(2) only reads them.
            let n = unsafe { libc::write(self.fd(), one.as_ptr().cast(), one.len()) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        })
    }
}

/// One non-blocking read of a semaphore-mode eventfd: takes one unit, or
/// fails with `WouldBlock` at 0.
fn take_one(fd: RawFd) -> io::Result<()> {
    let mut unit = [0u8; 8];
    // SAFETY: `unit` is 8 writable bytes for the whole call, the size an
    // eventfd read fills; read(2) writes at most that many.
    let n = unsafe { libc::read(fd, unit.as_mut_ptr().cast(), unit.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl AsRawFd for Semaphore {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}

impl AsFd for Semaphore {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get().0.as_fd()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("fd", &self.fd()).finish()
    }
}
