//! Tests that need Debian's redis-server/redis-cli/redis-benchmark and
//! Python's redis package (installed by scripts/test). A missing tool fails.

mod common;
use std::process::Command;

#[test]
fn differential_against_redis_server() {
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
    common::run_python("differential.py", &args);
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
