//! Set values in three forms, chosen as members arrive and never reverted
//! (as in Redis):
//!
//! - **integers**: sorted, 2, 4 or 8 bytes each, widened as values need
//!   (Redis's intset), while every member is a canonical 64-bit integer
//!   and there are at most `set-max-intset-entries`;
//! - **small**: up to 128 members of up to 64 bytes packed in one buffer
//!   (Redis 7.2's listpack sets; OBJECT ENCODING says `hashtable`, as
//!   Redis 7.0 does for any set that is not an intset);
//! - **table**: members in a vector plus a hash index of their positions,
//!   so a random member is O(1) (SPOP, SRANDMEMBER) and SSCAN walks
//!   positions downwards (a removal moves the last, already visited,
//!   member into the hole, so members present throughout are returned).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::numeric::parse_i64;

/// Up to this many members of up to [`SMALL_MAX_LEN`] bytes stay packed.
const SMALL_MAX_ENTRIES: usize = 128;
const SMALL_MAX_LEN: usize = 64;
/// Per-member bookkeeping charged for table sets: the vector slot, the
/// index slot and the allocation header.
const TABLE_MEMBER_OVERHEAD: usize = 16 + 5 + 8;

/// `set-max-intset-entries`.
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    pub max_intset_entries: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits {
            max_intset_entries: 512,
        }
    }
}

/// A member as a set holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers formatted into `buf`).
    pub fn bytes<'b>(&'b self, buf: &'b mut itoa::Buffer) -> &'b [u8] {
        match self {
            Member::Int(i) => buf.format(*i).as_bytes(),
            Member::Bytes(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }
}

// ------------------------------------------------------------ integers

/// `[width: u8 = 2, 4 or 8][values, little-endian, ascending]`, a view of
/// a packed buffer whose first byte is not 0.
pub struct IntSet<'a>(&'a [u8]);

