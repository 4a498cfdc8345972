//! The server around the keyspace: shared state, listeners, the accept loop
//! with its connection limit, background housekeeping, and shutdown.

pub mod clients;
pub mod connection;
pub mod http;
pub mod info;
pub mod persistence;
pub mod slowlog;
pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::errors;
use crate::stats::Stats;
use crate::store::expire::ExpireCycle;
use crate::store::{now_ms, Keyspace};
use clients::ClientRegistry;
use slowlog::SlowLog;

/// What SHUTDOWN asked for about the final snapshot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShutdownSave {
    /// Follow `save_on_shutdown`.
    Default,
    /// SHUTDOWN NOSAVE.
    Skip,
    /// SHUTDOWN SAVE.
    Force,
}

/// State shared by every connection and background task.
pub struct Shared {
    pub ks: Keyspace,
    /// The configuration, including what CONFIG SET changed.
    pub settings: RwLock<Config>,
    pub stats: Stats,
    pub clients: ClientRegistry,
    pub slowlog: SlowLog,
    pub started: Instant,
    pub started_ms: u64,
    pub run_id: String,
    /// Idle timeout in seconds (mirrors `settings` for the hot path).
    pub idle_timeout: AtomicU64,
    /// `maxmemory` in bytes, 0 = unlimited (mirrors `settings` for the hot path).
    pub max_memory: AtomicU64,
    /// `client-query-buffer-limit`: largest pending request a client may send.
    pub query_buffer_limit: AtomicU64,
    /// Highest `used_memory` reported so far.
    pub peak_memory: AtomicU64,
    /// Token bucket for `connection_rate_limit` (tokens, last refill).
    accept_tokens: parking_lot::Mutex<(f64, Instant)>,
    password_digest: RwLock<Option<[u8; 32]>>,
    auth_required: AtomicBool,
    pub persist: persistence::Persistence,
    shutdown_save: parking_lot::Mutex<ShutdownSave>,
    /// A weak handle to this state, for tasks spawned from `&Shared`.
    self_weak: parking_lot::Mutex<std::sync::Weak<Shared>>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn new(config: Config) -> Shared {
        let run_id: String = (0..40)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap())
            .collect();
        let shared = Shared {
            ks: Keyspace::new(config.num_shards),
            idle_timeout: AtomicU64::new(config.connection_timeout),
            max_memory: AtomicU64::new(config.max_memory),
            query_buffer_limit: AtomicU64::new(config.query_buffer_limit),
            settings: RwLock::new(config.clone()),
            stats: Stats::default(),
            clients: ClientRegistry::default(),
            slowlog: SlowLog::default(),
            started: Instant::now(),
            started_ms: now_ms(),
            run_id,
            peak_memory: AtomicU64::new(0),
            accept_tokens: parking_lot::Mutex::new((
                config.connection_rate_limit as f64,
                Instant::now(),
            )),
            password_digest: RwLock::new(None),
            auth_required: AtomicBool::new(false),
            persist: persistence::Persistence::new(
                config.persistence_enabled,
                std::path::PathBuf::from(&config.snapshot_path),
                now_ms(),
            ),
            self_weak: parking_lot::Mutex::new(std::sync::Weak::new()),
            shutdown_save: parking_lot::Mutex::new(ShutdownSave::Default),
            shutdown: watch::channel(false).0,
        };
        shared.set_password(&config.password);
        crate::evict::set_active(config.eviction_policy);
        crate::evict::set_samples(config.maxmemory_samples);
        shared
    }

    /// A strong handle to this state (set once it is shared).
    pub fn self_ref(&self) -> Arc<Shared> {
        self.self_weak
            .lock()
            .upgrade()
            .expect("shared state is alive")
    }

    /// Sets (or clears, with "") the password clients must AUTH with.
    pub fn set_password(&self, password: &str) {
        self.settings.write().password = password.to_string();
        *self.password_digest.write() = if password.is_empty() {
            None
        } else {
            Some(Sha256::digest(password.as_bytes()).into())
        };
        self.auth_required.store(!password.is_empty(), Relaxed);
    }

    pub fn auth_required(&self) -> bool {
        self.auth_required.load(Relaxed)
    }

    /// Compares SHA-256 digests in constant time, so neither the content nor
    /// the length of the password leaks through timing.
    pub fn password_matches(&self, candidate: &[u8]) -> bool {
        match *self.password_digest.read() {
            None => true,
            Some(expected) => {
                let got: [u8; 32] = Sha256::digest(candidate).into();
                got.ct_eq(&expected).into()
            }
        }
    }

    /// How long a TLS handshake may take.
    pub fn handshake_deadline(&self) -> Duration {
        Duration::from_secs(self.settings.read().request_timeout.clamp(1, 10))
    }

    /// Takes a token for a new connection; false when the rate limit is exceeded.
    fn admit_rate(&self) -> bool {
        let rate = self.settings.read().connection_rate_limit as f64;
        if rate == 0.0 {
            return true;
        }
        let mut bucket = self.accept_tokens.lock();
        let now = Instant::now();
        let refill = (now - bucket.1).as_secs_f64() * rate;
        bucket.0 = (bucket.0 + refill).min(rate);
        bucket.1 = now;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// SHUTDOWN with a choice about the final snapshot.
    pub fn request_shutdown_with(&self, mode: ShutdownSave) {
        *self.shutdown_save.lock() = mode;
        self.request_shutdown();
    }

    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Ready to serve: the snapshot (if any) has loaded, listeners are up,
    /// and no shutdown has begun.
    pub fn ready(&self) -> bool {
        !self.persist.loading.load(Relaxed) && !self.shutting_down()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Bytes the dataset accounts for (keys, values, per-entry overhead):
    /// INFO's `used_memory`, and what `maxmemory` limits.
    pub fn used_memory(&self) -> u64 {
        let used = self.ks.used_bytes() as u64;
        self.peak_memory.fetch_max(used, Relaxed);
        used
    }
}

/// A running server: its shared state and the addresses it listens on.
pub struct Running {
    pub shared: Arc<Shared>,
    pub addrs: Vec<SocketAddr>,
}

/// Binds the listeners and starts accepting and housekeeping tasks.
pub async fn start(config: Config) -> Result<Running, String> {
    let tls = if config.tls_enabled {
        Some(TlsAcceptor::from(tls::server_config(&config)?))
    } else {
        None
    };
    let shared = Arc::new(Shared::new(config.clone()));
    *shared.self_weak.lock() = Arc::downgrade(&shared);
    if config.persistence_enabled {
        crate::persist::snapshot::remove_stale_temp_files(&shared.persist.path);
        shared.persist.loading.store(true, Relaxed);
    }
    let mut addrs = Vec::new();
    let mut ports: Vec<(u16, Option<TlsAcceptor>)> = Vec::new();
    if config.port != 0 {
        ports.push((config.port, None));
    }
    if let Some(acceptor) = tls {
        ports.push((config.tls_port, Some(acceptor)));
    }
    for (port, tls) in ports {
        for ip in &config.bind {
            let addr = SocketAddr::new(*ip, port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
            tokio::spawn(accept_loop(listener, shared.clone(), tls.clone()));
        }
    }
    if config.health_check_port != 0 {
        for ip in &config.bind {
            let addr = SocketAddr::new(*ip, config.health_check_port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} (health_check_port): {e}"))?;
            addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
            tokio::spawn(http::serve(listener, shared.clone()));
        }
    }
    if config.persistence_enabled {
        // Clients may connect while the snapshot loads: INFO answers with
        // loading:1 and other commands with LOADING.
        let loader = shared.clone();
        let path = shared.persist.path.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            crate::persist::snapshot::load(&loader.ks, &path, now_ms())
        })
        .await
        .map_err(|e| e.to_string())??;
        if loaded > 0 {
            tracing::info!(
                "loaded {loaded} keys from {}",
                shared.persist.path.display()
            );
        }
        shared.persist.loading.store(false, Relaxed);
    }
    tokio::spawn(housekeeping(shared.clone()));
    Ok(Running { shared, addrs })
}

