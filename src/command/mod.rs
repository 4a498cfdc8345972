//! Command execution: the command table (`table`), dispatch with its gates
//! (unknown command, LOADING, AUTH, arity, BUSY, OOM), and one handler file
//! per command family.
//!
//! A handler receives the full argument vector (`args[0]` is the command
//! name) as byte slices borrowed from the read buffer, reaches the engine
//! through [`Ctx`] (its unit holds the shard locks the command needs),
//! appends exactly one reply to the connection's output buffer on success,
//! and returns `Err(CmdError)` to fail (dispatch writes the error). Handlers
//! never see the server: what they need from it goes through [`Host`].

pub mod admin;
pub mod counters;
pub mod docs;
pub mod expiry;
pub mod hashes;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod persistence;
pub mod session;
pub mod strings;
pub mod table;
pub mod testing;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::config::P;
use crate::engine::clients::ClientHandle;
use crate::engine::gate::Pass;
use crate::engine::stats::LocalStats;
use crate::engine::unit::Unit;
use crate::engine::Engine;
use crate::errors::{self, CmdError, CmdResult};
use crate::protocol::Reply;

pub use table::{CommandSpec, CommandTable};

/// What SHUTDOWN asked for about the final snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShutdownSave {
    /// Follow `save-on-shutdown`.
    Default,
    /// SHUTDOWN NOSAVE.
    Skip,
    /// SHUTDOWN SAVE.
    Force,
}

/// What commands need from the server around the engine.
pub trait Host: Send + Sync {
    /// Starts a graceful shutdown.
    fn shutdown(&self, mode: ShutdownSave);
}

/// A host that ignores requests (the in-process harness).
pub struct NoHost;

impl Host for NoHost {
    fn shutdown(&self, _mode: ShutdownSave) {}
}

/// The command layer's shared state: the engine and the host.
pub struct Runtime {
    pub engine: Arc<Engine>,
    pub host: Arc<dyn Host>,
}

impl Runtime {
    pub fn new(engine: Arc<Engine>, host: Arc<dyn Host>) -> Runtime {
        Runtime { engine, host }
    }
}

/// CLIENT REPLY modes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command.
    SkipNext,
    /// Set while running the command whose reply is skipped.
    Skipping,
}

/// What the connection must do after a command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum After {
    Continue,
    /// Flush pending replies, then close (QUIT).
    Close,
    /// Close at once without replying (cross-protocol attack, CLIENT KILL of self).
    Drop,
}

/// Command state owned by one connection.
pub struct Session {
    pub handle: Arc<ClientHandle>,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    /// The selected database.
    pub db: usize,
    pub stats: LocalStats,
    /// Settings dispatch reads for every command, refreshed each batch.
    pub knobs: Knobs,
    /// When the current command started: set at the start of each batch and
    /// advanced as each command ends, so timing costs one clock read (the
    /// TSC, via quanta) per command.
    clock: quanta::Instant,
}

impl Session {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        Session {
            handle,
            authenticated,
            reply_mode: ReplyMode::On,
            db: 0,
            stats: LocalStats::default(),
            knobs: Knobs {
                version: u64::MAX,
                maxmemory: 0,
                slowlog_threshold: 0,
            },
            clock: quanta::Instant::now(),
        }
    }

    /// Marks the start of a batch of requests (call after each read).
    #[inline]
    pub fn start_batch(&mut self, settings: &crate::config::Settings) {
        self.clock = quanta::Instant::now();
        self.refresh_knobs(settings);
    }

    /// Copies the per-command settings again if any changed.
    #[inline]
    pub fn refresh_knobs(&mut self, settings: &crate::config::Settings) {
        let version = settings.version();
        if version != self.knobs.version {
            self.knobs = Knobs {
                version,
                maxmemory: settings.uint(P::Maxmemory) as usize,
                slowlog_threshold: settings.int(P::SlowlogLogSlowerThan),
            };
        }
    }

    /// Selects database `db` (already checked).
    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.handle.db.store(db as u16, Relaxed);
    }
}

/// Settings read for every command, copied once per batch (and again
/// whenever CONFIG SET changed anything).
#[derive(Clone, Copy, Debug)]
pub struct Knobs {
    version: u64,
    pub maxmemory: usize,
    pub slowlog_threshold: i64,
}

/// Everything a handler can see.
pub struct Ctx<'a, 'e> {
    pub rt: &'e Runtime,
    pub eng: &'e Arc<Engine>,
    pub sess: &'a mut Session,
    /// The unit this command runs in (its shard locks).
    pub unit: &'a mut Unit<'e>,
    pub out: &'a mut Reply,
    pub spec: &'static CommandSpec,
    /// Time of this command, unix milliseconds.
    pub now: u64,
    pub after: After,
    /// Replies this command writes when it succeeds (checked in debug
    /// builds): one, but none for CLIENT REPLY OFF and SKIP.
    pub replies: usize,
}

