//! The loads behind the textbook's four claims, shared by
//! `benches/compare/benches/claims.rs` (criterion) and `benches/compare/examples/report.rs` (one quick
//! table and a plot): switching, creation, a CPU-bound job and an IO-bound
//! echo load, each run by goroutines (goro), OS threads, processes and the
//! peers a user would pick instead (tokio tasks, may coroutines).
//!
//! Settings. Every load runs in two settings, each in its own process (the
//! bench and the report re-execute themselves, see [`run_settings`]):
//! - `single_core`: the process pins itself to CPU 0 with
//!   `sched_setaffinity` before it starts any thread, so every thread it
//!   later starts (goro workers, tokio and may workers, criterion, OS-thread
//!   contenders) and every child it forks or spawns inherits the mask; goro
//!   runs `gomaxprocs(1)`, tokio and may one worker.
//! - `multi_core`: no pinning, goro on `num_cpu()` workers, tokio and may
//!   on as many.
//!
//! A process per setting is needed anyway: may fixes its worker count the
//! first time it is used, and an affinity mask cannot be widened back
//! safely under threads that already inherited it.
//!
//! Processes as contenders are made with `libc::fork()` from the running
//! process, not by re-executing a binary: re-executing would add exec,
//! dynamic loading and runtime start-up to every switch or job and measure
//! those instead. The process is multi-threaded when it forks (criterion,
//! goro, tokio and may threads), so a forked child may only call
//! async-signal-safe functions: every child here runs raw `read`, `write`,
//! `socket`, `connect`, `setsockopt`, `clock_gettime`, `close` and `_exit`
//! on memory and descriptors prepared before the fork, and never allocates,
//! locks, unwinds or returns. The creation load measures process creation
//! both ways (`fork` + `_exit` + `waitpid`, and `/bin/true` through
//! `std::process::Command`).
//!
//! The IO-bound load talks to an echo server in a separate process (this
//! binary, re-executed with `GORO_CLAIMS_ROLE=echo_server`): a goro server,
//! one goroutine per connection, the same for every contender, in the same
//! setting (pinned to CPU 0 with one worker in `single_core`, so in that
//! setting the whole experiment shares one CPU). Separate, because one
//! process cannot hold both ends of 10,000 connections under a 20,000 fd
//! limit, and so that the server's cost is the same for all contenders.

#![allow(dead_code)]

use crate::child::ChildServer;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Environment variable naming the setting a child process runs.
pub const SETTING_ENV: &str = "GORO_CLAIMS_SETTING";
/// Environment variable naming a helper role (`echo_server`).
pub const ROLE_ENV: &str = "GORO_CLAIMS_ROLE";

/// One core or all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    SingleCore,
    MultiCore,
}

impl Setting {
    pub const ALL: [Setting; 2] = [Setting::SingleCore, Setting::MultiCore];

    pub fn name(self) -> &'static str {
        match self {
            Setting::SingleCore => "single_core",
            Setting::MultiCore => "multi_core",
        }
    }

    pub fn parse(s: &str) -> Option<Setting> {
        Setting::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Workers for goro, tokio and may in this setting.
    pub fn workers(self) -> usize {
        match self {
            Setting::SingleCore => 1,
            Setting::MultiCore => all_cpus(),
        }
    }
}

/// CPUs this process may run on (respects the affinity mask).
pub fn all_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins the calling thread, and so every thread and process it starts
/// afterwards, to CPU 0.
pub fn pin_to_cpu0() {
    // SAFETY: cpu_set_t is a plain bit array for which all-zero is a valid
    // (empty) value; CPU_ZERO/CPU_SET only write inside it, and
    // sched_setaffinity reads exactly size_of::<cpu_set_t>() bytes from it.
    // pid 0 means the calling thread.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(rc, 0, "sched_setaffinity: {}", io::Error::last_os_error());
}

/// Raises the soft fd limit to the hard limit (10,000 connections).
pub fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit read and write one rlimit struct we own.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// The soft fd limit after [`raise_nofile`].
pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur
}

