//! Set commands (Redis 7.0 semantics). A set whose last member goes
//! disappears; a STORE with an empty result deletes its destination.

use super::hashes::parse_scan_options;
use super::{int_arg, Ctx};
use crate::engine::store::glob::glob_match;
use crate::engine::store::notify::class;
use crate::engine::store::set::Member;
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, Kind, SetValue, Value};
use crate::engine::unit::KeyRef;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

/// Largest reply a negative count may build (repeats allowed): Redis would
/// build any size; a bound keeps memory finite.
const MAX_RANDOM_REPLY: u64 = 1 << 24;

fn as_set<'a>(v: ValueRef<'a>) -> &'a SetValue {
    match v.boxed() {
        Some(Value::Set(s)) => s,
        _ => unreachable!("checked by the lookup"),
    }
}

fn as_set_mut(v: &mut Value) -> &mut SetValue {
    match v {
        Value::Set(s) => s,
        _ => unreachable!("checked by the lookup"),
    }
}

fn read_set<'a>(k: &'a mut KeyRef, access: Access) -> CmdResult<Option<&'a SetValue>> {
    Ok(k.find_kind(access, Kind::Set)?
        .map(|pos| as_set(k.value(pos))))
}

pub(super) fn write_member(out: &mut Reply, m: Member<'_>) {
    match m {
        Member::Int(i) => out.bulk_int(i),
        Member::Bytes(b) => out.bulk(b),
    }
}

pub fn sadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let limits = ctx.eng.set_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = match k.find_kind(Access::WRITE, Kind::Set)? {
        Some(p) => p,
        None => k.insert(Value::Set(SetValue::default()), 0),
    };
    let value = as_set(k.value(pos));
    if args[2..].iter().all(|m| value.contains(m)) {
        // Nothing new: no write (a WATCH stays valid).
        ctx.out.int(0);
        return Ok(());
    }
    let added = k
        .shard
        .update(pos, |v| as_set_mut(v).insert_all(&args[2..], &limits));
    ctx.out.int(added as i64);
    ctx.notify(class::SET, "sadd", args[1]);
    Ok(())
}

pub fn srem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::Set)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if !args[2..].iter().any(|m| as_set(k.value(pos)).contains(m)) {
        ctx.out.int(0);
        return Ok(());
    }
    let (removed, empty) = k.shard.update(pos, |v| {
        let s = as_set_mut(v);
        let n = args[2..].iter().filter(|m| s.remove(m)).count();
        (n, s.is_empty())
    });
    if empty {
        k.shard.remove_at(pos);
    }
    ctx.out.int(removed as i64);
    ctx.notify(class::SET, "srem", args[1]);
    if empty {
        ctx.notify(class::GENERIC, "del", args[1]);
    }
    Ok(())
}

