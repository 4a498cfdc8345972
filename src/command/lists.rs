//! List commands (Redis 7.0 semantics). A list whose last element goes
//! disappears. The blocking forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
//! BLMPOP) share their pop and move with the plain ones and hand a client
//! that finds nothing to `blocking`.

use super::blocking::{self, BlockOp, End};
use super::{eq_ic, int_arg, Ctx};
use crate::engine::store::notify::class;
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, Kind, ListLimits, ListValue, Value};
use crate::engine::unit::KeyRef;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

pub(super) fn as_list<'a>(v: ValueRef<'a>) -> &'a ListValue {
    match v.boxed() {
        Some(Value::List(l)) => l,
        _ => unreachable!("checked by the lookup"),
    }
}

pub(super) fn as_list_mut(v: &mut Value) -> &mut ListValue {
    match v {
        Value::List(l) => l,
        _ => unreachable!("checked by the lookup"),
    }
}

fn read_list<'a>(k: &'a mut KeyRef, access: Access) -> CmdResult<Option<&'a ListValue>> {
    Ok(k.find_kind(access, Kind::List)?
        .map(|pos| as_list(k.value(pos))))
}

/// Resolves an inclusive index range against `len` as Redis does for
/// LRANGE, LTRIM and ranks: negatives count from the end, the start is
/// clamped to 0 and the end to len-1. None when the range is empty.
pub(super) fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { start + len } else { start };
    let mut end = if end < 0 { end + len } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

fn parse_end(arg: &[u8]) -> CmdResult<End> {
    if eq_ic(arg, "left") {
        Ok(End::Left)
    } else if eq_ic(arg, "right") {
        Ok(End::Right)
    } else {
        Err(errors::SYNTAX)
    }
}

// ------------------------------------------------------------ push

fn push_generic(ctx: &mut Ctx, args: &[&[u8]], end: End, only_existing: bool) -> CmdResult {
    let limits = ctx.eng.list_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = match k.find_kind(Access::WRITE, Kind::List)? {
        Some(pos) => pos,
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => k.insert(Value::List(ListValue::default()), 0),
    };
    let len = k.shard.update(pos, |v| {
        let l = as_list_mut(v);
        for item in &args[2..] {
            l.push(end == End::Left, item, &limits);
        }
        l.len()
    });
    ctx.out.int(len as i64);
    ctx.notify(class::LIST, push_event(end), args[1]);
    blocking::signal(ctx, args[1]);
    Ok(())
}

pub fn lpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Left, false)
}
pub fn rpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Right, false)
}
pub fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Left, true)
}
pub fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_generic(ctx, args, End::Right, true)
}

// ------------------------------------------------------------ pop

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Pops up to `count` elements from one end of the list at `k` (which must
/// hold a list), deleting the key when it empties; publishes the `lpop` or
/// `rpop` (and `del`) keyspace events.
pub(super) fn pop_from(
    k: &mut KeyRef,
    pos: usize,
    end: End,
    count: usize,
    limits: &ListLimits,
) -> Vec<Vec<u8>> {
    let key = k.shard.entry(pos).key().to_vec();
    let (items, emptied) = pop_quietly(k, pos, end, count, limits);
    k.shard.notify(class::LIST, pop_event(end), &key);
    if emptied {
        k.shard.notify(class::GENERIC, "del", &key);
    }
    items
}

/// [`pop_from`] without keyspace events; also says whether the key went.
fn pop_quietly(
    k: &mut KeyRef,
    pos: usize,
    end: End,
    count: usize,
    limits: &ListLimits,
) -> (Vec<Vec<u8>>, bool) {
    let (items, empty) = k.shard.update(pos, |v| {
        let l = as_list_mut(v);
        let mut items = Vec::with_capacity(count.min(l.len()));
        while items.len() < count {
            match l.pop(end == End::Left, limits) {
                Some(item) => items.push(item),
                None => break,
            }
        }
        (items, l.is_empty())
    });
    if empty {
        k.shard.remove_at(pos);
    }
    (items, empty)
}

/// `value is out of range, must be positive`: the count of LPOP, RPOP,
/// SPOP, ZPOPMIN and ZPOPMAX.
pub(super) fn positive_count(arg: &[u8]) -> CmdResult<usize> {
    match crate::numeric::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(errors::MUST_BE_POSITIVE),
    }
}

