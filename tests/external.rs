//! Tests that need Debian's redis-server/redis-cli/redis-benchmark and
//! Python's redis package (installed by scripts/test). A missing tool fails.

mod common;
use std::process::Command;

#[test]
fn differential_against_redis_server() {
    run_differential("differential.py");
}

/// Runs a differential script against a fresh Redistill and redis-server,
/// with `DIFF_COMMANDS` commands (50,000) and `DIFF_SEED` (random).
fn run_differential(script: &str) {
    let ours = common::redistill(&[]);
    let theirs = common::redis_server();
    let commands = std::env::var("DIFF_COMMANDS").unwrap_or_else(|_| "50000".into());
    let mut args = vec![
        ours.port.to_string(),
        theirs.port.to_string(),
        "--commands".into(),
        commands,
    ];
    if let Ok(seed) = std::env::var("DIFF_SEED") {
        args.extend(["--seed".into(), seed]);
    }
    common::run_python(script, &args);
    ours.assert_healthy();
}

/// Stream commands against redis-server: a seeded stream of 50,000
/// XADD/XRANGE/XTRIM/XDEL/XSETID/group/XCLAIM/XINFO commands (explicit
/// ids, times compared only as recent or old), with MULTI, Lua, RESP3 and
/// DUMP/RESTORE both ways (`DIFF_COMMANDS`, `DIFF_SEED` as above).
#[test]
fn stream_differential_against_redis_server() {
    run_differential("differential_streams.py");
}

/// DUMP/RESTORE of every type both ways with redis-server, and MIGRATE
/// both ways (KEYS, COPY, REPLACE, TTL, AUTH/AUTH2, the target's errors).
#[test]
fn dump_restore_and_migrate_with_redis_server() {
    let ours = common::redistill(&[]);
    let theirs = common::redis_server();
    common::run_python(
        "migrate.py",
        &[ours.port.to_string(), theirs.port.to_string()],
    );
    ours.assert_healthy();
}

#[test]
fn redis_py_client_works() {
    let ours = common::redistill(&[]);
    common::run_python("client_redis_py.py", &[ours.port.to_string()]);
}

/// Client-side caching as a caching client sees it (RESP3 pushes and a
/// RESP2 REDIRECT), checked against redis-server first so the script's
/// expectations are Redis's.
#[test]
fn client_side_caching_invalidations() {
    let theirs = common::redis_server();
    common::run_python("client_tracking.py", &[theirs.port.to_string()]);
    let ours = common::redistill(&[]);
    common::run_python("client_tracking.py", &[ours.port.to_string()]);
    ours.assert_healthy();
}

/// node-redis's client-side cache (RESP3 tracking) against redis-server
/// and Redistill: cached reads do not reach the server, another client's
/// SET and FLUSHALL invalidate them.
#[test]
fn node_redis_client_side_cache() {
    let theirs = common::redis_server();
    let ours = common::redistill(&[]);
    for port in [theirs.port, ours.port] {
        common::run_script("node", "node", "client_side_cache.mjs", &[port.to_string()]);
    }
    ours.assert_healthy();
}

/// Blocking stream reads against redis-server, scenario by scenario:
/// XREAD/XREADGROUP woken by XADD from clients, transactions and scripts,
/// arrival order, several keys, timeouts in RESP2 and RESP3, XREADGROUP
/// ended by DEL/SET/RENAME/MOVE/FLUSH/expiry and XGROUP DESTROY, CLIENT
/// UNBLOCK, BLOCK inside MULTI and scripts.
#[test]
fn stream_blocking_as_on_redis_server() {
    let ours = common::redistill(&[]);
    let theirs = common::redis_server();
    common::run_python(
        "streams_blocking.py",
        &[ours.port.to_string(), theirs.port.to_string()],
    );
    ours.assert_healthy();
}

/// Streams replicated to redis-server and Redistill replicas (partial and
/// full syncs: rewritten XADD ids and ~ trims, XCLAIM/XGROUP SETID for
/// group reads and claims) and snapshots loaded both ways hold exactly
/// what their source holds, pending entries and delivery counts included.
#[test]
fn streams_replicate_and_persist_as_redis_server() {
    common::python_with_binary("streams_replication.py");
}