impl Ctx<'_, '_> {
    /// The arity error of this command.
    pub fn arity_error(&self) -> CmdError {
        errors::wrong_arity(self.spec.name)
    }

    /// The selected database.
    #[inline]
    pub fn db(&self) -> usize {
        self.sess.db
    }

    /// How this client's reads treat the keys they find (CLIENT NO-TOUCH).
    #[inline]
    pub fn access(&self, access: crate::engine::store::Access) -> crate::engine::store::Access {
        if self.sess.handle.no_touch.load(Relaxed) {
            access.without_touch()
        } else {
            access
        }
    }
}

/// Parses an integer argument with Redis's error.
#[inline]
pub fn int_arg(arg: &[u8]) -> CmdResult<i64> {
    crate::numeric::parse_i64(arg).ok_or(errors::NOT_INTEGER)
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
#[inline]
pub fn eq_ic(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Writes an error reply and counts it.
fn reply_error(sess: &mut Session, out: &mut Reply, e: &CmdError) {
    sess.stats.error(e.code());
    out.error_bytes(e.text());
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
    let table = CommandTable::get();
    let eng = &rt.engine;
    let Some(top) = table.lookup(args[0]) else {
        if eq_ic(args[0], "post") || eq_ic(args[0], "host:") {
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
        reply_error(sess, out, &e);
        return After::Continue;
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
                reply_error(sess, out, &e);
                sess.stats.slot(top).rejected += 1;
                return After::Continue;
            }
        }
    }
    let rejection = if eng.persist.is_loading() && spec.flags & table::LOADING == 0 {
        Some(errors::LOADING)
    } else if !sess.authenticated && spec.flags & table::NO_AUTH == 0 {
        Some(errors::NOAUTH)
    } else if !spec.arity_ok(args.len()) {
        Some(errors::wrong_arity(spec.name))
    } else {
        None
    };
    if let Some(e) = rejection {
        reply_error(sess, out, &e);
        sess.stats.slot(id).rejected += 1;
        return After::Continue;
    }

    let exclusive_pass;
    let held = if spec.flags & table::EXCLUSIVE != 0 {
        *pass = None;
        exclusive_pass = eng.gate.exclusive();
        exclusive_pass.as_ref()
    } else {
        if pass.is_none() {
            *pass = eng.gate.shared();
        }
        pass.as_ref()
    };
    let Some(held) = held else {
        reply_error(sess, out, &errors::BUSY);
        sess.stats.slot(id).rejected += 1;
        return After::Continue;
    };
    let mut unit = Unit::within(held, &eng.dbs, now);

    let max_memory = sess.knobs.maxmemory;
    if max_memory > 0
        && spec.flags & table::DENYOOM != 0
        && !make_room(rt, sess.db, spec, args, max_memory, now)
    {
        reply_error(sess, out, &errors::OOM);
        sess.stats.slot(id).rejected += 1;
        return After::Continue;
    }
    if spec.key_count(args.len()) > 1 {
        let hashes: Vec<u64> = spec.keys(args).map(|k| eng.dbs.hash(k)).collect();
        unit.lock_keys(sess.db, &hashes);
    }

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
        unit: &mut unit,
        out,
        spec,
        now,
        after: After::Continue,
        replies: 1,
    };
    let result = (spec.handler)(&mut ctx, args);
    let (after, expected) = (ctx.after, if result.is_ok() { ctx.replies } else { 1 });
    let failed = match &result {
        Ok(()) => false,
        Err(e) => {
            reply_error(sess, out, e);
            true
        }
    };
    debug_assert!(
        after == After::Drop
            || crate::protocol::reply::count_frames(&out.as_bytes()[mark..]) == Some(expected),
        "'{}' must write exactly {expected} reply",
        spec.name
    );
    unit.release_shards();
    if max_memory > 0 && spec.flags & table::WRITE != 0 && eng.dbs.used_bytes() > max_memory {
        // The estimate before the command was short (COPY, growing values): evict now.
        let protected: Vec<u64> = spec.keys(args).map(|k| eng.dbs.hash(k)).collect();
        eng.dbs.make_room(0, max_memory, None, &protected, now);
    }
    drop(unit);
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
fn make_room(
    rt: &Runtime,
    db: usize,
    spec: &CommandSpec,
    args: &[&[u8]],
    max_memory: usize,
    now: u64,
) -> bool {
    let eng = &rt.engine;
    let mut incoming: usize =
        args[1..].iter().map(|a| a.len()).sum::<usize>() + crate::engine::store::ENTRY_OVERHEAD;
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
