//! Snapshots: point-in-time images of every database without fork() and
//! without copying the dataset, written crash-safely.
//!
//! Starting a snapshot ([`begin`]) happens inside an exclusive unit (no
//! command runs): every shard of every database in use is marked as owed
//! to the snapshot. From then on, whichever comes first serializes a shard
//! into the snapshot: the writer walking the shards in order, or the first
//! command that modifies that shard (before its change). So the image is
//! exactly the keyspace at the moment the snapshot started, and extra
//! memory is bounded by the shards modified ahead of the writer.
//!
//! [`write_image`] produces the RDB bytes on any writer (a file, or later a
//! replica's socket); [`write_file`] writes them to a temporary file beside
//! the target (mode 0600), fsyncs it, renames it over the target and fsyncs
//! the directory: a crash at any point leaves the previous snapshot intact.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;

use super::rdb::{self, RdbValue, ReadOptions, Writer};
use crate::engine::store::{
    Databases, HashValue, Limits, ListValue, SetValue, Shard, ShardObserver, Value, ValueRef,
    ZSetValue,
};

/// Shards serialized ahead of the snapshot writer, waiting to be written.
pub struct Sink {
    now_ms: u64,
    chunks: Mutex<HashMap<usize, Vec<u8>>>,
}

impl ShardObserver for Sink {
    fn before_change(&self, slot: usize, shard: &Shard) {
        let bytes = encode_shard(shard, self.now_ms);
        self.chunks.lock().insert(slot, bytes);
    }
}

impl Sink {
    fn take(&self, slot: usize) -> Option<Vec<u8>> {
        self.chunks.lock().remove(&slot)
    }
}

/// The RDB encoding of one shard's live keys.
pub fn encode_shard(shard: &Shard, now_ms: u64) -> Vec<u8> {
    let mut w = Writer::chunk(Vec::new());
    for (_, e) in shard.records().filter(|(_, e)| !e.is_expired(now_ms)) {
        let expire = (e.expire_at() != 0).then_some(e.expire_at());
        write_value(&mut w, e.key(), e.value(), expire);
    }
    w.into_inner()
}

/// A key's value in Redis's encoding for its type (DUMP writes it with a
/// value-only writer, which leaves the key and expiry out).
pub fn write_value(w: &mut Writer<Vec<u8>>, key: &[u8], value: ValueRef, expire: Option<u64>) {
    let mut buf = itoa::Buffer::new();
    // Writing to a Vec cannot fail.
    let _ = match value.boxed() {
        Some(Value::Hash(h)) => w.write_hash(key, h.len(), h.iter(), expire),
        Some(Value::List(l)) => w.write_list(key, l.iter(), expire),
        Some(Value::Set(s)) => match s.ints() {
            Some(values) => w.write_intset(key, &values, expire),
            None => {
                let members: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
                w.write_set(
                    key,
                    members.len(),
                    members.iter().map(Vec::as_slice),
                    expire,
                )
            }
        },
        Some(Value::ZSet(z)) if z.encoding() == "listpack" => {
            w.write_zset_listpack(key, z.iter(), expire)
        }
        Some(Value::Stream(s)) => w.write_stream(key, s, expire),
        Some(Value::ZSet(z)) => {
            let high_first = z.walk(z.len().saturating_sub(1), true);
            w.write_zset(key, z.len(), high_first, expire)
        }
        _ => w.write_string(key, value.as_bytes(&mut buf).unwrap_or_default(), expire),
    };
}

/// DUMP's payload for a value: Redis's RDB encoding of it, the RDB
/// version and a CRC64.
pub fn dump_payload(value: ValueRef) -> Vec<u8> {
    let mut w = Writer::dump(Vec::new());
    write_value(&mut w, b"", value, None);
    w.finish_dump().unwrap_or_default()
}

/// A value read from a file or a DUMP payload, in the encodings `limits`
/// choose.
pub fn value_from_rdb(value: RdbValue, limits: &Limits) -> Value {
    match value {
        RdbValue::Str(v) => Value::from_bytes(&v),
        RdbValue::Hash(pairs) => {
            let mut h = HashValue::default();
            for (f, v) in &pairs {
                h.set(f, v, &limits.hash);
            }
            Value::Hash(h)
        }
        RdbValue::List(items) => Value::List(ListValue::from_items(
            items.iter().map(Vec::as_slice),
            &limits.list,
        )),
        RdbValue::Set(members) => Value::Set(SetValue::from_members(
            members.iter().map(Vec::as_slice),
            &limits.set,
        )),
        RdbValue::ZSet(entries) => {
            let longest = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut z = ZSetValue::for_new(entries.len(), longest, &limits.zset);
            for (m, s) in &entries {
                z.set(m, *s, &limits.zset);
            }
            Value::ZSet(z)
        }
        RdbValue::Stream(s) => Value::Stream(s),
    }
}

/// A snapshot that has started: the keyspace is frozen for it.
pub struct Pending {
    sink: Arc<Sink>,
    /// (database, keys, keys with a TTL) of each database with keys.
    dbs: Vec<(usize, u64, u64)>,
    pub now_ms: u64,
}

