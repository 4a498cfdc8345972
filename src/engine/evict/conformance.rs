//! One conformance test run against every policy: the limit holds, every
//! key stays evictable, protected keys are never chosen, and accounting
//! stays exact.

use std::sync::Arc;

use crate::config::{EvictionPolicy as Kind, Settings, P};
use crate::engine::store::{Access, Databases, Value, ENTRY_OVERHEAD};

const EVICTING: [Kind; 3] = [Kind::AllkeysLru, Kind::AllkeysRandom, Kind::AllkeysS3fifo];

/// A keyspace of 256 shards under `kind` (each test has its own settings).
fn keyspace(kind: Kind) -> Databases {
    let settings = Settings::defaults();
    settings.set(P::MaxmemoryPolicy, kind.name()).unwrap();
    Databases::new(1, 256, Arc::new(settings))
}

fn write(ks: &Databases, key: &str, value: &[u8], limit: usize, now: u64) -> bool {
    let h = ks.hash(key.as_bytes());
    let needed = key.len() + value.len() + ENTRY_OVERHEAD;
    if !ks.make_room(needed, limit, Some((0, h)), &[h], now) {
        return false;
    }
    let db = ks.db(0);
    db.lock_shard(db.shard_index(h)).upsert(
        h,
        key.as_bytes(),
        Value::Str(value.into()),
        false,
        now,
    );
    true
}

fn read(ks: &Databases, key: &str, now: u64) -> bool {
    let h = ks.hash(key.as_bytes());
    let db = ks.db(0);
    db.lock_shard(db.shard_index(h))
        .find(h, key.as_bytes(), now, Access::READ)
        .is_some()
}

/// (keys, bytes accounted by the shards, evicted) over the keyspace.
fn totals(ks: &Databases) -> (usize, usize, u64) {
    let db = ks.db(0);
    (0..db.num_shards()).fold((0, 0, 0), |acc, i| {
        let s = db.lock_shard(i);
        (
            acc.0 + s.len(),
            acc.1 + s.used_bytes(),
            acc.2 + s.stats.evicted,
        )
    })
}

#[test]
fn limit_is_respected_and_every_key_is_evictable() {
    for kind in EVICTING {
        let ks = keyspace(kind);
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
        let (keys, used, evicted) = totals(&ks);
        assert_eq!(
            used,
            ks.used_bytes(),
            "{kind:?}: global and shard totals differ"
        );
        assert!(keys > 1000, "{kind:?}: only {keys} keys kept");
        assert_eq!(evicted as usize, 60_000 - keys, "{kind:?}");
    }
}

#[test]
fn protected_keys_are_never_victims() {
    for kind in EVICTING {
        let ks = keyspace(kind);
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
    let ks = keyspace(Kind::NoEviction);
    write(&ks, "a", b"v", usize::MAX, 1);
    assert!(!ks.make_room(0, 0, None, &[], 1));
}

#[test]
fn lru_prefers_idle_keys_and_s3fifo_keeps_hot_keys() {
    for kind in [Kind::AllkeysLru, Kind::AllkeysS3fifo] {
        let ks = keyspace(kind);
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
}

/// `maxmemory-samples` is read at every eviction: with 64 samples over a
/// shard of 4 keys the idlest key goes first every time; with 1 sample it
/// is a coin toss.
#[test]
fn lru_samples_follow_the_live_setting() {
    let settings = Arc::new(Settings::defaults());
    let oldest_first = |samples: &str| -> usize {
        settings.set(P::MaxmemorySamples, samples).unwrap();
        (0..200)
            .filter(|_| {
                let ks = Databases::new(1, 256, settings.clone());
                let db = ks.db(0);
                let mut shard = db.lock_shard(0);
                // Four keys in one shard; "old" was last touched long ago.
                let mut keys = Vec::new();
                let mut n = 0;
                while keys.len() < 4 {
                    let k = format!("k{n}");
                    n += 1;
                    let h = ks.hash(k.as_bytes());
                    if db.shard_index(h) == 0 {
                        keys.push((k, h));
                    }
                }
                for (i, (k, h)) in keys.iter().enumerate() {
                    let at = if i == 0 { 1_000 } else { 1_000_000 };
                    shard.insert(*h, k.as_bytes(), Value::Int(0), 0, at);
                }
                shard.evict_one(2_000_000, &|_| false);
                shard.position(keys[0].1, keys[0].0.as_bytes()).is_none()
            })
            .count()
    };
    assert_eq!(oldest_first("64"), 200);
    assert!(oldest_first("1") < 150);
}
