//! `allkeys-s3fifo`: S3-FIFO (Yang et al., "FIFO Queues Are All You Need for
//! Cache Eviction", SOSP 2023), per shard.
//!
//! A small FIFO holds about 10% of the shard's bytes, a main FIFO the rest,
//! and a ghost FIFO remembers the hashes of keys recently evicted from the
//! small queue. Each entry has a 2-bit access counter (capped at 3) that a
//! hit increments; hits move nothing. New keys enter the small queue, or the
//! main queue when their hash is in the ghost queue. Eviction from the small
//! queue promotes keys that were hit to main and drops the rest (recording
//! them in the ghost queue); eviction from main gives a hit key another
//! round with its counter decremented and drops keys with a zero counter.
//! Every key therefore stays evictable.
//!
//! Queues hold key hashes. Deleted keys leave stale hashes behind, which are
//! skipped when popped and compacted away when they pile up.

use std::collections::VecDeque;

use hashbrown::HashSet;

use super::{Policy, PolicyKind};
use crate::store::{Entry, Shard};

/// Share of the shard's bytes the small queue may hold, in percent.
const SMALL_PERCENT: usize = 10;
/// Hits needed in the small queue to be promoted to main.
const PROMOTE_THRESHOLD: u8 = 1;

const FREQ_MASK: u8 = 0b11;
const IN_MAIN: u8 = 0b100;

#[derive(Default)]
pub struct Queues {
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    ghost: VecDeque<u64>,
    ghost_set: HashSet<u64>,
    small_bytes: usize,
    main_count: usize,
}

impl Queues {
    fn remember_ghost(&mut self) -> impl FnMut(u64) + '_ {
        |hash| {
            if self.ghost_set.insert(hash) {
                self.ghost.push_back(hash);
            }
            let cap = self.main_count.max(16);
            while self.ghost.len() > cap {
                if let Some(old) = self.ghost.pop_front() {
                    self.ghost_set.remove(&old);
                }
            }
        }
    }
}

pub struct S3Fifo;

fn freq(e: &Entry) -> u8 {
    e.meta & FREQ_MASK
}

fn in_main(e: &Entry) -> bool {
    e.meta & IN_MAIN != 0
}

impl Policy for S3Fifo {
    fn kind(&self) -> PolicyKind {
        PolicyKind::AllkeysS3fifo
    }

    fn adopt(&self, shard: &mut Shard) {
        // Existing keys start in the main queue with no hits.
        let hashes: Vec<u64> = (0..shard.len()).map(|p| shard.hash_at(p)).collect();
        for pos in 0..shard.len() {
            shard.entry_mut(pos).meta = IN_MAIN;
        }
        let q = &mut shard.evict_state().s3;
        *q = Queues::default();
        q.main_count = hashes.len();
        q.main.extend(hashes);
    }

    fn on_insert(&self, shard: &mut Shard, pos: usize) {
        let (hash, charge) = { (shard.hash_at(pos), shard.entry(pos).charge()) };
        let q = &mut shard.evict_state().s3;
        let to_main = q.ghost_set.remove(&hash);
        if to_main {
            q.main.push_back(hash);
            q.main_count += 1;
        } else {
            q.small.push_back(hash);
            q.small_bytes += charge;
        }
        shard.entry_mut(pos).meta = if to_main { IN_MAIN } else { 0 };
        maybe_compact(shard);
    }

    fn on_access(&self, e: &mut Entry) {
        if freq(e) < 3 {
            e.meta += 1;
        }
    }

    fn on_remove(&self, state: &mut super::EvictState, e: &Entry) {
        let q = &mut state.s3;
        if in_main(e) {
            q.main_count = q.main_count.saturating_sub(1);
        } else {
            q.small_bytes = q.small_bytes.saturating_sub(e.charge());
        }
    }

    fn on_resize(&self, state: &mut super::EvictState, e: &Entry, delta: isize) {
        if !in_main(e) {
            let q = &mut state.s3;
            q.small_bytes = (q.small_bytes as isize + delta).max(0) as usize;
        }
    }

    fn victim(
        &self,
        shard: &mut Shard,
        _now: u64,
        protected: &dyn Fn(u64) -> bool,
    ) -> Option<usize> {
        let budget = 4 * shard.len() + 64;
        for _ in 0..budget {
            let total = shard.used_bytes();
            let q = &shard.evict_state().s3;
            let from_small = !q.small.is_empty()
                && (q.small_bytes * 100 > total * SMALL_PERCENT || q.main.is_empty());
            if from_small {
                let hash = shard.evict_state().s3.small.pop_front()?;
                let Some(pos) = shard
                    .position_by_hash(hash)
                    .filter(|&p| !in_main(shard.entry(p)))
                else {
                    continue; // stale
                };
                if protected(hash) {
                    shard.evict_state().s3.small.push_back(hash);
                    continue;
                }
                let (f, charge) = (freq(shard.entry(pos)), shard.entry(pos).charge());
                if f >= PROMOTE_THRESHOLD {
                    shard.entry_mut(pos).meta = IN_MAIN;
                    let q = &mut shard.evict_state().s3;
                    q.small_bytes = q.small_bytes.saturating_sub(charge);
                    q.main.push_back(hash);
                    q.main_count += 1;
                    continue;
                }
                (shard.evict_state().s3.remember_ghost())(hash);
                return Some(pos);
            }
            let hash = shard.evict_state().s3.main.pop_front()?;
            let Some(pos) = shard
                .position_by_hash(hash)
                .filter(|&p| in_main(shard.entry(p)))
            else {
                continue; // stale
            };
            if protected(hash) {
                shard.evict_state().s3.main.push_back(hash);
                continue;
            }
            let e = shard.entry_mut(pos);
            if freq(e) > 0 {
                e.meta -= 1;
                shard.evict_state().s3.main.push_back(hash);
                continue;
            }
            return Some(pos);
        }
        None
    }
}

/// Drops stale hashes once the queues hold far more handles than keys.
fn maybe_compact(shard: &mut Shard) {
    let live = shard.len();
    let q = &shard.evict_state().s3;
    if q.small.len() + q.main.len() <= 2 * live + 64 {
        return;
    }
    let mut seen: HashSet<u64> = HashSet::with_capacity(live);
    let small = std::mem::take(&mut shard.evict_state().s3.small);
    let main = std::mem::take(&mut shard.evict_state().s3.main);
    let mut keep = |queue: VecDeque<u64>, want_main: bool| -> VecDeque<u64> {
        queue
            .into_iter()
            .filter(|&h| {
                shard
                    .position_by_hash(h)
                    .is_some_and(|p| in_main(shard.entry(p)) == want_main)
                    && seen.insert(h)
            })
            .collect()
    };
    let small = keep(small, false);
    let main = keep(main, true);
    let q = &mut shard.evict_state().s3;
    q.small = small;
    q.main = main;
}
