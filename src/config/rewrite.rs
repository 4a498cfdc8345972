//! CONFIG REWRITE: writes the running configuration back into the TOML
//! file the server started with. Like redis-server's rewrite it keeps the
//! file as the operator wrote it (comments, order, untouched values) and
//! changes only what differs: a key present in the file gets the running
//! value in place; a parameter absent from the file is added to its
//! section when its running value is not the default. Parameters without a
//! TOML key (flags and CONFIG SET only) are not written. The new file
//! replaces the old one atomically (temp file, fsync, rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::Range;
use std::path::Path;

use super::params::{Kind, Param, PARAMS};
use super::Settings;

type Spanned = toml::Spanned<toml::Value>;
type Sections = BTreeMap<String, BTreeMap<String, Spanned>>;

/// Rewrites `path` with the running values of `settings`.
pub fn rewrite_file(settings: &Settings, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let new = rewritten(&text, settings)?;
    if new == text {
        return Ok(());
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".redistill-rewrite-{}.toml", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(new.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| e.to_string())
}

/// The file text with every parameter's running value.
pub fn rewritten(text: &str, settings: &Settings) -> Result<String, String> {
    let sections: Sections = toml::from_str(text).map_err(|e| e.message().trim().to_string())?;
    // Replacements as (byte range, new text), applied back to front.
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut additions: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for param in PARAMS.iter().filter(|p| !p.toml.is_empty()) {
        let (section, key) = param.toml.split_once('.').expect("section.key");
        let running = settings.render(param.id);
        match sections.get(section).and_then(|s| s.get(key)) {
            Some(value) => {
                if file_value(param, value.get_ref()).as_deref() != Some(running.as_str()) {
                    edits.push((value.span(), toml_value(param, settings).to_string()));
                }
            }
            None => {
                let default = param.parse(param.default).ok().map(|v| match v {
                    super::params::Parsed::Int(i) => param.render_int(i),
                    super::params::Parsed::Text(t) => t,
                });
                if default.as_deref() != Some(running.as_str()) {
                    let line = format!("{key} = {}", toml_value(param, settings));
                    additions.entry(section).or_default().push(line);
                }
            }
        }
    }
    for (section, lines) in additions {
        let block = lines.join("\n");
        match sections.get(section) {
            // After the section's last value.
            Some(keys) if !keys.is_empty() => {
                let end = keys.values().map(|v| v.span().end).max().unwrap_or(0);
                let at = text[end..].find('\n').map_or(text.len(), |i| end + i);
                edits.push((at..at, format!("\n{block}")));
            }
            // An empty section: after its header line.
            Some(_) => {
                let at = header_end(text, section).ok_or_else(|| {
                    format!("cannot find the [{section}] header to add `{block}` under")
                })?;
                edits.push((at..at, format!("\n{block}")));
            }
            None => {
                let sep = if text.is_empty() || text.ends_with('\n') {
                    ""
                } else {
                    "\n"
                };
                edits.push((
                    text.len()..text.len(),
                    format!("{sep}\n[{section}]\n{block}\n"),
                ));
            }
        }
    }
    edits.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    let mut out = text.to_string();
    for (range, new) in edits {
        out.replace_range(range, &new);
    }
    Ok(out)
}

/// The file's value as CONFIG GET would show it, None if it does not parse.
fn file_value(param: &Param, value: &toml::Value) -> Option<String> {
    let text = match value {
        toml::Value::String(t) => t.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
        _ => return None,
    };
    Some(match param.parse(&text).ok()? {
        super::params::Parsed::Int(i) => param.render_int(i),
        super::params::Parsed::Text(t) => t,
    })
}

/// The running value as a TOML value of the parameter's type.
fn toml_value(param: &Param, settings: &Settings) -> toml::Value {
    match param.kind {
        Kind::Int { .. } | Kind::Memory { .. } => toml::Value::Integer(settings.int(param.id)),
        Kind::Bool => toml::Value::Boolean(settings.flag(param.id)),
        Kind::MemoryOrPercent if settings.int(param.id) >= 0 => {
            toml::Value::Integer(settings.int(param.id))
        }
        Kind::Enum(_) | Kind::MemoryOrPercent | Kind::Text | Kind::List(_) => {
            toml::Value::String(settings.render(param.id))
        }
    }
}

/// The byte offset just past the `[section]` header line.
fn header_end(text: &str, section: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.split('#').next().unwrap_or("").trim();
        if bare == format!("[{section}]") {
            return Some(offset + line.trim_end_matches(['\n', '\r']).len());
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::P;

    #[test]
    fn changes_values_in_place_and_keeps_comments() {
        let s = Settings::defaults();
        s.set(P::Dir, ".").unwrap();
        s.set(P::Maxmemory, "100mb").unwrap();
        s.set(P::Port, "7000").unwrap();
        let text = "# my cache\n[server]\nport = 6379 # the port\nbind = \"127.0.0.1\"\n\n[memory]\nmax_memory = \"100mb\"\n";
        let out = rewritten(text, &s).unwrap();
        // max_memory is unchanged (same value, other spelling), so it stays.
        assert!(out.contains("max_memory = \"100mb\""), "{out}");
        assert!(out.contains("port = 7000 # the port"), "{out}");
        assert!(out.starts_with("# my cache\n[server]\n"), "{out}");
        // A second rewrite changes nothing.
        assert_eq!(rewritten(&out, &s).unwrap(), out);
    }

    #[test]
    fn adds_missing_keys_to_their_section_or_a_new_one() {
        let s = Settings::defaults();
        s.set(P::Dir, ".").unwrap();
        s.set(P::Replicaof, "127.0.0.1 6380").unwrap();
        s.set(P::Maxclients, "50").unwrap();
        let text = "[server]\nport = 6379\n\n[security]\n";
        let out = rewritten(text, &s).unwrap();
        let table: toml::Table = out.parse().unwrap();
        assert_eq!(
            table["replication"]["replicaof"].as_str(),
            Some("127.0.0.1 6380")
        );
        assert_eq!(table["server"]["max_connections"].as_integer(), Some(50));
        assert_eq!(table["server"]["port"].as_integer(), Some(6379));
        assert_eq!(rewritten(&out, &s).unwrap(), out);
        // Back to no master: the key stays, with the running (empty) value.
        s.set(P::Replicaof, "").unwrap();
        let out = rewritten(&out, &s).unwrap();
        let table: toml::Table = out.parse().unwrap();
        assert_eq!(table["replication"]["replicaof"].as_str(), Some(""));
    }
}