fn pop_generic(ctx: &mut Ctx, args: &[&[u8]], end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(ctx.arity_error());
    }
    let count = match args.get(2) {
        Some(a) => Some(positive_count(a)?),
        None => None,
    };
    let limits = ctx.eng.list_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::List)? else {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    match count {
        None => {
            let items = pop_from(&mut k, pos, end, 1, &limits);
            ctx.out.bulk(&items[0]);
        }
        Some(n) => {
            let items = pop_from(&mut k, pos, end, n, &limits);
            ctx.out.array(items.len());
            for it in &items {
                ctx.out.bulk(it);
            }
        }
    }
    Ok(())
}

pub fn lpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, End::Left)
}
pub fn rpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, End::Right)
}

// ------------------------------------------------------------ reads

pub fn llen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let n = read_list(&mut k, access)?.map_or(0, ListValue::len);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn lindex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    // As Redis: the key is looked up before the index is parsed.
    let Some(l) = read_list(&mut k, access)? else {
        ctx.out.null();
        return Ok(());
    };
    let index = int_arg(args[2])?;
    let i = if index < 0 {
        index + l.len() as i64
    } else {
        index
    };
    match (i >= 0).then(|| l.get(i as usize)).flatten() {
        Some(item) => ctx.out.bulk(item),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn lrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(l) = read_list(&mut k, access)? else {
        ctx.out.empty_array();
        return Ok(());
    };
    match rank_range(start, end, l.len()) {
        None => ctx.out.empty_array(),
        Some((a, b)) => {
            ctx.out.array(b - a + 1);
            for item in l.iter_from(a).take(b - a + 1) {
                ctx.out.bulk(item);
            }
        }
    }
    Ok(())
}

pub fn lpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i];
        let Some(&value) = args.get(i + 1) else {
            return Err(errors::SYNTAX);
        };
        if eq_ic(opt, "rank") {
            rank = int_arg(value)?;
            if rank == 0 {
                return Err(errors::LPOS_RANK_ZERO);
            }
        } else if eq_ic(opt, "count") {
            let c = int_arg(value)?;
            if c < 0 {
                return Err(errors::LPOS_COUNT_NEGATIVE);
            }
            count = Some(c as usize);
        } else if eq_ic(opt, "maxlen") {
            let m = int_arg(value)?;
            if m < 0 {
                return Err(errors::LPOS_MAXLEN_NEGATIVE);
            }
            maxlen = m as usize;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(l) = read_list(&mut k, access)? else {
        match count {
            Some(_) => ctx.out.empty_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let len = l.len();
    let want = match count {
        Some(0) => usize::MAX,
        Some(c) => c,
        None => 1,
    };
    // Redis negates a negative RANK in place: the most negative one stays
    // negative, and every match from the tail then counts.
    let mut skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() as usize - 1
    };
    let mut found = Vec::new();
    let limit = if maxlen == 0 { len } else { maxlen.min(len) };
    let mut check = |idx: usize, item: &[u8]| -> bool {
        if item == args[2] {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(idx);
                if found.len() >= want {
                    return false;
                }
            }
        }
        true
    };
    if rank > 0 {
        for (j, item) in l.iter().take(limit).enumerate() {
            if !check(j, item) {
                break;
            }
        }
    } else if len > 0 {
        for (j, item) in l.iter_back_from(len - 1).take(limit).enumerate() {
            if !check(len - 1 - j, item) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            ctx.out.array(found.len());
            for f in found {
                ctx.out.int(f as i64);
            }
        }
        None => match found.first() {
            Some(&f) => ctx.out.int(f as i64),
            None => ctx.out.null(),
        },
    }
    Ok(())
}

