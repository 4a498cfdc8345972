//! Client-side caching (CLIENT TRACKING): which clients may hold a copy of
//! which keys, and telling them when a key changes. In the default mode a
//! client's reads record the keys it read; the first change of such a key
//! (a write, expiry or eviction: the same points that break a WATCH) sends
//! an invalidation to every client that recorded it and forgets the key.
//! In broadcast mode a client names key prefixes instead and is told of
//! every change of a key with one of them. Keys are names only, across
//! databases, as in Redis. The table holds at most
//! `tracking-table-max-keys` keys; past that the oldest are invalidated
//! and forgotten. Messages go out through a sink (the engine's clients).
//! With no tracking client a change costs one atomic load.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use hashbrown::{HashMap, HashSet};
use parking_lot::Mutex;

/// Delivers invalidations to clients.
pub trait InvalidationSink: Send + Sync {
    /// Tells tracking client `client` (through `redirect` when it is not
    /// 0) that `key` changed; None means everything (a flush).
    fn invalidate(&self, client: u64, redirect: u64, key: Option<&[u8]>);
}

/// How one client tracks.
#[derive(Clone, Debug, Default)]
pub struct Mode {
    pub redirect: u64,
    pub bcast: bool,
    pub noloop: bool,
    pub prefixes: Vec<Vec<u8>>,
}

#[derive(Default)]
struct State {
    /// Default mode: key -> clients that read it since its last change.
    keys: HashMap<Box<[u8]>, HashSet<u64>>,
    /// Keys in the order they entered the table (for the size limit).
    order: VecDeque<Box<[u8]>>,
    /// Every tracking client and its mode.
    clients: HashMap<u64, Mode>,
}

#[derive(Default)]
pub struct Tracking {
    /// Some client is tracking.
    active: AtomicBool,
    max_keys: AtomicU64,
    state: Mutex<State>,
    sink: OnceLock<Arc<dyn InvalidationSink>>,
}

impl Tracking {
    pub fn set_sink(&self, sink: Arc<dyn InvalidationSink>) {
        let _ = self.sink.set(sink);
    }

    /// `tracking-table-max-keys` (0 = no limit).
    pub fn set_max_keys(&self, n: u64) {
        self.max_keys.store(n, Relaxed);
        let mut st = self.state.lock();
        self.enforce_limit(&mut st);
    }

    /// Starts (or changes) tracking for `client`.
    pub fn enable(&self, client: u64, mode: Mode) {
        let mut st = self.state.lock();
        st.clients.insert(client, mode);
        self.active.store(true, Relaxed);
    }

    /// Stops tracking for `client` (CLIENT TRACKING OFF, RESET, disconnect).
    pub fn disable(&self, client: u64) {
        let mut st = self.state.lock();
        if st.clients.remove(&client).is_some() && st.clients.is_empty() {
            self.active.store(false, Relaxed);
            st.keys.clear();
            st.order.clear();
        }
    }

