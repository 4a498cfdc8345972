//! Every parameter CONFIG SET may change takes effect at once, each shown
//! by its own check; a mutable parameter added to the table without a
//! check here fails `every_mutable_parameter_has_a_check`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{info_u64, redistill, Raw};
use redistill::command::testing::Harness;
use redistill::config::PARAMS;

/// The mutable parameters and the test that shows each one working.
const CHECKED: &[(&str, &str)] = &[
    ("maxclients", "server_level_parameters_take_effect"),
    ("port", "listeners_move_with_port_and_bind"),
    (
        "client-output-buffer-limit",
        "output_buffer_limits_take_effect",
    ),
    ("bind", "listeners_move_with_port_and_bind"),
    (
        "maxmemory-clients",
        "client_memory_limit_evicts_the_biggest_client",
    ),
    (
        "stop-writes-on-bgsave-error",
        "failed_snapshots_stop_writes",
    ),
    ("timeout", "server_level_parameters_take_effect"),
    (
        "connection-rate-limit",
        "server_level_parameters_take_effect",
    ),
    (
        "client-query-buffer-limit",
        "server_level_parameters_take_effect",
    ),
    ("shutdown-timeout", "shutdown_parameters_take_effect"),
    ("requirepass", "engine_parameters_take_effect"),
    ("maxmemory", "engine_parameters_take_effect"),
    ("maxmemory-policy", "engine_parameters_take_effect"),
    (
        "maxmemory-samples",
        "engine::evict::conformance (unit test)",
    ),
    ("snapshot-interval", "shutdown_parameters_take_effect"),
    ("save", "shutdown_parameters_take_effect"),
    ("save-on-shutdown", "shutdown_parameters_take_effect"),
    ("slowlog-log-slower-than", "engine_parameters_take_effect"),
    ("slowlog-max-len", "engine_parameters_take_effect"),
    ("hash-max-listpack-entries", "engine_parameters_take_effect"),
    ("hash-max-listpack-value", "engine_parameters_take_effect"),
    ("busy-reply-threshold", "busy_threshold_takes_effect"),
    ("appendonly", "engine_parameters_take_effect"),
    (
        "tracking-table-max-keys",
        "external::client_side_caching_invalidations",
    ),
    (
        "notify-keyspace-events",
        "notifications::keyspace_events_match_redis_server",
    ),
    ("list-max-listpack-size", "engine_parameters_take_effect"),
    ("set-max-intset-entries", "engine_parameters_take_effect"),
    ("zset-max-listpack-entries", "engine_parameters_take_effect"),
    ("zset-max-listpack-value", "engine_parameters_take_effect"),
    ("stream-node-max-entries", "engine_parameters_take_effect"),
    ("stream-node-max-bytes", "engine_parameters_take_effect"),
    (
        "masterauth",
        "replication::replication_parameters_take_effect",
    ),
    (
        "replica-read-only",
        "replication::replication_parameters_take_effect",
    ),
    (
        "repl-backlog-size",
        "replication::replication_parameters_take_effect",
    ),
    (
        "min-replicas-to-write",
        "replication::replication_parameters_take_effect",
    ),
    (
        "min-replicas-max-lag",
        "replication::replication_parameters_take_effect",
    ),
    (
        "replica-priority",
        "replication::replication_parameters_take_effect",
    ),
    (
        "cluster-node-timeout",
        "cluster::failed_master_is_replaced_by_its_replica",
    ),
];

#[test]
fn every_mutable_parameter_has_a_check() {
    for p in PARAMS.iter().filter(|p| p.mutable && p.has_effect()) {
        assert!(
            CHECKED.iter().any(|(n, _)| *n == p.name),
            "mutable parameter {} has no check in tests/config_live.rs",
            p.name
        );
    }
}

