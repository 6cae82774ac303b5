//! The `ipc` section of the report (issue 15, "measure the claims"): the
//! textbook notes' IPC methods between two processes, each measured with
//! goroutines on both sides and with plain blocking threads on both sides.
//!
//! The peer is a child process: the running binary re-executed with
//! [`ROLE_ENV`] naming the method and the side, the resources it must
//! open (inherited descriptors, paths, POSIX names) in `SPEC_ENV` and the
//! exchange in `PLAN_ENV`. Each run makes fresh resources and a fresh
//! child, measures once and removes what it created:
//!
//! * round trip: 64-byte messages sent and echoed back, one at a time
//!   (after a short warm-up); nanoseconds per round trip;
//! * one-way throughput: [`Plan::small`] 64-byte messages, then
//!   [`Plan::big`] 64 KiB messages, sent back to back; the clock stops
//!   when the peer's acknowledgement of the last one arrives.
//!
//! Every message carries its sequence number in its first 8 bytes and the
//! receiver checks it and the length: a lost, torn or reordered message
//! fails the run. Every receiver copies each message into a buffer of its
//! own (the shared-memory methods too: their receiver copies out of the
//! mapping before it frees the slot), so all methods deliver the same.
//!
//! Goroutines: both processes run the exchange in one goroutine with
//! `gomaxprocs(1)`, on goro's types (`goro::io::pipe`, `goro::net`,
//! `goro::ipc`). Threads: both run it on a plain thread, blocking in the
//! kernel as a C program would: std's types where std has them (pipes as
//! `File`s, FIFOs opened with `std::fs`, `std::os::unix::net`, `std::net`),
//! blocking `mq_send`/`mq_receive` on `mq_open` descriptors and blocking
//! eventfds beside `goro::ipc::SharedMemory` where std has none, and
//! goro's `ShmRing` from the plain thread (it has no blocking twin).
//! goro's waiting types also work from a plain thread, through goro's
//! reactor; the thread rows keep them out so that they measure the
//! mechanism, not that fallback.

// The criterion bench (`benches/ipc.rs`) uses the links, not the section.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Set in the peer's environment: `METHOD SIDE` (the short names).
pub const ROLE_ENV: &str = "GORO_REPORT_IPC_PEER";
/// The resources the peer opens: `key=value` pairs separated by `;`.
const SPEC_ENV: &str = "GORO_REPORT_IPC_SPEC";
/// The exchange: `round_trips,small,big` (see [`Plan`]).
const PLAN_ENV: &str = "GORO_REPORT_IPC_PLAN";

/// The small message and the large one, in bytes.
pub const SMALL: usize = 64;
pub const BIG: usize = 64 * 1024;
/// Round trips before the timed ones.
const WARMUP: usize = 200;
/// A peer that has not finished by then exits with status 3, and a run
/// whose peer has not finished by then ends the report with an error.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// What one run exchanges.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Timed 64-byte round trips ([`ECHO_FOREVER`]: the peer echoes until
    /// the link ends, and nothing else is exchanged).
    pub round_trips: usize,
    /// 64-byte messages in the one-way run.
    pub small: usize,
    /// 64 KiB messages in the one-way run.
    pub big: usize,
}

/// A [`Plan::round_trips`] for a peer that only echoes, for as long as
/// the link lasts (the criterion bench's peer).
pub const ECHO_FOREVER: usize = usize::MAX;

impl Plan {
    fn encode(self) -> String {
        format!("{},{},{}", self.round_trips, self.small, self.big)
    }

    fn decode(s: &str) -> Option<Plan> {
        let mut it = s.split(',').map(|v| v.parse().ok());
        Some(Plan {
            round_trips: it.next()??,
            small: it.next()??,
            big: it.next()??,
        })
    }
}

/// The IPC methods, in the report's order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Method {
    Pipe,
    Fifo,
    UnixStream,
    UnixDatagram,
    Tcp,
    MessageQueue,
    ShmRing,
    ShmSemaphore,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Pipe,
        Method::Fifo,
        Method::UnixStream,
        Method::UnixDatagram,
        Method::Tcp,
        Method::MessageQueue,
        Method::ShmRing,
        Method::ShmSemaphore,
    ];

    /// The name the table and the plot print.
    pub fn name(self) -> &'static str {
        match self {
            Method::Pipe => "pipe",
            Method::Fifo => "FIFO",
            Method::UnixStream => "Unix stream",
            Method::UnixDatagram => "Unix datagram",
            Method::Tcp => "TCP loopback",
            Method::MessageQueue => "message queue",
            Method::ShmRing => "ShmRing",
            Method::ShmSemaphore => "shm + Semaphore",
        }
    }

    /// The name in bench ids and in the peer's role.
    pub fn short(self) -> &'static str {
        match self {
            Method::Pipe => "pipe",
            Method::Fifo => "fifo",
            Method::UnixStream => "unix_stream",
            Method::UnixDatagram => "unix_dgram",
            Method::Tcp => "tcp",
            Method::MessageQueue => "mq",
            Method::ShmRing => "shm_ring",
            Method::ShmSemaphore => "shm_sem",
        }
    }

    /// Whether it moves messages through shared memory (no kernel copy).
    pub fn is_shared_memory(self) -> bool {
        matches!(self, Method::ShmRing | Method::ShmSemaphore)
    }
}

/// Who runs the exchange in both processes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Side {
    /// One goroutine, `gomaxprocs(1)`, goro's types.
    Goroutines,
    /// A plain thread, std's types (goro's where std has none).
    Threads,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Goroutines, Side::Threads];

    pub fn name(self) -> &'static str {
        match self {
            Side::Goroutines => "goroutines",
            Side::Threads => "threads",
        }
    }
}

// ---------------------------------------------------------------------
// Links: one process's ends of a two-way channel of messages.

/// One process's ends of a two-way link (`Send`: a session moves into
/// the goroutine that runs it).
pub trait Link: Send {
    /// Sends one message.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Receives the next message, which must be `len` bytes long, into a
    /// buffer of the link's own.
    fn recv(&mut self, len: usize) -> io::Result<&[u8]>;
}

/// A byte stream (pipe, FIFO, stream socket): messages are `len` bytes
/// by agreement, written whole and read whole.
struct Stream<R, W> {
    r: R,
    w: W,
    buf: Vec<u8>,
}

impl<R: Read, W: Write> Stream<R, W> {
    fn new(r: R, w: W) -> Box<Stream<R, W>> {
        Box::new(Stream {
            r,
            w,
            buf: vec![0; BIG],
        })
    }
}