impl IntSet<'_> {
    fn width(&self) -> usize {
        self.0[0] as usize
    }

    pub fn len(&self) -> usize {
        (self.0.len() - 1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let b = &self.0[1 + i * w..1 + (i + 1) * w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes(b.try_into().expect("8 bytes")),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn width_for(v: i64) -> usize {
        if i16::try_from(v).is_ok() {
            2
        } else if i32::try_from(v).is_ok() {
            4
        } else {
            8
        }
    }

    fn build(width: usize, values: impl Iterator<Item = i64>, n: usize) -> Box<[u8]> {
        let mut out = Vec::with_capacity(1 + n * width);
        out.push(width as u8);
        for v in values {
            out.extend_from_slice(&v.to_le_bytes()[..width]);
        }
        out.into_boxed_slice()
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The buffer with `v` added (at its sorted place), if it was absent.
    fn with(&self, v: i64) -> Option<Box<[u8]>> {
        let at = self.search(v).err()?;
        let width = self.width().max(Self::width_for(v));
        let values = self
            .iter()
            .take(at)
            .chain(std::iter::once(v))
            .chain(self.iter().skip(at));
        Some(Self::build(width, values, self.len() + 1))
    }

    /// The buffer without the value at index `at`.
    fn without(&self, at: usize) -> Box<[u8]> {
        let w = self.width();
        let mut out = self.0.to_vec();
        out.drain(1 + at * w..1 + (at + 1) * w);
        out.into_boxed_slice()
    }
}

// ------------------------------------------------------------ small

/// `[0][count: u16 LE][len: u8][bytes]...`: a packed buffer whose first
/// byte is 0.
const SMALL_HEADER: usize = 3;

fn small_count(b: &[u8]) -> usize {
    u16::from_le_bytes([b[1], b[2]]) as usize
}

fn small_iter(b: &[u8]) -> impl Iterator<Item = &[u8]> + '_ {
    let mut at = SMALL_HEADER;
    std::iter::from_fn(move || {
        if at >= b.len() {
            return None;
        }
        let n = b[at] as usize;
        let m = &b[at + 1..at + 1 + n];
        at += 1 + n;
        Some(m)
    })
}

/// Byte range of the member equal to `m`, if present.
fn small_find(b: &[u8], m: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut at = SMALL_HEADER;
    while at < b.len() {
        let n = b[at] as usize;
        if &b[at + 1..at + 1 + n] == m {
            return Some(at..at + 1 + n);
        }
        at += 1 + n;
    }
    None
}

/// The buffer with bytes `cut` (one member, or nothing) removed and `add`
/// appended.
fn small_rebuild(b: &[u8], cut: std::ops::Range<usize>, add: Option<&[u8]>) -> Box<[u8]> {
    let cut = if cut.is_empty() {
        b.len()..b.len()
    } else {
        cut
    };
    let count = small_count(b) - (!cut.is_empty()) as usize + add.is_some() as usize;
    let mut out = Vec::with_capacity(b.len() - cut.len() + add.map_or(0, |m| m.len() + 1));
    out.push(0);
    out.extend_from_slice(&(count as u16).to_le_bytes());
    out.extend_from_slice(&b[SMALL_HEADER..cut.start]);
    out.extend_from_slice(&b[cut.end..]);
    if let Some(m) = add {
        out.push(m.len() as u8);
        out.extend_from_slice(m);
    }
    out.into_boxed_slice()
}

// ------------------------------------------------------------ table

#[derive(Clone)]
pub struct Table {
    members: Vec<Box<[u8]>>,
    index: HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    bytes: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            members: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: foldhash::fast::FixedState::with_seed(0x5e7),
            bytes: 0,
        }
    }

    fn hash(&self, m: &[u8]) -> u64 {
        self.hasher.hash_one(m)
    }

    fn position(&self, m: &[u8]) -> Option<usize> {
        let members = &self.members;
        self.index
            .find(self.hash(m), |&i| &*members[i as usize] == m)
            .map(|&i| i as usize)
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        if self.position(m).is_some() {
            return false;
        }
        let h = self.hash(m);
        let i = self.members.len() as u32;
        let (members, hasher) = (&self.members, &self.hasher);
        self.index
            .insert_unique(h, i, |&j| hasher.hash_one(&*members[j as usize]));
        self.members.push(m.into());
        self.bytes += m.len() + TABLE_MEMBER_OVERHEAD;
        true
    }

    /// Removes the member at position `i`; the last member takes its place.
    fn remove_at(&mut self, i: usize) -> Box<[u8]> {
        let h = self.hash(&self.members[i]);
        let removed = self
            .index
            .find_entry(h, |&j| j as usize == i)
            .expect("indexed");
        removed.remove();
        let last = self.members.len() - 1;
        if i != last {
            let lh = self.hash(&self.members[last]);
            if let Ok(mut e) = self.index.find_entry(lh, |&j| j as usize == last) {
                *e.get_mut() = i as u32;
            }
        }
        let m = self.members.swap_remove(i);
        self.bytes -= m.len() + TABLE_MEMBER_OVERHEAD;
        m
    }
}

// ------------------------------------------------------------ the value

/// A set value. `Packed` holds the integer form (first byte 2, 4 or 8)
/// or the small form (first byte 0); two variants keep it 16 bytes, so a
/// value stays 24.
#[derive(Clone)]
pub enum SetValue {
    Packed(Box<[u8]>),
    Table(Box<Table>),
}

/// What a packed buffer holds.
enum Packed<'a> {
    Ints(IntSet<'a>),
    Small(&'a [u8]),
}

fn packed(b: &[u8]) -> Packed<'_> {
    if b[0] == 0 {
        Packed::Small(b)
    } else {
        Packed::Ints(IntSet(b))
    }
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Packed(Box::new([2]))
    }
}

