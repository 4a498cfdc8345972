//! WATCH: which clients watch which keys, and the flag each client's EXEC
//! checks. The store calls [`Watches::touched`] for every change to a key
//! (a write, an expiry, an eviction, a FLUSH of a key that exists); a
//! client whose watched key was touched finds its flag set and its EXEC
//! fails, as in Redis.
//!
//! Nobody watching costs one relaxed load per change.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;

/// A client's "a watched key changed" flag.
pub type WatchFlag = Arc<AtomicBool>;

/// (database, key) -> flags of the clients watching it.
type WatchMap = HashMap<(usize, Box<[u8]>), Vec<WatchFlag>>;

#[derive(Default)]
pub struct Watches {
    /// Registrations (client, key): zero means nothing to look up.
    count: AtomicUsize,
    map: Mutex<WatchMap>,
}

impl Watches {
    /// True when any key is watched.
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Relaxed) != 0
    }

    /// Registers `flag` as watching `key` of `db`; false when it already was.
    pub fn watch(&self, db: usize, key: &[u8], flag: &WatchFlag) -> bool {
        let mut map = self.map.lock();
        let list = map.entry((db, key.into())).or_default();
        if list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            return false;
        }
        list.push(flag.clone());
        self.count.fetch_add(1, Relaxed);
        true
    }

    /// Removes `flag` from every key in `keys`.
    pub fn unwatch(&self, keys: &[(usize, Box<[u8]>)], flag: &WatchFlag) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.map.lock();
        for k in keys {
            if let Some(list) = map.get_mut(k) {
                let before = list.len();
                list.retain(|f| !Arc::ptr_eq(f, flag));
                self.count.fetch_sub(before - list.len(), Relaxed);
                if list.is_empty() {
                    map.remove(k);
                }
            }
        }
    }

    /// `key` of `db` changed: every client watching it is flagged.
    #[inline]
    pub fn touched(&self, db: usize, key: &[u8]) {
        if self.any() {
            self.touched_slow(db, key);
        }
    }

    #[cold]
    fn touched_slow(&self, db: usize, key: &[u8]) {
        let map = self.map.lock();
        if let Some(list) = map.get(&(db, Box::<[u8]>::from(key))) {
            for f in list {
                f.store(true, Relaxed);
            }
        }
    }

    /// Flags the clients watching keys of `db` for which `exists` is true
    /// (FLUSHDB, FLUSHALL and SWAPDB touch only keys that exist).
    pub fn touched_where(&self, db: usize, mut exists: impl FnMut(&[u8]) -> bool) {
        if !self.any() {
            return;
        }
        let map = self.map.lock();
        for ((d, key), list) in map.iter() {
            if *d == db && exists(key) {
                for f in list {
                    f.store(true, Relaxed);
                }
            }
        }
    }

    /// The watched keys of `db` (for checks that need the keyspace, run
    /// with the registry unlocked).
    pub fn keys_of(&self, db: usize) -> Vec<Box<[u8]>> {
        if !self.any() {
            return Vec::new();
        }
        self.map
            .lock()
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_a_watched_key_flags_its_watchers_only() {
        let w = Watches::default();
        let (a, b): (WatchFlag, WatchFlag) = (Default::default(), Default::default());
        assert!(!w.any());
        assert!(w.watch(0, b"k", &a));
        assert!(!w.watch(0, b"k", &a));
        assert!(w.watch(1, b"k", &b));
        w.touched(0, b"other");
        w.touched(2, b"k");
        assert!(!a.load(Relaxed) && !b.load(Relaxed));
        w.touched(0, b"k");
        assert!(a.load(Relaxed) && !b.load(Relaxed));
        w.unwatch(&[(0, b"k"[..].into())], &a);
        w.unwatch(&[(1, b"k"[..].into())], &b);
        assert!(!w.any());
    }
}
