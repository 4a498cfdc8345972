//! The keyspace: numbered databases ([`Databases`]), each a [`Keyspace`] of
//! `N` shards, each a [`Shard`] behind its own lock.
//!
//! One 64-bit hash of the key (foldhash with a per-store random seed) is
//! computed once; bits 32.. pick the shard and the whole hash places the key
//! in the shard's table. Databases other than 0 are created the first time
//! they are used, so unused ones cost a pointer. Memory accounting and
//! eviction span all databases, as in Redis.
//!
//! Locking is the caller's business (see `engine::unit`): this module hands
//! out shard guards and never holds two at once itself.

pub mod arena;
pub mod compact;
pub mod expire;
pub mod glob;
pub mod hash;
pub mod index;
pub mod list;
pub mod notify;
pub mod record;
pub mod set;
pub mod shard;
pub mod stream;
pub mod tracking;
pub mod value;
pub mod watch;
pub mod zset;

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, MutexGuard};

use crate::config::Settings;
use crate::engine::repl::Feed;
pub use index::prefetch;
pub use record::{Rec, ValueRef};
pub use shard::{Access, KeyHasher, Shard, ShardObserver, ShardStats, Taken, ENTRY_OVERHEAD};
pub use value::{
    HashLimits, HashValue, Kind, Limits, ListLimits, ListValue, SetLimits, SetValue, StreamValue,
    Value, ZSetLimits, ZSetValue,
};

/// Milliseconds since the unix epoch (the time base of expiries).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What every shard of every database shares.
pub struct StoreShared {
    /// Bytes accounted over all databases.
    pub used: AtomicI64,
    pub hasher: KeyHasher,
    /// Cluster mode: the shard bits of a key's hash are its hash slot
    /// ([`Databases::hash`]).
    pub by_slot: bool,
    pub settings: Arc<Settings>,
    /// Time zero of the access clock.
    pub clock_base_ms: u64,
    /// Clients watching keys (WATCH).
    pub watches: watch::Watches,
    /// Frees large values off the command path.
    pub reclaimer: Reclaimer,
    /// Writes fed to replicas (keys expired or evicted here are fed as DEL).
    pub feed: Feed,
    /// This server follows a master: keys are expired by the master's DEL,
    /// not by this server.
    pub replica: AtomicBool,
    /// Keyspace notifications (commands, expiry and eviction publish).
    pub notifier: notify::Notifier,
    /// Client-side caching: keys clients may cache, invalidated on change.
    pub tracking: tracking::Tracking,
    /// Streams that expired while XREADGROUP clients may wait on them.
    pub expired_streams: ExpiredStreams,
    /// Some shard's record arena has enough dead space to compact (a hint
    /// the compaction pass clears, so an idle store costs it nothing).
    pub compaction_wanted: std::sync::atomic::AtomicBool,
}

/// Stream keys removed by expiry, noted (only once an XREADGROUP client
/// has blocked) so their blocked readers can be told the key is gone.
#[derive(Default)]
pub struct ExpiredStreams {
    watching: AtomicBool,
    pending: AtomicBool,
    keys: Mutex<Vec<(usize, Vec<u8>)>>,
}

impl ExpiredStreams {
    /// From now on, note expired streams.
    pub fn watch(&self) {
        self.watching.store(true, Ordering::Relaxed);
    }

    fn note(&self, db: usize, key: &[u8]) {
        if self.watching.load(Ordering::Relaxed) {
            self.keys.lock().push((db, key.to_vec()));
            self.pending.store(true, Ordering::Release);
        }
    }

    /// The streams noted since the last call.
    #[inline]
    pub fn take(&self) -> Option<Vec<(usize, Vec<u8>)>> {
        if !self.pending.load(Ordering::Acquire) {
            return None;
        }
        self.pending.store(false, Ordering::Release);
        Some(std::mem::take(&mut *self.keys.lock()))
    }
}

/// Pending stream bytes a replica may fall behind by before it is
/// dropped (Redis's `client-output-buffer-limit replica 256mb`).
pub const REPLICA_OUTPUT_LIMIT: usize = 256 << 20;

/// Collections with more elements than this are freed in the background
/// when deleted, evicted, expired or overwritten (Redis's lazyfree
/// threshold), so dropping a million-member set does not stall the shard.
pub const LAZYFREE_THRESHOLD: usize = 64;

