//! INFO: renders the server's state in Redis's sections and field names,
//! from one pass over the keyspace ([`Engine::snapshot`]).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use super::script::ScriptMemory;
use super::CommandTable;
use crate::config::{human_bytes, P};
use crate::engine::pubsub::Space;
use crate::engine::store::now_ms;
use crate::engine::unit::Unit;
use crate::engine::{Engine, Snapshot};

/// Sections INFO prints without arguments (and for `default`).
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

const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Process resident set size in bytes, from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// (user, system) CPU seconds of this process, from /proc.
pub fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (ticks(11), ticks(12))
}

fn os_line() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("Linux {} {}", release.trim(), std::env::consts::ARCH)
}

/// The INFO text for the sections named in `args` (none: the default set).
pub fn render(
    eng: &Engine,
    unit: &mut Unit,
    scripts: &ScriptMemory,
    args: &[&[u8]],
    port: u16,
) -> String {
    let mut wanted: Vec<String> = Vec::new();
    let mut everything = false;
    if args.is_empty() {
        wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
    }
    for a in args {
        let s = String::from_utf8_lossy(a).to_ascii_lowercase();
        match s.as_str() {
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            "all" | "everything" => everything = true,
            _ => wanted.push(s),
        }
    }
    let sections: Vec<&str> = ALL_SECTIONS
        .iter()
        .copied()
        .filter(|s| everything || wanted.iter().any(|w| w == s))
        .collect();
    let needs_snapshot = sections
        .iter()
        .any(|s| matches!(*s, "memory" | "stats" | "keyspace"));
    let snap = if needs_snapshot {
        Some(eng.snapshot(unit))
    } else {
        None
    };
    let mut out = String::new();
    for section in sections {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match (section, &snap) {
            ("server", _) => server(eng, &mut out, port),
            ("clients", _) => clients(eng, &mut out),
            ("memory", Some(snap)) => memory(eng, snap, scripts, &mut out),
            ("persistence", _) => persistence(eng, &mut out),
            ("stats", Some(snap)) => stats(eng, snap, &mut out),
            ("replication", _) => replication(eng, &mut out),
            ("cpu", _) => cpu(&mut out),
            ("modules", _) => out.push_str("# Modules\r\n"),
            ("commandstats", _) => commandstats(eng, &mut out),
            ("errorstats", _) => errorstats(eng, &mut out),
            ("cluster", _) => out.push_str(if eng.cluster.is_some() {
                "# Cluster\r\ncluster_enabled:1\r\n"
            } else {
                "# Cluster\r\ncluster_enabled:0\r\n"
            }),
            ("keyspace", Some(snap)) => keyspace(snap, &mut out),
            _ => {}
        }
    }
    out
}

