//! A small single-threaded RESP load generator for the side-by-side
//! benchmarks (`bench/compare`). It does what redis-benchmark cannot: mix
//! SET and GET in a fixed ratio, send transactions (`--txn N`: MULTI, N
//! SETs, EXEC as one request) and publish to subscribers it holds open
//! itself (`--publish N`: N connections subscribed to one channel; the run
//! ends when every subscriber has received every message). It also
//! preloads a key space quickly.
//!
//! ```text
//! loadgen --port 6379 [--clients 50] [--pipeline 1] [--requests 100000]
//!         [--keyspace 1000000] [--datasize 64] [--mix SET:GET] [--preload N]
//!         [--txn N] [--publish SUBSCRIBERS]
//! ```
//!
//! Keys are `key:` plus a zero-padded 12-digit number, as redis-benchmark
//! names them, so both tools address the same key space. The result is one
//! CSV line in redis-benchmark's `--csv` layout:
//! `"name","rps","avg_ms","min_ms","p50_ms","p95_ms","p99_ms","max_ms"`.
//! Latency is measured per pipeline batch, from its write to its last
//! reply, and counted once per request in the batch (as redis-benchmark
//! does).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    host: String,
    port: u16,
    clients: usize,
    pipeline: usize,
    requests: u64,
    keyspace: u64,
    datasize: usize,
    /// Out of `sets + gets` commands, `sets` are SET and the rest GET.
    sets: u32,
    gets: u32,
    preload: u64,
    /// SETs per MULTI/EXEC request (0: plain commands).
    txn: usize,
    /// Subscribers to publish to (0: no PUBLISH workload).
    publish: usize,
}

/// The channel `--publish` uses.
const CHANNEL: &str = "loadgen-channel";

fn usage(msg: &str) -> ! {
    eprintln!("loadgen: {msg}");
    eprintln!("usage: loadgen --port P [--host H] [--clients 50] [--pipeline 1] [--requests N] [--keyspace N] [--datasize 64] [--mix SET:GET] [--preload N] [--txn N] [--publish SUBSCRIBERS]");
    std::process::exit(2);
}

