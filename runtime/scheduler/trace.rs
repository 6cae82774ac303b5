//! The execution trace's recording half: whether a trace runs, the events
//! the scheduler records, and the per-thread buffers they go into.
//!
//! The scheduler's event sites (the run loop, `park.rs`'s wake, sysmon,
//! the poller, the timers) each cost one relaxed load of [`on`] while no
//! trace runs: `if trace::on() { trace::something(..) }`, with the
//! recording call out of line and `#[cold]`, so nothing of it sits in the
//! switch's instruction stream.
//!
//! While a trace runs, every thread that records gets a buffer of its own
//! (found through a thread-local, registered once per trace under the
//! trace's lock): a worker's buffer is its lane (`worker N`), sysmon's is
//! `sysmon`, and any other thread (a plain thread waking a goroutine, the
//! blocking pool) gets a lane named after the thread. A buffer's lock is
//! taken by its own thread per event and by the collector once at the end,
//! so recording shares no lock and no cache line between threads.
//!
//! Timestamps are nanoseconds of the monotonic clock (`Instant`) since a
//! process-wide epoch, the same on every thread, so events recorded by
//! different threads (sysmon ending a worker's slice by pausing it, a
//! lender resuming it) order correctly on one lane.
//!
//! Turning the JSON out (`debug/trace.rs`) is not this file's business:
//! the scheduler must not import `debug/`, so `debug/` reads what
//! [`finish`] hands back.

use parking_lot::{Mutex, MutexGuard};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::panic::Location;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use corosensei::CoroutineResult;

use super::{current_worker, Held, NoPreempt, MAX_PROCS, PREEMPT};
use crate::coroutine::{current_g, WaitReason, Yield, G};

/// Whether a trace runs. Relaxed: an event site that misses the first or
/// last events of a trace is harmless, and the recording itself takes the
/// buffers' locks.
static ON: AtomicBool = AtomicBool::new(false);

/// The running trace's number (0: none); a thread's buffer belongs to one
/// trace and is registered again for the next.
static SESSION: AtomicU64 = AtomicU64::new(0);

/// The running trace, if any, and every buffer registered for it.
static STATE: Mutex<State> = Mutex::new(State {
    session: 0,
    next_session: 1,
    started: 0,
    output: None,
    buffers: Vec::new(),
    outside_lanes: 0,
});

/// Most events one thread keeps per trace (about 40 MB of them); past it
/// the thread counts what it drops, and the trace says so.
const MAX_EVENTS_PER_THREAD: usize = 1 << 20;

/// sysmon's lane: after every worker's.
pub(crate) const SYSMON_LANE: usize = MAX_PROCS;
/// The first lane of threads that are neither workers nor sysmon.
pub(crate) const OUTSIDE_LANES: usize = MAX_PROCS + 1;

/// Whether a trace runs: the one load an event site pays.
#[inline(always)]
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Nanoseconds since the process's trace epoch.
pub(crate) fn now() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    epoch.elapsed().as_nanos() as u64
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Why a goroutine's slice ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
    /// It parked: why, and the place of the blocking call it waits in
    /// (`G::wait_location`).
    Park(Option<WaitReason>, Option<&'static Location<'static>>),
    /// `gosched`.
    Gosched,
    /// It yielded because sysmon asked its worker to end the slice
    /// (`coop`: a goro call after the request).
    Preempted,
    /// It called `lock_os_thread`: its thread leaves the workers.
    LockThread,
    /// It called `unlock_os_thread`: it may run on any worker again.
    UnlockThread,
    /// It returned (or panicked, or called `goexit`).
    Exited,
}

/// Where a stolen batch came from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Victim {
    /// Another worker's local queue.
    Queue(usize),
    /// Another busy worker's runnext slot.
    Runnext(usize),
}

