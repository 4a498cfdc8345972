//! Stream commands (Redis 7.0 semantics): XADD, XRANGE/XREVRANGE, XLEN,
//! XDEL, XTRIM, XSETID, XREAD and XREADGROUP (with BLOCK), consumer groups
//! (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO.
//!
//! What replicas get follows Redis: XADD with the id it generated and
//! `~` trims rewritten as exact ones; XREADGROUP, XCLAIM and XAUTOCLAIM as
//! the XCLAIM / XGROUP SETID / XGROUP CREATECONSUMER commands that rebuild
//! the same pending lists.

use super::blocking::{self, BlockOp};
use super::{eq_ic, int_arg, Ctx};
use crate::engine::blocking::{StreamRead, Waiter};
use crate::engine::clients::ClientKind;
use crate::engine::store::notify::class;
use crate::engine::store::stream::{Group, StreamId, StreamValue, Trim, ENTRIES_READ_UNKNOWN};
use crate::engine::store::{Access, Kind, Value};
use crate::engine::unit::{KeyRef, Unit};
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

/// Entries a blocked XREAD/XREADGROUP without COUNT gets at most.
const BLOCKED_DEFAULT_COUNT: usize = 1000;

fn as_stream(v: &Value) -> &StreamValue {
    match v {
        Value::Stream(s) => s,
        _ => unreachable!("checked by the lookup"),
    }
}

fn as_stream_mut(v: &mut Value) -> &mut StreamValue {
    match v {
        Value::Stream(s) => s,
        _ => unreachable!("checked by the lookup"),
    }
}

// ------------------------------------------------------------------ ids

