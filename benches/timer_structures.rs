//! Timer structures side by side (issue 11 goal 1: "heap or wheel; measure
//! both"): goro's 4-ary timer heap (`runtime/scheduler/timer_heap.rs`,
//! compiled in here unchanged) against a hierarchical timing wheel
//! (`support/timer_wheel.rs`) with ticks of 65.5 µs (`wheel_65us`) and of
//! 1.05 ms (`wheel_1ms`, tokio's resolution), under the loads one worker's
//! timer shard sees, at 1K / 10K / 100K / 1M armed timers:
//!
//! - `timer_sleep_loop/<structure>/<N>`: N sleepers whose deadlines spread
//!   over 1 ms. One operation: read `earliest()`, move the clock there (the
//!   timer watcher sleeping until it), pop the due timer and re-arm it 1 ms
//!   after now (the goroutine sleeps again). An empty pop (a wheel's
//!   `earliest` is a lower bound when its next slot is above level 0)
//!   repeats the step inside the same operation.
//! - `timer_deadline_churn/<structure>/<N>`: N socket deadlines at +30 s.
//!   One operation: cancel the oldest (its read beat the deadline) and arm
//!   the next at now + 30 s; the clock moves 1 µs.
//! - `timer_churn_publish/<structure>/<N>`: the churn reading `earliest()`
//!   after every insert and cancel, as the shard does to publish it for
//!   the watcher and `fire_own` (with no sleepers, a wheel's earliest slot
//!   is a 30 s one, four levels up).
//! - `timer_mixed/<structure>/<N>`: 90% of the N timers are socket
//!   deadlines, 10% sleepers; nine operations of the churn for every one of
//!   the sleep loop.
//! - `timer_mixed_publish/<structure>/<N>`: the mixed load reading
//!   `earliest()` after every insert, cancel and pop.
//!
//! Every load starts from a slab whose free slots were shuffled, so timers
//! sit in slots unrelated to their deadlines, as in a process that has run
//! a while (in a fresh slab a 1 ms wheel's one busy slot lists its timers
//! in slab order and walks memory sequentially: at 1M sleepers 87 ns per
//! wake-up against 590 ns shuffled, medians of three runs each).
//!
//! Criterion's time per iteration is the time per operation. The clock is
//! simulated (the structures are given `now`), so a run measures the
//! structure alone: no clock reads, locks or wake-ups. The loads with
//! sleepers also print the lateness each structure adds (clock at the pop
//! minus the deadline; the heap's is zero because the clock jumps to its
//! exact deadline) and the empty wake-ups. A wheel's steady-state lateness
//! in the sleep loop is a phase artefact (a sleeper woken on a tick
//! boundary sleeps until the boundary after boundary + 1 ms, 48.6 µs late
//! at either resolution), so the checks also print the lateness of
//! deadlines spread uniformly over ticks: the resolution's real cost.
//!
//! Before any bench, `checks::run` compares each structure against a model
//! on a random sequence of arms, cancels and pops (never early, nothing
//! due left behind, `earliest` a lower bound that makes progress, stale
//! keys harmless) and panics on a mismatch.
//!
//! ```text
//! cargo bench --bench timer_structures                    # everything (~3 min)
//! cargo bench --bench timer_structures -- timer_mixed/    # one load
//! cargo test --release --bench timer_structures           # checks, every bench once
//! ```

// Cargo builds a `harness = false` bench with `--cfg test` but without the
// test harness: the heap's `#[cfg(test)]` helpers compile, its `#[test]`s
// do not (they run in `cargo test --lib`), so the helpers read as dead here.
#[allow(dead_code)]
#[path = "../runtime/scheduler/timer_heap.rs"]
mod timer_heap;
#[path = "support/timer_wheel.rs"]
mod timer_wheel;

use criterion::{black_box, criterion_group, BenchmarkId, Criterion};
use std::time::Duration;
use timer_heap::Heap;
use timer_wheel::Wheel;

