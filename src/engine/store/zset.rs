//! Sorted-set values: members ordered by (score, member bytes).
//!
//! - **small** (up to `zset-max-listpack-entries` members of up to
//!   `zset-max-listpack-value` bytes): one packed buffer of
//!   `[len][member][score]` entries in order, scores stored as small
//!   integers when they are ones (Redis's listpack). Walked linearly, as
//!   Redis walks its listpack.
//! - **big**: members in a position-indexed vector with a hash index (score
//!   lookup, random members and ZSCAN as for sets), plus the order: blocks
//!   of up to [`BLOCK_MAX`] (score, position) pairs, a copy of each block's
//!   last key for binary search, and a Fenwick tree of block sizes for
//!   O(log n) rank and select. It never goes back to small (as Redis's
//!   skiplist does not).

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::HashTable;

/// `zset-max-listpack-entries` and `-value`.
#[derive(Clone, Copy, Debug)]
pub struct ZSetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for ZSetLimits {
    fn default() -> Self {
        ZSetLimits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// Orders two (score, member) keys as Redis does (score, then bytes).
pub fn cmp_key(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    match a.0.partial_cmp(&b.0) {
        Some(Ordering::Equal) | None => a.1.cmp(b.1),
        Some(o) => o,
    }
}

// ------------------------------------------------------------ small

/// A score in the packed form: tag 0 = f64, 1 = i8, 2 = i16, 3 = i32.
/// Integral scores are stored as integers (so -0 reads back as 0, as from
/// Redis's listpack).
fn write_score(out: &mut Vec<u8>, s: f64) {
    let i = s as i32;
    if i as f64 == s {
        if let Ok(v) = i8::try_from(i) {
            out.extend_from_slice(&[1, v as u8]);
        } else if let Ok(v) = i16::try_from(i) {
            out.push(2);
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            out.push(3);
            out.extend_from_slice(&i.to_le_bytes());
        }
    } else {
        out.push(0);
        out.extend_from_slice(&s.to_le_bytes());
    }
}

fn read_score(b: &[u8], at: usize) -> (f64, usize) {
    match b[at] {
        1 => (b[at + 1] as i8 as f64, at + 2),
        2 => (i16::from_le_bytes([b[at + 1], b[at + 2]]) as f64, at + 3),
        3 => (
            i32::from_le_bytes(b[at + 1..at + 5].try_into().expect("4 bytes")) as f64,
            at + 5,
        ),
        _ => (
            f64::from_le_bytes(b[at + 1..at + 9].try_into().expect("8 bytes")),
            at + 9,
        ),
    }
}

/// `[count: u16 LE]` then entries `[len: u8][member][score]`, in order.
fn small_iter(b: &[u8]) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
    // Collected offsets make the walk double-ended; small sets are short.
    let mut at = 2;
    let mut items = Vec::with_capacity(u16::from_le_bytes([b[0], b[1]]) as usize);
    while at < b.len() {
        let n = b[at] as usize;
        let m = &b[at + 1..at + 1 + n];
        let (s, next) = read_score(b, at + 1 + n);
        items.push((m, s));
        at = next;
    }
    items.into_iter()
}

fn small_build<'a>(items: impl Iterator<Item = (&'a [u8], f64)>) -> Box<[u8]> {
    let mut out = vec![0, 0];
    let mut n = 0u16;
    for (m, s) in items {
        out.push(m.len() as u8);
        out.extend_from_slice(m);
        write_score(&mut out, s);
        n += 1;
    }
    out[..2].copy_from_slice(&n.to_le_bytes());
    out.into_boxed_slice()
}

// ------------------------------------------------------------ big

const BLOCK_MAX: usize = 128;

/// A Fenwick (binary indexed) tree of block sizes.
#[derive(Clone, Default)]
struct Fenwick(Vec<u32>);

impl Fenwick {
    fn build(sizes: impl Iterator<Item = usize>) -> Fenwick {
        let mut t: Vec<u32> = sizes.map(|s| s as u32).collect();
        for i in 0..t.len() {
            let j = i | (i + 1);
            if j < t.len() {
                t[j] += t[i];
            }
        }
        Fenwick(t)
    }

