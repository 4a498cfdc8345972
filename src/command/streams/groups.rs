//! Consumer groups: XGROUP, XACK, XPENDING, XCLAIM and XAUTOCLAIM.

use crate::command::blocking;
use crate::command::{eq_ic, int_arg, Ctx};
use crate::engine::store::notify::class;
use crate::engine::store::stream::{Group, StreamId, ENTRIES_READ_UNKNOWN};
use crate::engine::store::{Access, Kind, Value};
use crate::errors::{self, CmdResult};

use super::{
    as_stream, as_stream_mut, entry_reply, group_mut, id_bulk, parse_bound, parse_id,
    parse_id_full, parse_strict_id, read_stream, scratch,
};

use super::read::{setid_command, xclaim_command};

pub fn xgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    if eq_ic(sub, "help") {
        ctx.out.array(XGROUP_HELP.len());
        for line in XGROUP_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    let create = eq_ic(sub, "create");
    let setid = eq_ic(sub, "setid");
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < args.len() {
        if create && eq_ic(args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && eq_ic(args[i], "entriesread") && i + 1 < args.len() {
            entries_read = int_arg(args[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(errors::ENTRIESREAD_NEGATIVE);
            }
            i += 2;
        } else {
            return Err(errors::subcommand_syntax(sub, "xgroup"));
        }
    }
    let (key, gname) = (args[2], args[3]);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    if !mkstream {
        let Some(p) = pos else {
            return Err(errors::XGROUP_KEY_MISSING);
        };
        let exists = as_stream(k.value(p)).groups.contains_key(gname);
        if !exists && (setid || eq_ic(sub, "createconsumer") || eq_ic(sub, "delconsumer")) {
            return Err(errors::nogroup_for_key(gname, key));
        }
    }
    if create {
        let id = if args[4] == b"$" {
            pos.map_or(StreamId::MIN, |p| as_stream(k.value(p)).last_id)
        } else {
            parse_strict_id(args[4])?
        };
        let p = match pos {
            Some(p) => p,
            None => k.insert(Value::Stream(Box::default()), 0),
        };
        let created = k.shard.update(p, |v| {
            let s = as_stream_mut(v);
            if s.groups.contains_key(gname) {
                return false;
            }
            s.groups.insert(gname.into(), Group::new(id, entries_read));
            true
        });
        if !created {
            return Err(errors::BUSYGROUP);
        }
        k.shard.notify(class::STREAM, "xgroup-create", key);
        ctx.out.ok();
    } else if setid && (args.len() == 5 || args.len() == 7) {
        let p = pos.expect("checked above");
        let id = if args[4] == b"$" {
            as_stream(k.value(p)).last_id
        } else {
            parse_id(args[4], 0)?
        };
        k.shard.update(p, |v| {
            let g = group_mut(v, gname);
            g.last_id = id;
            g.entries_read = entries_read;
        });
        k.shard.notify(class::STREAM, "xgroup-setid", key);
        ctx.out.ok();
    } else if eq_ic(sub, "destroy") && args.len() == 4 {
        let p = pos.expect("checked above");
        let removed = k
            .shard
            .update(p, |v| as_stream_mut(v).groups.remove(gname).is_some());
        if removed {
            k.shard.notify(class::STREAM, "xgroup-destroy", key);
            blocking::signal(ctx, key);
        } else {
            ctx.propagate_nothing();
        }
        ctx.out.int(removed as i64);
    } else if eq_ic(sub, "createconsumer") && args.len() == 5 {
        let p = pos.expect("checked above");
        let created = k.shard.update(p, |v| {
            let g = group_mut(v, gname);
            g.consumer(args[4], now).1
        });
        if created {
            k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
        } else {
            ctx.propagate_nothing();
        }
        ctx.out.int(created as i64);
    } else if eq_ic(sub, "delconsumer") && args.len() == 5 {
        let p = pos.expect("checked above");
        let pending = k.shard.update(p, |v| {
            let g = group_mut(v, gname);
            let c = g.consumers.remove(args[4])?;
            for id in &c.pel {
                g.pel.remove(id);
            }
            Some(c.pel.len())
        });
        match pending {
            Some(n) => {
                k.shard.notify(class::STREAM, "xgroup-delconsumer", key);
                ctx.out.int(n as i64);
            }
            None => {
                ctx.propagate_nothing();
                ctx.out.int(0);
            }
        }
    } else {
        return Err(errors::subcommand_syntax(sub, "xgroup"));
    }
    Ok(())
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

pub fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    let mut k = ctx.unit.key(db, args[1]);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    let Some(pos) = pos.filter(|&p| as_stream(k.value(p)).groups.contains_key(args[2])) else {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    };
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let acked = k.shard.update(pos, |v| {
        let g = as_stream_mut(v)
            .groups
            .get_mut(args[2])
            .expect("checked above");
        ids.iter().filter(|&&id| g.ack(id)).count()
    });
    if acked == 0 {
        ctx.propagate_nothing();
    }
    ctx.out.int(acked as i64);
    Ok(())
}

pub fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let summary = args.len() == 3;
    if args.len() != 3 && !(6..=9).contains(&args.len()) {
        return Err(errors::SYNTAX);
    }
    let mut range = None;
    let mut min_idle = 0i64;
    let mut consumer: Option<&[u8]> = None;
    if args.len() >= 6 {
        let mut at = 3;
        if eq_ic(args[3], "idle") {
            min_idle = int_arg(args[4])?;
            if args.len() < 8 {
                return Err(errors::SYNTAX);
            }
            at += 2;
        }
        let count = int_arg(args[at + 2])?.max(0) as usize;
        let lo = parse_bound(args[at], true)?;
        let hi = parse_bound(args[at + 1], false)?;
        if at + 3 < args.len() {
            consumer = Some(args[at + 3]);
        }
        range = Some((lo, hi, count));
    }
    let access = ctx.access(Access::READ);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, args[1]);
    let s = read_stream(&mut k, access)?;
    let Some(g) = s.and_then(|s| s.groups.get(args[2])) else {
        return Err(errors::nogroup_key_or_group(args[1], args[2]));
    };
    let out = &mut *ctx.out;
    if summary {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(first), Some(last)) => {
                id_bulk(out, *first);
                id_bulk(out, *last);
                let busy: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(busy.len());
                for (name, c) in busy {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    }
    let (lo, hi, count) = range.expect("parsed above");
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c.pel.range(lo..=hi.max(lo)).copied().collect(),
            None => {
                out.empty_array();
                return Ok(());
            }
        },
        None => g.pel.range(lo..=hi.max(lo)).map(|(id, _)| *id).collect(),
    };
    let mut body = scratch(out);
    let mut n = 0;
    for id in ids {
        if n >= count || id > hi {
            break;
        }
        let nack = &g.pel[&id];
        let idle = (now as i64 - nack.delivery_time as i64).max(0);
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        body.array(4);
        id_bulk(&mut body, id);
        body.bulk(&nack.consumer);
        body.int(idle);
        body.int(nack.delivery_count as i64);
        n += 1;
    }
    out.array(n);
    out.raw(body.as_bytes());
    Ok(())
}

