//! TTL commands: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (with NX, XX, GT, LT),
//! TTL/PTTL, EXPIRETIME/PEXPIRETIME and PERSIST. Expiries are absolute unix
//! milliseconds; a time already past deletes the key at once.

use super::{eq_ic, int_arg, Ctx};
use crate::engine::store::notify::class;
use crate::engine::store::Access;
use crate::errors::{self, CmdResult};

const NX: u8 = 1;
const XX: u8 = 2;
const GT: u8 = 4;
const LT: u8 = 8;

fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], seconds: bool, relative: bool) -> CmdResult {
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
            return Err(errors::unsupported_option(opt));
        };
    }
    if flags & NX != 0 && flags & (XX | GT | LT) != 0 {
        return Err(errors::EXPIRE_NX_CONFLICT);
    }
    if flags & GT != 0 && flags & LT != 0 {
        return Err(errors::EXPIRE_GT_LT_CONFLICT);
    }
    let mut when = int_arg(args[2])?;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(errors::invalid_expire(ctx.spec.name));
        }
        when *= 1000;
    }
    let base = if relative { ctx.now as i64 } else { 0 };
    if when > i64::MAX - base {
        return Err(errors::invalid_expire(ctx.spec.name));
    }
    when += base;

    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find(Access::WRITE) else {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    };
    if flags != 0 {
        let current = k.shard.entry(pos).expire_at();
        let has = current != 0;
        let current = current as i64;
        let refuse = (flags & NX != 0 && has)
            || (flags & XX != 0 && !has)
            || (flags & GT != 0 && (!has || when <= current))
            || (flags & LT != 0 && has && when >= current);
        if refuse {
            ctx.out.int(0);
            ctx.propagate_nothing();
            return Ok(());
        }
    }
    // Replicas get the absolute time (or the DEL a past time amounts to).
    let past = when <= k.now as i64;
    if past {
        k.shard.expire_now(pos);
    } else {
        let _ = k.shard.set_expire(pos, when as u64);
    }
    ctx.out.int(1);
    ctx.notify(class::GENERIC, if past { "del" } else { "expire" }, args[1]);
    if past {
        ctx.propagate(&[&b"DEL"[..], args[1]]);
    } else if ctx.feeding() {
        let at = itoa::Buffer::new().format(when).as_bytes().to_vec();
        ctx.propagate(&[&b"PEXPIREAT"[..], args[1], &at]);
    }
    Ok(())
}

pub fn expire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, true, true)
}
pub fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, false, true)
}
pub fn expireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, true, false)
}
pub fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, false, false)
}

fn ttl_generic(ctx: &mut Ctx, key: &[u8], millis: bool, absolute: bool) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, key);
    let Some(pos) = k.find(Access::READ_NOTOUCH) else {
        ctx.out.int(-2);
        return Ok(());
    };
    let at = k.shard.entry(pos).expire_at();
    if at == 0 {
        ctx.out.int(-1);
        return Ok(());
    }
    let ttl = if absolute {
        at as i64
    } else {
        (at as i64 - k.now as i64).max(0)
    };
    ctx.out.int(if millis { ttl } else { (ttl + 500) / 1000 });
    Ok(())
}

pub fn ttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, false)
}
pub fn pttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, false)
}
pub fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, true)
}
pub fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, true)
}

pub fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match k.find(Access::WRITE) {
        Some(pos) if k.shard.entry(pos).expire_at() != 0 => {
            let _ = k.shard.set_expire(pos, 0);
            ctx.out.int(1);
            ctx.notify(class::GENERIC, "persist", args[1]);
        }
        _ => ctx.out.int(0),
    }
    Ok(())
}
