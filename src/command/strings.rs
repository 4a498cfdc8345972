//! String commands: GET/SET and their variants, ranges, APPEND, and the
//! multi-key MSET/MSETNX/MGET (atomic across shards).

use super::{eq_ic, Ctx};
use crate::errors;
use crate::store::Value;

/// Largest string a command may build (Redis's proto-max-bulk-len).
pub const MAX_STRING: u64 = 512 * 1024 * 1024;

/// How an expiry argument is interpreted.
#[derive(Clone, Copy)]
pub enum ExpireUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: unix seconds.
    UnixSeconds,
    /// PXAT: unix milliseconds.
    UnixMillis,
}

/// Parses an expiry argument into absolute unix milliseconds, replying with
/// Redis's error (`invalid expire time in '<cmd>' command`) when it is not valid.
pub fn parse_expire(ctx: &mut Ctx, arg: &[u8], unit: ExpireUnit) -> Option<u64> {
    let v = ctx.int_arg(arg)?;
    let seconds = matches!(unit, ExpireUnit::Seconds | ExpireUnit::UnixSeconds);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        ctx.error(&errors::invalid_expire(ctx.spec.name));
        return None;
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(unit, ExpireUnit::Seconds | ExpireUnit::Millis) {
        ms = ms.wrapping_add(ctx.now as i64);
    }
    if ms <= 0 {
        ctx.error(&errors::invalid_expire(ctx.spec.name));
        return None;
    }
    Some(ms as u64)
}

/// The absolute expiry of an optional expiry option (0 = none); `None`
/// after an error reply.
fn resolve_expire(ctx: &mut Ctx, expire: Option<(ExpireUnit, &[u8])>) -> Option<u64> {
    match expire {
        Some((unit, arg)) => parse_expire(ctx, arg, unit),
        None => Some(0),
    }
}

/// Replies with a string value (`None` → null).
fn reply_value(ctx: &mut Ctx, v: Option<&Value>) {
    match v {
        None => ctx.out.null(),
        Some(Value::Inline { len, bytes }) => ctx.out.bulk(&bytes[..*len as usize]),
        Some(Value::Str(b)) => ctx.out.bulk(b),
        Some(Value::Raw(b)) => ctx.out.bulk(b),
        Some(Value::Int(i)) => ctx.out.bulk_int(*i),
        Some(Value::Hash(_)) => ctx.wrongtype(),
    }
}

pub fn get(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    match s.read(h, args[1], ctx.now) {
        Some(pos) => reply_value(ctx, Some(&s.entry(pos).value)),
        None => ctx.out.null(),
    }
}

const F_NX: u32 = 1;
const F_XX: u32 = 2;
const F_GET: u32 = 4;
const F_KEEPTTL: u32 = 8;
const F_EX: u32 = 16;
const F_PX: u32 = 32;
const F_EXAT: u32 = 64;
const F_PXAT: u32 = 128;
const F_PERSIST: u32 = 256;
const ANY_EXPIRE: u32 = F_EX | F_PX | F_EXAT | F_PXAT;

/// Option flags plus the expiry argument, if any.
type StringOptions<'a> = (u32, Option<(ExpireUnit, &'a [u8])>);

/// Parses SET / GETEX options the way Redis's parseExtendedStringArguments does.
fn parse_string_options<'a>(
    ctx: &mut Ctx,
    args: &[&'a [u8]],
    start: usize,
    is_set: bool,
) -> Option<StringOptions<'a>> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = start;
    while j < args.len() {
        let opt = args[j];
        let has_next = j + 1 < args.len();
        let unit_opt = |flag: u32, others: u32| flags & others == 0 && has_next && flag != 0;
        if is_set && eq_ic(opt, "nx") && flags & F_XX == 0 {
            flags |= F_NX;
        } else if is_set && eq_ic(opt, "xx") && flags & F_NX == 0 {
            flags |= F_XX;
        } else if is_set && eq_ic(opt, "get") {
            flags |= F_GET;
        } else if is_set && eq_ic(opt, "keepttl") && flags & (F_PERSIST | ANY_EXPIRE) == 0 {
            flags |= F_KEEPTTL;
        } else if !is_set && eq_ic(opt, "persist") && flags & (ANY_EXPIRE | F_KEEPTTL) == 0 {
            flags |= F_PERSIST;
        } else if eq_ic(opt, "ex") && unit_opt(F_EX, F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT)
        {
            flags |= F_EX;
            expire = Some((ExpireUnit::Seconds, args[j + 1]));
            j += 1;
        } else if eq_ic(opt, "px") && unit_opt(F_PX, F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT)
        {
            flags |= F_PX;
            expire = Some((ExpireUnit::Millis, args[j + 1]));
            j += 1;
        } else if eq_ic(opt, "exat")
            && unit_opt(F_EXAT, F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT)
        {
            flags |= F_EXAT;
            expire = Some((ExpireUnit::UnixSeconds, args[j + 1]));
            j += 1;
        } else if eq_ic(opt, "pxat")
            && unit_opt(F_PXAT, F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX)
        {
            flags |= F_PXAT;
            expire = Some((ExpireUnit::UnixMillis, args[j + 1]));
            j += 1;
        } else {
            ctx.syntax_error();
            return None;
        }
        j += 1;
    }
    Some((flags, expire))
}

