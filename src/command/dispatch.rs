//! Dispatch: from an argument vector to one reply.
//!
//! [`execute`] resolves the command in the table, applies the gates in
//! Redis's order (unknown command, LOADING, NOAUTH, arity, the RESP2
//! subscriber gate, MULTI queueing, BUSY, OOM), plans the unit of execution
//! (which shards to lock, or the whole keyspace), and runs the handler
//! through [`invoke`], which keeps the statistics, the slow log and CLIENT
//! REPLY. EXEC runs each queued command through `invoke` inside its own
//! unit.

use std::sync::atomic::Ordering::Relaxed;

use super::table::{self, CommandSpec, CommandTable};
use super::{After, Ctx, ReplyMode, Runtime, Session};
use crate::engine::clients::ClientKind;
use crate::engine::gate::Pass;
use crate::engine::unit::Unit;
use crate::errors::{self, CmdError};
use crate::protocol::Reply;

/// Writes an error reply and counts it.
pub(super) fn reply_error(sess: &mut Session, out: &mut Reply, e: &CmdError) {
    sess.stats.error(e.code());
    out.error_bytes(e.text());
}

/// A command refused before it ran: the error is its reply, and a
/// transaction being queued is flagged so its EXEC fails.
fn reject(sess: &mut Session, out: &mut Reply, e: &CmdError, id: Option<usize>) -> After {
    reply_error(sess, out, e);
    if let Some(id) = id {
        sess.stats.slot(id).rejected += 1;
    }
    if let Some(m) = sess.multi.as_mut() {
        m.aborted = true;
    }
    After::Continue
}

/// Cluster mode: whether this node serves the command's keys (for EXEC,
/// the queued commands' keys), or the redirection to answer.
fn route(
    eng: &crate::engine::Engine,
    sess: &Session,
    spec: &CommandSpec,
    args: &[&[u8]],
    now: u64,
) -> Result<(), errors::CmdError> {
    let keys = if spec.flags & table::EXEC != 0 {
        match &sess.multi {
            Some(m) => m.queued_keys(),
            None => return Ok(()),
        }
    } else {
        spec.all_keys(args)
    };
    if keys.is_empty() {
        return Ok(());
    }
    let is_migrate = spec.name == "migrate";
    let asking_command = spec.flags & table::ASKING != 0;
    let is_write = if spec.flags & table::EXEC != 0 {
        sess.multi
            .as_ref()
            .is_some_and(|m| m.flags & table::WRITE != 0)
    } else {
        spec.flags & table::WRITE != 0
    };
    super::cluster::route(eng, sess, &keys, is_migrate, asking_command, is_write, now)
}

/// Runs one command and appends its reply. Returns what the connection
/// must do next.
///
/// `pass` is the caller's pass through the engine's gate: a connection
/// keeps one shared pass for a batch of commands (taken here when missing)
/// and must drop it before it waits for I/O. A command that needs the whole
/// keyspace gives it up and passes alone.
pub fn execute<'g>(
    rt: &'g Runtime,
    sess: &mut Session,
    out: &mut Reply,
    now: u64,
    args: &[&[u8]],
    pass: &mut Option<Pass<'g>>,
) -> After {
    let after = run_command(rt, sess, out, now, args, pass);
    // ASKING lasts for one command, or until EXEC.
    if sess.asking && sess.multi.is_none() && !super::eq_ic(args[0], "asking") {
        sess.asking = false;
    }
    signal_expired_streams(&rt.engine);
    // Clients blocked on keys this command (transaction, script) made
    // ready are served before this connection's next command.
    if rt.engine.blocking.has_ready() {
        super::blocking::serve(rt, pass, now);
    }
    after
}

/// Marks ready the streams that expired (by lazy or active expiry) while
/// XREADGROUP clients may wait on them, so they learn the key is gone.
pub fn signal_expired_streams(eng: &crate::engine::Engine) {
    if let Some(keys) = eng.dbs.shared().expired_streams.take() {
        for (db, key) in keys {
            eng.blocking.signal(db, &key);
        }
    }
}

