//! Coroutine-aware synchronisation: waiting parks the goroutine (a plain
//! thread blocks), never the worker thread.
