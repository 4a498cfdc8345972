//! Server administration: CONFIG (driven by the parameter table), TIME,
//! MEMORY, SLOWLOG and SHUTDOWN, plus the HELP layout container commands
//! share.

use super::{eq_ic, int_arg, After, Ctx, ShutdownSave};
use crate::config::{human_bytes, params, Kind, PARAMS};
use crate::engine::store::glob::glob_match;
use crate::engine::store::Access;
use crate::errors::{self, CmdError, CmdResult};

/// Replies with Redis's HELP layout for a container command.
pub fn help_lines(ctx: &mut Ctx, cmd: &str, lines: &[&str]) -> CmdResult {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Print this help.");
    Ok(())
}

pub fn info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.eng.stats.absorb(&mut ctx.sess.stats);
    let port = ctx.sess.handle.laddr.port();
    let scripts = super::script::memory(&ctx.rt.scripts);
    let text = super::info::render(ctx.eng, ctx.unit, &scripts, &args[1..], port);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------- CONFIG

pub fn config_get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let settings = &ctx.eng.settings;
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for pat in &args[2..] {
        for p in PARAMS {
            let names = std::iter::once(p.name).chain(p.aliases.iter().copied());
            for name in names {
                let exact = name.as_bytes().eq_ignore_ascii_case(pat);
                let listed = glob_match(pat, name.as_bytes(), true);
                if (exact || listed) && !found.iter().any(|(n, _)| *n == name) {
                    found.push((name, settings.render(p.id)));
                }
            }
        }
    }
    ctx.out.map(found.len());
    for (n, v) in found {
        ctx.out.bulk_str(n);
        ctx.out.bulk_str(&v);
    }
    Ok(())
}

/// CONFIG SET with one or more pairs, all or nothing, checked in Redis's
/// order: every name first (unknown, immutable, the same name given twice;
/// the first failing pair is named as typed), then every value (named by
/// the parameter's name or alias the client used, in lower case).
pub fn config_set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() % 2 != 0 {
        return Err(ctx.arity_error());
    }
    let pairs: Vec<&[&[u8]]> = args[2..].chunks_exact(2).collect();
    // Each parameter with the name (its own or an alias) the client used.
    let mut found: Vec<(&'static params::Param, &'static str)> = Vec::with_capacity(pairs.len());
    let mut name_error: Option<CmdError> = None;
    for pair in &pairs {
        let typed = String::from_utf8_lossy(pair[0]);
        let Some(p) = params::find(&typed) else {
            return Err(name_error.unwrap_or_else(|| errors::config_set_unknown(pair[0])));
        };
        let name = std::iter::once(p.name)
            .chain(p.aliases.iter().copied())
            .find(|n| n.eq_ignore_ascii_case(&typed))
            .unwrap_or(p.name);
        if name_error.is_none() {
            if !p.mutable {
                name_error = Some(errors::config_set_failed(&typed, errors::CONFIG_IMMUTABLE));
            } else if found.iter().any(|(_, n)| *n == name) {
                name_error = Some(errors::config_set_failed(&typed, errors::CONFIG_DUPLICATE));
            }
        }
        found.push((p, name));
    }
    if let Some(e) = name_error {
        return Err(e);
    }
    for ((p, name), pair) in found.iter().zip(&pairs) {
        p.parse(&String::from_utf8_lossy(pair[1]))
            .map_err(|why| errors::config_set_failed(name, &why))?;
    }
    move_listeners(ctx, &found, &pairs)?;
    for ((p, _), pair) in found.iter().zip(&pairs) {
        ctx.eng
            .settings
            .set(p.id, &String::from_utf8_lossy(pair[1]))
            .map_err(|why| errors::config_set_failed(p.name, &why))?;
        ctx.eng.setting_changed(p.id);
    }
    ctx.out.ok();
    Ok(())
}

/// CONFIG SET port / bind: the listeners move before the values are
/// stored; if the new address cannot be bound nothing changes.
fn move_listeners(
    ctx: &Ctx,
    found: &[(&'static params::Param, &'static str)],
    pairs: &[&[&[u8]]],
) -> CmdResult {
    let value_of = |id: crate::config::P| {
        found
            .iter()
            .zip(pairs)
            .find(|((p, _), _)| p.id == id)
            .map(|(_, pair)| String::from_utf8_lossy(pair[1]).into_owned())
    };
    let (port, bind) = (
        value_of(crate::config::P::Port),
        value_of(crate::config::P::Bind),
    );
    if port.is_none() && bind.is_none() {
        return Ok(());
    }
    let settings = &ctx.eng.settings;
    let new_port: u16 = match &port {
        Some(p) => p.trim().parse().unwrap_or(0),
        None => settings.int(crate::config::P::Port) as u16,
    };
    let bind_text = bind
        .clone()
        .unwrap_or_else(|| settings.text(crate::config::P::Bind).to_string());
    let ips = crate::config::parse_bind(&bind_text)
        .map_err(|_| errors::config_set_failed("bind", errors::CONFIG_BIND_FAILED))?;
    let unchanged = new_port as i64 == settings.int(crate::config::P::Port)
        && bind_text
            .split_whitespace()
            .eq(settings.text(crate::config::P::Bind).split_whitespace());
    if unchanged {
        return Ok(());
    }
    ctx.rt.host.rebind(new_port, &ips).map_err(|e| {
        tracing::warn!("CONFIG SET port/bind: {e}");
        if bind.is_some() && port.is_none() {
            errors::config_set_failed("bind", errors::CONFIG_BIND_FAILED)
        } else {
            errors::config_set_failed("port", errors::CONFIG_PORT_UNAVAILABLE)
        }
    })
}

