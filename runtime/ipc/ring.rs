//! [`ShmRing`]: a message queue between processes in POSIX shared memory.
//! Each message is copied once, into the shared ring, and once out; no
//! byte passes through the kernel. Waiting parks the goroutine on a
//! doorbell the reactor watches; a busy peer costs no syscall.
//!
//! # Layout
//!
//! The shared object is a 192-byte header (three cache lines) and then
//! `capacity` bytes of data, used as a circle. Line 0 says what it is: a
//! magic word, a format version and the capacity, so that [`ShmRing::open`]
//! refuses an object that is not a ring. Line 1 belongs to the senders:
//! their lock, the count of senders waiting for space, and `tail`. Line 2
//! belongs to the receivers: their lock, the count of receivers waiting
//! for a message, and `head`. `head` and `tail` are byte positions that
//! only grow (u64: they never wrap); a position's place in the circle is
//! `pos % capacity`. The bytes in `[head, tail)` are messages, the rest is
//! free.
//!
//! A message is a record: an 8-byte header (`len` and `!len`, u32 little
//! endian, the second a check against a corrupt ring) and the payload,
//! padded to 8 bytes. Capacities are multiples of 8, so a record header
//! never straddles the end of the circle; a payload may, and is copied in
//! two pieces. The largest message is `capacity - 8` bytes.
//!
//! # Two locks, copies inside them
//!
//! Senders take turns with the send lock, receivers with the receive lock,
//! and a sender and a receiver run at the same time: the sender writes
//! only free bytes (beyond `tail`, before `head + capacity`) and the
//! receiver reads only messages (before `tail`), as in a
//! single-producer single-consumer ring. Each side is then such a ring's
//! single end. A lock-free multi-producer byte ring (reserve a range, copy,
//! commit in order) would let two senders copy at once, but needs per-record
//! commit flags and a rule for a reservation whose owner died; the copy of
//! one message is short next to a wake-up, so the locks take the simpler
//! road. The copy is done while holding the lock so that a message becomes
//! visible only when complete, in order, with one atomic store:
//!
//! * a sender copies the record and *then* stores `tail` (Release): a
//!   receiver that loads `tail` (Acquire) sees the whole record, never a
//!   torn one;
//! * a receiver copies the payload out and *then* stores `head` (Release):
//!   a sender that loads `head` (Acquire) never overwrites bytes still
//!   being read.
//!
//! A lock word is 0 when free, else the holder's pid. The uncontended
//! path is one compare-exchange. A waiter spins briefly, then yields
//! (`gosched`), then sleeps in doubling steps (100 µs up to 10 ms) with the
//! goroutine parked, until the lock is free or its deadline passes. A
//! receiver holds its lock for one copy only. A sender that finds no room
//! keeps the send lock while it waits (parked) for room: senders go in
//! turn, a large message is not starved by small ones, and only one sender
//! at a time waits on the space doorbell (below); the others wait for the
//! lock, sleeping, which costs them up to 10 ms of latency (never more
//! than they had already slept) and a wake-up per 10 ms while
//! the ring stays full. With steps of at most 1 ms, the wake-ups of a
//! sender queued behind a full ring cost it 100 ms of CPU in 500 ms on a
//! loaded 2-core machine (`tests/ipc_ring.rs`, 3 runs in 10). Nothing can fail or panic
//! while a lock is held, so within a live process it is always released.
//!
//! # A peer that dies
//!
//! A process killed inside a critical section leaves its pid in the lock
//! word. A waiter that has spun checks the holder with `kill(pid, 0)`; once
//! it says the process is gone (`ESRCH`), the waiter takes the lock over
//! by compare-exchange (one survivor wins). Nothing is torn or lost: a
//! sender that died mid-copy had not stored `tail`, so its half record
//! is invisible free space the next sender overwrites; a receiver that
//! died mid-copy had not stored `head`, so the message is still first in
//! line for the survivors. (A pid reused within the moment between the
//! check and the takeover would be taken for alive: the lock waits for it,
//! it cannot be stolen from a live process.)
//!
//! # Waiting without lost wake-ups
//!
//! A receiver that finds the ring empty, or a sender that finds it full,
//! first spins a little (a peer that is busy answers within a few hundred
//! nanoseconds across cores), then waits on a doorbell: a named FIFO next
//! to the shared object (`/dev/shm/NAME.data-bell` for receivers,
//! `/dev/shm/NAME.space-bell` for senders), opened read-write and
//! non-blocking by every process, so it is pollable, never blocks an open
//! and never fails a write for want of a reader. Ringing is writing one
//! byte (a full FIFO is already ringing: the write's `EAGAIN` is ignored).
//! A goroutine waits for the FIFO's readiness through the reactor
//! (`IoSource`); a plain thread, which may block, waits in poll(2) on it,
//! so the kernel wakes it directly (measured: a 64-byte round trip
//! between two processes' threads went from ~100 µs through the reactor
//! to ~5-13 µs on this loaded two-core machine).
//!
//! The handshake (`wake.rs`, model-checked by `tests/loom_shm_ring.rs`)
//! is Dekker's: a waiter counts itself in its side's `waiters`, fences,
//! re-checks the ring and only then parks; a waker stores `tail` (or
//! `head`), fences, and rings only if the opposite count is not 0. So a
//! sender pays a syscall only when a receiver is really waiting, and no
//! wake-up is lost. A parked waiter re-checks the ring each time the FIFO
//! becomes readable, before and after draining it. Draining can take a
//! byte rung for another waiter; receivers are all alike, so one that
//! takes a message and sees more queued while others wait rings again
//! (passing the turn on), and senders are never two on the doorbell (the
//! send lock, above).
//!
//! A waiter that dies stays counted: senders then ring needlessly (one
//! write each) but stay correct.
//!
//! # Names
//!
//! The creator removes the shared object's name and both doorbells when
//! its `ShmRing` is dropped; processes that have it open keep working.
//! All other ends leave the names alone.

