//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH, as Redis 7.0.
//!
//! Between MULTI and EXEC, commands that pass their gates are queued
//! (`+QUEUED`); one refused while queueing (unknown, wrong arity, OOM...)
//! flags the transaction and EXEC answers EXECABORT. EXEC runs the queue as
//! one unit: dispatch locks every shard the queued commands name, in order,
//! or takes the whole keyspace when one of them touches keys it does not
//! declare; no other client sees the transaction half done. WATCH is
//! optimistic: EXEC answers a null array when a watched key was modified,
//! expired, evicted or flushed since (see `engine::store::watch`).

use std::sync::atomic::Ordering::Relaxed;

use super::dispatch::{self, reply_error};
use super::table::{self, CommandSpec};
use super::{After, Ctx, Runtime, Session};
use crate::engine::store::{Access, Databases};
use crate::engine::Engine;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

/// A queued command: its table id and its arguments.
struct Queued {
    id: usize,
    args: Vec<Box<[u8]>>,
}

/// The transaction a client is queueing.
#[derive(Default)]
pub struct Multi {
    queue: Vec<Queued>,
    /// Bytes the queued arguments hold (bounded by the query buffer limit).
    bytes: usize,
    /// A command was refused while queueing: EXEC must abort.
    pub aborted: bool,
    /// The union of the queued commands' table flags.
    pub flags: u32,
}

impl Multi {
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Hashes of every key the queued commands name.
    /// Every key the queued commands name (cluster routing of EXEC).
    pub fn queued_keys(&self) -> Vec<&[u8]> {
        let table = super::CommandTable::get();
        let mut out = Vec::new();
        for q in &self.queue {
            let args: Vec<&[u8]> = q.args.iter().map(|a| &a[..]).collect();
            out.extend(table.spec(q.id).all_keys(&args));
        }
        out
    }

    pub fn key_hashes(&self, dbs: &Databases) -> Vec<u64> {
        let table = super::CommandTable::get();
        let mut out = Vec::new();
        for q in &self.queue {
            let args: Vec<&[u8]> = q.args.iter().map(|a| &a[..]).collect();
            out.extend(table.spec(q.id).keys(&args).map(|k| dbs.hash(k)));
        }
        out
    }
}

/// Queues a command that passed its gates, or refuses it (flagging the
/// transaction) when it cannot run inside one.
pub(super) fn queue(
    rt: &Runtime,
    sess: &mut Session,
    out: &mut Reply,
    now: u64,
    id: usize,
    spec: &'static CommandSpec,
    args: &[&[u8]],
) -> After {
    let refuse = |sess: &mut Session, out: &mut Reply, e| {
        reply_error(sess, out, &e);
        sess.stats.slot(id).rejected += 1;
        if let Some(m) = sess.multi.as_mut() {
            m.aborted = true;
        }
        After::Continue
    };
    if spec.flags & table::NO_MULTI != 0 {
        return refuse(sess, out, errors::NOT_IN_MULTI);
    }
    // Over maxmemory every command is refused while queueing, as in Redis.
    let max_memory = sess.knobs.maxmemory;
    if max_memory > 0
        && rt.engine.dbs.used_bytes() > max_memory
        && !dispatch::make_room(rt, sess.db, spec, &[], max_memory, now)
    {
        return refuse(sess, out, errors::OOM);
    }
    let limit = rt
        .engine
        .settings
        .uint(crate::config::P::ClientQueryBufferLimit) as usize;
    let m = sess.multi.as_mut().expect("in MULTI");
    let size: usize = args.iter().map(|a| a.len() + 16).sum();
    if m.bytes + size > limit {
        tracing::warn!(
            "closing client {}: queued transaction passed the query buffer limit",
            sess.handle.addr
        );
        rt.engine
            .stats
            .query_limit_disconnections
            .fetch_add(1, Relaxed);
        return After::Drop;
    }
    m.bytes += size;
    m.flags |= spec.flags;
    if spec.flags & table::OTHER_DB != 0
        && super::keys::other_db_keys(spec, rt.engine.dbs.count(), sess.db, args)
            .iter()
            .any(|&(db, _)| db != sess.db)
    {
        m.flags |= table::UNDECLARED;
    }
    m.queue.push(Queued {
        id,
        args: args.iter().map(|a| Box::<[u8]>::from(*a)).collect(),
    });
    sess.handle.multi.store(m.queue.len() as i64, Relaxed);
    sess.handle.multi_mem.store(m.bytes as u64, Relaxed);
    out.raw(b"+QUEUED\r\n");
    After::Continue
}

/// Leaves MULTI without running anything, and drops every WATCH.
pub fn discard(sess: &mut Session, eng: &Engine) {
    sess.multi = None;
    sess.handle.multi.store(-1, Relaxed);
    sess.handle.multi_mem.store(0, Relaxed);
    unwatch_all(sess, eng);
}

/// Drops every key this client watches.
pub fn unwatch_all(sess: &mut Session, eng: &Engine) {
    let watches = &eng.dbs.shared().watches;
    watches.unwatch(&sess.watched, &sess.watch_flag);
    sess.watched.clear();
    sess.watch_flag.store(false, Relaxed);
}

pub fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(errors::MULTI_NESTED);
    }
    ctx.sess.multi = Some(Multi::default());
    ctx.sess.handle.multi.store(0, Relaxed);
    ctx.out.ok();
    Ok(())
}

pub fn discard_cmd(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.sess.multi.is_none() {
        return Err(errors::DISCARD_WITHOUT_MULTI);
    }
    discard(ctx.sess, ctx.eng);
    ctx.out.ok();
    Ok(())
}

pub fn watch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.sess.multi.is_some() {
        return Err(errors::WATCH_INSIDE_MULTI);
    }
    let db = ctx.sess.db;
    let watches = &ctx.eng.dbs.shared().watches;
    for key in &args[1..] {
        // A key already expired is deleted now: it is then a missing key,
        // and only a new write to it will count.
        ctx.unit.key(db, key).find(Access::PEEK);
        if watches.watch(db, key, &ctx.sess.watch_flag) {
            ctx.sess.watched.push((db, Box::from(*key)));
        }
    }
    ctx.out.ok();
    Ok(())
}

pub fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    unwatch_all(ctx.sess, ctx.eng);
    ctx.out.ok();
    Ok(())
}

pub fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let Some(multi) = ctx.sess.multi.take() else {
        return Err(errors::EXEC_WITHOUT_MULTI);
    };
    ctx.sess.handle.multi.store(-1, Relaxed);
    ctx.sess.handle.multi_mem.store(0, Relaxed);
    if multi.aborted {
        unwatch_all(ctx.sess, ctx.eng);
        return Err(errors::EXECABORT);
    }
    // A watched key whose TTL passed since WATCH counts as changed: looking
    // it up deletes it, which flags this client.
    for (db, key) in ctx.sess.watched.clone() {
        ctx.unit.key(db, &key).find(Access::PEEK);
    }
    let dirty = ctx.sess.watch_flag.load(Relaxed);
    unwatch_all(ctx.sess, ctx.eng);
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(multi.queue.len());
    let table = super::CommandTable::get();
    ctx.sess.nested = true;
    for q in &multi.queue {
        let args: Vec<&[u8]> = q.args.iter().map(|a| &a[..]).collect();
        let after = dispatch::invoke(
            ctx.rt,
            ctx.sess,
            ctx.unit,
            ctx.out,
            ctx.now,
            q.id,
            table.spec(q.id),
            &args,
        );
        if after != After::Continue {
            ctx.after = after;
        }
    }
    ctx.sess.nested = false;
    Ok(())
}
