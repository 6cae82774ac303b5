//! G: one goroutine — a corosensei coroutine on a goro stack, with an id, an
//! optional name, a state word and what it waits on.
//!
//! This module owns the goroutine *object* and its life-cycle bookkeeping
//! (the registry behind `num_goroutine` and `dump`). It never decides when a
//! goroutine runs: that is the scheduler's job (`scheduler/`), which is the
//! only code that resumes a coroutine or changes `state` outside the park
//! protocol documented on [`G::state`].

pub(crate) mod local;
pub(crate) mod overflow;
pub(crate) mod stack;
pub(crate) mod state;

use corosensei::{Coroutine, Yielder};
use parking_lot::Mutex;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{
    AtomicBool, AtomicIsize, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use std::time::Duration;

use self::local::Locals;
use self::stack::{Stack, StackBounds};
use self::state::State;

/// Why a goroutine gave its worker back, passed from `Yielder::suspend` to
/// the worker that resumed it.
pub(crate) enum Yield {
    /// Blocked: the scheduler completes the park protocol.
    Park,
    /// `gosched`: requeue on the global queue.
    Gosched,
    /// `lock_os_thread`: from now on run only on this thread.
    LockThread,
    /// `unlock_os_thread`: free to run on any worker again.
    UnlockThread,
}

pub(crate) type Coro = Coroutine<(), Yield, (), Stack>;
pub(crate) type GRef = Arc<G>;

/// Why a blocked goroutine waits: what [`dump()`] prints beside it and what
/// [`Metrics::blocked_on`](crate::Metrics::blocked_on) counts by.
///
/// `Display` gives Go's wording (`"chan receive"`, `"IO read"`). More
/// reasons may come, so matches need a wildcard arm.
///
/// ```
/// use goro::WaitReason;
/// assert_eq!(WaitReason::ChanRecv.to_string(), "chan receive");
/// assert_eq!(WaitReason::IoRead.to_string(), "IO read");
/// assert_ne!(WaitReason::Sleep, WaitReason::Join);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
#[repr(u8)]
pub enum WaitReason {
    /// Sending on a channel (`Sender::send`).
    ChanSend = 1,
    /// Receiving from a channel (`Receiver::recv`).
    ChanRecv,
    /// In `select!` or `Select`, waiting for any of its cases.
    Select,
    /// Locking a [`sync::Mutex`](crate::sync::Mutex).
    Mutex,
    /// Locking a [`sync::RwLock`](crate::sync::RwLock) for reading or writing.
    RwLock,
    /// Acquiring a [`sync::Semaphore`](crate::sync::Semaphore).
    Semaphore,
    /// In [`WaitGroup::wait`](crate::sync::WaitGroup::wait).
    WaitGroup,
    /// In [`Condvar::wait`](crate::sync::Condvar::wait).
    Condvar,
    /// Waiting for another caller's `Once`/`OnceLock` initialiser.
    Once,
    /// In [`Barrier::wait`](crate::sync::Barrier::wait).
    Barrier,
    /// Sleeping ([`time::sleep`](crate::time::sleep), a timer, a timeout).
    Sleep,
    /// Waiting for a socket, pipe or other fd to become readable.
    IoRead,
    /// Waiting for a socket, pipe or other fd to become writable.
    IoWrite,
    /// Waiting in a listener's `accept`.
    Accept,
    /// Joining a goroutine ([`JoinHandle::join`](crate::JoinHandle::join)).
    Join,
    /// Waiting for a job on the blocking pool ([`blocking`](crate::blocking()),
    /// `goro::fs`, DNS).
    Blocking,
}

impl WaitReason {
    /// Every reason, in the order of the wait word's values 1..=N.
    pub(crate) const ALL: [WaitReason; 16] = [
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::Semaphore,
        WaitReason::WaitGroup,
        WaitReason::Condvar,
        WaitReason::Once,
        WaitReason::Barrier,
        WaitReason::Sleep,
        WaitReason::IoRead,
        WaitReason::IoWrite,
        WaitReason::Accept,
        WaitReason::Join,
        WaitReason::Blocking,
    ];

    fn describe(self) -> &'static str {
        match self {
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Mutex => "mutex",
            WaitReason::RwLock => "rwlock",
            WaitReason::Semaphore => "semaphore",
            WaitReason::WaitGroup => "waitgroup",
            WaitReason::Condvar => "condvar",
            WaitReason::Once => "once",
            WaitReason::Barrier => "barrier",
            WaitReason::Sleep => "sleep",
            WaitReason::IoRead => "IO read",
            WaitReason::IoWrite => "IO write",
            WaitReason::Accept => "accept",
            WaitReason::Join => "join",
            WaitReason::Blocking => "blocking call",
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The wait word's value while a goroutine is not waiting.
const NOT_WAITING: u8 = 0;
/// The wait word's value while a goroutine is queued after `gosched`: not
/// blocked, and its state word stays RUNNING meanwhile (`state.rs`), so
/// this tells `dump` it is runnable.
const YIELDED: u8 = u8::MAX;

/// The object word of a wait that names nothing (a sleep, a select over
/// several channels, a blocking job): no address or fd is `usize::MAX`.
pub(crate) const NO_OBJECT: usize = usize::MAX;

/// The clock a wait's start is read from, in nanoseconds:
/// `CLOCK_MONOTONIC_COARSE`, which the vDSO answers from the kernel's last
/// tick without reading the TSC. Its resolution is one kernel tick (4 ms
/// here), plenty for a dump that says how long a goroutine has waited.
///
/// Chosen by measurement (the commit has the commands): a read costs
/// 3.8 ns against 18 ns for `Instant::now()` in a loop on this project's
/// 2-core box, and callgrind on `examples/hotpath.rs chan` (unbuffered
/// round trip, two parks, worker thread, 4 runs) counts 999-1038
/// instructions before this branch, 1045-1046 with the place and object
/// stored but no clock, 1066-1080 with this clock and 1244-1264 with
/// `Instant::now()`. Go reads no clock at park either (it stamps
/// `waitsince` when the GC scans); a coarse clock sysmon would update is
/// one load cheaper but stale by up to sysmon's 50 ms idle look.
fn wait_clock() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE
    // exists on every Linux goro runs on (2.6.32+), so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// A goroutine.
pub(crate) struct G {
    pub(crate) id: u64,
    pub(crate) name: Option<Box<str>>,
    /// The state word: the five states of the textbook, plus NOTIFIED
    /// (running with a wake-up token pending). Its transitions, and the
    /// park/unpark protocol they make, are in `state.rs`.
    pub(crate) state: State,
    wait: AtomicU8,
    /// Where the current (or last) wait began: the caller of the goro API
    /// that parked, carried down by `#[track_caller]`. Null until the
    /// first park. Written before `wait`, read racily by `dump` (a dump
    /// taken while it parks again may pair the new reason with the old
    /// place: a snapshot of a moving goroutine).
    wait_location: AtomicPtr<Location<'static>>,
    /// What it waits on: the channel's or lock's address, the fd for I/O
    /// reasons, a goroutine id for `Join`; [`NO_OBJECT`] for nothing.
    wait_object: AtomicUsize,
    /// When the wait began, on [`wait_clock`].
    wait_since: AtomicU64,
    /// Where its stack lies, for the overflow checks and reports.
    pub(crate) stack: StackBounds,
    /// The coroutine; `None` once it finished. Only the worker that moved
    /// the state to RUNNING touches it.
    pub(crate) co: UnsafeCell<Option<Coro>>,
    /// Set by the coroutine on its first run; only read on its own stack.
    yielder: Cell<*const Yielder<(), Yield>>,
    /// The worker thread (id + 1) this goroutine may only run on, 0 if
    /// none: set while it is paused mid-computation on that thread, or
    /// locked to it. A worker that pops a bound goroutine lends that
    /// thread its CPU token instead of resuming the coroutine itself.
    pub(crate) bound: AtomicUsize,
    /// `lock_os_thread` nesting depth; only the goroutine itself changes it.
    pub(crate) lock_count: AtomicU32,
    /// goro locked it to its thread because it parked while unwinding (std
    /// keeps the panic count per thread); unlocked at its next park that
    /// is not unwinding.
    pub(crate) unwind_locked: AtomicBool,
    /// Its `goroutine_local!` values (`local.rs`); only the goroutine
    /// itself touches them.
    locals: Locals,
}

// SAFETY: `co`, `yielder` and `locals` are only touched by the one thread
// that runs the goroutine at a time (`locals` only by the goroutine's own
// code). Every hand-over between threads is a
// happens-before edge: the run queues' push/pop (crossbeam-deque, the
// runnext swap) for a queued goroutine, and the state word's
// acquire/release transitions for a parked one. So there is never
// concurrent access. All other fields are immutable or atomic.
unsafe impl Sync for G {}
// SAFETY: moving a G moves a suspended coroutine to another thread. What
// the compiler checks: the closure's captures and result are `Send`
// (`spawn` requires it), and `Yielder` pointers never leave the stack.
// `locals` holds `Send` values only (`LocalKey<T: Send>`). What it cannot
// check: the coroutine's *stack variables* at a blocking point. A
// goroutine that holds an `Rc`, a `std::sync::MutexGuard` or a reference
// into a `thread_local!` across a blocking point and then resumes on
// another thread breaks thread-safety in safe code. Stackful coroutines on
// stable Rust cannot rule this out (the `may` crate documents the same
// hole); goro states the rule where `go!`, `spawn` and the crate are
// documented (the migration rules), and its own code follows it.
unsafe impl Send for G {}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

const SHARDS: usize = 16;

/// The goroutines one shard holds: every goroutine spawned by the threads
/// that use this shard, the finished ones too until the next sweep.
struct Shard {
    gs: Vec<GRef>,
}

/// A registry shard and a live count, on lines of their own. Each thread
/// uses one shard (see [`this_shard`]) for both its spawns and the exits
/// it reaps, so a goroutine stolen by another worker never makes that
/// worker touch the spawner's line: the exit only counts itself out in the
/// reaper's own `live`, and the spawner sweeps finished goroutines out of
/// `gs` when it next grows (before, perf put 38% of `G::new`'s samples on
/// two workers on the spawner's lock, which the reaper took to remove).
#[repr(align(128))]
struct PaddedShard {
    registry: Mutex<Shard>,
    /// Spawns counted here minus exits counted here: either may be
    /// negative in one shard, their sum over all shards is the live count.
    live: AtomicIsize,
}

static REGISTRY: [PaddedShard; SHARDS] = [const {
    PaddedShard {
        registry: parking_lot::const_mutex(Shard { gs: Vec::new() }),
        live: AtomicIsize::new(0),
    }
}; SHARDS];

/// Shards handed to threads so far.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard + 1, 0 until its first spawn or exit.
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// The registry shard of the calling thread: threads take shards round
/// robin, so up to [`SHARDS`] workers never share one. Never inlined, like
/// every TLS read a goroutine may make (see [`current_g`]).
#[inline(never)]
fn this_shard() -> &'static PaddedShard {
    let index = SHARD.with(|s| match s.get() {
        0 => {
            let index = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            s.set(index + 1);
            index
        }
        n => n - 1,
    });
    &REGISTRY[index]
}

impl G {
    /// Creates a goroutine that runs `body` on `stack`, registers it in the
    /// calling thread's shard and counts it live. The caller queues it.
    pub(crate) fn new(
        name: Option<String>,
        stack: Stack,
        body: impl FnOnce() + Send + 'static,
    ) -> GRef {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let g = Arc::new(G {
            id,
            name: name.map(String::into_boxed_str),
            state: State::new(),
            wait: AtomicU8::new(NOT_WAITING),
            wait_location: AtomicPtr::new(std::ptr::null_mut()),
            wait_object: AtomicUsize::new(NO_OBJECT),
            wait_since: AtomicU64::new(0),
            stack: stack.bounds(),
            co: UnsafeCell::new(None),
            yielder: Cell::new(std::ptr::null()),
            bound: AtomicUsize::new(0),
            lock_count: AtomicU32::new(0),
            unwind_locked: AtomicBool::new(false),
            locals: Locals::new(),
        });
        let co = Coro::with_stack(stack, move |yielder: &Yielder<(), Yield>, ()| {
            let me = current_g().expect("a goroutine runs on a worker");
            me.yielder.set(yielder);
            body();
        });
        // SAFETY: `g` was created above and is not shared yet.
        unsafe { *g.co.get() = Some(co) };
        let shard = this_shard();
        shard.live.fetch_add(1, Ordering::Relaxed);
        let mut registry = shard.registry.lock();
        let full = registry.gs.len();
        if full == registry.gs.capacity() && full >= 64 && 2 * num_goroutine() < full {
            // Before the Vec would grow, and only when most of it must be
            // finished goroutines (fewer live in the whole process than
            // half of it): drop them, at a cost linear in the list, which
            // at least halves. So every spawn pays O(1), a million parked
            // goroutines are never scanned, and the finished ones wait
            // here (their stacks already back in the pool) while the list
            // stays under twice the process's live count or its next
            // doubling: bounded, as Go keeps every g it ever made.
            registry.gs.retain(|g| !g.state.is_dead());
        }
        registry.gs.push(g.clone());
        drop(registry);
        g
    }

    /// Counts a finished goroutine out (the calling worker's shard; the
    /// spawner's shard sweeps it out of its list later).
    pub(crate) fn retire(&self) {
        self.state.retire();
        this_shard().live.fetch_sub(1, Ordering::Relaxed);
    }

    /// Suspends the running goroutine (must be the caller) back to its
    /// worker. Returns when a worker resumes it.
    pub(crate) fn suspend(&self, why: Yield) {
        let yielder = self.yielder.get();
        // SAFETY: `yielder` was set by this goroutine's own coroutine on its
        // first run and points into its stack, which is alive while it runs;
        // `suspend` is only called by the goroutine itself (callers get `self`
        // from `current_g`), so we are on that stack now.
        unsafe { (*yielder).suspend(why) }
    }

    /// Runs `f` on the stack of the worker thread that runs this goroutine
    /// (corosensei's `on_parent_stack`) and returns its value: for work that
    /// needs more stack than a goroutine can spare, such as formatting a
    /// panic report. Must be called by the running goroutine (callers get
    /// `self` from `current_g`). `f` must not block in goro: a goroutine
    /// cannot switch out from the worker's stack.
    ///
    /// Off the goroutine's stack (code on the worker's own stack while this
    /// goroutine is current), `f` simply runs where it is.
    pub(crate) fn on_worker_stack<R>(&self, f: impl FnOnce() -> R + Send) -> R {
        let here = std::ptr::addr_of!(f) as usize;
        let yielder = self.yielder.get();
        if yielder.is_null() || here < self.stack.limit || here >= self.stack.base {
            return f();
        }
        // SAFETY: we are on this goroutine's stack (checked above), so the
        // coroutine is running and `yielder`, set on its first run, points
        // into that stack and is alive; corosensei then runs `f` below the
        // worker's stack pointer saved at the last resume and switches back.
        // `f: Send` keeps the `Yielder` itself out of `f`, and `f` does not
        // suspend through `G` either (documented above).
        unsafe { (*yielder).on_parent_stack(f) }
    }

    /// Records why, where and on what the goroutine is about to park, and
    /// when (read by `dump`). Relaxed stores: only `dump` reads them, and
    /// it promises a snapshot, not a consistent cut.
    pub(crate) fn set_wait(&self, why: WaitReason, at: &'static Location<'static>, on: usize) {
        let at: *const Location<'static> = at;
        self.wait_location.store(at.cast_mut(), Ordering::Relaxed);
        self.wait_object.store(on, Ordering::Relaxed);
        self.wait_since.store(wait_clock(), Ordering::Relaxed);
        self.wait.store(why as u8, Ordering::Relaxed);
    }

    /// Where its current or last wait began (the caller of the blocking
    /// goro API), if it ever parked.
    pub(crate) fn wait_location(&self) -> Option<&'static Location<'static>> {
        let at = self.wait_location.load(Ordering::Relaxed);
        // SAFETY: the word is null or was stored from a
        // `&'static Location<'static>` by `set_wait`: valid forever.
        unsafe { at.cast_const().as_ref() }
    }

    /// Records that the goroutine yielded and is queued to run again.
    pub(crate) fn set_yielded(&self) {
        self.wait.store(YIELDED, Ordering::Relaxed);
    }

    /// Records that the goroutine runs again.
    pub(crate) fn clear_wait(&self) {
        self.wait.store(NOT_WAITING, Ordering::Relaxed);
    }

    /// Why it waits, if it does (`None` also while yielded).
    pub(crate) fn wait_reason(&self) -> Option<WaitReason> {
        match self.wait.load(Ordering::Relaxed) {
            NOT_WAITING | YIELDED => None,
            n => Some(WaitReason::ALL[n as usize - 1]),
        }
    }

    pub(crate) fn state_name(&self) -> &'static str {
        // Woken and yielded goroutines are queued with the state word
        // RUNNING (`state.rs`) and their wait reason still set: runnable.
        match self.state.name() {
            "running" if self.wait.load(Ordering::Relaxed) != NOT_WAITING => "runnable",
            name => name,
        }
    }
}

thread_local! {
    static CURRENT: Cell<*const G> = const { Cell::new(std::ptr::null()) };
}

/// The goroutine running on this thread, if any. Never inlined: a goroutine
/// may resume on another thread, and the TLS address must be recomputed
/// after every switch, never cached by the optimiser across one.
#[inline(never)]
pub(crate) fn current_g() -> Option<&'static G> {
    let ptr = CURRENT.with(Cell::get);
    // SAFETY: the worker sets CURRENT to a G it holds a strong reference to
    // for the whole time the goroutine runs, and clears it before dropping
    // that reference; code reading it runs inside that window (on the
    // goroutine's own stack). The 'static lifetime never escapes a caller
    // that could outlive the run: callers use it within their call.
    unsafe { ptr.as_ref() }
}

