//! The registry of connected clients. Each connection owns an
//! `Arc<ClientHandle>`: the part of its state other clients may read
//! (CLIENT LIST), act on (CLIENT KILL), or push to (Pub/Sub messages, the
//! reply of a blocked command served by another client's write). Pushes
//! wait in the handle's queue until its connection writes them; the
//! registry is touched only when clients connect and disconnect.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What a client is (CLIENT LIST `TYPE`, CLIENT KILL `TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ClientKind {
    Normal,
    Pubsub,
    Replica,
    Master,
}

pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created_ms: u64,
    pub last_active_ms: AtomicU64,
    /// Capacity of the connection's read buffer (CLIENT LIST `rbs`).
    pub read_buffer_size: AtomicU64,
    /// The socket's file descriptor (CLIENT LIST `fd`; -1: none).
    pub fd: AtomicI64,
    /// Query buffer bytes not yet parsed, and its free space (`qbuf`,
    /// `qbuf-free`), as of the end of the last batch.
    pub qbuf: AtomicU64,
    pub qbuf_free: AtomicU64,
    /// Most reply bytes written at once since the reply buffer was last
    /// shrunk (`rbp`).
    pub reply_peak: AtomicU64,
    /// Reply bytes waiting to be written (`obl`), and the capacity of the
    /// reply buffer (counted in `tot-mem`).
    pub out_pending: AtomicU64,
    pub out_capacity: AtomicU64,
    /// Bytes of the commands queued in MULTI (`multi-mem`).
    pub multi_mem: AtomicU64,
    /// Client-side caching: 0 off, else 1 | 2 (BCAST) | 4 (broken
    /// redirect), and the redirect id (CLIENT LIST `t`, `B`, `R`, `redir`).
    pub tracking: AtomicU8,
    pub redirect: AtomicU64,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub resp: AtomicU8,
    /// The selected database.
    pub db: AtomicU16,
    /// The command table id of the last command, plus one (0 = none yet).
    pub last_cmd: AtomicU16,
    /// Queued commands while in MULTI, -1 otherwise.
    pub multi: AtomicI64,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    /// Waiting in a blocking command (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// Channels, patterns and shard channels subscribed (CLIENT LIST).
    pub subs: [AtomicU32; 3],
    kind: AtomicU8,
    killed: AtomicBool,
    kill_notify: Notify,
    /// Replies and messages pushed by other clients, not yet written.
    pushes: Mutex<Pushes>,
    has_pushes: AtomicBool,
    push_notify: Notify,
    push_limits: Arc<PushLimits>,
}

/// Pending pushes and how long they have been over the soft limit.
#[derive(Default)]
struct Pushes {
    bytes: Vec<u8>,
    over_soft_since: Option<Instant>,
}

/// The pubsub class of `client-output-buffer-limit` (Redis's default
/// `pubsub 32mb 8mb 60`): past the hard limit, or past the soft one for
/// soft_seconds, a client that does not read its pushes is disconnected;
/// 0 turns a limit off. Shared by every client of the registry.
pub struct PushLimits {
    pub hard: AtomicU64,
    pub soft: AtomicU64,
    pub soft_seconds: AtomicU64,
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits {
            hard: AtomicU64::new(32 << 20),
            soft: AtomicU64::new(8 << 20),
            soft_seconds: AtomicU64::new(60),
        }
    }
}

/// Redis's reply buffer: replies beyond it are counted as its reply list
/// (CLIENT LIST `oll`, `omem`).
pub const REPLY_CHUNK: u64 = 16 * 1024;

/// A client's buffers as CLIENT LIST shows them.
pub struct Buffers {
    /// Reply buffer size, bytes in it, chunks and bytes past it.
    pub rbs: u64,
    pub obl: u64,
    pub oll: u64,
    pub omem: u64,
    /// Reply and push bytes waiting to be written.
    pub pending: u64,
    /// Memory of the buffers, queued MULTI commands and the handle
    /// (CLIENT LIST `tot-mem` without the running command's arguments).
    pub tot_mem: u64,
}

