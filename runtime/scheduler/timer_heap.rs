//! The data structure under each timer shard (`timer.rs`): a 4-ary
//! min-heap of deadlines whose entries live in a slab and know their heap
//! index, so arming, firing and cancelling any entry are O(log n) and
//! nothing is allocated once the slab has grown. Knows nothing of what a
//! timer does (`A`) or of locks: the shard wraps it.

/// A 4-ary min-heap of `(deadline, slot)` over a slab of entries that know
/// their place in the heap, so removing any entry is O(log n). Free slab
/// entries form a list through `pos`.
pub(crate) struct Heap<A> {
    order: Vec<(u64, u32)>,
    slots: Vec<Slot<A>>,
    /// First free slot, or [`NONE`].
    free: u32,
}

struct Slot<A> {
    /// Bumped every time the slot is freed: tells a live key from a stale
    /// one (64 bits: never wraps).
    gen: u64,
    /// Index in `order` while armed; the next free slot while free.
    pos: u32,
    action: Option<A>,
}

const NONE: u32 = u32::MAX;

impl<A> Heap<A> {
    pub(crate) const fn new() -> Heap<A> {
        Heap {
            order: Vec::new(),
            slots: Vec::new(),
            free: NONE,
        }
    }

    /// The earliest deadline, `u64::MAX` if empty.
    pub(crate) fn earliest(&self) -> u64 {
        self.order.first().map_or(u64::MAX, |&(at, _)| at)
    }

    /// Arms `action` at `at`; returns its slot and generation (its key).
    pub(crate) fn insert(&mut self, at: u64, action: A) -> (u32, u64) {
        let slot = match self.free {
            NONE => {
                let slot = u32::try_from(self.slots.len())
                    .expect("goro: over 4 billion timers in one shard");
                self.slots.push(Slot {
                    gen: 0,
                    pos: 0,
                    action: None,
                });
                slot
            }
            slot => {
                self.free = self.slots[slot as usize].pos;
                slot
            }
        };
        let pos = self.order.len();
        let entry = &mut self.slots[slot as usize];
        entry.action = Some(action);
        entry.pos = pos as u32;
        let gen = entry.gen;
        self.order.push((at, slot));
        self.sift_up(pos);
        (slot, gen)
    }

    /// Removes the armed timer in `slot` if its generation is `gen`.
    pub(crate) fn cancel(&mut self, slot: u32, gen: u64) -> Option<A> {
        let entry = self.slots.get(slot as usize)?;
        if entry.gen != gen || entry.action.is_none() {
            return None;
        }
        Some(self.remove_at(entry.pos as usize))
    }

    /// Removes the entry at heap index `pos` and frees its slot.
    fn remove_at(&mut self, pos: usize) -> A {
        let (_, slot) = self.order[pos];
        let last = self.order.pop().expect("remove_at on an empty heap");
        if pos < self.order.len() {
            // The last entry fills the hole, then moves whichever way its
            // deadline says (up only if it beats the hole's parent).
            if pos > 0 && last.0 < self.order[(pos - 1) / 4].0 {
                self.order[pos] = last;
                self.sift_up(pos);
            } else {
                self.order[pos] = last;
                self.sift_down(pos);
            }
        }
        let entry = &mut self.slots[slot as usize];
        entry.gen += 1;
        entry.pos = self.free;
        self.free = slot;
        entry.action.take().expect("an armed slot has an action")
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

    /// Armed entries.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<A> {
        (self.earliest() <= now).then(|| self.remove_at(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A heap with `n` entries whose deadlines come from a xorshift
    /// sequence, and their keys.
    fn filled(n: usize) -> (Heap<()>, Vec<(u32, u64, u64)>) {
        let mut heap = Heap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut keys = Vec::new();
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = x % 1000;
            let (slot, gen) = heap.insert(at, ());
            keys.push((slot, gen, at));
        }
        (heap, keys)
    }

    fn check_heap(heap: &Heap<()>) {
        for (pos, &(at, slot)) in heap.order.iter().enumerate() {
            assert_eq!(
                heap.slots[slot as usize].pos as usize, pos,
                "slot knows its place"
            );
            if pos > 0 {
                assert!(heap.order[(pos - 1) / 4].0 <= at, "heap order at {pos}");
            }
        }
    }

    #[test]
    fn pops_in_deadline_order() {
        let (mut heap, _) = filled(1000);
        check_heap(&heap);
        let mut last = 0;
        while !heap.order.is_empty() {
            let at = heap.earliest();
            assert!(at >= last);
            last = at;
            heap.remove_at(0);
        }
    }

    #[test]
    fn cancel_removes_exactly_its_entry_and_stale_keys_do_nothing() {
        let (mut heap, keys) = filled(500);
        for &(slot, gen, _) in keys.iter().step_by(3) {
            assert!(heap.cancel(slot, gen).is_some());
            assert!(heap.cancel(slot, gen).is_none(), "cancelled twice");
        }
        check_heap(&heap);
        assert_eq!(heap.order.len(), 500 - 500_usize.div_ceil(3));
        // Slots are reused with new generations: the old keys stay stale.
        let (slot, gen) = heap.insert(7, ());
        assert!(keys.iter().any(|&(s, g, _)| s == slot && g != gen));
        for &(s, g, _) in keys.iter().step_by(3) {
            assert!(
                heap.cancel(s, g).is_none(),
                "a stale key cancelled a live timer"
            );
        }
        assert!(heap.cancel(slot, gen).is_some());
        check_heap(&heap);
    }
}