/// C's `strtoull` after Redis's `string2ll` (util.c `string2ull`): a
/// canonical integer, or digits with leading blanks, a sign or zeros.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::numeric::parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add((s[i] - b'0') as u64)?;
        i += 1;
    }
    if i == start || i != s.len() {
        return None;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

/// An id as clients write it: `ms-seq`, `ms` (sequence `missing_seq`),
/// `-` and `+` unless `strict`, and `ms-*` when `seq_star` (then the
/// second result is false: the sequence is to be generated).
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> CmdResult<(StreamId, bool)> {
    if arg.len() > 127 {
        return Err(errors::STREAM_ID_INVALID);
    }
    let arg = match memchr::memchr(0, arg) {
        Some(i) => &arg[..i],
        None => arg,
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return Err(errors::STREAM_ID_INVALID);
        }
        let id = if arg == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        };
        return Ok((id, true));
    }
    let (ms_part, seq_part) = match memchr::memchr(b'-', arg) {
        Some(i) => (&arg[..i], Some(&arg[i + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms_part).ok_or(errors::STREAM_ID_INVALID)?;
    match seq_part {
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(seq) => {
            let seq = string2ull(seq).ok_or(errors::STREAM_ID_INVALID)?;
            Ok((StreamId::new(ms, seq), true))
        }
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> CmdResult<StreamId> {
    Ok(parse_id_full(arg, missing_seq, false, false)?.0)
}

fn parse_strict_id(arg: &[u8]) -> CmdResult<StreamId> {
    Ok(parse_id_full(arg, 0, true, false)?.0)
}

/// A range bound: `(id` is exclusive (moved one id inwards).
fn parse_bound(arg: &[u8], start: bool) -> CmdResult<StreamId> {
    let missing = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_id_full(&arg[1..], missing, true, false)?.0;
        if start {
            id.next().ok_or(errors::STREAM_INVALID_START)
        } else {
            id.prev().ok_or(errors::STREAM_INVALID_END)
        }
    } else {
        parse_id(arg, missing)
    }
}

fn id_bulk(out: &mut Reply, id: StreamId) {
    let mut buf = itoa::Buffer::new();
    let mut text = Vec::with_capacity(41);
    text.extend_from_slice(buf.format(id.ms).as_bytes());
    text.push(b'-');
    text.extend_from_slice(buf.format(id.seq).as_bytes());
    out.bulk(&text);
}

/// `[id, [field, value, ...]]`.
fn entry_reply(out: &mut Reply, id: StreamId, pairs: &[(&[u8], &[u8])]) {
    out.array(2);
    id_bulk(out, id);
    out.array(pairs.len() * 2);
    for (f, v) in pairs {
        out.bulk(f);
        out.bulk(v);
    }
}

/// A reply buffer in the client's protocol, for parts whose length is
/// known only once written.
fn scratch(out: &Reply) -> Reply {
    let mut r = Reply::new();
    r.set_resp3(out.resp3());
    r
}

/// Entries of `lo..=hi` (at most `count`, 0: all) as an array.
fn range_reply(
    out: &mut Reply,
    s: &StreamValue,
    lo: StreamId,
    hi: StreamId,
    rev: bool,
    count: usize,
) -> usize {
    let mut body = scratch(out);
    let mut n = 0;
    s.range(lo, hi, rev, |id, pairs| {
        entry_reply(&mut body, id, pairs);
        n += 1;
        count == 0 || n < count
    });
    out.array(n);
    out.raw(body.as_bytes());
    n
}

// ------------------------------------------------------------ XADD, XTRIM

/// The id XADD was given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NewId {
    Auto,
    /// `ms-*`.
    Ms(u64),
    Exact(StreamId),
}

struct AddTrim {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Index of the MAXLEN/MINID value (rewritten when `approx`).
    trim_arg: usize,
    no_mkstream: bool,
    id: NewId,
    /// Index of the id (XADD).
    id_arg: usize,
}

/// XADD's and XTRIM's options (Redis's streamParseAddOrTrimArgsOrReply).
fn parse_add_trim(ctx: &Ctx, args: &[&[u8]], xadd: bool) -> CmdResult<AddTrim> {
    let mut p = AddTrim {
        trim: None,
        approx: false,
        limit: 0,
        trim_arg: 0,
        no_mkstream: false,
        id: NewId::Auto,
        id_arg: args.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args[i];
        if xadd && opt == b"*" {
            p.id_arg = i;
            break;
        } else if (eq_ic(opt, "maxlen") || eq_ic(opt, "minid")) && more > 0 {
            if p.trim.is_some() {
                return Err(errors::STREAM_MAXLEN_AND_MINID);
            }
            p.approx = false;
            if more >= 2 && args[i + 1] == b"~" {
                p.approx = true;
                i += 1;
            } else if more >= 2 && args[i + 1] == b"=" {
                i += 1;
            }
            if eq_ic(opt, "maxlen") {
                let n = int_arg(args[i + 1])?;
                if n < 0 {
                    return Err(errors::STREAM_MAXLEN_NEGATIVE);
                }
                p.trim = Some(Trim::MaxLen(n as u64));
            } else {
                p.trim = Some(Trim::MinId(parse_strict_id(args[i + 1])?));
            }
            i += 1;
            p.trim_arg = i;
        } else if eq_ic(opt, "limit") && more > 0 {
            let n = int_arg(args[i + 1])?;
            if n < 0 {
                return Err(errors::STREAM_LIMIT_NEGATIVE);
            }
            p.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            p.no_mkstream = true;
        } else if xadd {
            let (id, seq_given) = parse_id_full(opt, 0, true, true)?;
            p.id = if seq_given {
                NewId::Exact(id)
            } else {
                NewId::Ms(id.ms)
            };
            p.id_arg = i;
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if p.limit != 0 && p.trim.is_none() {
        return Err(errors::STREAM_LIMIT_WITHOUT_STRATEGY);
    }
    if !xadd && p.trim.is_none() {
        return Err(errors::XTRIM_WITHOUT_STRATEGY);
    }
    if ctx.sess.handle.kind() == ClientKind::Master {
        // The master rewrote its trims as exact ones.
        p.limit = 0;
    } else if limit_given {
        if !p.approx {
            return Err(errors::STREAM_LIMIT_WITHOUT_APPROX);
        }
    } else if p.approx {
        p.limit = ctx.eng.stream_limits().approx_trim_limit();
    } else {
        p.limit = 0;
    }
    Ok(p)
}

/// The command as received with a `~` trim rewritten as `= <result>`.
fn rewrite_trim(args: &[&[u8]], p: &AddTrim, s: &StreamValue) -> Vec<Vec<u8>> {
    let mut cmd: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    if p.approx {
        cmd[p.trim_arg - 1] = b"=".to_vec();
        cmd[p.trim_arg] = match p.trim {
            Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
            _ => s.first_raw_id().unwrap_or(StreamId::MAX).to_bytes(),
        };
    }
    cmd
}

pub fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let p = parse_add_trim(ctx, args, true)?;
    let fields_at = p.id_arg + 1;
    let nfields = args.len().saturating_sub(fields_at);
    if nfields < 2 || nfields % 2 == 1 {
        return Err(ctx.arity_error());
    }
    if p.id == NewId::Exact(StreamId::MIN) {
        return Err(errors::XADD_ID_ZERO);
    }
    let pairs = &args[fields_at..];
    let limits = ctx.eng.stream_limits();
    let now = ctx.now;
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let pos = match k.find_kind(Access::WRITE, Kind::Stream)? {
        Some(pos) => pos,
        None if p.no_mkstream => {
            ctx.out.null();
            ctx.propagate_nothing();
            return Ok(());
        }
        None => k.insert(Value::Stream(Box::default()), 0),
    };
    let result = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        if s.last_id == StreamId::MAX {
            return Err(errors::STREAM_EXHAUSTED);
        }
        let id = match p.id {
            NewId::Exact(id) => id,
            NewId::Ms(ms) if ms == s.last_id.ms => {
                if s.last_id.seq == u64::MAX {
                    return Err(errors::XADD_ID_TOO_SMALL);
                }
                StreamId::new(ms, s.last_id.seq + 1)
            }
            NewId::Ms(ms) => StreamId::new(ms, 0),
            NewId::Auto if now > s.last_id.ms => StreamId::new(now, 0),
            NewId::Auto => s.last_id.next().ok_or(errors::XADD_ID_TOO_SMALL)?,
        };
        if id <= s.last_id {
            return Err(errors::XADD_ID_TOO_SMALL);
        }
        let total: usize = pairs.iter().map(|x| x.len()).sum();
        if total > crate::engine::store::stream::ENTRY_MAX_BYTES {
            return Err(errors::STREAM_ELEMENTS_TOO_LARGE);
        }
        s.append(id, pairs, &limits);
        let trimmed = match p.trim {
            Some(how) => s.trim(how, p.approx, p.limit),
            None => 0,
        };
        let mut cmd = rewrite_trim(args, &p, s);
        if p.id_arg < cmd.len() {
            cmd[p.id_arg] = id.to_bytes();
        }
        Ok((id, trimmed, cmd))
    });
    let (id, trimmed, cmd) = match result {
        Ok(r) => r,
        Err(e) => {
            // A stream just made for this call stays, as in Redis.
            ctx.propagate_nothing();
            return Err(e);
        }
    };
    k.shard.notify(class::STREAM, "xadd", args[1]);
    if trimmed > 0 {
        k.shard.notify(class::STREAM, "xtrim", args[1]);
    }
    id_bulk(ctx.out, id);
    ctx.propagate(&cmd);
    blocking::signal(ctx, args[1]);
    Ok(())
}

pub fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let p = parse_add_trim(ctx, args, false)?;
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::Stream)? else {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    };
    let how = p.trim.expect("checked by the parser");
    let (deleted, cmd) = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        let deleted = s.trim(how, p.approx, p.limit);
        (deleted, rewrite_trim(args, &p, s))
    });
    if deleted > 0 {
        k.shard.notify(class::STREAM, "xtrim", args[1]);
        ctx.propagate(&cmd);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

// ----------------------------------------------------- reads and deletes

fn read_stream<'a>(k: &'a mut KeyRef, access: Access) -> CmdResult<Option<&'a StreamValue>> {
    Ok(k.find_kind(access, Kind::Stream)?
        .map(|pos| as_stream(k.value(pos))))
}