impl<R: Read + Send, W: Write + Send> Link for Stream<R, W> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.w.write_all(msg)
    }

    fn recv(&mut self, len: usize) -> io::Result<&[u8]> {
        self.r.read_exact(&mut self.buf[..len])?;
        Ok(&self.buf[..len])
    }
}

/// A datagram socket: std's or goro's.
trait DatagramSocket {
    fn send_one(&self, msg: &[u8]) -> io::Result<usize>;
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl DatagramSocket for std::os::unix::net::UnixDatagram {
    fn send_one(&self, msg: &[u8]) -> io::Result<usize> {
        self.send(msg)
    }
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
}

impl DatagramSocket for goro::net::unix::UnixDatagram {
    fn send_one(&self, msg: &[u8]) -> io::Result<usize> {
        self.send(msg)
    }
    fn recv_one(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv(buf)
    }
}

struct Datagram<S> {
    socket: S,
    buf: Vec<u8>,
}

impl<S: DatagramSocket + Send> Link for Datagram<S> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let n = self.socket.send_one(msg)?;
        whole("datagram sent", n, msg.len())
    }

    fn recv(&mut self, len: usize) -> io::Result<&[u8]> {
        let n = self.socket.recv_one(&mut self.buf)?;
        whole("datagram received", n, len)?;
        Ok(&self.buf[..n])
    }
}

/// A pair of POSIX message queues, one per direction. A message longer
/// than the queues' largest (`chunk`: the system's `msgsize_max`, 8192
/// unless raised, where 64 KiB needs CAP_SYS_RESOURCE) goes as several
/// queue messages of `chunk` bytes, as an application must send it.
struct Queues {
    tx: Queue,
    rx: Queue,
    chunk: usize,
    buf: Vec<u8>,
}

/// One end of a queue: goro's `MessageQueue` (parks a goroutine) or, for
/// plain threads, a blocking descriptor of `mq_open(3)` used with
/// `mq_send`/`mq_receive` directly (std has no message queues; goro's
/// from a plain thread waits through goro's reactor instead).
enum Queue {
    Goro(goro::ipc::MessageQueue),
    Blocking(libc::mqd_t),
}

impl Queue {
    /// Opens the existing queue `name` for `side`.
    fn open(side: Side, name: &str) -> io::Result<Queue> {
        match side {
            Side::Goroutines => Ok(Queue::Goro(goro::ipc::MessageQueue::open(name)?)),
            Side::Threads => {
                let c = std::ffi::CString::new(name)?;
                // SAFETY: mq_open reads the NUL-terminated name we own; it
                // returns a new descriptor or -1.
                let q = unsafe { libc::mq_open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
                if q < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(Queue::Blocking(q))
            }
        }
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        match self {
            Queue::Goro(q) => q.send(msg, 0),
            Queue::Blocking(q) => {
                // SAFETY: mq_send reads msg.len() bytes of the slice we
                // borrow; it blocks while the queue is full.
                let rc = unsafe { libc::mq_send(*q, msg.as_ptr().cast(), msg.len(), 0) };
                if rc < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Queue::Goro(q) => Ok(q.recv(buf)?.0),
            Queue::Blocking(q) => {
                let mut priority = 0;
                // SAFETY: mq_receive writes at most buf.len() bytes into the
                // buffer we own (which must be at least the queue's message
                // size: the chunk) and the priority into our u32.
                let n = unsafe {
                    libc::mq_receive(*q, buf.as_mut_ptr().cast(), buf.len(), &mut priority)
                };
                if n < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(n as usize)
            }
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if let Queue::Blocking(q) = self {
            // SAFETY: closes the descriptor this end opened, once.
            unsafe { libc::mq_close(*q) };
        }
    }
}

impl Link for Queues {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        for part in msg.chunks(self.chunk) {
            self.tx.send(part)?;
        }
        Ok(())
    }

    fn recv(&mut self, len: usize) -> io::Result<&[u8]> {
        let mut got = 0;
        while got < len {
            let n = self.rx.recv(&mut self.buf[got..])?;
            whole("queued message", n, self.chunk.min(len - got))?;
            got += n;
        }
        Ok(&self.buf[..len])
    }
}

/// The largest queue message this system allows an unprivileged process
/// (`/proc/sys/fs/mqueue/msgsize_max`), at most [`BIG`].
pub fn queue_message_limit() -> usize {
    std::fs::read_to_string("/proc/sys/fs/mqueue/msgsize_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(8192)
        .min(BIG)
}

/// A pair of `ShmRing`s, one per direction.
struct Rings {
    tx: goro::ipc::ShmRing,
    rx: goro::ipc::ShmRing,
    buf: Vec<u8>,
}

impl Link for Rings {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx.send(msg)
    }

    fn recv(&mut self, len: usize) -> io::Result<&[u8]> {
        let n = self.rx.recv(&mut self.buf)?;
        whole("ring message", n, len)?;
        Ok(&self.buf[..n])
    }
}

/// A semaphore for one side: goro's (parks a goroutine) or, for plain
/// threads, a blocking eventfd in semaphore mode used with read(2) and
/// write(2) directly (what a C program does; goro's `Semaphore` from a
/// plain thread waits through goro's reactor instead).
enum Sem {
    Goro(goro::ipc::Semaphore),
    Blocking(OwnedFd),
}

impl Sem {
    fn new(side: Side, initial: u32) -> io::Result<Sem> {
        match side {
            Side::Goroutines => Ok(Sem::Goro(goro::ipc::Semaphore::new(initial)?)),
            Side::Threads => {
                // SAFETY: eventfd takes no pointers; a new fd or -1.
                let fd = unsafe { libc::eventfd(initial, libc::EFD_SEMAPHORE | libc::EFD_CLOEXEC) };
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: a new descriptor that nobody else owns.
                Ok(Sem::Blocking(unsafe { OwnedFd::from_raw_fd(fd) }))
            }
        }
    }

    fn from_fd(side: Side, fd: OwnedFd) -> io::Result<Sem> {
        match side {
            Side::Goroutines => Ok(Sem::Goro(goro::ipc::Semaphore::from_fd(fd)?)),
            Side::Threads => Ok(Sem::Blocking(fd)),
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Sem::Goro(s) => s.as_raw_fd(),
            Sem::Blocking(fd) => fd.as_raw_fd(),
        }
    }

    /// P: takes one unit, waiting for it.
    fn acquire(&self) -> io::Result<()> {
        match self {
            Sem::Goro(s) => s.acquire(),
            Sem::Blocking(fd) => {
                let mut unit = 0u64;
                // SAFETY: reads 8 bytes into the u64 we own; a semaphore
                // eventfd's read blocks until the count is > 0, then takes 1.
                let n = unsafe { libc::read(fd.as_raw_fd(), (&mut unit as *mut u64).cast(), 8) };
                eventfd_io(n)
            }
        }
    }

    /// V: gives one unit back.
    fn release(&self) -> io::Result<()> {
        match self {
            Sem::Goro(s) => s.release(),
            Sem::Blocking(fd) => {
                let unit = 1u64;
                // SAFETY: writes the 8 bytes of the u64 we own.
                let n = unsafe { libc::write(fd.as_raw_fd(), (&unit as *const u64).cast(), 8) };
                eventfd_io(n)
            }
        }
    }
}

fn eventfd_io(n: isize) -> io::Result<()> {
    match n {
        8 => Ok(()),
        -1 => Err(io::Error::last_os_error()),
        n => Err(io::Error::other(format!("eventfd moved {n} bytes"))),
    }
}

/// Raw shared memory with semaphores, one direction: [`SLOTS`] slots of
/// a length word and [`BIG`] bytes; `free` counts the empty slots, `full`
/// the written ones (the textbook's producer and consumer). One sender
/// and one receiver, so each side's own `next` says which slot is next.
struct Slots {
    shm: goro::ipc::SharedMemory,
    free: Sem,
    full: Sem,
    next: usize,
}

/// Slots per direction: as many messages as a message queue holds here
/// (10, the unprivileged `msg_max`).
const SLOTS: usize = 10;
/// A slot: the message's length (8 bytes), then its bytes.
const SLOT_BYTES: usize = 8 + BIG;

impl Slots {
    fn slot(&mut self) -> *mut u8 {
        let i = self.next;
        self.next = (self.next + 1) % SLOTS;
        // SAFETY: the mapping is SLOTS * SLOT_BYTES long (checked when it
        // was opened) and i < SLOTS, so the slot lies inside it.
        unsafe { self.shm.as_ptr().add(i * SLOT_BYTES) }
    }
}

/// Both directions of raw shared memory.
struct ShmLink {
    tx: Slots,
    rx: Slots,
    buf: Vec<u8>,
}

impl Link for ShmLink {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        assert!(msg.len() <= BIG, "a message longer than a slot");
        self.tx.free.acquire()?;
        let slot = self.tx.slot();
        // SAFETY: `free` gave this side the slot: the receiver reads it
        // only after `full` is released below, and releases `free` only
        // once it has copied it out, so nobody else touches it now. The
        // slot holds 8 + BIG bytes, 8-aligned (the mapping is
        // page-aligned and SLOT_BYTES a multiple of 8).
        unsafe {
            slot.cast::<u64>().write(msg.len() as u64);
            std::ptr::copy_nonoverlapping(msg.as_ptr(), slot.add(8), msg.len());
        }
        // The writes above before the release (the eventfd write, a
        // syscall, orders them for the other process too).
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        self.tx.full.release()
    }

    fn recv(&mut self, len: usize) -> io::Result<&[u8]> {
        self.rx.full.acquire()?;
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        let slot = self.rx.slot();
        // SAFETY: `full` gave this side the slot, which the sender wrote
        // completely before releasing it and will not touch again until
        // `free` is released below; bounds as in `send`, and the length
        // word is checked before it is used.
        let n = unsafe { slot.cast::<u64>().read() } as usize;
        if n > BIG {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a slot says {n} bytes, more than it holds"),
            ));
        }
        // SAFETY: as above; n <= BIG, the slot's size and the buffer's.
        unsafe { std::ptr::copy_nonoverlapping(slot.add(8), self.buf.as_mut_ptr(), n) };
        self.rx.free.release()?;
        whole("shared-memory message", n, len)?;
        Ok(&self.buf[..n])
    }
}

