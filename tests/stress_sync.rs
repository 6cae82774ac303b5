//! Stress: every `goro::sync` primitive at once, between goroutines and
//! plain threads, with invariants checked as it runs and at the end.
//!
//! For its [`stress::budget`], a crowd of participants (goroutines and
//! threads) draw operations from a xorshift seeded per participant from one
//! seed (printed; `GORO_STRESS_SEED` replays the same choices, though not
//! the same interleaving):
//!
//! * `Mutex`: a plain counter incremented under the lock, with an "inside"
//!   flag that catches two holders at once, sometimes yielding inside;
//! * `RwLock`: readers and writers that count each other (no writer beside
//!   anyone, readers only beside readers), `try_read`/`try_write` too;
//! * `Condvar`: a token pool. Producers add a token and notify under the
//!   mutex (the "lock, change, notify" that a timed-out `wait_timeout` once
//!   deadlocked), or after dropping it; consumers take a token, waiting
//!   with `wait_timeout`. Two dedicated consumers (a goroutine and a
//!   thread) wait with plain `wait`: a lost wake-up leaves one asleep while
//!   tokens pile up, and the watchdog reports it stuck;
//! * `Semaphore`: `acquire`, `try_acquire` and `acquire_timeout`, never
//!   more holders than permits;
//! * `WaitGroup`: a fork-join of a few goroutines (and now and then a
//!   thread), all of them done when `wait` returns;
//! * `Once`: a generation of `Once`s called at random (the closure yields,
//!   so callers queue on it); each closure runs at most once and has run
//!   when `call_once` returns. A writer of the `RwLock` around them starts
//!   a new generation now and then;
//! * `Barrier`: a group of its own (goroutines and threads) that meets
//!   round after round, one leader per round, and mixes in the operations
//!   above between rounds.
//!
//! `gomaxprocs` is 1, 2 or 4, drawn from the seed; the file holds one test
//! because it changes that process-wide setting.
//!
//! Every participant ticks its [`stress::Beat`] after each operation, so a
//! stuck one fails the test through the watchdog instead of hanging it.
//! At the end the counts must add up: mutex and writer counters, tokens
//! produced against consumed plus left, permits, barrier rounds.
//! There are no timing assertions.

#[path = "support/stress.rs"]
mod stress;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::sync::{Barrier, Condvar, Mutex, Once, RwLock, Semaphore, WaitGroup};
use stress::{Beat, Participant, Rng, Watchdog};

/// Random participants: goroutines, and threads beside them.
const GOROUTINES: usize = 8;
const THREADS: usize = 3;
/// The barrier group: half goroutines, half threads.
const BARRIER_PARTIES: usize = 4;
const PERMITS: usize = 3;
const ONCES: usize = 16;

struct Tokens {
    available: u64,
    produced: u64,
    consumed: u64,
    /// Set at the end, for the consumers that wait without a timeout.
    stop: bool,
}

/// One `Once` and how often its closure ran.
struct OnceSlot {
    once: Once,
    runs: AtomicU32,
}

type Generation = Arc<Vec<OnceSlot>>;

fn generation() -> Generation {
    Arc::new(
        (0..ONCES)
            .map(|_| OnceSlot {
                once: Once::new(),
                runs: AtomicU32::new(0),
            })
            .collect(),
    )
}

struct Shared {
    deadline: Instant,
    counter: Mutex<u64>,
    counter_inside: AtomicBool,
    rw: RwLock<u64>,
    readers_inside: AtomicUsize,
    writer_inside: AtomicBool,
    tokens: Mutex<Tokens>,
    token_ready: Condvar,
    sem: Semaphore,
    sem_inside: AtomicUsize,
    onces: RwLock<Generation>,
    barrier: Barrier,
    barrier_arrivals: AtomicU64,
    barrier_leaders: AtomicU64,
    barrier_stop: AtomicBool,
}

