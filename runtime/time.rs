//! Time for goroutines: `sleep` parks the goroutine on a runtime timer
//! (a plain thread sleeps the thread).

use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::scheduler::park_until;

/// Pauses the caller for at least `d`: parks a goroutine (its worker runs
/// others meanwhile); sleeps a plain thread.
pub fn sleep(d: Duration) {
    let deadline = Instant::now() + d;
    while !park_until(WaitReason::Sleep, deadline) {}
}