macro_rules! line {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn server(eng: &Engine, out: &mut String, port: u16) {
    let settings = &eng.settings;
    let uptime = eng.started.elapsed().as_secs();
    out.push_str("# Server\r\n");
    line!(out, "redis_version:{}", crate::REDIS_COMPAT_VERSION);
    line!(out, "redistill_version:{}", env!("CARGO_PKG_VERSION"));
    line!(out, "redis_git_sha1:00000000");
    line!(out, "redis_git_dirty:0");
    line!(out, "redis_mode:standalone");
    line!(out, "os:{}", os_line());
    line!(out, "arch_bits:{}", usize::BITS);
    line!(out, "multiplexing_api:epoll");
    line!(out, "process_id:{}", std::process::id());
    line!(out, "process_supervised:no");
    line!(out, "run_id:{}", eng.run_id);
    line!(
        out,
        "tcp_port:{}",
        match settings.int(P::Port) {
            0 => port as i64,
            p => p,
        }
    );
    line!(out, "server_time_usec:{}", now_ms() * 1000);
    line!(out, "uptime_in_seconds:{uptime}");
    line!(out, "uptime_in_days:{}", uptime / 86400);
    line!(out, "hz:10");
    line!(out, "configured_hz:10");
    line!(out, "lru_clock:{}", (now_ms() / 1000) & 0xFF_FFFF);
    line!(
        out,
        "executable:{}",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    line!(
        out,
        "config_file:{}",
        settings
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    line!(out, "io_threads_active:0");
}

fn clients(eng: &Engine, out: &mut String) {
    out.push_str("# Clients\r\n");
    line!(
        out,
        "connected_clients:{}",
        eng.stats.connected_clients.load(Relaxed)
    );
    line!(out, "cluster_connections:0");
    line!(out, "maxclients:{}", eng.settings.int(P::Maxclients));
    line!(out, "blocked_clients:{}", eng.blocking.count());
    line!(out, "tracking_clients:0");
    line!(out, "clients_in_timeout_table:0");
}

fn memory(eng: &Engine, snap: &Snapshot, scripts: &ScriptMemory, out: &mut String) {
    let used = snap.used_memory;
    let peak = snap.peak_memory;
    let rss = rss_bytes();
    let maxmemory = eng.settings.uint(P::Maxmemory);
    out.push_str("# Memory\r\n");
    line!(out, "used_memory:{used}");
    line!(out, "used_memory_human:{}", human_bytes(used));
    line!(out, "used_memory_rss:{rss}");
    line!(out, "used_memory_rss_human:{}", human_bytes(rss));
    line!(out, "used_memory_peak:{peak}");
    line!(out, "used_memory_peak_human:{}", human_bytes(peak));
    line!(out, "used_memory_lua:{}", scripts.vm_bytes);
    line!(out, "used_memory_vm_eval:{}", scripts.vm_bytes);
    line!(
        out,
        "used_memory_lua_human:{}",
        human_bytes(scripts.vm_bytes as u64)
    );
    line!(out, "used_memory_scripts_eval:{}", scripts.script_bytes);
    line!(out, "number_of_cached_scripts:{}", scripts.cached_scripts);
    line!(out, "used_memory_scripts:{}", scripts.script_bytes);
    line!(
        out,
        "used_memory_scripts_human:{}",
        human_bytes(scripts.script_bytes as u64)
    );
    line!(
        out,
        "lazyfree_pending_objects:{}",
        eng.dbs.reclaimer_counts().pending.load(Relaxed)
    );
    line!(out, "maxmemory:{maxmemory}");
    line!(out, "maxmemory_human:{}", human_bytes(maxmemory));
    line!(out, "maxmemory_policy:{}", eng.settings.policy().name());
    line!(
        out,
        "mem_fragmentation_ratio:{:.2}",
        if used > 0 {
            rss as f64 / used as f64
        } else {
            0.0
        }
    );
    line!(
        out,
        "mem_allocator:{}",
        if cfg!(feature = "jemalloc") {
            "jemalloc"
        } else {
            "libc"
        }
    );
}

fn persistence(eng: &Engine, out: &mut String) {
    let p = &eng.persist;
    out.push_str("# Persistence\r\n");
    line!(out, "loading:{}", p.loading.load(Relaxed) as u8);
    line!(out, "async_loading:0");
    line!(
        out,
        "rdb_changes_since_last_save:{}",
        eng.stats
            .dirty
            .load(Relaxed)
            .saturating_sub(p.dirty_at_save())
    );
    line!(
        out,
        "rdb_bgsave_in_progress:{}",
        p.in_progress.load(Relaxed) as u8
    );
    line!(out, "rdb_last_save_time:{}", p.last_save_unix());
    line!(
        out,
        "rdb_last_bgsave_status:{}",
        if p.last_ok() { "ok" } else { "err" }
    );
    line!(out, "rdb_last_bgsave_time_sec:{}", p.last_duration_sec());
    line!(out, "rdb_saves:{}", p.saves());
    line!(out, "aof_enabled:0");
    line!(out, "aof_rewrite_in_progress:0");
}

fn stats(eng: &Engine, snap: &Snapshot, out: &mut String) {
    let ks = &snap.keyspace;
    let s = &eng.stats;
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed);
    let kbps = s.kbps();
    let (tracked_keys, tracked_items, prefixes) = eng.dbs.shared().tracking.totals();
    out.push_str("# Stats\r\n");
    // Redis 7.0's fields in its order. Those for machinery Redistill does
    // not have (fork, defragmentation, I/O threads, MIGRATE, RESTORE, client
    // eviction) are 0, as they are in a redis-server that never used it;
    // docs/operations.md lists which figures are not measured.
    line!(
        out,
        "total_connections_received:{}",
        n(&s.connections_received)
    );
    line!(out, "total_commands_processed:{}", n(&s.commands_processed));
    line!(out, "instantaneous_ops_per_sec:{}", s.ops_per_sec());
    line!(out, "total_net_input_bytes:{}", n(&s.net_input_bytes));
    line!(out, "total_net_output_bytes:{}", n(&s.net_output_bytes));
    line!(
        out,
        "total_net_repl_input_bytes:{}",
        n(&s.net_repl_input_bytes)
    );
    line!(
        out,
        "total_net_repl_output_bytes:{}",
        n(&s.net_repl_output_bytes)
    );
    line!(out, "instantaneous_input_kbps:{:.2}", kbps[0]);
    line!(out, "instantaneous_output_kbps:{:.2}", kbps[1]);
    line!(out, "instantaneous_input_repl_kbps:{:.2}", kbps[2]);
    line!(out, "instantaneous_output_repl_kbps:{:.2}", kbps[3]);
    line!(out, "rejected_connections:{}", n(&s.rejected_connections));
    line!(out, "sync_full:{}", n(&s.sync_full));
    line!(out, "sync_partial_ok:{}", n(&s.sync_partial_ok));
    line!(out, "sync_partial_err:{}", n(&s.sync_partial_err));
    line!(out, "expired_keys:{}", ks.expired);
    line!(out, "expired_stale_perc:0.00");
    line!(out, "expired_time_cap_reached_count:0");
    line!(out, "expire_cycle_cpu_milliseconds:0");
    line!(out, "evicted_keys:{}", ks.evicted);
    line!(
        out,
        "evicted_clients:{}",
        eng.stats.evicted_clients.load(Relaxed)
    );
    line!(out, "total_eviction_exceeded_time:0");
    line!(out, "current_eviction_exceeded_time:0");
    line!(out, "keyspace_hits:{}", ks.hits);
    line!(out, "keyspace_misses:{}", ks.misses);
    line!(out, "pubsub_channels:{}", eng.pubsub.len(Space::Channel));
    line!(out, "pubsub_patterns:{}", eng.pubsub.len(Space::Pattern));
    line!(out, "pubsubshard_channels:{}", eng.pubsub.len(Space::Shard));
    line!(out, "latest_fork_usec:0");
    line!(out, "total_forks:0");
    line!(out, "migrate_cached_sockets:0");
    line!(out, "slave_expires_tracked_keys:0");
    for f in [
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        line!(out, "{f}:0");
    }
    line!(out, "tracking_total_keys:{tracked_keys}");
    line!(out, "tracking_total_items:{tracked_items}");
    line!(out, "tracking_total_prefixes:{prefixes}");
    line!(out, "unexpected_error_replies:0");
    line!(out, "total_error_replies:{}", s.total_errors());
    line!(out, "dump_payload_sanitizations:0");
    line!(out, "total_reads_processed:{}", n(&s.reads_processed));
    line!(out, "total_writes_processed:{}", n(&s.writes_processed));
    line!(out, "io_threaded_reads_processed:0");
    line!(out, "io_threaded_writes_processed:0");
    line!(out, "reply_buffer_shrinks:0");
    line!(out, "reply_buffer_expands:0");
    // Redistill's own.
    line!(
        out,
        "lazyfreed_objects:{}",
        eng.dbs.reclaimer_counts().freed.load(Relaxed)
    );
    line!(
        out,
        "client_query_buffer_limit_disconnections:{}",
        n(&s.query_limit_disconnections)
    );
    line!(
        out,
        "client_output_buffer_limit_disconnections:{}",
        n(&s.output_limit_disconnections)
    );
    line!(
        out,
        "rate_limited_connections:{}",
        n(&s.rate_limited_connections)
    );
    line!(
        out,
        "timeout_disconnections:{}",
        n(&s.timeout_disconnections)
    );
}

fn replication(eng: &Engine, out: &mut String) {
    use crate::engine::repl::{Link, ReplicaState};
    let role = eng.role.lock().clone();
    let feed = &eng.dbs.shared().feed;
    let info = feed.info();
    let now = crate::engine::store::now_ms();
    out.push_str("# Replication\r\n");
    match &role.master {
        None => line!(out, "role:master"),
        Some((host, port)) => {
            let up = role.link == Link::Connected;
            line!(out, "role:slave");
            line!(out, "master_host:{host}");
            line!(out, "master_port:{port}");
            line!(out, "master_link_status:{}", if up { "up" } else { "down" });
            let io = if role.last_io_ms == 0 {
                -1
            } else {
                (now.saturating_sub(role.last_io_ms) / 1000) as i64
            };
            line!(out, "master_last_io_seconds_ago:{io}");
            let syncing = role.link == Link::Sync;
            line!(out, "master_sync_in_progress:{}", syncing as u8);
            line!(out, "slave_read_repl_offset:{}", info.offset);
            line!(out, "slave_repl_offset:{}", info.offset);
            if syncing {
                let left = role.sync_total.saturating_sub(role.sync_read);
                let perc = if role.sync_total == 0 {
                    0.0
                } else {
                    role.sync_read as f64 * 100.0 / role.sync_total as f64
                };
                line!(out, "master_sync_total_bytes:{}", role.sync_total);
                line!(out, "master_sync_read_bytes:{}", role.sync_read);
                line!(out, "master_sync_left_bytes:{left}");
                line!(out, "master_sync_perc:{perc:.2}");
                line!(out, "master_sync_last_io_seconds_ago:{}", io.max(0));
            }
            if !up {
                let since = if role.link_down_since_ms == 0 {
                    -1
                } else {
                    (now.saturating_sub(role.link_down_since_ms) / 1000) as i64
                };
                line!(out, "master_link_down_since_seconds:{since}");
            }
            line!(
                out,
                "slave_priority:{}",
                eng.settings.uint(P::ReplicaPriority)
            );
            line!(
                out,
                "slave_read_only:{}",
                eng.settings.flag(P::ReplicaReadOnly) as u8
            );
            line!(out, "replica_announced:1");
        }
    }
    let replicas = feed.replicas();
    line!(out, "connected_slaves:{}", replicas.len());
    if eng.settings.uint(P::MinReplicasToWrite) > 0 && eng.settings.uint(P::MinReplicasMaxLag) > 0 {
        line!(
            out,
            "min_slaves_good_slaves:{}",
            super::replication::good_replicas(eng, now)
        );
    }
    for (i, r) in replicas.iter().enumerate() {
        let state = r.state();
        let lag = if state == ReplicaState::Online {
            now.saturating_sub(r.ack_ms.load(Relaxed)) / 1000
        } else {
            0
        };
        line!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}",
            r.ip,
            r.port,
            state.name(),
            r.ack_offset.load(Relaxed)
        );
    }
    line!(out, "master_failover_state:no-failover");
    line!(out, "master_replid:{}", info.replid);
    line!(out, "master_replid2:{}", info.replid2);
    line!(out, "master_repl_offset:{}", info.offset);
    line!(out, "second_repl_offset:{}", info.second_offset);
    line!(out, "repl_backlog_active:{}", info.backlog_active as u8);
    line!(out, "repl_backlog_size:{}", info.backlog_size);
    line!(
        out,
        "repl_backlog_first_byte_offset:{}",
        info.backlog_first_byte
    );
    line!(out, "repl_backlog_histlen:{}", info.backlog_histlen);
}