/// What one participant did, for the final count.
#[derive(Default)]
struct Tally {
    locks: u64,
    writes: u64,
}

/// A goroutine yields; a thread yields its time slice.
fn maybe_yield(rng: &mut Rng) {
    if rng.below(4) == 0 {
        goro::gosched();
    }
}

fn op_mutex(s: &Shared, rng: &mut Rng, tally: &mut Tally) {
    let mut g = match rng.below(3) {
        0 => match s.counter.try_lock() {
            Some(g) => g,
            None => return,
        },
        _ => s.counter.lock(),
    };
    assert!(
        !s.counter_inside.swap(true, Ordering::Relaxed),
        "two Mutex holders at once"
    );
    let v = *g;
    maybe_yield(rng);
    *g = v + 1;
    s.counter_inside.store(false, Ordering::Relaxed);
    tally.locks += 1;
}

fn op_rwlock(s: &Shared, rng: &mut Rng, tally: &mut Tally) {
    if rng.below(4) == 0 {
        let mut g = if rng.below(2) == 0 {
            s.rw.write()
        } else {
            match s.rw.try_write() {
                Some(g) => g,
                None => return,
            }
        };
        assert!(
            !s.writer_inside.swap(true, Ordering::SeqCst),
            "two RwLock writers at once"
        );
        assert_eq!(
            s.readers_inside.load(Ordering::SeqCst),
            0,
            "an RwLock writer beside readers"
        );
        let v = *g;
        maybe_yield(rng);
        *g = v + 1;
        s.writer_inside.store(false, Ordering::SeqCst);
        tally.writes += 1;
    } else {
        let g = if rng.below(2) == 0 {
            s.rw.read()
        } else {
            match s.rw.try_read() {
                Some(g) => g,
                None => return,
            }
        };
        s.readers_inside.fetch_add(1, Ordering::SeqCst);
        assert!(
            !s.writer_inside.load(Ordering::SeqCst),
            "an RwLock reader beside a writer"
        );
        let _ = *g;
        maybe_yield(rng);
        s.readers_inside.fetch_sub(1, Ordering::SeqCst);
    }
}

fn op_produce(s: &Shared, rng: &mut Rng) {
    let mut t = s.tokens.lock();
    t.available += 1;
    t.produced += 1;
    if rng.below(2) == 0 {
        // Lock, change, notify: the notifier holds the mutex.
        s.token_ready.notify_one();
        drop(t);
    } else {
        drop(t);
        s.token_ready.notify_one();
    }
}

fn op_consume_timeout(s: &Shared, rng: &mut Rng) {
    let mut t = s.tokens.lock();
    if t.available == 0 {
        let patience = Duration::from_micros(rng.below(500));
        let _ = s.token_ready.wait_timeout(&mut t, patience);
    }
    if t.available > 0 {
        t.available -= 1;
        t.consumed += 1;
    }
}

fn op_semaphore(s: &Shared, rng: &mut Rng) {
    let permit = match rng.below(3) {
        0 => s.sem.acquire(),
        1 => match s.sem.try_acquire() {
            Some(p) => p,
            None => return,
        },
        _ => match s.sem.acquire_timeout(Duration::from_micros(rng.below(300))) {
            Some(p) => p,
            None => return,
        },
    };
    let n = s.sem_inside.fetch_add(1, Ordering::SeqCst) + 1;
    assert!(n <= PERMITS, "{n} Semaphore holders of {PERMITS} permits");
    maybe_yield(rng);
    s.sem_inside.fetch_sub(1, Ordering::SeqCst);
    drop(permit);
}

fn op_wait_group(rng: &mut Rng) {
    let wg = WaitGroup::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let n = 1 + rng.below(4) as usize;
    let on_thread = rng.below(32) == 0;
    for i in 0..n {
        wg.add(1);
        let (wg, finished) = (wg.clone(), finished.clone());
        let work = move || {
            finished.fetch_add(1, Ordering::SeqCst);
            wg.done();
        };
        if on_thread && i == 0 {
            std::thread::spawn(work);
        } else {
            goro::spawn(work);
        }
    }
    wg.wait();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        n,
        "WaitGroup::wait returned early"
    );
}

