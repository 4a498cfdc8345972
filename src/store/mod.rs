//! The keyspace: `N` shards, each a [`Shard`] behind its own lock.
//!
//! One 64-bit hash of the key (foldhash with a per-process random seed) is
//! computed once; bits 32.. pick the shard and the whole hash places the key
//! in the shard's table. Commands lock one shard at a time; multi-key
//! commands lock every shard they touch in ascending order (so they are
//! atomic and cannot deadlock).

pub mod expire;

pub mod entries;
pub mod glob;
pub mod index;
pub mod key;
pub mod shard;
pub mod value;

use std::hash::BuildHasher;

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

pub use shard::{Entry, Shard, ShardStats};
pub use value::{HashValue, Kind, Value};

/// Milliseconds since the unix epoch (the time base of expiries).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[repr(align(64))]
struct PaddedShard(Mutex<Shard>);

pub struct Keyspace {
    shards: Box<[PaddedShard]>,
    mask: u64,
    hasher: shard::KeyHasher,
    /// Bytes accounted over all shards (kept by the shards as they change).
    used: Arc<AtomicI64>,
}

/// Shards locked together for a multi-key command.
pub struct Locked<'a> {
    guards: Vec<(usize, MutexGuard<'a, Shard>)>,
    mask: u64,
}

impl Locked<'_> {
    /// The locked shard that holds keys with this hash.
    pub fn shard(&mut self, hash: u64) -> &mut Shard {
        let idx = ((hash >> 32) & self.mask) as usize;
        let i = self
            .guards
            .binary_search_by_key(&idx, |(i, _)| *i)
            .expect("shard was locked");
        &mut self.guards[i].1
    }
}

impl Keyspace {
    /// `num_shards` must be a power of two (validated by the configuration).
    pub fn new(num_shards: usize) -> Self {
        assert!(num_shards.is_power_of_two() && num_shards <= 1 << 16);
        let used = Arc::new(AtomicI64::new(0));
        let hasher = shard::KeyHasher::default();
        Keyspace {
            shards: (0..num_shards)
                .map(|_| PaddedShard(Mutex::new(Shard::new(used.clone(), hasher.clone()))))
                .collect(),
            mask: (num_shards - 1) as u64,
            hasher,
            used,
        }
    }

    /// Bytes accounted for the whole dataset (keys, values, per-entry overhead).
    #[inline]
    pub fn used_bytes(&self) -> usize {
        self.used.load(Relaxed).max(0) as usize
    }

    /// Evicts keys with the active policy until `needed` more bytes fit
    /// under `limit`. Eviction starts in the shard of `near` (the key being
    /// written) or the larger of it and a random shard, so shards stay
    /// balanced; keys whose hashes are in `protected` are never chosen.
    /// Returns false when nothing more can be evicted.
    pub fn make_room(
        &self,
        needed: usize,
        limit: usize,
        near: Option<u64>,
        protected: &[u64],
        now_ms: u64,
    ) -> bool {
        let policy = crate::evict::active();
        let is_protected = |h: u64| protected.contains(&h);
        let mut misses = 0;
        while self.used_bytes() + needed > limit {
            let random = fastrand::usize(..self.shards.len());
            let idx = match near {
                Some(h) if misses == 0 => {
                    let a = self.shard_index(h);
                    let ua = self.shards[a].0.lock().used_bytes();
                    let ub = self.shards[random].0.lock().used_bytes();
                    if ua >= ub {
                        a
                    } else {
                        random
                    }
                }
                _ => random,
            };
            let evicted = {
                let mut s = self.shards[idx].0.lock();
                match policy.victim(&mut s, now_ms, &is_protected) {
                    Some(pos) => {
                        let expired = s.entry(pos).is_expired(now_ms);
                        s.remove_at(pos);
                        if expired {
                            s.stats.expired += 1;
                        } else {
                            s.stats.evicted += 1;
                        }
                        true
                    }
                    None => false,
                }
            };
            if evicted {
                misses = 0;
            } else {
                {
                    misses += 1;
                    if misses > 4 * self.shards.len().min(64) && self.used_bytes() > 0 {
                        // Nothing evictable in the shards tried: walk them all once.
                        let found = (0..self.shards.len()).any(|i| {
                            let mut s = self.shards[i].0.lock();
                            match policy.victim(&mut s, now_ms, &is_protected) {
                                Some(pos) => {
                                    s.remove_at(pos);
                                    s.stats.evicted += 1;
                                    true
                                }
                                None => false,
                            }
                        });
                        if !found {
                            return false;
                        }
                        misses = 0;
                    } else if self.used_bytes() == 0 {
                        return false;
                    }
                }
            }
        }
        true
    }