/// Sets the running goroutine of this worker thread (null: none). Only the
/// worker loop calls it, and the worker loop never migrates between
/// threads, so unlike the readers it may be inlined.
#[inline]
pub(crate) fn set_current_g(g: *const G) {
    CURRENT.with(|c| c.set(g));
}

/// Number of goroutines that exist now (spawned and not yet finished).
/// While goroutines start and end it is a snapshot of a moving count, as in
/// Go.
///
/// ```
/// let (tx, rx) = goro::chan::<()>(0);
/// let before = goro::num_goroutine();
/// let h = goro::go!(move || rx.recv());
/// assert_eq!(goro::num_goroutine(), before + 1); // alive until it receives
/// drop(tx); // closes the channel: the receive fails and the goroutine ends
/// assert!(h.join().unwrap().is_err());
/// // `join` returns once the result is out; the count drops a moment later.
/// while goro::num_goroutine() > before {
///     goro::gosched();
/// }
/// ```
pub fn num_goroutine() -> usize {
    let live: isize = REGISTRY
        .iter()
        .map(|shard| shard.live.load(Ordering::Relaxed))
        .sum();
    // A shard read before a spawn it counts and one read after the exit it
    // counts can make a moment's sum short; never below none.
    live.max(0) as usize
}

/// Goroutines spawned so far (ids are handed out from 1, one per spawn).
pub(crate) fn spawned() -> u64 {
    NEXT_ID.load(Ordering::Relaxed) - 1
}

