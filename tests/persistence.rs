//! Snapshots end to end: SAVE and restart, BGSAVE's point-in-time image,
//! files Redis accepts, crash safety (kill -9, failed saves), refusal to
//! start on corrupt files, the LOADING state, and the shutdown snapshot.

mod common;
use common::{OwnedPort, Raw};
use redis::Commands;
use redistill::engine::persist::rdb::{read, RdbValue, ReadOptions, Writer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node {
    child: Child,
    port: u16,
    _owned: OwnedPort,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("redistill.toml");
    let text = format!(
        "[persistence]\nenabled = true\nsnapshot_path = \"{}\"\nsnapshot_interval = 0\n{extra}",
        dir.join("dump.rdb").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, extra: &str) -> Node {
    try_start(dir, extra).expect("server did not start")
}

fn try_start(dir: &Path, extra: &str) -> Option<Node> {
    let cfg = config(dir, extra);
    let owned = OwnedPort::new();
    let port = owned.port;
    let log = dir.join(format!("server-{port}.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redistill"));
    cmd.args([cfg.to_str().unwrap(), "--shards", "256"])
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join(format!("err-{port}.log"))).unwrap());
    let child = owned.attach(&mut cmd).spawn().unwrap();
    let mut node = Node {
        child,
        port,
        _owned: owned,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(_)) = node.child.try_wait() {
            return None;
        }
        if let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
        {
            let info: redis::RedisResult<String> = redis::cmd("INFO").query(&mut c);
            if let Ok(info) = info {
                if !info.contains(&format!("process_id:{}\r\n", node.child.id())) {
                    return None;
                }
                // (not `async_loading:0`)
                if info.contains("\nloading:0") {
                    return Some(node);
                }
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn conn(n: &Node) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{}/", n.port))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Snapshot temp files left in `dir`.
fn temp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("temp-")
        })
        .count()
}

fn read_file(path: &Path) -> HashMap<Vec<u8>, RdbValue> {
    let data = std::fs::read(path).unwrap();
    let mut out = HashMap::new();
    read(
        &data,
        &ReadOptions {
            now_ms: 0,
            databases: 16,
        },
        |e| {
            out.insert(e.key, e.value);
            Ok(())
        },
    )
    .unwrap();
    out
}

#[test]
fn save_and_restart_bring_back_everything() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "");
    let mut c = conn(&node);
    for i in 0..2000 {
        let _: () = c.set(format!("s{i}"), format!("value-{i}")).unwrap();
    }
    let _: () = c.set("int", 42).unwrap();
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("x")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("gone")
        .arg("x")
        .arg("PX")
        .arg(1)
        .query(&mut c)
        .unwrap();
    let _: () = c.hset_multiple("h", &[("a", "1"), ("b", "2")]).unwrap();
    for i in 0..300 {
        let _: () = c.hset("bigh", format!("f{i}"), i).unwrap();
    }
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let last: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(last > 1_700_000_000);
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(
        info.contains("rdb_changes_since_last_save:0") && info.contains("rdb_saves:1"),
        "{info}"
    );
    drop(node);
    // The file passes Redis's checker.
    let check = Command::new("redis-check-rdb")
        .arg(dir.path().join("dump.rdb"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&check.stdout).contains("RDB looks OK"));
    let node = start(dir.path(), "");
    let mut c = conn(&node);
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 2000 + 4);
    assert_eq!(c.get::<_, String>("s1999").unwrap(), "value-1999");
    assert_eq!(c.get::<_, i64>("int").unwrap(), 42);
    assert!((998..=1000).contains(&c.ttl::<_, i64>("ttl").unwrap()));
    assert_eq!(
        c.hgetall::<_, Vec<String>>("h").unwrap(),
        vec!["a", "1", "b", "2"]
    );
    assert_eq!(c.hlen::<_, i64>("bigh").unwrap(), 300);
}