    /// Records that `client` (tracking in the default mode) read `keys`.
    pub fn remember<'k>(&self, client: u64, keys: impl Iterator<Item = &'k [u8]>) {
        let mut st = self.state.lock();
        for key in keys {
            match st.keys.get_mut(key) {
                Some(ids) => {
                    ids.insert(client);
                }
                None => {
                    let key: Box<[u8]> = key.into();
                    st.keys.insert(key.clone(), HashSet::from([client]));
                    st.order.push_back(key);
                }
            }
        }
        self.enforce_limit(&mut st);
    }

    /// Number of keys in the table.
    pub fn keys(&self) -> usize {
        self.state.lock().keys.len()
    }

    /// INFO's figures: keys tracked, (key, client) pairs, BCAST prefixes.
    pub fn totals(&self) -> (usize, usize, usize) {
        let st = self.state.lock();
        let items = st.keys.values().map(HashSet::len).sum();
        let prefixes: HashSet<&[u8]> = st
            .clients
            .values()
            .filter(|m| m.bcast)
            .flat_map(|m| m.prefixes.iter().map(Vec::as_slice))
            .collect();
        (st.keys.len(), items, prefixes.len())
    }

    /// Some client is tracking (units then stamp the shards they lock with
    /// their client, for NOLOOP).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// `key` is about to change by a command of client `writer` (0: none).
    #[inline]
    pub fn touched(&self, key: &[u8], writer: u64) {
        if self.active.load(Relaxed) {
            self.touched_slow(key, writer);
        }
    }

    #[cold]
    fn touched_slow(&self, key: &[u8], writer: u64) {
        let mut st = self.state.lock();
        let readers = st.keys.remove(key);
        let Some(sink) = self.sink.get() else {
            return;
        };
        if let Some(ids) = readers {
            for id in ids {
                // Clients now in broadcast mode, or the writer with NOLOOP,
                // are not told.
                let told = |m: &Mode| !(m.bcast || m.noloop && id == writer);
                match st.clients.get(&id) {
                    Some(m) if told(m) => sink.invalidate(id, m.redirect, Some(key)),
                    _ => {}
                }
            }
        }
        for (&id, m) in &st.clients {
            if m.bcast
                && !(m.noloop && id == writer)
                && m.prefixes.iter().any(|p| key.starts_with(p))
            {
                sink.invalidate(id, m.redirect, Some(key));
            }
        }
    }

    /// Every key changed (FLUSHDB, FLUSHALL): every tracking client is told
    /// to drop everything, and the table is emptied.
    pub fn flushed(&self) {
        if !self.active.load(Relaxed) {
            return;
        }
        let mut st = self.state.lock();
        st.keys.clear();
        st.order.clear();
        if let Some(sink) = self.sink.get() {
            for (&id, m) in &st.clients {
                sink.invalidate(id, m.redirect, None);
            }
        }
    }

    /// Past the size limit, invalidates and forgets the oldest keys.
    fn enforce_limit(&self, st: &mut State) {
        let max = self.max_keys.load(Relaxed) as usize;
        if max == 0 {
            return;
        }
        while st.keys.len() > max {
            let Some(key) = st.order.pop_front() else {
                break;
            };
            let Some(ids) = st.keys.remove(&key) else {
                continue;
            };
            if let Some(sink) = self.sink.get() {
                for id in ids {
                    if let Some(m) = st.clients.get(&id) {
                        sink.invalidate(id, m.redirect, Some(&key));
                    }
                }
            }
        }
        // Keys invalidated by writes leave stale entries in `order`.
        if st.order.len() > 2 * st.keys.len() + 1024 {
            let keys = &st.keys;
            st.order.retain(|k| keys.contains_key(k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (client, redirect, key) of each invalidation sent.
    type Sent = (u64, u64, Option<Vec<u8>>);

    #[derive(Default)]
    struct Log(Mutex<Vec<Sent>>);
    impl InvalidationSink for Log {
        fn invalidate(&self, client: u64, redirect: u64, key: Option<&[u8]>) {
            self.0
                .lock()
                .push((client, redirect, key.map(<[u8]>::to_vec)));
        }
    }

    fn tracking() -> (Tracking, Arc<Log>) {
        let t = Tracking::default();
        let log = Arc::new(Log::default());
        t.set_sink(log.clone());
        (t, log)
    }

    #[test]
    fn a_read_key_is_invalidated_once() {
        let (t, log) = tracking();
        t.enable(1, Mode::default());
        t.remember(1, [&b"k"[..]].into_iter());
        t.touched(b"k", 0);
        t.touched(b"k", 0);
        assert_eq!(*log.0.lock(), vec![(1, 0, Some(b"k".to_vec()))]);
    }

    #[test]
    fn noloop_bcast_and_the_size_limit() {
        let (t, log) = tracking();
        t.enable(
            1,
            Mode {
                noloop: true,
                ..Mode::default()
            },
        );
        t.enable(
            2,
            Mode {
                bcast: true,
                prefixes: vec![b"user:".to_vec()],
                redirect: 9,
                ..Mode::default()
            },
        );
        t.remember(1, [&b"user:1"[..]].into_iter());
        t.touched(b"user:1", 1);
        t.touched(b"other", 1);
        assert_eq!(*log.0.lock(), vec![(2, 9, Some(b"user:1".to_vec()))]);
        log.0.lock().clear();
        t.set_max_keys(2);
        t.remember(1, [&b"a"[..], b"b", b"c"].into_iter());
        assert_eq!(t.keys(), 2);
        assert_eq!(*log.0.lock(), vec![(1, 0, Some(b"a".to_vec()))]);
        t.disable(1);
        t.disable(2);
        assert_eq!(t.keys(), 0);
    }
}
