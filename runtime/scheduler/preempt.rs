//! Preemption: how a goroutine that never yields is made to give way,
//! without ever being switched out at an arbitrary instruction.
//!
//! # The rule: a CPU token per `gomaxprocs`
//!
//! A thread may execute goroutine code only while it holds one of the
//! `gomaxprocs` tokens. An *active* worker holds one. It can **lend** it:
//! when it pops a goroutine that is *bound* to another thread (a hog that
//! was paused mid-computation, or a goroutine locked to its thread with
//! `lock_os_thread`), it does not resume the coroutine itself; it wakes the
//! bound thread and sleeps until that thread gives the token back (its
//! goroutine parked, yielded or ended) or is paused again. A thread blocked
//! in the kernel uses no CPU: sysmon detaches its worker (the token goes to
//! a replacement thread), as Go does for a goroutine in a syscall.
//!
//! # Pausing a hog (the signal)
//!
//! sysmon (`sysmon.rs`) first asks nicely: it sets the worker's `preempt`
//! flag, which every goro call checks ([`coop`]) and the worker honours at
//! its next scheduling point. A goroutine that calls no goro function for
//! another look is then *paused*: sysmon sends its thread `SIGURG` (Go's
//! choice too: its default action is to do nothing, and programs rarely use
//! it). The handler, on the thread's alternate signal stack, waits on a
//! futex until a lender wakes it: the thread is descheduled exactly as the
//! kernel deschedules it, at whatever instruction it was. Nothing moves:
//! the goroutine stays on its thread with its registers, its thread-locals,
//! std's panic count and reentrant stdout lock, and the allocator's
//! per-thread caches, so preemption needs no safe points and no compiler
//! support. sysmon then queues the goroutine *bound* to that thread on the
//! global queue, and starts a replacement worker if the paused thread was
//! an active worker. When a worker later pops it, it lends its token.
//!
//! The handler only loads atomics, and calls `futex(2)` (async-signal-safe);
//! it saves and restores `errno`. It declines (and the thread runs on)
//! unless the thread is inside a goroutine (`running`) and holds none of
//! the scheduler's own locks ([`NoPreempt`]): a thread paused while holding
//! a lock that sysmon and idle workers need would stall the very threads
//! that must come and resume it.
//!
//! For the same reason it also declines unless the interrupted instruction
//! is in the object goro is linked into (the program's own Rust code, std
//! included) or in the vDSO: never inside libc, whose locks the scheduler
//! needs too. A thread paused in `malloc` holds its arena's lock, which it
//! may share with other threads; a worker that then allocated under
//! `sched` (a `Vec` push in `idle`, a new worker in `activate_one`)
//! blocked on it with `sched` held, and with it sysmon and every worker
//! that could lend the paused thread a token: the whole runtime hung
//! (found by `tests/stress_sched.rs`, and by the c10k test as a hang with
//! sysmon itself blocked in `free`). A declined pause is retried at the
//! next look; after 20 declines in a row sysmon hands the worker off.
//!
//! # The pause word
//!
//! Each worker thread's [`PauseWord`] is one `AtomicU32`:
//!
//! ```text
//!   RUNNING --request (sysmon, CAS)------------> REQUESTED
//!   REQUESTED --accept (handler, CAS)----------> PAUSED   (then futex-wait)
//!   REQUESTED --decline (handler) / withdraw (sysmon, CAS)--> RUNNING
//!   RUNNING or REQUESTED --pause_self (the thread itself)--> WAITING
//!   PAUSED or WAITING --resume (lender: store + futex wake)--> RUNNING
//! ```
//!
//! A lender's wait is a second word, [`LendWord`]: LENT until the bound
//! thread or sysmon hands the token back. Both live in `pause.rs`, a file
//! of their own so that `tests/loom_preempt.rs` model-checks them as they
//! are compiled here.
//!
//! This module never queues a goroutine or touches a run queue: it only
//! pauses, resumes, and reads threads' CPU clocks.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::{compiler_fence, AtomicBool, Ordering};
use std::sync::Once;

use super::current_worker;
pub(crate) use super::pause::{Answer, Handled, LendWord, PauseWord};

thread_local! {
    /// Scheduler locks this thread holds (see [`NoPreempt`]).
    static NO_PREEMPT: Cell<u32> = const { Cell::new(0) };
}

