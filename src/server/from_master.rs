//! Following a master: a replica's link task. It connects to the master
//! REPLICAOF names and does the handshake Redis replicas do (PING, AUTH
//! with masterauth, REPLCONF listening-port and capa eof psync2, PSYNC
//! with the id and offset it last had, or `? -1`). A full sync's RDB
//! (`$<len>` or EOF-marked) replaces the dataset through the snapshot
//! loader; then the stream is applied through the command table as the
//! master client, and the same bytes are fed to this server's own
//! replicas, so they share the master's ids and offsets. The offset is
//! acknowledged every second and on GETACK. A lost link is retried every
//! second, resuming with PSYNC, until REPLICAOF changes.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Server;
use crate::command::{self, Session};
use crate::config::P;
use crate::engine::clients::ClientKind;
use crate::engine::persist::snapshot;
use crate::engine::repl::{encode_command, Link};
use crate::engine::store::now_ms;
use crate::protocol::{ParseLimits, Parser, Reply, Request};

/// Starts the link for the master the role names now.
pub fn spawn(server: Arc<Server>) {
    tokio::spawn(run(server));
}

/// The master this generation of the role follows, if it still does.
fn target(server: &Server, generation: u64) -> Option<(String, u16)> {
    let role = server.engine().role.lock();
    if role.generation != generation {
        return None;
    }
    role.master.clone()
}

fn set_link(server: &Server, generation: u64, f: impl FnOnce(&mut crate::engine::repl::Role)) {
    let mut role = server.engine().role.lock();
    if role.generation == generation {
        f(&mut role);
    }
}

