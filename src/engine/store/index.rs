//! A shard's hash index: open addressing with linear probing over 6-byte
//! slots. A slot holds the low 16 bits of the key's hash (its tag) and the
//! record's position plus one (0 marks an empty slot), so
//!
//! - a probe compares hash bits before it touches a record, and most
//!   lookups read one slot line and one record (a tag matches a wrong key
//!   in fewer than one lookup in a hundred while a shard holds under a few
//!   thousand keys);
//! - the table grows without rehashing keys (the tag places each slot in
//!   the larger table: homes are exact up to 65,536 slots, and past that
//!   a tag's keys share a run of neighbouring homes);
//! - the slot a lookup starts from is known from the hash alone, so a
//!   pipeline of requests can prefetch it ahead of time.
//!
//! Deletion shifts later slots back (no tombstones). A key's home slot is
//! its tag scaled to the table (`tag * n >> 16`), so a table can have any
//! size: it grows by a quarter at a time and its load stays between 64 and
//! 80 % (a power-of-two table that doubles sits anywhere between 37 and
//! 75 %: at a million keys that cost 13 bytes of 6-byte slots per key where
//! this costs about 8; growing by an eighth rebuilt tables twice as often).
//! A table of at most `DENSE_SLOTS` slots (a few cache lines that a probe
//! run crosses cheaply) fills to seven eighths.

/// Prefetches the cache line at `p` into all cache levels. Never faults.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it does not access memory and cannot
    // fault, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Largest table filled to seven eighths rather than four fifths.
const DENSE_SLOTS: usize = 128;

/// Bytes per slot: a 32-bit position and a 16-bit tag, little endian.
const SLOT: usize = 6;

/// Slots as one byte run (two spare bytes at the end let every slot be
/// read as one unaligned 8-byte load).
#[derive(Default)]
struct Slots {
    bytes: Box<[u8]>,
    n: usize,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            bytes: vec![0u8; n * SLOT + 2].into_boxed_slice(),
            n,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.n
    }

    /// The slot as `tag << 32 | position + 1` (0 when empty).
    #[inline]
    fn get(&self, i: usize) -> u64 {
        let at = i * SLOT;
        let raw = u64::from_le_bytes(self.bytes[at..at + 8].try_into().expect("8 bytes"));
        raw & 0xFFFF_FFFF_FFFF
    }

    #[inline]
    fn set(&mut self, i: usize, slot: u64) {
        let at = i * SLOT;
        self.bytes[at..at + SLOT].copy_from_slice(&slot.to_le_bytes()[..SLOT]);
    }

    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.n).map(|i| self.get(i))
    }
}

#[derive(Default)]
pub struct Index {
    slots: Slots,
    len: usize,
}

/// The tag: the hash bits a slot keeps.
#[inline]
fn tag_of(hash: u64) -> u64 {
    hash & 0xFFFF
}

#[inline]
fn slot_of(hash: u64, pos: usize) -> u64 {
    (tag_of(hash) << 32) | (pos as u64 + 1)
}

#[inline]
fn pos_of(slot: u64) -> usize {
    ((slot & 0xFFFF_FFFF) - 1) as usize
}

