//! Lists, sets and sorted sets over real connections: blocking pops served
//! by other clients (in arrival order, by transactions and scripts, along a
//! BLMOVE chain), timeouts, CLIENT UNBLOCK and disconnects; large values
//! freed in the background; bad input answered with bounded memory.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{info_u64, redistill, Raw};
use redis::Commands;

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Waits until INFO says `n` clients are blocked.
fn wait_blocked(c: &mut redis::Connection, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(c, "blocked_clients") != n {
        assert!(Instant::now() < deadline, "never saw {n} blocked clients");
        thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `args` on a new connection in a thread; its reply comes back
/// through the join handle.
fn spawn_cmd(port: u16, args: &[&str]) -> thread::JoinHandle<redis::Value> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    thread::spawn(move || {
        let mut c = conn(port);
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        cmd.query(&mut c).unwrap()
    })
}

fn bulk(s: &str) -> redis::Value {
    redis::Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn blocked_clients_are_served_in_order_by_commands_transactions_and_scripts() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);

    // Three clients wait on one list; one push of three serves them in
    // the order they blocked.
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let h = spawn_cmd(srv.port, &["BRPOP", "q", "10"]);
            wait_blocked(&mut c, i + 1);
            h
        })
        .collect();
    let _: i64 = c.rpush("q", &["a", "b", "c"]).unwrap();
    let got: Vec<redis::Value> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
    let expect = |v: &str| redis::Value::Array(vec![bulk("q"), bulk(v)]);
    assert_eq!(got, vec![expect("c"), expect("b"), expect("a")]);
    assert_eq!(info_u64(&mut c, "blocked_clients"), 0);

    // A transaction serves the client after EXEC, with its final state.
    let h = spawn_cmd(srv.port, &["BLPOP", "t", "10"]);
    wait_blocked(&mut c, 1);
    let (): () = redis::pipe()
        .atomic()
        .lpush("t", "x")
        .lpush("t", "y")
        .ignore()
        .ignore()
        .query(&mut c)
        .unwrap();
    assert_eq!(
        h.join().unwrap(),
        redis::Value::Array(vec![bulk("t"), bulk("y")])
    );

    // A transaction that pushes and then deletes wakes no one.
    let h = spawn_cmd(srv.port, &["BLPOP", "gone", "0.3"]);
    wait_blocked(&mut c, 1);
    let (): () = redis::pipe()
        .atomic()
        .lpush("gone", "x")
        .del("gone")
        .ignore()
        .ignore()
        .query(&mut c)
        .unwrap();
    assert_eq!(h.join().unwrap(), redis::Value::Nil);

    // A script's push serves a sorted-set waiter too.
    let h = spawn_cmd(srv.port, &["BZPOPMIN", "z", "10"]);
    wait_blocked(&mut c, 1);
    let _: i64 = redis::cmd("EVAL")
        .arg("return redis.call('ZADD', KEYS[1], 5, 'five', 1, 'one')")
        .arg(1)
        .arg("z")
        .query(&mut c)
        .unwrap();
    let got = h.join().unwrap();
    assert_eq!(
        got,
        redis::Value::Array(vec![bulk("z"), bulk("one"), bulk("1")])
    );

    // A BLMOVE chain: a push to l1 moves to l2, which serves the next waiter.
    let first = spawn_cmd(srv.port, &["BLMOVE", "l1", "l2", "LEFT", "RIGHT", "10"]);
    wait_blocked(&mut c, 1);
    let second = spawn_cmd(srv.port, &["BLPOP", "l2", "10"]);
    wait_blocked(&mut c, 2);
    let _: i64 = c.rpush("l1", "hop").unwrap();
    assert_eq!(first.join().unwrap(), bulk("hop"));
    assert_eq!(
        second.join().unwrap(),
        redis::Value::Array(vec![bulk("l2"), bulk("hop")])
    );
    let left: i64 = c.exists(&["l1", "l2"]).unwrap();
    assert_eq!(left, 0);
    srv.assert_healthy();
}

#[test]
fn timeouts_unblock_and_disconnects_end_a_wait() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);

    // A sub-second timeout answers a null array after about that long.
    let started = Instant::now();
    let v: redis::Value = redis::cmd("BLPOP")
        .arg("none")
        .arg("0.2")
        .query(&mut c)
        .unwrap();
    assert_eq!(v, redis::Value::Nil);
    assert!(started.elapsed() >= Duration::from_millis(200));

    // CLIENT UNBLOCK: TIMEOUT answers the timeout reply, ERROR an error.
    let mut blocked = Raw::connect(srv.port);
    blocked.send(b"CLIENT ID\r\n");
    let id_line = String::from_utf8(blocked.read_n(3)).unwrap();
    let id: u64 = id_line.trim_start_matches(':').trim().parse().unwrap();
    blocked.send(b"BLPOP none 0\r\n");
    wait_blocked(&mut c, 1);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains(&format!("id={id} ")) && l.contains("flags=b")),
        "{list}"
    );
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(blocked.read_n(5), b"*-1\r\n");
    blocked.send(b"BLPOP none 0\r\n");
    wait_blocked(&mut c, 1);
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .arg("ERROR")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    let want = b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";
    assert_eq!(blocked.read_n(want.len()), want.to_vec());
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 0, "a client that is not blocked");

    // Requests pipelined after a blocking command wait for it.
    blocked.send(b"BLPOP p 0\r\nPING\r\n");
    wait_blocked(&mut c, 1);
    let _: i64 = c.lpush("p", "v").unwrap();
    let want = b"*2\r\n$1\r\np\r\n$1\r\nv\r\n+PONG\r\n";
    assert_eq!(blocked.read_n(want.len()), want.to_vec());

    // A client that goes away while blocked leaves the queue; the pushed
    // element stays for others.
    blocked.send(b"BLPOP d 0\r\n");
    wait_blocked(&mut c, 1);
    drop(blocked);
    wait_blocked(&mut c, 0);
    let _: i64 = c.lpush("d", "kept").unwrap();
    let kept: Vec<String> = c.lrange("d", 0, -1).unwrap();
    assert_eq!(kept, vec!["kept"]);
    srv.assert_healthy();
}