/// The shared body of SET, SETNX, SETEX, PSETEX and GETSET.
fn set_generic(ctx: &mut Ctx, key: &[u8], value: &[u8], flags: u32, expire_at: u64) -> bool {
    let (h, mut s) = ctx.srv.ks.lock(key);
    let pos = if flags & F_GET != 0 {
        let pos = s.read(h, key, ctx.now);
        match pos.map(|p| &s.entry(p).value) {
            Some(v) if !v.is_string() => {
                ctx.wrongtype();
                return false;
            }
            v => reply_value(ctx, v),
        }
        pos
    } else {
        s.live(h, key, ctx.now)
    };
    if (flags & F_NX != 0 && pos.is_some()) || (flags & F_XX != 0 && pos.is_none()) {
        if flags & F_GET == 0 {
            ctx.out.null();
        }
        return false;
    }
    let pos = s.upsert(
        h,
        key,
        Value::from_bytes(value),
        flags & F_KEEPTTL != 0,
        ctx.now,
    );
    if expire_at != 0 {
        s.set_expire(pos, expire_at);
    }
    true
}

pub fn set(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((flags, expire)) = parse_string_options(ctx, args, 3, true) else {
        return;
    };
    let Some(expire_at) = resolve_expire(ctx, expire) else {
        return;
    };
    if set_generic(ctx, args[1], args[2], flags, expire_at) && flags & F_GET == 0 {
        ctx.out.ok();
    }
}

pub fn setnx(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    if s.live(h, args[1], ctx.now).is_some() {
        ctx.out.int(0);
    } else {
        s.insert(h, args[1], Value::from_bytes(args[2]), 0, ctx.now);
        ctx.out.int(1);
    }
}

fn setex_generic(ctx: &mut Ctx, args: &[&[u8]], unit: ExpireUnit) {
    let Some(at) = parse_expire(ctx, args[2], unit) else {
        return;
    };
    set_generic(ctx, args[1], args[3], 0, at);
    ctx.out.ok();
}

pub fn setex(ctx: &mut Ctx, args: &[&[u8]]) {
    setex_generic(ctx, args, ExpireUnit::Seconds);
}

pub fn psetex(ctx: &mut Ctx, args: &[&[u8]]) {
    setex_generic(ctx, args, ExpireUnit::Millis);
}

pub fn getset(ctx: &mut Ctx, args: &[&[u8]]) {
    set_generic(ctx, args[1], args[2], F_GET, 0);
}

pub fn getdel(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    match s.read(h, args[1], ctx.now) {
        None => ctx.out.null(),
        Some(pos) if !s.entry(pos).value.is_string() => ctx.wrongtype(),
        Some(pos) => {
            let e = s.remove_at(pos);
            reply_value(ctx, Some(&e.value));
        }
    }
}

pub fn getex(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some((flags, expire)) = parse_string_options(ctx, args, 2, false) else {
        return;
    };
    let srv = ctx.srv;
    let (h, mut s) = srv.ks.lock(args[1]);
    let Some(pos) = s.read(h, args[1], ctx.now) else {
        ctx.out.null();
        return;
    };
    if !s.entry(pos).value.is_string() {
        ctx.wrongtype();
        return;
    }
    // Redis validates the expiry only once it knows the key holds a string.
    let Some(expire_at) = resolve_expire(ctx, expire) else {
        return;
    };
    reply_value(ctx, Some(&s.entry(pos).value));
    if expire_at != 0 {
        if expire_at <= ctx.now {
            s.remove_at(pos);
            s.stats.expired += 1;
        } else {
            s.set_expire(pos, expire_at);
        }
    } else if flags & F_PERSIST != 0 {
        s.set_expire(pos, 0);
    }
}

/// Checks that `size + append` stays within the string size limit.
fn check_string_length(ctx: &mut Ctx, size: u64, append: u64) -> bool {
    match size.checked_add(append) {
        Some(total) if total <= MAX_STRING => true,
        _ => {
            ctx.error(errors::STRING_TOO_LONG);
            false
        }
    }
}

