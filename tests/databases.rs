//! Numbered databases across clients, over real connections: SWAPDB and
//! MOVE against WATCH and blocked clients, MOVE/COPY/SWAPDB inside
//! transactions, a script's SELECT staying in the script, expiry and
//! eviction in every database, CLIENT LIST's db= and cmd=.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{info_u64, redistill, Raw};

fn conn(port: u16, db: u32) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/{db}"))
        .unwrap()
        .get_connection()
        .unwrap()
}

fn raw_in(port: u16, db: u32) -> Raw {
    let mut r = Raw::connect(port);
    let select = format!("SELECT {db}\r\n");
    assert_eq!(r.roundtrip(select.as_bytes(), b"+OK\r\n"), b"+OK\r\n");
    r
}

fn query<T: redis::FromRedisValue>(c: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

#[test]
fn swapdb_and_move_touch_watched_keys_as_redis_does() {
    let srv = redistill(&[]);
    let mut other = conn(srv.port, 0);
    let null = b"*-1\r\n";
    let done = b"*1\r\n+OK\r\n";
    let mut w = raw_in(srv.port, 1);
    // WATCH k, let `act` run, then EXEC: the reply is null or the SET's OK.
    let exec_after = |w: &mut Raw, act: &mut dyn FnMut()| -> Vec<u8> {
        w.roundtrip(b"WATCH k\r\n", b"+OK\r\n");
        act();
        w.roundtrip(b"MULTI\r\n", b"+OK\r\n");
        w.roundtrip(b"SET z 1\r\n", b"+QUEUED\r\n");
        let mut got = w.roundtrip(b"EXEC\r\n", null);
        if got != null {
            got.extend(w.read_n(done.len() - null.len()));
        }
        got
    };
    // k missing in db 1, present in db 0: SWAPDB 0 1 changes it.
    let _: () = query(&mut other, &["SET", "k", "v"]);
    let got = exec_after(&mut w, &mut || {
        let _: () = query(&mut other, &["SWAPDB", "0", "1"]);
    });
    assert_eq!(got, null);
    // k missing on both sides: a swap changes nothing the client watched.
    let _: () = query(&mut other, &["FLUSHALL"]);
    let got = exec_after(&mut w, &mut || {
        let _: () = query(&mut other, &["SWAPDB", "0", "1"]);
    });
    assert_eq!(got, done);
    // A swap of two other databases leaves db 1 alone.
    let _: () = query(&mut other, &["SET", "k", "v"]);
    let got = exec_after(&mut w, &mut || {
        let _: () = query(&mut other, &["SWAPDB", "0", "2"]);
    });
    assert_eq!(got, done);
    // MOVE into the watched database.
    let _: () = query(&mut other, &["FLUSHALL"]);
    let _: () = query(&mut other, &["SET", "k", "v"]);
    let got = exec_after(&mut w, &mut || {
        assert_eq!(query::<i64>(&mut other, &["MOVE", "k", "1"]), 1);
    });
    assert_eq!(got, null);
    // MOVE out of it.
    let got = exec_after(&mut w, &mut || {
        let mut one = conn(srv.port, 1);
        assert_eq!(query::<i64>(&mut one, &["MOVE", "k", "4"]), 1);
    });
    assert_eq!(got, null);
    srv.assert_healthy();
}

#[test]
fn swapdb_serves_clients_blocked_on_keys_that_now_exist() {
    let srv = redistill(&[]);
    let mut blocked = raw_in(srv.port, 1);
    blocked.send(b"BLPOP q 10\r\n");
    let mut c = conn(srv.port, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "blocked_clients") != 1 {
        assert!(Instant::now() < deadline, "client never blocked");
        thread::sleep(Duration::from_millis(5));
    }
    // A push in db 0 does not serve a client waiting in db 1...
    assert_eq!(query::<i64>(&mut c, &["RPUSH", "q", "x", "y"]), 2);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(info_u64(&mut c, "blocked_clients"), 1);
    // ...until the swap brings the list to db 1.
    let _: () = query(&mut c, &["SWAPDB", "0", "1"]);
    let want = b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n";
    assert_eq!(blocked.read_n(want.len()), want);
    assert_eq!(info_u64(&mut c, "blocked_clients"), 0);
    let mut one = conn(srv.port, 1);
    assert_eq!(
        query::<Vec<String>>(&mut one, &["LRANGE", "q", "0", "-1"]),
        ["y"]
    );
    assert_eq!(query::<i64>(&mut c, &["EXISTS", "q"]), 0);
}

#[test]
fn transactions_and_scripts_use_their_connections_database() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port, 2);
    let replies: Vec<redis::Value> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .cmd("MOVE")
        .arg("a")
        .arg("0")
        .cmd("SET")
        .arg("b")
        .arg("2")
        .cmd("COPY")
        .arg("b")
        .arg("b")
        .arg("DB")
        .arg("5")
        .cmd("DBSIZE")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        replies,
        [
            redis::Value::Okay,
            redis::Value::Int(1),
            redis::Value::Okay,
            redis::Value::Int(1),
            redis::Value::Int(1),
        ]
    );
    let mut zero = conn(srv.port, 0);
    let mut five = conn(srv.port, 5);
    assert_eq!(query::<String>(&mut zero, &["GET", "a"]), "1");
    assert_eq!(query::<String>(&mut five, &["GET", "b"]), "2");
    // SELECT inside MULTI changes the connection's database for good.
    let _: Vec<redis::Value> = redis::pipe()
        .atomic()
        .cmd("SELECT")
        .arg("5")
        .cmd("SET")
        .arg("c")
        .arg("3")
        .query(&mut c)
        .unwrap();
    assert_eq!(query::<String>(&mut c, &["GET", "b"]), "2");
    let _: () = query(&mut c, &["SELECT", "2"]);
    // A script's SELECT is its own: the caller stays in db 2.
    let n: i64 = query(
        &mut c,
        &[
            "EVAL",
            "redis.call('SELECT', 7) redis.call('SET', KEYS[1], 'x') return redis.call('DBSIZE')",
            "1",
            "s",
        ],
    );
    assert_eq!(n, 1);
    assert_eq!(query::<Option<String>>(&mut c, &["GET", "s"]), None);
    assert_eq!(query::<String>(&mut conn(srv.port, 7), &["GET", "s"]), "x");
    let info: String = query(&mut c, &["CLIENT", "INFO"]);
    assert!(info.contains(" db=2 "), "{info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    srv.assert_healthy();
}