/// While alive, this thread is not paused: held with the scheduler's own
/// locks (`sched`, the worker list), which sysmon and idle workers need to
/// resume a paused thread. Go counts `m.locks` for the same reason.
pub(crate) struct NoPreempt(());

impl NoPreempt {
    #[inline]
    pub(crate) fn enter() -> NoPreempt {
        NO_PREEMPT.with(|n| n.set(n.get() + 1));
        // The pause handler runs on this thread: the count must be up
        // before the lock is taken and down only after it is released, in
        // program order (the compiler may not move the lock's atomics
        // across a plain thread-local write otherwise).
        compiler_fence(Ordering::SeqCst);
        NoPreempt(())
    }
}

impl Drop for NoPreempt {
    #[inline]
    fn drop(&mut self) {
        compiler_fence(Ordering::SeqCst);
        NO_PREEMPT.with(|n| n.set(n.get() - 1));
    }
}

/// The signal sysmon pauses hogs with.
pub(crate) const SIGNAL: libc::c_int = libc::SIGURG;

static INSTALL: Once = Once::new();
static mut PREVIOUS: MaybeUninit<libc::sigaction> = MaybeUninit::zeroed();

/// Whether pausing is on: `GORO_ASYNCPREEMPT=0` turns it off (Go's
/// `GODEBUG=asyncpreemptoff=1`); then hogs are only handed off.
pub(crate) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("GORO_ASYNCPREEMPT").map_or(true, |v| v.trim() != "0"))
}

/// Installs the pause handler once per process.
pub(crate) fn install() {
    if !enabled() {
        return;
    }
    INSTALL.call_once(|| {
        // Before the handler can run: it reads these without locking.
        let _ = PAUSABLE_TEXT.set(pausable_text());
        // SAFETY: a valid sigaction (SA_SIGINFO handler of the matching
        // signature, on the alternate stack every worker sets up, restarting
        // interrupted system calls); the previous action goes to a static
        // written only here, before our handler can run.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(SIGNAL, &action, (&raw mut PREVIOUS).cast());
        }
    });
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: errno is thread-local; reading and later restoring it keeps
    // the interrupted code's view intact (futex may overwrite it).
    let errno = unsafe { *libc::__errno_location() };
    let ours = match current_worker() {
        Some(w) => w
            .shared
            .answer_pause(NO_PREEMPT.with(Cell::get) == 0 && pausable_at(ctx)),
        None => false,
    };
    if !ours {
        // Not a request of ours: a SIGURG of the program's own.
        // SAFETY: PREVIOUS was written in `install` before this handler
        // could run and is never written again.
        let previous = unsafe { PREVIOUS.assume_init() };
        // SIGURG's default action is to do nothing: so do we, then.
        crate::coroutine::overflow::call_previous(&previous, sig, info, ctx);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Executable address ranges where a thread may be paused: the object
/// goro's own code is in, and the vDSO (see the module docs). None: not
/// known, never pause (sysmon hands the worker off instead).
static PAUSABLE_TEXT: std::sync::OnceLock<Option<Vec<(usize, usize)>>> = std::sync::OnceLock::new();

/// Reads the executable mappings of goro's object and of the vDSO from
/// `/proc/self/maps`, once, at install time.
fn pausable_text() -> Option<Vec<(usize, usize)>> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let here = on_signal as *const () as usize;
    // "start-end perms offset dev inode   path"
    let mappings: Vec<(usize, usize, &str, &str)> = maps
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let perms = fields.next()?;
            let path = fields.nth(3).unwrap_or("");
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            Some((start, end, perms, path))
        })
        .collect();
    let ours = mappings
        .iter()
        .find(|(start, end, _, _)| (*start..*end).contains(&here))?
        .3;
    if ours.is_empty() {
        return None; // an anonymous mapping: cannot tell our object apart
    }
    Some(
        mappings
            .iter()
            .filter(|(_, _, perms, path)| {
                perms.contains('x') && (*path == ours || *path == "[vdso]")
            })
            .map(|(start, end, _, _)| (*start, *end))
            .collect(),
    )
}