async fn run(server: Arc<Server>) {
    let generation = server.engine().role.lock().generation;
    let mut stop = server.shutdown_signal();
    while let Some((host, port)) = target(&server, generation) {
        set_link(&server, generation, |r| r.link = Link::Connecting);
        let outcome = tokio::select! {
            r = follow(&server, &host, port, generation) => r,
            _ = stop.changed() => return,
        };
        match outcome {
            Ok(()) => return,
            Err(_) if target(&server, generation).is_none() => return,
            Err(why) => {
                tracing::warn!("replication link to {host}:{port}: {why}");
                set_link(&server, generation, |r| {
                    if r.link == Link::Connected || r.link_down_since_ms == 0 {
                        r.link_down_since_ms = now_ms();
                    }
                    r.link = Link::Connect;
                });
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A connection to the master with a read buffer.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    async fn fill(&mut self, timeout: Duration) -> Result<(), String> {
        match tokio::time::timeout(timeout, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err("timeout reading from the master".into()),
            Ok(Ok(0)) => Err("the master closed the connection".into()),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// The next reply line (without CRLF), skipping newline keepalives.
    async fn line(&mut self, timeout: Duration) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1);
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if text.is_empty() {
                    continue;
                }
                return Ok(text);
            }
            self.fill(timeout).await?;
        }
    }

    /// The first `n` buffered bytes (a snapshot payload), leaving the rest
    /// in a fresh buffer, so the payload's large allocation is freed once
    /// it is loaded instead of staying behind as the stream buffer.
    fn take_front(&mut self, n: usize) -> BytesMut {
        let mut rest = BytesMut::with_capacity(64 * 1024);
        rest.extend_from_slice(&self.buf[n..]);
        let mut front = std::mem::replace(&mut self.buf, rest);
        front.truncate(n);
        front
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut out = Vec::new();
        encode_command(&mut out, args);
        self.stream.write_all(&out).await.map_err(|e| e.to_string())
    }
}

/// One connection's life: handshake, sync, stream. Ok when REPLICAOF moved
/// on; an error to retry.
async fn follow(
    server: &Arc<Server>,
    host: &str,
    port: u16,
    generation: u64,
) -> Result<(), String> {
    let eng = server.engine().clone();
    let timeout = Duration::from_secs(eng.settings.uint(P::ReplTimeout));
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: BytesMut::with_capacity(64 * 1024),
    };
    set_link(server, generation, |r| r.link = Link::Handshake);

    conn.send(&[b"PING"]).await?;
    let pong = conn.line(timeout).await?;
    if pong.starts_with('-')
        && !crate::errors::PING_ERRORS_ACCEPTED
            .iter()
            .any(|e| pong.starts_with(e))
    {
        return Err(format!("PING: {pong}"));
    }
    let auth = eng.settings.text(P::Masterauth).to_string();
    let user = eng.settings.text(P::Masteruser).to_string();
    if !auth.is_empty() {
        if user.is_empty() {
            conn.send(&[b"AUTH", auth.as_bytes()]).await?;
        } else {
            conn.send(&[b"AUTH", user.as_bytes(), auth.as_bytes()])
                .await?;
        }
        let r = conn.line(timeout).await?;
        if r.starts_with('-') {
            return Err(format!("AUTH: {r}"));
        }
    }
    let announce = match eng.settings.uint(P::ReplicaAnnouncePort) {
        0 => eng.settings.uint(P::Port),
        p => p,
    };
    conn.send(&[
        b"REPLCONF",
        b"listening-port",
        announce.to_string().as_bytes(),
    ])
    .await?;
    conn.line(timeout).await?;
    let ip = eng.settings.text(P::ReplicaAnnounceIp).to_string();
    if !ip.is_empty() {
        conn.send(&[b"REPLCONF", b"ip-address", ip.as_bytes()])
            .await?;
        conn.line(timeout).await?;
    }
    conn.send(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    conn.line(timeout).await?;

    // Resume from what this server holds: its id and offset.
    let feed = &eng.dbs.shared().feed;
    let info = feed.info();
    let (ask_id, ask_offset) = if info.backlog_active {
        (info.replid.clone(), (info.offset + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    conn.send(&[b"PSYNC", ask_id.as_bytes(), ask_offset.as_bytes()])
        .await?;
    let reply = conn.line(timeout).await?;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split(' ');
        let replid = parts.next().unwrap_or_default().to_string();
        let offset: u64 = parts
            .next()
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| format!("bad reply to PSYNC: {reply}"))?;
        if replid.len() != 40 {
            return Err(format!("bad replication id in: {reply}"));
        }
        full_sync(server, &mut conn, generation, &replid, offset, timeout).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        if id.len() == 40 {
            feed.switch_id(id);
        }
        tracing::info!("partial resync with {host}:{port} accepted");
    } else {
        return Err(format!("PSYNC: {reply}"));
    }
    set_link(server, generation, |r| {
        r.link = Link::Connected;
        r.last_io_ms = now_ms();
    });
    stream_from(server, conn, generation, timeout).await
}

/// Reads the snapshot and loads it in place of the dataset.
async fn full_sync(
    server: &Arc<Server>,
    conn: &mut Conn,
    generation: u64,
    replid: &str,
    offset: u64,
    timeout: Duration,
) -> Result<(), String> {
    let eng = server.engine().clone();
    set_link(server, generation, |r| {
        r.link = Link::Sync;
        r.sync_total = 0;
        r.sync_read = 0;
    });
    let header = conn.line(timeout).await?;
    let Some(size) = header.strip_prefix('$') else {
        return Err(format!("bad snapshot header: {header}"));
    };
    let data: BytesMut = if let Some(mark) = size.strip_prefix("EOF:") {
        // Until the 40-byte mark comes back.
        let mark = mark.as_bytes().to_vec();
        loop {
            if conn.buf.len() >= mark.len() && conn.buf.ends_with(&mark) {
                let n = conn.buf.len() - mark.len();
                break conn.take_front(n);
            }
            conn.fill(timeout).await?;
            let read = conn.buf.len() as u64;
            set_link(server, generation, |r| r.sync_read = read);
        }
    } else {
        let len: usize = size
            .parse()
            .map_err(|_| format!("bad snapshot header: {header}"))?;
        set_link(server, generation, |r| r.sync_total = len as u64);
        while conn.buf.len() < len {
            conn.buf.reserve(len - conn.buf.len());
            conn.fill(timeout).await?;
            let read = conn.buf.len() as u64;
            set_link(server, generation, |r| r.sync_read = read);
        }
        conn.take_front(len)
    };
    let bytes = data.len();
    let loader = eng.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        loader
            .with_exclusive_unit(now_ms(), |unit| {
                for db in 0..loader.dbs.count() {
                    unit.flush_db(db);
                }
                snapshot::load_image(&loader.dbs, &data, unit.now, &loader.limits())
            })
            .map_err(|_| "a busy script holds the keyspace".to_string())?
    })
    .await
    .map_err(|e| e.to_string())??;
    let feed = &eng.dbs.shared().feed;
    feed.adopt(replid, offset);
    // Our own replicas hold the old dataset: they sync again.
    for r in feed.detach_all() {
        r.close();
    }
    tracing::info!("full sync: loaded {loaded} keys ({bytes} bytes) at offset {offset}");
    // A master that sent the snapshot EOF-marked waits for this first ACK.
    conn.send(&[b"REPLCONF", b"ACK", offset.to_string().as_bytes()])
        .await?;
    Ok(())
}

