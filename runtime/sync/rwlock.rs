//! `RwLock`: many readers or one writer, preferring writers, parking the
//! goroutine (not the worker) while it waits.
//!
//! One state word plus a FIFO wait queue of readers and writers:
//!
//! * `WRITER`: a writer holds the lock;
//! * `PARKED`: the queue is (or was just) non-empty; releasing must take
//!   the slow path and grant the lock to waiters;
//! * `WRITER_PARKED`: some writer is queued. New readers do not get in
//!   while it is set: a waiting writer blocks new readers (writer
//!   preference), so a stream of readers cannot starve a writer;
//! * the remaining bits count the readers holding the lock (`ONE_READER`
//!   each).
//!
//! `PARKED` and `WRITER_PARKED` change only under the queue lock. Waiters
//! are never woken to "try again": whoever releases the lock while
//! `PARKED` is set *grants* it to the queue head, which already owns it
//! when it wakes. A writer at the head gets it alone; a reader at the head
//! gets it together with every queued reader (Go's rule: when a writer
//! unlocks, the readers that waited for it all go in, and the next writer
//! waits for them). So neither side starves.
//!
//! `try_read_for`/`try_write_for` (and `_until`) wait with a deadline. A
//! waiter that times out leaves the queue under the queue lock, where
//! every grant is made, so a grant that raced with the timeout is seen and
//! kept; and having left, it grants the lock again on the queue's new
//! terms (a writer that gave up no longer holds back the readers queued
//! behind it, nor new ones).
//!
//! Readers that re-lock while holding a read lock can deadlock against a
//! waiting writer, exactly as in Go; don't. No poisoning; guards may be
//! released on any thread. This file must never park while holding the
//! queue lock, and never admit a reader past a queued writer.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::coroutine::WaitReason;
use crate::scheduler::Unparker;
use crate::sync::waiter::{wait_until, End, Wait, WaitQueue, Why};

const WRITER: usize = 1;
const PARKED: usize = 2;
const WRITER_PARKED: usize = 4;
const ONE_READER: usize = 8;
const READERS: usize = !(ONE_READER - 1);

/// Verdict: the lock was granted to us (as the kind we asked for).
const GRANTED: u32 = 1;

/// Queue tag: is this waiter a writer?
type IsWriter = bool;

/// A reader-writer lock for goroutines and threads alike; a waiting writer
/// blocks new readers.
///
/// ```
/// let l = goro::sync::RwLock::new(1);
/// {
///     let a = l.read();
///     let b = l.read();
///     assert_eq!(*a + *b, 2);
/// }
/// *l.write() += 1;
/// assert_eq!(*l.read(), 2);
/// ```
pub struct RwLock<T: ?Sized> {
    state: AtomicUsize,
    queue: parking_lot::Mutex<WaitQueue<IsWriter>>,
    data: UnsafeCell<T>,
}