pub fn append(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    match s.live(h, args[1], ctx.now) {
        None => {
            s.insert(h, args[1], Value::from_bytes(args[2]), 0, ctx.now);
            ctx.out.int(args[2].len() as i64);
        }
        Some(pos) => {
            let v = &s.entry(pos).value;
            if !v.is_string() {
                ctx.wrongtype();
                return;
            }
            if !check_string_length(ctx, v.str_len() as u64, args[2].len() as u64) {
                return;
            }
            let len = s.update(pos, |v| {
                let raw = v.make_raw();
                raw.extend_from_slice(args[2]);
                raw.len()
            });
            ctx.out.int(len as i64);
        }
    }
}

pub fn strlen(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    match s.read(h, args[1], ctx.now) {
        None => ctx.out.int(0),
        Some(pos) => match &s.entry(pos).value {
            v if v.is_string() => ctx.out.int(v.str_len() as i64),
            _ => ctx.wrongtype(),
        },
    }
}

pub fn getrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(mut start) = ctx.int_arg(args[2]) else {
        return;
    };
    let Some(mut end) = ctx.int_arg(args[3]) else {
        return;
    };
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Some(pos) = s.read(h, args[1], ctx.now) else {
        ctx.out.bulk(b"");
        return;
    };
    let mut buf = itoa::Buffer::new();
    let Some(bytes) = s.entry(pos).value.as_bytes(&mut buf) else {
        ctx.wrongtype();
        return;
    };
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return;
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&bytes[start as usize..=end as usize]);
    }
}

pub fn setrange(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(offset) = ctx.int_arg(args[2]) else {
        return;
    };
    if offset < 0 {
        ctx.error(errors::OFFSET_OUT_OF_RANGE);
        return;
    }
    let offset = offset as u64;
    let value = args[3];
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let pos = match s.live(h, args[1], ctx.now) {
        None => {
            if value.is_empty() {
                ctx.out.int(0);
                return;
            }
            if !check_string_length(ctx, offset, value.len() as u64) {
                return;
            }
            s.insert(h, args[1], Value::Raw(Box::default()), 0, ctx.now)
        }
        Some(pos) => {
            let v = &s.entry(pos).value;
            if !v.is_string() {
                ctx.wrongtype();
                return;
            }
            if value.is_empty() {
                ctx.out.int(v.str_len() as i64);
                return;
            }
            if !check_string_length(ctx, offset, value.len() as u64) {
                return;
            }
            pos
        }
    };
    let len = s.update(pos, |v| {
        let raw = v.make_raw();
        let end = offset as usize + value.len();
        if raw.len() < end {
            raw.resize(end, 0);
        }
        raw[offset as usize..end].copy_from_slice(value);
        raw.len()
    });
    ctx.out.int(len as i64);
}

/// Hashes of the keys at `args[first..]` taken every `step`.
fn key_hashes(ctx: &Ctx, args: &[&[u8]], first: usize, step: usize) -> Vec<u64> {
    args[first..]
        .iter()
        .step_by(step)
        .map(|k| ctx.srv.ks.hash(k))
        .collect()
}

pub fn mset(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() % 2 == 0 {
        ctx.arity_error();
        return;
    }
    let hashes = key_hashes(ctx, args, 1, 2);
    let mut locked = ctx.srv.ks.lock_hashes(&hashes);
    for (i, pair) in args[1..].chunks_exact(2).enumerate() {
        locked.shard(hashes[i]).upsert(
            hashes[i],
            pair[0],
            Value::from_bytes(pair[1]),
            false,
            ctx.now,
        );
    }
    ctx.out.ok();
}

pub fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() % 2 == 0 {
        ctx.arity_error();
        return;
    }
    let hashes = key_hashes(ctx, args, 1, 2);
    let mut locked = ctx.srv.ks.lock_hashes(&hashes);
    for (i, pair) in args[1..].chunks_exact(2).enumerate() {
        if locked
            .shard(hashes[i])
            .live(hashes[i], pair[0], ctx.now)
            .is_some()
        {
            ctx.out.int(0);
            return;
        }
    }
    for (i, pair) in args[1..].chunks_exact(2).enumerate() {
        locked.shard(hashes[i]).upsert(
            hashes[i],
            pair[0],
            Value::from_bytes(pair[1]),
            false,
            ctx.now,
        );
    }
    ctx.out.int(1);
}

pub fn mget(ctx: &mut Ctx, args: &[&[u8]]) {
    let hashes = key_hashes(ctx, args, 1, 1);
    let mut locked = ctx.srv.ks.lock_hashes(&hashes);
    ctx.out.array(args.len() - 1);
    for (i, key) in args[1..].iter().enumerate() {
        let s = locked.shard(hashes[i]);
        match s.read(hashes[i], key, ctx.now).map(|p| &s.entry(p).value) {
            Some(v) if v.is_string() => reply_value(ctx, Some(v)),
            _ => ctx.out.null(),
        }
    }
}
