//! The engine: everything a command can act on, with no knowledge of
//! sockets or of the server around it.
//!
//! - [`store`]: the databases, shards, entries and values;
//! - [`evict`]: the eviction policies the store calls;
//! - [`persist`]: the RDB codec and fork-less snapshots;
//! - [`gate`] and [`unit`]: how a command, a transaction or a script runs
//!   as one atomic unit;
//! - [`clients`], [`stats`], [`slowlog`]: the clients other commands can
//!   see, the counters INFO reports, the slow log.
//!
//! The engine reads its knobs from the live [`Settings`], so CONFIG SET
//! takes effect at once. It holds no process-global state: two engines in
//! one process (tests do this) are independent.

pub mod blocking;
pub mod clients;
pub mod cluster;
#[cfg(test)]
mod compaction_tests;
pub mod evict;
pub mod gate;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod slot;
pub mod slowlog;
pub mod stats;
pub mod store;
pub mod unit;
pub mod walk;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Settings, P};
use clients::ClientRegistry;
use gate::Gate;
use persist::control::{Persistence, SaveError};
use persist::snapshot;
use slowlog::SlowLog;
use stats::Stats;
use store::expire::ExpireCycle;
use store::stream::StreamLimits;
use store::{now_ms, Databases, DbTotals, HashLimits, Limits, ListLimits, SetLimits, ZSetLimits};
use unit::{Busy, Unit};

pub struct Engine {
    pub settings: Arc<Settings>,
    pub dbs: Databases,
    pub gate: Gate,
    pub stats: Stats,
    pub slowlog: SlowLog,
    pub clients: Arc<ClientRegistry>,
    pub pubsub: Arc<pubsub::PubSub>,
    pub blocking: blocking::Blocking,
    pub persist: Persistence,
    pub started: Instant,
    pub started_ms: u64,
    /// The 40-hex-digit id of this run (INFO `run_id`).
    pub run_id: String,
    /// Master or replica, and the replica's link.
    pub role: parking_lot::Mutex<repl::Role>,
    /// Cluster mode's state, when `cluster-enabled` is on.
    pub cluster: Option<cluster::Cluster>,
    peak_memory: AtomicU64,
    /// Set once the compaction thread runs.
    compactor: std::sync::Once,
}

/// `client-output-buffer-limit`: the pubsub class bounds every client's
/// pushes, the replica class (its hard limit) a replica's pending stream.
fn apply_output_limits(settings: &Settings, dbs: &Databases, clients: &ClientRegistry) {
    let [_, replica, pubsub] = settings.output_limits();
    let push = &clients.push_limits;
    push.hard.store(pubsub.hard, Relaxed);
    push.soft.store(pubsub.soft, Relaxed);
    push.soft_seconds.store(pubsub.soft_seconds, Relaxed);
    dbs.shared().feed.set_output_limit(replica.hard as usize);
}

/// Figures gathered in one pass for INFO, /metrics and /health.
pub struct Snapshot {
    pub used_memory: u64,
    pub peak_memory: u64,
    /// (database, figures) of every database in use.
    pub dbs: Vec<(usize, DbTotals)>,
    /// Hits, misses, expired and evicted over all databases.
    pub keyspace: store::ShardStats,
}

impl Snapshot {
    pub fn keys(&self) -> usize {
        self.dbs.iter().map(|(_, t)| t.keys).sum()
    }
    pub fn volatile(&self) -> usize {
        self.dbs.iter().map(|(_, t)| t.volatile).sum()
    }
}

impl Engine {
    /// An engine with the given settings; `commands` is the size of the
    /// command table (for per-command statistics).
    pub fn new(settings: Arc<Settings>, commands: usize) -> Engine {
        let shards = settings.uint(P::Shards) as usize;
        let databases = settings.uint(P::Databases) as usize;
        let workers = crate::config::worker_threads(settings.uint(P::Threads) as usize);
        let now = now_ms();
        let dbs = Databases::new(databases, shards, settings.clone());
        let pubsub = Arc::new(pubsub::PubSub::default());
        dbs.shared().notifier.set_sink(pubsub.clone());
        let clients = Arc::new(ClientRegistry::default());
        dbs.shared().tracking.set_sink(clients.clone());
        apply_output_limits(&settings, &dbs, &clients);
        Engine {
            dbs,
            gate: Gate::new(workers + 2),
            stats: Stats::new(commands),
            slowlog: SlowLog::new(settings.clone()),
            clients,
            pubsub,
            blocking: blocking::Blocking::default(),
            persist: Persistence::new(
                settings.flag(P::Persistence),
                std::path::PathBuf::from(&*settings.text(P::Dbfilename)),
                now,
            ),
            started: Instant::now(),
            started_ms: now,
            run_id: repl::random_id(),
            role: parking_lot::Mutex::new(repl::Role::master()),
            cluster: None,
            peak_memory: AtomicU64::new(0),
            compactor: std::sync::Once::new(),
            settings,
        }
    }

