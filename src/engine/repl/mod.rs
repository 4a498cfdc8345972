//! Replication state, master side: the feed of writes, the backlog, and the
//! replicas attached to this server.
//!
//! Every write that changes the dataset is appended, as the RESP command a
//! replica must run, to the replication backlog and to each attached
//! replica's pending output. Appends happen while the writer still holds
//! the locks of the keys it changed, so two writes to one key are fed in
//! the order they ran, and a `SELECT` goes first whenever the database
//! changes. The offset (`master_repl_offset`) counts every byte fed.
//!
//! As in Redis the feed is idle until the first replica asks for a full
//! sync: no backlog, offset frozen, and a write costs one atomic load. On a
//! replica the feed takes the master's stream verbatim instead (so chained
//! replicas share the master's ids and offsets) and local writes are not
//! fed.

pub mod backlog;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use backlog::Backlog;

/// Where an attached replica is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReplicaState {
    /// Waiting for the snapshot to start.
    WaitBgsave = 0,
    /// Receiving the snapshot.
    SendBulk = 1,
    /// Receiving the stream.
    Online = 2,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// One replica attached to this server: the bytes fed for it and not yet
/// written to its socket, and what it acknowledged.
pub struct Replica {
    /// Its client id.
    pub client_id: u64,
    /// The address it announced (REPLCONF ip-address) or connected from.
    pub ip: String,
    /// Its listening port (REPLCONF listening-port), 0 if not announced.
    pub port: u16,
    pending: Mutex<Vec<u8>>,
    /// Woken when bytes are pending.
    pub wake: tokio::sync::Notify,
    /// Set when its pending output passed the replica output limit.
    pub overflowed: AtomicBool,
    /// Set when the server drops it (a role change): its connection closes.
    pub closing: AtomicBool,
    state: AtomicU8,
    /// The offset it acknowledged (REPLCONF ACK).
    pub ack_offset: AtomicU64,
    /// When it last acknowledged (unix ms).
    pub ack_ms: AtomicU64,
}

impl Replica {
    pub fn new(client_id: u64, ip: String, port: u16, now_ms: u64) -> Replica {
        Replica {
            client_id,
            ip,
            port,
            pending: Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            overflowed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            state: AtomicU8::new(ReplicaState::WaitBgsave as u8),
            ack_offset: AtomicU64::new(0),
            ack_ms: AtomicU64::new(now_ms),
        }
    }

    pub fn state(&self) -> ReplicaState {
        match self.state.load(Relaxed) {
            0 => ReplicaState::WaitBgsave,
            1 => ReplicaState::SendBulk,
            _ => ReplicaState::Online,
        }
    }

    pub fn set_state(&self, s: ReplicaState) {
        self.state.store(s as u8, Relaxed);
    }

    /// Asks its connection to close.
    pub fn close(&self) {
        self.closing.store(true, Relaxed);
        self.wake.notify_one();
    }

    /// Takes the bytes fed since the last call.
    pub fn take_pending(&self) -> Vec<u8> {
        std::mem::take(&mut *self.pending.lock())
    }

    /// Records an acknowledgement (offsets only move forward).
    pub fn ack(&self, offset: u64, now_ms: u64) {
        self.ack_offset.fetch_max(offset, Relaxed);
        self.ack_ms.store(now_ms, Relaxed);
    }

    fn push(&self, bytes: &[u8], limit: usize) {
        let mut p = self.pending.lock();
        if self.overflowed.load(Relaxed) {
            return;
        }
        if limit > 0 && p.len() + bytes.len() > limit {
            self.overflowed.store(true, Relaxed);
            p.clear();
            p.shrink_to_fit();
        } else {
            p.extend_from_slice(bytes);
        }
        drop(p);
        self.wake.notify_one();
    }
}

/// A replica's link to its master, as ROLE names its states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// Not connected; about to connect.
    Connect,
    Connecting,
    /// Connected, exchanging PING/AUTH/REPLCONF/PSYNC.
    Handshake,
    /// Receiving the snapshot.
    Sync,
    /// Applying the stream.
    Connected,
}

impl Link {
    pub fn name(self) -> &'static str {
        match self {
            Link::Connect => "connect",
            Link::Connecting => "connecting",
            Link::Handshake => "handshake",
            Link::Sync => "sync",
            Link::Connected => "connected",
        }
    }
}

/// Whether this server follows a master, and how its link is doing.
#[derive(Clone, Debug)]
pub struct Role {
    /// The master followed (REPLICAOF host port), None for a master.
    pub master: Option<(String, u16)>,
    pub link: Link,
    /// Bumped by every REPLICAOF: a link task of an older generation stops.
    pub generation: u64,
    /// When the link last went down (unix ms; 0 = it never came up).
    pub link_down_since_ms: u64,
    /// When the master last sent anything (unix ms).
    pub last_io_ms: u64,
    /// Snapshot bytes expected and received during a sync.
    pub sync_total: u64,
    pub sync_read: u64,
}

