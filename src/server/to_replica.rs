//! Serving a replica. After SYNC or PSYNC the connection carries the
//! replication stream: a partial resync answers `+CONTINUE` and sends the
//! backlog from the offset asked; a full sync freezes a snapshot and
//! attaches the replica to the feed in one exclusive unit (so it gets every
//! change after the image), answers `+FULLRESYNC <replid> <offset>`, sends
//! the RDB as `$<len>\r\n<bytes>` (newline keepalives while it is being
//! produced), then the stream. The replica's `REPLCONF ACK <offset>` are
//! read along the way; a replica silent for `repl-timeout` is dropped.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Server;
use crate::command::replication::Hello;
use crate::config::P;
use crate::engine::clients::{ClientHandle, ClientKind};
use crate::engine::repl::{Feed, Replica, ReplicaState, Resume};
use crate::engine::store::now_ms;
use crate::protocol::{ParseLimits, Parser, Request};

/// Serves the replica on `stream` until it leaves, is dropped or the
/// server stops. `rbuf` holds what it sent after its PSYNC.
pub async fn serve<S>(
    server: Arc<Server>,
    stream: S,
    handle: Arc<ClientHandle>,
    hello: Hello,
    rbuf: BytesMut,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let eng = server.engine().clone();
    handle.set_kind(ClientKind::Replica);
    let ip = hello
        .ip
        .clone()
        .unwrap_or_else(|| handle.addr.ip().to_string());
    let replica = Arc::new(Replica::new(handle.id, ip, hello.port, now_ms()));
    let (mut reader, mut writer) = tokio::io::split(stream);
    let outcome = sync_then_stream(
        &server,
        &mut reader,
        &mut writer,
        &handle,
        &hello,
        &replica,
        rbuf,
    )
    .await;
    eng.dbs.shared().feed.detach(handle.id);
    if let Err(why) = outcome {
        tracing::info!("replica {}:{} dropped: {why}", replica.ip, replica.port);
    }
    let _ = writer.shutdown().await;
}

