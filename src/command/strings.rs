//! String commands: GET/SET and their variants, ranges, APPEND, and the
//! multi-key MSET/MSETNX/MGET (atomic: dispatch locks their shards together).

use super::{eq_ic, int_arg, Ctx};
use crate::engine::store::notify::class;
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, Kind, Value};
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

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

/// Parses an expiry argument into absolute unix milliseconds, failing with
/// Redis's error (`invalid expire time in '<cmd>' command`) when it is not valid.
pub fn parse_expire(ctx: &Ctx, arg: &[u8], unit: ExpireUnit) -> CmdResult<u64> {
    let v = int_arg(arg)?;
    let seconds = matches!(unit, ExpireUnit::Seconds | ExpireUnit::UnixSeconds);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(errors::invalid_expire(ctx.spec.name));
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(unit, ExpireUnit::Seconds | ExpireUnit::Millis) {
        ms = ms.wrapping_add(ctx.now as i64);
    }
    if ms <= 0 {
        return Err(errors::invalid_expire(ctx.spec.name));
    }
    Ok(ms as u64)
}

/// The absolute expiry of an optional expiry option (0 = none).
fn resolve_expire(ctx: &Ctx, expire: Option<(ExpireUnit, &[u8])>) -> CmdResult<u64> {
    match expire {
        Some((unit, arg)) => parse_expire(ctx, arg, unit),
        None => Ok(0),
    }
}

/// Writes a string value as a bulk reply.
#[inline]
pub fn bulk_value(out: &mut Reply, v: ValueRef) {
    match v {
        ValueRef::Bytes(b) => out.bulk(b),
        ValueRef::Int(i) => out.bulk_int(i),
        ValueRef::Boxed(Value::Str(b)) => out.bulk(b),
        ValueRef::Boxed(Value::Raw(b)) => out.bulk(b),
        ValueRef::Boxed(Value::Inline { len, bytes }) => out.bulk(&bytes[..*len as usize]),
        ValueRef::Boxed(Value::Int(i)) => out.bulk_int(*i),
        _ => out.null(),
    }
}

pub fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match k.find_kind(access, Kind::String)? {
        Some(pos) => bulk_value(ctx.out, k.value(pos)),
        None => ctx.out.null(),
    }
    Ok(())
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
    args: &[&'a [u8]],
    start: usize,
    is_set: bool,
) -> CmdResult<StringOptions<'a>> {
    let mut flags = 0u32;
    let mut expire = None;
    let mut j = start;
    while j < args.len() {
        let opt = args[j];
        let has_next = j + 1 < args.len();
        let unit_opt = |others: u32| flags & others == 0 && has_next;
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
        } else if eq_ic(opt, "ex") && unit_opt(F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT) {
            flags |= F_EX;
            expire = Some((ExpireUnit::Seconds, args[j + 1]));
            j += 1;
        } else if eq_ic(opt, "px") && unit_opt(F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT) {
            flags |= F_PX;
            expire = Some((ExpireUnit::Millis, args[j + 1]));
            j += 1;
        } else if eq_ic(opt, "exat") && unit_opt(F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT) {
            flags |= F_EXAT;
            expire = Some((ExpireUnit::UnixSeconds, args[j + 1]));
            j += 1;
        } else if eq_ic(opt, "pxat") && unit_opt(F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX) {
            flags |= F_PXAT;
            expire = Some((ExpireUnit::UnixMillis, args[j + 1]));
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((flags, expire))
}

/// The shared body of SET, SETNX, SETEX, PSETEX and GETSET. With F_GET the
/// old value (or null) is written; otherwise a refused NX/XX writes null.
/// True when the value was set.
fn set_generic(
    ctx: &mut Ctx,
    key: &[u8],
    value: &[u8],
    flags: u32,
    expire_at: u64,
) -> CmdResult<bool> {
    let read = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, key);
    let pos = if flags & F_GET != 0 {
        let pos = k.find_kind(read, Kind::String)?;
        match pos {
            Some(p) => bulk_value(ctx.out, k.value(p)),
            None => ctx.out.null(),
        }
        pos
    } else {
        k.find(Access::WRITE)
    };
    if (flags & F_NX != 0 && pos.is_some()) || (flags & F_XX != 0 && pos.is_none()) {
        if flags & F_GET == 0 {
            ctx.out.null();
        }
        return Ok(false);
    }
    match pos {
        Some(p) => {
            // KEEPTTL and an expiry exclude each other; without KEEPTTL the
            // key takes the new expiry or none.
            let p = if flags & F_KEEPTTL == 0 {
                k.shard.set_expire(p, expire_at)
            } else {
                p
            };
            let _ = k.shard.overwrite_string(p, value);
        }
        None => {
            k.insert_string(value, expire_at);
        }
    }
    ctx.notify(class::STRING, "set", key);
    if expire_at != 0 {
        ctx.notify(class::GENERIC, "expire", key);
    }
    Ok(true)
}

