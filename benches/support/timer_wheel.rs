//! A hierarchical timing wheel with the interface of goro's timer heap
//! (`runtime/scheduler/timer_heap.rs`): the measured alternative that
//! `benches/timer_structures.rs` runs beside the heap. Bench-only code;
//! goro itself does not use it.
//!
//! # Layout
//!
//! Time is counted in ticks of `2^TICK_SHIFT` ns (`TICK_SHIFT` = 16: 65.5
//! µs; 20: 1.05 ms, tokio's resolution). Eight levels of 64 slots cover all
//! 48 bits of a tick (a tick is a `u64` of nanoseconds shifted right by at
//! least 16), so no deadline is ever clamped. A slot at level `L` holds the
//! entries whose tick shares every 6-bit digit above `L` with the wheel's
//! position (`elapsed`) and whose digit `L` is the slot's: the tokio layout.
//! Entries live in a slab and sit in doubly linked lists threaded through
//! it (one per slot, plus the list of due entries), so `insert` and
//! `cancel` are O(1), and nothing is allocated once the slab has grown. An
//! occupancy bitmap per level finds the next non-empty slot.
//!
//! # Firing: never early, late by at most one tick
//!
//! An entry armed at `at` ns has tick `at >> TICK_SHIFT` and becomes due
//! once `now >> TICK_SHIFT` is past its tick, that is at the first tick
//! boundary *after* `at`: `pop_due(now)` never returns an entry with
//! `at > now`, and returns every entry with `at < (now >> TICK_SHIFT) <<
//! TICK_SHIFT`. The lateness this adds to a caller that polls continuously
//! is in `(0, 2^TICK_SHIFT]` ns (uniform deadlines: half a tick on
//! average). `pop_due` advances the wheel slot by slot: a due level-0 slot
//! moves to the due list whole; a slot of a higher level is *cascaded*,
//! its entries placed again relative to the new position (one level lower
//! at least, or straight onto the due list).
//!
//! # `earliest` is a lower bound
//!
//! [`Wheel::earliest`] is the instant at which `pop_due` next has work: the
//! exact firing instant of the earliest entry when it sits at level 0, but
//! only the start of a higher-level slot otherwise (the entries in it are
//! not ordered). A watcher that sleeps until `earliest` wakes, cascades the
//! slot (`pop_due` returns `None`) and sleeps again until the new
//! `earliest`: at most one such empty wake-up per level between two
//! firings, and only when every lower level is empty.
//! `benches/timer_structures.rs` counts them. A shard publishing
//! `earliest` after every change also cannot test "is the new timer the
//! first" as `earliest() == at` (the heap's test in `timer.rs`): it has to
//! compare `earliest` before and after the insert.

/// Bits of a tick per level: 64 slots a level.
const LEVEL_BITS: u32 = 6;
const SLOTS: usize = 1 << LEVEL_BITS;
/// 8 × 6 = 48 bits: every tick of a `u64` nanosecond deadline shifted by 16
/// or more.
const LEVELS: usize = 8;
/// The index of the list of due entries in `heads`, after the slots.
const DUE: usize = LEVELS * SLOTS;
/// No entry: the end of a list.
const NONE: u32 = u32::MAX;

/// A hierarchical timing wheel of actions `A`, ticks of `2^TICK_SHIFT` ns.
/// Keys are `(slot, generation)` as for the heap: a stale key (the entry
/// fired or was cancelled, its slot reused) does nothing.
///
/// ```ignore
/// let mut wheel: Wheel<&str, 16> = Wheel::new();
/// let (slot, gen) = wheel.insert(1_000_000, "one ms");
/// assert_eq!(wheel.pop_due(999_999), None); // never early
/// assert_eq!(wheel.earliest(), 1_048_576); // the first tick boundary after it
/// assert_eq!(wheel.pop_due(1_048_576), Some("one ms"));
/// assert_eq!(wheel.cancel(slot, gen), None); // fired: the key is stale
/// ```
///
/// (The example is checked by `checks::documented_example` in
/// `benches/timer_structures.rs`: this file is not a library's module, so
/// rustdoc does not run it.)
pub(crate) struct Wheel<A, const TICK_SHIFT: u32> {
    entries: Vec<Entry<A>>,
    /// The first entry of each slot's list, then of the due list.
    heads: [u32; DUE + 1],
    /// Per level, bit `d` set when slot `d` holds an entry.
    occupied: [u64; LEVELS],
    /// The wheel's position, in ticks. Every entry in a slot shares its
    /// digits above the entry's level, every occupied slot starts at or
    /// after it, and every slot above level 0 after it: so the slots of a
    /// level all start after every entry of the levels below, and the
    /// lowest occupied slot of the lowest occupied level is the earliest.
    elapsed: u64,
    /// First free entry, or [`NONE`]; free entries chain through `next`.
    free: u32,
    /// Armed entries (in slots or due).
    len: usize,
}

