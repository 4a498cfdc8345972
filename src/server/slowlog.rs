//! The slow log: commands that ran longer than `slowlog-log-slower-than`
//! microseconds, newest first, capped at `slowlog-max-len` entries.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use super::clients::ClientHandle;

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
    threshold_us: AtomicI64,
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<SlowEntry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            threshold_us: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl SlowLog {
    pub fn threshold(&self) -> i64 {
        self.threshold_us.load(Relaxed)
    }
    pub fn set_threshold(&self, v: i64) {
        self.threshold_us.store(v, Relaxed);
    }
    pub fn max_len(&self) -> usize {
        self.max_len.load(Relaxed)
    }
    pub fn set_max_len(&self, v: usize) {
        self.max_len.store(v, Relaxed);
        self.entries.lock().truncate(v);
    }

    /// Records the command if it was slow enough. Cheap when it was not.
    #[inline]
    pub fn maybe_record(&self, elapsed_us: u64, args: &[&[u8]], client: &ClientHandle) {
        let t = self.threshold_us.load(Relaxed);
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
            timestamp: crate::store::now_ms() / 1000,
            duration_us: elapsed_us,
            args: kept,
            client_addr: client.addr.to_string(),
            client_name: client.name.lock().clone().unwrap_or_default(),
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(self.max_len());
    }

    pub fn latest(&self, n: usize) -> Vec<SlowEntry> {
        self.entries
            .lock()
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
        self.entries.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
