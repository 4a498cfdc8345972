//! The server around the engine: listeners, the accept loop with its
//! connection limits, background housekeeping, the HTTP health endpoint,
//! and shutdown. It builds the engine and the command runtime, and is the
//! [`Host`] commands reach for SHUTDOWN.

pub mod cluster_bus;
pub mod connection;
pub mod from_master;
pub mod http;
pub mod tls;
pub mod to_replica;

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::command::{CommandTable, Host, Runtime, ShutdownSave};
use crate::config::{Settings, P};
use crate::engine::store::expire::ExpireCycle;
use crate::engine::store::now_ms;
use crate::engine::Engine;
use crate::errors;

/// Shutdown requests: the signal every task watches, and what SHUTDOWN
/// asked for about the final snapshot.
pub struct Lifecycle {
    shutdown: watch::Sender<bool>,
    mode: Mutex<ShutdownSave>,
    /// Woken when REPLICAOF asks for a link to a (new) master.
    follow: tokio::sync::Notify,
    /// The plaintext listeners: address and the switch that stops its
    /// accept loop; new ones go to the task that starts accept loops.
    plain: Mutex<Vec<(SocketAddr, watch::Sender<bool>)>>,
    new_listeners:
        tokio::sync::mpsc::UnboundedSender<(std::net::TcpListener, watch::Receiver<bool>)>,
}

impl Host for Lifecycle {
    fn shutdown(&self, mode: ShutdownSave) {
        *self.mode.lock() = mode;
        self.shutdown.send_replace(true);
    }

    fn follow_master(&self) {
        self.follow.notify_one();
    }

    fn rebind(&self, port: u16, ips: &[std::net::IpAddr]) -> Result<(), String> {
        let wanted: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        let mut plain = self.plain.lock();
        // Bind every new address first: on any failure nothing changes.
        let mut bound = Vec::new();
        for addr in &wanted {
            if port != 0 && !plain.iter().any(|(a, _)| a == addr) {
                bound.push(bind(*addr, "")?);
            }
        }
        // Stop the listeners no longer wanted.
        plain.retain(|(addr, stop)| {
            let keep = port != 0 && wanted.contains(addr);
            if !keep {
                stop.send_replace(true);
                tracing::info!("stopped listening on {addr}");
            }
            keep
        });
        for l in bound {
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            let (stop, stopped) = watch::channel(false);
            plain.push((addr, stop));
            tracing::info!("listening on {addr}");
            let _ = self.new_listeners.send((l, stopped));
        }
        Ok(())
    }
}

/// State shared by the accept loops, connections and background tasks.
pub struct Server {
    pub rt: Arc<Runtime>,
    lifecycle: Arc<Lifecycle>,
    /// Token bucket for `connection-rate-limit` (tokens, last refill).
    accept_tokens: Mutex<(f64, Instant)>,
}

impl Server {
    pub fn engine(&self) -> &Arc<Engine> {
        &self.rt.engine
    }

    pub fn settings(&self) -> &Settings {
        &self.rt.engine.settings
    }

    /// How long a TLS handshake may take.
    pub fn handshake_deadline(&self) -> Duration {
        Duration::from_secs(self.settings().uint(P::RequestTimeout).clamp(1, 10))
    }