fn xrange_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let lo = parse_bound(start_arg, true)?;
    let hi = parse_bound(end_arg, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if eq_ic(args[j], "count") && j + 1 < args.len() {
            count = int_arg(args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let access = ctx.access(Access::READ);
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let Some(s) = read_stream(&mut k, access)? else {
        ctx.out.empty_array();
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
    } else {
        range_reply(ctx.out, s, lo, hi, rev, count.max(0) as usize);
    }
    Ok(())
}

pub fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    xrange_generic(ctx, args, false)
}

pub fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    xrange_generic(ctx, args, true)
}

pub fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let n = read_stream(&mut k, access)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

pub fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::Stream)? else {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    };
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let deleted = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        ids.iter().filter(|&&id| s.delete(id)).count()
    });
    if deleted > 0 {
        k.shard.notify(class::STREAM, "xdel", args[1]);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

pub fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = parse_strict_id(args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq_ic(args[i], "entriesadded") && more > 0 {
            entries_added = int_arg(args[i + 1])?;
            if entries_added < 0 {
                return Err(errors::XSETID_ENTRIES_ADDED_NEGATIVE);
            }
        } else if eq_ic(args[i], "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(args[i + 1])?;
            if id < max_deleted {
                return Err(errors::XSETID_BELOW_MAX_DELETED);
            }
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::Stream)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    {
        let s = as_stream(k.value(pos));
        if !s.is_empty() {
            if id < s.edge_id(true).unwrap_or(StreamId::MIN) {
                return Err(errors::XSETID_BELOW_TOP);
            }
            if entries_added != -1 && s.len() > entries_added as u64 {
                return Err(errors::XSETID_ENTRIES_ADDED_SMALL);
            }
        }
    }
    k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        s.last_id = id;
        if entries_added != -1 {
            s.entries_added = entries_added as u64;
        }
        if !max_deleted.is_zero() {
            s.max_deleted_id = max_deleted;
        }
    });
    k.shard.notify(class::STREAM, "xsetid", args[1]);
    ctx.out.ok();
    Ok(())
}

