//! Seeing inside a running program. This file gathers the room's public
//! items; `http.rs` is the debug endpoint (Go's `net/http/pprof`), which
//! serves the goroutine dump, the metrics and execution traces to `curl`,
//! a browser or Prometheus.

mod http;

pub use http::{serve, Server};