use std::hint::spin_loop;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::shm::{checked_name, with_name, SharedMemory};
use super::wake;
use crate::coroutine::current_g;
use crate::io::registration::{Direction, IoSource};
use crate::io::FdSource;

/// "goroRing" in little-endian bytes: the first word of every ring.
const MAGIC: u64 = u64::from_le_bytes(*b"goroRing");
/// The layout this file reads and writes.
const VERSION: u32 = 1;
/// Bytes before the data: three cache lines (identity, senders, receivers).
const HEADER_LEN: usize = std::mem::size_of::<Header>();
/// Bytes of a record's header (`len`, `!len`).
const RECORD_HEADER: u64 = 8;
/// The smallest capacity: one record header and 8 bytes of payload.
const MIN_CAPACITY: usize = 16;
/// The largest capacity: lengths are stored as u32.
const MAX_CAPACITY: usize = 1 << 32;
/// The longest sleep of a waiter for a side lock.
const MAX_NAP: Duration = Duration::from_millis(10);

/// How many times a waiter re-checks the ring before it parks.
const SPINS: u32 = 100;
/// How long `open` waits for a creator still writing the header.
const OPEN_PATIENCE: Duration = Duration::from_millis(200);

/// The shared header; `#[repr(C)]`, the same in every process.
#[repr(C)]
struct Header {
    identity: Identity,
    send: Side,
    recv: Side,
}

#[repr(C, align(64))]
struct Identity {
    /// [`MAGIC`], stored last by the creator (Release) once the rest is
    /// written; 0 while it is being made.
    magic: AtomicU64,
    version: AtomicU32,
    _reserved: AtomicU32,
    /// Bytes of data after the header; a multiple of 8.
    capacity: AtomicU64,
}

/// One end's cache line: the senders' (`pos` is `tail`) or the
/// receivers' (`pos` is `head`).
#[repr(C, align(64))]
struct Side {
    /// 0 when free, else the pid of the holder.
    lock: AtomicU32,
    /// Goroutines and threads (in every process) parked waiting for the
    /// other end: receivers for a message, senders for room.
    waiters: AtomicU32,
    /// The position this end moves; stored only while holding `lock`.
    pos: AtomicU64,
}