fn s(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn engine_parameters_take_effect() {
    let mut h = Harness::new();
    // maxmemory + maxmemory-policy: under noeviction a write past the limit fails.
    h.run(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]);
    h.run(&["CONFIG", "SET", "maxmemory", "1mb"]);
    let value = "x".repeat(10_000);
    let mut oom = false;
    for i in 0..200 {
        let r = s(h.run(&["SET", &format!("k{i}"), &value]));
        if r.starts_with("-OOM") {
            oom = true;
            break;
        }
    }
    assert!(oom, "noeviction under a 1mb limit never refused a write");
    // Switching the policy evicts instead.
    h.run(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    assert_eq!(h.run(&["SET", "after", &value]), b"+OK\r\n");
    h.run(&["CONFIG", "SET", "maxmemory", "0"]);
    h.run(&["FLUSHALL"]);

    // appendonly: `no` is accepted, `yes` refused (there is no AOF).
    assert_eq!(h.run(&["CONFIG", "SET", "appendonly", "no"]), b"+OK\r\n");
    let r = s(h.run(&["CONFIG", "SET", "appendonly", "yes"]));
    assert!(r.starts_with("-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Redistill has no append-only file"), "{r}");

    // slowlog-log-slower-than and slowlog-max-len.
    h.run(&["SLOWLOG", "RESET"]);
    h.run(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    h.run(&["PING"]);
    h.run(&["PING"]);
    assert_eq!(h.run(&["SLOWLOG", "LEN"])[..2], *b":3");
    h.run(&["CONFIG", "SET", "slowlog-max-len", "1"]);
    assert_eq!(h.run(&["SLOWLOG", "LEN"]), b":1\r\n");
    h.run(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    h.run(&["SLOWLOG", "RESET"]);
    h.run(&["PING"]);
    assert_eq!(h.run(&["SLOWLOG", "LEN"]), b":0\r\n");

    // hash-max-listpack-entries and -value decide the encoding of new writes.
    h.run(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
    h.run(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "h"]), b"$8\r\nlistpack\r\n");
    h.run(&["HSET", "h", "c", "3"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "h"]), b"$9\r\nhashtable\r\n");
    h.run(&["CONFIG", "SET", "hash-max-listpack-value", "3"]);
    h.run(&["HSET", "h2", "a", "1234"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "h2"]), b"$9\r\nhashtable\r\n");

    // set-max-intset-entries and zset-max-listpack-entries/-value decide
    // the encoding of new writes; list-max-listpack-size the node size
    // (one element per node takes far more memory than one packed node).
    h.run(&["CONFIG", "SET", "set-max-intset-entries", "2"]);
    h.run(&["SADD", "si", "1", "2"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "si"]), b"$6\r\nintset\r\n");
    h.run(&["SADD", "si", "3"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "si"]), b"$9\r\nhashtable\r\n");
    h.run(&["CONFIG", "SET", "zset-max-listpack-entries", "1"]);
    h.run(&["ZADD", "z1", "1", "a"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "z1"]), b"$8\r\nlistpack\r\n");
    h.run(&["ZADD", "z1", "2", "b"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "z1"]), b"$8\r\nskiplist\r\n");
    h.run(&["CONFIG", "SET", "zset-max-listpack-value", "2"]);
    h.run(&["CONFIG", "SET", "zset-max-listpack-entries", "128"]);
    h.run(&["ZADD", "z2", "1", "abc"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "z2"]), b"$8\r\nskiplist\r\n");
    let usage = |h: &mut Harness, key: &str| -> u64 {
        let r = s(h.run(&["MEMORY", "USAGE", key]));
        r.trim_start_matches(':').trim().parse().unwrap()
    };
    let items: Vec<String> = (0..10).map(|i| format!("item-{i}")).collect();
    let mut cmd = vec!["RPUSH", "packed"];
    cmd.extend(items.iter().map(String::as_str));
    h.run(&cmd);
    h.run(&["CONFIG", "SET", "list-max-listpack-size", "1"]);
    cmd[1] = "spread";
    h.run(&cmd);
    assert!(usage(&mut h, "spread") > usage(&mut h, "packed") + 100);

    // stream-node-max-entries and -bytes decide where new nodes start
    // (XINFO STREAM's radix-tree-keys counts the nodes).
    let nodes = |h: &mut Harness, key: &str| -> String {
        let r = s(h.run(&["XINFO", "STREAM", key]));
        r.split("radix-tree-keys\r\n")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap()
            .to_string()
    };
    h.run(&["CONFIG", "SET", "stream-node-max-entries", "2"]);
    for id in ["1-1", "1-2", "1-3", "1-4", "1-5"] {
        h.run(&["XADD", "st", id, "f", "v"]);
    }
    assert_eq!(nodes(&mut h, "st"), ":3");
    h.run(&["CONFIG", "SET", "stream-node-max-entries", "100"]);
    h.run(&["CONFIG", "SET", "stream-node-max-bytes", "64"]);
    let long = "x".repeat(40);
    for id in ["1-1", "1-2", "1-3"] {
        h.run(&["XADD", "sb", id, "f", &long]);
    }
    assert_eq!(nodes(&mut h, "sb"), ":3");
    h.run(&["CONFIG", "SET", "stream-node-max-bytes", "4096"]);

    // requirepass: a client that connects afterwards must AUTH.
    h.run(&["CONFIG", "SET", "requirepass", "secret"]);
    let mut late = h.client();
    assert_eq!(
        s(late.run(&h.rt, &["GET", "x"])),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(late.run(&h.rt, &["AUTH", "secret"]), b"+OK\r\n");
    assert_eq!(late.run(&h.rt, &["GET", "x"]), b"$-1\r\n");
}

