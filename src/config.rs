//! Configuration: built-in defaults < TOML file < environment
//! (`REDIS_PASSWORD`) < command-line flags (redis-server's names).
//!
//! Everything is validated before the server starts; an unknown key, a wrong
//! type or a bad value is an error that names the key.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::Deserialize;

/// Eviction policies (`maxmemory-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionPolicy {
    AllkeysLru,
    AllkeysRandom,
    AllkeysS3fifo,
    NoEviction,
}

impl EvictionPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "allkeys-lru" => EvictionPolicy::AllkeysLru,
            "allkeys-random" => EvictionPolicy::AllkeysRandom,
            "allkeys-s3fifo" => EvictionPolicy::AllkeysS3fifo,
            "noeviction" => EvictionPolicy::NoEviction,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::AllkeysS3fifo => "allkeys-s3fifo",
            EvictionPolicy::NoEviction => "noeviction",
        }
    }
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

/// Parses a memory size as Redis does: bytes, or a number with `k`, `kb`,
/// `m`, `mb`, `g`, `gb` (case-insensitive; `k` = 1000, `kb` = 1024).
pub fn parse_memory(s: &str) -> Option<u64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// Renders bytes the way INFO's `*_human` fields do.
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{}B", n as u64)
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else if n < 1024.0 * 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    } else {
        format!("{:.2}T", n / (1024.0 * 1024.0 * 1024.0 * 1024.0))
    }
}

