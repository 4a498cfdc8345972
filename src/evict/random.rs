//! `allkeys-random`: evict a uniformly random key of the shard.

use super::{Policy, PolicyKind};
use crate::store::Shard;

pub struct Random;

impl Policy for Random {
    fn kind(&self) -> PolicyKind {
        PolicyKind::AllkeysRandom
    }

    fn victim(
        &self,
        shard: &mut Shard,
        _now: u64,
        protected: &dyn Fn(u64) -> bool,
    ) -> Option<usize> {
        let n = shard.len();
        if n == 0 {
            return None;
        }
        for _ in 0..16 {
            let pos = fastrand::usize(..n);
            if !protected(shard.hash_at(pos)) {
                return Some(pos);
            }
        }
        (0..n).find(|&p| !protected(shard.hash_at(p)))
    }
}
