//! Eviction policies behind one trait. Each shard keeps the per-policy state
//! ([`EvictState`]); the active policy is process-wide and can change at run
//! time (`CONFIG SET maxmemory-policy`), in which case a shard rebuilds its
//! state the next time it is touched.
//!
//! The keyspace asks a policy for a victim in one shard at a time; keys
//! named by the command being executed are protected and never chosen.

pub mod lru;
pub mod random;
pub mod s3fifo;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

pub use crate::config::EvictionPolicy as PolicyKind;
use crate::store::{Entry, Shard};

/// What a policy needs from the shard it works on, and the hooks the shard
/// calls as entries come and go.
pub trait Policy: Sync {
    fn kind(&self) -> PolicyKind;
    /// A new entry was inserted at `pos`.
    fn on_insert(&self, _shard: &mut Shard, _pos: usize) {}
    /// An entry was read or overwritten.
    fn on_access(&self, _entry: &mut Entry) {}
    /// An entry is leaving the shard (deleted, expired or evicted).
    fn on_remove(&self, _state: &mut EvictState, _entry: &Entry) {}
    /// An entry's charge changed by `delta` bytes.
    fn on_resize(&self, _state: &mut EvictState, _entry: &Entry, _delta: isize) {}
    /// Picks the position of an entry to evict, never one whose hash
    /// `protected` accepts. `None` when nothing here can be evicted.
    fn victim(
        &self,
        shard: &mut Shard,
        now_ms: u64,
        protected: &dyn Fn(u64) -> bool,
    ) -> Option<usize>;
    /// Rebuilds this policy's state for a shard whose state belonged to
    /// another policy.
    fn adopt(&self, _shard: &mut Shard) {}
}

/// Per-shard policy state. Only the active policy's part is in use.
#[derive(Default)]
pub struct EvictState {
    /// The policy this state belongs to (`PolicyKind as u8 + 1`; 0 = none yet).
    pub owner: u8,
    pub lru: lru::Pool,
    pub s3: s3fifo::Queues,
}

struct NoEviction;

impl Policy for NoEviction {
    fn kind(&self) -> PolicyKind {
        PolicyKind::NoEviction
    }
    fn victim(&self, _: &mut Shard, _: u64, _: &dyn Fn(u64) -> bool) -> Option<usize> {
        None
    }
}

static ACTIVE: AtomicU8 = AtomicU8::new(PolicyKind::AllkeysLru as u8);
static SAMPLES: AtomicUsize = AtomicUsize::new(5);

static LRU: lru::Lru = lru::Lru;
static RANDOM: random::Random = random::Random;
static S3FIFO: s3fifo::S3Fifo = s3fifo::S3Fifo;
static NOEVICTION: NoEviction = NoEviction;

/// The policy object for a kind.
pub fn policy(kind: PolicyKind) -> &'static dyn Policy {
    match kind {
        PolicyKind::AllkeysLru => &LRU,
        PolicyKind::AllkeysRandom => &RANDOM,
        PolicyKind::AllkeysS3fifo => &S3FIFO,
        PolicyKind::NoEviction => &NOEVICTION,
    }
}

/// The process-wide active policy.
#[inline]
pub fn active() -> &'static dyn Policy {
    policy(active_kind())
}

#[inline]
pub fn active_kind() -> PolicyKind {
    match ACTIVE.load(Relaxed) {
        x if x == PolicyKind::AllkeysRandom as u8 => PolicyKind::AllkeysRandom,
        x if x == PolicyKind::AllkeysS3fifo as u8 => PolicyKind::AllkeysS3fifo,
        x if x == PolicyKind::NoEviction as u8 => PolicyKind::NoEviction,
        _ => PolicyKind::AllkeysLru,
    }
}

pub fn set_active(kind: PolicyKind) {
    ACTIVE.store(kind as u8, Relaxed);
}

/// Keys sampled per LRU eviction (`maxmemory-samples`).
pub fn samples() -> usize {
    SAMPLES.load(Relaxed)
}

pub fn set_samples(n: usize) {
    SAMPLES.store(n.clamp(1, 64), Relaxed);
}

#[cfg(test)]
mod conformance;