/// A message queue in shared memory between processes (and goroutines and
/// threads): any number of senders and receivers, in any processes, each
/// message delivered once and in order, copied once into shared memory.
///
/// The process that [`create`](ShmRing::create)s a ring owns its names and
/// removes them when it drops it; others [`open`](ShmRing::open) it by
/// name. Waiting (an empty ring, a full one) parks the goroutine on a
/// doorbell the reactor watches, after a short spin; a plain thread
/// blocks. See the module source for the design and why it is sound.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use goro::ipc::ShmRing;
/// let name = format!("/goro-doc-ring-{}", std::process::id());
/// let ring = ShmRing::create(&name, 1 << 16)?;
/// let peer = ShmRing::open(&name)?; // what another process would do
/// let receiver = goro::go!(move || -> std::io::Result<Vec<u8>> {
///     let mut msg = Vec::new();
///     peer.recv(&mut msg)?; // parks until the message arrives
///     Ok(msg)
/// });
/// ring.send(b"hello")?;
/// assert_eq!(receiver.join().unwrap()?, b"hello");
/// # Ok(()) }
/// ```
pub struct ShmRing {
    shm: SharedMemory,
    /// Data bytes; a multiple of 8, as in the header (read once at open).
    capacity: u64,
    /// Rung when a message is published; receivers wait on it.
    data_bell: Bell,
    /// Rung when room is freed; senders wait on it.
    space_bell: Bell,
    /// Our pid, the value our lock words hold.
    pid: u32,
    /// The ring's name if this end created it (and removes it on drop).
    owned_name: Option<String>,
}

