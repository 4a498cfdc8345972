//! One shard of a database: a dense vector of entries plus a hash index of
//! positions into it. The dense vector (chunked, see `entries`) gives O(1)
//! random sampling (for eviction and expiry) and cheap iteration; the index
//! (see `index`) maps the 64-bit key hash to positions.
//!
//! An entry is one 64-byte, cache-line-aligned record: a short key inline,
//! the value (integers as integers, string bytes behind one pointer), the
//! expiry and the eviction bits. A lookup touches the index and then a
//! single line of the entry vector.
//!
//! Every mutation goes through this type so memory accounting, the count of
//! keys with a TTL, the eviction policy's bookkeeping, the keyspace
//! statistics (hits, misses, expired, evicted) and a pending snapshot all
//! stay exact.

use std::hash::BuildHasher;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::entries::Entries;
use super::index::Index;
use super::key::Key;
use super::notify::class;
use super::value::Value;
use super::StoreShared;
use crate::engine::evict::{self, Choice, PolicyKind, PolicyState, ShardView};

/// The keyspace's hash function (one per store, randomly seeded).
pub type KeyHasher = foldhash::fast::RandomState;

/// Fixed bookkeeping cost charged per entry on top of key and value bytes:
/// the entry itself, its index slot, and allocator rounding.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Entry>() + 16;

#[repr(align(64))]
pub struct Entry {
    pub key: Key,
    pub value: Value,
    /// Absolute unix time in milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Last access, in milliseconds of the store's access clock.
    access: u32,
    /// Eviction-policy bits (S3-FIFO: access counter and queue).
    meta: u8,
    /// The value is an integer Redis would hold as an object of its own
    /// (OBJECT REFCOUNT 1) rather than one of its shared integers: set on
    /// copies (COPY), kept by RENAME and MOVE, cleared by any change.
    own_object: bool,
}

impl Entry {
    pub(crate) fn new(key: &[u8], value: Value, expire_at: u64, access: u32) -> Entry {
        Entry {
            key: Key::new(key),
            value,
            expire_at,
            access,
            meta: 0,
            own_object: false,
        }
    }

    pub fn charge(&self) -> usize {
        ENTRY_OVERHEAD + self.key.heap_size() + self.value.heap_size()
    }
    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
    /// The eviction policy's bits (OBJECT FREQ under S3-FIFO).
    pub fn meta(&self) -> u8 {
        self.meta
    }
    /// The access clock value of the last access.
    pub fn access(&self) -> u32 {
        self.access
    }
    /// See the field: whether Redis would share this integer value.
    pub fn own_object(&self) -> bool {
        self.own_object
    }
}

/// Counters kept under the shard lock and summed when INFO asks.
#[derive(Default, Clone, Copy, Debug)]
pub struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

impl ShardStats {
    pub fn add(&mut self, o: &ShardStats) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.expired += o.expired;
        self.evicted += o.evicted;
    }
}

/// How a lookup treats the key it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Count a keyspace hit or miss.
    pub count: bool,
    /// Refresh the access time (LRU, OBJECT IDLETIME) and the policy bits.
    pub touch: bool,
    /// Treat a key whose TTL passed as gone.
    pub expire: bool,
}

impl Access {
    /// A read (GET): counts and touches.
    pub const READ: Access = Access {
        count: true,
        touch: true,
        expire: true,
    };
    /// A write's lookup: touches, counts nothing.
    pub const WRITE: Access = Access {
        count: false,
        touch: true,
        expire: true,
    };
    /// A read that leaves the access time alone (TYPE, EXISTS, TTL).
    pub const READ_NOTOUCH: Access = Access {
        count: true,
        touch: false,
        expire: true,
    };
    /// Neither counts nor touches (OBJECT, internal checks).
    pub const PEEK: Access = Access {
        count: false,
        touch: false,
        expire: true,
    };
    /// The same access seeing keys whose TTL passed as present (commands
    /// a replica applies from its master, which alone expires keys).
    pub fn keeping_expired(self) -> Access {
        Access {
            expire: false,
            ..self
        }
    }
    /// The same access without touching (CLIENT NO-TOUCH).
    pub fn without_touch(self) -> Access {
        Access {
            touch: false,
            ..self
        }
    }
}