/// A goroutine, as seen from user code: its id and name.
///
/// ```
/// let h = goro::Builder::new()
///     .name("job".to_string())
///     .spawn(|| goro::current().unwrap())
///     .unwrap();
/// let id = h.id();
/// let g: goro::Goroutine = h.join().unwrap();
/// assert_eq!((g.id(), g.name()), (id, Some("job")));
/// ```
#[derive(Clone)]
pub struct Goroutine {
    g: GRef,
}

impl Goroutine {
    pub(crate) fn from_g(g: GRef) -> Self {
        Goroutine { g }
    }

    /// The goroutine's id: unique for the life of the process, starting at 1.
    ///
    /// ```
    /// let a = goro::go!(|| goro::current().unwrap().id()).join().unwrap();
    /// let b = goro::go!(|| goro::current().unwrap().id()).join().unwrap();
    /// assert!(a >= 1 && b >= 1 && a != b);
    /// ```
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// The name given with [`Builder::name`](crate::Builder::name), if any.
    ///
    /// ```
    /// let named = goro::Builder::new().name("db".to_string());
    /// let name = named.spawn(|| goro::current().unwrap().name().map(String::from));
    /// assert_eq!(name.unwrap().join().unwrap().as_deref(), Some("db"));
    ///
    /// let unnamed = goro::go!(|| goro::current().unwrap().name().map(String::from));
    /// assert_eq!(unnamed.join().unwrap(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }
}