impl ShmRing {
    /// Creates the ring `name` with room for `capacity_bytes` of records
    /// (rounded up to a multiple of 8; a message takes its length plus 8,
    /// rounded up to 8), and its two doorbells. Fails with `AlreadyExists`
    /// if the name is taken (saying the existing ring's capacity), with
    /// `InvalidInput` for a bad name or a capacity under 16 bytes or over
    /// 4 GiB.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::ShmRing;
    /// let name = format!("/goro-doc-ring-create-{}", std::process::id());
    /// let ring = ShmRing::create(&name, 4096)?;
    /// let taken = ShmRing::create(&name, 8192).err().unwrap();
    /// assert_eq!(taken.kind(), std::io::ErrorKind::AlreadyExists);
    /// assert!(taken.to_string().contains("4096"), "{taken}");
    /// drop(ring); // removes the name
    /// assert!(ShmRing::open(&name).is_err());
    /// # Ok(()) }
    /// ```
    pub fn create(name: &str, capacity_bytes: usize) -> io::Result<ShmRing> {
        checked_name(name)?;
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity_bytes) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "ShmRing {name}: capacity {capacity_bytes} bytes is out of range \
                     ({MIN_CAPACITY}..={MAX_CAPACITY})"
                ),
            ));
        }
        let capacity = capacity_bytes.next_multiple_of(8);
        let shm = match SharedMemory::create(name, HEADER_LEN + capacity) {
            Ok(shm) => shm,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(already_exists(name, capacity, e))
            }
            Err(e) => return Err(e),
        };
        // The name is ours from here: undo it if anything below fails.
        let made = (|| {
            let data_bell = Bell::create(name, "data")?;
            let space_bell = Bell::create(name, "space").inspect_err(|_| data_bell.unlink())?;
            Ok((data_bell, space_bell))
        })();
        let (data_bell, space_bell) = match made {
            Ok(bells) => bells,
            Err(e) => {
                let _ = SharedMemory::unlink(name);
                return Err(e);
            }
        };
        let ring = ShmRing {
            shm,
            capacity: capacity as u64,
            data_bell,
            space_bell,
            pid: std::process::id(),
            owned_name: Some(name.to_owned()),
        };
        let id = &ring.header().identity;
        id.version.store(VERSION, Ordering::Relaxed);
        id.capacity.store(capacity as u64, Ordering::Relaxed);
        // Release: an opener that sees the magic sees the fields above.
        id.magic.store(MAGIC, Ordering::Release);
        Ok(ring)
    }

    /// Opens the existing ring `name` (made by [`create`](ShmRing::create)
    /// in this or another process). Fails with `NotFound` if there is none,
    /// `InvalidData` if the object is not a goro ring (or one of another
    /// format version).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use goro::ipc::{SharedMemory, ShmRing};
    /// let name = format!("/goro-doc-ring-open-{}", std::process::id());
    /// let _plain = SharedMemory::create(&name, 4096)?; // zeros, no ring header
    /// let err = ShmRing::open(&name).err().unwrap();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    /// SharedMemory::unlink(&name)?;
    /// # Ok(()) }
    /// ```
    pub fn open(name: &str) -> io::Result<ShmRing> {
        let shm = SharedMemory::open(name)?;
        let capacity = ring_capacity(name, &shm)?;
        Ok(ShmRing {
            shm,
            capacity,
            data_bell: Bell::open(name, "data")?,
            space_bell: Bell::open(name, "space")?,
            pid: std::process::id(),
            owned_name: None,
        })
    }

    /// Sends `msg`, waiting (parked) while the ring has no room for it.
    /// An empty message is a message. Fails with `InvalidInput` if `msg`
    /// could never fit (the error says the largest size).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let name = format!("/goro-doc-ring-send-{}", std::process::id());
    /// let ring = goro::ipc::ShmRing::create(&name, 64)?;
    /// ring.send(b"")?;
    /// let big = ring.send(&[0u8; 100]).unwrap_err();
    /// assert_eq!(big.kind(), std::io::ErrorKind::InvalidInput);
    /// assert!(big.to_string().contains("56"), "{big}"); // 64 - 8
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send(&self, msg: &[u8]) -> io::Result<()> {
        self.send_until(msg, None)
    }

    /// Like [`send`](ShmRing::send), failing with `TimedOut` if no room
    /// was found within `timeout`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let name = format!("/goro-doc-ring-send-timeout-{}", std::process::id());
    /// let ring = goro::ipc::ShmRing::create(&name, 16)?;
    /// ring.send_timeout(b"12345678", Duration::from_millis(10))?; // fills it
    /// let err = ring.send_timeout(b"x", Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> io::Result<()> {
        self.send_until(msg, Some(deadline_after(timeout)))
            .map_err(|e| timed_out(e, "send", timeout))
    }

    /// Receives the next message: clears `msg`, fills it with the message
    /// and returns its length, waiting (parked) while the ring is empty.
    /// Fails with `InvalidData` if the ring's contents are corrupt (a
    /// process wrote over it outside this protocol).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let name = format!("/goro-doc-ring-recv-{}", std::process::id());
    /// let ring = goro::ipc::ShmRing::create(&name, 4096)?;
    /// ring.send(b"one")?;
    /// ring.send(b"")?;
    /// let mut msg = b"leftover".to_vec();
    /// assert_eq!(ring.recv(&mut msg)?, 3);
    /// assert_eq!(msg, b"one");
    /// assert_eq!(ring.recv(&mut msg)?, 0);
    /// assert!(msg.is_empty());
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv(&self, msg: &mut Vec<u8>) -> io::Result<usize> {
        self.recv_until(msg, None)
    }

    /// Like [`recv`](ShmRing::recv), failing with `TimedOut` if no message
    /// came within `timeout`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let name = format!("/goro-doc-ring-recv-timeout-{}", std::process::id());
    /// let ring = goro::ipc::ShmRing::create(&name, 4096)?;
    /// let mut msg = Vec::new();
    /// let err = ring.recv_timeout(&mut msg, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, msg: &mut Vec<u8>, timeout: Duration) -> io::Result<usize> {
        self.recv_until(msg, Some(deadline_after(timeout)))
            .map_err(|e| timed_out(e, "recv", timeout))
    }
}

