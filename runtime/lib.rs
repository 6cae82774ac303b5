//! goro: Go's concurrency model for Rust, without async/await.
//!
//! Goroutines are stackful coroutines scheduled M:N on work-stealing worker
//! threads. You write plain blocking code; every wait inside goro (joining a
//! goroutine, and in later modules a channel, a lock, a socket, a timer)
//! switches to another goroutine instead of blocking the thread.
//!
//! ```
//! let h = goro::go!(move || 6 * 7);
//! assert_eq!(h.join().unwrap(), 42);
//! ```
//!
//! The runtime starts itself on first use, from any thread. It runs
//! `gomaxprocs()` workers (the `GOMAXPROCS` environment variable, else the
//! CPU count). [`run`] runs a closure as the *main goroutine* and returns its
//! value; when it returns, the program may end whatever other goroutines are
//! still running, as in Go.
//!
//! # Migration rules (read before spawning)
//!
//! A goroutine may resume on a different OS thread after any blocking
//! point (`join`, [`gosched`], and every goro wait). Therefore, across a
//! blocking point, a goroutine must not hold:
//!
//! * references into `thread_local!` data, or values that cache them
//!   (thread-local state belongs to the *worker thread*, not the goroutine);
//! * `!Send` values such as `Rc`, `RefCell` borrows of thread-shared data,
//!   or a `std::sync::MutexGuard` (unlocking on another thread is undefined
//!   behaviour for pthread mutexes). Use `goro::sync` locks, which park the
//!   goroutine and may be released on any thread.
//!
//! `spawn` requires `Send + 'static` closures, which rules most of this out
//! at compile time; thread-locals are the case the compiler cannot see.
//! For per-goroutine state, use [`goroutine_local!`] instead of
//! `thread_local!`: its values belong to the goroutine and follow it from
//! thread to thread, so holding them across a blocking point is safe.
//! goro itself never caches a thread-local address across a switch: its
//! accessors are non-inlined functions.
//!
//! Code that must stay on one thread (thread-locals it holds on to, a
//! `std::sync::MutexGuard` across a wait, GUI or GL contexts) calls
//! [`lock_os_thread`]. A goroutine that blocks while unwinding (a
//! destructor that parks during a panic) stays on its thread by itself, so
//! std's per-thread panic count stays right.
//!
//! # Every goroutine keeps moving
//!
//! At most [`gomaxprocs`] threads execute goroutines at once (Go's rule:
//! threads blocked in the kernel do not count). A goroutine that has run
//! 10 ms while others wait is asked to yield at its next goro call; one
//! that calls none is paused where it is (its *thread* waits; nothing is
//! moved, so thread-locals stay sound) and resumes when its turn comes
//! round. A plain blocking system call (`std::fs::read`,
//! `std::thread::sleep`) inside a goroutine blocks its thread; within about
//! a millisecond the monitor thread hands that worker's queue to another
//! thread, so others keep running, and timers fire on time.
//! `GORO_ASYNCPREEMPT=0` turns the pausing off (Go's
//! `GODEBUG=asyncpreemptoff=1`).

#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod blocking;
mod chan;
pub mod context;
mod coroutine;
pub mod debug;
mod entry;
mod fatal;
pub mod fs;
pub mod io;
pub mod ipc;
pub mod net;
pub mod process;
mod reactor;
mod scheduler;
mod scope;
pub mod signal;
mod spawn;
pub mod sync;
pub mod time;

pub use blocking::blocking;
#[doc(hidden)]
pub use chan::select as __select;
pub use chan::{
    chan, never, unbounded, IntoIter, Iter, ReadyTimeoutError, Receiver, RecvError,
    RecvTimeoutError, Select, SelectTimeoutError, SelectedOperation, SendError, SendTimeoutError,
    Sender, TryIter, TryReadyError, TryRecvError, TrySelectError, TrySendError,
};
pub use coroutine::local::LocalKey;
pub use coroutine::stack::set_default_stack_size;
pub use coroutine::{
    current, dump, dump_grouped, num_goroutine, Dump, Goroutine, GroupedDump, WaitReason,
};
pub use debug::metrics::{metrics, Metrics, WorkerMetrics};
pub use debug::trace;
#[cfg(feature = "macros")]
pub use entry::{main, test};
#[doc(hidden)]
pub use entry::{
    run_main as __run_main, run_test as __run_test, TestFailure as __TestFailure,
    TestReturn as __TestReturn,
};
pub use scheduler::{gomaxprocs, lock_os_thread, num_cpu, unlock_os_thread};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use spawn::{spawn, Builder, JoinError, JoinHandle};

