//! Spawning goroutines and waiting for them: `Builder`, `spawn`,
//! `JoinHandle`, `JoinError`.
//!
//! The goroutine's closure runs under `catch_unwind`; its outcome (value,
//! panic payload, or `goexit`) goes into a shared slot that `join` waits on
//! through the one park/unpark path, so `join` works from goroutines and
//! plain threads alike. The goroutine's `goroutine_local!` values are
//! dropped after its closure and before its result is published, so a
//! `join` that returns has seen them dropped.
//!
//! [`Builder::spawn_unchecked`] is the same spawn for closures that borrow
//! (`scope.rs` is its one user, and argues why that is sound there), with
//! a last call once the goroutine is done.

use parking_lot::Mutex;
use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;

use crate::coroutine::{current_g, stack, WaitReason, G};
use crate::scheduler::{self, park_at, unparker, Unparker};

/// The private payload `goexit` unwinds with; the goroutine root catches it.
pub(crate) struct Goexit;

/// Why a goroutine did not return a value.
///
/// ```
/// let err = goro::go!(|| panic!("boom")).join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.panic_message(), Some("boom"));
/// assert!(err.to_string().ends_with("panicked: boom"));
/// ```
pub struct JoinError {
    id: u64,
    name: Option<Box<str>>,
    repr: Repr,
}

enum Repr {
    Panicked(Box<dyn Any + Send + 'static>),
    Exited,
}

impl JoinError {
    /// Whether the goroutine panicked.
    ///
    /// ```
    /// let err = goro::go!(|| panic!("boom")).join().unwrap_err();
    /// assert!(err.is_panic());
    /// assert!(!err.is_goexit());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panicked(_))
    }

    /// Whether the goroutine ended itself with [`goexit`](crate::goexit).
    ///
    /// ```
    /// let err = goro::go!(|| goro::goexit()).join().unwrap_err();
    /// assert!(err.is_goexit());
    /// assert!(err.to_string().ends_with("called goexit"));
    /// ```
    pub fn is_goexit(&self) -> bool {
        matches!(self.repr, Repr::Exited)
    }

    /// The id of the goroutine that failed.
    ///
    /// ```
    /// let h = goro::go!(|| panic!("boom"));
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap_err().id(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The panic payload, or the error back if the goroutine exited.
    ///
    /// ```
    /// let err = goro::go!(|| std::panic::panic_any(7u32)).join().unwrap_err();
    /// let payload = err.try_into_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<u32>(), Some(&7));
    ///
    /// let err = goro::go!(|| goro::goexit()).join().unwrap_err();
    /// assert!(err.try_into_panic().unwrap_err().is_goexit());
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panicked(p) => Ok(p),
            Repr::Exited => Err(self),
        }
    }

    /// The panic payload. Panics if the goroutine exited via `goexit`.
    ///
    /// ```
    /// let err = goro::go!(|| panic!("boom")).join().unwrap_err();
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    ///
    /// A caller that rethrows a goroutine's panic in its own thread:
    ///
    /// ```should_panic
    /// let h = goro::go!(|| -> () { panic!("boom") });
    /// if let Err(e) = h.join() {
    ///     std::panic::resume_unwind(e.into_panic());
    /// }
    /// ```
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("the goroutine called goexit; it did not panic")
    }

    /// The panic message, when the payload is a string.
    ///
    /// ```
    /// let err = goro::go!(|| panic!("code {}", 7)).join().unwrap_err();
    /// assert_eq!(err.panic_message(), Some("code 7"));
    ///
    /// let err = goro::go!(|| std::panic::panic_any(7u32)).join().unwrap_err();
    /// assert_eq!(err.panic_message(), None); // not a string
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panicked(p) => p
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(String::as_str)),
            Repr::Exited => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {}", self.id)?;
        if let Some(name) = &self.name {
            write!(f, " ({name})")?;
        }
        match &self.repr {
            Repr::Exited => write!(f, " called goexit"),
            Repr::Panicked(_) => match self.panic_message() {
                Some(msg) => write!(f, " panicked: {msg}"),
                None => write!(f, " panicked"),
            },
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_panic() {
            "Panicked"
        } else {
            "Goexit"
        };
        f.debug_struct("JoinError")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &kind)
            .field("message", &self.panic_message())
            .finish()
    }
}

impl std::error::Error for JoinError {}

struct Slot<T> {
    result: Option<Result<T, JoinError>>,
    done: bool,
    /// The handle gave the result up ([`JoinHandle::abandon`]): the
    /// goroutine keeps its result instead of publishing it.
    abandoned: bool,
    waiter: Option<Unparker>,
}

struct Packet<T> {
    slot: Mutex<Slot<T>>,
}