// Sending and receiving
impl ShmRing {
    #[track_caller]
    fn send_until(&self, msg: &[u8], deadline: Option<Instant>) -> io::Result<()> {
        let need = self.record_len(msg.len())?;
        let h = self.header();
        // Held while waiting for room too: one sender at a time waits on
        // the doorbell (`wake.rs`), and senders go in turn, so a large
        // message is not starved by a stream of small ones.
        let lock = self.lock(&h.send.lock, deadline)?;
        // Ours while we hold the lock.
        let tail = h.send.pos.load(Ordering::Relaxed);
        // Acquire: pairs with the receivers' Release store of `head`; the
        // bytes before it are read out, ours to overwrite.
        let room = || {
            let head = h.recv.pos.load(Ordering::Acquire);
            self.used(head, tail)
                .map(|used| self.capacity - used >= need)
        };
        while !room()? {
            self.wait(&self.space_bell, &h.send.waiters, deadline, || {
                room().unwrap_or(true) // a corrupt ring: let `room` say so
            })?;
        }
        let len = msg.len() as u32;
        let mut record_header = [0u8; RECORD_HEADER as usize];
        record_header[..4].copy_from_slice(&len.to_le_bytes());
        record_header[4..].copy_from_slice(&(!len).to_le_bytes());
        // SAFETY: `[tail, tail + need)` is free (checked above against
        // `head`, which only grows), so no receiver reads it, and no other
        // sender writes while we hold the send lock.
        unsafe {
            self.copy_in(tail, &record_header);
            self.copy_in(tail + RECORD_HEADER, msg);
        }
        // Release publishes the record: receivers load `tail` with Acquire.
        h.send.pos.store(tail + need, Ordering::Release);
        drop(lock);
        wake::published();
        if wake::waiting(&h.recv.waiters) {
            self.data_bell.ring();
        }
        Ok(())
    }

    #[track_caller]
    fn recv_until(&self, msg: &mut Vec<u8>, deadline: Option<Instant>) -> io::Result<usize> {
        let h = self.header();
        loop {
            if let Some(len) = self.try_recv(msg, deadline)? {
                return Ok(len);
            }
            self.wait(&self.data_bell, &h.recv.waiters, deadline, || {
                h.send.pos.load(Ordering::Acquire) != h.recv.pos.load(Ordering::Acquire)
            })?;
        }
    }

    /// Takes the first message into `msg`, if there is one.
    fn try_recv(&self, msg: &mut Vec<u8>, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        let h = self.header();
        let lock = self.lock(&h.recv.lock, deadline)?;
        // Ours while we hold the lock.
        let head = h.recv.pos.load(Ordering::Relaxed);
        // Acquire: pairs with the senders' Release store of `tail`; every
        // record before it is complete.
        let tail = h.send.pos.load(Ordering::Acquire);
        let used = self.used(head, tail)?;
        if used == 0 {
            return Ok(None);
        }
        let mut record_header = [0u8; RECORD_HEADER as usize];
        // SAFETY: `[head, tail)` holds complete records (see above) that no
        // sender overwrites before we move `head`, and no other receiver
        // reads while we hold the receive lock.
        unsafe { self.copy_out(head, record_header.as_mut_ptr(), record_header.len()) };
        let len = u32::from_le_bytes(record_header[..4].try_into().expect("4 bytes"));
        let check = u32::from_le_bytes(record_header[4..].try_into().expect("4 bytes"));
        let record = RECORD_HEADER + u64::from(len).next_multiple_of(8);
        if check != !len || record > used {
            return Err(self.corrupt(format!(
                "a record at {head} says {len} bytes (check word {check:#x}), \
                 {used} bytes are queued"
            )));
        }
        msg.clear();
        msg.reserve(len as usize);
        // SAFETY: as above for the record's payload; `msg` has room for
        // `len` bytes, which the copy initialises before `set_len`.
        unsafe {
            self.copy_out(head + RECORD_HEADER, msg.as_mut_ptr(), len as usize);
            msg.set_len(len as usize);
        }
        // Release: the bytes are read before a sender may reuse them.
        h.recv.pos.store(head + record, Ordering::Release);
        drop(lock);
        wake::published();
        if wake::waiting(&h.send.waiters) {
            self.space_bell.ring();
        }
        // Pass the turn on: our wait may have drained a ring meant for
        // another receiver (`wake.rs`).
        if wake::waiting(&h.recv.waiters) && h.send.pos.load(Ordering::Acquire) != head + record {
            self.data_bell.ring();
        }
        Ok(Some(len as usize))
    }

