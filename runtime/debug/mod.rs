//! Seeing inside the runtime: what it counts, what it did, and how to
//! read both.
//!
//! [`metrics`](crate::metrics) takes a snapshot of the runtime's counters
//! and gauges: goroutines by state and wait reason, each worker's
//! scheduling counts, threads, sysmon's preemptions and hand-offs, timers,
//! the reactor and the stack pool (`metrics.rs`). The counters themselves
//! live where they are counted, below this room (`scheduler/stats.rs`
//! explains where and why they cost the switch no locked instruction);
//! this room only reads and assembles them, and nothing below it imports
//! it. Go's `GODEBUG=schedtrace` is the scheduler's own
//! (`scheduler/schedtrace.rs`), since all it prints is scheduler state.
//!
//! [`trace`] writes the execution trace: it reads what the scheduler
//! records (`scheduler/trace.rs`) and never changes how it schedules.

pub(crate) mod metrics;
pub mod trace;
