//! The HTTP health and metrics endpoint (`health_check_port`): a small
//! HTTP/1.1 responder, one request per connection, bound to the server's
//! `bind` addresses. Requests must arrive within a few seconds and fit in
//! 8 KiB; anything else is answered 400/408 and closed.
//!
//! Routes: `/health` (JSON summary), `/health/live` and `/livez`,
//! `/health/ready` and `/readyz` (503 while loading or shutting down), and
//! `/metrics` (Prometheus text with redis_exporter's metric names).

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Server;
use crate::command::info::{cpu_seconds, rss_bytes};
use crate::command::CommandTable;
use crate::config::P;
use crate::engine::store::now_ms;
use crate::engine::Snapshot;

const MAX_REQUEST: usize = 8 * 1024;
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

pub async fn serve(listener: TcpListener, shared: Arc<Server>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = shared.clone();
                tokio::spawn(async move { handle(stream, &shared).await });
            }
            Err(e) => {
                tracing::warn!("health endpoint accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Ok(buf);
        }
        if buf.len() > MAX_REQUEST {
            return Err(431);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(400),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn handle(mut stream: TcpStream, shared: &Server) {
    let head = match tokio::time::timeout(REQUEST_DEADLINE, read_head(&mut stream)).await {
        Ok(Ok(h)) => h,
        Ok(Err(code)) => return respond(&mut stream, code, "text/plain", "bad request\n").await,
        Err(_) => return respond(&mut stream, 408, "text/plain", "request timeout\n").await,
    };
    let line = head.split(|&c| c == b'\n').next().unwrap_or(b"");
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (method, path, version) = (parts.next(), parts.next(), parts.next());
    let (Some(method), Some(path), Some(version)) = (method, path, version) else {
        return respond(&mut stream, 400, "text/plain", "bad request\n").await;
    };
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return respond(&mut stream, 400, "text/plain", "bad request\n").await;
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", "method not allowed\n").await;
    }
    let path = path.split('?').next().unwrap_or("");
    let (code, kind, body) = match path {
        "/health" => {
            let (code, body) = health_json(shared);
            (code, "application/json", body)
        }
        "/health/live" | "/livez" => (200, "text/plain", "OK\n".to_string()),
        "/health/ready" | "/readyz" => {
            if shared.ready() {
                (200, "text/plain", "OK\n".to_string())
            } else {
                (503, "text/plain", "not ready\n".to_string())
            }
        }
        "/metrics" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics(shared),
        ),
        _ => (404, "text/plain", "not found\n".to_string()),
    };
    let body = if method == "HEAD" {
        String::new()
    } else {
        body
    };
    respond(&mut stream, code, kind, &body).await;
}

async fn respond(stream: &mut TcpStream, code: u16, kind: &str, body: &str) {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REQUEST_DEADLINE, write).await;
}

/// The state in one word, and the HTTP code `/health` answers with.
fn status(shared: &Server) -> (&'static str, u16) {
    let persist = &shared.engine().persist;
    if shared.shutting_down() {
        ("shutting_down", 503)
    } else if persist.is_loading() {
        ("loading", 503)
    } else if persist.enabled && !persist.last_ok() {
        ("degraded", 503)
    } else {
        ("ok", 200)
    }
}

/// The figures of one pass over the keyspace (empty while a busy script
/// holds it).
fn snapshot(shared: &Server) -> Snapshot {
    let eng = shared.engine();
    eng.with_unit(now_ms(), |u| eng.snapshot(u))
        .unwrap_or_else(|_| Snapshot {
            used_memory: eng.used_memory(),
            peak_memory: eng.used_memory(),
            dbs: Vec::new(),
            keyspace: Default::default(),
        })
}

