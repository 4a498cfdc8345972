//! Server commands: INFO, CONFIG, COMMAND (all derived from the command
//! table), TIME, MEMORY, SLOWLOG and SHUTDOWN.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use super::docs::{parse_syntax, write_arg};
use super::table::{CommandSpec, CommandTable, FAST, FLAG_NAMES, READONLY, WRITE};
use super::{eq_ic, After, Ctx};
use crate::config::{human_bytes, parse_memory, EvictionPolicy};
use crate::errors;
use crate::store::glob::glob_match;

/// Replies with Redis's HELP layout for a container command.
pub fn help_lines(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
}

// ---------------------------------------------------------------- INFO

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

pub fn info(ctx: &mut Ctx, args: &[&[u8]]) {
    ctx.srv.stats.absorb(&mut ctx.client.stats);
    let mut wanted: Vec<String> = Vec::new();
    let mut everything = false;
    if args.len() == 1 {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    for a in &args[1..] {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        match s.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => {
                everything = true;
            }
            _ => wanted.push(s),
        }
    }
    let text =
        crate::server::info::render(ctx.srv, &wanted, everything, ctx.client.handle.laddr.port());
    ctx.out.verbatim(text.as_bytes());
}

// ---------------------------------------------------------------- CONFIG

type Setter = fn(&Ctx, &str) -> Result<(), String>;

/// A parameter CONFIG GET knows, with how to read it and (when it can change
/// at run time) how to set it.
struct Param {
    name: &'static str,
    get: fn(&Ctx) -> String,
    set: Option<Setter>,
}