/// An error unless a message of `n` bytes was the `want` bytes expected.
fn whole(what: &str, n: usize, want: usize) -> io::Result<()> {
    if n == want {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: {n} bytes, expected {want}"),
        ))
    }
}

// ---------------------------------------------------------------------
// Resources handed to the peer.

/// What the peer is told to open, as `key=value;...`.
#[derive(Default)]
struct Spec(Vec<(&'static str, String)>);

impl Spec {
    fn with(mut self, key: &'static str, value: impl ToString) -> Spec {
        self.0.push((key, value.to_string()));
        self
    }

    fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    fn decode(s: &str) -> Spec {
        Spec(
            s.split(';')
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| {
                    ["fds", "paths", "names", "addr", "chunk"]
                        .into_iter()
                        .find(|key| *key == k)
                        .map(|key| (key, v.to_string()))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> io::Result<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| io::Error::other(format!("{SPEC_ENV} has no {key}")))
    }

    fn list(&self, key: &str) -> io::Result<Vec<String>> {
        Ok(self.get(key)?.split(',').map(String::from).collect())
    }

    /// The inherited descriptors, taken over (each exactly once).
    fn fds(&self) -> io::Result<Vec<OwnedFd>> {
        self.list("fds")?
            .iter()
            .map(|s| {
                let fd: RawFd = s
                    .parse()
                    .map_err(|_| io::Error::other(format!("bad fd {s:?}")))?;
                // SAFETY: the parent passed this descriptor down to us (it
                // is open, without FD_CLOEXEC) and named it only here; this
                // is the one place that takes it over.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            })
            .collect()
    }
}

/// A duplicate of `fd` without FD_CLOEXEC, for a child to inherit. The
/// parent closes it once the child is started.
fn inheritable(fd: &impl AsRawFd) -> io::Result<OwnedFd> {
    // SAFETY: dup(2) on a descriptor we hold returns a new one (without
    // FD_CLOEXEC) or -1; no memory is involved.
    let dup = unsafe { libc::dup(fd.as_raw_fd()) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: dup succeeded: `dup` is a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

fn fd_list(fds: &[OwnedFd]) -> String {
    fds.iter()
        .map(|f| f.as_raw_fd().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A blocking pipe (std's side): read end, write end, both close-on-exec.
fn blocking_pipe() -> io::Result<(std::fs::File, std::fs::File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded; the two descriptors are new and ours.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r.into(), w.into()))
}

/// Names and paths a run created, removed when it ends.
#[derive(Default)]
struct Cleanup {
    dir: Option<std::path::PathBuf>,
    queues: Vec<String>,
    shared: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        for q in &self.queues {
            let _ = goro::ipc::MessageQueue::unlink(q);
        }
        for s in &self.shared {
            let _ = goro::ipc::SharedMemory::unlink(s);
        }
    }
}

/// A fresh name for this run's objects: unique per process and run.
fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUN: AtomicUsize = AtomicUsize::new(0);
    format!(
        "goro-ipc-{}-{}-{tag}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    )
}

fn mkfifo(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: mkfifo reads the NUL-terminated path we own for the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// ---------------------------------------------------------------------
// The parent's side: make the resources, start the peer, connect.

/// A started peer and the parent's ends of the link.
pub struct Session {
    pub link: Box<dyn Link>,
    child: goro::process::Child,
    _cleanup: Cleanup,
}

impl Session {
    /// Makes `method`'s resources, starts the peer (this binary, with
    /// [`ROLE_ENV`]) for `plan` and connects to it.
    pub fn start(method: Method, side: Side, plan: Plan) -> io::Result<Session> {
        let mut cleanup = Cleanup::default();
        // What the child inherits (closed here once it started), what it
        // is told, and what the parent does once it started.
        let mut give: Vec<OwnedFd> = Vec::new();
        let mut spec = Spec::default();
        type Connect = Box<dyn FnOnce() -> io::Result<Box<dyn Link>>>;
        let connect: Connect = match (method, side) {
            (Method::Pipe, Side::Goroutines) => {
                let (p2c_r, p2c_w) = goro::io::pipe()?;
                let (c2p_r, c2p_w) = goro::io::pipe()?;
                give.push(inheritable(&p2c_r)?);
                give.push(inheritable(&c2p_w)?);
                Box::new(move || Ok(Stream::new(c2p_r, p2c_w) as Box<dyn Link>))
            }
            (Method::Pipe, Side::Threads) => {
                let (p2c_r, p2c_w) = blocking_pipe()?;
                let (c2p_r, c2p_w) = blocking_pipe()?;
                give.push(inheritable(&p2c_r)?);
                give.push(inheritable(&c2p_w)?);
                Box::new(move || Ok(Stream::new(c2p_r, p2c_w) as Box<dyn Link>))
            }
            (Method::Fifo, _) => {
                let dir = std::env::temp_dir().join(unique("fifo"));
                std::fs::create_dir(&dir)?;
                cleanup.dir = Some(dir.clone());
                let (p2c, c2p) = (dir.join("p2c"), dir.join("c2p"));
                spec = spec.with("paths", format!("{},{}", p2c.display(), c2p.display()));
                fifo_create(side, &p2c, &c2p)?;
                // Opened after the peer started: each open waits for the
                // other end, in the same order on both sides.
                Box::new(move || fifo_open(side, &p2c, &c2p, false))
            }
            (Method::UnixStream, _) => {
                let (mine, theirs) = std::os::unix::net::UnixStream::pair()?;
                give.push(inheritable(&theirs)?);
                Box::new(move || unix_stream(side, mine))
            }
            (Method::UnixDatagram, _) => {
                let (mine, theirs) = std::os::unix::net::UnixDatagram::pair()?;
                give.push(inheritable(&theirs)?);
                Box::new(move || unix_datagram(side, mine))
            }
            (Method::Tcp, _) => {
                let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
                spec = spec.with("addr", listener.local_addr()?);
                Box::new(move || match side {
                    Side::Goroutines => {
                        let l = goro::net::TcpListener::from_std(listener)?;
                        goro_tcp(l.accept()?.0)
                    }
                    Side::Threads => std_tcp(listener.accept()?.0),
                })
            }
            (Method::MessageQueue, _) => {
                let (p2c, c2p) = (format!("/{}", unique("p2c")), format!("/{}", unique("c2p")));
                let chunk = queue_message_limit();
                // Created by goro (the names checked, the limits named in
                // its errors), then opened by each side in its own way.
                for name in [&p2c, &c2p] {
                    drop(goro::ipc::MessageQueue::create(name, SLOTS, chunk)?);
                    cleanup.queues.push(name.clone());
                }
                let (tx, rx) = (Queue::open(side, &p2c)?, Queue::open(side, &c2p)?);
                spec = spec
                    .with("names", format!("{p2c},{c2p}"))
                    .with("chunk", chunk);
                Box::new(move || {
                    Ok(Box::new(Queues {
                        tx,
                        rx,
                        chunk,
                        buf: vec![0; BIG],
                    }) as Box<dyn Link>)
                })
            }
            (Method::ShmRing, _) => {
                let (p2c, c2p) = (format!("/{}", unique("p2c")), format!("/{}", unique("c2p")));
                // Room for as many 64 KiB messages as a message queue holds.
                let capacity = SLOTS * (BIG + 8);
                let tx = goro::ipc::ShmRing::create(&p2c, capacity)?;
                let rx = goro::ipc::ShmRing::create(&c2p, capacity)?;
                spec = spec.with("names", format!("{p2c},{c2p}"));
                Box::new(move || {
                    Ok(Box::new(Rings {
                        tx,
                        rx,
                        buf: Vec::new(),
                    }) as Box<dyn Link>)
                })
            }
            (Method::ShmSemaphore, _) => {
                let mut slots = |tag: &str| -> io::Result<(Slots, String)> {
                    let name = format!("/{}", unique(tag));
                    let shm = goro::ipc::SharedMemory::create(&name, SLOTS * SLOT_BYTES)?;
                    cleanup.shared.push(name.clone());
                    let s = Slots {
                        shm,
                        free: Sem::new(side, SLOTS as u32)?,
                        full: Sem::new(side, 0)?,
                        next: 0,
                    };
                    Ok((s, name))
                };
                let (tx, p2c) = slots("p2c")?;
                let (rx, c2p) = slots("c2p")?;
                for sem in [&tx.free, &tx.full, &rx.free, &rx.full] {
                    give.push(inheritable(&sem.fd())?);
                }
                spec = spec.with("names", format!("{p2c},{c2p}"));
                Box::new(move || {
                    Ok(Box::new(ShmLink {
                        tx,
                        rx,
                        buf: vec![0; BIG],
                    }) as Box<dyn Link>)
                })
            }
        };
        if !give.is_empty() {
            spec = spec.with("fds", fd_list(&give));
        }
        let mut cmd = std::process::Command::new(std::env::current_exe()?);
        cmd.env(ROLE_ENV, format!("{} {}", method.short(), side.name()))
            .env(SPEC_ENV, spec.encode())
            .env(PLAN_ENV, plan.encode())
            .stdin(std::process::Stdio::null());
        if side == Side::Goroutines {
            cmd.env("GOMAXPROCS", "1");
        }
        let child = goro::process::Child::from_std(cmd.spawn()?)?;
        drop(give);
        let link = connect()?;
        Ok(Session {
            link,
            child,
            _cleanup: cleanup,
        })
    }

    /// Waits for the peer, which must have exited with status 0.
    pub fn finish(mut self) -> io::Result<()> {
        drop(std::mem::replace(&mut self.link, Box::new(Closed)));
        let status = self
            .child
            .wait_timeout(RUN_LIMIT)?
            .ok_or_else(|| io::Error::other("the peer did not exit"))?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("the peer failed: {status}")))
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session dropped before `finish` (an error, or the criterion
        // bench's echo-forever peer): the peer is killed, and reaped.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The link after [`Session::finish`] dropped the real one.
struct Closed;

impl Link for Closed {
    fn send(&mut self, _: &[u8]) -> io::Result<()> {
        Err(io::ErrorKind::NotConnected.into())
    }
    fn recv(&mut self, _: usize) -> io::Result<&[u8]> {
        Err(io::ErrorKind::NotConnected.into())
    }
}

fn unix_stream(side: Side, s: std::os::unix::net::UnixStream) -> io::Result<Box<dyn Link>> {
    Ok(match side {
        Side::Goroutines => {
            let s = goro::net::unix::UnixStream::from_std(s)?;
            Stream::new(s.try_clone()?, s)
        }
        Side::Threads => Stream::new(s.try_clone()?, s),
    })
}

fn unix_datagram(side: Side, s: std::os::unix::net::UnixDatagram) -> io::Result<Box<dyn Link>> {
    let buf = vec![0; BIG];
    Ok(match side {
        Side::Goroutines => Box::new(Datagram {
            socket: goro::net::unix::UnixDatagram::from_std(s)?,
            buf,
        }),
        Side::Threads => Box::new(Datagram { socket: s, buf }),
    })
}

fn goro_tcp(s: goro::net::TcpStream) -> io::Result<Box<dyn Link>> {
    s.set_nodelay(true)?;
    Ok(Stream::new(s.try_clone()?, s))
}

fn std_tcp(s: std::net::TcpStream) -> io::Result<Box<dyn Link>> {
    s.set_nodelay(true)?;
    Ok(Stream::new(s.try_clone()?, s))
}

fn fifo_create(side: Side, p2c: &std::path::Path, c2p: &std::path::Path) -> io::Result<()> {
    for path in [p2c, c2p] {
        match side {
            Side::Goroutines => goro::ipc::Fifo::create(path, 0o600)?,
            Side::Threads => mkfifo(path)?,
        }
    }
    Ok(())
}

/// Opens the two FIFOs: the parent writes `p2c` and reads `c2p`, the peer
/// the other way round; both open `p2c` first.
fn fifo_open(
    side: Side,
    p2c: &std::path::Path,
    c2p: &std::path::Path,
    peer: bool,
) -> io::Result<Box<dyn Link>> {
    use goro::ipc::Fifo;
    match side {
        Side::Goroutines => Ok(if peer {
            let r = Fifo::open_read(p2c)?;
            Stream::new(r, Fifo::open_write(c2p)?)
        } else {
            let w = Fifo::open_write(p2c)?;
            Stream::new(Fifo::open_read(c2p)?, w)
        }),
        Side::Threads => {
            let write = |p: &std::path::Path| std::fs::OpenOptions::new().write(true).open(p);
            Ok(if peer {
                let r = std::fs::File::open(p2c)?;
                Stream::new(r, write(c2p)?)
            } else {
                let w = write(p2c)?;
                Stream::new(std::fs::File::open(c2p)?, w)
            })
        }
    }
}

// ---------------------------------------------------------------------
// The peer.

/// In a peer (this binary started with [`ROLE_ENV`]): runs the exchange
/// and exits; elsewhere returns at once.
pub fn handle_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let parsed = role.split_once(' ').and_then(|(m, s)| {
        let method = Method::ALL.into_iter().find(|x| x.short() == m)?;
        let side = Side::ALL.into_iter().find(|x| x.name() == s)?;
        Some((method, side))
    });
    let plan = std::env::var(PLAN_ENV).ok().and_then(|p| Plan::decode(&p));
    let (Some((method, side)), Some(plan)) = (parsed, plan) else {
        eprintln!("ipc peer: bad {ROLE_ENV}={role:?} or {PLAN_ENV}");
        std::process::exit(2);
    };
    let spec = Spec::decode(&std::env::var(SPEC_ENV).unwrap_or_default());
    // The peer's own watchdog: a stuck exchange ends here, not in a hang.
    std::thread::spawn(|| {
        std::thread::sleep(RUN_LIMIT);
        eprintln!("ipc peer: still running after {RUN_LIMIT:?}; giving up");
        std::process::exit(3);
    });
    let run = move || peer_link(method, side, &spec).and_then(|mut l| peer(&mut *l, plan));
    let result = match side {
        Side::Goroutines => goro::run(run),
        Side::Threads => run(),
    };
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("ipc peer ({} {}): {e}", method.name(), side.name());
            std::process::exit(1);
        }
    }
}

fn peer_link(method: Method, side: Side, spec: &Spec) -> io::Result<Box<dyn Link>> {
    match method {
        Method::Pipe => {
            let mut fds = spec.fds()?.into_iter();
            let (r, w) = (fds.next().unwrap(), fds.next().unwrap());
            Ok(match side {
                Side::Goroutines => {
                    Stream::new(goro::io::Pollable::new(r)?, goro::io::Pollable::new(w)?)
                }
                Side::Threads => Stream::new(std::fs::File::from(r), std::fs::File::from(w)),
            })
        }
        Method::Fifo => {
            let paths = spec.list("paths")?;
            fifo_open(side, paths[0].as_ref(), paths[1].as_ref(), true)
        }
        Method::UnixStream => {
            let fd = spec.fds()?.remove(0);
            unix_stream(side, fd.into())
        }
        Method::UnixDatagram => {
            let fd = spec.fds()?.remove(0);
            unix_datagram(side, fd.into())
        }
        Method::Tcp => {
            let addr = spec.get("addr")?;
            match side {
                Side::Goroutines => goro_tcp(goro::net::TcpStream::connect(addr)?),
                Side::Threads => std_tcp(std::net::TcpStream::connect(addr)?),
            }
        }
        Method::MessageQueue => {
            let names = spec.list("names")?;
            let chunk = spec
                .get("chunk")?
                .parse()
                .map_err(|_| io::Error::other("bad chunk"))?;
            Ok(Box::new(Queues {
                rx: Queue::open(side, &names[0])?,
                tx: Queue::open(side, &names[1])?,
                chunk,
                buf: vec![0; BIG],
            }))
        }
        Method::ShmRing => {
            let names = spec.list("names")?;
            Ok(Box::new(Rings {
                rx: goro::ipc::ShmRing::open(&names[0])?,
                tx: goro::ipc::ShmRing::open(&names[1])?,
                buf: Vec::new(),
            }))
        }
        Method::ShmSemaphore => {
            let names = spec.list("names")?;
            let mut fds = spec.fds()?.into_iter();
            let mut sem = || Sem::from_fd(side, fds.next().expect("four semaphores"));
            // The parent's order: its sending side's free and full, then
            // its receiving side's.
            let (p2c_free, p2c_full, c2p_free, c2p_full) = (sem()?, sem()?, sem()?, sem()?);
            let open = |name: &str| -> io::Result<goro::ipc::SharedMemory> {
                let shm = goro::ipc::SharedMemory::open(name)?;
                if shm.len() < SLOTS * SLOT_BYTES {
                    return Err(io::Error::other(format!("{name} is {} bytes", shm.len())));
                }
                Ok(shm)
            };
            Ok(Box::new(ShmLink {
                rx: Slots {
                    shm: open(&names[0])?,
                    free: p2c_free,
                    full: p2c_full,
                    next: 0,
                },
                tx: Slots {
                    shm: open(&names[1])?,
                    free: c2p_free,
                    full: c2p_full,
                    next: 0,
                },
                buf: vec![0; BIG],
            }))
        }
    }
}

/// Sequence number `seq` in the first 8 bytes of `msg`.
fn stamp(msg: &mut [u8], seq: usize) {
    msg[..8].copy_from_slice(&(seq as u64).to_le_bytes());
}

/// An error unless `msg` is `len` bytes stamped `seq`.
fn check(msg: &[u8], len: usize, seq: usize) -> io::Result<()> {
    whole("message", msg.len(), len)?;
    let got = u64::from_le_bytes(msg[..8].try_into().unwrap());
    if got == seq as u64 {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message {got} arrived where {seq} was due"),
        ))
    }
}

/// The peer's half of a run: echo, then receive the two one-way runs.
fn peer(link: &mut dyn Link, plan: Plan) -> io::Result<()> {
    let mut reply = vec![0u8; SMALL];
    let rounds = plan.round_trips.saturating_add(WARMUP);
    for i in 0..rounds {
        match link.recv(SMALL) {
            Ok(msg) => {
                check(msg, SMALL, i)?;
                reply.copy_from_slice(msg);
            }
            // The bench's parent ends an endless echo by going away.
            Err(_) if plan.round_trips == ECHO_FOREVER => return Ok(()),
            Err(e) => return Err(e),
        }
        link.send(&reply)?;
    }
    for (count, len) in [(plan.small, SMALL), (plan.big, BIG)] {
        for i in 0..count {
            check(link.recv(len)?, len, i)?;
        }
        stamp(&mut reply, count);
        link.send(&reply)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------
// The measurement.

/// One run's numbers.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Nanoseconds per 64-byte round trip.
    pub round_trip_ns: f64,
    /// 64-byte messages per second, one way.
    pub small_per_sec: f64,
    /// Megabytes (10^6) per second in 64 KiB messages, one way.
    pub big_mb_per_sec: f64,
}

/// `n` timed 64-byte round trips on `link` (the peer echoes); the time
/// they took.
pub fn round_trips(link: &mut dyn Link, first: usize, n: usize) -> io::Result<Duration> {
    let mut msg = vec![0u8; SMALL];
    let start = Instant::now();
    for seq in first..first + n {
        stamp(&mut msg, seq);
        link.send(&msg)?;
        check(link.recv(SMALL)?, SMALL, seq)?;
    }
    Ok(start.elapsed())
}

/// `count` messages of `len` bytes one way, then the peer's
/// acknowledgement; the time it all took.
fn one_way(link: &mut dyn Link, count: usize, len: usize) -> io::Result<Duration> {
    let mut msg = vec![0x5a; len];
    let start = Instant::now();
    for seq in 0..count {
        stamp(&mut msg, seq);
        link.send(&msg)?;
    }
    check(link.recv(SMALL)?, SMALL, count)?;
    Ok(start.elapsed())
}

/// Runs `f` the way `side` runs an exchange: for goroutines, as the main
/// goroutine of `goro::run` on one worker; for threads, on this thread.
pub fn on_side<T: Send + 'static>(side: Side, f: impl FnOnce() -> T + Send + 'static) -> T {
    match side {
        Side::Goroutines => goro::run(move || {
            let before = goro::gomaxprocs(1);
            let result = f();
            goro::gomaxprocs(before);
            result
        }),
        Side::Threads => f(),
    }
}

/// One run of `plan` over a fresh link of `method`, in the side's mode
/// (see [`on_side`]).
pub fn run_once(method: Method, side: Side, plan: Plan) -> io::Result<Sample> {
    on_side(side, move || -> io::Result<Sample> {
        let mut session = Session::start(method, side, plan)?;
        let link = &mut *session.link;
        round_trips(link, 0, WARMUP)?;
        let rtt = round_trips(link, WARMUP, plan.round_trips)?;
        let small = one_way(link, plan.small, SMALL)?;
        let big = one_way(link, plan.big, BIG)?;
        session.finish()?;
        Ok(Sample {
            round_trip_ns: rtt.as_nanos() as f64 / plan.round_trips as f64,
            small_per_sec: plan.small as f64 / small.as_secs_f64(),
            big_mb_per_sec: (plan.big * BIG) as f64 / big.as_secs_f64() / 1e6,
        })
    })
}

// ---------------------------------------------------------------------
// The section: every method on both sides, repeated; the table; the
// verdicts on the notes' claims.

/// Median, smallest and largest of a set of runs.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `v` (not empty): every report section's summary.
    pub fn of(mut v: Vec<f64>) -> Spread {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }
}

/// The three numbers of a run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Metric {
    /// 64-byte round trip, microseconds (lower is better).
    RoundTrip,
    /// 64-byte messages per second one way (higher is better).
    Small,
    /// 64 KiB messages, MB/s one way (higher is better).
    Big,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::RoundTrip, Metric::Small, Metric::Big];

    pub fn title(self) -> &'static str {
        match self {
            Metric::RoundTrip => "64 B round trip, us (lower is better)",
            Metric::Small => "64 B messages one way, per second (higher is better)",
            Metric::Big => "64 KiB messages one way, MB/s (higher is better)",
        }
    }

    fn lower_is_better(self) -> bool {
        self == Metric::RoundTrip
    }

    fn of(self, s: &Sample) -> f64 {
        match self {
            Metric::RoundTrip => s.round_trip_ns / 1e3,
            Metric::Small => s.small_per_sec,
            Metric::Big => s.big_mb_per_sec,
        }
    }
}

