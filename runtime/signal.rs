//! OS signals as channel messages, like Go's `os/signal`: [`notify`] and
//! [`reset`].
//!
//! The first time a signal is watched, goro saves its disposition and
//! installs its own handler (sigaction), which writes the signal number as
//! one byte into a process-wide non-blocking [`pipe`](crate::io::pipe) —
//! write(2) is async-signal-safe — and then calls the handler that was
//! there before, if that was a function (not the default action or
//! "ignore"). One dispatcher goroutine reads the pipe and `try_send`s each
//! number to every watcher of that signal, dropping it when a channel is
//! full, as Go does.
//!
//! When the last watcher of a signal goes — its receiver dropped, or
//! [`reset`] — the saved disposition is put back, so a signal nobody
//! watches gets its default action again (Go's `signal.Stop`/`Reset`).
//! A dropped receiver is noticed when the next signal for it arrives; that
//! signal is then raised again under the restored disposition, so it has
//! the effect it would have had if the receiver had been gone already.
//!
//! This module must never do more than write(2) and the previous handler's
//! call inside a signal handler, and never close the pipe a handler may
//! write to (it lives for the whole process).

use parking_lot::Mutex;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::chan::{chan, Receiver, Sender, TrySendError};
use crate::io::{PipeReader, PipeWriter};

/// Signals buffered in a [`notify`] channel before new ones are dropped.
///
/// ```
/// let rx = goro::signal::notify(&[libc::SIGUSR1]).unwrap();
/// assert_eq!(rx.capacity(), goro::signal::BUFFER);
/// # goro::signal::reset(libc::SIGUSR1).unwrap();
/// ```
pub const BUFFER: usize = 64;

/// Signal numbers are 1..NSIG on Linux (SIGRTMAX is 64).
const NSIG: usize = 65;

/// Signals that cannot be caught, or that goro must leave alone: a
/// synchronous fault cannot be handled by a channel message, and goro's
/// stack-overflow report owns SIGSEGV and SIGBUS.
const FORBIDDEN: [i32; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGBUS,
];

/// The pipe's write end, read by the handler (-1 until the pipe exists).
/// Relaxed: the handler is only installed after the fd is stored, and
/// sigaction orders the two.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// Per signal, the previous handler to chain to (`SIG_DFL` when there is
/// none to call) and whether it takes siginfo. Written before goro's
/// handler is installed for that signal; atomics, so a handler still
/// running on another thread while they change reads whole values.
static PREVIOUS_HANDLER: [AtomicUsize; NSIG] = [const { AtomicUsize::new(libc::SIG_DFL) }; NSIG];
static PREVIOUS_SIGINFO: [AtomicBool; NSIG] = [const { AtomicBool::new(false) }; NSIG];

/// A wake-up byte for the dispatcher (no signal is numbered 0): [`reset`]
/// writes it so the dispatcher sees that it has nothing left to watch.
const WAKE: u8 = 0;

struct Watcher {
    signals: Vec<i32>,
    tx: Sender<i32>,
}

struct Registry {
    watchers: Vec<Watcher>,
    /// Signals with goro's handler installed, each with the disposition it
    /// had before (restored when nobody watches it any more).
    installed: Vec<(i32, libc::sigaction)>,
    /// Whether the dispatcher goroutine is running. It exits when nothing
    /// is installed, so a program that stopped watching signals has no
    /// goroutine waiting on I/O (which would rule out deadlock reports).
    dispatching: bool,
}

static REGISTRY: Mutex<Registry> = parking_lot::const_mutex(Registry {
    watchers: Vec::new(),
    installed: Vec::new(),
    dispatching: false,
});

/// The process-wide pipe, created on first use and never closed.
fn pipe() -> io::Result<&'static (PipeReader, PipeWriter)> {
    static PIPE: OnceLock<(PipeReader, PipeWriter)> = OnceLock::new();
    if let Some(p) = PIPE.get() {
        return Ok(p);
    }
    let p = crate::io::pipe()?;
    let p = PIPE.get_or_init(|| p);
    WRITE_FD.store(p.1.as_raw_fd(), Ordering::Relaxed);
    Ok(p)
}

fn check(sig: i32) -> io::Result<()> {
    if !(1..NSIG as i32).contains(&sig) || FORBIDDEN.contains(&sig) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {sig} cannot be watched"),
        ));
    }
    Ok(())
}