/// Handshakes in progress at once; more wait (and their deadline runs).
const MAX_CONCURRENT_HANDSHAKES: usize = 256;

/// Accepts clients until shutdown. Errors (EMFILE, resets) are logged and
/// the loop keeps going after a short pause.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<TlsAcceptor>) {
    let mut stop = shared.shutdown_signal();
    let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(ok) => ok,
            Err(e) => {
                // EMFILE and friends: keep serving, retry shortly, log at most once a second.
                if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!("accept failed: {e}");
                    last_warning = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.stats.connections_received.fetch_add(1, Relaxed);
        if !shared.admit_rate() {
            // Refused at once: no task, no buffers, nothing to hold.
            shared.stats.rejected_connections.fetch_add(1, Relaxed);
            shared.stats.rate_limited_connections.fetch_add(1, Relaxed);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let laddr = stream.local_addr().unwrap_or(peer);
        match &tls {
            None => admit(stream, peer, laddr, &shared),
            Some(acceptor) => {
                // The handshake runs before the client takes a slot, under a
                // deadline, so silent or plaintext peers hold nothing.
                let (acceptor, shared, handshakes) =
                    (acceptor.clone(), shared.clone(), handshakes.clone());
                tokio::spawn(async move {
                    let deadline = shared.handshake_deadline();
                    let handshake = async {
                        let _permit = handshakes.acquire().await;
                        acceptor.accept(stream).await
                    };
                    match tokio::time::timeout(deadline, handshake).await {
                        Ok(Ok(tls_stream)) => admit(tls_stream, peer, laddr, &shared),
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        }
    }
}

/// Admits a connected (and, for TLS, handshaken) client, or refuses it
/// when `maxclients` is reached.
fn admit<S>(mut stream: S, peer: SocketAddr, laddr: SocketAddr, shared: &Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let max = shared.settings.read().max_connections;
    if shared.stats.connected_clients.load(Relaxed) >= max {
        shared.stats.rejected_connections.fetch_add(1, Relaxed);
        tokio::spawn(async move {
            let msg = format!("-{}\r\n", errors::MAX_CLIENTS);
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(msg.as_bytes()))
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        });
        return;
    }
    shared.stats.connected_clients.fetch_add(1, Relaxed);
    let handle = shared.clients.register(peer, laddr, now_ms());
    let shared = shared.clone();
    tokio::spawn(async move {
        let id = handle.id;
        connection::serve(shared.clone(), stream, handle).await;
        shared.clients.unregister(id);
        shared.stats.connected_clients.fetch_sub(1, Relaxed);
    });
}

/// Background work every 100 ms: active expiry within a small time budget,
/// and the ops/sec sample.
async fn housekeeping(shared: Arc<Shared>) {
    let mut cycle = ExpireCycle::default();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = shared.shutdown_signal();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        cycle.tick(&shared.ks, now_ms(), Duration::from_millis(2));
        shared.stats.sample();
        let interval = shared.settings.read().snapshot_interval;
        if shared.persist.enabled && interval > 0 {
            let since = (now_ms() / 1000).saturating_sub(shared.persist.last_save_unix());
            let changed = shared.stats.dirty.load(Relaxed) != shared.persist.dirty_at_save();
            if since >= interval && changed && !shared.persist.in_progress.load(Relaxed) {
                tracing::info!("periodic snapshot: {since}s since the last one");
                shared.start_bgsave(now_ms());
            }
        }
    }
}

/// Raises the soft open-files limit to what `maxclients` needs (plus room
/// for listeners and files), as Redis does; warns when it cannot.
fn raise_fd_limit(max_clients: usize) {
    let wanted = max_clients as u64 + 32;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= wanted {
            return;
        }
        let target = wanted.min(lim.rlim_max);
        lim.rlim_cur = target;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 || target < wanted {
            tracing::warn!(
                "open files limit is {target}, below maxclients + 32 = {wanted}; raise it (ulimit -n) to serve that many clients"
            );
        }
    }
}

/// Runs the server until SIGTERM, SIGINT or SHUTDOWN.
pub async fn run(config: Config) -> Result<(), String> {
    // Signal handlers first, so a SIGTERM right after READY is a graceful stop.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    raise_fd_limit(config.max_connections);
    let running = start(config.clone()).await?;
    let ports: Vec<String> = running.addrs.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        "Redistill {} ready: listening on {}, {} shards, maxmemory {} ({}), maxclients {}, config {}",
        env!("CARGO_PKG_VERSION"),
        ports.join(", "),
        config.num_shards,
        config.max_memory,
        config.eviction_policy.name(),
        config.max_connections,
        config
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(built-in defaults)".into()),
    );
    if config.password.is_empty() && config.bind.iter().any(|ip| !ip.is_loopback()) {
        tracing::warn!(
            "listening on a non-loopback address without a password: anyone who can reach it can read and write all data; set [security] password or --requirepass"
        );
    }
    notify_systemd("READY=1");
    let shared = running.shared;
    let mut stop = shared.shutdown_signal();
    tokio::select! {
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = stop.changed() => tracing::info!("SHUTDOWN command received, shutting down"),
    }
    shared.request_shutdown();
    notify_systemd("STOPPING=1");
    shared.stats.sample();
    // Drain and save, unless a second signal says to stop at once.
    tokio::select! {
        r = drain_and_save(&shared) => r?,
        _ = int.recv() => return Err(exit_now(&shared).await),
        _ = term.recv() => return Err(exit_now(&shared).await),
    }
    let ks = shared.ks.stats();
    tracing::info!(
        "Redistill stopped after {}s: {} connections received, {} commands processed, {} keys, {} evicted, {} expired",
        shared.started.elapsed().as_secs(),
        shared.stats.connections_received.load(Relaxed),
        shared.stats.commands_processed.load(Relaxed),
        shared.ks.dbsize(),
        ks.evicted,
        ks.expired,
    );
    Ok(())
}

