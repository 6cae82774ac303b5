//! Ending the process when the runtime cannot go on (a deadlock, a panic
//! that escaped a goroutine's root): the report goes to stderr, then the
//! process exits or aborts.
//!
//! The report must never stop the ending. `eprintln!` panics when stderr
//! is a closed pipe (`prog 2>&1 | head` after `head` quit): on the monitor
//! thread that panic ended the monitor instead of the process, which then
//! hung. So these write to stderr and ignore every error.
//!
//! Not for signal handlers: they take std's stderr lock and format with
//! `std::fmt`. The stack-overflow report (`coroutine/overflow.rs`) uses
//! `write(2)` directly.

use std::fmt;
use std::io::Write;

/// Writes `message` to stderr, ignoring errors (a closed or full pipe).
pub(crate) fn eprint(message: fmt::Arguments<'_>) {
    let _ = std::io::stderr().write_fmt(message);
}

/// Writes `report` to stderr (ignoring errors), then exits the process
/// with status 2, as Go's fatal errors do.
pub(crate) fn exit(report: fmt::Arguments<'_>) -> ! {
    eprint(report);
    std::process::exit(2)
}

/// Writes `report` to stderr (ignoring errors), then aborts the process.
pub(crate) fn abort(report: fmt::Arguments<'_>) -> ! {
    eprint(report);
    std::process::abort()
}
