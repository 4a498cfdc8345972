//! Commands over keys regardless of type: DEL/EXISTS/TYPE, KEYS and SCAN,
//! RANDOMKEY, RENAME/COPY, TOUCH, OBJECT, DBSIZE and FLUSH*.

use super::hashes::parse_scan_options;
use super::{eq_ic, Ctx};
use crate::errors;
use crate::numeric;
use crate::store::glob::glob_match;
use crate::store::Value;

pub fn del(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut n = 0;
    for key in &args[1..] {
        let (h, mut s) = ctx.srv.ks.lock(key);
        n += s.delete(h, key, ctx.now) as i64;
    }
    ctx.out.int(n);
}

pub fn exists(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut n = 0;
    for key in &args[1..] {
        let (h, mut s) = ctx.srv.ks.lock(key);
        n += s.read(h, key, ctx.now).is_some() as i64;
    }
    ctx.out.int(n);
}

pub fn touch(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut n = 0;
    for key in &args[1..] {
        let (h, mut s) = ctx.srv.ks.lock(key);
        n += s.touch(h, key, ctx.now).is_some() as i64;
    }
    ctx.out.int(n);
}

pub fn type_(ctx: &mut Ctx, args: &[&[u8]]) {
    let (h, mut s) = ctx.srv.ks.lock(args[1]);
    let name = match s.read(h, args[1], ctx.now) {
        Some(pos) => s.entry(pos).value.kind().name(),
        None => "none",
    };
    ctx.out.simple(name);
}

pub fn keys(ctx: &mut Ctx, args: &[&[u8]]) {
    let pattern = args[1];
    let all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    // Stop collecting once the reply could not be sent anyway.
    let limit = crate::server::connection::OUTPUT_LIMIT;
    let mut bytes = 0usize;
    ctx.srv.ks.for_each_live(ctx.now, |e| {
        if all || glob_match(pattern, &e.key, false) {
            bytes += e.key.len() + 16;
            found.push(e.key.to_vec());
        }
        bytes <= limit
    });
    if bytes > limit {
        tracing::warn!(
            "closing client {}: KEYS reply passed the output buffer limit",
            ctx.client.handle.addr
        );
        ctx.srv
            .stats
            .output_limit_disconnections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.after = super::After::Drop;
        return;
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
}

pub fn scan(ctx: &mut Ctx, args: &[&[u8]]) {
    let Some(cursor) = numeric::parse_cursor(args[1]) else {
        return ctx.error(errors::INVALID_CURSOR);
    };
    let Some(opts) = parse_scan_options(ctx, args, 2, true) else {
        return;
    };
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = ctx.srv.ks.scan(cursor, opts.count, ctx.now, |e| {
        if let Some(t) = opts.type_name {
            if !t.eq_ignore_ascii_case(e.value.kind().name().as_bytes()) {
                return;
            }
        }
        if opts.pattern.is_none_or(|p| glob_match(p, &e.key, false)) {
            found.push(e.key.to_vec());
        }
    });
    ctx.out.array(2);
    ctx.out.bulk_u64(next);
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
}

pub fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) {
    match ctx.srv.ks.random_key(ctx.now) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
}

fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) {
    let (src, dst) = (args[1], args[2]);
    let hashes = [ctx.srv.ks.hash(src), ctx.srv.ks.hash(dst)];
    let mut locked = ctx.srv.ks.lock_hashes(&hashes);
    let Some(pos) = locked.shard(hashes[0]).live(hashes[0], src, ctx.now) else {
        return ctx.error(errors::NO_SUCH_KEY);
    };
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return;
    }
    if locked
        .shard(hashes[1])
        .live(hashes[1], dst, ctx.now)
        .is_some()
    {
        if nx {
            ctx.out.int(0);
            return;
        }
        locked.shard(hashes[1]).delete(hashes[1], dst, ctx.now);
    }
    // The source position may have moved if both keys share a shard.
    let s = locked.shard(hashes[0]);
    let pos = s.position(hashes[0], src).unwrap_or(pos);
    let entry = s.remove_at(pos);
    let d = locked.shard(hashes[1]);
    let new_pos = d.insert(hashes[1], dst, entry.value, entry.expire_at, ctx.now);
    d.set_expire(new_pos, entry.expire_at);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
}

