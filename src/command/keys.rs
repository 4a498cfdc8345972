//! Commands over keys regardless of type: DEL/EXISTS/TYPE, KEYS and SCAN,
//! RANDOMKEY, RENAME/COPY, MOVE/SWAPDB, TOUCH, OBJECT, DBSIZE and FLUSH*. Multi-key
//! commands are atomic: dispatch locks all their shards before they run.

use super::hashes::parse_scan_options;
use super::table::CommandSpec;
use super::{eq_ic, After, Ctx};
use crate::engine::evict;
use crate::engine::store::glob::glob_match;
use crate::engine::store::notify::class;
use crate::engine::store::{Access, Rec, ValueRef};
use crate::errors::{self, CmdResult};
use crate::numeric;
use crate::protocol::Reply;

/// Pending reply bytes a command may build before the client counts as
/// past its output limit (the connection enforces the same figure).
pub const OUTPUT_LIMIT: usize = 64 * 1024 * 1024;

pub fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = ctx.sess.db;
    let mut n = 0;
    for key in &args[1..] {
        if ctx.unit.key(db, key).delete() {
            n += 1;
            ctx.notify(class::GENERIC, "del", key);
        }
    }
    ctx.out.int(n as i64);
    Ok(())
}

pub fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = ctx.sess.db;
    let n = args[1..]
        .iter()
        .filter(|k| ctx.unit.key(db, k).find(Access::READ_NOTOUCH).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = ctx.sess.db;
    let n = args[1..]
        .iter()
        .filter(|k| ctx.unit.key(db, k).find(Access::WRITE).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

pub fn type_(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let name = match k.find(Access::READ_NOTOUCH) {
        Some(pos) => k.value(pos).kind().name(),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

pub fn keys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pattern = args[1];
    let all = pattern == b"*";
    let mut found: Vec<Vec<u8>> = Vec::new();
    // Stop collecting once the reply could not be sent anyway.
    let mut bytes = 0usize;
    ctx.unit.for_each_live(ctx.sess.db, |e: Rec| {
        if all || glob_match(pattern, e.key(), false) {
            bytes += e.key().len() + 16;
            found.push(e.key().to_vec());
        }
        bytes <= OUTPUT_LIMIT
    });
    if bytes > OUTPUT_LIMIT {
        tracing::warn!(
            "closing client {}: KEYS reply passed the output buffer limit",
            ctx.sess.handle.addr
        );
        ctx.eng
            .stats
            .output_limit_disconnections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.after = After::Drop;
        return Ok(());
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

pub fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = numeric::parse_cursor(args[1]).ok_or(errors::INVALID_CURSOR)?;
    let opts = parse_scan_options(args, 2, true)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = ctx.unit.scan(ctx.sess.db, cursor, opts.count, |e| {
        if let Some(t) = opts.type_name {
            if !t.eq_ignore_ascii_case(e.value().kind().name().as_bytes()) {
                return;
            }
        }
        if opts.pattern.is_none_or(|p| glob_match(p, e.key(), false)) {
            found.push(e.key().to_vec());
        }
    });
    ctx.out.array(2);
    ctx.out.bulk_u64(next);
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

pub fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    match ctx.unit.random_key(ctx.sess.db) {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let db = ctx.sess.db;
    if ctx.unit.key(db, src).find(Access::WRITE).is_none() {
        return Err(errors::NO_SUCH_KEY);
    }
    let reply_done = |ctx: &mut Ctx, changed: bool| {
        if nx {
            ctx.out.int(changed as i64);
        } else {
            ctx.out.ok();
        }
    };
    if src == dst {
        reply_done(ctx, false);
        return Ok(());
    }
    let mut d = ctx.unit.key(db, dst);
    if d.find(Access::WRITE).is_some() {
        if nx {
            ctx.out.int(0);
            return Ok(());
        }
        d.delete();
    }
    // Positions move when entries leave a shard: look the source up again.
    let mut s = ctx.unit.key(db, src);
    let pos = s.find(Access::PEEK).expect("checked above");
    let entry = s.shard.remove_at(pos);
    ctx.unit.key(db, dst).insert_moved(entry);
    ctx.notify(class::GENERIC, "rename_from", src);
    ctx.notify(class::GENERIC, "rename_to", dst);
    super::blocking::signal(ctx, dst);
    reply_done(ctx, true);
    Ok(())
}

pub fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// COPY's options: (REPLACE given, target database).
fn copy_options(args: &[&[u8]], dbs: usize, cur: usize) -> CmdResult<(bool, usize)> {
    let (mut replace, mut db) = (false, cur);
    let mut j = 3;
    while j < args.len() {
        if eq_ic(args[j], "replace") {
            replace = true;
        } else if eq_ic(args[j], "db") && j + 1 < args.len() {
            db = super::db_arg(dbs, args[j + 1], None)?;
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((replace, db))
}

/// The (database, key) pairs MOVE or COPY will touch, so dispatch can lock
/// them in order before the handler runs. Arguments that do not parse
/// leave the target in the current database (the handler then fails
/// before touching anything).
pub fn other_db_keys<'a>(
    spec: &CommandSpec,
    dbs: usize,
    cur: usize,
    args: &[&'a [u8]],
) -> Vec<(usize, &'a [u8])> {
    if spec.name == "move" {
        let target = super::db_arg(dbs, args[2], None).unwrap_or(cur);
        vec![(cur, args[1]), (target, args[1])]
    } else {
        let target = copy_options(args, dbs, cur).map_or(cur, |(_, db)| db);
        vec![(cur, args[1]), (target, args[2])]
    }
}

pub fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cur = ctx.sess.db;
    let (replace, target) = copy_options(args, ctx.eng.dbs.count(), cur)?;
    if ctx.eng.cluster.is_some() && (cur != 0 || target != 0) {
        return Err(errors::COPY_DB_IN_CLUSTER);
    }
    let (src, dst) = (args[1], args[2]);
    if target == cur && src == dst {
        return Err(errors::SAME_OBJECT);
    }
    let access = ctx.access(Access::READ);
    let mut s = ctx.unit.key(cur, src);
    let Some(pos) = s.find(access) else {
        ctx.out.int(0);
        return Ok(());
    };
    let (value, expire_at) = {
        let e = s.shard.entry(pos);
        (e.value().to_value(), e.expire_at())
    };
    let mut d = ctx.unit.key(target, dst);
    if d.find(Access::WRITE).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        d.delete();
    }
    let pos = d.insert(value, expire_at);
    // Redis duplicates the object: a copied integer is not a shared one.
    d.shard.set_own_object(pos, true);
    ctx.notify_in(target, class::GENERIC, "copy_to", dst);
    ctx.eng.blocking.signal(target, dst);
    ctx.out.int(1);
    Ok(())
}

/// MOVE key db: the key, its value and its TTL leave the current database
/// for `db`, unless `db` already has the key.
pub fn move_key(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.eng.cluster.is_some() {
        return Err(errors::MOVE_IN_CLUSTER);
    }
    let cur = ctx.sess.db;
    let target = super::db_arg(ctx.eng.dbs.count(), args[2], None)?;
    if target == cur {
        return Err(errors::SAME_OBJECT);
    }
    let key = args[1];
    if ctx.unit.key(cur, key).find(Access::WRITE).is_none()
        || ctx.unit.key(target, key).find(Access::WRITE).is_some()
    {
        ctx.out.int(0);
        return Ok(());
    }
    let mut s = ctx.unit.key(cur, key);
    let pos = s.find(Access::PEEK).expect("checked above");
    let entry = s.shard.remove_at(pos);
    ctx.unit.key(target, key).insert_moved(entry);
    ctx.notify_in(cur, class::GENERIC, "move_from", key);
    ctx.notify_in(target, class::GENERIC, "move_to", key);
    ctx.eng.blocking.signal(target, key);
    ctx.out.int(1);
    Ok(())
}

/// SWAPDB a b: the two databases exchange their contents at once. Clients
/// stay on their database number, so they see the other contents; watched
/// keys that exist on either side are touched, and clients blocked on
/// keys that now exist are served.
pub fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.eng.cluster.is_some() {
        return Err(errors::SWAPDB_IN_CLUSTER);
    }
    let dbs = ctx.eng.dbs.count();
    let a = super::db_arg(dbs, args[1], Some(errors::INVALID_FIRST_DB));
    let b = super::db_arg(dbs, args[2], Some(errors::INVALID_SECOND_DB));
    // Both indexes are parsed before either range is checked, as in Redis.
    let (a, b) = match (a, b) {
        (Err(e), _) if e != errors::DB_OUT_OF_RANGE => return Err(e),
        (_, Err(e)) if e != errors::DB_OUT_OF_RANGE => return Err(e),
        (a, b) => (a?, b?),
    };
    if a != b {
        ctx.unit.swap_dbs(a, b);
        ctx.eng.blocking.signal_dbs(&[a, b]);
    }
    ctx.out.ok();
    Ok(())
}

/// OBJECT subcommands that inspect one key: runs `f` on the entry (seen
/// without touching it) or replies null.
fn with_entry(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&mut Reply, Rec, u64)) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, key);
    let Some(pos) = k.find(Access::PEEK) else {
        ctx.out.null();
        return Ok(());
    };
    let idle = k.shard.idle_ms(pos, k.now);
    f(ctx.out, k.shard.entry(pos), idle);
    Ok(())
}

pub fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_entry(ctx, args[2], |out, e, _| out.bulk_str(e.value().encoding()))
}

