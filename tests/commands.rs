//! Command behaviour through a real client (the `redis` crate) and raw
//! RESP for exact bytes: replies, error texts, TTLs, RESP3, introspection.

mod common;
use common::{cmd, redistill, Raw};
use redis::{Commands, RedisResult, Value};

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn err_text(r: RedisResult<Value>) -> String {
    let e = r.unwrap_err();
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}

#[test]
fn strings_and_counters() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    let _: () = c.set("a", "1").unwrap();
    assert_eq!(c.incr::<_, _, i64>("a", 5).unwrap(), 6);
    assert_eq!(
        redis::cmd("INCRBYFLOAT")
            .arg("a")
            .arg("0.1")
            .query::<String>(&mut c)
            .unwrap(),
        "6.1"
    );
    let _: () = c.set("f", "10.50").unwrap();
    assert_eq!(
        redis::cmd("INCRBYFLOAT")
            .arg("f")
            .arg("0.1")
            .query::<String>(&mut c)
            .unwrap(),
        "10.6"
    );
    let _: () = c.set("m", i64::MAX).unwrap();
    assert_eq!(
        err_text(redis::cmd("INCR").arg("m").query(&mut c)),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err_text(redis::cmd("DECRBY").arg("m").arg(i64::MIN).query(&mut c)),
        "ERR decrement would overflow"
    );
    let _: () = c.set("s", "01").unwrap();
    assert_eq!(
        err_text(redis::cmd("INCR").arg("s").query(&mut c)),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err_text(redis::cmd("INCRBYFLOAT").arg("f").arg("inf").query(&mut c)),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(c.append::<_, _, i64>("s", "23").unwrap(), 4);
    assert_eq!(c.get::<_, String>("s").unwrap(), "0123");
    assert_eq!(
        redis::cmd("SETRANGE")
            .arg("r")
            .arg(3)
            .arg("x")
            .query::<i64>(&mut c)
            .unwrap(),
        4
    );
    assert_eq!(c.get::<_, Vec<u8>>("r").unwrap(), b"\0\0\0x");
    assert_eq!(
        err_text(
            redis::cmd("SETRANGE")
                .arg("r")
                .arg(i64::MAX)
                .arg("x")
                .query(&mut c)
        ),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(
        err_text(
            redis::cmd("SETRANGE")
                .arg("r")
                .arg(536870912)
                .arg("x")
                .query(&mut c)
        ),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(
        err_text(
            redis::cmd("SETRANGE")
                .arg("r")
                .arg(-1)
                .arg("x")
                .query(&mut c)
        ),
        "ERR offset is out of range"
    );
    assert_eq!(
        redis::cmd("GETRANGE")
            .arg("s")
            .arg(1)
            .arg(-2)
            .query::<String>(&mut c)
            .unwrap(),
        "12"
    );
    assert_eq!(
        redis::cmd("GETRANGE")
            .arg("s")
            .arg(i64::MIN)
            .arg(i64::MAX)
            .query::<String>(&mut c)
            .unwrap(),
        "0123"
    );
    // MSET / MSETNX with duplicate keys: last value wins.
    let _: () = redis::cmd("MSET")
        .arg("d")
        .arg("1")
        .arg("d")
        .arg("2")
        .query(&mut c)
        .unwrap();
    assert_eq!(c.get::<_, String>("d").unwrap(), "2");
    assert_eq!(
        redis::cmd("MSETNX")
            .arg("n1")
            .arg("1")
            .arg("n1")
            .arg("2")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    assert_eq!(c.get::<_, String>("n1").unwrap(), "2");
    assert_eq!(
        err_text(redis::cmd("MSET").arg("a").query(&mut c)),
        "ERR wrong number of arguments for 'mset' command"
    );
    // SET options.
    assert_eq!(
        redis::cmd("SET")
            .arg("a")
            .arg("x")
            .arg("NX")
            .query::<Option<String>>(&mut c)
            .unwrap(),
        None
    );
    assert_eq!(
        redis::cmd("SET")
            .arg("a")
            .arg("y")
            .arg("GET")
            .query::<String>(&mut c)
            .unwrap(),
        "6.1"
    );
    assert_eq!(
        err_text(
            redis::cmd("SET")
                .arg("a")
                .arg("y")
                .arg("NX")
                .arg("XX")
                .query(&mut c)
        ),
        "ERR syntax error"
    );
    assert_eq!(
        err_text(
            redis::cmd("SET")
                .arg("a")
                .arg("y")
                .arg("EX")
                .arg("0")
                .query(&mut c)
        ),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err_text(
            redis::cmd("SET")
                .arg("a")
                .arg("y")
                .arg("PX")
                .arg(i64::MAX)
                .query(&mut c)
        ),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err_text(redis::cmd("GET").query(&mut c)),
        "ERR wrong number of arguments for 'get' command"
    );
    let _: () = c.hset("h", "f", "v").unwrap();
    assert_eq!(
        err_text(redis::cmd("GET").arg("h").query(&mut c)),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn hashes() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    assert_eq!(
        redis::cmd("HSET")
            .arg("h")
            .arg("a")
            .arg("1")
            .arg("b")
            .arg("2")
            .query::<i64>(&mut c)
            .unwrap(),
        2
    );
    assert_eq!(
        redis::cmd("HGETALL")
            .arg("h")
            .query::<Vec<String>>(&mut c)
            .unwrap(),
        vec!["a", "1", "b", "2"]
    );
    assert_eq!(
        redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg("h")
            .query::<String>(&mut c)
            .unwrap(),
        "listpack"
    );
    assert_eq!(c.hincr::<_, _, _, i64>("h", "a", 10).unwrap(), 11);
    let _: () = c.hset("h", "s", "x").unwrap();
    assert_eq!(
        err_text(redis::cmd("HINCRBY").arg("h").arg("s").arg(1).query(&mut c)),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err_text(
            redis::cmd("HINCRBYFLOAT")
                .arg("h")
                .arg("s")
                .arg(1)
                .query(&mut c)
        ),
        "ERR hash value is not a float"
    );
    assert_eq!(
        redis::cmd("HINCRBYFLOAT")
            .arg("h")
            .arg("fl")
            .arg("0.3")
            .query::<String>(&mut c)
            .unwrap(),
        "0.3"
    );
    assert_eq!(
        redis::cmd("HINCRBYFLOAT")
            .arg("h")
            .arg("fl")
            .arg("1e3")
            .query::<String>(&mut c)
            .unwrap(),
        "1000.29999999999999999"
    );
    for i in 0..200 {
        let _: () = c.hset("big", format!("f{i}"), i).unwrap();
    }
    assert_eq!(
        redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg("big")
            .query::<String>(&mut c)
            .unwrap(),
        "hashtable"
    );
    // HSCAN over a large hash returns every field.
    let mut cursor = 0u64;
    let mut seen = std::collections::HashSet::new();
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg("big")
            .arg(cursor)
            .arg("COUNT")
            .arg(7)
            .query(&mut c)
            .unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(c.hdel::<_, _, i64>("h", &["a", "b", "s", "fl"]).unwrap(), 4);
    assert!(!c.exists::<_, bool>("h").unwrap());
    assert_eq!(
        redis::cmd("HRANDFIELD")
            .arg("big")
            .arg(-5)
            .query::<Vec<String>>(&mut c)
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        redis::cmd("HRANDFIELD")
            .arg("big")
            .arg(500)
            .query::<Vec<String>>(&mut c)
            .unwrap()
            .len(),
        200
    );
}

#[test]
fn expiry_lazy_and_active() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), 100);
    assert!((99_000..=100_000).contains(&c.pttl::<_, i64>("k").unwrap()));
    assert_eq!(
        redis::cmd("EXPIRE")
            .arg("k")
            .arg(50)
            .arg("GT")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        redis::cmd("EXPIRE")
            .arg("k")
            .arg(50)
            .arg("LT")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    assert_eq!(
        err_text(
            redis::cmd("EXPIRE")
                .arg("k")
                .arg(5)
                .arg("NX")
                .arg("XX")
                .query(&mut c)
        ),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(c.persist::<_, i64>("k").unwrap(), 1);
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -1);
    assert_eq!(c.ttl::<_, i64>("missing").unwrap(), -2);
    // A key whose TTL passed is gone on access.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(50)
        .query(&mut c)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(c.get::<_, Option<String>>("short").unwrap(), None);
    // Keys nobody reads again leave memory within seconds.
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("SET")
            .arg(format!("t{i}"))
            .arg("v")
            .arg("PX")
            .arg(100)
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(size, 1, "expired keys were not reclaimed");
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let expired: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("expired_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(expired >= 5001, "expired_keys={expired}");
}

#[test]
fn keys_scan_and_glob_edge_cases() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    for i in 0..1000 {
        let _: () = c.set(format!("user:{i}"), i).unwrap();
    }
    let _: () = c.hset("hash:1", "f", "v").unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("user:1?").query(&mut c).unwrap();
    keys.sort();
    assert_eq!(keys.len(), 10);
    let all: Vec<String> = c.scan_match("user:*").unwrap().collect();
    assert_eq!(all.len(), 1000);
    let hashes: Vec<String> = redis::cmd("SCAN")
        .arg(0)
        .arg("TYPE")
        .arg("hash")
        .arg("COUNT")
        .arg(10000)
        .query::<(String, Vec<String>)>(&mut c)
        .unwrap()
        .1;
    assert_eq!(hashes, vec!["hash:1"]);
    assert_eq!(
        err_text(redis::cmd("SCAN").arg("abc").query(&mut c)),
        "ERR invalid cursor"
    );
    assert_eq!(
        err_text(redis::cmd("SCAN").arg(0).arg("COUNT").arg(0).query(&mut c)),
        "ERR syntax error"
    );
    // Pathological patterns answer quickly (CVE-2022-36021 class).
    let long_key = "a".repeat(50_000);
    let _: () = c.set(&long_key, 1).unwrap();
    let start = std::time::Instant::now();
    let pattern = format!("{}b", "a*".repeat(20));
    let _: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut c).unwrap();
    let pattern = "*?".repeat(50_000);
    let _: Vec<String> = redis::cmd("KEYS").arg(&pattern).query(&mut c).unwrap();
    let big_pattern = "a".repeat(1 << 20);
    let _: Vec<String> = redis::cmd("KEYS").arg(&big_pattern).query(&mut c).unwrap();
    assert!(
        start.elapsed().as_secs() < 5,
        "glob took {:?}",
        start.elapsed()
    );
    srv.assert_healthy();
}

#[test]
fn rename_copy_and_types() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    assert_eq!(
        err_text(redis::cmd("RENAME").arg("nope").arg("x").query(&mut c)),
        "ERR no such key"
    );
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .arg("EX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("RENAME")
        .arg("a")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert!(c.ttl::<_, i64>("b").unwrap() > 90);
    assert_eq!(
        redis::cmd("COPY")
            .arg("b")
            .arg("c")
            .query::<i64>(&mut c)
            .unwrap(),
        1
    );
    assert_eq!(
        redis::cmd("COPY")
            .arg("b")
            .arg("c")
            .query::<i64>(&mut c)
            .unwrap(),
        0
    );
    assert_eq!(
        err_text(redis::cmd("COPY").arg("b").arg("b").query(&mut c)),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        redis::cmd("TYPE").arg("c").query::<String>(&mut c).unwrap(),
        "string"
    );
    assert_eq!(
        redis::cmd("TYPE")
            .arg("zz")
            .query::<String>(&mut c)
            .unwrap(),
        "none"
    );
    assert_eq!(
        err_text(redis::cmd("SELECT").arg(16).query(&mut c)),
        "ERR DB index is out of range"
    );
    let _: () = redis::cmd("SELECT").arg(0).query(&mut c).unwrap();
}

#[test]
fn resp3_via_hello() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    raw.send(&cmd(&[b"HELLO", b"3"]));
    let hello = String::from_utf8_lossy(&raw.read_n(60)).to_string();
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    let mut raw = Raw::connect(srv.port);
    raw.send(&cmd(&[b"HELLO", b"3"]));
    let _ = raw.read_n(1);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut buf = [0u8; 4096];
    let _ = std::io::Read::read(&mut raw.stream, &mut buf);
    assert_eq!(raw.roundtrip(&cmd(&[b"GET", b"nokey"]), b"_\r\n"), b"_\r\n");
    raw.send(&cmd(&[b"HSET", b"h", b"f", b"v"]));
    assert_eq!(raw.read_n(4), b":1\r\n");
    let expect = b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n";
    assert_eq!(raw.roundtrip(&cmd(&[b"HGETALL", b"h"]), expect), expect);
    let expect = b"*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n";
    assert_eq!(
        raw.roundtrip(&cmd(&[b"HRANDFIELD", b"h", b"1", b"WITHVALUES"]), expect),
        expect
    );
    raw.send(&cmd(&[b"HELLO", b"2"]));
    let _ = raw.read_n(1);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let _ = std::io::Read::read(&mut raw.stream, &mut buf);
    assert_eq!(
        raw.roundtrip(&cmd(&[b"GET", b"nokey"]), b"$-1\r\n"),
        b"$-1\r\n"
    );
    let mut raw = Raw::connect(srv.port);
    let e = b"-NOPROTO unsupported protocol version\r\n";
    assert_eq!(raw.roundtrip(&cmd(&[b"HELLO", b"4"]), e), e);
}