/// One thing the scheduler did; `at` and `end` are [`now`] values.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// Goroutine `g` began a slice on this thread.
    Run { at: u64, g: u64 },
    /// Goroutine `g` ended its slice on this thread.
    End { at: u64, g: u64, why: Stop },
    /// sysmon paused goroutine `g` on worker `lane`'s thread (it records
    /// this from its own thread).
    Paused { at: u64, g: u64, lane: usize },
    /// A lender resumed goroutine `g`, paused on worker `lane`'s thread.
    Resumed { at: u64, g: u64, lane: usize },
    /// This thread made parked goroutine `g` runnable; `by` is the
    /// goroutine doing so, if one did.
    Wake { at: u64, g: u64, by: Option<u64> },
    /// This worker stole `batch` goroutines.
    Steal { at: u64, from: Victim, batch: usize },
    /// sysmon (or the worker itself) handed worker `worker`'s queue and
    /// role to another thread.
    HandOff { at: u64, worker: usize },
    /// A reactor poll, and how many waiters it woke.
    Poll {
        at: u64,
        end: u64,
        woken: usize,
        blocking: bool,
    },
    /// A timer fired (its action ran from `at` to `end`).
    Timer { at: u64, end: u64 },
    /// Goroutine `g`'s name (recorded at its first slice in a buffer).
    Name { g: u64, name: Box<str> },
}

/// Where a trace goes once it stops.
pub(crate) enum Output {
    /// A file created when the trace started.
    File(File, PathBuf),
    /// Handed back to the caller of [`finish`] (the debug endpoint).
    Memory,
}

/// Who started a trace.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Origin {
    /// `goro::trace::start`.
    Start,
    /// `GORO_TRACE=path`, when the runtime started.
    Env,
    /// A capture of a few seconds (the debug endpoint's).
    Capture,
}

/// Which trace [`finish`] may stop.
#[derive(Clone, Copy)]
pub(crate) enum Want {
    /// One that goes to a file (started by `start` or `GORO_TRACE`).
    File,
    /// Only the one `GORO_TRACE` started.
    Env,
    /// Only the one [`begin`] numbered so.
    Session(u64),
}

/// A trace that stopped: its start, where it goes, and what each thread
/// recorded.
pub(crate) struct Finished {
    /// When it started ([`now`] units).
    pub(crate) started: u64,
    /// When it stopped.
    pub(crate) stopped: u64,
    pub(crate) output: Output,
    pub(crate) threads: Vec<ThreadEvents>,
}

/// What one thread recorded.
pub(crate) struct ThreadEvents {
    /// Its lane: a worker's id, [`SYSMON_LANE`], or from [`OUTSIDE_LANES`].
    pub(crate) lane: usize,
    /// The lane's name ("worker 0", "sysmon", the thread's name).
    pub(crate) name: String,
    pub(crate) events: Vec<Event>,
    /// Events past [`MAX_EVENTS_PER_THREAD`], not kept.
    pub(crate) dropped: u64,
}

struct State {
    session: u64,
    next_session: u64,
    started: u64,
    output: Option<(Output, Origin)>,
    buffers: Vec<Arc<Buffer>>,
    outside_lanes: usize,
}

struct Buffer {
    lane: usize,
    name: String,
    inner: Mutex<Recorded>,
}

#[derive(Default)]
struct Recorded {
    events: Vec<Event>,
    dropped: u64,
    /// Goroutines whose name this buffer recorded already.
    named: HashSet<u64>,
}

thread_local! {
    /// This thread's buffer and the trace it belongs to.
    static BUFFER: RefCell<Option<(u64, Arc<Buffer>)>> = const { RefCell::new(None) };
}

/// Starts a trace going to what `output` makes (called only if no trace
/// runs, under the trace's lock) and returns its number. Fails if one
/// runs already, or with `output`'s error.
pub(crate) fn begin(
    origin: Origin,
    output: impl FnOnce() -> io::Result<Output>,
) -> io::Result<u64> {
    let mut state = STATE.lock();
    if state.session != 0 {
        let to = match &state.output {
            Some((Output::File(_, path), _)) => format!(" (to {})", path.display()),
            _ => " (a capture of the debug endpoint's)".to_string(),
        };
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("a trace is already running{to}; stop it first"),
        ));
    }
    let output = output()?;
    state.session = state.next_session;
    state.next_session += 1;
    state.started = now();
    state.output = Some((output, origin));
    state.outside_lanes = 0;
    SESSION.store(state.session, Ordering::Relaxed);
    ON.store(true, Ordering::Relaxed);
    Ok(state.session)
}