/// A background thread that drops what it is sent (started on first use,
/// ending when the store is dropped).
#[derive(Default)]
pub struct Reclaimer {
    tx: parking_lot::Mutex<Option<std::sync::mpsc::Sender<Box<dyn Send>>>>,
    counts: Arc<ReclaimCounts>,
}

/// INFO's `lazyfree_pending_objects` and `lazyfreed_objects`.
#[derive(Default)]
pub struct ReclaimCounts {
    pub pending: AtomicU64,
    pub freed: AtomicU64,
}

impl Reclaimer {
    /// Drops `v` on the background thread (or here, if it cannot start).
    pub fn drop_later(&self, v: Box<dyn Send>) {
        let mut tx = self.tx.lock();
        if tx.is_none() {
            let (sender, receiver) = std::sync::mpsc::channel::<Box<dyn Send>>();
            let counts = self.counts.clone();
            let started = std::thread::Builder::new()
                .name("lazyfree".into())
                .spawn(move || {
                    for v in receiver {
                        drop(v);
                        counts.pending.fetch_sub(1, Ordering::Relaxed);
                        counts.freed.fetch_add(1, Ordering::Relaxed);
                    }
                });
            if started.is_ok() {
                *tx = Some(sender);
            }
        }
        self.counts.pending.fetch_add(1, Ordering::Relaxed);
        let sent = tx.as_ref().map(|sender| sender.send(v));
        if !matches!(sent, Some(Ok(()))) {
            // No thread: freed here after all.
            self.counts.pending.fetch_sub(1, Ordering::Relaxed);
            self.counts.freed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn counts(&self) -> &ReclaimCounts {
        &self.counts
    }
}

impl StoreShared {
    pub fn new(settings: Arc<Settings>) -> StoreShared {
        StoreShared {
            used: AtomicI64::new(0),
            hasher: KeyHasher::default(),
            by_slot: settings.flag(crate::config::P::ClusterEnabled),
            clock_base_ms: now_ms().saturating_sub(1),
            watches: watch::Watches::default(),
            reclaimer: Reclaimer::default(),
            feed: Feed::new(
                settings.uint(crate::config::P::ReplBacklogSize) as usize,
                REPLICA_OUTPUT_LIMIT,
            ),
            replica: AtomicBool::new(false),
            notifier: {
                let n = notify::Notifier::default();
                let classes = settings.text(crate::config::P::NotifyKeyspaceEvents);
                n.set_flags(notify::class::parse(&classes).unwrap_or(0));
                n
            },
            tracking: {
                let t = tracking::Tracking::default();
                t.set_max_keys(settings.uint(crate::config::P::TrackingTableMaxKeys));
                t
            },
            expired_streams: ExpiredStreams::default(),
            compaction_wanted: std::sync::atomic::AtomicBool::new(false),
            settings,
        }
    }

    #[cfg(test)]
    pub fn for_tests() -> StoreShared {
        StoreShared::new(Arc::new(Settings::defaults()))
    }
}

#[repr(align(64))]
pub struct PaddedShard(Mutex<Shard>);

/// One database: `N` shards.
pub struct Keyspace {
    shards: Box<[PaddedShard]>,
    mask: u64,
}

impl Keyspace {
    fn new(db: usize, num_shards: usize, shared: &Arc<StoreShared>) -> Keyspace {
        assert!(num_shards.is_power_of_two() && num_shards <= 1 << 16);
        Keyspace {
            shards: (0..num_shards)
                .map(|_| PaddedShard(Mutex::new(Shard::new(shared.clone(), db))))
                .collect(),
            mask: (num_shards - 1) as u64,
        }
    }

    pub fn num_shards(&self) -> usize {
        self.shards.len()
    }

    #[inline]
    pub fn shard_index(&self, hash: u64) -> usize {
        ((hash >> 32) & self.mask) as usize
    }

    /// Locks shard `i`.
    #[inline]
    pub fn lock_shard(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i].0.lock()
    }

    /// Locks shard `i` unless another thread holds it.
    #[inline]
    pub fn try_lock_shard(&self, i: usize) -> Option<MutexGuard<'_, Shard>> {
        self.shards[i].0.try_lock()
    }

