//! Memory limit and eviction through the real server: the limit holds under
//! a write storm for every evicting policy, noeviction refuses writes with
//! Redis's OOM error while reads and deletes keep working, and the keys a
//! command writes are never its own victims.

mod common;
use common::{redistill, rss_of};
use redis::{Commands, RedisResult, Value};

fn info_field(c: &mut redis::Connection, field: &str) -> u64 {
    common::info_u64(c, field)
}

#[test]
fn limit_holds_under_a_write_storm_for_every_policy() {
    let max: u64 = 4 << 20;
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-s3fifo"] {
        let srv = redistill(&["--maxmemory", "4mb", "--maxmemory-policy", policy]);
        let client = srv.client();
        let mut writer = client.get_connection().unwrap();
        let mut watcher = client.get_connection().unwrap();
        let value = vec![b'v'; 1024];
        let mut worst = 0;
        // 40 MB of 1 KB values into 4 MB, sampled after every batch.
        for batch in 0..400 {
            let mut pipe = redis::pipe();
            for i in 0..100 {
                pipe.cmd("SET")
                    .arg(format!("key:{batch}:{i}"))
                    .arg(&value)
                    .ignore();
            }
            let _: () = pipe.query(&mut writer).unwrap();
            let used = info_field(&mut watcher, "used_memory");
            worst = worst.max(used);
            assert!(
                used <= max + max / 100 + 64 * 1024,
                "{policy}: used_memory {used} passed the limit {max}"
            );
        }
        let evicted = info_field(&mut watcher, "evicted_keys");
        let keys: u64 = redis::cmd("DBSIZE").query(&mut watcher).unwrap();
        assert!(evicted > 30_000, "{policy}: evicted only {evicted}");
        assert!(keys > 1000, "{policy}: kept only {keys} keys");
        assert_eq!(evicted + keys, 40_000, "{policy}");
        assert!(
            worst > max * 9 / 10,
            "{policy}: the limit was never approached ({worst})"
        );
        let rss = rss_of(srv.pid());
        assert!(rss < 200 << 20, "{policy}: RSS {rss}");
        srv.assert_healthy();
    }
}

/// Lists, sets, sorted sets and hashes that keep growing: their bytes are
/// charged as they grow, whole collections (large ones included) are
/// evicted, and the limit holds.
#[test]
fn collections_are_charged_and_evicted_under_a_write_storm() {
    let max: u64 = 4 << 20;
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-s3fifo"] {
        let srv = redistill(&["--maxmemory", "4mb", "--maxmemory-policy", policy]);
        let client = srv.client();
        let mut writer = client.get_connection().unwrap();
        let mut watcher = client.get_connection().unwrap();
        let item = vec![b'i'; 100];
        let mut worst = 0;
        // 300 batches of 400 100-byte items (about 12 MB) spread over 200
        // collections of each type, so each grows past its compact form.
        for batch in 0..300 {
            let mut pipe = redis::pipe();
            for i in 0..100 {
                let k = (batch * 7 + i) % 200;
                let m = format!("{batch}:{i}:{}", String::from_utf8_lossy(&item[..60]));
                pipe.cmd("RPUSH")
                    .arg(format!("list:{k}"))
                    .arg(&item)
                    .ignore();
                pipe.cmd("SADD").arg(format!("set:{k}")).arg(&m).ignore();
                pipe.cmd("ZADD")
                    .arg(format!("zset:{k}"))
                    .arg(batch * 100 + i)
                    .arg(&m)
                    .ignore();
                pipe.cmd("HSET")
                    .arg(format!("hash:{k}"))
                    .arg(&m)
                    .arg(&item)
                    .ignore();
            }
            let _: () = pipe.query(&mut writer).unwrap();
            let used = info_field(&mut watcher, "used_memory");
            worst = worst.max(used);
            assert!(
                used <= max + max / 50 + 64 * 1024,
                "{policy}: used_memory {used} passed the limit {max}"
            );
        }
        let evicted = info_field(&mut watcher, "evicted_keys");
        assert!(evicted > 100, "{policy}: evicted only {evicted}");
        assert!(
            worst > max * 9 / 10,
            "{policy}: the limit was never approached ({worst})"
        );
        // Every type survived somewhere and reads back whole.
        for (pattern, kind) in [
            ("list:*", "list"),
            ("set:*", "set"),
            ("zset:*", "zset"),
            ("hash:*", "hash"),
        ] {
            let keys: Vec<String> = watcher.keys(pattern).unwrap();
            assert!(!keys.is_empty(), "{policy}: no {kind} left");
            let t: String = redis::cmd("TYPE")
                .arg(&keys[0])
                .query(&mut watcher)
                .unwrap();
            assert_eq!(t, kind);
        }
        let used = info_field(&mut watcher, "used_memory");
        let _: () = redis::cmd("FLUSHALL").query(&mut watcher).unwrap();
        assert!(
            info_field(&mut watcher, "used_memory") < used / 4,
            "{policy}: memory not released"
        );
        srv.assert_healthy();
    }
}