async fn sync_then_stream<R, W>(
    server: &Arc<Server>,
    reader: &mut R,
    writer: &mut W,
    handle: &Arc<ClientHandle>,
    hello: &Hello,
    replica: &Arc<Replica>,
    mut rbuf: BytesMut,
) -> Result<(), String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let eng = server.engine().clone();
    let feed = &eng.dbs.shared().feed;
    let psync = matches!(hello.request, Some(Some(_)));
    let mut resumed = false;
    if let Some(Some((replid, offset))) = &hello.request {
        if replid != "?" {
            if let Resume::Continue { replid, backlog } =
                feed.attach_partial(replica.clone(), replid, *offset)
            {
                let line = if hello.psync2 {
                    format!("+CONTINUE {replid}\r\n")
                } else {
                    "+CONTINUE\r\n".to_string()
                };
                write(writer, line.as_bytes()).await?;
                write(writer, &backlog).await?;
                tracing::info!(
                    "replica {}:{} resumed from offset {offset} ({} backlog bytes)",
                    replica.ip,
                    replica.port,
                    backlog.len()
                );
                resumed = true;
                eng.stats.sync_partial_ok.fetch_add(1, Relaxed);
            } else {
                eng.stats.sync_partial_err.fetch_add(1, Relaxed);
            }
        }
    }
    if !resumed {
        // Freeze the image and attach in one exclusive unit; wait (with
        // keepalives) while another snapshot is being written.
        let (replid, offset, pending) = loop {
            let started =
                eng.with_exclusive_unit(now_ms(), |unit| eng.start_sync(unit, replica.clone()));
            if let Ok(Some(s)) = started {
                break s;
            }
            write(writer, b"\n").await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tracing::info!(
            "replica {}:{} full sync from offset {offset}",
            replica.ip,
            replica.port
        );
        eng.stats.sync_full.fetch_add(1, Relaxed);
        if psync {
            write(
                writer,
                format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes(),
            )
            .await?;
        }
        replica.set_state(ReplicaState::SendBulk);
        let worker = eng.clone();
        let mut image =
            tokio::task::spawn_blocking(move || worker.sync_image(pending, &replid, offset));
        let image = loop {
            tokio::select! {
                done = &mut image => break done,
                _ = tokio::time::sleep(Duration::from_secs(1)) => write(writer, b"\n").await?,
            }
        };
        let image = image
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("snapshot failed: {e}"))?;
        write(writer, format!("${}\r\n", image.len()).as_bytes()).await?;
        write(writer, &image).await?;
        replica.set_state(ReplicaState::Online);
        tracing::info!(
            "replica {}:{} sent {} snapshot bytes, streaming",
            replica.ip,
            replica.port,
            image.len()
        );
    }
    replica.ack_ms.store(now_ms(), Relaxed);

    let mut parser = Parser::new();
    let limits = ParseLimits::default();
    let killed = handle.killed();
    tokio::pin!(killed);
    let mut stop = server.shutdown_signal();
    let stopped = stop.changed();
    tokio::pin!(stopped);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        // Let every connection that is ready run first, so one write carries
        // what they all fed in this scheduler pass (Redis too writes to its
        // replicas once per event-loop iteration): a write per pipeline
        // would wake the replica for every few commands.
        tokio::task::yield_now().await;
        let pending = replica.take_pending();
        if !pending.is_empty() {
            tokio::select! {
                r = writer.write_all(&pending) => r.map_err(|e| e.to_string())?,
                _ = &mut killed => return Err("killed".into()),
                _ = &mut stopped => return Ok(()),
            }
            eng.stats
                .net_output_bytes
                .fetch_add(pending.len() as u64, Relaxed);
            eng.stats
                .net_repl_output_bytes
                .fetch_add(pending.len() as u64, Relaxed);
            continue;
        }
        if replica.overflowed.load(Relaxed) {
            return Err("output buffer limit reached".into());
        }
        if replica.closing.load(Relaxed) {
            return Err("role change".into());
        }
        tokio::select! {
            _ = replica.wake.notified() => {}
            r = reader.read_buf(&mut rbuf) => {
                match r {
                    Ok(0) | Err(_) => return Err("connection closed".into()),
                    Ok(_) => read_acks(&mut parser, &limits, &mut rbuf, replica, feed)?,
                }
            }
            _ = tick.tick() => {
                let timeout = eng.settings.uint(P::ReplTimeout) * 1000;
                let last = replica.ack_ms.load(Relaxed);
                if now_ms().saturating_sub(last) > timeout {
                    return Err("timeout".into());
                }
            }
            _ = &mut killed => return Err("killed".into()),
            _ = &mut stopped => return Ok(()),
        }
    }
}

/// Takes the complete commands in `rbuf`: REPLCONF ACK updates the
/// replica's offset; anything else from a replica is ignored, as in Redis.
fn read_acks(
    parser: &mut Parser,
    limits: &ParseLimits,
    rbuf: &mut BytesMut,
    replica: &Replica,
    feed: &Feed,
) -> Result<(), String> {
    loop {
        match parser.parse(&rbuf[..], limits) {
            Ok(None) => return Ok(()),
            Ok(Some(req)) => {
                let used = req.consumed();
                if let Request::Multibulk { .. } = req {
                    let args: Vec<&[u8]> = parser.args.iter().map(|r| &rbuf[r.clone()]).collect();
                    if args.len() == 3
                        && args[0].eq_ignore_ascii_case(b"replconf")
                        && args[1].eq_ignore_ascii_case(b"ack")
                    {
                        if let Some(off) = crate::numeric::parse_i64(args[2]) {
                            replica.ack(off.max(0) as u64, now_ms());
                            feed.acks.notify_waiters();
                        }
                    }
                } else {
                    // A bare newline: the replica is alive.
                    replica.ack_ms.store(now_ms(), Relaxed);
                }
                rbuf.advance(used);
            }
            Err(e) => return Err(format!("protocol error: {}", e.message())),
        }
    }
}

async fn write<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> Result<(), String> {
    w.write_all(bytes).await.map_err(|e| e.to_string())
}