pub fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let kind = ctx.eng.settings.policy();
    let mut k = ctx.unit.key(ctx.sess.db, args[2]);
    let Some(pos) = k.find(Access::PEEK) else {
        ctx.out.null();
        return Ok(());
    };
    let freq = evict::frequency(kind, k.shard.entry(pos).meta()).ok_or(errors::LFU_NOT_SELECTED)?;
    ctx.out.int(freq as i64);
    Ok(())
}

pub fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    with_entry(ctx, args[2], |out, _, idle| out.int((idle / 1000) as i64))
}

pub fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis shares the integers 0..9999 (one object, "infinite" refcount)
    // unless an LRU policy with a memory limit needs per-object clocks.
    let settings = &ctx.eng.settings;
    let sharing = settings.uint(crate::config::P::Maxmemory) == 0
        || settings.policy() != crate::config::EvictionPolicy::AllkeysLru;
    with_entry(ctx, args[2], |out, e, _| {
        let shared = sharing
            && !e.own_object()
            && matches!(e.value(), ValueRef::Int(i) if (0..10000).contains(&i));
        out.int(if shared { i32::MAX as i64 } else { 1 });
    })
}

pub fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::admin::help_lines(
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
    )
}

pub fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let n = ctx.unit.dbsize(ctx.sess.db);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn flush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !eq_ic(args[1], "async") && !eq_ic(args[1], "sync")) {
        return Err(errors::SYNTAX);
    }
    if ctx.spec.name == "flushall" {
        for db in 0..ctx.eng.dbs.count() {
            ctx.unit.flush_db(db);
        }
    } else {
        ctx.unit.flush_db(ctx.sess.db);
    }
    // Clients caching keys drop everything (Redis does so for both).
    ctx.eng.dbs.shared().tracking.flushed();
    ctx.out.ok();
    Ok(())
}