fn config_set(port: u16, name: &str, value: &str) {
    let mut raw = Raw::connect(port);
    let req = common::cmd(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]);
    assert_eq!(
        raw.roundtrip(&req, b"+OK\r\n"),
        b"+OK\r\n",
        "CONFIG SET {name}"
    );
}

#[test]
fn server_level_parameters_take_effect() {
    let srv = redistill(&[]);
    // maxclients: with 2 allowed, a third client is refused.
    config_set(srv.port, "maxclients", "2");
    let mut a = Raw::connect(srv.port);
    assert_eq!(a.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
    let mut b = Raw::connect(srv.port);
    assert_eq!(b.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
    let mut c = Raw::connect(srv.port);
    let e = b"-ERR max number of clients reached\r\n";
    assert_eq!(c.read_n(e.len()), e.to_vec());
    let req = common::cmd(&[b"CONFIG", b"SET", b"maxclients", b"100"]);
    assert_eq!(a.roundtrip(&req, b"+OK\r\n"), b"+OK\r\n");
    drop((a, b, c));

    // timeout: an idle client is closed after it.
    config_set(srv.port, "timeout", "1");
    let mut idle = Raw::connect(srv.port);
    assert_eq!(idle.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
    let started = Instant::now();
    idle.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert!(idle.closed(), "idle client not closed");
    assert!(started.elapsed() < Duration::from_secs(4));
    config_set(srv.port, "timeout", "0");

    // client-query-buffer-limit: a request past it closes the client.
    config_set(srv.port, "client-query-buffer-limit", "1mb");
    let mut big = Raw::connect(srv.port);
    let _ = big.try_send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    let _ = big.try_send(&vec![b'x'; 1_500_000]);
    assert!(
        big.closed(),
        "client past the query buffer limit not closed"
    );
    config_set(srv.port, "client-query-buffer-limit", "1gb");

    // connection-rate-limit: a burst past one per second is mostly refused.
    config_set(srv.port, "connection-rate-limit", "1");
    let mut served = 0;
    for _ in 0..20 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", srv.port)) {
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let _ = s.write_all(b"PING\r\n");
            let mut buf = [0u8; 7];
            if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                served += 1;
            }
        }
    }
    assert!(served <= 3, "{served} of 20 connections served at 1/s");
    std::thread::sleep(Duration::from_millis(1100));
    config_set(srv.port, "connection-rate-limit", "0");
    srv.assert_healthy();
}

#[test]
fn shutdown_parameters_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("dump.rdb");
    let snap_s = snap.display().to_string();
    let srv = redistill(&[
        "--persistence",
        "yes",
        "--dbfilename",
        &snap_s,
        "--snapshot-interval",
        "0",
    ]);
    let mut c = srv.client().get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    // snapshot-interval: set to 1 s, a periodic snapshot follows.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("snapshot-interval")
        .arg("1")
        .query(&mut c)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "rdb_saves") == 0 {
        assert!(Instant::now() < deadline, "no periodic snapshot");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("snapshot-interval")
        .arg("0")
        .query(&mut c)
        .unwrap();
    std::fs::remove_file(&snap).unwrap();
    // save: a Redis save point (1 write in 1 s) writes the file again.
    let saves = info_u64(&mut c, "rdb_saves");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("1 1")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET").arg("k1").arg("v").query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "rdb_saves") == saves {
        assert!(Instant::now() < deadline, "no snapshot from the save point");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(snap.exists());
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("")
        .query(&mut c)
        .unwrap();
    std::fs::remove_file(&snap).unwrap();
    // save-on-shutdown no: no final snapshot; shutdown-timeout 0: an idle
    // client does not hold the exit up.
    let _: () = redis::cmd("SET").arg("k2").arg("v").query(&mut c).unwrap();
    for (name, value) in [("save-on-shutdown", "no"), ("shutdown-timeout", "0")] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(value)
            .query(&mut c)
            .unwrap();
    }
    let started = Instant::now();
    let pid = srv.pid() as i32;
    // SAFETY: sends SIGTERM to the server this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let mut status = 0;
    // SAFETY: waits for our own child process.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(reaped, pid);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for the idle client"
    );
    assert!(
        !snap.exists(),
        "a final snapshot was written with save-on-shutdown no"
    );
    drop(c);
}