    /// Bytes the dataset accounts for (keys, values, per-entry overhead):
    /// INFO's `used_memory`, and what `maxmemory` limits.
    pub fn used_memory(&self) -> u64 {
        let used = self.dbs.used_bytes() as u64;
        self.peak_memory.fetch_max(used, Relaxed);
        used
    }

    /// The figures INFO, /metrics and /health report, gathered in one pass
    /// through `unit`.
    pub fn snapshot(&self, unit: &mut Unit) -> Snapshot {
        let dbs = unit.totals();
        let mut keyspace = self.dbs.vacant_stats();
        for (_, t) in &dbs {
            keyspace.add(&t.stats);
        }
        let used_memory = self.used_memory();
        Snapshot {
            used_memory,
            peak_memory: self.peak_memory.load(Relaxed).max(used_memory),
            dbs,
            keyspace,
        }
    }

    /// The compact-encoding thresholds for hashes.
    pub fn hash_limits(&self) -> HashLimits {
        HashLimits {
            max_entries: self.settings.uint(P::HashMaxListpackEntries) as usize,
            max_value: self.settings.uint(P::HashMaxListpackValue) as usize,
        }
    }

    /// Every type's compact-encoding thresholds.
    pub fn limits(&self) -> Limits {
        Limits {
            hash: self.hash_limits(),
            list: self.list_limits(),
            set: self.set_limits(),
            zset: self.zset_limits(),
        }
    }

    /// The packed-node size for lists.
    pub fn list_limits(&self) -> ListLimits {
        ListLimits::from_config(self.settings.int(P::ListMaxListpackSize))
    }

    /// The integer-encoding threshold for sets.
    pub fn set_limits(&self) -> SetLimits {
        SetLimits {
            max_intset_entries: self.settings.uint(P::SetMaxIntsetEntries) as usize,
        }
    }

    /// The compact-encoding thresholds for sorted sets.
    pub fn zset_limits(&self) -> ZSetLimits {
        ZSetLimits {
            max_entries: self.settings.uint(P::ZsetMaxListpackEntries) as usize,
            max_value: self.settings.uint(P::ZsetMaxListpackValue) as usize,
        }
    }

    /// The node size limits of streams.
    pub fn stream_limits(&self) -> StreamLimits {
        StreamLimits {
            max_bytes: self.settings.uint(P::StreamNodeMaxBytes) as usize,
            max_entries: self.settings.uint(P::StreamNodeMaxEntries),
        }
    }

    /// Runs `f` in an ordinary unit of its own.
    pub fn with_unit<R>(&self, now: u64, f: impl FnOnce(&mut Unit) -> R) -> Result<R, Busy> {
        unit::shared(&self.gate, &self.dbs, now, f)
    }

    /// Runs `f` in a unit that holds the gate alone.
    pub fn with_exclusive_unit<R>(
        &self,
        now: u64,
        f: impl FnOnce(&mut Unit) -> R,
    ) -> Result<R, Busy> {
        unit::exclusive(&self.gate, &self.dbs, now, f)
    }

    /// True when no password is set or `candidate` is it. SHA-256 digests
    /// are compared in constant time, so neither the content nor the
    /// length of the password leaks through timing.
    pub fn password_matches(&self, candidate: &[u8]) -> bool {
        let expected = self.settings.text(P::Requirepass);
        if expected.is_empty() {
            return true;
        }
        let want: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
        let got: [u8; 32] = Sha256::digest(candidate).into();
        got.ct_eq(&want).into()
    }

    pub fn auth_required(&self) -> bool {
        !self.settings.text(P::Requirepass).is_empty()
    }