/// Tells systemd (Type=notify) about our state through $NOTIFY_SOCKET, if set.
fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let sent = if let Some(name) = bytes.strip_prefix(b"@") {
        // An abstract socket name.
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name)
            .and_then(|addr| sock.send_to_addr(state.as_bytes(), &addr))
    } else {
        sock.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// A second signal during shutdown: leave at once, without a half-written snapshot.
async fn exit_now(shared: &Shared) -> String {
    crate::persist::snapshot::abort_all();
    // A snapshot being written stops at its next shard and removes its temp file.
    let deadline = Instant::now() + Duration::from_secs(2);
    while shared.persist.in_progress.load(Relaxed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    crate::persist::snapshot::remove_stale_temp_files(&shared.persist.path);
    "second signal received: exiting at once".to_string()
}

/// Lets connected clients finish what they sent (bounded by the drain
/// time), then writes the final snapshot when configured.
async fn drain_and_save(shared: &Arc<Shared>) -> Result<(), String> {
    let drain = Duration::from_secs(shared.settings.read().shutdown_timeout);
    let deadline = Instant::now() + drain;
    while shared.stats.connected_clients.load(Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left = shared.stats.connected_clients.load(Relaxed);
    if left > 0 {
        tracing::warn!(
            "{left} clients still connected after the {}s drain time",
            drain.as_secs()
        );
    }
    let (enabled, on_shutdown) = {
        let s = shared.settings.read();
        (s.persistence_enabled, s.save_on_shutdown)
    };
    let save = match *shared.shutdown_save.lock() {
        ShutdownSave::Default => enabled && on_shutdown,
        ShutdownSave::Skip => false,
        ShutdownSave::Force => enabled,
    };
    if save {
        // Wait for a running BGSAVE, then write the final image.
        while shared.persist.in_progress.load(Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let s = shared.clone();
        let saved = tokio::task::spawn_blocking(move || s.save_now(now_ms()))
            .await
            .map_err(|e| e.to_string())?;
        if saved.is_err() {
            return Err(format!(
                "the final snapshot to {} failed; the previous file is kept",
                shared.persist.path.display()
            ));
        }
    }
    Ok(())
}
