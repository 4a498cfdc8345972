//! A shard's record arena: segments of up to 4 KB that records are
//! appended to, one after another, with no per-record allocation or
//! rounding.
//!
//! A record's position is its segment number times the segment size plus
//! its offset, so positions stay valid while other records come and go.
//! Freeing a record leaves a hole that is only counted; compaction (driven
//! by the shard, which owns the index) moves the live records of the
//! emptiest segments to the tail and releases those segments whole.
//!
//! The segment being filled (the tail) grows in 1 KB steps as records
//! arrive (offsets do not change when it moves), so a shard holds little
//! allocated but unfilled space: a fixed 4 KB tail would leave about 2 KB
//! per shard unused, 4 bytes per key at a million keys. A full
//! segment ends at most one record short of 4 KB, so the waste at segment
//! ends stays under one percent for small records.

use super::record::MAX_RECORD;

/// Bytes a segment may grow to; positions are segment number times this.
pub const SEGMENT: usize = 4096;

const _: () = assert!(SEGMENT >= 4 * MAX_RECORD);

/// Capacities the tail grows through: jemalloc size classes, so each one is
/// used whole. Four steps copy a segment's bytes about one and a half times
/// over while it fills; finer steps left less unfilled space but copied
/// them five times over, which slowed inserts.
const TAIL_SIZES: [usize; 4] = [1024, 2048, 3072, 4096];

/// `repr(C)`: the segment list, which every lookup reads, comes first.
#[derive(Default)]
#[repr(C)]
pub struct Arena {
    segments: Vec<Option<Box<[u8]>>>,
    /// Live record bytes per segment.
    live: Vec<u16>,
    /// Numbers of released segments, reused first.
    free_ids: Vec<u32>,
    /// The segment records are appended to, and how much of it is filled.
    tail: Option<u32>,
    tail_len: usize,
    /// Bytes of all segments that hold no live record (holes, and the
    /// unfilled ends of segments that are no longer the tail).
    dead: usize,
    /// Bytes of all segments held.
    allocated: usize,
}

impl Arena {
    /// Bytes of segments held.
    pub fn allocated(&self) -> usize {
        self.allocated
    }

    fn capacity(&self, id: usize) -> usize {
        self.segments[id].as_ref().map_or(0, |s| s.len())
    }

    /// Bytes of held segments that no live record uses (the tail's unfilled
    /// end excluded).
    pub fn dead(&self) -> usize {
        self.dead
    }

    /// The bytes of the record at `pos`, running to the end of its segment.
    #[inline]
    pub fn bytes(&self, pos: usize) -> &[u8] {
        let seg = self.segments[pos / SEGMENT]
            .as_deref()
            .expect("a live segment");
        &seg[pos % SEGMENT..]
    }

    #[inline]
    pub fn bytes_mut(&mut self, pos: usize) -> &mut [u8] {
        let seg = self.segments[pos / SEGMENT]
            .as_deref_mut()
            .expect("a live segment");
        &mut seg[pos % SEGMENT..]
    }

    /// Prefetches the cache lines of the first 128 bytes of the record at
    /// `pos` (a record starts anywhere in a line, so a 16-byte key with a
    /// 64-byte value can span three).
    #[inline]
    pub fn prefetch(&self, pos: usize) {
        if let Some(Some(seg)) = self.segments.get(pos / SEGMENT) {
            let p = seg.as_ptr().wrapping_add(pos % SEGMENT);
            super::index::prefetch(p);
            super::index::prefetch(p.wrapping_add(64));
            if (p as usize) % 64 != 0 {
                super::index::prefetch(p.wrapping_add(127));
            }
        }
    }

    /// Reserves `len` bytes for a new record; returns its position.
    pub fn alloc(&mut self, len: usize) -> usize {
        debug_assert!(len <= MAX_RECORD, "record too large for a segment");
        let tail = match self.tail {
            Some(t) if self.tail_len + len <= self.capacity(t as usize) => t,
            Some(t) if self.tail_len + len <= SEGMENT => {
                self.grow_tail(t as usize, self.tail_len + len);
                t
            }
            _ => self.new_tail(len),
        };
        let pos = tail as usize * SEGMENT + self.tail_len;
        self.tail_len += len;
        self.live[tail as usize] += len as u16;
        pos
    }

    /// Moves the tail to a larger allocation holding at least `need` bytes.
    fn grow_tail(&mut self, id: usize, need: usize) {
        let size = TAIL_SIZES
            .into_iter()
            .find(|&s| s >= need)
            .expect("need is at most SEGMENT");
        let mut grown = vec![0u8; size].into_boxed_slice();
        let old = self.segments[id].take().expect("the tail is held");
        grown[..self.tail_len].copy_from_slice(&old[..self.tail_len]);
        self.allocated += size - old.len();
        self.segments[id] = Some(grown);
    }