pub fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (flags, expire) = parse_string_options(args, 3, true)?;
    let expire_at = resolve_expire(ctx, expire)?;
    let done = set_generic(ctx, args[1], args[2], flags, expire_at)?;
    if done && flags & F_GET == 0 {
        ctx.out.ok();
    }
    if !done {
        ctx.propagate_nothing();
    } else if expire_at != 0 {
        propagate_set_pxat(ctx, args[1], args[2], expire_at);
    }
    Ok(())
}

/// Replicas get `SET key value PXAT <ms>` for a SET with a relative (or any)
/// expiry, as Redis feeds it.
fn propagate_set_pxat(ctx: &mut Ctx, key: &[u8], value: &[u8], expire_at: u64) {
    if ctx.feeding() {
        let at = itoa::Buffer::new().format(expire_at).as_bytes().to_vec();
        ctx.propagate(&[&b"SET"[..], key, value, b"PXAT", &at]);
    }
}

pub fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    if k.find(Access::WRITE).is_some() {
        ctx.out.int(0);
    } else {
        k.insert(Value::from_bytes(args[2]), 0);
        ctx.out.int(1);
        ctx.notify(class::STRING, "set", args[1]);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, args: &[&[u8]], unit: ExpireUnit) -> CmdResult {
    let at = parse_expire(ctx, args[2], unit)?;
    set_generic(ctx, args[1], args[3], 0, at)?;
    ctx.out.ok();
    propagate_set_pxat(ctx, args[1], args[3], at);
    Ok(())
}

pub fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, args, ExpireUnit::Seconds)
}

pub fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, args, ExpireUnit::Millis)
}

pub fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_generic(ctx, args[1], args[2], F_GET, 0).map(|_| ())
}

pub fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match k.find_kind(access, Kind::String)? {
        None => {
            ctx.out.null();
            ctx.propagate_nothing();
        }
        Some(pos) => {
            let e = k.shard.remove_at(pos);
            bulk_value(ctx.out, (&e.value).into());
            ctx.propagate(&[&b"DEL"[..], args[1]]);
            ctx.notify(class::GENERIC, "del", args[1]);
        }
    }
    Ok(())
}

pub fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (flags, expire) = parse_string_options(args, 2, false)?;
    let access = ctx.access(Access::READ);
    let db = ctx.sess.db;
    let mut k = ctx.unit.key(db, args[1]);
    let Some(pos) = k.find_kind(access, Kind::String)? else {
        ctx.out.null();
        ctx.propagate_nothing();
        return Ok(());
    };
    // Redis validates the expiry only once it knows the key holds a string.
    let expire_at = match expire {
        Some((unit, arg)) => {
            let now = k.now;
            expire_time(arg, unit, now, "getex")?
        }
        None => 0,
    };
    bulk_value(ctx.out, k.value(pos));
    // What replicas get: the absolute expiry, a DEL, a PERSIST, or nothing.
    let mut feed: Option<Vec<Vec<u8>>> = None;
    let key = args[1].to_vec();
    if expire_at != 0 {
        if expire_at <= k.now {
            k.shard.expire_now(pos);
            feed = Some(vec![b"DEL".to_vec(), key]);
        } else {
            let _ = k.shard.set_expire(pos, expire_at);
            let at = itoa::Buffer::new().format(expire_at).as_bytes().to_vec();
            feed = Some(vec![b"PEXPIREAT".to_vec(), key, at]);
        }
    } else if flags & F_PERSIST != 0 && k.shard.entry(pos).expire_at() != 0 {
        let _ = k.shard.set_expire(pos, 0);
        feed = Some(vec![b"PERSIST".to_vec(), key]);
    }
    if let Some(cmd) = &feed {
        let event = match cmd[0].as_slice() {
            b"DEL" => "del",
            b"PERSIST" => "persist",
            _ => "expire",
        };
        ctx.notify(class::GENERIC, event, args[1]);
    }
    match feed {
        Some(cmd) => ctx.propagate(&cmd),
        None => ctx.propagate_nothing(),
    }
    Ok(())
}

