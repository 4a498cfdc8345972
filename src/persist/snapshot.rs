//! Snapshots: point-in-time images of the keyspace without fork() and
//! without copying the dataset, written crash-safely.
//!
//! Starting a snapshot locks every shard at once (a few microseconds) and
//! marks each as owed to the snapshot. From then on, whichever comes first
//! serializes a shard into the snapshot: the writer thread walking the
//! shards in order, or the first command that modifies that shard (before
//! its change). So the image is exactly the keyspace at the moment the
//! snapshot started, and extra memory is bounded by the shards modified
//! ahead of the writer.
//!
//! Files are written to a temporary file beside the target (created with
//! mode 0600), fsynced, renamed over the target, and the directory is
//! fsynced: a crash at any point leaves the previous snapshot intact.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use hashbrown::HashMap;
use parking_lot::Mutex;

use super::rdb::{self, RdbValue, ReadOptions, Writer};
use crate::store::{HashValue, Keyspace, Shard, Value};

/// Shards serialized ahead of the snapshot writer, waiting to be written.
pub struct Sink {
    now_ms: u64,
    chunks: Mutex<HashMap<usize, Vec<u8>>>,
}

impl Sink {
    /// Serializes `shard` (number `index`) as it is now.
    pub fn deposit(&self, index: usize, shard: &Shard) {
        let bytes = encode_shard(shard, self.now_ms);
        self.chunks.lock().insert(index, bytes);
    }

    fn take(&self, index: usize) -> Option<Vec<u8>> {
        self.chunks.lock().remove(&index)
    }
}

/// The RDB encoding of one shard's live keys.
pub fn encode_shard(shard: &Shard, now_ms: u64) -> Vec<u8> {
    let mut w = Writer::chunk(Vec::new());
    for e in shard.entries().iter().filter(|e| !e.is_expired(now_ms)) {
        let expire = (e.expire_at != 0).then_some(e.expire_at);
        let mut buf = itoa::Buffer::new();
        // Writing to a Vec cannot fail.
        let _ = match &e.value {
            Value::Hash(h) => w.write_hash(&e.key, h.len(), h.iter(), expire),
            v => w.write_string(&e.key, v.as_bytes(&mut buf).unwrap_or_default(), expire),
        };
    }
    w.into_inner()
}

/// A snapshot that has started: the keyspace is frozen for it.
pub struct Pending {
    sink: Arc<Sink>,
    keys: u64,
    expires: u64,
}

/// Starts a snapshot at this instant (every shard locked at once).
pub fn begin(ks: &Keyspace, now_ms: u64) -> Pending {
    let sink = Arc::new(Sink {
        now_ms,
        chunks: Mutex::new(HashMap::new()),
    });
    let mut guards: Vec<_> = (0..ks.num_shards()).map(|i| ks.lock_shard(i)).collect();
    let (mut keys, mut expires) = (0u64, 0u64);
    for (i, g) in guards.iter_mut().enumerate() {
        keys += g.len() as u64;
        expires += g.volatile() as u64;
        g.owe_snapshot(sink.clone(), i);
    }
    drop(guards);
    Pending {
        sink,
        keys,
        expires,
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Set when the process must stop at once: a snapshot being written gives
/// up between shards and removes its temp file.
static ABORT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes any snapshot in progress give up (a second shutdown signal).
pub fn abort_all() {
    ABORT.store(true, Relaxed);
}

const TEMP_PREFIX: &str = "temp-redistill-";

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes a started snapshot to `path`: temp file, fsync, rename, dir fsync.
/// On any error the temp file is removed and the old file is untouched.
pub fn write(ks: &Keyspace, pending: Pending, path: &Path) -> io::Result<u64> {
    let dir = dir_of(path);
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}.rdb",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Relaxed)
    ));
    let result = (|| -> io::Result<u64> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let aux = [
            ("redis-ver", crate::REDIS_COMPAT_VERSION.to_string()),
            ("redis-bits", "64".to_string()),
            ("ctime", (pending.sink.now_ms / 1000).to_string()),
            ("used-mem", ks.used_bytes().to_string()),
            ("aof-base", "0".to_string()),
        ];
        let mut w = Writer::new(BufWriter::with_capacity(1 << 20, file), &aux)?;
        w.select_db(pending.keys, pending.expires)?;
        for i in 0..ks.num_shards() {
            if ABORT.load(Relaxed) {
                return Err(io::Error::other("snapshot aborted by shutdown"));
            }
            let chunk = match pending.sink.take(i) {
                Some(c) => c,
                None => {
                    ks.lock_shard(i).settle_snapshot();
                    pending.sink.take(i).unwrap_or_default()
                }
            };
            w.append_encoded(&chunk)?;
        }
        let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        drop(file);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()?;
        Ok(size)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        // Shards not yet serialized must not keep paying for a dead snapshot.
        for i in 0..ks.num_shards() {
            ks.lock_shard(i).settle_snapshot();
        }
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

/// Loads a snapshot into an empty keyspace. A missing file is an empty
/// start; any other problem is an error naming the file and the offset.
pub fn load(ks: &Keyspace, path: &Path, now_ms: u64) -> Result<u64, String> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("snapshot {}: {e}", path.display())),
    };
    let mut loaded = 0u64;
    let started = std::time::Instant::now();
    rdb::read(&data, &ReadOptions { now_ms }, |e| {
        let value = match e.value {
            RdbValue::Str(v) => Value::from_bytes(&v),
            RdbValue::Hash(pairs) => {
                let mut h = HashValue::default();
                for (f, v) in &pairs {
                    h.set(f, v);
                }
                Value::Hash(h)
            }
        };
        let (hash, mut shard) = ks.lock(&e.key);
        if shard.position(hash, &e.key).is_some() {
            return Err(format!(
                "duplicate key '{}'",
                String::from_utf8_lossy(&e.key)
            ));
        }
        shard.insert(hash, &e.key, value, e.expire_ms.unwrap_or(0), now_ms);
        loaded += 1;
        if loaded % 1_000_000 == 0 {
            tracing::info!(
                "loading {}: {loaded} keys in {:.1}s",
                path.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    })
    .map_err(|e| format!("snapshot {}: {e}", path.display()))?;
    Ok(loaded)
}