/// Delivers the given signals on the returned channel (capacity
/// [`BUFFER`]); a signal that arrives while the channel is full is dropped,
/// as with Go's `signal.Notify` on a full channel.
///
/// While a signal is watched, its default action (terminating the process
/// for SIGINT and SIGTERM, say) does not happen: the program decides. A
/// handler installed before goro's still runs.
///
/// Calling `notify` again — for the same signals or others — adds another
/// independent watcher: every receiver gets every signal it asked for.
/// Dropping a receiver stops its watcher; once a signal has no watcher
/// left, it gets back the disposition it had before `notify` (the default
/// action, unless something else had installed one). See also [`reset`].
///
/// Fails with `InvalidInput` for a number outside 1..=64 and for signals
/// that cannot or must not be caught (SIGKILL, SIGSTOP, SIGILL, SIGFPE,
/// SIGSEGV, SIGBUS: goro's stack-overflow report owns the last two), and
/// with the OS error if sigaction fails.
///
/// ```no_run
/// # goro::run(|| {
/// let signals = goro::signal::notify(&[libc::SIGINT, libc::SIGTERM]).unwrap();
/// let sig = signals.recv().unwrap();
/// println!("got signal {sig}, shutting down");
/// # });
/// ```
///
/// A signal the process sends itself arrives the same way; a signal that
/// cannot be caught is refused:
///
/// ```
/// use std::io::ErrorKind;
/// let rx = goro::signal::notify(&[libc::SIGUSR2]).unwrap();
/// // SAFETY: raise(3) only sends SIGUSR2, which goro now handles.
/// unsafe { libc::raise(libc::SIGUSR2) };
/// assert_eq!(rx.recv(), Ok(libc::SIGUSR2));
///
/// let err = goro::signal::notify(&[libc::SIGKILL]).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidInput);
/// ```
pub fn notify(signals: &[i32]) -> io::Result<Receiver<i32>> {
    for &sig in signals {
        check(sig)?;
    }
    let (reader, _) = pipe()?;
    let mut registry = REGISTRY.lock();
    for (i, &sig) in signals.iter().enumerate() {
        if let Err(e) = install(&mut registry, sig) {
            for &undo in &signals[..i] {
                // Best effort: the error to report is the install's.
                let _ = uninstall_if_unwatched(&mut registry, undo);
            }
            return Err(e);
        }
    }
    let (tx, rx) = chan(BUFFER);
    registry.watchers.push(Watcher {
        signals: signals.to_vec(),
        tx,
    });
    if !registry.dispatching {
        registry.dispatching = true;
        crate::spawn(move || dispatch(reader));
    }
    Ok(rx)
}

/// Stops delivering `sig` to every [`notify`] channel and gives it back
/// the disposition it had before goro watched it — its default action,
/// unless something else had installed one — like Go's `signal.Reset`.
/// The channels stay open; resetting a signal nobody watches does nothing.
///
/// Fails with `InvalidInput` for the signals [`notify`] refuses, and with
/// the OS error if sigaction fails.
///
/// ```
/// let rx = goro::signal::notify(&[libc::SIGUSR1]).unwrap();
/// goro::signal::reset(libc::SIGUSR1).unwrap();
/// // SIGUSR1 would terminate the process again; `rx` receives nothing more.
/// assert!(rx.try_recv().is_err());
/// ```
pub fn reset(sig: i32) -> io::Result<()> {
    check(sig)?;
    let mut registry = REGISTRY.lock();
    for w in &mut registry.watchers {
        w.signals.retain(|&s| s != sig);
    }
    let restored = uninstall_if_unwatched(&mut registry, sig)?;
    if restored && registry.installed.is_empty() && registry.dispatching {
        // Let the dispatcher see it has nothing left to watch and exit.
        let byte = WAKE;
        // SAFETY: the fd is the pipe's write end, open for the whole
        // process; `byte` lives for the call. A full pipe (EAGAIN) already
        // holds a byte that will wake the dispatcher.
        unsafe {
            libc::write(
                WRITE_FD.load(Ordering::Relaxed),
                (&byte as *const u8).cast(),
                1,
            )
        };
    }
    Ok(())
}