    /// Waits until `ready()` holds or `deadline` passes: spins, then
    /// counts itself in `waiters` and parks on `bell` (`wake.rs`).
    #[track_caller]
    fn wait(
        &self,
        bell: &Bell,
        waiters: &AtomicU32,
        deadline: Option<Instant>,
        ready: impl Fn() -> bool,
    ) -> io::Result<()> {
        for _ in 0..SPINS {
            if ready() {
                return Ok(());
            }
            spin_loop();
        }
        let _counted = wake::announce(waiters);
        let fd = bell.io.get().0.as_raw_fd();
        let try_once = || wake::check_or_drain(&ready, || drain(fd));
        if current_g().is_some() {
            bell.io.io(Direction::Read, deadline, |_| try_once())
        } else {
            // A plain thread may block: the kernel wakes it straight from
            // the FIFO, not through the reactor and an unpark.
            loop {
                match try_once() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    done => return done,
                }
                poll_readable(fd, deadline)?;
            }
        }
    }
}

// The shared memory
impl ShmRing {
    fn header(&self) -> &Header {
        // SAFETY: the mapping is page-aligned and at least HEADER_LEN long
        // (create sizes it so; open checks), and lives as long as `self`;
        // every field is an atomic, so shared access from any process is
        // sound.
        unsafe { &*self.shm.as_ptr().cast::<Header>() }
    }

    /// The bytes a record of a `len`-byte message takes, or `InvalidInput`
    /// if it can never fit.
    fn record_len(&self, len: usize) -> io::Result<u64> {
        let max = self.capacity - RECORD_HEADER;
        if len as u64 > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {len}-byte message does not fit this ShmRing: at most {max} bytes"),
            ));
        }
        Ok(RECORD_HEADER + (len as u64).next_multiple_of(8))
    }

    /// Bytes queued between `head` and `tail`, or `InvalidData` if the
    /// two cannot both be right.
    fn used(&self, head: u64, tail: u64) -> io::Result<u64> {
        match tail.checked_sub(head) {
            Some(used) if used <= self.capacity && used % 8 == 0 => Ok(used),
            _ => Err(self.corrupt(format!("head {head} and tail {tail} disagree"))),
        }
    }

    #[cold]
    fn corrupt(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("ShmRing is corrupt: {what} (capacity {})", self.capacity),
        )
    }

    /// Copies `src` into the circle from position `pos`, wrapping.
    ///
    /// # Safety
    ///
    /// `src.len() <= capacity`, and nobody else reads or writes
    /// `[pos, pos + src.len())` meanwhile.
    unsafe fn copy_in(&self, pos: u64, src: &[u8]) {
        let (offset, first) = self.split(pos, src.len());
        // SAFETY: the caller's contract; both pieces lie inside the data
        // area (`split`), which `src` (private memory) cannot overlap.
        unsafe {
            let data = self.shm.as_ptr().add(HEADER_LEN);
            std::ptr::copy_nonoverlapping(src.as_ptr(), data.add(offset), first);
            std::ptr::copy_nonoverlapping(src.as_ptr().add(first), data, src.len() - first);
        }
    }

    /// Copies `len` bytes of the circle from position `pos` to `dst`.
    ///
    /// # Safety
    ///
    /// `dst` is valid for `len` bytes of writes, `len <= capacity`, and
    /// nobody writes `[pos, pos + len)` meanwhile.
    unsafe fn copy_out(&self, pos: u64, dst: *mut u8, len: usize) {
        let (offset, first) = self.split(pos, len);
        // SAFETY: as in `copy_in`, the other way round.
        unsafe {
            let data = self.shm.as_ptr().add(HEADER_LEN);
            std::ptr::copy_nonoverlapping(data.add(offset), dst, first);
            std::ptr::copy_nonoverlapping(data, dst.add(first), len - first);
        }
    }

    /// Where position `pos` lies in the circle, and how many of `len`
    /// bytes fit before its end.
    fn split(&self, pos: u64, len: usize) -> (usize, usize) {
        let offset = (pos % self.capacity) as usize;
        (offset, len.min(self.capacity as usize - offset))
    }
}