// ------------------------------------------------------ XREAD, XREADGROUP

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
fn xclaim_command(
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
fn setid_command(key: &[u8], gname: &[u8], g: &Group) -> Vec<Vec<u8>> {
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
pub(super) fn serve_blocked(
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

// ------------------------------------------------------ consumer groups

pub fn xgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    if eq_ic(sub, "help") {
        ctx.out.array(XGROUP_HELP.len());
        for line in XGROUP_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    let create = eq_ic(sub, "create");
    let setid = eq_ic(sub, "setid");
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < args.len() {
        if create && eq_ic(args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && eq_ic(args[i], "entriesread") && i + 1 < args.len() {
            entries_read = int_arg(args[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(errors::ENTRIESREAD_NEGATIVE);
            }
            i += 2;
        } else {
            return Err(errors::subcommand_syntax(sub, "xgroup"));
        }
    }
    let (key, gname) = (args[2], args[3]);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    if !mkstream {
        let Some(p) = pos else {
            return Err(errors::XGROUP_KEY_MISSING);
        };
        let exists = as_stream(k.value(p)).groups.contains_key(gname);
        if !exists && (setid || eq_ic(sub, "createconsumer") || eq_ic(sub, "delconsumer")) {
            return Err(errors::nogroup_for_key(gname, key));
        }
    }
    if create {
        let id = if args[4] == b"$" {
            pos.map_or(StreamId::MIN, |p| as_stream(k.value(p)).last_id)
        } else {
            parse_strict_id(args[4])?
        };
        let p = match pos {
            Some(p) => p,
            None => k.insert(Value::Stream(Box::default()), 0),
        };
        let created = k.shard.update(p, |v| {
            let s = as_stream_mut(v);
            if s.groups.contains_key(gname) {
                return false;
            }
            s.groups.insert(gname.into(), Group::new(id, entries_read));
            true
        });
        if !created {
            return Err(errors::BUSYGROUP);
        }
        k.shard.notify(class::STREAM, "xgroup-create", key);
        ctx.out.ok();
    } else if setid && (args.len() == 5 || args.len() == 7) {
        let p = pos.expect("checked above");
        let id = if args[4] == b"$" {
            as_stream(k.value(p)).last_id
        } else {
            parse_id(args[4], 0)?
        };
        k.shard.update(p, |v| {
            let g = as_stream_mut(v)
                .groups
                .get_mut(gname)
                .expect("checked above");
            g.last_id = id;
            g.entries_read = entries_read;
        });
        k.shard.notify(class::STREAM, "xgroup-setid", key);
        ctx.out.ok();
    } else if eq_ic(sub, "destroy") && args.len() == 4 {
        let p = pos.expect("checked above");
        let removed = k
            .shard
            .update(p, |v| as_stream_mut(v).groups.remove(gname).is_some());
        if removed {
            k.shard.notify(class::STREAM, "xgroup-destroy", key);
            blocking::signal(ctx, key);
        } else {
            ctx.propagate_nothing();
        }
        ctx.out.int(removed as i64);
    } else if eq_ic(sub, "createconsumer") && args.len() == 5 {
        let p = pos.expect("checked above");
        let created = k.shard.update(p, |v| {
            let g = as_stream_mut(v)
                .groups
                .get_mut(gname)
                .expect("checked above");
            g.consumer(args[4], now).1
        });
        if created {
            k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
        } else {
            ctx.propagate_nothing();
        }
        ctx.out.int(created as i64);
    } else if eq_ic(sub, "delconsumer") && args.len() == 5 {
        let p = pos.expect("checked above");
        let pending = k.shard.update(p, |v| {
            let g = as_stream_mut(v)
                .groups
                .get_mut(gname)
                .expect("checked above");
            let c = g.consumers.remove(args[4])?;
            for id in &c.pel {
                g.pel.remove(id);
            }
            Some(c.pel.len())
        });
        match pending {
            Some(n) => {
                k.shard.notify(class::STREAM, "xgroup-delconsumer", key);
                ctx.out.int(n as i64);
            }
            None => {
                ctx.propagate_nothing();
                ctx.out.int(0);
            }
        }
    } else {
        return Err(errors::subcommand_syntax(sub, "xgroup"));
    }
    Ok(())
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

pub fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    let Some(pos) = pos.filter(|&p| as_stream(k.value(p)).groups.contains_key(args[2])) else {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    };
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let acked = k.shard.update(pos, |v| {
        let g = as_stream_mut(v)
            .groups
            .get_mut(args[2])
            .expect("checked above");
        ids.iter().filter(|&&id| g.ack(id)).count()
    });
    if acked == 0 {
        ctx.propagate_nothing();
    }
    ctx.out.int(acked as i64);
    Ok(())
}

pub fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let summary = args.len() == 3;
    if args.len() != 3 && !(6..=9).contains(&args.len()) {
        return Err(errors::SYNTAX);
    }
    let mut range = None;
    let mut min_idle = 0i64;
    let mut consumer: Option<&[u8]> = None;
    if args.len() >= 6 {
        let mut at = 3;
        if eq_ic(args[3], "idle") {
            min_idle = int_arg(args[4])?;
            if args.len() < 8 {
                return Err(errors::SYNTAX);
            }
            at += 2;
        }
        let count = int_arg(args[at + 2])?.max(0) as usize;
        let lo = parse_bound(args[at], true)?;
        let hi = parse_bound(args[at + 1], false)?;
        if at + 3 < args.len() {
            consumer = Some(args[at + 3]);
        }
        range = Some((lo, hi, count));
    }
    let access = ctx.access(Access::READ);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, args[1]);
    let s = read_stream(&mut k, access)?;
    let Some(g) = s.and_then(|s| s.groups.get(args[2])) else {
        return Err(errors::nogroup_key_or_group(args[1], args[2]));
    };
    let out = &mut *ctx.out;
    if summary {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                id_bulk(out, *first);
                id_bulk(out, *last);
                let busy: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(busy.len());
                for (name, c) in busy {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let (lo, hi, count) = range.expect("parsed above");
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pel.range(lo..=hi.max(lo)).copied().collect(),
            None => {
                out.empty_array();
                return Ok(());
            }
        },
        None => g.pel.range(lo..=hi.max(lo)).map(|(id, _)| *id).collect(),
    };
    let mut body = scratch(out);
    let mut n = 0;
    for id in ids {
        if n >= count || id > hi {
            break;
        }
        let nack = &g.pel[&id];
        let idle = (now as i64 - nack.delivery_time as i64).max(0);
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        body.array(4);
        id_bulk(&mut body, id);
        body.bulk(&nack.consumer);
        body.int(idle);
        body.int(nack.delivery_count as i64);
        n += 1;
    }
    out.array(n);
    out.raw(body.as_bytes());
    Ok(())
}

pub fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, consumer) = (args[1], args[2], args[3]);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    let Some(pos) = pos.filter(|&p| as_stream(k.value(p)).groups.contains_key(gname)) else {
        return Err(errors::nogroup_key_or_group(key, gname));
    };
    let min_idle = crate::numeric::parse_i64(args[4])
        .ok_or(errors::XCLAIM_MIN_IDLE)?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id_full(args[j], 0, true, false) {
            Ok((id, _)) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut delivery_time: Option<i64> = None;
    let mut retry_count: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && more > 0 {
            j += 1;
            let idle = crate::numeric::parse_i64(args[j]).ok_or(errors::XCLAIM_IDLE)?;
            delivery_time = Some((now as i64).wrapping_sub(idle));
        } else if eq_ic(opt, "time") && more > 0 {
            j += 1;
            delivery_time = Some(crate::numeric::parse_i64(args[j]).ok_or(errors::XCLAIM_TIME)?);
        } else if eq_ic(opt, "retrycount") && more > 0 {
            j += 1;
            retry_count =
                Some(crate::numeric::parse_i64(args[j]).ok_or(errors::XCLAIM_RETRYCOUNT)?);
        } else if eq_ic(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args[j])?;
        } else {
            return Err(errors::xclaim_unrecognized(opt));
        }
        j += 1;
    }
    let delivery_time = match delivery_time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let mut body = scratch(ctx.out);
    let (n, props, created) = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        let mut props = Vec::new();
        let mut propagate_last_id = false;
        {
            let g = s.groups.get_mut(gname).expect("checked above");
            if last_id > g.last_id {
                g.last_id = last_id;
                propagate_last_id = true;
            }
        }
        let mut n = 0;
        let mut consumer_seen = false;
        let mut created = false;
        for id in ids {
            let exists = s.contains(id);
            let g = s.groups.get_mut(gname).expect("checked above");
            if !exists {
                if let Some(nack) = g.pel.get(&id) {
                    props.push(xclaim_command(
                        key,
                        gname,
                        &nack.consumer.clone(),
                        id,
                        nack.delivery_time,
                        nack.delivery_count,
                        g.last_id,
                    ));
                    propagate_last_id = false;
                    g.ack(id);
                }
                continue;
            }
            let pending = g.pel.get(&id).cloned();
            let Some(nack) = pending.or_else(|| {
                force.then(|| crate::engine::store::stream::Nack {
                    delivery_time: 0,
                    delivery_count: 0,
                    consumer: Box::default(),
                })
            }) else {
                continue;
            };
            let owned = g.pel.contains_key(&id);
            if owned && min_idle > 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
                continue;
            }
            if !consumer_seen {
                let (c, made) = g.consumer(consumer, now);
                c.seen_time = now;
                consumer_seen = true;
                created = made;
            }
            let count = match retry_count {
                Some(r) if r >= 0 => r as u64,
                _ if !justid => nack.delivery_count + 1,
                _ => nack.delivery_count,
            };
            g.assign(id, consumer, delivery_time, count);
            if justid {
                id_bulk(&mut body, id);
            } else {
                let mut wrote = false;
                s.range(id, id, false, |id, pairs| {
                    entry_reply(&mut body, id, pairs);
                    wrote = true;
                    false
                });
                debug_assert!(wrote);
            }
            n += 1;
            let g = &s.groups[gname];
            props.push(xclaim_command(
                key,
                gname,
                consumer,
                id,
                delivery_time,
                count,
                g.last_id,
            ));
            propagate_last_id = false;
        }
        if propagate_last_id {
            props.push(setid_command(key, gname, &s.groups[gname]));
        }
        (n, props, created)
    });
    if created {
        k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
    }
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
    ctx.propagate_nothing();
    for p in &props {
        ctx.propagate(p);
    }
    Ok(())
}