// ------------------------------------------------------------ edits

pub fn lset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let limits = ctx.eng.list_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    // As Redis: the key is looked up before the index is parsed.
    let Some(pos) = k.find_kind(Access::WRITE, Kind::List)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    let index = int_arg(args[2])?;
    let len = as_list(k.value(pos)).len() as i64;
    let i = if index < 0 { index + len } else { index };
    if i < 0 || i >= len {
        return Err(errors::INDEX_OUT_OF_RANGE);
    }
    k.shard
        .update(pos, |v| as_list_mut(v).set(i as usize, args[3], &limits));
    ctx.out.ok();
    ctx.notify(class::LIST, "lset", args[1]);
    Ok(())
}

pub fn linsert(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let after = if eq_ic(args[2], "after") {
        true
    } else if eq_ic(args[2], "before") {
        false
    } else {
        return Err(errors::SYNTAX);
    };
    let limits = ctx.eng.list_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::List)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(at) = as_list(k.value(pos)).iter().position(|e| e == args[3]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    let len = k.shard.update(pos, |v| {
        let l = as_list_mut(v);
        l.insert(at, after, args[4], &limits);
        l.len()
    });
    ctx.out.int(len as i64);
    ctx.notify(class::LIST, "linsert", args[1]);
    Ok(())
}

pub fn lrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = int_arg(args[2])?;
    let limits = ctx.eng.list_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::List)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if !as_list(k.value(pos)).iter().any(|e| e == args[3]) {
        ctx.out.int(0);
        return Ok(());
    }
    let (removed, empty) = k.shard.update(pos, |v| {
        let l = as_list_mut(v);
        let n = l.remove(args[3], count.unsigned_abs() as usize, count < 0, &limits);
        (n, l.is_empty())
    });
    if empty {
        k.shard.remove_at(pos);
    }
    ctx.out.int(removed as i64);
    ctx.notify(class::LIST, "lrem", args[1]);
    if empty {
        ctx.notify(class::GENERIC, "del", args[1]);
    }
    Ok(())
}

pub fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let limits = ctx.eng.list_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    if let Some(pos) = k.find_kind(Access::WRITE, Kind::List)? {
        let len = as_list(k.value(pos)).len();
        let emptied = match rank_range(start, end, len) {
            None => {
                k.shard.remove_at(pos);
                true
            }
            Some((a, b)) if a == 0 && b + 1 == len => {
                // Nothing to remove, yet the key counts as modified (WATCH,
                // client-side caching), as in Redis.
                k.shard.update(pos, |_| ());
                false
            }
            Some((a, b)) => {
                k.shard.update(pos, |v| as_list_mut(v).trim(a, b, &limits));
                false
            }
        };
        ctx.notify(class::LIST, "ltrim", args[1]);
        if emptied {
            ctx.notify(class::GENERIC, "del", args[1]);
        }
    }
    ctx.out.ok();
    Ok(())
}

// ------------------------------------------------------------ moves

