//! Snapshot bookkeeping: whether one is running, how the last one went, and
//! the figures INFO persistence reports. The engine drives SAVE, BGSAVE and
//! the periodic snapshot through it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::snapshot::Files;

pub struct Persistence {
    /// Load at start, save periodically and on shutdown.
    pub enabled: bool,
    pub path: PathBuf,
    pub in_progress: AtomicBool,
    /// True while a snapshot is being loaded at start.
    pub loading: AtomicBool,
    pub files: Files,
    last_save_unix: AtomicU64,
    /// When the last snapshot was started (unix seconds).
    last_try_unix: AtomicU64,
    last_ok: AtomicBool,
    last_duration_sec: AtomicI64,
    saves: AtomicU64,
    /// The write counter when the last successful snapshot began.
    dirty_at_save: AtomicU64,
}

/// Why SAVE or BGSAVE did not write a snapshot.
#[derive(Debug, PartialEq, Eq)]
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
            files: Files::default(),
            last_save_unix: AtomicU64::new(now_ms / 1000),
            last_try_unix: AtomicU64::new(0),
            last_ok: AtomicBool::new(true),
            last_duration_sec: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            dirty_at_save: AtomicU64::new(0),
        }
    }

    /// Claims the right to run a snapshot; false when one is running.
    pub fn try_start(&self) -> bool {
        let claimed = !self.in_progress.swap(true, Relaxed);
        if claimed {
            self.last_try_unix
                .store(crate::engine::store::now_ms() / 1000, Relaxed);
        }
        claimed
    }

    /// Automatic snapshots wait this long after a failed one (Redis's
    /// retry delay), so a full disk is not retried ten times a second.
    pub fn may_retry(&self, now_unix: u64) -> bool {
        self.last_ok() || now_unix.saturating_sub(self.last_try_unix.load(Relaxed)) > 5
    }

    /// Records how a snapshot that began at `started` (with the write
    /// counter at `dirty`) ended, and releases the claim.
    pub fn finish(&self, result: &std::io::Result<u64>, dirty: u64, started: Instant) {
        self.last_duration_sec
            .store(started.elapsed().as_secs() as i64, Relaxed);
        match result {
            Ok(size) => {
                self.last_ok.store(true, Relaxed);
                self.saves.fetch_add(1, Relaxed);
                self.last_save_unix
                    .store(crate::engine::store::now_ms() / 1000, Relaxed);
                self.dirty_at_save.store(dirty, Relaxed);
                tracing::info!(
                    "snapshot written to {} ({size} bytes in {:.3}s)",
                    self.path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                self.last_ok.store(false, Relaxed);
                tracing::warn!(
                    "snapshot to {} failed: {e}; the previous file is kept",
                    self.path.display()
                );
            }
        }
        self.in_progress.store(false, Relaxed);
    }

    /// Releases the claim after a snapshot that wrote no file (a replica's
    /// full sync): nothing about the last save changes.
    pub fn release(&self) {
        self.in_progress.store(false, Relaxed);
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
    pub fn is_loading(&self) -> bool {
        self.loading.load(Relaxed)
    }
}
