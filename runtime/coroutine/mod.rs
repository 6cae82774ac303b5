//! G: one goroutine — a corosensei coroutine on a goro stack, with an id, an
//! optional name, a state word and what it waits on.
//!
//! This module owns the goroutine *object* and its life-cycle bookkeeping
//! (the registry behind `num_goroutine` and `dump`). It never decides when a
//! goroutine runs: that is the scheduler's job (`scheduler/`), which is the
//! only code that resumes a coroutine or changes `state` outside the park
//! protocol documented on [`G::state`].

pub(crate) mod overflow;
pub(crate) mod stack;
pub(crate) mod state;

use corosensei::{Coroutine, Yielder};
use parking_lot::Mutex;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

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

/// What a blocked goroutine waits on, shown by `dump()`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum WaitReason {
    Nothing = 0,
    Join,
    ChanSend,
    ChanRecv,
    Select,
    Mutex,
    RwLock,
    WaitGroup,
    Semaphore,
    Condvar,
    Once,
    Barrier,
    Sleep,
    IoRead,
    IoWrite,
    Blocking,
}

impl WaitReason {
    const ALL: [WaitReason; 16] = [
        WaitReason::Nothing,
        WaitReason::Join,
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::WaitGroup,
        WaitReason::Semaphore,
        WaitReason::Condvar,
        WaitReason::Once,
        WaitReason::Barrier,
        WaitReason::Sleep,
        WaitReason::IoRead,
        WaitReason::IoWrite,
        WaitReason::Blocking,
    ];

    fn describe(self) -> &'static str {
        match self {
            WaitReason::Nothing => "park",
            WaitReason::Join => "join",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Mutex => "mutex",
            WaitReason::RwLock => "rwlock",
            WaitReason::WaitGroup => "waitgroup",
            WaitReason::Semaphore => "semaphore",
            WaitReason::Condvar => "condvar",
            WaitReason::Once => "once",
            WaitReason::Barrier => "barrier",
            WaitReason::Sleep => "sleep",
            WaitReason::IoRead => "IO read",
            WaitReason::IoWrite => "IO write",
            WaitReason::Blocking => "blocking call",
        }
    }
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
    /// Where its stack lies, for the overflow checks and reports.
    pub(crate) stack: StackBounds,
    /// The coroutine; `None` once it finished. Only the worker that moved
    /// the state to RUNNING touches it.
    pub(crate) co: UnsafeCell<Option<Coro>>,
    /// Set by the coroutine on its first run; only read on its own stack.
    yielder: Cell<*const Yielder<(), Yield>>,
    /// Registry shard and slot in it, for removal.
    shard: usize,
    slot: AtomicUsize,
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
}

// SAFETY: `co` and `yielder` are only touched by the one thread that runs
// the goroutine at a time. Every hand-over between threads is a
// happens-before edge: the run queues' push/pop (crossbeam-deque, the
// runnext swap) for a queued goroutine, and the state word's
// acquire/release transitions for a parked one. So there is never
// concurrent access. All other fields are immutable or atomic.
unsafe impl Sync for G {}
// SAFETY: moving a G moves a suspended coroutine to another thread. What
// the compiler checks: the closure's captures and result are `Send`
// (`spawn` requires it), and `Yielder` pointers never leave the stack.
// What it cannot check: the coroutine's *locals* at a blocking point. A
// goroutine that holds an `Rc`, a `std::sync::MutexGuard` or a reference
// into a `thread_local!` across a blocking point and then resumes on
// another thread breaks thread-safety in safe code. Stackful coroutines on
// stable Rust cannot rule this out (the `may` crate documents the same
// hole); goro states the rule where `go!`, `spawn` and the crate are
// documented (the migration rules), and its own code follows it.
unsafe impl Send for G {}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

const SHARDS: usize = 16;

struct Shard {
    slots: Vec<Option<GRef>>,
    free: Vec<usize>,
    /// Goroutines registered here (counted under the lock we hold anyway,
    /// instead of a process-wide atomic every worker would contend on).
    live: usize,
}

/// One lock per cache-line pair: a spawn on one worker and an exit on
/// another must not fight over a line they do not share a shard of.
/// Goroutines spawned on a worker register in that worker's shard, so a
/// worker that spawns and reaps its own goroutines keeps its shard hot.
#[repr(align(128))]
struct PaddedShard(Mutex<Shard>);

static REGISTRY: [PaddedShard; SHARDS] = [const {
    PaddedShard(parking_lot::const_mutex(Shard {
        slots: Vec::new(),
        free: Vec::new(),
        live: 0,
    }))
}; SHARDS];