// SAFETY: readers on several threads share `&T` (needs `T: Sync`); a
// writer gets `&mut T` and may be on any thread (needs `T: Send`).
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// ```
    /// static CONFIG: goro::sync::RwLock<u32> = goro::sync::RwLock::new(8);
    /// assert_eq!(*CONFIG.read(), 8);
    /// ```
    pub const fn new(value: T) -> Self {
        RwLock {
            state: AtomicUsize::new(0),
            queue: parking_lot::Mutex::new(WaitQueue::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(String::from("a"));
    /// l.write().push('b');
    /// assert_eq!(l.into_inner(), "ab");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for shared reading; waits while a writer holds the lock *or
    /// waits for it*.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let l = Arc::new(goro::sync::RwLock::new(vec![1, 2, 3]));
    /// let mine = l.read();
    /// let l2 = l.clone();
    /// // Another reader gets in while we hold a read lock.
    /// let sum = goro::go!(move || l2.read().iter().sum::<i32>()).join().unwrap();
    /// assert_eq!(sum, 6);
    /// assert_eq!(mine.len(), 3);
    /// ```
    #[inline]
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        crate::scheduler::coop();
        let s = self.state.load(Ordering::Relaxed);
        // Acquire: see the last writer's writes.
        if s & (WRITER | WRITER_PARKED) != 0
            || self
                .state
                .compare_exchange_weak(s, s + ONE_READER, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            self.read_slow(None);
        }
        RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for reading, waiting at most `timeout`; `None` if the lock
    /// did not come in time. A timeout too large for an `Instant` waits
    /// for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = goro::sync::RwLock::new(1);
    /// let w = l.write();
    /// assert!(l.try_read_for(Duration::from_millis(5)).is_none());
    /// drop(w);
    /// assert_eq!(*l.try_read_for(Duration::from_millis(5)).unwrap(), 1);
    /// ```
    #[track_caller]
    pub fn try_read_for(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        // A free lock costs no clock read.
        if let Some(guard) = self.try_read() {
            return Some(guard);
        }
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_read_until(deadline),
            None => Some(self.read()),
        }
    }

    /// Locks for reading, waiting until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let l = goro::sync::RwLock::new(());
    /// let _w = l.write();
    /// assert!(l.try_read_until(Instant::now() + Duration::from_millis(5)).is_none());
    /// ```
    #[track_caller]
    pub fn try_read_until(&self, deadline: Instant) -> Option<RwLockReadGuard<'_, T>> {
        if let Some(guard) = self.try_read() {
            return Some(guard);
        }
        self.read_slow(Some(deadline)).then(|| RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// Locks for reading if no writer holds or waits for the lock now.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(0);
    /// let r = l.try_read().unwrap();
    /// assert!(l.try_read().is_some()); // readers share
    /// drop(r);
    /// let _w = l.write();
    /// assert!(l.try_read().is_none()); // a writer holds it
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        crate::scheduler::coop();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (WRITER | WRITER_PARKED) != 0 {
                return None;
            }
            // Acquire: see the last writer's writes.
            match self.state.compare_exchange_weak(
                s,
                s + ONE_READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(RwLockReadGuard {
                        lock: self,
                        _marker: PhantomData,
                    })
                }
                Err(now) => s = now,
            }
        }
    }

    /// Locks for exclusive writing: waits until no reader or writer holds
    /// the lock.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let l = Arc::new(goro::sync::RwLock::new(Vec::new()));
    /// let hs: Vec<_> = (0..3)
    ///     .map(|i| {
    ///         let l = l.clone();
    ///         goro::go!(move || l.write().push(i))
    ///     })
    ///     .collect();
    /// hs.into_iter().for_each(|h| h.join().unwrap());
    /// assert_eq!(l.read().len(), 3);
    /// ```
    #[inline]
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        crate::scheduler::coop();
        // Acquire: see the previous holders' writes.
        if self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.write_slow(None);
        }
        RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for writing, waiting at most `timeout`; `None` if the lock
    /// did not come in time. While it waits, new readers wait too (writer
    /// preference); once it gives up they go in. A timeout too large for an
    /// `Instant` waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = goro::sync::RwLock::new(1);
    /// let r = l.read();
    /// assert!(l.try_write_for(Duration::from_millis(5)).is_none());
    /// drop(r);
    /// *l.try_write_for(Duration::from_millis(5)).unwrap() += 1;
    /// assert_eq!(*l.read(), 2);
    /// ```
    #[track_caller]
    pub fn try_write_for(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        // A free lock costs no clock read.
        if let Some(guard) = self.try_write() {
            return Some(guard);
        }
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.try_write_until(deadline),
            None => Some(self.write()),
        }
    }

    /// Locks for writing, waiting until `deadline` at the latest.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let l = goro::sync::RwLock::new(());
    /// let _r = l.read();
    /// assert!(l.try_write_until(Instant::now() + Duration::from_millis(5)).is_none());
    /// ```
    #[track_caller]
    pub fn try_write_until(&self, deadline: Instant) -> Option<RwLockWriteGuard<'_, T>> {
        if let Some(guard) = self.try_write() {
            return Some(guard);
        }
        self.write_slow(Some(deadline)).then(|| RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// Locks for writing if nobody holds the lock now.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(0);
    /// let r = l.read();
    /// assert!(l.try_write().is_none()); // a reader holds it
    /// drop(r);
    /// *l.try_write().unwrap() = 5;
    /// assert_eq!(*l.read(), 5);
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        crate::scheduler::coop();
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (WRITER | READERS) != 0 {
                return None;
            }
            // Acquire: see the previous holders' writes.
            match self.state.compare_exchange_weak(
                s,
                s | WRITER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(RwLockWriteGuard {
                        lock: self,
                        _marker: PhantomData,
                    })
                }
                Err(now) => s = now,
            }
        }
    }

    /// The value, through an exclusive borrow: no locking needed.
    ///
    /// ```
    /// let mut l = goro::sync::RwLock::new(1);
    /// *l.get_mut() += 1;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Waits for a read lock until `deadline` (for ever if `None`);
    /// whether it is ours.
    #[cold]
    #[track_caller]
    fn read_slow(&self, deadline: Option<Instant>) -> bool {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | WRITER_PARKED) == 0 {
                // Acquire: see the last writer's writes.
                if self
                    .state
                    .compare_exchange_weak(s, s + ONE_READER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            let q = self.queue.lock();
            // Announce ourselves under the queue lock, on the exact state we
            // judged: if it changed, judge again.
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | WRITER_PARKED) == 0 || !self.set_flags(s, PARKED) {
                continue;
            }
            return self.wait_for_grant(q, false, deadline);
        }
    }

    /// Waits for a write lock until `deadline` (for ever if `None`);
    /// whether it is ours.
    #[cold]
    #[track_caller]
    fn write_slow(&self, deadline: Option<Instant>) -> bool {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | READERS) == 0 {
                // Acquire: see the previous holders' writes.
                if self
                    .state
                    .compare_exchange_weak(s, s | WRITER, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return true;
                }
                continue;
            }
            let q = self.queue.lock();
            let s = self.state.load(Ordering::Relaxed);
            if s & (WRITER | READERS) == 0 || !self.set_flags(s, PARKED | WRITER_PARKED) {
                continue;
            }
            return self.wait_for_grant(q, true, deadline);
        }
    }

    /// Queues the caller (flags already announced) and parks until the
    /// lock is granted (true) or `deadline` passes (false). Waiters are
    /// only ever woken with a grant, so a wake-up is ownership. A waiter
    /// that times out has left the queue, and grants again under the same
    /// lock: the flags it set (`WRITER_PARKED`) may no longer hold, and
    /// the readers it held back may go in now.
    #[track_caller]
    fn wait_for_grant(
        &self,
        q: parking_lot::MutexGuard<'_, WaitQueue<IsWriter>>,
        writer: IsWriter,
        deadline: Option<Instant>,
    ) -> bool {
        let mut woken = Vec::new();
        let waited = wait_until(
            q,
            writer,
            End::Back,
            Why::here(WaitReason::RwLock),
            deadline,
            || (),
            |q| self.grant(q, &mut woken),
        );
        woken.into_iter().for_each(Unparker::unpark);
        match waited {
            Wait::Woken(verdict) => {
                debug_assert_eq!(verdict, GRANTED);
                true
            }
            Wait::TimedOut => false,
        }
    }

    /// `s -> s | flags` if the state is still `s`. Queue lock held.
    fn set_flags(&self, s: usize, flags: usize) -> bool {
        s | flags == s
            || self
                .state
                .compare_exchange(s, s | flags, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    #[inline]
    fn read_unlock(&self) {
        // Release: our reads happen before the next writer's writes.
        let s = self.state.fetch_sub(ONE_READER, Ordering::Release);
        if s & READERS == ONE_READER && s & PARKED != 0 {
            self.release_slow();
        }
    }

    #[inline]
    fn write_unlock(&self) {
        // Release: publish our writes to the next holder.
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.write_unlock_slow();
        }
    }

    #[cold]
    fn write_unlock_slow(&self) {
        let mut q = self.queue.lock();
        // Release: publish our writes to barging lockers; granted waiters
        // also get them through the verdict's Release.
        self.state.fetch_and(!WRITER, Ordering::Release);
        let mut woken = Vec::new();
        self.grant(&mut q, &mut woken);
        drop(q);
        woken.into_iter().for_each(Unparker::unpark);
    }

    #[cold]
    fn release_slow(&self) {
        let mut q = self.queue.lock();
        let mut woken = Vec::new();
        self.grant(&mut q, &mut woken);
        drop(q);
        woken.into_iter().for_each(Unparker::unpark);
    }

    /// With the queue locked: if the lock can go to the queue head now,
    /// give it (to a writer alone, or to every queued reader). If someone
    /// holds it in a way that excludes the head, do nothing: their release
    /// sees `PARKED` and comes back here.
    fn grant(&self, q: &mut WaitQueue<IsWriter>, woken: &mut Vec<Unparker>) {
        loop {
            let s = self.state.load(Ordering::Relaxed);
            if s & WRITER != 0 {
                return;
            }
            let (next, front_is_writer) = match q.front() {
                None => (s & !(PARKED | WRITER_PARKED), None),
                Some(&true) => {
                    if s & READERS != 0 {
                        return;
                    }
                    let rest = q
                        .tags()
                        .skip(1)
                        .fold(0, |f, &w| f | PARKED | if w { WRITER_PARKED } else { 0 });
                    (WRITER | rest, Some(true))
                }
                Some(&false) => {
                    let readers = q.tags().filter(|&&w| !w).count();
                    // Only writers stay queued.
                    let rest = if q.tags().any(|&w| w) {
                        PARKED | WRITER_PARKED
                    } else {
                        0
                    };
                    (((s & READERS) + readers * ONE_READER) | rest, Some(false))
                }
            };
            // Acquire: a grant to a writer follows the readers' releases.
            if self
                .state
                .compare_exchange(s, next, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            match front_is_writer {
                None => {}
                Some(true) => woken.extend(q.wake_front(GRANTED).map(|(_, u)| u)),
                Some(false) => q.wake_where(GRANTED, |&w| !w, woken),
            }
            return;
        }
    }

    fn data_ptr(&self) -> *mut T {
        self.data.get()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Shared access to an [`RwLock`]; unlocks on drop, on any thread.
///
/// ```
/// let l = goro::sync::RwLock::new([1, 2]);
/// let g: goro::sync::RwLockReadGuard<'_, [i32; 2]> = l.read();
/// assert_eq!(g[1], 2); // Deref to the value
/// assert!(l.try_write().is_none());
/// drop(g);
/// assert!(l.try_write().is_some());
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    // &T: Send and Sync iff T: Sync, as sharing `&T` requires.
    _marker: PhantomData<&'a T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard proves no writer holds the lock, so nobody
        // has `&mut T` while this borrow lives.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]; unlocks on drop, on any thread.
///
/// ```
/// let l = goro::sync::RwLock::new(0);
/// let mut g: goro::sync::RwLockWriteGuard<'_, i32> = l.write();
/// *g = 7; // DerefMut to the value
/// assert!(l.try_read().is_none());
/// drop(g);
/// assert_eq!(*l.read(), 7);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    // &mut T: Send iff T: Send, Sync iff T: Sync.
    _marker: PhantomData<&'a mut T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a write guard proves exclusive ownership of the lock.
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: a write guard proves exclusive ownership of the lock, and
        // `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