pub fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, consumer) = (args[1], args[2], args[3]);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    let Some(pos) = pos.filter(|&p| as_stream(k.value(p)).groups.contains_key(gname)) else {
        return Err(errors::nogroup_key_or_group(key, gname));
    };
    let min_idle = crate::numeric::parse_i64(args[4])
        .ok_or(errors::XCLAIM_MIN_IDLE)?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id_full(args[j], 0, true, false) {
            Ok((id, _)) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut force = false;
    let mut justid = false;
    let mut delivery_time: Option<i64> = None;
    let mut retry_count: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args[j];
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && more > 0 {
            j += 1;
            let idle = crate::numeric::parse_i64(args[j]).ok_or(errors::XCLAIM_IDLE)?;
            delivery_time = Some((now as i64).wrapping_sub(idle));
        } else if eq_ic(opt, "time") && more > 0 {
            j += 1;
            delivery_time = Some(crate::numeric::parse_i64(args[j]).ok_or(errors::XCLAIM_TIME)?);
        } else if eq_ic(opt, "retrycount") && more > 0 {
            j += 1;
            retry_count =
                Some(crate::numeric::parse_i64(args[j]).ok_or(errors::XCLAIM_RETRYCOUNT)?);
        } else if eq_ic(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args[j])?;
        } else {
            return Err(errors::xclaim_unrecognized(opt));
        }
        j += 1;
    }
    let delivery_time = match delivery_time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let mut body = scratch(ctx.out);
    let (n, props, created) = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        let mut props = Vec::new();
        let mut propagate_last_id = false;
        {
            let g = s.groups.get_mut(gname).expect("checked above");
            if last_id > g.last_id {
                g.last_id = last_id;
                propagate_last_id = true;
            }
        }
        let mut n = 0;
        let mut consumer_seen = false;
        let mut created = false;
        for id in ids {
            let exists = s.contains(id);
            let g = s.groups.get_mut(gname).expect("checked above");
            if !exists {
                if let Some(nack) = g.pel.get(&id) {
                    props.push(xclaim_command(
                        key,
                        gname,
                        &nack.consumer.clone(),
                        id,
                        nack.delivery_time,
                        nack.delivery_count,
                        g.last_id,
                    ));
                    propagate_last_id = false;
                    g.ack(id);
                }
                continue;
            }
            let pending = g.pel.get(&id).cloned();
            // FORCE makes a pending entry for an id nobody holds, delivered
            // once, now (Redis's streamCreateNACK).
            let Some(nack) = pending.or_else(|| {
                force.then(|| crate::engine::store::stream::Nack {
                    delivery_time: now,
                    delivery_count: 1,
                    consumer: Box::default(),
                })
            }) else {
                continue;
            };
            let owned = g.pel.contains_key(&id);
            if owned && min_idle > 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
                continue;
            }
            if !consumer_seen {
                let (c, made) = g.consumer(consumer, now);
                c.seen_time = now;
                consumer_seen = true;
                created = made;
            }
            let count = match retry_count {
                Some(r) if r >= 0 => r as u64,
                _ if !justid => nack.delivery_count + 1,
                _ => nack.delivery_count,
            };
            g.assign(id, consumer, delivery_time, count);
            if justid {
                id_bulk(&mut body, id);
            } else {
                let mut wrote = false;
                s.range(id, id, false, |id, pairs| {
                    entry_reply(&mut body, id, pairs);
                    wrote = true;
                    false
                });
                debug_assert!(wrote);
            }
            n += 1;
            let g = &s.groups[gname];
            props.push(xclaim_command(
                key,
                gname,
                consumer,
                id,
                delivery_time,
                count,
                g.last_id,
            ));
            propagate_last_id = false;
        }
        if propagate_last_id {
            props.push(setid_command(key, gname, &s.groups[gname]));
        }
        (n, props, created)
    });
    if created {
        k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
    }
    ctx.out.array(n);
    ctx.out.raw(body.as_bytes());
    ctx.propagate_nothing();
    for p in &props {
        ctx.propagate(p);
    }
    Ok(())
}