#[test]
fn busy_threshold_takes_effect() {
    let srv = redistill(&[]);
    config_set(srv.port, "busy-reply-threshold", "50");
    let port = srv.port;
    let script = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        r.stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let req = b"EVAL \"local i = 0 while i < 100000000 do i = i + 1 end return 1\" 0\r\n";
        r.roundtrip(req, b":1\r\n")
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut other = Raw::connect(port);
    other.send(b"GET k\r\n");
    let reply = other.read_n(5);
    assert_eq!(
        &reply[..5],
        b"-BUSY",
        "a script past 50 ms did not make others wait with BUSY"
    );
    assert_eq!(script.join().unwrap(), b":1\r\n");
}

/// CONFIG SET port and bind move the plaintext listeners at once; a port
/// that cannot be bound (or an address that is not local) is refused with
/// Redis's error and nothing changes; existing connections stay.
#[test]
fn listeners_move_with_port_and_bind() {
    let srv = redistill(&[]);
    let mut c = srv.client().get_connection().unwrap();
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let set = |c: &mut redis::Connection, k: &str, v: &str| -> redis::RedisResult<()> {
        redis::cmd("CONFIG").arg("SET").arg(k).arg(v).query(c)
    };
    set(&mut c, "port", &free.to_string()).unwrap();
    let ping = |addr: &str| -> bool {
        let Ok(mut s) = TcpStream::connect(addr) else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    };
    assert!(
        ping(&format!("127.0.0.1:{free}")),
        "the new port does not answer"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while ping(&format!("127.0.0.1:{}", srv.port)) {
        assert!(Instant::now() < deadline, "the old port still answers");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The connection made before the move keeps working.
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    // A port someone holds: refused, still on the new port.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = holder.local_addr().unwrap().port();
    let e = set(&mut c, "port", &busy.to_string()).unwrap_err();
    assert_eq!(
        e.detail(),
        Some("CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.")
    );
    let port: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query(&mut c)
        .unwrap();
    assert_eq!(port[1], free.to_string());
    assert!(ping(&format!("127.0.0.1:{free}")));
    // bind: a second loopback address, then an address that is not ours.
    set(&mut c, "bind", "127.0.0.1 127.0.0.2").unwrap();
    assert!(ping(&format!("127.0.0.2:{free}")));
    let e = set(&mut c, "bind", "10.255.255.1").unwrap_err();
    assert_eq!(
        e.detail(),
        Some("CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.")
    );
    assert!(ping(&format!("127.0.0.1:{free}")));
}

/// client-output-buffer-limit: a subscriber that does not read is cut off
/// at the pubsub class's hard limit as soon as it is lowered; the replica
/// class is checked in tests/replication.rs's parameters test.
#[test]
fn output_buffer_limits_take_effect() {
    let srv = redistill(&[]);
    let mut c = srv.client().get_connection().unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 64kb 0 0")
        .query(&mut c)
        .unwrap();
    let mut sub = Raw::connect(srv.port);
    sub.roundtrip(
        &common::cmd(&[b"SUBSCRIBE", b"news"]),
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    );
    let message = vec![b'm'; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    // The subscriber never reads: once the socket buffers are full its
    // pushes pile up past 64 KB and it is dropped (PUBLISH then reaches no one).
    let mut published = 0usize;
    loop {
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg("news")
            .arg(&message)
            .query(&mut c)
            .unwrap();
        if receivers == 0 {
            break;
        }
        published += message.len();
        assert!(
            Instant::now() < deadline,
            "the subscriber was never cut off"
        );
    }
    // Far less than the default 32 MB hard limit went out before the cut
    // (most of it sits in the socket buffers).
    println!("published {published} bytes before the subscriber was cut off");
    assert!(published < 16 << 20, "{published} bytes published first");
}

#[test]
fn client_memory_limit_evicts_the_biggest_client() {
    let srv = redistill(&[]);
    let mut c = Raw::connect(srv.port);
    let no_evict = common::cmd(&[b"CLIENT", b"NO-EVICT", b"on"]);
    assert_eq!(c.roundtrip(&no_evict, b"+OK\r\n"), b"+OK\r\n");
    let set = |raw: &mut Raw, name: &[u8], value: &[u8]| {
        let req = common::cmd(&[b"CONFIG", b"SET", name, value]);
        assert_eq!(raw.roundtrip(&req, b"+OK\r\n"), b"+OK\r\n");
    };
    set(&mut c, b"maxmemory-clients", b"1mb");
    // Two clients each leave 2 MB of a 3 MB request in their query buffer;
    // the one without CLIENT NO-EVICT is disconnected.
    let head = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n";
    let mut safe = Raw::connect(srv.port);
    assert_eq!(safe.roundtrip(&no_evict, b"+OK\r\n"), b"+OK\r\n");
    safe.send(head);
    safe.send(&vec![b'x'; 2_000_000]);
    let mut big = Raw::connect(srv.port);
    assert_eq!(big.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
    let _ = big.try_send(head);
    let _ = big.try_send(&vec![b'x'; 2_000_000]);
    let mut buf = [0u8; 1];
    assert_eq!(
        big.stream.read(&mut buf).ok(),
        Some(0),
        "the client past maxmemory-clients was not disconnected"
    );
    // The protected client finishes its request.
    safe.send(&vec![b'x'; 1_000_000]);
    safe.send(b"\r\n");
    assert_eq!(safe.read_n(5), b"+OK\r\n");
    let mut r = srv.client().get_connection().unwrap();
    assert_eq!(info_u64(&mut r, "evicted_clients"), 1);
    // A percentage is of maxmemory: 1% of 1 GB is 10 MB, over what the
    // clients hold now, so a new 2 MB request is left alone.
    set(&mut c, b"maxmemory", b"1gb");
    set(&mut c, b"maxmemory-clients", b"1%");
    let mut fine = Raw::connect(srv.port);
    fine.send(head);
    fine.send(&vec![b'x'; 2_000_000]);
    std::thread::sleep(Duration::from_millis(400));
    fine.send(&vec![b'x'; 1_000_000]);
    fine.send(b"\r\n");
    assert_eq!(fine.read_n(5), b"+OK\r\n");
    assert_eq!(info_u64(&mut r, "evicted_clients"), 1);
    srv.assert_healthy();
}

#[test]
fn failed_snapshots_stop_writes() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("snapshots");
    std::fs::create_dir(&sub).unwrap();
    let file = sub.join("dump.rdb").display().to_string();
    let srv = redistill(&["--dbfilename", &file]);
    let mut c = srv.client().get_connection().unwrap();
    let query = |c: &mut redis::Connection, args: &[&str]| -> Result<String, String> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<redis::Value>(c)
            .map(|v| format!("{v:?}"))
            .map_err(|e| e.to_string())
    };
    let bgsave_until = |c: &mut redis::Connection, status: &str| {
        query(c, &["BGSAVE"]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
            if !info.contains("rdb_bgsave_in_progress:1")
                && info.contains(&format!("rdb_last_bgsave_status:{status}"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "BGSAVE never ended with {status}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    std::fs::remove_dir(&sub).unwrap();
    bgsave_until(&mut c, "err");
    // No snapshots configured (save "" and persistence off): writes go on.
    query(&mut c, &["SET", "a", "1"]).unwrap();
    // With a save point, writes and PING are refused; reads are served.
    query(&mut c, &["CONFIG", "SET", "save", "3600 1"]).unwrap();
    for args in [&["SET", "a", "2"][..], &["PING"], &["INCR", "n"]] {
        let e = query(&mut c, args).unwrap_err();
        assert!(e.starts_with("MISCONF"), "{args:?}: {e}");
    }
    let a: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(a, "1");
    query(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    )
    .unwrap();
    query(&mut c, &["SET", "a", "3"]).unwrap();
    query(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
    )
    .unwrap();
    assert!(query(&mut c, &["SET", "a", "4"]).is_err());
    // A snapshot that succeeds lifts the refusal.
    std::fs::create_dir(&sub).unwrap();
    bgsave_until(&mut c, "ok");
    query(&mut c, &["SET", "a", "5"]).unwrap();
    srv.assert_healthy();
}
