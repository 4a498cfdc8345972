//! Hash commands. Small hashes keep insertion order (Redis's listpack
//! encoding); large ones are hash tables. A hash whose last field is
//! deleted disappears, as in Redis.

use super::{eq_ic, int_arg, Ctx};
use crate::engine::store::glob::glob_match;
use crate::engine::store::notify::class;
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, HashValue, Kind, Shard, Value};
use crate::engine::unit::KeyRef;
use crate::errors::{self, CmdResult};
use crate::numeric::{self, FloatAdd};

/// A field and its value, borrowed from a hash.
type Pair<'a> = (&'a [u8], &'a [u8]);

/// The hash at `key` for reading (`None` when absent; WRONGTYPE for another type).
fn read_hash<'a>(k: &'a mut KeyRef, access: Access) -> CmdResult<Option<&'a HashValue>> {
    Ok(k.find_kind(access, Kind::Hash)?
        .map(|pos| as_hash(k.value(pos))))
}

fn as_hash<'a>(v: ValueRef<'a>) -> &'a HashValue {
    match v.boxed() {
        Some(Value::Hash(h)) => h,
        _ => unreachable!("checked by the lookup"),
    }
}

fn hash_mut(v: &mut Value) -> &mut HashValue {
    match v {
        Value::Hash(h) => h,
        _ => unreachable!("checked by the lookup"),
    }
}

/// Finds or creates the hash at `key` for writing.
fn write_hash(k: &mut KeyRef) -> CmdResult<usize> {
    k.find_or_create(Kind::Hash, || Value::Hash(HashValue::default()))
}

/// Removes `pos` when its hash became empty; true when it did.
fn drop_if_empty(s: &mut Shard, pos: usize) -> bool {
    let empty = matches!(s.entry(pos).value().boxed(), Some(Value::Hash(h)) if h.is_empty());
    if empty {
        s.remove_at(pos);
    }
    empty
}

fn hset_generic(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult<i64> {
    if args.len() % 2 == 1 {
        return Err(ctx.arity_error());
    }
    let limits = ctx.eng.hash_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = write_hash(&mut k)?;
    let added = k.shard.update(pos, |v| {
        let hv = hash_mut(v);
        args[2..]
            .chunks_exact(2)
            .filter(|p| hv.set(p[0], p[1], &limits))
            .count()
    });
    ctx.notify(class::HASH, "hset", args[1]);
    Ok(added as i64)
}

pub fn hset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = hset_generic(ctx, args)?;
    ctx.out.int(n);
    Ok(())
}

pub fn hmset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hset_generic(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

pub fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let limits = ctx.eng.hash_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = write_hash(&mut k)?;
    // An existing field is no write (and so no WATCH invalidation).
    let added = as_hash(k.value(pos)).get(args[2]).is_none()
        && k.shard
            .update(pos, |v| hash_mut(v).set(args[2], args[3], &limits));
    ctx.out.int(added as i64);
    if added {
        ctx.notify(class::HASH, "hset", args[1]);
    }
    Ok(())
}

pub fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match read_hash(&mut k, access)?.and_then(|hv| hv.get(args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let hv = read_hash(&mut k, access)?;
    ctx.out.array(args.len() - 2);
    for f in &args[2..] {
        match hv.and_then(|hv| hv.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hget_all(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, key);
    let hv = read_hash(&mut k, access)?;
    let n = hv.map_or(0, HashValue::len);
    if fields && values {
        ctx.out.map(n);
    } else {
        ctx.out.array(n);
    }
    if let Some(hv) = hv {
        for (f, v) in hv.iter() {
            if fields {
                ctx.out.bulk(f);
            }
            if values {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

pub fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hget_all(ctx, args[1], true, true)
}

pub fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hget_all(ctx, args[1], true, false)
}

pub fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hget_all(ctx, args[1], false, true)
}

pub fn hdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::Hash)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let hv = as_hash(k.value(pos));
    if !args[2..].iter().any(|f| hv.get(f).is_some()) {
        // Nothing to remove is no write (no WATCH invalidation).
        ctx.out.int(0);
        return Ok(());
    }
    let removed = k.shard.update(pos, |v| {
        let hv = hash_mut(v);
        args[2..].iter().filter(|f| hv.remove(f)).count()
    });
    let emptied = drop_if_empty(k.shard, pos);
    ctx.out.int(removed as i64);
    ctx.notify(class::HASH, "hdel", args[1]);
    if emptied {
        ctx.notify(class::GENERIC, "del", args[1]);
    }
    Ok(())
}

pub fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let found = read_hash(&mut k, access)?.is_some_and(|hv| hv.get(args[2]).is_some());
    ctx.out.int(found as i64);
    Ok(())
}

pub fn hlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let n = read_hash(&mut k, access)?.map_or(0, HashValue::len);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let len = read_hash(&mut k, access)?
        .and_then(|hv| hv.get(args[2]))
        .map_or(0, <[u8]>::len);
    ctx.out.int(len as i64);
    Ok(())
}

