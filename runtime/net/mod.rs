//! Goroutine sockets that mirror `std::net`: change the import, keep the
//! code. Every would-block parks the goroutine on the reactor (a plain
//! thread blocks); timeouts are runtime timers.

mod tcp;

pub use tcp::{Incoming, TcpListener, TcpStream};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A socket timeout as set by `set_read_timeout`/`set_write_timeout`:
/// nanoseconds, 0 for none.
#[derive(Default)]
pub(crate) struct Timeout(AtomicU64);

impl Timeout {
    pub(crate) fn set(&self, d: Option<Duration>) -> std::io::Result<()> {
        if d == Some(Duration::ZERO) {
            // std's rule: a zero timeout is an error, not "no timeout".
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let nanos = d.map_or(0, |d| d.as_nanos().clamp(1, u64::MAX as u128) as u64);
        self.0.store(nanos, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    /// The deadline for an operation starting now.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.get().and_then(|d| Instant::now().checked_add(d))
    }
}
