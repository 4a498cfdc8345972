//! One shard of a database: records in an arena of segments (see `arena`
//! and `record`) plus a hash index of their positions (see `index`).
//!
//! A record holds a key and a short value together, with its expiry and
//! eviction bits; larger values and collections are a pointer in it. A
//! lookup touches the index and then the record's one or two cache lines.
//! A position names a record until it is freed or moved: records move only
//! when their expiry slot appears ([`Shard::set_expire`]), when a value no
//! longer fits ([`Shard::overwrite`]), both of which return the new
//! position, and when [`Shard::compact`] runs between commands.
//!
//! Every mutation goes through this type so memory accounting, the count of
//! keys with a TTL, the eviction policy's bookkeeping, the keyspace
//! statistics (hits, misses, expired, evicted) and a pending snapshot all
//! stay exact.

use std::hash::BuildHasher;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::arena::Arena;
use super::index::Index;
use super::notify::class;
use super::record::{self, Rec, RecMut, Stored};
use super::value::Value;
use super::StoreShared;
use crate::engine::evict::{self, Choice, PolicyKind, PolicyState, ShardView};

/// The keyspace's hash function (one per store, randomly seeded).
pub type KeyHasher = foldhash::fast::RandomState;

/// Bytes charged per key beyond its record and heap parts: its index slot
/// (6 bytes at 64 to 80 % load, about 8) and the table the index freed when
/// it last grew, which the process still holds (about 6 at a million keys,
/// measured as RSS against the sum of records and live tables).
const INDEX_SHARE: usize = 14;

/// The most a key costs beyond its key and value bytes: record header,
/// expiry, a boxed value's pointer and box, and its index share (what a
/// write is assumed to need before it runs).
pub const ENTRY_OVERHEAD: usize = record::HEADER + 8 + 8 + record::BOX_CHARGE + INDEX_SHARE;

/// What a record held, taken out of the keyspace (RENAME, MOVE, GETDEL).
pub struct Taken {
    pub value: Value,
    pub expire_at: u64,
    pub own_object: bool,
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

/// The records and their index: what eviction policies see. `repr(C)`
/// keeps what a lookup reads (index, clock, the arena's segment list)
/// first; see [`Shard`].
#[repr(C)]
struct Table {
    index: Index,
    clock_base_ms: u64,
    used_bytes: usize,
    arena: Arena,
    hasher: KeyHasher,
}

impl Table {
    #[inline]
    fn rec(&self, pos: usize) -> Rec<'_> {
        Rec::new(self.arena.bytes(pos))
    }