    /// Takes a token for a new connection; false when the rate limit is exceeded.
    fn admit_rate(&self) -> bool {
        let rate = self.settings().uint(P::ConnectionRateLimit) as f64;
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

    pub fn request_shutdown(&self) {
        self.lifecycle.shutdown.send_replace(true);
    }

    pub fn shutting_down(&self) -> bool {
        *self.lifecycle.shutdown.borrow()
    }

    /// Ready to serve: the snapshot (if any) has loaded, listeners are up,
    /// and no shutdown has begun.
    pub fn ready(&self) -> bool {
        !self.engine().persist.is_loading() && !self.shutting_down()
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.lifecycle.shutdown.subscribe()
    }
}

/// A running server: its shared state and the addresses it listens on.
pub struct Running {
    pub server: Arc<Server>,
    pub addrs: Vec<SocketAddr>,
}

/// Binds the configured listeners and starts the server on them.
pub async fn start(settings: Arc<Settings>) -> Result<Running, String> {
    let mut plain = Vec::new();
    let ips = settings.bind_addrs()?;
    let fd = settings.int(P::ListenFd);
    if fd >= 0 {
        use std::os::fd::FromRawFd;
        // SAFETY: the descriptor was handed to this process (inherited from
        // its parent) to serve on; nothing else in the process owns it.
        let l = unsafe { std::net::TcpListener::from_raw_fd(fd as i32) };
        let port = l
            .local_addr()
            .map_err(|e| format!("--listen-fd {fd}: not a listening socket: {e}"))?
            .port();
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        settings.set(P::Port, &port.to_string())?;
        plain.push(l);
    } else if settings.int(P::Port) != 0 {
        for ip in &ips {
            plain.push(bind(
                SocketAddr::new(*ip, settings.int(P::Port) as u16),
                "",
            )?);
        }
    }
    start_on(settings, plain).await
}

fn bind(addr: SocketAddr, what: &str) -> Result<std::net::TcpListener, String> {
    let l = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("cannot listen on {addr}{what}: {e}"))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    Ok(l)
}