impl Role {
    pub fn master() -> Role {
        Role {
            master: None,
            link: Link::Connect,
            generation: 0,
            link_down_since_ms: 0,
            last_io_ms: 0,
            sync_total: 0,
            sync_read: 0,
        }
    }

    pub fn is_master(&self) -> bool {
        self.master.is_none()
    }
}

/// The replication ids and the backlog, as INFO replication shows them.
#[derive(Clone, Debug)]
pub struct FeedInfo {
    pub replid: String,
    pub replid2: String,
    pub offset: u64,
    pub second_offset: i64,
    pub backlog_active: bool,
    pub backlog_size: usize,
    pub backlog_first_byte: u64,
    pub backlog_histlen: u64,
}

/// How a replica asking to resume (PSYNC) is answered.
pub enum Resume {
    /// `+CONTINUE <replid>` and these backlog bytes, then the stream.
    Continue { replid: String, backlog: Vec<u8> },
    /// A full sync is needed.
    Full,
}

struct State {
    replid: String,
    replid2: String,
    /// Offset up to which replid2 is valid (-1: none).
    second_offset: i64,
    /// master_repl_offset: bytes fed so far.
    offset: u64,
    backlog: Option<Backlog>,
    /// The database the stream last selected (None: SELECT before the next
    /// command).
    db: Option<usize>,
    replicas: Vec<Arc<Replica>>,
    /// Scratch space for encoding a command.
    scratch: Vec<u8>,
}

/// The replication feed (see the module documentation).
pub struct Feed {
    /// Woken whenever a replica acknowledges an offset (WAIT).
    pub acks: tokio::sync::Notify,
    /// Local writes are fed: this server is a master with a backlog.
    active: AtomicBool,
    /// Bytes of pending output a replica may accumulate (0 = no limit).
    output_limit: AtomicU64,
    /// Backlog size for when it is created (`repl-backlog-size`).
    backlog_size: AtomicU64,
    state: Mutex<State>,
}

/// 40 random hex characters.
pub fn random_id() -> String {
    (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap())
        .collect()
}

/// The replication id a server that never had a replica shows as replid2.
pub const NO_ID: &str = "0000000000000000000000000000000000000000";

impl Feed {
    pub fn new(backlog_size: usize, output_limit: usize) -> Feed {
        Feed {
            acks: tokio::sync::Notify::new(),
            active: AtomicBool::new(false),
            output_limit: AtomicU64::new(output_limit as u64),
            backlog_size: AtomicU64::new(backlog_size as u64),
            state: Mutex::new(State {
                replid: random_id(),
                replid2: NO_ID.to_string(),
                second_offset: -1,
                offset: 0,
                backlog: None,
                db: None,
                replicas: Vec::new(),
                scratch: Vec::new(),
            }),
        }
    }