struct Entry<A> {
    /// Bumped every time the entry is freed (64 bits: never wraps).
    gen: u64,
    /// The deadline in ticks (`at >> TICK_SHIFT`).
    tick: u64,
    /// Neighbours in its list ([`NONE`] at the ends); `next` chains the
    /// free list while free.
    prev: u32,
    next: u32,
    /// Index in `heads` of the list it is in, while armed.
    list: u32,
    action: Option<A>,
}

/// The level at which an entry of tick `tick` sits when the wheel is at
/// `elapsed`: the highest 6-bit digit in which they differ (0 if none).
fn level_for(elapsed: u64, tick: u64) -> usize {
    let differing = (elapsed ^ tick) | (SLOTS as u64 - 1);
    ((63 - differing.leading_zeros()) / LEVEL_BITS) as usize
}

fn digit(tick: u64, level: usize) -> usize {
    ((tick >> (level as u32 * LEVEL_BITS)) as usize) & (SLOTS - 1)
}

impl<A, const TICK_SHIFT: u32> Wheel<A, TICK_SHIFT> {
    pub(crate) const fn new() -> Wheel<A, TICK_SHIFT> {
        const {
            assert!(
                TICK_SHIFT >= 64 - LEVELS as u32 * LEVEL_BITS && TICK_SHIFT < 64,
                "ticks of 2^16 ns or more: 8 levels of 64 slots cover them"
            )
        };
        Wheel {
            entries: Vec::new(),
            heads: [NONE; DUE + 1],
            occupied: [0; LEVELS],
            elapsed: 0,
            free: NONE,
            len: 0,
        }
    }

    /// Arms `action` at `at` (ns); returns its slot and generation (its
    /// key). O(1).
    pub(crate) fn insert(&mut self, at: u64, action: A) -> (u32, u64) {
        let index = match self.free {
            NONE => {
                let index = u32::try_from(self.entries.len())
                    .ok()
                    .filter(|&i| i != NONE)
                    .expect("over 4 billion timers in one wheel");
                self.entries.push(Entry {
                    gen: 0,
                    tick: 0,
                    prev: NONE,
                    next: NONE,
                    list: NONE,
                    action: None,
                });
                index
            }
            index => {
                self.free = self.entries[index as usize].next;
                index
            }
        };
        let entry = &mut self.entries[index as usize];
        entry.tick = at >> TICK_SHIFT;
        entry.action = Some(action);
        let gen = entry.gen;
        // Due already if its tick is behind the wheel (the wheel only
        // advances to a tick some caller's clock has passed).
        self.place(index, self.elapsed);
        self.len += 1;
        (index, gen)
    }

    /// Removes the armed timer in `slot` if its generation is `gen`. O(1).
    pub(crate) fn cancel(&mut self, slot: u32, gen: u64) -> Option<A> {
        let entry = self.entries.get(slot as usize)?;
        if entry.gen != gen || entry.action.is_none() {
            return None;
        }
        Some(self.remove(slot))
    }