/// A sleeper's period: 1 ms.
const SLEEP: u64 = 1_000_000;
/// A socket deadline: 30 s.
const DEADLINE: u64 = 30_000_000_000;
/// Simulated time between two deadline replacements in the churn load.
const CHURN_STEP: u64 = 1_000;
/// The simulated clock at the start of a load (ns since the epoch).
const START: u64 = 1_000_000_000;
const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// What a timer carries in these loads: who it is and its deadline (16
/// bytes, the size of the runtime's `Action`).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tag {
    id: u32,
    at: u64,
}

type Key = (u32, u64);

/// The interface the heap and the wheel share, so one load drives both.
trait Timers {
    const NAME: &'static str;
    fn new() -> Self;
    fn insert(&mut self, at: u64, tag: Tag) -> Key;
    fn cancel(&mut self, key: Key) -> Option<Tag>;
    fn pop_due(&mut self, now: u64) -> Option<Tag>;
    fn earliest(&self) -> u64;
    fn len(&self) -> usize;
    /// The first instant at which a timer armed at `at` may be popped.
    fn fires_at(at: u64) -> u64;
    /// Panics if the structure's own bookkeeping is inconsistent.
    fn check(&self) {}
}

impl Timers for Heap<Tag> {
    const NAME: &'static str = "heap";
    fn new() -> Self {
        Heap::new()
    }
    fn insert(&mut self, at: u64, tag: Tag) -> Key {
        Heap::insert(self, at, tag)
    }
    fn cancel(&mut self, (slot, gen): Key) -> Option<Tag> {
        Heap::cancel(self, slot, gen)
    }
    fn pop_due(&mut self, now: u64) -> Option<Tag> {
        Heap::pop_due(self, now)
    }
    fn earliest(&self) -> u64 {
        Heap::earliest(self)
    }
    fn len(&self) -> usize {
        Heap::len(self)
    }
    fn fires_at(at: u64) -> u64 {
        at
    }
}

impl<const TICK_SHIFT: u32> Timers for Wheel<Tag, TICK_SHIFT> {
    const NAME: &'static str = match TICK_SHIFT {
        16 => "wheel_65us",
        20 => "wheel_1ms",
        _ => "wheel",
    };
    fn new() -> Self {
        Wheel::new()
    }
    fn insert(&mut self, at: u64, tag: Tag) -> Key {
        Wheel::insert(self, at, tag)
    }
    fn cancel(&mut self, (slot, gen): Key) -> Option<Tag> {
        Wheel::cancel(self, slot, gen)
    }
    fn pop_due(&mut self, now: u64) -> Option<Tag> {
        Wheel::pop_due(self, now)
    }
    fn earliest(&self) -> u64 {
        Wheel::earliest(self)
    }
    fn len(&self) -> usize {
        Wheel::len(self)
    }
    fn fires_at(at: u64) -> u64 {
        ((at >> TICK_SHIFT) << TICK_SHIFT).saturating_add(1 << TICK_SHIFT)
    }
    fn check(&self) {
        self.check_invariants()
    }
}

/// xorshift64: deterministic deadlines and choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the sleep steps of a load saw.
#[derive(Default)]
struct Stats {
    wakes: u64,
    late_sum: u64,
    late_max: u64,
    /// Pops at `earliest()` that found nothing due.
    empty_wakes: u64,
    /// Socket deadlines that fired (their connection re-arms).
    timeouts: u64,
}

/// A shard's timers under a load: timers `0..sleepers` sleep 1 ms in a
/// loop, the rest are socket deadlines replaced oldest first.
struct Load<T> {
    timers: T,
    now: u64,
    keys: Vec<Key>,
    sleepers: u32,
    next_socket: u32,
    /// Operations so far (the mixed loads interleave by it).
    ops: u64,
    /// Read `earliest()` after every change, as the shard publishes it.
    publish: bool,
    stats: Stats,
}

