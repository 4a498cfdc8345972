//! Compaction against models: churn keeps the arena tight and every value
//! intact, SCAN still returns every key present for the whole scan, and a
//! snapshot started before records move saves each key once, as it was.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::gate::Gate;
use super::persist::snapshot;
use super::store::compact::CompactCycle;
use super::store::{Access, Databases, Value};
use super::unit::Unit;
use crate::config::Settings;

type Model = HashMap<Vec<u8>, Vec<u8>>;

fn dbs() -> Databases {
    Databases::new(1, 256, Arc::new(Settings::defaults()))
}

fn value(rng: &mut fastrand::Rng) -> Vec<u8> {
    let n = rng.usize(16..=512);
    (0..n).map(|_| rng.alphanumeric() as u8).collect()
}

fn set(u: &mut Unit, key: &[u8], v: &[u8]) {
    u.key(0, key).upsert(Value::from_bytes(v), false);
    u.release_shards();
}

fn get(u: &mut Unit, key: &[u8]) -> Option<Vec<u8>> {
    let mut k = u.key(0, key);
    let got = k.find(Access::PEEK).map(|pos| {
        let mut buf = itoa::Buffer::new();
        k.value(pos).as_bytes(&mut buf).unwrap().to_vec()
    });
    u.release_shards();
    got
}

/// (record arena bytes held, bytes of live records) over every shard.
fn arena(dbs: &Databases) -> (usize, usize) {
    let ks = dbs.db(0);
    (0..dbs.num_shards()).fold((0, 0), |acc, i| {
        let s = ks.lock_shard(i);
        let live: usize = s.records().map(|(_, r)| r.size()).sum();
        (acc.0 + s.arena_bytes().0, acc.1 + live)
    })
}

/// The churn at a small size: load, overwrite every key five times
/// with random sizes, delete a random half, insert new keys. Afterwards the
/// arena holds at most a fifth more than its live records (segment ends and
/// unreclaimed holes) and every key reads back its last value.
#[test]
fn churn_keeps_the_arena_tight_and_values_intact() {
    let gate = Gate::new(1);
    let dbs = dbs();
    let pass = gate.shared().unwrap();
    let mut u = Unit::within(&pass, &dbs, 0);
    let mut rng = fastrand::Rng::with_seed(17);
    let mut model = Model::new();
    let n = 20_000;
    let mut cycle = CompactCycle::default();
    for i in 0..n {
        let k = format!("key:{i:08}").into_bytes();
        set(&mut u, &k, &[b'x'; 64]);
        model.insert(k, vec![b'x'; 64]);
    }
    for pass in 0..5 {
        for i in 0..n {
            let k = format!("key:{i:08}").into_bytes();
            let v = value(&mut rng);
            set(&mut u, &k, &v);
            model.insert(k, v);
            if i % 2000 == 0 {
                cycle.tick(&dbs, Duration::from_millis(50));
            }
        }
        let _ = pass;
    }
    let mut keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    keys.sort();
    for k in keys.iter().filter(|_| rng.bool()) {
        assert!(u.key(0, k).delete());
        u.release_shards();
        model.remove(k);
    }
    for i in 0..n / 2 {
        let k = format!("new:{i:08}").into_bytes();
        let v = value(&mut rng);
        set(&mut u, &k, &v);
        model.insert(k, v);
    }
    for _ in 0..50 {
        cycle.tick(&dbs, Duration::from_secs(1));
    }
    let (held, live) = arena(&dbs);
    assert!(
        held * 5 <= live * 6,
        "arena {held} B for {live} B of records"
    );
    assert_eq!(u.dbsize(0), model.len());
    for (k, v) in &model {
        assert_eq!(get(&mut u, k).as_ref(), Some(v));
    }
}

/// A SCAN interleaved with churn and compaction still returns every key
/// present for the whole scan.
#[test]
fn scan_sees_every_stable_key_across_compaction() {
    let gate = Gate::new(1);
    let dbs = dbs();
    let pass = gate.shared().unwrap();
    let mut u = Unit::within(&pass, &dbs, 0);
    let mut rng = fastrand::Rng::with_seed(5);
    let mut cycle = CompactCycle::default();
    for i in 0..5000 {
        set(&mut u, format!("key:{i}").as_bytes(), &value(&mut rng));
        set(&mut u, format!("tmp:{i}").as_bytes(), &value(&mut rng));
    }
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut round = 0;
    let mut moved = 0;
    loop {
        cursor = u.scan(0, cursor, 10, |e| {
            seen.insert(e.key().to_vec());
        });
        // Churn the other keys (and resize the stable ones) so segments
        // empty out, then let compaction move records between SCAN calls.
        for j in 0..40 {
            let t = format!("tmp:{}", (round * 40 + j) % 5000);
            u.key(0, t.as_bytes()).delete();
            u.release_shards();
            let k = format!("key:{}", rng.usize(..5000));
            set(&mut u, k.as_bytes(), &value(&mut rng));
        }
        moved += cycle.tick(&dbs, Duration::from_millis(20));
        round += 1;
        if cursor == 0 {
            break;
        }
    }
    assert!(moved > 0, "compaction never ran");
    for i in 0..5000 {
        assert!(
            seen.contains(format!("key:{i}").as_bytes()),
            "missing key:{i}"
        );
    }
}

/// A snapshot begun before churn and compaction saves every key exactly
/// once, with its value from the instant the snapshot began.
#[test]
fn snapshot_during_compaction_is_point_in_time() {
    let gate = Gate::new(1);
    let dbs = dbs();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut model = Model::new();
    {
        let pass = gate.shared().unwrap();
        let mut u = Unit::within(&pass, &dbs, 0);
        for i in 0..10_000 {
            let k = format!("key:{i}").into_bytes();
            let v = value(&mut rng);
            set(&mut u, &k, &v);
            model.insert(k, v);
        }
        // Leave dead space behind so there is something to compact.
        for i in (0..10_000).step_by(3) {
            let k = format!("key:{i}").into_bytes();
            let v = value(&mut rng);
            set(&mut u, &k, &v);
            model.insert(k, v);
        }
    }
    let pending = snapshot::begin(&dbs, 0);
    let mut cycle = CompactCycle::default();
    let mut moved = 0;
    {
        let pass = gate.shared().unwrap();
        let mut u = Unit::within(&pass, &dbs, 0);
        for round in 0..20 {
            for j in 0..500 {
                let k = format!("key:{}", (round * 500 + j) % 10_000);
                if j % 4 == 0 {
                    u.key(0, k.as_bytes()).delete();
                    u.release_shards();
                } else {
                    set(&mut u, k.as_bytes(), &value(&mut rng));
                }
            }
            moved += cycle.tick(&dbs, Duration::from_millis(50));
        }
    }
    assert!(moved > 0, "compaction never ran");
    let image =
        snapshot::write_image(&dbs, pending, Vec::new(), &[], &AtomicBool::new(false)).unwrap();
    let loaded = self::dbs();
    let count = snapshot::load_image(&loaded, &image, 0, &Default::default()).unwrap();
    assert_eq!(count as usize, model.len());
    let pass = gate.shared().unwrap();
    let mut u = Unit::within(&pass, &loaded, 0);
    for (k, v) in &model {
        assert_eq!(
            get(&mut u, k).as_ref(),
            Some(v),
            "{}",
            String::from_utf8_lossy(k)
        );
    }
}
