//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, ...): who waits on
//! which key, in arrival order, and the keys that became ready.
//!
//! A waiter is registered while its command holds the keys' shard locks,
//! so a push either happened before (and the command found data) or comes
//! after and marks the key ready. Whoever serves a waiter first claims it
//! (WAITING -> SERVING), so a timeout or a disconnect racing with the
//! service can never lose a popped element; the serving side then hands
//! over the reply and wakes the client's connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;

/// The end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// What a blocked client waits to do.
#[derive(Clone, Debug, PartialEq)]
pub enum BlockOp {
    /// BLPOP/BRPOP (`count` None: `*2 key elem`) or BLMPOP (`*2 key [elems]`).
    ListPop { end: End, count: Option<usize> },
    /// BLMOVE / BRPOPLPUSH: the element moved to `dst`.
    ListMove { from: End, to: End, dst: Vec<u8> },
    /// BZPOPMIN/BZPOPMAX (`count` None) or BZMPOP.
    ZPop { max: bool, count: Option<usize> },
    /// XREAD / XREADGROUP: entries after an id.
    Stream(Box<StreamRead>),
}

/// What a client blocked in XREAD or XREADGROUP waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamRead {
    /// Per key (in the waiter's key order): entries after this id are
    /// new to it (XREADGROUP waits for its group's new entries instead).
    pub ids: Vec<crate::engine::store::stream::StreamId>,
    /// XREADGROUP: group, consumer, NOACK.
    pub group: Option<(Vec<u8>, Vec<u8>, bool)>,
    /// Entries per reply at most.
    pub count: usize,
}

const WAITING: u8 = 0;
const SERVING: u8 = 1;
const DONE: u8 = 2;

/// One blocked client.
pub struct Waiter {
    pub client_id: u64,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    pub op: BlockOp,
    /// The client's protocol, for the reply built on its behalf.
    pub resp3: bool,
    state: AtomicU8,
    reply: Mutex<Option<Vec<u8>>>,
    pub notify: tokio::sync::Notify,
}

impl Waiter {
    pub fn new(client_id: u64, db: usize, keys: Vec<Vec<u8>>, op: BlockOp, resp3: bool) -> Waiter {
        Waiter {
            client_id,
            db,
            keys,
            op,
            resp3,
            state: AtomicU8::new(WAITING),
            reply: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
        }
    }

    /// The reply handed over by whoever finished this waiter.
    pub fn take_reply(&self) -> Option<Vec<u8>> {
        self.reply.lock().take()
    }

    pub fn is_done(&self) -> bool {
        self.state.load(SeqCst) == DONE
    }
}

#[derive(Default)]
struct Registry {
    by_key: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    by_client: HashMap<u64, Arc<Waiter>>,
    ready: VecDeque<(usize, Vec<u8>)>,
}

/// The engine's table of blocked clients.
#[derive(Default)]
pub struct Blocking {
    /// Blocked clients (a lock-free check for the common case of none).
    waiting: AtomicUsize,
    /// Keys marked ready and not yet served.
    ready: AtomicUsize,
    inner: Mutex<Registry>,
}

impl Blocking {
    #[inline]
    pub fn has_waiters(&self) -> bool {
        self.waiting.load(SeqCst) > 0
    }

    #[inline]
    pub fn has_ready(&self) -> bool {
        self.ready.load(SeqCst) > 0
    }

    /// Blocked clients (INFO blocked_clients).
    pub fn count(&self) -> usize {
        self.waiting.load(SeqCst)
    }

    pub fn register(&self, w: Arc<Waiter>) {
        let mut r = self.inner.lock();
        for k in &w.keys {
            let q = r.by_key.entry((w.db, k.clone())).or_default();
            // A key named twice still queues the client once.
            if !q.iter().any(|x| Arc::ptr_eq(x, &w)) {
                q.push_back(w.clone());
            }
        }
        r.by_client.insert(w.client_id, w.clone());
        self.waiting.fetch_add(1, SeqCst);
    }