/// Puts this process into `setting`. Must run before any thread starts.
pub fn enter(setting: Setting) {
    let _ = SETTING.set(setting);
    if setting == Setting::SingleCore {
        pin_to_cpu0();
    }
    raise_nofile();
    goro::gomaxprocs(setting.workers());
    may::config()
        .set_workers(setting.workers())
        .set_stack_size(0x4000);
    // may pins its workers to cores by default, which would undo the mask.
    may::config().set_worker_pin(false);
}

/// Runs a helper role if this process was started as one (then exits).
/// Call first thing in `main`.
pub fn handle_roles() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        let setting = std::env::var(SETTING_ENV)
            .ok()
            .and_then(|s| Setting::parse(&s))
            .unwrap_or(Setting::MultiCore);
        match role.as_str() {
            "echo_server" => echo_server_main(setting),
            other => panic!("unknown {ROLE_ENV}={other}"),
        }
        std::process::exit(0);
    }
}

/// Runs `body` once per setting, each in its own process: with
/// [`SETTING_ENV`] set, enters that setting and runs `body` here; without,
/// re-executes this binary (same arguments) once per setting, in order,
/// handing each child's stdout to `on_line`. Returns false if a child
/// failed.
pub fn run_settings(body: impl FnOnce(Setting), mut on_line: impl FnMut(&str)) -> bool {
    if let Some(setting) = std::env::var(SETTING_ENV)
        .ok()
        .and_then(|s| Setting::parse(&s))
    {
        enter(setting);
        body(setting);
        return true;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut ok = true;
    for setting in Setting::ALL {
        let mut child = Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(SETTING_ENV, setting.name())
            .stdout(Stdio::piped())
            .spawn()
            .expect("re-execute for a setting");
        let out = BufReader::new(child.stdout.take().unwrap());
        for line in out.lines() {
            on_line(&line.expect("child stdout"));
        }
        let status = child.wait().expect("wait for setting child");
        if !status.success() {
            eprintln!("claims: the {} run failed: {status}", setting.name());
            ok = false;
        }
    }
    ok
}

// ---------------------------------------------------------------------
// Shared runtimes of the peers.

/// The setting this process entered (see [`enter`]).
static SETTING: std::sync::OnceLock<Setting> = std::sync::OnceLock::new();

/// The tokio multi-thread runtime of this process, with as many workers as
/// the setting; made on first use, so that processes forked before it (see
/// [`is_process`]) do not copy its threads' mappings.
pub fn tokio_rt() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        let setting = SETTING.get().copied().unwrap_or(Setting::MultiCore);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(setting.workers())
            .enable_io()
            .build()
            .expect("tokio runtime")
    })
}

/// Whether a contender forks processes. Measure those first in a process,
/// before goro, tokio or may run: `fork` copies every mapping of the
/// parent, and each pooled coroutine stack with its guard page adds two
/// (after 1,000 goroutines this process holds about 2,000 mappings and a
/// fork costs ~20x more), so forking late would charge the runtimes'
/// footprint to the processes. Children that exit also tear those copies
/// down, inside the timed region.
pub fn is_process(contender: &str) -> bool {
    contender.starts_with("process")
}

/// Runs `fut` as a task on `rt`'s workers and waits for it. The driver of
/// every tokio load runs as a task, as goro's runs in a goroutine (inside
/// `goro::run`) and may's in a coroutine: `block_on` alone would run it on
/// the calling thread, outside the workers, and turn every handoff into an
/// OS-thread wake-up.
pub fn on_tokio<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio_rt().block_on(async move { tokio::spawn(fut).await.expect("tokio task") })
}

// ---------------------------------------------------------------------
// Raw process helpers.

/// Two pipes, as raw fds: (read, write).
fn raw_pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: pipe writes two fds into the array we own.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", io::Error::last_os_error());
    (fds[0], fds[1])
}