#[test]
fn keys_expire_and_are_evicted_in_every_database() {
    let srv = redistill(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-random"]);
    // Active expiry reclaims keys in a database nobody reads.
    let mut nine = conn(srv.port, 9);
    for i in 0..100 {
        let _: () = query(&mut nine, &["SET", &format!("t{i}"), "v", "PX", "30"]);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while query::<i64>(&mut nine, &["DBSIZE"]) > 0 {
        assert!(Instant::now() < deadline, "keys in db 9 never expired");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(info_u64(&mut nine, "expired_keys") >= 100);
    // Memory is one budget: filling db 0 evicts from db 3 too.
    let mut three = conn(srv.port, 3);
    let value = "x".repeat(1000);
    for i in 0..1500 {
        let _: () = query(&mut three, &["SET", &format!("a{i}"), &value]);
    }
    let before: i64 = query(&mut three, &["DBSIZE"]);
    let mut zero = conn(srv.port, 0);
    for i in 0..6000 {
        let _: () = query(&mut zero, &["SET", &format!("b{i}"), &value]);
    }
    let after: i64 = query(&mut three, &["DBSIZE"]);
    assert!(after < before, "db 3 kept {after} of {before} keys");
    assert!(info_u64(&mut zero, "used_memory") <= 4 * 1024 * 1024 + 64 * 1024);
    srv.assert_healthy();
}

#[test]
fn client_list_shows_each_connections_database_and_last_command() {
    let srv = redistill(&[]);
    let mut a = raw_in(srv.port, 11);
    a.roundtrip(b"PING\r\n", b"+PONG\r\n");
    let mut c = conn(srv.port, 0);
    let list: String = query(&mut c, &["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(" db=11 "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains(" cmd=ping "), "{line}");
    // RESET goes back to db 0; HELLO does not change the database.
    a.roundtrip(b"SET k v\r\n", b"+OK\r\n");
    a.send(b"HELLO 2\r\nPING\r\n");
    let mut got = Vec::new();
    while !got.ends_with(b"+PONG\r\n") {
        let more = a.read_n(1);
        assert!(!more.is_empty(), "no reply to HELLO");
        got.extend(more);
    }
    assert_eq!(a.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n"), b"$1\r\nv\r\n");
    a.roundtrip(b"RESET\r\n", b"+RESET\r\n");
    assert_eq!(a.roundtrip(b"GET k\r\n", b"$-1\r\n"), b"$-1\r\n");
}