/// Installs goro's handler for `sig` unless it is already installed.
fn install(registry: &mut Registry, sig: i32) -> io::Result<()> {
    if registry.installed.iter().any(|&(s, _)| s == sig) {
        return Ok(());
    }
    // SAFETY: sigaction is a plain C struct; all-zero is a valid value
    // (empty mask, no flags) that sigaction overwrites below.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reading the current disposition into a valid struct.
    if unsafe { libc::sigaction(sig, std::ptr::null(), &mut previous) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let chained = match previous.sa_sigaction {
        libc::SIG_DFL | libc::SIG_IGN => libc::SIG_DFL,
        f => f,
    };
    let index = sig as usize;
    PREVIOUS_SIGINFO[index].store(previous.sa_flags & libc::SA_SIGINFO != 0, Ordering::Relaxed);
    PREVIOUS_HANDLER[index].store(chained, Ordering::Relaxed);
    // SAFETY: as above, all-zero is a valid sigaction to fill in.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
    // SAFETY: `action` names an async-signal-safe handler with the
    // SA_SIGINFO signature; its mask was zeroed (empty) above.
    if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    registry.installed.push((sig, previous));
    Ok(())
}

/// Restores `sig`'s saved disposition if goro's handler is installed and
/// no watcher wants the signal any more. Returns whether it restored.
fn uninstall_if_unwatched(registry: &mut Registry, sig: i32) -> io::Result<bool> {
    if registry.watchers.iter().any(|w| w.signals.contains(&sig)) {
        return Ok(false);
    }
    let Some(pos) = registry.installed.iter().position(|&(s, _)| s == sig) else {
        return Ok(false);
    };
    let (_, previous) = registry.installed.swap_remove(pos);
    // SAFETY: `previous` is the disposition sigaction gave us for `sig`.
    if unsafe { libc::sigaction(sig, &previous, std::ptr::null_mut()) } < 0 {
        registry.installed.push((sig, previous));
        return Err(io::Error::last_os_error());
    }
    Ok(true)
}

/// goro's signal handler: one write(2), then the previous handler.
extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: __errno_location returns this thread's errno slot; the
    // handler saves and restores it so the interrupted code sees its own.
    let errno = unsafe { *libc::__errno_location() };
    let byte = sig as u8;
    // SAFETY: write(2) is async-signal-safe; `byte` lives on this stack for
    // the call; the fd is the pipe's write end, never closed. A full pipe
    // (EAGAIN) drops the signal.
    unsafe {
        libc::write(
            WRITE_FD.load(Ordering::Relaxed),
            (&byte as *const u8).cast(),
            1,
        )
    };
    let index = sig as usize;
    if index < NSIG {
        let previous = PREVIOUS_HANDLER[index].load(Ordering::Relaxed);
        if previous != libc::SIG_DFL {
            if PREVIOUS_SIGINFO[index].load(Ordering::Relaxed) {
                // SAFETY: `previous` was installed with SA_SIGINFO, so it
                // is a function of this signature; we pass on our own
                // arguments, as the kernel would have.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(previous) };
                f(sig, info, context);
            } else {
                // SAFETY: `previous` was installed without SA_SIGINFO, so
                // it is a plain `void (*)(int)` handler.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(previous) };
                f(sig);
            }
        }
    }
    // SAFETY: as above, this thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
}

/// The dispatcher goroutine: forwards signal bytes to watchers until
/// nothing is installed.
fn dispatch(mut reader: &'static PipeReader) {
    let mut buf = [0u8; 64];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                crate::fatal::eprint(format_args!("goro: signal pipe read failed: {e}\n"));
                0
            }
        };
        let mut registry = REGISTRY.lock();
        for &b in &buf[..n] {
            if b != WAKE {
                deliver(&mut registry, i32::from(b));
            }
        }
        if registry.installed.is_empty() || n == 0 {
            registry.dispatching = false;
            return;
        }
    }
}

/// Sends `sig` to its watchers; drops watchers whose receiver is gone and
/// restores the disposition of signals nobody watches any more. If no
/// watcher took `sig`, raises it again under the restored disposition.
fn deliver(registry: &mut Registry, sig: i32) {
    let mut taken = false;
    let mut gone: Vec<i32> = Vec::new();
    registry.watchers.retain(|w| {
        if !w.signals.contains(&sig) {
            return true;
        }
        match w.tx.try_send(sig) {
            Ok(()) | Err(TrySendError::Full(_)) => {
                taken = true;
                true
            }
            Err(TrySendError::Disconnected(_)) => {
                gone.extend_from_slice(&w.signals);
                false
            }
        }
    });
    let mut restored = false;
    for s in gone {
        match uninstall_if_unwatched(registry, s) {
            Ok(r) => restored |= r && s == sig,
            Err(e) => crate::fatal::eprint(format_args!("goro: cannot restore signal {s}: {e}\n")),
        }
    }
    if !taken && restored {
        // SAFETY: kill(2) on our own pid; `sig` now has the disposition it
        // had before goro watched it, which decides what happens.
        unsafe { libc::kill(libc::getpid(), sig) };
    }
}