impl<T: Timers> Load<T> {
    fn new(armed: usize, sleepers: usize, publish: bool) -> Load<T> {
        let mut timers = T::new();
        // Stand the structure at the start (a wheel counts from there).
        assert!(timers.pop_due(START).is_none());
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        // Slots freed in a random order, as in a process that has run a
        // while: timers then take slots in no relation to their deadlines
        // or to one another (arming into a fresh slab hands them out in
        // order, which a wheel's lists would then walk sequentially).
        let mut placeholders: Vec<Key> = (0..armed as u32)
            .map(|id| {
                timers.insert(
                    u64::MAX - 1,
                    Tag {
                        id,
                        at: u64::MAX - 1,
                    },
                )
            })
            .collect();
        for i in (1..placeholders.len()).rev() {
            placeholders.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for key in placeholders {
            assert!(timers.cancel(key).is_some());
        }
        let sockets = (armed - sleepers) as u64;
        let keys = (0..armed as u32)
            .map(|id| {
                let at = match (id as usize) < sleepers {
                    true => START + rng.below(SLEEP),
                    // Oldest first, one step apart, as the churn left them.
                    false => {
                        START + DEADLINE - (sockets - (id as u64 - sleepers as u64)) * CHURN_STEP
                    }
                };
                timers.insert(at, Tag { id, at })
            })
            .collect();
        Load {
            timers,
            now: START,
            keys,
            sleepers: sleepers as u32,
            next_socket: sleepers as u32,
            ops: 0,
            publish,
            stats: Stats::default(),
        }
    }

    #[inline]
    fn published(&self) {
        if self.publish {
            black_box(self.timers.earliest());
        }
    }

    /// Arms timer `id` again, `period` after now.
    fn rearm(&mut self, id: u32, period: u64) {
        let at = self.now + period;
        self.keys[id as usize] = self.timers.insert(at, Tag { id, at });
        self.published();
    }

    /// The clock moves to `earliest()`, the due timer fires and re-arms.
    fn wake_one(&mut self) {
        loop {
            self.now = self.now.max(self.timers.earliest());
            let Some(tag) = self.timers.pop_due(self.now) else {
                self.stats.empty_wakes += 1;
                self.published();
                continue;
            };
            self.published();
            let late = self.now - tag.at;
            self.stats.wakes += 1;
            self.stats.late_sum += late;
            self.stats.late_max = self.stats.late_max.max(late);
            let period = match tag.id < self.sleepers {
                true => SLEEP,
                false => {
                    self.stats.timeouts += 1;
                    DEADLINE
                }
            };
            self.rearm(tag.id, period);
            return;
        }
    }

    /// The oldest socket deadline is cancelled (its read completed) and
    /// the next read's deadline armed.
    fn replace_deadline(&mut self) {
        let id = self.next_socket;
        self.next_socket = match id as usize + 1 == self.keys.len() {
            true => self.sleepers,
            false => id + 1,
        };
        // Always armed: a deadline that fired was re-armed under a new key.
        let cancelled = self.timers.cancel(self.keys[id as usize]);
        assert!(cancelled.is_some(), "cancelled a live deadline");
        self.published();
        self.rearm(id, DEADLINE);
    }
}

/// The five loads (see the module docs).
#[derive(Clone, Copy)]
enum Kind {
    SleepLoop,
    DeadlineChurn,
    ChurnPublish,
    Mixed,
    MixedPublish,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::SleepLoop,
        Kind::DeadlineChurn,
        Kind::ChurnPublish,
        Kind::Mixed,
        Kind::MixedPublish,
    ];

    fn group(self) -> &'static str {
        match self {
            Kind::SleepLoop => "timer_sleep_loop",
            Kind::DeadlineChurn => "timer_deadline_churn",
            Kind::ChurnPublish => "timer_churn_publish",
            Kind::Mixed => "timer_mixed",
            Kind::MixedPublish => "timer_mixed_publish",
        }
    }

    /// A load of this kind on `armed` timers.
    fn load<T: Timers>(self, armed: usize) -> Load<T> {
        match self {
            Kind::SleepLoop => Load::new(armed, armed, false),
            Kind::DeadlineChurn => Load::new(armed, 0, false),
            Kind::ChurnPublish => Load::new(armed, 0, true),
            Kind::Mixed => Load::new(armed, armed / 10, false),
            Kind::MixedPublish => Load::new(armed, armed / 10, true),
        }
    }

    /// One operation of this kind on `load`.
    #[inline]
    fn step<T: Timers>(self, load: &mut Load<T>) {
        match self {
            Kind::SleepLoop => load.wake_one(),
            Kind::DeadlineChurn | Kind::ChurnPublish => {
                load.replace_deadline();
                load.now += CHURN_STEP;
            }
            // Nine deadline replacements, then one wake-up.
            Kind::Mixed | Kind::MixedPublish => {
                load.ops += 1;
                match load.ops % 10 {
                    0 => load.wake_one(),
                    _ => load.replace_deadline(),
                }
            }
        }
    }
}

