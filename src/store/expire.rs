//! Active expiry: a background pass that reclaims keys whose TTL has passed
//! even when nobody reads them again. Lazy expiry (on access) lives in the
//! shard; this pass sweeps shards that hold volatile keys, round robin,
//! within a small time budget per tick.

use std::time::{Duration, Instant};

use super::Keyspace;

/// Position in the round-robin walk over shards, kept between ticks.
#[derive(Default)]
pub struct ExpireCycle {
    next_shard: usize,
}

/// Entries visited per shard lock, so a sweep never holds a lock for long.
const ENTRIES_PER_LOCK: usize = 512;

impl ExpireCycle {
    /// Runs one tick: sweeps shards until `budget` elapses or every shard was
    /// visited once. Returns the number of keys removed.
    pub fn tick(&mut self, ks: &Keyspace, now_ms: u64, budget: Duration) -> usize {
        let start = Instant::now();
        let n = ks.num_shards();
        let mut removed = 0;
        for _ in 0..n {
            let i = self.next_shard;
            let done_with_shard = {
                let mut s = ks.lock_shard(i);
                if s.volatile() == 0 {
                    true
                } else {
                    let (_, r) = s.sweep_expired(now_ms, ENTRIES_PER_LOCK);
                    removed += r;
                    s.sweep_cursor == 0
                }
            };
            if done_with_shard {
                self.next_shard = (i + 1) % n;
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    #[test]
    fn tick_reclaims_untouched_expired_keys() {
        let ks = Keyspace::new(256);
        for i in 0..10_000 {
            let k = format!("k{i}");
            let (h, mut s) = ks.lock(k.as_bytes());
            s.insert(
                h,
                k.as_bytes(),
                Value::Int(1),
                if i % 2 == 0 { 100 } else { 0 },
                0,
            );
        }
        let mut cycle = ExpireCycle::default();
        let mut removed = 0;
        for _ in 0..100 {
            removed += cycle.tick(&ks, 200, Duration::from_millis(50));
        }
        assert_eq!(removed, 5000);
        assert_eq!(ks.dbsize(), 5000);
    }
}
