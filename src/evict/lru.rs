//! `allkeys-lru`: Redis's approximated LRU. Each eviction samples
//! `maxmemory-samples` random keys of the shard into a pool of the 16 best
//! candidates seen so far (longest idle first) and evicts the best one that
//! still exists. With the pool the choice is close to true LRU.

use super::{Policy, PolicyKind};
use crate::store::shard::access_clock;
use crate::store::Shard;

/// Candidates kept between evictions, as in Redis (`EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// (idle milliseconds when sampled, key hash), best candidate last.
#[derive(Default)]
pub struct Pool {
    candidates: Vec<(u32, u64)>,
}

pub struct Lru;

impl Policy for Lru {
    fn kind(&self) -> PolicyKind {
        PolicyKind::AllkeysLru
    }

    fn adopt(&self, shard: &mut Shard) {
        shard.evict_state().lru.candidates.clear();
    }

    fn victim(
        &self,
        shard: &mut Shard,
        now_ms: u64,
        protected: &dyn Fn(u64) -> bool,
    ) -> Option<usize> {
        let n = shard.len();
        if n == 0 {
            return None;
        }
        let now = access_clock(now_ms);
        let samples = super::samples().min(n);
        let mut fresh: Vec<(u32, u64)> = Vec::with_capacity(samples);
        for _ in 0..samples {
            let pos = fastrand::usize(..n);
            let hash = shard.hash_at(pos);
            if !protected(hash) {
                fresh.push((now.wrapping_sub(shard.entry(pos).access), hash));
            }
        }
        let pool = &mut shard.evict_state().lru.candidates;
        for c in fresh {
            match pool.iter_mut().find(|p| p.1 == c.1) {
                Some(p) => p.0 = c.0,
                None => pool.push(c),
            }
        }
        pool.sort_unstable_by_key(|c| c.0);
        let excess = pool.len().saturating_sub(POOL_SIZE);
        pool.drain(..excess);
        while let Some((_, hash)) = shard.evict_state().lru.candidates.pop() {
            if protected(hash) {
                continue;
            }
            if let Some(pos) = shard.position_by_hash(hash) {
                return Some(pos);
            }
        }
        // Every sample was protected: fall back to any other key.
        (0..n).find(|&p| !protected(shard.hash_at(p)))
    }
}