impl SetValue {
    pub fn len(&self) -> usize {
        match self {
            SetValue::Packed(b) => match packed(b) {
                Packed::Ints(s) => s.len(),
                Packed::Small(b) => small_count(b),
            },
            SetValue::Table(t) => t.members.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING, as Redis 7.0 names it.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Packed(b) if b[0] != 0 => "intset",
            _ => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Packed(b) => b.len(),
            SetValue::Table(t) => {
                std::mem::size_of::<Table>()
                    + t.members.capacity() * 16
                    + t.index.capacity() * 5
                    + t.bytes
            }
        }
    }

    #[inline]
    pub fn prefetch(&self) {
        match self {
            SetValue::Packed(b) => super::prefetch(b.as_ptr()),
            SetValue::Table(t) => super::prefetch(&**t),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Packed(b) => match packed(b) {
                Packed::Ints(s) => parse_i64(m).is_some_and(|v| s.search(v).is_ok()),
                Packed::Small(b) => small_find(b, m).is_some(),
            },
            SetValue::Table(t) => t.position(m).is_some(),
        }
    }

    /// Adds a member; true when it is new.
    pub fn insert(&mut self, m: &[u8], limits: &SetLimits) -> bool {
        if let SetValue::Packed(b) = self {
            match packed(b) {
                Packed::Ints(s) => match parse_i64(m) {
                    Some(v) if s.search(v).is_ok() => return false,
                    Some(v) if s.len() < limits.max_intset_entries => {
                        let grown = s.with(v).expect("absent");
                        *b = grown;
                        return true;
                    }
                    _ => self.leave_ints(m.len()),
                },
                Packed::Small(_) => {}
            }
        }
        if let SetValue::Packed(b) = self {
            if small_find(b, m).is_some() {
                return false;
            }
            if small_count(b) < SMALL_MAX_ENTRIES && m.len() <= SMALL_MAX_LEN {
                *b = small_rebuild(b, 0..0, Some(m));
                return true;
            }
            self.convert_to_table();
        }
        match self {
            SetValue::Table(t) => t.insert(m),
            SetValue::Packed(_) => unreachable!("converted above"),
        }
    }

    /// Adds several members; returns how many were new. A compact set that
    /// stays compact is rebuilt once, not once per member.
    pub fn insert_all(&mut self, members: &[&[u8]], limits: &SetLimits) -> usize {
        if let SetValue::Packed(b) = self {
            match packed(b) {
                Packed::Ints(s) => {
                    let values: Option<Vec<i64>> = members.iter().map(|m| parse_i64(m)).collect();
                    if let Some(mut values) = values {
                        values.retain(|v| s.search(*v).is_err());
                        values.sort_unstable();
                        values.dedup();
                        if s.len() + values.len() <= limits.max_intset_entries {
                            let added = values.len();
                            if added > 0 {
                                let mut all: Vec<i64> = s.iter().chain(values).collect();
                                all.sort_unstable();
                                let width =
                                    all.iter().map(|&v| IntSet::width_for(v)).max().unwrap_or(2);
                                *b = IntSet::build(width, all.iter().copied(), all.len());
                            }
                            return added;
                        }
                    }
                }
                Packed::Small(sb) => {
                    let mut new: Vec<&[u8]> = Vec::new();
                    let mut fits = true;
                    for m in members {
                        if small_find(sb, m).is_none() && !new.contains(m) {
                            new.push(m);
                            // Stop once the small form is outgrown, so the
                            // searches stay bounded by its entry limit.
                            if small_count(sb) + new.len() > SMALL_MAX_ENTRIES
                                || m.len() > SMALL_MAX_LEN
                            {
                                fits = false;
                                break;
                            }
                        }
                    }
                    if fits {
                        if !new.is_empty() {
                            let mut out = Vec::with_capacity(
                                sb.len() + new.iter().map(|m| m.len() + 1).sum::<usize>(),
                            );
                            out.push(0);
                            out.extend_from_slice(
                                &((small_count(sb) + new.len()) as u16).to_le_bytes(),
                            );
                            out.extend_from_slice(&sb[SMALL_HEADER..]);
                            for m in &new {
                                out.push(m.len() as u8);
                                out.extend_from_slice(m);
                            }
                            *b = out.into_boxed_slice();
                        }
                        return new.len();
                    }
                }
            }
        }
        members.iter().filter(|m| self.insert(m, limits)).count()
    }

