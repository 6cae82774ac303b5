//! Turning a goroutine stack overflow into a clear report instead of a bare
//! SIGSEGV: "goroutine N (name) overflowed its X KiB stack", then abort.
//!
//! Guarded stacks fault on their `PROT_NONE` guard page; the SIGSEGV/SIGBUS
//! handler (running on the thread's alternate signal stack) checks whether
//! the faulting address lies in the guard page of the goroutine running on
//! this thread. Unguarded stacks (past the map-entry budget, see
//! `stack.rs`) are checked by the worker on every switch-out and call
//! [`report_and_abort`] directly. Faults that are not ours go to the
//! handler that was installed before (std's own stack-overflow report for
//! thread stacks), or to the default action.
//!
//! The handler only reads a thread-local pointer and the goroutine's
//! immutable fields and calls `write(2)` and `abort`: all async-signal-safe.

use std::fmt::Write as _;
use std::mem::MaybeUninit;
use std::sync::Once;

use super::{current_g, G};

static INSTALL: Once = Once::new();
static mut PREVIOUS_SEGV: MaybeUninit<libc::sigaction> = MaybeUninit::zeroed();
static mut PREVIOUS_BUS: MaybeUninit<libc::sigaction> = MaybeUninit::zeroed();

/// Installs the SIGSEGV/SIGBUS handler once per process.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: we build a valid sigaction (handler with the SA_SIGINFO
        // signature, empty mask) and store the previous ones in statics
        // that are written only here, inside `call_once`, before our
        // handler can run (it is installed by these very calls).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGSEGV, &action, (&raw mut PREVIOUS_SEGV).cast());
            libc::sigaction(libc::SIGBUS, &action, (&raw mut PREVIOUS_BUS).cast());
        }
    });
}

/// Gives the calling worker thread an alternate signal stack if it has
/// none, so the handler can run when the goroutine stack is exhausted.
pub(crate) fn thread_init() {
    const ALT: usize = 64 * 1024;
    // SAFETY: querying with a null new stack only writes `old`. The new
    // stack is leaked on purpose: it must outlive the thread's signal
    // handling, and worker threads live as long as the process.
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut old);
        if old.ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        let mem = Box::leak(vec![0u8; ALT].into_boxed_slice());
        let stack = libc::stack_t {
            ss_sp: mem.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: ALT,
        };
        libc::sigaltstack(&stack, std::ptr::null_mut());
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(g) = current_g() {
        if addr >= g.stack.guard && addr < g.stack.limit {
            report_and_abort(g);
        }
    }
    // Not a goroutine overflow: hand it to whoever handled it before.
    // SAFETY: PREVIOUS_* were written in `install` before this handler
    // could run and are never written again.
    let previous = unsafe {
        if sig == libc::SIGBUS {
            PREVIOUS_BUS.assume_init()
        } else {
            PREVIOUS_SEGV.assume_init()
        }
    };
    if !call_previous(&previous, sig, info, ctx) {
        // SAFETY: restoring the default action is always valid; returning
        // re-executes the faulting instruction, which then takes it.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        }
    }
}

/// Hands a signal that is not goro's to the handler installed before
/// goro's (`previous`), if that was a function; returns false for
/// `SIG_DFL` and `SIG_IGN`, which the caller handles. Async-signal-safe.
/// Shared by every goro signal handler that chains.
pub(crate) fn call_previous(
    previous: &libc::sigaction,
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) -> bool {
    let action = previous.sa_sigaction;
    if action == libc::SIG_DFL || action == libc::SIG_IGN {
        return false;
    }
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it
        // has exactly this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(action) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a handler installed without SA_SIGINFO takes the signal
        // number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(action) };
        f(sig);
    }
    true
}

/// A fixed buffer that formats without allocating (signal-safe).
struct Buf {
    bytes: [u8; 512],
    len: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Prints which goroutine overflowed its stack, then aborts the process.
pub(crate) fn report_and_abort(g: &G) -> ! {
    let mut buf = Buf {
        bytes: [0; 512],
        len: 0,
    };
    let _ = write!(buf, "\ngoroutine {}", g.id);
    if let Some(name) = &g.name {
        let _ = write!(buf, " ({name})");
    }
    let _ = write!(
        buf,
        " overflowed its {} KiB stack\nfatal runtime error: stack overflow (raise it with goro::Builder::stack_size, goro::set_default_stack_size or GORO_STACK_SIZE)\n",
        g.stack.size() / 1024
    );
    // SAFETY: write(2) on stderr with a valid buffer and length; abort
    // never returns.
    unsafe {
        libc::write(2, buf.bytes.as_ptr().cast(), buf.len);
        libc::abort();
    }
}