/// A size written either as a number of bytes or as a string like "512mb".
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
enum SizeValue {
    Bytes(i64),
    Text(String),
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    security: SecuritySection,
    #[serde(default)]
    memory: MemorySection,
    #[serde(default)]
    persistence: PersistenceSection,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct ServerSection {
    bind: String,
    port: i64,
    num_shards: i64,
    threads: i64,
    max_connections: i64,
    connection_timeout: i64,
    connection_rate_limit: i64,
    health_check_port: i64,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            bind: "127.0.0.1".into(),
            port: 6379,
            num_shards: 2048,
            threads: 0,
            max_connections: 10000,
            connection_timeout: 0,
            connection_rate_limit: 0,
            health_check_port: 0,
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct SecuritySection {
    password: String,
    tls_enabled: bool,
    tls_port: i64,
    tls_cert_path: String,
    tls_key_path: String,
    tls_ca_cert_path: String,
}

impl Default for SecuritySection {
    fn default() -> Self {
        SecuritySection {
            password: String::new(),
            tls_enabled: false,
            tls_port: 6380,
            tls_cert_path: String::new(),
            tls_key_path: String::new(),
            tls_ca_cert_path: String::new(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct MemorySection {
    max_memory: SizeValue,
    eviction_policy: String,
}

impl Default for MemorySection {
    fn default() -> Self {
        MemorySection {
            max_memory: SizeValue::Bytes(0),
            eviction_policy: "allkeys-lru".into(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
struct PersistenceSection {
    enabled: bool,
    snapshot_path: String,
    snapshot_interval: i64,
    save_on_shutdown: bool,
}

impl Default for PersistenceSection {
    fn default() -> Self {
        PersistenceSection {
            enabled: false,
            snapshot_path: "redistill.rdb".into(),
            snapshot_interval: 300,
            save_on_shutdown: true,
        }
    }
}

/// Command-line flags. Names follow redis-server where one exists.
#[derive(Parser, Debug, Default)]
#[command(
    name = "redistill",
    version,
    about = "Redistill — a Redis-compatible in-memory key-value server",
    long_about = None
)]
pub struct Flags {
    /// TOML configuration file (flags override it)
    pub config: Option<PathBuf>,
    /// TCP port [default: 6379]
    #[arg(long)]
    pub port: Option<i64>,
    /// Listen address(es), space separated [default: 127.0.0.1]
    #[arg(long, num_args = 1..)]
    pub bind: Option<Vec<String>>,
    /// Require clients to AUTH with this password
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Maximum simultaneous clients [default: 10000]
    #[arg(long)]
    pub maxclients: Option<i64>,
    /// Close clients idle for this many seconds; 0 = never [default: 0]
    #[arg(long)]
    pub timeout: Option<i64>,
    /// Memory limit, e.g. 512mb, 2gb, or bytes; 0 = unlimited [default: 0]
    #[arg(long)]
    pub maxmemory: Option<String>,
    /// allkeys-lru | allkeys-random | allkeys-s3fifo | noeviction [default: allkeys-lru]
    #[arg(long = "maxmemory-policy")]
    pub maxmemory_policy: Option<String>,
    /// Number of keyspace shards, a power of two [default: 2048]
    #[arg(long)]
    pub shards: Option<i64>,
    /// Worker threads serving clients; 0 = one fewer than the CPU cores, at least 1 [default: 0]
    #[arg(long)]
    pub threads: Option<i64>,
    /// Log level: debug | verbose | notice | warning [default: notice]
    #[arg(long)]
    pub loglevel: Option<String>,
    /// TLS port; setting it turns TLS on [default: 6380 when enabled]
    #[arg(long = "tls-port")]
    pub tls_port: Option<i64>,
    /// PEM certificate chain for TLS
    #[arg(long = "tls-cert-file")]
    pub tls_cert_file: Option<String>,
    /// PEM private key for TLS (PKCS#8, PKCS#1 or SEC1)
    #[arg(long = "tls-key-file")]
    pub tls_key_file: Option<String>,
    /// PEM CA certificate(s); when set, clients must present a certificate it signed
    #[arg(long = "tls-ca-cert-file")]
    pub tls_ca_cert_file: Option<String>,
    /// Seconds a client has to finish a request once its first byte arrived
    /// (unauthenticated clients get a third of it) [default: 30]
    #[arg(long = "request-timeout")]
    pub request_timeout: Option<i64>,
    /// Largest request a client may have pending, e.g. 1gb (min 1mb) [default: 1gb]
    #[arg(long = "client-query-buffer-limit")]
    pub client_query_buffer_limit: Option<String>,
    /// Seconds to let clients finish on shutdown before closing them [default: 10]
    #[arg(long = "shutdown-timeout")]
    pub shutdown_timeout: Option<i64>,
    /// New connections accepted per second; 0 = unlimited [default: 0]
    #[arg(long = "connection-rate-limit")]
    pub connection_rate_limit: Option<i64>,
}

/// The validated configuration the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub config_file: Option<PathBuf>,
    pub bind: Vec<IpAddr>,
    pub port: u16,
    pub num_shards: usize,
    /// Worker threads; 0 = automatic (see `worker_threads`).
    pub threads: usize,
    pub max_connections: usize,
    pub connection_timeout: u64,
    pub connection_rate_limit: u64,
    pub health_check_port: u16,
    pub password: String,
    pub tls_enabled: bool,
    pub tls_port: u16,
    pub tls_cert_path: String,
    pub tls_key_path: String,
    pub tls_ca_cert_path: String,
    pub max_memory: u64,
    pub eviction_policy: EvictionPolicy,
    /// Keys sampled per LRU eviction (`maxmemory-samples`).
    pub maxmemory_samples: usize,
    pub persistence_enabled: bool,
    pub snapshot_path: String,
    pub snapshot_interval: u64,
    pub save_on_shutdown: bool,
    pub loglevel: String,
    /// Seconds to complete a started request (slowloris guard).
    pub request_timeout: u64,
    /// Largest pending request per client (`client-query-buffer-limit`).
    pub query_buffer_limit: u64,
    /// Seconds to drain clients on shutdown.
    pub shutdown_timeout: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config::load(Flags::default(), None).expect("built-in defaults are valid")
    }
}

fn range(key: &str, v: i64, lo: i64, hi: i64) -> Result<i64, String> {
    if v < lo || v > hi {
        Err(format!("{key}: {v} is out of range (must be {lo}..={hi})"))
    } else {
        Ok(v)
    }
}

fn parse_bind(key: &str, s: &str) -> Result<Vec<IpAddr>, String> {
    let addrs: Result<Vec<IpAddr>, String> = s
        .split_whitespace()
        .map(|a| {
            // redis.conf allows a leading '-' meaning "optional"; accept and ignore it.
            let a = a.strip_prefix('-').unwrap_or(a);
            let a = if a == "localhost" { "127.0.0.1" } else { a };
            a.parse::<IpAddr>()
                .map_err(|_| format!("{key}: '{a}' is not an IP address"))
        })
        .collect();
    let addrs = addrs?;
    if addrs.is_empty() {
        return Err(format!("{key}: at least one address is required"));
    }
    Ok(addrs)
}

impl Config {
    /// Builds the configuration from flags, the file they name, and `env_password`.
    pub fn load(flags: Flags, env_password: Option<String>) -> Result<Config, String> {
        let file: FileConfig = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| {
                    // Quote the offending line so the message names the key.
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
                })?
            }
            None => FileConfig::default(),
        };
        let s = &file.server;
        let port = range("server.port", flags.port.unwrap_or(s.port), 0, 65535)? as u16;
        let bind_text = match &flags.bind {
            Some(list) => list.join(" "),
            None => s.bind.clone(),
        };
        let bind = parse_bind("server.bind", &bind_text)?;
        let shards = flags.shards.unwrap_or(s.num_shards);
        if !(256..=65536).contains(&shards) || !(shards as u64).is_power_of_two() {
            return Err(format!(
                "server.num_shards: {shards} must be a power of two between 256 and 65536"
            ));
        }
        let threads = range(
            "server.threads",
            flags.threads.unwrap_or(s.threads),
            0,
            1024,
        )? as usize;
        let max_connections = range(
            "server.max_connections",
            flags.maxclients.unwrap_or(s.max_connections),
            1,
            1_000_000,
        )? as usize;
        let connection_timeout = range(
            "server.connection_timeout",
            flags.timeout.unwrap_or(s.connection_timeout),
            0,
            i32::MAX as i64,
        )? as u64;
        let connection_rate_limit = range(
            "server.connection_rate_limit",
            flags
                .connection_rate_limit
                .unwrap_or(s.connection_rate_limit),
            0,
            i64::MAX,
        )? as u64;
        let health_check_port =
            range("server.health_check_port", s.health_check_port, 0, 65535)? as u16;

        let sec = &file.security;
        let password = flags
            .requirepass
            .clone()
            .or(env_password)
            .unwrap_or_else(|| sec.password.clone());
        let tls_port = range(
            "security.tls_port",
            flags.tls_port.unwrap_or(sec.tls_port),
            0,
            65535,
        )? as u16;
        let tls_enabled = match flags.tls_port {
            Some(p) => p != 0,
            None => sec.tls_enabled,
        };
        let tls_cert_path = flags
            .tls_cert_file
            .clone()
            .unwrap_or_else(|| sec.tls_cert_path.clone());
        let tls_key_path = flags
            .tls_key_file
            .clone()
            .unwrap_or_else(|| sec.tls_key_path.clone());
        let tls_ca_cert_path = flags
            .tls_ca_cert_file
            .clone()
            .unwrap_or_else(|| sec.tls_ca_cert_path.clone());
        if tls_enabled && (tls_cert_path.is_empty() || tls_key_path.is_empty()) {
            return Err("security.tls_enabled: tls_cert_path and tls_key_path are required".into());
        }
        if tls_enabled && tls_port == 0 {
            return Err("security.tls_port: must not be 0 when TLS is enabled".into());
        }

        let mem = &file.memory;
        let max_memory = match &flags.maxmemory {
            Some(text) => parse_memory(text)
                .ok_or_else(|| format!("--maxmemory: '{text}' is not a memory size"))?,
            None => match &mem.max_memory {
                SizeValue::Bytes(b) if *b >= 0 => *b as u64,
                SizeValue::Bytes(b) => {
                    return Err(format!("memory.max_memory: {b} must not be negative"))
                }
                SizeValue::Text(t) => parse_memory(t)
                    .ok_or_else(|| format!("memory.max_memory: '{t}' is not a memory size"))?,
            },
        };
        let policy_text = flags
            .maxmemory_policy
            .clone()
            .unwrap_or_else(|| mem.eviction_policy.clone());
        let eviction_policy = EvictionPolicy::parse(&policy_text).ok_or_else(|| {
            format!(
                "memory.eviction_policy: '{policy_text}' is not one of allkeys-lru, allkeys-random, allkeys-s3fifo, noeviction"
            )
        })?;

        let p = &file.persistence;
        if p.snapshot_path.is_empty() {
            return Err("persistence.snapshot_path: must not be empty".into());
        }
        let snapshot_interval = range(
            "persistence.snapshot_interval",
            p.snapshot_interval,
            0,
            i64::MAX,
        )? as u64;

        let loglevel = flags.loglevel.clone().unwrap_or_else(|| "notice".into());
        if !["debug", "verbose", "notice", "warning"].contains(&loglevel.as_str()) {
            return Err(format!(
                "--loglevel: '{loglevel}' is not one of debug, verbose, notice, warning"
            ));
        }

        Ok(Config {
            config_file: flags.config.clone(),
            bind,
            port,
            num_shards: shards as usize,
            threads,
            max_connections,
            connection_timeout,
            connection_rate_limit,
            health_check_port,
            password,
            tls_enabled,
            tls_port,
            tls_cert_path,
            tls_key_path,
            tls_ca_cert_path,
            max_memory,
            eviction_policy,
            maxmemory_samples: 5,
            persistence_enabled: p.enabled,
            snapshot_path: p.snapshot_path.clone(),
            snapshot_interval,
            save_on_shutdown: p.save_on_shutdown,
            loglevel,
            request_timeout: range(
                "--request-timeout",
                flags.request_timeout.unwrap_or(30),
                1,
                86400,
            )? as u64,
            shutdown_timeout: range(
                "--shutdown-timeout",
                flags.shutdown_timeout.unwrap_or(10),
                0,
                3600,
            )? as u64,
            query_buffer_limit: match &flags.client_query_buffer_limit {
                None => 1 << 30,
                Some(t) => match parse_memory(t) {
                    Some(n) if n >= 1 << 20 => n,
                    _ => {
                        return Err(format!(
                        "--client-query-buffer-limit: '{t}' must be a memory size of at least 1mb"
                    ))
                    }
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &str) -> Result<Config, String> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let flags = Flags {
            config: Some(f.path().to_path_buf()),
            ..Flags::default()
        };
        Config::load(flags, None)
    }

    #[test]
    fn worker_threads_follow_the_setting_or_leave_a_core() {
        assert_eq!(worker_threads(3), 3);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(worker_threads(0), cores.saturating_sub(1).max(1));
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.num_shards, 2048);
        assert_eq!(c.max_connections, 10000);
        assert_eq!(c.eviction_policy, EvictionPolicy::AllkeysLru);
        assert_eq!(c.snapshot_path, "redistill.rdb");
        assert_eq!(c.tls_port, 6380);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("12xb"), None);
        assert_eq!(parse_memory("-1"), None);
        let c = load_text("[memory]\nmax_memory = \"64mb\"\n").unwrap();
        assert_eq!(c.max_memory, 64 << 20);
    }

    #[test]
    fn errors_name_the_key() {
        let e = load_text("[server]\nprot = 1\n").unwrap_err();
        assert!(e.contains("prot"), "{e}");
        let e = load_text("[server]\nport = \"x\"\n").unwrap_err();
        assert!(e.contains("port"), "{e}");
        let e = load_text("[server]\nnum_shards = 1000\n").unwrap_err();
        assert!(e.contains("num_shards"), "{e}");
        let e = load_text("[memory]\neviction_policy = \"lru\"\n").unwrap_err();
        assert!(e.contains("eviction_policy"), "{e}");
        let e = load_text("[nope]\n").unwrap_err();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn the_sample_config_is_valid_and_matches_the_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/redistill.toml");
        let flags = Flags {
            config: Some(path.into()),
            ..Flags::default()
        };
        let c = Config::load(flags, None).unwrap();
        let d = Config::default();
        assert_eq!(c.port, d.port);
        assert_eq!(c.bind, d.bind);
        assert_eq!(c.num_shards, d.num_shards);
        assert_eq!(c.max_connections, d.max_connections);
        assert_eq!(c.tls_port, d.tls_port);
        assert_eq!(c.max_memory, d.max_memory);
        assert_eq!(c.eviction_policy, d.eviction_policy);
        assert_eq!(c.snapshot_path, d.snapshot_path);
        assert_eq!(c.snapshot_interval, d.snapshot_interval);
        assert_eq!(c.save_on_shutdown, d.save_on_shutdown);
    }

    #[test]
    fn precedence() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"[security]\npassword = \"file\"\n[server]\nport = 7000\n")
            .unwrap();
        let flags = Flags {
            config: Some(f.path().to_path_buf()),
            ..Flags::default()
        };
        let c = Config::load(flags, Some("env".into())).unwrap();
        assert_eq!(c.password, "env");
        assert_eq!(c.port, 7000);
        let flags = Flags {
            config: Some(f.path().to_path_buf()),
            requirepass: Some("flag".into()),
            port: Some(7001),
            ..Flags::default()
        };
        let c = Config::load(flags, Some("env".into())).unwrap();
        assert_eq!(c.password, "flag");
        assert_eq!(c.port, 7001);
    }
}