fn close(fd: i32) {
    // SAFETY: closes a descriptor this code opened and owns; never used after.
    unsafe { libc::close(fd) };
}

/// Reads exactly `buf.len()` bytes; false on EOF or error.
fn read_full(fd: i32, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n > 0 {
            got += n as usize;
        } else if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return false;
        }
    }
    true
}

/// Async-signal-safe variant of [`read_full`] for forked children (no
/// `io::Error`, which is fine too, but this keeps the child minimal).
fn child_read_full(fd: i32, buf: *mut u8, len: usize) -> bool {
    let mut got = 0;
    while got < len {
        // SAFETY: `buf..buf+len` is writable memory of the caller.
        let n = unsafe { libc::read(fd, buf.add(got).cast(), len - got) };
        if n <= 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

fn child_write_full(fd: i32, buf: *const u8, len: usize) -> bool {
    let mut put = 0;
    while put < len {
        // SAFETY: `buf..buf+len` is readable memory of the caller.
        let n = unsafe { libc::write(fd, buf.add(put).cast(), len - put) };
        if n <= 0 {
            return false;
        }
        put += n as usize;
    }
    true
}

fn write_full(fd: i32, buf: &[u8]) -> bool {
    child_write_full(fd, buf.as_ptr(), buf.len())
}

/// Forks; in the child runs `child` (which must only make async-signal-safe
/// calls and must not return normally: it returns an exit code for
/// `_exit`). Returns the child's pid in the parent.
fn fork_child(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: fork itself is safe to call; the child branch below only runs
    // `child`, which by this function's contract makes async-signal-safe
    // calls only, and then leaves with _exit, which runs no destructors or
    // atexit handlers that could touch state copied mid-update from other
    // threads.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        let code = child();
        // SAFETY: see above; _exit never returns.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid`; true if it exited with status 0.
fn wait_ok(pid: libc::pid_t) -> bool {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child and writes its status into `status`.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
        if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return false;
        }
    }
}

// ---------------------------------------------------------------------
// Switching: two parties pass the turn back and forth. Each function runs
// `handoffs` one-way handoffs (a round trip is two) after one untimed
// warm-up round trip, and returns the time they took.

fn rounds(handoffs: u64) -> u64 {
    handoffs.div_ceil(2).max(1)
}

/// Scales a time for `rounds(h)` round trips to exactly `h` handoffs.
fn per_handoffs(took: Duration, handoffs: u64) -> Duration {
    took.mul_f64(handoffs.max(1) as f64 / (2 * rounds(handoffs)) as f64)
}

/// The switching contenders, in table order.
pub const SWITCHES: [&str; 9] = [
    "goro_gosched",
    "goro_chan",
    "tokio_yield",
    "tokio_mpsc",
    "may_yield",
    "may_chan",
    "thread_condvar",
    "thread_pipe",
    "process_pipe",
];

pub fn switch(name: &str, handoffs: u64) -> Duration {
    let r = rounds(handoffs);
    let took = match name {
        "goro_gosched" => goro::run(move || {
            let turn = Arc::new(AtomicU64::new(0));
            let t2 = turn.clone();
            let peer = goro::go!(move || take_turns(&t2, 1, r + 1, goro::gosched));
            let start = take_turns(&turn, 0, r + 1, goro::gosched);
            peer.join().unwrap();
            start.elapsed()
        }),
        "goro_chan" => goro::run(move || {
            let (tx1, rx1) = goro::chan::<u64>(0);
            let (tx2, rx2) = goro::chan::<u64>(0);
            let peer = goro::go!(move || {
                while let Ok(v) = rx1.recv() {
                    tx2.send(v).unwrap();
                }
            });
            tx1.send(0).unwrap();
            rx2.recv().unwrap();
            let start = Instant::now();
            for i in 0..r {
                tx1.send(i).unwrap();
                rx2.recv().unwrap();
            }
            let took = start.elapsed();
            drop(tx1);
            peer.join().unwrap();
            took
        }),
        "tokio_yield" => on_tokio(async move {
            let turn = Arc::new(AtomicU64::new(0));
            let t2 = turn.clone();
            let peer = tokio::spawn(async move { take_turns_async(&t2, 1, r + 1).await });
            let start = take_turns_async(&turn, 0, r + 1).await;
            let _ = peer.await;
            start.elapsed()
        }),
        "tokio_mpsc" => on_tokio(async move {
            let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u64>(1);
            let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u64>(1);
            let peer = tokio::spawn(async move {
                while let Some(v) = rx1.recv().await {
                    tx2.send(v).await.unwrap();
                }
            });
            tx1.send(0).await.unwrap();
            rx2.recv().await.unwrap();
            let start = Instant::now();
            for i in 0..r {
                tx1.send(i).await.unwrap();
                rx2.recv().await.unwrap();
            }
            let took = start.elapsed();
            drop(tx1);
            peer.await.unwrap();
            took
        }),
        "may_yield" => may::go!(move || {
            // may puts every new coroutine on a global queue that a worker
            // reads only once its local queue is empty, and yield_now goes to
            // the local queue: with one worker, a party that yield-spins
            // before its peer has started never lets the peer start (it
            // livelocked here). So the peer reports it is running first,
            // over a channel, which parks instead of yielding.
            let turn = Arc::new(AtomicU64::new(0));
            let t2 = turn.clone();
            let (up_tx, up_rx) = may::sync::mpsc::channel::<()>();
            let peer = may::go!(move || {
                up_tx.send(()).unwrap();
                take_turns(&t2, 1, r + 1, may::coroutine::yield_now)
            });
            up_rx.recv().unwrap();
            let start = take_turns(&turn, 0, r + 1, may::coroutine::yield_now);
            peer.join().unwrap();
            start.elapsed()
        })
        .join()
        .unwrap(),
        "may_chan" => may::go!(move || {
            let (tx1, rx1) = may::sync::mpsc::channel::<u64>();
            let (tx2, rx2) = may::sync::mpsc::channel::<u64>();
            let peer = may::go!(move || {
                while let Ok(v) = rx1.recv() {
                    tx2.send(v).unwrap();
                }
            });
            tx1.send(0).unwrap();
            rx2.recv().unwrap();
            let start = Instant::now();
            for i in 0..r {
                tx1.send(i).unwrap();
                rx2.recv().unwrap();
            }
            let took = start.elapsed();
            drop(tx1);
            peer.join().unwrap();
            took
        })
        .join()
        .unwrap(),
        "thread_condvar" => {
            let pair = Arc::new((Mutex::new(0u64), Condvar::new()));
            let p2 = pair.clone();
            let peer = std::thread::spawn(move || condvar_turns(&p2, 1, r + 1));
            let start = condvar_turns(&pair, 0, r + 1);
            peer.join().unwrap();
            start.elapsed()
        }
        "thread_pipe" => {
            let (a_r, a_w) = raw_pipe();
            let (b_r, b_w) = raw_pipe();
            let peer = std::thread::spawn(move || {
                let mut b = [0u8; 1];
                while read_full(a_r, &mut b) {
                    write_full(b_w, &b);
                }
            });
            let took = pipe_driver(a_w, b_r, r);
            close(a_w);
            peer.join().unwrap();
            for fd in [a_r, b_r, b_w] {
                close(fd);
            }
            took
        }
        "process_pipe" => {
            let (a_r, a_w) = raw_pipe();
            let (b_r, b_w) = raw_pipe();
            let pid = fork_child(move || {
                // Child: echo one byte at a time until EOF. Raw syscalls only.
                close(a_w);
                close(b_r);
                let mut b = 0u8;
                while child_read_full(a_r, &mut b, 1) {
                    if !child_write_full(b_w, &b, 1) {
                        return 1;
                    }
                }
                0
            });
            close(a_r);
            close(b_w);
            let took = pipe_driver(a_w, b_r, r);
            close(a_w);
            assert!(wait_ok(pid), "pipe echo child failed");
            close(b_r);
            took
        }
        other => panic!("unknown switch {other}"),
    };
    per_handoffs(took, handoffs)
}

/// Party `me` (0 or 1) takes turns `me, me + 2, ...` for `r` rounds,
/// calling `yield_fn` while it waits. Returns when party 0 started the
/// clock (after its first turn, the warm-up).
fn take_turns(turn: &AtomicU64, me: u64, r: u64, yield_fn: impl Fn()) -> Instant {
    let mut start = Instant::now();
    for i in 0..r {
        let mine = 2 * i + me;
        while turn.load(Ordering::Acquire) != mine {
            yield_fn();
        }
        if i == 1 {
            start = Instant::now();
        }
        turn.store(mine + 1, Ordering::Release);
    }
    start
}

async fn take_turns_async(turn: &AtomicU64, me: u64, r: u64) -> Instant {
    let mut start = Instant::now();
    for i in 0..r {
        let mine = 2 * i + me;
        while turn.load(Ordering::Acquire) != mine {
            tokio::task::yield_now().await;
        }
        if i == 1 {
            start = Instant::now();
        }
        turn.store(mine + 1, Ordering::Release);
    }
    start
}

fn condvar_turns(pair: &(Mutex<u64>, Condvar), me: u64, r: u64) -> Instant {
    let (lock, cv) = pair;
    let mut start = Instant::now();
    for i in 0..r {
        let mine = 2 * i + me;
        let mut t = lock.lock().unwrap();
        while *t != mine {
            t = cv.wait(t).unwrap();
        }
        if i == 1 {
            start = Instant::now();
        }
        *t = mine + 1;
        drop(t);
        cv.notify_one();
    }
    start
}

/// Sends one byte on `w` and waits for it on `r`, one warm-up round then
/// `rounds` timed ones.
fn pipe_driver(w: i32, r: i32, rounds: u64) -> Duration {
    let mut b = [7u8; 1];
    assert!(write_full(w, &b) && read_full(r, &mut b));
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(write_full(w, &b) && read_full(r, &mut b));
    }
    start.elapsed()
}