impl ClientHandle {
    /// The client's buffers; `own_out` is the reply bytes of the batch
    /// the client itself is running (known only to its connection).
    pub fn buffers(&self, own_out: u64) -> Buffers {
        let rbs = self.out_capacity.load(Relaxed).max(REPLY_CHUNK);
        let pending = own_out + self.out_pending.load(Relaxed) + self.pushes_len() as u64;
        let obl = pending.min(rbs);
        let omem = pending - obl;
        Buffers {
            rbs,
            obl,
            oll: omem.div_ceil(REPLY_CHUNK),
            omem,
            pending,
            tot_mem: self.read_buffer_size.load(Relaxed)
                + rbs
                + omem
                + self.multi_mem.load(Relaxed)
                + std::mem::size_of::<ClientHandle>() as u64,
        }
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.kill_notify.notify_one();
    }
    pub fn is_killed(&self) -> bool {
        self.killed.load(Relaxed)
    }
    /// Resolves when the client was killed.
    pub async fn killed(&self) {
        if !self.is_killed() {
            self.kill_notify.notified().await;
        }
    }
    /// Queues bytes for this client's connection and wakes it. A client
    /// past the push limits is killed instead of growing without bound.
    pub fn push(&self, bytes: &[u8]) {
        let mut p = self.pushes.lock();
        p.bytes.extend_from_slice(bytes);
        let len = p.bytes.len() as u64;
        let limits = &self.push_limits;
        let (hard, soft) = (limits.hard.load(Relaxed), limits.soft.load(Relaxed));
        let over = if hard > 0 && len > hard {
            true
        } else if soft > 0 && len > soft {
            let since = *p.over_soft_since.get_or_insert_with(Instant::now);
            since.elapsed() > Duration::from_secs(limits.soft_seconds.load(Relaxed))
        } else {
            p.over_soft_since = None;
            false
        };
        if over {
            p.bytes = Vec::new();
            drop(p);
            tracing::warn!(
                "client {} closed for overcoming of output buffer limits",
                self.addr
            );
            self.kill();
            return;
        }
        drop(p);
        self.has_pushes.store(true, Relaxed);
        self.push_notify.notify_one();
    }

    /// Bytes of pushes waiting to be written.
    pub fn pushes_len(&self) -> usize {
        self.pushes.lock().bytes.len()
    }

    /// True when pushes wait to be written.
    #[inline]
    pub fn has_pushes(&self) -> bool {
        self.has_pushes.load(Relaxed)
    }

    /// Takes the pending pushes.
    pub fn take_pushes(&self) -> Vec<u8> {
        let mut p = self.pushes.lock();
        self.has_pushes.store(false, Relaxed);
        p.over_soft_since = None;
        std::mem::take(&mut p.bytes)
    }

    /// Resolves when something was pushed (possibly already taken).
    pub async fn pushed(&self) {
        if !self.has_pushes() {
            self.push_notify.notified().await;
        }
    }

    /// True when the client speaks RESP3 (pushes are `>` frames).
    #[inline]
    pub fn resp3(&self) -> bool {
        self.resp.load(Relaxed) == 3
    }

    pub fn kind(&self) -> ClientKind {
        match self.kind.load(Relaxed) {
            1 => ClientKind::Pubsub,
            2 => ClientKind::Replica,
            3 => ClientKind::Master,
            _ => ClientKind::Normal,
        }
    }
    pub fn set_kind(&self, k: ClientKind) {
        self.kind.store(k as u8, Relaxed);
    }
    pub fn name_lossy(&self) -> String {
        lossy(&self.name)
    }
    pub fn lib_name_lossy(&self) -> String {
        lossy(&self.lib_name)
    }
    pub fn lib_ver_lossy(&self) -> String {
        lossy(&self.lib_ver)
    }
}

