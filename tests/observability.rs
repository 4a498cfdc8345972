//! Health and metrics endpoint, readiness while loading and shutting down,
//! and a graceful SIGTERM under load: every reply a client received is
//! complete, the process exits 0, and every acknowledged write is in the
//! final snapshot.

mod common;
use common::free_port;
use redistill::engine::persist::rdb::{read, ReadOptions};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

struct Node {
    child: Child,
    port: u16,
    http: u16,
    _owned: common::OwnedPort,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, persistence: bool) -> Node {
    // The RESP port is a listener this test owns; the health port is picked
    // free, and another try follows if a parallel test took it first.
    for _ in 0..5 {
        if let Some(node) = try_start(dir, persistence) {
            return node;
        }
    }
    panic!("server did not start");
}

fn try_start(dir: &Path, persistence: bool) -> Option<Node> {
    let owned = common::OwnedPort::new();
    let (port, http) = (owned.port, free_port());
    let cfg = dir.join("redistill.toml");
    let mut text = format!("[server]\nhealth_check_port = {http}\nnum_shards = 256\n");
    if persistence {
        text += &format!(
            "[persistence]\nenabled = true\nsnapshot_interval = 0\nsnapshot_path = \"{}\"\n",
            dir.join("dump.rdb").display()
        );
    }
    std::fs::write(&cfg, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redistill"));
    cmd.arg(&cfg).stdout(Stdio::null()).stderr(Stdio::null());
    let child = owned.attach(&mut cmd).spawn().unwrap();
    let mut node = Node {
        child,
        port,
        http,
        _owned: owned,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(http, "/health/live").is_none() {
        if let Ok(Some(_)) = node.child.try_wait() {
            return None;
        }
        assert!(Instant::now() < deadline, "health endpoint did not come up");
        std::thread::sleep(Duration::from_millis(10));
    }
    Some(node)
}

#[test]
fn health_and_metrics_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), false);
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", node.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("GET").arg("missing").query(&mut c).unwrap();
    let (code, body) = http_get(node.http, "/health").unwrap();
    assert_eq!(code, 200);
    assert!(
        body.contains("\"status\":\"ok\"") && body.contains("\"keys\":1"),
        "{body}"
    );
    assert_eq!(http_get(node.http, "/health/live").unwrap().0, 200);
    assert_eq!(http_get(node.http, "/health/ready").unwrap().0, 200);
    assert_eq!(http_get(node.http, "/readyz").unwrap().0, 200);
    assert_eq!(http_get(node.http, "/nope").unwrap().0, 404);
    let (code, metrics) = http_get(node.http, "/metrics").unwrap();
    assert_eq!(code, 200);
    for name in [
        "redis_up 1",
        "redis_uptime_in_seconds",
        "redis_connected_clients",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_commands_processed_total",
        "redis_connections_received_total",
        "redis_rejected_connections_total",
        "redis_keyspace_hits_total",
        "redis_keyspace_misses_total 1",
        "redis_evicted_keys_total",
        "redis_expired_keys_total",
        "redis_db_keys{db=\"db0\"} 1",
        "redis_db_keys_expiring{db=\"db0\"} 0",
        "redis_commands_total{cmd=\"set\"} 1",
        "redis_commands_duration_seconds_total{cmd=\"set\"}",
        "redistill_eviction_policy_info",
        "redistill_shards 256",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    // The text parses as Prometheus exposition format.
    let script = dir.path().join("parse.py");
    std::fs::write(&script, "import sys\nfrom prometheus_client.parser import text_string_to_metric_families\nfams = list(text_string_to_metric_families(sys.stdin.read()))\nassert len(fams) > 20, len(fams)\nprint(len(fams))\n").unwrap();
    let mut py = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is required (run scripts/test)");
    py.stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus parser: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Garbage, RESP and slow requests are refused and closed.
    let mut s = TcpStream::connect(("127.0.0.1", node.http)).unwrap();
    s.write_all(b"*1\r\n$4\r\nPING\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    let mut slow = TcpStream::connect(("127.0.0.1", node.http)).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    let start = Instant::now();
    let mut text = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    slow.read_to_string(&mut text).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 408") && start.elapsed() < Duration::from_secs(10),
        "{text}"
    );
}