// ---------------------------------------------------------------------
// Creation: spawn and join `iters` times, one after the other.

pub const CREATIONS: [&str; 6] = [
    "goro_go_join",
    "tokio_spawn_await",
    "may_go_join",
    "thread_spawn_join",
    "process_fork_wait",
    "process_spawn_bin_true",
];

pub fn create(name: &str, iters: u64) -> Duration {
    match name {
        "goro_go_join" => goro::run(move || {
            let start = Instant::now();
            for i in 0..iters {
                let h = goro::go!(move || std::hint::black_box(i));
                h.join().unwrap();
            }
            start.elapsed()
        }),
        "tokio_spawn_await" => on_tokio(async move {
            let start = Instant::now();
            for i in 0..iters {
                tokio::spawn(async move { std::hint::black_box(i) })
                    .await
                    .unwrap();
            }
            start.elapsed()
        }),
        "may_go_join" => may::go!(move || {
            let start = Instant::now();
            for i in 0..iters {
                may::go!(move || std::hint::black_box(i)).join().unwrap();
            }
            start.elapsed()
        })
        .join()
        .unwrap(),
        "thread_spawn_join" => {
            let start = Instant::now();
            for i in 0..iters {
                std::thread::spawn(move || std::hint::black_box(i))
                    .join()
                    .unwrap();
            }
            start.elapsed()
        }
        "process_fork_wait" => {
            let start = Instant::now();
            for _ in 0..iters {
                let pid = fork_child(|| 0);
                assert!(wait_ok(pid));
            }
            start.elapsed()
        }
        "process_spawn_bin_true" => {
            let start = Instant::now();
            for _ in 0..iters {
                let st = Command::new("/bin/true").status().expect("/bin/true");
                assert!(st.success());
            }
            start.elapsed()
        }
        other => panic!("unknown creation {other}"),
    }
}

