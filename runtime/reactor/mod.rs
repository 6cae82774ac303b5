//! What wakes goroutines from outside the run queues: timers (and, with the
//! I/O issue, the mio poller). Everything here wakes through
//! `Unparker::unpark`; nothing here runs goroutine code.

pub(crate) mod timer;
