//! Transactions and Pub/Sub across clients, over real connections: WATCH
//! invalidated by another client, EXEC atomic under concurrent writers, the
//! concurrency counter test, message delivery in RESP2 and RESP3, and a
//! subscriber that stops reading being disconnected without slowing
//! anyone else.

mod common;

use std::time::{Duration, Instant};

use common::{cmd, redistill, Raw};

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap()
}

#[test]
fn watch_is_invalidated_by_other_clients_expiry_and_flush() {
    let srv = redistill(&[]);
    let mut a = Raw::connect(srv.port);
    let mut b = Raw::connect(srv.port);
    let null = b"*-1\r\n";
    // Another client's write.
    a.roundtrip(b"SET k 1\r\n", b"+OK\r\n");
    a.roundtrip(b"WATCH k\r\n", b"+OK\r\n");
    b.roundtrip(b"SET k 2\r\n", b"+OK\r\n");
    a.roundtrip(b"MULTI\r\n", b"+OK\r\n");
    a.roundtrip(b"INCR k\r\n", b"+QUEUED\r\n");
    assert_eq!(a.roundtrip(b"EXEC\r\n", null), null.to_vec());
    // Another client's DEL of the key.
    a.roundtrip(b"WATCH k\r\n", b"+OK\r\n");
    b.roundtrip(b"DEL k\r\n", b":1\r\n");
    a.roundtrip(b"MULTI\r\n", b"+OK\r\n");
    a.roundtrip(b"SET k 5\r\n", b"+QUEUED\r\n");
    assert_eq!(a.roundtrip(b"EXEC\r\n", null), null.to_vec());
    // A key that expires while watched.
    a.roundtrip(b"SET t v PX 50\r\n", b"+OK\r\n");
    a.roundtrip(b"WATCH t\r\n", b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(120));
    a.roundtrip(b"MULTI\r\n", b"+OK\r\n");
    a.roundtrip(b"GET x\r\n", b"+QUEUED\r\n");
    assert_eq!(a.roundtrip(b"EXEC\r\n", null), null.to_vec());
    // A read by another client changes nothing.
    a.roundtrip(b"SET k 1\r\n", b"+OK\r\n");
    a.roundtrip(b"WATCH k\r\n", b"+OK\r\n");
    b.roundtrip(b"GET k\r\n", b"$1\r\n1\r\n");
    a.roundtrip(b"MULTI\r\n", b"+OK\r\n");
    a.roundtrip(b"INCR k\r\n", b"+QUEUED\r\n");
    let ok = b"*1\r\n:2\r\n";
    assert_eq!(a.roundtrip(b"EXEC\r\n", ok), ok.to_vec());
    // CLIENT LIST shows the queue length and the x flag.
    a.roundtrip(b"MULTI\r\n", b"+OK\r\n");
    a.roundtrip(b"GET k\r\n", b"+QUEUED\r\n");
    let mut c = conn(srv.port);
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains("flags=x") && l.contains("multi=1")),
        "{list}"
    );
    a.roundtrip(b"DISCARD\r\n", b"+OK\r\n");
    srv.assert_healthy();
}

