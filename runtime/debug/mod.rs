//! Seeing inside the runtime: the execution trace (`trace.rs`). It reads
//! what the scheduler records and never changes how it schedules.

pub mod trace;