    fn add(&mut self, mut i: usize, delta: i32) {
        while i < self.0.len() {
            self.0[i] = (self.0[i] as i64 + delta as i64) as u32;
            i |= i + 1;
        }
    }

    /// Elements in blocks `0..i`.
    fn prefix(&self, i: usize) -> usize {
        let mut sum = 0usize;
        let mut i = i;
        while i > 0 {
            sum += self.0[i - 1] as usize;
            i &= i - 1;
        }
        sum
    }

    /// The block holding rank `r` and the rank within it.
    fn select(&self, mut r: usize) -> (usize, usize) {
        let mut pos = 0;
        let mut step = self.0.len().next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= self.0.len() && (self.0[next - 1] as usize) <= r {
                r -= self.0[next - 1] as usize;
                pos = next;
            }
            step >>= 1;
        }
        (pos, r)
    }
}

#[derive(Clone)]
pub struct Big {
    members: Vec<(Box<[u8]>, f64)>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    blocks: Vec<Vec<(f64, u32)>>,
    /// Each block's last (score, position), for binary search.
    lasts: Vec<(f64, u32)>,
    counts: Fenwick,
    bytes: usize,
}

/// Allocation overhead charged per member string of a big sorted set.
const MEMBER_ALLOC_OVERHEAD: usize = 8;

fn new_block() -> Vec<(f64, u32)> {
    Vec::with_capacity(BLOCK_MAX + 1)
}