/// Stops the running trace if it is one `want` names, and hands back what
/// it recorded. Else `Err` with who started the one that runs, if any.
pub(crate) fn finish(want: Want) -> Result<Finished, Option<Origin>> {
    let mut state = lock(&STATE);
    let origin = match &state.output {
        Some((_, origin)) if state.session != 0 => *origin,
        _ => return Err(None),
    };
    let wanted = match want {
        Want::File => origin != Origin::Capture,
        Want::Env => origin == Origin::Env,
        Want::Session(n) => n == state.session,
    };
    if !wanted {
        return Err(Some(origin));
    }
    ON.store(false, Ordering::Relaxed);
    SESSION.store(0, Ordering::Relaxed);
    state.session = 0;
    let stopped = now();
    let (output, _) = state.output.take().expect("a running trace has an output");
    let threads = state
        .buffers
        .drain(..)
        .map(|b| {
            let mut inner = lock(&b.inner);
            ThreadEvents {
                lane: b.lane,
                name: b.name.clone(),
                events: std::mem::take(&mut inner.events),
                dropped: inner.dropped,
            }
        })
        .collect();
    Ok(Finished {
        started: state.started,
        stopped,
        output,
        threads,
    })
}

/// Starts the trace `GORO_TRACE=path` asks for, when the runtime starts.
/// A path that cannot be created is reported on stderr, and the program
/// runs untraced.
pub(crate) fn begin_from_env() {
    let Some(path) = std::env::var_os("GORO_TRACE").filter(|p| !p.is_empty()) else {
        return;
    };
    let path = PathBuf::from(path);
    let started = begin(Origin::Env, || {
        Ok(Output::File(File::create(&path)?, path.clone()))
    });
    if let Err(e) = started {
        eprintln!("goro: GORO_TRACE={}: cannot trace: {e}", path.display());
    }
}

/// Runs `f` on this thread's buffer for the running trace, registering
/// one first if needed; does nothing if the trace stopped meanwhile.
fn with_buffer(f: impl FnOnce(&mut Recorded)) {
    let session = SESSION.load(Ordering::Relaxed);
    if session == 0 {
        return;
    }
    // `try_with`: a thread-local destructor that wakes a goroutine while
    // its thread exits finds the buffer gone; that event is not recorded.
    let _ = BUFFER.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_none_or(|(s, _)| *s != session) {
            match register(session) {
                Some(buffer) => *slot = Some((session, buffer)),
                None => return,
            }
        }
        let (_, buffer) = slot.as_ref().expect("registered just now");
        let mut recorded = lock(&buffer.inner);
        f(&mut recorded);
    });
}

#[cold]
fn register(session: u64) -> Option<Arc<Buffer>> {
    let mut state = lock(&STATE);
    if state.session != session {
        return None;
    }
    let (lane, name) = match current_worker() {
        Some(w) => (w.shared.id, format!("worker {}", w.shared.id)),
        None => {
            let thread = std::thread::current();
            match thread.name() {
                Some("goro-sysmon") => (SYSMON_LANE, "sysmon".to_string()),
                name => {
                    let lane = OUTSIDE_LANES + state.outside_lanes;
                    state.outside_lanes += 1;
                    let name =
                        name.map_or_else(|| format!("thread {:?}", thread.id()), String::from);
                    (lane, name)
                }
            }
        }
    };
    let buffer = Arc::new(Buffer {
        lane,
        name,
        inner: Mutex::new(Recorded::default()),
    });
    state.buffers.push(buffer.clone());
    Some(buffer)
}