    /// Leaves the integer form for one that can hold `next_len`-byte strings.
    fn leave_ints(&mut self, next_len: usize) {
        let SetValue::Packed(b) = self else {
            return;
        };
        let Packed::Ints(s) = packed(b) else {
            return;
        };
        let n = s.len();
        let mut buf = itoa::Buffer::new();
        if n < SMALL_MAX_ENTRIES && next_len <= SMALL_MAX_LEN {
            let mut out = vec![0];
            out.extend_from_slice(&(n as u16).to_le_bytes());
            for v in s.iter() {
                let t = buf.format(v).as_bytes();
                out.push(t.len() as u8);
                out.extend_from_slice(t);
            }
            *self = SetValue::Packed(out.into_boxed_slice());
        } else {
            let mut t = Table::with_capacity(n + 1);
            for v in s.iter() {
                t.insert(buf.format(v).as_bytes());
            }
            *self = SetValue::Table(Box::new(t));
        }
    }

    fn convert_to_table(&mut self) {
        if let SetValue::Packed(b) = self {
            if let Packed::Small(b) = packed(b) {
                let mut t = Table::with_capacity(small_count(b) + 1);
                for m in small_iter(b) {
                    t.insert(m);
                }
                *self = SetValue::Table(Box::new(t));
            }
        }
    }