impl fmt::Debug for Goroutine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Goroutine")
            .field("id", &self.g.id)
            .field("name", &self.g.name)
            .finish()
    }
}

/// The running goroutine, or `None` on a plain thread.
///
/// ```
/// assert!(goro::current().is_none()); // a doc test's main thread
/// let inside = goro::go!(|| goro::current().is_some());
/// assert!(inside.join().unwrap());
/// ```
pub fn current() -> Option<Goroutine> {
    let g: *const G = current_g()?;
    // SAFETY: `g` is the `Arc::as_ptr` of the `GRef` the worker holds for
    // the whole time the goroutine runs (see `current_g`), and we are
    // inside that window; taking one more strong count of a live `Arc` and
    // owning it as a new `Arc` is what `increment_strong_count` is for.
    let g = unsafe {
        Arc::increment_strong_count(g);
        Arc::from_raw(g)
    };
    Some(Goroutine::from_g(g))
}

/// A snapshot of every live goroutine: id, name, state, and for a blocked
/// one why, since when, where and on what it waits.
///
/// `Display` prints one line per goroutine, by id, in Go's traceback
/// header style with the place of the wait after it:
///
/// ```text
/// goroutine 42 "conn-7" [chan receive, 3.2s]: src/main.rs:88:21 (chan 0x55d0c8a0)
/// goroutine 43 [IO read, 850ms]: src/conn.rs:17:30 (fd 9)
/// goroutine 7 [running]
/// ```
///
/// The format, field by field: `goroutine ID`; the name, if it has one,
/// as a Rust string literal (quoted, escaped); in brackets the state
/// (`new`, `runnable`, `running`) or, for a blocked goroutine, the
/// [`WaitReason`] and how long it has waited (`850ms` under a second,
/// else seconds with one decimal, `3.2s`; read from a coarse clock, so
/// a few milliseconds early); then, for a blocked one, `: FILE:LINE:COL`,
/// the caller of the goro call that blocks (see below), and what it waits
/// on, if known: `(chan 0x..)` a channel's address, `(fd N)` a socket,
/// pipe or other fd, `(goroutine N)` the goroutine a join waits for,
/// `(on 0x..)` a lock's or other primitive's address.
///
/// The place comes from `#[track_caller]` on every blocking goro API,
/// down to the park: no backtrace is taken. It is the line of the goro
/// call in your code, also through the `Read`/`Write` impls (sockets
/// override `read_exact` and `write_all` for this). Calls made inside std
/// or another crate (a `BufReader` around a `TcpStream`, std's default
/// `read_to_end`, a call through `dyn Read`) show the line in that code,
/// where the chain of `#[track_caller]` ends.
///
/// ```
/// let (tx, rx) = goro::chan::<()>(0);
/// let h = goro::Builder::new().name("waiter".to_string()).spawn(move || rx.recv());
/// let line = line!() - 1; // the line of the `recv` above
/// // Once it has parked, the dump says where and on what it waits.
/// let here = format!("{}:{line}:", file!());
/// while !goro::dump().to_string().lines().any(|l| {
///     l.contains(r#""waiter" [chan receive, "#) && l.contains(&here) && l.contains("(chan 0x")
/// }) {
///     goro::gosched();
/// }
/// drop(tx);
/// h.unwrap().join().unwrap().unwrap_err();
/// ```
pub struct Dump {
    lines: Vec<DumpLine>,
}