/// One method on one side: its runs, or why it has none.
pub struct Cell {
    pub method: Method,
    pub side: Side,
    pub samples: Vec<Sample>,
    pub error: Option<String>,
}

impl Cell {
    pub fn spread(&self, metric: Metric) -> Option<Spread> {
        if self.error.is_some() || self.samples.is_empty() {
            return None;
        }
        Some(Spread::of(
            self.samples.iter().map(|s| metric.of(s)).collect(),
        ))
    }
}

/// Every cell of the section.
pub struct Results {
    pub cells: Vec<Cell>,
}

impl Results {
    pub fn get(&self, method: Method, side: Side) -> &Cell {
        self.cells
            .iter()
            .find(|c| c.method == method && c.side == side)
            .expect("every method and side has a cell")
    }
}

/// Runs every method on both sides `reps` times, the order rotated each
/// repetition (no method always runs first, on a machine the previous one
/// left warm or tired). A method that fails once is not run again.
pub fn measure_all(reps: usize, plan: Plan) -> Results {
    let mut cells: Vec<Cell> = Method::ALL
        .into_iter()
        .flat_map(|method| {
            Side::ALL.into_iter().map(move |side| Cell {
                method,
                side,
                samples: Vec::new(),
                error: None,
            })
        })
        .collect();
    let n = cells.len();
    for rep in 0..reps {
        for k in 0..n {
            let cell = &mut cells[(k + rep * 3) % n];
            if cell.error.is_some() {
                continue;
            }
            let (method, side) = (cell.method, cell.side);
            match watched(move || run_once(method, side, plan)) {
                Ok(s) => cell.samples.push(s),
                Err(e) => cell.error = Some(e.to_string()),
            }
        }
        eprintln!("[ipc] repetition {} of {reps} done", rep + 1);
    }
    Results { cells }
}

