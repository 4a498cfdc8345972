//! Commands about the client's own session: PING, ECHO, QUIT, RESET,
//! HELLO, AUTH, SELECT and the CLIENT family.

use std::sync::atomic::Ordering::Relaxed;

use super::{eq_ic, After, Ctx, ReplyMode};
use crate::engine::clients::{ClientHandle, ClientKind};
use crate::errors::{self, CmdResult};
use crate::numeric;

pub fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis refuses PING like a write while snapshots fail, so health
    // checks notice (`stop-writes-on-bgsave-error`).
    if ctx.eng.snapshot_failing() {
        return Err(errors::MISCONF);
    }
    if args.len() <= 2 && super::pubsub::ping_subscribed(ctx, args) {
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.raw(b"+PONG\r\n"),
        2 => ctx.out.bulk(args[1]),
        _ => return Err(ctx.arity_error()),
    }
    Ok(())
}

pub fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
    Ok(())
}

pub fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.ok();
    ctx.after = After::Close;
    Ok(())
}

pub fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::txn::discard(ctx.sess, ctx.eng);
    super::pubsub::leave_all(ctx.sess, ctx.eng);
    super::tracking::stop(ctx.sess, ctx.eng);
    ctx.out.set_resp3(false);
    ctx.sess.handle.resp.store(2, Relaxed);
    *ctx.sess.handle.name.lock() = None;
    ctx.sess.handle.no_evict.store(false, Relaxed);
    ctx.sess.handle.no_touch.store(false, Relaxed);
    ctx.sess.reply_mode = ReplyMode::On;
    ctx.sess.select(0);
    ctx.sess.authenticated = !ctx.eng.auth_required();
    ctx.out.simple("RESET");
    Ok(())
}

/// Checks a password for `user`; true when it is accepted.
fn check_credentials(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    user == b"default" && ctx.eng.password_matches(pass)
}

pub fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let (user, pass) = if args.len() == 2 {
        if !ctx.eng.auth_required() {
            return Err(errors::AUTH_NOT_CONFIGURED);
        }
        (&b"default"[..], args[1])
    } else {
        (args[1], args[2])
    };
    if !check_credentials(ctx, user, pass) {
        return Err(errors::WRONGPASS);
    }
    ctx.sess.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// Client names may not contain spaces or special characters.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut version = 0i64;
    let mut next = 1;
    if args.len() >= 2 {
        version = numeric::parse_i64(args[1]).ok_or(errors::PROTO_NOT_INTEGER)?;
        if !(2..=3).contains(&version) {
            return Err(errors::NOPROTO);
        }
        next = 2;
    }
    let mut creds = None;
    let mut name = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "auth") && more >= 2 {
            creds = Some((args[j + 1], args[j + 2]));
            j += 2;
        } else if eq_ic(args[j], "setname") && more >= 1 {
            if !valid_client_name(args[j + 1]) {
                return Err(errors::CLIENT_NAME_INVALID);
            }
            name = Some(args[j + 1]);
            j += 1;
        } else {
            return Err(errors::with_arg(
                "Syntax error in HELLO option '",
                args[j],
                "'",
            ));
        }
        j += 1;
    }
    if let Some((user, pass)) = creds {
        if !check_credentials(ctx, user, pass) {
            return Err(errors::WRONGPASS);
        }
        ctx.sess.authenticated = true;
    }
    if !ctx.sess.authenticated {
        return Err(errors::HELLO_NOAUTH);
    }
    if let Some(n) = name {
        *ctx.sess.handle.name.lock() = if n.is_empty() { None } else { Some(n.to_vec()) };
    }
    if version != 0 {
        ctx.out.set_resp3(version == 3);
        ctx.sess.handle.resp.store(version as u8, Relaxed);
    }
    let proto = if ctx.out.resp3() { 3 } else { 2 };
    ctx.out.map(7);
    ctx.out.bulk_str("server");
    ctx.out.bulk_str("redis");
    ctx.out.bulk_str("version");
    ctx.out.bulk_str(crate::REDIS_COMPAT_VERSION);
    ctx.out.bulk_str("proto");
    ctx.out.int(proto);
    ctx.out.bulk_str("id");
    ctx.out.int(ctx.sess.handle.id as i64);
    ctx.out.bulk_str("mode");
    ctx.out.bulk_str("standalone");
    ctx.out.bulk_str("role");
    ctx.out.bulk_str("master");
    ctx.out.bulk_str("modules");
    ctx.out.empty_array();
    Ok(())
}

