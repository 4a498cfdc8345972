//! One client connection: read a chunk, parse every complete request in it,
//! execute them in order, append all replies to one buffer, write once.
//!
//! Arguments are slices of the read buffer. The read buffer grows only as
//! bytes arrive (never to a size a header merely announces) and shrinks
//! back after a large request.

use std::ops::Range;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Server;
use crate::command::{self, After, Runtime, Session};
use crate::config::P;
use crate::engine::clients::ClientHandle;
use crate::engine::gate::Pass;
use crate::engine::store::{now_ms, Databases};
use crate::engine::Engine;
use crate::protocol::{ParseLimits, Parser, Reply, Request};

const READ_CHUNK: usize = 16 * 1024;
/// Room for the next read while a large request is incomplete: large values and
/// deep pipelines arrive in a few big reads (and get one reply write per
/// read) instead of one 16 KB read and one reply write per request.
const READ_CHUNK_BUSY: usize = 128 * 1024;
/// Read and reply buffers larger than this are released once empty and
/// unused for `SHRINK_AFTER` (a client sending large pipelines keeps its
/// buffers instead of regrowing them for every batch).
const KEEP_BUFFER: usize = 64 * 1024;
const SHRINK_AFTER: Duration = Duration::from_secs(2);
/// Replies are flushed mid-batch once this many bytes are pending.
const FLUSH_THRESHOLD: usize = 1024 * 1024;
/// The query buffer limit before AUTH (Redis's, for unauthenticated clients).
const UNAUTH_QUERY_BUFFER: usize = 1024 * 1024;
/// Pending replies a client may have before it is closed (Redis leaves
/// normal clients unbounded; a finite cap keeps memory bounded).
pub const OUTPUT_LIMIT: usize = command::keys::OUTPUT_LIMIT;
/// The same cap before AUTH.
pub const UNAUTH_OUTPUT_LIMIT: usize = 64 * 1024;

/// Requests parsed ahead of execution so their keys' memory is prefetched
/// together (see `Keyspace::prefetch`).
const WINDOW: usize = 16;

/// Up to `WINDOW` complete multibulk requests, parsed once, whose first
/// keys were prefetched together before any of them runs.
#[derive(Default)]
struct Window {
    /// Argument ranges of every request, as offsets into the read buffer.
    args: Vec<Range<usize>>,
    /// Per request: first index into `args`, argument count, and the buffer
    /// offset where the request ends.
    requests: Vec<(usize, usize, usize)>,
    next: usize,
    hashes: Vec<u64>,
}

impl Window {
    fn clear(&mut self) {
        self.args.clear();
        self.requests.clear();
        self.next = 0;
    }

    /// Parses the multibulk requests that start at `from` (stopping at an
    /// inline request, an incomplete one or a protocol error, which the
    /// caller handles one at a time) and prefetches their first keys.
    fn fill(
        &mut self,
        dbs: &Databases,
        db: usize,
        parser: &mut Parser,
        buf: &[u8],
        from: usize,
        limits: &ParseLimits,
    ) {
        self.clear();
        self.hashes.clear();
        let mut at = from;
        while self.requests.len() < WINDOW && buf.get(at) == Some(&b'*') {
            let Ok(Some(req)) = parser.parse(&buf[at..], limits) else {
                break;
            };
            let first = self.args.len();
            if let Request::Multibulk { .. } = req {
                self.args
                    .extend(parser.args.iter().map(|r| at + r.start..at + r.end));
            }
            let count = self.args.len() - first;
            // The first key: the first argument, or for the EVAL family
            // (`EVALSHA sha numkeys key...`) the first declared key.
            let arg = |i: usize| &buf[self.args[first + i].clone()];
            let key = if count >= 4 && is_eval(arg(0)) && arg(2) != b"0" {
                Some(3)
            } else {
                (count >= 2).then_some(1)
            };
            if let Some(i) = key {
                self.hashes.push(dbs.hash(arg(i)));
            }
            at += req.consumed();
            self.requests.push((first, count, at));
        }
        if self.hashes.len() > 1 {
            if let Some(ks) = dbs.existing(db) {
                ks.prefetch(&self.hashes);
            }
        }
    }

