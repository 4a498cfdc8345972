//! The slow log: commands that ran longer than `slowlog-log-slower-than`
//! microseconds, newest first, capped at `slowlog-max-len` entries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use super::clients::ClientHandle;
use crate::config::{Settings, P};

/// Arguments kept per entry, and bytes kept per argument, as in Redis.
const MAX_ARGS: usize = 32;
const MAX_ARG_LEN: usize = 128;

pub struct SlowEntry {
    pub id: u64,
    pub timestamp: u64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    pub client_addr: String,
    pub client_name: Vec<u8>,
}

pub struct SlowLog {
    settings: Arc<Settings>,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<SlowEntry>>,
}

impl SlowLog {
    /// A slow log following `slowlog-log-slower-than` and `slowlog-max-len`.
    pub fn new(settings: Arc<Settings>) -> Self {
        SlowLog {
            settings,
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Records the command if it was slow enough. Cheap when it was not.
    #[inline]
    pub fn maybe_record(&self, elapsed_us: u64, args: &[&[u8]], client: &ClientHandle) {
        let t = self.settings.int(P::SlowlogLogSlowerThan);
        if t < 0 || (elapsed_us as i64) < t {
            return;
        }
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == MAX_ARGS - 1 && args.len() > MAX_ARGS {
                kept.push(format!("... ({} more arguments)", args.len() - i).into_bytes());
                break;
            }
            if a.len() > MAX_ARG_LEN {
                let mut v = a[..MAX_ARG_LEN].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_ARG_LEN).as_bytes(),
                );
                kept.push(v);
            } else {
                kept.push(a.to_vec());
            }
        }
        let entry = SlowEntry {
            id: self.next_id.fetch_add(1, Relaxed),
            timestamp: crate::engine::store::now_ms() / 1000,
            duration_us: elapsed_us,
            args: kept,
            client_addr: client.addr.to_string(),
            client_name: client.name.lock().clone().unwrap_or_default(),
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(self.settings.uint(P::SlowlogMaxLen) as usize);
    }

    pub fn latest(&self, n: usize) -> Vec<SlowEntry> {
        let mut entries = self.entries.lock();
        entries.truncate(self.settings.uint(P::SlowlogMaxLen) as usize);
        entries
            .iter()
            .take(n)
            .map(|e| SlowEntry {
                id: e.id,
                timestamp: e.timestamp,
                duration_us: e.duration_us,
                args: e.args.clone(),
                client_addr: e.client_addr.clone(),
                client_name: e.client_name.clone(),
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        let mut entries = self.entries.lock();
        entries.truncate(self.settings.uint(P::SlowlogMaxLen) as usize);
        entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
