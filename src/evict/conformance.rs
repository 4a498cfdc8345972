//! One conformance test run against every policy: the limit holds, every
//! key stays evictable, protected keys are never chosen, and accounting
//! stays exact.

use crate::config::EvictionPolicy as Kind;
use crate::store::{Keyspace, Value};

const EVICTING: [Kind; 3] = [Kind::AllkeysLru, Kind::AllkeysRandom, Kind::AllkeysS3fifo];

/// The active policy is process-wide; run the policies one after another.
static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

fn write(ks: &Keyspace, key: &str, value: &[u8], limit: usize, now: u64) -> bool {
    let h = ks.hash(key.as_bytes());
    let needed = key.len() + value.len() + crate::store::shard::ENTRY_OVERHEAD;
    if !ks.make_room(needed, limit, Some(h), &[h], now) {
        return false;
    }
    let (h, mut s) = ks.lock(key.as_bytes());
    s.upsert(h, key.as_bytes(), Value::Str(value.into()), false, now);
    true
}

fn read(ks: &Keyspace, key: &str, now: u64) -> bool {
    let (h, mut s) = ks.lock(key.as_bytes());
    s.read(h, key.as_bytes(), now).is_some()
}

#[test]
fn limit_is_respected_and_every_key_is_evictable() {
    let _g = SERIAL.lock();
    for kind in EVICTING {
        super::set_active(kind);
        let ks = Keyspace::new(256);
        let limit = 2 << 20;
        let value = vec![b'x'; 1000];
        let mut now = 1_000_000;
        for i in 0..20_000 {
            now += 1;
            assert!(write(&ks, &format!("k{i}"), &value, limit, now), "{kind:?}");
            assert!(
                ks.used_bytes() <= limit,
                "{kind:?}: used {} > {limit}",
                ks.used_bytes()
            );
            // Keep the first keys hot: they must still be evictable eventually.
            if i < 15_000 {
                for j in 0..5 {
                    read(&ks, &format!("k{j}"), now);
                }
            }
        }
        // Once nobody reads them, the once-hot keys are evicted. New keys are
        // read once after being written, so S3-FIFO keeps promoting into its
        // main queue and has to cycle through it (with only one-hit wonders
        // its main queue would rightly stay as it is).
        for i in 20_000..60_000 {
            now += 1;
            write(&ks, &format!("k{i}"), &value, limit, now);
            read(&ks, &format!("k{i}"), now);
        }
        for j in 0..5 {
            assert!(
                !read(&ks, &format!("k{j}"), now),
                "{kind:?}: k{j} was never evicted"
            );
        }
        let (keys, _, used) = ks.totals();
        assert_eq!(
            used,
            ks.used_bytes(),
            "{kind:?}: global and shard totals differ"
        );
        assert!(keys > 1000, "{kind:?}: only {keys} keys kept");
        assert_eq!(ks.stats().evicted as usize, 60_000 - keys, "{kind:?}");
    }
    super::set_active(Kind::AllkeysLru);
}

#[test]
fn protected_keys_are_never_victims() {
    let _g = SERIAL.lock();
    for kind in EVICTING {
        super::set_active(kind);
        let ks = Keyspace::new(256);
        let value = vec![b'x'; 100];
        for i in 0..1000 {
            write(&ks, &format!("k{i}"), &value, usize::MAX, 1);
        }
        let protected: Vec<u64> = (0..500)
            .map(|i| ks.hash(format!("k{i}").as_bytes()))
            .collect();
        assert!(ks.make_room(0, ks.used_bytes() * 6 / 10, None, &protected, 2));
        for i in 0..500 {
            assert!(
                read(&ks, &format!("k{i}"), 2),
                "{kind:?}: protected k{i} evicted"
            );
        }
        // Only protected keys left: no more room can be made.
        assert!(!ks.make_room(0, 0, None, &protected, 2), "{kind:?}");
    }
    super::set_active(Kind::NoEviction);
    let ks = Keyspace::new(256);
    write(&ks, "a", b"v", usize::MAX, 1);
    assert!(!ks.make_room(0, 0, None, &[], 1));
    super::set_active(Kind::AllkeysLru);
}

#[test]
fn lru_prefers_idle_keys_and_s3fifo_keeps_hot_keys() {
    let _g = SERIAL.lock();
    for kind in [Kind::AllkeysLru, Kind::AllkeysS3fifo] {
        super::set_active(kind);
        let ks = Keyspace::new(256);
        let value = vec![b'x'; 200];
        let limit = 1 << 20;
        let mut now = 1_000_000;
        let mut hot_hits = 0;
        for i in 0..50_000 {
            now += 1;
            // 100 hot keys read constantly, and a stream of one-hit wonders.
            let hot = format!("hot{}", i % 100);
            if read(&ks, &hot, now) {
                hot_hits += 1;
            } else {
                write(&ks, &hot, &value, limit, now);
            }
            write(&ks, &format!("cold{i}"), &value, limit, now);
        }
        assert!(
            hot_hits > 45_000,
            "{kind:?}: hot keys hit only {hot_hits} times"
        );
    }
    super::set_active(Kind::AllkeysLru);
}
