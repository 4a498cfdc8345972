//! Server-wide statistics. Connections count commands locally
//! ([`LocalStats`]) and fold their counts in here once per batch, so the
//! per-command path touches no shared cache line. INFO and /metrics read
//! these counters.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

/// Per-connection command statistics, flushed into [`Stats`] once per batch.
#[derive(Default)]
pub struct LocalStats {
    pub calls: Vec<CallStat>,
    pub touched: Vec<u16>,
    pub commands: u64,
    /// Successful writes, for `rdb_changes_since_last_save`.
    pub dirty: u64,
    /// Commands per latency bucket, and their summed time (µs).
    pub latency: [u64; LATENCY_BOUNDS_US.len() + 1],
    pub latency_sum_us: u64,
    pub errors: Vec<(String, u64)>,
}

#[derive(Default, Clone, Copy)]
pub struct CallStat {
    pub calls: u64,
    pub usec: u64,
    pub failed: u64,
    pub rejected: u64,
}

impl LocalStats {
    /// The counters of command `id` (a command table id).
    pub fn slot(&mut self, id: usize) -> &mut CallStat {
        if self.calls.len() <= id {
            self.calls.resize(id + 1, CallStat::default());
        }
        let s = &mut self.calls[id];
        if s.calls == 0 && s.failed == 0 && s.rejected == 0 {
            self.touched.push(id as u16);
        }
        s
    }

    /// Counts an error reply by its code.
    pub fn error(&mut self, code: &str) {
        match self.errors.iter_mut().find(|(c, _)| c == code) {
            Some(e) => e.1 += 1,
            None => self.errors.push((code.to_string(), 1)),
        }
    }
}

/// Upper bounds (microseconds) of the command latency histogram buckets;
/// a last, unbounded bucket follows.
pub const LATENCY_BOUNDS_US: [u64; 9] = [10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000];

/// The histogram bucket a command latency falls in.
#[inline]
pub fn latency_bucket(us: u64) -> usize {
    LATENCY_BOUNDS_US
        .iter()
        .position(|&b| us <= b)
        .unwrap_or(LATENCY_BOUNDS_US.len())
}

#[derive(Default)]
pub struct CommandCounters {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
}

/// Counters sampled for the instantaneous figures: commands, network input,
/// output, replication input and output bytes.
#[derive(Clone, Copy, Default)]
struct Sample([u64; 5]);

pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Replica syncs: full, resumed from the backlog, and resumes refused.
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
    /// Connections refused by `connection_rate_limit`.
    pub rate_limited_connections: AtomicU64,
    /// Clients closed for exceeding the output buffer limit or stalling writes.
    pub output_limit_disconnections: AtomicU64,
    /// Clients closed for passing the query buffer limit.
    pub query_limit_disconnections: AtomicU64,
    /// Clients disconnected by `maxmemory-clients`.
    pub evicted_clients: AtomicU64,
    /// Clients closed for not finishing a request in time or idling.
    pub timeout_disconnections: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    /// Replication stream bytes received from a master / sent to replicas.
    pub net_repl_input_bytes: AtomicU64,
    pub net_repl_output_bytes: AtomicU64,
    /// Socket reads and writes of client connections.
    pub reads_processed: AtomicU64,
    pub writes_processed: AtomicU64,
    /// Writes since the last snapshot (INFO `rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    pub commands: Box<[CommandCounters]>,
    /// Commands per latency bucket (see [`LATENCY_BOUNDS_US`]), and their total time.
    pub latency: [AtomicU64; LATENCY_BOUNDS_US.len() + 1],
    pub latency_sum_us: AtomicU64,
    pub errors: Mutex<Vec<(String, u64)>>,
    /// Samples taken every 100 ms, for the instantaneous figures.
    samples: Mutex<std::collections::VecDeque<(std::time::Instant, Sample)>>,
}

impl Stats {
    /// Counters for `n` commands (the command table's size).
    pub fn new(n: usize) -> Self {
        Stats {
            connections_received: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            rate_limited_connections: AtomicU64::new(0),
            output_limit_disconnections: AtomicU64::new(0),
            timeout_disconnections: AtomicU64::new(0),
            query_limit_disconnections: AtomicU64::new(0),
            evicted_clients: AtomicU64::new(0),
            connected_clients: AtomicUsize::new(0),
            commands_processed: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            net_repl_input_bytes: AtomicU64::new(0),
            net_repl_output_bytes: AtomicU64::new(0),
            reads_processed: AtomicU64::new(0),
            writes_processed: AtomicU64::new(0),
            dirty: AtomicU64::new(0),
            commands: (0..n).map(|_| CommandCounters::default()).collect(),
            latency: Default::default(),
            latency_sum_us: AtomicU64::new(0),
            errors: Mutex::new(Vec::new()),
            samples: Mutex::new(Default::default()),
        }
    }