/// N clients increment one counter with INCR in MULTI, with WATCH +
/// GET + SET retry loops and with a Lua script (GET + SET, atomic only if
/// scripts are); the final value equals the acknowledged increments, and
/// no reader ever sees a transaction half applied.
#[test]
fn concurrent_transactions_lose_no_increment() {
    let srv = redistill(&["--threads", "2"]);
    let port = srv.port;
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut threads = Vec::new();
    let script = redis::Script::new(
        "local v = tonumber(redis.call('GET', KEYS[1]) or '0') \
         redis.call('SET', KEYS[1], v + 1) \
         return redis.call('INCR', KEYS[2])",
    );
    for t in 0..9 {
        let acked = acked.clone();
        let script = script.clone();
        threads.push(std::thread::spawn(move || {
            let mut c = conn(port);
            for _ in 0..300 {
                if t % 3 == 2 {
                    // A script reads, then writes: only atomic if scripts are.
                    let _: i64 = script.key("counter").key("mirror").invoke(&mut c).unwrap();
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else if t % 3 == 0 {
                    // MULTI INCR: both counters move together.
                    let (a, b): (i64, i64) = redis::pipe()
                        .atomic()
                        .incr("counter", 1)
                        .incr("mirror", 1)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(a, b, "a transaction was seen half applied");
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    // Optimistic: WATCH, read, write back, retry on conflict.
                    loop {
                        let _: () = redis::cmd("WATCH").arg("counter").query(&mut c).unwrap();
                        let v: Option<i64> =
                            redis::cmd("GET").arg("counter").query(&mut c).unwrap();
                        let v = v.unwrap_or(0);
                        let r: Option<(String, i64)> = redis::pipe()
                            .atomic()
                            .set("counter", v + 1)
                            .incr("mirror", 1)
                            .query(&mut c)
                            .unwrap();
                        if r.is_some() {
                            acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let mut c = conn(port);
    let counter: u64 = redis::cmd("GET").arg("counter").query(&mut c).unwrap();
    let mirror: u64 = redis::cmd("GET").arg("mirror").query(&mut c).unwrap();
    let acked = acked.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(counter, acked);
    assert_eq!(mirror, acked);
    assert_eq!(acked, 9 * 300);
}

#[test]
fn messages_reach_subscribers_in_resp2_and_resp3() {
    let srv = redistill(&[]);
    let mut sub = Raw::connect(srv.port);
    let mut psub = Raw::connect(srv.port);
    let mut sub3 = Raw::connect(srv.port);
    let mut publ = Raw::connect(srv.port);
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    assert_eq!(
        sub.roundtrip(b"SUBSCRIBE news\r\n", confirm),
        confirm.to_vec()
    );
    let pconfirm = b"*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n";
    assert_eq!(
        psub.roundtrip(b"PSUBSCRIBE n*\r\n", pconfirm),
        pconfirm.to_vec()
    );
    sub3.send(b"HELLO 3\r\n");
    let _hello = sub3.read_n(1);
    std::thread::sleep(Duration::from_millis(100));
    sub3.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let _ = std::io::Read::read(&mut sub3.stream, &mut buf);
    sub3.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let confirm3 = b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    assert_eq!(
        sub3.roundtrip(b"SUBSCRIBE news\r\n", confirm3),
        confirm3.to_vec()
    );
    // Three receptions: two channel subscribers and one pattern.
    assert_eq!(publ.roundtrip(b"PUBLISH news hi\r\n", b":3\r\n"), b":3\r\n");
    let msg = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    assert_eq!(sub.read_n(msg.len()), msg.to_vec());
    let pmsg = b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    assert_eq!(psub.read_n(pmsg.len()), pmsg.to_vec());
    let msg3 = b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n";
    assert_eq!(sub3.read_n(msg3.len()), msg3.to_vec());
    // RESP3 subscribers may run any command.
    assert_eq!(sub3.roundtrip(b"SET a b\r\n", b"+OK\r\n"), b"+OK\r\n");
    // A subscriber that publishes to itself gets the message first.
    let own = b"*3\r\n$7\r\nmessage\r\n$4\r\nself\r\n$1\r\nx\r\n:1\r\n";
    let mut me = Raw::connect(srv.port);
    me.send(b"HELLO 3\r\n");
    std::thread::sleep(Duration::from_millis(100));
    me.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let _ = std::io::Read::read(&mut me.stream, &mut buf);
    me.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let c = b">3\r\n$9\r\nsubscribe\r\n$4\r\nself\r\n:1\r\n";
    assert_eq!(me.roundtrip(b"SUBSCRIBE self\r\n", c), c.to_vec());
    let own3 = b">3\r\n$7\r\nmessage\r\n$4\r\nself\r\n$1\r\nx\r\n:1\r\n";
    assert_eq!(me.roundtrip(b"PUBLISH self x\r\n", own3), own3.to_vec());
    let _ = own;
    // INFO counts channels and patterns; PUBSUB NUMSUB counts subscribers.
    let mut c = conn(srv.port);
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("pubsub_channels:2"), "{info}");
    assert!(info.contains("pubsub_patterns:1"), "{info}");
    let n: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .query(&mut c)
        .unwrap();
    assert_eq!(n[1], redis::Value::Int(2));
    // Closing a subscriber unsubscribes it.
    drop(sub);
    std::thread::sleep(Duration::from_millis(100));
    let n: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .query(&mut c)
        .unwrap();
    assert_eq!(n[1], redis::Value::Int(1));
    srv.assert_healthy();
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_slows_nobody() {
    let srv = redistill(&[]);
    let mut slow = Raw::connect(srv.port);
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n";
    assert_eq!(
        slow.roundtrip(b"SUBSCRIBE c\r\n", confirm),
        confirm.to_vec()
    );
    let mut fast = Raw::connect(srv.port);
    assert_eq!(
        fast.roundtrip(b"SUBSCRIBE c\r\n", confirm),
        confirm.to_vec()
    );
    // `fast` keeps reading in a thread; `slow` never reads again.
    let reader = std::thread::spawn(move || {
        let mut total = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        fast.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        while let Ok(n) = std::io::Read::read(&mut fast.stream, &mut buf) {
            if n == 0 {
                break;
            }
            total += n;
            if total >= 60 << 20 {
                break;
            }
        }
        total
    });
    let mut publ = Raw::connect(srv.port);
    let payload = vec![b'x'; 64 * 1024];
    let started = Instant::now();
    let mut receivers_at_end = 0;
    for i in 0..1000 {
        publ.send(&cmd(&[b"PUBLISH", b"c", &payload]));
        let r = publ.read_n(4);
        receivers_at_end = r[1] - b'0';
        if i > 900 {
            break;
        }
    }
    // 64 MB published: past the 32 MB hard limit the slow one was dropped.
    assert_eq!(receivers_at_end, 1, "the slow subscriber is still counted");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(reader.join().unwrap() >= 50 << 20);
    // What the kernel had buffered for it drains, then the server has closed it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match std::io::Read::read(&mut slow.stream, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(
                Instant::now() < deadline,
                "the slow subscriber was not closed"
            ),
        }
    }
    srv.assert_healthy();
}

/// A script past busy-reply-threshold: others get BUSY, SCRIPT KILL stops
/// a script that has not written (and refuses one that has), and the
/// server serves normally afterwards. Runs on one worker thread, the
/// default on two cores.
#[test]
fn busy_scripts_get_busy_replies_and_script_kill() {
    let srv = redistill(&["--busy-reply-threshold", "100", "--threads", "1"]);
    let port = srv.port;
    let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    // A read-only endless script: killable.
    let runner = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        r.stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        r.send(b"EVAL \"while true do end\" 0\r\n");
        let mut buf = vec![0u8; 256];
        let n = std::io::Read::read(&mut r.stream, &mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    std::thread::sleep(Duration::from_millis(400));
    let mut other = Raw::connect(port);
    assert_eq!(other.roundtrip(b"GET k\r\n", busy), busy.to_vec());
    assert_eq!(other.roundtrip(b"PING\r\n", busy), busy.to_vec());
    assert_eq!(other.roundtrip(b"SCRIPT KILL\r\n", b"+OK\r\n"), b"+OK\r\n");
    let reply = runner.join().unwrap();
    assert!(
        reply.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{reply}"
    );
    assert_eq!(other.roundtrip(b"SET k v\r\n", b"+OK\r\n"), b"+OK\r\n");
    assert_eq!(
        other.roundtrip(
            b"SCRIPT KILL\r\n",
            b"-NOTBUSY No scripts in execution right now.\r\n"
        ),
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A script that wrote cannot be killed.
    let runner = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        r.send(b"EVAL \"redis.call('set','w','1') local i = 0 while i < 300000000 do i = i + 1 end return i\" 0\r\n");
        r.stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let mut buf = vec![0u8; 256];
        let n = std::io::Read::read(&mut r.stream, &mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    });
    std::thread::sleep(Duration::from_millis(400));
    let unkillable = b"-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
    assert_eq!(
        other.roundtrip(b"SCRIPT KILL\r\n", unkillable),
        unkillable.to_vec()
    );
    assert_eq!(runner.join().unwrap(), ":300000000\r\n");
    srv.assert_healthy();
}

/// Scripts that build, decode and return values nested as deep as the
/// libraries allow, and deeper: errors, never a crashed server (the
/// binary's worker stack must hold the recursion, in a debug build too).
#[test]
fn deeply_nested_script_values_are_refused_not_fatal() {
    let srv = redistill(&[]);
    let mut c = Raw::connect(srv.port);
    let eval = |script: &str| cmd(&[b"EVAL", script.as_bytes(), b"0"]);
    // 1000 nested arrays decode and encode back (the innermost, empty,
    // as `{}`).
    let ok = b":2000\r\n";
    let same = "local s = string.rep('[', 1000) .. string.rep(']', 1000) \
                return #cjson.encode(cjson.decode(s))";
    assert_eq!(c.roundtrip(&eval(same), ok), ok.to_vec());
    // One more is cjson's error.
    let want =
        b"-ERR user_script:1: Found too many nested data structures (1001) at character 1001";
    let got = c.roundtrip(&eval("return cjson.decode(string.rep('[', 1001))"), want);
    assert!(got.starts_with(want), "{}", String::from_utf8_lossy(&got));
    drop(c);
    let mut c = Raw::connect(srv.port);
    // A reply nested 1100 deep: 1001 levels, then Redis's stack-limit error.
    let deep = "local t = {} local c = t for i = 1, 1100 do c[1] = {} c = c[1] end return t";
    let mut expected = b"*1\r\n".repeat(1001);
    expected.extend_from_slice(b"-ERR reached lua stack limit\r\n");
    assert_eq!(c.roundtrip(&eval(deep), &expected), expected);
    // MessagePack nested past the decoder's limit is refused.
    let mp = "return cmsgpack.unpack(string.rep(string.char(0x91), 1100) .. string.char(1))";
    let want = b"-ERR user_script:1: Bad data format in input.";
    let got = c.roundtrip(&eval(mp), want);
    assert!(got.starts_with(want), "{}", String::from_utf8_lossy(&got));
    drop(c);
    let mut c = Raw::connect(srv.port);
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    srv.assert_healthy();
}