    /// Whether local writes are fed (checked before building anything).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    pub fn set_backlog_size(&self, bytes: usize) {
        self.backlog_size.store(bytes as u64, Relaxed);
        if let Some(b) = self.state.lock().backlog.as_mut() {
            b.resize(bytes);
        }
    }

    pub fn set_output_limit(&self, bytes: usize) {
        self.output_limit.store(bytes as u64, Relaxed);
    }

    /// Feeds one command run in database `db`.
    pub fn command<A: AsRef<[u8]>>(&self, db: usize, args: &[A]) {
        if !self.is_active() {
            return;
        }
        let mut st = self.state.lock();
        let limit = self.output_limit.load(Relaxed) as usize;
        st.select(db, limit);
        st.encode_and_feed(args, limit);
    }

    /// Feeds the commands of one transaction or script: bare when there
    /// is one, wrapped in MULTI/EXEC when there are more.
    pub fn commands(&self, cmds: &[(usize, Vec<Vec<u8>>)]) {
        if !self.is_active() || cmds.is_empty() {
            return;
        }
        if let [(db, args)] = cmds {
            return self.command(*db, args);
        }
        let mut st = self.state.lock();
        let limit = self.output_limit.load(Relaxed) as usize;
        st.select(cmds[0].0, limit);
        st.encode_and_feed(&[b"MULTI"], limit);
        for (db, args) in cmds {
            st.select(*db, limit);
            st.encode_and_feed(args, limit);
        }
        st.encode_and_feed(&[b"EXEC"], limit);
    }

    /// Feeds `DEL key` (a key expired or evicted on this master).
    pub fn del(&self, db: usize, key: &[u8]) {
        self.command(db, &[&b"DEL"[..], key]);
    }

    /// Feeds a PING (the periodic keepalive; no database selected).
    pub fn ping(&self) {
        if !self.is_active() {
            return;
        }
        let mut st = self.state.lock();
        let limit = self.output_limit.load(Relaxed) as usize;
        st.encode_and_feed(&[b"PING"], limit);
    }

    /// Feeds `REPLCONF GETACK *`: every replica answers with its offset.
    pub fn getack(&self) {
        if !self.is_active() {
            return;
        }
        let mut st = self.state.lock();
        let limit = self.output_limit.load(Relaxed) as usize;
        st.encode_and_feed(&[&b"REPLCONF"[..], b"GETACK", b"*"], limit);
    }

    /// Online replicas that acknowledged at least `offset`.
    pub fn acked(&self, offset: u64) -> usize {
        self.state
            .lock()
            .replicas
            .iter()
            .filter(|r| r.state() == ReplicaState::Online && r.ack_offset.load(Relaxed) >= offset)
            .count()
    }

    /// Feeds bytes of a master's stream this replica applied, verbatim.
    pub fn raw(&self, bytes: &[u8]) {
        let mut st = self.state.lock();
        let limit = self.output_limit.load(Relaxed) as usize;
        st.feed(bytes, limit);
    }

    /// Attaches `r` for a full sync. Call inside an exclusive unit, with the
    /// snapshot started in the same unit: the replica gets every change
    /// after that instant. Creates the backlog (and a new replication id)
    /// if there is none. Returns (replid, offset) for `+FULLRESYNC`.
    pub fn attach_full(&self, r: Arc<Replica>, is_master: bool) -> (String, u64) {
        let mut st = self.state.lock();
        if st.backlog.is_none() {
            st.backlog = Some(Backlog::new(
                self.backlog_size.load(Relaxed) as usize,
                st.offset + 1,
            ));
            if is_master {
                st.replid = random_id();
                st.replid2 = NO_ID.to_string();
                st.second_offset = -1;
            }
        }
        if is_master {
            self.active.store(true, Relaxed);
        }
        st.db = None;
        st.replicas.push(r);
        (st.replid.clone(), st.offset)
    }

    /// Attaches `r` to resume from `offset` (the next byte it needs) of
    /// `replid`, if the backlog still holds it.
    pub fn attach_partial(&self, r: Arc<Replica>, replid: &str, offset: u64) -> Resume {
        let mut st = self.state.lock();
        let known =
            replid == st.replid || (replid == st.replid2 && (offset as i64) <= st.second_offset);
        let Some(bytes) = st
            .backlog
            .as_ref()
            .filter(|_| known)
            .and_then(|b| b.read_from(offset))
        else {
            return Resume::Full;
        };
        r.set_state(ReplicaState::Online);
        st.replicas.push(r);
        Resume::Continue {
            replid: st.replid.clone(),
            backlog: bytes,
        }
    }

    /// Detaches the replica with this client id.
    pub fn detach(&self, client_id: u64) {
        self.state
            .lock()
            .replicas
            .retain(|r| r.client_id != client_id);
    }

    /// Detaches every replica (REPLICAOF; they reconnect and resume).
    pub fn detach_all(&self) -> Vec<Arc<Replica>> {
        std::mem::take(&mut self.state.lock().replicas)
    }

    pub fn replicas(&self) -> Vec<Arc<Replica>> {
        self.state.lock().replicas.clone()
    }

    pub fn info(&self) -> FeedInfo {
        let st = self.state.lock();
        let (active, size, first, histlen) = match &st.backlog {
            Some(b) => (true, b.size(), b.first_byte(), b.histlen()),
            None => (false, self.backlog_size.load(Relaxed) as usize, 0, 0),
        };
        FeedInfo {
            replid: st.replid.clone(),
            replid2: st.replid2.clone(),
            offset: st.offset,
            second_offset: st.second_offset,
            backlog_active: active,
            backlog_size: size,
            backlog_first_byte: first,
            backlog_histlen: histlen,
        }
    }

    pub fn offset(&self) -> u64 {
        self.state.lock().offset
    }

    /// This server stops following a master and becomes one (REPLICAOF NO
    /// ONE): the old id stays valid as replid2 up to the current offset, so
    /// the other replicas of the old master can resume here.
    pub fn promote(&self) {
        let mut st = self.state.lock();
        st.replid2 = std::mem::replace(&mut st.replid, random_id());
        st.second_offset = st.offset as i64 + 1;
        st.db = None;
        if st.backlog.is_none() {
            st.backlog = Some(Backlog::new(
                self.backlog_size.load(Relaxed) as usize,
                st.offset + 1,
            ));
        }
        self.active.store(true, Relaxed);
    }

    /// This server starts following a master: local writes stop being fed.
    pub fn demote(&self) {
        self.active.store(false, Relaxed);
        self.state.lock().db = None;
    }

    /// After a full sync from a master: adopt its id and offset, with a
    /// fresh backlog.
    pub fn adopt(&self, replid: &str, offset: u64) {
        let mut st = self.state.lock();
        st.replid = replid.to_string();
        st.replid2 = NO_ID.to_string();
        st.second_offset = -1;
        st.offset = offset;
        st.backlog = Some(Backlog::new(
            self.backlog_size.load(Relaxed) as usize,
            offset + 1,
        ));
        st.db = None;
    }

    /// After `+CONTINUE <new id>` from a master whose id changed: the old id
    /// becomes replid2.
    pub fn switch_id(&self, replid: &str) {
        let mut st = self.state.lock();
        if st.replid != replid {
            st.replid2 = std::mem::replace(&mut st.replid, replid.to_string());
            st.second_offset = st.offset as i64 + 1;
        }
    }
}