/// Starts a snapshot at this instant. The caller runs it inside an
/// exclusive unit, so every shard is seen at the same instant.
pub fn begin(dbs: &Databases, now_ms: u64) -> Pending {
    let sink = Arc::new(Sink {
        now_ms,
        chunks: Mutex::new(HashMap::new()),
    });
    let n = dbs.num_shards();
    let mut counts = Vec::new();
    for (db, ks) in dbs.in_use() {
        let (mut keys, mut expires) = (0u64, 0u64);
        for i in 0..n {
            let mut g = ks.lock_shard(i);
            keys += g.len() as u64;
            expires += g.volatile() as u64;
            g.observe_once(sink.clone(), db * n + i);
        }
        if keys > 0 {
            counts.push((db, keys, expires));
        }
    }
    Pending {
        sink,
        dbs: counts,
        now_ms,
    }
}

/// Releases the shards a snapshot did not get to (it failed or was
/// abandoned), so they stop paying for it.
pub fn abandon(dbs: &Databases) {
    for (_, ks) in dbs.in_use() {
        for i in 0..ks.num_shards() {
            ks.lock_shard(i).settle_observer();
        }
    }
}

/// Writes the RDB image of a started snapshot to `out`, checking `stop`
/// between shards.
pub fn write_image<W: Write>(
    dbs: &Databases,
    pending: Pending,
    out: W,
    aux: &[(&str, String)],
    stop: &AtomicBool,
) -> io::Result<W> {
    let mut w = Writer::new(out, aux)?;
    let n = dbs.num_shards();
    for &(db, keys, expires) in &pending.dbs {
        w.select_db(db, keys, expires)?;
        let ks = dbs.db(db);
        for i in 0..n {
            if stop.load(Relaxed) {
                return Err(io::Error::other("snapshot aborted by shutdown"));
            }
            let slot = db * n + i;
            let chunk = match pending.sink.take(slot) {
                Some(c) => c,
                None => {
                    ks.lock_shard(i).settle_observer();
                    pending.sink.take(slot).unwrap_or_default()
                }
            };
            w.append_encoded(&chunk)?;
        }
    }
    w.finish()
}

const TEMP_PREFIX: &str = "temp-redistill-";

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where snapshot files go, and the switch that stops a write in progress.
#[derive(Default)]
pub struct Files {
    temp_counter: AtomicU64,
    /// Set when the process must stop at once: a snapshot being written
    /// gives up between shards and removes its temp file.
    pub abort: AtomicBool,
}

/// Writes a started snapshot to `path`: temp file, fsync, rename, dir fsync.
/// On any error the temp file is removed and the old file is untouched.
pub fn write_file(
    dbs: &Databases,
    pending: Pending,
    path: &Path,
    files: &Files,
) -> io::Result<u64> {
    let dir = dir_of(path);
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}.rdb",
        std::process::id(),
        files.temp_counter.fetch_add(1, Relaxed)
    ));
    let aux = [
        ("redis-ver", crate::REDIS_COMPAT_VERSION.to_string()),
        ("redis-bits", "64".to_string()),
        ("ctime", (pending.now_ms / 1000).to_string()),
        ("used-mem", dbs.used_bytes().to_string()),
        ("aof-base", "0".to_string()),
    ];
    let result = (|| -> io::Result<u64> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let out = write_image(dbs, pending, out, &aux, &files.abort)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        drop(file);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()?;
        Ok(size)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        abandon(dbs);
    }
    result
}

/// Removes temp files left by a crash during an earlier save.
pub fn remove_stale_temp_files(path: &Path) {
    let Ok(entries) = fs::read_dir(dir_of(path)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(".rdb") {
            tracing::info!("removing stale snapshot temp file {}", e.path().display());
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Loads a snapshot into empty databases. A missing file is an empty
/// start; any other problem is an error naming the file and the offset.
pub fn load(dbs: &Databases, path: &Path, now_ms: u64, limits: &Limits) -> Result<u64, String> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("snapshot {}: {e}", path.display())),
    };
    load_image(dbs, &data, now_ms, limits).map_err(|e| format!("snapshot {}: {e}", path.display()))
}

/// Loads RDB bytes into empty databases; returns the number of keys.
pub fn load_image(
    dbs: &Databases,
    data: &[u8],
    now_ms: u64,
    limits: &Limits,
) -> Result<u64, String> {
    let mut loaded = 0u64;
    let started = std::time::Instant::now();
    let opts = ReadOptions {
        now_ms,
        databases: dbs.count(),
    };
    rdb::read(data, &opts, |e| {
        let value = value_from_rdb(e.value, limits);
        if value.element_count() == 0 && !matches!(value, Value::Stream(_)) {
            return Err(format!(
                "empty collection at key '{}'",
                String::from_utf8_lossy(&e.key)
            ));
        }
        let hash = dbs.hash(&e.key);
        let ks = dbs.db(e.db);
        let mut shard = ks.lock_shard(ks.shard_index(hash));
        if shard.position(hash, &e.key).is_some() {
            return Err(format!(
                "duplicate key '{}'",
                String::from_utf8_lossy(&e.key)
            ));
        }
        shard.insert_loaded(hash, &e.key, value, e.expire_ms.unwrap_or(0), now_ms);
        loaded += 1;
        if loaded % 1_000_000 == 0 {
            tracing::info!(
                "loading: {loaded} keys in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(loaded)
}
