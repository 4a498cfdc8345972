//! Active expiry: a background pass that reclaims keys whose TTL has passed
//! even when nobody reads them again. Lazy expiry (on access) lives in the
//! shard; this pass sweeps the shards of every database that hold volatile
//! keys, round robin, within a small time budget per tick.

use std::time::{Duration, Instant};

use super::Databases;

/// Position in the round-robin walk over (database, shard), kept between ticks.
#[derive(Default)]
pub struct ExpireCycle {
    next_db: usize,
    next_shard: usize,
}

/// Entries visited per shard lock, so a sweep never holds a lock for long.
const ENTRIES_PER_LOCK: usize = 512;

impl ExpireCycle {
    /// Runs one tick: sweeps shards until `budget` elapses or every shard was
    /// visited once. Returns the number of keys removed.
    pub fn tick(&mut self, dbs: &Databases, now_ms: u64, budget: Duration) -> usize {
        let start = Instant::now();
        let n = dbs.num_shards();
        let total = n * dbs.count();
        let mut removed = 0;
        for _ in 0..total {
            let done_with_shard = match dbs.existing(self.next_db) {
                None => {
                    self.next_shard = n - 1;
                    true
                }
                Some(ks) => {
                    let mut s = ks.lock_shard(self.next_shard);
                    if s.volatile() == 0 {
                        true
                    } else {
                        let (_, r) = s.sweep_expired(now_ms, ENTRIES_PER_LOCK);
                        removed += r;
                        s.sweep_cursor == 0
                    }
                }
            };
            if done_with_shard {
                self.next_shard += 1;
                if self.next_shard >= n {
                    self.next_shard = 0;
                    self.next_db = (self.next_db + 1) % dbs.count();
                }
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
    use crate::config::Settings;
    use crate::engine::store::Value;
    use std::sync::Arc;

    #[test]
    fn tick_reclaims_untouched_expired_keys_in_every_database() {
        let dbs = Databases::new(4, 256, Arc::new(Settings::defaults()));
        for i in 0..10_000 {
            let k = format!("k{i}");
            let h = dbs.hash(k.as_bytes());
            let ks = dbs.db(i % 3);
            ks.lock_shard(ks.shard_index(h)).insert(
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
            removed += cycle.tick(&dbs, 200, Duration::from_millis(50));
        }
        assert_eq!(removed, 5000);
        let left: usize = dbs
            .in_use()
            .map(|(_, ks)| (0..256).map(|i| ks.lock_shard(i).len()).sum::<usize>())
            .sum();
        assert_eq!(left, 5000);
    }
}
