//! The data structure under each timer shard (`timer.rs`): a 4-ary
//! min-heap of deadlines whose entries live in a slab and know their heap
//! index. Knows nothing of what a timer does (`A`) or of locks: the shard
//! wraps it.
//!
//! Costs: arming is O(log n), and O(1) for the commonest pattern, a
//! deadline later than every other (a socket timeout set before each read
//! only ever moves forward). Firing is O(log n). Cancelling is O(1): the
//! entry is marked dead and its action dropped; dead entries leave all at
//! once, in an O(n) sweep when they outnumber the live ones (so the heap
//! stays under twice the live count), or one by one when they come due.
//! Go's runtime deletes timers lazily the same way (`timerDeleted`).
//!
//! The price: [`Heap::earliest`] may be a dead entry's deadline, earlier
//! than any live one, so a worker may look (and the timer watcher wake)
//! once for nothing. Removing a dead top eagerly instead cost a sift per
//! cancel in the commonest churn, where the oldest deadline is the one
//! cancelled next (connections served in turn): measured with callgrind on
//! an echo server that sets a read timeout before every read, 285
//! instructions a round trip in `sift_down` alone. Nothing is allocated
//! once the slab has grown.

/// A 4-ary min-heap of `(deadline, slot)` over a slab of entries.
pub(crate) struct Heap<A> {
    order: Vec<(u64, u32)>,
    slots: Vec<Slot<A>>,
    /// Free slots (not in `order`).
    free: Vec<u32>,
    /// Entries in `order` whose timer was cancelled.
    dead: usize,
}

struct Slot<A> {
    /// Bumped when the timer is cancelled or fires: tells a live key from a
    /// stale one (64 bits: never wraps).
    gen: u64,
    /// Index in `order` while the slot is in the heap.
    pos: u32,
    /// `None` once cancelled (dead, still in `order`) or free.
    action: Option<A>,
}

/// Dead entries are swept all at once only past this many (below it the
/// top-of-heap rule keeps a small heap small enough).
const SWEEP_AT: usize = 64;

impl<A> Heap<A> {
    pub(crate) const fn new() -> Heap<A> {
        Heap {
            order: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            dead: 0,
        }
    }

    /// The earliest deadline (perhaps of a cancelled entry: never later
    /// than the earliest live one), `u64::MAX` if empty.
    pub(crate) fn earliest(&self) -> u64 {
        self.order.first().map_or(u64::MAX, |&(at, _)| at)
    }

    /// Armed (live) timers.
    pub(crate) fn len(&self) -> usize {
        self.order.len() - self.dead
    }

