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

use super::{Choice, Policy, PolicyKind, PolicyState, ShardView};

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
    fn remember_ghost(&mut self, hash: u64) {
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

pub struct S3Fifo;

fn freq(meta: u8) -> u8 {
    meta & FREQ_MASK
}

/// The hit counter kept in an entry's policy bits.
pub fn frequency(meta: u8) -> u8 {
    freq(meta)
}

fn in_main(meta: u8) -> bool {
    meta & IN_MAIN != 0
}

impl Policy for S3Fifo {
    fn kind(&self) -> PolicyKind {
        PolicyKind::AllkeysS3fifo
    }

    fn adopt(&self, st: &mut PolicyState, view: &mut dyn ShardView) {
        // Existing keys start in the main queue with no hits.
        let q = &mut st.s3;
        *q = Queues::default();
        for pos in view.positions() {
            view.set_meta(pos, IN_MAIN);
            q.main.push_back(view.hash_at(pos));
        }
        q.main_count = view.len();
    }

    fn on_insert(&self, st: &mut PolicyState, view: &mut dyn ShardView, pos: usize) {
        let hash = view.hash_at(pos);
        let q = &mut st.s3;
        let to_main = q.ghost_set.remove(&hash);
        if to_main {
            q.main.push_back(hash);
            q.main_count += 1;
        } else {
            q.small.push_back(hash);
            q.small_bytes += view.charge(pos);
        }
        view.set_meta(pos, if to_main { IN_MAIN } else { 0 });
        maybe_compact(q, view);
    }

    fn on_access(&self, meta: &mut u8) {
        if freq(*meta) < 3 {
            *meta += 1;
        }
    }

    fn on_remove(&self, st: &mut PolicyState, meta: u8, charge: usize) {
        let q = &mut st.s3;
        if in_main(meta) {
            q.main_count = q.main_count.saturating_sub(1);
        } else {
            q.small_bytes = q.small_bytes.saturating_sub(charge);
        }
    }

    fn on_resize(&self, st: &mut PolicyState, meta: u8, delta: isize) {
        if !in_main(meta) {
            let q = &mut st.s3;
            q.small_bytes = (q.small_bytes as isize + delta).max(0) as usize;
        }
    }

    fn victim(
        &self,
        st: &mut PolicyState,
        view: &mut dyn ShardView,
        choice: &Choice,
    ) -> Option<usize> {
        let protected = choice.protected;
        let q = &mut st.s3;
        let budget = 4 * view.len() + 64;
        for _ in 0..budget {
            let total = view.used_bytes();
            let from_small = !q.small.is_empty()
                && (q.small_bytes * 100 > total * SMALL_PERCENT || q.main.is_empty());
            if from_small {
                let hash = q.small.pop_front()?;
                let Some(pos) = view
                    .position_by_hash(hash)
                    .filter(|&p| !in_main(view.meta(p)))
                else {
                    continue; // stale
                };
                if protected(hash) {
                    q.small.push_back(hash);
                    continue;
                }
                if freq(view.meta(pos)) >= PROMOTE_THRESHOLD {
                    view.set_meta(pos, IN_MAIN);
                    q.small_bytes = q.small_bytes.saturating_sub(view.charge(pos));
                    q.main.push_back(hash);
                    q.main_count += 1;
                    continue;
                }
                q.remember_ghost(hash);
                return Some(pos);
            }
            let hash = q.main.pop_front()?;
            let Some(pos) = view
                .position_by_hash(hash)
                .filter(|&p| in_main(view.meta(p)))
            else {
                continue; // stale
            };
            if protected(hash) {
                q.main.push_back(hash);
                continue;
            }
            let meta = view.meta(pos);
            if freq(meta) > 0 {
                view.set_meta(pos, meta - 1);
                q.main.push_back(hash);
                continue;
            }
            return Some(pos);
        }
        None
    }
}

/// Drops stale hashes once the queues hold far more handles than keys.
fn maybe_compact(q: &mut Queues, view: &dyn ShardView) {
    let live = view.len();
    if q.small.len() + q.main.len() <= 2 * live + 64 {
        return;
    }
    let mut seen: HashSet<u64> = HashSet::with_capacity(live);
    let mut keep = |queue: &mut VecDeque<u64>, want_main: bool| {
        queue.retain(|&h| {
            view.position_by_hash(h)
                .is_some_and(|p| in_main(view.meta(p)) == want_main)
                && seen.insert(h)
        });
    };
    keep(&mut q.small, false);
    keep(&mut q.main, true);
}