/// Benches one load of `kind` on structure `T` with `armed` timers. The
/// load is built the first time criterion runs the bench (a filtered-out
/// bench costs nothing); what its wake-ups saw is printed after it.
fn bench_one<T: Timers>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    kind: Kind,
    armed: usize,
) {
    let mut load = None;
    group.bench_function(BenchmarkId::new(T::NAME, armed), |b| {
        let load = load.get_or_insert_with(|| kind.load::<T>(armed));
        b.iter(|| kind.step(load))
    });
    let Some(load) = load else { return };
    assert_eq!(load.timers.len(), armed, "every timer stays armed");
    let s = &load.stats;
    if s.wakes > 0 {
        println!(
            "    {}/{}/{armed}: {} wake-ups, lateness mean {:.0} ns, max {} ns; {} empty wake-ups, {} timeouts",
            kind.group(),
            T::NAME,
            s.wakes,
            s.late_sum as f64 / s.wakes as f64,
            s.late_max,
            s.empty_wakes,
            s.timeouts,
        );
    }
}

/// Every load at every size, the three structures one after the other
/// (side by side in time: the machine's load drifts).
fn timer_structures(c: &mut Criterion) {
    for kind in Kind::ALL {
        let mut group = c.benchmark_group(kind.group());
        group
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for armed in SIZES {
            bench_one::<Heap<Tag>>(&mut group, kind, armed);
            bench_one::<Wheel<Tag, 16>>(&mut group, kind, armed);
            bench_one::<Wheel<Tag, 20>>(&mut group, kind, armed);
        }
        group.finish();
    }
}

criterion_group!(benches, timer_structures);

