//! Hash commands. Small hashes keep insertion order (Redis's listpack
//! encoding); large ones are hash tables. A hash whose last field is
//! deleted disappears, as in Redis.

use super::{eq_ic, Ctx};
use crate::errors;
use crate::numeric::{self, FloatAdd};
use crate::store::glob::glob_match;
use crate::store::{HashValue, Shard, Value};

/// A field and its value, borrowed from a hash.
type Pair<'a> = (&'a [u8], &'a [u8]);

/// Looks up a hash for reading. `Err(())` means the key holds another type
/// (the WRONGTYPE error has been sent).
fn read_hash<'s>(
    ctx: &mut Ctx,
    s: &'s mut Shard,
    h: u64,
    key: &[u8],
) -> Result<Option<&'s HashValue>, ()> {
    match s.read(h, key, ctx.now) {
        None => Ok(None),
        Some(pos) => match &s.entry(pos).value {
            Value::Hash(hv) => Ok(Some(hv)),
            _ => {
                ctx.wrongtype();
                Err(())
            }
        },
    }
}

/// Finds or creates the hash at `key` for writing; `None` after WRONGTYPE.
fn write_hash(ctx: &mut Ctx, s: &mut Shard, h: u64, key: &[u8]) -> Option<usize> {
    match s.live(h, key, ctx.now) {
        Some(pos) => {
            if matches!(s.entry(pos).value, Value::Hash(_)) {
                Some(pos)
            } else {
                ctx.wrongtype();
                None
            }
        }
        None => Some(s.insert(h, key, Value::Hash(HashValue::default()), 0, ctx.now)),
    }
}

fn hash_mut(v: &mut Value) -> &mut HashValue {
    match v {
        Value::Hash(h) => h,
        _ => unreachable!("checked by write_hash"),
    }
}

/// Removes `pos` when its hash became empty (after a failed write on a new key).
fn drop_if_empty(s: &mut Shard, pos: usize) {
    if matches!(&s.entry(pos).value, Value::Hash(h) if h.is_empty()) {
        s.remove_at(pos);
    }
}

fn hset_generic(ctx: &mut Ctx, args: &[&[u8]]) -> Option<i64> {
    if args.len() % 2 == 1 {
        ctx.arity_error();
        return None;
    }
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let pos = write_hash(ctx, &mut s, h, args[1])?;
    let added = s.update(pos, |v| {
        let hv = hash_mut(v);
        let added = args[2..]
            .chunks_exact(2)
            .filter(|p| hv.set(p[0], p[1]))
            .count();
        added
    });
    Some(added as i64)
}

pub fn hset(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(n) = hset_generic(ctx, args) {
        ctx.out.int(n);
    }
}

pub fn hmset(ctx: &mut Ctx, args: &[&[u8]]) {
    if hset_generic(ctx, args).is_some() {
        ctx.out.ok();
    }
}

pub fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Some(pos) = write_hash(ctx, &mut s, h, args[1]) else {
        return;
    };
    let added = s.update(pos, |v| {
        let hv = hash_mut(v);
        hv.get(args[2]).is_none() && hv.set(args[2], args[3])
    });
    ctx.out.int(added as i64);
}

pub fn hget(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    if let Ok(hv) = read_hash(ctx, &mut s, h, args[1]) {
        match hv.and_then(|hv| hv.get(args[2])) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
}

pub fn hmget(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    if let Ok(hv) = read_hash(ctx, &mut s, h, args[1]) {
        ctx.out.array(args.len() - 2);
        for f in &args[2..] {
            match hv.and_then(|hv| hv.get(f)) {
                Some(v) => ctx.out.bulk(v),
                None => ctx.out.null(),
            }
        }
    }
}

fn hget_all(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) {
    let (h, mut s) = ctx.srv.ks.lock(key);
    let Ok(hv) = read_hash(ctx, &mut s, h, key) else {
        return;
    };
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
}

pub fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) {
    hget_all(ctx, args[1], true, true);
}

pub fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) {
    hget_all(ctx, args[1], true, false);
}

pub fn hvals(ctx: &mut Ctx, args: &[&[u8]]) {
    hget_all(ctx, args[1], false, true);
}

pub fn hdel(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Some(pos) = s.live(h, args[1], ctx.now) else {
        ctx.out.int(0);
        return;
    };
    if !matches!(s.entry(pos).value, Value::Hash(_)) {
        return ctx.wrongtype();
    }
    let removed = s.update(pos, |v| {
        let hv = hash_mut(v);
        args[2..].iter().filter(|f| hv.remove(f)).count()
    });
    drop_if_empty(&mut s, pos);
    ctx.out.int(removed as i64);
}

pub fn hexists(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    if let Ok(hv) = read_hash(ctx, &mut s, h, args[1]) {
        let found = hv.is_some_and(|hv| hv.get(args[2]).is_some());
        ctx.out.int(found as i64);
    }
}

pub fn hlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    if let Ok(hv) = read_hash(ctx, &mut s, h, args[1]) {
        ctx.out.int(hv.map_or(0, HashValue::len) as i64);
    }
}

pub fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    if let Ok(hv) = read_hash(ctx, &mut s, h, args[1]) {
        let len = hv.and_then(|hv| hv.get(args[2])).map_or(0, <[u8]>::len);
        ctx.out.int(len as i64);
    }
}

