//! Command execution: the command table (`table`), dispatch with the arity
//! and AUTH gates, and one handler file per command family.
//!
//! A handler receives the full argument vector (`args[0]` is the command
//! name) as byte slices borrowed from the read buffer, and appends its reply
//! to the connection's output buffer. Handlers never format RESP by hand
//! beyond the `Reply` calls, and never hold a shard lock across calls.

pub mod connection;
pub mod counters;
pub mod docs;
pub mod expiry;
pub mod hashes;
pub mod keyspace;
pub mod persistence;
pub mod server;
pub mod strings;
pub mod table;

use std::sync::Arc;

use crate::errors;
use crate::protocol::Reply;
use crate::server::clients::ClientHandle;
use crate::server::Shared;

pub use table::{CommandSpec, CommandTable};

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

/// Per-connection command statistics, flushed into the global counters once
/// per batch so the hot path touches no shared cache line per command.
#[derive(Default)]
pub struct LocalStats {
    pub calls: Vec<CallStat>,
    pub touched: Vec<u16>,
    pub commands: u64,
    /// Successful writes, for `rdb_changes_since_last_save`.
    pub dirty: u64,
    /// Commands per latency bucket, and their summed time (µs).
    pub latency: [u64; crate::stats::LATENCY_BOUNDS_US.len() + 1],
    pub latency_sum_us: u64,
    pub errors: Vec<(&'static str, u64)>,
}

#[derive(Default, Clone, Copy)]
pub struct CallStat {
    pub calls: u64,
    pub usec: u64,
    pub failed: u64,
    pub rejected: u64,
}

impl LocalStats {
    fn slot(&mut self, id: usize) -> &mut CallStat {
        if self.calls.len() <= id {
            self.calls.resize(id + 1, CallStat::default());
        }
        let s = &mut self.calls[id];
        if s.calls == 0 && s.failed == 0 && s.rejected == 0 {
            self.touched.push(id as u16);
        }
        s
    }
}

/// State owned by one connection.
pub struct ClientState {
    pub handle: Arc<ClientHandle>,
    pub authenticated: bool,
    pub reply_mode: ReplyMode,
    pub stats: LocalStats,
    /// When the current command started: set at the start of each batch and
    /// advanced as each command ends, so timing costs one clock read (the TSC, via quanta) per
    /// command.
    clock: quanta::Instant,
}

impl ClientState {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Self {
        ClientState {
            handle,
            authenticated,
            reply_mode: ReplyMode::On,
            stats: LocalStats::default(),
            clock: quanta::Instant::now(),
        }
    }

    /// Marks the start of a batch of requests (call after each read).
    #[inline]
    pub fn start_batch(&mut self) {
        self.clock = quanta::Instant::now();
    }
}

/// Everything a handler can see.
pub struct Ctx<'a> {
    pub srv: &'a Shared,
    pub client: &'a mut ClientState,
    pub out: &'a mut Reply,
    /// Time of this batch, unix milliseconds.
    pub now: u64,
    pub spec: &'static CommandSpec,
    pub after: After,
    failed: bool,
}