pub fn sismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let found = read_set(&mut k, access)?.is_some_and(|s| s.contains(args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

pub fn smismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let s = read_set(&mut k, access)?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        ctx.out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

pub fn smembers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match read_set(&mut k, access)? {
        Some(s) => {
            ctx.out.set(s.len());
            for m in s.iter() {
                write_member(ctx.out, m);
            }
        }
        None => ctx.out.set(0),
    }
    Ok(())
}

pub fn scard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let n = read_set(&mut k, access)?.map_or(0, SetValue::len);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn spop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let count = match args.get(2) {
        Some(a) => Some(super::lists::positive_count(a)?),
        None => None,
    };
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::Set)? else {
        match count {
            Some(_) => ctx.out.set(0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(count) = count else {
        let (m, empty) = k.shard.update(pos, |v| {
            let s = as_set_mut(v);
            let m = s.remove_nth(fastrand::usize(..s.len()));
            (m, s.is_empty())
        });
        if empty {
            k.shard.remove_at(pos);
        }
        ctx.out.bulk(&m);
        propagate_popped(ctx, args[1], &[m], empty);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        ctx.propagate_nothing();
        return Ok(());
    }
    let (members, empty) = k.shard.update(pos, |v| {
        let s = as_set_mut(v);
        let mut out = Vec::with_capacity(count.min(s.len()));
        while out.len() < count && !s.is_empty() {
            out.push(s.remove_nth(fastrand::usize(..s.len())));
        }
        (out, s.is_empty())
    });
    if empty {
        k.shard.remove_at(pos);
    }
    ctx.out.set(members.len());
    for m in &members {
        ctx.out.bulk(m);
    }
    propagate_popped(ctx, args[1], &members, empty);
    Ok(())
}

/// SPOP picks at random: replicas get the members it took (SREM), or DEL
/// when it took them all.
fn propagate_popped(ctx: &mut Ctx, key: &[u8], members: &[Vec<u8>], emptied: bool) {
    ctx.notify(class::SET, "spop", key);
    if emptied {
        ctx.notify(class::GENERIC, "del", key);
    }
    if !ctx.feeding() {
        return ctx.propagate_nothing();
    }
    if emptied {
        ctx.propagate(&[&b"DEL"[..], key]);
    } else {
        let mut cmd: Vec<&[u8]> = vec![b"SREM", key];
        cmd.extend(members.iter().map(Vec::as_slice));
        ctx.propagate(&cmd);
    }
}

pub fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let count = match args.get(2) {
        Some(a) => {
            let n = int_arg(a)?;
            if n == i64::MIN {
                return Err(errors::COUNT_OUT_OF_RANGE);
            }
            if n < 0 && n.unsigned_abs() > MAX_RANDOM_REPLY {
                return Err(errors::VALUE_OUT_OF_RANGE);
            }
            Some(n)
        }
        None => None,
    };
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let s = read_set(&mut k, access)?;
    let Some(count) = count else {
        match s {
            Some(s) => write_member(ctx.out, s.nth(fastrand::usize(..s.len()))),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(s) = s.filter(|_| count != 0) else {
        ctx.out.empty_array();
        return Ok(());
    };
    let len = s.len();
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| fastrand::usize(..len))
            .collect()
    } else if count as usize >= len {
        (0..len).collect()
    } else {
        let mut idx: Vec<usize> = (0..len).collect();
        fastrand::shuffle(&mut idx);
        idx.truncate(count as usize);
        idx
    };
    ctx.out.array(picks.len());
    for i in picks {
        write_member(ctx.out, s.nth(i));
    }
    Ok(())
}

pub fn smove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst, m) = (args[1], args[2], args[3]);
    let db = ctx.sess.db;
    let hashes = [ctx.unit.hash(src), ctx.unit.hash(dst)];
    ctx.unit.lock_keys(db, &hashes);
    let limits = ctx.eng.set_limits();
    let spos = {
        let mut s = ctx.unit.key(db, src);
        match s.find(Access::WRITE) {
            None => {
                ctx.out.int(0);
                return Ok(());
            }
            Some(p) if s.value(p).kind() != Kind::Set => return Err(errors::WRONGTYPE),
            Some(p) => p,
        }
    };
    ctx.unit.key(db, dst).find_kind(Access::WRITE, Kind::Set)?;
    if src == dst {
        let s = ctx.unit.key(db, src);
        let present = as_set(s.value(spos)).contains(m);
        ctx.out.int(present as i64);
        return Ok(());
    }
    let s = ctx.unit.key(db, src);
    if !as_set(s.value(spos)).contains(m) {
        ctx.out.int(0);
        return Ok(());
    }
    let empty = s.shard.update(spos, |v| {
        let set = as_set_mut(v);
        set.remove(m);
        set.is_empty()
    });
    if empty {
        s.shard.remove_at(spos);
    }
    ctx.notify(class::SET, "srem", src);
    if empty {
        ctx.notify(class::GENERIC, "del", src);
    }
    let mut d = ctx.unit.key(db, dst);
    let dpos = match d.find_kind(Access::WRITE, Kind::Set)? {
        Some(p) => p,
        None => d.insert(Value::Set(SetValue::default()), 0),
    };
    let added = !as_set(d.value(dpos)).contains(m);
    if added {
        d.shard.update(dpos, |v| as_set_mut(v).insert(m, &limits));
    }
    ctx.out.int(1);
    if added {
        ctx.notify(class::SET, "sadd", dst);
    }
    Ok(())
}

// ------------------------------------------------------------ algebra

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The members of every key (None for a missing key), type-checking each.
fn load_sets(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult<Vec<Option<Vec<Vec<u8>>>>> {
    let db = ctx.sess.db;
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(db, &hashes);
    let access = ctx.access(Access::READ);
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let mut k = ctx.unit.key(db, key);
        out.push(read_set(&mut k, access)?.map(|s| s.iter().map(|m| m.to_vec()).collect()));
    }
    Ok(out)
}

