//! XINFO STREAM [FULL], XINFO GROUPS and XINFO CONSUMERS.

use crate::command::{eq_ic, int_arg, Ctx};
use crate::engine::store::stream::{Group, StreamId, StreamValue, ENTRIES_READ_UNKNOWN};
use crate::engine::store::Access;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

use super::{entry_reply, id_bulk, range_reply, read_stream};

pub fn xinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let sub = args[1];
    if eq_ic(sub, "help") {
        if args.len() != 2 {
            return Err(errors::subcommand_syntax(sub, "xinfo"));
        }
        ctx.out.array(XINFO_HELP.len());
        for line in XINFO_HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    if args.len() < 3 {
        return Err(errors::subcommand_syntax(sub, "xinfo"));
    }
    let key = args[2];
    let access = ctx.access(Access::READ);
    let db = ctx.db();
    let now = ctx.now;
    let mut k = ctx.unit.key(db, key);
    let Some(s) = read_stream(&mut k, access)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    let out = &mut *ctx.out;
    if eq_ic(sub, "consumers") && args.len() == 4 {
        let Some(g) = s.groups.get(args[3]) else {
            return Err(errors::nogroup_for_key(args[3], key));
        };
        out.array(g.consumers.len());
        for (name, c) in &g.consumers {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"pending");
            out.int(c.pel.len() as i64);
            out.bulk(b"idle");
            out.int((now as i64 - c.seen_time as i64).max(0));
        }
    } else if eq_ic(sub, "groups") && args.len() == 3 {
        out.array(s.groups.len());
        for (name, g) in &s.groups {
            out.map(6);
            out.bulk(b"name");
            out.bulk(name);
            out.bulk(b"consumers");
            out.int(g.consumers.len() as i64);
            out.bulk(b"pending");
            out.int(g.pel.len() as i64);
            out.bulk(b"last-delivered-id");
            id_bulk(out, g.last_id);
            group_counters(out, s, g);
        }
    } else if eq_ic(sub, "stream") {
        stream_info(out, s, &args[3..], sub)?;
    } else {
        return Err(errors::subcommand_syntax(sub, "xinfo"));
    }
    Ok(())
}

/// `entries-read` and `lag` of a group.
fn group_counters(out: &mut Reply, s: &StreamValue, g: &Group) {
    out.bulk(b"entries-read");
    if g.entries_read != ENTRIES_READ_UNKNOWN {
        out.int(g.entries_read);
    } else {
        out.null();
    }
    out.bulk(b"lag");
    match s.lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn stream_info(out: &mut Reply, s: &StreamValue, opts: &[&[u8]], sub: &[u8]) -> CmdResult {
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !eq_ic(opts[0], "full") {
            return Err(errors::subcommand_syntax(sub, "xinfo"));
        }
        full = true;
        if opts.len() == 3 {
            if !eq_ic(opts[1], "count") {
                return Err(errors::subcommand_syntax(sub, "xinfo"));
            }
            count = int_arg(opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let count = count as usize;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    id_bulk(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    id_bulk(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    id_bulk(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            let mut wrote = false;
            s.range(StreamId::MIN, StreamId::MAX, rev, |id, pairs| {
                entry_reply(out, id, pairs);
                wrote = true;
                false
            });
            if !wrote {
                out.null();
            }
        }
        return Ok(());
    }
    out.bulk(b"entries");
    range_reply(out, s, StreamId::MIN, StreamId::MAX, false, count);
    out.bulk(b"groups");
    out.array(s.groups.len());
    let limit = |n: usize| if count == 0 { n } else { n.min(count) };
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        id_bulk(out, g.last_id);
        group_counters(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(limit(g.pel.len()));
        for (id, nack) in g.pel.iter().take(limit(g.pel.len())) {
            out.array(4);
            id_bulk(out, *id);
            out.bulk(&nack.consumer);
            out.int(nack.delivery_time as i64);
            out.int(nack.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array(limit(c.pel.len()));
            for id in c.pel.iter().take(limit(c.pel.len())) {
                let nack = &g.pel[id];
                out.array(3);
                id_bulk(out, *id);
                out.int(nack.delivery_time as i64);
                out.int(nack.delivery_count as i64);
            }
        }
    }
    Ok(())
}

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];
