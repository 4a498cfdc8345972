//! The registry of connected clients, for CLIENT LIST / KILL / INFO. Each
//! connection owns an `Arc<ClientHandle>`; the registry is touched only when
//! clients connect and disconnect.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;

pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created_ms: u64,
    pub last_active_ms: AtomicU64,
    /// Capacity of the connection's read buffer (CLIENT LIST `rbs`).
    pub read_buffer_size: AtomicU64,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub resp: AtomicU8,
    pub no_evict: AtomicBool,
    pub no_touch: AtomicBool,
    killed: AtomicBool,
    kill_notify: Notify,
}

impl ClientHandle {
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

    /// One CLIENT LIST line.
    pub fn describe(&self, now_ms: u64) -> String {
        let s = |m: &Mutex<Option<Vec<u8>>>| {
            m.lock()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let age = now_ms.saturating_sub(self.created_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_active_ms.load(Relaxed)) / 1000;
        let mut flags = String::new();
        if self.no_evict.load(Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=NULL user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            s(&self.name),
            age,
            idle,
            flags,
            self.read_buffer_size.load(Relaxed),
            self.resp.load(Relaxed),
            s(&self.lib_name),
            s(&self.lib_ver),
        )
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    pub fn register(&self, addr: SocketAddr, laddr: SocketAddr, now_ms: u64) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Relaxed) + 1;
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created_ms: now_ms,
            last_active_ms: AtomicU64::new(now_ms),
            read_buffer_size: AtomicU64::new(0),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            resp: AtomicU8::new(2),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
        });
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
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

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