    #[inline]
    fn rec_mut(&mut self, pos: usize) -> RecMut<'_> {
        RecMut::new(self.arena.bytes_mut(pos))
    }

    #[inline]
    fn hash_key(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    #[inline]
    fn charge_of(r: Rec) -> usize {
        r.size() + r.heap_size() + INDEX_SHARE
    }

    /// Writes a new record; returns its position (not yet indexed).
    fn put(&mut self, key: &[u8], stored: Stored, expire_at: u64, access: u32) -> usize {
        let len = record::size_for(key.len(), expire_at, &stored);
        let pos = self.arena.alloc(len);
        record::write(
            &mut self.arena.bytes_mut(pos)[..len],
            key,
            expire_at,
            access,
            stored,
        );
        pos
    }

    /// Rewrites the record at `pos` elsewhere with `stored` as its value
    /// (which did not fit in place), keeping its other fields; a boxed old
    /// value is returned to drop, and the index points at the new position.
    fn rewrite(&mut self, pos: usize, stored: Stored) -> (Option<Value>, usize) {
        let r = self.rec(pos);
        let (access, meta, own, len, expire_at) = (
            r.access(),
            r.meta(),
            r.own_object(),
            r.size(),
            r.expire_at(),
        );
        let hash = self.hash_key(r.key());
        let mut short = [0u8; record::INLINE_KEY_MAX];
        let long: Vec<u8>;
        let key: &[u8] = if r.key().len() <= record::INLINE_KEY_MAX {
            let n = r.key().len();
            short[..n].copy_from_slice(r.key());
            &short[..n]
        } else {
            long = r.key().to_vec();
            &long
        };
        let old = record::free_heap(self.arena.bytes(pos)).map(|b| *b);
        let new = self.put(key, stored, expire_at, access);
        let mut m = self.rec_mut(new);
        m.set_meta(meta);
        m.set_own_object(own);
        self.arena.release(pos, len);
        self.index.relocate(hash, pos, new);
        (old, new)
    }

    /// Moves the record at `pos` to a new place with `expire_at`, whose
    /// expiry field is wider than the record's; returns the new position.
    fn widen_expire(&mut self, pos: usize, expire_at: u64) -> usize {
        let mut copy = [0u8; record::MAX_RECORD];
        let r = self.rec(pos);
        let len = r.size();
        let new_len = len - r.expire_len() + record::expire_width(expire_at);
        copy[..len].copy_from_slice(&self.arena.bytes(pos)[..len]);
        let hash = self.hash_key(self.rec(pos).key());
        let new = self.arena.alloc(new_len);
        record::copy_widening_expire(
            &copy[..len],
            &mut self.arena.bytes_mut(new)[..new_len],
            expire_at,
        );
        self.arena.release(pos, len);
        self.index.relocate(hash, pos, new);
        new
    }

    /// Moves the live records of the emptiest segments to the tail
    /// (at most `max` segments); returns how many records moved.
    fn compact(&mut self, max: usize) -> usize {
        let mut picked = self.arena.pick_for_compaction(max);
        if picked.is_empty() {
            return 0;
        }
        picked.sort_unstable();
        let mut moved = 0;
        let mut copy = [0u8; record::MAX_RECORD];
        for slot in 0..self.index.slot_count() {
            let Some(pos) = self.index.at_slot(slot) else {
                continue;
            };
            if !Arena::in_segments(pos, &picked) {
                continue;
            }
            let len = self.rec(pos).size();
            copy[..len].copy_from_slice(&self.arena.bytes(pos)[..len]);
            let new = self.arena.alloc(len);
            self.arena.bytes_mut(new)[..len].copy_from_slice(&copy[..len]);
            self.arena.release(pos, len);
            self.index.set_at_slot(slot, new);
            moved += 1;
        }
        moved
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        for pos in self.index.positions() {
            drop(record::free_heap(self.arena.bytes(pos)));
        }
    }
}

impl ShardView for Table {
    fn len(&self) -> usize {
        self.index.len()
    }
    fn sample(&self) -> Option<usize> {
        self.index.random()
    }
    fn positions(&self) -> Vec<usize> {
        self.index.positions().collect()
    }
    fn hash_at(&self, pos: usize) -> u64 {
        self.hash_key(self.rec(pos).key())
    }
    fn idle_ms(&self, pos: usize, now_ms: u64) -> u32 {
        access_clock(self.clock_base_ms, now_ms).wrapping_sub(self.rec(pos).access())
    }
    fn meta(&self, pos: usize) -> u8 {
        self.rec(pos).meta()
    }
    fn set_meta(&mut self, pos: usize, meta: u8) {
        self.rec_mut(pos).set_meta(meta);
    }
    fn charge(&self, pos: usize) -> usize {
        Table::charge_of(self.rec(pos))
    }
    fn used_bytes(&self) -> usize {
        self.used_bytes
    }
    fn position_by_hash(&self, hash: u64) -> Option<usize> {
        self.index
            .find(hash, |p| self.hash_key(self.rec(p).key()) == hash)
    }
}

/// The access clock: milliseconds since the store was created, wrapping
/// every 49 days (idle times are computed with wrapping arithmetic).
#[inline]
pub fn access_clock(base_ms: u64, now_ms: u64) -> u32 {
    now_ms.wrapping_sub(base_ms) as u32
}