fn health_json(shared: &Server) -> (u16, String) {
    let (word, code) = status(shared);
    let eng = shared.engine();
    let s = &eng.stats;
    let snap = snapshot(shared);
    let ks = &snap.keyspace;
    let body = format!(
        concat!(
            "{{\"status\":\"{}\",\"uptime_seconds\":{},\"connections\":{{\"active\":{},\"total\":{},\"rejected\":{}}},",
            "\"commands_processed\":{},\"memory\":{{\"used_bytes\":{},\"max_bytes\":{}}},\"keys\":{},",
            "\"evicted_keys\":{},\"expired_keys\":{},\"last_snapshot\":{{\"enabled\":{},\"status\":\"{}\",\"time\":{}}}}}\n"
        ),
        word,
        eng.started.elapsed().as_secs(),
        s.connected_clients.load(Relaxed),
        s.connections_received.load(Relaxed),
        s.rejected_connections.load(Relaxed),
        s.commands_processed.load(Relaxed),
        snap.used_memory,
        eng.settings.uint(P::Maxmemory),
        snap.keys(),
        ks.evicted,
        ks.expired,
        eng.persist.enabled,
        if eng.persist.last_ok() { "ok" } else { "err" },
        eng.persist.last_save_unix(),
    );
    (code, body)
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Escapes a Prometheus label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition, with redis_exporter's names.
pub fn metrics(shared: &Server) -> String {
    let mut out = String::with_capacity(8192);
    let eng = shared.engine();
    let s = &eng.stats;
    let snap = snapshot(shared);
    let ks = &snap.keyspace;
    let settings = &eng.settings;
    let used = snap.used_memory;
    let rss = rss_bytes();
    let (user, sys) = cpu_seconds();
    let _ = writeln!(
        out,
        "# HELP redis_instance_info Information about the instance\n# TYPE redis_instance_info gauge\nredis_instance_info{{redis_version=\"{}\",role=\"master\",redis_mode=\"standalone\",maxmemory_policy=\"{}\",tcp_port=\"{}\",run_id=\"{}\",process_id=\"{}\"}} 1",
        crate::REDIS_COMPAT_VERSION,
        settings.policy().name(),
        settings.int(P::Port),
        eng.run_id,
        std::process::id()
    );
    metric(&mut out, "redis_up", "gauge", "Whether the server is up", 1);
    metric(
        &mut out,
        "redis_uptime_in_seconds",
        "gauge",
        "Seconds since start",
        eng.started.elapsed().as_secs(),
    );
    metric(
        &mut out,
        "redis_start_time_seconds",
        "gauge",
        "Start time, unix seconds",
        eng.started_ms / 1000,
    );
    metric(
        &mut out,
        "redis_connected_clients",
        "gauge",
        "Connected clients",
        s.connected_clients.load(Relaxed),
    );
    metric(
        &mut out,
        "redis_blocked_clients",
        "gauge",
        "Blocked clients",
        0,
    );
    metric(
        &mut out,
        "redis_memory_used_bytes",
        "gauge",
        "Bytes the dataset accounts for",
        used,
    );
    metric(
        &mut out,
        "redis_memory_used_rss_bytes",
        "gauge",
        "Resident set size",
        rss,
    );
    metric(
        &mut out,
        "redis_memory_used_peak_bytes",
        "gauge",
        "Peak used memory",
        snap.peak_memory,
    );
    metric(
        &mut out,
        "redis_memory_max_bytes",
        "gauge",
        "maxmemory (0 = unlimited)",
        settings.uint(P::Maxmemory),
    );
    metric(
        &mut out,
        "redis_mem_fragmentation_ratio",
        "gauge",
        "RSS / used memory",
        if used > 0 {
            rss as f64 / used as f64
        } else {
            0.0
        },
    );
    metric(
        &mut out,
        "redis_commands_processed_total",
        "counter",
        "Commands processed",
        s.commands_processed.load(Relaxed),
    );
    metric(
        &mut out,
        "redis_connections_received_total",
        "counter",
        "Connections accepted",
        s.connections_received.load(Relaxed),
    );
    metric(
        &mut out,
        "redis_rejected_connections_total",
        "counter",
        "Connections refused",
        s.rejected_connections.load(Relaxed),
    );
    metric(
        &mut out,
        "redis_keyspace_hits_total",
        "counter",
        "Successful key lookups",
        ks.hits,
    );
    metric(
        &mut out,
        "redis_keyspace_misses_total",
        "counter",
        "Failed key lookups",
        ks.misses,
    );
    metric(
        &mut out,
        "redis_evicted_keys_total",
        "counter",
        "Keys evicted by the memory limit",
        ks.evicted,
    );
    metric(
        &mut out,
        "redis_expired_keys_total",
        "counter",
        "Keys removed by expiry",
        ks.expired,
    );
    metric(
        &mut out,
        "redis_net_input_bytes_total",
        "counter",
        "Bytes read from clients",
        s.net_input_bytes.load(Relaxed),
    );
    metric(
        &mut out,
        "redis_net_output_bytes_total",
        "counter",
        "Bytes written to clients",
        s.net_output_bytes.load(Relaxed),
    );
    metric(
        &mut out,
        "redis_cpu_sys_seconds_total",
        "counter",
        "System CPU seconds",
        sys,
    );
    metric(
        &mut out,
        "redis_cpu_user_seconds_total",
        "counter",
        "User CPU seconds",
        user,
    );
    let p = &eng.persist;
    metric(
        &mut out,
        "redis_rdb_last_save_timestamp_seconds",
        "gauge",
        "Last successful snapshot, unix seconds",
        p.last_save_unix(),
    );
    metric(
        &mut out,
        "redis_rdb_changes_since_last_save",
        "gauge",
        "Writes since the last snapshot",
        s.dirty.load(Relaxed).saturating_sub(p.dirty_at_save()),
    );
    metric(
        &mut out,
        "redis_rdb_bgsave_in_progress",
        "gauge",
        "Whether a snapshot is being written",
        p.in_progress.load(Relaxed) as u8,
    );
    metric(
        &mut out,
        "redis_rdb_last_bgsave_status",
        "gauge",
        "1 when the last snapshot succeeded",
        p.last_ok() as u8,
    );
    let _ = writeln!(
        out,
        "# HELP redis_db_keys Keys per database\n# TYPE redis_db_keys gauge"
    );
    for (db, t) in snap.dbs.iter().filter(|(_, t)| t.keys > 0) {
        let _ = writeln!(out, "redis_db_keys{{db=\"db{db}\"}} {}", t.keys);
    }
    let _ = writeln!(out, "# HELP redis_db_keys_expiring Keys with a TTL per database\n# TYPE redis_db_keys_expiring gauge");
    for (db, t) in snap.dbs.iter().filter(|(_, t)| t.keys > 0) {
        let _ = writeln!(
            out,
            "redis_db_keys_expiring{{db=\"db{db}\"}} {}",
            t.volatile
        );
    }
    let table = CommandTable::get();
    let mut calls = String::new();
    let mut durations = String::new();
    for (id, spec) in table.all().iter().enumerate() {
        let c = &s.commands[id];
        let n = c.calls.load(Relaxed);
        if n == 0 {
            continue;
        }
        let cmd = label(spec.name);
        let _ = writeln!(calls, "redis_commands_total{{cmd=\"{cmd}\"}} {n}");
        let _ = writeln!(
            durations,
            "redis_commands_duration_seconds_total{{cmd=\"{cmd}\"}} {}",
            c.usec.load(Relaxed) as f64 / 1e6
        );
    }
    let _ = write!(out, "# HELP redis_commands_total Calls per command\n# TYPE redis_commands_total counter\n{calls}");
    let _ = write!(out, "# HELP redis_commands_duration_seconds_total Time spent per command\n# TYPE redis_commands_duration_seconds_total counter\n{durations}");
    let _ = writeln!(
        out,
        "# HELP redistill_eviction_policy_info The active eviction policy\n# TYPE redistill_eviction_policy_info gauge\nredistill_eviction_policy_info{{policy=\"{}\"}} 1",
        settings.policy().name()
    );
    metric(
        &mut out,
        "redistill_shards",
        "gauge",
        "Keyspace shards",
        eng.dbs.num_shards(),
    );
    metric(
        &mut out,
        "redistill_ready",
        "gauge",
        "1 when ready to serve",
        shared.ready() as u8,
    );
    out
}
