//! Snapshot state and scheduling for the server: SAVE and BGSAVE, the
//! periodic snapshot, and the figures INFO persistence reports.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use super::Shared;
use crate::persist::snapshot;

pub struct Persistence {
    pub enabled: bool,
    pub path: PathBuf,
    pub in_progress: AtomicBool,
    /// True while a snapshot is being loaded at start.
    pub loading: AtomicBool,
    last_save_unix: AtomicU64,
    last_ok: AtomicBool,
    last_duration_sec: AtomicI64,
    saves: AtomicU64,
    /// The write counter when the last successful snapshot began.
    dirty_at_save: AtomicU64,
}

#[derive(Debug)]
pub enum SaveError {
    InProgress,
    Failed,
}

impl Persistence {
    pub fn new(enabled: bool, path: PathBuf, now_ms: u64) -> Self {
        Persistence {
            enabled,
            path,
            in_progress: AtomicBool::new(false),
            loading: AtomicBool::new(false),
            last_save_unix: AtomicU64::new(now_ms / 1000),
            last_ok: AtomicBool::new(true),
            last_duration_sec: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            dirty_at_save: AtomicU64::new(0),
        }
    }

    pub fn last_save_unix(&self) -> u64 {
        self.last_save_unix.load(Relaxed)
    }
    pub fn last_ok(&self) -> bool {
        self.last_ok.load(Relaxed)
    }
    pub fn last_duration_sec(&self) -> i64 {
        self.last_duration_sec.load(Relaxed)
    }
    pub fn saves(&self) -> u64 {
        self.saves.load(Relaxed)
    }
    pub fn dirty_at_save(&self) -> u64 {
        self.dirty_at_save.load(Relaxed)
    }
}

impl Shared {
    /// Runs a whole snapshot: begin, write, record the outcome.
    fn snapshot_and_record(
        &self,
        pending: snapshot::Pending,
        dirty: u64,
        started: Instant,
    ) -> bool {
        let result = snapshot::write(&self.ks, pending, &self.persist.path);
        let p = &self.persist;
        p.last_duration_sec
            .store(started.elapsed().as_secs() as i64, Relaxed);
        match result {
            Ok(size) => {
                p.last_ok.store(true, Relaxed);
                p.saves.fetch_add(1, Relaxed);
                p.last_save_unix
                    .store(crate::store::now_ms() / 1000, Relaxed);
                p.dirty_at_save.store(dirty, Relaxed);
                tracing::info!(
                    "snapshot written to {} ({size} bytes in {:.3}s)",
                    p.path.display(),
                    started.elapsed().as_secs_f64()
                );
                true
            }
            Err(e) => {
                p.last_ok.store(false, Relaxed);
                tracing::warn!(
                    "snapshot to {} failed: {e}; the previous file is kept",
                    p.path.display()
                );
                false
            }
        }
    }

    /// SAVE: a synchronous snapshot.
    pub fn save_now(&self, now_ms: u64) -> Result<(), SaveError> {
        if self.persist.in_progress.swap(true, Relaxed) {
            return Err(SaveError::InProgress);
        }
        let started = Instant::now();
        let dirty = self.stats.dirty.load(Relaxed);
        let pending = snapshot::begin(&self.ks, now_ms);
        let ok = self.snapshot_and_record(pending, dirty, started);
        self.persist.in_progress.store(false, Relaxed);
        if ok {
            Ok(())
        } else {
            Err(SaveError::Failed)
        }
    }

    /// BGSAVE: freezes the image now and writes it on a blocking thread.
    /// False when a snapshot is already running.
    pub fn start_bgsave(self: &Shared, now_ms: u64) -> bool {
        if self.persist.in_progress.swap(true, Relaxed) {
            return false;
        }
        let started = Instant::now();
        let dirty = self.stats.dirty.load(Relaxed);
        let pending = snapshot::begin(&self.ks, now_ms);
        let me: Arc<Shared> = self.self_ref();
        tokio::task::spawn_blocking(move || {
            me.snapshot_and_record(pending, dirty, started);
            me.persist.in_progress.store(false, Relaxed);
        });
        true
    }
}