// The locks
impl ShmRing {
    /// Takes a side's lock (module docs: spin, yield, sleep; take over
    /// from a dead holder), or fails with std's timeout error
    /// (`WouldBlock`) once `deadline` passes.
    #[inline]
    #[track_caller]
    fn lock<'a>(&self, word: &'a AtomicU32, deadline: Option<Instant>) -> io::Result<Locked<'a>> {
        // Acquire: what the previous holder wrote is visible to us.
        if word
            .compare_exchange(0, self.pid, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended(word, deadline)?;
        }
        Ok(Locked(word))
    }

    #[cold]
    #[track_caller]
    fn lock_contended(&self, word: &AtomicU32, deadline: Option<Instant>) -> io::Result<()> {
        let mut round = 0u32;
        loop {
            let holder = word.load(Ordering::Relaxed);
            let dead = holder != 0 && round >= SPINS && !process_alive(holder);
            if (holder == 0 || dead)
                && word
                    .compare_exchange(holder, self.pid, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Ok(());
            }
            round += 1;
            if round < SPINS {
                spin_loop();
            } else if round < 2 * SPINS {
                crate::gosched();
            } else {
                // Doubling: the wake-ups of a long wait cost little CPU,
                // and no step is longer than the sleeps before it.
                let step = (round - 2 * SPINS).min(7);
                let mut nap = Duration::from_micros(100 << step).min(MAX_NAP);
                if let Some(at) = deadline {
                    let left = at.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::from_raw_os_error(libc::EAGAIN));
                    }
                    nap = nap.min(left);
                }
                crate::time::sleep(nap);
            }
        }
    }
}

/// A held side lock; releases it when dropped.
struct Locked<'a>(&'a AtomicU32);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Release: our writes are visible to the next holder.
        self.0.store(0, Ordering::Release);
    }
}

impl Drop for ShmRing {
    fn drop(&mut self) {
        if let Some(name) = &self.owned_name {
            let _ = SharedMemory::unlink(name);
            self.data_bell.unlink();
            self.space_bell.unlink();
        }
    }
}

impl std::fmt::Debug for ShmRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShmRing")
            .field("capacity", &self.capacity)
            .field("owned_name", &self.owned_name)
            .finish_non_exhaustive()
    }
}

/// A doorbell: a named FIFO, open read-write and non-blocking, registered
/// with the reactor.
struct Bell {
    path: PathBuf,
    io: IoSource<FdSource<OwnedFd>>,
}

impl Bell {
    /// Where the doorbell `which` of ring `name` lives.
    fn path(name: &str, which: &str) -> PathBuf {
        PathBuf::from(format!("/dev/shm{name}.{which}-bell"))
    }

    /// Makes the FIFO (replacing a stale one: the ring's name is ours, so
    /// a FIFO by its name is left from a creator that died) and opens it.
    fn create(name: &str, which: &str) -> io::Result<Bell> {
        let path = Self::path(name, which);
        let _ = std::fs::remove_file(&path);
        let cpath = path_cstring(&path)?;
        // SAFETY: `cpath` is a valid NUL-terminated path.
        if unsafe { libc::mkfifo(cpath.as_ptr(), 0o600) } < 0 {
            return Err(with_name(
                io::Error::last_os_error(),
                "make the doorbell of",
                name,
            ));
        }
        Self::open_path(path, name).inspect_err(|_| {
            let _ = std::fs::remove_file(Self::path(name, which));
        })
    }

    fn open(name: &str, which: &str) -> io::Result<Bell> {
        Self::open_path(Self::path(name, which), name)
    }

    fn open_path(path: PathBuf, name: &str) -> io::Result<Bell> {
        let cpath = path_cstring(&path)?;
        // SAFETY: `cpath` is a valid NUL-terminated path; O_RDWR on a FIFO
        // never waits for a peer (Linux), O_NONBLOCK keeps reads from
        // blocking; the fd is new and ours.
        let fd = unsafe {
            libc::open(
                cpath.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "open the doorbell {} of ShmRing {name}: {e}",
                    path.display()
                ),
            ));
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Bell {
            path,
            io: IoSource::new(FdSource(fd))?,
        })
    }

    /// Writes one byte; a full FIFO is ringing already, so `EAGAIN` is
    /// fine, and no other error can come from a FIFO we hold open for
    /// reading too.
    fn ring(&self) {
        let byte = 1u8;
        // SAFETY: writes one byte from a live local to an fd we own.
        unsafe { libc::write(self.io.get().0.as_raw_fd(), (&raw const byte).cast(), 1) };
    }

    fn unlink(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads everything in a doorbell FIFO: `Ok` if there was something,
/// `WouldBlock` if it was empty.
fn drain(fd: RawFd) -> io::Result<()> {
    let mut buf = [0u8; 512];
    let mut got = false;
    loop {
        // SAFETY: reads at most `buf.len()` bytes into a live local buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            n if n == buf.len() as isize => got = true,
            n if n > 0 => return Ok(()),
            0 => return Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock if got => Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
        }
    }
}