/// Something that must see a shard before it changes (a snapshot that has
/// not yet serialized it).
pub trait ShardObserver: Send + Sync {
    fn before_change(&self, slot: usize, shard: &Shard);
}

/// The entries and their index: what eviction policies see.
#[repr(C)]
struct Table {
    index: Index,
    entries: Entries,
    used_bytes: usize,
    clock_base_ms: u64,
    hasher: KeyHasher,
}

impl Table {
    #[inline]
    fn hash_of(&self, e: &Entry) -> u64 {
        self.hasher.hash_one(&*e.key)
    }
}

impl ShardView for Table {
    fn len(&self) -> usize {
        self.entries.len()
    }
    fn hash_at(&self, pos: usize) -> u64 {
        self.hash_of(&self.entries[pos])
    }
    fn idle_ms(&self, pos: usize, now_ms: u64) -> u32 {
        access_clock(self.clock_base_ms, now_ms).wrapping_sub(self.entries[pos].access)
    }
    fn meta(&self, pos: usize) -> u8 {
        self.entries[pos].meta
    }
    fn set_meta(&mut self, pos: usize, meta: u8) {
        self.entries[pos].meta = meta;
    }
    fn charge(&self, pos: usize) -> usize {
        self.entries[pos].charge()
    }
    fn used_bytes(&self) -> usize {
        self.used_bytes
    }
    fn position_by_hash(&self, hash: u64) -> Option<usize> {
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .find(hash, |i| hasher.hash_one(&*entries[i].key) == hash)
    }
}

/// The access clock: milliseconds since the store was created, wrapping
/// every 49 days (idle times are computed with wrapping arithmetic).
#[inline]
pub fn access_clock(base_ms: u64, now_ms: u64) -> u32 {
    now_ms.wrapping_sub(base_ms) as u32
}

/// Fields in the order a lookup touches them (`repr(C)` keeps it): the
/// table, the hit counters and the shared settings in the first two cache
/// lines, which the pipeline prefetch brings in; the eviction policy's
/// state, touched only by writes and eviction, last.
#[repr(C)]
pub struct Shard {
    table: Table,
    pub(crate) stats: ShardStats,
    shared: Arc<StoreShared>,
    /// The database this shard belongs to.
    db: usize,
    volatile: usize,
    /// Position the active-expiry sweep resumes from.
    pub sweep_cursor: usize,
    /// An observer this shard owes one look before its next change, with
    /// the slot it knows this shard by.
    pending: Option<(Arc<dyn ShardObserver>, usize)>,
    policy: PolicyState,
    /// The client whose unit holds this shard (0: none), for tracking's
    /// NOLOOP: a client is not told of its own changes.
    pub writer: u64,
}

impl Shard {
    pub fn new(shared: Arc<StoreShared>, db: usize) -> Shard {
        Shard {
            db,
            table: Table {
                entries: Entries::default(),
                index: Index::default(),
                used_bytes: 0,
                clock_base_ms: shared.clock_base_ms,
                hasher: shared.hasher.clone(),
            },
            volatile: 0,
            stats: ShardStats::default(),
            sweep_cursor: 0,
            policy: PolicyState::default(),
            shared,
            pending: None,
            writer: 0,
        }
    }

    /// Makes `observer` see this shard (as slot `slot`) before its next change.
    pub fn observe_once(&mut self, observer: Arc<dyn ShardObserver>, slot: usize) {
        self.pending = Some((observer, slot));
    }

    /// Lets a pending observer look now, if there is one.
    pub fn settle_observer(&mut self) {
        if let Some((observer, slot)) = self.pending.take() {
            observer.before_change(slot, self);
        }
    }

    #[inline]
    fn before_write(&mut self) {
        if self.pending.is_some() {
            self.settle_observer();
        }
    }

    /// Tells WATCH and client-side caching that the key at `pos` is about
    /// to change.
    #[inline]
    fn touched_at(&self, pos: usize) {
        if self.shared.tracking.is_active() {
            self.shared
                .tracking
                .touched(&self.table.entries[pos].key, self.writer);
        }
        if self.shared.watches.any() {
            self.shared
                .watches
                .touched(self.db, &self.table.entries[pos].key);
        }
    }

    #[inline]
    fn add_used(&mut self, delta: isize) {
        self.table.used_bytes = (self.table.used_bytes as isize + delta) as usize;
        self.shared.used.fetch_add(delta as i64, Relaxed);
    }