struct DumpLine {
    id: u64,
    name: Option<Box<str>>,
    state: &'static str,
    /// Set for a blocked goroutine.
    wait: Option<Wait>,
}

/// What one blocked goroutine waits for, read from its wait words.
#[derive(Clone, Copy)]
struct Wait {
    reason: WaitReason,
    location: Option<&'static Location<'static>>,
    object: usize,
    waited: Duration,
}

/// Lists every live goroutine (the debug dump), with the place each
/// blocked one waits at: see [`Dump`] for the format.
///
/// ```
/// let h = goro::Builder::new().name("reporter".to_string()).spawn(|| goro::dump().to_string());
/// let text = h.unwrap().join().unwrap();
/// // e.g. "goroutine 1 \"reporter\" [running]"
/// assert!(text.lines().any(|l| l.ends_with(r#" "reporter" [running]"#)));
/// ```
pub fn dump() -> Dump {
    let mut lines = Vec::new();
    let now = wait_clock();
    for_each_live(|g| {
        let state = g.state_name();
        let wait = match g.wait_reason() {
            Some(reason) if state == "blocked" => Some(Wait {
                reason,
                location: g.wait_location(),
                object: g.wait_object.load(Ordering::Relaxed),
                waited: Duration::from_nanos(
                    now.saturating_sub(g.wait_since.load(Ordering::Relaxed)),
                ),
            }),
            _ => None,
        };
        lines.push(DumpLine {
            id: g.id,
            name: g.name.clone(),
            state,
            wait,
        });
    });
    lines.sort_by_key(|l| l.id);
    Dump { lines }
}

