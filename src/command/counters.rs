//! Counter commands: INCR/DECR/INCRBY/DECRBY on 64-bit integers (with
//! Redis's overflow errors) and INCRBYFLOAT with `long double` precision.
//! Counters are stored as integers and keep their TTL when updated.

use super::{int_arg, Ctx};
use crate::engine::store::notify::class;
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, Kind, Value};
use crate::errors::{self, CmdResult};
use crate::numeric::{self, FloatAdd};

fn incr_by(ctx: &mut Ctx, key: &[u8], incr: i64) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, key);
    let pos = k.find_kind(Access::WRITE, Kind::String)?;
    let current = match pos.map(|p| k.value(p)) {
        None => 0,
        Some(ValueRef::Int(i)) => i,
        Some(v) => {
            let mut buf = itoa::Buffer::new();
            v.as_bytes(&mut buf)
                .and_then(numeric::parse_i64)
                .ok_or(errors::NOT_INTEGER)?
        }
    };
    let next = current.checked_add(incr).ok_or(errors::OVERFLOW)?;
    match pos {
        Some(p) => {
            let _ = k.shard.overwrite(p, Value::Int(next));
        }
        None => {
            k.insert(Value::Int(next), 0);
        }
    }
    ctx.out.int(next);
    ctx.notify(class::STRING, "incrby", key);
    Ok(())
}

pub fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], 1)
}

pub fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], -1)
}

pub fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = int_arg(args[2])?;
    incr_by(ctx, args[1], n)
}

pub fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = int_arg(args[2])?;
    if n == i64::MIN {
        return Err(errors::DECR_OVERFLOW);
    }
    incr_by(ctx, args[1], -n)
}

pub fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = k.find_kind(Access::WRITE, Kind::String)?;
    let mut buf = itoa::Buffer::new();
    let current = pos.and_then(|p| k.value(p).as_bytes(&mut buf));
    let result = match numeric::float_add(current, args[2]) {
        FloatAdd::Ok(r) => r,
        FloatAdd::CurrentInvalid | FloatAdd::IncrementInvalid => return Err(errors::NOT_FLOAT),
        FloatAdd::IncrementInfinite | FloatAdd::ResultNotFinite => return Err(errors::NAN_OR_INF),
    };
    ctx.out.bulk(&result);
    let value = Value::string(&result);
    match pos {
        Some(p) => {
            let _ = k.shard.overwrite(p, value);
        }
        None => {
            k.insert(value, 0);
        }
    }
    // Replicas get the result, not the float arithmetic.
    ctx.propagate(&[&b"SET"[..], args[1], &result, b"KEEPTTL"]);
    ctx.notify(class::STRING, "incrbyfloat", args[1]);
    Ok(())
}
