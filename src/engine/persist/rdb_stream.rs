//! Streams in the RDB format, as Redis 7.0 writes them
//! (`RDB_TYPE_STREAM_LISTPACKS_2`): each node as its master id (16 bytes,
//! big-endian) and a listpack of
//! `count deleted num-fields field... 0` then per entry
//! `flags ms-delta seq-delta [num-fields field] value... lp-count`; then
//! the length, last id, first id, largest deleted id and entries added;
//! then the consumer groups with their pending entries and consumers.
//! Files of Redis 5/6 (`RDB_TYPE_STREAM_LISTPACKS`) are read too.

use std::io::{self, Write};

use super::rdb::{listpack, listpack_items, Cursor, Writer};
use crate::engine::store::stream::{
    Group, StreamId, StreamValue, DELETED, ENTRIES_READ_UNKNOWN, SAME_FIELDS,
};

const TYPE_STREAM_LISTPACKS_2: u8 = 19;

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn id_from_raw(b: &[u8]) -> StreamId {
    StreamId::new(
        u64::from_be_bytes(b[..8].try_into().expect("8 bytes")),
        u64::from_be_bytes(b[8..16].try_into().expect("8 bytes")),
    )
}

/// One node as Redis's listpack.
fn node_listpack(n: &crate::engine::store::stream::NodeView) -> Vec<u8> {
    let mut items: Vec<Vec<u8>> = Vec::new();
    let num = |v: i64| v.to_string().into_bytes();
    items.push(num(n.live as i64));
    items.push(num(n.deleted as i64));
    items.push(num(n.master_fields.len() as i64));
    items.extend(n.master_fields.iter().map(|f| f.to_vec()));
    items.push(num(0));
    for e in &n.entries {
        items.push(num(e.flags as i64));
        items.push(num(e.id.ms.wrapping_sub(n.master.ms) as i64));
        items.push(num(e.id.seq.wrapping_sub(n.master.seq) as i64));
        let same = e.flags & SAME_FIELDS != 0;
        if !same {
            items.push(num(e.pairs.len() as i64));
        }
        for (f, v) in &e.pairs {
            if !same {
                items.push(f.to_vec());
            }
            items.push(v.to_vec());
        }
        let parts = 3 + e.pairs.len() + if same { 0 } else { e.pairs.len() + 1 };
        items.push(num(parts as i64));
    }
    listpack(items.iter().map(Vec::as_slice))
}

impl<W: Write> Writer<W> {
    pub fn write_stream(
        &mut self,
        key: &[u8],
        s: &StreamValue,
        expire_ms: Option<u64>,
    ) -> io::Result<()> {
        self.key_header(TYPE_STREAM_LISTPACKS_2, key, expire_ms)?;
        let mut nodes = Vec::new();
        s.for_each_node(|n| nodes.push((raw_id(n.master), node_listpack(&n))));
        self.length(nodes.len() as u64)?;
        for (master, lp) in &nodes {
            self.string_raw(master)?;
            self.string_raw(lp)?;
        }
        self.length(s.len())?;
        for id in [s.last_id, s.first_id, s.max_deleted_id] {
            self.length(id.ms)?;
            self.length(id.seq)?;
        }
        self.length(s.entries_added)?;
        self.length(s.groups.len() as u64)?;
        for (name, g) in &s.groups {
            self.string(name)?;
            self.length(g.last_id.ms)?;
            self.length(g.last_id.seq)?;
            self.length(g.entries_read as u64)?;
            self.length(g.pel.len() as u64)?;
            for (id, nack) in &g.pel {
                self.raw(&raw_id(*id))?;
                self.raw(&nack.delivery_time.to_le_bytes())?;
                self.length(nack.delivery_count)?;
            }
            self.length(g.consumers.len() as u64)?;
            for (name, c) in &g.consumers {
                self.string(name)?;
                self.raw(&c.seen_time.to_le_bytes())?;
                self.length(c.pel.len() as u64)?;
                for id in &c.pel {
                    self.raw(&raw_id(*id))?;
                }
            }
        }
        Ok(())
    }
}

fn int(item: Option<&Vec<u8>>) -> Result<i64, String> {
    item.and_then(|b| crate::numeric::parse_i64(b))
        .ok_or_else(|| "bad integer in a stream node".to_string())
}

/// What loading has seen so far, to keep the order a stream relies on:
/// node keys strictly increasing, live entries strictly increasing, and
/// each node starting above every live entry before it. Deleted entries
/// may otherwise lie anywhere (XSETID can move the last id below one).
#[derive(Default)]
struct Seen {
    last_node: Option<StreamId>,
    last_live: Option<StreamId>,
}