fn op_once(s: &Shared, rng: &mut Rng) {
    if rng.below(64) == 0 {
        *s.onces.write() = generation();
        return;
    }
    let onces = s.onces.read().clone();
    let slot = &onces[rng.below(ONCES as u64) as usize];
    slot.once.call_once(|| {
        slot.runs.fetch_add(1, Ordering::SeqCst);
        goro::gosched();
    });
    let runs = slot.runs.load(Ordering::SeqCst);
    assert_eq!(
        runs, 1,
        "a Once closure ran {runs} times when call_once returned"
    );
}

/// One random operation.
fn random_op(s: &Shared, rng: &mut Rng, tally: &mut Tally) {
    match rng.below(8) {
        0 => op_mutex(s, rng, tally),
        1 => op_rwlock(s, rng, tally),
        2 | 3 => op_produce(s, rng),
        4 => op_consume_timeout(s, rng),
        5 => op_semaphore(s, rng),
        6 => op_wait_group(rng),
        _ => op_once(s, rng),
    }
}

fn random_participant(s: &Shared, seed: u64, beat: &Beat) -> Tally {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    while Instant::now() < s.deadline {
        random_op(s, &mut rng, &mut tally);
        beat.tick();
    }
    beat.done();
    tally
}

/// Waits for tokens with plain `wait` until told to stop; a lost wake-up
/// leaves it asleep with tokens available, and its beat stalls.
fn patient_consumer(s: &Shared, beat: &Beat) -> u64 {
    let mut taken = 0;
    let mut t = s.tokens.lock();
    loop {
        while t.available == 0 && !t.stop {
            s.token_ready.wait(&mut t);
        }
        if t.available == 0 {
            break;
        }
        t.available -= 1;
        t.consumed += 1;
        taken += 1;
        beat.tick();
    }
    drop(t);
    beat.done();
    taken
}

/// Meets the barrier group round after round, with random operations in
/// between; returns the rounds it took part in.
fn barrier_party(s: &Shared, seed: u64, beat: &Beat) -> (u64, Tally) {
    let mut rng = Rng::new(seed);
    let mut tally = Tally::default();
    let mut rounds = 0;
    loop {
        s.barrier_arrivals.fetch_add(1, Ordering::SeqCst);
        if s.barrier.wait().is_leader() {
            s.barrier_leaders.fetch_add(1, Ordering::SeqCst);
            s.barrier_stop
                .store(Instant::now() >= s.deadline, Ordering::SeqCst);
        }
        rounds += 1;
        // Everyone of this round has arrived before anyone leaves it.
        let arrivals = s.barrier_arrivals.load(Ordering::SeqCst);
        assert!(
            arrivals >= rounds * BARRIER_PARTIES as u64,
            "left barrier round {rounds} after {arrivals} arrivals"
        );
        // Second meeting: the leader's stop decision is final for all.
        if s.barrier.wait().is_leader() {
            s.barrier_leaders.fetch_add(1, Ordering::SeqCst);
        }
        if s.barrier_stop.load(Ordering::SeqCst) {
            break;
        }
        beat.tick();
        for _ in 0..rng.below(4) {
            random_op(s, &mut rng, &mut tally);
        }
        beat.tick();
    }
    beat.done();
    (rounds, tally)
}

