//! Coroutine-aware synchronisation: waiting parks the goroutine (a plain
//! thread blocks), never the worker thread.
//!
//! Every primitive here is a small atomic state word with a lock-free fast
//! path, plus a FIFO queue of parked waiters (`waiter.rs`) for the slow
//! path. Waiting is the runtime's one park/unpark path: queue a node for
//! the caller (on its own stack: no allocation per wait), re-check, park,
//! loop. Wakers change the state and dequeue the waiter first, and unpark
//! after, so a wake-up is never lost.
//!
//! The primitives mirror Go's `sync` package with std's shapes:
//! * [`Mutex`] / [`MutexGuard`]: no poisoning; no waiter starves (after
//!   1 ms the lock is handed to the longest waiter, like Go's starvation
//!   mode); `try_lock_for`/`try_lock_until` wait with a deadline.
//! * [`RwLock`]: a waiting writer blocks new readers; a writer's unlock
//!   lets every waiting reader in, so neither side starves;
//!   `try_read_for`/`try_write_for` (and `_until`) wait with a deadline.
//! * [`WaitGroup`]: `add`/`done`/`wait`, and `go` (Go 1.25's `wg.Go`); a
//!   negative counter panics.
//! * [`ErrGroup`]: Go's `errgroup`: goroutines that return `Result`, the
//!   first error, a context cancelled on failure, `set_limit`.
//! * [`Semaphore`]: FIFO-fair permits with a guard ([`SemaphorePermit`]),
//!   `try_acquire` and `acquire_timeout`.
//! * [`Once`]: exactly one run; a panicking closure counts as done (Go's
//!   rule, not std's poisoning).
//! * [`OnceLock`]: std's write-once cell; callers that arrive while it is
//!   being initialised park; a panicking initialiser leaves it empty
//!   (std's rule).
//! * [`Condvar`]: works with goro's [`Mutex`]; `wait`, `wait_timeout`,
//!   `notify_one`, `notify_all`.
//! * [`Barrier`]: reusable across generations; one leader per generation.
//!
//! Guards are not tied to the thread that took them: a goroutine may
//! migrate to another worker while holding one, and unlock there. They are
//! therefore `Send` when the protected data allows it. Holding a *std*
//! guard across a goro wait is still wrong (see the crate's migration
//! rules). A waiter that times out leaves the queue under the queue lock,
//! where wakers give their verdicts, so a hand-off that raced with its
//! timeout is kept (or passed on), never lost. Nothing in this module
//! blocks a worker thread, and nothing here knows about channels or the
//! scheduler beyond park/unpark (and timers, through it); `ErrGroup`
//! spawns goroutines and uses `context`.

mod barrier;
mod condvar;
mod err_group;
mod mutex;
mod mutex_state;
mod once;
mod once_lock;
mod rwlock;
mod semaphore;
mod wait_group;
mod waiter;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use err_group::ErrGroup;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use wait_group::WaitGroup;