use coroutine::{current_g, G};
use spawn::Goexit;

/// Spawns a goroutine and returns its [`JoinHandle`].
///
/// Takes a closure, run in the new goroutine, or a call expression (a
/// function or method call: `go!(worker(i))`, `go!(self.serve(conn))`),
/// evaluated in the new goroutine (its arguments too: they are moved in):
///
/// ```
/// fn add(a: u32, b: u32) -> u32 { a + b }
/// let a = goro::go!(move || 1u32);
/// let b = goro::go!(add(1, 2));
/// assert_eq!(a.join().unwrap() + b.join().unwrap(), 4);
/// ```
///
/// A function or closure *value* is not a call, and does not compile (Go
/// rejects `go f` the same way): write `go!(f())` to run `f`.
///
/// ```compile_fail
/// fn work() {}
/// let h = goro::go!(work); // error: go! needs a call or a closure
/// ```
///
/// ```compile_fail
/// let work = move || println!("working");
/// let h = goro::go!(work); // error: go! needs a call or a closure
/// ```
///
/// Read the crate's *migration rules* before holding thread-locals or
/// `!Send` values in a goroutine; [`goroutine_local!`] is the safe
/// replacement for thread-locals there.
#[macro_export]
macro_rules! go {
    (move | $($rest:tt)*) => { $crate::spawn(move | $($rest)*) };
    (move || $($rest:tt)*) => { $crate::spawn(move || $($rest)*) };
    (| $($rest:tt)*) => { $crate::spawn(| $($rest)*) };
    (|| $($rest:tt)*) => { $crate::spawn(|| $($rest)*) };
    // Anything else must be a call: its last token tree is the argument
    // list. `@call` walks to the last token tree, keeping the expression.
    (@call [$($call:tt)+] ( $($args:tt)* )) => { $crate::spawn(move || $($call)+) };
    (@call [$($call:tt)+] $last:tt) => {
        ::core::compile_error!(::core::concat!(
            "go! needs a call or a closure, and `",
            ::core::stringify!($($call)+),
            "` is neither (did you mean go!(",
            ::core::stringify!($($call)+),
            "())?)"
        ))
    };
    (@call [$($call:tt)+] $skip:tt $($rest:tt)+) => { $crate::go!(@call [$($call)+] $($rest)+) };
    ($($call:tt)+) => { $crate::go!(@call [$($call)+] $($call)+) };
}

/// Yields: the calling goroutine goes to the global run queue so others run
/// first (Go's `runtime.Gosched`). On a plain thread, yields the thread.
///
/// ```
/// goro::run(|| {
///     let h = goro::go!(|| 7);
///     while !h.is_finished() {
///         goro::gosched(); // let the other goroutine run
///     }
///     assert_eq!(h.join().unwrap(), 7);
/// });
/// ```
pub fn gosched() {
    scheduler::gosched();
}

/// Ends the calling goroutine after running its destructors (Go's
/// `runtime.Goexit`, whose deferred calls are Rust's drops). Prints
/// nothing; [`JoinHandle::join`] reports it with [`JoinError::is_goexit`].
///
/// It unwinds the goroutine's stack with a private payload, so a
/// `catch_unwind` in between would intercept it: let it through.
///
/// # Panics
///
/// On a plain thread (outside any goroutine), since a thread cannot be
/// ended this way.
///
/// ```
/// let h = goro::go!(|| {
///     goro::goexit();
/// });
/// let err = h.join().unwrap_err();
/// assert!(err.is_goexit());
/// assert!(!err.is_panic());
/// ```
pub fn goexit() -> ! {
    if current_g().is_none() {
        panic!("goro::goexit called outside a goroutine");
    }
    std::panic::resume_unwind(Box::new(Goexit))
}

/// Stack size of the main goroutine started by [`run`] and [`main`].
pub(crate) const MAIN_STACK_SIZE: usize = 8 << 20;

/// Starts the main goroutine of [`run`] and [`main`]: named "main", with an
/// 8 MiB stack.
pub(crate) fn spawn_main<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .name("main".to_string())
        .stack_size(MAIN_STACK_SIZE)
        .spawn(f)
        .expect("goro: cannot start the main goroutine")
}

