//! Replication commands: what a replica sends its master (REPLCONF, PSYNC,
//! SYNC), REPLICAOF/SLAVEOF, ROLE, WAIT, and the read-only and
//! min-replicas checks dispatch applies. The stream itself is served by
//! the connection (`server::to_replica`) and followed by the link task
//! (`server::from_master`).

use std::sync::atomic::Ordering::Relaxed;

use super::{eq_ic, int_arg, After, Ctx};
use crate::config::P;
use crate::engine::repl::{Link, ReplicaState};
use crate::engine::Engine;
use crate::errors::{self, CmdResult};

/// What a connecting replica said before PSYNC.
#[derive(Default, Clone, Debug)]
pub struct Hello {
    /// REPLCONF listening-port.
    pub port: u16,
    /// REPLCONF ip-address.
    pub ip: Option<String>,
    /// REPLCONF capa psync2.
    pub psync2: bool,
    /// SYNC (None) or PSYNC (replid, offset), once asked.
    pub request: Option<Option<(String, u64)>>,
}

/// A WAIT the connection sits out: until `replicas` acknowledged `offset`
/// or `timeout_ms` (0 = no limit) passes.
#[derive(Clone, Copy, Debug)]
pub struct WaitFor {
    pub replicas: usize,
    pub offset: u64,
    pub timeout_ms: u64,
}

/// WAIT numreplicas timeout.
pub fn wait(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.eng.is_replica() {
        return Err(errors::WAIT_ON_REPLICA);
    }
    let replicas = int_arg(args[1])?;
    let timeout = int_arg(args[2])?;
    if timeout < 0 {
        return Err(errors::TIMEOUT_IS_NEGATIVE);
    }
    let feed = &ctx.eng.dbs.shared().feed;
    let offset = ctx.sess.repl_offset;
    let acked = feed.acked(offset);
    if acked as i64 >= replicas || ctx.sess.nested {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    // Ask every replica where it is, then wait for the answers.
    feed.getack();
    ctx.sess.waiting = Some(WaitFor {
        replicas: replicas.max(0) as usize,
        offset,
        timeout_ms: timeout as u64,
    });
    ctx.after = After::Wait;
    ctx.replies = 0;
    Ok(())
}

pub fn replconf(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() % 2 == 0 {
        return Err(errors::SYNTAX);
    }
    for pair in args[1..].chunks(2) {
        let (opt, val) = (pair[0], pair[1]);
        if eq_ic(opt, "listening-port") {
            let port = int_arg(val)?;
            ctx.sess.replica_hello.port = u16::try_from(port).unwrap_or(0);
        } else if eq_ic(opt, "ip-address") {
            ctx.sess.replica_hello.ip = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "capa") {
            if eq_ic(val, "psync2") {
                ctx.sess.replica_hello.psync2 = true;
            }
        } else if eq_ic(opt, "ack") || eq_ic(opt, "getack") {
            // Acknowledgements travel on replication links, which answer
            // them there; anywhere else they get no reply, as in Redis.
            ctx.replies = 0;
            return Ok(());
        } else if !(eq_ic(opt, "rdb-only") || eq_ic(opt, "rdb-filter-only")) {
            return Err(errors::unrecognized_replconf(opt));
        }
    }
    ctx.out.ok();
    Ok(())
}

/// Refuses a sync on a replica whose own link is down, as Redis does.
fn check_can_sync(ctx: &Ctx) -> CmdResult {
    let role = ctx.eng.role.lock();
    if !role.is_master() && role.link != Link::Connected {
        return Err(errors::NOMASTERLINK);
    }
    Ok(())
}

pub fn psync(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    check_can_sync(ctx)?;
    let offset = int_arg(args[2])?;
    let replid = String::from_utf8_lossy(args[1]).into_owned();
    ctx.sess.replica_hello.request = Some(Some((replid, offset.max(0) as u64)));
    ctx.after = After::Replicate;
    ctx.replies = 0;
    Ok(())
}

pub fn sync(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    check_can_sync(ctx)?;
    ctx.sess.replica_hello.request = Some(None);
    ctx.after = After::Replicate;
    ctx.replies = 0;
    Ok(())
}

pub fn role(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let role = ctx.eng.role.lock().clone();
    let feed = &ctx.eng.dbs.shared().feed;
    match &role.master {
        None => {
            let online: Vec<_> = feed
                .replicas()
                .into_iter()
                .filter(|r| r.state() == ReplicaState::Online)
                .collect();
            ctx.out.array(3);
            ctx.out.bulk_str("master");
            ctx.out.int(feed.offset() as i64);
            ctx.out.array(online.len());
            for r in online {
                ctx.out.array(3);
                ctx.out.bulk_str(&r.ip);
                ctx.out.bulk_str(&r.port.to_string());
                ctx.out.bulk_str(&r.ack_offset.load(Relaxed).to_string());
            }
        }
        Some((host, port)) => {
            ctx.out.array(5);
            ctx.out.bulk_str("slave");
            ctx.out.bulk_str(host);
            ctx.out.int(*port as i64);
            ctx.out.bulk_str(role.link.name());
            let offset = if role.link == Link::Connected {
                feed.offset() as i64
            } else {
                -1
            };
            ctx.out.int(offset);
        }
    }
    Ok(())
}

/// REPLICAOF host port | NO ONE (and SLAVEOF).
pub fn replicaof(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.eng.cluster.is_some() {
        // A cluster node follows its master through CLUSTER REPLICATE.
        return Err(errors::REPLICAOF_IN_CLUSTER);
    }
    if eq_ic(args[1], "no") && eq_ic(args[2], "one") {
        if promote(ctx.eng) {
            tracing::info!(
                "MASTER MODE enabled (user request from {})",
                ctx.sess.handle.addr
            );
        }
        ctx.out.ok();
        return Ok(());
    }
    let port = match crate::numeric::parse_i64(args[2]) {
        Some(p) if (0..=65535).contains(&p) => p,
        _ => return Err(errors::INVALID_MASTER_PORT),
    };
    let host = String::from_utf8_lossy(args[1]).into_owned();
    {
        let mut role = ctx.eng.role.lock();
        if role.master.as_ref() == Some(&(host.clone(), port as u16)) {
            ctx.out.simple("OK Already connected to specified master");
            return Ok(());
        }
        follow(ctx.eng, &mut role, host.clone(), port as u16);
    }
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from {})",
        ctx.sess.handle.addr
    );
    ctx.rt.host.follow_master();
    ctx.out.ok();
    Ok(())
}