impl<'a> Ctx<'a> {
    /// Replies with an error and records it in the error statistics.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.failed = true;
        let code = msg.split(|&c| c == b' ').next().unwrap_or(b"ERR");
        let code: &'static str = match code {
            b"WRONGTYPE" => "WRONGTYPE",
            b"NOAUTH" => "NOAUTH",
            b"WRONGPASS" => "WRONGPASS",
            b"OOM" => "OOM",
            b"NOPROTO" => "NOPROTO",
            b"LOADING" => "LOADING",
            _ => "ERR",
        };
        match self
            .client
            .stats
            .errors
            .iter_mut()
            .find(|(c, _)| *c == code)
        {
            Some(e) => e.1 += 1,
            None => self.client.stats.errors.push((code, 1)),
        }
        self.out.error_bytes(msg);
    }

    pub fn wrongtype(&mut self) {
        self.error(errors::WRONGTYPE);
    }
    pub fn syntax_error(&mut self) {
        self.error(errors::SYNTAX);
    }
    pub fn not_integer(&mut self) {
        self.error(errors::NOT_INTEGER);
    }
    pub fn arity_error(&mut self) {
        self.error(&errors::wrong_arity(self.spec.name));
    }

    /// Parses an integer argument, replying with Redis's error when it is not one.
    pub fn int_arg(&mut self, arg: &[u8]) -> Option<i64> {
        let v = crate::numeric::parse_i64(arg);
        if v.is_none() {
            self.not_integer();
        }
        v
    }
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
#[inline]
pub fn eq_ic(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Runs one command and appends its reply. Returns what the connection must do next.
pub fn execute(
    srv: &Shared,
    client: &mut ClientState,
    out: &mut Reply,
    now: u64,
    args: &[&[u8]],
) -> After {
    let table = CommandTable::get();
    let Some(top) = table.lookup(args[0]) else {
        if eq_ic(args[0], "post") || eq_ic(args[0], "host:") {
            tracing::warn!(
                "possible cross-protocol attack from {}: got '{}', closing the connection",
                client.handle.addr,
                String::from_utf8_lossy(args[0])
            );
            return After::Drop;
        }
        let mut c = reject_ctx(srv, client, out, now, table.unknown());
        if !c.client.authenticated {
            c.error(errors::NOAUTH);
        } else {
            c.error_bytes(&errors::unknown_command(args[0], &args[1..]));
        }
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
                let mut c = reject_ctx(srv, client, out, now, spec);
                if !c.client.authenticated {
                    c.error(errors::NOAUTH);
                } else {
                    c.error_bytes(&errors::unknown_subcommand(args[1], spec.name));
                }
                c.client.stats.slot(top).rejected += 1;
                return After::Continue;
            }
        }
    }
    let argc = args.len() as i32;
    if srv
        .persist
        .loading
        .load(std::sync::atomic::Ordering::Relaxed)
        && spec.flags & table::LOADING == 0
    {
        let mut c = reject_ctx(srv, client, out, now, spec);
        c.error(errors::LOADING);
        return After::Continue;
    }
    if !client.authenticated && spec.flags & table::NO_AUTH == 0 {
        let mut c = reject_ctx(srv, client, out, now, spec);
        c.error(errors::NOAUTH);
        c.client.stats.slot(id).rejected += 1;
        return After::Continue;
    }
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        let mut c = reject_ctx(srv, client, out, now, spec);
        c.arity_error();
        c.client.stats.slot(id).rejected += 1;
        return After::Continue;
    }

    let max_memory = srv.max_memory.load(std::sync::atomic::Ordering::Relaxed) as usize;
    if max_memory > 0
        && spec.flags & table::DENYOOM != 0
        && !make_room(srv, spec, args, max_memory, now)
    {
        let mut c = reject_ctx(srv, client, out, now, spec);
        c.error(errors::OOM);
        c.client.stats.slot(id).rejected += 1;
        return After::Continue;
    }

    let mark = out.len();
    let mode_before = client.reply_mode;
    if mode_before == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skipping;
    }
    let started = client.clock;
    let mut ctx = Ctx {
        srv,
        client,
        out,
        now,
        spec,
        after: After::Continue,
        failed: false,
    };
    (spec.handler)(&mut ctx, args);
    let ended = quanta::Instant::now();
    let elapsed = ended.duration_since(started).as_micros() as u64;
    ctx.client.clock = ended;
    let (after, failed) = (ctx.after, ctx.failed);
    if max_memory > 0 && spec.flags & table::WRITE != 0 && srv.ks.used_bytes() > max_memory {
        // The estimate before the command was short (COPY, growing values): evict now.
        srv.ks.make_room(
            0,
            max_memory,
            None,
            &command_key_hashes(srv, spec, args),
            now,
        );
    }
    let stat = client.stats.slot(id);
    stat.calls += 1;
    stat.usec += elapsed;
    if failed {
        stat.failed += 1;
    }
    client.stats.commands += 1;
    client.stats.latency[crate::stats::latency_bucket(elapsed)] += 1;
    client.stats.latency_sum_us += elapsed;
    if !failed && spec.flags & table::WRITE != 0 {
        client.stats.dirty += 1;
    }
    srv.slowlog.maybe_record(elapsed, args, &client.handle);
    let mode_after = client.reply_mode;
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
    if client.reply_mode == ReplyMode::Skipping {
        client.reply_mode = ReplyMode::On;
    }
    after
}

/// Hashes of the keys a command names (from the table's key positions).
fn command_key_hashes(srv: &Shared, spec: &CommandSpec, args: &[&[u8]]) -> Vec<u64> {
    if spec.first_key <= 0 {
        return Vec::new();
    }
    let argc = args.len() as i32;
    let last = if spec.last_key < 0 {
        argc + spec.last_key
    } else {
        spec.last_key.min(argc - 1)
    };
    (spec.first_key..=last)
        .step_by(spec.step.max(1) as usize)
        .map(|i| srv.ks.hash(args[i as usize]))
        .collect()
}

/// Before a command that may grow memory, evicts until its arguments fit
/// under `maxmemory`. False when they cannot (noeviction, or nothing left
/// to evict): the command is then refused with OOM.
fn make_room(
    srv: &Shared,
    spec: &CommandSpec,
    args: &[&[u8]],
    max_memory: usize,
    now: u64,
) -> bool {
    let mut incoming: usize =
        args[1..].iter().map(|a| a.len()).sum::<usize>() + crate::store::shard::ENTRY_OVERHEAD;
    if spec.name == "setrange" {
        incoming += crate::numeric::parse_i64(args[2])
            .unwrap_or(0)
            .clamp(0, 1 << 30) as usize;
    }
    if srv.ks.used_bytes() + incoming <= max_memory {
        return true;
    }
    if crate::evict::active_kind() == crate::config::EvictionPolicy::NoEviction {
        return false;
    }
    let protected = command_key_hashes(srv, spec, args);
    srv.ks.make_room(
        incoming,
        max_memory,
        protected.first().copied(),
        &protected,
        now,
    )
}

fn reject_ctx<'a>(
    srv: &'a Shared,
    client: &'a mut ClientState,
    out: &'a mut Reply,
    now: u64,
    spec: &'static CommandSpec,
) -> Ctx<'a> {
    Ctx {
        srv,
        client,
        out,
        now,
        spec,
        after: After::Continue,
        failed: false,
    }
}