#[test]
fn large_collections_are_freed_in_the_background() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    for chunk in 0..20 {
        let members: Vec<String> = (0..5000)
            .map(|i| format!("m{}", chunk * 5000 + i))
            .collect();
        let _: i64 = c.sadd("big", &members).unwrap();
    }
    let card: i64 = c.scard("big").unwrap();
    assert_eq!(card, 100_000);
    let before = info_u64(&mut c, "lazyfreed_objects");
    let _: i64 = c.del("big").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "lazyfreed_objects") == before {
        assert!(
            Instant::now() < deadline,
            "the set was not freed in the background"
        );
        thread::sleep(Duration::from_millis(5));
    }
    // Small values are freed at once.
    let _: i64 = c.sadd("small", &["a", "b"]).unwrap();
    let _: i64 = c.del("small").unwrap();
    assert_eq!(info_u64(&mut c, "lazyfreed_objects"), before + 1);
    srv.assert_healthy();
}

#[test]
fn bad_input_gets_redis_replies_and_bounded_memory() {
    let srv = redistill(&[]);
    let mut c = conn(srv.port);
    let _: i64 = c.rpush("l", &["a", "b", "c"]).unwrap();
    let _: i64 = c.sadd("s", &["a", "b"]).unwrap();
    let _: i64 = c.zadd("z", "a", 1).unwrap();
    let mut raw = Raw::connect(srv.port);
    for (req, want) in [
        // Huge counts and ranges take what there is.
        (
            &b"LPOP l 9223372036854775807\r\n"[..],
            &b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"[..],
        ),
        (
            b"LRANGE nokey -9223372036854775808 9223372036854775807\r\n",
            b"*0\r\n",
        ),
        (b"SPOP s 9223372036854775807\r\n", b"*2\r\n"),
        (
            b"ZRANGE z 0 -1 BYSCORE LIMIT 9223372036854775807 1\r\n",
            b"*0\r\n",
        ),
        // Repeats would build any size: bounded.
        (b"SADD s2 x\r\n", b":1\r\n"),
        (
            b"SRANDMEMBER s2 -9223372036854775807\r\n",
            b"-ERR value is out of range\r\n",
        ),
        (
            b"ZRANDMEMBER z -9223372036854775807\r\n",
            b"-ERR value is out of range\r\n",
        ),
        // Scores.
        (b"ZADD z nan a\r\n", b"-ERR value is not a valid float\r\n"),
        (b"ZINCRBY z inf a\r\n", b"$3\r\ninf\r\n"),
        (
            b"ZINCRBY z -inf a\r\n",
            b"-ERR resulting score is not a number (NaN)\r\n",
        ),
        (
            b"ZRANGEBYSCORE z (nan 1\r\n",
            b"-ERR min or max is not a float\r\n",
        ),
        (b"BLPOP l -1\r\n", b"-ERR timeout is negative\r\n"),
        (b"BLPOP l 1e400\r\n", b"-ERR timeout is negative\r\n"),
        (
            b"BLPOP l 1e5000\r\n",
            b"-ERR timeout is not a float or out of range\r\n",
        ),
        (b"PING\r\n", b"+PONG\r\n"),
    ] {
        let got = raw.roundtrip(req, want);
        assert_eq!(
            String::from_utf8_lossy(&got[..want.len().min(got.len())]),
            String::from_utf8_lossy(want),
            "{}",
            String::from_utf8_lossy(req)
        );
        if req.starts_with(b"SPOP") {
            // The two members follow.
            raw.read_n(14);
        }
    }
    // A million members in one call, through the query buffer.
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"m".to_vec()];
    args.extend((0..1_000_000).map(|i| format!("{i}").into_bytes()));
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    raw.send(&common::cmd(&refs));
    let want = b":1000000\r\n";
    assert_eq!(raw.read_n(want.len()), want.to_vec());
    let card: i64 = c.scard("m").unwrap();
    assert_eq!(card, 1_000_000);
    // Many strings, many new scored members, one member repeated many
    // times: each call stays linear (no search of everything seen so far).
    let n = 200_000;
    let mut sadd: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"strs".to_vec()];
    sadd.extend((0..n).map(|i| format!("member:{i}").into_bytes()));
    let mut zadd: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"board".to_vec()];
    zadd.extend((0..n).flat_map(|i| {
        [
            format!("{i}").into_bytes(),
            format!("player:{i}").into_bytes(),
        ]
    }));
    let mut zsame: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"same".to_vec(), b"CH".to_vec()];
    zsame.extend((0..n).flat_map(|i| [format!("{i}").into_bytes(), b"one".to_vec()]));
    for (args, want) in [
        (&sadd, format!(":{n}\r\n")),
        (&zadd, format!(":{n}\r\n")),
        // CH counts the add and every later change of the repeated member.
        (&zsame, format!(":{n}\r\n")),
    ] {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        raw.send(&common::cmd(&refs));
        assert_eq!(raw.read_n(want.len()), want.as_bytes().to_vec());
    }
    let last: f64 = c.zscore("same", "one").unwrap();
    assert_eq!(last, (n - 1) as f64);
    srv.assert_healthy();
}
