//! Redis Cluster commands: CLUSTER and its subcommands, ASKING, READONLY
//! and READWRITE, with Redis 7.0's replies and error texts. Without
//! `cluster-enabled yes` each answers Redis's "cluster support disabled".
//! The routing of ordinary commands (MOVED, ASK, CROSSSLOT...) is in
//! [`route`], which dispatch calls.

use super::{eq_ic, Ctx, Session};
use crate::engine::cluster::{flag, Cluster, Node, Query, Redirect, Topology};
use crate::engine::slot::{key_slot, SLOTS};
use crate::engine::store::Access;
use crate::engine::Engine;
use crate::errors::{self, CmdError, CmdResult};

/// The engine's cluster state, or Redis's error when cluster mode is off.
fn cluster<'e>(ctx: &Ctx<'_, 'e>) -> CmdResult<&'e Cluster> {
    ctx.eng.cluster.as_ref().ok_or(errors::CLUSTER_DISABLED)
}

/// A slot argument (`Invalid or out of range slot` otherwise).
fn slot_arg(arg: &[u8]) -> CmdResult<u16> {
    match crate::numeric::parse_i64(arg) {
        Some(s) if (0..SLOTS as i64).contains(&s) => Ok(s as u16),
        _ => Err(errors::INVALID_SLOT),
    }
}

/// The node named by `id`, or `Unknown node <id>`-style error.
fn node_arg(topo: &Topology, id: &[u8], unknown: fn(&[u8]) -> CmdError) -> CmdResult<usize> {
    topo.find(id).ok_or_else(|| unknown(id))
}

/// Keys of db 0 in `slot`, up to `max` (the slot's shard is read, keys
/// whose TTL passed included, as Redis counts them until reclaimed).
fn keys_in_slot(ctx: &mut Ctx, slot: u16, max: usize) -> Vec<Vec<u8>> {
    let index = slot as usize & (ctx.eng.dbs.num_shards() - 1);
    ctx.unit.with_shard(0, index, |shard| {
        shard
            .records()
            .map(|(_, r)| r.key())
            .filter(|k| key_slot(k) == slot)
            .take(max)
            .map(|k| k.to_vec())
            .collect()
    })
}

fn count_keys_in_slot(ctx: &mut Ctx, slot: u16) -> usize {
    let index = slot as usize & (ctx.eng.dbs.num_shards() - 1);
    ctx.unit.with_shard(0, index, |shard| {
        shard
            .records()
            .filter(|(_, r)| key_slot(r.key()) == slot)
            .count()
    })
}

pub fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    super::admin::help_lines(
        ctx,
        "CLUSTER",
        &[
            "ADDSLOTS <slot> [<slot> ...]",
            "    Assign slots to current node.",
            "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Assign slots which are between <start-slot> and <end-slot> to current node.",
            "BUMPEPOCH",
            "    Advance the cluster config epoch.",
            "COUNT-FAILURE-REPORTS <node-id>",
            "    Return number of failure reports for <node-id>.",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "DELSLOTS <slot> [<slot> ...]",
            "    Delete slots information from current node.",
            "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
            "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
            "FAILOVER [FORCE|TAKEOVER]",
            "    Promote current replica node to being a master.",
            "FORGET <node-id>",
            "    Remove a node from the cluster.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "FLUSHSLOTS",
            "    Delete current node own slots information.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MEET <ip> <port> [<bus-port>]",
            "    Connect nodes into a working cluster.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "REPLICATE <node-id>",
            "    Configure current node as replica to <node-id>.",
            "RESET [HARD|SOFT]",
            "    Reset current node (default: soft).",
            "SET-CONFIG-EPOCH <epoch>",
            "    Set config epoch of current node.",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state.",
            "REPLICAS <node-id>",
            "    Return <node-id> replicas.",
            "SAVECONFIG",
            "    Force saving cluster configuration on disk.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "SHARDS",
            "    Return information about slot range mappings and the nodes associated with them.",
            "LINKS",
            "    Return information about all network links between this node and its peers.",
            "    Output format is an array where each array element is a map containing attributes of a link",
        ],
    )
}