    /// Removes a member; true when it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Packed(b) => {
                let shrunk = match packed(b) {
                    Packed::Ints(s) => match parse_i64(m).map(|v| s.search(v)) {
                        Some(Ok(at)) => s.without(at),
                        _ => return false,
                    },
                    Packed::Small(sb) => match small_find(sb, m) {
                        Some(r) => small_rebuild(sb, r, None),
                        None => return false,
                    },
                };
                *b = shrunk;
                true
            }
            SetValue::Table(t) => match t.position(m) {
                Some(i) => {
                    t.remove_at(i);
                    true
                }
                None => false,
            },
        }
    }

    /// The member at position `i` (< len) in the set's own order.
    pub fn nth(&self, i: usize) -> Member<'_> {
        match self {
            SetValue::Packed(b) => match packed(b) {
                Packed::Ints(s) => Member::Int(s.get(i)),
                Packed::Small(b) => Member::Bytes(small_iter(b).nth(i).expect("in range")),
            },
            SetValue::Table(t) => Member::Bytes(&t.members[i]),
        }
    }

    /// Removes and returns the member at position `i` (< len).
    pub fn remove_nth(&mut self, i: usize) -> Vec<u8> {
        match self {
            SetValue::Packed(b) => {
                let (member, shrunk) = match packed(b) {
                    Packed::Ints(s) => {
                        let v = s.get(i);
                        (
                            itoa::Buffer::new().format(v).as_bytes().to_vec(),
                            s.without(i),
                        )
                    }
                    Packed::Small(sb) => {
                        let mut at = SMALL_HEADER;
                        for _ in 0..i {
                            at += 1 + sb[at] as usize;
                        }
                        let n = sb[at] as usize;
                        let m = sb[at + 1..at + 1 + n].to_vec();
                        (m, small_rebuild(sb, at..at + 1 + n, None))
                    }
                };
                *b = shrunk;
                member
            }
            SetValue::Table(t) => t.remove_at(i).into_vec(),
        }
    }

    /// Every member, in the set's own order (ascending for integers).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            SetValue::Packed(b) => match packed(b) {
                Packed::Ints(s) => {
                    Box::new((0..s.len()).map(move |i| Member::Int(IntSet(b).get(i))))
                }
                Packed::Small(b) => Box::new(small_iter(b).map(Member::Bytes)),
            },
            SetValue::Table(t) => Box::new(t.members.iter().map(|m| Member::Bytes(m))),
        }
    }

    /// One SSCAN step: members at positions below `cursor` (the set's
    /// length when 0), about `count` of them, downwards. Returns the next
    /// cursor (0 when done). Compact sets return everything at once, as
    /// Redis does for its compact encodings.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member<'_>)) -> u64 {
        let SetValue::Table(t) = self else {
            self.iter().for_each(f);
            return 0;
        };
        let len = t.members.len() as u64;
        let mut at = if cursor == 0 || cursor > len {
            len
        } else {
            cursor
        };
        let mut done = 0;
        while at > 0 && done < count.max(1) {
            at -= 1;
            f(Member::Bytes(&t.members[at as usize]));
            done += 1;
        }
        at
    }

    /// The set built from `members` (for RDB loads and stores).
    pub fn from_members<'a>(
        members: impl Iterator<Item = &'a [u8]>,
        limits: &SetLimits,
    ) -> SetValue {
        let mut s = SetValue::default();
        for m in members {
            s.insert(m, limits);
        }
        s
    }

    /// The integer values when the set is in the integer form (RDB writes).
    pub fn ints(&self) -> Option<Vec<i64>> {
        match self {
            SetValue::Packed(b) if b[0] != 0 => Some(IntSet(b).iter().collect()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn members(s: &SetValue) -> BTreeSet<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn forms_change_as_members_arrive_and_match_a_model() {
        let limits = SetLimits::default();
        let mut s = SetValue::default();
        let mut model = BTreeSet::new();
        for i in 0..600 {
            let m = (i * 7 % 1000 - 300).to_string().into_bytes();
            assert_eq!(s.insert(&m, &limits), model.insert(m.clone()));
        }
        assert!(matches!(s, SetValue::Table(_)), "past 512 integers");
        assert_eq!(std::mem::size_of::<SetValue>(), 16);
        let mut s2 = SetValue::default();
        for v in [5i64, -3, 70000, i64::MIN, 5] {
            s2.insert(v.to_string().as_bytes(), &limits);
        }
        assert_eq!(s2.encoding(), "intset");
        assert_eq!(
            s2.iter().map(|m| m.to_vec()).collect::<Vec<_>>(),
            [i64::MIN, -3, 5, 70000].map(|v| v.to_string().into_bytes())
        );
        s2.insert(b"01", &limits);
        assert!(matches!(&s2, SetValue::Packed(b) if b[0] == 0));
        assert!(s2.contains(b"70000") && s2.contains(b"01") && !s2.contains(b"1"));
        for i in 0..200 {
            s2.insert(format!("m{i}").as_bytes(), &limits);
        }
        assert!(matches!(s2, SetValue::Table(_)));
        assert_eq!(s2.len(), 205);
        // Removal keeps the index consistent.
        for i in (0..200).step_by(3) {
            assert!(s2.remove(format!("m{i}").as_bytes()));
        }
        for i in 0..200 {
            assert_eq!(s2.contains(format!("m{i}").as_bytes()), i % 3 != 0);
        }
        assert_eq!(members(&s).len(), model.len());
        assert_eq!(members(&s), model);
    }

    #[test]
    fn scan_returns_members_present_throughout_despite_removals() {
        let limits = SetLimits::default();
        let mut s = SetValue::default();
        for i in 0..1000 {
            s.insert(format!("k{i}").as_bytes(), &limits);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut removed = BTreeSet::new();
        loop {
            let mut batch = Vec::new();
            cursor = s.scan(cursor, 10, |m| batch.push(m.to_vec()));
            seen.extend(batch);
            // Remove a member the scan already returned, moving the last.
            if let Some(m) = seen.iter().find(|m| !removed.contains(*m)).cloned() {
                s.remove(&m);
                removed.insert(m);
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            let m = format!("k{i}").into_bytes();
            if !removed.contains(&m) {
                assert!(seen.contains(&m), "{}", String::from_utf8_lossy(&m));
            }
        }
    }
}