/// Blocks the thread until `fd` is readable or `deadline` passes (std's
/// timeout error, `WouldBlock`, as `IoSource::io` gives).
fn poll_readable(fd: RawFd, deadline: Option<Instant>) -> io::Result<()> {
    let timeout_ms = match deadline {
        None => -1,
        Some(at) => {
            let left = at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            // Rounded up: never wake before the deadline.
            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
        }
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd for the whole call.
    if unsafe { libc::poll(&mut pfd, 1, timeout_ms) } < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// Whether process `pid` exists (`kill(pid, 0)`: `ESRCH` means gone;
/// `EPERM` means it exists under another user).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; it only checks that `pid` exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The capacity in `shm`'s ring header, or `InvalidData` if it is not a
/// ring this code can read.
fn ring_capacity(name: &str, shm: &SharedMemory) -> io::Result<u64> {
    let not_ring = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name} is not a goro ShmRing: {why}"),
        )
    };
    if shm.len() < HEADER_LEN {
        return Err(not_ring(format!(
            "{} bytes, smaller than a ring header ({HEADER_LEN})",
            shm.len()
        )));
    }
    // SAFETY: the mapping holds at least a header (checked), is
    // page-aligned and outlives this borrow; the fields are atomics.
    let id = unsafe { &(*shm.as_ptr().cast::<Header>()).identity };
    let since = Instant::now();
    // Acquire: pairs with the creator's Release store of the magic.
    let mut magic = id.magic.load(Ordering::Acquire);
    while magic == 0 && since.elapsed() < OPEN_PATIENCE {
        // A creator may still be writing the header.
        crate::time::sleep(Duration::from_millis(1));
        magic = id.magic.load(Ordering::Acquire);
    }
    if magic != MAGIC {
        return Err(not_ring(format!(
            "no ring header (first word {magic:#018x})"
        )));
    }
    let version = id.version.load(Ordering::Relaxed);
    if version != VERSION {
        return Err(not_ring(format!(
            "format version {version}, this goro reads version {VERSION}"
        )));
    }
    let capacity = id.capacity.load(Ordering::Relaxed);
    if capacity % 8 != 0
        || capacity < MIN_CAPACITY as u64
        || HEADER_LEN as u64 + capacity != shm.len() as u64
    {
        return Err(not_ring(format!(
            "its header says {capacity} bytes of data in a {}-byte object",
            shm.len()
        )));
    }
    Ok(capacity)
}

/// The `AlreadyExists` error for creating `name`, saying the existing
/// ring's capacity when it is one.
#[cold]
fn already_exists(name: &str, asked: usize, err: io::Error) -> io::Error {
    let what = match SharedMemory::open(name).and_then(|shm| ring_capacity(name, &shm)) {
        Ok(capacity) if capacity == asked as u64 => {
            format!("a ShmRing of the same capacity ({capacity} bytes) exists; open it instead")
        }
        Ok(capacity) => {
            format!("a ShmRing with capacity {capacity} bytes exists (asked for {asked})")
        }
        Err(_) => format!("{err}, and it is not a goro ShmRing"),
    };
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("create ShmRing {name}: {what}"),
    )
}

fn path_cstring(path: &std::path::Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))
}

fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 100))
}

/// Turns the wait's expiry (std's timeout error, `WouldBlock`) into
/// `TimedOut`, keeping every other error.
fn timed_out(err: io::Error, what: &str, timeout: Duration) -> io::Error {
    if err.kind() == io::ErrorKind::WouldBlock {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("ShmRing {what} timed out after {timeout:?}"),
        )
    } else {
        err
    }
}