/// Runs `f`; a run that takes longer than the peer's own limit (a hang
/// the peer's watchdog did not end) ends the report with an error.
fn watched<T>(f: impl FnOnce() -> T) -> T {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        if wait
            .recv_timeout(RUN_LIMIT + Duration::from_secs(30))
            .is_err()
        {
            eprintln!("ipc: a run hung; stopping the report");
            std::process::exit(1);
        }
    });
    let out = f();
    let _ = done.send(());
    let _ = dog.join();
    out
}

/// 3 significant digits, as the report prints them.
pub fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
}

fn cell_text(s: Option<Spread>) -> String {
    match s {
        Some(s) => format!("{} ({} .. {})", sig3(s.median), sig3(s.min), sig3(s.max)),
        None => "-".into(),
    }
}

/// The table: one line per method and side.
pub fn table(r: &Results) -> Vec<String> {
    let mut out = vec![
        format!(
            "{:<16} {:<11} {:>26} {:>30} {:>26}",
            "method", "side", "64 B round trip us", "64 B one way msgs/s", "64 KiB one way MB/s"
        ),
        "-".repeat(113),
    ];
    for c in &r.cells {
        if let Some(e) = &c.error {
            out.push(format!(
                "{:<16} {:<11} NOT MEASURED: {e}",
                c.method.name(),
                c.side.name()
            ));
            continue;
        }
        out.push(format!(
            "{:<16} {:<11} {:>26} {:>30} {:>26}",
            c.method.name(),
            c.side.name(),
            cell_text(c.spread(Metric::RoundTrip)),
            cell_text(c.spread(Metric::Small)),
            cell_text(c.spread(Metric::Big)),
        ));
    }
    out
}