impl Big {
    fn new() -> Big {
        Big {
            members: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x25e7),
            blocks: Vec::new(),
            lasts: Vec::new(),
            counts: Fenwick::default(),
            bytes: 0,
        }
    }

    fn key(&self, e: (f64, u32)) -> (f64, &[u8]) {
        (e.0, &self.members[e.1 as usize].0)
    }

    fn position(&self, m: &[u8]) -> Option<usize> {
        let members = &self.members;
        self.index
            .find(self.hasher.hash_one(m), |&i| &*members[i as usize].0 == m)
            .map(|&i| i as usize)
    }

    /// The block where `key` is or would go.
    fn block_for(&self, key: (f64, &[u8])) -> usize {
        let (mut lo, mut hi) = (0, self.lasts.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_key(self.key(self.lasts[mid]), key) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.min(self.blocks.len().saturating_sub(1))
    }

    /// (block, index in block) of the first entry not below `key`.
    fn lower_bound(&self, key: (f64, &[u8])) -> (usize, usize) {
        if self.blocks.is_empty() {
            return (0, 0);
        }
        let b = self.block_for(key);
        let block = &self.blocks[b];
        let i = block.partition_point(|&e| cmp_key(self.key(e), key) == Ordering::Less);
        (b, i)
    }

    fn rebuild_counts(&mut self) {
        self.counts = Fenwick::build(self.blocks.iter().map(Vec::len));
    }

    fn insert_ordered(&mut self, pos: u32) {
        let score = self.members[pos as usize].1;
        if self.blocks.is_empty() {
            let mut first = new_block();
            first.push((score, pos));
            self.blocks.push(first);
            self.lasts.push((score, pos));
            self.rebuild_counts();
            return;
        }
        let (b, i) = {
            let key = (score, &*self.members[pos as usize].0);
            self.lower_bound(key)
        };
        self.blocks[b].insert(i, (score, pos));
        if i + 1 == self.blocks[b].len() {
            self.lasts[b] = (score, pos);
        }
        if self.blocks[b].len() > BLOCK_MAX {
            let mut tail = new_block();
            tail.extend(self.blocks[b].drain(BLOCK_MAX / 2..));
            self.lasts[b] = *self.blocks[b].last().expect("half");
            self.lasts.insert(b + 1, *tail.last().expect("half"));
            self.blocks.insert(b + 1, tail);
            self.rebuild_counts();
        } else {
            self.counts.add(b, 1);
        }
    }

    /// (block, index) of the entry for position `pos`.
    fn find_ordered(&self, pos: u32) -> (usize, usize) {
        let key = (self.members[pos as usize].1, &*self.members[pos as usize].0);
        let (b, i) = self.lower_bound(key);
        debug_assert_eq!(self.blocks[b][i].1, pos);
        (b, i)
    }

    fn remove_ordered(&mut self, b: usize, i: usize) {
        self.blocks[b].remove(i);
        if self.blocks[b].is_empty() {
            self.blocks.remove(b);
            self.lasts.remove(b);
            self.rebuild_counts();
            return;
        }
        if i == self.blocks[b].len() {
            self.lasts[b] = *self.blocks[b].last().expect("non-empty");
        }
        // Fold a thin block into its successor when both fit in one.
        if self.blocks[b].len() < BLOCK_MAX / 8
            && b + 1 < self.blocks.len()
            && self.blocks[b].len() + self.blocks[b + 1].len() <= BLOCK_MAX
        {
            let next = self.blocks.remove(b + 1);
            self.lasts.remove(b + 1);
            self.blocks[b].extend(next);
            self.lasts[b] = *self.blocks[b].last().expect("non-empty");
            self.rebuild_counts();
        } else {
            self.counts.add(b, -1);
        }
    }

    fn insert(&mut self, m: &[u8], score: f64) {
        let pos = self.members.len() as u32;
        let h = self.hasher.hash_one(m);
        let (members, hasher) = (&self.members, &self.hasher);
        self.index
            .insert_unique(h, pos, |&j| hasher.hash_one(&*members[j as usize].0));
        self.members.push((m.into(), score));
        self.bytes += m.len() + MEMBER_ALLOC_OVERHEAD;
        self.insert_ordered(pos);
    }

    fn set_score(&mut self, pos: usize, score: f64) {
        let (b, i) = self.find_ordered(pos as u32);
        self.remove_ordered(b, i);
        self.members[pos].1 = score;
        self.insert_ordered(pos as u32);
    }

    fn remove_at(&mut self, pos: usize) -> (Box<[u8]>, f64) {
        let (b, i) = self.find_ordered(pos as u32);
        self.remove_ordered(b, i);
        let h = self.hasher.hash_one(&*self.members[pos].0);
        self.index
            .find_entry(h, |&j| j as usize == pos)
            .expect("indexed")
            .remove();
        let last = self.members.len() - 1;
        if pos != last {
            // The last member moves into the hole: repoint its index slot
            // and its ordered entry.
            let lh = self.hasher.hash_one(&*self.members[last].0);
            if let Ok(mut e) = self.index.find_entry(lh, |&j| j as usize == last) {
                *e.get_mut() = pos as u32;
            }
            let (lb, li) = self.find_ordered(last as u32);
            self.blocks[lb][li].1 = pos as u32;
            if li + 1 == self.blocks[lb].len() {
                self.lasts[lb].1 = pos as u32;
            }
        }
        let out = self.members.swap_remove(pos);
        self.bytes -= out.0.len() + MEMBER_ALLOC_OVERHEAD;
        out
    }

    fn rank_of(&self, pos: usize) -> usize {
        let (b, i) = self.find_ordered(pos as u32);
        self.counts.prefix(b) + i
    }

    fn at_rank(&self, r: usize) -> (&[u8], f64) {
        let (b, i) = self.counts.select(r);
        let (s, p) = self.blocks[b][i];
        (&self.members[p as usize].0, s)
    }

    /// Rank of the first entry for which `before` is false (`before`
    /// must hold for a prefix of the order).
    fn rank_where(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let b = self.lasts.partition_point(|&e| {
            let (s, m) = self.key(e);
            before(s, m)
        });
        if b == self.blocks.len() {
            return self.members.len();
        }
        let i = self.blocks[b].partition_point(|&e| {
            let (s, m) = self.key(e);
            before(s, m)
        });
        self.counts.prefix(b) + i
    }

    /// Walks ranks `from..` ascending (or `..=from` descending).
    fn walk(&self, from: usize, rev: bool) -> BigWalk<'_> {
        let len = self.members.len();
        if from >= len {
            return BigWalk {
                big: self,
                block: usize::MAX,
                idx: 0,
                rev,
            };
        }
        let (block, idx) = self.counts.select(from);
        BigWalk {
            big: self,
            block,
            idx,
            rev,
        }
    }
}

struct BigWalk<'a> {
    big: &'a Big,
    block: usize,
    idx: usize,
    rev: bool,
}