fn set_maxmemory(ctx: &Ctx, v: &str) -> Result<(), String> {
    let n = parse_memory(v).ok_or("argument must be a memory value")?;
    ctx.srv.settings.write().max_memory = n;
    ctx.srv
        .max_memory
        .store(n, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

fn set_policy(ctx: &Ctx, v: &str) -> Result<(), String> {
    let p = EvictionPolicy::parse(v).ok_or(
        "argument(s) must be one of the following: allkeys-lru, allkeys-random, allkeys-s3fifo, noeviction",
    )?;
    ctx.srv.settings.write().eviction_policy = p;
    crate::evict::set_active(p);
    Ok(())
}

fn parse_num(v: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let n: i64 = v
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < lo || n > hi {
        return Err(format!("argument must be between {lo} and {hi} inclusive"));
    }
    Ok(n)
}

const PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |c| {
            c.srv
                .settings
                .read()
                .bind
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        },
        set: None,
    },
    Param {
        name: "port",
        get: |c| c.srv.settings.read().port.to_string(),
        set: None,
    },
    Param {
        name: "maxclients",
        get: |c| c.srv.settings.read().max_connections.to_string(),
        set: Some(|c, v| {
            c.srv.settings.write().max_connections = parse_num(v, 1, 1_000_000)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "timeout",
        get: |c| c.srv.settings.read().connection_timeout.to_string(),
        set: Some(|c, v| {
            let secs = parse_num(v, 0, i32::MAX as i64)? as u64;
            c.srv.settings.write().connection_timeout = secs;
            c.srv.idle_timeout.store(secs, Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "maxmemory",
        get: |c| c.srv.settings.read().max_memory.to_string(),
        set: Some(set_maxmemory),
    },
    Param {
        name: "maxmemory-policy",
        get: |c| c.srv.settings.read().eviction_policy.name().to_string(),
        set: Some(set_policy),
    },
    Param {
        name: "maxmemory-samples",
        get: |c| c.srv.settings.read().maxmemory_samples.to_string(),
        set: Some(|c, v| {
            c.srv.settings.write().maxmemory_samples = parse_num(v, 1, 64)? as usize;
            Ok(())
        }),
    },
    Param {
        name: "requirepass",
        get: |c| c.srv.settings.read().password.clone(),
        set: Some(|c, v| {
            c.srv.set_password(v);
            Ok(())
        }),
    },
    Param {
        name: "databases",
        get: |_| "1".into(),
        set: None,
    },
    Param {
        name: "save",
        get: |_| String::new(),
        set: None,
    },
    Param {
        name: "appendonly",
        get: |_| "no".into(),
        set: None,
    },
    Param {
        name: "dir",
        get: |_| {
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        },
        set: None,
    },
    Param {
        name: "dbfilename",
        get: |c| c.srv.settings.read().snapshot_path.clone(),
        set: None,
    },
    Param {
        name: "tls-port",
        get: |c| {
            let s = c.srv.settings.read();
            if s.tls_enabled {
                s.tls_port.to_string()
            } else {
                "0".into()
            }
        },
        set: None,
    },
    Param {
        name: "hz",
        get: |_| "10".into(),
        set: None,
    },
    Param {
        name: "tcp-keepalive",
        get: |_| "300".into(),
        set: None,
    },
    Param {
        name: "protected-mode",
        get: |_| "no".into(),
        set: None,
    },
    Param {
        name: "loglevel",
        get: |c| c.srv.settings.read().loglevel.clone(),
        set: None,
    },
    Param {
        name: "proto-max-bulk-len",
        get: |_| crate::protocol::parse::DEFAULT_MAX_BULK_LEN.to_string(),
        set: None,
    },
    Param {
        name: "client-query-buffer-limit",
        get: |c| c.srv.query_buffer_limit.load(Relaxed).to_string(),
        set: Some(|c, v| {
            let n = parse_memory(v)
                .filter(|&n| n >= 1 << 20)
                .ok_or("argument must be a memory value of at least 1mb")?;
            c.srv.query_buffer_limit.store(n, Relaxed);
            Ok(())
        }),
    },
    Param {
        name: "slowlog-log-slower-than",
        get: |c| c.srv.slowlog.threshold().to_string(),
        set: Some(|c, v| {
            c.srv.slowlog.set_threshold(parse_num(v, -1, i64::MAX)?);
            Ok(())
        }),
    },
    Param {
        name: "slowlog-max-len",
        get: |c| c.srv.slowlog.max_len().to_string(),
        set: Some(|c, v| {
            c.srv
                .slowlog
                .set_max_len(parse_num(v, 0, i32::MAX as i64)? as usize);
            Ok(())
        }),
    },
    Param {
        name: "hash-max-listpack-entries",
        get: |_| crate::store::value::HASH_SMALL_MAX_ENTRIES.to_string(),
        set: None,
    },
    Param {
        name: "hash-max-listpack-value",
        get: |_| crate::store::value::HASH_SMALL_MAX_VALUE.to_string(),
        set: None,
    },
];

pub fn config_get(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for pat in &args[2..] {
        for p in PARAMS {
            if glob_match(pat, p.name.as_bytes(), true) && !found.iter().any(|(n, _)| *n == p.name)
            {
                found.push((p.name, (p.get)(ctx)));
            }
        }
    }
    ctx.out.map(found.len());
    for (n, v) in found {
        ctx.out.bulk_str(n);
        ctx.out.bulk_str(&v);
    }
}

pub fn config_set(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() % 2 != 0 {
        return ctx.arity_error();
    }
    // Validate every pair first so a bad one changes nothing.
    let mut plan = Vec::new();
    for pair in args[2..].chunks_exact(2) {
        let name = String::from_utf8_lossy(pair[0]).to_ascii_lowercase();
        let Some(p) = PARAMS.iter().find(|p| p.name == name) else {
            let mut msg = b"ERR Unknown option or number of arguments for CONFIG SET - '".to_vec();
            msg.extend_from_slice(pair[0]);
            msg.push(b'\'');
            return ctx.error_bytes(&msg);
        };
        let Some(setter) = p.set else {
            return ctx.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - can't set immutable config",
                p.name
            ));
        };
        plan.push((p.name, setter, String::from_utf8_lossy(pair[1]).to_string()));
    }
    for (name, setter, value) in plan {
        if let Err(e) = setter(ctx, &value) {
            return ctx.error(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"
            ));
        }
    }
    ctx.out.ok();
}

pub fn config_resetstat(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.srv.stats.reset();
    ctx.srv.ks.reset_stats();
    ctx.client.stats = Default::default();
    ctx.out.ok();
}

pub fn config_rewrite(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.error("ERR CONFIG REWRITE is not supported: Redistill reads TOML configuration, edit the file instead");
}

pub fn config_help(ctx: &mut Ctx, _args: &[&[u8]]) {
    help_lines(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
}

// ---------------------------------------------------------------- COMMAND

fn acl_categories(spec: &CommandSpec) -> Vec<String> {
    let mut cats = Vec::new();
    if spec.flags & WRITE != 0 {
        cats.push("@write".to_string());
    }
    if spec.flags & READONLY != 0 {
        cats.push("@read".to_string());
    }
    cats.push(format!(
        "@{}",
        if spec.group == "generic" {
            "keyspace"
        } else {
            spec.group
        }
    ));
    cats.push(
        if spec.flags & FAST != 0 {
            "@fast"
        } else {
            "@slow"
        }
        .to_string(),
    );
    cats
}

fn write_command_info(ctx: &mut Ctx, spec: &CommandSpec) {
    let flags: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(f, _)| spec.flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    ctx.out.array(10);
    ctx.out.bulk_str(spec.name);
    ctx.out.int(spec.arity as i64);
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.simple(f);
    }
    ctx.out.int(spec.first_key as i64);
    ctx.out.int(spec.last_key as i64);
    ctx.out.int(spec.step as i64);
    let cats = acl_categories(spec);
    ctx.out.set(cats.len());
    for c in cats {
        ctx.out.simple(&c);
    }
    ctx.out.set(0);
    ctx.out.empty_array();
    ctx.out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        write_command_info(ctx, sub);
    }
}

pub fn command(ctx: &mut Ctx, _args: &[&[u8]]) {
    let table = CommandTable::get();
    let specs: Vec<_> = table.top_level().collect();
    ctx.out.array(specs.len());
    for s in specs {
        write_command_info(ctx, s);
    }
}

pub fn command_count(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(CommandTable::get().top_level().count() as i64);
}

/// Resolves `name` or `parent|sub` to a spec.
fn find_spec(name: &[u8]) -> Option<&'static CommandSpec> {
    let t = CommandTable::get();
    let mut parts = name.splitn(2, |&c| c == b'|');
    let top = t.lookup(parts.next()?)?;
    match parts.next() {
        None => Some(t.spec(top)),
        Some(sub) => t.lookup_sub(top, sub).map(|id| t.spec(id)),
    }
}