impl State {
    fn select(&mut self, db: usize, limit: usize) {
        if self.db != Some(db) {
            self.db = Some(db);
            let mut n = itoa::Buffer::new();
            let db_text = n.format(db).as_bytes().to_vec();
            self.encode_and_feed(&[&b"SELECT"[..], &db_text], limit);
        }
    }

    fn encode_and_feed<A: AsRef<[u8]>>(&mut self, args: &[A], limit: usize) {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        encode_command(&mut buf, args);
        self.feed(&buf, limit);
        self.scratch = buf;
    }

    fn feed(&mut self, bytes: &[u8], limit: usize) {
        if let Some(b) = self.backlog.as_mut() {
            b.append(bytes);
            self.offset += bytes.len() as u64;
        }
        for r in &self.replicas {
            r.push(bytes, limit);
        }
    }
}

/// Appends a command as a RESP array of bulk strings.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Replica) -> String {
        String::from_utf8(r.take_pending()).unwrap()
    }

    #[test]
    fn an_idle_feed_costs_nothing_and_freezes_the_offset() {
        let f = Feed::new(1 << 20, 0);
        f.command(0, &[&b"SET"[..], b"k", b"v"]);
        assert_eq!(f.offset(), 0);
        assert!(!f.info().backlog_active);
    }

    #[test]
    fn selects_are_fed_when_the_database_changes_and_offsets_count_bytes() {
        let f = Feed::new(1 << 20, 0);
        let r = Arc::new(Replica::new(1, "127.0.0.1".into(), 6380, 0));
        let (id, offset) = f.attach_full(r.clone(), true);
        assert_eq!((id.len(), offset), (40, 0));
        f.command(0, &[&b"SET"[..], b"k", b"v"]);
        f.command(0, &[&b"DEL"[..], b"k"]);
        f.command(3, &[&b"INCR"[..], b"n"]);
        let got = text(&r);
        assert_eq!(
            got,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
        );
        assert_eq!(f.offset(), got.len() as u64);
        // A second replica resumes from any offset the backlog holds.
        let r2 = Arc::new(Replica::new(2, "127.0.0.1".into(), 6381, 0));
        match f.attach_partial(r2.clone(), &id, 24) {
            Resume::Continue { replid, backlog } => {
                assert_eq!(replid, id);
                assert_eq!(backlog, got.as_bytes()[23..]);
            }
            Resume::Full => panic!("expected +CONTINUE"),
        }
        let r3 = Arc::new(Replica::new(3, "127.0.0.1".into(), 6382, 0));
        assert!(matches!(f.attach_partial(r3, "other", 1), Resume::Full));
        f.commands(&[
            (3, vec![b"SET".to_vec(), b"a".to_vec(), b"1".to_vec()]),
            (3, vec![b"SET".to_vec(), b"b".to_vec(), b"2".to_vec()]),
        ]);
        let t = text(&r2);
        assert!(t.ends_with(
            "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*1\r\n$4\r\nEXEC\r\n"
        ));
    }

    #[test]
    fn a_promoted_replica_keeps_the_old_id_as_replid2() {
        let f = Feed::new(1 << 20, 0);
        f.adopt(&"a".repeat(40), 100);
        f.raw(b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(f.offset(), 114);
        f.promote();
        let info = f.info();
        assert_eq!(info.replid2, "a".repeat(40));
        assert_eq!(info.second_offset, 115);
        // The old master's other replica resumes with the old id.
        let r = Arc::new(Replica::new(1, "127.0.0.1".into(), 1, 0));
        assert!(matches!(
            f.attach_partial(r, &"a".repeat(40), 115),
            Resume::Continue { .. }
        ));
    }

    #[test]
    fn a_replica_past_its_output_limit_is_flagged() {
        let f = Feed::new(1 << 20, 100);
        let r = Arc::new(Replica::new(1, "x".into(), 1, 0));
        f.attach_full(r.clone(), true);
        for _ in 0..10 {
            f.command(0, &[&b"SET"[..], b"key", b"value"]);
        }
        assert!(r.overflowed.load(Relaxed));
    }
}