/// Locks one of the trace's locks, not to be paused meanwhile: a thread
/// sysmon paused while holding a buffer would keep `finish` (on a worker)
/// waiting until another worker resumes it.
fn lock<T>(mutex: &Mutex<T>) -> Held<MutexGuard<'_, T>> {
    let no_preempt = NoPreempt::enter();
    Held {
        guard: mutex.lock(),
        _no_preempt: no_preempt,
    }
}

fn push(recorded: &mut Recorded, event: Event) {
    if recorded.events.len() < MAX_EVENTS_PER_THREAD {
        recorded.events.push(event);
    } else {
        recorded.dropped += 1;
    }
}

/// Records an event of this thread's.
fn record(event: Event) {
    with_buffer(|r| push(r, event));
}

/// `g` begins a slice on this thread.
#[cold]
#[inline(never)]
pub(crate) fn run(g: &G) {
    let at = now();
    with_buffer(|r| {
        if let Some(name) = &g.name {
            if r.named.insert(g.id) {
                push(
                    r,
                    Event::Name {
                        g: g.id,
                        name: name.clone(),
                    },
                );
            }
        }
        push(r, Event::Run { at, g: g.id });
    });
}

/// Parked goroutine `g` was made runnable by this thread (by whichever
/// goroutine runs on it, if any).
#[cold]
#[inline(never)]
pub(crate) fn wake(g: &G) {
    let by = current_g().map(|waker| waker.id);
    record(Event::Wake {
        at: now(),
        g: g.id,
        by,
    });
}

/// Why a slice ended, from what its coroutine gave back; `asked`:
/// the worker's attention word (sysmon may have asked it to end the
/// slice).
#[inline(always)]
pub(crate) fn stop_of(g: &G, result: &CoroutineResult<Yield, ()>, asked: u8) -> Stop {
    match result {
        CoroutineResult::Yield(Yield::Park) => Stop::Park(g.wait_reason(), g.wait_location()),
        CoroutineResult::Yield(Yield::Gosched) if asked & PREEMPT != 0 => Stop::Preempted,
        CoroutineResult::Yield(Yield::Gosched) => Stop::Gosched,
        CoroutineResult::Yield(Yield::LockThread) => Stop::LockThread,
        CoroutineResult::Yield(Yield::UnlockThread) => Stop::UnlockThread,
        CoroutineResult::Return(()) => Stop::Exited,
    }
}

/// `g`'s slice on this thread ended, for `why`.
#[cold]
#[inline(never)]
pub(crate) fn end(g: &G, why: Stop) {
    record(Event::End {
        at: now(),
        g: g.id,
        why,
    });
}

/// This worker stole `batch` goroutines `from` another.
#[cold]
#[inline(never)]
pub(crate) fn stole(from: Victim, batch: usize) {
    record(Event::Steal {
        at: now(),
        from,
        batch,
    });
}

/// Worker `worker`'s queue and role went to another thread.
#[cold]
#[inline(never)]
pub(crate) fn handed_off(worker: usize) {
    record(Event::HandOff { at: now(), worker });
}

/// sysmon paused goroutine `g` on worker `lane`'s thread.
#[cold]
#[inline(never)]
pub(crate) fn paused(g: u64, lane: usize) {
    record(Event::Paused { at: now(), g, lane });
}

/// This worker lends its token to worker `lane`'s thread, paused inside
/// goroutine `g`, which runs on.
#[cold]
#[inline(never)]
pub(crate) fn resumed(g: u64, lane: usize) {
    record(Event::Resumed { at: now(), g, lane });
}

/// A poll that began at `at` (a [`now`] value) woke `woken` waiters.
#[cold]
#[inline(never)]
pub(crate) fn polled(at: u64, woken: usize, blocking: bool) {
    record(Event::Poll {
        at,
        end: now(),
        woken,
        blocking,
    });
}

/// A timer's action ran from `at` until now.
#[cold]
#[inline(never)]
pub(crate) fn timer_fired(at: u64) {
    record(Event::Timer { at, end: now() });
}
