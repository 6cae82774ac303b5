//! OS signals as channel messages, like Go's `os/signal.Notify`.
//!
//! [`notify`] installs a handler (through signal-hook, which chains any
//! handler already there) that writes the signal number as one byte into a
//! non-blocking [`pipe`](crate::io::pipe) — write(2) is async-signal-safe,
//! and nothing else runs in the handler. One goroutine per `notify` call
//! reads the pipe and `try_send`s each number on a buffered channel,
//! dropping it when the channel is full, as Go does.
//!
//! This module must never do more than write(2) inside a signal handler,
//! and never close the pipe while a handler may still write to it.

use std::io::{self, Read};
use std::os::fd::AsRawFd;

use crate::chan::{chan, Receiver, TrySendError};

/// Signals buffered in a [`notify`] channel before new ones are dropped.
pub const BUFFER: usize = 64;

/// Delivers the given signals on the returned channel (capacity
/// [`BUFFER`]); a signal that arrives while the channel is full is dropped,
/// as with Go's `signal.Notify` on a full channel.
///
/// Once a signal is watched, its default action (terminating the process
/// for SIGINT and SIGTERM, say) no longer happens: the program decides.
///
/// Calling `notify` again — for the same signals or others — adds another
/// independent watcher: every receiver gets every signal it asked for. When
/// a receiver is dropped, its watcher goroutine notices at the next signal
/// it would have delivered, removes its handlers and closes its pipe. The
/// OS handler itself stays installed (signal-hook does not restore the
/// default action), so a signal nobody watches any more is ignored.
///
/// Fails with `InvalidInput` for a number outside 1..=255 and for signals
/// that cannot or must not be caught (SIGKILL, SIGSTOP, SIGILL, SIGFPE,
/// SIGSEGV: goro's stack-overflow report owns the latter), and with the
/// OS error if sigaction fails.
///
/// ```no_run
/// # goro::run(|| {
/// let signals = goro::signal::notify(&[libc::SIGINT, libc::SIGTERM]).unwrap();
/// let sig = signals.recv().unwrap();
/// println!("got signal {sig}, shutting down");
/// # });
/// ```
pub fn notify(signals: &[i32]) -> io::Result<Receiver<i32>> {
    let forbidden = signal_hook::consts::FORBIDDEN;
    if let Some(&bad) = signals
        .iter()
        .find(|&&s| !(1..=255).contains(&s) || forbidden.contains(&s))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {bad} cannot be watched"),
        ));
    }
    let (reader, writer) = crate::io::pipe()?;
    let fd = writer.as_raw_fd();
    let mut ids = Vec::with_capacity(signals.len());
    for &sig in signals {
        let byte = sig as u8;
        let action = move || {
            // SAFETY: write(2) is async-signal-safe; `byte` lives on this
            // stack for the call; `fd` stays open while this action is
            // registered (the watcher unregisters before it drops the
            // writer, and unregister waits out running handlers). A full
            // pipe (EAGAIN) drops the signal; signal-hook restores errno.
            unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
        };
        // SAFETY: the action only calls write(2), which is allowed in a
        // signal handler: it allocates nothing and takes no lock.
        match unsafe { signal_hook::low_level::register(sig, action) } {
            Ok(id) => ids.push(id),
            Err(e) => {
                for id in ids {
                    signal_hook::low_level::unregister(id);
                }
                return Err(e);
            }
        }
    }
    let (tx, rx) = chan(BUFFER);
    crate::spawn(move || {
        let mut buf = [0u8; 64];
        'watch: loop {
            let n = match (&reader).read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                match tx.try_send(i32::from(b)) {
                    Ok(()) | Err(TrySendError::Full(_)) => {}
                    Err(TrySendError::Disconnected(_)) => break 'watch,
                }
            }
        }
        for id in ids {
            signal_hook::low_level::unregister(id);
        }
        // Only now may the pipe close: no handler can write to it any more.
        drop(writer);
    });
    Ok(rx)
}