pub fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.eng.cluster.is_some() {
        let id = super::int_arg(args[1])?;
        if i32::try_from(id).is_err() {
            return Err(errors::INT_OUT_OF_RANGE);
        }
        if id != 0 {
            return Err(errors::SELECT_IN_CLUSTER);
        }
    }
    let db = super::db_arg(ctx.eng.dbs.count(), args[1], None)?;
    ctx.sess.select(db);
    ctx.out.ok();
    Ok(())
}

pub fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.sess.handle.id as i64);
    Ok(())
}

pub fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let name = ctx.sess.handle.name.lock().clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if !valid_client_name(args[2]) {
        return Err(errors::CLIENT_NAME_INVALID);
    }
    *ctx.sess.handle.name.lock() = if args[2].is_empty() {
        None
    } else {
        Some(args[2].to_vec())
    };
    ctx.out.ok();
    Ok(())
}

/// What only the calling client knows of itself: the bytes of the command
/// running (`argv-mem`) and of the replies already in its buffer.
pub struct Own {
    pub argv_mem: u64,
    pub out_len: u64,
    /// Bytes of the running request as sent (Redis's query buffer holds
    /// it while the command runs).
    pub request_len: u64,
}

impl Own {
    pub fn of(ctx: &Ctx, args: &[&[u8]]) -> Own {
        let digits = |n: usize| n.to_string().len() as u64;
        Own {
            argv_mem: args.iter().map(|a| a.len() as u64).sum(),
            out_len: ctx.out.len() as u64,
            request_len: 3
                + digits(args.len())
                + args
                    .iter()
                    .map(|a| 5 + digits(a.len()) + a.len() as u64)
                    .sum::<u64>(),
        }
    }
}