impl<T> Packet<T> {
    /// A fresh packet: one reference for the handle, one for the goroutine.
    fn pair() -> (Arc<Packet<T>>, Arc<Packet<T>>) {
        let packet = Arc::new(Packet {
            slot: Mutex::new(Slot {
                result: None,
                done: false,
                abandoned: false,
                waiter: None,
            }),
        });
        let theirs = packet.clone();
        (packet, theirs)
    }

    /// Publishes the goroutine's result and wakes the joiner; hands the
    /// result back if the handle abandoned it.
    fn complete(&self, result: Result<T, JoinError>) -> Option<Result<T, JoinError>> {
        let mut slot = self.slot.lock();
        slot.done = true;
        if slot.abandoned {
            return Some(result);
        }
        slot.result = Some(result);
        let waiter = slot.waiter.take();
        drop(slot);
        if let Some(w) = waiter {
            w.unpark();
        }
        None
    }
}

/// An owned permission to wait for a goroutine's result. Dropping it
/// detaches the goroutine (it keeps running; its result is dropped).
///
/// ```
/// let handles: Vec<goro::JoinHandle<u64>> = (0..4).map(|i| goro::go!(move || i * i)).collect();
/// let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
/// assert_eq!(sum, 14);
/// ```
pub struct JoinHandle<T> {
    id: u64,
    packet: Arc<Packet<T>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish: its value, or why there is none.
    /// Parks a calling goroutine; blocks a calling plain thread.
    ///
    /// ```
    /// assert_eq!(goro::go!(|| "done").join().unwrap(), "done");
    ///
    /// let err = goro::go!(|| -> () { panic!("boom") }).join().unwrap_err();
    /// assert!(err.is_panic());
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        // Taken here: the closure below would end the `#[track_caller]`
        // chain. The object word is the id of the goroutine joined.
        let at = Location::caller();
        let id = self.id as usize;
        match self.join_with(|| {
            park_at(WaitReason::Join, id, at);
            true
        }) {
            Ok(result) => result,
            Err(_) => unreachable!("join waits until the goroutine is done"),
        }
    }

    /// [`join`](JoinHandle::join) that waits with `wait` (one park, which
    /// may return early: the caller's unparker is registered for the
    /// goroutine's end) and gives up, handing the handle back, when `wait`
    /// returns false.
    pub(crate) fn join_with(
        self,
        mut wait: impl FnMut() -> bool,
    ) -> Result<Result<T, JoinError>, JoinHandle<T>> {
        let mut me: Option<Unparker> = None;
        loop {
            let mut slot = self.packet.slot.lock();
            if slot.done {
                return Ok(slot
                    .result
                    .take()
                    .expect("a goroutine result is taken once"));
            }
            slot.waiter = Some(me.get_or_insert_with(unparker).clone());
            drop(slot);
            if !wait() {
                return Err(self);
            }
        }
    }

    /// The goroutine's id.
    ///
    /// ```
    /// let h = goro::go!(|| goro::current().unwrap().id());
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether the goroutine has finished (returned, panicked or exited).
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<()>(0);
    /// let h = goro::go!(move || rx.recv().unwrap());
    /// assert!(!h.is_finished()); // waiting for the send
    /// tx.send(()).unwrap();
    /// while !h.is_finished() {
    ///     goro::gosched();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.slot.lock().done
    }

    /// Gives the result up: returns it if the goroutine is done, else the
    /// goroutine hands it to its `on_done` instead of publishing it
    /// ([`Builder::spawn_unchecked`]). Either way exactly one side gets it.
    pub(crate) fn abandon(&self) -> Option<Result<T, JoinError>> {
        let mut slot = self.packet.slot.lock();
        slot.abandoned = true;
        slot.result.take()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

/// Configures a goroutine before spawning it: name and stack size.
///
/// ```
/// let h = goro::Builder::new()
///     .name("worker".to_string())
///     .stack_size(64 * 1024)
///     .spawn(|| goro::current().unwrap().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the default stack size (256 KiB unless
    /// changed by [`set_default_stack_size`](crate::set_default_stack_size)
    /// or `GORO_STACK_SIZE`).
    ///
    /// ```
    /// let h = goro::Builder::new().spawn(|| 1 + 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 2);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine: shown by `dump()`, panic messages, overflow
    /// reports and [`Goroutine::name`](crate::Goroutine::name).
    ///
    /// ```
    /// let h = goro::Builder::new()
    ///     .name("reader".to_string())
    ///     .spawn(|| panic!("oops"))
    ///     .unwrap();
    /// let err: goro::JoinError = h.join().unwrap_err();
    /// assert!(err.to_string().contains("(reader) panicked: oops"));
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the usable stack size in bytes (rounded up to whole pages;
    /// 16 KiB to 1 GiB).
    ///
    /// ```
    /// let h = goro::Builder::new().stack_size(1 << 20).spawn(|| {
    ///     let big = [1u8; 512 * 1024]; // fits in 1 MiB
    ///     big.iter().map(|&b| b as u32).sum::<u32>()
    /// });
    /// assert_eq!(h.unwrap().join().unwrap(), 512 * 1024);
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Spawns the goroutine. Fails with `InvalidInput` for an unusable
    /// stack size, or with the OS error when stack memory cannot be mapped.
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let h = goro::Builder::new().spawn(|| 42).unwrap();
    /// assert_eq!(h.join().unwrap(), 42);
    ///
    /// let err = goro::Builder::new().stack_size(1024).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput); // under 16 KiB
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (packet, theirs) = Packet::pair();
        self.launch(packet, run_body(f, theirs, drop))
    }

    /// [`spawn`](Builder::spawn) for a closure and result that may borrow
    /// (live for `'a` only). `on_done` runs last in the goroutine, after
    /// everything else it owned was dropped, with the goroutine's result
    /// if the handle [abandoned](JoinHandle::abandon) it first.
    ///
    /// # Safety
    ///
    /// The caller must not let `'a` end before `on_done` has returned, and
    /// must not drop the handle's result after `'a` (it is a `T: 'a`).
    pub(crate) unsafe fn spawn_unchecked<'a, F, T, D>(
        self,
        f: F,
        on_done: D,
    ) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'a,
        T: Send + 'a,
        D: FnOnce(Option<Result<T, JoinError>>) + Send + 'a,
    {
        let (packet, theirs) = Packet::pair();
        let body: Box<dyn FnOnce() + Send + 'a> = Box::new(run_body(f, theirs, on_done));
        // SAFETY: only the lifetime changes (the same trait object, so the
        // same layout). The goroutine runs `body` to its end, `on_done`
        // last, and the caller keeps everything `'a` borrows alive until
        // `on_done` returned (this function's contract), so nothing `body`
        // borrows dies while it may still be used.
        let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
        self.launch(packet, body)
    }

    /// Takes a stack, creates the goroutine running `body` and queues it.
    fn launch<T>(
        self,
        packet: Arc<Packet<T>>,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<JoinHandle<T>> {
        scheduler::coop();
        let size = match self.stack_size {
            Some(s) => stack::checked_size(s)?,
            None => stack::default_size(),
        };
        let stack = {
            // Not paused while it may hold the stack pool's lock: every
            // worker that ends a goroutine takes that lock, so a paused
            // holder left them all blocked and none to resume it (seen as
            // a hang of `cargo bench --bench core -- spawn_join`).
            let _no_preempt = scheduler::NoPreempt::enter();
            scheduler::with_stack_cache(|cache| stack::acquire(size, cache))?
        };
        let g = G::new(self.name, stack, body);
        let id = g.id;
        scheduler::schedule(g, true);
        Ok(JoinHandle { id, packet })
    }
}