#[test]
fn introspection_commands() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    let info: String = redis::cmd("INFO").query(&mut c).unwrap();
    for field in [
        "redis_version:",
        "redis_mode:standalone",
        "arch_bits:64",
        "tcp_port:",
        "uptime_in_seconds:",
        "connected_clients:",
        "used_memory:",
        "keyspace_hits:",
        "keyspace_misses:",
        "expired_keys:",
        "cluster_enabled:0",
        "role:master",
    ] {
        assert!(info.contains(field), "INFO lacks {field}");
    }
    let _: () = c.set("x", 1).unwrap();
    let ks: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    assert!(ks.contains("db0:keys=1,expires=0,avg_ttl=0"), "{ks}");
    let cmdstats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .unwrap();
    assert!(cmdstats.contains("cmdstat_set:calls=1,"), "{cmdstats}");
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory*")
        .query(&mut c)
        .unwrap();
    assert!(cfg.contains(&"maxmemory-policy".to_string()));
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("100mb")
        .query(&mut c)
        .unwrap();
    let cfg: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxmemory")
        .query(&mut c)
        .unwrap();
    assert_eq!(cfg, vec!["maxmemory", "104857600"]);
    assert_eq!(
        err_text(
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("nope")
                .arg("1")
                .query(&mut c)
        ),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nope'"
    );
    assert_eq!(
        err_text(redis::cmd("CONFIG").arg("FOO").query(&mut c)),
        "ERR unknown subcommand 'FOO'. Try CONFIG HELP."
    );
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    assert!(count > 70, "{count}");
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("set")
        .query(&mut c)
        .unwrap();
    assert!(format!("{docs:?}").contains("KEEPTTL"));
    let info: Value = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("get")
        .query(&mut c)
        .unwrap();
    assert!(format!("{info:?}").contains("readonly"));
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c).unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut c)
        .unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=tester"),
        "{list}"
    );
    let t: Vec<String> = redis::cmd("TIME").query(&mut c).unwrap();
    assert_eq!(t.len(), 2);
    let usage: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("x")
        .query(&mut c)
        .unwrap();
    assert!(usage > 0);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(0)
        .query(&mut c)
        .unwrap();
    let _: () = c.set("y", 2).unwrap();
    let len: i64 = redis::cmd("SLOWLOG").arg("LEN").query(&mut c).unwrap();
    assert!(len >= 1);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 2);
    let _: () = redis::cmd("FLUSHALL").arg("ASYNC").query(&mut c).unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
}