pub fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, consumer) = (args[1], args[2], args[3]);
    let min_idle = crate::numeric::parse_i64(args[4])
        .ok_or(errors::XAUTOCLAIM_MIN_IDLE)?
        .max(0);
    let start = parse_bound(args[5], true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = crate::numeric::parse_i64(args[j + 1])
                .filter(|&c| (1..=max).contains(&c))
                .ok_or(errors::XAUTOCLAIM_COUNT)?;
            j += 1;
        } else if eq_ic(args[j], "justid") {
            justid = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let pos = k.find_kind(Access::WRITE, Kind::Stream)?;
    let Some(pos) = pos.filter(|&p| as_stream(k.value(p)).groups.contains_key(gname)) else {
        return Err(errors::nogroup_key_or_group(key, gname));
    };
    // Redis allocates 16 bytes per COUNT up front and fails past what
    // the machine can give; refuse what no machine could (over 1 TB).
    if count > 1 << 36 {
        return Err(errors::XAUTOCLAIM_COUNT_TOO_HIGH);
    }
    let mut body = scratch(ctx.out);
    let (n, next, deleted, props, created) = k.shard.update(pos, |v| {
        let s = as_stream_mut(v);
        let mut props = Vec::new();
        let mut deleted = Vec::new();
        let mut n = 0;
        let mut attempts = count.saturating_mul(10);
        let mut count = count;
        let candidates: Vec<StreamId> = s.groups[gname]
            .pel
            .range(start..)
            .map(|(id, _)| *id)
            .collect();
        let mut it = candidates.into_iter().peekable();
        let mut consumer_seen = false;
        let mut created = false;
        while attempts > 0 && count > 0 {
            attempts -= 1;
            let Some(id) = it.next() else {
                break;
            };
            let exists = s.contains(id);
            let g = s.groups.get_mut(gname).expect("checked above");
            let nack = g.pel[&id].clone();
            if !exists {
                props.push(xclaim_command(
                    key,
                    gname,
                    &nack.consumer,
                    id,
                    nack.delivery_time,
                    nack.delivery_count,
                    g.last_id,
                ));
                g.ack(id);
                deleted.push(id);
                count -= 1;
                continue;
            }
            if min_idle > 0 && (now as i64 - nack.delivery_time as i64) < min_idle {
                continue;
            }
            if !consumer_seen {
                let (c, made) = g.consumer(consumer, now);
                c.seen_time = now;
                consumer_seen = true;
                created = made;
            }
            let times = if justid {
                nack.delivery_count
            } else {
                nack.delivery_count + 1
            };
            g.assign(id, consumer, now, times);
            if justid {
                id_bulk(&mut body, id);
            } else {
                s.range(id, id, false, |id, pairs| {
                    entry_reply(&mut body, id, pairs);
                    false
                });
            }
            n += 1;
            count -= 1;
            let last = s.groups[gname].last_id;
            props.push(xclaim_command(key, gname, consumer, id, now, times, last));
        }
        let next = it.next().unwrap_or(StreamId::MIN);
        (n, next, deleted, props, created)
    });
    if created {
        k.shard.notify(class::STREAM, "xgroup-createconsumer", key);
    }
    let out = &mut *ctx.out;
    out.array(3);
    id_bulk(out, next);
    out.array(n);
    out.raw(body.as_bytes());
    out.array(deleted.len());
    for id in deleted {
        id_bulk(out, id);
    }
    ctx.propagate_nothing();
    for p in &props {
        ctx.propagate(p);
    }
    Ok(())
}