    #[inline]
    fn policy_kind(&self) -> PolicyKind {
        self.shared.settings.policy()
    }

    /// The policy state, rebuilt first when it belongs to another policy.
    fn policy_state(&mut self) -> (&'static dyn evict::Policy, &mut PolicyState, &mut Table) {
        let kind = self.policy_kind();
        self.policy.adopt(kind, &mut self.table);
        (evict::policy(kind), &mut self.policy, &mut self.table)
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.table.hasher.hash_one(key)
    }

    /// The hash of the key at `pos`.
    #[inline]
    pub fn hash_at(&self, pos: usize) -> u64 {
        self.table.hash_at(pos)
    }

    /// The hash of an entry's key.
    #[inline]
    pub fn hash_of(&self, e: &Entry) -> u64 {
        self.table.hash_of(e)
    }

    pub fn len(&self) -> usize {
        self.table.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.table.entries.is_empty()
    }
    pub fn used_bytes(&self) -> usize {
        self.table.used_bytes
    }
    /// Keys that carry a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.table.entries.iter()
    }
    pub fn entry(&self, pos: usize) -> &Entry {
        &self.table.entries[pos]
    }

    /// Milliseconds since the entry at `pos` was last accessed.
    pub fn idle_ms(&self, pos: usize, now_ms: u64) -> u64 {
        self.table.idle_ms(pos, now_ms) as u64
    }

    /// Prefetches the index slot a lookup of `hash` starts from.
    #[inline]
    pub fn prefetch_slot(&self, hash: u64) {
        self.table.index.prefetch_home(hash);
    }

    /// Prefetches the entry a lookup of `hash` will most likely land on.
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        if let Some(pos) = self.table.index.likely(hash) {
            self.table.entries.prefetch(pos);
        }
    }

    /// Prefetches the heap part of the value a lookup of `hash` will most
    /// likely find.
    #[inline]
    pub fn prefetch_value(&self, hash: u64) {
        if let Some(pos) = self.table.index.likely(hash) {
            self.table.entries[pos].value.prefetch();
        }
    }

    /// Position of `key` whether or not it has expired.
    #[inline]
    pub fn position(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let entries = &self.table.entries;
        self.table.index.find(hash, |i| &*entries[i].key == key)
    }

    /// The one lookup: finds a live key, removing it first when its TTL has
    /// passed (lazy expiry, counted), and counts and touches as `access` says.
    #[inline]
    pub fn find(&mut self, hash: u64, key: &[u8], now_ms: u64, access: Access) -> Option<usize> {
        let found = match self.position(hash, key) {
            Some(pos) if access.expire && self.table.entries[pos].is_expired(now_ms) => {
                // A replica's reads treat the key as gone but leave it for
                // the master's DEL (deleting it here could diverge from the
                // master's next command on it).
                if !(access.count && self.shared.replica.load(Relaxed)) {
                    self.expire_at_pos(pos);
                }
                None
            }
            other => other,
        };
        if access.count {
            match found {
                Some(_) => self.stats.hits += 1,
                None => self.count_miss(key),
            }
        }
        if let Some(pos) = found {
            if access.touch {
                self.touch_at(pos, now_ms);
            }
        }
        found
    }

    /// Counts a read of a missing key and publishes its `keymiss` event
    /// (kept out of line so the lookup stays small).
    #[cold]
    #[inline(never)]
    fn count_miss(&mut self, key: &[u8]) {
        self.stats.misses += 1;
        self.shared
            .notifier
            .emit(class::KEY_MISS, "keymiss", key, self.db);
    }

    /// Refreshes the access time and policy bits of the entry at `pos`.
    #[inline]
    pub fn touch_at(&mut self, pos: usize, now_ms: u64) {
        let clock = access_clock(self.table.clock_base_ms, now_ms);
        let kind = self.policy_kind();
        let e = &mut self.table.entries[pos];
        e.access = clock;
        evict::on_access(kind, &mut e.meta);
    }

    /// Sets the entry at `pos` as last accessed `idle_ms` before `now_ms`
    /// (RESTORE ... IDLETIME).
    pub fn set_idle(&mut self, pos: usize, now_ms: u64, idle_ms: u64) {
        // The access clock wraps (idle times are differences modulo 2^32
        // ms): an idle time up to 2^31 ms is kept exactly.
        let idle = idle_ms.min(i32::MAX as u64) as u32;
        let clock = access_clock(self.table.clock_base_ms, now_ms);
        self.table.entries[pos].access = clock.wrapping_sub(idle);
    }

    /// Inserts a key known to be absent; returns its position. A `new`
    /// keyspace event is published.
    pub fn insert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at: u64,
        now_ms: u64,
    ) -> usize {
        let pos = self.insert_loaded(hash, key, value, expire_at, now_ms);
        self.shared.notifier.emit(class::NEW, "new", key, self.db);
        pos
    }

    /// Inserts a key known to be absent without a keyspace event (loading
    /// a snapshot, as Redis loads without notifying).
    pub fn insert_loaded(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        expire_at: u64,
        now_ms: u64,
    ) -> usize {
        self.before_write();
        self.shared.watches.touched(self.db, key);
        self.shared.tracking.touched(key, self.writer);
        let pos = self.table.entries.len();
        let clock = access_clock(self.table.clock_base_ms, now_ms);
        let entry = Entry::new(key, value, expire_at, clock);
        self.add_used(entry.charge() as isize);
        if expire_at != 0 {
            self.volatile += 1;
        }
        self.table.entries.push(entry);
        self.table.index.insert(hash, pos);
        let (policy, st, table) = self.policy_state();
        policy.on_insert(st, table, pos);
        pos
    }

    /// Sets `key` to `value`, replacing any previous value. The TTL is
    /// cleared unless `keep_ttl`. Returns the position.
    pub fn upsert(
        &mut self,
        hash: u64,
        key: &[u8],
        value: Value,
        keep_ttl: bool,
        now_ms: u64,
    ) -> usize {
        match self.find(hash, key, now_ms, Access::WRITE) {
            Some(pos) => {
                let old = self.replace_value(pos, value);
                self.discard(old);
                if !keep_ttl {
                    self.set_expire(pos, 0);
                }
                pos
            }
            None => self.insert(hash, key, value, 0, now_ms),
        }
    }

    /// Marks the value at `pos` as an object of its own (see
    /// [`Entry::own_object`]).
    pub fn set_own_object(&mut self, pos: usize, own: bool) {
        self.table.entries[pos].own_object = own;
    }

    /// Replaces the value at `pos`, keeping key and TTL.
    pub fn replace_value(&mut self, pos: usize, value: Value) -> Value {
        self.update(pos, |v| std::mem::replace(v, value))
    }

    /// Edits the value at `pos` in place, keeping memory accounting exact.
    pub fn update<R>(&mut self, pos: usize, f: impl FnOnce(&mut Value) -> R) -> R {
        self.before_write();
        self.touched_at(pos);
        let e = &mut self.table.entries[pos];
        e.own_object = false;
        let before = e.value.heap_size();
        let r = f(&mut e.value);
        let delta = e.value.heap_size() as isize - before as isize;
        if delta != 0 {
            let meta = e.meta;
            self.add_used(delta);
            let (policy, st, _) = self.policy_state();
            policy.on_resize(st, meta, delta);
        }
        r
    }

    /// Sets (or clears with 0) the expiry of the entry at `pos`.
    pub fn set_expire(&mut self, pos: usize, expire_at: u64) {
        self.before_write();
        self.touched_at(pos);
        let e = &mut self.table.entries[pos];
        match (e.expire_at != 0, expire_at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        e.expire_at = expire_at;
    }

    /// Removes the entry at `pos` (the last entry moves into its place).
    pub fn remove_at(&mut self, pos: usize) -> Entry {
        self.before_write();
        self.touched_at(pos);
        let hash = self.hash_at(pos);
        self.table.index.remove(hash, pos);
        let last = self.table.entries.len() - 1;
        if pos != last {
            let moved_hash = self.hash_at(last);
            self.table.index.relocate(moved_hash, last, pos);
        }
        let entry = self.table.entries.swap_remove(pos);
        let charge = entry.charge();
        self.add_used(-(charge as isize));
        if entry.expire_at != 0 {
            self.volatile -= 1;
        }
        let (policy, st, _) = self.policy_state();
        policy.on_remove(st, entry.meta, charge);
        entry
    }

    /// Drops a value no longer in the keyspace: a large collection on
    /// the background thread, anything else here.
    pub fn discard(&self, value: Value) {
        if value.element_count() > super::LAZYFREE_THRESHOLD {
            self.shared.reclaimer.drop_later(Box::new(value));
        }
    }

    /// Removes the entry at `pos` and drops its value ([`Shard::discard`]).
    pub fn remove_and_discard(&mut self, pos: usize) {
        let e = self.remove_at(pos);
        self.discard(e.value);
    }

    /// Removes the entry at `pos`, whose TTL passed (lazy or active
    /// expiry): counted as expired and fed to replicas as a DEL.
    fn expire_at_pos(&mut self, pos: usize) {
        self.feed_del(pos);
        self.announce_expired(pos);
        self.remove_and_discard(pos);
        self.stats.expired += 1;
    }

    /// The `expired` event for the entry at `pos` (about to go); a stream
    /// is also noted for the clients blocked on it.
    fn announce_expired(&self, pos: usize) {
        self.notify_at(class::EXPIRED, "expired", pos);
        let e = &self.table.entries[pos];
        if matches!(e.value, Value::Stream(_)) {
            self.shared.expired_streams.note(self.db, &e.key);
        }
    }

    /// Publishes a keyspace notification for `key` in this shard's database
    /// (for code that holds a shard but not a command context).
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.shared.notifier.emit(class, event, key, self.db);
    }

    /// Publishes a keyspace notification for the key at `pos`.
    #[inline]
    fn notify_at(&self, class: u32, event: &str, pos: usize) {
        let notifier = &self.shared.notifier;
        if notifier.wants(class) {
            notifier.emit(class, event, &self.table.entries[pos].key, self.db);
        }
    }

    /// Feeds `DEL key` for the entry at `pos` (it is about to go without a
    /// command replicas would see).
    #[inline]
    fn feed_del(&self, pos: usize) {
        if self.shared.feed.is_active() {
            self.shared.feed.del(self.db, &self.table.entries[pos].key);
        }
    }

    /// Removes the entry at `pos` because a command set its expiry in the
    /// past (EXPIRE, GETEX): counted as expired, as Redis counts it.
    pub fn expire_now(&mut self, pos: usize) {
        self.remove_and_discard(pos);
        self.stats.expired += 1;
    }

    /// Removes `key` if it is live; true when it was.
    pub fn delete(&mut self, hash: u64, key: &[u8], now_ms: u64) -> bool {
        self.find(hash, key, now_ms, Access::PEEK)
            .map(|pos| self.remove_and_discard(pos))
            .is_some()
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.before_write();
        if self.shared.watches.any() {
            let (db, table) = (self.db, &self.table);
            self.shared.watches.touched_where(db, |k| {
                let entries = &table.entries;
                table
                    .index
                    .find(table.hasher.hash_one(k), |i| &*entries[i].key == k)
                    .is_some()
            });
        }
        let entries = std::mem::take(&mut self.table.entries);
        if entries.len() > super::LAZYFREE_THRESHOLD {
            self.shared.reclaimer.drop_later(Box::new(entries));
        }
        self.table.index = Index::default();
        self.add_used(-(self.table.used_bytes as isize));
        self.policy = PolicyState::default();
        self.volatile = 0;
        self.sweep_cursor = 0;
    }

    /// Exchanges the contents (entries, statistics, policy state) of two
    /// shards of the same store (SWAPDB).
    pub fn swap_contents(&mut self, other: &mut Shard) {
        self.before_write();
        other.before_write();
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.volatile, &mut other.volatile);
        std::mem::swap(&mut self.policy, &mut other.policy);
        std::mem::swap(&mut self.sweep_cursor, &mut other.sweep_cursor);
    }

    /// Removes expired entries, visiting at most `budget` positions from the
    /// sweep cursor. Returns (visited, removed); removals count as expired.
    pub fn sweep_expired(&mut self, now_ms: u64, budget: usize) -> (usize, usize) {
        let mut visited = 0;
        let mut removed = 0;
        if self.volatile == 0 {
            self.sweep_cursor = 0;
            return (0, 0);
        }
        while visited < budget {
            if self.sweep_cursor >= self.table.entries.len() {
                self.sweep_cursor = 0;
                break;
            }
            visited += 1;
            if self.table.entries[self.sweep_cursor].is_expired(now_ms) {
                self.feed_del(self.sweep_cursor);
                self.announce_expired(self.sweep_cursor);
                self.remove_and_discard(self.sweep_cursor);
                removed += 1;
            } else {
                self.sweep_cursor += 1;
            }
        }
        self.stats.expired += removed as u64;
        (visited, removed)
    }

    /// A uniformly random live position, if any (expired entries found are
    /// reclaimed and counted).
    pub fn random_live(&mut self, now_ms: u64) -> Option<usize> {
        for _ in 0..64 {
            if self.table.entries.is_empty() {
                return None;
            }
            let pos = fastrand::usize(..self.table.entries.len());
            if self.table.entries[pos].is_expired(now_ms) {
                self.expire_at_pos(pos);
                continue;
            }
            return Some(pos);
        }
        (0..self.len()).find(|&p| !self.table.entries[p].is_expired(now_ms))
    }

    /// Evicts one entry chosen by the active policy (never a key whose hash
    /// `protected` accepts). True when one was evicted; an expired victim
    /// counts as expired, not evicted.
    pub fn evict_one(&mut self, now_ms: u64, protected: &dyn Fn(u64) -> bool) -> bool {
        let samples = self
            .shared
            .settings
            .uint(crate::config::P::MaxmemorySamples) as usize;
        let choice = Choice {
            now_ms,
            samples,
            protected,
        };
        let (policy, st, table) = self.policy_state();
        let Some(pos) = policy.victim(st, table, &choice) else {
            return false;
        };
        let expired = self.table.entries[pos].is_expired(now_ms);
        self.feed_del(pos);
        if expired {
            self.announce_expired(pos);
        } else {
            self.notify_at(class::EVICTED, "evicted", pos);
        }
        self.remove_and_discard(pos);
        if expired {
            self.stats.expired += 1;
        } else {
            self.stats.evicted += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> Shard {
        Shard::new(Arc::new(StoreShared::for_tests()), 0)
    }

    #[test]
    fn an_entry_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Entry>(), 64);
        assert_eq!(std::mem::align_of::<Entry>(), 64);
    }

    #[test]
    fn insert_remove_keeps_index_and_accounting_consistent() {
        let mut s = shard();
        let h = |s: &Shard, k: &[u8]| s.hash(k);
        for i in 0..1000u32 {
            let k = i.to_be_bytes();
            let hash = h(&s, &k);
            s.insert(
                hash,
                &k,
                Value::Int(i as i64),
                if i % 2 == 0 { 5 } else { 0 },
                0,
            );
        }
        assert_eq!(s.volatile(), 500);
        for i in (0..1000u32).step_by(3) {
            let k = i.to_be_bytes();
            let hash = h(&s, &k);
            assert!(s.delete(hash, &k, 0));
        }
        for i in 0..1000u32 {
            let k = i.to_be_bytes();
            let found = s.position(h(&s, &k), &k);
            assert_eq!(found.is_some(), i % 3 != 0);
            if let Some(p) = found {
                assert!(matches!(s.entry(p).value, Value::Int(v) if v == i as i64));
            }
        }
        let (_, removed) = s.sweep_expired(10, usize::MAX);
        assert!(removed > 0);
        assert_eq!(s.volatile(), 0);
        let total: usize = s.entries().map(Entry::charge).sum();
        assert_eq!(total, s.used_bytes());
        assert_eq!(s.stats.expired, removed as u64);
    }

    #[test]
    fn find_counts_and_touches_as_asked() {
        let mut s = shard();
        let k = b"k";
        let hash = s.hash(k);
        s.insert(hash, k, Value::Int(1), 0, 1000);
        assert!(s.find(hash, k, 5000, Access::READ_NOTOUCH).is_some());
        assert_eq!(s.idle_ms(0, 5000), 4000);
        assert!(s.find(hash, k, 6000, Access::READ).is_some());
        assert_eq!(s.idle_ms(0, 6000), 0);
        assert!(s.find(hash, b"x", 6000, Access::READ).is_none());
        assert_eq!((s.stats.hits, s.stats.misses), (2, 1));
        assert!(s.find(hash, k, 7000, Access::PEEK).is_some());
        assert_eq!((s.stats.hits, s.stats.misses), (2, 1));
    }
}