/// Starts the server on already-bound plaintext listeners (tests bind
/// `127.0.0.1:0` and pass the listener in); TLS and health listeners are
/// bound from the settings.
pub async fn start_on(
    settings: Arc<Settings>,
    plain: Vec<std::net::TcpListener>,
) -> Result<Running, String> {
    let tls = if settings.flag(P::TlsEnabled) {
        Some(TlsAcceptor::from(tls::server_config(&settings)?))
    } else {
        None
    };
    let mut engine = Engine::new(settings.clone(), CommandTable::get().all().len());
    if settings.flag(P::ClusterEnabled) {
        // The client port others are told about: the first plaintext
        // listener's (tests bind port 0).
        let port = match plain.first().map(|l| l.local_addr()) {
            Some(Ok(addr)) => addr.port(),
            _ => settings.int(P::Port) as u16,
        };
        let cport = match settings.int(P::ClusterPort) {
            0 => port.checked_add(10000).ok_or(
                "port number too high for cluster mode: the cluster bus port is port + 10000, \
                 so the port must be 55535 or less (or set cluster-port)",
            )?,
            p => p as u16,
        };
        let path = std::path::PathBuf::from(&*settings.text(P::ClusterConfigFile));
        engine.cluster = Some(crate::engine::cluster::Cluster::open(path, port, cport)?);
    }
    let engine = Arc::new(engine);
    let (new_listeners, mut listener_rx) = tokio::sync::mpsc::unbounded_channel();
    let lifecycle = Arc::new(Lifecycle {
        shutdown: watch::channel(false).0,
        mode: Mutex::new(ShutdownSave::Default),
        follow: tokio::sync::Notify::new(),
        plain: Mutex::new(Vec::new()),
        new_listeners,
    });
    let rt = Arc::new(Runtime::new(engine.clone(), lifecycle.clone()));
    let server = Arc::new(Server {
        rt,
        lifecycle,
        accept_tokens: Mutex::new((settings.uint(P::ConnectionRateLimit) as f64, Instant::now())),
    });
    if engine.persist.enabled {
        crate::engine::persist::snapshot::remove_stale_temp_files(&engine.persist.path);
        engine.persist.loading.store(true, Relaxed);
    }
    let ips = settings.bind_addrs()?;
    let mut addrs = Vec::new();
    let mut listeners: Vec<(std::net::TcpListener, Option<TlsAcceptor>)> =
        plain.into_iter().map(|l| (l, None)).collect();
    if let Some(acceptor) = tls {
        for ip in &ips {
            let addr = SocketAddr::new(*ip, settings.int(P::TlsPort) as u16);
            listeners.push((bind(addr, " (tls-port)")?, Some(acceptor.clone())));
        }
    }
    for (l, tls) in listeners {
        let listener = TcpListener::from_std(l).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        addrs.push(addr);
        // Plaintext listeners can be moved by CONFIG SET port/bind.
        let (stop, stopped) = watch::channel(false);
        if tls.is_none() {
            server.lifecycle.plain.lock().push((addr, stop));
        }
        tokio::spawn(accept_loop(listener, server.clone(), tls, stopped));
    }
    {
        let server = server.clone();
        tokio::spawn(async move {
            while let Some((l, stopped)) = listener_rx.recv().await {
                match TcpListener::from_std(l) {
                    Ok(listener) => {
                        tokio::spawn(accept_loop(listener, server.clone(), None, stopped));
                    }
                    Err(e) => tracing::warn!("cannot serve a new listener: {e}"),
                }
            }
        });
    }
    if let Some(cluster) = engine.cluster.as_ref() {
        let cport = cluster.read().myself().cport;
        let (eng, lifecycle) = (engine.clone(), server.lifecycle.clone());
        let follow: cluster_bus::Follow = Box::new(move |host, port| {
            let mut role = eng.role.lock();
            if role.master.as_ref() != Some(&(host.clone(), port)) {
                crate::command::replication::follow(&eng, &mut role, host, port);
                lifecycle.follow.notify_one();
            }
        });
        let eng = engine.clone();
        let promote: cluster_bus::Promote = Box::new(move || {
            crate::command::replication::promote(&eng);
        });
        cluster_bus::start(
            engine.clone(),
            &ips,
            cport,
            server.lifecycle.shutdown.subscribe(),
            follow,
            promote,
        )?;
    }
    let health = settings.int(P::HealthCheckPort);
    if health != 0 {
        for ip in &ips {
            let l = bind(SocketAddr::new(*ip, health as u16), " (health_check_port)")?;
            let listener = TcpListener::from_std(l).map_err(|e| e.to_string())?;
            addrs.push(listener.local_addr().map_err(|e| e.to_string())?);
            tokio::spawn(http::serve(listener, server.clone()));
        }
    }
    if engine.persist.enabled {
        // Clients may connect while the snapshot loads: INFO answers with
        // loading:1 and other commands with LOADING.
        let loader = engine.clone();
        let loaded = tokio::task::spawn_blocking(move || loader.load_snapshot())
            .await
            .map_err(|e| e.to_string())??;
        if loaded > 0 {
            tracing::info!(
                "loaded {loaded} keys from {}",
                engine.persist.path.display()
            );
        }
        engine.persist.loading.store(false, Relaxed);
    }
    tokio::spawn(housekeeping(server.clone()));
    tokio::spawn(replication_links(server.clone()));
    // A cluster replica (nodes.conf) follows its master's address.
    let cluster_master = engine.cluster.as_ref().and_then(|c| {
        let topo = c.read();
        topo.my_master()
            .map(|m| format!("{} {}", topo.nodes[m].ip, topo.nodes[m].port))
    });
    let master = cluster_master.unwrap_or_else(|| settings.text(P::Replicaof).to_string());
    if !master.trim().is_empty() {
        let mut words = master.split_whitespace();
        let (Some(host), Some(port), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("replicaof: expected 'host port', got '{master}'"));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("replicaof: invalid master port '{port}'"))?;
        {
            let mut role = engine.role.lock();
            crate::command::replication::follow(&engine, &mut role, host.to_string(), port);
        }
        server.lifecycle.follow.notify_one();
    }
    Ok(Running { server, addrs })
}

/// Starts a link task each time REPLICAOF (or the `replicaof` setting)
/// names a master; a link whose role generation is stale stops itself.
async fn replication_links(server: Arc<Server>) {
    let mut stop = server.shutdown_signal();
    loop {
        tokio::select! {
            _ = server.lifecycle.follow.notified() => from_master::spawn(server.clone()),
            _ = stop.changed() => return,
        }
    }
}