/// Whether the instruction the signal interrupted is one a thread may be
/// paused at. Async-signal-safe: reads the signal context and a table
/// written before the handler was installed.
fn pausable_at(ctx: *mut libc::c_void) -> bool {
    let Some(Some(ranges)) = PAUSABLE_TEXT.get() else {
        return false;
    };
    match interrupted_pc(ctx) {
        Some(pc) => ranges
            .iter()
            .any(|&(start, end)| (start..end).contains(&pc)),
        None => false,
    }
}

/// The program counter the signal interrupted, where goro knows how to
/// read it.
#[allow(unused_variables)]
fn interrupted_pc(ctx: *mut libc::c_void) -> Option<usize> {
    if ctx.is_null() {
        return None;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
    // SAFETY: an SA_SIGINFO handler's third argument is the interrupted
    // thread's `ucontext_t`, valid for the handler's duration.
    return Some(unsafe {
        (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs[libc::REG_RIP as usize] as usize
    });
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    // SAFETY: as above.
    return Some(unsafe { (*ctx.cast::<libc::ucontext_t>()).uc_mcontext.pc as usize });
    #[allow(unreachable_code)]
    None
}

/// The calling thread's kernel id.
pub(crate) fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// Sends the pause signal to thread `tid` of this process. A thread that
/// has exited makes this fail harmlessly (ESRCH): ids are never passed to
/// pthread functions, so a stale one is not undefined behaviour.
pub(crate) fn signal(tid: libc::pid_t) -> bool {
    // SAFETY: tgkill with our own pid; no memory is passed.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, SIGNAL) == 0 }
}

/// Whether thread `tid` of this process is runnable (running, or waiting
/// for a CPU) rather than blocked in the kernel: the state letter of
/// `/proc/self/task/<tid>/stat`. A thread's CPU clock cannot tell a
/// blocked thread from a computing one that the kernel gives little CPU on
/// a loaded machine; the state can. Reads into a stack buffer (sysmon
/// must not allocate); `None` if the thread is gone.
pub(crate) fn runnable(tid: libc::pid_t) -> Option<bool> {
    let mut path = [0u8; 48];
    let mut w = StackWriter {
        buf: &mut path,
        len: 0,
    };
    use std::fmt::Write as _;
    write!(w, "/proc/self/task/{tid}/stat\0").ok()?;
    let mut stat = [0u8; 256];
    // SAFETY: `path` is NUL-terminated (written above, within its size);
    // read writes at most `stat.len()` bytes into our buffer; the fd is
    // closed on every path.
    let n = unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, stat.as_mut_ptr().cast(), stat.len());
        libc::close(fd);
        n
    };
    let stat = stat.get(..usize::try_from(n).ok()?)?;
    // "tid (comm) S ...": the state follows the last ')'.
    let close = stat.iter().rposition(|&b| b == b')')?;
    let state = *stat.get(close + 2)?;
    Some(state == b'R')
}

/// CPU time thread `tid` has used, from its per-thread CPU clock (the
/// clock id glibc's `pthread_getcpuclockid` builds: `(~tid << 3) | 6`,
/// CPUCLOCK_SCHED of a thread). `None` if the thread is gone.
pub(crate) fn thread_cpu_time(tid: libc::pid_t) -> Option<std::time::Duration> {
    let clock = ((!tid) << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own; an invalid clock id
    // (an exited thread) returns EINVAL.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// `fmt::Write` into a fixed buffer.
struct StackWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl std::fmt::Write for StackWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Whether sysmon has asked any worker to end its slice since its last
/// look that found none asked: lets [`coop`] skip the thread-local read
/// (a function call) in the common case with one load of a static.
pub(crate) static ANY_ASKED: AtomicBool = AtomicBool::new(false);

/// A goro call's cooperative preemption point (tokio's `coop`, Go's stack
/// check): if sysmon asked this worker to end its time slice, the calling
/// goroutine yields now, so a goroutine whose goro operations never block
/// (a buffered channel that is never empty, `try_recv` in a loop, an
/// uncontended lock) gives way without a signal. One relaxed load of a
/// static when nobody was asked.
#[inline]
pub(crate) fn coop() {
    if ANY_ASKED.load(Ordering::Relaxed) {
        coop_slow();
    }
}

#[cold]
#[inline(never)]
fn coop_slow() {
    if let Some(w) = current_worker() {
        if w.shared.attention.load(Ordering::Relaxed) & super::PREEMPT != 0 {
            super::gosched();
        }
    }
}