/// Whether `a` beat `b` on `metric` with the ranges apart: Some(true) won,
/// Some(false) lost, None a tie.
fn beats(a: Spread, b: Spread, metric: Metric) -> Option<bool> {
    let (a_worst, b_best, a_best, b_worst) = if metric.lower_is_better() {
        (a.max, b.min, a.min, b.max)
    } else {
        (-a.min, -b.max, -a.max, -b.min)
    };
    if a_worst < b_best {
        Some(true)
    } else if a_best > b_worst {
        Some(false)
    } else {
        None
    }
}

/// Whether `a`'s best run beat `b`'s best run on `metric` (noise from
/// other work only slows a run, so the best runs are the quietest).
fn best_run_beats(a: Spread, b: Spread, metric: Metric) -> bool {
    if metric.lower_is_better() {
        a.min < b.min
    } else {
        a.max > b.max
    }
}

fn outcome(o: Option<bool>) -> &'static str {
    match o {
        Some(true) => "won",
        Some(false) => "lost",
        None => "tie: ranges overlap",
    }
}

/// How many times better `a` is than `b` on `metric` (medians).
fn times(a: Spread, b: Spread, metric: Metric) -> f64 {
    if metric.lower_is_better() {
        b.median / a.median
    } else {
        a.median / b.median
    }
}