/// rq (Python's job queue, results kept in streams): jobs enqueued and
/// run by `rq worker --burst` end with the statuses and results they get
/// on redis-server; the same script runs against both.
#[test]
fn rq_runs_jobs_as_on_redis_server() {
    let theirs = common::redis_server();
    let ours = common::redistill(&["--maxmemory-policy", "noeviction"]);
    for port in [theirs.port, ours.port] {
        common::run_python("rq_accept.py", &["--port".into(), port.to_string()]);
    }
    ours.assert_healthy();
}

/// BullMQ (Node's job queue: Lua scripts, XADD/XTRIM events, blocking
/// XREAD): 1,000 jobs with concurrency 8, delayed and retried jobs, every
/// `completed` event seen; the same script runs against redis-server.
#[test]
fn bullmq_runs_jobs_as_on_redis_server() {
    let theirs = common::redis_server();
    let ours = common::redistill(&["--maxmemory-policy", "noeviction"]);
    for port in [theirs.port, ours.port] {
        common::run_script("node", "node", "bullmq_accept.mjs", &[port.to_string()]);
    }
    ours.assert_healthy();
}

/// Three servers behind twemproxy (nutcracker, ketama): mixed commands
/// through the proxy give redis-server's replies; a killed server is
/// ejected and the other two serve every key.
#[test]
fn twemproxy_fronts_three_servers() {
    common::python_with_binary("twemproxy.py");
}

#[test]
fn django_caches_on_two_databases_stay_apart() {
    let ours = common::redistill(&[]);
    common::run_python("client_django.py", &[ours.port.to_string()]);
}

#[test]
fn redis_cli_works() {
    let srv = common::redistill(&[]);
    let cli = |args: &[&str]| {
        let out = Command::new("redis-cli")
            .args(["-p", &srv.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli is required (run scripts/test)");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "k", "v"]), "OK");
    assert_eq!(cli(&["GET", "k"]), "v");
    assert_eq!(cli(&["-3", "HSET", "h", "a", "1"]), "1");
    assert!(cli(&["-3", "HGETALL", "h"]).contains("a"));
    assert!(cli(&["INFO", "server"]).contains("redis_version:"));
    // Interactive mode asks for COMMAND DOCS to build its hints.
    let out = Command::new("redis-cli")
        .args(["-p", &srv.port.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"SET x 1\nGET x\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains('1'));
    srv.assert_healthy();
}

#[test]
fn redis_benchmark_default_tests_run() {
    let srv = common::redistill(&[]);
    let out = Command::new("redis-benchmark")
        .args(["-p", &srv.port.to_string(), "-n", "2000", "-c", "10", "-q"])
        .args(["-t", "ping_inline,ping_mbulk,set,get,incr,mset,hset"])
        .output()
        .expect("redis-benchmark is required (run scripts/test)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    println!("{text}");
    assert!(out.status.success());
    for t in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "MSET",
        "HSET",
    ] {
        assert!(
            text.contains(t),
            "redis-benchmark did not report {t}:\n{text}"
        );
    }
    srv.assert_healthy();
}

/// The golden command tables (replayed in process by `handlers.rs`) still
/// hold exactly what redis-server answers, and the binary answers the same
/// over a socket.
#[test]
fn golden_tables_match_redis_server_and_the_binary() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    let theirs = common::redis_server();
    let ours = common::redistill(&[]);
    for port in [theirs.port, ours.port] {
        let out = Command::new("python3")
            .arg(format!("{dir}/golden.py"))
            .arg("check")
            .arg(port.to_string())
            .args(&files)
            .output()
            .expect("python3 is required");
        assert!(
            out.status.success(),
            "golden tables differ on port {port}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// INFO stats has redis-server 7.0's fields in its order (Redistill's own
/// follow them), so agents that read it positionally or by name work;
/// CONFIG RESETSTAT zeroes the counters.
#[test]
fn info_stats_fields_match_redis_server() {
    let names = |port: u16| -> Vec<String> {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let text: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
        text.lines()
            .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
            .collect()
    };
    let theirs = common::redis_server();
    let ours = common::redistill(&[]);
    let (a, b) = (names(theirs.port), names(ours.port));
    assert_eq!(a, b[..a.len()].to_vec());
    let mut c = ours.client().get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let text: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    // (RESETSTAT's own reply is counted after the reset, as in Redis.)
    for (field, max) in [
        ("total_commands_processed", 1),
        ("total_net_output_bytes", 64),
        ("total_writes_processed", 1),
        ("keyspace_hits", 0),
    ] {
        let v: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(v <= max, "{field} = {v} after RESETSTAT");
    }
}
