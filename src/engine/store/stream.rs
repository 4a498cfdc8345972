//! Stream values: entries ordered by id in nodes of packed entries (the
//! equivalent of Redis's radix tree of listpacks), plus consumer groups
//! with their pending entries.
//!
//! A node is keyed by its master id (the id of the first entry added to
//! it) and holds up to `stream-node-max-entries` entries. It starts with the
//! master fields (the field names of its first entry); each entry is
//!
//! `[flags][ms - master ms][seq - master seq][fields?][values]`
//!
//! with numbers as base-128 varints, field names as varint length +
//! bytes, and values likewise or, when they are canonical integers, as one
//! tagged varint (as a listpack stores integers). An entry whose field
//! names equal the master fields stores only its values (flag
//! [`SAME_FIELDS`]). Deleting marks the entry (flag
//! [`DELETED`]); a node whose entries are all deleted goes. Each node also
//! tracks the size Redis's listpack for the same entries would have, so
//! nodes split where Redis's do and `MAXLEN ~` trims exactly what Redis
//! trims.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A stream entry id: milliseconds and a sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id, or None past the largest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, or None before the smallest.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// `ms-seq` as bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry's field/value pairs, owned.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Entry flag: deleted (a tombstone until its node goes).
pub const DELETED: u8 = 1;
/// Entry flag: its field names are the node's master fields.
pub const SAME_FIELDS: u8 = 2;

/// Node size limits: `stream-node-max-bytes` (of Redis's listpack for
/// the node; 0 means the 1 GB listpack maximum) and
/// `stream-node-max-entries` (live and deleted; 0 means none).
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    pub max_bytes: usize,
    pub max_entries: u64,
}

/// Largest listpack Redis builds.
const LISTPACK_MAX: usize = 1 << 30;

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

impl StreamLimits {
    /// Entries a `~` trim may remove when no LIMIT is given (100 nodes).
    pub fn approx_trim_limit(&self) -> u64 {
        match 100u64.saturating_mul(self.max_entries) {
            0 => 10_000,
            n => n.min(1_000_000),
        }
    }

    fn fits(&self, lp_bytes: usize, extra: usize, entries: u64) -> bool {
        let max_bytes = match self.max_bytes {
            0 => LISTPACK_MAX,
            n => n.min(LISTPACK_MAX),
        };
        lp_bytes + extra < max_bytes && (self.max_entries == 0 || entries < self.max_entries)
    }
}
/// Largest total of an entry's field and value bytes Redis accepts.
pub const ENTRY_MAX_BYTES: usize = u32::MAX as usize;

/// Bytes of bookkeeping per node (map slot, header), for accounting.
const NODE_OVERHEAD: usize = 96;