/// Makes this server follow `host:port` (the caller starts the link).
pub fn follow(eng: &Engine, role: &mut crate::engine::repl::Role, host: String, port: u16) {
    eng.settings
        .set(P::Replicaof, &format!("{host} {port}"))
        .expect("replicaof is free text");
    role.master = Some((host, port));
    role.link = Link::Connect;
    role.generation += 1;
    role.link_down_since_ms = 0;
    eng.dbs.shared().replica.store(true, Relaxed);
    let feed = &eng.dbs.shared().feed;
    feed.demote();
    // Our own replicas reconnect and resume from us.
    for r in feed.detach_all() {
        r.close();
    }
}

/// Stops following a master (REPLICAOF NO ONE); false when already a master.
pub fn promote(eng: &Engine) -> bool {
    let mut role = eng.role.lock();
    if role.is_master() {
        return false;
    }
    role.master = None;
    eng.settings
        .set(P::Replicaof, "")
        .expect("replicaof is free text");
    role.link = Link::Connect;
    role.generation += 1;
    eng.dbs.shared().replica.store(false, Relaxed);
    let feed = &eng.dbs.shared().feed;
    feed.promote();
    for r in feed.detach_all() {
        r.close();
    }
    true
}

/// Replicas in good standing for `min-replicas-to-write`: online and
/// acknowledged within `min-replicas-max-lag` seconds.
pub fn good_replicas(eng: &Engine, now_ms: u64) -> usize {
    let lag_ms = eng.settings.uint(P::MinReplicasMaxLag) * 1000;
    eng.dbs
        .shared()
        .feed
        .replicas()
        .iter()
        .filter(|r| {
            r.state() == ReplicaState::Online
                && now_ms.saturating_sub(r.ack_ms.load(Relaxed)) <= lag_ms
        })
        .count()
}

/// The checks dispatch applies to a write on this server, in Redis's
/// order: MISCONF while snapshots fail (PING checks it itself), NOREPLICAS
/// when `min-replicas-to-write` is not met, READONLY on a read-only
/// replica (the master's own stream is exempt).
pub fn check_write(eng: &Engine, from_master: bool, now_ms: u64) -> CmdResult {
    if from_master {
        return Ok(());
    }
    if eng.snapshot_failing() {
        return Err(errors::MISCONF);
    }
    if eng.is_replica() {
        if eng.settings.flag(P::ReplicaReadOnly) {
            return Err(errors::READONLY);
        }
        return Ok(());
    }
    let needed = eng.settings.uint(P::MinReplicasToWrite) as usize;
    if needed > 0
        && eng.settings.uint(P::MinReplicasMaxLag) > 0
        && good_replicas(eng, now_ms) < needed
    {
        return Err(errors::NOREPLICAS);
    }
    Ok(())
}