fn run_command<'g>(
    rt: &'g Runtime,
    sess: &mut Session,
    out: &mut Reply,
    now: u64,
    args: &[&[u8]],
    pass: &mut Option<Pass<'g>>,
) -> After {
    let table = CommandTable::get();
    let eng = &rt.engine;
    let Some(top) = table.lookup(args[0]) else {
        if super::eq_ic(args[0], "post") || super::eq_ic(args[0], "host:") {
            tracing::warn!(
                "possible cross-protocol attack from {}: got '{}', closing the connection",
                sess.handle.addr,
                String::from_utf8_lossy(args[0])
            );
            return After::Drop;
        }
        let e = if !sess.authenticated {
            errors::NOAUTH
        } else {
            errors::unknown_command(args[0], &args[1..])
        };
        return reject(sess, out, &e, None);
    };
    let mut id = top;
    let mut spec = table.spec(top);
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match table.lookup_sub(top, args[1]) {
            Some(sub) => {
                id = sub;
                spec = table.spec(sub);
            }
            None => {
                let e = if !sess.authenticated {
                    errors::NOAUTH
                } else {
                    errors::unknown_subcommand(args[1], spec.name)
                };
                return reject(sess, out, &e, Some(top));
            }
        }
    }
    let is_exec = spec.flags & table::EXEC != 0;
    let gate = if eng.persist.is_loading() && spec.flags & table::LOADING == 0 {
        Some(errors::LOADING)
    } else if !sess.authenticated && spec.flags & table::NO_AUTH == 0 {
        Some(errors::NOAUTH)
    } else if !spec.arity_ok(args.len()) {
        Some(errors::wrong_arity(spec.name))
    } else if sess.subs.any()
        && !out.resp3()
        && !super::pubsub::allowed_when_subscribed(table.spec(top).name)
    {
        Some(errors::subscribed_mode(spec.name))
    } else {
        None
    };
    if let Some(e) = gate {
        if is_exec && sess.multi.is_some() {
            super::txn::discard(sess, eng);
            return reject(sess, out, &errors::exec_abort_because(&e), Some(id));
        }
        return reject(sess, out, &e, Some(id));
    }
    if eng.cluster.is_some() && sess.handle.kind() != ClientKind::Master {
        if let Err(e) = route(eng, sess, spec, args, now) {
            if is_exec && sess.multi.is_some() {
                super::txn::discard(sess, eng);
            }
            return reject(sess, out, &e, Some(id));
        }
    }
    if sess.multi.is_some() && spec.flags & table::NO_QUEUE == 0 {
        return super::txn::queue(rt, sess, out, now, id, spec, args);
    }

    // Plan the unit: the whole keyspace, or the shards of its keys.
    let exclusive = if is_exec {
        sess.multi
            .as_ref()
            .is_some_and(|m| m.flags & (table::EXCLUSIVE | table::UNDECLARED) != 0)
    } else {
        spec.flags & table::EXCLUSIVE != 0
    };
    let exclusive_pass;
    let held = if exclusive {
        *pass = None;
        exclusive_pass = eng.gate.exclusive();
        exclusive_pass.as_ref()
    } else {
        if pass.is_none() {
            *pass = eng.gate.shared();
        }
        pass.as_ref()
    };
    let busy_pass = Pass::Busy;
    let held = match held {
        None if spec.flags & table::ALLOW_BUSY != 0 => Some(&busy_pass),
        other => other,
    };
    let Some(held) = held else {
        if is_exec && sess.multi.is_some() {
            super::txn::discard(sess, eng);
            return reject(
                sess,
                out,
                &errors::exec_abort_because(&errors::BUSY),
                Some(id),
            );
        }
        return reject(sess, out, &errors::BUSY, Some(id));
    };
    let mut unit = Unit::within(held, &eng.dbs, now);
    unit.writer = sess.handle.id;
    unit.set_read_only(spec.flags & table::READONLY != 0);
    let from_master = sess.handle.kind() == ClientKind::Master;
    unit.keep_expired = from_master;

    let max_memory = sess.knobs.maxmemory;
    let denyoom = if is_exec {
        sess.multi
            .as_ref()
            .is_some_and(|m| m.flags & table::DENYOOM != 0)
    } else {
        spec.flags & table::DENYOOM != 0
    };
    // A replica applies its master's writes whatever its own maxmemory.
    if max_memory > 0 && denyoom && !from_master {
        let fits = if is_exec {
            make_room(rt, sess.db, spec, &[], max_memory, now)
        } else {
            make_room(rt, sess.db, spec, args, max_memory, now)
        };
        if !fits {
            if is_exec {
                super::txn::discard(sess, eng);
                return reject(
                    sess,
                    out,
                    &errors::exec_abort_because(&errors::OOM),
                    Some(id),
                );
            }
            return reject(sess, out, &errors::OOM, Some(id));
        }
    }
    let writes = if is_exec {
        sess.multi
            .as_ref()
            .is_some_and(|m| m.flags & table::WRITE != 0)
    } else {
        spec.flags & table::WRITE != 0
    };
    if writes && (sess.knobs.min_replicas > 0 || eng.is_replica() || eng.snapshot_failing()) {
        if let Err(e) = super::replication::check_write(eng, from_master, now) {
            if is_exec {
                super::txn::discard(sess, eng);
                return reject(sess, out, &errors::exec_abort_because(&e), Some(id));
            }
            return reject(sess, out, &e, Some(id));
        }
    }
    if is_exec {
        if let Some(m) = &sess.multi {
            if !exclusive {
                // The queued commands' keys, and the watched ones EXEC checks.
                let mut keys: Vec<(usize, u64)> = m
                    .key_hashes(&eng.dbs)
                    .into_iter()
                    .map(|h| (sess.db, h))
                    .collect();
                keys.extend(sess.watched.iter().map(|(db, k)| (*db, eng.dbs.hash(k))));
                unit.lock_keys_in(&keys);
            }
        }
    } else if spec.flags & table::OTHER_DB != 0 {
        let keys: Vec<(usize, u64)> =
            super::keys::other_db_keys(spec, eng.dbs.count(), sess.db, args)
                .into_iter()
                .map(|(db, k)| (db, eng.dbs.hash(k)))
                .collect();
        unit.lock_keys_in(&keys);
    } else if spec.key_count(args.len()) > 1 {
        let hashes: Vec<u64> = spec.keys(args).map(|k| eng.dbs.hash(k)).collect();
        unit.lock_keys(sess.db, &hashes);
    }

    let after = invoke(rt, sess, &mut unit, out, now, id, spec, args);
    // What the command (transaction, script) changed reaches replicas
    // before its locks are released.
    if unit.feed_propagated() {
        sess.repl_offset = eng.dbs.shared().feed.offset();
    }

    unit.release_shards();
    if max_memory > 0
        && spec.flags & table::WRITE != 0
        && !from_master
        && eng.dbs.used_bytes() > max_memory
    {
        // The estimate before the command was short (COPY, growing values): evict now.
        let protected: Vec<u64> = spec.keys(args).map(|k| eng.dbs.hash(k)).collect();
        eng.dbs.make_room(0, max_memory, None, &protected, now);
    }
    after
}