fn cpu(out: &mut String) {
    let (user, sys) = cpu_seconds();
    out.push_str("# CPU\r\n");
    line!(out, "used_cpu_sys:{sys:.6}");
    line!(out, "used_cpu_user:{user:.6}");
    line!(out, "used_cpu_sys_children:0.000000");
    line!(out, "used_cpu_user_children:0.000000");
}

fn commandstats(eng: &Engine, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let table = CommandTable::get();
    for (id, spec) in table.all().iter().enumerate() {
        let c = &eng.stats.commands[id];
        let calls = c.calls.load(Relaxed);
        let (failed, rejected) = (c.failed.load(Relaxed), c.rejected.load(Relaxed));
        if calls == 0 && failed == 0 && rejected == 0 {
            continue;
        }
        let usec = c.usec.load(Relaxed);
        line!(
            out,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls={rejected},failed_calls={failed}",
            spec.name,
            if calls > 0 { usec as f64 / calls as f64 } else { 0.0 }
        );
    }
}

fn errorstats(eng: &Engine, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    let mut errors = eng.stats.errors.lock().clone();
    errors.sort();
    for (code, n) in errors {
        line!(out, "errorstat_{code}:count={n}");
    }
}

fn keyspace(snap: &Snapshot, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for (db, t) in &snap.dbs {
        if t.keys > 0 {
            line!(
                out,
                "db{db}:keys={},expires={},avg_ttl={}",
                t.keys,
                t.volatile,
                t.avg_ttl()
            );
        }
    }
}