impl Index {
    /// The home slot of a tag.
    #[inline]
    fn home(&self, tag: u64) -> usize {
        (((tag & 0xFFFF) * self.slots.len() as u64) >> 16) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// How far `j` lies past `from`, going round the table.
    #[inline]
    fn distance(&self, from: usize, j: usize) -> usize {
        if j >= from {
            j - from
        } else {
            j + self.slots.len() - from
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots in the table (positions of [`Index::at_slot`]).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The position held in slot `i`, if it is not empty.
    #[inline]
    pub fn at_slot(&self, i: usize) -> Option<usize> {
        match self.slots.get(i) {
            0 => None,
            s => Some(pos_of(s)),
        }
    }

    /// Points slot `i` (not empty) at `pos`, keeping its hash bits.
    #[inline]
    pub fn set_at_slot(&mut self, i: usize, pos: usize) {
        let s = self.slots.get(i);
        debug_assert!(s != 0);
        self.slots.set(i, (s & !0xFFFF_FFFF) | (pos as u64 + 1));
    }

    /// Every position held, in slot order.
    pub fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots.iter().filter(|&s| s != 0).map(pos_of)
    }

    /// A position held in a slot picked at random (the first filled slot
    /// from a random one), if any.
    pub fn random(&self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let mut i = fastrand::usize(..self.slots.len());
        loop {
            let s = self.slots.get(i);
            if s != 0 {
                return Some(pos_of(s));
            }
            i = self.next(i);
        }
    }

    /// Bytes held by the slot array.
    pub fn heap_size(&self) -> usize {
        self.slots.bytes.len()
    }

    /// Positions whose hash bits match `hash`, in probe order, until `eq`
    /// accepts one.
    #[inline]
    pub fn find(&self, hash: u64, eq: impl FnMut(usize) -> bool) -> Option<usize> {
        self.find_slot(hash, eq).map(|i| pos_of(self.slots.get(i)))
    }

    #[inline]
    fn find_slot(&self, hash: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let want = tag_of(hash);
        let mut i = self.home(want);
        loop {
            let s = self.slots.get(i);
            if s == 0 {
                return None;
            }
            if s >> 32 == want && eq(pos_of(s)) {
                return Some(i);
            }
            i = self.next(i);
        }
    }

    /// Prefetches the slot a lookup of `hash` starts from.
    #[inline]
    pub fn prefetch_home(&self, hash: u64) {
        if self.slots.len() != 0 {
            prefetch(
                self.slots
                    .bytes
                    .as_ptr()
                    .wrapping_add(self.home(tag_of(hash)) * SLOT),
            );
        }
    }

    /// The first position whose hash bits match `hash` (the likely entry),
    /// without comparing keys.
    #[inline]
    pub fn likely(&self, hash: u64) -> Option<usize> {
        self.find(hash, |_| true)
    }

    /// Adds `pos` under `hash` (the caller knows the key is absent).
    pub fn insert(&mut self, hash: u64, pos: usize) {
        debug_assert!(
            (pos as u64) < u32::MAX as u64,
            "shard position out of range"
        );
        let n = self.slots.len();
        let full = if n <= DENSE_SLOTS {
            (self.len + 1) * 8 > n * 7
        } else {
            (self.len + 1) * 5 > n * 4
        };
        if full {
            self.grow();
        }
        self.place(slot_of(hash, pos));
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mut i = self.home(slot >> 32);
        while self.slots.get(i) != 0 {
            i = self.next(i);
        }
        self.slots.set(i, slot);
    }

    fn grow(&mut self) {
        let n = self.slots.len();
        // Doubling while small (few reallocations), then by a quarter.
        let size = if n < DENSE_SLOTS {
            (n * 2).max(8)
        } else {
            n + n / 4
        };
        let old = std::mem::replace(&mut self.slots, Slots::new(size));
        for s in old.iter().filter(|&s| s != 0) {
            self.place(s);
        }
    }

    /// Removes the slot of `pos` under `hash`.
    pub fn remove(&mut self, hash: u64, pos: usize) {
        let Some(mut hole) = self.find_slot(hash, |p| p == pos) else {
            debug_assert!(false, "index slot missing");
            return;
        };
        let mut j = hole;
        loop {
            j = self.next(j);
            let s = self.slots.get(j);
            if s == 0 {
                break;
            }
            // Move the slot back unless its home lies cyclically in (hole, j].
            let home = self.home(s >> 32);
            if self.distance(home, j) >= self.distance(hole, j) {
                self.slots.set(hole, s);
                hole = j;
            }
        }
        self.slots.set(hole, 0);
        self.len -= 1;
    }

    /// Points the slot of `old` under `hash` at `new`.
    pub fn relocate(&mut self, hash: u64, old: usize, new: usize) {
        if let Some(i) = self.find_slot(hash, |p| p == old) {
            self.slots.set(i, slot_of(hash, new));
        } else {
            debug_assert!(false, "index slot missing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Random inserts and removals, with many colliding low bits, checked
    /// against a map after every step.
    #[test]
    fn matches_a_reference_map_under_churn() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut index = Index::default();
        // position -> hash, kept dense like a shard's entries.
        let mut positions: Vec<u64> = Vec::new();
        let mut by_hash: HashMap<u64, usize> = HashMap::new();
        for step in 0..20_000 {
            if positions.is_empty() || rng.u32(..3) != 0 {
                // Few distinct low bits, so probe chains collide and wrap.
                let hash = (rng.u64(..) & !0xFFFF_FFFF) | rng.u64(..64) | (step as u64) << 40;
                if by_hash.contains_key(&hash) {
                    continue;
                }
                let pos = positions.len();
                index.insert(hash, pos);
                positions.push(hash);
                by_hash.insert(hash, pos);
            } else {
                let pos = rng.usize(..positions.len());
                let hash = positions[pos];
                index.remove(hash, pos);
                by_hash.remove(&hash);
                let last = positions.len() - 1;
                if pos != last {
                    let moved = positions[last];
                    index.relocate(moved, last, pos);
                    by_hash.insert(moved, pos);
                }
                positions.swap_remove(pos);
            }
            if step % 97 == 0 {
                for (&h, &p) in &by_hash {
                    assert_eq!(index.find(h, |q| positions[q] == h), Some(p));
                }
                assert_eq!(index.find(u64::MAX, |q| positions[q] == u64::MAX), None);
                assert_eq!(index.len, by_hash.len());
            }
        }
    }
}