/// Fields in the order a lookup touches them (`repr(C)` keeps it): the hit
/// counters, the shared settings and the table's index, clock and segment
/// list in the first two cache lines (with the lock), which the pipeline
/// prefetch brings in; the eviction policy's state, touched only by writes
/// and eviction, last.
#[repr(C)]
pub struct Shard {
    pub(crate) stats: ShardStats,
    shared: Arc<StoreShared>,
    /// Whether `pending` holds an observer (checked by every write).
    observed: bool,
    table: Table,
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
                arena: Arena::default(),
                index: Index::default(),
                used_bytes: 0,
                clock_base_ms: shared.clock_base_ms,
                hasher: shared.hasher.clone(),
            },
            volatile: 0,
            stats: ShardStats::default(),
            observed: false,
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
        self.observed = true;
    }

    /// Lets a pending observer look now, if there is one.
    pub fn settle_observer(&mut self) {
        self.observed = false;
        if let Some((observer, slot)) = self.pending.take() {
            observer.before_change(slot, self);
        }
    }

    #[inline]
    fn before_write(&mut self) {
        if self.observed {
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
                .touched(self.table.rec(pos).key(), self.writer);
        }
        if self.shared.watches.any() {
            self.shared
                .watches
                .touched(self.db, self.table.rec(pos).key());
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

    /// Raises the store's compaction hint once this shard's arena holds
    /// enough dead space (after anything that frees record bytes).
    #[inline]
    fn note_garbage(&self) {
        let wanted = &self.shared.compaction_wanted;
        if self.table.arena.wants_compaction() && !wanted.load(Relaxed) {
            wanted.store(true, Relaxed);
        }
    }

    /// Tells the policy that the record at `pos` changed its charge.
    fn resized(&mut self, meta: u8, delta: isize) {
        if delta != 0 {
            self.add_used(delta);
            let (policy, st, _) = self.policy_state();
            policy.on_resize(st, meta, delta);
        }
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        self.table.hash_key(key)
    }

    /// The hash of the key at `pos`.
    #[inline]
    pub fn hash_at(&self, pos: usize) -> u64 {
        self.table.hash_at(pos)
    }

    pub fn len(&self) -> usize {
        self.table.index.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn used_bytes(&self) -> usize {
        self.table.used_bytes
    }
    /// Keys that carry a TTL.
    pub fn volatile(&self) -> usize {
        self.volatile
    }
    /// Every record with its position, in index order.
    pub fn records(&self) -> impl Iterator<Item = (usize, Rec<'_>)> + '_ {
        self.table
            .index
            .positions()
            .map(|pos| (pos, self.table.rec(pos)))
    }
    /// The record at `pos`.
    #[inline]
    pub fn entry(&self, pos: usize) -> Rec<'_> {
        self.table.rec(pos)
    }
    /// Bytes charged for the record at `pos` (MEMORY USAGE).
    pub fn charge_at(&self, pos: usize) -> usize {
        Table::charge_of(self.table.rec(pos))
    }
    /// Bytes of arena segments held, and how many of them are dead.
    pub fn arena_bytes(&self) -> (usize, usize) {
        (self.table.arena.allocated(), self.table.arena.dead())
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

    /// Prefetches the record a lookup of `hash` will most likely land on.
    #[inline]
    pub fn prefetch_entry(&self, hash: u64) {
        if let Some(pos) = self.table.index.likely(hash) {
            self.table.arena.prefetch(pos);
        }
    }

    /// Prefetches the heap part of the value a lookup of `hash` will most
    /// likely find.
    #[inline]
    pub fn prefetch_value(&self, hash: u64) {
        if let Some(pos) = self.table.index.likely(hash) {
            self.table.rec(pos).value().prefetch();
        }
    }

    /// Position of `key` whether or not it has expired.
    #[inline]
    pub fn position(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let table = &self.table;
        table.index.find(hash, |p| table.rec(p).key() == key)
    }

    /// The one lookup: finds a live key, removing it first when its TTL has
    /// passed (lazy expiry, counted), and counts and touches as `access` says.
    #[inline]
    pub fn find(&mut self, hash: u64, key: &[u8], now_ms: u64, access: Access) -> Option<usize> {
        let found = match self.position(hash, key) {
            Some(pos) if access.expire && self.table.rec(pos).is_expired(now_ms) => {
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
        let mut m = self.table.rec_mut(pos);
        m.set_access(clock);
        let mut meta = m.rec().meta();
        evict::on_access(kind, &mut meta);
        m.set_meta(meta);
    }

    /// Sets the entry at `pos` as last accessed `idle_ms` before `now_ms`
    /// (RESTORE ... IDLETIME).
    pub fn set_idle(&mut self, pos: usize, now_ms: u64, idle_ms: u64) {
        // The access clock wraps (idle times are differences modulo 2^32
        // ms): an idle time up to 2^31 ms is kept exactly.
        let idle = idle_ms.min(i32::MAX as u64) as u32;
        let clock = access_clock(self.table.clock_base_ms, now_ms);
        self.table.rec_mut(pos).set_access(clock.wrapping_sub(idle));
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
        let pos = self.insert_stored(hash, key, Stored::of(value), expire_at, now_ms);
        self.shared.notifier.emit(class::NEW, "new", key, self.db);
        pos
    }

    /// [`Shard::insert`] of a string given as bytes (SET): no `Value` is
    /// built on the way into the record.
    pub fn insert_string(
        &mut self,
        hash: u64,
        key: &[u8],
        bytes: &[u8],
        expire_at: u64,
        now_ms: u64,
    ) -> usize {
        let pos = self.insert_stored(hash, key, Stored::from_bytes(bytes), expire_at, now_ms);
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
        self.insert_stored(hash, key, Stored::of(value), expire_at, now_ms)
    }

    fn insert_stored(
        &mut self,
        hash: u64,
        key: &[u8],
        stored: Stored,
        expire_at: u64,
        now_ms: u64,
    ) -> usize {
        self.before_write();
        self.shared.watches.touched(self.db, key);
        self.shared.tracking.touched(key, self.writer);
        let clock = access_clock(self.table.clock_base_ms, now_ms);
        let pos = self.table.put(key, stored, expire_at, clock);
        let charge = Table::charge_of(self.table.rec(pos));
        self.add_used(charge as isize);
        if expire_at != 0 {
            self.volatile += 1;
        }
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
                let pos = if keep_ttl {
                    pos
                } else {
                    self.set_expire(pos, 0)
                };
                self.overwrite(pos, value)
            }
            None => self.insert(hash, key, value, 0, now_ms),
        }
    }

    /// Marks the value at `pos` as an object of its own (see
    /// [`Rec::own_object`]).
    pub fn set_own_object(&mut self, pos: usize, own: bool) {
        self.table.rec_mut(pos).set_own_object(own);
    }

    /// [`Shard::overwrite`] with a string given as bytes (SET).
    #[must_use]
    pub fn overwrite_string(&mut self, pos: usize, bytes: &[u8]) -> usize {
        let (old, pos) = self.put_value(pos, Stored::from_bytes(bytes));
        if let Some(old) = old {
            self.discard(old);
        }
        pos
    }

    /// [`Shard::replace_value`] for a caller that drops the old value
    /// (which then is not materialised).
    #[must_use]
    pub fn overwrite(&mut self, pos: usize, value: Value) -> usize {
        let (old, pos) = self.put_value(pos, Stored::of(value));
        if let Some(old) = old {
            self.discard(old);
        }
        pos
    }

    /// Puts `stored` in place of the value at `pos`; returns a boxed old
    /// value to drop and the record's position.
    fn put_value(&mut self, pos: usize, stored: Stored) -> (Option<Value>, usize) {
        self.before_write();
        self.touched_at(pos);
        let r = self.table.rec(pos);
        let (meta, old_len, old_heap) = (r.meta(), r.size(), r.value_heap());
        let new_heap = stored.heap_size();
        let mut m = self.table.rec_mut(pos);
        m.set_own_object(false);
        let (old, pos, new_len) = if m.fits(&stored) {
            // In place; a shorter value leaves the rest for compaction.
            let (old, new_len) = m.replace_value(stored, false);
            if new_len < old_len {
                self.table.arena.release(pos + new_len, old_len - new_len);
            }
            (old, pos, new_len)
        } else {
            let (old, new) = self.table.rewrite(pos, stored);
            (old, new, self.table.rec(new).size())
        };
        let delta = (new_len + new_heap) as isize - (old_len + old_heap) as isize;
        if new_len != old_len {
            // Bytes were released (a shorter value, or a move).
            self.note_garbage();
        }
        self.resized(meta, delta);
        (old, pos)
    }

    /// Edits the value at `pos` in place, keeping memory accounting exact.
    /// The record does not move: a string that outgrows its place in the
    /// record is boxed (and put back in line by the next compaction).
    pub fn update<R>(&mut self, pos: usize, f: impl FnOnce(&mut Value) -> R) -> R {
        self.before_write();
        self.touched_at(pos);
        let before = Table::charge_of(self.table.rec(pos));
        let meta = self.table.rec(pos).meta();
        let mut m = self.table.rec_mut(pos);
        m.set_own_object(false);
        let r = match m.boxed_mut() {
            Some(v) => f(v),
            None => {
                let mut v = m.rec().value().to_value();
                let r = f(&mut v);
                let mut stored = Stored::of(v);
                if !m.fits(&stored) {
                    stored = match stored {
                        Stored::Inline(v) => Stored::Boxed(Box::new(v)),
                        other => other,
                    };
                }
                let old_len = m.rec().size();
                let (_, new_len) = m.replace_value(stored, false);
                if new_len < old_len {
                    self.table.arena.release(pos + new_len, old_len - new_len);
                    self.note_garbage();
                }
                r
            }
        };
        let after = Table::charge_of(self.table.rec(pos));
        self.resized(meta, after as isize - before as isize);
        r
    }

    /// Sets (or clears with 0) the expiry of the entry at `pos`; returns the
    /// record's position, which moves when it had no expiry before.
    #[must_use]
    pub fn set_expire(&mut self, pos: usize, expire_at: u64) -> usize {
        let had = self.table.rec(pos).expire_at() != 0;
        if !had && expire_at == 0 {
            return pos;
        }
        self.before_write();
        self.touched_at(pos);
        let meta = self.table.rec(pos).meta();
        match (had, expire_at != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        let old_len = self.table.rec(pos).size();
        let (pos, new_len) = if record::expire_width(expire_at) <= self.table.rec(pos).expire_len()
        {
            let new_len = self.table.rec_mut(pos).narrow_expire(expire_at);
            if new_len < old_len {
                self.table.arena.release(pos + new_len, old_len - new_len);
            }
            (pos, new_len)
        } else {
            let new = self.table.widen_expire(pos, expire_at);
            (new, self.table.rec(new).size())
        };
        self.note_garbage();
        self.resized(meta, new_len as isize - old_len as isize);
        pos
    }

    /// Takes the bookkeeping of the record at `pos` out of the shard
    /// (index, volatile count, charge, policy) before its bytes go.
    fn unlink(&mut self, pos: usize) {
        self.before_write();
        self.touched_at(pos);
        let hash = self.hash_at(pos);
        self.table.index.remove(hash, pos);
        let r = self.table.rec(pos);
        let (charge, meta) = (Table::charge_of(r), r.meta());
        if r.expire_at() != 0 {
            self.volatile -= 1;
        }
        self.add_used(-(charge as isize));
        let (policy, st, _) = self.policy_state();
        policy.on_remove(st, meta, charge);
    }

    /// Removes the entry at `pos` and returns what it held.
    pub fn remove_at(&mut self, pos: usize) -> Taken {
        self.unlink(pos);
        let r = self.table.rec(pos);
        let (len, expire_at, own_object) = (r.size(), r.expire_at(), r.own_object());
        let value = record::take_value(self.table.arena.bytes(pos));
        self.table.arena.release(pos, len);
        self.note_garbage();
        Taken {
            value,
            expire_at,
            own_object,
        }
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
        self.unlink(pos);
        let len = self.table.rec(pos).size();
        let boxed = record::free_heap(self.table.arena.bytes(pos));
        self.table.arena.release(pos, len);
        self.note_garbage();
        if let Some(v) = boxed {
            self.discard(*v);
        }
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
        let r = self.table.rec(pos);
        if matches!(r.value().boxed(), Some(Value::Stream(_))) {
            self.shared.expired_streams.note(self.db, r.key());
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
            notifier.emit(class, event, self.table.rec(pos).key(), self.db);
        }
    }

    /// Feeds `DEL key` for the entry at `pos` (it is about to go without a
    /// command replicas would see).
    #[inline]
    fn feed_del(&self, pos: usize) {
        if self.shared.feed.is_active() {
            self.shared.feed.del(self.db, self.table.rec(pos).key());
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
                table
                    .index
                    .find(table.hash_key(k), |p| table.rec(p).key() == k)
                    .is_some()
            });
        }
        let empty = Table {
            index: Index::default(),
            arena: Arena::default(),
            used_bytes: 0,
            clock_base_ms: self.table.clock_base_ms,
            hasher: self.table.hasher.clone(),
        };
        let used = self.table.used_bytes;
        let old = std::mem::replace(&mut self.table, empty);
        if old.index.len() > super::LAZYFREE_THRESHOLD {
            self.shared.reclaimer.drop_later(Box::new(old));
        }
        self.shared.used.fetch_sub(used as i64, Relaxed);
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

    /// Removes expired entries, visiting at most `budget` index slots from
    /// the sweep cursor. Returns (visited, removed); removals count as
    /// expired.
    pub fn sweep_expired(&mut self, now_ms: u64, budget: usize) -> (usize, usize) {
        let mut visited = 0;
        let mut removed = 0;
        if self.volatile == 0 {
            self.sweep_cursor = 0;
            return (0, 0);
        }
        while visited < budget {
            if self.sweep_cursor >= self.table.index.slot_count() {
                self.sweep_cursor = 0;
                break;
            }
            visited += 1;
            match self.table.index.at_slot(self.sweep_cursor) {
                Some(pos) if self.table.rec(pos).is_expired(now_ms) => {
                    // Removal shifts a later slot into this one: look again.
                    self.feed_del(pos);
                    self.announce_expired(pos);
                    self.remove_and_discard(pos);
                    removed += 1;
                }
                _ => self.sweep_cursor += 1,
            }
        }
        self.stats.expired += removed as u64;
        (visited, removed)
    }

    /// A random live position, if any (expired entries found are reclaimed
    /// and counted).
    pub fn random_live(&mut self, now_ms: u64) -> Option<usize> {
        for _ in 0..64 {
            let pos = self.table.index.random()?;
            if self.table.rec(pos).is_expired(now_ms) {
                self.expire_at_pos(pos);
                continue;
            }
            return Some(pos);
        }
        self.table
            .index
            .positions()
            .find(|&p| !self.table.rec(p).is_expired(now_ms))
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
        let expired = self.table.rec(pos).is_expired(now_ms);
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

    /// Whether enough of the arena is dead that [`Shard::compact`] would
    /// free some of it.
    pub fn wants_compaction(&self) -> bool {
        self.table.arena.wants_compaction()
    }

    /// Moves the live records of up to `max_segments` of the emptiest
    /// arena segments together and releases those segments. Positions held
    /// from before are void: call between commands only. A pending
    /// snapshot sees the shard first. Returns how many records moved.
    pub fn compact(&mut self, max_segments: usize) -> usize {
        if !self.table.arena.wants_compaction() {
            return 0;
        }
        self.before_write();
        self.table.compact(max_segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::ValueRef;
    use std::collections::HashMap;

    fn shard() -> Shard {
        Shard::new(Arc::new(StoreShared::for_tests()), 0)
    }

    /// What every lookup reads lies in the two cache lines the pipeline
    /// prefetches (the lock takes the first 8 bytes).
    #[test]
    fn lookup_fields_sit_in_the_first_two_cache_lines() {
        let table = std::mem::offset_of!(Shard, table);
        let last = [
            std::mem::offset_of!(Shard, stats) + 8,
            std::mem::offset_of!(Shard, shared) + 8,
            std::mem::offset_of!(Shard, observed) + 1,
            table + std::mem::offset_of!(Table, index) + 32,
            table + std::mem::offset_of!(Table, clock_base_ms) + 8,
            table + std::mem::offset_of!(Table, arena) + 24,
        ];
        assert!(last.iter().all(|&end| end + 8 <= 128), "{last:?}");
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
                assert!(matches!(s.entry(p).value(), ValueRef::Int(v) if v == i as i64));
            }
        }
        let (_, removed) = s.sweep_expired(10, usize::MAX);
        assert!(removed > 0);
        assert_eq!(s.volatile(), 0);
        let total: usize = s.records().map(|(_, r)| Table::charge_of(r)).sum();
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

    fn read_back(s: &Shard, key: &[u8]) -> Option<(Vec<u8>, u64)> {
        let pos = s.position(s.hash(key), key)?;
        let r = s.entry(pos);
        assert_eq!(r.key(), key);
        let mut buf = itoa::Buffer::new();
        let bytes = match r.value().boxed() {
            Some(Value::Hash(h)) => h.get(b"f").unwrap().to_vec(),
            _ => r.value().as_bytes(&mut buf).unwrap().to_vec(),
        };
        Some((bytes, r.expire_at()))
    }

    /// The record layout under random traffic: keys short and long, values
    /// of every form (inline, integer, boxed, growable, a collection), TTLs
    /// set, changed and dropped, overwrites, in-place edits, deletes and
    /// compactions, checked against a model after every step. Accounting
    /// and the arena's counts must agree with a recount at the end.
    #[test]
    fn records_match_a_model_under_random_traffic() {
        let mut rng = fastrand::Rng::with_seed(21);
        let mut s = shard();
        let mut model: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
        let keys: Vec<Vec<u8>> = (0..400)
            .map(|i| {
                let len = [1, 16, 40, 254, 255, 300][i % 6];
                let mut k = format!("{i}:").into_bytes();
                k.resize(len.max(k.len()), b'k');
                k
            })
            .collect();
        let limits = crate::engine::store::value::HashLimits::default();
        for step in 0..40_000 {
            let key = &keys[rng.usize(..keys.len())];
            let hash = s.hash(key);
            let value: Vec<u8> = match rng.u32(..4) {
                0 => rng.i64(..).to_string().into_bytes(),
                _ => {
                    let n = [0, 5, 8, 30, 64, 200, 255, 256, 512, 513, 700][rng.usize(..11)];
                    (0..n).map(|_| rng.alphanumeric() as u8).collect()
                }
            };
            match rng.u32(..8) {
                0 | 1 => {
                    let pos = s.upsert(hash, key, Value::from_bytes(&value), false, 0);
                    assert_eq!(s.entry(pos).key(), &key[..]);
                    model.insert(key.clone(), (value, 0));
                }
                2 => {
                    if let Some(pos) = s.position(hash, key) {
                        let ttl = if rng.bool() { rng.u64(1..1 << 40) } else { 0 };
                        let pos = s.set_expire(pos, ttl);
                        assert_eq!(s.entry(pos).expire_at(), ttl);
                        model.get_mut(key).unwrap().1 = ttl;
                    }
                }
                3 => {
                    if let Some(pos) = s.position(hash, key) {
                        if s.entry(pos).value().is_string() {
                            let tail = value.clone();
                            s.update(pos, |v| v.make_raw().extend_from_slice(&tail));
                            model.get_mut(key).unwrap().0.extend_from_slice(&value);
                        }
                    }
                }
                4 => {
                    if let Some(pos) = s.position(hash, key) {
                        if s.entry(pos).value().is_string() {
                            let pos = s.overwrite(pos, Value::from_bytes(&value));
                            assert_eq!(s.entry(pos).key(), &key[..]);
                            model.get_mut(key).unwrap().0 = value;
                        }
                    }
                }
                5 => {
                    assert_eq!(s.delete(hash, key, 0), model.remove(key).is_some());
                }
                6 => {
                    if s.position(hash, key).is_none() {
                        let mut h = crate::engine::store::value::HashValue::default();
                        h.set(b"f", &value, &limits);
                        let ttl = if rng.bool() { rng.u64(1..1 << 40) } else { 0 };
                        s.insert(hash, key, Value::Hash(h), ttl, 0);
                        model.insert(key.clone(), (value, ttl));
                    }
                }
                _ => {
                    s.compact(4);
                }
            }
            if step % 500 == 0 || step > 39_900 {
                assert_eq!(s.len(), model.len());
                for k in &keys {
                    assert_eq!(read_back(&s, k), model.get(k).cloned(), "step {step}");
                }
            }
        }
        let total: usize = s.records().map(|(_, r)| Table::charge_of(r)).sum();
        assert_eq!(total, s.used_bytes());
        assert_eq!(s.volatile(), model.values().filter(|v| v.1 != 0).count());
        let live: usize = s.records().map(|(_, r)| r.size()).sum();
        let (allocated, dead) = s.arena_bytes();
        assert!(live + dead <= allocated && allocated - live - dead < super::super::arena::SEGMENT);
    }

    /// Deleting most keys leaves dead space that compaction gives back,
    /// and every remaining key still reads back.
    #[test]
    fn compaction_releases_emptied_segments() {
        let mut s = shard();
        for i in 0..20_000u32 {
            let k = format!("key:{i:08}");
            s.insert(
                s.hash(k.as_bytes()),
                k.as_bytes(),
                Value::from_bytes(&[b'v'; 64]),
                0,
                0,
            );
        }
        let (full, _) = s.arena_bytes();
        for i in (0..20_000u32).filter(|i| i % 4 != 0) {
            let k = format!("key:{i:08}");
            assert!(s.delete(s.hash(k.as_bytes()), k.as_bytes(), 0));
        }
        assert!(s.wants_compaction());
        while s.compact(16) > 0 {}
        let (after, dead) = s.arena_bytes();
        assert!(after * 10 < full * 3, "{after} of {full}");
        assert!(dead * 8 <= after, "{dead} dead of {after}");
        for i in (0..20_000u32).step_by(4) {
            let k = format!("key:{i:08}");
            assert_eq!(read_back(&s, k.as_bytes()), Some((vec![b'v'; 64], 0)));
        }
    }
}
