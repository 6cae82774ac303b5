//! What `#[goro::main]` and `#[goro::test]` (the `goro-macros` crate)
//! expand to: run a body as the main goroutine and wait for it, the way a
//! program's `main` or a test needs. Hidden from the docs; the attributes
//! are the API.
//!
//! A test's waiting thread fails the test, instead of hanging the harness,
//! when the test's `timeout` passes (with `goro::dump()` in the message) or
//! when sysmon reports a deadlock (`scheduler/deadlock.rs`: the report Go
//! prints, in the test's failure).

/// Runs `main`'s body as the main goroutine (an attribute; the function
/// [`main()`](crate::main()) is its plain form): the program ends when `main` returns,
/// whatever other goroutines still run, as in Go. `main` may return what
/// std's `main` may (a `Result` whose error is `!Send` too, such as
/// `Box<dyn Error>`: an `Err` is printed as std prints it and the process
/// exits with status 1); a panic in the main goroutine exits with status 2.
/// `#[goro::main(workers = N)]` sets [`gomaxprocs`](crate::gomaxprocs) first.
///
/// ```
/// use std::error::Error;
///
/// #[goro::main(workers = 2)]
/// fn main() -> Result<(), Box<dyn Error>> {
///     let answer = goro::go!(|| "42".parse::<u32>()).join()??;
///     assert_eq!(answer, 42);
///     assert_eq!(goro::gomaxprocs(0), 2);
///     Ok(())
/// }
/// ```
///
/// Bad arguments are compile errors:
///
/// ```compile_fail
/// #[goro::main(workers = "x")] // error: `workers` must be a whole number
/// fn main() {}
/// ```
///
/// ```compile_fail
/// #[goro::main]
/// async fn main() {} // error: a plain `fn`, not an `async fn`
/// ```
#[cfg(feature = "macros")]
pub use goro_macros::main;
/// Runs a test's body in a goroutine (an attribute, used instead of
/// `#[test]`), so it may use goroutines and every goro wait as a program's
/// `main` does. Its panic fails the test as usual (`#[should_panic]`
/// works), and so does an `Err` when it returns `Result<(), E>` with
/// `E: Debug` (a `!Send` `E` too). Two faults fail the test instead of hanging the
/// harness: running past `#[goro::test(timeout = "5s")]` (also `"500ms"`,
/// `"2m"`; the failure lists every goroutine, as [`dump`](crate::dump) does), and a
/// deadlock (every goroutine asleep, nothing that can wake one), reported
/// with Go's message and the goroutine dump.
///
/// A test's failure (its panic message, its `Err`) lands in the test's
/// captured output as usual. What its goroutines print with `println!`
/// does not: worker threads serve every test and keep the output capture
/// of the thread that started the runtime, so run with `--nocapture` to
/// see it.
///
/// ```
/// #[goro::test(timeout = "5s")]
/// fn ping_pong() {
///     let (tx, rx) = goro::chan::<u32>(0);
///     goro::go!(move || tx.send(1).unwrap());
///     assert_eq!(rx.recv().unwrap(), 1);
/// }
/// ```
///
/// ```compile_fail
/// #[goro::test(timeout = "soon")] // error: a duration like "5s" or "500ms"
/// fn waits() {}
/// ```
#[cfg(feature = "macros")]
pub use goro_macros::test;

use std::fmt;
use std::panic::resume_unwind;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::coroutine::dump;
use crate::scheduler::deadlock::TestWait;
use crate::scheduler::gomaxprocs;
use crate::spawn::Builder;

/// `#[goro::main]`: sets the number of workers if given, runs `body` as
/// the main goroutine and returns its exit code (the program ends when
/// `main` returns, whatever other goroutines still run). A panic in the
/// main goroutine (reported by goro's panic hook) exits with status 2, as
/// in Go and [`goro::main`](crate::main).
#[doc(hidden)]
pub fn run_main<F>(workers: Option<usize>, body: F) -> ExitCode
where
    F: FnOnce() -> ExitCode + Send + 'static,
{
    if let Some(n) = workers {
        gomaxprocs(n);
    }
    let joined = crate::spawn_main(body).join();
    crate::debug::trace::write_env_trace();
    match joined {
        Ok(code) => code,
        Err(_) => ExitCode::from(2),
    }
}

/// `#[goro::test]`: runs `body` in a goroutine (named after the test, with
/// the main goroutine's stack) and returns its value; its panic resumes
/// here, so `#[should_panic]` works.
///
/// # Panics
///
/// When `body` panics (its payload), calls `goexit`, runs past `timeout`
/// (the message lists every goroutine), or when sysmon finds every
/// goroutine asleep (the message is Go's deadlock report).
#[doc(hidden)]
#[track_caller]
pub fn run_test<F, T>(timeout: Option<Duration>, body: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let mut builder = Builder::new().stack_size(crate::MAIN_STACK_SIZE);
    if let Some(name) = std::thread::current().name() {
        builder = builder.name(name.to_string());
    }
    let handle = builder
        .spawn(body)
        .expect("goro: cannot start the test's goroutine");
    let deadline = timeout.map(|t| Instant::now() + t);
    let waiter = TestWait::register();
    let mut deadlock = None;
    let outcome = handle.join_with(|| match waiter.park(deadline) {
        Some(report) => {
            deadlock = Some(report);
            false
        }
        None => deadline.is_none_or(|d| Instant::now() < d),
    });
    drop(waiter);
    let result = match outcome {
        Ok(result) => result,
        // Done just as the wait gave up: the result stands.
        Err(handle) if handle.is_finished() => handle.join(),
        Err(handle) => match deadlock {
            Some(report) => panic!("{report}"),
            None => panic!(
                "test timed out after {:?}; its goroutine {} still runs. Goroutines:\n{}",
                timeout.expect("only a test with a timeout stops waiting"),
                handle.id(),
                dump()
            ),
        },
    };
    match result {
        Ok(value) => value,
        Err(e) if e.is_panic() => {
            // Into the test's captured output (goro's panic report went to
            // stderr from the worker thread); the payload goes on as it was.
            eprintln!("{e}");
            resume_unwind(e.into_panic())
        }
        Err(e) => panic!("{e}: the test's goroutine returned no value"),
    }
}

/// What a `#[goro::test]` function may return besides `()`: a `Result`
/// whose error is `Debug` (std's tests take any `Termination`; these are
/// the ones whose failure can be told from the goroutine).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a #[goro::test] function returns () or Result<(), E> with E: Debug, not `{Self}`"
)]
pub trait TestReturn {
    /// The failure, as libtest should print it, if this is one. Runs in
    /// the test's goroutine: the error itself (maybe `!Send`) stays there.
    fn failure(self) -> Option<TestFailure>;
}

impl<E: fmt::Debug> TestReturn for Result<(), E> {
    fn failure(self) -> Option<TestFailure> {
        self.err().map(|e| TestFailure(format!("{e:?}")))
    }
}

/// A failed `#[goro::test]`'s error, as its `Debug` text: libtest prints
/// `Error: ` and this, as for the error itself.
#[doc(hidden)]
pub struct TestFailure(String);

impl fmt::Debug for TestFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
