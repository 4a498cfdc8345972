//! Background compaction: a pass in the housekeeping tick that visits every
//! shard in turn and, where enough of its record arena is dead (deleted or
//! overwritten records), moves the live records of the emptiest segments
//! together so those segments go back to the allocator. Each shard lock is
//! held for a few segments at most, so requests wait microseconds.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::Databases;

/// Segments evacuated per shard lock.
const SEGMENTS_PER_LOCK: usize = 8;

/// Position in the round-robin walk over (database, shard), kept between ticks.
#[derive(Default)]
pub struct CompactCycle {
    next_db: usize,
    next_shard: usize,
}

impl CompactCycle {
    /// Runs one tick: compacts shards that want it until `budget` elapses or
    /// every shard was visited once. Returns the number of records moved.
    pub fn tick(&mut self, dbs: &Databases, budget: Duration) -> usize {
        let wanted = &dbs.shared().compaction_wanted;
        if !wanted.swap(false, Relaxed) {
            return 0;
        }
        let start = Instant::now();
        let mut unfinished = false;
        let n = dbs.num_shards();
        let mut moved = 0;
        for step in 0..n * dbs.count() {
            if let Some(ks) = dbs.existing(self.next_db) {
                loop {
                    // A shard a request holds is visited next time round.
                    let Some(mut s) = ks.try_lock_shard(self.next_shard) else {
                        unfinished = true;
                        break;
                    };
                    if !s.wants_compaction() {
                        break;
                    }
                    match s.compact(SEGMENTS_PER_LOCK) {
                        // Dead space spread thinly: nothing worth moving.
                        0 => break,
                        m => moved += m,
                    }
                    if start.elapsed() >= budget {
                        break;
                    }
                }
            }
            // The clock is read once per batch of shards, or after work.
            if (step % 64 == 63 || moved > 0) && start.elapsed() >= budget {
                unfinished = true;
                break;
            }
            self.next_shard += 1;
            if self.next_shard >= n || dbs.existing(self.next_db).is_none() {
                self.next_shard = 0;
                self.next_db = (self.next_db + 1) % dbs.count();
            }
        }
        if unfinished {
            // Shards not reached (or busy) may still want compacting.
            wanted.store(true, Relaxed);
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::engine::store::Value;
    use std::sync::Arc;

    /// After most keys are deleted, ticks give the dead space back in every
    /// database, and the remaining keys read back.
    #[test]
    fn ticks_reclaim_dead_space_everywhere() {
        let dbs = Databases::new(2, 256, Arc::new(Settings::defaults()));
        let key = |i: u32| format!("key:{i:08}").into_bytes();
        let arena = |dbs: &Databases| -> usize {
            (0..2)
                .flat_map(|db| (0..256).map(move |i| (db, i)))
                .map(|(db, i)| dbs.db(db).lock_shard(i).arena_bytes().0)
                .sum()
        };
        for db in 0..2 {
            let ks = dbs.db(db);
            for i in 0..50_000 {
                let k = key(i);
                let h = dbs.hash(&k);
                ks.lock_shard(ks.shard_index(h)).insert(
                    h,
                    &k,
                    Value::from_bytes(&[b'v'; 100]),
                    0,
                    0,
                );
            }
            for i in (0..50_000).filter(|i| i % 5 != 0) {
                let k = key(i);
                let h = dbs.hash(&k);
                assert!(ks.lock_shard(ks.shard_index(h)).delete(h, &k, 0));
            }
        }
        let before = arena(&dbs);
        let mut cycle = CompactCycle::default();
        for _ in 0..100 {
            cycle.tick(&dbs, Duration::from_secs(1));
        }
        let after = arena(&dbs);
        assert!(after * 3 < before, "{after} of {before}");
        for db in 0..2 {
            let ks = dbs.db(db);
            for i in (0..50_000).step_by(5) {
                let k = key(i);
                let h = dbs.hash(&k);
                let s = ks.lock_shard(ks.shard_index(h));
                let pos = s.position(h, &k).expect("kept");
                assert_eq!(s.entry(pos).value().str_len(), 100);
            }
        }
    }
}