    /// SAVE: a synchronous snapshot, started inside `unit` (which must be
    /// exclusive, so the image is one instant).
    pub fn save(&self, unit: &Unit) -> Result<(), SaveError> {
        assert!(
            unit.is_exclusive(),
            "a snapshot starts in an exclusive unit"
        );
        if !self.persist.try_start() {
            return Err(SaveError::InProgress);
        }
        let started = Instant::now();
        let dirty = self.stats.dirty.load(Relaxed);
        let pending = snapshot::begin(&self.dbs, unit.now);
        let result =
            snapshot::write_file(&self.dbs, pending, &self.persist.path, &self.persist.files);
        self.persist.finish(&result, dirty, started);
        result.map(|_| ()).map_err(|_| SaveError::Failed)
    }

    /// BGSAVE: freezes the image inside `unit` (exclusive) and writes it on
    /// a background thread.
    pub fn bgsave(self: &Arc<Self>, unit: &Unit) -> Result<(), SaveError> {
        assert!(
            unit.is_exclusive(),
            "a snapshot starts in an exclusive unit"
        );
        if !self.persist.try_start() {
            return Err(SaveError::InProgress);
        }
        let started = Instant::now();
        let dirty = self.stats.dirty.load(Relaxed);
        let pending = snapshot::begin(&self.dbs, unit.now);
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("bgsave".into())
            .spawn(move || {
                let result =
                    snapshot::write_file(&me.dbs, pending, &me.persist.path, &me.persist.files);
                me.persist.finish(&result, dirty, started);
            });
        if spawned.is_err() {
            snapshot::abandon(&self.dbs);
            self.persist.finish(
                &Err(std::io::Error::other("cannot start a thread")),
                dirty,
                started,
            );
            return Err(SaveError::Failed);
        }
        Ok(())
    }

    /// Starts a replica's full sync inside `unit` (exclusive): freezes the
    /// snapshot image and attaches the replica to the feed at the same
    /// instant, so it gets every change after the image. None while another
    /// snapshot runs (the caller retries).
    pub fn start_sync(
        &self,
        unit: &Unit,
        replica: Arc<repl::Replica>,
    ) -> Option<(String, u64, snapshot::Pending)> {
        assert!(unit.is_exclusive(), "a sync starts in an exclusive unit");
        if !self.persist.try_start() {
            return None;
        }
        let pending = snapshot::begin(&self.dbs, unit.now);
        let is_master = self.role.lock().is_master();
        let (replid, offset) = self.dbs.shared().feed.attach_full(replica, is_master);
        Some((replid, offset, pending))
    }

    /// The RDB image of a sync started by [`Engine::start_sync`], carrying
    /// the replication id and offset it starts from.
    pub fn sync_image(
        &self,
        pending: snapshot::Pending,
        replid: &str,
        offset: u64,
    ) -> std::io::Result<Vec<u8>> {
        let aux = [
            ("redis-ver", crate::REDIS_COMPAT_VERSION.to_string()),
            ("redis-bits", "64".to_string()),
            ("ctime", (pending.now_ms / 1000).to_string()),
            ("used-mem", self.dbs.used_bytes().to_string()),
            ("repl-stream-db", "0".to_string()),
            ("repl-id", replid.to_string()),
            ("repl-offset", offset.to_string()),
            ("aof-base", "0".to_string()),
        ];
        let result = snapshot::write_image(
            &self.dbs,
            pending,
            Vec::new(),
            &aux,
            &self.persist.files.abort,
        );
        self.persist.release();
        result
    }

    /// Stops a snapshot being written (a second shutdown signal): it gives
    /// up at its next shard and removes its temp file.
    pub fn abort_snapshots(&self) {
        self.persist.files.abort.store(true, Relaxed);
    }

    /// After CONFIG SET: parts that keep a copy of a setting take the new
    /// value (the others read settings when they use them).
    pub fn setting_changed(&self, p: P) {
        if p == P::ClientOutputBufferLimit {
            apply_output_limits(&self.settings, &self.dbs, &self.clients);
        }
        if p == P::TrackingTableMaxKeys {
            let max = self.settings.uint(P::TrackingTableMaxKeys);
            self.dbs.shared().tracking.set_max_keys(max);
        }
        if p == P::NotifyKeyspaceEvents {
            let classes = self.settings.text(P::NotifyKeyspaceEvents);
            let flags = store::notify::class::parse(&classes).unwrap_or(0);
            self.dbs.shared().notifier.set_flags(flags);
        }
        if p == P::ReplBacklogSize {
            let size = self.settings.uint(P::ReplBacklogSize) as usize;
            self.dbs.shared().feed.set_backlog_size(size);
        }
    }