    /// Warms the memory that looking up each of `hashes` will touch, in
    /// passes over the whole batch (shard, index slot, entry, string value),
    /// so the batch's cache misses overlap instead of following one another.
    /// Purely a hint: nothing changes, and a shard another thread holds is
    /// skipped.
    pub fn prefetch(&self, hashes: &[u64]) {
        for &h in hashes {
            // The lock and the lookup's fields span the slot's first two lines.
            let slot = &self.shards[self.shard_index(h)];
            prefetch(slot);
            prefetch((slot as *const PaddedShard).cast::<u8>().wrapping_add(64));
        }
        for &h in hashes {
            if let Some(s) = self.try_lock_shard(self.shard_index(h)) {
                s.prefetch_slot(h);
            }
        }
        for &h in hashes {
            if let Some(s) = self.try_lock_shard(self.shard_index(h)) {
                s.prefetch_entry(h);
            }
        }
        for &h in hashes {
            if let Some(s) = self.try_lock_shard(self.shard_index(h)) {
                s.prefetch_value(h);
            }
        }
    }

    /// Bytes accounted for this database (locks each shard in turn).
    pub fn used_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().used_bytes()).sum()
    }
}

/// Figures of one database gathered in one pass.
#[derive(Default, Clone, Copy, Debug)]
pub struct DbTotals {
    pub keys: usize,
    pub volatile: usize,
    pub used: usize,
    /// Sum and count of sampled remaining TTLs (ms), for `avg_ttl`.
    pub ttl_sum: u128,
    pub ttl_samples: u64,
    pub stats: ShardStats,
}

impl DbTotals {
    pub fn avg_ttl(&self) -> u64 {
        if self.ttl_samples == 0 {
            0
        } else {
            (self.ttl_sum / self.ttl_samples as u128) as u64
        }
    }
}

/// The numbered databases of one server.
///
/// A database's shards are allocated by its first write. Until then,
/// read-only commands look keys up in `vacant`, one always-empty shard
/// shared by every database not yet written, so reading (or SELECTing) an
/// unused database costs nothing.
pub struct Databases {
    shared: Arc<StoreShared>,
    dbs: Box<[OnceLock<Keyspace>]>,
    vacant: Keyspace,
    num_shards: usize,
}

/// The bits of a hash that choose the shard, which cluster mode sets to
/// the key's hash slot.
const SLOT_BITS: u64 = (crate::engine::slot::SLOTS as u64 - 1) << 32;

/// `h` with its shard bits replaced by the key's hash slot.
#[inline(never)]
fn with_slot(h: u64, key: &[u8]) -> u64 {
    (h & !SLOT_BITS) | (crate::engine::slot::key_slot(key) as u64) << 32
}

impl Databases {
    /// `count` databases of `num_shards` shards (a power of two); db 0 is
    /// created at once, the others on first use.
    pub fn new(count: usize, num_shards: usize, settings: Arc<Settings>) -> Databases {
        // In cluster mode a shard holds whole hash slots: no more shards
        // than slots.
        let num_shards = if settings.flag(crate::config::P::ClusterEnabled) {
            num_shards.min(crate::engine::slot::SLOTS as usize)
        } else {
            num_shards
        };
        let shared = Arc::new(StoreShared::new(settings));
        let dbs: Box<[OnceLock<Keyspace>]> = (0..count.max(1)).map(|_| OnceLock::new()).collect();
        let _ = dbs[0].set(Keyspace::new(0, num_shards, &shared));
        // (Its database number is one no client can select.)
        let vacant = Keyspace::new(dbs.len(), 1, &shared);
        Databases {
            shared,
            dbs,
            vacant,
            num_shards,
        }
    }

    pub fn count(&self) -> usize {
        self.dbs.len()
    }

    pub fn num_shards(&self) -> usize {
        self.num_shards
    }

    pub fn shared(&self) -> &Arc<StoreShared> {
        &self.shared
    }