pub fn rename(ctx: &mut Ctx, args: &[&[u8]]) {
    rename_generic(ctx, args, false);
}

pub fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) {
    rename_generic(ctx, args, true);
}

pub fn copy(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut replace = false;
    let mut db = 0i64;
    let mut j = 3;
    while j < args.len() {
        if eq_ic(args[j], "replace") {
            replace = true;
        } else if eq_ic(args[j], "db") && j + 1 < args.len() {
            match numeric::parse_i64(args[j + 1]) {
                Some(v) if v >= i32::MIN as i64 && v <= i32::MAX as i64 => db = v,
                _ => return ctx.not_integer(),
            }
            j += 1;
        } else {
            return ctx.syntax_error();
        }
        j += 1;
    }
    if db != 0 {
        return ctx.error(errors::DB_OUT_OF_RANGE);
    }
    let (src, dst) = (args[1], args[2]);
    if src == dst {
        return ctx.error(errors::SAME_OBJECT);
    }
    let hashes = [ctx.srv.ks.hash(src), ctx.srv.ks.hash(dst)];
    let mut locked = ctx.srv.ks.lock_hashes(&hashes);
    let s = locked.shard(hashes[0]);
    let Some(pos) = s.read(hashes[0], src, ctx.now) else {
        ctx.out.int(0);
        return;
    };
    let (value, expire_at) = {
        let e = s.entry(pos);
        (e.value.deep_clone(), e.expire_at)
    };
    let d = locked.shard(hashes[1]);
    if d.live(hashes[1], dst, ctx.now).is_some() {
        if !replace {
            ctx.out.int(0);
            return;
        }
        d.delete(hashes[1], dst, ctx.now);
    }
    d.insert(hashes[1], dst, value, expire_at, ctx.now);
    ctx.out.int(1);
}

/// OBJECT subcommands that inspect one key: runs `f` on the entry or replies null.
fn with_entry(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Ctx, &crate::store::Entry)) {
    let srv = ctx.srv;
    let (h, mut s) = srv.ks.lock(key);
    match s.live(h, key, ctx.now) {
        Some(pos) => f(ctx, s.entry(pos)),
        None => ctx.out.null(),
    }
}

pub fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) {
    with_entry(ctx, args[2], |ctx, e| ctx.out.bulk_str(e.value.encoding()));
}

pub fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) {
    with_entry(ctx, args[2], |ctx, e| {
        // S3-FIFO keeps a 2-bit access counter; the LRU policies keep none.
        if crate::evict::active_kind() == crate::config::EvictionPolicy::AllkeysS3fifo {
            ctx.out.int((e.meta & 0b11) as i64);
        } else {
            ctx.error(errors::LFU_NOT_SELECTED);
        }
    });
}

pub fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) {
    with_entry(ctx, args[2], |ctx, e| {
        let now = crate::store::shard::access_clock(ctx.now);
        ctx.out.int((now.wrapping_sub(e.access) / 1000) as i64);
    });
}

pub fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) {
    with_entry(ctx, args[2], |ctx, e| {
        // Redis shares the integers 0..9999 (one object, "infinite" refcount).
        let shared = matches!(e.value, Value::Int(i) if (0..10000).contains(&i))
            && ctx.srv.settings.read().max_memory == 0;
        ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
    });
}

pub fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) {
    super::server::help_lines(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
}

pub fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(ctx.srv.ks.dbsize() as i64);
}

pub fn flush(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 2 || (args.len() == 2 && !eq_ic(args[1], "async") && !eq_ic(args[1], "sync")) {
        return ctx.syntax_error();
    }
    ctx.srv.ks.flush();
    ctx.out.ok();
}
