//! `select!`: wait on several channel operations, complete exactly one.
//!
//! Go's `selectgo`, with crossbeam-channel's syntax:
//!
//! 1. Lock every channel involved, in address order (a channel named by
//!    two arms is locked once), so no peer can act on them meanwhile.
//! 2. Try the arms in a random order (a fresh random permutation each
//!    time): the first that can complete now does, and is chosen. Several
//!    ready arms are therefore chosen uniformly at random (Go's fairness).
//! 3. None ready and a `default` arm: unlock, run `default`.
//! 4. Else put one shared `Waiter` on every channel's wait queue (one
//!    entry per arm, queued in the same random order, so two arms on one
//!    channel are completed equally often), unlock, and park. The first peer to claim the waiter
//!    (one compare-exchange, `waiter.rs`) completes its arm; the others
//!    find it claimed and skip it.
//! 5. Woken: remove the remaining entries from every channel, so an arm
//!    that lost never takes a value sent later. Woken to look again (a
//!    dynamic select's watcher arm, or a peer that backed out: `RETRY`,
//!    `waiter.rs`): start over at 1.
//!
//! [`Select`](crate::Select) (`select_dynamic.rs`) runs the same `run`
//! over arms it owns in a `Vec`; its send arms reserve instead of sending.
//!
//! No goroutine or thread is spawned per arm, and nothing is allocated per
//! select with up to 32 arms (the waiter and the value slots live on this
//! stack frame; `waiter.rs` argues why that is sound).
//!
//! The items here are public only because the macro expands in the user's
//! crate; they are not part of goro's API. This module never blocks while
//! holding a channel lock.

use std::time::{Duration, Instant};

use super::channel::{Chan, RecvFail, SendFail};
use super::waiter::{Waiter, RETRY};
use super::{wait, RecvError, SendError};
use crate::coroutine::{WaitReason, NO_OBJECT};
use crate::scheduler::{unparker, Unparker};

/// What one arm of a select does, type-erased over the channel's `T`.
pub(crate) trait Case {
    /// The channel's address: the lock order.
    fn addr(&self) -> usize;
    fn lock(&self);
    /// # Safety
    /// The caller locked with [`Case::lock`] (on this arm or another arm
    /// with the same `addr`).
    unsafe fn unlock(&self);
    /// Completes the operation now if it can; returns whom to wake once
    /// unlocked (`Some(None)`: completed, nobody to wake).
    ///
    /// # Safety
    /// The channel is locked by the caller.
    unsafe fn try_complete(&mut self) -> Option<Option<Unparker>>;
    /// Queues `waiter` as arm `index`.
    ///
    /// # Safety
    /// The channel is locked by the caller, and the caller keeps `waiter`
    /// and `self` in place until [`Case::dequeue`] returned.
    unsafe fn enqueue(&mut self, waiter: &Waiter, index: usize);
    /// Removes `waiter`'s entries from the channel (takes the lock).
    fn dequeue(&mut self, waiter: &Waiter);
    /// The waiter completed through this arm: record the outcome and
    /// return true, or return false if the arm was only a watcher (woken to
    /// look again: the select starts over).
    fn finish(&mut self) -> bool;
}

/// What [`run`] needs of a list of arms: each one's [`Case`].
pub(crate) trait AsCase {
    fn case(&self) -> &dyn Case;
    fn case_mut(&mut self) -> &mut dyn Case;
}

/// A type-erased arm, as the macro passes it to [`select`].
pub struct Arm<'a>(&'a mut (dyn Case + 'a));

impl AsCase for Arm<'_> {
    fn case(&self) -> &dyn Case {
        &*self.0
    }

    fn case_mut(&mut self) -> &mut dyn Case {
        &mut *self.0
    }
}

/// A `recv(rx) -> res` arm.
pub struct RecvCase<'a, T> {
    chan: &'a Chan<T>,
    slot: Option<T>,
    result: Option<Result<T, RecvError>>,
}

impl<'a, T> RecvCase<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>) -> Self {
        RecvCase {
            chan,
            slot: None,
            result: None,
        }
    }

    /// The channel this arm receives from.
    pub(crate) fn chan(&self) -> &'a Chan<T> {
        self.chan
    }

    /// This arm, for [`select`].
    pub fn arm(&mut self) -> Arm<'_> {
        Arm(self)
    }

    /// The outcome, if this arm was chosen.
    pub fn take(&mut self) -> Option<Result<T, RecvError>> {
        self.result.take()
    }
}