/// ADDSLOTS / DELSLOTS slot...
pub fn addslots(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    let slots = args[2..]
        .iter()
        .map(|a| slot_arg(a))
        .collect::<CmdResult<Vec<u16>>>()?;
    assign(ctx, c, &[slots], ctx.spec.name == "cluster|delslots")
}

/// ADDSLOTSRANGE / DELSLOTSRANGE start end...
pub fn addslotsrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    if args.len() % 2 == 1 {
        return Err(ctx.arity_error());
    }
    let mut ranges = Vec::new();
    for pair in args[2..].chunks(2) {
        let (a, b) = (slot_arg(pair[0])?, slot_arg(pair[1])?);
        if a > b {
            return Err(errors::slot_range_reversed(a, b));
        }
        ranges.push((a..=b).collect::<Vec<u16>>());
    }
    assign(ctx, c, &ranges, ctx.spec.name == "cluster|delslotsrange")
}

fn assign(ctx: &mut Ctx, c: &Cluster, groups: &[Vec<u16>], del: bool) -> CmdResult {
    c.change(|topo| {
        let mut seen = vec![false; SLOTS as usize];
        for g in groups {
            topo.check_assign(g, del, &mut seen)?;
        }
        topo.apply_assign(&seen, del);
        Ok::<(), CmdError>(())
    })?;
    ctx.out.ok();
    Ok(())
}

pub fn flushslots(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    if ctx.unit.dbsize(0) != 0 {
        return Err(errors::FLUSHSLOTS_NOT_EMPTY);
    }
    c.change(|topo| {
        for s in 0..SLOTS {
            if topo.owner(s) == Some(0) {
                topo.set_owner(s, None);
            }
        }
    });
    ctx.out.ok();
    Ok(())
}

pub fn bumpepoch(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    let (bumped, epoch) = c.change(|topo| (topo.bump_epoch(), topo.myself().config_epoch));
    ctx.out.simple(&format!(
        "{} {epoch}",
        if bumped { "BUMPED" } else { "STILL" }
    ));
    Ok(())
}

pub fn set_config_epoch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    let epoch = super::int_arg(args[2])?;
    c.change(|topo| {
        if epoch < 0 {
            Err(errors::invalid_config_epoch(epoch))
        } else if topo.nodes.len() > 1 {
            Err(errors::CONFIG_EPOCH_KNOWS_OTHERS)
        } else if topo.myself().config_epoch != 0 {
            Err(errors::CONFIG_EPOCH_NONZERO)
        } else {
            topo.myself_mut().config_epoch = epoch as u64;
            topo.current_epoch = topo.current_epoch.max(epoch as u64);
            Ok(())
        }
    })?;
    ctx.out.ok();
    Ok(())
}