    /// Removes and returns an entry due at `now` (ns): one whose tick is
    /// before `now`'s tick. Advances the wheel to `now`, cascading the
    /// slots it passes.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<A> {
        let target = now >> TICK_SHIFT;
        while self.heads[DUE] == NONE {
            let Some((level, digit)) = self.next_slot() else {
                self.elapsed = self.elapsed.max(target);
                return None;
            };
            let start = self.slot_start(level, digit);
            if start > target || (start == target && level == 0) {
                // No slot starts before `target` and none above level 0
                // at it, so the wheel can stand there without moving an
                // entry.
                self.elapsed = self.elapsed.max(target);
                return None;
            }
            // The earliest occupied slot: no entry is before its start.
            self.elapsed = start;
            self.cascade(level, digit, target);
        }
        Some(self.remove(self.heads[DUE]))
    }

    /// When `pop_due` next has work (ns): 0 while due entries wait; the exact instant the earliest entry becomes due when
    /// it sits at level 0; the first instant after the start of the
    /// earliest higher-level slot otherwise (a lower bound: see the module
    /// docs). `u64::MAX` if nothing is armed (or only entries in the last
    /// tick of time, which never become due).
    pub(crate) fn earliest(&self) -> u64 {
        if self.heads[DUE] != NONE {
            return 0;
        }
        match self.next_slot() {
            None => u64::MAX,
            Some((level, digit)) => {
                // The end of the slot's first tick, in ns.
                let first_tick = self.slot_start(level, digit);
                ((first_tick << TICK_SHIFT) | ((1 << TICK_SHIFT) - 1)).saturating_add(1)
            }
        }
    }

    /// Armed entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The lowest occupied level and its lowest occupied slot: the
    /// earliest slot (see `elapsed`).
    fn next_slot(&self) -> Option<(usize, usize)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        Some((level, self.occupied[level].trailing_zeros() as usize))
    }

    /// The first tick of slot `digit` at `level`: the wheel's position with
    /// the digits up to `level` replaced.
    fn slot_start(&self, level: usize, digit: usize) -> u64 {
        let below = (level as u32 + 1) * LEVEL_BITS;
        let span = (1u64 << below) - 1;
        (self.elapsed & !span) | ((digit as u64) << (level as u32 * LEVEL_BITS))
    }

    /// Empties a slot: each of its entries goes onto the due list if its
    /// tick is before `target`, else into a lower level.
    fn cascade(&mut self, level: usize, digit: usize, target: u64) {
        let list = level * SLOTS + digit;
        let mut index = std::mem::replace(&mut self.heads[list], NONE);
        self.occupied[level] &= !(1 << digit);
        while index != NONE {
            let next = self.entries[index as usize].next;
            self.place(index, target);
            index = next;
        }
    }

    /// Pushes entry `index` onto the due list if its tick is before
    /// `due_before`, else into its slot relative to the wheel's position.
    fn place(&mut self, index: u32, due_before: u64) {
        let tick = self.entries[index as usize].tick;
        let list = if tick < due_before {
            DUE
        } else {
            let level = level_for(self.elapsed, tick);
            let digit = digit(tick, level);
            self.occupied[level] |= 1 << digit;
            level * SLOTS + digit
        };
        let head = self.heads[list];
        let entry = &mut self.entries[index as usize];
        entry.prev = NONE;
        entry.next = head;
        entry.list = list as u32;
        if head != NONE {
            self.entries[head as usize].prev = index;
        }
        self.heads[list] = index;
    }

    /// Unlinks armed entry `index` from its list and frees it.
    fn remove(&mut self, index: u32) -> A {
        let entry = &self.entries[index as usize];
        let (prev, next, list) = (entry.prev, entry.next, entry.list as usize);
        match prev {
            NONE => self.heads[list] = next,
            prev => self.entries[prev as usize].next = next,
        }
        if next != NONE {
            self.entries[next as usize].prev = prev;
        }
        if self.heads[list] == NONE && list != DUE {
            self.occupied[list / SLOTS] &= !(1 << (list % SLOTS));
        }
        self.len -= 1;
        let entry = &mut self.entries[index as usize];
        entry.gen += 1;
        entry.next = self.free;
        self.free = index;
        entry.action.take().expect("an armed entry has an action")
    }

    /// Panics unless every armed entry is in the list its tick and the
    /// wheel's position say, the lists and bitmaps agree, and `len` counts
    /// them (the checks in `benches/timer_structures.rs` call it).
    pub(crate) fn check_invariants(&self) {
        let mut armed = 0;
        for (list, &head) in self.heads.iter().enumerate() {
            let mut prev = NONE;
            let mut index = head;
            while index != NONE {
                let entry = &self.entries[index as usize];
                assert!(entry.action.is_some(), "a listed entry is armed");
                assert_eq!(entry.list as usize, list, "an entry knows its list");
                assert_eq!(entry.prev, prev, "back links match");
                if list != DUE {
                    let (level, slot) = (list / SLOTS, list % SLOTS);
                    let above = (level as u32 + 1) * LEVEL_BITS;
                    assert_eq!(
                        entry.tick >> above,
                        self.elapsed >> above,
                        "shares the wheel's digits above its level"
                    );
                    assert_eq!(digit(entry.tick, level), slot, "in its slot");
                    let start = self.slot_start(level, slot);
                    assert!(start >= self.elapsed, "no slot behind the wheel");
                    assert!(
                        level == 0 || start > self.elapsed,
                        "no slot above level 0 at the wheel's position"
                    );
                }
                armed += 1;
                prev = index;
                index = entry.next;
            }
            if list != DUE {
                let bit = self.occupied[list / SLOTS] >> (list % SLOTS) & 1;
                assert_eq!(
                    bit == 1,
                    head != NONE,
                    "the bitmap says which slots hold entries"
                );
            }
        }
        assert_eq!(armed, self.len, "len counts the listed entries");
        let live = self.entries.iter().filter(|e| e.action.is_some()).count();
        assert_eq!(live, self.len, "every armed entry is listed");
    }
}