/// [`parse_expire`] for callers that hold a key (and so cannot lend `ctx`).
fn expire_time(arg: &[u8], unit: ExpireUnit, now: u64, cmd: &str) -> CmdResult<u64> {
    let v = int_arg(arg)?;
    let seconds = matches!(unit, ExpireUnit::Seconds | ExpireUnit::UnixSeconds);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(errors::invalid_expire(cmd));
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if matches!(unit, ExpireUnit::Seconds | ExpireUnit::Millis) {
        ms = ms.wrapping_add(now as i64);
    }
    if ms <= 0 {
        return Err(errors::invalid_expire(cmd));
    }
    Ok(ms as u64)
}

/// Checks that `size + append` stays within the string size limit.
fn check_string_length(size: u64, append: u64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= MAX_STRING => Ok(()),
        _ => Err(errors::STRING_TOO_LONG),
    }
}

pub fn append(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match k.find_kind(Access::WRITE, Kind::String)? {
        None => {
            k.insert(Value::from_bytes(args[2]), 0);
            ctx.out.int(args[2].len() as i64);
        }
        Some(pos) => {
            check_string_length(k.value(pos).str_len() as u64, args[2].len() as u64)?;
            let len = k.shard.update(pos, |v| {
                let raw = v.make_raw();
                raw.extend_from_slice(args[2]);
                raw.len()
            });
            ctx.out.int(len as i64);
        }
    }
    ctx.notify(class::STRING, "append", args[1]);
    Ok(())
}

pub fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let len = match k.find_kind(access, Kind::String)? {
        None => 0,
        Some(pos) => k.value(pos).str_len(),
    };
    ctx.out.int(len as i64);
    Ok(())
}

pub fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut start = int_arg(args[2])?;
    let mut end = int_arg(args[3])?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(access, Kind::String)? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let mut buf = itoa::Buffer::new();
    let bytes = k.value(pos).as_bytes(&mut buf).unwrap_or_default();
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
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
    Ok(())
}

pub fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = int_arg(args[2])?;
    if offset < 0 {
        return Err(errors::OFFSET_OUT_OF_RANGE);
    }
    let offset = offset as u64;
    let value = args[3];
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = match k.find_kind(Access::WRITE, Kind::String)? {
        None => {
            if value.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            check_string_length(offset, value.len() as u64)?;
            k.insert(Value::Raw(Box::default()), 0)
        }
        Some(pos) => {
            if value.is_empty() {
                ctx.out.int(k.value(pos).str_len() as i64);
                return Ok(());
            }
            check_string_length(offset, value.len() as u64)?;
            pos
        }
    };
    let len = k.shard.update(pos, |v| {
        let raw = v.make_raw();
        let end = offset as usize + value.len();
        if raw.len() < end {
            raw.resize(end, 0);
        }
        raw[offset as usize..end].copy_from_slice(value);
        raw.len()
    });
    ctx.out.int(len as i64);
    ctx.notify(class::STRING, "setrange", args[1]);
    Ok(())
}

pub fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() % 2 == 0 {
        return Err(ctx.arity_error());
    }
    for pair in args[1..].chunks_exact(2) {
        ctx.unit
            .key(ctx.sess.db, pair[0])
            .upsert(Value::from_bytes(pair[1]), false);
        ctx.notify(class::STRING, "set", pair[0]);
    }
    ctx.out.ok();
    Ok(())
}

pub fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() % 2 == 0 {
        return Err(ctx.arity_error());
    }
    let db = ctx.sess.db;
    let any = args[1..]
        .chunks_exact(2)
        .any(|pair| ctx.unit.key(db, pair[0]).find(Access::WRITE).is_some());
    if any {
        ctx.out.int(0);
        return Ok(());
    }
    for pair in args[1..].chunks_exact(2) {
        ctx.unit
            .key(db, pair[0])
            .upsert(Value::from_bytes(pair[1]), false);
        ctx.notify(class::STRING, "set", pair[0]);
    }
    ctx.out.int(1);
    Ok(())
}

pub fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        let mut k = ctx.unit.key(ctx.sess.db, key);
        match k.find(access) {
            Some(pos) if k.value(pos).is_string() => bulk_value(ctx.out, k.value(pos)),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}