pub fn setslot(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    if !c.read().myself().is_master() {
        return Err(errors::SETSLOT_ON_REPLICA);
    }
    let slot = slot_arg(args[2])?;
    let action = args[3];

    // Keys still here for the slot decide NODE; counted before the change.
    let keys = if eq_ic(action, "node") {
        count_keys_in_slot(ctx, slot)
    } else {
        0
    };
    c.change(|topo| {
        let target = |topo: &Topology, unknown: fn(&[u8]) -> CmdError| -> CmdResult<usize> {
            let n = node_arg(topo, args[4], unknown)?;
            if !topo.nodes[n].is_master() {
                return Err(errors::TARGET_NOT_MASTER);
            }
            Ok(n)
        };
        if eq_ic(action, "migrating") && args.len() == 5 {
            if topo.owner(slot) != Some(0) {
                return Err(errors::not_slot_owner(slot));
            }
            let n = target(topo, errors::dont_know_node)?;
            topo.set_migrating(slot, Some(n));
        } else if eq_ic(action, "importing") && args.len() == 5 {
            if topo.owner(slot) == Some(0) {
                return Err(errors::already_slot_owner(slot));
            }
            let n = target(topo, errors::dont_know_node)?;
            topo.set_importing(slot, Some(n));
        } else if eq_ic(action, "stable") && args.len() == 4 {
            topo.set_importing(slot, None);
            topo.set_migrating(slot, None);
        } else if eq_ic(action, "node") && args.len() == 5 {
            let n = target(topo, errors::unknown_node)?;
            if topo.owner(slot) == Some(0) && n != 0 && keys != 0 {
                return Err(errors::slot_still_has_keys(slot));
            }
            if keys == 0 && topo.migrating_to(slot).is_some() {
                topo.set_migrating(slot, None);
            }
            topo.set_owner(slot, Some(n));
            if n == 0 && topo.importing_from(slot).is_some() {
                // A slot imported by hand: a new epoch makes the change
                // win over the old owner's claim.
                topo.bump_epoch();
                topo.set_importing(slot, None);
            }
        } else {
            return Err(errors::SETSLOT_INVALID);
        }
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

pub fn info(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    let text = {
        let topo = c.read();
        let assigned = topo.assigned();
        let failing = (0..SLOTS)
            .filter(|&s| topo.owner(s).is_some_and(|o| topo.nodes[o].failed()))
            .count();
        let me = topo.myself();
        let my_epoch = match me.master.as_ref().and_then(|m| topo.find(m.as_bytes())) {
            Some(m) if !me.is_master() => topo.nodes[m].config_epoch,
            _ => me.config_epoch,
        };
        format!(
            "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{}\r\n\
             cluster_slots_pfail:0\r\ncluster_slots_fail:{failing}\r\ncluster_known_nodes:{}\r\n\
             cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n\
             cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n\
             total_cluster_links_buffer_limit_exceeded:0\r\n",
            if c.state_ok() { "ok" } else { "fail" },
            assigned - failing,
            topo.nodes.len(),
            topo.size(),
            topo.current_epoch,
        )
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub fn nodes(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let text = cluster(ctx)?.read().describe_all(false);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub fn myid(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let id = cluster(ctx)?.read().myself().id.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

pub fn keyslot(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    ctx.out.int(key_slot(args[2]) as i64);
    Ok(())
}

pub fn countkeysinslot(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let slot = super::int_arg(args[2])?;
    if !(0..SLOTS as i64).contains(&slot) {
        return Err(errors::INVALID_SLOT_NUMBER);
    }
    let n = count_keys_in_slot(ctx, slot as u16);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn getkeysinslot(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    let slot = super::int_arg(args[2])?;
    let max = super::int_arg(args[3])?;
    if !(0..SLOTS as i64).contains(&slot) || max < 0 {
        return Err(errors::INVALID_SLOT_OR_COUNT);
    }
    let keys = keys_in_slot(ctx, slot as u16, max as usize);
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(&k);
    }
    Ok(())
}

/// One node as CLUSTER SLOTS lists it: endpoint, port, id, metadata.
fn slots_node(ctx: &mut Ctx, n: &Node) {
    ctx.out.array(4);
    ctx.out.bulk(n.ip.as_bytes());
    ctx.out.int(n.port as i64);
    ctx.out.bulk(n.id.as_bytes());
    ctx.out.map(0);
}

pub fn slots(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let topo = cluster(ctx)?.read().clone();
    let offset = ctx.eng.dbs.shared().feed.offset();
    let runs = topo.runs();
    ctx.out.array(runs.len());
    for (a, b, owner) in runs {
        // Replicas that failed or have not synced (offset 0) are left out.
        let replicas: Vec<usize> = topo
            .replicas_of(owner)
            .into_iter()
            .filter(|&r| !topo.nodes[r].failed())
            .filter(|&r| {
                if r == 0 {
                    offset != 0
                } else {
                    topo.nodes[r].repl_offset != 0
                }
            })
            .collect();
        ctx.out.array(3 + replicas.len());
        ctx.out.int(a as i64);
        ctx.out.int(b as i64);
        slots_node(ctx, &topo.nodes[owner]);
        for r in replicas {
            slots_node(ctx, &topo.nodes[r]);
        }
    }
    Ok(())
}

pub fn shards(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let topo = cluster(ctx)?.read().clone();
    let offset = ctx.eng.dbs.shared().feed.offset();
    let masters: Vec<usize> = (0..topo.nodes.len())
        .filter(|&i| topo.nodes[i].is_master())
        .collect();
    ctx.out.array(masters.len());
    for m in masters {
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        let ranges = topo.ranges_of(m);
        ctx.out.array(ranges.len() * 2);
        for (a, b) in ranges {
            ctx.out.int(a as i64);
            ctx.out.int(b as i64);
        }
        ctx.out.bulk(b"nodes");
        let members: Vec<usize> = std::iter::once(m).chain(topo.replicas_of(m)).collect();
        ctx.out.array(members.len());
        for i in members {
            let n = &topo.nodes[i];
            ctx.out.map(7);
            ctx.out.bulk(b"id");
            ctx.out.bulk(n.id.as_bytes());
            ctx.out.bulk(b"port");
            ctx.out.int(n.port as i64);
            ctx.out.bulk(b"ip");
            ctx.out.bulk(n.ip.as_bytes());
            ctx.out.bulk(b"endpoint");
            ctx.out.bulk(n.ip.as_bytes());
            ctx.out.bulk(b"role");
            ctx.out.bulk(if n.is_master() {
                b"master".as_slice()
            } else {
                b"replica"
            });
            ctx.out.bulk(b"replication-offset");
            let node_offset = if i == 0 { offset } else { n.repl_offset };
            ctx.out.int(node_offset as i64);
            ctx.out.bulk(b"health");
            ctx.out.bulk(if n.failed() {
                b"fail".as_slice()
            } else if !n.is_master() && node_offset == 0 {
                b"loading"
            } else {
                b"online"
            });
        }
    }
    Ok(())
}

pub fn links(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    // The bus links are not reported yet (docs/scaling.md).
    ctx.out.array(0);
    Ok(())
}

pub fn saveconfig(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?
        .save()
        .map_err(|e| errors::cluster_save_failed(&e))?;
    ctx.out.ok();
    Ok(())
}

pub fn forget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    let now = ctx.now;
    c.change(|topo| {
        let n = node_arg(topo, args[2], errors::unknown_node)?;
        if n == 0 {
            return Err(errors::FORGET_MYSELF);
        }
        if topo.myself().master.as_ref() == Some(&topo.nodes[n].id) {
            return Err(errors::FORGET_MY_MASTER);
        }
        c.blacklist(&topo.nodes[n].id, now);
        topo.remove_node(n);
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

pub fn replicas(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let topo = cluster(ctx)?.read().clone();
    let n = node_arg(&topo, args[2], errors::unknown_node)?;
    if !topo.nodes[n].is_master() {
        return Err(errors::NODE_NOT_MASTER);
    }
    let lines: Vec<String> = topo
        .replicas_of(n)
        .into_iter()
        .map(|r| topo.describe(r))
        .collect();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk(l.as_bytes());
    }
    Ok(())
}

pub fn count_failure_reports(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let topo = cluster(ctx)?.read();
    node_arg(&topo, args[2], errors::unknown_node)?;
    drop(topo);
    // Failure reports are not exchanged on the bus yet.
    ctx.out.int(0);
    Ok(())
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica. TAKEOVER promotes it
/// at once; the other forms need the failover election, which is not
/// implemented.
pub fn failover(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    if args.len() > 3 {
        return Err(errors::subcommand_syntax(args[1], "cluster"));
    }
    let (force, takeover) = match args.get(2) {
        None => (false, false),
        Some(a) if eq_ic(a, "force") => (true, false),
        Some(a) if eq_ic(a, "takeover") => (true, true),
        Some(_) => return Err(errors::SYNTAX),
    };
    let c = cluster(ctx)?;
    let master = {
        let topo = c.read();
        if topo.myself().is_master() {
            return Err(errors::FAILOVER_ON_MASTER);
        }
        let Some(m) = topo.my_master() else {
            return Err(errors::FAILOVER_MASTER_UNKNOWN);
        };
        if !force && (topo.nodes[m].failed() || !topo.nodes[m].connected) {
            return Err(errors::FAILOVER_MASTER_DOWN);
        }
        m
    };
    if !takeover {
        // The failover election (and the manual handshake with a live
        // master) is not implemented.
        return Err(errors::FAILOVER_NEEDS_TAKEOVER);
    }
    // TAKEOVER: a new epoch without agreement, the master's slots claimed;
    // the bus tells the others (the greater epoch wins), and the old
    // master, losing its last slot, turns into a replica of this node.
    c.update(|topo| {
        topo.bump_epoch();
        for s in 0..SLOTS {
            if topo.owner(s) == Some(master) {
                topo.set_owner(s, Some(0));
            }
        }
        let me = topo.myself_mut();
        me.flags = (me.flags & !flag::SLAVE) | flag::MASTER;
        me.master = None;
        ((), true)
    });
    if super::replication::promote(ctx.eng) {
        tracing::info!("cluster: took over the master's slots (CLUSTER FAILOVER TAKEOVER)");
    }
    ctx.out.ok();
    Ok(())
}

pub fn meet(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    if args.len() > 5 {
        return Err(errors::subcommand_syntax(args[1], "cluster"));
    }
    let port =
        crate::numeric::parse_i64(args[3]).ok_or_else(|| errors::invalid_base_port(args[3]))?;
    let cport = match args.get(4) {
        Some(a) => crate::numeric::parse_i64(a).ok_or_else(|| errors::invalid_bus_port(a))?,
        None => port + 10000,
    };
    let ip = std::str::from_utf8(args[2])
        .ok()
        .and_then(|s| s.parse::<std::net::IpAddr>().ok());
    let valid = |p: i64| (1..=65535).contains(&p);
    let (Some(ip), true, true) = (ip, valid(port), valid(cport)) else {
        return Err(errors::invalid_node_address(args[2], args[3]));
    };
    let ip = ip.to_string();
    let now = ctx.now;
    c.update(|topo| {
        // A handshake with this address already under way: nothing more.
        let pending = topo.nodes.iter().any(|n| {
            n.flags & flag::HANDSHAKE != 0
                && n.ip == ip
                && n.port == port as u16
                && n.cport == cport as u16
        });
        if !pending {
            let mut n = Node::new(
                crate::engine::repl::random_id(),
                &ip,
                port as u16,
                cport as u16,
                flag::HANDSHAKE | flag::MEET,
            );
            n.ctime = now;
            topo.add_node(n);
        }
        ((), false)
    });
    ctx.out.ok();
    Ok(())
}

/// CLUSTER REPLICATE id: this node becomes a replica of that master (its
/// slots and keys must be gone) and follows it with the replication
/// protocol.
pub fn replicate(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    let keys = ctx.unit.dbsize(0);
    let master = c.update(|topo| {
        let r = (|| {
            let n = node_arg(topo, args[2], errors::unknown_node)?;
            if n == 0 {
                return Err(errors::REPLICATE_MYSELF);
            }
            if !topo.nodes[n].is_master() {
                return Err(errors::REPLICATE_A_REPLICA);
            }
            if topo.myself().is_master() && (topo.slot_count(0) != 0 || keys != 0) {
                return Err(errors::REPLICATE_NOT_EMPTY);
            }
            for s in 0..SLOTS {
                topo.set_migrating(s, None);
                topo.set_importing(s, None);
            }
            let id = topo.nodes[n].id.clone();
            let me = topo.myself_mut();
            me.flags = (me.flags & !flag::MASTER) | flag::SLAVE;
            me.master = Some(id);
            Ok((topo.nodes[n].ip.clone(), topo.nodes[n].port))
        })();
        let changed = r.is_ok();
        (r, changed)
    })?;
    {
        let mut role = ctx.eng.role.lock();
        if role.master.as_ref() != Some(&master) {
            super::replication::follow(ctx.eng, &mut role, master.0, master.1);
            drop(role);
            ctx.rt.host.follow_master();
        }
    }
    ctx.out.ok();
    Ok(())
}

pub fn reset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let c = cluster(ctx)?;
    if args.len() > 3 {
        return Err(errors::subcommand_syntax(args[1], "cluster"));
    }
    let hard = match args.get(2) {
        None => false,
        Some(a) if eq_ic(a, "hard") => true,
        Some(a) if eq_ic(a, "soft") => false,
        Some(_) => return Err(errors::SYNTAX),
    };
    if ctx.unit.dbsize(ctx.sess.db) != 0 {
        return Err(errors::RESET_WITH_KEYS);
    }
    c.change(|topo| {
        let mut me = topo.myself().clone();
        me.flags = flag::MYSELF | flag::MASTER;
        me.master = None;
        if hard {
            me.id = crate::engine::repl::random_id();
            me.config_epoch = 0;
        }
        let (current, vote) = (topo.current_epoch, topo.last_vote_epoch);
        *topo = Topology::new(me);
        if !hard {
            topo.current_epoch = current;
            topo.last_vote_epoch = vote;
        }
    });
    ctx.out.ok();
    Ok(())
}

pub fn asking(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    ctx.sess.asking = true;
    ctx.out.ok();
    Ok(())
}

pub fn readonly(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    ctx.sess.cluster_readonly = true;
    ctx.out.ok();
    Ok(())
}

pub fn readwrite(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    cluster(ctx)?;
    ctx.sess.cluster_readonly = false;
    ctx.out.ok();
    Ok(())
}

/// The redirection error for `r`, worded as Redis words it.
fn redirect_error(r: Redirect) -> CmdError {
    match r {
        Redirect::CrossSlot => errors::CROSSSLOT,
        Redirect::TryAgain => errors::TRYAGAIN,
        Redirect::Down => errors::CLUSTERDOWN,
        Redirect::Unbound => errors::CLUSTERDOWN_UNBOUND,
        Redirect::Moved(slot, at) => errors::moved(slot, &at),
        Redirect::Ask(slot, at) => errors::ask(slot, &at),
    }
}

/// Whether this node serves a command naming `keys` (Redis's
/// getNodeByQuery); `exists` looks a key up in db 0, asked only while
/// its slot is being migrated or imported.
pub fn check_keys(
    eng: &Engine,
    keys: &[&[u8]],
    asking: bool,
    is_migrate: bool,
    replica_read: bool,
    exists: impl FnMut(&[u8]) -> bool,
) -> Result<(), Redirect> {
    let Some(c) = eng.cluster.as_ref() else {
        return Ok(());
    };
    let slots: Vec<(&[u8], u16)> = keys.iter().map(|k| (*k, key_slot(k))).collect();
    let q = Query {
        keys: &slots,
        asking,
        is_migrate,
        replica_read,
    };
    c.route(&q, exists)
}

/// Cluster mode's check before a command runs: `keys` are every key the
/// command names (for EXEC, every queued command's). Ok when it is
/// served here, else the redirection error.
pub fn route(
    eng: &Engine,
    sess: &Session,
    keys: &[&[u8]],
    is_migrate: bool,
    asking_command: bool,
    is_write: bool,
    now: u64,
) -> CmdResult {
    // No shard is held here (dispatch has not planned the unit yet).
    let exists = |key: &[u8]| {
        let hash = eng.dbs.hash(key);
        let ks = eng.dbs.db(0);
        let mut shard = ks.lock_shard(ks.shard_index(hash));
        shard.find(hash, key, now, Access::PEEK).is_some()
    };
    let replica_read = sess.cluster_readonly && !is_write;
    let asking = sess.asking || asking_command;
    check_keys(eng, keys, asking, is_migrate, replica_read, exists).map_err(redirect_error)
}