/// Runs a command that passed the gates inside `unit`: the handler, its
/// reply (or error), statistics, the slow log and CLIENT REPLY.
#[allow(clippy::too_many_arguments)]
pub(super) fn invoke<'e>(
    rt: &'e Runtime,
    sess: &mut Session,
    unit: &mut Unit<'e>,
    out: &mut Reply,
    now: u64,
    id: usize,
    spec: &'static CommandSpec,
    args: &[&[u8]],
) -> After {
    let eng = &rt.engine;
    sess.handle.last_cmd.store(id as u16 + 1, Relaxed);
    let mark = out.len();
    let mode_before = sess.reply_mode;
    if mode_before == ReplyMode::SkipNext {
        sess.reply_mode = ReplyMode::Skipping;
    }
    let started = sess.clock;
    let mut ctx = Ctx {
        rt,
        eng,
        sess,
        unit,
        out,
        spec,
        now,
        after: After::Continue,
        replies: 1,
        fed: false,
    };
    let result = (spec.handler)(&mut ctx, args);
    let (after, expected) = (ctx.after, if result.is_ok() { ctx.replies } else { 1 });
    if result.is_ok()
        && !ctx.fed
        && spec.flags & (table::WRITE | table::PROPAGATE) != 0
        && ctx.feeding()
    {
        // A write that succeeded reaches replicas as it was received.
        let db = ctx.sess.db;
        ctx.unit
            .propagate(db, args.iter().map(|a| a.to_vec()).collect());
    }
    if result.is_ok()
        && spec.flags & table::WRITE != 0
        && eng.blocking.has_waiters()
        && spec.group != "stream"
    {
        // A write may have deleted or replaced a stream that XREADGROUP
        // clients wait on (they get an error). Stream commands signal
        // where Redis does (XADD, XGROUP DESTROY) and nowhere else.
        if spec.flags & table::UNDECLARED != 0 && !spec.has_keys() {
            eng.blocking.signal_all();
        } else {
            for key in spec.all_keys(args) {
                eng.blocking.signal(ctx.sess.db, key);
            }
        }
    }
    let failed = match &result {
        Ok(()) => false,
        Err(e) => {
            reply_error(sess, out, e);
            true
        }
    };
    if sess.tracking.is_some() && spec.name != "client|caching" {
        // Keys of reads are remembered for client-side caching (not those
        // of EVAL_RO/EVALSHA_RO, whose keys are declared, not read).
        let read = spec.flags & table::READONLY != 0
            && !matches!(spec.name, "eval_ro" | "evalsha_ro")
            && spec.group != "pubsub";
        super::tracking::after_command(sess, eng, read, spec.keys(args));
    }
    debug_assert!(
        after == After::Drop
            || crate::protocol::reply::count_frames(&out.as_bytes()[mark..]) == Some(expected),
        "'{}' must write exactly {expected} reply",
        spec.name
    );
    if spec.flags & table::ADMIN != 0 {
        // CONFIG SET may have changed what the next command must see.
        sess.refresh_knobs(&eng.settings);
    }
    let ended = quanta::Instant::now();
    let elapsed = ended.duration_since(started).as_micros() as u64;
    sess.clock = ended;
    let stat = sess.stats.slot(id);
    stat.calls += 1;
    stat.usec += elapsed;
    if failed {
        stat.failed += 1;
    }
    sess.stats.commands += 1;
    sess.stats.latency[crate::engine::stats::latency_bucket(elapsed)] += 1;
    sess.stats.latency_sum_us += elapsed;
    if !failed && spec.flags & table::WRITE != 0 {
        sess.stats.dirty += 1;
    }
    if sess.knobs.slowlog_threshold >= 0 && elapsed as i64 >= sess.knobs.slowlog_threshold {
        eng.slowlog.maybe_record(elapsed, args, &sess.handle);
    }
    let mode_after = sess.reply_mode;
    let suppress = match mode_before {
        // Only CLIENT REPLY ON is answered while replies are off.
        ReplyMode::Off => mode_after != ReplyMode::On,
        ReplyMode::SkipNext => true,
        // CLIENT REPLY OFF / SKIP itself is not answered.
        _ => matches!(mode_after, ReplyMode::Off | ReplyMode::SkipNext),
    };
    if suppress {
        out.truncate(mark);
    }
    if sess.reply_mode == ReplyMode::Skipping {
        sess.reply_mode = ReplyMode::On;
    }
    after
}

/// Before a command that may grow memory, evicts until its arguments fit
/// under `maxmemory`. False when they cannot (noeviction, or nothing left
/// to evict): the command is then refused with OOM.
pub(super) fn make_room(
    rt: &Runtime,
    db: usize,
    spec: &CommandSpec,
    args: &[&[u8]],
    max_memory: usize,
    now: u64,
) -> bool {
    let eng = &rt.engine;
    let mut incoming: usize = args.iter().skip(1).map(|a| a.len()).sum::<usize>()
        + if args.is_empty() {
            0
        } else {
            crate::engine::store::ENTRY_OVERHEAD
        };
    if spec.name == "setrange" {
        incoming += crate::numeric::parse_i64(args[2])
            .unwrap_or(0)
            .clamp(0, 1 << 30) as usize;
    }
    if eng.dbs.used_bytes() + incoming <= max_memory {
        return true;
    }
    if eng.settings.policy() == crate::config::EvictionPolicy::NoEviction {
        return false;
    }
    let protected: Vec<u64> = spec.keys(args).map(|k| eng.dbs.hash(k)).collect();
    let near = protected.first().map(|&h| (db, h));
    eng.dbs
        .make_room(incoming, max_memory, near, &protected, now)
}