// ---------------------------------------------------------------------
// CPU-bound: a fixed job (`total` rounds of a dependent multiply-xorshift
// chain) split into `tasks` equal tasks, run by each contender. The XOR of
// the task results is checked against the sequential run, so no contender
// can skip work.

/// One task: `rounds` steps of a chain no compiler can shorten.
#[inline(never)]
pub fn work(seed: u64, rounds: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..rounds {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x ^= x >> 29;
    }
    std::hint::black_box(x)
}

pub const CPU_CONTENDERS: [&str; 6] = ["sequential", "goro", "thread", "process", "tokio", "may"];

/// Runs the job; returns its wall time and the combined result.
pub fn cpu(name: &str, total: u64, tasks: u64) -> (Duration, u64) {
    let per = total / tasks;
    let start = Instant::now();
    let result = match name {
        "sequential" => (0..tasks).fold(0, |acc, t| acc ^ work(t, per)),
        "goro" => goro::run(move || {
            let hs: Vec<_> = (0..tasks)
                .map(|t| goro::go!(move || work(t, per)))
                .collect();
            hs.into_iter().fold(0, |acc, h| acc ^ h.join().unwrap())
        }),
        "thread" => {
            let hs: Vec<_> = (0..tasks)
                .map(|t| std::thread::spawn(move || work(t, per)))
                .collect();
            hs.into_iter().fold(0, |acc, h| acc ^ h.join().unwrap())
        }
        "tokio" => on_tokio(async move {
            let hs: Vec<_> = (0..tasks)
                .map(|t| tokio::spawn(async move { work(t, per) }))
                .collect();
            let mut acc = 0;
            for h in hs {
                acc ^= h.await.unwrap();
            }
            acc
        }),
        "may" => may::go!(move || {
            let hs: Vec<_> = (0..tasks).map(|t| may::go!(move || work(t, per))).collect();
            hs.into_iter().fold(0, |acc, h| acc ^ h.join().unwrap())
        })
        .join()
        .unwrap(),
        "process" => {
            // Each child writes its 8-byte result to one pipe (atomic: below
            // PIPE_BUF), the parent XORs them in any order.
            let (r, w) = raw_pipe();
            let pids: Vec<_> = (0..tasks)
                .map(|t| {
                    fork_child(move || {
                        let v = work(t, per).to_ne_bytes();
                        if child_write_full(w, v.as_ptr(), 8) {
                            0
                        } else {
                            1
                        }
                    })
                })
                .collect();
            close(w);
            let mut acc = 0;
            let mut b = [0u8; 8];
            for _ in 0..tasks {
                assert!(read_full(r, &mut b), "cpu child result");
                acc ^= u64::from_ne_bytes(b);
            }
            close(r);
            for pid in pids {
                assert!(wait_ok(pid), "cpu child failed");
            }
            acc
        }
        other => panic!("unknown cpu contender {other}"),
    };
    (start.elapsed(), result)
}