    pub fn num_shards(&self) -> usize {
        self.shards.len()
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        ((hash >> 32) & self.mask) as usize
    }

    /// Locks the shard that holds `key`; returns the key's hash with it.
    #[inline]
    pub fn lock(&self, key: &[u8]) -> (u64, MutexGuard<'_, Shard>) {
        let hash = self.hash(key);
        (hash, self.shards[self.shard_index(hash)].0.lock())
    }

    /// Warms the memory that looking up each of `hashes` will touch, in
    /// passes over the whole batch (shard, index slot, entry, string value),
    /// so the batch's cache misses overlap instead of following one another.
    /// Purely a hint: nothing changes, and a shard another thread holds is
    /// skipped.
    pub fn prefetch(&self, hashes: &[u64]) {
        for &h in hashes {
            index::prefetch(&self.shards[self.shard_index(h)]);
        }
        for &h in hashes {
            if let Some(s) = self.shards[self.shard_index(h)].0.try_lock() {
                s.prefetch_slot(h);
            }
        }
        for &h in hashes {
            if let Some(s) = self.shards[self.shard_index(h)].0.try_lock() {
                s.prefetch_entry(h);
            }
        }
        for &h in hashes {
            if let Some(s) = self.shards[self.shard_index(h)].0.try_lock() {
                s.prefetch_value(h);
            }
        }
    }

    /// Locks shard `i` (for whole-keyspace walks).
    pub fn lock_shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].0.lock()
    }

    /// Locks every shard holding one of `hashes`, in ascending shard order.
    pub fn lock_hashes(&self, hashes: &[u64]) -> Locked<'_> {
        let mut idx: Vec<usize> = hashes.iter().map(|&h| self.shard_index(h)).collect();
        idx.sort_unstable();
        idx.dedup();
        Locked {
            guards: idx
                .into_iter()
                .map(|i| (i, self.shards[i].0.lock()))
                .collect(),
            mask: self.mask,
        }
    }

    /// Number of keys, counting expired keys not yet reclaimed (as Redis does).
    pub fn dbsize(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().len()).sum()
    }

    /// (keys, keys with a TTL, bytes used) summed over all shards.
    /// Takes every shard lock: for INFO, not for hot paths.
    pub fn totals(&self) -> (usize, usize, usize) {
        self.shards.iter().fold((0, 0, 0), |acc, s| {
            let s = s.0.lock();
            (
                acc.0 + s.len(),
                acc.1 + s.volatile(),
                acc.2 + s.used_bytes(),
            )
        })
    }

    pub fn stats(&self) -> ShardStats {
        self.shards
            .iter()
            .fold(ShardStats::default(), |mut acc, s| {
                let st = s.0.lock().stats;
                acc.hits += st.hits;
                acc.misses += st.misses;
                acc.expired += st.expired;
                acc.evicted += st.evicted;
                acc
            })
    }

    pub fn reset_stats(&self) {
        for s in self.shards.iter() {
            s.0.lock().stats = ShardStats::default();
        }
    }

    /// Removes every key.
    pub fn flush(&self) {
        for s in self.shards.iter() {
            s.0.lock().clear();
        }
    }

    /// Calls `f` for every live key.
    pub fn for_each_live(&self, now_ms: u64, mut f: impl FnMut(&Entry) -> bool) {
        for s in self.shards.iter() {
            let s = s.0.lock();
            for e in s.entries().iter() {
                if !e.is_expired(now_ms) && !f(e) {
                    return;
                }
            }
        }
    }

    /// A random live key.
    pub fn random_key(&self, now_ms: u64) -> Option<Vec<u8>> {
        let n = self.shards.len();
        let start = fastrand::usize(..n);
        // Random probes first, then a walk, so sparse keyspaces still answer.
        for attempt in 0..n + 16 {
            let i = if attempt < 16 {
                fastrand::usize(..n)
            } else {
                (start + attempt - 16) % n
            };
            let mut s = self.shards[i].0.lock();
            if let Some(pos) = s.random_live(now_ms) {
                return Some(s.entry(pos).key.to_vec());
            }
        }
        None
    }

    /// One SCAN step. The cursor encodes a shard and a position in that
    /// shard's hash order, which does not depend on the table's layout: a key
    /// present for the whole scan is returned at least once however the
    /// keyspace changes. `count` is how many keys to examine; `emit` sees
    /// each live one.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now_ms: u64,
        mut emit: impl FnMut(&Entry),
    ) -> u64 {
        let mut shard = (cursor & 0xFFFF) as usize;
        let mut threshold = cursor >> 16;
        let mut examined = 0usize;
        let mut cands: Vec<(u64, usize)> = Vec::new();
        while examined < count.max(1) && shard < self.shards.len() {
            let s = self.shards[shard].0.lock();
            cands.clear();
            cands.extend(
                s.entries()
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.is_expired(now_ms))
                    .map(|(i, e)| (scan_order(s.hash_of(e)), i))
                    .filter(|(o, _)| *o >= threshold),
            );
            let batch = (count - examined.min(count)).max(s.len() / 16).max(1);
            let (take_below, next) = ordered_cut(&mut cands, batch);
            for &(o, i) in cands.iter() {
                if o < take_below {
                    emit(s.entry(i));
                    examined += 1;
                }
            }
            match next {
                Some(t) => threshold = t,
                None => {
                    shard += 1;
                    threshold = 0;
                }
            }
            if next.is_some() {
                break;
            }
        }
        if shard >= self.shards.len() {
            0
        } else {
            (threshold << 16) | shard as u64
        }
    }
}

