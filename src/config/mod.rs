//! Configuration: the parameter table ([`params`]) and the live values
//! ([`Settings`]).
//!
//! Values come from built-in defaults < the TOML file < the environment
//! (`REDIS_PASSWORD`) < command-line flags (`--<name> value`, redis-server's
//! names), and later from CONFIG SET. Everything is checked against the
//! table before the server starts; an unknown key, a wrong type or a bad
//! value is an error that names the key. Hot-path readers load one atomic.

pub mod keyspace_events;
pub mod params;
pub mod rewrite;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::RwLock;

pub use params::{parse_memory, Kind, Param, Parsed, P, PARAMS};

/// Eviction policies (`maxmemory-policy`), in the table's enum order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EvictionPolicy {
    AllkeysLru,
    AllkeysRandom,
    AllkeysS3fifo,
    NoEviction,
}

impl EvictionPolicy {
    pub fn from_index(i: i64) -> Self {
        match i {
            1 => EvictionPolicy::AllkeysRandom,
            2 => EvictionPolicy::AllkeysS3fifo,
            3 => EvictionPolicy::NoEviction,
            _ => EvictionPolicy::AllkeysLru,
        }
    }
    pub fn name(self) -> &'static str {
        params::POLICIES[self as usize]
    }
}

/// The live configuration: one value per table row.
pub struct Settings {
    ints: [AtomicI64; params::COUNT],
    texts: Box<[RwLock<Arc<str>>]>,
    /// The TOML file the server started with, if any.
    pub config_file: Option<PathBuf>,
    /// Bumped by every change (readers that cache derived state compare it).
    version: AtomicU64,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Settings");
        for p in PARAMS {
            d.field(p.name, &self.render(p.id));
        }
        d.finish()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::defaults()
    }
}

impl Settings {
    /// Every parameter at its default.
    pub fn defaults() -> Settings {
        let s = Settings {
            ints: std::array::from_fn(|_| AtomicI64::new(0)),
            texts: PARAMS.iter().map(|_| RwLock::new(Arc::from(""))).collect(),
            config_file: None,
            version: AtomicU64::new(0),
        };
        for p in PARAMS {
            let parsed = p.parse(p.default).expect("defaults are valid");
            s.store(p.id, parsed);
        }
        if let Ok(dir) = std::env::current_dir() {
            s.store(P::Dir, Parsed::Text(dir.display().to_string()));
        }
        s
    }

    fn store(&self, p: P, v: Parsed) {
        match v {
            Parsed::Int(i) => self.ints[p as usize].store(i, Relaxed),
            Parsed::Text(t) => *self.texts[p as usize].write() = Arc::from(t.as_str()),
        }
        self.version.fetch_add(1, Relaxed);
    }

    #[inline]
    pub fn int(&self, p: P) -> i64 {
        self.ints[p as usize].load(Relaxed)
    }
    #[inline]
    pub fn uint(&self, p: P) -> u64 {
        self.int(p).max(0) as u64
    }
    #[inline]
    pub fn flag(&self, p: P) -> bool {
        self.int(p) != 0
    }
    pub fn text(&self, p: P) -> Arc<str> {
        self.texts[p as usize].read().clone()
    }
    #[inline]
    pub fn policy(&self) -> EvictionPolicy {
        EvictionPolicy::from_index(self.int(P::MaxmemoryPolicy))
    }
    pub fn version(&self) -> u64 {
        self.version.load(Relaxed)
    }

    /// The value as CONFIG GET shows it.
    pub fn render(&self, p: P) -> String {
        let param = p.param();
        if p == P::ClientOutputBufferLimit {
            return render_output_limits(&self.output_limits());
        }
        if p == P::NotifyKeyspaceEvents {
            let flags = keyspace_events::parse(&self.text(p)).unwrap_or(0);
            return keyspace_events::render(flags);
        }
        if param.kind.is_numeric() {
            param.render_int(self.int(p))
        } else {
            self.text(p).to_string()
        }
    }

    /// Checks and stores a value (no mutability check: the caller decides).
    pub fn set(&self, p: P, text: &str) -> Result<(), String> {
        let v = p.param().parse(text)?;
        if p == P::ClientOutputBufferLimit {
            // Classes not named keep their limits; stored complete, in bytes.
            let mut all = self.output_limits();
            for (class, limit) in params::output_limits(text)? {
                all[class] = limit;
            }
            self.store(p, Parsed::Text(render_output_limits(&all)));
            return Ok(());
        }
        self.store(p, v);
        Ok(())
    }

