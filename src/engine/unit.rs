//! The unit of execution: one command, one EXEC or one script runs as a
//! unit that passes the gate once and holds the shard locks it needs until
//! it ends, so no other client sees it half done.
//!
//! - An ordinary unit whose keys are known locks their shards up front, in
//!   ascending (database, shard) order, so units never deadlock; a unit
//!   with one key locks its shard when first used.
//! - An exclusive unit holds the gate alone and locks shards on demand in
//!   any order (nothing else runs).
//! - Walks over a whole database (KEYS, SCAN, DBSIZE) lock one shard at a
//!   time and keep none.
//!
//! A unit is a lock set, not an allocation: the common single-shard case
//! keeps its one guard inline.

use parking_lot::MutexGuard;

use super::gate::{Gate, Pass};
use super::store::{Access, Databases, Keyspace, Kind, Shard, Taken, Value, ValueRef};
use crate::errors::{self, CmdResult};

/// (database, shard) packed so the natural order is the locking order.
#[inline]
fn slot_id(db: usize, shard: usize) -> u32 {
    ((db as u32) << 16) | shard as u32
}

pub struct Unit<'e> {
    dbs: &'e Databases,
    exclusive: bool,
    /// Runs a read-only command: a database not yet written is looked up
    /// in the vacant keyspace instead of being created.
    read_only: bool,
    /// Runs what a replica's master sent: keys whose TTL passed are still
    /// there until the master's DEL.
    pub keep_expired: bool,
    first: Option<(u32, MutexGuard<'e, Shard>)>,
    more: Vec<(u32, MutexGuard<'e, Shard>)>,
    /// Commands (database, arguments) this unit's writes feed to replicas,
    /// fed together when it ends.
    propagated: Vec<(usize, Vec<Vec<u8>>)>,
    /// Time of this unit (unix ms): expiry decisions use one clock reading.
    pub now: u64,
    /// The client this unit runs commands for (0: none), stamped on the
    /// shards it locks while some client tracks keys (see
    /// [`Shard::writer`]); otherwise shards are not written for it.
    pub writer: u64,
}

/// Returned when a busy script holds the gate: the command gets BUSY.
#[derive(Debug)]
pub struct Busy;

/// Runs `f` in an ordinary unit with a pass of its own.
pub fn shared<R>(
    gate: &Gate,
    dbs: &Databases,
    now: u64,
    f: impl FnOnce(&mut Unit) -> R,
) -> Result<R, Busy> {
    let pass = gate.shared().ok_or(Busy)?;
    let mut unit = Unit::within(&pass, dbs, now);
    Ok(f(&mut unit))
}

/// Runs `f` in a unit that holds the gate alone.
pub fn exclusive<R>(
    gate: &Gate,
    dbs: &Databases,
    now: u64,
    f: impl FnOnce(&mut Unit) -> R,
) -> Result<R, Busy> {
    let pass = gate.exclusive().ok_or(Busy)?;
    let mut unit = Unit::within(&pass, dbs, now);
    Ok(f(&mut unit))
}

impl<'e> Unit<'e> {
    /// A unit inside a pass the caller holds (a connection keeps one shared
    /// pass for a whole batch of commands). The pass must outlive the unit.
    #[inline]
    pub fn within(pass: &'e Pass<'_>, dbs: &'e Databases, now: u64) -> Unit<'e> {
        Unit {
            dbs,
            exclusive: pass.is_exclusive(),
            read_only: false,
            keep_expired: false,
            first: None,
            more: Vec::new(),
            propagated: Vec::new(),
            now,
            writer: 0,
        }
    }

    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Marks the unit as running one read-only command (see `read_only`).
    /// All of such a command's keys are in one database, so a unit that
    /// starts in the vacant keyspace never waits for it while holding a
    /// real shard.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// The keyspace lookups in `db` use: the database, created on first use
    /// unless the unit is read-only and it was never written.
    #[inline]
    fn keyspace(&self, db: usize) -> &'e Keyspace {
        match self.dbs.existing(db) {
            Some(ks) => ks,
            None if self.read_only => self.dbs.vacant(),
            None => self.dbs.db(db),
        }
    }

    pub fn dbs(&self) -> &'e Databases {
        self.dbs
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.dbs.hash(key)
    }

    fn held_index(&self, id: u32) -> Option<usize> {
        match &self.first {
            Some((f, _)) if *f == id => Some(usize::MAX),
            _ => self.more.iter().position(|(i, _)| *i == id),
        }
    }

    fn highest_held(&self) -> Option<u32> {
        let f = self.first.as_ref().map(|(i, _)| *i);
        let m = self.more.iter().map(|(i, _)| *i).max();
        f.max(m)
    }

    /// Marks `g` as changed by this unit's client, when that matters.
    #[inline]
    fn stamp(&self, g: &mut Shard) {
        if self.dbs.shared().tracking.is_active() {
            g.writer = self.writer;
        }
    }

    fn push(&mut self, id: u32, mut g: MutexGuard<'e, Shard>) {
        self.stamp(&mut g);
        if self.first.is_none() {
            self.first = Some((id, g));
        } else {
            self.more.push((id, g));
        }
    }

    fn guard(&mut self, at: usize) -> &mut Shard {
        if at == usize::MAX {
            &mut self.first.as_mut().expect("held").1
        } else {
            &mut self.more[at].1
        }
    }

    /// Locks, in order, every shard of `db` that holds one of `hashes`
    /// (for commands with several keys). Call before touching any of them.
    pub fn lock_keys(&mut self, db: usize, hashes: &[u64]) {
        let pairs: Vec<(usize, u64)> = hashes.iter().map(|&h| (db, h)).collect();
        self.lock_keys_in(&pairs);
    }

    /// [`Unit::lock_keys`] for keys of several databases: (database, hash).
    pub fn lock_keys_in(&mut self, keys: &[(usize, u64)]) {
        let mut ids: Vec<(u32, usize)> = keys
            .iter()
            .map(|&(db, h)| (slot_id(db, self.keyspace(db).shard_index(h)), db))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for (id, db) in ids {
            if self.held_index(id).is_none() {
                self.lock_id(self.keyspace(db), id);
            }
        }
    }

    fn lock_id(&mut self, ks: &'e Keyspace, id: u32) {
        if !self.is_exclusive() {
            // Ordinary units lock in ascending order only; a unit that needs
            // several shards must declare them with `lock_keys` first.
            debug_assert!(
                self.highest_held().is_none_or(|h| h < id),
                "shard locked out of order"
            );
        }
        let g = ks.lock_shard((id & 0xFFFF) as usize);
        self.push(id, g);
    }

    /// The shard of `db` that holds keys with this hash, locked for the
    /// rest of the unit.
    #[inline]
    pub fn shard(&mut self, db: usize, hash: u64) -> &mut Shard {
        let ks = self.keyspace(db);
        let id = slot_id(db, ks.shard_index(hash));
        // The common case: a single-key command's first lookup, or another
        // lookup in the shard it holds.
        match self.first {
            None if self.more.is_empty() => {
                let mut g = ks.lock_shard((id & 0xFFFF) as usize);
                self.stamp(&mut g);
                return &mut self.first.insert((id, g)).1;
            }
            Some((f, _)) if f == id => return &mut self.first.as_mut().expect("held").1,
            _ => {}
        }
        self.shard_slow(ks, id)
    }

    fn shard_slow(&mut self, ks: &'e Keyspace, id: u32) -> &mut Shard {
        let at = match self.held_index(id) {
            Some(at) => at,
            None => {
                self.lock_id(ks, id);
                if self.more.is_empty() {
                    usize::MAX
                } else {
                    self.more.len() - 1
                }
            }
        };
        self.guard(at)
    }

    /// A key of `db` and its locked shard.
    #[inline]
    pub fn key<'u, 'k>(&'u mut self, db: usize, key: &'k [u8]) -> KeyRef<'u, 'k> {
        let hash = self.dbs.hash(key);
        let now = self.now;
        let keep_expired = self.keep_expired;
        KeyRef {
            shard: self.shard(db, hash),
            hash,
            key,
            now,
            keep_expired,
        }
    }

    /// Runs `f` on shard `index` of `db` (a walk): a shard the unit already
    /// holds is used as is; any other is locked just for `f`.
    pub fn with_shard<R>(&mut self, db: usize, index: usize, f: impl FnOnce(&mut Shard) -> R) -> R {
        let ks = self.dbs.db(db);
        let id = slot_id(db, index);
        match self.held_index(id) {
            Some(at) => f(self.guard(at)),
            None => f(&mut ks.lock_shard(index)),
        }
    }

    /// Notes a command for replicas; fed by [`Unit::feed_propagated`].
    pub fn propagate(&mut self, db: usize, args: Vec<Vec<u8>>) {
        if self.dbs.shared().feed.is_active() {
            self.propagated.push((db, args));
        }
    }

    /// Feeds the commands noted so far (wrapped in MULTI/EXEC when more
    /// than one). Call before releasing the shards. True when any was fed.
    pub fn feed_propagated(&mut self) -> bool {
        if self.propagated.is_empty() {
            return false;
        }
        self.dbs.shared().feed.commands(&self.propagated);
        self.propagated.clear();
        true
    }

    /// True when the unit holds no shard lock.
    pub fn holds_nothing(&self) -> bool {
        self.first.is_none() && self.more.is_empty()
    }

    /// Releases every shard lock but keeps the pass (so work that locks
    /// shards one at a time, like eviction, can run inside the unit).
    pub fn release_shards(&mut self) {
        self.more.clear();
        self.first = None;
    }
}

