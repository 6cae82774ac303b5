//! Goroutine-aware inter-process communication, as the textbook lists it:
//! shared memory ([`SharedMemory`]). Every wait parks the goroutine (a
//! plain thread blocks); nothing here blocks a worker in the kernel.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let name = format!("/goro-doc-ipc-{}", std::process::id());
//! let shm = goro::ipc::SharedMemory::create(&name, 4096)?;
//! assert_eq!(goro::ipc::SharedMemory::open(&name)?.len(), shm.len());
//! goro::ipc::SharedMemory::unlink(&name)?;
//! # Ok(()) }
//! ```

mod shm;

pub use shm::SharedMemory;