#[test]
fn client_kill_and_reply_modes() {
    let srv = redistill(&[]);
    let mut victim = Raw::connect(srv.port);
    victim.send(b"CLIENT ID\r\n");
    let reply = String::from_utf8(victim.read_n(3)).unwrap();
    let mut rest = reply.clone();
    while !rest.ends_with("\r\n") {
        rest.push_str(&String::from_utf8(victim.read_n(1)).unwrap());
    }
    let id: i64 = rest.trim_start_matches(':').trim().parse().unwrap();
    let mut c = conn(srv.port);
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(killed, 1);
    assert!(victim.closed());
    let mut raw = Raw::connect(srv.port);
    raw.send(b"CLIENT REPLY OFF\r\nSET a 1\r\nCLIENT REPLY ON\r\nGET a\r\n");
    assert_eq!(raw.read_n(5 + 7), b"+OK\r\n$1\r\n1\r\n");
    raw.send(b"CLIENT REPLY SKIP\r\nSET a 2\r\nGET a\r\n");
    assert_eq!(raw.read_n(7), b"$1\r\n2\r\n");
}

#[test]
fn auth_with_password() {
    let srv = common::redistill(&["--requirepass", "s3cret"]);
    let mut raw = Raw::connect(srv.port);
    let e = b"-NOAUTH Authentication required.\r\n";
    assert_eq!(raw.roundtrip(b"GET a\r\n", e), e);
    let e = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(raw.roundtrip(b"AUTH nope\r\n", e), e);
    assert_eq!(raw.roundtrip(b"AUTH s3cret\r\n", b"+OK\r\n"), b"+OK\r\n");
    assert_eq!(raw.roundtrip(b"GET a\r\n", b"$-1\r\n"), b"$-1\r\n");
    let srv = common::redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    let e = b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n";
    assert_eq!(raw.roundtrip(b"AUTH x\r\n", e), e);
}