/// The result of `op` over the sets of `keys`, in a deterministic order
/// (the first set's order, then new members as they appear).
fn compute(ctx: &mut Ctx, keys: &[&[u8]], op: Op, limit: usize) -> CmdResult<Vec<Vec<u8>>> {
    let sets = load_sets(ctx, keys)?;
    let mut out = Vec::new();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            let sets: Vec<Vec<Vec<u8>>> = sets.into_iter().flatten().collect();
            let (smallest, _) = sets
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.len())
                .expect("at least one key");
            let others: Vec<hashbrown::HashSet<&[u8]>> = sets
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != smallest)
                .map(|(_, s)| s.iter().map(Vec::as_slice).collect())
                .collect();
            for m in &sets[smallest] {
                if others.iter().all(|o| o.contains(m.as_slice())) {
                    out.push(m.clone());
                    if out.len() == limit {
                        break;
                    }
                }
            }
        }
        Op::Union => {
            let mut seen = hashbrown::HashSet::new();
            for s in sets.into_iter().flatten() {
                for m in s {
                    if seen.insert(m.clone()) {
                        out.push(m);
                    }
                }
            }
        }
        Op::Diff => {
            let mut it = sets.into_iter();
            let Some(Some(first)) = it.next() else {
                return Ok(out);
            };
            let rest: hashbrown::HashSet<Vec<u8>> = it.flatten().flatten().collect();
            out.extend(first.into_iter().filter(|m| !rest.contains(m)));
        }
    }
    Ok(out)
}

fn algebra(ctx: &mut Ctx, args: &[&[u8]], op: Op) -> CmdResult {
    let members = compute(ctx, &args[1..], op, usize::MAX)?;
    ctx.out.set(members.len());
    for m in &members {
        ctx.out.bulk(m);
    }
    Ok(())
}

fn algebra_store(ctx: &mut Ctx, args: &[&[u8]], op: Op) -> CmdResult {
    let dst = args[1];
    let db = ctx.sess.db;
    let mut keys: Vec<&[u8]> = args[2..].to_vec();
    keys.push(dst);
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(db, &hashes);
    let members = compute(ctx, &args[2..], op, usize::MAX)?;
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    store_members(ctx, dst, &members, event);
    ctx.out.int(members.len() as i64);
    Ok(())
}

/// Replaces `dst` with a set of `members` (deleting it when there are none)
/// and publishes `event` (or `del`).
fn store_members(ctx: &mut Ctx, dst: &[u8], members: &[Vec<u8>], event: &str) {
    let limits = ctx.eng.set_limits();
    let mut d = ctx.unit.key(ctx.sess.db, dst);
    if members.is_empty() {
        if d.delete() {
            ctx.notify(class::GENERIC, "del", dst);
        }
        return;
    }
    let value = SetValue::from_members(members.iter().map(Vec::as_slice), &limits);
    d.upsert(Value::Set(value), false);
    ctx.notify(class::SET, event, dst);
}

pub fn sinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra(ctx, args, Op::Inter)
}
pub fn sunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra(ctx, args, Op::Union)
}
pub fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra(ctx, args, Op::Diff)
}
pub fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, args, Op::Inter)
}
pub fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, args, Op::Union)
}
pub fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, args, Op::Diff)
}

/// `numkeys key... [LIMIT n]` of SINTERCARD and ZINTERCARD.
pub(super) fn parse_card_args<'a>(
    args: &[&'a [u8]],
    numkeys_error: errors::CmdError,
) -> CmdResult<(Vec<&'a [u8]>, usize)> {
    let numkeys = match crate::numeric::parse_i64(args[1]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(numkeys_error),
    };
    if numkeys > args.len() - 2 {
        return Err(errors::NUMKEYS_TOO_BIG);
    }
    let keys = args[2..2 + numkeys].to_vec();
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if super::eq_ic(args[i], "limit") && i + 1 < args.len() {
            let n = int_arg(args[i + 1]).map_err(|_| errors::LIMIT_NEGATIVE)?;
            if n < 0 {
                return Err(errors::LIMIT_NEGATIVE);
            }
            limit = n as usize;
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok((keys, limit))
}

pub fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, limit) = parse_card_args(args, errors::NUMKEYS_POSITIVE)?;
    let limit = if limit == 0 { usize::MAX } else { limit };
    let n = compute(ctx, &keys, Op::Inter, limit)?.len();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn sscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = crate::numeric::parse_cursor(args[2]).ok_or(errors::INVALID_CURSOR)?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(s) = read_set(&mut k, access)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.empty_array();
        return Ok(());
    };
    let opts = parse_scan_options(args, 3, false)?;
    let mut found = Vec::new();
    let mut buf = itoa::Buffer::new();
    let next = s.scan(cursor, opts.count, |m| {
        let bytes = m.bytes(&mut buf);
        if opts.pattern.is_none_or(|p| glob_match(p, bytes, false)) {
            found.push(bytes.to_vec());
        }
    });
    ctx.out.array(2);
    ctx.out.bulk_u64(next);
    ctx.out.array(found.len());
    for m in &found {
        ctx.out.bulk(m);
    }
    Ok(())
}