#[test]
fn readiness_follows_loading_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    common::write_snapshot_of(&dir.path().join("dump.rdb"), 600_000);
    let node = start(dir.path(), true);
    let mut saw_loading = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, _) = http_get(node.http, "/health/ready").unwrap();
        if code == 503 {
            saw_loading = true;
            let (_, body) = http_get(node.http, "/health").unwrap();
            assert!(body.contains("loading") || body.contains("ok"), "{body}");
        } else {
            assert_eq!(code, 200);
            break;
        }
        assert!(Instant::now() < deadline);
    }
    assert!(saw_loading, "readiness was never false while loading");
    // During shutdown (the final snapshot of 600k keys) readiness is false.
    unsafe { kill(node.child.id() as i32, 15) };
    let mut saw_draining = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match http_get(node.http, "/health/ready") {
            Some((503, _)) => {
                saw_draining = true;
                break;
            }
            Some(_) => {}
            None => break,
        }
    }
    assert!(saw_draining, "readiness stayed true during shutdown");
    let mut node = node;
    assert!(node.child.wait().unwrap().success());
}

#[test]
fn sigterm_under_load_keeps_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), true);
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut workers = Vec::new();
    for t in 0..20 {
        let acked = acked.clone();
        let port = node.port;
        workers.push(std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut n = 0u64;
            loop {
                let keys: Vec<String> = (0..50).map(|i| format!("c{t}:{}", n + i)).collect();
                n += 50;
                let mut req = Vec::new();
                for k in &keys {
                    req.extend_from_slice(
                        format!("*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$1\r\nv\r\n", k.len()).as_bytes(),
                    );
                }
                if s.write_all(&req).is_err() {
                    return;
                }
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while got.len() < 5 * keys.len() {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                // Every reply received is complete: whole "+OK\r\n" lines only.
                assert_eq!(got.len() % 5, 0, "a partial reply was received");
                assert!(got.chunks(5).all(|c| c == b"+OK\r\n"));
                let mut a = acked.lock().unwrap();
                for k in keys.iter().take(got.len() / 5) {
                    a.insert(k.clone());
                }
                if got.len() < 5 * keys.len() {
                    return; // closed at a request boundary
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    unsafe { kill(node.child.id() as i32, 15) };
    for w in workers {
        w.join().unwrap();
    }
    let mut node = node;
    let status = node.child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    let data = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    let mut saved = HashSet::new();
    read(
        &data,
        &ReadOptions {
            now_ms: 0,
            databases: 16,
        },
        |e| {
            saved.insert(String::from_utf8(e.key).unwrap());
            Ok(())
        },
    )
    .unwrap();
    let acked = acked.lock().unwrap();
    assert!(
        acked.len() > 1000,
        "only {} writes were acknowledged",
        acked.len()
    );
    let missing: Vec<_> = acked
        .iter()
        .filter(|k| !saved.contains(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not saved: {missing:?}"
    );
}

#[test]
fn systemd_is_told_ready_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let owned = common::OwnedPort::new();
    let port = owned.port;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redistill"));
    cmd.env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap());
    let mut child = owned.attach(&mut cmd).spawn().unwrap();
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).unwrap_or_else(|e| {
        panic!(
            "{e}: {}",
            std::fs::read_to_string(dir.path().join("err.log")).unwrap_or_default()
        )
    });
    assert_eq!(&buf[..n], b"READY=1");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "READY before listening"
    );
    unsafe { kill(child.id() as i32, 15) };
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    common::write_snapshot_of(&dir.path().join("dump.rdb"), 600_000);
    let before = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    let node = start(dir.path(), true);
    while http_get(node.http, "/health/ready").map(|r| r.0) != Some(200) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut node = node;
    let pid = node.child.id() as i32;
    unsafe { kill(pid, 15) };
    std::thread::sleep(Duration::from_millis(20));
    unsafe { kill(pid, 15) };
    let status = node.child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{status:?}");
    // The snapshot on disk is either the old one or a complete new one, and
    // no temp file is left.
    let after = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    if after != before {
        let mut n = 0;
        read(
            &after,
            &ReadOptions {
                now_ms: 0,
                databases: 16,
            },
            |_| {
                n += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 600_000);
    }
    let temps = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("temp-")
        })
        .count();
    assert_eq!(temps, 0);
}