/// Adds the entries of one node's listpack to `s`.
fn load_node(
    s: &mut StreamValue,
    master: StreamId,
    lp: &[u8],
    seen: &mut Seen,
) -> Result<(), String> {
    let items = listpack_items(lp)?;
    let mut it = items.iter();
    let live = int(it.next())?;
    let deleted = int(it.next())?;
    let nmaster = int(it.next())?;
    if live < 0 || deleted < 0 || nmaster < 0 || nmaster as usize > items.len() {
        return Err("bad stream node header".into());
    }
    let master_fields: Vec<&Vec<u8>> = (0..nmaster)
        .map(|_| it.next().ok_or("truncated stream node"))
        .collect::<Result<_, _>>()?;
    if int(it.next())? != 0 {
        return Err("bad stream master entry terminator".into());
    }
    let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
    let mut pairs: Vec<&[u8]> = Vec::new();
    let mut first = true;
    while let Some(flags) = it.next() {
        let flags = int(Some(flags))?;
        let ms = master.ms.wrapping_add(int(it.next())? as u64);
        let seq = master.seq.wrapping_add(int(it.next())? as u64);
        let id = StreamId::new(ms, seq);
        pairs.clear();
        let same = flags & SAME_FIELDS as i64 != 0;
        if same {
            for f in &master_fields {
                pairs.push(f);
                pairs.push(it.next().ok_or("truncated stream entry")?);
            }
        } else {
            let n = int(it.next())?;
            if n < 0 || n as usize > items.len() {
                return Err("bad stream entry field count".into());
            }
            for _ in 0..n * 2 {
                pairs.push(it.next().ok_or("truncated stream entry")?);
            }
        }
        let parts = int(it.next())?;
        let want = 3 + pairs.len() / 2 + if same { 0 } else { pairs.len() / 2 + 1 };
        if parts != want as i64 {
            return Err("bad stream entry lp-count".into());
        }
        let is_deleted = flags & DELETED as i64 != 0;
        let below = |bound: Option<StreamId>| bound.is_some_and(|b| id <= b);
        let misplaced = if first {
            below(seen.last_node) || below(seen.last_live)
        } else {
            // A live entry may lie below its node's (deleted) first id.
            !is_deleted && below(seen.last_live)
        };
        if misplaced {
            return Err("stream entries out of order".into());
        }
        if first {
            seen.last_node = Some(id);
        }
        if !is_deleted {
            seen.last_live = Some(id);
        }
        if is_deleted {
            seen_deleted += 1;
        } else {
            seen_live += 1;
        }
        s.push_loaded(id, &pairs, is_deleted, first);
        first = false;
    }
    if seen_live + seen_deleted == 0 {
        return Err("empty stream node".into());
    }
    if seen_live != live || seen_deleted != deleted {
        return Err("stream node counters do not match its entries".into());
    }
    Ok(())
}

fn id_pair(c: &mut Cursor) -> Result<StreamId, String> {
    let ms = c.length().map_err(|e| e.reason)?;
    let seq = c.length().map_err(|e| e.reason)?;
    Ok(StreamId::new(ms, seq))
}

