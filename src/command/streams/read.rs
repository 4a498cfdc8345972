//! XREAD and XREADGROUP: serving now, parking the client, and serving it
//! when an XADD (or a group change) makes its keys ready.

use crate::command::blocking::{self, BlockOp};
use crate::command::{eq_ic, int_arg, Ctx};
use crate::engine::blocking::{StreamRead, Waiter};
use crate::engine::store::notify::class;
use crate::engine::store::stream::{Group, StreamId, StreamValue, ENTRIES_READ_UNKNOWN};
use crate::engine::store::{Access, Kind};
use crate::engine::unit::Unit;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

/// Entries a blocked XREAD/XREADGROUP without COUNT gets at most.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

use super::{
    as_stream, as_stream_mut, entry_reply, id_bulk, parse_strict_id, range_reply, read_stream,
    scratch,
};

/// Delivers entries after `start` of `s` to a reader: plain (XREAD), or
/// a group's consumer (new entries, or its own pending ones when
/// `history`). Writes the entries array; returns the commands replicas
/// get.
#[allow(clippy::too_many_arguments)]
fn deliver(
    out: &mut Reply,
    s: &mut StreamValue,
    key: &[u8],
    start: StreamId,
    count: usize,
    group: Option<(&[u8], &[u8], bool)>,
    history: bool,
    now: u64,
) -> Delivery {
    let mut props = Vec::new();
    let Some((gname, consumer, noack)) = group else {
        range_reply(out, s, start, StreamId::MAX, false, count);
        return Delivery {
            props,
            created: false,
        };
    };
    // Look the consumer up (seen now), or create it.
    let created = {
        let g = s.groups.get_mut(gname).expect("checked by the caller");
        let (c, created) = g.consumer(consumer, now);
        c.seen_time = now;
        created
    };
    if created && noack {
        props.push(vec![
            b"XGROUP".to_vec(),
            b"CREATECONSUMER".to_vec(),
            key.to_vec(),
            gname.to_vec(),
            consumer.to_vec(),
        ]);
    }
    if history {
        let g = s.groups.get(gname).expect("checked above");
        let ids: Vec<StreamId> = g.consumers[consumer]
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect();
        out.array(ids.len());
        let mut found = Vec::with_capacity(ids.len());
        for &id in &ids {
            let mut hit = false;
            s.range(id, id, false, |id, pairs| {
                entry_reply(out, id, pairs);
                hit = true;
                false
            });
            if !hit {
                out.array(2);
                id_bulk(out, id);
                out.null_array();
            }
            found.push(hit);
        }
        let g = s.groups.get_mut(gname).expect("checked above");
        for (id, hit) in ids.iter().zip(found) {
            if hit {
                if let Some(n) = g.pel.get_mut(id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
        }
        return Delivery { props, created };
    }
    // New entries: collect first, then update the group.
    let mut body = scratch(out);
    let mut delivered = Vec::new();
    let mut n = 0;
    s.range(start, StreamId::MAX, false, |id, pairs| {
        entry_reply(&mut body, id, pairs);
        delivered.push(id);
        n += 1;
        count == 0 || n < count
    });
    out.array(n);
    out.raw(body.as_bytes());
    let mut advanced = false;
    for id in delivered {
        let g = s.groups.get(gname).expect("checked above");
        if id > g.last_id {
            let read = if g.entries_read != ENTRIES_READ_UNKNOWN && !s.range_has_tombstones(id) {
                Some(g.entries_read + 1)
            } else if s.entries_added > 0 {
                Some(s.entries_read_at(id))
            } else {
                None
            };
            let g = s.groups.get_mut(gname).expect("checked above");
            if let Some(r) = read {
                g.entries_read = r;
            }
            g.last_id = id;
            advanced = true;
        }
        if !noack {
            let g = s.groups.get_mut(gname).expect("checked above");
            g.assign(id, consumer, now, 1);
            props.push(xclaim_command(key, gname, consumer, id, now, 1, g.last_id));
        }
    }
    if noack && advanced {
        let g = &s.groups[gname];
        props.push(setid_command(key, gname, g));
    }
    Delivery { props, created }
}

/// What a delivery did besides its reply: the commands replicas get, and
/// whether it created the consumer.
struct Delivery {
    props: Vec<Vec<Vec<u8>>>,
    created: bool,
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID
/// LASTID last`: how a delivery or claim reaches replicas.
pub(super) fn xclaim_command(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    time: u64,
    count: u64,
    last: StreamId,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
        b"0".to_vec(),
        id.to_bytes(),
        b"TIME".to_vec(),
        time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last.to_bytes(),
    ]
}

/// `XGROUP SETID key group last ENTRIESREAD n`.
pub(super) fn setid_command(key: &[u8], gname: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        gname.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

fn xread_generic(ctx: &mut Ctx, args: &[&[u8]], xreadgroup: bool) -> CmdResult {
    let mut timeout: Option<u64> = None;
    let mut count: usize = 0;
    let mut streams_at = 0;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut noack = false;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args[i];
        if eq_ic(o, "block") && more > 0 {
            if ctx.sess.script {
                return Err(errors::block_in_script(args[0]));
            }
            i += 1;
            let ms = crate::numeric::parse_i64(args[i]).ok_or(errors::TIMEOUT_NOT_INTEGER)?;
            if ms < 0 {
                return Err(errors::TIMEOUT_NEGATIVE);
            }
            timeout = Some(ms as u64);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            count = int_arg(args[i])?.max(0) as usize;
        } else if eq_ic(o, "streams") && more > 0 {
            streams_at = i + 1;
            if (args.len() - streams_at) % 2 != 0 {
                return Err(errors::XREAD_UNBALANCED);
            }
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(errors::XREAD_GROUP_OPTION);
            }
            group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xreadgroup {
                return Err(errors::XREAD_NOACK_OPTION);
            }
            noack = true;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(errors::SYNTAX);
    }
    if xreadgroup && group.is_none() {
        return Err(errors::XREADGROUP_WITHOUT_GROUP);
    }
    let n = (args.len() - streams_at) / 2;
    let keys = &args[streams_at..streams_at + n];
    let id_args = &args[streams_at + n..];
    let db = ctx.db();
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(db, &hashes);
    let access = ctx.access(Access::READ);

    // Check every key (type, group) and resolve the ids.
    let mut ids = Vec::with_capacity(n);
    for (key, id_arg) in keys.iter().zip(id_args) {
        let mut k = ctx.unit.key(db, key);
        let s = read_stream(&mut k, access)?;
        if let Some((gname, _)) = group {
            if !s.is_some_and(|s| s.groups.contains_key(gname)) {
                return Err(errors::nogroup_xreadgroup(key, gname));
            }
        }
        let id = if *id_arg == b"$" {
            if xreadgroup {
                return Err(errors::XREADGROUP_DOLLAR_ID);
            }
            s.map_or(StreamId::MIN, |s| s.last_id)
        } else if *id_arg == b">" {
            if !xreadgroup {
                return Err(errors::XREAD_GREATER_ID);
            }
            StreamId::MAX
        } else {
            parse_strict_id(id_arg)?
        };
        ids.push(id);
    }

    // Serve what can be served now.
    let mut body = scratch(ctx.out);
    let mut served = 0;
    let mut props = Vec::new();
    let now = ctx.now;
    for (key, &id) in keys.iter().zip(&ids) {
        let mut k = ctx.unit.key(db, key);
        let Some(pos) = k.find_kind(access, Kind::Stream)? else {
            continue;
        };
        let s = as_stream(k.value(pos));
        let (serve, after, history) = match group {
            Some(_) if id != StreamId::MAX => (true, id, true),
            Some((gname, _)) => {
                let last = s.groups[gname].last_id;
                (
                    !s.is_empty() && s.edge_id(true).is_some_and(|m| m > last),
                    last,
                    false,
                )
            }
            None => (
                !s.is_empty() && s.edge_id(true).is_some_and(|m| m > id),
                id,
                false,
            ),
        };
        if !serve {
            continue;
        }
        served += 1;
        if !body.resp3() {
            body.array(2);
        }
        body.bulk(key);
        let start = after.next().unwrap_or(StreamId::MIN);
        match group {
            Some((gname, consumer)) => {
                let d = k.shard.update(pos, |v| {
                    deliver(
                        &mut body,
                        as_stream_mut(v),
                        key,
                        start,
                        count,
                        Some((gname, consumer, noack)),
                        history,
                        now,
                    )
                });
                if d.created {
                    k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
                }
                props.extend(d.props);
            }
            None => {
                let s = as_stream(k.value(pos));
                range_reply(&mut body, s, start, StreamId::MAX, false, count);
            }
        }
    }
    ctx.propagate_nothing();
    for p in &props {
        ctx.propagate(p);
    }
    if served > 0 {
        ctx.out.map_or_array(served);
        ctx.out.raw(body.as_bytes());
        return Ok(());
    }
    let Some(timeout) = timeout else {
        ctx.out.null_array();
        return Ok(());
    };
    if group.is_some() {
        // Its wait ends if the key expires: expiry must say so.
        ctx.eng.dbs.shared().expired_streams.watch();
    }
    let op = BlockOp::Stream(Box::new(StreamRead {
        ids,
        group: group.map(|(g, c)| (g.to_vec(), c.to_vec(), noack)),
        count: if count == 0 {
            BLOCKED_DEFAULT_COUNT
        } else {
            count
        },
    }));
    blocking::block_or_null(ctx, keys, timeout, op)
}

pub fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    xread_generic(ctx, args, false)
}

pub fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    xread_generic(ctx, args, true)
}

