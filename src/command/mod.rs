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
pub mod blocking;
pub mod cluster;
pub mod counters;
pub mod docs;
pub mod expiry;
pub mod hashes;
pub mod info;
pub mod introspect;
pub mod keys;
pub mod lists;
pub mod migrate;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod script;
pub mod session;
pub mod sets;
pub mod streams;
pub mod strings;
pub mod table;
pub mod testing;
pub mod tracking;
pub mod txn;
pub mod zsets;

mod dispatch;
pub use dispatch::{execute, signal_expired_streams};

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::config::P;
use crate::engine::clients::ClientHandle;
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
    /// Starts the link to the master `Engine::role` names (its generation
    /// tells an older link to stop).
    fn follow_master(&self);
    /// Moves the plaintext listeners to `port` on `ips` (CONFIG SET port or
    /// bind). Err, with nothing changed, when one cannot be bound.
    fn rebind(&self, _port: u16, _ips: &[std::net::IpAddr]) -> Result<(), String> {
        Ok(())
    }
}

/// A host that ignores requests (the in-process harness).
pub struct NoHost;

impl Host for NoHost {
    fn shutdown(&self, _mode: ShutdownSave) {}
    fn follow_master(&self) {}
}

/// The command layer's shared state: the engine, the host, and the
/// scripting VM.
pub struct Runtime {
    pub engine: Arc<Engine>,
    pub host: Arc<dyn Host>,
    pub scripts: script::Scripts,
}

impl Runtime {
    pub fn new(engine: Arc<Engine>, host: Arc<dyn Host>) -> Runtime {
        Runtime {
            engine,
            host,
            scripts: script::Scripts::default(),
        }
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
    /// The client blocked (BLPOP...): its wait is in `Session::blocked`.
    Block,
    /// The client waits for replicas to acknowledge its writes (WAIT):
    /// the connection sits it out (`Session::waiting`) and replies.
    Wait,
    /// The client is a replica that asked for the stream (SYNC, PSYNC):
    /// the connection serves it from now on (`Session::replica_hello`).
    Replicate,
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
    /// The transaction being queued (MULTI), if any.
    pub multi: Option<txn::Multi>,
    /// Keys this client WATCHes, and the flag set when one of them changes.
    pub watched: Vec<(usize, Box<[u8]>)>,
    pub watch_flag: crate::engine::store::watch::WatchFlag,
    /// Pub/Sub subscriptions.
    pub subs: pubsub::Subscriptions,
    /// Commands run inside EXEC or a script: blocking commands answer at
    /// once instead of blocking.
    pub nested: bool,
    /// Commands come from a script (XREAD refuses BLOCK there).
    pub script: bool,
    /// The wait a blocking command started (and its timeout in ms, 0 =
    /// none), for the connection to sit out.
    pub blocked: Option<(Arc<crate::engine::blocking::Waiter>, u64)>,
    /// The replication offset after this client's last write (WAIT).
    pub repl_offset: u64,
    /// What a connecting replica said before PSYNC (REPLCONF).
    pub replica_hello: replication::Hello,
    /// The WAIT this client sits out, if any.
    pub waiting: Option<replication::WaitFor>,
    /// Client-side caching mode (CLIENT TRACKING), if on.
    pub tracking: Option<Box<tracking::TrackingState>>,
    /// Cluster mode: the next command may use a slot being imported
    /// (ASKING; kept through a MULTI until EXEC).
    pub asking: bool,
    /// Cluster mode: READONLY was sent (reads served by a replica).
    pub cluster_readonly: bool,
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
                min_replicas: 0,
            },
            multi: None,
            watched: Vec::new(),
            watch_flag: Default::default(),
            subs: Default::default(),
            nested: false,
            script: false,
            blocked: None,
            repl_offset: 0,
            replica_hello: Default::default(),
            waiting: None,
            tracking: None,
            asking: false,
            cluster_readonly: false,
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
                min_replicas: settings.uint(P::MinReplicasToWrite) as usize,
            };
        }
    }

    /// Ends the session: releases what the engine keeps for it (watched
    /// keys, subscriptions). Call when the connection closes.
    pub fn close(&mut self, eng: &Engine) {
        if let Some((w, _)) = self.blocked.take() {
            eng.blocking.cancel(&w);
        }
        txn::unwatch_all(self, eng);
        pubsub::leave_all(self, eng);
        tracking::stop(self, eng);
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
    pub min_replicas: usize,
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
    /// The handler chose what replicas get ([`Ctx::propagate`]); otherwise
    /// a write that succeeded is fed as received.
    pub fed: bool,
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

    /// Whether writes are fed to replicas (check before building a
    /// rewritten command).
    #[inline]
    pub fn feeding(&self) -> bool {
        self.eng.dbs.shared().feed.is_active()
    }

    /// Feeds `args` to replicas in place of this command as received (for
    /// what Redis rewrites: relative TTLs, random or float results,
    /// blocking forms). May be called more than once.
    pub fn propagate<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.fed = true;
        if self.feeding() {
            let args = args.iter().map(|a| a.as_ref().to_vec()).collect();
            self.unit.propagate(self.sess.db, args);
        }
    }

    /// Publishes a keyspace notification (`notify-keyspace-events`) for
    /// `key` in the client's database.
    #[inline]
    pub fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.notify_in(self.sess.db, class, event, key);
    }

    /// [`Ctx::notify`] for a key of database `db`.
    #[inline]
    pub fn notify_in(&self, db: usize, class: u32, event: &str, key: &[u8]) {
        self.eng.dbs.shared().notifier.emit(class, event, key, db);
    }

    /// Feeds nothing for this command (it changed nothing).
    pub fn propagate_nothing(&mut self) {
        self.fed = true;
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

/// A database index argument, read as Redis reads it: an integer in C
/// `int` range (else `not_int`, or Redis's range error when `not_int` is
/// None), then a database that exists (`DB index is out of range`).
pub fn db_arg(dbs: usize, arg: &[u8], not_int: Option<CmdError>) -> CmdResult<usize> {
    let v = match crate::numeric::parse_i64(arg) {
        Some(v) if v >= i32::MIN as i64 && v <= i32::MAX as i64 => v,
        Some(_) => return Err(not_int.unwrap_or(errors::INT_OUT_OF_RANGE)),
        None => return Err(not_int.unwrap_or(errors::NOT_INTEGER)),
    };
    if v < 0 || v as usize >= dbs {
        return Err(errors::DB_OUT_OF_RANGE);
    }
    Ok(v as usize)
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
#[inline]
pub fn eq_ic(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}