    /// Marks `key` ready if a client waits on it.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if !self.has_waiters() {
            return;
        }
        let mut r = self.inner.lock();
        let k = (db, key.to_vec());
        if r.by_key.contains_key(&k) && !r.ready.contains(&k) {
            r.ready.push_back(k);
            self.ready.fetch_add(1, SeqCst);
        }
    }

    /// Marks every key with waiters ready (after a script or transaction
    /// whose keys are not known).
    pub fn signal_all(&self) {
        self.signal_matching(|_| true);
    }

    /// Marks ready every key with waiters in one of `dbs` (SWAPDB gave
    /// those databases new contents; keys still missing are skipped when
    /// served).
    pub fn signal_dbs(&self, dbs: &[usize]) {
        self.signal_matching(|db| dbs.contains(&db));
    }

    fn signal_matching(&self, in_db: impl Fn(usize) -> bool) {
        if !self.has_waiters() {
            return;
        }
        let mut r = self.inner.lock();
        let keys: Vec<(usize, Vec<u8>)> = r
            .by_key
            .keys()
            .filter(|(db, _)| in_db(*db))
            .cloned()
            .collect();
        for k in keys {
            if !r.ready.contains(&k) {
                r.ready.push_back(k);
                self.ready.fetch_add(1, SeqCst);
            }
        }
    }

    /// The next ready key, in the order keys became ready.
    pub fn next_ready(&self) -> Option<(usize, Vec<u8>)> {
        let mut r = self.inner.lock();
        let k = r.ready.pop_front()?;
        self.ready.fetch_sub(1, SeqCst);
        Some(k)
    }

    /// Every client still waiting on `key`, longest-waiting first.
    pub fn waiting_on(&self, db: usize, key: &[u8]) -> Vec<Arc<Waiter>> {
        let r = self.inner.lock();
        r.by_key
            .get(&(db, key.to_vec()))
            .map(|q| {
                q.iter()
                    .filter(|w| w.state.load(SeqCst) == WAITING)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The longest-waiting client still waiting on `key`.
    pub fn front(&self, db: usize, key: &[u8]) -> Option<Arc<Waiter>> {
        let r = self.inner.lock();
        r.by_key
            .get(&(db, key.to_vec()))?
            .iter()
            .find(|w| w.state.load(SeqCst) == WAITING)
            .cloned()
    }

    /// Takes `w` for service; false when it already timed out, was
    /// unblocked or was served.
    pub fn claim(&self, w: &Waiter) -> bool {
        w.state
            .compare_exchange(WAITING, SERVING, SeqCst, SeqCst)
            .is_ok()
    }

    /// Hands `reply` to a claimed waiter, removes it and wakes its client.
    pub fn finish(&self, w: &Arc<Waiter>, reply: Vec<u8>) {
        *w.reply.lock() = Some(reply);
        self.remove(w);
        w.state.store(DONE, SeqCst);
        w.notify.notify_one();
    }

    /// Ends a wait from the client's side (timeout, CLIENT UNBLOCK,
    /// disconnect). False when a server got there first: its reply is (or
    /// is about to be) in the waiter.
    pub fn cancel(&self, w: &Arc<Waiter>) -> bool {
        if !self.claim(w) {
            return false;
        }
        self.remove(w);
        w.state.store(DONE, SeqCst);
        true
    }

    /// CLIENT UNBLOCK: ends `client_id`'s wait with `reply`; false when
    /// that client is not blocked.
    pub fn unblock(&self, client_id: u64, reply: Vec<u8>) -> bool {
        let Some(w) = self.inner.lock().by_client.get(&client_id).cloned() else {
            return false;
        };
        if !self.claim(&w) {
            return false;
        }
        self.finish(&w, reply);
        true
    }

    /// Whether `client_id` is blocked (CLIENT LIST flag `b`).
    pub fn is_blocked(&self, client_id: u64) -> bool {
        self.inner.lock().by_client.contains_key(&client_id)
    }

    fn remove(&self, w: &Arc<Waiter>) {
        let mut r = self.inner.lock();
        if r.by_client.remove(&w.client_id).is_none() {
            return;
        }
        for k in &w.keys {
            let key = (w.db, k.clone());
            if let Some(q) = r.by_key.get_mut(&key) {
                q.retain(|x| !Arc::ptr_eq(x, w));
                if q.is_empty() {
                    r.by_key.remove(&key);
                }
            }
        }
        self.waiting.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(id: u64, keys: &[&str]) -> Arc<Waiter> {
        Arc::new(Waiter::new(
            id,
            0,
            keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
            BlockOp::ListPop {
                end: End::Left,
                count: None,
            },
            false,
        ))
    }

    #[test]
    fn waiters_are_served_in_arrival_order_and_claimed_once() {
        let b = Blocking::default();
        let (w1, w2) = (waiter(1, &["a", "b"]), waiter(2, &["a"]));
        b.register(w1.clone());
        b.register(w2.clone());
        assert_eq!(b.count(), 2);
        b.signal(0, b"zzz");
        assert!(!b.has_ready(), "nobody waits on zzz");
        b.signal(0, b"a");
        b.signal(0, b"a");
        assert_eq!(b.next_ready(), Some((0, b"a".to_vec())));
        assert_eq!(b.next_ready(), None);
        let front = b.front(0, b"a").unwrap();
        assert_eq!(front.client_id, 1);
        assert!(b.claim(&front));
        assert!(!b.cancel(&front), "a claimed waiter cannot time out");
        b.finish(&front, b"reply".to_vec());
        assert_eq!(w1.take_reply(), Some(b"reply".to_vec()));
        assert!(
            b.front(0, b"b").is_none(),
            "served on one key, gone from all"
        );
        assert_eq!(b.front(0, b"a").unwrap().client_id, 2);
        assert!(b.cancel(&w2));
        assert_eq!(b.count(), 0);
        assert!(!b.unblock(2, Vec::new()));
    }
}