/// Applies the stream until the link fails or REPLICAOF moves on.
async fn stream_from(
    server: &Arc<Server>,
    mut conn: Conn,
    generation: u64,
    timeout: Duration,
) -> Result<(), String> {
    let eng = server.engine().clone();
    let rt = server.rt.clone();
    let handle = eng.clients.register(
        conn.stream.peer_addr().map_err(|e| e.to_string())?,
        conn.stream.local_addr().map_err(|e| e.to_string())?,
        now_ms(),
    );
    handle.set_kind(ClientKind::Master);
    let mut sess = Session::new(handle.clone(), true);
    let mut out = Reply::new();
    let mut parser = Parser::new();
    let limits = ParseLimits::default();
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            r = conn.fill(timeout) => {
                if let Err(e) = r {
                    break Err(e);
                }
            }
            _ = ack_tick.tick() => {
                if target(server, generation).is_none() {
                    break Ok(());
                }
                let offset = eng.dbs.shared().feed.offset().to_string();
                if let Err(e) = conn.send(&[b"REPLCONF", b"ACK", offset.as_bytes()]).await {
                    break Err(e);
                }
                continue;
            }
        }
        set_link(server, generation, |r| r.last_io_ms = now_ms());
        if target(server, generation).is_none() {
            break Ok(());
        }
        match apply(&rt, &mut sess, &mut out, &mut parser, &limits, &mut conn) {
            Ok(Some(ack)) => {
                if let Err(e) = conn
                    .send(&[b"REPLCONF", b"ACK", ack.to_string().as_bytes()])
                    .await
                {
                    break Err(e);
                }
            }
            Ok(None) => {}
            Err(e) => break Err(e),
        }
    };
    sess.close(&eng);
    eng.clients.unregister(handle.id);
    result
}

/// Runs the complete commands in the buffer. Returns the offset to
/// acknowledge when the master asked (GETACK), taken before that request.
fn apply(
    rt: &command::Runtime,
    sess: &mut Session,
    out: &mut Reply,
    parser: &mut Parser,
    limits: &ParseLimits,
    conn: &mut Conn,
) -> Result<Option<u64>, String> {
    let eng = &rt.engine;
    let feed = &eng.dbs.shared().feed;
    let mut ack = None;
    let mut pass = None;
    sess.start_batch(&eng.settings);
    loop {
        let req = match parser.parse(&conn.buf[..], limits) {
            Ok(None) => break,
            Ok(Some(req)) => req,
            Err(e) => return Err(format!("protocol error from the master: {}", e.message())),
        };
        let used = req.consumed();
        match req {
            Request::Multibulk { .. } => {
                let args: Vec<&[u8]> = parser.args.iter().map(|r| &conn.buf[r.clone()]).collect();
                if args.is_empty() {
                } else if args.len() >= 2
                    && args[0].eq_ignore_ascii_case(b"replconf")
                    && args[1].eq_ignore_ascii_case(b"getack")
                {
                    ack = Some(feed.offset());
                } else if !args[0].eq_ignore_ascii_case(b"ping") {
                    out.clear();
                    command::execute(rt, sess, out, now_ms(), &args, &mut pass);
                }
                feed.raw(&conn.buf[..used]);
            }
            Request::Empty { .. } => {}
            Request::Inline { .. } => {
                return Err("the master used the inline protocol".into());
            }
        }
        conn.buf.advance(used);
        rt.engine
            .stats
            .net_repl_input_bytes
            .fetch_add(used as u64, std::sync::atomic::Ordering::Relaxed);
    }
    drop(pass);
    eng.stats.absorb(&mut sess.stats);
    Ok(ack)
}