/// LMOVE's work inside a unit that holds both keys' shards: pops from
/// `src`'s `from` end and pushes at `dst`'s `to` end. Ok(None) when `src`
/// is missing; WRONGTYPE (with nothing moved) for a wrong-type source or
/// destination.
pub(super) fn move_element(
    ctx_unit: &mut crate::engine::unit::Unit,
    db: usize,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    limits: &ListLimits,
) -> CmdResult<Option<Vec<u8>>> {
    let mut s = ctx_unit.key(db, src);
    let Some(spos) = s.find_kind(Access::WRITE, Kind::List)? else {
        return Ok(None);
    };
    ctx_unit.key(db, dst).find_kind(Access::WRITE, Kind::List)?;
    let mut s = ctx_unit.key(db, src);
    // Events in Redis's order: the push on the destination, then the pop
    // (and the deletion) of the source.
    let (mut items, emptied) = pop_quietly(&mut s, spos, from, 1, limits);
    let item = items.pop().expect("a list is never empty");
    let mut d = ctx_unit.key(db, dst);
    let dpos = match d.find_kind(Access::WRITE, Kind::List)? {
        Some(p) => p,
        // A one-element list moved onto itself was the same list all along
        // (Redis pushes before it deletes the source): no new key.
        None if src == dst => {
            d.shard
                .insert_loaded(d.hash, dst, Value::List(ListValue::default()), 0, d.now)
        }
        None => d.insert(Value::List(ListValue::default()), 0),
    };
    d.shard.update(dpos, |v| {
        as_list_mut(v).push(to == End::Left, &item, limits)
    });
    d.shard.notify(class::LIST, push_event(to), dst);
    d.shard.notify(class::LIST, pop_event(from), src);
    if emptied && src != dst {
        d.shard.notify(class::GENERIC, "del", src);
    }
    Ok(Some(item))
}

fn lmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let limits = ctx.eng.list_limits();
    let db = ctx.sess.db;
    let hashes = [ctx.unit.hash(src), ctx.unit.hash(dst)];
    ctx.unit.lock_keys(db, &hashes);
    match move_element(ctx.unit, db, src, dst, from, to, &limits)? {
        Some(item) => {
            ctx.out.bulk(&item);
            blocking::signal(ctx, dst);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn lmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = parse_end(args[3])?;
    let to = parse_end(args[4])?;
    lmove_generic(ctx, args[1], args[2], from, to)
}

pub fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    lmove_generic(ctx, args[1], args[2], End::Right, End::Left)
}

/// What `numkeys key... LEFT|RIGHT [COUNT n]` names.
pub(super) type MpopArgs<'a> = (Vec<&'a [u8]>, End, Option<usize>);

/// A key and the elements popped from it.
pub(super) type Popped = Option<(Vec<u8>, Vec<Vec<u8>>)>;

/// `numkeys key... LEFT|RIGHT [COUNT n]` (LMPOP, BLMPOP after its timeout):
/// the keys, the end and the count.
pub(super) fn parse_mpop<'a>(
    args: &[&'a [u8]],
    at: usize,
    ends: (&str, &str),
) -> CmdResult<MpopArgs<'a>> {
    let numkeys = match crate::numeric::parse_i64(args[at]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(errors::NUMKEYS_POSITIVE),
    };
    let first = at + 1;
    if numkeys > args.len().saturating_sub(first + 1) {
        return Err(errors::SYNTAX);
    }
    let keys = args[first..first + numkeys].to_vec();
    let mut i = first + numkeys;
    let end = if eq_ic(args[i], ends.0) {
        End::Left
    } else if eq_ic(args[i], ends.1) {
        End::Right
    } else {
        return Err(errors::SYNTAX);
    };
    i += 1;
    let mut count = None;
    while i < args.len() {
        if eq_ic(args[i], "count") && count.is_none() && i + 1 < args.len() {
            match crate::numeric::parse_i64(args[i + 1]) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => return Err(errors::COUNT_POSITIVE),
            }
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok((keys, end, count))
}

/// Pops from the first non-empty list of `keys`: its name and elements.
/// WRONGTYPE on the first wrong-type key reached.
pub(super) fn mpop_lists(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    end: End,
    count: usize,
) -> CmdResult<Popped> {
    let limits = ctx.eng.list_limits();
    let db = ctx.sess.db;
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(db, &hashes);
    for key in keys {
        let mut k = ctx.unit.key(db, key);
        if let Some(pos) = k.find_kind(Access::WRITE, Kind::List)? {
            let items = pop_from(&mut k, pos, end, count, &limits);
            return Ok(Some((key.to_vec(), items)));
        }
    }
    Ok(None)
}

/// `*2 key *[elements]`.
pub(super) fn reply_key_items(out: &mut Reply, key: &[u8], items: &[Vec<u8>]) {
    out.array(2);
    out.bulk(key);
    out.array(items.len());
    for it in items {
        out.bulk(it);
    }
}