    /// Folds a connection's local counters into the global ones and clears them.
    pub fn absorb(&self, local: &mut LocalStats) {
        if local.commands != 0 {
            self.commands_processed.fetch_add(local.commands, Relaxed);
            local.commands = 0;
        }
        if local.dirty != 0 {
            self.dirty.fetch_add(local.dirty, Relaxed);
            local.dirty = 0;
        }
        for (i, n) in local.latency.iter_mut().enumerate() {
            if *n != 0 {
                self.latency[i].fetch_add(*n, Relaxed);
                *n = 0;
            }
        }
        if local.latency_sum_us != 0 {
            self.latency_sum_us.fetch_add(local.latency_sum_us, Relaxed);
            local.latency_sum_us = 0;
        }
        for &id in &local.touched {
            let l = &mut local.calls[id as usize];
            let g = &self.commands[id as usize];
            g.calls.fetch_add(l.calls, Relaxed);
            g.usec.fetch_add(l.usec, Relaxed);
            if l.failed != 0 {
                g.failed.fetch_add(l.failed, Relaxed);
            }
            if l.rejected != 0 {
                g.rejected.fetch_add(l.rejected, Relaxed);
            }
            *l = Default::default();
        }
        local.touched.clear();
        if !local.errors.is_empty() {
            let mut errors = self.errors.lock();
            for (code, n) in local.errors.drain(..) {
                match errors.iter_mut().find(|(c, _)| *c == code) {
                    Some(e) => e.1 += n,
                    None => errors.push((code, n)),
                }
            }
        }
    }

    pub fn reset(&self) {
        for c in self.commands.iter() {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.failed.store(0, Relaxed);
            c.rejected.store(0, Relaxed);
        }
        self.errors.lock().clear();
        self.commands_processed.store(0, Relaxed);
        self.connections_received.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.sync_full.store(0, Relaxed);
        self.sync_partial_ok.store(0, Relaxed);
        self.sync_partial_err.store(0, Relaxed);
        self.rate_limited_connections.store(0, Relaxed);
        self.output_limit_disconnections.store(0, Relaxed);
        self.query_limit_disconnections.store(0, Relaxed);
        self.evicted_clients.store(0, Relaxed);
        self.timeout_disconnections.store(0, Relaxed);
        self.net_input_bytes.store(0, Relaxed);
        self.net_output_bytes.store(0, Relaxed);
        self.net_repl_input_bytes.store(0, Relaxed);
        self.net_repl_output_bytes.store(0, Relaxed);
        self.reads_processed.store(0, Relaxed);
        self.writes_processed.store(0, Relaxed);
        for b in &self.latency {
            b.store(0, Relaxed);
        }
        self.latency_sum_us.store(0, Relaxed);
    }

    /// Records a sample for the instantaneous figures.
    pub fn sample(&self) {
        let now = Sample([
            self.commands_processed.load(Relaxed),
            self.net_input_bytes.load(Relaxed),
            self.net_output_bytes.load(Relaxed),
            self.net_repl_input_bytes.load(Relaxed),
            self.net_repl_output_bytes.load(Relaxed),
        ]);
        let mut s = self.samples.lock();
        s.push_back((std::time::Instant::now(), now));
        while s.len() > 16 {
            s.pop_front();
        }
    }

    /// Per-second rate of sampled counter `i` over the last 1.6 s.
    fn rate(&self, i: usize) -> f64 {
        let s = self.samples.lock();
        match (s.front(), s.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                let dt = (b.0 - a.0).as_secs_f64();
                b.1 .0[i].saturating_sub(a.1 .0[i]) as f64 / dt
            }
            _ => 0.0,
        }
    }

    pub fn ops_per_sec(&self) -> u64 {
        self.rate(0) as u64
    }

    /// Instantaneous input, output, replication input and output, in KB/s
    /// (INFO `instantaneous_*_kbps`).
    pub fn kbps(&self) -> [f64; 4] {
        [1, 2, 3, 4].map(|i| self.rate(i) / 1024.0)
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.lock().iter().map(|(_, n)| n).sum()
    }
}