/// One key and the shard that holds it (locked by the unit).
pub struct KeyRef<'u, 'k> {
    pub shard: &'u mut Shard,
    pub hash: u64,
    pub key: &'k [u8],
    pub now: u64,
    keep_expired: bool,
}

impl KeyRef<'_, '_> {
    /// The position of the live key (see [`Shard::find`]).
    #[inline]
    pub fn find(&mut self, access: Access) -> Option<usize> {
        let access = if self.keep_expired {
            access.keeping_expired()
        } else {
            access
        };
        self.shard.find(self.hash, self.key, self.now, access)
    }

    /// The position of the live key, which must hold a value of `kind`.
    #[inline]
    pub fn find_kind(&mut self, access: Access, kind: Kind) -> CmdResult<Option<usize>> {
        match self.find(access) {
            Some(pos) if self.shard.entry(pos).value().kind() != kind => Err(errors::WRONGTYPE),
            found => Ok(found),
        }
    }

    /// The value at `pos`.
    #[inline]
    pub fn value(&self, pos: usize) -> ValueRef<'_> {
        self.shard.entry(pos).value()
    }

    /// Inserts the key, known to be absent.
    #[inline]
    pub fn insert(&mut self, value: Value, expire_at: u64) -> usize {
        self.shard
            .insert(self.hash, self.key, value, expire_at, self.now)
    }

    /// Inserts the key, known to be absent, holding the string `bytes`.
    #[inline]
    pub fn insert_string(&mut self, bytes: &[u8], expire_at: u64) -> usize {
        self.shard
            .insert_string(self.hash, self.key, bytes, expire_at, self.now)
    }

    /// Inserts the key, known to be absent, with an entry taken from
    /// another key (RENAME, MOVE): value, TTL and object identity.
    pub fn insert_moved(&mut self, taken: Taken) -> usize {
        let own = taken.own_object;
        let pos = self.insert(taken.value, taken.expire_at);
        self.shard.set_own_object(pos, own);
        pos
    }

    /// Sets the key to `value`; the TTL is cleared unless `keep_ttl`.
    #[inline]
    pub fn upsert(&mut self, value: Value, keep_ttl: bool) -> usize {
        self.shard
            .upsert(self.hash, self.key, value, keep_ttl, self.now)
    }

    /// The position of the live key holding `kind`, created with `make` when
    /// absent.
    pub fn find_or_create(&mut self, kind: Kind, make: impl FnOnce() -> Value) -> CmdResult<usize> {
        match self.find_kind(Access::WRITE, kind)? {
            Some(pos) => Ok(pos),
            None => Ok(self.insert(make(), 0)),
        }
    }

    /// Removes the key if it is live; true when it was.
    #[inline]
    pub fn delete(&mut self) -> bool {
        self.shard.delete(self.hash, self.key, self.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::engine::store::Value;
    use std::sync::Arc;

    #[test]
    fn keys_locked_together_are_atomic_for_other_units() {
        let gate = Arc::new(Gate::new(4));
        let dbs = Arc::new(Databases::new(1, 256, Arc::new(Settings::defaults())));
        let keys: Vec<Vec<u8>> = (0..8).map(|i| format!("k{i}").into_bytes()).collect();
        // Writers set every key to the same number; readers must never see
        // two different numbers.
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (gate, dbs, keys) = (gate.clone(), dbs.clone(), keys.clone());
                std::thread::spawn(move || {
                    for n in 0..500i64 {
                        let pass = gate.shared().unwrap();
                        let mut u = Unit::within(&pass, &dbs, 0);
                        let hashes: Vec<u64> = keys.iter().map(|k| u.hash(k)).collect();
                        u.lock_keys(0, &hashes);
                        if t % 2 == 0 {
                            for (k, &h) in keys.iter().zip(&hashes) {
                                u.shard(0, h).upsert(h, k, Value::Int(n), false, 0);
                            }
                        } else {
                            let seen: Vec<i64> = keys
                                .iter()
                                .zip(&hashes)
                                .filter_map(|(k, &h)| {
                                    let s = u.shard(0, h);
                                    let pos = s.position(h, k)?;
                                    match s.entry(pos).value() {
                                        crate::engine::store::ValueRef::Int(v) => Some(v),
                                        _ => None,
                                    }
                                })
                                .collect();
                            assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