fn lossy(m: &Mutex<Option<Vec<u8>>>) -> String {
    m.lock()
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn new_handle(
    id: u64,
    addr: SocketAddr,
    laddr: SocketAddr,
    now_ms: u64,
    push_limits: Arc<PushLimits>,
) -> ClientHandle {
    ClientHandle {
        id,
        addr,
        laddr,
        created_ms: now_ms,
        last_active_ms: AtomicU64::new(now_ms),
        read_buffer_size: AtomicU64::new(0),
        fd: AtomicI64::new(-1),
        qbuf: AtomicU64::new(0),
        qbuf_free: AtomicU64::new(0),
        reply_peak: AtomicU64::new(0),
        out_pending: AtomicU64::new(0),
        out_capacity: AtomicU64::new(0),
        multi_mem: AtomicU64::new(0),
        tracking: AtomicU8::new(0),
        redirect: AtomicU64::new(0),
        name: Mutex::new(None),
        lib_name: Mutex::new(None),
        lib_ver: Mutex::new(None),
        resp: AtomicU8::new(2),
        db: AtomicU16::new(0),
        last_cmd: AtomicU16::new(0),
        multi: AtomicI64::new(-1),
        no_evict: AtomicBool::new(false),
        no_touch: AtomicBool::new(false),
        blocked: AtomicBool::new(false),
        subs: Default::default(),
        kind: AtomicU8::new(ClientKind::Normal as u8),
        killed: AtomicBool::new(false),
        kill_notify: Notify::new(),
        pushes: Mutex::new(Pushes::default()),
        has_pushes: AtomicBool::new(false),
        push_notify: Notify::new(),
        push_limits,
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    /// The pubsub output limits every client's pushes obey.
    pub push_limits: Arc<PushLimits>,
}

impl ClientRegistry {
    /// Registers a new client and returns its handle.
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr, now_ms: u64) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let handle = Arc::new(new_handle(
            id,
            addr,
            laddr,
            now_ms,
            self.push_limits.clone(),
        ));
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    /// A client that is not listed (the session scripts run commands in).
    pub fn detached(&self, name: &str) -> Arc<ClientHandle> {
        let addr: SocketAddr = ([0, 0, 0, 0], 0).into();
        let h = new_handle(0, addr, addr, 0, self.push_limits.clone());
        *h.name.lock() = Some(name.as_bytes().to_vec());
        Arc::new(h)
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    /// All clients, ordered by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientHandle>> {
        let mut v: Vec<_> = self.clients.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id);
        v
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// Client eviction (`maxmemory-clients`): while normal and Pub/Sub
    /// clients together hold `limit` bytes or more, disconnects the one
    /// holding the most (CLIENT NO-EVICT clients, replicas and masters are
    /// spared). Returns how many were disconnected.
    pub fn evict_over(&self, limit: u64) -> u64 {
        let mut sizes: Vec<(u64, bool, Arc<ClientHandle>)> = self
            .clients
            .lock()
            .values()
            .filter(|c| matches!(c.kind(), ClientKind::Normal | ClientKind::Pubsub))
            .filter(|c| !c.is_killed())
            .map(|c| (0, c.no_evict.load(Relaxed), c.clone()))
            .collect();
        for s in sizes.iter_mut() {
            s.0 = s.2.buffers(0).tot_mem;
        }
        let mut total: u64 = sizes.iter().map(|s| s.0).sum();
        if total < limit {
            return 0;
        }
        sizes.retain(|s| !s.1);
        sizes.sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        let mut evicted = 0;
        for (bytes, _, c) in sizes {
            if total < limit {
                break;
            }
            tracing::info!(
                "client {} ({}) disconnected: clients use {total} bytes, maxmemory-clients is {limit}; it held {bytes}",
                c.id,
                c.addr
            );
            c.kill();
            total -= bytes;
            evicted += 1;
        }
        evicted
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Invalidation messages of client-side caching, as Redis sends them: a
/// RESP3 `invalidate` push to the tracking client or to the client it
/// redirects to, or for a RESP2 redirect target in Pub/Sub mode a message
/// on `__redis__:invalidate`. A vanished redirect target is reported to a
/// RESP3 tracking client with `tracking-redir-broken`.
impl super::store::tracking::InvalidationSink for ClientRegistry {
    fn invalidate(&self, client: u64, redirect: u64, key: Option<&[u8]>) {
        let Some(tracker) = self.get(client) else {
            return;
        };
        let target = if redirect == 0 {
            tracker.clone()
        } else {
            match self.get(redirect) {
                Some(t) => t,
                None => {
                    tracker.tracking.fetch_or(4, Relaxed);
                    if tracker.resp3() {
                        let id = redirect.to_string();
                        let mut msg = b">2\r\n$21\r\ntracking-redir-broken\r\n:".to_vec();
                        msg.extend_from_slice(id.as_bytes());
                        msg.extend_from_slice(b"\r\n");
                        tracker.push(&msg);
                    }
                    return;
                }
            }
        };
        let mut msg = if target.resp3() {
            b">2\r\n$10\r\ninvalidate\r\n".to_vec()
        } else if redirect != 0 && target.subs.iter().any(|s| s.load(Relaxed) > 0) {
            b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".to_vec()
        } else {
            // RESP2 has no pushes on the tracking connection itself.
            return;
        };
        match key {
            Some(k) => {
                msg.extend_from_slice(b"*1\r\n$");
                msg.extend_from_slice(k.len().to_string().as_bytes());
                msg.extend_from_slice(b"\r\n");
                msg.extend_from_slice(k);
                msg.extend_from_slice(b"\r\n");
            }
            // A flush: the tracking client's own protocol's null, as Redis.
            None if tracker.resp3() => msg.extend_from_slice(b"_\r\n"),
            None => msg.extend_from_slice(b"$-1\r\n"),
        }
        target.push(&msg);
    }
}