/// A claim's verdict from its cases: `held` won (ranges apart in the
/// claim's favour), `against` lost (ranges apart against it), the rest of
/// `tried` tied (ranges overlap); `best_for` of them went its way on the
/// best runs alone.
fn verdict(held: usize, against: usize, tried: usize, best_for: usize) -> String {
    let ranges = if tried > 0 && held == 0 && against == 0 && best_for == 0 {
        // Nothing apart, and nothing its way even on the quietest runs.
        format!("NOT HOLDING (no case for it: all {tried} within the spread)")
    } else {
        ranges_verdict(held, against, tried)
    };
    format!("{ranges}; on each one's best run alone, {best_for} of {tried} cases for it")
}

fn ranges_verdict(held: usize, against: usize, tried: usize) -> String {
    let ties = tried - held - against;
    if tried == 0 {
        "NOT MEASURED".into()
    } else if held == tried {
        "HOLDS".into()
    } else if against > 0 && held == 0 {
        format!("NOT HOLDING ({against} of {tried} cases measurably against it, {ties} within the spread)")
    } else if against > 0 {
        format!("HOLDS IN PART ({held} of {tried} cases for it, {against} measurably against it)")
    } else if held == 0 {
        format!("NOT SETTLED (all {tried} cases within the spread, none against it)")
    } else {
        format!("HOLDS IN PART ({held} of {tried} cases for it, {ties} within the spread, none against it)")
    }
}

