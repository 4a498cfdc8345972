//! Moving keys between servers in Redis's DUMP format: DUMP (a value's RDB
//! encoding, RDB version and CRC64), RESTORE / RESTORE-ASKING (the other
//! way, with Redis's checks and options) and MIGRATE (DUMP here, RESTORE
//! there over a connection of its own, then delete here), which
//! `redis-cli --cluster reshard` uses to move a slot's keys.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{eq_ic, int_arg, Ctx};
use crate::engine::persist::rdb::{self, DumpError};
use crate::engine::persist::snapshot::{dump_payload, value_from_rdb};
use crate::engine::store::notify::class;
use crate::engine::store::Access;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

pub fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match k.find(access) {
        Some(pos) => {
            let payload = dump_payload(k.value(pos));
            ctx.out.bulk(&payload);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], and
/// RESTORE-ASKING (the same, allowed on a slot being imported).
pub fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let more = args.len() - j - 1;
        if eq_ic(args[j], "replace") {
            replace = true;
        } else if eq_ic(args[j], "absttl") {
            absttl = true;
        } else if eq_ic(args[j], "idletime") && more >= 1 && freq.is_none() {
            let v = int_arg(args[j + 1])?;
            if v < 0 {
                return Err(errors::INVALID_IDLETIME);
            }
            idle = Some(v);
            j += 1;
        } else if eq_ic(args[j], "freq") && more >= 1 && idle.is_none() {
            let v = int_arg(args[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(errors::INVALID_FREQ);
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let (db, key) = (ctx.sess.db, args[1]);
    if !replace && ctx.unit.key(db, key).find(Access::WRITE).is_some() {
        return Err(errors::BUSYKEY);
    }
    let ttl = int_arg(args[2])?;
    if ttl < 0 {
        return Err(errors::INVALID_TTL_VALUE);
    }
    let value = rdb::read_dump(args[3]).map_err(|e| match e {
        DumpError::VersionOrChecksum => errors::DUMP_PAYLOAD_WRONG,
        DumpError::BadData => errors::BAD_DATA_FORMAT,
    })?;
    let value = value_from_rdb(value, &ctx.eng.limits());
    let mut k = ctx.unit.key(db, key);
    let deleted = replace && k.delete();
    let expire_at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => ctx.now.saturating_add(t as u64),
    };
    if expire_at != 0 && expire_at <= ctx.now && !ctx.eng.is_replica() {
        // Already expired: nothing is stored (what was replaced is gone).
        if deleted {
            ctx.notify(class::GENERIC, "del", key);
            ctx.propagate(&[b"DEL".as_slice(), key]);
        } else {
            ctx.propagate_nothing();
        }
        ctx.out.ok();
        return Ok(());
    }
    let pos = k.insert(value, expire_at);
    if let Some(seconds) = idle {
        k.shard
            .set_idle(pos, ctx.now, (seconds as u64).saturating_mul(1000));
    }
    // FREQ sets an LFU counter: Redistill has no LFU policy, so it is
    // accepted and checked but changes nothing (as in Redis under a
    // non-LFU policy).
    ctx.notify(class::GENERIC, "restore", key);
    super::blocking::signal(ctx, key);
    if expire_at != 0 && !absttl {
        // Replicas get the expiry as an absolute time, as Redis sends it.
        let at = expire_at.to_string();
        let mut fed: Vec<&[u8]> = args.to_vec();
        fed[2] = at.as_bytes();
        fed.push(b"ABSTTL");
        ctx.propagate(&fed);
    }
    ctx.out.ok();
    Ok(())
}

/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
/// [AUTH2 user pw] [KEYS key...]
pub fn migrate(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<&[u8]>, &[u8])> = None;
    let mut keys: &[&[u8]] = &args[3..4];
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if eq_ic(args[j], "copy") {
            copy = true;
        } else if eq_ic(args[j], "replace") {
            replace = true;
        } else if eq_ic(args[j], "auth") {
            if more < 1 {
                return Err(errors::SYNTAX);
            }
            auth = Some((None, args[j + 1]));
            j += 1;
        } else if eq_ic(args[j], "auth2") {
            if more < 2 {
                return Err(errors::SYNTAX);
            }
            auth = Some((Some(args[j + 1]), args[j + 2]));
            j += 2;
        } else if eq_ic(args[j], "keys") {
            if !args[3].is_empty() {
                return Err(errors::MIGRATE_KEYS_NEED_EMPTY_KEY);
            }
            keys = &args[j + 1..];
            break;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let timeout = int_arg(args[5])?;
    let target_db = int_arg(args[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // The keys here, each with its payload and remaining time to live.
    let db = ctx.sess.db;
    // Every key's shard, locked in order before any is read: the values
    // sent are deleted here under the same locks.
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.eng.dbs.hash(k)).collect();
    ctx.unit.lock_keys(db, &hashes);
    let access = ctx.access(Access::READ);
    let mut found: Vec<(&[u8], Vec<u8>, u64)> = Vec::new();
    for &key in keys {
        let mut k = ctx.unit.key(db, key);
        if let Some(pos) = k.find(access) {
            let e = k.shard.entry(pos);
            let ttl = match e.expire_at() {
                0 => 0,
                at => at.saturating_sub(ctx.now).max(1),
            };
            found.push((key, dump_payload(e.value()), ttl));
        }
    }
    if found.is_empty() {
        ctx.propagate_nothing();
        ctx.out.simple("NOKEY");
        return Ok(());
    }

    let restore: &[u8] = if ctx.eng.cluster.is_some() {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    let mut request = Reply::new();
    let mut expected = 0;
    if let Some((user, pass)) = auth {
        let mut cmd: Vec<&[u8]> = vec![b"AUTH"];
        cmd.extend(user);
        cmd.push(pass);
        write_command(&mut request, &cmd);
        expected += 1;
    }
    // A new connection starts in database 0.
    let select = target_db != 0;
    let db_text = target_db.to_string();
    if select {
        write_command(&mut request, &[b"SELECT", db_text.as_bytes()]);
        expected += 1;
    }
    for (key, payload, ttl) in &found {
        let ttl = ttl.to_string();
        let mut cmd: Vec<&[u8]> = vec![restore, key, ttl.as_bytes(), payload];
        if replace {
            cmd.push(b"REPLACE");
        }
        write_command(&mut request, &cmd);
    }

    let host = String::from_utf8_lossy(args[1]).into_owned();
    let port = String::from_utf8_lossy(args[2]).into_owned();
    // One retry after a socket error before any reply, as Redis does.
    let mut outcome = exchange(
        &host,
        &port,
        request.as_bytes(),
        expected + found.len(),
        timeout,
    );
    if matches!(outcome, Err(Failure::Io { retry: true, .. })) {
        outcome = exchange(
            &host,
            &port,
            request.as_bytes(),
            expected + found.len(),
            timeout,
        );
    }
    let replies = match outcome {
        Ok(r) => r,
        Err(Failure::Connect) => return Err(errors::MIGRATE_CONNECT),
        Err(Failure::Io {
            writing, partial, ..
        }) => {
            // Keys the target acknowledged before the failure are moved.
            finish(ctx, &found, &partial[expected.min(partial.len())..], copy);
            return Err(errors::migrate_io(writing));
        }
    };
    let (setup, per_key) = replies.split_at(expected);
    if let Some(err) = setup.iter().find(|r| r.starts_with(b"-")) {
        ctx.propagate_nothing();
        return Err(errors::migrate_target_error(&err[1..]));
    }
    let first_error = per_key.iter().find(|r| r.starts_with(b"-")).cloned();
    finish(ctx, &found, per_key, copy);
    match first_error {
        Some(err) => Err(errors::migrate_target_error(&err[1..])),
        None => {
            ctx.out.ok();
            Ok(())
        }
    }
}

/// Deletes (unless COPY) every key the target acknowledged, and feeds
/// replicas one DEL of them.
fn finish(ctx: &mut Ctx, found: &[(&[u8], Vec<u8>, u64)], replies: &[Vec<u8>], copy: bool) {
    let mut deleted: Vec<&[u8]> = vec![b"DEL"];
    if !copy {
        for ((key, _, _), reply) in found.iter().zip(replies) {
            if !reply.starts_with(b"-") && ctx.unit.key(ctx.sess.db, key).delete() {
                ctx.notify(class::GENERIC, "del", key);
                deleted.push(key);
            }
        }
    }
    if deleted.len() > 1 {
        ctx.propagate(&deleted);
    } else {
        ctx.propagate_nothing();
    }
}

fn write_command(out: &mut Reply, args: &[&[u8]]) {
    out.array(args.len());
    for a in args {
        out.bulk(a);
    }
}

enum Failure {
    Connect,
    /// A socket error or timeout; `partial` holds the replies read before
    /// it; `retry` when nothing was answered and it was not a timeout.
    Io {
        writing: bool,
        partial: Vec<Vec<u8>>,
        retry: bool,
    },
}

/// Sends `request` to host:port and reads `replies` one-line replies.
fn exchange(
    host: &str,
    port: &str,
    request: &[u8],
    replies: usize,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>, Failure> {
    let addrs: Vec<_> = match (host, port.parse::<u16>()) {
        (h, Ok(p)) => (h, p)
            .to_socket_addrs()
            .map(|a| a.collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let timed_out = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        )
    };
    // Each address in turn, as Redis connects.
    let mut connected = Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
    for addr in &addrs {
        connected = TcpStream::connect_timeout(addr, timeout);
        if connected.is_ok() {
            break;
        }
    }
    let stream = match connected {
        Ok(s) => s,
        Err(e) if addrs.is_empty() || timed_out(&e) => return Err(Failure::Connect),
        // Redis connects without blocking and sees a refused connection
        // only when it writes: the same reply here.
        Err(_) => {
            return Err(Failure::Io {
                writing: true,
                partial: Vec::new(),
                retry: true,
            })
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(timeout));
    let _ = stream.set_read_timeout(Some(timeout));
    if let Err(e) = (&stream).write_all(request) {
        return Err(Failure::Io {
            writing: true,
            partial: Vec::new(),
            retry: !timed_out(&e),
        });
    }
    let mut reader = BufReader::new(&stream);
    let mut got = Vec::with_capacity(replies);
    for _ in 0..replies {
        let mut line = Vec::new();
        let read = reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line);
        match read {
            Ok(n) if n > 0 && line.ends_with(b"\r\n") => {
                line.truncate(line.len() - 2);
                got.push(line);
            }
            other => {
                let retry = got.is_empty() && !other.as_ref().is_err_and(timed_out);
                return Err(Failure::Io {
                    writing: false,
                    partial: got,
                    retry,
                });
            }
        }
    }
    Ok(got)
}
