//! Raw-socket tests of the RESP layer: every protocol limit and malformed
//! request gets Redis's exact error text and a closed connection, while the
//! server keeps serving everyone else.

mod common;
use common::{cmd, redistill, rss_of, Raw};

/// Sends `req` on a fresh connection, expects exactly `reply`, then EOF.
fn expect_error_and_close(port: u16, req: &[u8], reply: &str) {
    let mut raw = Raw::connect(port);
    raw.send(req);
    let got = raw.read_n(reply.len() + 64);
    assert_eq!(
        String::from_utf8_lossy(&got),
        reply,
        "request {:?}",
        String::from_utf8_lossy(&req[..req.len().min(60)])
    );
}

#[test]
fn malformed_requests_get_exact_errors_and_close() {
    let srv = redistill(&[]);
    let p = srv.port;
    let cases: &[(&[u8], &str)] = &[
        (
            b"*3000000000\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*02\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
            "-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
        (
            b"*1\r\n$-10\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$2000000000\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$blabla\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$05\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$+1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"set \"\"\"test-key\"\"\" test-value\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"*1\r\n$1\r\nabc\r\n",
            "-ERR Protocol error: bulk string not followed by CRLF\r\n",
        ),
        (
            b"*1\r\n$1\r\nP\r\xf4",
            "-ERR Protocol error: bulk string not followed by CRLF\r\n",
        ),
    ];
    for (req, reply) in cases {
        expect_error_and_close(p, req, reply);
    }
    // Over-long inline request and multibulk count line.
    let big = vec![b'a'; 70 * 1024];
    expect_error_and_close(p, &big, "-ERR Protocol error: too big inline request\r\n");
    let mut big = b"*".to_vec();
    big.extend(std::iter::repeat_n(b'1', 70 * 1024));
    expect_error_and_close(
        p,
        &big,
        "-ERR Protocol error: too big mbulk count string\r\n",
    );
    // Replies to commands before the bad one are still delivered.
    expect_error_and_close(
        p,
        b"PING\r\n*1\r\n$x\r\nPING\r\n",
        "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
    );
    srv.assert_healthy();
}

#[test]
fn desync_junk_is_refused_within_64k() {
    let srv = redistill(&[]);
    for prefix in [&b"\x00"[..], b"*\x00", b"$\x00"] {
        let mut raw = Raw::connect(srv.port);
        raw.send(prefix);
        let chunk = vec![b'A'; 1024];
        let mut sent = 0;
        while sent < 200 * 1024 {
            if raw.try_send(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        let got = String::from_utf8_lossy(&raw.read_n(200)).to_string();
        assert!(got.contains("Protocol error"), "{prefix:?}: {got}");
    }
    srv.assert_healthy();
}

#[test]
fn empty_and_negative_multibulk_and_blank_lines_are_ignored() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    assert_eq!(
        raw.roundtrip(b"\r\n*0\r\n*-10\r\n\n  \r\nPING\r\n", b"+PONG\r\n"),
        b"+PONG\r\n"
    );
}

#[test]
fn inline_commands_follow_redis_quoting() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    assert_eq!(
        raw.roundtrip(b"SET k \"a\\x41\\n b\"\r\n", b"+OK\r\n"),
        b"+OK\r\n"
    );
    assert_eq!(
        raw.roundtrip(b"GET k\n", b"$5\r\naA\n b\r\n"),
        b"$5\r\naA\n b\r\n"
    );
    assert_eq!(raw.roundtrip(b"SET k 'it\\'s'\r\n", b"+OK\r\n"), b"+OK\r\n");
    assert_eq!(
        raw.roundtrip(b"GET k\r\n", b"$4\r\nit's\r\n"),
        b"$4\r\nit's\r\n"
    );
}

#[test]
fn pipelines_are_answered_in_order_with_one_write_per_batch() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        req.extend(cmd(&[
            b"SET",
            format!("k{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        expected.extend_from_slice(b"+OK\r\n");
    }
    for i in 0..1000 {
        req.extend(cmd(&[b"GET", format!("k{i}").as_bytes()]));
        let v = format!("{i}");
        expected.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    raw.send(&req);
    assert_eq!(raw.read_n(expected.len()), expected);
}

#[test]
fn split_requests_are_reassembled() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    let req = cmd(&[b"SET", b"key", &[b'x'; 100_000]]);
    for chunk in req.chunks(777) {
        raw.send(chunk);
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
    assert_eq!(raw.read_n(5), b"+OK\r\n");
    assert_eq!(
        raw.roundtrip(b"STRLEN key\r\n", b":100000\r\n"),
        b":100000\r\n"
    );
}

#[test]
fn quit_stops_the_pipeline_and_closes() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    raw.send(&[cmd(&[b"QUIT"]), cmd(&[b"SET", b"foo", b"bar"])].concat());
    assert_eq!(raw.read_n(100), b"+OK\r\n");
    let mut raw = Raw::connect(srv.port);
    assert_eq!(raw.roundtrip(b"EXISTS foo\r\n", b":0\r\n"), b":0\r\n");
}

#[test]
fn cross_protocol_requests_are_dropped() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    raw.send(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(raw.read_n(10).is_empty());
    srv.assert_healthy();
}

#[test]
fn unknown_command_error_cannot_inject_replies() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    raw.send(&cmd(&[b"FOO", b"a\r\n+OK\r\n", b"b"]));
    let expected = b"-ERR unknown command 'FOO', with args beginning with: 'a  +OK  ' 'b' \r\n";
    assert_eq!(raw.read_n(expected.len()), expected.to_vec());
    assert_eq!(raw.roundtrip(b"PING\r\n", b"+PONG\r\n"), b"+PONG\r\n");
}

#[test]
fn announced_sizes_cost_nothing_until_sent() {
    let srv = redistill(&[]);
    let before = rss_of(srv.pid());
    let mut conns = Vec::new();
    for i in 0..100 {
        let mut raw = Raw::connect(srv.port);
        if i % 2 == 0 {
            raw.send(b"*1\r\n$536870912\r\nabc");
        } else {
            raw.send(b"*2147483647\r\n$3\r\nSET\r\n");
        }
        conns.push(raw);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let grown = rss_of(srv.pid()).saturating_sub(before);
    assert!(grown < 50 << 20, "RSS grew by {grown} bytes");
    drop(conns);
    srv.assert_healthy();
}

#[test]
fn many_arguments_work() {
    let srv = redistill(&[]);
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..10_000 {
        args.push(format!("key{i}").into_bytes());
        args.push(b"v".to_vec());
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut raw = Raw::connect(srv.port);
    assert_eq!(raw.roundtrip(&cmd(&refs), b"+OK\r\n"), b"+OK\r\n");
    assert_eq!(raw.roundtrip(b"DBSIZE\r\n", b":10000\r\n"), b":10000\r\n");
}

/// The server parses a pipeline ahead of running it (to prefetch its keys).
/// Requests before a malformed one, inline requests and empty multibulks
/// mixed into it are still answered in order, exactly once.
#[test]
fn mixed_pipelines_with_a_bad_request_are_answered_in_order() {
    let srv = redistill(&[]);
    let mut raw = Raw::connect(srv.port);
    let mut req = Vec::new();
    for i in 0..20 {
        req.extend(cmd(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    req.extend_from_slice(b"PING\r\n*0\r\n");
    req.extend(cmd(&[b"GET", b"k7"]));
    req.extend_from_slice(b"\r\nECHO inline\r\n");
    req.extend(cmd(&[b"INCR", b"k1"]));
    req.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$x\r\n");
    req.extend(cmd(&[b"SET", b"after", b"error"]));
    let mut expected = "+OK\r\n".repeat(20);
    expected.push_str("+PONG\r\n$1\r\nv\r\n$6\r\ninline\r\n");
    expected.push_str("-ERR value is not an integer or out of range\r\n");
    expected.push_str("-ERR Protocol error: invalid bulk length\r\n");
    raw.send(&req);
    let got = raw.read_n(expected.len() + 64);
    assert_eq!(String::from_utf8_lossy(&got), expected);
    assert!(raw.closed());
    // Nothing after the bad request ran.
    let mut check = Raw::connect(srv.port);
    assert_eq!(
        check.roundtrip(&cmd(&[b"EXISTS", b"after"]), b":0\r\n"),
        b":0\r\n"
    );
}
