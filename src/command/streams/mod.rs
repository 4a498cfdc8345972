//! Stream commands (Redis 7.0 semantics): XADD, XRANGE/XREVRANGE, XLEN,
//! XDEL, XTRIM, XSETID, XREAD and XREADGROUP (with BLOCK), consumer groups
//! (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO.
//!
//! What replicas get follows Redis: XADD with the id it generated and
//! `~` trims rewritten as exact ones; XREADGROUP, XCLAIM and XAUTOCLAIM as
//! the XCLAIM / XGROUP SETID / XGROUP CREATECONSUMER commands that rebuild
//! the same pending lists.
//!
//! This module parses ids and writes entries, and holds the commands on
//! entries; `read` the reads (with blocking), `groups` the consumer-group
//! commands, `info` XINFO.

mod groups;
mod info;
mod read;

pub use groups::{xack, xautoclaim, xclaim, xgroup, xpending};
pub use info::xinfo;
pub(crate) use read::serve_blocked;
pub use read::{xread, xreadgroup};

use super::blocking;
use super::{eq_ic, int_arg, Ctx};
use crate::engine::clients::ClientKind;
use crate::engine::store::notify::class;
use crate::engine::store::stream::{Group, StreamId, StreamValue, Trim, Val};
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, Kind, Value};
use crate::engine::unit::KeyRef;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

fn as_stream<'a>(v: ValueRef<'a>) -> &'a StreamValue {
    match v.boxed() {
        Some(Value::Stream(s)) => s,
        _ => unreachable!("checked by the lookup"),
    }
}

/// The group `name` of the stream in `v`, which the caller checked exists.
fn group_mut<'a>(v: &'a mut Value, name: &[u8]) -> &'a mut Group {
    as_stream_mut(v)
        .groups
        .get_mut(name)
        .expect("the caller checked the group exists")
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
fn entry_reply(out: &mut Reply, id: StreamId, pairs: &[(&[u8], Val)]) {
    out.array(2);
    id_bulk(out, id);
    out.array(pairs.len() * 2);
    for (f, v) in pairs {
        out.bulk(f);
        match v {
            Val::Bytes(b) => out.bulk(b),
            Val::Int(i) => out.bulk_int(*i),
        }
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