/// The expected result of [`cpu`].
pub fn cpu_expected(total: u64, tasks: u64) -> u64 {
    (0..tasks).fold(0, |acc, t| acc ^ work(t, total / tasks))
}

// ---------------------------------------------------------------------
// IO-bound: `n` tasks each connect to the echo server, wait at a barrier,
// then do `k` 64-byte request/response round trips, timing each. The clock
// runs from the barrier's release to the last task's end: creation and
// connecting are measured elsewhere.

pub const MSG: usize = 64;

pub const IO_CONTENDERS: [&str; 5] = ["goro", "thread", "process", "tokio", "may"];

/// One IO run: wall time and every round trip's latency in ns.
pub struct IoRun {
    pub wall: Duration,
    pub lat_ns: Vec<u32>,
}

impl IoRun {
    /// Round trips per second.
    pub fn throughput(&self) -> f64 {
        self.lat_ns.len() as f64 / self.wall.as_secs_f64()
    }
}

fn ns32(d: Duration) -> u32 {
    d.as_nanos().min(u32::MAX as u128) as u32
}

/// The `p`-quantile (0..=1) of `v`, sorting it.
pub fn quantile(v: &mut [u32], p: f64) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * p).round() as usize;
    v[i]
}

/// Stack for the thread-per-task contender: 128 KiB is plenty for a loop
/// over a 64-byte buffer and lets 10,000 threads fit in memory.
const THREAD_STACK: usize = 128 << 10;

