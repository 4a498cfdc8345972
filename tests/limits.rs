//! Connection limits: maxclients, the connection rate limit, idle timeout,
//! the request deadline (slowloris), clients that never read, and the
//! tighter limits before AUTH. Each asserts exact texts and bounded memory.

mod common;
use common::{cmd, redistill, rss_of, Raw};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn info_field(port: u16, field: &str) -> u64 {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .unwrap()
        .get_connection()
        .unwrap();
    common::info_u64(&mut c, field)
}

#[test]
fn maxclients_refuses_the_next_client_and_frees_slots() {
    let srv = redistill(&["--maxclients", "5"]);
    std::thread::sleep(Duration::from_millis(200)); // let the readiness probe's slot go
    let mut held: Vec<Raw> = (0..5).map(|_| Raw::connect(srv.port)).collect();
    for c in held.iter_mut() {
        assert_eq!(c.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
    }
    for _ in 0..3 {
        let mut extra = Raw::connect(srv.port);
        let e = b"-ERR max number of clients reached\r\n";
        assert_eq!(extra.read_n(e.len() + 10), e.to_vec());
    }
    held.truncate(3);
    std::thread::sleep(Duration::from_millis(200));
    let rejected = info_field(srv.port, "rejected_connections");
    assert!(rejected >= 3, "rejected_connections={rejected}");
    let mut again = Raw::connect(srv.port);
    assert_eq!(again.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
}

#[test]
fn connection_rate_limit_refuses_excess_quickly() {
    let srv = redistill(&["--connection-rate-limit", "20"]);
    let mut busy = Raw::connect(srv.port);
    std::thread::sleep(Duration::from_millis(1100)); // refill the bucket
    let start = Instant::now();
    let mut served = 0;
    let mut refused = 0;
    for _ in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        match s.read(&mut buf) {
            Ok(7) if &buf == b"+PONG\r\n" => served += 1,
            _ => refused += 1,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    assert!(elapsed < 10.0, "refusals were slow");
    // A full bucket of 20, plus 20 per second of refill while the loop ran.
    let allowed = 20.0 + 20.0 * elapsed + 5.0;
    assert!(
        (served as f64) <= allowed,
        "served {served} of 200 in {elapsed:.2}s at 20/s"
    );
    assert!(refused >= 100, "refused only {refused}");
    // An established client is not slowed down.
    assert_eq!(busy.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
}

#[test]
fn idle_clients_are_closed_after_the_timeout() {
    let srv = redistill(&["--timeout", "1"]);
    let mut idle = Raw::connect(srv.port);
    let mut busy = Raw::connect(srv.port);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        assert_eq!(busy.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(idle.closed(), "idle client still open");
}

#[test]
fn trickling_clients_cannot_hold_a_slot() {
    let srv = redistill(&["--request-timeout", "2"]);
    let mut tricklers: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(("127.0.0.1", srv.port)).unwrap())
        .collect();
    let start = Instant::now();
    let request = b"*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
    let mut closed = 0;
    for byte in request.iter().cycle().take(40) {
        closed = 0;
        for t in tricklers.iter_mut() {
            if t.write_all(&[*byte]).is_err() {
                closed += 1;
            }
        }
        // Others are served throughout.
        let mut fresh = Raw::connect(srv.port);
        assert_eq!(fresh.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
        std::thread::sleep(Duration::from_millis(150));
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    for t in tricklers.iter_mut() {
        t.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut buf = [0u8; 16];
        if matches!(t.read(&mut buf), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert!(closed >= 50, "only {closed} tricklers were closed");
    assert!(info_field(srv.port, "timeout_disconnections") >= 50);
}

#[test]
fn a_client_that_never_reads_is_closed_and_memory_stays_bounded() {
    let srv = redistill(&["--request-timeout", "2"]);
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", srv.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("big")
        .arg(vec![b'x'; 100 * 1024])
        .query(&mut c)
        .unwrap();
    let before = rss_of(srv.pid());
    let mut sink = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    sink.set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let get = cmd(&[b"GET", b"big"]);
    let burst: Vec<u8> = get.iter().copied().cycle().take(get.len() * 2000).collect();
    let start = Instant::now();
    // 2000 GETs of 100 KB = 200 MB of replies that are never read.
    let _ = sink.write_all(&burst);
    while start.elapsed() < Duration::from_secs(8) {
        if info_field(srv.port, "client_output_buffer_limit_disconnections") > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(info_field(srv.port, "client_output_buffer_limit_disconnections") >= 1);
    let grown = rss_of(srv.pid()).saturating_sub(before);
    assert!(grown < 64 << 20, "RSS grew by {grown}");
    srv.assert_healthy();
}

#[test]
fn keys_reply_past_the_output_limit_stops_early() {
    let srv = redistill(&[]);
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", srv.port))
        .unwrap()
        .get_connection()
        .unwrap();
    // 70 MB of key names.
    let name = vec![b'k'; 10_000];
    for batch in 0..70 {
        let mut pipe = redis::pipe();
        for i in 0..100 {
            let mut k = name.clone();
            k.extend_from_slice(format!("{batch}:{i}").as_bytes());
            pipe.cmd("SET").arg(k).arg(1).ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    let mut raw = Raw::connect(srv.port);
    raw.send(b"KEYS *\r\n");
    let got = raw.read_n(1 << 20);
    assert!(got.len() < 1 << 20, "a KEYS reply past the limit was sent");
    assert_eq!(
        info_field(srv.port, "client_output_buffer_limit_disconnections"),
        1
    );
    srv.assert_healthy();
}

#[test]
fn unauthenticated_clients_are_tightly_capped() {
    let srv = redistill(&["--requirepass", "pw"]);
    let mut raw = Raw::connect(srv.port);
    let e = b"-NOAUTH Authentication required.\r\n";
    assert_eq!(raw.roundtrip(&cmd(&[b"GET", b"x"]), e), e.to_vec());
    assert_eq!(raw.roundtrip(&cmd(&[b"NOSUCH", b"x"]), e), e.to_vec());
    // Ten arguments are fine, eleven are not.
    let ten: Vec<&[u8]> = std::iter::once(&b"ECHO"[..])
        .chain(std::iter::repeat_n(&b"a"[..], 9))
        .collect();
    assert_eq!(raw.roundtrip(&cmd(&ten), e), e.to_vec());
    let mut raw = Raw::connect(srv.port);
    let eleven: Vec<&[u8]> = std::iter::once(&b"ECHO"[..])
        .chain(std::iter::repeat_n(&b"a"[..], 10))
        .collect();
    raw.send(&cmd(&eleven));
    let e = b"-ERR Protocol error: unauthenticated multibulk length\r\n";
    assert_eq!(raw.read_n(e.len() + 10), e.to_vec());
    let mut raw = Raw::connect(srv.port);
    raw.send(b"*2\r\n$4\r\nECHO\r\n$16385\r\n");
    let e = b"-ERR Protocol error: unauthenticated bulk length\r\n";
    assert_eq!(raw.read_n(e.len() + 10), e.to_vec());
    // Many unauthenticated connections announcing huge requests move no memory.
    let before = rss_of(srv.pid());
    let conns: Vec<Raw> = (0..150)
        .map(|_| {
            let mut r = Raw::connect(srv.port);
            r.send(b"*1\r\n$536870912\r\n");
            r
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(rss_of(srv.pid()).saturating_sub(before) < 50 << 20);
    drop(conns);
    // An unauthenticated client flooding requests it never reads is closed.
    let mut flood = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    flood
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let get = cmd(&[b"GET", b"x"]);
    let burst: Vec<u8> = get
        .iter()
        .copied()
        .cycle()
        .take(get.len() * 200_000)
        .collect();
    let _ = flood.write_all(&burst);
    assert!(!srv.log_text().contains("panicked"));
    // HELLO with AUTH authenticates; then commands work.
    let mut raw = Raw::connect(srv.port);
    raw.send(&cmd(&[b"HELLO", b"2", b"AUTH", b"default", b"pw"]));
    let _ = raw.read_n(10);
    std::thread::sleep(Duration::from_millis(100));
    let mut rest = [0u8; 4096];
    let _ = raw.stream.read(&mut rest);
    assert_eq!(raw.roundtrip(&cmd(&[b"PING"]), b"+PONG\r\n"), b"+PONG\r\n");
}

/// A pipeline whose AUTH or RESET changes the parse limits half way: the
/// requests after it are parsed under the new limits (the server parses a
/// pipeline ahead of running it, and must not judge them by the old ones).
#[test]
fn limits_follow_auth_and_reset_within_one_pipeline() {
    let srv = redistill(&["--requirepass", "pw"]);
    let mut raw = Raw::connect(srv.port);
    let mset: Vec<&[u8]> = std::iter::once(&b"MSET"[..])
        .chain(std::iter::repeat_n(&b"k"[..], 12))
        .collect();
    let mut pipeline = cmd(&[b"AUTH", b"pw"]);
    pipeline.extend(cmd(&mset));
    pipeline.extend(cmd(&[b"RESET"]));
    pipeline.extend(cmd(&mset));
    let expected: &[u8] =
        b"+OK\r\n+OK\r\n+RESET\r\n-ERR Protocol error: unauthenticated multibulk length\r\n";
    assert_eq!(raw.roundtrip(&pipeline, expected), expected.to_vec());
}

/// Bytes the read buffer of the client `name` holds (CLIENT LIST `qbuf` +
/// `qbuf-free`).
fn read_buffer_size(port: u16, name: &str) -> usize {
    let mut admin = Raw::connect(port);
    admin.send(&cmd(&[b"CLIENT", b"LIST"]));
    let mut got = Vec::new();
    while !got.contains(&b'\n') {
        got.extend(admin.read_n(1));
    }
    let header = got.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len: usize = std::str::from_utf8(&got[1..header - 2])
        .unwrap()
        .parse()
        .unwrap();
    while got.len() < header + len + 2 {
        got.extend(admin.read_n(1));
    }
    let list = String::from_utf8_lossy(&got[header..header + len]).into_owned();
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("no client named {name} in {list}"));
    let field = |name: &str| -> usize {
        line.split(' ')
            .find_map(|f| f.strip_prefix(name))
            .expect("field")
            .parse()
            .unwrap()
    };
    field("qbuf=") + field("qbuf-free=")
}

/// A client sending a large pipeline keeps its grown read buffer while it
/// is busy, and is back to 16 KB once idle for 2 s (CLIENT LIST `qbuf` +
/// `qbuf-free`).
#[test]
fn grown_read_buffers_shrink_once_idle() {
    let srv = redistill(&[]);
    let mut big = Raw::connect(srv.port);
    assert_eq!(
        big.roundtrip(&cmd(&[b"CLIENT", b"SETNAME", b"big"]), b"+OK\r\n"),
        b"+OK\r\n"
    );
    assert_eq!(read_buffer_size(srv.port, "big"), 16384);
    let value = vec![b'x'; 100_000];
    let mut req = Vec::new();
    for i in 0..20 {
        req.extend(cmd(&[b"SET", format!("k{i}").as_bytes(), &value]));
    }
    let expected = "+OK\r\n".repeat(20);
    assert_eq!(
        big.roundtrip(&req, expected.as_bytes()),
        expected.as_bytes()
    );
    assert!(read_buffer_size(srv.port, "big") > 64 * 1024);
    std::thread::sleep(Duration::from_millis(2600));
    assert_eq!(read_buffer_size(srv.port, "big"), 16384);
    // Still served normally afterwards.
    assert_eq!(
        big.roundtrip(&cmd(&[b"STRLEN", b"k3"]), b":100000\r\n"),
        b":100000\r\n"
    );
}

#[test]
fn password_sources_follow_precedence() {
    // The file alone...
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redistill.toml");
    std::fs::write(&path, "[security]\npassword = \"file\"\n").unwrap();
    let path_s = path.display().to_string();
    let srv = common::redistill(&[&path_s]);
    let mut raw = Raw::connect(srv.port);
    let e = b"-NOAUTH Authentication required.\r\n";
    assert_eq!(raw.roundtrip(b"GET a\r\n", e), e.to_vec());
    assert_eq!(raw.roundtrip(b"AUTH file\r\n", b"+OK\r\n"), b"+OK\r\n");
    // ...is overridden by the environment...
    let srv = common::redistill_env(&[&path_s], &[("REDIS_PASSWORD", "env")]);
    let mut raw = Raw::connect(srv.port);
    let wrong = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(raw.roundtrip(b"AUTH file\r\n", wrong), wrong.to_vec());
    assert_eq!(raw.roundtrip(b"AUTH env\r\n", b"+OK\r\n"), b"+OK\r\n");
    // ...which the flag overrides.
    let srv = common::redistill_env(
        &[&path_s, "--requirepass", "flag"],
        &[("REDIS_PASSWORD", "env")],
    );
    let mut raw = Raw::connect(srv.port);
    assert_eq!(raw.roundtrip(b"AUTH env\r\n", wrong), wrong.to_vec());
    assert_eq!(raw.roundtrip(b"AUTH flag\r\n", b"+OK\r\n"), b"+OK\r\n");
    // A binary password with a NUL byte works.
    std::fs::write(&path, "[security]\npassword = \"bin\\u0000ary\"\n").unwrap();
    let srv = common::redistill(&[&path_s]);
    let mut raw = Raw::connect(srv.port);
    assert_eq!(
        raw.roundtrip(&cmd(&[b"AUTH", b"bin"]), wrong),
        wrong.to_vec()
    );
    assert_eq!(
        raw.roundtrip(&cmd(&[b"AUTH", b"bin\0ary"]), b"+OK\r\n"),
        b"+OK\r\n"
    );
}

#[test]
fn password_flag_beats_environment() {
    // Environment overrides nothing given on the command line...
    let srv = common::redistill_env(&["--requirepass", "flag"], &[("REDIS_PASSWORD", "env")]);
    let mut raw = Raw::connect(srv.port);
    assert_eq!(raw.roundtrip(b"AUTH flag\r\n", b"+OK\r\n"), b"+OK\r\n");
    // ...but beats the (empty) file default.
    let srv = common::redistill_env(&[], &[("REDIS_PASSWORD", "env")]);
    let mut raw = Raw::connect(srv.port);
    let e = b"-NOAUTH Authentication required.\r\n";
    assert_eq!(raw.roundtrip(b"PING\r\n", e), e.to_vec());
    assert_eq!(
        raw.roundtrip(b"AUTH default env\r\n", b"+OK\r\n"),
        b"+OK\r\n"
    );
}

#[test]
fn accept_loop_survives_running_out_of_file_descriptors() {
    let owned = common::OwnedPort::new();
    let port = owned.port;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut cmd = std::process::Command::new("bash");
    cmd.args([
        "-c",
        &format!(
            "ulimit -n 64; exec {} --listen-fd 3 --shards 256",
            env!("CARGO_BIN_EXE_redistill")
        ),
    ])
    .stdout(std::fs::File::create(&log).unwrap())
    .stderr(std::fs::File::create(dir.path().join("err.log")).unwrap());
    let mut child = owned.inherit(&mut cmd).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Far more clients than descriptors: accept() fails with EMFILE.
    let mut crowd: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    for s in crowd.iter_mut() {
        let _ = s.write_all(b"PING\r\n");
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(crowd);
    std::thread::sleep(Duration::from_millis(500));
    let mut fresh = Raw::connect(port);
    assert_eq!(fresh.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("accept failed"),
        "EMFILE never happened:\n{text}"
    );
    assert!(!text.contains("panicked"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn query_buffer_limit_closes_the_client() {
    let srv = redistill(&["--client-query-buffer-limit", "1mb"]);
    let mut raw = Raw::connect(srv.port);
    let big = vec![b'x'; 2 << 20];
    raw.send(&cmd(&[b"SET", b"k", &big[..1 << 19]]));
    assert_eq!(
        raw.read_n(5),
        b"+OK\r\n",
        "a request under the limit is served"
    );
    let mut raw = Raw::connect(srv.port);
    let _ = raw.try_send(&cmd(&[b"SET", b"k", &big]));
    assert!(raw.closed());
    assert_eq!(
        info_field(srv.port, "client_query_buffer_limit_disconnections"),
        1
    );
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{}/", srv.port))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-query-buffer-limit")
        .arg("4mb")
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET").arg("k").arg(&big).query(&mut c).unwrap();
    srv.assert_healthy();
}