impl<'a> Iterator for BigWalk<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        let blocks = &self.big.blocks;
        if self.block >= blocks.len() {
            return None;
        }
        let (s, p) = blocks[self.block][self.idx];
        if self.rev {
            if self.idx == 0 {
                self.block = self.block.checked_sub(1).unwrap_or(usize::MAX);
                if self.block != usize::MAX {
                    self.idx = blocks[self.block].len() - 1;
                }
            } else {
                self.idx -= 1;
            }
        } else {
            self.idx += 1;
            if self.idx == blocks[self.block].len() {
                self.block += 1;
                self.idx = 0;
            }
        }
        Some((&self.big.members[p as usize].0, s))
    }
}

// ------------------------------------------------------------ the value

#[derive(Clone)]
pub enum ZSetValue {
    Small(Box<[u8]>),
    Big(Box<Big>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Small(Box::new([0, 0]))
    }
}

/// What [`ZSetValue::set`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    Unchanged,
}

impl ZSetValue {
    /// A new, empty set in the form Redis would create for `size_hint`
    /// members, the first `len_hint` bytes long.
    pub fn for_new(size_hint: usize, len_hint: usize, limits: &ZSetLimits) -> ZSetValue {
        if limits.max_entries == 0 || size_hint > limits.max_entries || len_hint > limits.max_value
        {
            ZSetValue::Big(Box::new(Big::new()))
        } else {
            ZSetValue::default()
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Small(b) => u16::from_le_bytes([b[0], b[1]]) as usize,
            ZSetValue::Big(z) => z.members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Small(_) => "listpack",
            ZSetValue::Big(_) => "skiplist",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZSetValue::Small(b) => b.len(),
            ZSetValue::Big(z) => {
                std::mem::size_of::<Big>()
                    + z.members.capacity() * std::mem::size_of::<(Box<[u8]>, f64)>()
                    + z.index.capacity() * 5
                    + z.blocks.capacity() * std::mem::size_of::<Vec<(f64, u32)>>()
                    + z.blocks.len() * (BLOCK_MAX + 1) * 16
                    + z.lasts.capacity() * 16
                    + z.counts.0.capacity() * 4
                    + z.bytes
            }
        }
    }