#[test]
fn sync_primitives_mixed_under_load() {
    let budget = stress::budget(Duration::from_secs(3));
    let seed = stress::seed("stress_sync", budget);
    let mut seeds = Rng::new(seed);
    // Drawn from the seed too; restored at the end (this file's only test).
    let procs = [1, 2, 4][seeds.below(3) as usize];
    let procs_before = goro::gomaxprocs(procs);
    let _ = writeln!(std::io::stderr(), "stress_sync: gomaxprocs {procs}");
    let dog = Watchdog::start("stress_sync");
    let s = Arc::new(Shared {
        deadline: Instant::now() + budget,
        counter: Mutex::new(0),
        counter_inside: AtomicBool::new(false),
        rw: RwLock::new(0),
        readers_inside: AtomicUsize::new(0),
        writer_inside: AtomicBool::new(false),
        tokens: Mutex::new(Tokens {
            available: 0,
            produced: 0,
            consumed: 0,
            stop: false,
        }),
        token_ready: Condvar::new(),
        sem: Semaphore::new(PERMITS),
        sem_inside: AtomicUsize::new(0),
        onces: RwLock::new(generation()),
        barrier: Barrier::new(BARRIER_PARTIES),
        barrier_arrivals: AtomicU64::new(0),
        barrier_leaders: AtomicU64::new(0),
        barrier_stop: AtomicBool::new(false),
    });

    let randoms: Vec<Participant<Tally>> = (0..GOROUTINES + THREADS)
        .map(|i| {
            let on_thread = i >= GOROUTINES;
            let kind = if on_thread { "thread" } else { "goroutine" };
            let beat = dog.beat(format!("random {kind} {i}"));
            let (s, seed) = (s.clone(), seeds.next());
            Participant::start(on_thread, move || random_participant(&s, seed, &beat))
        })
        .collect();
    let patient: Vec<Participant<u64>> = [false, true]
        .into_iter()
        .map(|on_thread| {
            let beat = dog.beat(format!("patient consumer (thread: {on_thread})"));
            let s = s.clone();
            Participant::start(on_thread, move || patient_consumer(&s, &beat))
        })
        .collect();
    let parties: Vec<Participant<(u64, Tally)>> = (0..BARRIER_PARTIES)
        .map(|i| {
            let on_thread = i % 2 == 1;
            let beat = dog.beat(format!("barrier party {i} (thread: {on_thread})"));
            let (s, seed) = (s.clone(), seeds.next());
            Participant::start(on_thread, move || barrier_party(&s, seed, &beat))
        })
        .collect();

    let mut tallies: Vec<Tally> = randoms.into_iter().map(Participant::join).collect();
    let mut rounds = Vec::new();
    for party in parties {
        let (r, tally) = party.join();
        rounds.push(r);
        tallies.push(tally);
    }
    {
        let mut t = s.tokens.lock();
        t.stop = true;
        s.token_ready.notify_all();
    }
    let patiently_taken: u64 = patient.into_iter().map(Participant::join).sum();
    drop(dog);
    goro::gomaxprocs(procs_before);

    let locks: u64 = tallies.iter().map(|t| t.locks).sum();
    let writes: u64 = tallies.iter().map(|t| t.writes).sum();
    assert_eq!(*s.counter.lock(), locks, "Mutex increments lost");
    assert_eq!(*s.rw.read(), writes, "RwLock writes lost");
    let t = s.tokens.lock();
    assert_eq!(t.produced, t.consumed + t.available, "tokens do not add up");
    assert!(patiently_taken <= t.consumed);
    assert_eq!(s.sem.available_permits(), PERMITS, "Semaphore permits lost");
    assert!(
        rounds.iter().all(|&r| r == rounds[0]),
        "barrier parties disagree on the rounds: {rounds:?}"
    );
    assert_eq!(
        s.barrier_leaders.load(Ordering::SeqCst),
        2 * rounds[0],
        "not one Barrier leader per generation"
    );
    let _ = writeln!(
        std::io::stderr(),
        "stress_sync: {locks} locks, {writes} writes, {} tokens ({patiently_taken} to the \
         patient consumers), {} barrier rounds",
        t.produced,
        rounds[0]
    );
}