pub fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, consumer) = (args[1], args[2], args[3]);
    let min_idle = crate::numeric::parse_i64(args[4])
        .ok_or(errors::XAUTOCLAIM_MIN_IDLE)?
        .max(0);
    let start = parse_bound(args[5], true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = crate::numeric::parse_i64(args[j + 1])
                .filter(|&c| (1..=max).contains(&c))
                .ok_or(errors::XAUTOCLAIM_COUNT)?;
            j += 1;
        } else if eq_ic(args[j], "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    let Some(pos) = pos.filter(|&p| as_stream(k.value(p)).groups.contains_key(gname)) else {
        return Err(errors::nogroup_key_or_group(key, gname));
    };
    // Redis allocates 16 bytes per COUNT up front and fails past what
    // the machine can give; refuse what no machine could (over 1 TB).
    if count > 1 << 36 {
        return Err(errors::XAUTOCLAIM_COUNT_TOO_HIGH);
    }
    let mut body = scratch(ctx.out);
    let (n, next, deleted, props, created) = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        let mut props = Vec::new();
        let mut deleted = Vec::new();
        let mut n = 0;
        let mut attempts = count.saturating_mul(10);
        let mut count = count;
        let candidates: Vec<StreamId> = s.groups[gname]
            .pel
            .range(start..)
            .map(|(id, _)| *id)
            .collect();
        let mut it = candidates.into_iter().peekable();
        let mut consumer_seen = false;
        let mut created = false;
        while attempts > 0 && count > 0 {
            attempts -= 1;
            let Some(id) = it.next() else {
                break;
            };
            let exists = s.contains(id);
            let g = s.groups.get_mut(gname).expect("checked above");
            let nack = g.pel[&id].clone();
            if !exists {
                props.push(xclaim_command(
                    key,
                    gname,
                    &nack.consumer,
                    id,
                    nack.delivery_time,
                    nack.delivery_count,
                    g.last_id,
                ));
                g.ack(id);
                deleted.push(id);
                count -= 1;
                continue;
            }
            if min_idle > 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
                continue;
            }
            if !consumer_seen {
                let (c, made) = g.consumer(consumer, now);
                c.seen_time = now;
                consumer_seen = true;
                created = made;
            }
            let times = if justid {
                nack.delivery_count
            } else {
                nack.delivery_count + 1
            };
            g.assign(id, consumer, now, times);
            if justid {
                id_bulk(&mut body, id);
            } else {
                s.range(id, id, false, |id, pairs| {
                    entry_reply(&mut body, id, pairs);
                    false
                });
            }
            n += 1;
            count -= 1;
            let last = s.groups[gname].last_id;
            props.push(xclaim_command(key, gname, consumer, id, now, times, last));
        }
        let next = it.next().unwrap_or(StreamId::MIN);
        (n, next, deleted, props, created)
    });
    if created {
        k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
    }
    let out = &mut *ctx.out;
    out.array(3);
    id_bulk(out, next);
    out.array(n);
    out.raw(body.as_bytes());
    out.array(deleted.len());
    for id in deleted {
        id_bulk(out, id);
    }
    ctx.propagate_nothing();
    for p in &props {
        ctx.propagate(p);
    }
    Ok(())
}