impl G {
    /// Creates a goroutine that runs `body` on `stack`, registers it and
    /// counts it live. `worker` is the spawning worker's id (None off the
    /// runtime), which picks the registry shard. The caller queues it.
    pub(crate) fn new(
        name: Option<String>,
        stack: Stack,
        body: impl FnOnce() + Send + 'static,
        worker: Option<usize>,
    ) -> GRef {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let shard = worker.unwrap_or(id as usize) % SHARDS;
        let g = Arc::new(G {
            id,
            name: name.map(String::into_boxed_str),
            state: State::new(),
            wait: AtomicU8::new(WaitReason::Nothing as u8),
            stack: stack.bounds(),
            co: UnsafeCell::new(None),
            yielder: Cell::new(std::ptr::null()),
            shard,
            slot: AtomicUsize::new(0),
            bound: AtomicUsize::new(0),
            lock_count: AtomicU32::new(0),
            unwind_locked: AtomicBool::new(false),
        });
        let co = Coro::with_stack(stack, move |yielder: &Yielder<(), Yield>, ()| {
            let me = current_g().expect("a goroutine runs on a worker");
            me.yielder.set(yielder);
            body();
        });
        // SAFETY: `g` was created above and is not shared yet.
        unsafe { *g.co.get() = Some(co) };
        let mut shard = REGISTRY[shard].0.lock();
        shard.live += 1;
        let slot = match shard.free.pop() {
            Some(i) => {
                shard.slots[i] = Some(g.clone());
                i
            }
            None => {
                shard.slots.push(Some(g.clone()));
                shard.slots.len() - 1
            }
        };
        // Set before the lock is released: `retire` and `current` read it
        // under the same lock.
        g.slot.store(slot, Ordering::Relaxed);
        drop(shard);
        g
    }

    /// Takes a finished goroutine out of the registry.
    pub(crate) fn retire(&self) {
        self.state.retire();
        let slot = self.slot.load(Ordering::Relaxed);
        let mut shard = REGISTRY[self.shard].0.lock();
        shard.slots[slot] = None;
        shard.free.push(slot);
        shard.live -= 1;
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

    pub(crate) fn set_wait(&self, why: WaitReason) {
        self.wait.store(why as u8, Ordering::Relaxed);
    }

    fn wait_reason(&self) -> WaitReason {
        WaitReason::ALL[self.wait.load(Ordering::Relaxed) as usize]
    }

    fn state_name(&self) -> &'static str {
        self.state.name()
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
pub fn num_goroutine() -> usize {
    REGISTRY.iter().map(|shard| shard.0.lock().live).sum()
}

/// A goroutine, as seen from user code: its id and name.
#[derive(Clone)]
pub struct Goroutine {
    g: GRef,
}

impl Goroutine {
    pub(crate) fn from_g(g: GRef) -> Self {
        Goroutine { g }
    }

    /// The goroutine's id: unique for the life of the process, starting at 1.
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// The name given with [`Builder::name`](crate::Builder::name), if any.
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
pub fn current() -> Option<Goroutine> {
    let g = current_g()?;
    // Rebuild a strong reference from the registry entry's Arc.
    let shard = REGISTRY[g.shard].0.lock();
    let g = shard.slots[g.slot.load(Ordering::Relaxed)].clone()?;
    Some(Goroutine::from_g(g))
}

/// A snapshot of every live goroutine: id, name, state and what it waits
/// on. `Display` prints one line per goroutine, Go's traceback header style.
pub struct Dump {
    lines: Vec<DumpLine>,
}

struct DumpLine {
    id: u64,
    name: Option<Box<str>>,
    state: &'static str,
    waits: Option<&'static str>,
}

/// Lists every live goroutine (the debug dump).
pub fn dump() -> Dump {
    let mut lines = Vec::new();
    for shard in &REGISTRY {
        for g in shard.0.lock().slots.iter().flatten() {
            let state = g.state_name();
            let waits = (state == "blocked").then(|| g.wait_reason().describe());
            lines.push(DumpLine {
                id: g.id,
                name: g.name.clone(),
                state,
                waits,
            });
        }
    }
    lines.sort_by_key(|l| l.id);
    Dump { lines }
}

impl Dump {
    /// Number of goroutines in the snapshot.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the snapshot lists no goroutine.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            write!(f, "goroutine {}", line.id)?;
            if let Some(name) = &line.name {
                write!(f, " ({name})")?;
            }
            match line.waits {
                Some(w) => writeln!(f, " [{}: {w}]", line.state)?,
                None => writeln!(f, " [{}]", line.state)?,
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