/// A goroutine's whole body: runs `f`, then drops the goroutine's local
/// values (a panic in either becomes the goroutine's panic), publishes the
/// outcome and, last, calls `on_done` with the outcome if the handle
/// abandoned it.
fn run_body<F, T, D>(f: F, theirs: Arc<Packet<T>>, on_done: D) -> impl FnOnce() + Send
where
    F: FnOnce() -> T + Send,
    T: Send,
    D: FnOnce(Option<Result<T, JoinError>>) + Send,
{
    move || {
        let mut outcome = catch_unwind(AssertUnwindSafe(f));
        let g = current_g().expect("a goroutine body runs on its goroutine");
        if g.has_locals() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| g.drop_locals())) {
                // A destructor of a goroutine-local value panicked: the
                // goroutine's own panic, unless it had one already.
                if outcome.is_ok() {
                    outcome = Err(payload);
                }
            }
        }
        let result = outcome.map_err(|payload| JoinError {
            id: g.id,
            name: g.name.clone(),
            repr: if payload.is::<Goexit>() {
                Repr::Exited
            } else {
                Repr::Panicked(payload)
            },
        });
        let unclaimed = theirs.complete(result);
        drop(theirs);
        on_done(unclaimed);
    }
}

/// Spawns a goroutine running `f` and returns its handle: the function form
/// of [`go!`](crate::go). Panics if stack memory cannot be mapped (use
/// [`Builder::spawn`] to handle that as an error).
///
/// ```
/// let (tx, rx) = goro::chan(1);
/// let h = goro::spawn(move || tx.send("hello").unwrap());
/// assert_eq!(rx.recv(), Ok("hello"));
/// h.join().unwrap();
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .expect("goro: cannot spawn a goroutine")
}
