//! Counter commands: INCR/DECR/INCRBY/DECRBY on 64-bit integers (with
//! Redis's overflow errors) and INCRBYFLOAT with `long double` precision.
//! Counters are stored as integers and keep their TTL when updated.

use super::Ctx;
use crate::errors;
use crate::numeric::{self, FloatAdd};
use crate::store::Value;

fn incr_by(ctx: &mut Ctx, key: &[u8], incr: i64) {
    let (h, mut s) = ctx.srv.ks.lock(key);
    let pos = s.live(h, key, ctx.now);
    let current = match pos.map(|p| &s.entry(p).value) {
        None => 0,
        Some(Value::Int(i)) => *i,
        Some(Value::Hash(_)) => return ctx.wrongtype(),
        Some(v) => {
            let mut buf = itoa::Buffer::new();
            match v.as_bytes(&mut buf).and_then(numeric::parse_i64) {
                Some(i) => i,
                None => return ctx.not_integer(),
            }
        }
    };
    let Some(next) = current.checked_add(incr) else {
        return ctx.error(errors::OVERFLOW);
    };
    match pos {
        Some(p) => {
            s.replace_value(p, Value::Int(next));
        }
        None => {
            s.insert(h, key, Value::Int(next), 0, ctx.now);
        }
    }
    ctx.out.int(next);
}

pub fn incr(ctx: &mut Ctx, args: &[&[u8]]) {
    incr_by(ctx, args[1], 1);
}

pub fn decr(ctx: &mut Ctx, args: &[&[u8]]) {
    incr_by(ctx, args[1], -1);
}

pub fn incrby(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(n) = ctx.int_arg(args[2]) {
        incr_by(ctx, args[1], n);
    }
}

pub fn decrby(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(n) = ctx.int_arg(args[2]) else {
        return;
    };
    if n == i64::MIN {
        return ctx.error(errors::DECR_OVERFLOW);
    }
    incr_by(ctx, args[1], -n);
}

pub fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) {
    let key = args[1];
    let (h, mut s) = ctx.srv.ks.lock(key);
    let pos = s.live(h, key, ctx.now);
    let mut buf = itoa::Buffer::new();
    let current = match pos.map(|p| &s.entry(p).value) {
        None => None,
        Some(v) => match v.as_bytes(&mut buf) {
            Some(b) => Some(b),
            None => return ctx.wrongtype(),
        },
    };
    let result = match numeric::float_add(current, args[2]) {
        FloatAdd::Ok(r) => r,
        FloatAdd::CurrentInvalid | FloatAdd::IncrementInvalid => {
            return ctx.error(errors::NOT_FLOAT)
        }
        FloatAdd::IncrementInfinite | FloatAdd::ResultNotFinite => {
            return ctx.error(errors::NAN_OR_INF)
        }
    };
    ctx.out.bulk(&result);
    let value = Value::string(&result);
    match pos {
        Some(p) => {
            s.replace_value(p, value);
        }
        None => {
            s.insert(h, key, value, 0, ctx.now);
        }
    }
}
