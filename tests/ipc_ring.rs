//! `goro::ipc::ShmRing`: messages between goroutines, threads and
//! processes, in order and never torn; wrap-around, several senders and
//! receivers, timeouts, waiting that does not spin, peers killed
//! mid-stream, bad input, and nothing left behind.
//!
//! Child processes are this test binary run again with `GORO_IPC_CHILD`
//! set to a role: `child_entry` plays it and exits. Every message is a
//! pure function of its stream and sequence number (its length too), so
//! a receiver checks each byte of what it got against what must come.

use goro::ipc::{SharedMemory, ShmRing};
use std::io::{self, ErrorKind};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tests count fds, CPU time and `/dev/shm` entries: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn unique(what: &str) -> String {
    format!("/goro-test-ring-{what}-{}", std::process::id())
}

/// The ring's shared object and its two doorbells are gone.
fn assert_no_names_left(name: &str) {
    for path in [
        format!("/dev/shm{name}"),
        format!("/dev/shm{name}.data-bell"),
        format!("/dev/shm{name}.space-bell"),
    ] {
        assert!(!std::path::Path::new(&path).exists(), "{path} left behind");
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // Fields 14 and 15 of proc(5), counted from the state (field 3).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Message `seq` of `stream`: 0..=`max` bytes, length and bytes drawn from
/// a hash of the two.
fn message(stream: u64, seq: u64, max: usize, out: &mut Vec<u8>) {
    let mut x = splitmix((stream << 40) ^ seq);
    let len = (x % (max as u64 + 1)) as usize;
    out.clear();
    while out.len() < len {
        x = splitmix(x);
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&x.to_le_bytes()[..take]);
    }
}

/// A message that names its stream and number (8 bytes) before its body,
/// for rings several senders share: 8..=`max` bytes.
fn tagged(stream: u32, seq: u32, max: usize, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    message(u64::from(stream), u64::from(seq), max - 8, &mut body);
    out.clear();
    out.extend_from_slice(&stream.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&body);
}

/// The stream and number of a tagged message, after checking every byte.
fn check_tagged(msg: &[u8], max: usize) -> (u32, u32) {
    assert!(msg.len() >= 8, "a tagged message of {} bytes", msg.len());
    let stream = u32::from_le_bytes(msg[..4].try_into().unwrap());
    let seq = u32::from_le_bytes(msg[4..8].try_into().unwrap());
    let mut want = Vec::new();
    tagged(stream, seq, max, &mut want);
    assert!(msg == want, "message {seq} of stream {stream} is torn");
    (stream, seq)
}

/// The stop message of `tagged` streams: stream `u32::MAX`.
const STOP: u32 = u32::MAX;

/// What a receiver got from tagged streams: counts and sums per stream, a
/// hash of every (stream, seq), each stream's numbers rising.
#[derive(Default, Debug, PartialEq)]
struct Tally {
    count: u64,
    seq_sum: u64,
    hash: u64,
    last: std::collections::HashMap<u32, u32>,
}

impl Tally {
    fn add(&mut self, stream: u32, seq: u32) {
        if let Some(&last) = self.last.get(&stream) {
            assert!(seq > last, "stream {stream}: {seq} after {last}");
        }
        self.last.insert(stream, seq);
        self.count += 1;
        self.seq_sum += u64::from(seq);
        self.hash ^= splitmix((u64::from(stream) << 32) | u64::from(seq));
    }

    fn merge(&mut self, count: u64, seq_sum: u64, hash: u64) {
        self.count += count;
        self.seq_sum += seq_sum;
        self.hash ^= hash;
    }
}

/// Receives tagged messages until a stop message.
fn receive_tagged(ring: &ShmRing, max: usize) -> Tally {
    let mut tally = Tally::default();
    let mut msg = Vec::new();
    loop {
        ring.recv(&mut msg).unwrap();
        if msg.len() == 4 && msg == STOP.to_le_bytes() {
            return tally;
        }
        let (stream, seq) = check_tagged(&msg, max);
        tally.add(stream, seq);
    }
}

fn send_tagged(ring: &ShmRing, stream: u32, count: u32, max: usize) {
    let mut msg = Vec::new();
    for seq in 0..count {
        tagged(stream, seq, max, &mut msg);
        ring.send(&msg).unwrap();
    }
}

/// This test binary as a child playing `role` on ring `name`.
fn child(role: &str, name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("GORO_IPC_CHILD", role)
        .env("GORO_IPC_RING", name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn wait_success(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

const MESSAGES: u64 = 100_000;
const MAX_LEN: usize = 4096;
const STREAMS_PER_CHILD: u32 = 2;
const PER_STREAM: u32 = 5_000;

/// The children's roles.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var("GORO_IPC_CHILD") else {
        return;
    };
    let name = std::env::var("GORO_IPC_RING").unwrap();
    let ring = Arc::new(ShmRing::open(&name).unwrap());
    let sequence = |ring: &ShmRing| {
        let mut msg = Vec::new();
        for seq in 0..MESSAGES {
            message(0, seq, MAX_LEN, &mut msg);
            ring.send(&msg).unwrap();
        }
    };
    match role.as_str() {
        "send-goroutine" => goro::run(move || sequence(&ring)),
        "send-thread" => sequence(&ring),
        "send-streams" => {
            let first: u32 = std::env::var("GORO_IPC_STREAM").unwrap().parse().unwrap();
            goro::run(move || {
                let senders: Vec<_> = (first..first + STREAMS_PER_CHILD)
                    .map(|stream| {
                        let ring = ring.clone();
                        goro::go!(send_tagged(&ring, stream, PER_STREAM, MAX_LEN))
                    })
                    .collect();
                for s in senders {
                    s.join().unwrap();
                }
            })
        }
        "recv-streams" => {
            let tallies = goro::run(move || {
                let receivers: Vec<_> = (0..2)
                    .map(|_| {
                        let ring = ring.clone();
                        goro::go!(receive_tagged(&ring, MAX_LEN))
                    })
                    .collect();
                receivers
                    .into_iter()
                    .map(|r| r.join().unwrap())
                    .collect::<Vec<_>>()
            });
            for t in tallies {
                println!("tally {} {} {}", t.count, t.seq_sum, t.hash);
            }
        }
        "send-forever" => goro::run(move || {
            let mut msg = Vec::new();
            for seq in 0.. {
                message(1, seq, 16 << 10, &mut msg);
                ring.send(&msg).unwrap();
            }
        }),
        "recv-forever" => goro::run(move || {
            let (mut msg, mut want) = (Vec::new(), Vec::new());
            for seq in 0.. {
                ring.recv(&mut msg).unwrap();
                message(2, seq, 1000, &mut want);
                assert!(msg == want, "message {seq} is torn");
            }
        }),
        other => panic!("unknown child role {other}"),
    }
}

/// Receives the 100,000 messages of stream 0 and checks each.
fn receive_sequence(ring: &ShmRing) {
    let (mut msg, mut want) = (Vec::new(), Vec::new());
    for seq in 0..MESSAGES {
        let len = ring.recv(&mut msg).unwrap();
        message(0, seq, MAX_LEN, &mut want);
        assert_eq!(len, msg.len());
        assert!(
            msg == want,
            "message {seq}: {len} bytes, {} wanted",
            want.len()
        );
    }
}

#[test]
fn goroutines_pass_100_000_random_messages_in_order() {
    let _serial = serial();
    let name = unique("goroutines");
    let ring = Arc::new(ShmRing::create(&name, 64 << 10).unwrap());
    let peer = Arc::new(ShmRing::open(&name).unwrap());
    goro::run(move || {
        let sender = goro::go!(move || {
            let mut msg = Vec::new();
            for seq in 0..MESSAGES {
                message(0, seq, MAX_LEN, &mut msg);
                peer.send(&msg).unwrap();
            }
        });
        receive_sequence(&ring);
        sender.join().unwrap();
    });
    assert_no_names_left(&name);
}

#[test]
fn processes_pass_100_000_random_messages_in_order_between_goroutines() {
    let _serial = serial();
    let name = unique("procs-goroutines");
    let ring = ShmRing::create(&name, 64 << 10).unwrap();
    let sender = child("send-goroutine", &name).spawn().unwrap();
    let ring = goro::run(move || {
        receive_sequence(&ring);
        ring
    });
    wait_success(sender);
    drop(ring);
    assert_no_names_left(&name);
}

#[test]
fn processes_pass_100_000_random_messages_in_order_between_plain_threads() {
    let _serial = serial();
    let name = unique("procs-threads");
    let ring = ShmRing::create(&name, 64 << 10).unwrap();
    let sender = child("send-thread", &name).spawn().unwrap();
    receive_sequence(&ring); // the test's own thread: no goroutine
    wait_success(sender);
    drop(ring);
    assert_no_names_left(&name);
}

#[test]
fn several_senders_and_receivers_in_several_processes() {
    let _serial = serial();
    let name = unique("mpmc");
    let ring = Arc::new(ShmRing::create(&name, 16 << 10).unwrap());
    let senders: Vec<Child> = (0..2)
        .map(|i| {
            child("send-streams", &name)
                .env("GORO_IPC_STREAM", (i * STREAMS_PER_CHILD).to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    let far_receivers = child("recv-streams", &name).spawn().unwrap();
    // Here: two receiver goroutines and one receiver thread.
    let thread = std::thread::spawn({
        let ring = ring.clone();
        move || receive_tagged(&ring, MAX_LEN)
    });
    let mut tally = goro::run({
        let ring = ring.clone();
        move || {
            let receivers: Vec<_> = (0..2)
                .map(|_| {
                    let ring = ring.clone();
                    goro::go!(receive_tagged(&ring, MAX_LEN))
                })
                .collect();
            for s in senders {
                wait_success(s);
            }
            // Every message is queued: one stop for each of the five.
            for _ in 0..5 {
                ring.send(&STOP.to_le_bytes()).unwrap();
            }
            let mut total = Tally::default();
            for r in receivers {
                let t = r.join().unwrap();
                total.merge(t.count, t.seq_sum, t.hash);
            }
            total
        }
    });
    let t = thread.join().unwrap();
    tally.merge(t.count, t.seq_sum, t.hash);
    for line in wait_success(far_receivers).lines() {
        // The harness prints "test child_entry ... " before the output.
        if let Some((_, rest)) = line.split_once("tally ") {
            let n: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
            tally.merge(n[0], n[1], n[2]);
        }
    }
    let streams = 2 * STREAMS_PER_CHILD;
    let mut want = Tally::default();
    for stream in 0..streams {
        for seq in 0..PER_STREAM {
            want.merge(1, u64::from(seq), 0);
            want.hash ^= splitmix((u64::from(stream) << 32) | u64::from(seq));
        }
    }
    assert_eq!(
        (tally.count, tally.seq_sum, tally.hash),
        (want.count, want.seq_sum, want.hash),
        "every message exactly once"
    );
    drop(ring);
    assert_no_names_left(&name);
}

#[test]
fn records_wrap_around_the_end_of_a_small_ring() {
    let _serial = serial();
    let name = unique("wrap");
    let ring = ShmRing::create(&name, 64).unwrap();
    let (mut msg, mut got) = (Vec::new(), Vec::new());
    // Every length from 0 to the largest (56), many times round the
    // circle, so records and payloads split at every offset.
    for seq in 0..10_000u64 {
        let len = (seq % 57) as usize;
        message(3, seq, 1 << 20, &mut msg);
        msg.resize(len, 0xA5);
        ring.send(&msg).unwrap();
        assert_eq!(ring.recv(&mut got).unwrap(), len);
        assert_eq!(got, msg, "message {seq}");
    }
    // Fill it up (eight 0-byte records of 8 bytes), then drain it.
    for _ in 0..8 {
        ring.send(b"").unwrap();
    }
    let full = ring
        .send_timeout(b"", Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(full.kind(), ErrorKind::TimedOut, "{full}");
    for _ in 0..8 {
        assert_eq!(ring.recv(&mut got).unwrap(), 0);
    }
    let empty = ring
        .recv_timeout(&mut got, Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::TimedOut, "{empty}");
}

const WAIT: Duration = Duration::from_millis(50);

/// recv_timeout on an empty ring and send_timeout on a full one time out
/// after WAIT (and not much later).
fn check_timeouts(ring: &ShmRing) {
    let mut msg = Vec::new();
    let start = Instant::now();
    let err = ring.recv_timeout(&mut msg, WAIT).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains("recv timed out"), "{err}");
    assert!(
        took >= WAIT && took < WAIT * 40,
        "recv_timeout took {took:?}"
    );
    ring.send(&[7; 56]).unwrap(); // fills the ring
    let start = Instant::now();
    let err = ring.send_timeout(b"x", WAIT).unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(
        took >= WAIT && took < WAIT * 40,
        "send_timeout took {took:?}"
    );
    assert_eq!(ring.recv_timeout(&mut msg, WAIT).unwrap(), 56);
}

#[test]
fn timeouts_end_waits_from_goroutines_and_threads() {
    let _serial = serial();
    let name = unique("timeouts");
    let ring = Arc::new(ShmRing::create(&name, 64).unwrap());
    check_timeouts(&ring);
    let in_goroutine = ring.clone();
    goro::run(move || check_timeouts(&in_goroutine));
    // A message that comes in time ends the wait with it.
    let peer = ring.clone();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        peer.send(b"in time").unwrap();
    });
    let mut msg = Vec::new();
    ring.recv_timeout(&mut msg, Duration::from_secs(10))
        .unwrap();
    assert_eq!(msg, b"in time");
    late.join().unwrap();
}

/// How long the slow peer in `waiting_for_a_slow_peer_does_not_spin` takes.
const IDLE: Duration = Duration::from_millis(500);

/// Runs `wait`, which must last IDLE, and checks it burnt little CPU.
fn assert_waits_idle(what: &str, wait: impl FnOnce()) {
    let (start, cpu) = (Instant::now(), cpu_time());
    wait();
    let (took, spent) = (start.elapsed(), cpu_time() - cpu);
    // The slow peer's clock may start a little before ours.
    assert!(took >= IDLE * 9 / 10, "{what} returned after {took:?}");
    // Spinning would burn the whole half second; parked, a few ms.
    assert!(spent < IDLE / 5, "{what}: {spent:?} of CPU in {took:?}");
}

/// Sends one 200-byte message after IDLE.
fn slow_send(ring: Arc<ShmRing>) {
    std::thread::sleep(IDLE);
    ring.send(&[1; 200]).unwrap();
}

#[test]
fn waiting_for_a_slow_peer_does_not_spin() {
    let _serial = serial();
    let name = unique("idle");
    let ring = Arc::new(ShmRing::create(&name, 256).unwrap());
    let slow = std::thread::spawn({
        let ring = ring.clone();
        move || slow_send(ring)
    });
    assert_waits_idle("a receiving thread", || {
        ring.recv(&mut Vec::new()).unwrap();
    });
    slow.join().unwrap();
    goro::run(move || {
        let peer = ring.clone();
        let slow = goro::go!(slow_send(peer));
        assert_waits_idle("a receiving goroutine", || {
            ring.recv(&mut Vec::new()).unwrap();
        });
        slow.join().unwrap();
        // And a sender waiting for room while the receiver is slow.
        ring.send(&[2; 200]).unwrap();
        let peer = ring.clone();
        let slow = goro::go!(move || {
            std::thread::sleep(IDLE);
            peer.recv(&mut Vec::new()).unwrap()
        });
        assert_waits_idle("a sending goroutine", || ring.send(&[3; 200]).unwrap());
        assert_eq!(slow.join().unwrap(), 200);
        // And a sender waiting behind another (for the send lock).
        let peer = ring.clone();
        let first = goro::go!(move || peer.send(&[4; 200]).unwrap());
        let peer = ring.clone();
        let slow = goro::go!(move || {
            std::thread::sleep(IDLE);
            let mut got = Vec::new();
            for _ in 0..2 {
                peer.recv(&mut got).unwrap();
            }
            got
        });
        goro::time::sleep(Duration::from_millis(10)); // `first` holds the lock
        assert_waits_idle("a second sending goroutine", || {
            ring.send(&[5; 200]).unwrap()
        });
        first.join().unwrap();
        assert_eq!(slow.join().unwrap(), [4; 200]);
        let mut msg = Vec::new();
        ring.recv(&mut msg).unwrap();
        assert_eq!(msg, [5; 200]);
    });
    assert_no_names_left(&name);
}

#[test]
fn a_sender_killed_mid_stream_leaves_only_complete_messages() {
    let _serial = serial();
    let name = unique("kill-sender");
    let ring = ShmRing::create(&name, 64 << 10).unwrap();
    let mut sender = child("send-forever", &name).spawn().unwrap();
    let (mut msg, mut want) = (Vec::new(), Vec::new());
    let mut seq = 0;
    let check = |seq: u64, msg: &[u8], want: &mut Vec<u8>| {
        message(1, seq, 16 << 10, want);
        assert!(msg == &want[..], "message {seq} is torn");
    };
    while seq < 3000 {
        ring.recv(&mut msg).unwrap();
        check(seq, &msg, &mut want);
        seq += 1;
    }
    sender.kill().unwrap(); // SIGKILL, while it sends as fast as it can
    sender.wait().unwrap();
    loop {
        match ring.recv_timeout(&mut msg, Duration::from_millis(300)) {
            Ok(_) => check(seq, &msg, &mut want),
            Err(e) if e.kind() == ErrorKind::TimedOut => break,
            Err(e) => panic!("after the kill: {e}"),
        }
        seq += 1;
    }
    // The ring goes on (its send lock taken over if the sender died
    // holding it).
    let alive = goro::go!(move || -> io::Result<Vec<u8>> {
        ring.send(b"survivor")?;
        let mut msg = Vec::new();
        ring.recv(&mut msg)?;
        Ok(msg)
    });
    assert_eq!(
        join_within(alive, Duration::from_secs(10)).unwrap(),
        b"survivor"
    );
    assert_no_names_left(&name);
}

#[test]
fn a_receiver_killed_mid_stream_loses_nothing_it_did_not_take() {
    let _serial = serial();
    let name = unique("kill-receiver");
    let ring = ShmRing::create(&name, 4096).unwrap();
    let ring = Arc::new(ring);
    let mut receiver = child("recv-forever", &name).spawn().unwrap();
    // Send until the ring stays full: once the receiver is dead.
    let sender = std::thread::spawn({
        let ring = ring.clone();
        move || {
            let mut msg = Vec::new();
            for seq in 0.. {
                message(2, seq, 1000, &mut msg);
                match ring.send_timeout(&msg, Duration::from_millis(500)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::TimedOut => return seq,
                    Err(e) => panic!("send {seq}: {e}"),
                }
            }
            unreachable!()
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    receiver.kill().unwrap(); // SIGKILL, while it receives as fast as it can
    let status = receiver.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "the receiver found a torn message before the kill"
    );
    let sent = sender.join().unwrap();
    // What it had not taken is still queued, complete and in order, up to
    // the last message sent.
    let (mut msg, mut want) = (Vec::new(), Vec::new());
    let mut next: Option<u64> = None;
    let mut first = None;
    loop {
        match ring.recv_timeout(&mut msg, Duration::from_millis(300)) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::TimedOut => break,
            Err(e) => panic!("after the kill: {e}"),
        }
        let seq = *next.get_or_insert_with(|| {
            (0..sent)
                .find(|&s| {
                    message(2, s, 1000, &mut want);
                    want == msg
                })
                .expect("the first queued message is one we sent")
        });
        first.get_or_insert(seq);
        message(2, seq, 1000, &mut want);
        assert!(msg == want, "message {seq} is torn");
        next = Some(seq + 1);
    }
    assert!(
        first > Some(0),
        "the receiver was killed before it took any"
    );
    assert_eq!(
        next,
        Some(sent),
        "messages after the receiver's last are lost"
    );
    drop(ring);
    assert_no_names_left(&name);
}

/// Runs `h` to completion within `limit`, or panics (a hang is a failure).
fn join_within<T: Send + 'static>(h: goro::JoinHandle<T>, limit: Duration) -> T {
    let (tx, rx) = goro::chan(1);
    goro::go!(move || tx.send(h.join()).unwrap());
    rx.recv_timeout(limit)
        .expect("the ring operation hung")
        .unwrap()
}

/// Offsets in the ring's header (format version 1, `runtime/ipc/ring.rs`):
/// the senders' lock and tail, the receivers' lock.
const SEND_LOCK: usize = 64;
const TAIL: usize = 72;
const RECV_LOCK: usize = 128;
const DATA: usize = 192;

/// The pid of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn locks_held_by_a_dead_process_are_taken_over_and_its_half_record_is_unseen() {
    let _serial = serial();
    let name = unique("dead-holder");
    let ring = Arc::new(ShmRing::create(&name, 4096).unwrap());
    let raw = SharedMemory::open(&name).unwrap();
    // SAFETY: the header's words are u32/u64 atomics at these offsets of
    // the page-aligned mapping; DATA + 64 bytes lie inside the ring.
    let (send_lock, recv_lock, tail) = unsafe {
        (
            AtomicU32::from_ptr(raw.as_ptr().add(SEND_LOCK).cast()),
            AtomicU32::from_ptr(raw.as_ptr().add(RECV_LOCK).cast()),
            AtomicU64::from_ptr(raw.as_ptr().add(TAIL).cast()),
        )
    };
    // A sender that died mid-copy: half a record past the tail, its pid in
    // the send lock.
    let dead = dead_pid();
    // SAFETY: 64 bytes of the data area, past the tail: free space.
    unsafe { std::ptr::write_bytes(raw.as_ptr().add(DATA), 0x55, 64) };
    send_lock.store(dead, Ordering::SeqCst);
    recv_lock.store(dead, Ordering::SeqCst);
    let mut msg = Vec::new();
    let err = ring
        .recv_timeout(&mut msg, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::TimedOut,
        "the half record is unseen: {err}"
    );
    assert_eq!(tail.load(Ordering::SeqCst), 0);
    let peer = ring.clone();
    let after = goro::go!(move || -> io::Result<Vec<u8>> {
        peer.send(b"after")?;
        let mut msg = Vec::new();
        peer.recv(&mut msg)?;
        Ok(msg)
    });
    assert_eq!(
        join_within(after, Duration::from_secs(10)).unwrap(),
        b"after"
    );
    assert_eq!(
        send_lock.load(Ordering::SeqCst),
        0,
        "released after the takeover"
    );
    drop(raw);
    drop(ring);
    assert_no_names_left(&name);
}

#[test]
fn a_lock_held_by_a_live_process_is_waited_for() {
    let _serial = serial();
    let name = unique("live-holder");
    let ring = Arc::new(ShmRing::create(&name, 4096).unwrap());
    let raw = SharedMemory::open(&name).unwrap();
    // SAFETY: as in the test above.
    let send_lock = unsafe { AtomicU32::from_ptr(raw.as_ptr().add(SEND_LOCK).cast()) };
    let mut holder = Command::new("sleep").arg("30").spawn().unwrap();
    send_lock.store(holder.id(), Ordering::SeqCst);
    let peer = ring.clone();
    let sending = goro::go!(move || peer.send(b"waited"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(!sending.is_finished(), "a live holder's lock was stolen");
    send_lock.store(0, Ordering::SeqCst); // the holder lets go
    join_within(sending, Duration::from_secs(10)).unwrap();
    let mut msg = Vec::new();
    ring.recv(&mut msg).unwrap();
    assert_eq!(msg, b"waited");
    holder.kill().unwrap();
    holder.wait().unwrap();
}

#[test]
fn bad_input_gets_clear_errors() {
    let _serial = serial();
    let name = unique("bad");
    let ring = ShmRing::create(&name, 1000).unwrap();
    let err = ring.send(&vec![0; 1000]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("at most 992 bytes"), "{err}");
    ring.send(&[0; 992]).unwrap(); // the largest fits
    ring.send_timeout(b"", Duration::from_millis(1))
        .unwrap_err();

    let err = ShmRing::create(&name, 2000).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(
        err.to_string().contains("1000") && err.to_string().contains("2000"),
        "{err}"
    );
    let err = ShmRing::create(&name, 1000).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");

    for capacity in [0, 15, (1 << 32) + 1] {
        let err = ShmRing::create(&unique("capacity"), capacity).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{capacity}: {err}");
    }
    for bad in ["ring", "/a/b", "/"] {
        let err = ShmRing::create(bad, 4096).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
    }
    let err = ShmRing::open(&unique("missing")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");

    // Objects that are not rings: too small, zeros, someone else's bytes.
    let other = unique("other");
    for (len, fill) in [(100, 0u8), (4096, 0), (4096, 0x42)] {
        let shm = SharedMemory::create(&other, len).unwrap();
        // SAFETY: `len` bytes of a mapping only this test uses.
        unsafe { std::ptr::write_bytes(shm.as_ptr(), fill, len) };
        let err = ShmRing::open(&other).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert!(err.to_string().contains("not a goro ShmRing"), "{err}");
        let err = ShmRing::create(&other, 4096).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
        SharedMemory::unlink(&other).unwrap();
    }
    drop(ring);
    assert_no_names_left(&name);
    assert_no_names_left(&other);
}

#[test]
fn no_fd_or_name_is_left_behind() {
    let _serial = serial();
    let name = unique("leaks");
    let warm = ShmRing::create(&name, 4096).unwrap(); // the reactor's own fds
    drop(warm);
    let before = open_fds();
    for _ in 0..50 {
        let ring = ShmRing::create(&name, 4096).unwrap();
        let peer = ShmRing::open(&name).unwrap();
        ring.send(b"x").unwrap();
        peer.recv(&mut Vec::new()).unwrap();
        drop(peer);
        drop(ring);
        assert_no_names_left(&name);
    }
    assert_eq!(open_fds(), before, "fds leaked");
}

#[test]
fn a_burst_wakes_every_parked_receiver() {
    let _serial = serial();
    let name = unique("burst");
    let ring = Arc::new(ShmRing::create(&name, 4096).unwrap());
    // Receivers (goroutines and a thread) park on one doorbell; the first
    // woken may drain the rings meant for the others, and must pass the
    // turn on.
    for round in 0..200u32 {
        let (tx, rx) = goro::chan(8);
        for _ in 0..3 {
            let (ring, tx) = (ring.clone(), tx.clone());
            goro::go!(move || tx.send(receive_tagged(&ring, 64).count).unwrap());
        }
        let thread = std::thread::spawn({
            let (ring, tx) = (ring.clone(), tx.clone());
            move || tx.send(receive_tagged(&ring, 64).count).unwrap()
        });
        std::thread::sleep(Duration::from_millis(2)); // let them park
        let mut msg = Vec::new();
        for seq in 0..4 {
            tagged(round, seq, 64, &mut msg);
            ring.send(&msg).unwrap();
        }
        for _ in 0..4 {
            ring.send(&STOP.to_le_bytes()).unwrap();
        }
        let mut got = 0;
        for _ in 0..4 {
            got += rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("round {round}: a receiver stayed parked"));
        }
        assert_eq!(got, 4, "round {round}");
        thread.join().unwrap();
    }
    drop(ring);
    assert_no_names_left(&name);
}