// ------------------------------------------------------------------ XINFO

pub fn xinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    if eq_ic(sub, "help") {
        if args.len() != 2 {
            return Err(errors::subcommand_syntax(sub, "xinfo"));
        }
        ctx.out.array(XINFO_HELP.len());
        for line in XINFO_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    if args.len() < 3 {
        return Err(errors::subcommand_syntax(sub, "xinfo"));
    }
    let key = args[2];
    let access = ctx.access(Access::READ);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let Some(s) = read_stream(&mut k, access)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    let out = &mut *ctx.out;
    if eq_ic(sub, "consumers") && args.len() == 4 {
        let Some(g) = s.groups.get(args[3]) else {
            return Err(errors::nogroup_for_key(args[3], key));
        };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int((now as i64 - c.seen_time as i64).max(0));
        }
    } else if eq_ic(sub, "groups") && args.len() == 3 {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            id_bulk(out, g.last_id);
            group_counters(out, s, g);
        }
    } else if eq_ic(sub, "stream") {
        stream_info(out, s, &args[3..], sub)?;
    } else {
        return Err(errors::subcommand_syntax(sub, "xinfo"));
    }
    Ok(())
}

/// `entries-read` and `lag` of a group.
fn group_counters(out: &mut Reply, s: &StreamValue, g: &Group) {
    out.bulk(b"entries-read");
    if g.entries_read != ENTRIES_READ_UNKNOWN {
        out.int(g.entries_read);
    } else {
        out.null();
    }
    out.bulk(b"lag");
    match s.lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn stream_info(out: &mut Reply, s: &StreamValue, opts: &[&[u8]], sub: &[u8]) -> CmdResult {
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !eq_ic(opts[0], "full") {
            return Err(errors::subcommand_syntax(sub, "xinfo"));
        }
        full = true;
        if opts.len() == 3 {
            if !eq_ic(opts[1], "count") {
                return Err(errors::subcommand_syntax(sub, "xinfo"));
            }
            count = int_arg(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let count = count as usize;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    id_bulk(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    id_bulk(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    id_bulk(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            let mut wrote = false;
            s.range(StreamId::MIN, StreamId::MAX, rev, |id, pairs| {
                entry_reply(out, id, pairs);
                wrote = true;
                false
            });
            if !wrote {
                out.null();
            }
        }
        return Ok(());
    }
    out.bulk(b"entries");
    range_reply(out, s, StreamId::MIN, StreamId::MAX, false, count);
    out.bulk(b"groups");
    out.array(s.groups.len());
    let limit = |n: usize| if count == 0 { n } else { n.min(count) };
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        id_bulk(out, g.last_id);
        group_counters(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(limit(g.pel.len()));
        for (id, nack) in g.pel.iter().take(limit(g.pel.len())) {
            out.array(4);
            id_bulk(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time as i64);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array(limit(c.pel.len()));
            for id in c.pel.iter().take(limit(c.pel.len())) {
                let nack = &g.pel[id];
                out.array(3);
                id_bulk(out, *id);
                out.int(nack.delivery_time as i64);
                out.int(nack.delivery_count as i64);
            }
        }
    }
    Ok(())
}

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_redis_parses_them() {
        let p = |s: &str| parse_id_full(s.as_bytes(), 7, false, true).ok();
        assert_eq!(p("5-3"), Some((StreamId::new(5, 3), true)));
        assert_eq!(p("5"), Some((StreamId::new(5, 7), true)));
        assert_eq!(p("5-*"), Some((StreamId::new(5, 0), false)));
        assert_eq!(p("-"), Some((StreamId::MIN, true)));
        assert_eq!(p("+"), Some((StreamId::MAX, true)));
        assert_eq!(p("01-1"), Some((StreamId::new(1, 1), true)));
        assert_eq!(p("-01"), None, "an empty ms part");
        assert_eq!(p("1--1"), None);
        assert_eq!(p("1-+2"), Some((StreamId::new(1, 2), true)));
        assert_eq!(
            p("18446744073709551615-18446744073709551615"),
            Some((StreamId::MAX, true))
        );
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(p(""), None);
        assert_eq!(p("1-"), None);
        assert_eq!(p("abc"), None);
        assert!(parse_id_full(b"-", 0, true, false).is_err());
    }
}