/// Handshakes in progress at once; more wait (and their deadline runs).
const MAX_CONCURRENT_HANDSHAKES: usize = 256;

/// Accepts clients until shutdown. Errors (EMFILE, resets) are logged and
/// the loop keeps going after a short pause.
async fn accept_loop(
    listener: TcpListener,
    server: Arc<Server>,
    tls: Option<TlsAcceptor>,
    mut moved: watch::Receiver<bool>,
) {
    let mut stop = server.shutdown_signal();
    let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    let mut last_warning: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.changed() => return,
            // CONFIG SET port/bind moved this listener away.
            Ok(()) = moved.changed() => return,
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
        let stats = &server.engine().stats;
        stats.connections_received.fetch_add(1, Relaxed);
        if !server.admit_rate() {
            // Refused at once: no task, no buffers, nothing to hold.
            stats.rejected_connections.fetch_add(1, Relaxed);
            stats.rate_limited_connections.fetch_add(1, Relaxed);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let laddr = stream.local_addr().unwrap_or(peer);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
        match &tls {
            None => admit(stream, peer, laddr, fd, &server),
            Some(acceptor) => {
                // The handshake runs before the client takes a slot, under a
                // deadline, so silent or plaintext peers hold nothing.
                let (acceptor, server, handshakes) =
                    (acceptor.clone(), server.clone(), handshakes.clone());
                tokio::spawn(async move {
                    let deadline = server.handshake_deadline();
                    let handshake = async {
                        let _permit = handshakes.acquire().await;
                        acceptor.accept(stream).await
                    };
                    match tokio::time::timeout(deadline, handshake).await {
                        Ok(Ok(tls_stream)) => admit(tls_stream, peer, laddr, fd, &server),
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
fn admit<S>(mut stream: S, peer: SocketAddr, laddr: SocketAddr, fd: i64, server: &Arc<Server>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let eng = server.engine();
    let max = server.settings().uint(P::Maxclients) as usize;
    if eng.stats.connected_clients.load(Relaxed) >= max {
        eng.stats.rejected_connections.fetch_add(1, Relaxed);
        tokio::spawn(async move {
            let msg = format!("-{}\r\n", errors::MAX_CLIENTS);
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(msg.as_bytes()))
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        });
        return;
    }
    eng.stats.connected_clients.fetch_add(1, Relaxed);
    let handle = eng.clients.register(peer, laddr, now_ms());
    handle.fd.store(fd, Relaxed);
    let server = server.clone();
    tokio::spawn(async move {
        let id = handle.id;
        connection::serve(server.clone(), stream, handle).await;
        let eng = server.engine();
        eng.clients.unregister(id);
        eng.stats.connected_clients.fetch_sub(1, Relaxed);
    });
}

/// Background work every 100 ms (see [`Engine::tick`]), and the PING a
/// master feeds its replicas every `repl-ping-replica-period`.
async fn housekeeping(server: Arc<Server>) {
    let mut cycle = ExpireCycle::default();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = server.shutdown_signal();
    let mut last_ping = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let eng = server.engine();
        eng.tick(&mut cycle);
        // XREADGROUP clients blocked on streams that just expired.
        crate::command::signal_expired_streams(eng);
        if eng.blocking.has_ready() {
            crate::command::blocking::serve(&server.rt, &mut None, now_ms());
        }
        let period = Duration::from_secs(eng.settings.uint(P::ReplPingReplicaPeriod));
        if last_ping.elapsed() >= period {
            last_ping = Instant::now();
            let feed = &eng.dbs.shared().feed;
            if feed.is_active() && !feed.replicas().is_empty() {
                // Inside a unit, so the PING is ordered with the writes.
                let _ = eng.with_unit(now_ms(), |_| feed.ping());
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
pub async fn run(settings: Arc<Settings>) -> Result<(), String> {
    // Signal handlers first, so a SIGTERM right after READY is a graceful stop.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    raise_fd_limit(settings.uint(P::Maxclients) as usize);
    let running = start(settings.clone()).await?;
    let ports: Vec<String> = running.addrs.iter().map(|a| a.to_string()).collect();
    tracing::info!(
        "Redistill {} ready: listening on {}, {} shards, maxmemory {} ({}), maxclients {}, config {}",
        env!("CARGO_PKG_VERSION"),
        ports.join(", "),
        settings.int(P::Shards),
        settings.uint(P::Maxmemory),
        settings.policy().name(),
        settings.int(P::Maxclients),
        settings
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(built-in defaults)".into()),
    );
    let public = settings
        .bind_addrs()
        .is_ok_and(|ips| ips.iter().any(|ip| !ip.is_loopback()));
    if settings.text(P::Requirepass).is_empty() && public {
        tracing::warn!(
            "listening on a non-loopback address without a password: anyone who can reach it can read and write all data; set [security] password or --requirepass"
        );
    }
    notify_systemd("READY=1");
    let server = running.server;
    let mut stop = server.shutdown_signal();
    tokio::select! {
        _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        _ = stop.changed() => tracing::info!("SHUTDOWN command received, shutting down"),
    }
    server.request_shutdown();
    notify_systemd("STOPPING=1");
    let eng = server.engine().clone();
    eng.stats.sample();
    // Drain and save, unless a second signal says to stop at once.
    tokio::select! {
        r = drain_and_save(&server) => r?,
        _ = int.recv() => return Err(exit_now(&eng).await),
        _ = term.recv() => return Err(exit_now(&eng).await),
    }
    let (keys, snap_stats) = eng
        .with_unit(now_ms(), |u| {
            let snap = eng.snapshot(u);
            (snap.keys(), snap.keyspace)
        })
        .unwrap_or_default();
    tracing::info!(
        "Redistill stopped after {}s: {} connections received, {} commands processed, {} keys, {} evicted, {} expired",
        eng.started.elapsed().as_secs(),
        eng.stats.connections_received.load(Relaxed),
        eng.stats.commands_processed.load(Relaxed),
        keys,
        snap_stats.evicted,
        snap_stats.expired,
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
async fn exit_now(eng: &Engine) -> String {
    eng.abort_snapshots();
    // A snapshot being written stops at its next shard and removes its temp file.
    let deadline = Instant::now() + Duration::from_secs(2);
    while eng.persist.in_progress.load(Relaxed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    crate::engine::persist::snapshot::remove_stale_temp_files(&eng.persist.path);
    "second signal received: exiting at once".to_string()
}

/// Lets connected clients finish what they sent (bounded by the drain
/// time), then writes the final snapshot when configured.
async fn drain_and_save(server: &Arc<Server>) -> Result<(), String> {
    let eng = server.engine().clone();
    let drain = Duration::from_secs(eng.settings.uint(P::ShutdownTimeout));
    let deadline = Instant::now() + drain;
    while eng.stats.connected_clients.load(Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let left = eng.stats.connected_clients.load(Relaxed);
    if left > 0 {
        tracing::warn!(
            "{left} clients still connected after the {}s drain time",
            drain.as_secs()
        );
    }
    let on_shutdown = eng.settings.flag(P::SaveOnShutdown);
    let save = match *server.lifecycle.mode.lock() {
        ShutdownSave::Default => eng.persist.enabled && on_shutdown,
        ShutdownSave::Skip => false,
        // SHUTDOWN SAVE writes the snapshot file even with periodic
        // snapshots off, as redis-server does with `save ""`.
        ShutdownSave::Force => true,
    };
    if save {
        // Wait for a running BGSAVE, then write the final image.
        while eng.persist.in_progress.load(Relaxed) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let e = eng.clone();
        let saved = tokio::task::spawn_blocking(move || {
            e.with_exclusive_unit(now_ms(), |unit| e.save(unit).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|e| e.to_string())?;
        if !saved {
            return Err(format!(
                "the final snapshot to {} failed; the previous file is kept",
                eng.persist.path.display()
            ));
        }
    }
    Ok(())
}
