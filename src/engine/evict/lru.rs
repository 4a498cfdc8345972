//! `allkeys-lru`: Redis's approximated LRU. Each eviction samples
//! `maxmemory-samples` random keys of the shard into a pool of the 16 best
//! candidates seen so far (longest idle first) and evicts the best one that
//! still exists. With the pool the choice is close to true LRU.

use super::{Choice, Policy, PolicyKind, PolicyState, ShardView};

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

    fn adopt(&self, st: &mut PolicyState, _view: &mut dyn ShardView) {
        st.lru.candidates.clear();
    }

    fn victim(
        &self,
        st: &mut PolicyState,
        view: &mut dyn ShardView,
        choice: &Choice,
    ) -> Option<usize> {
        let n = view.len();
        if n == 0 {
            return None;
        }
        let protected = choice.protected;
        let pool = &mut st.lru.candidates;
        // As Redis's dictGetSomeKeys: every key when the shard holds no
        // more than the sample size, random ones otherwise.
        let all = if choice.samples >= n {
            view.positions()
        } else {
            Vec::new()
        };
        for i in 0..choice.samples.clamp(1, n) {
            let pos = match all.get(i) {
                Some(&p) => p,
                None => view.sample()?,
            };
            let hash = view.hash_at(pos);
            if protected(hash) {
                continue;
            }
            let idle = view.idle_ms(pos, choice.now_ms);
            match pool.iter_mut().find(|p| p.1 == hash) {
                Some(p) => p.0 = idle,
                None => pool.push((idle, hash)),
            }
        }
        pool.sort_unstable_by_key(|c| c.0);
        let excess = pool.len().saturating_sub(POOL_SIZE);
        pool.drain(..excess);
        while let Some((_, hash)) = pool.pop() {
            if protected(hash) {
                continue;
            }
            if let Some(pos) = view.position_by_hash(hash) {
                return Some(pos);
            }
        }
        // Every sample was protected: fall back to any other key.
        view.positions()
            .into_iter()
            .find(|&p| !protected(view.hash_at(p)))
    }
}