fn main() {
    checks::run();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The structures' correctness, checked before they are measured.
mod checks {
    use super::*;
    use std::collections::HashMap;

    pub(super) fn run() {
        documented_example();
        far_deadlines::<Wheel<Tag, 16>>();
        far_deadlines::<Wheel<Tag, 20>>();
        far_deadlines::<Heap<Tag>>();
        against_model::<Heap<Tag>>();
        against_model::<Wheel<Tag, 16>>();
        against_model::<Wheel<Tag, 20>>();
        sleep_lateness::<Heap<Tag>>(0);
        sleep_lateness::<Wheel<Tag, 16>>(1 << 16);
        sleep_lateness::<Wheel<Tag, 20>>(1 << 20);
        for (count, window) in [(100_000, 1_000_000_000), (100, 60_000_000_000)] {
            spread_lateness::<Heap<Tag>>(0, count, window);
            spread_lateness::<Wheel<Tag, 16>>(1 << 16, count, window);
            spread_lateness::<Wheel<Tag, 20>>(1 << 20, count, window);
        }
        println!("timer structures: checks passed");
    }

    /// The example in `Wheel`'s docs.
    fn documented_example() {
        let mut wheel: Wheel<&str, 16> = Wheel::new();
        let (slot, gen) = wheel.insert(1_000_000, "one ms");
        assert_eq!(wheel.pop_due(999_999), None); // never early
        assert_eq!(wheel.earliest(), 1_048_576); // the first tick boundary after it
        assert_eq!(wheel.pop_due(1_048_576), Some("one ms"));
        assert_eq!(wheel.cancel(slot, gen), None); // fired: the key is stale
    }

    /// Deadlines across the whole `u64` range fire when due, the last
    /// representable ones never do, and all of them cancel.
    fn far_deadlines<T: Timers>() {
        let mut timers = T::new();
        let ats = [
            1 << 40,
            1 << 50,
            1 << 63,
            u64::MAX - (1 << 20),
            u64::MAX - 1,
        ];
        let keys: Vec<Key> = ats
            .iter()
            .enumerate()
            .map(|(id, &at)| timers.insert(at, Tag { id: id as u32, at }))
            .collect();
        for &at in &ats[..3] {
            let fires = T::fires_at(at);
            assert_eq!(
                timers.pop_due(fires - 1),
                None,
                "{}: early at {at}",
                T::NAME
            );
            assert_eq!(timers.earliest(), fires, "{}: earliest of {at}", T::NAME);
            let tag = timers.pop_due(fires).expect("due at its instant");
            assert_eq!(tag.at, at, "{}: fired in order", T::NAME);
        }
        // At the end of time (the latest clock `timer.rs` reads) the rest
        // fires, except what a structure cannot fire at all (a wheel's last
        // tick).
        let mut fired = Vec::new();
        while let Some(tag) = timers.pop_due(u64::MAX - 1) {
            fired.push(tag.at);
        }
        assert!(fired.contains(&ats[3]), "{}: {} fires", T::NAME, ats[3]);
        let last_fires = T::fires_at(ats[4]) < u64::MAX;
        assert_eq!(
            fired.contains(&ats[4]),
            last_fires,
            "{}: the last tick",
            T::NAME
        );
        for (id, key) in keys.iter().enumerate().skip(3) {
            if let Some(tag) = timers.cancel(*key) {
                assert_eq!(tag.id as usize, id);
            }
        }
        assert_eq!(timers.len(), 0, "{}: all fired or cancelled", T::NAME);
        timers.check();
    }

    /// A random sequence of arms (near, far, past, huge), cancels (live
    /// and stale keys) and pops (small and large clock steps, stale
    /// clocks, drains), each result compared with a model of what is
    /// armed.
    fn against_model<T: Timers>() {
        let mut timers = T::new();
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        // id -> (key, at)
        let mut live: HashMap<u32, (Key, u64)> = HashMap::new();
        let mut ids: Vec<u32> = Vec::new();
        let mut stale: Vec<Key> = Vec::new();
        let mut next_id = 0u32;
        // The latest clock any caller used: nothing armed after it fired.
        let mut clock = START;
        assert!(timers.pop_due(clock).is_none());
        for op in 0..100_000u32 {
            match rng.below(100) {
                0..=59 => {
                    let at = match rng.below(8) {
                        0 => clock + rng.below(100_000),
                        1 => clock + rng.below(10_000_000),
                        2 => clock + rng.below(60_000_000_000),
                        3 => clock.saturating_sub(rng.below(5_000_000)),
                        4 => ((clock >> 16) + rng.below(300)) << 16,
                        5 if rng.below(50) == 0 => u64::MAX - 1 - rng.below(1 << 22),
                        6 if rng.below(10) == 0 => clock + rng.below(1 << 50),
                        _ => clock + rng.below(2_000_000),
                    };
                    let id = next_id;
                    next_id += 1;
                    let key = timers.insert(at, Tag { id, at });
                    live.insert(id, (key, at));
                    ids.push(id);
                }
                60..=69 if !ids.is_empty() => {
                    let id = ids.swap_remove(rng.below(ids.len() as u64) as usize);
                    let (key, at) = live.remove(&id).expect("listed ids are live");
                    assert_eq!(
                        timers.cancel(key),
                        Some(Tag { id, at }),
                        "{}: cancel",
                        T::NAME
                    );
                    assert_eq!(timers.cancel(key), None, "{}: cancelled twice", T::NAME);
                    stale.push(key);
                }
                70..=74 if !stale.is_empty() => {
                    let key = stale[rng.below(stale.len() as u64) as usize];
                    assert_eq!(
                        timers.cancel(key),
                        None,
                        "{}: a stale key cancelled",
                        T::NAME
                    );
                }
                _ => {
                    let stale_clock = rng.below(10) == 0;
                    let now = match stale_clock {
                        true => clock.saturating_sub(rng.below(3_000_000)),
                        false => {
                            clock = match rng.below(200) {
                                0 => clock.saturating_add(rng.below(3_000_000_000)),
                                1 if rng.below(10) == 0 => clock.saturating_add(rng.below(1 << 44)),
                                _ => clock + rng.below(300_000),
                            };
                            clock
                        }
                    };
                    let drain = !stale_clock && rng.below(10) == 0;
                    loop {
                        match timers.pop_due(now) {
                            Some(tag) => {
                                assert!(
                                    T::fires_at(tag.at) <= clock,
                                    "{}: {tag:?} fired early (clock {clock})",
                                    T::NAME
                                );
                                let (key, at) = live.remove(&tag.id).expect("fired a live timer");
                                assert_eq!(at, tag.at);
                                ids.retain(|&id| id != tag.id);
                                stale.push(key);
                                if !drain {
                                    break;
                                }
                            }
                            None => {
                                if !stale_clock {
                                    let left = live
                                        .values()
                                        .filter(|&&(_, at)| T::fires_at(at) <= now)
                                        .count();
                                    assert_eq!(
                                        left,
                                        0,
                                        "{}: due timers left behind at {now}",
                                        T::NAME
                                    );
                                }
                                break;
                            }
                        }
                    }
                }
            }
            assert_eq!(timers.len(), live.len(), "{}: len", T::NAME);
            let earliest = timers.earliest();
            let first = live
                .values()
                .map(|&(_, at)| T::fires_at(at))
                .min()
                .unwrap_or(u64::MAX);
            assert!(
                earliest <= first,
                "{}: earliest {earliest} after a timer's {first}",
                T::NAME
            );
            if earliest == u64::MAX {
                // Empty, or only timers of the last tick, which never fire.
                assert!(live.values().all(|&(_, at)| T::fires_at(at) == u64::MAX));
            }
            if op % 64 == 0 {
                timers.check();
            }
        }
        timers.check();
        // Sleeping until `earliest` again and again drains every timer
        // that can fire, in a bounded number of empty wake-ups.
        let mut empty = 0;
        while timers.earliest() != u64::MAX {
            let now = timers.earliest().max(clock);
            clock = now;
            match timers.pop_due(now) {
                Some(tag) => {
                    assert!(
                        T::fires_at(tag.at) <= now,
                        "{}: early in the drain",
                        T::NAME
                    );
                    live.remove(&tag.id).expect("fired a live timer");
                }
                None => {
                    empty += 1;
                    assert!(
                        empty < 1_000_000,
                        "{}: the drain makes no progress",
                        T::NAME
                    );
                }
            }
        }
        assert!(live.values().all(|&(_, at)| T::fires_at(at) == u64::MAX));
        timers.check();
    }

    /// `count` deadlines spread uniformly over `window` ns, fired by a
    /// watcher that sleeps until `earliest()`: a wheel's lateness is
    /// uniform over its tick (mean half a tick, never more than one), the
    /// heap's zero. Prints what it measured, with the watcher's empty
    /// wake-ups (a wheel's `earliest` is a lower bound above level 0).
    fn spread_lateness<T: Timers>(resolution: u64, count: u64, window: u64) {
        let mut timers = T::new();
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        assert!(timers.pop_due(START).is_none());
        for id in 0..count as u32 {
            let at = START + rng.below(window);
            timers.insert(at, Tag { id, at });
        }
        let (mut now, mut late_sum, mut late_max, mut empty) = (START, 0, 0, 0);
        while timers.len() > 0 {
            now = now.max(timers.earliest());
            match timers.pop_due(now) {
                Some(tag) => {
                    late_sum += now - tag.at;
                    late_max = late_max.max(now - tag.at);
                }
                None => empty += 1,
            }
        }
        let mean = late_sum / count;
        println!(
            "timer structures: {} fires {count} deadlines spread over {} s {mean} ns late on average, {late_max} ns at most, with {empty} empty wake-ups",
            T::NAME,
            window / 1_000_000_000
        );
        assert!(late_max <= resolution, "{}: later than a tick", T::NAME);
        if count >= 10_000 {
            assert!(
                mean.abs_diff(resolution / 2) <= resolution / 20,
                "{}: mean lateness {mean} ns, not half a tick",
                T::NAME
            );
        }
    }

    /// The sleep loop fires every sleeper within the structure's
    /// resolution of its deadline.
    fn sleep_lateness<T: Timers>(resolution: u64) {
        let mut load = Load::<T>::new(2_000, 2_000, false);
        for _ in 0..50_000 {
            load.wake_one();
        }
        let s = &load.stats;
        assert!(
            s.late_max <= resolution,
            "{}: {} ns late with {resolution} ns resolution",
            T::NAME,
            s.late_max
        );
        assert_eq!(load.timers.len(), 2_000);
        load.timers.check();
    }
}