/// The 48-bit SCAN order of a key hash.
#[inline]
fn scan_order(hash: u64) -> u64 {
    hash >> 16
}

/// Given candidates (order, payload), decides which to return now: every
/// candidate with order below the returned bound. `next` is the bound to
/// resume from, or `None` when all were taken. Equal orders are never split.
pub fn ordered_cut<T: Copy>(cands: &mut [(u64, T)], batch: usize) -> (u64, Option<u64>) {
    if cands.len() <= batch {
        return (u64::MAX, None);
    }
    cands.select_nth_unstable_by_key(batch, |c| c.0);
    let cut = cands[batch].0;
    if cands[..batch].iter().any(|c| c.0 < cut) {
        (cut, Some(cut))
    } else {
        // Everything before the cut shares its order: take that order whole.
        let next = cands.iter().map(|c| c.0).filter(|&o| o > cut).min();
        match next {
            Some(n) => (n, Some(n)),
            None => (u64::MAX, None),
        }
    }
}

impl Keyspace {
    /// Estimated average remaining TTL (ms) of keys that have one, sampled
    /// from up to 16 volatile entries per shard.
    pub fn average_ttl(&self, now_ms: u64) -> u64 {
        let (mut sum, mut n) = (0u128, 0u64);
        for s in self.shards.iter() {
            let s = s.0.lock();
            if s.volatile() == 0 {
                continue;
            }
            for e in s.entries().iter().filter(|e| e.expire_at > now_ms).take(16) {
                sum += (e.expire_at - now_ms) as u128;
                n += 1;
            }
        }
        if n == 0 {
            0
        } else {
            (sum / n as u128) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn scan_returns_every_stable_key_despite_churn() {
        let ks = Keyspace::new(256);
        for i in 0..5000 {
            let k = format!("key:{i}");
            let (h, mut s) = ks.lock(k.as_bytes());
            s.insert(h, k.as_bytes(), Value::Int(i), 0, 0);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = ks.scan(cursor, 10, 0, |e| {
                seen.insert(e.key.to_vec());
            });
            // Churn: add and remove other keys while scanning.
            for j in 0..20 {
                let k = format!("tmp:{round}:{j}");
                {
                    let (h, mut s) = ks.lock(k.as_bytes());
                    s.insert(h, k.as_bytes(), Value::Int(0), 0, 0);
                }
                let old = format!("tmp:{}:{j}", round.max(1) - 1);
                let (h, mut s) = ks.lock(old.as_bytes());
                s.delete(h, old.as_bytes(), 0);
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..5000 {
            assert!(
                seen.contains(format!("key:{i}").as_bytes()),
                "missing key:{i}"
            );
        }
    }

    #[test]
    fn ordered_cut_never_splits_ties() {
        let mut c = vec![(5u64, 0), (5, 1), (5, 2), (7, 3)];
        let (below, next) = ordered_cut(&mut c, 2);
        assert_eq!((below, next), (7, Some(7)));
    }
}
