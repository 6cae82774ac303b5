//! Goroutine-aware inter-process communication, as the textbook lists it:
//! shared memory ([`SharedMemory`]) and a message ring on it ([`ShmRing`]).
//! Every wait parks the goroutine (a plain thread blocks) on a wake-up the
//! reactor can see; nothing here blocks a worker in the kernel.
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

mod ring;
mod shm;
mod wake;

pub use ring::ShmRing;
pub use shm::SharedMemory;
