//! `blocking(f)`: run a blocking call (file I/O, DNS, a C library, a long
//! computation) on a separate thread pool while the calling goroutine
//! parks, so worker threads never stall in it. Go does this implicitly for
//! syscalls; goro makes it explicit.
//!
//! # The pool
//!
//! Threads are started on demand, up to [`MAX_THREADS`]; a job waits in a
//! FIFO queue only when that many are busy. A thread idle for
//! [`KEEP_ALIVE`] exits. Pool threads count as goro's own threads for
//! deadlock detection, and a job in flight rules a deadlock report out
//! (the job may yet wake its goroutine). The pool pushes both counts down
//! into the scheduler (`count_own_thread`, `count_outside_job`), where
//! sysmon reads them; nothing below this file calls it.
//!
//! # Borrowing
//!
//! `f` need not be `'static`: the caller stays parked until `f` has run and
//! everything it borrowed is released, as with `std::thread::scope`, so it
//! may borrow from the goroutine's stack. This file must never let the
//! caller return before the job has finished with its borrows; no timeout
//! or cancellation exists for that reason.

use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::coroutine::{current_g, WaitReason, NO_OBJECT};
use crate::scheduler::{count_outside_job, count_own_thread, park, unparker};

/// Most pool threads at once (Go's default limit on threads is 10,000;
/// tokio's blocking pool default is 512).
pub(crate) const MAX_THREADS: usize = 512;
/// An idle pool thread exits after this long without work.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    state: Mutex<PoolState>,
    work: Condvar,
}

struct PoolState {
    queue: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Threads alive.
    threads: usize,
    /// Jobs submitted so far (for the metrics).
    jobs: u64,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        queue: VecDeque::new(),
        idle: 0,
        threads: 0,
        jobs: 0,
    }),
    work: Condvar::new(),
};

/// Runs `f` on the blocking thread pool and returns its result, parking
/// the calling goroutine meanwhile (on a plain thread, or on a pool thread,
/// it just runs `f`). A panic in `f` resumes in the caller.
///
/// ```
/// # goro::run(|| {
/// let len = goro::blocking(|| std::fs::read("Cargo.toml").map(|b| b.len()));
/// assert!(len.unwrap() > 0);
/// # });
/// ```
///
/// `f` may borrow from the caller's stack, and its panic comes back to
/// the caller:
///
/// ```
/// # goro::run(|| {
/// let data = vec![3u32; 1000];
/// let sum: u32 = goro::blocking(|| data.iter().sum());
/// assert_eq!(sum, 3000);
///
/// let r = std::panic::catch_unwind(|| goro::blocking(|| panic!("in the pool")));
/// assert!(r.is_err());
/// # });
/// ```
#[track_caller]
pub fn blocking<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if current_g().is_none() {
        return f();
    }
    let result: Arc<Mutex<Option<std::thread::Result<T>>>> = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let job = {
        let result = result.clone();
        let done = done.clone();
        let waiter = unparker();
        move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            *result.lock() = Some(r);
            // Everything that may borrow from the caller (`f`, consumed
            // above, and `result`) is gone before `done` says so.
            drop(result);
            done.store(true, Ordering::Release);
            waiter.unpark();
            count_outside_job(-1);
        }
    };
    let job: Box<dyn FnOnce() + Send + '_> = Box::new(job);
    // SAFETY: only the lifetime changes (same layout). The job may borrow
    // from the caller's stack ('_). The caller does not return until
    // `done` is set (the loop below has no other exit, and park cannot
    // unwind: goro has no cancellation), and the job sets `done` only
    // after `f` has been consumed and its handle on `result` dropped; what
    // the job still holds afterwards (`done`, `waiter`, the box's memory)
    // is 'static. So no borrow is used after the caller's frame is gone.
    let job: Job = unsafe { std::mem::transmute::<Box<dyn FnOnce() + Send + '_>, Job>(job) };
    count_outside_job(1);
    submit(job);
    while !done.load(Ordering::Acquire) {
        park(WaitReason::Blocking, NO_OBJECT);
    }
    let r = result
        .lock()
        .take()
        .expect("goro: blocking job finished without a result");
    match r {
        Ok(v) => v,
        Err(payload) => panic::resume_unwind(payload),
    }
}

fn submit(job: Job) {
    let mut st = POOL.state.lock();
    st.queue.push_back(job);
    st.jobs += 1;
    // Each idle thread takes one queued job; start a thread for the rest.
    if st.queue.len() > st.idle && st.threads < MAX_THREADS {
        st.threads += 1;
        count_own_thread(1);
        let spawned = std::thread::Builder::new()
            .name("goro-blocking".into())
            .spawn(pool_thread);
        if spawned.is_err() {
            // Out of threads: the job waits for a busy thread to finish
            // (at least the caller's own is none, so say so loudly when
            // nobody will ever run it).
            st.threads -= 1;
            count_own_thread(-1);
            if st.threads == 0 {
                let job = st.queue.pop_back().expect("pushed above");
                drop(st);
                crate::fatal::eprint(format_args!(
                    "goro: cannot start a blocking-pool thread; running the job inline\n"
                ));
                job();
                return;
            }
        }
    }
    if st.idle > 0 {
        POOL.work.notify_one();
    }
}

/// The pool now, for the metrics: threads alive, of them idle, and jobs
/// submitted so far.
pub(crate) fn pool_counts() -> (u64, u64, u64) {
    let st = POOL.state.lock();
    (st.threads as u64, st.idle as u64, st.jobs)
}

fn pool_thread() {
    let mut st = POOL.state.lock();
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            job();
            st = POOL.state.lock();
            continue;
        }
        st.idle += 1;
        let timed_out = POOL.work.wait_for(&mut st, KEEP_ALIVE).timed_out();
        st.idle -= 1;
        if timed_out && st.queue.is_empty() {
            st.threads -= 1;
            // Uncounted a moment before the thread is gone: the count
            // only undershoots, which never causes a false deadlock report.
            count_own_thread(-1);
            return;
        }
    }
}