/// Runs `f` as the main goroutine (named "main", with an 8 MiB stack) and
/// returns its value. A panic in it resumes in the caller.
///
/// # Panics
///
/// If the main goroutine panics (the same payload) or calls [`goexit`].
///
/// ```
/// let name = goro::run(|| goro::current().unwrap().name().map(String::from));
/// assert_eq!(name.as_deref(), Some("main"));
///
/// let caught = std::panic::catch_unwind(|| goro::run(|| panic!("boom")));
/// assert!(caught.is_err());
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = spawn_main(f);
    let joined = handle.join();
    debug::trace::write_env_trace();
    match joined {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("{e}: the main goroutine has no value to return"),
    }
}

/// Go-style entry point: runs `f` as the main goroutine, then ends the
/// process (status 0) without waiting for other goroutines; a panic in the
/// main goroutine ends it with status 2, as in Go.
///
/// ```no_run
/// goro::main(|| {
///     goro::go!(|| loop { goro::gosched() });
///     println!("bye"); // the looping goroutine does not keep us alive
/// })
/// ```
pub fn main<F>(f: F) -> !
where
    F: FnOnce() + Send + 'static,
{
    let handle = spawn_main(f);
    let joined = handle.join();
    debug::trace::write_env_trace();
    let code = match joined {
        Ok(()) => 0,
        Err(_) => 2,
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

/// Makes panic messages name the goroutine ("goroutine 7 (worker)
/// panicked at ..."), as std names the thread. Panics outside goroutines go
/// to the hook that was installed before; so do goroutine panics, after
/// goro's report, when that hook is the user's rather than std's default
/// (which would repeat the report as "thread 'goro-worker-1' panicked").
///
/// Never panics. std refuses to change the hook on a panicking thread (the
/// runtime's first use may be in a destructor that runs during unwinding),
/// so there a helper thread installs it. The caller does not wait for it:
/// if the panic is being reported by a hook that uses goro, std holds its
/// hook lock until that returns, and waiting would deadlock. Until the
/// helper is done, goroutine panics go to the previous hook alone.
pub(crate) fn install_panic_hook() {
    if !std::thread::panicking() {
        return set_panic_hook();
    }
    let spawned = std::thread::Builder::new()
        .name("goro-panic-hook".to_string())
        .spawn(set_panic_hook);
    // Without a thread, goroutine panics keep std's (or the user's) hook.
    drop(spawned);
}

/// Installs goro's panic hook, chained to the one found (see
/// [`install_panic_hook`]).
///
/// The hook runs on the panicking goroutine's stack, which may be nearly
/// full. Only the backtrace *capture* (a walk of the stack it runs on, so
/// it must run there to see the goroutine's frames) stays on it: at most
/// 5 KiB (the first capture in a process, 2 KiB after), no more than the
/// unwinding that follows needs anyway. Symbolising, formatting and
/// printing (up to 21 KiB) run on the worker thread's stack. A user's hook
/// runs on the goroutine's stack, as any code of the goroutine.
fn set_panic_hook() {
    let previous = std::panic::take_hook();
    // `take_hook` puts std's default hook back, so a second call hands out
    // a box of the default hook, built at the same place in std as the
    // first call's box when that was the default too: a zero-sized value
    // (the same dangling address) with the same vtable. A user's hook has
    // its own vtable. (Were std ever to build two vtables for it, the
    // default hook would count as the user's and add std's line.)
    let default = std::panic::take_hook();
    let users = !std::ptr::eq(&*previous, &*default);
    drop(default);
    std::panic::set_hook(Box::new(move |info| {
        let Some(g) = current_g() else {
            return previous(info);
        };
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let location = info.location();
        let backtrace = std::backtrace::Backtrace::capture();
        g.on_worker_stack(move || report_panic(g, msg, location, &backtrace));
        if users {
            previous(info);
        }
    }));
}

/// Prints a goroutine's panic report to stderr, ignoring write errors (a
/// panic here, inside the panic hook, would abort the process). Runs on the
/// worker's stack.
fn report_panic(
    g: &G,
    msg: &str,
    location: Option<&std::panic::Location<'_>>,
    backtrace: &std::backtrace::Backtrace,
) {
    use std::fmt::Write as _;
    let mut report = format!("goroutine {}", g.id);
    if let Some(name) = &g.name {
        let _ = write!(report, " ({name})");
    }
    report.push_str(" panicked");
    if let Some(l) = location {
        let _ = write!(report, " at {l}");
    }
    let _ = writeln!(report, ":\n{msg}");
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        let _ = writeln!(report, "stack backtrace:\n{backtrace}");
    }
    fatal::eprint(format_args!("{report}"));
}