pub fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, end, count) = parse_mpop(args, 1, ("left", "right"))?;
    match mpop_lists(ctx, &keys, end, count.unwrap_or(1))? {
        Some((key, items)) => reply_key_items(ctx.out, &key, &items),
        None => ctx.out.null_array(),
    }
    Ok(())
}

// ------------------------------------------------------------ blocking

pub fn blpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Left)
}
pub fn brpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, End::Right)
}

fn bpop(ctx: &mut Ctx, args: &[&[u8]], end: End) -> CmdResult {
    let timeout = blocking::parse_timeout(args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    if let Some((key, mut items)) = mpop_lists(ctx, keys, end, 1)? {
        ctx.out.array(2);
        ctx.out.bulk(&key);
        ctx.out.bulk(&items.pop().expect("one"));
        ctx.propagate(&pop_command(end, &key, None));
        return Ok(());
    }
    ctx.propagate_nothing();
    blocking::block_or_null(ctx, keys, timeout, BlockOp::ListPop { end, count: None })
}

/// What replicas get for a blocking pop that popped: `LPOP|RPOP key [n]`.
pub(super) fn pop_command(end: End, key: &[u8], count: Option<usize>) -> Vec<Vec<u8>> {
    let name = if end == End::Left { "LPOP" } else { "RPOP" };
    let mut cmd = vec![name.as_bytes().to_vec(), key.to_vec()];
    if let Some(n) = count {
        cmd.push(n.to_string().into_bytes());
    }
    cmd
}

/// What replicas get for a blocking move that moved: `LMOVE src dst from to`.
pub(super) fn move_command(src: &[u8], dst: &[u8], from: End, to: End) -> Vec<Vec<u8>> {
    let side = |e: End| {
        if e == End::Left {
            b"LEFT".to_vec()
        } else {
            b"RIGHT".to_vec()
        }
    };
    vec![
        b"LMOVE".to_vec(),
        src.to_vec(),
        dst.to_vec(),
        side(from),
        side(to),
    ]
}

pub fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // As Redis: the keys, end and count are checked before the timeout.
    let (keys, end, count) = parse_mpop(args, 2, ("left", "right"))?;
    let timeout = blocking::parse_timeout(args[1])?;
    if let Some((key, items)) = mpop_lists(ctx, &keys, end, count.unwrap_or(1))? {
        reply_key_items(ctx.out, &key, &items);
        ctx.propagate(&pop_command(end, &key, Some(count.unwrap_or(1))));
        return Ok(());
    }
    ctx.propagate_nothing();
    let op = BlockOp::ListPop {
        end,
        count: Some(count.unwrap_or(1)),
    };
    blocking::block_or_null(ctx, &keys, timeout, op)
}

pub fn blmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = parse_end(args[3])?;
    let to = parse_end(args[4])?;
    let timeout = blocking::parse_timeout(args[5])?;
    bmove(ctx, args[1], args[2], from, to, timeout)
}

pub fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let timeout = blocking::parse_timeout(args[3])?;
    bmove(ctx, args[1], args[2], End::Right, End::Left, timeout)
}

fn bmove(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, timeout: u64) -> CmdResult {
    let limits = ctx.eng.list_limits();
    let db = ctx.sess.db;
    let hashes = [ctx.unit.hash(src), ctx.unit.hash(dst)];
    ctx.unit.lock_keys(db, &hashes);
    if let Some(item) = move_element(ctx.unit, db, src, dst, from, to, &limits)? {
        ctx.out.bulk(&item);
        blocking::signal(ctx, dst);
        ctx.propagate(&move_command(src, dst, from, to));
        return Ok(());
    }
    ctx.propagate_nothing();
    let op = BlockOp::ListMove {
        from,
        to,
        dst: dst.to_vec(),
    };
    blocking::block_or_null(ctx, &[src], timeout, op)
}