// ---------------------------------------------------------------- varints

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*at`. Node data is written only by this module, so
/// it is always well formed.
fn get_varint(data: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = data[*at];
        *at += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn get_bytes<'a>(data: &'a [u8], at: &mut usize) -> &'a [u8] {
    let n = get_varint(data, at) as usize;
    let s = &data[*at..*at + n];
    *at += n;
    s
}

/// A value as a node holds it: bytes, or the integer whose canonical
/// decimal form the bytes were (as a listpack stores integers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val<'a> {
    Bytes(&'a [u8]),
    Int(i64),
}

impl Val<'_> {
    pub fn to_vec(&self) -> Vec<u8> {
        match self {
            Val::Bytes(b) => b.to_vec(),
            Val::Int(i) => itoa::Buffer::new().format(*i).as_bytes().to_vec(),
        }
    }
}

/// Integers kept as integers: canonical decimals with |v| < 2^62, so the
/// tagged varint below never loses a bit.
const INT_LIMIT: u64 = 1 << 62;

/// A value: a varint header `len << 1` and the bytes, or, for a canonical
/// integer, `zigzag(v) << 1 | 1` alone (an 8-digit number takes 4 bytes
/// instead of 9).
fn put_value(out: &mut Vec<u8>, v: &[u8]) {
    if v.len() <= 20 {
        if let Some(i) = crate::numeric::parse_i64(v).filter(|i| i.unsigned_abs() < INT_LIMIT) {
            let zigzag = ((i << 1) ^ (i >> 63)) as u64;
            put_varint(out, zigzag << 1 | 1);
            return;
        }
    }
    put_varint(out, (v.len() as u64) << 1);
    out.extend_from_slice(v);
}

fn get_value<'a>(data: &'a [u8], at: &mut usize) -> Val<'a> {
    let h = get_varint(data, at);
    if h & 1 == 1 {
        let z = h >> 1;
        Val::Int((z >> 1) as i64 ^ -((z & 1) as i64))
    } else {
        let n = (h >> 1) as usize;
        let s = &data[*at..*at + n];
        *at += n;
        Val::Bytes(s)
    }
}

// ------------------------------------------------- Redis listpack sizes

/// Bytes of a listpack element's back-length for an element of `len` bytes.
fn lp_backlen(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Bytes a listpack spends on the integer `v`.
pub fn lp_int_size(v: i64) -> usize {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if i16::try_from(v).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        4
    } else if i32::try_from(v).is_ok() {
        5
    } else {
        9
    };
    enc + lp_backlen(enc)
}

/// Bytes a listpack spends on the string `s` (stored as an integer when
/// it is the canonical form of one, as listpack does).
pub fn lp_str_size(s: &[u8]) -> usize {
    if s.len() <= 20 {
        if let Some(v) = crate::numeric::parse_i64(s) {
            return lp_int_size(v);
        }
    }
    let hdr = if s.len() < 64 {
        1
    } else if s.len() < 4096 {
        2
    } else {
        5
    };
    hdr + s.len() + lp_backlen(hdr + s.len())
}

// ------------------------------------------------------------------ nodes

/// One node: master fields, then packed entries.
#[derive(Clone)]
struct Node {
    /// Entries not deleted.
    live: u32,
    /// Entries marked deleted.
    deleted: u32,
    /// Where the entries start in `data` (after the master fields).
    entries_at: u32,
    /// Redis's listpack size for this node.
    lp_bytes: u32,
    /// The last entry's id (deleted or not).
    last: StreamId,
    data: Vec<u8>,
}

/// An entry decoded from a node: its id, flags, where its flags byte is,
/// and its field/value pairs.
pub struct RawEntry<'a> {
    pub id: StreamId,
    pub flags: u8,
    flags_at: usize,
    pub pairs: Vec<(&'a [u8], Val<'a>)>,
}

impl Node {
    fn new(master: StreamId, fields: &[&[u8]]) -> Node {
        let mut data = Vec::new();
        put_varint(&mut data, fields.len() as u64);
        for f in fields {
            put_bytes(&mut data, f);
        }
        // Header (6) + end (1) + count, deleted, num-fields, fields, 0.
        let lp = 7
            + lp_int_size(0)
            + lp_int_size(0)
            + lp_int_size(fields.len() as i64)
            + fields.iter().map(|f| lp_str_size(f)).sum::<usize>()
            + lp_int_size(0);
        Node {
            live: 0,
            deleted: 0,
            entries_at: data.len() as u32,
            lp_bytes: lp as u32,
            last: master,
            data,
        }
    }

    fn master_fields(&self) -> Vec<&[u8]> {
        let mut at = 0;
        let n = get_varint(&self.data, &mut at) as usize;
        (0..n).map(|_| get_bytes(&self.data, &mut at)).collect()
    }

    fn same_fields(&self, pairs: &[&[u8]]) -> bool {
        let mut at = 0;
        let n = get_varint(&self.data, &mut at) as usize;
        if n * 2 != pairs.len() {
            return false;
        }
        (0..n).all(|i| get_bytes(&self.data, &mut at) == pairs[i * 2])
    }

    /// Adds to `lp_bytes` the change of the live/deleted counters.
    fn set_counts(&mut self, live: u32, deleted: u32) {
        let lp = self.lp_bytes as i64 + lp_int_size(live as i64) as i64
            - lp_int_size(self.live as i64) as i64
            + lp_int_size(deleted as i64) as i64
            - lp_int_size(self.deleted as i64) as i64;
        self.lp_bytes = lp as u32;
        self.live = live;
        self.deleted = deleted;
    }

    fn append(&mut self, master: StreamId, id: StreamId, pairs: &[&[u8]]) {
        let same = self.same_fields(pairs);
        let flags = if same { SAME_FIELDS } else { 0 };
        let ms_delta = id.ms.wrapping_sub(master.ms);
        let seq_delta = id.seq.wrapping_sub(master.seq);
        self.data.push(flags);
        put_varint(&mut self.data, ms_delta);
        put_varint(&mut self.data, seq_delta);
        let nfields = pairs.len() / 2;
        let mut lp = lp_int_size(flags as i64)
            + lp_int_size(ms_delta as i64)
            + lp_int_size(seq_delta as i64);
        let mut lp_count = 3 + nfields as i64;
        if !same {
            put_varint(&mut self.data, nfields as u64);
            lp += lp_int_size(nfields as i64);
            lp_count += nfields as i64 + 1;
        }
        for (i, p) in pairs.iter().enumerate() {
            if i % 2 == 0 {
                if !same {
                    put_bytes(&mut self.data, p);
                    lp += lp_str_size(p);
                }
            } else {
                put_value(&mut self.data, p);
                lp += lp_str_size(p);
            }
        }
        lp += lp_int_size(lp_count);
        self.lp_bytes += lp as u32;
        self.set_counts(self.live + 1, self.deleted);
        self.last = id;
    }

    /// Decodes every entry (deleted ones too), calling `f` until it
    /// answers false.
    fn walk<'a>(&'a self, master: StreamId, mut f: impl FnMut(RawEntry<'a>) -> bool) {
        let mut mat = 0;
        let nmaster = get_varint(&self.data, &mut mat) as usize;
        let mut at = self.entries_at as usize;
        while at < self.data.len() {
            let flags_at = at;
            let flags = self.data[at];
            at += 1;
            let ms = master.ms.wrapping_add(get_varint(&self.data, &mut at));
            let seq = master.seq.wrapping_add(get_varint(&self.data, &mut at));
            let mut pairs = Vec::new();
            if flags & SAME_FIELDS != 0 {
                let mut fat = 0;
                get_varint(&self.data, &mut fat);
                pairs.reserve(nmaster);
                for _ in 0..nmaster {
                    let field = get_bytes(&self.data, &mut fat);
                    let value = get_value(&self.data, &mut at);
                    pairs.push((field, value));
                }
            } else {
                let n = get_varint(&self.data, &mut at) as usize;
                pairs.reserve(n);
                for _ in 0..n {
                    let field = get_bytes(&self.data, &mut at);
                    let value = get_value(&self.data, &mut at);
                    pairs.push((field, value));
                }
            }
            let e = RawEntry {
                id: StreamId::new(ms, seq),
                flags,
                flags_at,
                pairs,
            };
            if !f(e) {
                return;
            }
        }
    }

    fn entries(&self, master: StreamId) -> Vec<RawEntry<'_>> {
        let mut v = Vec::with_capacity((self.live + self.deleted) as usize);
        self.walk(master, |e| {
            v.push(e);
            true
        });
        v
    }

    fn heap(&self) -> usize {
        NODE_OVERHEAD + self.data.capacity()
    }
}

// ---------------------------------------------------------------- groups

/// A pending entry: delivered to a consumer, not yet acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Box<[u8]>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// Unix ms the consumer was last seen (read or claimed).
    pub seen_time: u64,
    /// The ids pending for this consumer.
    pub pel: BTreeSet<StreamId>,
}

/// Entries-read value meaning "not known" (Redis's SCG_INVALID_ENTRIES_READ).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group {
    /// The last id delivered to the group.
    pub last_id: StreamId,
    /// How many entries the group has read, or [`ENTRIES_READ_UNKNOWN`].
    pub entries_read: i64,
    /// Pending entries of every consumer.
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    /// The consumer named `name`, created (seen now) when missing; says
    /// whether it was created.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            });
        (c, created)
    }

    /// Removes `id` from the group's and its consumer's pending lists.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Makes `id` pending for `consumer` (taking it from its previous
    /// owner), delivered at `time` with `count` deliveries.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: u64, count: u64) {
        if let Some(old) = self.pel.get(&id) {
            if &*old.consumer != consumer {
                if let Some(c) = self.consumers.get_mut(&old.consumer) {
                    c.pel.remove(&id);
                }
            }
        }
        self.pel.insert(
            id,
            Nack {
                delivery_time: time,
                delivery_count: count,
                consumer: consumer.into(),
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    fn heap(&self) -> usize {
        let consumers: usize = self
            .consumers
            .iter()
            .map(|(n, c)| 64 + n.len() + c.pel.len() * 24)
            .sum();
        96 + self.pel.len() * 64 + consumers
    }
}

// ---------------------------------------------------------------- stream

/// How XADD/XTRIM trim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

#[derive(Clone, Default)]
pub struct StreamValue {
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    length: u64,
    /// The largest id ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's id (0-0 when empty).
    pub first_id: StreamId,
    /// The largest id ever deleted.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Box<[u8]>, Group>,
    /// Heap bytes of the nodes.
    node_bytes: usize,
}

impl StreamValue {
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Bytes of packed data in the nodes.
    #[cfg(test)]
    fn node_bytes_used(&self) -> usize {
        self.nodes.values().map(|n| n.data.len()).sum()
    }

    /// Nodes holding entries (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<StreamValue>()
            + self.node_bytes
            + self
                .groups
                .iter()
                .map(|(n, g)| n.len() + g.heap())
                .sum::<usize>()
    }

    /// Adds an entry with the flattened field/value `pairs` at `id`, which
    /// the caller checked is greater than `last_id`.
    pub fn append(&mut self, id: StreamId, pairs: &[&[u8]], limits: &StreamLimits) {
        let total: usize = pairs.iter().map(|p| p.len()).sum();
        let fits = match self.nodes.last_key_value() {
            Some((_, n)) => limits.fits(n.lp_bytes as usize, total, (n.live + n.deleted) as u64),
            None => false,
        };
        self.append_to(id, pairs, !fits);
    }

    /// Adds an entry to the last node, or to a new one when `new_node`.
    fn append_to(&mut self, id: StreamId, pairs: &[&[u8]], new_node: bool) {
        if new_node || self.nodes.is_empty() {
            if let Some(mut last) = self.nodes.last_entry() {
                let n = last.get_mut();
                let before = n.heap();
                n.data.shrink_to_fit();
                self.node_bytes = self.node_bytes + n.heap() - before;
            }
            let fields: Vec<&[u8]> = pairs.iter().step_by(2).copied().collect();
            let node = Node::new(id, &fields);
            self.node_bytes += node.heap();
            self.nodes.insert(id, node);
        }
        let mut last = self.nodes.last_entry().expect("a node");
        let master = *last.key();
        let n = last.get_mut();
        let before = n.heap();
        n.append(master, id, pairs);
        self.node_bytes = self.node_bytes + n.heap() - before;
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Calls `f` with each live entry with an id in `lo..=hi`, ascending
    /// (or descending when `rev`), until it answers false.
    pub fn range(
        &self,
        lo: StreamId,
        hi: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamId, &[(&[u8], Val)]) -> bool,
    ) {
        if lo > hi {
            return;
        }
        // Like Redis's iterator: start at the last node keyed at or before
        // the near bound (or at the first/last node when there is none)
        // and go on until a live entry passes the far bound. Nodes are not
        // bounded by their keys: after XSETID moved the last id back, a node
        // may hold live entries below its own (deleted) first id.
        if !rev {
            let Some(start) = self.seek_forward(lo) else {
                return;
            };
            for (master, node) in self.nodes.range(start..) {
                if node.last < lo {
                    continue;
                }
                let mut go_on = true;
                node.walk(*master, |e| {
                    // Tombstones are passed over unseen.
                    if e.flags & DELETED != 0 {
                        return true;
                    }
                    if e.id > hi {
                        go_on = false;
                        return false;
                    }
                    if e.id >= lo && !f(e.id, &e.pairs) {
                        go_on = false;
                        return false;
                    }
                    true
                });
                if !go_on {
                    return;
                }
            }
        } else {
            let start = self
                .nodes
                .range(..=hi)
                .next_back()
                .or_else(|| self.nodes.last_key_value())
                .map(|(k, _)| *k);
            let Some(start) = start else {
                return;
            };
            for (master, node) in self.nodes.range(..=start).rev() {
                for e in node.entries(*master).iter().rev() {
                    if e.flags & DELETED != 0 {
                        continue;
                    }
                    if e.id < lo {
                        return;
                    }
                    if e.id <= hi && !f(e.id, &e.pairs) {
                        return;
                    }
                }
            }
        }
    }

    /// Where a forward walk from `lo` starts: the last node keyed at or
    /// before it, or the first node.
    fn seek_forward(&self, lo: StreamId) -> Option<StreamId> {
        self.nodes
            .range(..=lo)
            .next_back()
            .or_else(|| self.nodes.first_key_value())
            .map(|(k, _)| *k)
    }

    /// The entry `id`'s pairs, if it is live.
    pub fn get(&self, id: StreamId) -> Option<Pairs> {
        let mut found = None;
        self.range(id, id, false, |_, pairs| {
            found = Some(
                pairs
                    .iter()
                    .map(|(f, v)| (f.to_vec(), v.to_vec()))
                    .collect(),
            );
            false
        });
        found
    }

    pub fn contains(&self, id: StreamId) -> bool {
        let mut found = false;
        self.range(id, id, false, |_, _| {
            found = true;
            false
        });
        found
    }

    /// The first (or last) live entry's id.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        let mut found = None;
        self.range(StreamId::MIN, StreamId::MAX, last, |id, _| {
            found = Some(id);
            false
        });
        found
    }

    /// Deletes the live entry `id`; false when there is none. Keeps
    /// `first_id` and `max_deleted_id` current.
    pub fn delete(&mut self, id: StreamId) -> bool {
        // Found as a forward walk from `id` finds it (see `range`).
        let Some(start) = self.seek_forward(id) else {
            return false;
        };
        let mut found = None;
        for (master, node) in self.nodes.range(start..) {
            if node.last < id {
                continue;
            }
            let mut past = false;
            node.walk(*master, |e| {
                if e.flags & DELETED != 0 {
                    return true;
                }
                if e.id == id {
                    found = Some((*master, e.flags_at));
                }
                past = e.id >= id;
                !past
            });
            if found.is_some() || past {
                break;
            }
        }
        let Some((master, at)) = found else {
            return false;
        };
        let node = self.nodes.get_mut(&master).expect("found above");
        if node.live == 1 {
            let heap = node.heap();
            self.nodes.remove(&master);
            self.node_bytes -= heap;
        } else {
            node.data[at] |= DELETED;
            node.set_counts(node.live - 1, node.deleted + 1);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        true
    }

    /// Trims as XADD/XTRIM do: whole nodes while they can go; with
    /// `approx` nothing more, otherwise entries of the next node too.
    /// `limit` (0: none) caps the entries removed. Returns how many went.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = how {
                if self.length <= max {
                    break;
                }
            }
            let Some((&master, node)) = self.nodes.first_key_value() else {
                break;
            };
            let entries = node.live as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                let heap = node.heap();
                self.nodes.remove(&master);
                self.node_bytes -= heap;
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let node = self.nodes.get_mut(&master).expect("first node");
            let mut marks = Vec::new();
            let mut length = self.length;
            node.walk(master, |e| {
                let stop = match how {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    return false;
                }
                if e.flags & DELETED == 0 {
                    marks.push(e.flags_at);
                    length -= 1;
                }
                true
            });
            for &at in &marks {
                node.data[at] |= DELETED;
            }
            let n = marks.len() as u32;
            node.set_counts(node.live - n, node.deleted + n);
            self.length = length;
            deleted += n as u64;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        deleted
    }

    /// Whether `lo..=hi` may hold a deleted entry (Redis's
    /// streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, lo: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        lo <= self.max_deleted_id
    }

    /// The number of entries added up to `id`, when it can be known
    /// (Redis's streamEstimateDistanceFromFirstEverEntry).
    pub fn entries_read_at(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        }
        if id > self.last_id {
            return ENTRIES_READ_UNKNOWN;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.length) as i64;
            }
            if id == self.first_id {
                return (self.entries_added - self.length + 1) as i64;
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// A group's lag (entries not yet delivered to it), when known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.range_has_tombstones(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.entries_read_at(g.last_id);
        (read != ENTRIES_READ_UNKNOWN).then(|| self.entries_added as i64 - read)
    }

    /// The nodes as (master id, live, deleted, master fields, entries) for
    /// the snapshot writer.
    pub fn for_each_node(&self, mut f: impl FnMut(NodeView<'_>)) {
        for (master, node) in &self.nodes {
            f(NodeView {
                master: *master,
                live: node.live,
                deleted: node.deleted,
                master_fields: node.master_fields(),
                entries: node.entries(*master),
            });
        }
    }

    /// Adds an entry read from a snapshot (possibly deleted) to the end,
    /// without touching the counters a snapshot restores itself. Nodes
    /// keep the file's cuts: `starts_node` for the first entry of each.
    pub fn push_loaded(&mut self, id: StreamId, pairs: &[&[u8]], deleted: bool, starts_node: bool) {
        let len = self.length;
        let added = self.entries_added;
        let last = self.last_id;
        let first = self.first_id;
        self.append_to(id, pairs, starts_node);
        if deleted {
            let node = self.nodes.values_mut().next_back().expect("a node");
            let mut at = 0;
            node.walk(StreamId::MIN, |e| {
                at = e.flags_at;
                true
            });
            node.data[at] |= DELETED;
            node.set_counts(node.live - 1, node.deleted + 1);
            self.length = len;
        } else {
            self.length = len + 1;
        }
        self.entries_added = added;
        self.last_id = last.max(id);
        self.first_id = if len == 0 && !deleted { id } else { first };
    }

    /// The first entry's id, deleted or not (what a `~` trim reports to
    /// replicas as the new MINID).
    pub fn first_raw_id(&self) -> Option<StreamId> {
        let (master, node) = self.nodes.first_key_value()?;
        let mut first = None;
        node.walk(*master, |e| {
            first = Some(e.id);
            false
        });
        first
    }

    /// Nodes Redis's radix tree would have for these node keys (XINFO's
    /// `radix-tree-nodes`): one per branching prefix, one per chain of
    /// single-child prefixes, one per key.
    pub fn radix_tree_nodes(&self) -> usize {
        fn key(id: &StreamId) -> [u8; 16] {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&id.ms.to_be_bytes());
            b[8..].copy_from_slice(&id.seq.to_be_bytes());
            b
        }
        fn count(keys: &[[u8; 16]], depth: usize) -> usize {
            if keys.len() == 1 {
                return if depth < 16 { 2 } else { 1 };
            }
            let (first, last) = (&keys[0], &keys[keys.len() - 1]);
            let mut l = depth;
            while l < 16 && first[l] == last[l] {
                l += 1;
            }
            let chain = usize::from(l > depth);
            let mut n = chain + 1;
            let mut at = 0;
            while at < keys.len() {
                let b = keys[at][l];
                let end = at + keys[at..].iter().take_while(|k| k[l] == b).count();
                n += count(&keys[at..end], l + 1);
                at = end;
            }
            n
        }
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(key).collect();
        if keys.is_empty() {
            1
        } else {
            count(&keys, 0)
        }
    }

    /// Every live entry, for comparisons in tests.
    fn entry_list(&self) -> Vec<(StreamId, Pairs)> {
        let mut v = Vec::new();
        self.range(StreamId::MIN, StreamId::MAX, false, |id, pairs| {
            v.push((
                id,
                pairs
                    .iter()
                    .map(|(f, x)| (f.to_vec(), x.to_vec()))
                    .collect(),
            ));
            true
        });
        v
    }

    /// Completes a load: the first live entry's id. Nodes holding only
    /// deleted entries stay, as they do in Redis.
    pub fn finish_load(&mut self) {
        self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
    }
}

impl PartialEq for StreamValue {
    fn eq(&self, other: &Self) -> bool {
        self.length == other.length
            && self.last_id == other.last_id
            && self.first_id == other.first_id
            && self.max_deleted_id == other.max_deleted_id
            && self.entries_added == other.entries_added
            && self.groups == other.groups
            && self.entry_list() == other.entry_list()
    }
}

impl fmt::Debug for StreamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream(length {}, last {}, groups {})",
            self.length,
            self.last_id,
            self.groups.len()
        )
    }
}

/// A node as the snapshot writer sees it.
pub struct NodeView<'a> {
    pub master: StreamId,
    pub live: u32,
    pub deleted: u32,
    pub master_fields: Vec<&'a [u8]>,
    pub entries: Vec<RawEntry<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn ids(s: &StreamValue, rev: bool) -> Vec<StreamId> {
        let mut v = Vec::new();
        s.range(StreamId::MIN, StreamId::MAX, rev, |id, _| {
            v.push(id);
            true
        });
        v
    }

    #[test]
    fn append_range_and_delete_against_a_model() {
        let mut rng = 12345u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut s = StreamValue::default();
        let mut model: BTreeMap<StreamId, Pairs> = BTreeMap::new();
        let mut last = id(0, 0);
        for i in 0..3000u64 {
            let r = next();
            if r % 5 == 0 && !model.is_empty() {
                let k = *model.keys().nth((r as usize / 5) % model.len()).unwrap();
                assert!(s.delete(k));
                assert!(!s.delete(k));
                model.remove(&k);
            } else {
                last = if r % 3 == 0 {
                    id(last.ms + r % 1000, 0)
                } else {
                    id(last.ms, last.seq + 1)
                };
                let same = r % 4 != 0;
                let pairs: Vec<Vec<u8>> = if same {
                    vec![
                        b"a".to_vec(),
                        i.to_string().into_bytes(),
                        b"b".to_vec(),
                        vec![b'x'; (r % 300) as usize],
                    ]
                } else {
                    vec![format!("f{}", r % 7).into_bytes(), b"v".to_vec()]
                };
                let refs: Vec<&[u8]> = pairs.iter().map(|p| p.as_slice()).collect();
                s.append(last, &refs, &StreamLimits::default());
                model.insert(
                    last,
                    pairs
                        .chunks(2)
                        .map(|c| (c[0].clone(), c[1].clone()))
                        .collect(),
                );
            }
            assert_eq!(s.len(), model.len() as u64);
        }
        let want: Vec<StreamId> = model.keys().copied().collect();
        assert_eq!(ids(&s, false), want);
        let mut rwant = want.clone();
        rwant.reverse();
        assert_eq!(ids(&s, true), rwant);
        for (k, v) in model.iter().step_by(17) {
            assert_eq!(s.get(*k).as_ref(), Some(v));
        }
        // Sub-ranges.
        let lo = want[want.len() / 3];
        let hi = want[want.len() / 2];
        let mut got = Vec::new();
        s.range(lo, hi, false, |id, _| {
            got.push(id);
            true
        });
        let expect: Vec<StreamId> = model.range(lo..=hi).map(|(k, _)| *k).collect();
        assert_eq!(got, expect);
        assert_eq!(s.first_id, want[0]);
        assert!(s.node_count() > 10);
    }

    #[test]
    fn an_entry_below_a_tombstone_is_found() {
        let mut s = StreamValue::default();
        let lim = StreamLimits::default();
        s.append(id(3, 0), &[b"a", b"1"], &lim);
        s.append(id(5, 0), &[b"a", b"1"], &lim);
        assert!(s.delete(id(5, 0)));
        // XSETID moved the last id back below the tombstone.
        s.last_id = id(3, 5);
        s.append(id(4, 0), &[b"f", b"v"], &lim);
        assert!(s.contains(id(4, 0)));
        assert_eq!(ids(&s, false), vec![id(3, 0), id(4, 0)]);
        assert_eq!(ids(&s, true), vec![id(4, 0), id(3, 0)]);
        assert!(s.delete(id(4, 0)));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn live_entries_below_their_node_key_are_found() {
        // A MINID trim leaves a node of tombstones; XSETID moves the last
        // id below them; new entries join that node below its key.
        let mut s = StreamValue::default();
        let lim = StreamLimits::default();
        s.append(id(5, 0), &[b"a", b"1"], &lim);
        s.append(id(9, 0), &[b"a", b"1"], &lim);
        assert!(s.delete(id(9, 0)));
        assert_eq!(s.trim(Trim::MinId(id(7, 0)), false, 0), 1);
        assert_eq!(s.node_count(), 1);
        s.last_id = id(1, 2);
        s.append(id(1, 3), &[b"a", b"2"], &lim);
        s.append(id(1, 5), &[b"a", b"3"], &lim);
        assert_eq!(ids(&s, false), vec![id(1, 3), id(1, 5)]);
        assert_eq!(ids(&s, true), vec![id(1, 5), id(1, 3)]);
        let mut got = Vec::new();
        s.range(id(1, 3), id(1, 4), false, |i, _| {
            got.push(i);
            true
        });
        assert_eq!(got, vec![id(1, 3)]);
        got.clear();
        s.range(id(1, 0), id(1, 4), true, |i, _| {
            got.push(i);
            true
        });
        assert_eq!(got, vec![id(1, 3)]);
        assert!(s.delete(id(1, 3)));
        assert_eq!(ids(&s, false), vec![id(1, 5)]);
    }

    #[test]
    fn exact_and_approximate_trims() {
        let mut s = StreamValue::default();
        for i in 1..=1000u64 {
            s.append(id(i, 0), &[b"f", b"v"], &StreamLimits::default());
        }
        // Nodes hold 100 entries: ~ trims whole nodes only.
        assert_eq!(s.trim(Trim::MaxLen(850), true, 0), 100);
        assert_eq!(s.len(), 900);
        assert_eq!(s.trim(Trim::MaxLen(850), false, 0), 50);
        assert_eq!(s.len(), 850);
        assert_eq!(s.first_id, id(151, 0));
        assert_eq!(s.trim(Trim::MinId(id(300, 0)), false, 0), 149);
        assert_eq!(s.first_id, id(300, 0));
        assert_eq!(s.trim(Trim::MaxLen(0), true, 250), 201);
        assert_eq!(s.len(), 500);
    }

    #[test]
    fn integer_values_round_trip_as_text() {
        let mut s = StreamValue::default();
        let values: [&[u8]; 13] = [
            b"0",
            b"-1",
            b"12345678",
            b"1733222222222",
            b"-0",
            b"01",
            b"+1",
            b"9223372036854775807",
            b"-9223372036854775808",
            b"4611686018427387904",
            b"-4611686018427387904",
            b"4611686018427387903",
            b"-4611686018427387903",
        ];
        for (i, v) in values.iter().enumerate() {
            s.append(
                id(1, i as u64),
                &[b"f", v, b"g", v],
                &StreamLimits::default(),
            );
        }
        for (i, v) in values.iter().enumerate() {
            let got = s.get(id(1, i as u64)).unwrap();
            assert_eq!(
                got,
                vec![(b"f".to_vec(), v.to_vec()), (b"g".to_vec(), v.to_vec())]
            );
        }
        let mut small = StreamValue::default();
        small.append(id(1, 0), &[b"v", b"12345678"], &StreamLimits::default());
        let mut text = StreamValue::default();
        text.append(id(1, 0), &[b"v", b"1234567x"], &StreamLimits::default());
        assert!(small.node_bytes_used() < text.node_bytes_used());
    }

    #[test]
    fn listpack_sizes_follow_redis() {
        assert_eq!(lp_int_size(5), 2);
        assert_eq!(lp_int_size(-5), 3);
        assert_eq!(lp_str_size(b"hello"), 7);
        assert_eq!(lp_str_size(b"12345"), 4);
        assert_eq!(lp_str_size(&[b'x'; 100]), 103);
    }

    #[test]
    fn lag_and_entries_read() {
        let mut s = StreamValue::default();
        for i in 1..=5u64 {
            s.append(id(i, 0), &[b"f", b"v"], &StreamLimits::default());
        }
        let g = Group::new(id(2, 0), 2);
        assert_eq!(s.lag(&g), Some(3));
        s.delete(id(4, 0));
        assert_eq!(s.lag(&g), None);
        let g = Group::new(id(5, 0), ENTRIES_READ_UNKNOWN);
        assert_eq!(s.lag(&g), Some(0));
    }
}