/// One CLIENT LIST / CLIENT INFO line, with Redis 7.0's fields in its
/// order. `own` is given for the client asking about itself.
pub fn describe(c: &ClientHandle, now_ms: u64, own: Option<&Own>) -> String {
    let age = now_ms.saturating_sub(c.created_ms) / 1000;
    let idle = now_ms.saturating_sub(c.last_active_ms.load(Relaxed)) / 1000;
    let mut flags = String::new();
    match c.kind() {
        ClientKind::Replica => flags.push('S'),
        ClientKind::Master => flags.push('M'),
        _ => {}
    }
    let subs: Vec<u32> = c.subs.iter().map(|s| s.load(Relaxed)).collect();
    if subs.iter().any(|&n| n > 0) {
        flags.push('P');
    }
    if c.multi.load(Relaxed) >= 0 {
        flags.push('x');
    }
    if c.blocked.load(Relaxed) {
        flags.push('b');
    }
    let tracking = c.tracking.load(Relaxed);
    if tracking != 0 {
        flags.push('t');
        if tracking & 4 != 0 {
            flags.push('R');
        }
        if tracking & 2 != 0 {
            flags.push('B');
        }
    }
    if c.no_evict.load(Relaxed) {
        flags.push('e');
    }
    if c.no_touch.load(Relaxed) {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let cmd = match c.last_cmd.load(Relaxed) {
        0 => "NULL",
        id => super::CommandTable::get().spec(id as usize - 1).name,
    };
    let (argv_mem, own_out) = own.map_or((0, 0), |o| (o.argv_mem, o.out_len));
    let multi_mem = c.multi_mem.load(Relaxed);
    // The caller's query buffer holds its own request while it runs.
    let (qbuf, qbuf_free) = match own {
        Some(o) => {
            let size = c.qbuf.load(Relaxed) + c.qbuf_free.load(Relaxed);
            (o.request_len, size.saturating_sub(o.request_len))
        }
        None => (c.qbuf.load(Relaxed), c.qbuf_free.load(Relaxed)),
    };
    let b = c.buffers(own_out);
    let tot_mem = b.tot_mem + argv_mem + std::mem::size_of::<super::Session>() as u64;
    let redir = if tracking != 0 {
        c.redirect.load(Relaxed) as i64
    } else {
        -1
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user=default redir={} resp={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd.load(Relaxed),
        c.name_lossy(),
        age,
        idle,
        flags,
        c.db.load(Relaxed),
        subs[0],
        subs[1],
        subs[2],
        c.multi.load(Relaxed),
        qbuf,
        qbuf_free,
        argv_mem,
        multi_mem,
        b.rbs,
        c.reply_peak.load(Relaxed).min(b.rbs).max(b.obl),
        b.obl,
        b.oll,
        b.omem,
        tot_mem,
        // Writing: replies stuck in a write, or pushes waiting.
        if b.pending > own_out { "rw" } else { "r" },
        cmd,
        redir,
        c.resp.load(Relaxed),
    )
}

pub fn client_info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let own = Own::of(ctx, args);
    let mut line = describe(&ctx.sess.handle, ctx.now, Some(&own));
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

fn client_kind(name: &[u8]) -> Option<ClientKind> {
    if eq_ic(name, "normal") {
        Some(ClientKind::Normal)
    } else if eq_ic(name, "pubsub") {
        Some(ClientKind::Pubsub)
    } else if eq_ic(name, "replica") || eq_ic(name, "slave") {
        Some(ClientKind::Replica)
    } else if eq_ic(name, "master") {
        Some(ClientKind::Master)
    } else {
        None
    }
}

pub fn client_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind = None;
    let mut j = 2;
    while j < args.len() {
        if eq_ic(args[j], "type") && j + 1 < args.len() {
            let t = args[j + 1];
            kind = Some(
                client_kind(t).ok_or_else(|| errors::with_arg("Unknown client type '", t, "'"))?,
            );
            j += 2;
        } else if eq_ic(args[j], "id") && j + 1 < args.len() {
            let mut list = Vec::new();
            for a in &args[j + 1..] {
                match numeric::parse_i64(a) {
                    Some(v) if v > 0 => list.push(v as u64),
                    _ => return Err(errors::INVALID_CLIENT_ID),
                }
            }
            ids = Some(list);
            break;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let own = Own::of(ctx, args);
    let mut text = String::new();
    for c in ctx.eng.clients.snapshot() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id))
            || kind.is_some_and(|k| c.kind() != k)
        {
            continue;
        }
        let mine = (c.id == ctx.sess.handle.id).then_some(&own);
        text.push_str(&describe(&c, ctx.now, mine));
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let value = args[3];
    if !valid_client_name(value) {
        return Err(errors::with_arg(
            "",
            args[2],
            " cannot contain spaces, newlines or special characters.",
        ));
    }
    let slot = if eq_ic(args[2], "lib-name") {
        &ctx.sess.handle.lib_name
    } else if eq_ic(args[2], "lib-ver") {
        &ctx.sess.handle.lib_ver
    } else {
        return Err(errors::with_arg("Unrecognized option '", args[2], "'"));
    };
    *slot.lock() = Some(value.to_vec());
    ctx.out.ok();
    Ok(())
}

/// Kills `c`; when it is the caller, the connection closes after replying.
fn kill(ctx: &mut Ctx, c: &ClientHandle) {
    c.kill();
    if c.id == ctx.sess.handle.id {
        ctx.after = After::Close;
    }
}

pub fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let me = ctx.sess.handle.id;
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port
        let target = String::from_utf8_lossy(args[2]).to_string();
        let found = ctx
            .eng
            .clients
            .snapshot()
            .into_iter()
            .find(|c| c.addr.to_string() == target)
            .ok_or(errors::NO_SUCH_CLIENT)?;
        kill(ctx, &found);
        ctx.out.ok();
        return Ok(());
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut kind = None;
    let mut skip_me = true;
    let mut j = 2;
    while j + 1 < args.len() {
        let v = args[j + 1];
        if eq_ic(args[j], "id") {
            match numeric::parse_i64(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return Err(errors::CLIENT_ID_POSITIVE),
            }
        } else if eq_ic(args[j], "addr") {
            addr = Some(String::from_utf8_lossy(v).to_string());
        } else if eq_ic(args[j], "laddr") {
            laddr = Some(String::from_utf8_lossy(v).to_string());
        } else if eq_ic(args[j], "skipme") {
            if eq_ic(v, "yes") {
                skip_me = true;
            } else if eq_ic(v, "no") {
                skip_me = false;
            } else {
                return Err(errors::SYNTAX);
            }
        } else if eq_ic(args[j], "type") {
            kind = Some(
                client_kind(v).ok_or_else(|| errors::with_arg("Unknown client type '", v, "'"))?,
            );
        } else if eq_ic(args[j], "user") {
            // Every client is the default user, the only user there is.
            if v != b"default" {
                return Err(errors::with_arg("No such user '", v, "'"));
            }
        } else {
            return Err(errors::SYNTAX);
        }
        j += 2;
    }
    if j != args.len() {
        return Err(errors::SYNTAX);
    }
    let mut killed = 0;
    for c in ctx.eng.clients.snapshot() {
        if id.is_some_and(|i| i != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
            || laddr.as_ref().is_some_and(|a| *a != c.laddr.to_string())
            || kind.is_some_and(|k| c.kind() != k)
            || (skip_me && c.id == me)
        {
            continue;
        }
        kill(ctx, &c);
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}

fn on_off(arg: &[u8]) -> CmdResult<bool> {
    if eq_ic(arg, "on") {
        Ok(true)
    } else if eq_ic(arg, "off") {
        Ok(false)
    } else {
        Err(errors::SYNTAX)
    }
}

pub fn client_unblock(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = super::int_arg(args[2])?;
    let error = match args.get(3) {
        None => false,
        Some(r) if eq_ic(r, "timeout") => false,
        Some(r) if eq_ic(r, "error") => true,
        Some(_) => return Err(errors::UNBLOCK_REASON),
    };
    let unblocked = id > 0
        && ctx.eng.clients.get(id as u64).is_some_and(|c| {
            let reply = if error {
                let mut r = crate::protocol::Reply::new();
                r.error_bytes(errors::UNBLOCKED.text());
                r.as_bytes().to_vec()
            } else {
                super::blocking::timeout_reply(c.resp3())
            };
            ctx.eng.blocking.unblock(id as u64, reply)
        });
    ctx.out.int(unblocked as i64);
    Ok(())
}

pub fn client_no_evict(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let v = on_off(args[2])?;
    ctx.sess.handle.no_evict.store(v, Relaxed);
    ctx.out.ok();
    Ok(())
}

pub fn client_no_touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let v = on_off(args[2])?;
    ctx.sess.handle.no_touch.store(v, Relaxed);
    ctx.out.ok();
    Ok(())
}

pub fn client_reply(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if eq_ic(args[2], "on") {
        ctx.sess.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq_ic(args[2], "off") {
        ctx.sess.reply_mode = ReplyMode::Off;
        ctx.replies = 0;
    } else if eq_ic(args[2], "skip") {
        if ctx.sess.reply_mode != ReplyMode::Off {
            ctx.sess.reply_mode = ReplyMode::SkipNext;
        }
        ctx.replies = 0;
    } else {
        return Err(errors::SYNTAX);
    }
    Ok(())
}

pub fn client_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::admin::help_lines(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>,",
            "    SKIPME (YES|NO), TYPE <type>, USER <username>.",
            "LIST [options ...]",
            "    Return information about client connections. Options: TYPE <type>, ID <id> [...].",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are LIB-NAME and LIB-VER.",
        ],
    )
}