/// The goroutine profile: every live goroutine, grouped by identical
/// (state, wait reason, place), with counts, largest group first (Go's
/// `/debug/pprof/goroutine?debug=1`). So ten thousand connections parked
/// on one read print one line. Taken with [`dump_grouped`] or
/// [`Dump::grouped`].
///
/// `Display` prints a header and one line per group:
///
/// ```text
/// goroutine profile: total 10003
/// 9998 @ [IO read] examples/echo_server.rs:41:30
/// 3 @ [chan receive] src/main.rs:88:21
/// 2 @ [running]
/// ```
///
/// `COUNT @ [STATE]`, where STATE is the wait reason of blocked
/// goroutines and `new`, `runnable` or `running` otherwise, then the place
/// of the wait (`FILE:LINE:COL`) for blocked ones. Groups with equal counts
/// are ordered by their text.
///
/// ```
/// let (tx, rx) = goro::chan::<()>(0);
/// let waiters: Vec<_> = (0..3).map(|_| {
///     let rx = rx.clone();
///     goro::go!(move || rx.recv())
/// }).collect();
/// let line = line!() - 2; // the `recv` two lines up
/// let mine = format!("3 @ [chan receive] {}:{line}:", file!());
/// let start = std::time::Instant::now();
/// while !goro::dump_grouped().to_string().lines().any(|l| l.starts_with(&mine)) {
///     assert!(start.elapsed().as_secs() < 20, "{}", goro::dump_grouped());
///     goro::gosched();
/// }
/// drop(tx);
/// for w in waiters {
///     w.join().unwrap().unwrap_err();
/// }
/// ```
pub struct GroupedDump {
    total: usize,
    groups: Vec<Group>,
}

