//! TTL commands: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (with NX, XX, GT, LT),
//! TTL/PTTL, EXPIRETIME/PEXPIRETIME and PERSIST. Expiries are absolute unix
//! milliseconds; a time already past deletes the key at once.

use super::{eq_ic, Ctx};
use crate::errors;

const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;

fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], seconds: bool, relative: bool) {
    let mut flags = 0u8;
    for opt in &args[3..] {
        flags |= if eq_ic(opt, "nx") {
            NX
        } else if eq_ic(opt, "xx") {
            XX
        } else if eq_ic(opt, "gt") {
            GT
        } else if eq_ic(opt, "lt") {
            LT
        } else {
            return ctx.error_bytes(&errors::unsupported_option(opt));
        };
    }
    if flags & NX != 0 && flags & (XX | GT | LT) != 0 {
        return ctx.error(errors::EXPIRE_NX_CONFLICT);
    }
    if flags & GT != 0 && flags & LT != 0 {
        return ctx.error(errors::EXPIRE_GT_LT_CONFLICT);
    }
    let Some(mut when) = ctx.int_arg(args[2]) else {
        return;
    };
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return ctx.error(&errors::invalid_expire(ctx.spec.name));
        }
        when *= 1000;
    }
    let base = if relative { ctx.now as i64 } else { 0 };
    if when > i64::MAX - base {
        return ctx.error(&errors::invalid_expire(ctx.spec.name));
    }
    when += base;

    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let Some(pos) = s.live(h, args[1], ctx.now) else {
        ctx.out.int(0);
        return;
    };
    if flags != 0 {
        let current = s.entry(pos).expire_at;
        let has = current != 0;
        let current = current as i64;
        let refuse = (flags & NX != 0 && has)
            || (flags & XX != 0 && !has)
            || (flags & GT != 0 && (!has || when <= current))
            || (flags & LT != 0 && has && when >= current);
        if refuse {
            ctx.out.int(0);
            return;
        }
    }
    if when <= ctx.now as i64 {
        s.remove_at(pos);
        s.stats.expired += 1;
    } else {
        s.set_expire(pos, when as u64);
    }
    ctx.out.int(1);
}

pub fn expire(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, true, true);
}
pub fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, false, true);
}
pub fn expireat(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, true, false);
}
pub fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) {
    expire_generic(ctx, args, false, false);
}

fn ttl_generic(ctx: &mut Ctx, key: &[u8], millis: bool, absolute: bool) {
    let (h, mut s) = ctx.srv.ks.lock(key);
    let Some(pos) = s.read(h, key, ctx.now) else {
        ctx.out.int(-2);
        return;
    };
    let at = s.entry(pos).expire_at;
    if at == 0 {
        ctx.out.int(-1);
        return;
    }
    let ttl = if absolute {
        at as i64
    } else {
        (at as i64 - ctx.now as i64).max(0)
    };
    ctx.out.int(if millis { ttl } else { (ttl + 500) / 1000 });
}

pub fn ttl(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], false, false);
}
pub fn pttl(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], true, false);
}
pub fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], false, true);
}
pub fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) {
    ttl_generic(ctx, args[1], true, true);
}

pub fn persist(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    match s.live(h, args[1], ctx.now) {
        Some(pos) if s.entry(pos).expire_at != 0 => {
            s.set_expire(pos, 0);
            ctx.out.int(1);
        }
        _ => ctx.out.int(0),
    }
}