/// The CLIENT LIST line of the client with `id`, as field -> value.
fn client_fields(c: &mut redis::Connection, id: i64) -> std::collections::HashMap<String, String> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id)
        .query(c)
        .unwrap();
    list.trim()
        .split(' ')
        .filter_map(|f| f.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// CLIENT LIST shows real buffer figures: a large request still arriving
/// fills `qbuf`, which empties once it is complete and whose space is
/// released when the client goes idle; `fd` is the socket; `multi-mem`
/// counts queued commands; tracking shows as flags `t`/`B` and `redir`;
/// the fields are Redis 7.0's, in its order.
#[test]
fn client_list_shows_real_buffers() {
    let srv = redistill(&[]);
    let mut admin = conn(srv.port);
    let mut raw = Raw::connect(srv.port);
    raw.roundtrip(&cmd(&[b"PING"]), b"+PONG\r\n");
    let id: i64 = {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
        let mine: i64 = redis::cmd("CLIENT").arg("ID").query(&mut admin).unwrap();
        list.lines()
            .filter_map(|l| l.strip_prefix("id="))
            .filter_map(|l| l.split(' ').next()?.parse().ok())
            .find(|&i| i != mine)
            .unwrap()
    };
    let f = client_fields(&mut admin, id);
    let names: Vec<&str> = [
        "id",
        "addr",
        "laddr",
        "fd",
        "name",
        "age",
        "idle",
        "flags",
        "db",
        "sub",
        "psub",
        "ssub",
        "multi",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
        "events",
        "cmd",
        "user",
        "redir",
        "resp",
    ]
    .to_vec();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(id)
        .query(&mut admin)
        .unwrap();
    let order: Vec<&str> = list
        .trim()
        .split(' ')
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(order, names);
    assert!(f["fd"].parse::<i64>().unwrap() > 2, "{f:?}");
    assert_eq!(f["qbuf"], "0");

    // Half a 1 MB SET: the query buffer holds it.
    let value = vec![b'v'; 1 << 20];
    let req = cmd(&[b"SET", b"big", &value]);
    raw.send(&req[..req.len() / 2]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let f = client_fields(&mut admin, id);
        if f["qbuf"].parse::<usize>().unwrap() >= req.len() / 2 - 64 * 1024 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "qbuf never grew: {f:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    raw.send(&req[req.len() / 2..]);
    raw.roundtrip(b"", b"+OK\r\n");
    let f = client_fields(&mut admin, id);
    assert_eq!(f["qbuf"], "0", "{f:?}");
    assert!(f["qbuf-free"].parse::<usize>().unwrap() >= 1 << 20, "{f:?}");
    // Idle: the large buffer is released.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let f = client_fields(&mut admin, id);
        if f["qbuf-free"].parse::<usize>().unwrap() < 128 * 1024 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the buffer stayed: {f:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // MULTI: queued bytes; tracking: flags and redirect.
    raw.roundtrip(&cmd(&[b"MULTI"]), b"+OK\r\n");
    raw.roundtrip(&cmd(&[b"SET", b"k", b"0123456789"]), b"+QUEUED\r\n");
    let f = client_fields(&mut admin, id);
    assert_eq!(f["multi"], "1");
    assert!(f["flags"].contains('x'));
    assert!(f["multi-mem"].parse::<usize>().unwrap() >= 14, "{f:?}");
    raw.roundtrip(&cmd(&[b"DISCARD"]), b"+OK\r\n");
    raw.roundtrip(&cmd(&[b"CLIENT", b"TRACKING", b"ON", b"BCAST"]), b"+OK\r\n");
    let f = client_fields(&mut admin, id);
    assert_eq!(f["flags"], "tB", "{f:?}");
    assert_eq!(f["redir"], "0");
    assert_eq!(f["multi-mem"], "0");

    // The caller's own query buffer holds its request, as in redis-server
    // (`*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n`: 26 bytes).
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut admin).unwrap();
    assert!(info.contains(" qbuf=26 "), "{info}");
}

/// OBJECT IDLETIME is kept by the commands Redis does not let touch a key
/// (TTL, PTTL, TYPE, EXISTS, EXPIRETIME, OBJECT, MEMORY USAGE, SCAN) and by
/// every read of a client in CLIENT NO-TOUCH (its scripts included); GET
/// and TOUCH reset it.
#[test]
fn idle_time_survives_commands_that_do_not_touch() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    let quiet: &[&[&str]] = &[
        &["TTL", "k0"],
        &["PTTL", "k1"],
        &["TYPE", "k2"],
        &["EXISTS", "k3"],
        &["EXPIRETIME", "k4"],
        &["OBJECT", "ENCODING", "k5"],
        &["MEMORY", "USAGE", "k6"],
        &["SCAN", "0", "MATCH", "k7"],
    ];
    for i in 0..10 {
        let _: () = c.set(format!("k{i}"), "v").unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let run = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let _: redis::Value = cmd.query(c).unwrap();
    };
    for args in quiet {
        run(&mut c, args);
    }
    let mut nt = conn(srv.port);
    run(&mut nt, &["CLIENT", "NO-TOUCH", "ON"]);
    run(&mut nt, &["GET", "k8"]);
    run(
        &mut nt,
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "k8"],
    );
    run(&mut nt, &["TOUCH", "k9"]);
    let idle = |c: &mut redis::Connection, k: &str| -> i64 {
        redis::cmd("OBJECT")
            .arg("IDLETIME")
            .arg(k)
            .query(c)
            .unwrap()
    };
    for i in 0..=8 {
        assert!(idle(&mut c, &format!("k{i}")) >= 2, "k{i} was touched");
    }
    assert_eq!(idle(&mut c, "k9"), 0, "TOUCH touches even under NO-TOUCH");
    run(&mut c, &["GET", "k0"]);
    assert_eq!(idle(&mut c, "k0"), 0);
}