    /// Holds the one multibulk request `parser` just parsed at `at..end`.
    fn hold(&mut self, parser: &Parser, at: usize, end: usize) {
        self.clear();
        self.args
            .extend(parser.args.iter().map(|r| at + r.start..at + r.end));
        self.requests.push((0, self.args.len(), end));
    }

    /// The next parsed request, if any is left.
    fn next_request(&mut self) -> Option<(&[Range<usize>], usize)> {
        let &(first, count, end) = self.requests.get(self.next)?;
        self.next += 1;
        Some((&self.args[first..first + count], end))
    }
}

/// Reuses a vector's allocation for borrows of a different lifetime.
fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter()
        .map(|_| -> &'b [u8] { unreachable!() })
        .collect()
}

/// Parsing state a connection keeps between reads.
#[derive(Default)]
struct Requests {
    parser: Parser,
    window: Window,
    /// The argument vector's allocation, reused for every request.
    argv_store: Vec<&'static [u8]>,
}

/// Where a run of requests stopped.
enum Step {
    /// No complete request is left in the buffer.
    More,
    /// Enough replies are pending to write them before going on.
    Flush,
    /// A command asked to close the connection.
    Stop(After),
}

impl Requests {
    /// Runs the complete requests in `buf[*consumed..]`, advancing
    /// `consumed`, until the buffer holds no complete request, replies pass
    /// the flush threshold, or the connection must close. Runs with one
    /// shared pass through the engine's gate, dropped before returning, so
    /// nothing is held while the caller waits for the socket.
    fn run(
        &mut self,
        rt: &Runtime,
        client: &mut Session,
        out: &mut Reply,
        buf: &[u8],
        consumed: &mut usize,
        now: u64,
    ) -> Step {
        let mut argv = recycle(std::mem::take(&mut self.argv_store));
        let mut pass = None;
        let step = self.run_with(rt, client, out, buf, consumed, now, &mut argv, &mut pass);
        drop(pass);
        self.argv_store = recycle(argv);
        step
    }

    #[allow(clippy::too_many_arguments)]
    fn run_with<'b, 'g>(
        &mut self,
        rt: &'g Runtime,
        client: &mut Session,
        out: &mut Reply,
        buf: &'b [u8],
        consumed: &mut usize,
        now: u64,
        argv: &mut Vec<&'b [u8]>,
        pass: &mut Option<Pass<'g>>,
    ) -> Step {
        let eng = &rt.engine;
        loop {
            // Pushes from other clients go out before the next reply, whole.
            if client.handle.has_pushes() {
                out.raw(&client.handle.take_pushes());
            }
            let limits = ParseLimits {
                unauthenticated: !client.authenticated,
                ..ParseLimits::default()
            };
            let window = &mut self.window;
            if window.next == window.requests.len() {
                window.fill(
                    &eng.dbs,
                    client.db,
                    &mut self.parser,
                    buf,
                    *consumed,
                    &limits,
                );
            }
            let after = if let Some((ranges, end)) = window.next_request() {
                *consumed = end;
                if ranges.is_empty() {
                    continue;
                }
                argv.clear();
                argv.extend(ranges.iter().map(|r| &buf[r.clone()]));
                let was_authenticated = client.authenticated;
                let after = command::execute(rt, client, out, now, argv, pass);
                if client.authenticated != was_authenticated {
                    // The parse limits changed: parse the rest again under them.
                    window.clear();
                }
                after
            } else {
                // An inline request, an incomplete one, or a protocol error.
                match self.parser.parse(&buf[*consumed..], &limits) {
                    Ok(None) => return Step::More,
                    Ok(Some(req)) => {
                        let end = *consumed + req.consumed();
                        match req {
                            Request::Empty { .. } => {
                                *consumed = end;
                                continue;
                            }
                            Request::Multibulk { .. } => {
                                // The window takes these; should one get here,
                                // it runs through the window all the same.
                                self.window.hold(&self.parser, *consumed, end);
                                continue;
                            }
                            Request::Inline { .. } => {
                                *consumed = end;
                                let owned = std::mem::take(&mut self.parser.inline_args);
                                let args: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
                                command::execute(rt, client, out, now, &args, pass)
                            }
                        }
                    }
                    Err(e) => {
                        tracing::debug!(
                            "protocol error from {}: {}",
                            client.handle.addr,
                            e.message()
                        );
                        out.error(&e.message());
                        return Step::Stop(After::Close);
                    }
                }
            };
            let limit = if client.authenticated {
                OUTPUT_LIMIT
            } else {
                UNAUTH_OUTPUT_LIMIT
            };
            if out.len() > limit {
                tracing::warn!(
                    "closing client {} that reached the output buffer limit",
                    client.handle.addr
                );
                eng.stats.output_limit_disconnections.fetch_add(1, Relaxed);
                return Step::Stop(After::Drop);
            }
            if after != After::Continue {
                return Step::Stop(after);
            }
            if out.len() >= FLUSH_THRESHOLD {
                return Step::Flush;
            }
        }
    }
}

