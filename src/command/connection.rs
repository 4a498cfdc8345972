//! Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT and the
//! CLIENT family.

use std::sync::atomic::Ordering;

use super::{eq_ic, After, Ctx, ReplyMode};
use crate::errors;
use crate::numeric;

pub fn ping(ctx: &mut Ctx, args: &[&[u8]]) {
    match args.len() {
        1 => ctx.out.raw(b"+PONG\r\n"),
        2 => ctx.out.bulk(args[1]),
        _ => ctx.arity_error(),
    }
}

pub fn echo(ctx: &mut Ctx, args: &[&[u8]]) {
    ctx.out.bulk(args[1]);
}

pub fn quit(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.ok();
    ctx.after = After::Close;
}

pub fn reset(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.set_resp3(false);
    ctx.client.handle.resp.store(2, Ordering::Relaxed);
    *ctx.client.handle.name.lock() = None;
    ctx.client.handle.no_evict.store(false, Ordering::Relaxed);
    ctx.client.handle.no_touch.store(false, Ordering::Relaxed);
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.authenticated = !ctx.srv.auth_required();
    ctx.out.simple("RESET");
}

/// Checks a password for `user`; true when it is accepted.
fn check_credentials(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    user == b"default" && ctx.srv.password_matches(pass)
}

pub fn auth(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 3 {
        return ctx.syntax_error();
    }
    let (user, pass) = if args.len() == 2 {
        if !ctx.srv.auth_required() {
            return ctx.error(errors::AUTH_NOT_CONFIGURED);
        }
        (&b"default"[..], args[1])
    } else {
        (args[1], args[2])
    };
    if check_credentials(ctx, user, pass) {
        ctx.client.authenticated = true;
        ctx.out.ok();
    } else {
        ctx.error(errors::WRONGPASS);
    }
}

/// Client names may not contain spaces or special characters.
fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub fn hello(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut version = 0i64;
    let mut next = 1;
    if args.len() >= 2 {
        match numeric::parse_i64(args[1]) {
            Some(v) => version = v,
            None => return ctx.error(errors::PROTO_NOT_INTEGER),
        }
        if !(2..=3).contains(&version) {
            return ctx.error(errors::NOPROTO);
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
                return ctx.error(errors::CLIENT_NAME_INVALID);
            }
            name = Some(args[j + 1]);
            j += 1;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(args[j]);
            msg.push(b'\'');
            return ctx.error_bytes(&msg);
        }
        j += 1;
    }
    if let Some((user, pass)) = creds {
        if check_credentials(ctx, user, pass) {
            ctx.client.authenticated = true;
        } else {
            return ctx.error(errors::WRONGPASS);
        }
    }
    if !ctx.client.authenticated {
        return ctx.error(errors::HELLO_NOAUTH);
    }
    if let Some(n) = name {
        *ctx.client.handle.name.lock() = if n.is_empty() { None } else { Some(n.to_vec()) };
    }
    if version != 0 {
        ctx.out.set_resp3(version == 3);
        ctx.client
            .handle
            .resp
            .store(version as u8, Ordering::Relaxed);
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
    ctx.out.int(ctx.client.handle.id as i64);
    ctx.out.bulk_str("mode");
    ctx.out.bulk_str("standalone");
    ctx.out.bulk_str("role");
    ctx.out.bulk_str("master");
    ctx.out.bulk_str("modules");
    ctx.out.empty_array();
}

pub fn select(ctx: &mut Ctx, args: &[&[u8]]) {
    match numeric::parse_i64(args[1]) {
        Some(0) => ctx.out.ok(),
        Some(v) if v >= i32::MIN as i64 && v <= i32::MAX as i64 => {
            ctx.error(errors::DB_OUT_OF_RANGE)
        }
        _ => ctx.not_integer(),
    }
}

pub fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(ctx.client.handle.id as i64);
}

pub fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) {
    let name = ctx.client.handle.name.lock().clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
}

pub fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) {
    if !valid_client_name(args[2]) {
        return ctx.error(errors::CLIENT_NAME_INVALID);
    }
    *ctx.client.handle.name.lock() = if args[2].is_empty() {
        None
    } else {
        Some(args[2].to_vec())
    };
    ctx.out.ok();
}

pub fn client_info(ctx: &mut Ctx, _args: &[&[u8]]) {
    let mut line = ctx.client.handle.describe(ctx.now);
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
}