/// Serves a client blocked in XREAD/XREADGROUP from `key`, if it can be
/// and `claim` (called once it can, before anything changes) succeeds:
/// the reply to hand over, or None to leave it.
pub(crate) fn serve_blocked(
    unit: &mut Unit,
    w: &Waiter,
    read: &StreamRead,
    db: usize,
    key: &[u8],
    now: u64,
    claim: impl FnOnce() -> bool,
) -> Option<Vec<u8>> {
    let mut out = Reply::new();
    out.set_resp3(w.resp3);
    let mut k = unit.key(db, key);
    let pos = match k.find_kind(Access::WRITE, Kind::Stream) {
        Ok(Some(pos)) => pos,
        _ if read.group.is_some() => {
            if !claim() {
                return None;
            }
            out.error_bytes(errors::UNBLOCKED_STREAM_DELETED.text());
            return Some(out.as_bytes().to_vec());
        }
        _ => return None,
    };
    let s = as_stream(k.value(pos));
    let gt = match &read.group {
        Some((gname, _, _)) => match s.groups.get(gname.as_slice()) {
            Some(g) => g.last_id,
            None => {
                if !claim() {
                    return None;
                }
                out.error_bytes(errors::NOGROUP_WHILE_BLOCKED.text());
                return Some(out.as_bytes().to_vec());
            }
        },
        None => {
            let at = w.keys.iter().position(|k| k == key)?;
            read.ids[at]
        }
    };
    if s.last_id <= gt || !claim() {
        return None;
    }
    let start = gt.next().unwrap_or(StreamId::MIN);
    out.map_or_array(1);
    if !out.resp3() {
        out.array(2);
    }
    out.bulk(key);
    let d = k.shard.update(pos, |v| {
        deliver(
            &mut out,
            as_stream_mut(v),
            key,
            start,
            read.count,
            read.group
                .as_ref()
                .map(|(g, c, noack)| (g.as_slice(), c.as_slice(), *noack)),
            false,
            now,
        )
    });
    if d.created {
        k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
    }
    for p in d.props {
        unit.propagate(db, p);
    }
    Some(out.as_bytes().to_vec())
}
