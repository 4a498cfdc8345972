//! The dense entry storage of a shard: a vector of fixed-size chunks.
//!
//! Growing copies at most one chunk's entries and never leaves a large freed
//! array behind (a plain `Vec` doubles, copies everything and wastes up to
//! half its capacity); only the last chunk, which doubles from a few entries
//! to a full chunk, has slack. Positions are dense, `0..len`, and removal
//! moves the last entry into the hole.

use super::shard::Entry;

/// Entries per chunk: 32 × 64 bytes = one 2 KB allocation.
const CHUNK: usize = 32;

/// Capacity a chunk starts with; it doubles up to `CHUNK` as the shard
/// fills, so the thousands of shards of a keyspace do not each hold most of
/// an empty 2 KB chunk. (Finer steps waste less of the last chunk but leave
/// more freed allocations of other sizes behind, and measured worse.)
const FIRST_CHUNK: usize = 4;

#[derive(Default)]
pub struct Entries {
    chunks: Vec<Vec<Entry>>,
    len: usize,
}

impl Entries {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, e: Entry) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(FIRST_CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(e);
        self.len += 1;
    }

    /// Removes the entry at `pos`, moving the last entry into its place.
    pub fn swap_remove(&mut self, pos: usize) -> Entry {
        assert!(pos < self.len, "entry position out of range");
        let last_chunk = self.chunks.last_mut().expect("not empty");
        let last = last_chunk.pop().expect("chunks are never empty");
        if last_chunk.is_empty() {
            self.chunks.pop();
        }
        self.len -= 1;
        if pos == self.len {
            last
        } else {
            std::mem::replace(&mut self[pos], last)
        }
    }

    /// Prefetches the entry at `pos`.
    #[inline]
    pub fn prefetch(&self, pos: usize) {
        if let Some(chunk) = self.chunks.get(pos / CHUNK) {
            super::index::prefetch(chunk.as_ptr().wrapping_add(pos % CHUNK));
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.chunks.iter().flatten()
    }
}

impl std::ops::Index<usize> for Entries {
    type Output = Entry;
    #[inline]
    fn index(&self, pos: usize) -> &Entry {
        &self.chunks[pos / CHUNK][pos % CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Entries {
    #[inline]
    fn index_mut(&mut self, pos: usize) -> &mut Entry {
        &mut self.chunks[pos / CHUNK][pos % CHUNK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::value::Value;

    fn entry(i: i64) -> Entry {
        Entry::new(&i.to_be_bytes(), Value::Int(i), 0, 0)
    }

    fn ints(e: &Entries) -> Vec<i64> {
        e.iter()
            .map(|e| match e.value {
                Value::Int(i) => i,
                _ => unreachable!(),
            })
            .collect()
    }

    /// Pushes and swap-removals across chunk boundaries behave like a Vec's.
    #[test]
    fn behaves_like_a_vec() {
        let mut rng = fastrand::Rng::with_seed(3);
        let mut model: Vec<i64> = Vec::new();
        let mut entries = Entries::default();
        for i in 0..5_000 {
            if model.is_empty() || rng.u32(..5) < 3 {
                model.push(i);
                entries.push(entry(i));
            } else {
                let pos = rng.usize(..model.len());
                let removed = entries.swap_remove(pos);
                assert!(matches!(removed.value, Value::Int(v) if v == model[pos]));
                model.swap_remove(pos);
            }
            assert_eq!(entries.len(), model.len());
            assert_eq!(entries.chunks.len(), model.len().div_ceil(CHUNK));
            assert!(entries.chunks.iter().all(|c| c.capacity() <= CHUNK));
        }
        assert_eq!(ints(&entries), model);
        while !model.is_empty() {
            entries.swap_remove(0);
            model.swap_remove(0);
        }
        assert!(entries.is_empty() && entries.chunks.is_empty());
    }
}
