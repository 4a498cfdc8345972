//! Hash values: a compact packed list of pairs while small (the
//! equivalent of Redis's listpack) and a hash table once a field count or a
//! length passes `hash-max-listpack-entries` / `-value`.

use hashbrown::HashMap;

/// The compact-encoding thresholds (`hash-max-listpack-entries`, `-value`).
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// A packed length below this takes one byte; from it on, a marker byte
/// and four bytes.
const SHORT_LEN: usize = 255;

/// Appends a packed length.
fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < SHORT_LEN {
        out.push(n as u8);
    } else {
        out.push(SHORT_LEN as u8);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
}

/// Bytes a packed length takes.
fn len_size(n: usize) -> usize {
    if n < SHORT_LEN {
        1
    } else {
        5
    }
}

/// Reads the packed length at `at`: (length, bytes it took).
fn read_len(d: &[u8], at: usize) -> (usize, usize) {
    match d[at] as usize {
        SHORT_LEN => {
            let b = [d[at + 1], d[at + 2], d[at + 3], d[at + 4]];
            (u32::from_le_bytes(b) as usize, 5)
        }
        n => (n, 1),
    }
}

/// Bytes a packed pair takes.
fn pair_size(f: &[u8], v: &[u8]) -> usize {
    len_size(f.len()) + f.len() + len_size(v.len()) + v.len()
}

/// Per-pair bookkeeping cost charged for fields of large hashes, on top of
/// their bytes (two allocations and a table slot).
const HASH_PAIR_OVERHEAD: usize = 48;

/// A small hash: a pair count (`u16`, little-endian) followed by the pairs
/// packed one after another as `[field len][field][value len][value]`, in
/// insertion order (the equivalent of Redis's listpack), in one exactly
/// sized allocation. A length is one byte below 255, else 255 and a
/// little-endian `u32`.
#[derive(Clone)]
struct Packed(Box<[u8]>);

impl Default for Packed {
    fn default() -> Self {
        Packed(Box::new([0, 0]))
    }
}

impl Packed {
    fn count(&self) -> usize {
        u16::from_le_bytes([self.0[0], self.0[1]]) as usize
    }

    /// Iterates (offset of the pair, field, value).
    fn pairs(&self) -> impl Iterator<Item = (usize, &[u8], &[u8])> + '_ {
        let d = &self.0;
        let mut at = 2;
        std::iter::from_fn(move || {
            if at >= d.len() {
                return None;
            }
            let start = at;
            let (flen, h) = read_len(d, at);
            let field = &d[at + h..at + h + flen];
            at += h + flen;
            let (vlen, h) = read_len(d, at);
            let value = &d[at + h..at + h + vlen];
            at += h + vlen;
            Some((start, field, value))
        })
    }

    fn find(&self, field: &[u8]) -> Option<(usize, usize)> {
        self.pairs()
            .find(|(_, f, _)| *f == field)
            .map(|(start, f, v)| (start, pair_size(f, v)))
    }

    /// Rebuilds the buffer with bytes `cut` replaced by `pair` (if any) and
    /// the count moved by `delta`.
    fn rebuild(&mut self, cut: std::ops::Range<usize>, pair: Option<(&[u8], &[u8])>, delta: isize) {
        let old = &self.0;
        let added = pair.map_or(0, |(f, v)| pair_size(f, v));
        let mut out = Vec::with_capacity(old.len() - cut.len() + added);
        let count = (self.count() as isize + delta) as u16;
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&old[2..cut.start]);
        if let Some((f, v)) = pair {
            put_len(&mut out, f.len());
            out.extend_from_slice(f);
            put_len(&mut out, v.len());
            out.extend_from_slice(v);
        }
        out.extend_from_slice(&old[cut.end..]);
        self.0 = out.into_boxed_slice();
    }

    /// Sets a field; true when it is new.
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some((start, len)) => {
                self.rebuild(start..start + len, Some((field, value)), 0);
                false
            }
            None => {
                // Append in place: the allocator can often extend the block.
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.reserve_exact(pair_size(field, value));
                put_len(&mut v, field.len());
                v.extend_from_slice(field);
                put_len(&mut v, value.len());
                v.extend_from_slice(value);
                let count = u16::from_le_bytes([v[0], v[1]]) + 1;
                v[..2].copy_from_slice(&count.to_le_bytes());
                self.0 = v.into_boxed_slice();
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some((start, len)) => {
                self.rebuild(start..start + len, None, -1);
                true
            }
            None => false,
        }
    }
}

/// A large hash: a table plus the bytes its pairs account for.
#[derive(Clone)]
struct Large {
    map: HashMap<Box<[u8]>, Box<[u8]>, foldhash::fast::RandomState>,
    bytes: usize,
}

#[derive(Clone)]
enum HashRepr {
    Small(Packed),
    Large(Box<Large>),
}

/// A hash value: field → value, insertion-ordered while small. Held inline
/// in the entry: a small hash is a single allocation.
#[derive(Clone)]
pub struct HashValue {
    repr: HashRepr,
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue {
            repr: HashRepr::Small(Packed::default()),
        }
    }
}

fn pair_cost(f: &[u8], v: &[u8]) -> usize {
    f.len() + v.len() + HASH_PAIR_OVERHEAD
}