fn err(r: RedisResult<Value>) -> String {
    let e = r.unwrap_err();
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let srv = redistill(&["--maxmemory", "1mb", "--maxmemory-policy", "noeviction"]);
    let mut c = srv.client().get_connection().unwrap();
    let value = vec![b'v'; 1000];
    let mut stored = 0;
    loop {
        match c.set::<_, _, ()>(format!("k{stored}"), &value) {
            Ok(()) => stored += 1,
            Err(e) => {
                assert_eq!(
                    format!("{} {}", e.code().unwrap(), e.detail().unwrap()),
                    OOM
                );
                break;
            }
        }
        assert!(stored < 10_000, "the limit was never enforced");
    }
    assert!(stored > 500);
    // Fill the last bytes with the smallest writes, so every command below would pass the limit.
    let mut small = 0;
    while c.set::<_, _, ()>(format!("s{small}"), "").is_ok() {
        small += 1;
        assert!(small < 1000);
    }
    assert!(info_field(&mut c, "used_memory") <= 1 << 20);
    // Every growing write path is refused.
    for cmd in [
        redis::cmd("APPEND").arg("k0").arg(&value).clone(),
        redis::cmd("SETRANGE").arg("k0").arg(5000).arg("x").clone(),
        redis::cmd("INCR").arg("counter").clone(),
        redis::cmd("HSET").arg("h").arg("f").arg(&value).clone(),
        redis::cmd("MSET")
            .arg("a")
            .arg(&value)
            .arg("b")
            .arg(&value)
            .clone(),
        redis::cmd("SETNX").arg("new").arg(&value).clone(),
        redis::cmd("GETSET").arg("k0").arg(&value).clone(),
        redis::cmd("HINCRBYFLOAT")
            .arg("h")
            .arg("f")
            .arg("1.5")
            .clone(),
        redis::cmd("COPY").arg("k0").arg("k0copy").clone(),
        redis::cmd("RPUSH").arg("list").arg(&value).clone(),
        redis::cmd("LPUSHX").arg("k0list").arg(&value).clone(),
        redis::cmd("SADD").arg("set").arg(&value).clone(),
        redis::cmd("ZADD").arg("zset").arg(1).arg(&value).clone(),
        redis::cmd("ZINCRBY").arg("zset").arg(1).arg("m").clone(),
        redis::cmd("SUNIONSTORE").arg("dest").arg("k0set").clone(),
        redis::cmd("BLMOVE")
            .arg("list")
            .arg("l2")
            .arg("LEFT")
            .arg("RIGHT")
            .arg(0)
            .clone(),
    ] {
        assert_eq!(err(cmd.query(&mut c)), OOM);
    }
    // Reads, TTL and deletes still work; freeing memory lets writes through.
    assert_eq!(c.get::<_, Vec<u8>>("k0").unwrap(), value);
    assert_eq!(c.ttl::<_, i64>("k0").unwrap(), -1);
    assert_eq!(c.del::<_, i64>(&["k0", "k1", "k2"]).unwrap(), 3);
    let _: () = c.set("k0", &value).unwrap();
    let rejected: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .unwrap();
    assert!(
        rejected.contains("cmdstat_set:") && rejected.contains("rejected_calls=1"),
        "{rejected}"
    );
}

#[test]
fn runtime_limit_changes_and_protected_keys() {
    let srv = redistill(&[]);
    let mut c = srv.client().get_connection().unwrap();
    let value = vec![b'v'; 1000];
    for i in 0..3000 {
        let _: () = c.set(format!("k{i}"), &value).unwrap();
    }
    // Tracked without a limit.
    let used = info_field(&mut c, "used_memory");
    assert!(used > 3000 * 1000, "used_memory {used}");
    let usage: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("k1")
        .query(&mut c)
        .unwrap();
    assert!(usage > 1000 && usage < 1200, "MEMORY USAGE {usage}");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1mb")
        .query(&mut c)
        .unwrap();
    let _: () = c.set("trigger", &value).unwrap();
    assert!(info_field(&mut c, "used_memory") <= 1 << 20);
    assert_eq!(
        c.get::<_, Vec<u8>>("trigger").unwrap(),
        value,
        "the written key was evicted"
    );
    // A value larger than everything else: every other key goes, the new one stays.
    let big = vec![b'x'; 900 * 1024];
    let _: () = c.set("big", &big).unwrap();
    assert_eq!(c.strlen::<_, u64>("big").unwrap(), big.len() as u64);
    // A value larger than the limit cannot fit at all.
    let huge = vec![b'x'; 2 << 20];
    assert_eq!(
        err(redis::cmd("SET").arg("huge").arg(&huge).query(&mut c)),
        OOM
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-s3fifo")
        .query(&mut c)
        .unwrap();
    for i in 0..2000 {
        let _: () = c.set(format!("s{i}"), &value).unwrap();
    }
    assert!(info_field(&mut c, "used_memory") <= 1 << 20);
    let freq: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("s1999")
        .query(&mut c)
        .unwrap();
    assert!((0..=3).contains(&freq));
    srv.assert_healthy();
}