pub fn client_list(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut ids: Option<Vec<u64>> = None;
    let mut j = 2;
    while j < args.len() {
        if eq_ic(args[j], "type") && j + 1 < args.len() {
            let t = args[j + 1];
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|n| eq_ic(t, n))
            {
                let mut msg = b"ERR Unknown client type '".to_vec();
                msg.extend_from_slice(t);
                msg.push(b'\'');
                return ctx.error_bytes(&msg);
            }
            if !eq_ic(t, "normal") {
                ctx.out.verbatim(b"");
                return;
            }
            j += 2;
        } else if eq_ic(args[j], "id") && j + 1 < args.len() {
            let mut list = Vec::new();
            for a in &args[j + 1..] {
                match numeric::parse_i64(a) {
                    Some(v) if v > 0 => list.push(v as u64),
                    _ => return ctx.error("ERR Invalid client ID"),
                }
            }
            ids = Some(list);
            break;
        } else {
            return ctx.syntax_error();
        }
    }
    let mut text = String::new();
    for c in ctx.srv.clients.snapshot() {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        text.push_str(&c.describe(ctx.now));
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
}

pub fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) {
    let value = args[3];
    if !valid_client_name(value) {
        let mut msg = b"ERR ".to_vec();
        msg.extend_from_slice(args[2]);
        msg.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
        return ctx.error_bytes(&msg);
    }
    let slot = if eq_ic(args[2], "lib-name") {
        &ctx.client.handle.lib_name
    } else if eq_ic(args[2], "lib-ver") {
        &ctx.client.handle.lib_ver
    } else {
        let mut msg = b"ERR Unrecognized option '".to_vec();
        msg.extend_from_slice(args[2]);
        msg.push(b'\'');
        return ctx.error_bytes(&msg);
    };
    *slot.lock() = Some(value.to_vec());
    ctx.out.ok();
}

pub fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) {
    let me = ctx.client.handle.id;
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port
        let target = String::from_utf8_lossy(args[2]).to_string();
        let found = ctx
            .srv
            .clients
            .snapshot()
            .into_iter()
            .find(|c| c.addr.to_string() == target);
        match found {
            Some(c) => {
                c.kill();
                if c.id == me {
                    ctx.after = After::Close;
                }
                ctx.out.ok();
            }
            None => ctx.error(errors::NO_SUCH_CLIENT),
        }
        return;
    }
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skip_me = true;
    let mut j = 2;
    while j + 1 < args.len() {
        let v = args[j + 1];
        if eq_ic(args[j], "id") {
            match numeric::parse_i64(v) {
                Some(n) if n > 0 => id = Some(n as u64),
                _ => return ctx.error("ERR client-id should be greater than 0"),
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
                return ctx.syntax_error();
            }
        } else if eq_ic(args[j], "type") || eq_ic(args[j], "user") {
            // Every client is a normal client of the default user.
        } else {
            return ctx.syntax_error();
        }
        j += 2;
    }
    if j != args.len() {
        return ctx.syntax_error();
    }
    let mut killed = 0;
    for c in ctx.srv.clients.snapshot() {
        if id.is_some_and(|i| i != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
            || laddr.as_ref().is_some_and(|a| *a != c.laddr.to_string())
            || (skip_me && c.id == me)
        {
            continue;
        }
        c.kill();
        if c.id == me {
            ctx.after = After::Close;
        }
        killed += 1;
    }
    ctx.out.int(killed);
}

fn on_off(ctx: &mut Ctx, arg: &[u8]) -> Option<bool> {
    if eq_ic(arg, "on") {
        Some(true)
    } else if eq_ic(arg, "off") {
        Some(false)
    } else {
        ctx.syntax_error();
        None
    }
}

pub fn client_no_evict(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(v) = on_off(ctx, args[2]) {
        ctx.client.handle.no_evict.store(v, Ordering::Relaxed);
        ctx.out.ok();
    }
}

pub fn client_no_touch(ctx: &mut Ctx, args: &[&[u8]]) {
    if let Some(v) = on_off(ctx, args[2]) {
        ctx.client.handle.no_touch.store(v, Ordering::Relaxed);
        ctx.out.ok();
    }
}

pub fn client_reply(ctx: &mut Ctx, args: &[&[u8]]) {
    if eq_ic(args[2], "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq_ic(args[2], "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if eq_ic(args[2], "skip") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::SkipNext;
        }
    } else {
        ctx.syntax_error();
    }
}

pub fn client_help(ctx: &mut Ctx, _args: &[&[u8]]) {
    super::server::help_lines(
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
    );
}