impl HashValue {
    pub fn len(&self) -> usize {
        match &self.repr {
            HashRepr::Small(p) => p.count(),
            HashRepr::Large(l) => l.map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_small(&self) -> bool {
        matches!(self.repr, HashRepr::Small(_))
    }

    /// Bytes on the heap: the packed pairs, or the table and its pairs.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            HashRepr::Small(p) => p.0.len(),
            HashRepr::Large(l) => std::mem::size_of::<Large>() + l.bytes + l.map.capacity() * 2,
        }
    }

    /// Prefetches the first line of the hash's heap part.
    #[inline]
    pub fn prefetch(&self) {
        match &self.repr {
            HashRepr::Small(p) => super::prefetch(p.0.as_ptr()),
            HashRepr::Large(l) => super::prefetch(&**l),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            HashRepr::Small(p) => p.pairs().find(|(_, f, _)| *f == field).map(|(_, _, v)| v),
            HashRepr::Large(l) => l.map.get(field).map(|v| &**v),
        }
    }

    /// Sets a field; returns true when the field is new. The hash becomes
    /// a table when it passes `limits`.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if let HashRepr::Small(p) = &self.repr {
            let max_len = limits.max_value.min(u32::MAX as usize);
            let too_long = field.len() > max_len || value.len() > max_len;
            let max_entries = limits.max_entries.min(u16::MAX as usize);
            let too_many = p.count() >= max_entries && p.find(field).is_none();
            if too_long || too_many {
                self.convert_to_large();
            }
        }
        match &mut self.repr {
            HashRepr::Small(p) => p.set(field, value),
            HashRepr::Large(l) => match l.map.get_mut(field) {
                Some(old) => {
                    l.bytes = l.bytes - old.len() + value.len();
                    *old = value.into();
                    false
                }
                None => {
                    l.map.insert(field.into(), value.into());
                    l.bytes += pair_cost(field, value);
                    true
                }
            },
        }
    }

    fn convert_to_large(&mut self) {
        let HashRepr::Small(p) = &self.repr else {
            return;
        };
        let mut map = HashMap::with_capacity_and_hasher(p.count() + 1, Default::default());
        let mut bytes = 0;
        for (_, f, v) in p.pairs() {
            bytes += pair_cost(f, v);
            map.insert(f.into(), v.into());
        }
        self.repr = HashRepr::Large(Box::new(Large { map, bytes }));
    }

    /// Removes a field; returns true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            HashRepr::Small(p) => p.remove(field),
            HashRepr::Large(l) => match l.map.remove_entry(field) {
                Some((f, val)) => {
                    l.bytes -= pair_cost(&f, &val);
                    true
                }
                None => false,
            },
        }
    }

    /// Iterates pairs: insertion order while small, table order when large.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            HashRepr::Small(p) => Box::new(p.pairs().map(|(_, f, v)| (f, v))),
            HashRepr::Large(l) => Box::new(l.map.iter().map(|(f, v)| (&**f, &**v))),
        }
    }

    /// The `i`-th pair in iteration order (used for random picks).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }

    /// A stable 63-bit ordering key for a field, used by HSCAN on large hashes.
    pub fn scan_order(&self, field: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        match &self.repr {
            HashRepr::Large(l) => (l.map.hasher().hash_one(field) >> 1) | 1,
            HashRepr::Small(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: HashLimits = HashLimits {
        max_entries: 128,
        max_value: 64,
    };

    /// Random sets, overwrites and removals on a small hash keep the
    /// packed form equal to an insertion-ordered reference list; values
    /// longer than 254 bytes take the long length form.
    #[test]
    fn packed_hash_matches_a_reference_list() {
        const L: HashLimits = HashLimits {
            max_entries: 128,
            max_value: 1000,
        };
        let mut rng = fastrand::Rng::with_seed(11);
        let mut h = HashValue::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for _ in 0..5_000 {
            let field = format!("f{}", rng.u32(..40)).into_bytes();
            if rng.u32(..3) == 0 {
                let existed = model.iter().position(|(f, _)| *f == field);
                assert_eq!(h.remove(&field), existed.is_some());
                if let Some(i) = existed {
                    model.remove(i);
                }
            } else {
                let len = if rng.u32(..4) == 0 {
                    rng.usize(200..=1000)
                } else {
                    rng.usize(..=64)
                };
                let value = vec![b'v'; len];
                let existed = model.iter().position(|(f, _)| *f == field);
                assert_eq!(h.set(&field, &value, &L), existed.is_none());
                match existed {
                    Some(i) => model[i].1 = value,
                    None => model.push((field, value)),
                }
            }
            assert!(h.is_small());
            assert_eq!(h.len(), model.len());
        }
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(got, model);
        let packed: usize = 2 + model.iter().map(|(f, v)| pair_size(f, v)).sum::<usize>();
        assert!(model.iter().any(|(_, v)| v.len() >= 255));
        assert_eq!(h.heap_size(), packed);
    }

    #[test]
    fn hash_converts_when_large() {
        let mut h = HashValue::default();
        for i in 0..=128 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", &L));
        }
        assert!(!h.is_small());
        let mut h = HashValue::default();
        h.set(b"f", &[b'x'; 65], &L);
        assert!(!h.is_small());
        assert!(h.remove(b"f"));
        assert!(h.is_empty());
        let mut h = HashValue::default();
        h.set(b"a", b"1", &L);
        h.set(b"bb", b"22", &L);
        h.set(b"a", b"333", &L);
        assert_eq!(h.get(b"a"), Some(&b"333"[..]));
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            vec![(&b"a"[..], &b"333"[..]), (&b"bb"[..], &b"22"[..])]
        );
        assert!(h.remove(b"a"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.get(b"bb"), Some(&b"22"[..]));
    }
}
