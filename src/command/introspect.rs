//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS), all
//! derived from the command table, so redis-cli hints and cluster clients
//! see exactly what dispatch does.

use super::admin::help_lines;
use super::docs::{parse_syntax, write_arg};
use super::table::{CommandSpec, CommandTable, FAST, FLAG_NAMES, READONLY, WRITE};
use super::{eq_ic, Ctx};
use crate::engine::store::glob::glob_match;
use crate::errors::{self, CmdResult};

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

pub fn command(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let table = CommandTable::get();
    let specs: Vec<_> = table.top_level().collect();
    ctx.out.array(specs.len());
    for s in specs {
        write_command_info(ctx, s);
    }
    Ok(())
}

pub fn command_count(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(CommandTable::get().top_level().count() as i64);
    Ok(())
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

pub fn command_info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        return command(ctx, args);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match find_spec(name) {
            Some(spec) => write_command_info(ctx, spec),
            None => ctx.out.null(),
        }
    }
    Ok(())
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

pub fn command_docs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
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
    Ok(())
}

pub fn command_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
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
                return Err(errors::SYNTAX);
            }
        }
        _ => return Err(errors::SYNTAX),
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(n);
    }
    Ok(())
}

pub fn command_getkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let rest = &args[2..];
    let t = CommandTable::get();
    let Some(mut spec) = t.lookup(rest[0]).map(|id| t.spec(id)) else {
        return Err(errors::INVALID_COMMAND);
    };
    if !spec.subcommands.is_empty() && rest.len() >= 2 {
        if let Some(sub) = t.lookup(rest[0]).and_then(|id| t.lookup_sub(id, rest[1])) {
            spec = t.spec(sub);
        }
    }
    let argc = rest.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return Err(errors::INVALID_COMMAND_ARGS);
    }
    if !spec.has_keys() {
        return Err(errors::NO_KEY_ARGS);
    }
    let keys = spec.all_keys(rest);
    if keys.is_empty() && !spec.name.starts_with("eval") {
        // Scripts may name no key; other commands must.
        return Err(errors::INVALID_COMMAND_KEYS);
    }
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(k);
    }
    Ok(())
}

pub fn command_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
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
    )
}