pub fn command_info(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() == 2 {
        return command(ctx, args);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match find_spec(name) {
            Some(spec) => write_command_info(ctx, spec),
            None => ctx.out.null_array(),
        }
    }
}

fn write_docs(ctx: &mut Ctx, spec: &CommandSpec) {
    let args = parse_syntax(spec.syntax).unwrap_or_default();
    let mut n = 3;
    n += (!args.is_empty()) as usize;
    n += (!spec.subcommands.is_empty()) as usize;
    ctx.out.map(n);
    ctx.out.bulk_str("summary");
    ctx.out.bulk_str(spec.summary);
    ctx.out.bulk_str("since");
    ctx.out.bulk_str(spec.since);
    ctx.out.bulk_str("group");
    ctx.out.bulk_str(spec.group);
    if !args.is_empty() {
        ctx.out.bulk_str("arguments");
        ctx.out.array(args.len());
        for a in &args {
            write_arg(ctx.out, a);
        }
    }
    if !spec.subcommands.is_empty() {
        ctx.out.bulk_str("subcommands");
        ctx.out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            ctx.out.bulk_str(sub.name);
            write_docs(ctx, sub);
        }
    }
}

pub fn command_docs(ctx: &mut Ctx, args: &[&[u8]]) {
    let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
        CommandTable::get().top_level().collect()
    } else {
        args[2..].iter().filter_map(|n| find_spec(n)).collect()
    };
    ctx.out.map(specs.len());
    for s in specs {
        ctx.out.bulk_str(s.name);
        write_docs(ctx, s);
    }
}

pub fn command_list(ctx: &mut Ctx, args: &[&[u8]]) {
    let all = CommandTable::get().all();
    let names: Vec<&str> = match args.len() {
        2 => all.iter().map(|s| s.name).collect(),
        5 if eq_ic(args[2], "filterby") => {
            let v = args[4];
            if eq_ic(args[3], "pattern") {
                all.iter()
                    .filter(|s| glob_match(v, s.name.as_bytes(), true))
                    .map(|s| s.name)
                    .collect()
            } else if eq_ic(args[3], "aclcat") {
                let cat = format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
                all.iter()
                    .filter(|s| acl_categories(s).contains(&cat))
                    .map(|s| s.name)
                    .collect()
            } else if eq_ic(args[3], "module") {
                Vec::new()
            } else {
                return ctx.syntax_error();
            }
        }
        _ => return ctx.syntax_error(),
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(n);
    }
}

