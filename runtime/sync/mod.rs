//! Coroutine-aware synchronisation: waiting parks the goroutine (a plain
//! thread blocks), never the worker thread.
//!
//! Every primitive here is a small atomic state word with a lock-free fast
//! path, plus a FIFO queue of parked waiters (`waiter.rs`) for the slow
//! path. Waiting is the runtime's one park/unpark path: queue an unparker
//! for the caller, re-check, park, loop. Wakers change the state first and
//! unpark after, so a wake-up is never lost.
//!
//! The primitives mirror Go's `sync` package with std's shapes:
//! * [`Mutex`] / [`MutexGuard`]: no poisoning; no waiter starves (after
//!   1 ms the lock is handed to the longest waiter, like Go's starvation
//!   mode).
//! * [`WaitGroup`]: `add`/`done`/`wait`; a negative counter panics.
//!
//! Guards are not tied to the thread that took them: a goroutine may
//! migrate to another worker while holding one, and unlock there. They are
//! therefore `Send` when the protected data is. Holding a *std* guard
//! across a goro wait is still wrong (see the crate's migration rules).
//! Nothing in this module blocks a worker thread, and nothing here knows
//! about channels or the scheduler beyond park/unpark.

mod mutex;
mod wait_group;
mod waiter;

pub use mutex::{Mutex, MutexGuard};
pub use wait_group::WaitGroup;
