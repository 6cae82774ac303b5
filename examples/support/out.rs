//! `say!`: the examples' `println!`, which never panics when stdout is
//! closed (`cargo run --example hello | head -1` after `head` quit).
//!
//! `println!` panics when the write fails, and a print in a destructor
//! that runs while a goroutine unwinds (`goexit`, a panic) then aborts the
//! whole process. `say!` writes the line and ignores a failed write: a
//! server keeps serving, and the short examples finish the work they were
//! started for (their exit status says how it went, not whether anyone
//! read the output). Include it before any module that prints:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "support/out.rs"]
//! mod out;
//! ```

/// Writes a line to stdout like `println!`, ignoring a failed write.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
