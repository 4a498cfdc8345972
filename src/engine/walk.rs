//! Walks over whole databases (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHDB,
//! SWAPDB and the figures INFO reports). They go through the unit, so a walk inside a
//! transaction or a script uses the shards the unit already holds instead
//! of locking them a second time; outside one, they lock one shard at a
//! time and keep none.

use super::store::{ordered_cut, scan_order, DbTotals, Rec};
use super::unit::Unit;

impl Unit<'_> {
    /// Keys in `db` (expired keys not yet reclaimed included, as in Redis).
    pub fn dbsize(&mut self, db: usize) -> usize {
        if self.dbs().existing(db).is_none() {
            return 0;
        }
        (0..self.dbs().num_shards())
            .map(|i| self.with_shard(db, i, |s| s.len()))
            .sum()
    }

    /// Figures of every database in use, one lock per shard.
    pub fn totals(&mut self) -> Vec<(usize, DbTotals)> {
        let now = self.now;
        let dbs: Vec<usize> = self.dbs().in_use().map(|(i, _)| i).collect();
        dbs.into_iter()
            .map(|db| {
                let mut t = DbTotals::default();
                for i in 0..self.dbs().num_shards() {
                    self.with_shard(db, i, |s| {
                        t.keys += s.len();
                        t.volatile += s.volatile();
                        t.used += s.used_bytes();
                        t.stats.add(&s.stats);
                        if s.volatile() > 0 {
                            for (_, e) in s.records().filter(|(_, e)| e.expire_at() > now).take(16)
                            {
                                t.ttl_sum += (e.expire_at() - now) as u128;
                                t.ttl_samples += 1;
                            }
                        }
                    });
                }
                (db, t)
            })
            .collect()
    }

    /// Calls `f` for every live key of `db` until it returns false.
    pub fn for_each_live(&mut self, db: usize, mut f: impl FnMut(Rec) -> bool) {
        if self.dbs().existing(db).is_none() {
            return;
        }
        let now = self.now;
        for i in 0..self.dbs().num_shards() {
            let go_on = self.with_shard(db, i, |s| {
                s.records()
                    .map(|(_, e)| e)
                    .filter(|e| !e.is_expired(now))
                    .all(&mut f)
            });
            if !go_on {
                return;
            }
        }
    }

    /// A random live key of `db`.
    pub fn random_key(&mut self, db: usize) -> Option<Vec<u8>> {
        self.dbs().existing(db)?;
        let now = self.now;
        let n = self.dbs().num_shards();
        let start = fastrand::usize(..n);
        // Random probes first, then a walk, so sparse keyspaces still answer.
        for attempt in 0..n + 16 {
            let i = if attempt < 16 {
                fastrand::usize(..n)
            } else {
                (start + attempt - 16) % n
            };
            let found = self.with_shard(db, i, |s| {
                s.random_live(now).map(|pos| s.entry(pos).key().to_vec())
            });
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// One SCAN step over `db`. The cursor encodes a shard and a position in
    /// that shard's hash order, which does not depend on the table's layout:
    /// a key present for the whole scan is returned at least once however
    /// the keyspace changes. `count` is how many keys to examine; `emit`
    /// sees each live one.
    pub fn scan(&mut self, db: usize, cursor: u64, count: usize, mut emit: impl FnMut(Rec)) -> u64 {
        if self.dbs().existing(db).is_none() {
            return 0;
        }
        let now = self.now;
        let n = self.dbs().num_shards();
        let mut shard = (cursor & 0xFFFF) as usize;
        let mut threshold = cursor >> 16;
        let mut examined = 0usize;
        let mut cands: Vec<(u64, usize)> = Vec::new();
        while examined < count.max(1) && shard < n {
            let next = self.with_shard(db, shard, |s| {
                cands.clear();
                cands.extend(
                    s.records()
                        .filter(|(_, e)| !e.is_expired(now))
                        .map(|(i, e)| (scan_order(s.hash(e.key())), i))
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
                next
            });
            match next {
                Some(t) => {
                    threshold = t;
                    break;
                }
                None => {
                    shard += 1;
                    threshold = 0;
                }
            }
        }
        if shard >= n {
            0
        } else {
            (threshold << 16) | shard as u64
        }
    }

    /// Exchanges the contents of databases `a` and `b` (SWAPDB). Runs in an
    /// exclusive unit. First, as Redis does, every client watching a key of
    /// either database is flagged if that key exists on either side.
    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        debug_assert!(self.is_exclusive(), "SWAPDB runs in an exclusive unit");
        let dbs = self.dbs();
        if dbs.existing(a).is_none() && dbs.existing(b).is_none() {
            return;
        }
        let watches = &dbs.shared().watches;
        for (emptied, replaced_with) in [(a, b), (b, a)] {
            for key in watches.keys_of(emptied) {
                if self.holds_key(emptied, &key, None)
                    || self.holds_key(replaced_with, &key, Some(self.now))
                {
                    watches.touched(emptied, &key);
                }
            }
        }
        // Nothing else runs in an exclusive unit: give back what it holds so
        // each pair of shards can be locked together.
        self.release_shards();
        let (ka, kb) = (dbs.db(a), dbs.db(b));
        for i in 0..dbs.num_shards() {
            ka.lock_shard(i).swap_contents(&mut kb.lock_shard(i));
        }
    }

    /// Whether `db` has `key` (live at `now` when given, else even if its
    /// TTL passed and it was not reclaimed yet), without touching it.
    fn holds_key(&mut self, db: usize, key: &[u8], now: Option<u64>) -> bool {
        if self.dbs().existing(db).is_none() {
            return false;
        }
        let hash = self.dbs().hash(key);
        let index = self.dbs().shard_index(hash);
        self.with_shard(db, index, |s| {
            s.position(hash, key)
                .is_some_and(|pos| now.is_none_or(|t| !s.entry(pos).is_expired(t)))
        })
    }

    /// Removes every key of `db`. Runs in an exclusive unit, so no client
    /// sees the database half emptied.
    pub fn flush_db(&mut self, db: usize) {
        debug_assert!(self.is_exclusive(), "flush runs in an exclusive unit");
        if self.dbs().existing(db).is_none() {
            return;
        }
        for i in 0..self.dbs().num_shards() {
            self.with_shard(db, i, |s| s.clear());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use crate::engine::gate::Gate;
    use crate::engine::store::{Databases, Value};
    use crate::engine::unit::Unit;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn put(u: &mut Unit, db: usize, k: &str) {
        u.key(db, k.as_bytes()).upsert(Value::Int(0), false);
        u.release_shards();
    }

    #[test]
    fn scan_returns_every_stable_key_despite_churn() {
        let gate = Gate::new(1);
        let dbs = Databases::new(1, 256, Arc::new(Settings::defaults()));
        let pass = gate.shared().unwrap();
        let mut u = Unit::within(&pass, &dbs, 0);
        for i in 0..5000 {
            put(&mut u, 0, &format!("key:{i}"));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = u.scan(0, cursor, 10, |e| {
                seen.insert(e.key().to_vec());
            });
            // Churn: add and remove other keys while scanning.
            for j in 0..20 {
                put(&mut u, 0, &format!("tmp:{round}:{j}"));
                let old = format!("tmp:{}:{j}", round.max(1) - 1);
                u.key(0, old.as_bytes()).delete();
                u.release_shards();
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
    fn walks_see_each_database_alone() {
        let gate = Gate::new(1);
        let dbs = Databases::new(16, 256, Arc::new(Settings::defaults()));
        let pass = gate.exclusive().unwrap();
        let mut u = Unit::within(&pass, &dbs, 0);
        put(&mut u, 3, "a");
        put(&mut u, 0, "a");
        put(&mut u, 0, "b");
        // A shard held by the unit is walked through the unit's own guard.
        let _ = u.key(0, b"a").find(crate::engine::store::Access::PEEK);
        assert_eq!(u.dbsize(3), 1);
        assert_eq!(u.dbsize(0), 2);
        assert_eq!(u.dbsize(5), 0);
        assert!(dbs.existing(5).is_none());
        let totals = u.totals();
        assert_eq!(totals.len(), 2);
        assert_eq!(
            dbs.used_bytes(),
            totals.iter().map(|(_, t)| t.used).sum::<usize>()
        );
        u.flush_db(0);
        assert_eq!(u.dbsize(0), 0);
        assert_eq!(u.dbsize(3), 1);
        assert_eq!(u.random_key(3).as_deref(), Some(&b"a"[..]));
    }
}