pub fn config_resetstat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.eng.stats.reset();
    ctx.eng.dbs.reset_stats();
    ctx.sess.stats = Default::default();
    ctx.out.ok();
    Ok(())
}

/// Writes the running configuration back into the TOML file the server
/// started with (see `config::rewrite`).
pub fn config_rewrite(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let settings = &ctx.eng.settings;
    let Some(path) = settings.config_file.as_ref() else {
        return Err(errors::CONFIG_NO_FILE);
    };
    crate::config::rewrite::rewrite_file(settings, path)
        .map_err(|e| errors::config_rewrite_failed(&e))?;
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

pub fn config_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
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
    )
}

/// The parameter table as a Markdown table (docs/configuration.md).
pub fn parameters_markdown() -> String {
    let mut out = String::from(
        "| parameter | TOML key | default | CONFIG SET | meaning |\n| --- | --- | --- | --- | --- |\n",
    );
    for p in PARAMS {
        let kind = match p.kind {
            Kind::Int { min, max } => format!(" ({min}..{max})"),
            Kind::Enum(words) => format!(" ({})", words.join(", ")),
            _ => String::new(),
        };
        let toml = if p.toml.is_empty() {
            "—".to_string()
        } else {
            format!("`{}`", p.toml)
        };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {}{} |\n",
            p.name,
            toml,
            p.default,
            if p.mutable { "yes" } else { "no" },
            p.doc,
            kind
        ));
    }
    out
}

// ---------------------------------------------------------------- misc

pub fn time(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(now.as_secs() as i64);
    ctx.out.bulk_int(now.subsec_micros() as i64);
    Ok(())
}

pub fn memory_usage(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut j = 3;
    while j < args.len() {
        if eq_ic(args[j], "samples") && j + 1 < args.len() {
            int_arg(args[j + 1])?;
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let mut k = ctx.unit.key(ctx.sess.db, args[2]);
    match k.find(Access::PEEK) {
        Some(pos) => ctx.out.int(k.shard.charge_at(pos) as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn memory_doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let snap = ctx.eng.snapshot(ctx.unit);
    let text = format!(
        "Hi Sam, this is the Redistill memory doctor. {} keys use {} of accounted memory; no problems detected.",
        snap.keys(),
        human_bytes(snap.used_memory)
    );
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

pub fn memory_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    help_lines(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value.",
        ],
    )
}

pub fn slowlog_get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut count = 10i64;
    if args.len() == 3 {
        count = match crate::numeric::parse_i64(args[2]) {
            Some(n) if n >= -1 => n,
            _ => return Err(errors::SLOWLOG_COUNT),
        };
    } else if args.len() > 3 {
        return Err(ctx.arity_error());
    }
    let entries = ctx.eng.slowlog.latest(if count < 0 {
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
    Ok(())
}

pub fn slowlog_len(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.eng.slowlog.len() as i64);
    Ok(())
}

pub fn slowlog_reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.eng.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

pub fn slowlog_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
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
    )
}

pub fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut mode = ShutdownSave::Default;
    for a in &args[1..] {
        if eq_ic(a, "nosave") {
            mode = ShutdownSave::Skip;
        } else if eq_ic(a, "save") {
            mode = ShutdownSave::Force;
        } else if eq_ic(a, "now") || eq_ic(a, "force") {
        } else if eq_ic(a, "abort") {
            return Err(errors::NO_SHUTDOWN);
        } else {
            return Err(errors::SYNTAX);
        }
    }
    tracing::info!("SHUTDOWN requested by client {}", ctx.sess.handle.addr);
    if mode == ShutdownSave::Skip {
        // SHUTDOWN NOSAVE stops a script whatever it did.
        super::script::kill_for_shutdown(&ctx.rt.scripts);
    }
    ctx.rt.host.shutdown(mode);
    ctx.after = After::Drop;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// docs/configuration.md carries the table `parameters_markdown` makes.
    #[test]
    fn parameters_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md");
        let text = std::fs::read_to_string(path).unwrap();
        let (head, rest) = text.split_once("<!-- parameters:begin -->\n").unwrap();
        let (_, tail) = rest.split_once("<!-- parameters:end -->").unwrap();
        let want = format!(
            "{head}<!-- parameters:begin -->\n{}<!-- parameters:end -->{tail}",
            super::parameters_markdown()
        );
        if std::env::var_os("REDISTILL_WRITE_DOCS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        assert!(
            text == want,
            "docs/configuration.md is out of date: run REDISTILL_WRITE_DOCS=1 cargo test --lib parameters_doc"
        );
    }
}
