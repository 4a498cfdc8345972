//! One shard of the keyspace: a dense vector of entries plus a hash index of
//! positions into it. The dense vector (chunked, see `entries`) gives O(1)
//! random sampling (for eviction and expiry) and cheap iteration; the index
//! (see `index`) maps the 64-bit key hash to positions.
//!
//! An entry is one 64-byte, cache-line-aligned record: a short key inline,
//! the value (integers as integers, string bytes behind one pointer), the
//! expiry and the eviction bits. A lookup touches the index and then a
//! single line of the entry vector. Hashes are not stored: the index
//! recomputes them from the inline key when it grows.
//!
//! Every mutation goes through this type so memory accounting, the count of
//! keys with a TTL, and the keyspace statistics stay exact.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use super::entries::Entries;
use super::index::Index;
use super::key::Key;
use super::value::Value;
use crate::evict::{self, EvictState};

/// The keyspace's hash function (one per process, randomly seeded).
pub type KeyHasher = foldhash::fast::RandomState;

/// Fixed bookkeeping cost charged per entry on top of key and value bytes:
/// the entry itself, its index slot, and allocator rounding.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + 16;

#[repr(align(64))]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    /// Absolute unix time in milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Last access, in milliseconds of the access clock (OBJECT IDLETIME, LRU).
    pub access: u32,
    /// Eviction-policy bits (S3-FIFO: access counter and queue).
    pub meta: u8,
}

impl Entry {
    pub fn charge(&self) -> usize {
        ENTRY_OVERHEAD + self.key.heap_size() + self.value.heap_size()
    }
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

/// Counters kept under the shard lock and summed when INFO asks.
#[derive(Default, Clone, Copy)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

pub struct Shard {
    entries: Entries,
    hasher: KeyHasher,
    index: Index,
    used_bytes: usize,
    volatile: usize,
    pub stats: ShardStats,
    /// Position the active-expiry sweep resumes from.
    pub sweep_cursor: usize,
    evict: EvictState,
    /// The keyspace-wide byte total this shard contributes to.
    global_used: Arc<AtomicI64>,
    /// A snapshot this shard has not yet contributed to. The first write
    /// after a snapshot started serializes the shard first, so the snapshot
    /// sees the shard as it was when the snapshot began.
    pending_snapshot: Option<(Arc<crate::persist::snapshot::Sink>, usize)>,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::new(Arc::new(AtomicI64::new(0)), KeyHasher::default())
    }
}

/// The access clock: milliseconds since the process started, wrapping
/// every 49 days (idle times are computed with wrapping arithmetic).
#[inline]
pub fn access_clock(now_ms: u64) -> u32 {
    static START: OnceLock<u64> = OnceLock::new();
    let start = *START.get_or_init(|| now_ms.saturating_sub(1));
    now_ms.wrapping_sub(start) as u32
}

impl Shard {
    pub fn new(global_used: Arc<AtomicI64>, hasher: KeyHasher) -> Shard {
        Shard {
            entries: Entries::default(),
            hasher,
            index: Index::default(),
            used_bytes: 0,
            volatile: 0,
            stats: ShardStats::default(),
            sweep_cursor: 0,
            evict: EvictState::default(),
            global_used,
            pending_snapshot: None,
        }
    }

    /// Marks this shard (number `index`) as owed to the snapshot `sink`.
    pub fn owe_snapshot(&mut self, sink: Arc<crate::persist::snapshot::Sink>, index: usize) {
        self.pending_snapshot = Some((sink, index));
    }

    /// Hands this shard's contents to its pending snapshot, if any.
    pub fn settle_snapshot(&mut self) {
        if let Some((sink, index)) = self.pending_snapshot.take() {
            sink.deposit(index, self);
        }
    }

    #[inline]
    fn before_write(&mut self) {
        if self.pending_snapshot.is_some() {
            self.settle_snapshot();
        }
    }

    #[inline]
    fn add_used(&mut self, delta: isize) {
        self.used_bytes = (self.used_bytes as isize + delta) as usize;
        self.global_used.fetch_add(delta as i64, Relaxed);
    }

    /// The eviction state, rebuilt first if it belongs to another policy.
    pub fn evict_state(&mut self) -> &mut EvictState {
        let kind = evict::active_kind();
        let owner = kind as u8 + 1;
        if self.evict.owner != owner {
            self.evict.owner = owner;
            evict::policy(kind).adopt(self);
        }
        &mut self.evict
    }

    pub fn entry_mut(&mut self, pos: usize) -> &mut Entry {
        &mut self.entries[pos]
    }