    /// The output buffer limits of the normal, replica and pubsub classes
    /// (the defaults for classes a flag did not name).
    pub fn output_limits(&self) -> [params::OutputLimit; 3] {
        let mut all = [params::OutputLimit::default(); 3];
        let default = P::ClientOutputBufferLimit.param().default;
        let text = self.text(P::ClientOutputBufferLimit);
        for t in [default, &*text] {
            for (class, limit) in params::output_limits(t).unwrap_or_default() {
                all[class] = limit;
            }
        }
        all
    }

    /// Loads defaults < `file` < `env_password` < `flags` and checks the result.
    pub fn load(args: &Args, env_password: Option<String>) -> Result<Settings, String> {
        let mut s = Settings::defaults();
        if let Some(path) = &args.config_file {
            load_toml(&s, path)?;
            s.config_file = Some(path.clone());
        }
        if let Some(pw) = env_password {
            s.store(P::Requirepass, Parsed::Text(pw));
        }
        let mut tls_port_flag = None;
        for (name, value) in &args.flags {
            let param = params::find(name).ok_or_else(|| format!("--{name}: unknown option"))?;
            let place = if param.toml.is_empty() {
                format!("--{name}")
            } else {
                format!("--{name} ({})", param.toml)
            };
            let v = param.parse(value).map_err(|e| format!("{place}: {e}"))?;
            if param.id == P::TlsPort {
                tls_port_flag = Some(v.clone());
            }
            s.store(param.id, v);
        }
        if let Some(Parsed::Int(port)) = tls_port_flag {
            s.store(P::TlsEnabled, Parsed::Int((port != 0) as i64));
        }
        s.check()?;
        Ok(s)
    }

    /// Checks that hold across parameters.
    fn check(&self) -> Result<(), String> {
        if self.flag(P::TlsEnabled) {
            if self.text(P::TlsCertFile).is_empty() || self.text(P::TlsKeyFile).is_empty() {
                return Err(
                    "security.tls_enabled: tls_cert_path and tls_key_path are required".into(),
                );
            }
            if self.int(P::TlsPort) == 0 {
                return Err("security.tls_port: must not be 0 when TLS is enabled".into());
            }
        }
        if self.text(P::Dbfilename).is_empty() {
            return Err("persistence.snapshot_path: must not be empty".into());
        }
        Ok(())
    }

    /// The listen addresses.
    pub fn bind_addrs(&self) -> Result<Vec<std::net::IpAddr>, String> {
        parse_bind(&self.text(P::Bind))
    }
}

/// Parses `bind`: IP addresses, space separated; `localhost` and a leading
/// `-` (redis.conf's "optional") are accepted.
pub fn parse_bind(text: &str) -> Result<Vec<std::net::IpAddr>, String> {
    let addrs: Result<Vec<std::net::IpAddr>, String> = text
        .split_whitespace()
        .map(|a| {
            let a = a.strip_prefix('-').unwrap_or(a);
            let a = if a == "localhost" { "127.0.0.1" } else { a };
            a.parse()
                .map_err(|_| format!("server.bind: '{a}' is not an IP address"))
        })
        .collect();
    let addrs = addrs?;
    if addrs.is_empty() {
        return Err("server.bind: at least one address is required".into());
    }
    Ok(addrs)
}