/// The best measured method on `side` and `metric` among `candidates`.
fn best(
    r: &Results,
    side: Side,
    metric: Metric,
    candidates: &[Method],
) -> Option<(Method, Spread)> {
    candidates
        .iter()
        .filter_map(|&m| Some((m, r.get(m, side).spread(metric)?)))
        .min_by(|a, b| {
            let (x, y) = (a.1.median, b.1.median);
            let o = x.partial_cmp(&y).unwrap();
            if metric.lower_is_better() {
                o
            } else {
                o.reverse()
            }
        })
}

fn show(m: Method, s: Spread) -> String {
    format!(
        "{} {} ({} .. {})",
        m.name(),
        sig3(s.median),
        sig3(s.min),
        sig3(s.max)
    )
}

/// The verdicts on claims 1-3 (a win needs the min..max ranges apart).
pub fn verdicts(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    let shm: Vec<Method> = Method::ALL
        .into_iter()
        .filter(|m| m.is_shared_memory())
        .collect();
    let kernel: Vec<Method> = Method::ALL
        .into_iter()
        .filter(|m| !m.is_shared_memory())
        .collect();

    // Claim 1: shared memory is the fastest IPC.
    let (mut held, mut against, mut tried, mut best_for, mut lines) = (0, 0, 0, 0, Vec::new());
    for side in Side::ALL {
        for metric in Metric::ALL {
            let (Some((sm, ss)), Some((km, ks))) =
                (best(r, side, metric, &shm), best(r, side, metric, &kernel))
            else {
                continue;
            };
            let o = beats(ss, ks, metric);
            best_for += usize::from(best_run_beats(ss, ks, metric));
            tried += 1;
            held += usize::from(o == Some(true));
            against += usize::from(o == Some(false));
            lines.push(format!(
                "    {side}, {}: best shared memory {} vs best other {}: {:.2}x ({})",
                metric.title(),
                show(sm, ss),
                show(km, ks),
                times(ss, ks, metric),
                outcome(o),
                side = side.name(),
            ));
        }
    }
    out.push(format!(
        "1. Shared memory is the fastest IPC: {} (case: the best shared-memory method against the best other, per side and measure)",
        verdict(held, against, tried, best_for)
    ));
    out.extend(lines);

    // Claim 2: message queues pay the user/kernel copies (and so are not
    // the most timely): judged against shared memory, which copies
    // nothing through the kernel; the other kernel methods shown beside.
    let (mut held, mut against, mut tried, mut best_for, mut lines) = (0, 0, 0, 0, Vec::new());
    for side in Side::ALL {
        for metric in Metric::ALL {
            let (Some(q), Some((sm, ss))) = (
                r.get(Method::MessageQueue, side).spread(metric),
                best(r, side, metric, &shm),
            ) else {
                continue;
            };
            let o = beats(ss, q, metric);
            best_for += usize::from(best_run_beats(ss, q, metric));
            tried += 1;
            held += usize::from(o == Some(true));
            against += usize::from(o == Some(false));
            let others: Vec<Method> = kernel
                .iter()
                .copied()
                .filter(|&m| m != Method::MessageQueue)
                .collect();
            let beside = best(r, side, metric, &others)
                .map(|(km, ks)| {
                    format!(
                        "; beside the best other kernel method, {}: {:.2}x",
                        show(km, ks),
                        times(q, ks, metric)
                    )
                })
                .unwrap_or_default();
            lines.push(format!(
                "    {side}, {}: message queue {} vs {}: shared memory {:.2}x better ({}){beside}",
                metric.title(),
                cell_text(Some(q)),
                show(sm, ss),
                times(ss, q, metric),
                outcome(o),
                side = side.name(),
            ));
        }
    }
    out.push(format!(
        "2. Message queues pay the user/kernel copies, so are slower than shared memory: {} (case: the queue against the best shared-memory method, per side and measure)",
        verdict(held, against, tried, best_for)
    ));
    out.extend(lines);

    // Claim 3: pipes are slower than the alternatives for frequent small
    // exchanges: the anonymous pipe's 64 B round trip against every other
    // method but the FIFO (a named pipe is the same kernel object).
    let (mut held, mut against, mut tried, mut best_for, mut lines) = (0, 0, 0, 0, Vec::new());
    for side in Side::ALL {
        let Some(p) = r.get(Method::Pipe, side).spread(Metric::RoundTrip) else {
            continue;
        };
        let mut parts = Vec::new();
        for m in Method::ALL {
            if matches!(m, Method::Pipe | Method::Fifo) {
                continue;
            }
            let Some(o) = r.get(m, side).spread(Metric::RoundTrip) else {
                continue;
            };
            let b = beats(o, p, Metric::RoundTrip);
            best_for += usize::from(best_run_beats(o, p, Metric::RoundTrip));
            tried += 1;
            held += usize::from(b == Some(true));
            against += usize::from(b == Some(false));
            parts.push(format!(
                "{} {:.2}x ({})",
                m.name(),
                times(o, p, Metric::RoundTrip),
                match b {
                    Some(true) => "faster than the pipe",
                    Some(false) => "slower than the pipe",
                    None => "tie",
                }
            ));
        }
        lines.push(format!(
            "    {side}: pipe round trip {} us; the others: {}",
            cell_text(Some(p)),
            parts.join(", "),
            side = side.name()
        ));
    }
    out.push(format!(
        "3. Pipes are slower than the alternatives for frequent small exchanges: {} (case: the pipe's 64 B round trip against each other method but the FIFO, per side)",
        verdict(held, against, tried, best_for)
    ));
    out.extend(lines);
    out
}

/// The ipc section: measures, prints the table and the verdicts; returns
/// the results for the plot.
pub fn section(reps: usize, plan: Plan) -> Results {
    let r = measure_all(reps, plan);
    say!();
    say!(
        "ipc report: {} CPU(s); between two processes (the peer is this binary re-executed); \
         median of {reps} runs, min .. max beside it",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    say!(
        "command: cargo run --release -p goro-compare --example report -- ipc; per run: {} timed \
         64 B round trips (after {WARMUP}), {} x 64 B and {} x 64 KiB one way",
        plan.round_trips,
        plan.small,
        plan.big
    );
    say!(
        "goroutines: one goroutine per process on gomaxprocs(1), goro's types; threads: one \
         plain thread per process blocking in the kernel (std's types; mq_open descriptors and \
         blocking eventfds where std has none; goro's ShmRing, which has no blocking twin)"
    );
    say!();
    for line in table(&r) {
        say!("{line}");
    }
    say!();
    say!("The notes' IPC claims (a win needs the min..max ranges apart; ratios of medians):");
    for line in verdicts(&r) {
        say!("{line}");
    }
    r
}