#[test]
fn bgsave_is_a_point_in_time_image() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "");
    let mut c = conn(&node);
    let mut pipe = redis::pipe();
    for i in 0..100_000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg("before").ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let reply: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(reply, "Background saving started");
    // Everything written after the reply must stay out of the file.
    let mut pipe = redis::pipe();
    for i in 0..100_000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg("after").ignore();
    }
    pipe.cmd("SET").arg("new-key").arg("after").ignore();
    pipe.cmd("DEL").arg("k5").ignore();
    let _: () = pipe.query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        if info.contains("rdb_bgsave_in_progress:0") && info.contains("rdb_saves:1") {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let image = read_file(&dir.path().join("dump.rdb"));
    assert_eq!(image.len(), 100_000);
    assert!(!image.contains_key(&b"new-key"[..]));
    for i in 0..100_000 {
        assert_eq!(
            image[format!("k{i}").as_bytes()],
            RdbValue::Str(b"before".to_vec()),
            "k{i}"
        );
    }
    let again: redis::RedisResult<String> = redis::cmd("BGSAVE").query(&mut c);
    assert!(again.is_ok());
    let twice: redis::RedisResult<String> = redis::cmd("BGSAVE").query(&mut c);
    if let Err(e) = twice {
        assert_eq!(e.detail(), Some("Background save already in progress"));
    }
}

#[test]
fn failed_saves_are_reported() {
    // A target that cannot be replaced (a directory): the save fails, is
    // reported, leaves no temp file, and the server keeps serving.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "");
    std::fs::create_dir(dir.path().join("dump.rdb")).unwrap();
    let mut c = conn(&node);
    let _: () = c.set("k", "v").unwrap();
    let e = redis::cmd("SAVE").query::<()>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("rdb_last_bgsave_status:err"), "{info}");
    let temps = temp_files(dir.path());
    assert_eq!(temps, 0);
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
}

fn good_snapshot(dir: &Path) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), &[]).unwrap();
    w.select_db(0, 2, 0).unwrap();
    w.write_string(b"a", b"1", None).unwrap();
    w.write_string(b"b", b"two", None).unwrap();
    let data = w.finish().unwrap();
    std::fs::write(dir.join("dump.rdb"), &data).unwrap();
    data
}

fn start_fails(dir: &Path) -> String {
    let cfg = config(dir, "");
    let owned = OwnedPort::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redistill"));
    cmd.arg(cfg.to_str().unwrap()).stdin(Stdio::null());
    let out = owned.attach(&mut cmd).output().unwrap();
    assert!(!out.status.success(), "started on a bad snapshot");
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn corrupt_snapshots_refuse_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = good_snapshot(dir.path());
    let path = dir.path().join("dump.rdb");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", data[..data.len() - 5].to_vec()),
        ("zero bytes", Vec::new()),
        (
            "wrong magic",
            [b"RADIS".to_vec(), data[5..].to_vec()].concat(),
        ),
        (
            "future version",
            [b"REDIS0099".to_vec(), data[9..].to_vec()].concat(),
        ),
    ];
    let mut bad_crc = data.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 0xff;
    cases.push(("bad checksum", bad_crc));
    let mut flipped = data.clone();
    flipped[20] ^= 0x01;
    cases.push(("flipped byte", flipped));
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let err = start_fails(dir.path());
        assert!(
            err.contains("dump.rdb") && err.contains("offset"),
            "{what}: {err}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: the file was touched"
        );
    }
}

#[test]
fn kill_during_bgsave_keeps_the_previous_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "");
    let mut c = conn(&node);
    let _: () = c.set("first", "1").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let good = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    let mut pipe = redis::pipe();
    for i in 0..200_000 {
        pipe.cmd("SET")
            .arg(format!("k{i}"))
            .arg("x".repeat(50))
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let mut node = node;
    let _ = node.child.kill(); // SIGKILL, mid-save
    let _ = node.child.wait();
    drop(node);
    let now = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    // Either the old file, or a complete new one (if the save won the race).
    if now != good {
        assert!(read_file(&dir.path().join("dump.rdb")).len() > 200_000);
    }
    let node = start(dir.path(), "");
    let mut c = conn(&node);
    assert_eq!(c.get::<_, String>("first").unwrap(), "1");
    let temps = temp_files(dir.path());
    assert_eq!(temps, 0, "stale temp files were not cleaned at start");
}

