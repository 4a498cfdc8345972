//! Replication with Redis's own protocol, against Debian's redis-server:
//! a redis-server replica of Redistill, Redistill replicas of redis-server
//! and of Redistill, each checked after a seeded stream of mixed writes
//! (tests/python/replication.py compares every key, value and expiry);
//! resuming from the backlog after a dropped link; promotion with
//! REPLICAOF NO ONE and the old master following the new one; READONLY,
//! ROLE and INFO replication; the replication parameters; and a failover
//! of a Redistill group by redis-sentinel (tests/python/sentinel_failover.py).

mod common;

use std::time::{Duration, Instant};

use common::{info_u64, python_with_binary, redis_server_with, redistill, run_python};

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn query<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

fn info(c: &mut redis::Connection, section: &str) -> String {
    query(c, &["INFO", section])
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in\n{info}"))
        .trim()
        .to_string()
}

/// Waits until the replica on `port` reports its link up.
fn wait_link_up(port: u16) {
    let mut c = conn(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let i = info(&mut c, "replication");
        if i.contains("master_link_status:up") {
            return;
        }
        assert!(Instant::now() < deadline, "link never came up:\n{i}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the seeded write stream against `master` and compares datasets.
fn check_stream(master: u16, replica: u16, writes: usize, seed: u64) {
    run_python(
        "replication.py",
        &[
            master.to_string(),
            replica.to_string(),
            "--writes".into(),
            writes.to_string(),
            "--seed".into(),
            seed.to_string(),
        ],
    );
}

/// Replicas and the master killed and restarted, links cut, under a
/// steady write load; the three datasets agree at the end.
#[test]
fn datasets_agree_after_kills_and_restarts_under_load() {
    python_with_binary("replication_chaos.py");
}

/// Three Redistill servers and three redis-sentinel processes; the master
/// is killed with SIGKILL under a redis-py Sentinel client's writes.
#[test]
fn sentinel_fails_over_a_redistill_group() {
    python_with_binary("sentinel_failover.py");
}

fn writes() -> usize {
    std::env::var("REPL_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[test]
fn redis_server_replica_gets_every_write() {
    let master = redistill(&[]);
    let mut m = conn(master.port);
    for i in 0..1000 {
        let _: () = query(&mut m, &["SET", &format!("pre{i}"), "x", "EX", "1000"]);
    }
    let port = master.port.to_string();
    let replica = redis_server_with(&["--replicaof", "127.0.0.1", &port]);
    wait_link_up(replica.port);
    let mut r = conn(replica.port);
    assert_eq!(query::<i64>(&mut r, &["DBSIZE"]), 1000);
    let i = info(&mut m, "replication");
    assert_eq!(field(&i, "connected_slaves"), "1");
    assert!(
        field(&i, "slave0")
            .starts_with(&format!("ip=127.0.0.1,port={},state=online,", replica.port)),
        "{i}"
    );
    assert_eq!(field(&i, "repl_backlog_active"), "1");
    check_stream(master.port, replica.port, writes(), 7);
    // WAIT: the replica acknowledges this client's last write; asking for
    // two waits out the timeout and answers one.
    let _: () = query(&mut m, &["SET", "waited", "1"]);
    assert_eq!(query::<i64>(&mut m, &["WAIT", "1", "5000"]), 1);
    let started = Instant::now();
    assert_eq!(query::<i64>(&mut m, &["WAIT", "2", "200"]), 1);
    assert!(started.elapsed() >= Duration::from_millis(200));
    // ROLE as Redis shapes it: offsets of online replicas as bulk strings.
    let role: redis::Value = query(&mut m, &["ROLE"]);
    let redis::Value::Array(parts) = role else {
        panic!("{role:?}")
    };
    assert_eq!(parts[0], redis::Value::BulkString(b"master".to_vec()));
    assert!(matches!(parts[1], redis::Value::Int(o) if o > 0));
    let redis::Value::Array(replicas) = &parts[2] else {
        panic!()
    };
    assert_eq!(replicas.len(), 1);
    master.assert_healthy();
}

#[test]
fn a_dropped_link_resumes_from_the_backlog() {
    let master = redistill(&[]);
    let port = master.port.to_string();
    let replica = redis_server_with(&["--replicaof", "127.0.0.1", &port]);
    wait_link_up(replica.port);
    let mut m = conn(master.port);
    let mut r = conn(replica.port);
    for i in 0..100 {
        let _: () = query(&mut m, &["INCR", &format!("c{}", i % 7)]);
    }
    // The replica drops its link to us; writes go on meanwhile.
    let _: i64 = query(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    for _ in 0..100 {
        let _: i64 = query(&mut m, &["INCR", "during"]);
    }
    wait_link_up(replica.port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while query::<Option<i64>>(&mut r, &["GET", "during"]) != Some(100) {
        assert!(Instant::now() < deadline, "the replica never caught up");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_u64(&mut m, "sync_full"), 1);
    assert_eq!(info_u64(&mut m, "sync_partial_ok"), 1);
    master.assert_healthy();
}

#[test]
fn redistill_follows_redis_server_and_redistill() {
    // Of redis-server (whose blocking pops time out on its 100 ms clock,
    // so this stream is shorter).
    let master = redis_server_with(&["--repl-diskless-sync-delay", "0"]);
    let mut m = conn(master.port);
    let _: () = query(&mut m, &["SET", "before", "sync"]);
    let replica = redistill(&[]);
    let mut r = conn(replica.port);
    let port = master.port.to_string();
    assert_eq!(
        query::<String>(&mut r, &["REPLICAOF", "127.0.0.1", &port]),
        "OK"
    );
    assert_eq!(
        query::<String>(&mut r, &["REPLICAOF", "127.0.0.1", &port]),
        "OK Already connected to specified master"
    );
    wait_link_up(replica.port);
    assert_eq!(query::<String>(&mut r, &["GET", "before"]), "sync");
    check_stream(master.port, replica.port, writes() / 10, 11);
    let err = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<()>(&mut r)
        .unwrap_err();
    assert_eq!(
        error_text(&err),
        "READONLY You can't write against a read only replica."
    );
    let err = redis::cmd("WAIT")
        .arg(1)
        .arg(1)
        .query::<i64>(&mut r)
        .unwrap_err();
    assert!(error_text(&err).starts_with("ERR WAIT cannot be used with replica instances."));
    let role: redis::Value = query(&mut r, &["ROLE"]);
    let redis::Value::Array(parts) = role else {
        panic!("{role:?}")
    };
    assert_eq!(parts[0], redis::Value::BulkString(b"slave".to_vec()));
    assert_eq!(parts[2], redis::Value::Int(master.port as i64));
    assert_eq!(parts[3], redis::Value::BulkString(b"connected".to_vec()));
    let i = info(&mut r, "replication");
    assert_eq!(field(&i, "role"), "slave");
    assert_eq!(field(&i, "master_port"), port);
    assert_eq!(field(&i, "slave_read_only"), "1");

    // Of another Redistill, from its config flag.
    let primary = redistill(&[]);
    let p = primary.port.to_string();
    let second = redistill(&["--replicaof", &format!("127.0.0.1 {p}")]);
    wait_link_up(second.port);
    check_stream(primary.port, second.port, writes() / 2, 13);
    replica.assert_healthy();
    second.assert_healthy();
}

#[test]
fn promotion_and_the_old_master_following_the_new_one() {
    let a = redistill(&[]);
    let b = redistill(&[]);
    let b_port = b.port;
    let mut ca = conn(a.port);
    let mut cb = conn(b_port);
    let ap = a.port.to_string();
    let _: () = query(&mut cb, &["REPLICAOF", "127.0.0.1", &ap]);
    // A redis-server replica of A as well.
    let c = redis_server_with(&["--replicaof", "127.0.0.1", &ap]);
    wait_link_up(b_port);
    wait_link_up(c.port);
    for i in 0..500 {
        let _: () = query(&mut ca, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    // B catches up first (as Sentinel picks the replica with the highest
    // offset): a promoted replica has only what it had received.
    let target = field(&info(&mut ca, "replication"), "master_repl_offset");
    let deadline = Instant::now() + Duration::from_secs(10);
    while field(&info(&mut cb, "replication"), "slave_repl_offset") != target {
        assert!(Instant::now() < deadline, "B never caught up");
        std::thread::sleep(Duration::from_millis(10));
    }
    let old_id = field(&info(&mut ca, "replication"), "master_replid");
    // Promote B; A and C follow B and resume without a full sync.
    assert_eq!(query::<String>(&mut cb, &["REPLICAOF", "NO", "ONE"]), "OK");
    let i = info(&mut cb, "replication");
    assert_eq!(field(&i, "role"), "master");
    assert_eq!(field(&i, "master_replid2"), old_id);
    let bp = b_port.to_string();
    let _: () = query(&mut ca, &["REPLICAOF", "127.0.0.1", &bp]);
    let mut cc = conn(c.port);
    let _: () = query(&mut cc, &["REPLICAOF", "127.0.0.1", &bp]);
    wait_link_up(a.port);
    wait_link_up(c.port);
    let _: () = query(&mut cb, &["SET", "after", "promotion"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    for c in [&mut ca, &mut cc] {
        while query::<Option<String>>(c, &["GET", "after"]).is_none() {
            assert!(Instant::now() < deadline, "a replica never saw the write");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(query::<i64>(c, &["DBSIZE"]), 501);
    }
    assert_eq!(info_u64(&mut cb, "sync_full"), 0);
    assert_eq!(info_u64(&mut cb, "sync_partial_ok"), 2);
    a.assert_healthy();
    b.assert_healthy();
}

/// CONFIG REWRITE writes a replica's master into the TOML file it started
/// with (keeping the operator's lines and comments), so after a restart it
/// keeps the role Sentinel or an operator gave it; promotion writes it back.
#[test]
fn config_rewrite_keeps_the_role_across_a_restart() {
    let master = redistill(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("replica.toml");
    let original = "# a replica\n[server]\nnum_shards = 256 # small\n";
    std::fs::write(&file, original).unwrap();
    let path = file.to_str().unwrap();
    let read_back = || -> toml::Table { std::fs::read_to_string(&file).unwrap().parse().unwrap() };
    let mp = master.port.to_string();
    {
        let replica = redistill(&[path]);
        let mut r = conn(replica.port);
        let _: () = query(&mut r, &["REPLICAOF", "127.0.0.1", &mp]);
        let got: Vec<String> = query(&mut r, &["CONFIG", "GET", "replicaof"]);
        assert_eq!(got, ["replicaof".to_string(), format!("127.0.0.1 {mp}")]);
        let _: () = query(&mut r, &["CONFIG", "SET", "maxmemory", "10mb"]);
        assert_eq!(query::<String>(&mut r, &["CONFIG", "REWRITE"]), "OK");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with(original), "{text}");
        let table = read_back();
        assert_eq!(
            table["replication"]["replicaof"].as_str(),
            Some(format!("127.0.0.1 {mp}").as_str())
        );
        assert_eq!(table["memory"]["max_memory"].as_integer(), Some(10 << 20));
    }
    let mut m = conn(master.port);
    let _: () = query(&mut m, &["SET", "written", "while the replica was down"]);
    let replica = redistill(&[path]);
    wait_link_up(replica.port);
    let mut r = conn(replica.port);
    assert_eq!(
        query::<String>(&mut r, &["GET", "written"]),
        "while the replica was down"
    );
    assert_eq!(query::<String>(&mut r, &["REPLICAOF", "NO", "ONE"]), "OK");
    assert_eq!(query::<String>(&mut r, &["CONFIG", "REWRITE"]), "OK");
    assert_eq!(read_back()["replication"]["replicaof"].as_str(), Some(""));
    // An unwritable file: Redis's error, the server goes on.
    std::fs::remove_dir_all(dir.path()).unwrap();
    let e = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query::<String>(&mut r)
        .unwrap_err();
    assert!(
        error_text(&e).starts_with("ERR Rewriting config file: "),
        "{e}"
    );
    assert_eq!(query::<String>(&mut r, &["PING"]), "PONG");
}

#[test]
fn replication_parameters_take_effect() {
    let master = redistill(&["--requirepass", "sesame"]);
    let mut m = redis::Client::open(format!("redis://:sesame@127.0.0.1:{}/", master.port))
        .unwrap()
        .get_connection()
        .unwrap();
    // min-replicas-to-write: no replica, no writes.
    let _: () = query(&mut m, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let err = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query::<()>(&mut m)
        .unwrap_err();
    assert_eq!(
        error_text(&err),
        "NOREPLICAS Not enough good replicas to write."
    );
    let _: () = query(&mut m, &["CONFIG", "SET", "min-replicas-max-lag", "0"]);
    let _: () = query(&mut m, &["SET", "k", "v"]);
    let _: () = query(&mut m, &["CONFIG", "SET", "min-replicas-max-lag", "10"]);
    // repl-backlog-size shows at once.
    let _: () = query(&mut m, &["CONFIG", "SET", "repl-backlog-size", "2mb"]);
    assert_eq!(
        field(&info(&mut m, "replication"), "repl_backlog_size"),
        "2097152"
    );
    // masterauth: a replica authenticates with what CONFIG SET gave it.
    let replica = redistill(&[]);
    let mut r = conn(replica.port);
    let _: () = query(&mut r, &["CONFIG", "SET", "masterauth", "sesame"]);
    let _: () = query(&mut r, &["CONFIG", "SET", "replica-priority", "7"]);
    let port = master.port.to_string();
    let _: () = query(&mut r, &["REPLICAOF", "127.0.0.1", &port]);
    wait_link_up(replica.port);
    assert_eq!(query::<String>(&mut r, &["GET", "k"]), "v");
    assert_eq!(field(&info(&mut r, "replication"), "slave_priority"), "7");
    // With a replica acknowledging, writes pass min-replicas-to-write.
    let deadline = Instant::now() + Duration::from_secs(10);
    while redis::cmd("SET")
        .arg("k2")
        .arg("v")
        .query::<()>(&mut m)
        .is_err()
    {
        assert!(Instant::now() < deadline, "writes stayed refused");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        field(&info(&mut m, "replication"), "min_slaves_good_slaves"),
        "1"
    );
    // replica-read-only no: the replica takes local writes.
    let _: () = query(&mut r, &["CONFIG", "SET", "replica-read-only", "no"]);
    let _: () = query(&mut r, &["SET", "local", "1"]);
    assert_eq!(field(&info(&mut r, "replication"), "slave_read_only"), "0");
    assert_eq!(query::<String>(&mut m, &["PING"]), "PONG");
    assert!(!master.log_text().contains("panicked"));
    replica.assert_healthy();
}

/// An error reply as the server wrote it: code and message.
fn error_text(e: &redis::RedisError) -> String {
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}