fn load_toml(s: &Settings, path: &PathBuf) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let place = e
            .span()
            .map(|span| {
                let line_no = text[..span.start].matches('\n').count() + 1;
                let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
                format!(" (line {line_no}: `{line}`)")
            })
            .unwrap_or_default();
        format!(
            "config file {}: {}{place}",
            path.display(),
            e.message().trim()
        )
    })?;
    let file = path.display();
    for (section, body) in &table {
        let toml::Value::Table(body) = body else {
            return Err(format!(
                "config file {file}: `{section}` must be a [section]"
            ));
        };
        if !PARAMS
            .iter()
            .any(|p| p.toml.split('.').next() == Some(section))
        {
            return Err(format!("config file {file}: unknown section [{section}]"));
        }
        for (key, value) in body {
            let full = format!("{section}.{key}");
            let param = params::find_toml(&full)
                .ok_or_else(|| format!("config file {file}: unknown key `{key}` in [{section}]"))?;
            let text = match value {
                toml::Value::String(t) => t.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
                other => {
                    return Err(format!(
                        "{full}: expected a value of this parameter's type, got {}",
                        other.type_str()
                    ))
                }
            };
            if matches!(value, toml::Value::String(_))
                && matches!(param.kind, Kind::Int { .. } | Kind::Bool)
            {
                return Err(format!(
                    "{full}: expected a number or a boolean, got a string"
                ));
            }
            let v = param.parse(&text).map_err(|e| format!("{full}: {e}"))?;
            s.store(param.id, v);
        }
    }
    Ok(())
}