#[test]
fn loading_state_and_shutdown_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // A large snapshot so loading takes a while.
    common::write_snapshot_of(&dir.path().join("dump.rdb"), 600_000);
    let cfg = config(dir.path(), "");
    let owned = OwnedPort::new();
    let port = owned.port;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redistill"));
    cmd.arg(cfg.to_str().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = owned.attach(&mut cmd).spawn().unwrap();
    let mut saw_loading = false;
    let mut saw_loading_error = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut raw = Raw {
                stream: {
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    s
                },
            };
            raw.send(b"INFO persistence\r\n");
            let info = String::from_utf8_lossy(&raw.read_n(40)).to_string();
            if info.contains("loading:1") {
                saw_loading = true;
                let mut raw2 = Raw::connect(port);
                let e = b"-LOADING Redis is loading the dataset in memory\r\n";
                if raw2.roundtrip(b"GET key:1\r\n", e) == e.to_vec() {
                    saw_loading_error = true;
                }
            } else if info.contains("loading:0") {
                break;
            }
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        saw_loading && saw_loading_error,
        "loading state not observed"
    );
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 600_000);
    // Writes acknowledged before SIGTERM are in the shutdown snapshot.
    let _: () = c.set("late", "write").unwrap();
    unsafe { libc_kill(child.id() as i32, 15) };
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
    let image = read_file(&dir.path().join("dump.rdb"));
    assert_eq!(image[&b"late"[..]], RdbValue::Str(b"write".to_vec()));
    assert_eq!(image.len(), 600_001);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn a_save_past_the_file_size_limit_keeps_the_old_file() {
    // The server runs under `ulimit -f 1024` (1 MB files): like a full disk.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "");
    let owned = OwnedPort::new();
    let port = owned.port;
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        &format!(
            "ulimit -f 1024; exec {} {} --listen-fd 3 --shards 256",
            env!("CARGO_BIN_EXE_redistill"),
            cfg.display()
        ),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let child = owned.inherit(&mut cmd).spawn().unwrap();
    let node = Node {
        child,
        port,
        _owned: owned,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut c = loop {
        if let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
        {
            // Connected (the port is ours, so at once): wait for the load.
            let info: redis::RedisResult<String> = redis::cmd("INFO").query(&mut c);
            if info.is_ok_and(|i| i.contains("\nloading:0")) {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _: () = c.set("small", "dataset").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let good = std::fs::read(dir.path().join("dump.rdb")).unwrap();
    let mut pipe = redis::pipe();
    for i in 0..5000 {
        pipe.cmd("SET")
            .arg(format!("big{i}"))
            .arg("x".repeat(1000))
            .ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    let e = redis::cmd("SAVE").query::<()>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
        if info.contains("rdb_bgsave_in_progress:0") {
            assert!(info.contains("rdb_last_bgsave_status:err"), "{info}");
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read(dir.path().join("dump.rdb")).unwrap(),
        good,
        "the old snapshot changed"
    );
    let temps = temp_files(dir.path());
    assert_eq!(temps, 0, "a temp file was left behind");
    assert_eq!(c.get::<_, String>("small").unwrap(), "dataset");
    drop(node);
}

/// Fills a server with lists, sets and sorted sets in every encoding.
fn populate_collections(c: &mut redis::Connection) {
    let small: Vec<String> = ["a", "1", "-7", "12345678901234", "x y", ""]
        .iter()
        .map(|s| s.to_string())
        .chain((0..4).map(|i| format!("v{i}")))
        .collect();
    let _: () = c.rpush("list_small", &small).unwrap();
    let big: Vec<String> = (0..5000)
        .map(|i| {
            if i % 3 == 0 {
                i.to_string()
            } else {
                format!("element-{i}")
            }
        })
        .collect();
    let _: () = c.rpush("list_big", &big).unwrap();
    let ints: Vec<i64> = (1..=100).collect();
    let _: () = c.sadd("set_int", &ints).unwrap();
    let many: Vec<i64> = (0..600).map(|i| i * 7 - 1000).collect();
    let _: () = c.sadd("set_table", &many).unwrap();
    let strs: Vec<String> = (0..50).map(|i| format!("member:{i}")).collect();
    let _: () = c.sadd("set_str", &strs).unwrap();
    let _: () = redis::cmd("ZADD")
        .arg("zset_small")
        .arg(&[
            "1", "a", "1.5", "b", "-3", "c", "inf", "d", "-inf", "e", "0.1", "f", "100", "g",
        ])
        .query(c)
        .unwrap();
    for i in 0..300 {
        let _: () = c
            .zadd("zset_big", format!("m{i}"), (i as f64) * 1.25 - 50.0)
            .unwrap();
    }
    let _: () = c.expire("zset_big", 3600).unwrap();
}

/// Every collection key's type, encoding and contents (sets sorted).
fn describe_collections(c: &mut redis::Connection) -> Vec<(String, String, String, Vec<String>)> {
    let mut out = Vec::new();
    for key in [
        "list_small",
        "list_big",
        "set_int",
        "set_table",
        "set_str",
        "zset_small",
        "zset_big",
    ] {
        let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
        let enc: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query(c)
            .unwrap();
        let items: Vec<String> = match t.as_str() {
            "list" => c.lrange(key, 0, -1).unwrap(),
            "set" => {
                let mut m: Vec<String> = c.smembers(key).unwrap();
                m.sort();
                m
            }
            _ => redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)
                .unwrap(),
        };
        out.push((key.to_string(), t, enc, items));
    }
    let ttl: i64 = c.ttl("zset_big").unwrap();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");
    out
}

/// A redis-server that loads `dir/dump.rdb` (when present) and saves there.
fn redis_server_on(dir: &Path) -> (Child, redis::Connection) {
    let port = common::free_port();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--dir", dir.to_str().unwrap(), "--dbfilename", "dump.rdb"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    for _ in 0..200 {
        if let Ok(mut conn) = client.get_connection() {
            if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                return (child, conn);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("redis-server did not start");
}

/// Lists, sets and sorted sets in every encoding, both ways: saved by
/// Redistill they pass redis-check-rdb and load in redis-server with the
/// same contents and encodings; saved by redis-server they load here the
/// same.
#[test]
fn collections_cross_load_with_redis_server() {
    // Redistill -> redis-server.
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), "");
    let mut c = conn(&node);
    populate_collections(&mut c);
    let ours = describe_collections(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    drop(node);
    let dump = dir.path().join("dump.rdb");
    let check = Command::new("redis-check-rdb").arg(&dump).output().unwrap();
    let text = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success() && text.contains("RDB looks OK"),
        "{text}"
    );
    let (mut redis, mut rc) = redis_server_on(dir.path());
    let theirs = describe_collections(&mut rc);
    assert_eq!(ours, theirs);

    // redis-server -> Redistill.
    let _: () = redis::cmd("FLUSHALL").query(&mut rc).unwrap();
    populate_collections(&mut rc);
    let theirs = describe_collections(&mut rc);
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    let _ = redis.kill();
    let _ = redis.wait();
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::copy(&dump, dir2.path().join("dump.rdb")).unwrap();
    let node = start(dir2.path(), "");
    let mut c = conn(&node);
    assert_eq!(describe_collections(&mut c), theirs);
}

/// Keys in databases 0, 3 and 15 of one connection, with a TTL in db 3.
fn populate_databases(c: &mut redis::Connection) {
    for (db, n) in [(0, 5), (3, 7), (15, 2)] {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        for i in 0..n {
            let _: () = c.set(format!("k{i}"), format!("db{db}-v{i}")).unwrap();
        }
    }
    let _: () = redis::cmd("SELECT").arg(3).query(c).unwrap();
    let _: () = c.expire("k0", 3600).unwrap();
    let _: () = c.hset("h", "f", "in-three").unwrap();
    let _: () = redis::cmd("SELECT").arg(15).query(c).unwrap();
    let _: () = c.rpush("l", &["a", "b"]).unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

/// One database as `describe_databases` sees it: its number, DBSIZE, and
/// every key with its value and whether it has a long TTL.
type DbContents = (u32, usize, Vec<(String, String, bool)>);

/// Every database's contents.
fn describe_databases(c: &mut redis::Connection) -> Vec<DbContents> {
    let mut out = Vec::new();
    for db in 0..16u32 {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let n: usize = redis::cmd("DBSIZE").query(c).unwrap();
        let mut keys: Vec<String> = c.keys("*").unwrap();
        keys.sort();
        let rows = keys
            .into_iter()
            .map(|k| {
                let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
                let v = match t.as_str() {
                    "string" => c.get(&k).unwrap(),
                    "hash" => c.hget(&k, "f").unwrap(),
                    _ => c.lrange::<_, Vec<String>>(&k, 0, -1).unwrap().join(","),
                };
                let ttl: i64 = c.ttl(&k).unwrap();
                (k, v, ttl > 3500)
            })
            .collect();
        out.push((db, n, rows));
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    out
}

/// A snapshot with databases 0, 3 and 15 both ways: written by redis-server
/// it loads here into the same databases, and written here it has SELECTDB
/// and RESIZEDB for exactly those databases, passes redis-check-rdb and
/// loads in redis-server the same.
#[test]
fn databases_cross_load_with_redis_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut redis, mut rc) = redis_server_on(dir.path());
    populate_databases(&mut rc);
    let theirs = describe_databases(&mut rc);
    assert_eq!(
        theirs.iter().map(|(_, n, _)| *n).collect::<Vec<_>>(),
        [5, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]
    );
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    let _ = redis.kill();
    let _ = redis.wait();

    let node = start(dir.path(), "");
    let mut c = conn(&node);
    assert_eq!(describe_databases(&mut c), theirs);
    let keyspace: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    let lines: Vec<&str> = keyspace.lines().filter(|l| l.starts_with("db")).collect();
    assert_eq!(lines.len(), 3, "{keyspace}");
    assert!(lines[0].starts_with("db0:keys=5,expires=0,"), "{keyspace}");
    assert!(lines[1].starts_with("db3:keys=8,expires=1,"), "{keyspace}");
    assert!(lines[2].starts_with("db15:keys=3,expires=0,"), "{keyspace}");

    // Back the other way: our own SAVE of the same data.
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    drop(node);
    let dump = dir.path().join("dump.rdb");
    let data = std::fs::read(&dump).unwrap();
    let mut per_db = [0usize; 16];
    read(
        &data,
        &ReadOptions {
            now_ms: 0,
            databases: 16,
        },
        |e| {
            per_db[e.db] += 1;
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(per_db, [5, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]);
    // SELECTDB (0xFE) n then RESIZEDB (0xFB) keys expires, once per db.
    for (db, keys, expires) in [(0u8, 5u8, 0u8), (3, 8, 1), (15, 3, 0)] {
        let op = [0xFE, db, 0xFB, keys, expires];
        assert!(
            data.windows(5).any(|w| w == op),
            "no SELECTDB {db} + RESIZEDB {keys} {expires}"
        );
    }
    let check = Command::new("redis-check-rdb").arg(&dump).output().unwrap();
    let text = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success() && text.contains("RDB looks OK"),
        "{text}"
    );
    let (mut redis, mut rc) = redis_server_on(dir.path());
    assert_eq!(describe_databases(&mut rc), theirs);
    let _ = redis.kill();
    let _ = redis.wait();
}

/// SAVE, BGSAVE and SHUTDOWN SAVE write the snapshot file (dbfilename in
/// dir) when periodic snapshots are off, as redis-server does with
/// `save ""`.
#[test]
fn save_works_with_periodic_snapshots_off() {
    let node = common::redistill(&[]);
    let mut c = node.client().get_connection().unwrap();
    let dir: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("dir")
        .query(&mut c)
        .unwrap();
    let file = Path::new(&dir[1]).join("redistill.rdb");
    let _: () = c.set("a", "1").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(read_file(&file).len(), 1);
    let _: () = c.set("b", "2").unwrap();
    let started: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_file(&file).len() != 2 {
        assert!(Instant::now() < deadline, "BGSAVE never wrote the file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _: () = c.set("c", "3").unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").query::<()>(&mut c);
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_file(&file).len() != 3 {
        assert!(
            Instant::now() < deadline,
            "SHUTDOWN SAVE never wrote the file"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
