//! `allkeys-random`: evict a uniformly random key of the shard.

use super::{Choice, Policy, PolicyKind, PolicyState, ShardView};

pub struct Random;

impl Policy for Random {
    fn kind(&self) -> PolicyKind {
        PolicyKind::AllkeysRandom
    }

    fn victim(
        &self,
        _st: &mut PolicyState,
        view: &mut dyn ShardView,
        choice: &Choice,
    ) -> Option<usize> {
        let n = view.len();
        if n == 0 {
            return None;
        }
        for _ in 0..16 {
            let pos = view.sample()?;
            if !(choice.protected)(view.hash_at(pos)) {
                return Some(pos);
            }
        }
        view.positions()
            .into_iter()
            .find(|&p| !(choice.protected)(view.hash_at(p)))
    }
}
