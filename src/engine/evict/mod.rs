//! Eviction policies behind one trait.
//!
//! A policy sees a shard only through [`ShardView`] (positions, key hashes,
//! idle times, a byte of policy bits per entry) and keeps its own bookkeeping
//! in the [`PolicyState`] each shard carries. The store calls the hooks as
//! entries come and go; which policy is active comes from the live
//! configuration, and a shard rebuilds its state the first time it is used
//! under a different policy. Policies themselves hold no state: the same
//! objects serve every keyspace.
//!
//! Keys named by the command being executed are protected: a policy never
//! picks a position whose hash `protected` accepts.

pub mod lru;
pub mod random;
pub mod s3fifo;

pub use crate::config::EvictionPolicy as PolicyKind;

/// What a policy may see of a shard.
#[allow(clippy::len_without_is_empty)]
pub trait ShardView {
    fn len(&self) -> usize;
    /// A position picked at random, if the shard holds any key.
    fn sample(&self) -> Option<usize>;
    /// Every position.
    fn positions(&self) -> Vec<usize>;
    /// The hash of the key at `pos`.
    fn hash_at(&self, pos: usize) -> u64;
    /// Milliseconds since the key at `pos` was last accessed.
    fn idle_ms(&self, pos: usize, now_ms: u64) -> u32;
    /// The policy's bits for the entry at `pos`.
    fn meta(&self, pos: usize) -> u8;
    fn set_meta(&mut self, pos: usize, meta: u8);
    /// Bytes charged for the entry at `pos`.
    fn charge(&self, pos: usize) -> usize;
    /// Bytes charged for the whole shard.
    fn used_bytes(&self) -> usize;
    /// The position of the key with this hash, if it is still there.
    fn position_by_hash(&self, hash: u64) -> Option<usize>;
}

/// The hooks the store calls, and the choice of a victim.
pub trait Policy: Sync {
    fn kind(&self) -> PolicyKind;
    /// A new entry was inserted at `pos`.
    fn on_insert(&self, _st: &mut PolicyState, _view: &mut dyn ShardView, _pos: usize) {}
    /// An entry was read or overwritten; `meta` is its policy byte.
    fn on_access(&self, _meta: &mut u8) {}
    /// An entry is leaving the shard (deleted, expired or evicted).
    fn on_remove(&self, _st: &mut PolicyState, _meta: u8, _charge: usize) {}
    /// An entry's charge changed by `delta` bytes.
    fn on_resize(&self, _st: &mut PolicyState, _meta: u8, _delta: isize) {}
    /// Picks the position of an entry to evict, never one whose hash
    /// `protected` accepts. `None` when nothing here can be evicted.
    fn victim(
        &self,
        st: &mut PolicyState,
        view: &mut dyn ShardView,
        choice: &Choice,
    ) -> Option<usize>;
    /// Rebuilds this policy's state for a shard whose state belonged to
    /// another policy.
    fn adopt(&self, _st: &mut PolicyState, _view: &mut dyn ShardView) {}
}

/// The parameters of one victim choice.
pub struct Choice<'a> {
    pub now_ms: u64,
    /// Keys sampled per choice (`maxmemory-samples`).
    pub samples: usize,
    pub protected: &'a dyn Fn(u64) -> bool,
}

/// Per-shard policy state. Only the active policy's part is in use.
#[derive(Default)]
pub struct PolicyState {
    /// The policy this state belongs to (`PolicyKind as u8 + 1`; 0 = none yet).
    pub owner: u8,
    pub lru: lru::Pool,
    pub s3: s3fifo::Queues,
}

impl PolicyState {
    /// Makes the state belong to `kind`, rebuilding it when it belonged to
    /// another policy.
    pub fn adopt(&mut self, kind: PolicyKind, view: &mut dyn ShardView) {
        let owner = kind as u8 + 1;
        if self.owner != owner {
            self.owner = owner;
            policy(kind).adopt(self, view);
        }
    }
}

struct NoEviction;

impl Policy for NoEviction {
    fn kind(&self) -> PolicyKind {
        PolicyKind::NoEviction
    }
    fn victim(&self, _: &mut PolicyState, _: &mut dyn ShardView, _: &Choice) -> Option<usize> {
        None
    }
}

static LRU: lru::Lru = lru::Lru;
static RANDOM: random::Random = random::Random;
static S3FIFO: s3fifo::S3Fifo = s3fifo::S3Fifo;
static NOEVICTION: NoEviction = NoEviction;

/// [`Policy::on_access`] of `kind`, dispatched statically (every read
/// calls it).
#[inline]
pub fn on_access(kind: PolicyKind, meta: &mut u8) {
    if kind == PolicyKind::AllkeysS3fifo {
        S3FIFO.on_access(meta);
    }
}

/// The access frequency OBJECT FREQ reports for an entry's policy bits:
/// S3-FIFO keeps a 2-bit counter; the other policies track none.
pub fn frequency(kind: PolicyKind, meta: u8) -> Option<u8> {
    (kind == PolicyKind::AllkeysS3fifo).then(|| s3fifo::frequency(meta))
}

/// The (stateless) policy object for a kind.
#[inline]
pub fn policy(kind: PolicyKind) -> &'static dyn Policy {
    match kind {
        PolicyKind::AllkeysLru => &LRU,
        PolicyKind::AllkeysRandom => &RANDOM,
        PolicyKind::AllkeysS3fifo => &S3FIFO,
        PolicyKind::NoEviction => &NOEVICTION,
    }
}

#[cfg(test)]
mod conformance;