pub fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(incr) = ctx.int_arg(args[3]) else {
        return;
    };
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Some(pos) = write_hash(ctx, &mut s, h, args[1]) else {
        return;
    };
    let current = match &s.entry(pos).value {
        Value::Hash(hv) => hv.get(args[2]).map(numeric::parse_i64),
        _ => unreachable!(),
    };
    let current = match current {
        None => 0,
        Some(Some(v)) => v,
        Some(None) => return ctx.error(errors::HASH_NOT_INTEGER),
    };
    let Some(next) = current.checked_add(incr) else {
        drop_if_empty(&mut s, pos);
        return ctx.error(errors::OVERFLOW);
    };
    let mut buf = itoa::Buffer::new();
    let text = buf.format(next).as_bytes();
    s.update(pos, |v| hash_mut(v).set(args[2], text));
    ctx.out.int(next);
}

pub fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) {
    // The increment is validated before the key is touched.
    match numeric::float_add(None, args[3]) {
        FloatAdd::Ok(_) => {}
        FloatAdd::IncrementInfinite => return ctx.error("ERR value is NaN or Infinity"),
        _ => return ctx.error(errors::NOT_FLOAT),
    }
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Some(pos) = write_hash(ctx, &mut s, h, args[1]) else {
        return;
    };
    let current = match &s.entry(pos).value {
        Value::Hash(hv) => hv.get(args[2]).map(<[u8]>::to_vec),
        _ => unreachable!(),
    };
    let result = match numeric::float_add(current.as_deref(), args[3]) {
        FloatAdd::Ok(r) => r,
        FloatAdd::CurrentInvalid => return ctx.error(errors::HASH_NOT_FLOAT),
        FloatAdd::IncrementInvalid => return ctx.error(errors::NOT_FLOAT),
        FloatAdd::IncrementInfinite | FloatAdd::ResultNotFinite => {
            drop_if_empty(&mut s, pos);
            return ctx.error(errors::NAN_OR_INF);
        }
    };
    s.update(pos, |v| hash_mut(v).set(args[2], &result));
    ctx.out.bulk(&result);
}

/// Parses `[MATCH pattern] [COUNT n]` (and `[TYPE t]` when allowed) for SCAN-like commands.
pub struct ScanOptions<'a> {
    pub count: usize,
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

pub fn parse_scan_options<'a>(
    ctx: &mut Ctx,
    args: &[&'a [u8]],
    start: usize,
    allow_type: bool,
) -> Option<ScanOptions<'a>> {
    let mut opts = ScanOptions {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = start;
    while i < args.len() {
        let more = args.len() - i;
        if eq_ic(args[i], "count") && more >= 2 {
            let n = ctx.int_arg(args[i + 1])?;
            if n < 1 {
                ctx.syntax_error();
                return None;
            }
            opts.count = n as usize;
        } else if eq_ic(args[i], "match") && more >= 2 {
            let p = args[i + 1];
            opts.pattern = if p == b"*" { None } else { Some(p) };
        } else if allow_type && eq_ic(args[i], "type") && more >= 2 {
            opts.type_name = Some(args[i + 1]);
        } else {
            ctx.syntax_error();
            return None;
        }
        i += 2;
    }
    Some(opts)
}

pub fn hscan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = numeric::parse_cursor(args[2]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let hv = match read_hash(ctx, &mut s, h, args[1]) {
        Err(()) => return,
        Ok(None) => {
            ctx.out.array(2);
            ctx.out.bulk(b"0");
            ctx.out.empty_array();
            return;
        }
        Ok(Some(hv)) => hv,
    };
    let Some(opts) = parse_scan_options(ctx, args, 3, false) else {
        return;
    };
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
        let (below, next) = crate::store::ordered_cut(&mut cands, batch);
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
}

/// Largest reply HRANDFIELD builds for a negative count (repeats allowed).
const MAX_RANDOM_REPLY: i64 = 1 << 24;

pub fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut count = None;
    let mut with_values = false;
    if args.len() >= 3 {
        let Some(c) = numeric::parse_i64(args[2]) else {
            return ctx.not_integer();
        };
        if c == i64::MIN {
            return ctx.error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
        }
        if args.len() > 4 || (args.len() == 4 && !eq_ic(args[3], "withvalues")) {
            return ctx.syntax_error();
        }
        with_values = args.len() == 4;
        // Redis would build any reply size; a bound keeps memory finite.
        if (with_values && c < -(i64::MAX / 2)) || c < -MAX_RANDOM_REPLY {
            return ctx.error(errors::VALUE_OUT_OF_RANGE);
        }
        count = Some(c);
    }
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Ok(hv) = read_hash(ctx, &mut s, h, args[1]) else {
        return;
    };
    let Some(count) = count else {
        match hv.and_then(|hv| hv.nth(fastrand::usize(..hv.len().max(1)))) {
            Some((f, _)) => ctx.out.bulk(f),
            None => ctx.out.null(),
        }
        return;
    };
    let Some(hv) = hv.filter(|hv| !hv.is_empty() && count != 0) else {
        ctx.out.empty_array();
        return;
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
}