    /// `maxmemory-clients` in bytes (a percentage is of `maxmemory`); 0 = none.
    pub fn client_memory_limit(&self) -> u64 {
        match self.settings.int(P::MaxmemoryClients) {
            v if v < 0 => (self.settings.uint(P::Maxmemory) as f64 * -(v as f64) / 100.0) as u64,
            v => v as u64,
        }
    }

    /// Writes are refused with MISCONF (`stop-writes-on-bgsave-error`):
    /// the last snapshot failed while snapshots are configured. One atomic
    /// load while snapshots succeed.
    #[inline]
    pub fn snapshot_failing(&self) -> bool {
        !self.persist.last_ok() && self.snapshot_failure_stops_writes()
    }

    #[cold]
    fn snapshot_failure_stops_writes(&self) -> bool {
        let periodic = self.persist.enabled && self.settings.uint(P::SnapshotInterval) > 0;
        let save_points = !self.settings.text(P::Save).is_empty();
        self.settings.flag(P::StopWritesOnBgsaveError) && (periodic || save_points)
    }

    /// Whether this server follows a master (mirrors `role` for the
    /// per-command checks).
    #[inline]
    pub fn is_replica(&self) -> bool {
        self.dbs.shared().replica.load(Relaxed)
    }

    /// Starts the thread that compacts record arenas (see
    /// [`store::compact`]) every 100 ms, on a thread of its own so request
    /// workers never wait for it; it ends once the engine is dropped.
    fn start_compactor(self: &Arc<Self>) {
        let engine = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("compact".into())
            .spawn(move || {
                let mut cycle = store::compact::CompactCycle::default();
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let Some(eng) = engine.upgrade() else { return };
                    cycle.tick(&eng.dbs, Duration::from_millis(25));
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("no compaction thread: {e}");
        }
    }

    /// Loads the snapshot file at start (call with the dataset empty).
    pub fn load_snapshot(&self) -> Result<u64, String> {
        snapshot::load(&self.dbs, &self.persist.path, now_ms(), &self.limits())
    }

    /// One housekeeping tick (every 100 ms): active expiry within a small
    /// time budget, the ops/sec sample, and the periodic snapshot.
    pub fn tick(self: &Arc<Self>, cycle: &mut ExpireCycle) {
        self.compactor.call_once(|| self.start_compactor());
        let now = now_ms();
        if !self.is_replica() {
            // A replica's keys expire by its master's DEL.
            let _ = self.with_unit(now, |_| {
                cycle.tick(&self.dbs, now, Duration::from_millis(2))
            });
        }
        self.stats.sample();
        let client_limit = self.client_memory_limit();
        if client_limit > 0 {
            let evicted = self.clients.evict_over(client_limit);
            self.stats.evicted_clients.fetch_add(evicted, Relaxed);
        }
        let interval = self.settings.uint(P::SnapshotInterval);
        if self.persist.is_loading()
            || self.persist.in_progress.load(Relaxed)
            || !self.persist.may_retry(now / 1000)
        {
            return;
        }
        let since = (now / 1000).saturating_sub(self.persist.last_save_unix());
        let changes = self
            .stats
            .dirty
            .load(Relaxed)
            .saturating_sub(self.persist.dirty_at_save());
        if self.persist.enabled && interval > 0 && since >= interval && changes > 0 {
            tracing::info!("periodic snapshot: {since}s since the last one");
            let _ = self.with_exclusive_unit(now, |unit| self.bgsave(unit));
            return;
        }
        // Redis's save points (`save`), with or without persistence.
        let points = crate::config::params::save_points(&self.settings.text(P::Save));
        if let Some(&(secs, min)) = points
            .iter()
            .flatten()
            .find(|&&(secs, min)| changes >= min && since > secs)
        {
            tracing::info!("{min} changes in {secs} seconds. Saving...");
            let _ = self.with_exclusive_unit(now, |unit| self.bgsave(unit));
        }
    }
}