    fn new_tail(&mut self, first: usize) -> u32 {
        if let Some(old) = self.tail {
            // The old tail's unfilled end is dead from now on.
            self.dead += self.capacity(old as usize) - self.tail_len;
            if self.live[old as usize] == 0 {
                self.drop_segment(old as usize);
            }
        }
        let size = TAIL_SIZES
            .into_iter()
            .find(|&s| s >= first)
            .expect("a record fits a segment");
        self.allocated += size;
        let seg = vec![0u8; size].into_boxed_slice();
        let id = match self.free_ids.pop() {
            Some(id) => {
                self.segments[id as usize] = Some(seg);
                id
            }
            None => {
                self.segments.push(Some(seg));
                self.live.push(0);
                (self.segments.len() - 1) as u32
            }
        };
        self.live[id as usize] = 0;
        self.tail = Some(id);
        self.tail_len = 0;
        id
    }

    /// Counts `len` bytes at `pos` as no longer used (a freed record, or the
    /// end of one that shrank). An emptied segment other than the tail is
    /// released at once.
    pub fn release(&mut self, pos: usize, len: usize) {
        let id = pos / SEGMENT;
        self.live[id] -= len as u16;
        if Some(id as u32) == self.tail {
            if pos % SEGMENT + len == self.tail_len {
                // The last record of the tail: its bytes are reused at once.
                self.tail_len -= len;
            } else {
                self.dead += len;
            }
            if self.live[id] == 0 {
                self.dead -= self.tail_len;
                self.tail_len = 0;
            }
            return;
        }
        self.dead += len;
        if self.live[id] == 0 {
            self.drop_segment(id);
        }
    }

    fn drop_segment(&mut self, id: usize) {
        let cap = self.capacity(id);
        self.dead -= cap;
        self.allocated -= cap;
        self.segments[id] = None;
        self.free_ids.push(id as u32);
    }

    /// Whether enough of the arena is dead to be worth compacting: more
    /// than a sixteenth of it, and at least two segments' worth.
    pub fn wants_compaction(&self) -> bool {
        self.dead >= 2 * SEGMENT && self.dead * 16 > self.allocated()
    }

    /// Segments to evacuate, emptiest first (and none more than seven
    /// eighths live), until what they would free brings the dead bytes to a
    /// thirty-second of the arena, and at most `max` of them. The tail is
    /// never one of them.
    pub fn pick_for_compaction(&self, max: usize) -> Vec<usize> {
        let mut cands: Vec<(u16, usize)> = (0..self.segments.len())
            .filter(|&i| self.segments[i].is_some() && Some(i as u32) != self.tail)
            .filter(|&i| (self.live[i] as usize) < self.capacity(i) * 7 / 8)
            .map(|i| (self.live[i], i))
            .collect();
        cands.sort_unstable();
        let target = self.allocated() / 32;
        let mut dead = self.dead;
        let mut picked = Vec::new();
        for (live, i) in cands {
            if dead <= target || picked.len() >= max {
                break;
            }
            dead -= self.capacity(i) - live as usize;
            picked.push(i);
        }
        picked
    }

    /// Whether the segment of `pos` is one of `segments` (sorted).
    #[inline]
    pub fn in_segments(pos: usize, segments: &[usize]) -> bool {
        segments.binary_search(&(pos / SEGMENT)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Allocations and releases keep the live and dead counts exact, and
    /// emptied segments go back.
    #[test]
    fn counts_stay_exact_under_churn() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut a = Arena::default();
        let mut held: Vec<(usize, usize)> = Vec::new();
        for _ in 0..20_000 {
            if held.is_empty() || rng.u32(..5) < 3 {
                let len = rng.usize(8..=MAX_RECORD);
                let pos = a.alloc(len);
                assert!(pos % SEGMENT + len <= SEGMENT);
                assert!(held.iter().all(|&(p, l)| p + l <= pos || pos + len <= p));
                held.push((pos, len));
            } else {
                let (pos, len) = held.swap_remove(rng.usize(..held.len()));
                a.release(pos, len);
            }
            let live: usize = held.iter().map(|h| h.1).sum();
            let tail_free = a.tail.map_or(0, |t| a.capacity(t as usize) - a.tail_len);
            assert_eq!(live + a.dead + tail_free, a.allocated());
        }
    }
}