    /// A key's hash: the low 32 bits place it in its shard's index (the
    /// shard's own hasher gives the same bits), bits 32 and up choose the
    /// shard. In cluster mode those are the key's hash slot, so all keys
    /// of a slot share a shard: CLUSTER GETKEYSINSLOT and COUNTKEYSINSLOT
    /// read that shard only, and the request path keeps no slot index.
    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        let h = self.shared.hasher.hash_one(key);
        if self.shared.by_slot {
            with_slot(h, key)
        } else {
            h
        }
    }

    #[inline]
    pub fn shard_index(&self, hash: u64) -> usize {
        ((hash >> 32) & (self.num_shards as u64 - 1)) as usize
    }

    /// Database `db`, created if this is its first use.
    #[inline]
    pub fn db(&self, db: usize) -> &Keyspace {
        let cell = &self.dbs[db];
        match cell.get() {
            Some(ks) => ks,
            None => cell.get_or_init(|| Keyspace::new(db, self.num_shards, &self.shared)),
        }
    }

    /// The keyspace read-only lookups use for a database not yet written:
    /// one shard that never holds a key.
    #[inline]
    pub fn vacant(&self) -> &Keyspace {
        &self.vacant
    }

    /// Hits and misses counted by lookups in databases not yet written.
    pub fn vacant_stats(&self) -> ShardStats {
        self.vacant.lock_shard(0).stats
    }

    /// Database `db` if it was ever used.
    #[inline]
    pub fn existing(&self, db: usize) -> Option<&Keyspace> {
        self.dbs.get(db)?.get()
    }

    /// The databases in use, with their numbers.
    pub fn in_use(&self) -> impl Iterator<Item = (usize, &Keyspace)> + '_ {
        self.dbs
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.get().map(|k| (i, k)))
    }

    /// Bytes accounted for the whole dataset (keys, values, per-entry overhead).
    #[inline]
    pub fn used_bytes(&self) -> usize {
        self.shared.used.load(Relaxed).max(0) as usize
    }

    /// Large values freed in the background: pending and done.
    pub fn reclaimer_counts(&self) -> &ReclaimCounts {
        self.shared.reclaimer.counts()
    }

    pub fn reset_stats(&self) {
        for (_, ks) in self.in_use() {
            for s in ks.shards.iter() {
                s.0.lock().stats = ShardStats::default();
            }
        }
        self.vacant.lock_shard(0).stats = ShardStats::default();
    }

    /// Evicts keys with the active policy until `needed` more bytes fit
    /// under `limit`. Eviction starts in the larger of the shard of `near`
    /// (the key being written: its database and hash) and a random shard of
    /// a random database in use, so shards stay balanced and memory is one
    /// budget across databases, as in Redis; keys whose hashes are in `protected`
    /// are never chosen. Returns false when nothing more can be evicted.
    ///
    /// Takes one shard lock at a time: the caller holds none.
    pub fn make_room(
        &self,
        needed: usize,
        limit: usize,
        near: Option<(usize, u64)>,
        protected: &[u64],
        now_ms: u64,
    ) -> bool {
        // Shards hash entries without the slot bits [`Databases::hash`]
        // puts in cluster mode: compare the other bits.
        let mask = if self.shared.by_slot {
            !SLOT_BITS
        } else {
            u64::MAX
        };
        let is_protected = |h: u64| protected.iter().any(|&p| (p ^ h) & mask == 0);
        let dbs: Vec<(usize, &Keyspace)> = self.in_use().collect();
        let n = self.num_shards;
        let mut misses = 0;
        while self.used_bytes() + needed > limit {
            let (db, random) = (dbs[fastrand::usize(..dbs.len())].1, fastrand::usize(..n));
            let (ks, idx) = match near {
                Some((d, h)) if misses == 0 => {
                    let ks = self.db(d);
                    let a = ks.shard_index(h);
                    let ua = ks.lock_shard(a).used_bytes();
                    let ub = db.lock_shard(random).used_bytes();
                    if ua >= ub {
                        (ks, a)
                    } else {
                        (db, random)
                    }
                }
                _ => (db, random),
            };
            if ks.lock_shard(idx).evict_one(now_ms, &is_protected) {
                misses = 0;
                continue;
            }
            misses += 1;
            if self.used_bytes() == 0 {
                return false;
            }
            if misses > 4 * n.min(64) {
                // Nothing evictable in the shards tried: walk them all once.
                let found = dbs.iter().any(|(_, ks)| {
                    (0..n).any(|i| ks.lock_shard(i).evict_one(now_ms, &is_protected))
                });
                if !found {
                    return false;
                }
                misses = 0;
            }
        }
        true
    }
}

/// The 48-bit SCAN order of a key hash.
#[inline]
pub fn scan_order(hash: u64) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_cut_never_splits_ties() {
        let mut c = vec![(5u64, 0), (5, 1), (5, 2), (7, 3)];
        let (below, next) = ordered_cut(&mut c, 2);
        assert_eq!((below, next), (7, Some(7)));
    }

    #[test]
    fn databases_are_created_on_use() {
        let d = Databases::new(16, 256, Arc::new(Settings::defaults()));
        assert!(d.existing(3).is_none());
        let h = d.hash(b"a");
        let ks = d.db(3);
        ks.lock_shard(ks.shard_index(h))
            .insert(h, b"a", Value::Int(1), 0, 0);
        assert!(d.existing(3).is_some());
        assert!(d.existing(5).is_none());
        assert_eq!(d.in_use().count(), 2);
    }
}