    /// Position of the entry whose key hashes to `hash` (eviction queues
    /// identify keys by hash).
    pub fn position_by_hash(&self, hash: u64) -> Option<usize> {
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .find(hash, |i| hasher.hash_one(&*entries[i].key) == hash)
    }

    /// The hash of the key at `pos`.
    #[inline]
    pub fn hash_at(&self, pos: usize) -> u64 {
        self.hash_of(&self.entries[pos])
    }

    /// The hash of an entry's key.
    #[inline]
    pub fn hash_of(&self, e: &Entry) -> u64 {
        self.hasher.hash_one(&*e.key)
    }

    #[inline]
    fn accessed(&mut self, pos: usize, now_ms: u64) {
        let e = &mut self.entries[pos];
        e.access = access_clock(now_ms);
        evict::active().on_access(e);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }
    /// Keys that carry a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }
    pub fn entries(&self) -> &Entries {
        &self.entries
    }
    pub fn entry(&self, pos: usize) -> &Entry {
        &self.entries[pos]
    }

    /// Prefetches the index slot a lookup of `hash` starts from.
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        self.index.prefetch_home(hash);
    }

    /// Prefetches the entry a lookup of `hash` will most likely land on.
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        if let Some(pos) = self.index.likely(hash) {
            self.entries.prefetch(pos);
        }
    }

    /// Prefetches the heap part of the value a lookup of `hash` will most
    /// likely find.
    #[inline]
    pub fn prefetch_value(&self, hash: u64) {
        if let Some(pos) = self.index.likely(hash) {
            self.entries[pos].value.prefetch();
        }
    }

    /// Position of `key` whether or not it has expired.
    #[inline]
    pub fn position(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.entries;
        self.index.find(hash, |i| &*entries[i].key == key)
    }

    /// Position of a live key; an expired key is removed first (lazy expiry).
    #[inline]
    pub fn live(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<usize> {
        let pos = self.position(hash, key)?;
        if self.entries[pos].is_expired(now_ms) {
            self.remove_at(pos);
            self.stats.expired += 1;
            return None;
        }
        Some(pos)
    }

    /// A read lookup: counts a hit or a miss and refreshes the access time.
    #[inline]
    pub fn read(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<usize> {
        match self.live(hash, key, now_ms) {
            Some(pos) => {
                self.stats.hits += 1;
                self.accessed(pos, now_ms);
                Some(pos)
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Read lookup that also refreshes the access time but counts nothing.
    #[inline]
    pub fn touch(&mut self, hash: u64, key: &[u8], now_ms: u64) -> Option<usize> {
        let pos = self.live(hash, key, now_ms)?;
        self.accessed(pos, now_ms);
        Some(pos)
    }

    /// Inserts a key known to be absent; returns its position.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at: u64,
        now_ms: u64,
    ) -> usize {
        self.before_write();
        let pos = self.entries.len();
        let entry = Entry {
            key: Key::new(key),
            value,
            expire_at,
            access: access_clock(now_ms),
            meta: 0,
        };
        self.add_used(entry.charge() as isize);
        if expire_at != 0 {
            self.volatile += 1;
        }
        self.entries.push(entry);
        self.index.insert(hash, pos);
        self.evict_state();
        evict::active().on_insert(self, pos);
        pos
    }

    /// Sets `key` to `value`, replacing any previous value. The TTL is
    /// cleared unless `keep_ttl`. Returns the position.
    pub fn upsert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        keep_ttl: bool,
        now_ms: u64,
    ) -> usize {
        match self.live(hash, key, now_ms) {
            Some(pos) => {
                self.replace_value(pos, value);
                if !keep_ttl {
                    self.set_expire(pos, 0);
                }
                self.accessed(pos, now_ms);
                pos
            }
            None => self.insert(hash, key, value, 0, now_ms),
        }
    }

    /// Replaces the value at `pos`, keeping key and TTL.
    pub fn replace_value(&mut self, pos: usize, value: Value) -> Value {
        self.before_write();
        let e = &mut self.entries[pos];
        let before = e.value.heap_size();
        let old = std::mem::replace(&mut e.value, value);
        let delta = e.value.heap_size() as isize - before as isize;
        self.resized(pos, delta);
        old
    }

    fn resized(&mut self, pos: usize, delta: isize) {
        if delta != 0 {
            self.add_used(delta);
            self.evict_state();
            evict::active().on_resize(&mut self.evict, &self.entries[pos], delta);
        }
    }

    /// Edits the value at `pos` in place, keeping memory accounting exact.
    pub fn update<R>(&mut self, pos: usize, f: impl FnOnce(&mut Value) -> R) -> R {
        self.before_write();
        let e = &mut self.entries[pos];
        let before = e.value.heap_size();
        let r = f(&mut e.value);
        let delta = e.value.heap_size() as isize - before as isize;
        self.resized(pos, delta);
        r
    }

    /// Sets (or clears with 0) the expiry of the entry at `pos`.
    pub fn set_expire(&mut self, pos: usize, expire_at: u64) {
        self.before_write();
        let e = &mut self.entries[pos];
        match (e.expire_at != 0, expire_at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        e.expire_at = expire_at;
    }

    /// Removes the entry at `pos` (the last entry moves into its place).
    pub fn remove_at(&mut self, pos: usize) -> Entry {
        self.before_write();
        let hash = self.hash_at(pos);
        self.index.remove(hash, pos);
        let last = self.entries.len() - 1;
        if pos != last {
            let moved_hash = self.hash_at(last);
            self.index.relocate(moved_hash, last, pos);
        }
        let entry = self.entries.swap_remove(pos);
        self.add_used(-(entry.charge() as isize));
        if entry.expire_at != 0 {
            self.volatile -= 1;
        }
        self.evict_state();
        evict::active().on_remove(&mut self.evict, &entry);
        entry
    }

    /// Removes `key` if present (expired or not); true when a live key was removed.
    pub fn delete(&mut self, hash: u64, key: &[u8], now_ms: u64) -> bool {
        self.live(hash, key, now_ms)
            .map(|pos| self.remove_at(pos))
            .is_some()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.before_write();
        self.entries = Entries::default();
        self.index = Index::default();
        self.add_used(-(self.used_bytes as isize));
        self.evict = EvictState::default();
        self.volatile = 0;
        self.sweep_cursor = 0;
    }

    /// Removes expired entries, visiting at most `budget` positions from the
    /// sweep cursor. Returns (visited, removed).
    pub fn sweep_expired(&mut self, now_ms: u64, budget: usize) -> (usize, usize) {
        let mut visited = 0;
        let mut removed = 0;
        if self.volatile == 0 {
            self.sweep_cursor = 0;
            return (0, 0);
        }
        while visited < budget {
            if self.sweep_cursor >= self.entries.len() {
                self.sweep_cursor = 0;
                break;
            }
            visited += 1;
            if self.entries[self.sweep_cursor].is_expired(now_ms) {
                self.remove_at(self.sweep_cursor);
                removed += 1;
            } else {
                self.sweep_cursor += 1;
            }
        }
        self.stats.expired += removed as u64;
        (visited, removed)
    }

    /// A uniformly random live position, if any (expired entries found are reclaimed).
    pub fn random_live(&mut self, now_ms: u64) -> Option<usize> {
        for _ in 0..64 {
            if self.entries.is_empty() {
                return None;
            }
            let pos = fastrand::usize(..self.entries.len());
            if self.entries[pos].is_expired(now_ms) {
                self.remove_at(pos);
                self.stats.expired += 1;
                continue;
            }
            return Some(pos);
        }
        (0..self.entries.len()).find(|&p| !self.entries[p].is_expired(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash the test shards use (their index rehashes with it).
    fn h(k: &[u8]) -> u64 {
        test_hasher().hash_one(k)
    }

    fn test_hasher() -> KeyHasher {
        static HASHER: OnceLock<KeyHasher> = OnceLock::new();
        HASHER.get_or_init(KeyHasher::default).clone()
    }

    #[test]
    fn an_entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::align_of::<Entry>(), 64);
    }

    #[test]
    fn insert_remove_keeps_index_consistent() {
        let mut s = Shard::new(Arc::new(AtomicI64::new(0)), test_hasher());
        for i in 0..1000u32 {
            let k = i.to_be_bytes();
            s.insert(
                h(&k),
                &k,
                Value::Int(i as i64),
                if i % 2 == 0 { 5 } else { 0 },
                0,
            );
        }
        assert_eq!(s.volatile(), 500);
        for i in (0..1000u32).step_by(3) {
            let k = i.to_be_bytes();
            assert!(s.delete(h(&k), &k, 0));
        }
        for i in 0..1000u32 {
            let k = i.to_be_bytes();
            let found = s.position(h(&k), &k);
            assert_eq!(found.is_some(), i % 3 != 0);
            if let Some(p) = found {
                assert!(matches!(s.entry(p).value, Value::Int(v) if v == i as i64));
            }
        }
        let (_, removed) = s.sweep_expired(10, usize::MAX);
        assert!(removed > 0);
        assert_eq!(s.volatile(), 0);
        let total: usize = s.entries().iter().map(Entry::charge).sum();
        assert_eq!(total, s.used_bytes());
    }
}