fn parse_options() -> Options {
    let mut o = Options {
        host: "127.0.0.1".into(),
        port: 6379,
        clients: 50,
        pipeline: 1,
        requests: 100_000,
        keyspace: 1_000_000,
        datasize: 64,
        sets: 1,
        gets: 1,
        preload: 0,
        txn: 0,
        publish: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = || -> u64 {
            value
                .parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number")))
        };
        match flag.as_str() {
            "--host" => o.host = value.clone(),
            "--port" => o.port = num() as u16,
            "--clients" => o.clients = num().max(1) as usize,
            "--pipeline" => o.pipeline = num().max(1) as usize,
            "--requests" => o.requests = num(),
            "--keyspace" => o.keyspace = num().max(1),
            "--datasize" => o.datasize = num() as usize,
            "--preload" => o.preload = num(),
            "--txn" => o.txn = num().max(1) as usize,
            "--publish" => o.publish = num().max(1) as usize,
            "--mix" => {
                let (s, g) = value
                    .split_once(':')
                    .unwrap_or_else(|| usage("--mix wants SET:GET, e.g. 1:10"));
                o.sets = s.parse().unwrap_or_else(|_| usage("--mix: bad ratio"));
                o.gets = g.parse().unwrap_or_else(|_| usage("--mix: bad ratio"));
                if o.sets + o.gets == 0 {
                    usage("--mix: both sides are zero");
                }
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    o
}

/// Appends `SET key:<n> <value>` or `GET key:<n>` in RESP.
fn push_command(buf: &mut Vec<u8>, set: bool, key: u64, value: &[u8]) {
    if set {
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$16\r\n");
    } else {
        buf.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$16\r\n");
    }
    buf.extend_from_slice(format!("key:{key:012}\r\n").as_bytes());
    if set {
        buf.extend_from_slice(format!("${}\r\n", value.len()).as_bytes());
        buf.extend_from_slice(value);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Appends one request of the workload; returns how many replies it gets.
fn push_request(buf: &mut Vec<u8>, o: &Options, value: &[u8]) -> u64 {
    if o.publish > 0 {
        push_args(buf, &[b"PUBLISH", CHANNEL.as_bytes(), value]);
        return 1;
    }
    if o.txn > 0 {
        buf.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
        for _ in 0..o.txn {
            push_command(buf, true, fastrand::u64(..o.keyspace), value);
        }
        buf.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
        return o.txn as u64 + 2;
    }
    let set = fastrand::u64(..(o.sets + o.gets) as u64) < o.sets as u64;
    push_command(buf, set, fastrand::u64(..o.keyspace), value);
    1
}

fn push_args(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        buf.extend_from_slice(a);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Bytes of one RESP2 message push as each subscriber receives it.
fn message_bytes(value: &[u8]) -> u64 {
    let mut m = Vec::new();
    push_args(&mut m, &[b"message", CHANNEL.as_bytes(), value]);
    m.len() as u64
}

/// Opens `n` connections subscribed to [`CHANNEL`] and returns the tasks
/// that read and discard until each has received `expect` bytes.
async fn subscribers(
    o: &Options,
    expect: u64,
) -> std::io::Result<Vec<tokio::task::JoinHandle<std::io::Result<()>>>> {
    let mut tasks = Vec::new();
    for _ in 0..o.publish {
        let mut stream = TcpStream::connect((o.host.as_str(), o.port)).await?;
        stream.set_nodelay(true)?;
        let mut cmd = Vec::new();
        push_args(&mut cmd, &[b"SUBSCRIBE", CHANNEL.as_bytes()]);
        stream.write_all(&cmd).await?;
        let mut input = vec![0u8; 64 * 1024];
        let mut filled = 0;
        let confirmation = loop {
            let n = stream.read(&mut input[filled..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
            if let Some(len) = reply_len(&input[..filled]) {
                break len;
            }
        };
        let mut received = (filled - confirmation) as u64;
        tasks.push(tokio::task::spawn_local(async move {
            while received < expect {
                let n = stream.read(&mut input).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                received += n as u64;
            }
            Ok(())
        }));
    }
    Ok(tasks)
}

/// Length of the complete RESP reply at the start of `buf`, if it is all
/// there. Errors count as replies (they are printed once, then counted).
fn reply_len(buf: &[u8]) -> Option<usize> {
    let line_end = memchr::memchr(b'\n', buf)?;
    let head = &buf[..line_end.saturating_sub(1)];
    let after = line_end + 1;
    let number = || -> i64 {
        std::str::from_utf8(&head[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1)
    };
    match buf[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' => Some(after),
        b'$' => {
            let n = number();
            if n < 0 {
                return Some(after);
            }
            let total = after + n as usize + 2;
            (buf.len() >= total).then_some(total)
        }
        b'*' => {
            let n = number();
            let mut at = after;
            for _ in 0..n.max(0) {
                at += reply_len(&buf[at..])?;
            }
            Some(at)
        }
        other => {
            eprintln!("loadgen: unexpected reply byte {other:#x}");
            std::process::exit(1);
        }
    }
}

/// Latency histogram with one-microsecond buckets up to one second.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: vec![0; 1_000_000],
            count: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
        }
    }

    fn record(&mut self, us: u64, times: u64) {
        let slot = (us as usize).min(self.buckets.len() - 1);
        self.buckets[slot] += times;
        self.count += times;
        self.sum_us += us * times;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let want = ((self.count as f64) * p / 100.0).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (us, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return us as f64 / 1000.0;
            }
        }
        self.max_us as f64 / 1000.0
    }
}

struct Shared {
    opts: Options,
    issued: Cell<u64>,
    histogram: RefCell<Histogram>,
    errors: Cell<u64>,
    value: Vec<u8>,
}

async fn client(shared: Rc<Shared>, mut stream: TcpStream) -> std::io::Result<()> {
    let o = &shared.opts;
    let mut out = Vec::with_capacity(o.pipeline * (64 + o.datasize) * (o.txn + 1));
    let mut input = vec![0u8; 64 * 1024];
    loop {
        let left = o.requests - shared.issued.get();
        if left == 0 {
            return Ok(());
        }
        let batch = (o.pipeline as u64).min(left);
        shared.issued.set(shared.issued.get() + batch);
        out.clear();
        let mut pending = 0;
        for _ in 0..batch {
            pending += push_request(&mut out, o, &shared.value);
        }
        let started = Instant::now();
        stream.write_all(&out).await?;
        let mut filled = 0;
        while pending > 0 {
            if filled == input.len() {
                input.resize(input.len() * 2, 0);
            }
            let n = stream.read(&mut input[filled..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
            let mut at = 0;
            while pending > 0 && at < filled {
                match reply_len(&input[at..filled]) {
                    Some(len) => {
                        if input[at] == b'-' {
                            if shared.errors.get() == 0 {
                                eprintln!(
                                    "loadgen: server error: {}",
                                    String::from_utf8_lossy(&input[at..at + len]).trim_end()
                                );
                            }
                            shared.errors.set(shared.errors.get() + 1);
                        }
                        at += len;
                        pending -= 1;
                    }
                    None => break,
                }
            }
            input.copy_within(at..filled, 0);
            filled -= at;
        }
        let us = started.elapsed().as_micros() as u64;
        shared.histogram.borrow_mut().record(us, batch);
    }
}

/// Writes keys 0..n in order with deep pipelines over a few connections.
async fn preload(o: &Options, value: &[u8]) -> std::io::Result<()> {
    let conns = 4u64;
    let per = o.preload.div_ceil(conns);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let mut stream = TcpStream::connect((o.host.as_str(), o.port)).await?;
        stream.set_nodelay(true)?;
        let value = value.to_vec();
        let (from, to) = (c * per, ((c + 1) * per).min(o.preload));
        tasks.push(tokio::task::spawn_local(async move {
            let mut out = Vec::new();
            let mut input = vec![0u8; 1 << 20];
            let mut key = from;
            while key < to {
                let batch = (to - key).min(1000);
                out.clear();
                for k in key..key + batch {
                    push_command(&mut out, true, k, &value);
                }
                key += batch;
                stream.write_all(&out).await?;
                let mut pending = batch;
                let mut filled = 0;
                while pending > 0 {
                    let n = stream.read(&mut input[filled..]).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    filled += n;
                    let mut at = 0;
                    while let Some(len) = reply_len(&input[at..filled]) {
                        if input[at] == b'-' {
                            return Err(std::io::Error::other(
                                String::from_utf8_lossy(&input[at..at + len]).into_owned(),
                            ));
                        }
                        at += len;
                        pending -= 1;
                        if at == filled {
                            break;
                        }
                    }
                    input.copy_within(at..filled, 0);
                    filled -= at;
                }
            }
            Ok::<(), std::io::Error>(())
        }));
    }
    for t in tasks {
        t.await.expect("preload task")?;
    }
    Ok(())
}

fn main() {
    let opts = parse_options();
    let value = vec![b'x'; opts.datasize];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        if opts.preload > 0 {
            if let Err(e) = preload(&opts, &value).await {
                eprintln!("loadgen: preload failed: {e}");
                std::process::exit(1);
            }
            return;
        }
        let mut streams = Vec::new();
        for _ in 0..opts.clients {
            match TcpStream::connect((opts.host.as_str(), opts.port)).await {
                Ok(s) => {
                    s.set_nodelay(true).expect("nodelay");
                    streams.push(s);
                }
                Err(e) => {
                    eprintln!("loadgen: connect: {e}");
                    std::process::exit(1);
                }
            }
        }
        let name = if opts.publish > 0 {
            format!("PUBLISH to {}", opts.publish)
        } else if opts.txn > 0 {
            format!("MULTI/EXEC {} SET", opts.txn)
        } else {
            format!("SET:GET {}:{}", opts.sets, opts.gets)
        };
        let expect = opts.requests * message_bytes(&value);
        let sinks = if opts.publish > 0 {
            match subscribers(&opts, expect).await {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("loadgen: subscribe: {e}");
                    std::process::exit(1);
                }
            }
        } else {
            Vec::new()
        };
        let shared = Rc::new(Shared {
            opts,
            issued: Cell::new(0),
            histogram: RefCell::new(Histogram::new()),
            errors: Cell::new(0),
            value,
        });
        let started = Instant::now();
        let tasks: Vec<_> = streams
            .into_iter()
            .map(|s| tokio::task::spawn_local(client(shared.clone(), s)))
            .collect();
        for t in tasks {
            if let Err(e) = t.await.expect("client task") {
                eprintln!("loadgen: client failed: {e}");
                std::process::exit(1);
            }
        }
        // Published messages count once every subscriber has them all.
        for t in sinks {
            if let Err(e) = t.await.expect("subscriber task") {
                eprintln!("loadgen: subscriber failed: {e}");
                std::process::exit(1);
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let h = shared.histogram.borrow();
        let avg = h.sum_us as f64 / h.count.max(1) as f64 / 1000.0;
        println!("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"");
        println!(
            "\"{name}\",\"{:.2}\",\"{avg:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\",\"{:.3}\"",
            h.count as f64 / secs,
            h.min_us as f64 / 1000.0,
            h.percentile_ms(50.0),
            h.percentile_ms(95.0),
            h.percentile_ms(99.0),
            h.max_us as f64 / 1000.0,
        );
        if shared.errors.get() > 0 {
            eprintln!("loadgen: {} error replies", shared.errors.get());
            std::process::exit(1);
        }
    });
}