struct Group {
    count: usize,
    state: &'static str,
    reason: Option<WaitReason>,
    location: Option<&'static Location<'static>>,
}

/// Groups every live goroutine by (state, wait reason, place): the
/// goroutine profile, see [`GroupedDump`] for the format.
///
/// ```
/// let text = goro::go!(|| goro::dump_grouped().to_string()).join().unwrap();
/// assert!(text.starts_with("goroutine profile: total "));
/// assert!(text.lines().any(|l| l.ends_with(" @ [running]"))); // the caller
/// ```
pub fn dump_grouped() -> GroupedDump {
    dump().grouped()
}

/// Calls `f` on every goroutine that has not finished, shard by shard,
/// each shard under its lock: `f` must not spawn or block. The snapshot
/// behind `dump` and the metrics' counts by state.
pub(crate) fn for_each_live(mut f: impl FnMut(&G)) {
    for shard in &REGISTRY {
        for g in shard.registry.lock().gs.iter() {
            if !g.state.is_dead() {
                f(g);
            }
        }
    }
}

impl Dump {
    /// The same snapshot, grouped by (state, wait reason, place) with
    /// counts: see [`GroupedDump`].
    ///
    /// ```
    /// let d = goro::go!(goro::dump()).join().unwrap();
    /// let grouped = d.grouped();
    /// assert_eq!(grouped.total(), d.len());
    /// ```
    pub fn grouped(&self) -> GroupedDump {
        type Key = (&'static str, Option<u8>, Option<(&'static str, u32, u32)>);
        let mut counts: std::collections::HashMap<Key, Group> = std::collections::HashMap::new();
        for line in &self.lines {
            let reason = line.wait.map(|w| w.reason);
            let location = line.wait.and_then(|w| w.location);
            // Places compare by value: one call site may have several
            // `Location` statics (one per codegen unit that inlined it).
            let key = (
                line.state,
                reason.map(|r| r as u8),
                location.map(|l| (l.file(), l.line(), l.column())),
            );
            counts
                .entry(key)
                .or_insert(Group {
                    count: 0,
                    state: line.state,
                    reason,
                    location,
                })
                .count += 1;
        }
        let mut groups: Vec<Group> = counts.into_values().collect();
        groups.sort_by_cached_key(|g| (std::cmp::Reverse(g.count), g.to_string()));
        GroupedDump {
            total: self.lines.len(),
            groups,
        }
    }

    /// Number of goroutines in the snapshot.
    ///
    /// ```
    /// let n = goro::go!(|| goro::dump().len()).join().unwrap();
    /// assert!(n >= 1); // at least the goroutine that took it
    /// ```
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the snapshot lists no goroutine.
    ///
    /// ```
    /// let empty = goro::go!(|| goro::dump().is_empty()).join().unwrap();
    /// assert!(!empty); // the calling goroutine is live
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            write!(f, "goroutine {}", line.id)?;
            if let Some(name) = &line.name {
                write!(f, " {name:?}")?;
            }
            match line.wait {
                None => writeln!(f, " [{}]", line.state)?,
                Some(w) => {
                    write!(f, " [{}, {}]", w.reason, Waited(w.waited))?;
                    if let Some(at) = w.location {
                        write!(f, ": {at}")?;
                    }
                    if w.object != NO_OBJECT {
                        write!(f, " ({})", Object(w.reason, w.object))?;
                    }
                    writeln!(f)?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// How long a goroutine has waited, as the dump prints it.
struct Waited(Duration);

impl fmt::Display for Waited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < Duration::from_secs(1) {
            write!(f, "{}ms", self.0.as_millis())
        } else {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        }
    }
}