/// A stream value (the body after the type byte and key). `v2`: the 7.0
/// form with first id, largest deleted id, entries added and groups'
/// entries-read.
pub(super) fn read_stream(c: &mut Cursor, v2: bool) -> Result<StreamValue, String> {
    let mut s = StreamValue::default();
    let r = |e: super::rdb::RdbError| e.reason;
    let nodes = c.count(2).map_err(r)?;
    let mut seen = Seen::default();
    for _ in 0..nodes {
        let key = c.string().map_err(r)?;
        if key.len() != 16 {
            return Err("stream node key is not the size of a stream ID".into());
        }
        let lp = c.string().map_err(r)?;
        load_node(&mut s, id_from_raw(&key), &lp, &mut seen)?;
    }
    s.finish_load();
    let length = c.length().map_err(r)?;
    if length != s.len() {
        return Err("stream length does not match its entries".into());
    }
    // Not checked against the entries, as Redis does not (XSETID may
    // have set it below a deleted one).
    s.last_id = id_pair(c)?;
    if v2 {
        id_pair(c)?; // first id: recomputed from the entries
        s.max_deleted_id = id_pair(c)?;
        s.entries_added = c.length().map_err(r)?;
    } else {
        s.entries_added = s.len();
    }
    let groups = c.count(3).map_err(r)?;
    for _ in 0..groups {
        let name = c.string().map_err(r)?;
        let last_id = id_pair(c)?;
        let entries_read = if v2 {
            c.length().map_err(r)? as i64
        } else {
            s.entries_read_at(last_id)
        };
        let entries_read = if entries_read < 0 {
            ENTRIES_READ_UNKNOWN
        } else {
            entries_read
        };
        let mut g = Group::new(last_id, entries_read);
        let pel = c.count(17).map_err(r)?;
        let mut unowned = std::collections::BTreeMap::new();
        for _ in 0..pel {
            let id = id_from_raw(c.take(16).map_err(r)?);
            let time = u64::from_le_bytes(c.take(8).map_err(r)?.try_into().expect("8 bytes"));
            let count = c.length().map_err(r)?;
            if unowned.insert(id, (time, count)).is_some() {
                return Err("duplicated pending entry in a consumer group".into());
            }
        }
        let consumers = c.count(10).map_err(r)?;
        for _ in 0..consumers {
            let cname = c.string().map_err(r)?;
            let seen = u64::from_le_bytes(c.take(8).map_err(r)?.try_into().expect("8 bytes"));
            if g.consumers.contains_key(cname.as_slice()) {
                return Err("duplicated consumer in a consumer group".into());
            }
            g.consumer(&cname, seen);
            let n = c.count(16).map_err(r)?;
            for _ in 0..n {
                let id = id_from_raw(c.take(16).map_err(r)?);
                let Some((time, count)) = unowned.remove(&id) else {
                    return Err("consumer pending entry not in the group's pending list".into());
                };
                g.assign(id, &cname, time, count);
            }
        }
        if !unowned.is_empty() {
            return Err("pending entry without a consumer".into());
        }
        if s.groups.insert(name.into(), g).is_some() {
            return Err("duplicated consumer group name".into());
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::super::rdb::{read_dump, DumpError, RdbValue};
    use super::*;

    fn sample() -> StreamValue {
        let mut s = StreamValue::default();
        for i in 1..=250u64 {
            let v = i.to_string();
            if i % 7 == 0 {
                s.append(
                    StreamId::new(i, 0),
                    &[b"other", v.as_bytes()],
                    &Default::default(),
                );
            } else {
                s.append(
                    StreamId::new(i, i % 3),
                    &[b"a", v.as_bytes(), b"b", b"text value"],
                    &Default::default(),
                );
            }
        }
        for i in [3u64, 50, 51, 120] {
            s.delete(StreamId::new(i, i % 3));
        }
        let mut g = Group::new(StreamId::new(10, 1), 10);
        g.consumer(b"alice", 1000);
        g.consumer(b"bob", 2000);
        g.assign(StreamId::new(5, 2), b"alice", 1500, 2);
        g.assign(StreamId::new(9, 0), b"bob", 2500, 1);
        s.groups.insert(b"g1".to_vec().into(), g);
        s.groups.insert(
            b"g2".to_vec().into(),
            Group::new(StreamId::MIN, ENTRIES_READ_UNKNOWN),
        );
        s
    }

    fn dump(s: &StreamValue) -> Vec<u8> {
        let mut w = Writer::dump(Vec::new());
        w.write_stream(b"", s, None).unwrap();
        w.finish_dump().unwrap()
    }

    #[test]
    fn streams_round_trip_with_groups_and_tombstones() {
        let s = sample();
        match read_dump(&dump(&s)).unwrap() {
            RdbValue::Stream(back) => {
                assert_eq!(*back, s);
                assert_eq!(back.len(), 246);
                assert_eq!(back.max_deleted_id, StreamId::new(120, 0));
            }
            other => panic!("{other:?}"),
        }
        let empty = StreamValue::default();
        assert!(matches!(read_dump(&dump(&empty)), Ok(RdbValue::Stream(_))));
    }

    #[test]
    fn corrupt_stream_payloads_are_refused_without_panic() {
        let payload = dump(&sample());
        let body = payload.len() - 10;
        let mut refused = 0;
        let mut rng = 99u64;
        for _ in 0..5000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut p = payload[..body].to_vec();
            let at = 1 + (rng as usize) % (body - 1);
            p[at] ^= 1 << (rng >> 60 & 7);
            if rng % 5 == 0 {
                p.truncate(at);
            }
            // Re-seal so the checksum passes and the body is what is tested.
            let mut w = p.clone();
            w.extend_from_slice(&payload[body..body + 2]);
            let crc = crate::engine::persist::crc64::update(0, &w);
            w.extend_from_slice(&crc.to_le_bytes());
            if read_dump(&w) == Err(DumpError::BadData) {
                refused += 1;
            }
        }
        assert!(refused > 100, "{refused}");
    }
}