/// EVAL, EVALSHA, EVAL_RO or EVALSHA_RO, in any case.
fn is_eval(name: &[u8]) -> bool {
    matches!(name.len(), 4 | 7 | 10)
        && name[..4].eq_ignore_ascii_case(b"eval")
        && [&b"eval"[..], b"evalsha", b"eval_ro", b"evalsha_ro"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
}

enum Read {
    Data,
    Closed,
}

/// Serves one client over a plain or TLS stream until it leaves or is closed.
pub async fn serve<S>(server: Arc<Server>, mut stream: S, handle: Arc<ClientHandle>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let rt = server.rt.clone();
    let eng = rt.engine.clone();
    let mut client = Session::new(handle.clone(), !eng.auth_required());
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = Reply::new();
    let mut reqs = Requests::default();
    let mut stop = server.shutdown_signal();
    // When the first byte of a not yet complete request arrived.
    let mut pending_since: Option<Instant> = None;
    // When oversized, empty buffers are to be released.
    let mut shrink_at: Option<Instant> = None;
    // Bytes allocated for the read buffer (`BytesMut::capacity` counts only
    // from the current read position).
    let mut rbuf_size = READ_CHUNK;
    handle.read_buffer_size.store(rbuf_size as u64, Relaxed);
    handle.qbuf_free.store(rbuf.capacity() as u64, Relaxed);
    let request_timeout = Duration::from_secs(eng.settings.uint(P::RequestTimeout));
    // Created once and kept registered across reads, so waiting for a kill
    // or a shutdown costs nothing per request.
    let killed = handle.killed();
    tokio::pin!(killed);
    let stopped = stop.changed();
    tokio::pin!(stopped);

    'conn: loop {
        // Big room only once a large request or pipeline is under way, so a
        // client trickling a few bytes holds no more than a plain read buffer.
        let room = if rbuf.len() >= READ_CHUNK / 2 {
            READ_CHUNK_BUSY
        } else {
            READ_CHUNK
        };
        if rbuf.capacity() - rbuf.len() < room / 4 {
            rbuf.reserve(rbuf.len().max(room));
            rbuf_size = rbuf_size.max(rbuf.capacity());
        }
        let timeout = eng.settings.uint(P::Timeout);
        let before = rbuf.len();
        let read = async {
            match stream.read_buf(&mut rbuf).await {
                Ok(0) | Err(_) => Read::Closed,
                Ok(_) => Read::Data,
            }
        };
        let allowed = if client.authenticated {
            request_timeout
        } else {
            request_timeout / 3
        };
        let deadline = pending_since.map(|t| t + allowed);
        let outcome = tokio::select! {
            r = read => r,
            _ = handle.pushed() => {
                // Messages and replies other clients pushed. Let the tasks
                // that are ready run first: publishers that follow add
                // their messages to the same write (as Redis writes a
                // subscriber's buffer once per event-loop turn).
                tokio::task::yield_now().await;
                out.raw(&handle.take_pushes());
                if !flush(&mut stream, &mut out, &eng, &handle, request_timeout).await {
                    break 'conn;
                }
                continue 'conn;
            }
            _ = &mut killed => break 'conn,
            _ = &mut stopped => break 'conn,
            _ = idle(timeout) => {
                tracing::debug!("closing idle client {}", handle.addr);
                eng.stats.timeout_disconnections.fetch_add(1, Relaxed);
                break 'conn;
            }
            _ = until(shrink_at) => {
                shrink_at = None;
                if rbuf.is_empty() && rbuf_size > KEEP_BUFFER {
                    rbuf = BytesMut::with_capacity(READ_CHUNK);
                    rbuf_size = READ_CHUNK;
                    handle.read_buffer_size.store(rbuf_size as u64, Relaxed);
                    handle.qbuf_free.store(rbuf.capacity() as u64, Relaxed);
                }
                out.shrink(KEEP_BUFFER);
                handle.out_capacity.store(out.capacity() as u64, Relaxed);
                handle.reply_peak.store(0, Relaxed);
                continue 'conn;
            }
            _ = until(deadline) => {
                tracing::debug!("closing client {} that did not finish its request in time", handle.addr);
                eng.stats.timeout_disconnections.fetch_add(1, Relaxed);
                break 'conn;
            }
        };
        if matches!(outcome, Read::Closed) {
            break;
        }
        eng.stats
            .net_input_bytes
            .fetch_add((rbuf.len() - before) as u64, Relaxed);
        eng.stats.reads_processed.fetch_add(1, Relaxed);
        let mut now = now_ms();
        handle.last_active_ms.store(now, Relaxed);
        client.start_batch(&eng.settings);

        let mut after = After::Continue;
        let mut consumed = 0;
        reqs.window.clear();
        loop {
            match reqs.run(&rt, &mut client, &mut out, &rbuf[..], &mut consumed, now) {
                Step::More => break,
                Step::Stop(After::Wait) => {
                    // WAIT: until enough replicas acknowledged, or timeout.
                    let Some(w) = client.waiting.take() else {
                        continue;
                    };
                    if !out.is_empty()
                        && !flush(&mut stream, &mut out, &eng, &handle, request_timeout).await
                    {
                        after = After::Drop;
                        break;
                    }
                    let feed = &eng.dbs.shared().feed;
                    let deadline = (w.timeout_ms > 0)
                        .then(|| Instant::now() + Duration::from_millis(w.timeout_ms));
                    let acked = loop {
                        let acked = feed.acks.notified();
                        tokio::pin!(acked);
                        acked.as_mut().enable();
                        let n = feed.acked(w.offset);
                        if n >= w.replicas {
                            break n;
                        }
                        tokio::select! {
                            _ = &mut acked => {}
                            _ = until(deadline) => break feed.acked(w.offset),
                            _ = &mut killed => {
                                after = After::Drop;
                                break 0;
                            }
                            _ = &mut stopped => {
                                after = After::Drop;
                                break 0;
                            }
                        }
                    };
                    if after == After::Drop {
                        break;
                    }
                    out.int(acked as i64);
                    now = now_ms();
                    client.start_batch(&eng.settings);
                }
                Step::Stop(After::Block) => {
                    // Sit out the wait (reading on, to notice a client that
                    // goes away), then go on with the requests after it.
                    let Some((w, timeout_ms)) = client.blocked.take() else {
                        continue;
                    };
                    if !out.is_empty()
                        && !flush(&mut stream, &mut out, &eng, &handle, request_timeout).await
                    {
                        eng.blocking.cancel(&w);
                        after = After::Drop;
                        break;
                    }
                    let mut deadline = (timeout_ms > 0)
                        .then(|| Instant::now() + Duration::from_millis(timeout_ms));
                    let served = loop {
                        tokio::select! {
                            _ = w.notify.notified() => {
                                if w.is_done() {
                                    break true;
                                }
                            }
                            _ = until(deadline) => {
                                deadline = None;
                                if eng.blocking.cancel(&w) {
                                    out.raw(&command::blocking::timeout_reply(out.resp3()));
                                    break false;
                                }
                                // Being served right now: its reply is coming.
                            }
                            r = stream.read_buf(&mut rbuf) => {
                                if matches!(r, Ok(0) | Err(_)) || rbuf.len() > BLOCKED_READ_LIMIT {
                                    eng.blocking.cancel(&w);
                                    after = After::Drop;
                                    break false;
                                }
                            }
                            _ = &mut killed => {
                                eng.blocking.cancel(&w);
                                after = After::Drop;
                                break false;
                            }
                            _ = &mut stopped => {
                                eng.blocking.cancel(&w);
                                after = After::Drop;
                                break false;
                            }
                        }
                    };
                    handle.blocked.store(false, Relaxed);
                    if after == After::Drop {
                        break;
                    }
                    if served {
                        out.raw(&w.take_reply().unwrap_or_default());
                    }
                    now = now_ms();
                    client.start_batch(&eng.settings);
                }
                Step::Stop(a) => {
                    after = a;
                    break;
                }
                Step::Flush => {
                    if !flush(&mut stream, &mut out, &eng, &handle, request_timeout).await {
                        after = After::Drop;
                        break;
                    }
                    client.start_batch(&eng.settings);
                }
            }
        }
        rbuf.advance(consumed);
        // What CLIENT LIST shows of this connection's buffers.
        handle.qbuf.store(rbuf.len() as u64, Relaxed);
        // (Of the whole allocation: `capacity` counts only past the
        // read position.)
        handle
            .qbuf_free
            .store(rbuf_size.saturating_sub(rbuf.len()) as u64, Relaxed);
        handle.out_capacity.store(out.capacity() as u64, Relaxed);
        eng.stats.absorb(&mut client.stats);
        pending_since = match (rbuf.is_empty(), consumed > 0, pending_since) {
            (true, _, _) => None,
            (false, false, Some(t)) => Some(t),
            (false, _, _) => Some(Instant::now()),
        };

        if after == After::Drop {
            break;
        }
        if !out.is_empty() {
            handle.out_pending.store(out.len() as u64, Relaxed);
            handle.reply_peak.fetch_max(out.len() as u64, Relaxed);
            let flushed = flush(&mut stream, &mut out, &eng, &handle, request_timeout).await;
            handle.out_pending.store(0, Relaxed);
            if !flushed {
                break;
            }
        }
        if after == After::Replicate {
            // From now on this connection carries the replication stream.
            let hello = std::mem::take(&mut client.replica_hello);
            eng.stats.absorb(&mut client.stats);
            client.close(&eng);
            super::to_replica::serve(server.clone(), stream, handle.clone(), hello, rbuf).await;
            return;
        }
        if after == After::Close || handle.is_killed() {
            break;
        }
        if rbuf_size > KEEP_BUFFER || out.capacity() > KEEP_BUFFER {
            shrink_at = Some(Instant::now() + SHRINK_AFTER);
        }
        handle.read_buffer_size.store(rbuf_size as u64, Relaxed);
        let query_limit = if client.authenticated {
            eng.settings.uint(P::ClientQueryBufferLimit) as usize
        } else {
            UNAUTH_QUERY_BUFFER
        };
        if rbuf.len() > query_limit {
            tracing::warn!(
                "closing client {} that reached max query buffer length",
                handle.addr
            );
            eng.stats.query_limit_disconnections.fetch_add(1, Relaxed);
            break;
        }
    }
    eng.stats.absorb(&mut client.stats);
    client.close(&eng);
    let _ = stream.shutdown().await;
}