/// What a goroutine waits on, as the dump prints it: the reason says what
/// kind of word the object is.
struct Object(WaitReason, usize);

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Object(reason, word) = *self;
        match reason {
            WaitReason::ChanSend | WaitReason::ChanRecv => write!(f, "chan {word:#x}"),
            WaitReason::IoRead | WaitReason::IoWrite | WaitReason::Accept => {
                write!(f, "fd {word}")
            }
            WaitReason::Join => write!(f, "goroutine {word}"),
            _ => write!(f, "on {word:#x}"),
        }
    }
}

impl GroupedDump {
    /// Number of goroutines in the snapshot (the sum of the counts).
    ///
    /// ```
    /// let total = goro::go!(|| goro::dump_grouped().total()).join().unwrap();
    /// assert!(total >= 1); // at least the goroutine that took it
    /// ```
    pub fn total(&self) -> usize {
        self.total
    }

    /// The groups, largest first: (count, state, wait reason, place). The
    /// state is `"blocked"` when a reason is given, else `"new"`,
    /// `"runnable"` or `"running"`; the place is the caller of the goro
    /// call that blocks.
    ///
    /// ```
    /// let (tx, rx) = goro::chan::<()>(0);
    /// let h = goro::go!(move || rx.recv());
    /// let line = line!() - 1;
    /// let parked = || {
    ///     goro::dump_grouped().groups().any(|(count, state, reason, at)| {
    ///         count >= 1
    ///             && state == "blocked"
    ///             && reason == Some(goro::WaitReason::ChanRecv)
    ///             && at.is_some_and(|at| at.file() == file!() && at.line() == line)
    ///     })
    /// };
    /// while !parked() {
    ///     goro::gosched();
    /// }
    /// drop(tx);
    /// h.join().unwrap().unwrap_err();
    /// ```
    pub fn groups(
        &self,
    ) -> impl Iterator<
        Item = (
            usize,
            &'static str,
            Option<WaitReason>,
            Option<&'static Location<'static>>,
        ),
    > + '_ {
        self.groups
            .iter()
            .map(|g| (g.count, g.state, g.reason, g.location))
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Some(reason) => write!(f, "{} @ [{reason}]", self.count)?,
            None => write!(f, "{} @ [{}]", self.count, self.state)?,
        }
        if let Some(at) = self.location {
            write!(f, " {at}")?;
        }
        Ok(())
    }
}

impl fmt::Display for GroupedDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "goroutine profile: total {}", self.total)?;
        for group in &self.groups {
            writeln!(f, "{group}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for GroupedDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