    /// Arms `action` at `at`; returns its slot and generation (its key).
    pub(crate) fn insert(&mut self, at: u64, action: A) -> (u32, u64) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len())
                    .expect("goro: over 4 billion timers in one shard");
                self.slots.push(Slot {
                    gen: 0,
                    pos: 0,
                    action: None,
                });
                slot
            }
        };
        let pos = self.order.len();
        let entry = &mut self.slots[slot as usize];
        entry.action = Some(action);
        let gen = entry.gen;
        self.order.push((at, slot));
        self.sift_up(pos);
        (slot, gen)
    }

    /// Disarms the timer in `slot` if its generation is `gen`, returning
    /// its action (for the caller to drop outside its lock).
    pub(crate) fn cancel(&mut self, slot: u32, gen: u64) -> Option<A> {
        let entry = self.slots.get_mut(slot as usize)?;
        if entry.gen != gen {
            return None;
        }
        let action = entry.action.take()?;
        entry.gen += 1;
        self.dead += 1;
        if self.dead > SWEEP_AT && self.dead > self.order.len() / 2 {
            self.sweep();
        }
        Some(action)
    }

    /// Removes and returns the earliest live timer if it is due at `now`
    /// (dead entries that came due leave on the way).
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<A> {
        while self.order.first().is_some_and(|&(at, _)| at <= now) {
            let slot = self.remove_top();
            let entry = &mut self.slots[slot as usize];
            match entry.action.take() {
                Some(action) => {
                    entry.gen += 1;
                    return Some(action);
                }
                None => self.dead -= 1,
            }
        }
        None
    }

    /// Removes the top entry, frees its slot and returns it.
    fn remove_top(&mut self) -> u32 {
        let (_, slot) = self.order[0];
        let last = self.order.pop().expect("remove_top on an empty heap");
        if !self.order.is_empty() {
            self.order[0] = last;
            self.sift_down(0);
        }
        self.free.push(slot);
        slot
    }

    /// Removes every dead entry and rebuilds the heap (O(n)).
    fn sweep(&mut self) {
        let (slots, free) = (&self.slots, &mut self.free);
        self.order.retain(|&(_, slot)| {
            let live = slots[slot as usize].action.is_some();
            if !live {
                free.push(slot);
            }
            live
        });
        self.dead = 0;
        for pos in 0..self.order.len() {
            let slot = self.order[pos].1;
            self.slots[slot as usize].pos = pos as u32;
        }
        // Floyd's heap construction: sift down every parent, last first.
        for pos in (0..self.order.len().div_ceil(4)).rev() {
            self.sift_down(pos);
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        let item = self.order[pos];
        while pos > 0 {
            let parent = (pos - 1) / 4;
            if self.order[parent].0 <= item.0 {
                break;
            }
            self.place(pos, self.order[parent]);
            pos = parent;
        }
        self.place(pos, item);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let item = self.order[pos];
        let len = self.order.len();
        loop {
            let first = 4 * pos + 1;
            if first >= len {
                break;
            }
            let mut min = first;
            for child in first + 1..(first + 4).min(len) {
                if self.order[child].0 < self.order[min].0 {
                    min = child;
                }
            }
            if self.order[min].0 >= item.0 {
                break;
            }
            self.place(pos, self.order[min]);
            pos = min;
        }
        self.place(pos, item);
    }

    fn place(&mut self, pos: usize, item: (u64, u32)) {
        self.order[pos] = item;
        self.slots[item.1 as usize].pos = pos as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// The heap's invariants: heap order, every slot knows its place, the
    /// dead count is right.
    fn check(heap: &Heap<u64>) {
        let mut dead = 0;
        for (pos, &(at, slot)) in heap.order.iter().enumerate() {
            assert_eq!(
                heap.slots[slot as usize].pos as usize, pos,
                "slot knows its place"
            );
            if pos > 0 {
                assert!(heap.order[(pos - 1) / 4].0 <= at, "heap order at {pos}");
            }
            dead += usize::from(heap.slots[slot as usize].action.is_none());
        }
        assert_eq!(dead, heap.dead);
    }

    /// Random arms, cancels (live and stale keys) and fires against a
    /// model; `forward` makes deadlines only grow (socket timeouts).
    fn against_a_model(seed: u64, forward: bool) {
        let mut heap: Heap<u64> = Heap::new();
        // (deadline, id) -> key; ids tell equal deadlines apart.
        let mut model: BTreeMap<(u64, u64), (u32, u64)> = BTreeMap::new();
        let mut stale: Vec<(u32, u64)> = Vec::new();
        let (mut x, mut now, mut id) = (seed, 0u64, 0u64);
        for step in 0..20_000 {
            match xorshift(&mut x) % 10 {
                0..=3 => {
                    let at = match forward {
                        true => now + 1000 + step,
                        false => now + xorshift(&mut x) % 1000,
                    };
                    id += 1;
                    let key = heap.insert(at, id);
                    model.insert((at, id), key);
                }
                4..=6 if !model.is_empty() => {
                    let nth = (xorshift(&mut x) % model.len() as u64) as usize;
                    let (&(at, id), &key) = model.iter().nth(nth).unwrap();
                    assert_eq!(heap.cancel(key.0, key.1), Some(id));
                    model.remove(&(at, id));
                    stale.push(key);
                }
                7 if !stale.is_empty() => {
                    let key = stale[(xorshift(&mut x) % stale.len() as u64) as usize];
                    assert_eq!(
                        heap.cancel(key.0, key.1),
                        None,
                        "a stale key cancelled a timer"
                    );
                }
                _ => {
                    now += xorshift(&mut x) % 300;
                    while let Some(fired) = heap.pop_due(now) {
                        // Earliest first; ties in any order.
                        let first = model.keys().next().expect("fired an unarmed timer").0;
                        let (&(at, id), &key) = model
                            .iter()
                            .find(|(k, _)| k.1 == fired)
                            .expect("fired a cancelled or fired timer");
                        assert!(at <= now && at == first, "fired out of order");
                        model.remove(&(at, id));
                        stale.push(key);
                    }
                    assert!(
                        model.keys().next().is_none_or(|&(at, _)| at > now),
                        "a due timer stayed"
                    );
                }
            }
            assert_eq!(heap.len(), model.len());
            assert!(heap.earliest() <= model.keys().next().map_or(u64::MAX, |k| k.0));
            assert!(
                heap.order.len() <= 2 * model.len() + SWEEP_AT + 1,
                "dead entries pile up"
            );
            if step % 97 == 0 {
                check(&heap);
            }
        }
        check(&heap);
    }

    #[test]
    fn behaves_like_a_sorted_map_of_timers() {
        for seed in [0x2545_F491_4F6C_DD1D, 7, 0xDEAD_BEEF] {
            against_a_model(seed, false);
        }
    }

    #[test]
    fn forward_moving_deadlines_with_cancels_stay_bounded() {
        for seed in [1, 0x9E37_79B9_7F4A_7C15] {
            against_a_model(seed, true);
        }
    }
}