/// `normal h s t slave h s t pubsub h s t`, in bytes, as CONFIG GET shows it.
fn render_output_limits(all: &[params::OutputLimit; 3]) -> String {
    let groups: Vec<String> = params::OUTPUT_CLASSES
        .iter()
        .zip(all)
        .map(|(c, l)| format!("{c} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect();
    groups.join(" ")
}

/// Parsed command line: an optional TOML file and `--name value` pairs in order.
#[derive(Debug, Default, Clone)]
pub struct Args {
    pub config_file: Option<PathBuf>,
    pub flags: Vec<(String, String)>,
    pub help: bool,
    pub version: bool,
}

impl Args {
    /// Parses `redistill [CONFIG.toml] [--name value...]`. A list parameter
    /// (`--bind a b`) takes every word up to the next `--`; the one other
    /// bare word is the configuration file.
    pub fn parse<I: IntoIterator<Item = String>>(argv: I) -> Result<Args, String> {
        let mut args = Args::default();
        let words: Vec<String> = argv.into_iter().collect();
        let mut i = 0;
        while i < words.len() {
            let w = &words[i];
            i += 1;
            match w.as_str() {
                "-h" | "--help" => args.help = true,
                "-v" | "-V" | "--version" => args.version = true,
                _ if w.starts_with("--") => {
                    let (name, inline) = match w[2..].split_once('=') {
                        Some((n, v)) => (n.to_string(), Some(v.to_string())),
                        None => (w[2..].to_string(), None),
                    };
                    let param =
                        params::find(&name).ok_or_else(|| format!("--{name}: unknown option"))?;
                    let value = match inline {
                        Some(v) => v,
                        None => {
                            let mut vals = Vec::new();
                            while i < words.len() && !words[i].starts_with("--") {
                                vals.push(words[i].clone());
                                i += 1;
                                if !matches!(param.kind, Kind::List(_)) {
                                    break;
                                }
                            }
                            if vals.is_empty() && !matches!(param.kind, Kind::List(_) | Kind::Text)
                            {
                                return Err(format!("--{name}: a value is required"));
                            }
                            vals.join(" ")
                        }
                    };
                    args.flags.push((name, value));
                }
                _ if args.config_file.is_none() => {
                    args.config_file = Some(PathBuf::from(w));
                }
                _ => return Err(format!("unexpected argument '{w}'")),
            }
        }
        Ok(args)
    }
}

/// `--help`: usage and one line per parameter, from the table.
pub fn help_text() -> String {
    let mut out = format!(
        "Redistill {} — a Redis-compatible in-memory key-value server\n\n\
         Usage: redistill [CONFIG.toml] [--<parameter> <value>]...\n\n\
         Precedence: built-in defaults < CONFIG.toml < REDIS_PASSWORD < flags.\n\n\
         Parameters (flag, [TOML key], default, and whether CONFIG SET may change it):\n",
        env!("CARGO_PKG_VERSION")
    );
    for p in PARAMS {
        out.push_str(&format!("  --{:<28} {}\n", p.name, p.doc));
        let mut meta = Vec::new();
        if !p.toml.is_empty() {
            meta.push(format!("[{}]", p.toml));
        }
        meta.push(format!("default: {:?}", p.default));
        if p.mutable {
            meta.push("CONFIG SET".into());
        }
        if !p.aliases.is_empty() {
            meta.push(format!("also --{}", p.aliases.join(", --")));
        }
        out.push_str(&format!("  {:<30} {}\n", "", meta.join("; ")));
    }
    out.push_str("  -h, --help                     This text\n  -v, --version                  The version\n");
    out
}

/// The number of worker threads for a `threads` setting: the setting
/// itself, or for 0 one fewer than the CPU cores (at least one). The kernel's
/// network processing for every connection needs a core too: on 2 cores,
/// one worker serves pipelined load 10-15% faster than two (bench/compare).
pub fn worker_threads(setting: usize) -> usize {
    if setting > 0 {
        return setting;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).max(1)
}

/// Renders bytes the way INFO's `*_human` fields do.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    const K: f64 = 1024.0;
    if n < K {
        format!("{}B", n as u64)
    } else if n < K * K {
        format!("{:.2}K", n / K)
    } else if n < K * K * K {
        format!("{:.2}M", n / (K * K))
    } else if n < K * K * K * K {
        format!("{:.2}G", n / (K * K * K))
    } else {
        format!("{:.2}T", n / (K * K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &str) -> Result<Settings, String> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let args = Args {
            config_file: Some(f.path().to_path_buf()),
            ..Args::default()
        };
        Settings::load(&args, None)
    }

    fn argv(words: &[&str]) -> Args {
        Args::parse(words.iter().map(|s| s.to_string())).unwrap()
    }

    #[test]
    fn worker_threads_follow_the_setting_or_leave_a_core() {
        assert_eq!(worker_threads(3), 3);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(worker_threads(0), cores.saturating_sub(1).max(1));
    }

    #[test]
    fn defaults() {
        let s = Settings::defaults();
        assert_eq!(s.int(P::Port), 6379);
        assert_eq!(s.int(P::Shards), 2048);
        assert_eq!(s.int(P::Maxclients), 10000);
        assert_eq!(s.policy(), EvictionPolicy::AllkeysLru);
        assert_eq!(&*s.text(P::Dbfilename), "redistill.rdb");
        assert_eq!(s.int(P::TlsPort), 6380);
        assert_eq!(s.render(P::Appendonly), "no");
    }

    #[test]
    fn toml_values_and_errors_name_the_key() {
        let s = load_text("[memory]\nmax_memory = \"64mb\"\n").unwrap();
        assert_eq!(s.uint(P::Maxmemory), 64 << 20);
        let s = load_text("[memory]\nmax_memory = 1000\n").unwrap();
        assert_eq!(s.uint(P::Maxmemory), 1000);
        for (text, key) in [
            ("[server]\nprot = 1\n", "prot"),
            ("[server]\nport = \"x\"\n", "port"),
            ("[server]\nnum_shards = 1000\n", "num_shards"),
            ("[memory]\neviction_policy = \"lru\"\n", "eviction_policy"),
            ("[nope]\n", "nope"),
        ] {
            let e = load_text(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn the_sample_config_is_valid_and_matches_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/redistill.toml");
        let args = Args {
            config_file: Some(path.into()),
            ..Args::default()
        };
        let s = Settings::load(&args, None).unwrap();
        let d = Settings::defaults();
        for p in PARAMS.iter().filter(|p| !p.toml.is_empty()) {
            assert_eq!(s.render(p.id), d.render(p.id), "{}", p.name);
        }
    }

    #[test]
    fn flags_and_precedence() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"[security]\npassword = \"file\"\n[server]\nport = 7000\n")
            .unwrap();
        let path = f.path().to_str().unwrap().to_string();
        let s = Settings::load(&argv(&[&path]), Some("env".into())).unwrap();
        assert_eq!(&*s.text(P::Requirepass), "env");
        assert_eq!(s.int(P::Port), 7000);
        let s = Settings::load(
            &argv(&[&path, "--requirepass", "flag", "--port=7001"]),
            Some("env".into()),
        )
        .unwrap();
        assert_eq!(&*s.text(P::Requirepass), "flag");
        assert_eq!(s.int(P::Port), 7001);
        let s = Settings::load(&argv(&["--bind", "127.0.0.1", "::1", "--save", ""]), None).unwrap();
        assert_eq!(&*s.text(P::Bind), "127.0.0.1 ::1");
        let e = Settings::load(&argv(&["--shards", "3"]), None).unwrap_err();
        assert!(e.contains("num_shards"), "{e}");
        assert!(Args::parse(["--nope".to_string()]).is_err());
    }
}