pub fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let incr = int_arg(args[3])?;
    let limits = ctx.eng.hash_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = write_hash(&mut k)?;
    let current = match as_hash(k.value(pos)).get(args[2]).map(numeric::parse_i64) {
        None => 0,
        Some(Some(v)) => v,
        Some(None) => return Err(errors::HASH_NOT_INTEGER),
    };
    let Some(next) = current.checked_add(incr) else {
        drop_if_empty(k.shard, pos);
        return Err(errors::OVERFLOW);
    };
    let mut buf = itoa::Buffer::new();
    let text = buf.format(next).as_bytes();
    k.shard
        .update(pos, |v| hash_mut(v).set(args[2], text, &limits));
    ctx.out.int(next);
    ctx.notify(class::HASH, "hincrby", args[1]);
    Ok(())
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // The increment is validated before the key is touched.
    match numeric::float_add(None, args[3]) {
        FloatAdd::Ok(_) => {}
        FloatAdd::IncrementInfinite => return Err(errors::VALUE_NAN_OR_INF),
        _ => return Err(errors::NOT_FLOAT),
    }
    let limits = ctx.eng.hash_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = write_hash(&mut k)?;
    let current = as_hash(k.value(pos)).get(args[2]).map(<[u8]>::to_vec);
    let result = match numeric::float_add(current.as_deref(), args[3]) {
        FloatAdd::Ok(r) => r,
        FloatAdd::CurrentInvalid => return Err(errors::HASH_NOT_FLOAT),
        FloatAdd::IncrementInvalid => return Err(errors::NOT_FLOAT),
        FloatAdd::IncrementInfinite | FloatAdd::ResultNotFinite => {
            drop_if_empty(k.shard, pos);
            return Err(errors::NAN_OR_INF);
        }
    };
    k.shard
        .update(pos, |v| hash_mut(v).set(args[2], &result, &limits));
    ctx.out.bulk(&result);
    // Replicas get the result, not the float arithmetic.
    ctx.propagate(&[&b"HSET"[..], args[1], args[2], &result]);
    ctx.notify(class::HASH, "hincrbyfloat", args[1]);
    Ok(())
}

/// `[MATCH pattern] [COUNT n]` (and `[TYPE t]` when allowed) of SCAN-like commands.
pub struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

pub fn parse_scan_options<'a>(
    args: &[&'a [u8]],
    start: usize,
    allow_type: bool,
) -> CmdResult<ScanOptions<'a>> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = start;
    while i < args.len() {
        let more = args.len() - i;
        if eq_ic(args[i], "count") && more >= 2 {
            let n = int_arg(args[i + 1])?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            opts.count = n as usize;
        } else if eq_ic(args[i], "match") && more >= 2 {
            let p = args[i + 1];
            opts.pattern = if p == b"*" { None } else { Some(p) };
        } else if allow_type && eq_ic(args[i], "type") && more >= 2 {
            opts.type_name = Some(args[i + 1]);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok(opts)
}

pub fn hscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = numeric::parse_cursor(args[2]).ok_or(errors::INVALID_CURSOR)?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(hv) = read_hash(&mut k, access)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.empty_array();
        return Ok(());
    };
    let opts = parse_scan_options(args, 3, false)?;
    let matches = |f: &[u8]| opts.pattern.is_none_or(|p| glob_match(p, f, false));
    let mut pairs: Vec<Pair> = Vec::new();
    let next = if hv.is_small() {
        pairs.extend(hv.iter().filter(|(f, _)| matches(f)));
        0
    } else {
        let mut cands: Vec<(u64, Pair)> = hv
            .iter()
            .map(|(f, v)| (hv.scan_order(f), (f, v)))
            .filter(|(o, _)| *o >= cursor)
            .collect();
        let batch = opts.count.max(hv.len() / 16);
        let (below, next) = crate::engine::store::ordered_cut(&mut cands, batch);
        pairs.extend(
            cands
                .iter()
                .filter(|(o, (f, _))| *o < below && matches(f))
                .map(|(_, p)| *p),
        );
        next.unwrap_or(0)
    };
    ctx.out.array(2);
    ctx.out.bulk_u64(next);
    ctx.out.array(pairs.len() * 2);
    for (f, v) in pairs {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}

/// Largest reply HRANDFIELD builds for a negative count (repeats allowed).
const MAX_RANDOM_REPLY: i64 = 1 << 24;

pub fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut count = None;
    let mut with_values = false;
    if args.len() >= 3 {
        let c = int_arg(args[2])?;
        if c == i64::MIN {
            return Err(errors::COUNT_OUT_OF_RANGE);
        }
        if args.len() > 4 || (args.len() == 4 && !eq_ic(args[3], "withvalues")) {
            return Err(errors::SYNTAX);
        }
        with_values = args.len() == 4;
        // Redis would build any reply size; a bound keeps memory finite.
        if (with_values && c < -(i64::MAX / 2)) || c < -MAX_RANDOM_REPLY {
            return Err(errors::VALUE_OUT_OF_RANGE);
        }
        count = Some(c);
    }
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let hv = read_hash(&mut k, access)?;
    let Some(count) = count else {
        match hv.and_then(|hv| hv.nth(fastrand::usize(..hv.len().max(1)))) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(hv) = hv.filter(|hv| !hv.is_empty() && count != 0) else {
        ctx.out.empty_array();
        return Ok(());
    };
    let len = hv.len();
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs() as usize)
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
    let pairs: Vec<(&[u8], &[u8])> = hv.iter().collect();
    let resp3 = ctx.out.resp3();
    if with_values && resp3 {
        ctx.out.array(picks.len());
    } else {
        ctx.out.array(picks.len() * if with_values { 2 } else { 1 });
    }
    for i in picks {
        let (f, v) = pairs[i];
        if with_values && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(f);
        if with_values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}