    #[inline]
    pub fn prefetch(&self) {
        match self {
            ZSetValue::Small(b) => super::prefetch(b.as_ptr()),
            ZSetValue::Big(z) => super::prefetch(&**z),
        }
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Small(b) => small_iter(b).find(|(x, _)| *x == m).map(|(_, s)| s),
            ZSetValue::Big(z) => z.position(m).map(|p| z.members[p].1),
        }
    }

    /// Sets `m`'s score, adding it if new.
    pub fn set(&mut self, m: &[u8], score: f64, limits: &ZSetLimits) -> Change {
        if let ZSetValue::Small(b) = self {
            let old = small_iter(b).find(|(x, _)| *x == m).map(|(_, s)| s);
            if old == Some(score) {
                return Change::Unchanged;
            }
            let count = u16::from_le_bytes([b[0], b[1]]) as usize;
            let grows = old.is_none();
            if !grows || (count < limits.max_entries && m.len() <= limits.max_value) {
                let rest = small_iter(b).filter(|(x, _)| *x != m);
                let mut items: Vec<(&[u8], f64)> = rest.collect();
                let at =
                    items.partition_point(|&(x, s)| cmp_key((s, x), (score, m)) == Ordering::Less);
                items.insert(at, (m, score));
                *b = small_build(items.into_iter());
                return if grows {
                    Change::Added
                } else {
                    Change::Updated
                };
            }
            self.convert_to_big();
        }
        let ZSetValue::Big(z) = self else {
            unreachable!("converted above")
        };
        match z.position(m) {
            Some(p) if z.members[p].1 == score => Change::Unchanged,
            Some(p) => {
                z.set_score(p, score);
                Change::Updated
            }
            None => {
                z.insert(m, score);
                Change::Added
            }
        }
    }

    /// Sets several scores at once (members must be distinct). A small set
    /// that stays small is rebuilt once, not once per member.
    pub fn set_all(&mut self, changes: &[(&[u8], f64)], limits: &ZSetLimits) {
        if let ZSetValue::Small(b) = self {
            let mut items: Vec<(&[u8], f64)> = small_iter(b).collect();
            let mut fits = true;
            for &(m, s) in changes {
                match items.iter_mut().find(|(x, _)| *x == m) {
                    Some(e) => e.1 = s,
                    None => items.push((m, s)),
                }
                // Stop as soon as the small form is outgrown, so the search
                // above stays bounded by its entry limit.
                if items.len() > limits.max_entries || m.len() > limits.max_value {
                    fits = false;
                    break;
                }
            }
            if fits && items.iter().all(|(m, _)| m.len() <= limits.max_value) {
                items.sort_by(|a, b| cmp_key((a.1, a.0), (b.1, b.0)));
                *b = small_build(items.into_iter());
                return;
            }
        }
        for &(m, s) in changes {
            self.set(m, s, limits);
        }
    }

    fn convert_to_big(&mut self) {
        if let ZSetValue::Small(b) = self {
            let mut z = Big::new();
            for (m, s) in small_iter(b) {
                z.insert(m, s);
            }
            *self = ZSetValue::Big(Box::new(z));
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            ZSetValue::Small(b) => {
                if small_iter(b).all(|(x, _)| x != m) {
                    return false;
                }
                *b = small_build(small_iter(b).filter(|(x, _)| *x != m));
                true
            }
            ZSetValue::Big(z) => match z.position(m) {
                Some(p) => {
                    z.remove_at(p);
                    true
                }
                None => false,
            },
        }
    }

    /// 0-based rank of `m` in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        match self {
            ZSetValue::Small(b) => small_iter(b).position(|(x, _)| x == m),
            ZSetValue::Big(z) => z.position(m).map(|p| z.rank_of(p)),
        }
    }

    /// The entry at rank `r` (< len).
    pub fn at_rank(&self, r: usize) -> (&[u8], f64) {
        match self {
            ZSetValue::Small(b) => small_iter(b).nth(r).expect("in range"),
            ZSetValue::Big(z) => z.at_rank(r),
        }
    }

    /// Entries from rank `from` upwards (or, with `rev`, from rank `from`
    /// downwards).
    pub fn walk(&self, from: usize, rev: bool) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            ZSetValue::Small(b) => {
                if rev {
                    let n = self.len();
                    if from >= n {
                        return Box::new(std::iter::empty());
                    }
                    Box::new(small_iter(b).rev().skip(n - 1 - from))
                } else {
                    Box::new(small_iter(b).skip(from))
                }
            }
            ZSetValue::Big(z) => Box::new(z.walk(from, rev)),
        }
    }

    /// Every entry in ascending order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        self.walk(0, false)
    }

    /// Rank of the first entry whose score is above `min` (`exclusive`) or
    /// at least `min`.
    pub fn rank_of_score(&self, min: f64, exclusive: bool) -> usize {
        match self {
            ZSetValue::Small(b) => small_iter(b)
                .position(|(_, s)| if exclusive { s > min } else { s >= min })
                .unwrap_or(self.len()),
            ZSetValue::Big(z) => z.rank_where(|s, _| if exclusive { s <= min } else { s < min }),
        }
    }

    /// Rank of the first entry whose member is at or above the lex bound
    /// (`exclusive`: above), assuming the members are ordered (one score).
    pub fn rank_of_lex(&self, min: &[u8], exclusive: bool) -> usize {
        let ok = |m: &[u8]| if exclusive { m > min } else { m >= min };
        match self {
            ZSetValue::Small(b) => small_iter(b).position(|(m, _)| ok(m)).unwrap_or(self.len()),
            ZSetValue::Big(z) => z.rank_where(|_, m| !ok(m)),
        }
    }

    /// A member at a uniformly random position (for ZRANDMEMBER), given a
    /// random number below len.
    pub fn nth_any(&self, i: usize) -> (&[u8], f64) {
        match self {
            ZSetValue::Small(_) => self.at_rank(i),
            ZSetValue::Big(z) => {
                let (m, s) = &z.members[i];
                (m, *s)
            }
        }
    }

    /// One ZSCAN step (see `SetValue::scan`): positions below `cursor`,
    /// downwards; small sets return everything at once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        let ZSetValue::Big(z) = self else {
            self.iter().for_each(|(m, s)| f(m, s));
            return 0;
        };
        let len = z.members.len() as u64;
        let mut at = if cursor == 0 || cursor > len {
            len
        } else {
            cursor
        };
        let mut done = 0;
        while at > 0 && done < count.max(1) {
            at -= 1;
            let (m, s) = &z.members[at as usize];
            f(m, *s);
            done += 1;
        }
        at
    }

    /// Builds a set from entries (any order; later duplicates win).
    pub fn from_entries<'a>(
        entries: impl Iterator<Item = (&'a [u8], f64)>,
        limits: &ZSetLimits,
    ) -> ZSetValue {
        let mut z: Option<ZSetValue> = None;
        for (m, s) in entries {
            z.get_or_insert_with(|| ZSetValue::for_new(1, m.len(), limits))
                .set(m, s, limits);
        }
        z.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_order(model: &std::collections::HashMap<Vec<u8>, f64>) -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
        v.sort_by(|a, b| cmp_key((a.1, &a.0), (b.1, &b.0)));
        v
    }

    #[test]
    fn small_and_big_agree_with_a_model() {
        for limits in [
            ZSetLimits::default(),
            ZSetLimits {
                max_entries: 0,
                max_value: 64,
            },
        ] {
            let mut z = ZSetValue::for_new(1, 1, &limits);
            let mut model = std::collections::HashMap::new();
            let mut rng = fastrand::Rng::with_seed(9);
            for step in 0..6000 {
                let m = format!("m{}", rng.u32(..400)).into_bytes();
                let score = match rng.u32(..4) {
                    0 => rng.i32(-5..5) as f64,
                    1 => rng.f64() * 100.0,
                    2 => 7.0,
                    _ => -(rng.u32(..1000) as f64) / 3.0,
                };
                if rng.u32(..4) == 0 {
                    assert_eq!(z.remove(&m), model.remove(&m).is_some());
                } else {
                    let want = match model.insert(m.clone(), score) {
                        None => Change::Added,
                        Some(old) if old == score => Change::Unchanged,
                        Some(_) => Change::Updated,
                    };
                    assert_eq!(z.set(&m, score, &limits), want, "step {step}");
                }
                if step % 97 == 0 {
                    let order = model_order(&model);
                    let got: Vec<(Vec<u8>, f64)> = z.iter().map(|(m, s)| (m.to_vec(), s)).collect();
                    assert_eq!(got, order);
                    for (r, (m, s)) in order.iter().enumerate() {
                        assert_eq!(z.rank(m), Some(r));
                        assert_eq!(z.score(m), Some(*s));
                        assert_eq!(z.at_rank(r).0, &m[..]);
                    }
                    let rev: Vec<Vec<u8>> = z
                        .walk(order.len().saturating_sub(1), true)
                        .map(|(m, _)| m.to_vec())
                        .collect();
                    let mut want: Vec<Vec<u8>> = order.iter().map(|(m, _)| m.clone()).collect();
                    want.reverse();
                    assert_eq!(rev, want);
                    let r = z.rank_of_score(7.0, false);
                    assert_eq!(
                        r,
                        order
                            .iter()
                            .position(|(_, s)| *s >= 7.0)
                            .unwrap_or(order.len())
                    );
                    let r = z.rank_of_score(7.0, true);
                    assert_eq!(
                        r,
                        order
                            .iter()
                            .position(|(_, s)| *s > 7.0)
                            .unwrap_or(order.len())
                    );
                }
            }
            assert_eq!(z.len(), model.len());
        }
    }

    #[test]
    fn packed_scores_stay_exact() {
        for s in [
            0.0,
            1.0,
            -128.0,
            127.0,
            300.0,
            -70000.0,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ] {
            let mut out = Vec::new();
            write_score(&mut out, s);
            let (back, _) = read_score(&out, 0);
            assert_eq!(back.to_bits(), s.to_bits(), "{s}");
        }
        // -0 is an integral score: it reads back as 0, as from Redis's listpack.
        let mut out = Vec::new();
        write_score(&mut out, -0.0);
        assert_eq!(read_score(&out, 0).0.to_bits(), 0.0f64.to_bits());
    }
}
