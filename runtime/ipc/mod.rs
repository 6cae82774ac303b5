//! Inter-process communication that goroutines wait on without blocking
//! their worker, as the textbook lists it: named pipes ([`Fifo`]), POSIX
//! message queues ([`MessageQueue`]), counting semaphores shared between
//! processes ([`Semaphore`]), shared memory ([`SharedMemory`]) and a
//! message ring on it ([`ShmRing`]).
//!
//! Each object waits on a file descriptor the kernel can poll (a FIFO end,
//! a message-queue descriptor, an eventfd, the ring's FIFO doorbells),
//! opened non-blocking and registered with the reactor through `goro::io`'s
//! registrations: an operation that would block parks the goroutine until
//! the fd is ready (a plain thread blocks instead), so one worker serves
//! any number of waiters. Timeouts ride on the same timers as
//! `goro::time::sleep`.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! use goro::ipc::Semaphore;
//! use std::sync::Arc;
//! let ready = Arc::new(Semaphore::new(0)?);
//! let r = ready.clone();
//! let peer = goro::go!(move || r.release()); // V
//! ready.acquire()?; // P: parks until the peer releases
//! peer.join().unwrap()?;
//! # Ok(()) }
//! ```
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let name = format!("/goro-doc-ipc-{}", std::process::id());
//! let ring = goro::ipc::ShmRing::create(&name, 4096)?;
//! let peer = goro::ipc::ShmRing::open(&name)?; // in another process, usually
//! ring.send(b"ping")?;
//! let mut msg = Vec::new();
//! peer.recv(&mut msg)?;
//! assert_eq!(msg, b"ping");
//! # Ok(()) }
//! ```
//!
//! This module never blocks a worker in the kernel: every syscall made
//! on a worker is non-blocking, and the one call that must block (a FIFO
//! open for writing that waits for a reader) runs on the blocking pool.
//! ARCHITECTURE.md ("IPC", "IPC: shared memory and ShmRing") says how each
//! type waits and why.

mod fifo;
mod mq;
mod ring;
mod semaphore;
mod shm;
mod wake;

use std::ffi::CString;
use std::io;

pub use fifo::{Fifo, FifoReader, FifoWriter};
pub use mq::MessageQueue;
pub use ring::ShmRing;
pub use semaphore::Semaphore;
pub use shm::SharedMemory;

/// The longest name after its `/` (`NAME_MAX`).
const NAME_LIMIT: usize = 255;

/// `name` as shm_open(3) and mq_open(3) take it (a leading `/`, then 1 to
/// 255 bytes without `/` or NUL), or an `InvalidInput` error that names
/// the `what` it is a name of and the rule it breaks. Checked before any
/// syscall, so a bad name never reaches the kernel.
fn posix_name(name: &str, what: &str) -> io::Result<CString> {
    let bad = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad {what} name {name:?}: {why}"),
        ))
    };
    let Some(rest) = name.strip_prefix('/') else {
        return bad("it must start with '/' (as in \"/jobs\")");
    };
    if rest.is_empty() {
        return bad("a name follows the '/'");
    }
    if rest.contains('/') {
        return bad("only its first character may be '/'");
    }
    if rest.len() > NAME_LIMIT {
        return bad("at most 255 bytes may follow the '/'");
    }
    CString::new(name).or_else(|_| bad("it holds a NUL byte"))
}