/// Bytes a blocked client may send before its wait ends (they are queued
/// behind the blocking command).
const BLOCKED_READ_LIMIT: usize = 64 << 20;

/// Writes the pending replies and counts them; false when the client did
/// not take them in time (it is then to be closed).
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut Reply,
    eng: &Engine,
    handle: &ClientHandle,
    limit: Duration,
) -> bool {
    let written = tokio::select! {
        ok = write_in_time(stream, out.as_bytes(), limit) => ok,
        // Killed while stuck writing (CLIENT KILL, a push limit): give up.
        _ = handle.killed() => false,
    };
    if !written {
        eng.stats.output_limit_disconnections.fetch_add(1, Relaxed);
        return false;
    }
    eng.stats
        .net_output_bytes
        .fetch_add(out.len() as u64, Relaxed);
    eng.stats.writes_processed.fetch_add(1, Relaxed);
    out.clear();
    true
}

/// Writes `bytes`, giving up when the client does not read them in time
/// (a client that sends but never reads must not hold a slot for ever).
async fn write_in_time<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    limit: Duration,
) -> bool {
    matches!(
        tokio::time::timeout(limit, stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// Resolves at `deadline`, or never when there is none.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending::<()>().await,
    }
}

/// Resolves after `secs` seconds, or never when `secs` is 0.
async fn idle(secs: u64) {
    if secs == 0 {
        std::future::pending::<()>().await;
    } else {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
}