pub fn command_getkeys(ctx: &mut Ctx, args: &[&[u8]]) {
    let rest = &args[2..];
    let t = CommandTable::get();
    let Some(mut spec) = t.lookup(rest[0]).map(|id| t.spec(id)) else {
        return ctx.error("ERR Invalid command specified");
    };
    if !spec.subcommands.is_empty() && rest.len() >= 2 {
        if let Some(sub) = t.lookup(rest[0]).and_then(|id| t.lookup_sub(id, rest[1])) {
            spec = t.spec(sub);
        }
    }
    let argc = rest.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return ctx.error("ERR Invalid number of arguments specified for command");
    }
    if spec.first_key == 0 {
        return ctx.error("ERR The command has no key arguments");
    }
    let last = if spec.last_key < 0 {
        argc + spec.last_key
    } else {
        spec.last_key
    };
    let keys: Vec<&[u8]> = (spec.first_key..=last)
        .step_by(spec.step.max(1) as usize)
        .filter_map(|i| rest.get(i as usize).copied())
        .collect();
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(k);
    }
}

pub fn command_help(ctx: &mut Ctx, _args: &[&[u8]]) {
    help_lines(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
}

// ---------------------------------------------------------------- misc

pub fn time(ctx: &mut Ctx, _args: &[&[u8]]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
}

pub fn memory_usage(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut j = 3;
    while j < args.len() {
        if eq_ic(args[j], "samples") && j + 1 < args.len() {
            if ctx.int_arg(args[j + 1]).is_none() {
                return;
            }
            j += 2;
        } else {
            return ctx.syntax_error();
        }
    }
    let (h, mut s) = ctx.srv.ks.lock(args[2]);
    match s.live(h, args[2], ctx.now) {
        Some(pos) => ctx.out.int(s.entry(pos).charge() as i64),
        None => ctx.out.null(),
    }
}

pub fn memory_doctor(ctx: &mut Ctx, _args: &[&[u8]]) {
    let (keys, _, used) = ctx.srv.ks.totals();
    let text = format!(
        "Hi Sam, this is the Redistill memory doctor. {keys} keys use {} of accounted memory; no problems detected.",
        human_bytes(used as u64)
    );
    ctx.out.verbatim(text.as_bytes());
}

pub fn memory_help(ctx: &mut Ctx, _args: &[&[u8]]) {
    help_lines(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
        ],
    );
}

pub fn slowlog_get(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut count = 10i64;
    if args.len() == 3 {
        match crate::numeric::parse_i64(args[2]) {
            Some(n) if n >= -1 => count = n,
            Some(_) => return ctx.error("ERR count should be greater than or equal to -1"),
            None => return ctx.not_integer(),
        }
    } else if args.len() > 3 {
        return ctx.arity_error();
    }
    let entries = ctx.srv.slowlog.latest(if count < 0 {
        usize::MAX
    } else {
        count as usize
    });
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.timestamp as i64);
        ctx.out.int(e.duration_us as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk_str(&e.client_addr);
        ctx.out.bulk(&e.client_name);
    }
}

pub fn slowlog_len(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(ctx.srv.slowlog.len() as i64);
}

pub fn slowlog_reset(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.srv.slowlog.reset();
    ctx.out.ok();
}

pub fn slowlog_help(ctx: &mut Ctx, _args: &[&[u8]]) {
    help_lines(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
}

pub fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) {
    let mut mode = crate::server::ShutdownSave::Default;
    for a in &args[1..] {
        if eq_ic(a, "nosave") {
            mode = crate::server::ShutdownSave::Skip;
        } else if eq_ic(a, "save") {
            mode = crate::server::ShutdownSave::Force;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
        } else if eq_ic(a, "abort") {
            return ctx.error("ERR No shutdown in progress.");
        } else {
            return ctx.syntax_error();
        }
    }
    if mode == crate::server::ShutdownSave::Force && !ctx.srv.persist.enabled {
        tracing::warn!(
            "SHUTDOWN SAVE refused: snapshots are disabled ([persistence] enabled = false)"
        );
        return ctx.error(errors::SHUTDOWN_FAILED);
    }
    let mut line = String::new();
    let _ = write!(
        line,
        "SHUTDOWN requested by client {}",
        ctx.client.handle.addr
    );
    tracing::info!("{line}");
    ctx.srv.request_shutdown_with(mode);
    ctx.after = After::Drop;
}