impl<T> Case for RecvCase<'_, T> {
    fn addr(&self) -> usize {
        self.chan as *const Chan<T> as usize
    }

    fn lock(&self) {
        self.chan.raw_lock();
    }

    unsafe fn unlock(&self) {
        // SAFETY: per the trait contract, the caller holds the lock.
        unsafe { self.chan.raw_unlock() }
    }

    unsafe fn try_complete(&mut self) -> Option<Option<Unparker>> {
        // SAFETY: the caller holds the lock (trait contract); the reference
        // dies before this function returns.
        let st = unsafe { self.chan.locked() };
        match st.try_recv() {
            Ok((v, wake)) => {
                self.result = Some(Ok(v));
                Some(wake)
            }
            Err(RecvFail::Closed) => {
                self.result = Some(Err(RecvError));
                Some(None)
            }
            Err(RecvFail::Empty) => None,
        }
    }

    unsafe fn enqueue(&mut self, waiter: &Waiter, index: usize) {
        // SAFETY: lock held by the caller (trait contract).
        let st = unsafe { self.chan.locked() };
        st.push_receiver(waiter, std::ptr::addr_of_mut!(self.slot), index);
    }

    fn dequeue(&mut self, waiter: &Waiter) {
        self.chan.lock().remove(waiter);
    }

    fn finish(&mut self) -> bool {
        self.result = Some(self.slot.take().ok_or(RecvError));
        true
    }
}

/// A `send(tx, value) -> res` arm.
pub struct SendCase<'a, T> {
    chan: &'a Chan<T>,
    slot: Option<T>,
    result: Option<Result<(), SendError<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    pub(crate) fn new(chan: &'a Chan<T>, value: T) -> Self {
        SendCase {
            chan,
            slot: Some(value),
            result: None,
        }
    }

    /// This arm, for [`select`].
    pub fn arm(&mut self) -> Arm<'_> {
        Arm(self)
    }

    /// The outcome, if this arm was chosen.
    pub fn take(&mut self) -> Option<Result<(), SendError<T>>> {
        self.result.take()
    }
}

impl<T> Case for SendCase<'_, T> {
    fn addr(&self) -> usize {
        self.chan as *const Chan<T> as usize
    }

    fn lock(&self) {
        self.chan.raw_lock();
    }

    unsafe fn unlock(&self) {
        // SAFETY: per the trait contract, the caller holds the lock.
        unsafe { self.chan.raw_unlock() }
    }

    unsafe fn try_complete(&mut self) -> Option<Option<Unparker>> {
        // SAFETY: the caller holds the lock (trait contract).
        let st = unsafe { self.chan.locked() };
        let value = self.slot.take()?;
        match st.try_send(value) {
            Ok(wake) => {
                self.result = Some(Ok(()));
                Some(wake)
            }
            Err(SendFail::Closed(v)) => {
                self.result = Some(Err(SendError(v)));
                Some(None)
            }
            Err(SendFail::Full(v)) => {
                self.slot = Some(v);
                None
            }
        }
    }

    unsafe fn enqueue(&mut self, waiter: &Waiter, index: usize) {
        // SAFETY: lock held by the caller (trait contract).
        let st = unsafe { self.chan.locked() };
        st.push_sender(waiter, std::ptr::addr_of_mut!(self.slot), index);
    }

    fn dequeue(&mut self, waiter: &Waiter) {
        self.chan.lock().remove(waiter);
    }

    fn finish(&mut self) -> bool {
        self.result = Some(match self.slot.take() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        });
        true
    }
}