pub fn io(name: &str, addr: SocketAddr, n: usize, k: usize) -> IoRun {
    match name {
        "goro" => goro::run(move || {
            use goro::net::TcpStream;
            let barrier = Arc::new(goro::sync::Barrier::new(n + 1));
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let barrier = barrier.clone();
                    goro::go!(move || {
                        let s = TcpStream::connect(addr).expect("connect");
                        s.set_nodelay(true).unwrap();
                        barrier.wait();
                        round_trips(&mut &s, k)
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let lat = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
            IoRun {
                wall: start.elapsed(),
                lat_ns: lat,
            }
        }),
        "thread" => {
            let barrier = Arc::new(Barrier::new(n + 1));
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let barrier = barrier.clone();
                    std::thread::Builder::new()
                        .stack_size(THREAD_STACK)
                        .spawn(move || {
                            let mut s = TcpStream::connect(addr).expect("connect");
                            s.set_nodelay(true).unwrap();
                            barrier.wait();
                            round_trips(&mut s, k)
                        })
                        .expect("spawn thread")
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let lat = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
            IoRun {
                wall: start.elapsed(),
                lat_ns: lat,
            }
        }
        "tokio" => on_tokio(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let barrier = barrier.clone();
                    tokio::spawn(async move {
                        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
                        s.set_nodelay(true).unwrap();
                        barrier.wait().await;
                        let mut lat = Vec::with_capacity(k);
                        let msg = [7u8; MSG];
                        let mut buf = [0u8; MSG];
                        for _ in 0..k {
                            let t = Instant::now();
                            s.write_all(&msg).await.unwrap();
                            s.read_exact(&mut buf).await.unwrap();
                            lat.push(ns32(t.elapsed()));
                        }
                        lat
                    })
                })
                .collect();
            barrier.wait().await;
            let start = Instant::now();
            let mut lat = Vec::with_capacity(n * k);
            for h in hs {
                lat.extend(h.await.unwrap());
            }
            IoRun {
                wall: start.elapsed(),
                lat_ns: lat,
            }
        }),
        "may" => may::go!(move || {
            let barrier = Arc::new(may::sync::Barrier::new(n + 1));
            let hs: Vec<_> = (0..n)
                .map(|_| {
                    let barrier = barrier.clone();
                    may::go!(move || {
                        let mut s = may::net::TcpStream::connect(addr).expect("connect");
                        s.set_nodelay(true).unwrap();
                        barrier.wait();
                        round_trips(&mut s, k)
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let lat = hs.into_iter().flat_map(|h| h.join().unwrap()).collect();
            IoRun {
                wall: start.elapsed(),
                lat_ns: lat,
            }
        })
        .join()
        .unwrap(),
        "process" => io_processes(addr, n, k),
        other => panic!("unknown io contender {other}"),
    }
}

fn round_trips(s: &mut impl ReadWrite, k: usize) -> Vec<u32> {
    let mut lat = Vec::with_capacity(k);
    let msg = [7u8; MSG];
    let mut buf = [0u8; MSG];
    for _ in 0..k {
        let t = Instant::now();
        s.write_all(&msg).expect("write");
        s.read_exact(&mut buf).expect("read");
        assert_eq!(buf, msg, "echo mismatch");
        lat.push(ns32(t.elapsed()));
    }
    lat
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A shared anonymous mapping of `len` u32s, visible to forked children.
struct Shared {
    ptr: *mut u32,
    len: usize,
}

impl Shared {
    fn new(len: usize) -> Shared {
        let bytes = (len * 4).max(4);
        // SAFETY: an anonymous shared mapping with no address hint; the
        // result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(
            ptr != libc::MAP_FAILED,
            "mmap: {}",
            io::Error::last_os_error()
        );
        Shared {
            ptr: ptr.cast(),
            len,
        }
    }

    fn to_vec(&self) -> Vec<u32> {
        // SAFETY: the mapping holds `len` u32s (zero-filled at creation) and
        // every child that wrote to it has been waited for.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }.to_vec()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference into
        // it outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), (self.len * 4).max(4)) };
    }
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime (async-signal-safe) writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Process per task: fork `n` children that connect with raw syscalls,
/// report ready on one pipe, block on a gate pipe until the parent closes
/// it (EOF releases them all at once), do `k` round trips writing their
/// latencies into a shared mapping, and `_exit`.
fn io_processes(addr: SocketAddr, n: usize, k: usize) -> IoRun {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    let sa = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(v4.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    let shared = Shared::new(n * k);
    let out = shared.ptr as usize;
    let (ready_r, ready_w) = raw_pipe();
    let (gate_r, gate_w) = raw_pipe();
    let mut pids = Vec::with_capacity(n);
    for i in 0..n {
        pids.push(fork_child(move || {
            // Child: raw, async-signal-safe syscalls only.
            close(gate_w);
            close(ready_r);
            // SAFETY: (whole block) every call gets pointers to locals or
            // to the shared mapping slots [i*k, i*k+k), which belong to
            // this child alone; fds are this child's own.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
                if fd < 0 {
                    return 2;
                }
                let one: libc::c_int = 1;
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    4,
                );
                let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                if libc::connect(fd, (&sa as *const libc::sockaddr_in).cast(), len) != 0 {
                    return 3;
                }
                let b = 1u8;
                if !child_write_full(ready_w, &b, 1) {
                    return 4;
                }
                let mut g = 0u8;
                // Blocks until the parent closes gate_w: EOF (false) is the go.
                let _ = child_read_full(gate_r, &mut g, 1);
                let msg = [7u8; MSG];
                let mut buf = [0u8; MSG];
                let slots = (out as *mut u32).add(i * k);
                for j in 0..k {
                    let t = now_ns();
                    if !child_write_full(fd, msg.as_ptr(), MSG)
                        || !child_read_full(fd, buf.as_mut_ptr(), MSG)
                        || buf != msg
                    {
                        return 5;
                    }
                    *slots.add(j) = (now_ns() - t).min(u32::MAX as u64) as u32;
                }
                libc::close(fd);
            }
            0
        }));
    }
    close(ready_w);
    close(gate_r);
    let mut ready = vec![0u8; n];
    assert!(read_full(ready_r, &mut ready), "io children not ready");
    let start = Instant::now();
    close(gate_w);
    let mut ok = true;
    for pid in pids {
        ok &= wait_ok(pid);
    }
    let wall = start.elapsed();
    close(ready_r);
    assert!(ok, "an io child failed");
    IoRun {
        wall,
        lat_ns: shared.to_vec(),
    }
}

// ---------------------------------------------------------------------
// The echo server process.

/// Starts a goro echo server in a child process (this binary re-executed)
/// in `setting`.
pub fn echo_server(setting: Setting) -> ChildServer {
    let mut cmd = ChildServer::this_binary();
    cmd.env(ROLE_ENV, "echo_server")
        .env(SETTING_ENV, setting.name());
    ChildServer::spawn(cmd)
}

fn echo_server_main(setting: Setting) {
    enter(setting);
    goro::run(|| {
        let listener = goro::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        println!("{}", listener.local_addr().unwrap());
        io::stdout().flush().unwrap();
        loop {
            let Ok((mut conn, _)) = listener.accept() else {
                goro::time::sleep(Duration::from_millis(1));
                continue;
            };
            goro::go!(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; 4096];
                loop {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    })
}
