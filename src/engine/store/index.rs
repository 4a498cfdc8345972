//! A shard's hash index: open addressing with linear probing over 8-byte
//! slots. A slot holds the low 32 bits of the key's hash and the entry's
//! position plus one (0 marks an empty slot), so
//!
//! - a probe compares hash bits before it touches an entry, and most
//!   lookups read one slot line and one entry line;
//! - the table grows without rehashing keys (the stored hash bits place
//!   each slot in the larger table);
//! - the slot a lookup starts from is known from the hash alone, so a
//!   pipeline of requests can prefetch it ahead of time.
//!
//! Deletion shifts later slots back (no tombstones). The load stays at or
//! below three quarters, which keeps probe sequences short; a table of at
//! most `DENSE_SLOTS` slots (1 KB, a few cache lines that a probe run
//! crosses cheaply) fills to seven eighths first, which saves a quarter of
//! the index of a keyspace whose shards hold a few dozen keys each.

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

/// Largest table filled to seven eighths rather than three quarters.
const DENSE_SLOTS: usize = 128;

#[derive(Default)]
pub struct Index {
    slots: Box<[u64]>,
    len: usize,
}

#[inline]
fn slot_of(hash: u64, pos: usize) -> u64 {
    (hash << 32) | (pos as u64 + 1)
}

#[inline]
fn pos_of(slot: u64) -> usize {
    ((slot & 0xFFFF_FFFF) - 1) as usize
}

impl Index {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    /// Bytes held by the slot array.
    pub fn heap_size(&self) -> usize {
        self.slots.len() * 8
    }

    /// Positions whose hash bits match `hash`, in probe order, until `eq`
    /// accepts one.
    #[inline]
    pub fn find(&self, hash: u64, eq: impl FnMut(usize) -> bool) -> Option<usize> {
        self.find_slot(hash, eq).map(|i| pos_of(self.slots[i]))
    }

    #[inline]
    fn find_slot(&self, hash: u64, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let want = hash & 0xFFFF_FFFF;
        let mask = self.mask();
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> 32 == want && eq(pos_of(s)) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Prefetches the slot a lookup of `hash` starts from.
    #[inline]
    pub fn prefetch_home(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash)]);
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
            (self.len + 1) * 4 > n * 3
        };
        if full {
            self.grow();
        }
        self.place(slot_of(hash, pos));
        self.len += 1;
    }

    fn place(&mut self, slot: u64) {
        let mask = self.mask();
        let mut i = (slot >> 32) as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, vec![0u64; size].into_boxed_slice());
        for s in old.iter().copied().filter(|&s| s != 0) {
            self.place(s);
        }
    }

    /// Removes the slot of `pos` under `hash`.
    pub fn remove(&mut self, hash: u64, pos: usize) {
        let Some(mut hole) = self.find_slot(hash, |p| p == pos) else {
            debug_assert!(false, "index slot missing");
            return;
        };
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            // Move the slot back unless its home lies cyclically in (hole, j].
            let home = (s >> 32) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
    }

    /// Points the slot of `old` under `hash` at `new`.
    pub fn relocate(&mut self, hash: u64, old: usize, new: usize) {
        if let Some(i) = self.find_slot(hash, |p| p == old) {
            self.slots[i] = slot_of(hash, new);
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