/// Blocks until one arm completes.
#[track_caller]
pub fn select(arms: &mut [Arm<'_>]) {
    crate::scheduler::coop();
    run(arms, Mode::Block);
}

/// Completes an arm that is ready now, if any; returns whether one was.
pub fn try_select(arms: &mut [Arm<'_>]) -> bool {
    crate::scheduler::coop();
    run(arms, Mode::Try).is_some()
}

/// Blocks at most `timeout` for an arm; returns whether one completed.
#[track_caller]
pub fn select_timeout(arms: &mut [Arm<'_>], timeout: Duration) -> bool {
    crate::scheduler::coop();
    run(arms, Mode::within(timeout)).is_some()
}

/// How long [`run`] may wait.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    Block,
    Try,
    Until(Instant),
}

impl Mode {
    /// Wait at most `timeout` (forever if the deadline would overflow).
    pub(crate) fn within(timeout: Duration) -> Mode {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => Mode::Until(deadline),
            None => Mode::Block,
        }
    }
}

/// Index buffers up to this many arms live on the stack.
const INLINE: usize = 32;

/// Selects over `arms` (the algorithm in the module docs). Returns the
/// chosen arm, or `None` if none was ready (`Try`) or got ready in time.
#[track_caller]
pub(crate) fn run<A: AsCase>(arms: &mut [A], mode: Mode) -> Option<usize> {
    let n = arms.len();
    let (mut lock_buf, mut poll_buf) = ([0usize; INLINE], [0usize; INLINE]);
    let (mut lock_heap, mut poll_heap) = (Vec::new(), Vec::new());
    let (lock_order, poll_order): (&mut [usize], &mut [usize]) = if n <= INLINE {
        (&mut lock_buf[..n], &mut poll_buf[..n])
    } else {
        lock_heap.resize(n, 0);
        poll_heap.resize(n, 0);
        (&mut lock_heap, &mut poll_heap)
    };
    for (i, l) in lock_order.iter_mut().enumerate() {
        *l = i;
    }
    if n <= INLINE {
        // Insertion sort: selects have a handful of arms (std's sort costs
        // ~110 instructions more per 4-arm select, measured with callgrind).
        for i in 1..n {
            let mut j = i;
            while j > 0 && arms[lock_order[j - 1]].case().addr() > arms[lock_order[j]].case().addr()
            {
                lock_order.swap(j - 1, j);
                j -= 1;
            }
        }
    } else {
        // A dynamic select over thousands of channels needs the n log n.
        lock_order.sort_unstable_by_key(|&i| arms[i].case().addr());
    }
    for (i, p) in poll_order.iter_mut().enumerate() {
        *p = i;
    }
    // Fisher-Yates, once: a select that starts over (woken to look again)
    // keeps its order, which was uniformly random.
    for i in (1..n).rev() {
        let j = (random() % (i as u64 + 1)) as usize;
        poll_order.swap(i, j);
    }
    loop {
        lock_all(arms, lock_order);
        for &i in poll_order.iter() {
            // SAFETY: every channel of `arms` is locked by `lock_all`.
            if let Some(wake) = unsafe { arms[i].case_mut().try_complete() } {
                // SAFETY: locked by `lock_all` just above.
                unsafe { unlock_all(arms, lock_order) };
                if let Some(u) = wake {
                    u.unpark();
                }
                return Some(i);
            }
        }
        let deadline = match mode {
            Mode::Try => {
                // SAFETY: locked by `lock_all` above.
                unsafe { unlock_all(arms, lock_order) };
                return None;
            }
            Mode::Block => None,
            Mode::Until(d) if Instant::now() >= d => {
                // SAFETY: locked by `lock_all` above.
                unsafe { unlock_all(arms, lock_order) };
                return None;
            }
            Mode::Until(d) => Some(d),
        };

        let waiter = Waiter::new(unparker(), true);
        // Queue the arms in the order they were tried, not in source order: a
        // peer completes the first live entry it meets in a channel's queue,
        // so with two arms on one channel the first queued always wins. The
        // fresh random order shares those wins fairly (Go's selectgo queues
        // in its lock order, a heap sort of its shuffled order, which leaves
        // one channel's arms in random order too).
        for &i in poll_order.iter() {
            // SAFETY: the channels are locked; `waiter` and the arms stay in
            // place until every arm is dequeued below, before this returns.
            unsafe { arms[i].case_mut().enqueue(&waiter, i) };
        }
        // SAFETY: locked by `lock_all` above.
        unsafe { unlock_all(arms, lock_order) };
        let chosen = wait(&waiter, WaitReason::Select, NO_OBJECT, deadline);
        // Remove the entries the losing arms (or all arms, on timeout) left.
        let mut last = None;
        for &i in lock_order.iter() {
            let addr = arms[i].case().addr();
            if last != Some(addr) {
                arms[i].case_mut().dequeue(&waiter);
                last = Some(addr);
            }
        }
        match chosen {
            None => return None,
            // A peer claimed an arm and backed out: nothing moved.
            Some(RETRY) => continue,
            Some(i) => {
                if arms[i].case_mut().finish() {
                    return Some(i);
                }
                // A watcher: something changed on its channel; look again.
            }
        }
    }
}

fn lock_all<A: AsCase>(arms: &[A], order: &[usize]) {
    let mut last = None;
    for &i in order {
        let addr = arms[i].case().addr();
        if last != Some(addr) {
            arms[i].case().lock();
            last = Some(addr);
        }
    }
}

/// # Safety
///
/// The channels were locked by `lock_all(arms, order)`.
unsafe fn unlock_all<A: AsCase>(arms: &[A], order: &[usize]) {
    let mut last = None;
    for &i in order {
        let addr = arms[i].case().addr();
        if last != Some(addr) {
            // SAFETY: locked by `lock_all` with the same order (contract).
            unsafe { arms[i].case().unlock() };
            last = Some(addr);
        }
    }
}

/// xorshift64* on a per-thread seed. Not inlined: the seed is thread-local
/// and a goroutine may move between threads (DESIGN.md's TLS rule).
#[inline(never)]
fn random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static SEED: Cell<u64> = const { Cell::new(0) };
    }
    SEED.with(|seed| {
        let mut x = seed.get();
        if x == 0 {
            // First use on this thread: seed from the clock and the
            // thread's stack address, never zero.
            let stack = &x as *const u64 as u64;
            x = (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                ^ stack.rotate_left(32))
                | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        seed.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// Waits on several channel operations and completes exactly one of them,
/// chosen at random among those ready (Go's `select`).
///
/// Arms, in crossbeam-channel's syntax:
///
/// * `recv(rx) -> res => expr`: `res` is `Result<T, RecvError>` (an error
///   once the channel is closed and drained);
/// * `send(tx, value) -> res => expr`: `res` is `Result<(), SendError<T>>`
///   (the value comes back if the channel is closed);
/// * `default => expr` (or `default() => expr`): run when no arm is ready
///   now (a non-blocking select);
/// * `default(duration) => expr`: run when no arm got ready within
///   `duration`.
///
/// crossbeam-channel's spellings work too: a trailing comma inside an
/// arm's parentheses (`recv(rx,)`, `send(tx, v,)`, `default(d,)`), and no
/// comma after an arm whose body is a block. A [`never`](crate::never)
/// receiver's arm is never ready: it switches an arm off, like a nil
/// channel in Go. For a number of arms known only at run time, use
/// [`Select`](crate::Select).
///
/// The channel and value expressions are evaluated once, before waiting,
/// in source order, so `recv(goro::time::after(d))` works as in Go. Their
/// temporaries live until the select is over, as in one expression:
/// `recv(receivers.borrow().first().unwrap())` compiles, and a lock guard
/// taken there is held while the select waits (so, in a goroutine, no
/// `std::sync::MutexGuard`: see the crate's migration rules). The select is an
/// expression whose value is the chosen arm's.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = goro::chan::<u32>(1);
/// let r = goro::select! {
///     send(tx, 7) -> res => { res.unwrap(); "sent" },
///     recv(goro::time::after(Duration::from_secs(5))) -> _ => "timeout",
/// };
/// assert_eq!(r, "sent");
/// let v = goro::select! {
///     recv(rx) -> v => v.unwrap(),
///     default => 0,
/// };
/// assert_eq!(v, 7);
///
/// // crossbeam's spellings; an arm switched off with `never`.
/// let off = goro::never::<u32>();
/// let r = goro::select! {
///     recv(off,) -> _ => "never",
///     send(tx, 8,) -> _ => { "sent" }
///     default() => "full",
/// };
/// assert_eq!(r, "sent");
/// ```
///
/// A closed channel's `recv` arm is always ready, with `Err(RecvError)`
/// (drop the receiver, or switch the arm off with `never`, to stop
/// choosing it); a `send` arm on a closed channel gets its value back:
///
/// ```
/// let (tx, rx) = goro::chan::<u32>(1);
/// drop(tx);
/// let r = goro::select! {
///     recv(rx) -> v => v,
///     default => Ok(0),
/// };
/// assert_eq!(r, Err(goro::RecvError));
///
/// let (tx, rx) = goro::chan::<u32>(1);
/// drop(rx);
/// let back = goro::select! {
///     send(tx, 9) -> res => res.unwrap_err().into_inner(),
/// };
/// assert_eq!(back, 9);
/// ```
#[macro_export]
macro_rules! select {
    // ---- parsing: @parse [arms] [default] tokens ----
    (@parse [$($arms:tt)*] [$($def:tt)*]) => {
        $crate::select!(@emit [$($arms)*] [$($def)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (recv __arm (($r)) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (recv __arm (($r)) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        recv($r:expr $(,)?) -> $p:pat => $body:expr) => {
        $crate::select!(@parse [$($arms)* (recv __arm (($r)) ($p) ($body))] [$($def)*])
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (send __arm (($s) ($v)) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)* (send __arm (($s) ($v)) ($p) ($body))] [$($def)*] $($rest)*)
    };
    (@parse [$($arms:tt)*] [$($def:tt)*]
        send($s:expr, $v:expr $(,)?) -> $p:pat => $body:expr) => {
        $crate::select!(@parse [$($arms)* (send __arm (($s) ($v)) ($p) ($body))] [$($def)*])
    };
    (@parse [$($arms:tt)*] []
        default => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [(now ($body))] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [(now ($body))] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default => $body:expr) => {
        $crate::select!(@parse [$($arms)*] [(now ($body))])
    };
    (@parse [$($arms:tt)*] []
        default() => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [(now ($body))] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default() => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [(now ($body))] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default() => $body:expr) => {
        $crate::select!(@parse [$($arms)*] [(now ($body))])
    };
    (@parse [$($arms:tt)*] []
        default($d:expr $(,)?) => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [(within ($d) ($body))] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default($d:expr $(,)?) => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($arms)*] [(within ($d) ($body))] $($rest)*)
    };
    (@parse [$($arms:tt)*] []
        default($d:expr $(,)?) => $body:expr) => {
        $crate::select!(@parse [$($arms)*] [(within ($d) ($body))])
    };
    (@parse [$($arms:tt)*] [$($def:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("select! takes at most one `default` arm")
    };
    (@parse [$($arms:tt)*] [$($def:tt)*] $($rest:tt)+) => {
        ::core::compile_error!(
            "select! arms are `recv(rx) -> v => expr,`, `send(tx, value) -> res => expr,`, \
             `default => expr,` (or `default() => expr,`) or `default(duration) => expr,`"
        )
    };

    // ---- code: bind each arm, run the select, dispatch on the winner ----
    // Each arm's expressions are the scrutinee of a `match` that encloses
    // the rest of the select (crossbeam-channel's device): temporaries in
    // them (a lock guard, a `String` whose `&str` is sent) live until the
    // select is over, as they would in one expression; a `let` would drop
    // them at its `;`. `ref` borrows a named channel instead of moving it.
    (@bind [] $arms:tt $def:tt) => {
        $crate::select!(@dispatch $arms $def)
    };
    (@bind [(recv $arm:ident (($r:expr)) $p:tt $body:tt) $($rest:tt)*] $arms:tt $def:tt) => {
        match $r {
            ref __rx => {
                let mut $arm = __rx.__select_recv();
                $crate::select!(@bind [$($rest)*] $arms $def)
            }
        }
    };
    (@bind [(send $arm:ident (($s:expr) ($v:expr)) $p:tt $body:tt) $($rest:tt)*] $arms:tt $def:tt) => {
        match $s {
            ref __tx => match $v {
                __value => {
                    let mut $arm = __tx.__select_send(__value);
                    $crate::select!(@bind [$($rest)*] $arms $def)
                }
            },
        }
    };
    (@run [$($arm:ident)*]) => {
        $crate::__select::select(&mut [$($arm.arm()),*])
    };
    (@run [$($arm:ident)*] (now ($body:expr))) => {
        $crate::__select::try_select(&mut [$($arm.arm()),*])
    };
    (@run [$($arm:ident)*] (within ($d:expr) ($body:expr))) => {
        $crate::__select::select_timeout(&mut [$($arm.arm()),*], $d)
    };
    (@default) => {
        ::core::unreachable!("select!: no arm completed")
    };
    (@default (now ($body:expr))) => { $body };
    (@default (within ($d:expr) ($body:expr))) => { $body };
    (@dispatch [$(($kind:ident $arm:ident $args:tt ($p:pat) ($body:expr)))*] [$($def:tt)*]) => {{
        $crate::select!(@run [$($arm)*] $($def)*);
        $(
            if let ::core::option::Option::Some(__res) = $arm.take() {
                let $p = __res;
                $body
            } else
        )* {
            $crate::select!(@default $($def)*)
        }
    }};
    (@emit $arms:tt $def:tt) => {
        $crate::select!(@bind $arms $arms $def)
    };

    // ---- entry ----
    ($($tokens:tt)*) => {
        $crate::select!(@parse [] [] $($tokens)*)
    };
}
