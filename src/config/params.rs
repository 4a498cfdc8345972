//! The parameter table: the one place a configuration parameter is defined.
//!
//! Each row gives the redis.conf name (also the flag `--name` and the
//! CONFIG GET/SET name), its aliases, its key in the TOML file, how its
//! value is parsed and checked, its default, whether CONFIG SET may change
//! it at run time, and one line of documentation. The TOML loader, the
//! flag parser, `--help`, CONFIG GET/SET and `docs/configuration.md` all
//! read this table; nothing restates a range or a default elsewhere.

/// How a parameter's text is parsed and checked.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A signed integer within `min..=max`.
    Int { min: i64, max: i64 },
    /// A byte size (`1000`, `512mb`, `2gb`) within `min..=max`.
    Memory { min: u64, max: u64 },
    /// `yes` or `no` (TOML `true`/`false`).
    Bool,
    /// One of the listed words (case-insensitive); stored as its index.
    Enum(&'static [&'static str]),
    /// A byte size, or a percentage of `maxmemory` (`10%`, kept as -10).
    MemoryOrPercent,
    /// Free text.
    Text,
    /// Space-separated words, checked and normalised by the parameter's
    /// own function (the error it returns is Redis's).
    List(fn(&str) -> Result<String, String>),
}

impl Kind {
    /// True for kinds whose value is kept as an integer.
    pub fn is_numeric(self) -> bool {
        !matches!(self, Kind::Text | Kind::List(_))
    }
}

/// One configuration parameter.
pub struct Param {
    pub id: P,
    /// The redis.conf / CONFIG name, also the flag `--<name>`.
    pub name: &'static str,
    /// Other names CONFIG GET/SET and flags accept.
    pub aliases: &'static [&'static str],
    /// `section.key` in the TOML file, or "" when only flags and CONFIG set it.
    pub toml: &'static str,
    pub kind: Kind,
    pub default: &'static str,
    /// CONFIG SET may change it while running.
    pub mutable: bool,
    pub doc: &'static str,
}

/// Eviction policies, in the order of the `maxmemory-policy` enum.
pub const POLICIES: &[&str] = &[
    "allkeys-lru",
    "allkeys-random",
    "allkeys-s3fifo",
    "noeviction",
];
pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];

const I32: i64 = i32::MAX as i64;

/// The documentation of parameters kept only for redis.conf compatibility.
pub const NO_EFFECT: &str =
    "Accepted, checked and shown as redis-server 7.0 does; no effect in Redistill.";
const MB: u64 = 1 << 20;

macro_rules! params {
    ($($id:ident, $name:literal, $aliases:expr, $toml:literal, $kind:expr, $default:literal, $mutable:literal, $doc:expr;)*) => {
        /// Parameter ids, in table order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum P { $($id,)* }

        /// How many parameters the table has.
        pub const COUNT: usize = [$(P::$id),*].len();

        pub static PARAMS: &[Param] = &[
            $(Param { id: P::$id, name: $name, aliases: $aliases, toml: $toml, kind: $kind,
                      default: $default, mutable: $mutable, doc: $doc },)*
        ];
    };
}

use Kind::*;

params! {
    Bind, "bind", &[], "server.bind", List(words), "127.0.0.1", true,
        "Addresses to listen on, space separated.";
    Port, "port", &[], "server.port", Int { min: 0, max: 65535 }, "6379", true,
        "Plaintext RESP port; 0 = no plaintext listener.";
    ListenFd, "listen-fd", &[], "", Int { min: -1, max: I32 }, "-1", false,
        "Serve the plaintext port on this inherited, already listening socket instead of binding bind:port (-1 = bind).";
    Shards, "shards", &["num-shards"], "server.num_shards", Int { min: 256, max: 65536 }, "2048", false,
        "Keyspace shards per database: a power of two from 256 to 65536.";
    Threads, "threads", &[], "server.threads", Int { min: 0, max: 1024 }, "0", false,
        "Worker threads; 0 = one fewer than the CPU cores, at least 1.";
    Maxclients, "maxclients", &[], "server.max_connections", Int { min: 1, max: 1_000_000 }, "10000", true,
        "Most clients connected at once.";
    Timeout, "timeout", &[], "server.connection_timeout", Int { min: 0, max: I32 }, "0", true,
        "Close clients idle this many seconds; 0 = never.";
    ConnectionRateLimit, "connection-rate-limit", &[], "server.connection_rate_limit", Int { min: 0, max: i64::MAX }, "0", true,
        "New connections accepted per second; 0 = unlimited.";
    HealthCheckPort, "health-check-port", &[], "server.health_check_port", Int { min: 0, max: 65535 }, "0", false,
        "HTTP port for /health, /health/live, /health/ready and /metrics; 0 = off.";
    RequestTimeout, "request-timeout", &[], "server.request_timeout", Int { min: 1, max: 86400 }, "30", false,
        "Seconds a client has to finish a request once its first byte arrived (a third of it before AUTH).";
    ClientQueryBufferLimit, "client-query-buffer-limit", &[], "server.client_query_buffer_limit", Memory { min: MB, max: u64::MAX }, "1gb", true,
        "Largest request a client may have pending (at least 1mb).";
    ShutdownTimeout, "shutdown-timeout", &[], "server.shutdown_timeout", Int { min: 0, max: 3600 }, "10", true,
        "Seconds to let clients finish on shutdown before closing them.";
    Loglevel, "loglevel", &[], "server.loglevel", Enum(LOGLEVELS), "notice", false,
        "Log level: debug, verbose, notice or warning.";
    Requirepass, "requirepass", &[], "security.password", Text, "", true,
        "Password for AUTH; empty = no authentication (also REDIS_PASSWORD).";
    TlsEnabled, "tls-enabled", &[], "security.tls_enabled", Bool, "no", false,
        "Serve TLS on tls-port beside the plaintext port (setting --tls-port turns it on).";
    TlsPort, "tls-port", &[], "security.tls_port", Int { min: 0, max: 65535 }, "6380", false,
        "TLS port.";
    TlsCertFile, "tls-cert-file", &[], "security.tls_cert_path", Text, "", false,
        "PEM certificate chain for TLS.";
    TlsKeyFile, "tls-key-file", &[], "security.tls_key_path", Text, "", false,
        "PEM private key for TLS (PKCS#8, PKCS#1 or SEC1).";
    TlsCaCertFile, "tls-ca-cert-file", &[], "security.tls_ca_cert_path", Text, "", false,
        "PEM CA; when set, clients must present a certificate it signed.";
    Maxmemory, "maxmemory", &[], "memory.max_memory", Memory { min: 0, max: u64::MAX }, "0", true,
        "Memory limit for the dataset, e.g. 512mb or 2gb; 0 = unlimited.";
    MaxmemoryPolicy, "maxmemory-policy", &[], "memory.eviction_policy", Enum(POLICIES), "allkeys-lru", true,
        "Eviction policy: allkeys-lru, allkeys-random, allkeys-s3fifo or noeviction.";
    MaxmemorySamples, "maxmemory-samples", &[], "memory.maxmemory_samples", Int { min: 1, max: I32 }, "5", true,
        "Keys sampled per LRU eviction.";
    MaxmemoryClients, "maxmemory-clients", &[], "memory.maxmemory_clients", MemoryOrPercent, "0", true,
        "Memory all clients together may use for their buffers (bytes, or a percentage of maxmemory like 10%); past it the clients using the most are disconnected (CLIENT NO-EVICT, replicas and masters are spared); 0 = no limit.";
    Persistence, "persistence", &[], "persistence.enabled", Bool, "no", false,
        "Load the snapshot at start, take periodic snapshots and one on shutdown.";
    Dbfilename, "dbfilename", &[], "persistence.snapshot_path", Text, "redistill.rdb", false,
        "Snapshot file (RDB format).";
    SnapshotInterval, "snapshot-interval", &[], "persistence.snapshot_interval", Int { min: 0, max: i64::MAX }, "300", true,
        "Seconds between automatic snapshots, taken only when something changed; 0 = none.";
    SaveOnShutdown, "save-on-shutdown", &[], "persistence.save_on_shutdown", Bool, "yes", true,
        "Write a final snapshot on SIGTERM, SIGINT and SHUTDOWN.";
    StopWritesOnBgsaveError, "stop-writes-on-bgsave-error", &[], "persistence.stop_writes_on_error", Bool, "yes", true,
        "While snapshots are configured (persistence or save points) and the last one failed, refuse writes and PING with MISCONF until one succeeds.";
    SlowlogLogSlowerThan, "slowlog-log-slower-than", &[], "", Int { min: -1, max: i64::MAX }, "10000", true,
        "Commands slower than this many microseconds enter the slow log; -1 = off.";
    SlowlogMaxLen, "slowlog-max-len", &[], "", Int { min: 0, max: i64::MAX }, "128", true,
        "Entries kept in the slow log.";
    HashMaxListpackEntries, "hash-max-listpack-entries", &["hash-max-ziplist-entries"], "", Int { min: 0, max: i64::MAX }, "128", true,
        "Hashes with at most this many fields use the compact encoding.";
    HashMaxListpackValue, "hash-max-listpack-value", &["hash-max-ziplist-value"], "", Memory { min: 0, max: i64::MAX as u64 }, "64", true,
        "Hashes whose fields and values are at most this long use the compact encoding.";
    ListMaxListpackSize, "list-max-listpack-size", &["list-max-ziplist-size"], "", Int { min: -(I32 + 1), max: I32 }, "-2", true,
        "Largest packed list node: -1..-5 cap it at 4/8/16/32/64 KB, a positive value at that many elements.";
    SetMaxIntsetEntries, "set-max-intset-entries", &[], "", Int { min: 0, max: i64::MAX }, "512", true,
        "Sets of at most this many integers use the compact integer encoding.";
    ZsetMaxListpackEntries, "zset-max-listpack-entries", &["zset-max-ziplist-entries"], "", Int { min: 0, max: i64::MAX }, "128", true,
        "Sorted sets with at most this many members use the compact encoding.";
    ZsetMaxListpackValue, "zset-max-listpack-value", &["zset-max-ziplist-value"], "", Memory { min: 0, max: i64::MAX as u64 }, "64", true,
        "Sorted sets whose members are at most this long use the compact encoding.";
    BusyReplyThreshold, "busy-reply-threshold", &["lua-time-limit"], "", Int { min: 0, max: i64::MAX }, "5000", true,
        "Milliseconds a script may run before other clients get BUSY and SCRIPT KILL may stop it; 0 = never.";
    Databases, "databases", &[], "server.databases", Int { min: 1, max: 65536 }, "16", false,
        "Number of logical databases (SELECT 0 to databases-1). A database's shards are allocated when it is first used.";
    Replicaof, "replicaof", &["slaveof"], "replication.replicaof", Text, "", false,
        "`host port` of a master to follow at start (REPLICAOF changes it at run time).";
    Masterauth, "masterauth", &[], "replication.masterauth", Text, "", true,
        "Password this server sends (AUTH) when it connects to its master.";
    Masteruser, "masteruser", &[], "replication.masteruser", Text, "", false,
        "User name sent with masterauth (AUTH user password).";
    ReplicaReadOnly, "replica-read-only", &["slave-read-only"], "replication.read_only", Bool, "yes", true,
        "A replica refuses writes from clients (READONLY).";
    ReplBacklogSize, "repl-backlog-size", &[], "replication.backlog_size", Memory { min: 16384, max: 1 << 40 }, "1mb", true,
        "Stream bytes kept so a replica that lost its link resumes without a full sync.";
    ReplPingReplicaPeriod, "repl-ping-replica-period", &["repl-ping-slave-period"], "", Int { min: 1, max: I32 }, "10", false,
        "Seconds between the PINGs a master feeds its replicas.";
    ReplTimeout, "repl-timeout", &[], "", Int { min: 1, max: I32 }, "60", false,
        "Seconds of silence after which a replication link is dropped.";
    MinReplicasToWrite, "min-replicas-to-write", &["min-slaves-to-write"], "replication.min_replicas_to_write", Int { min: 0, max: I32 }, "0", true,
        "Refuse writes (NOREPLICAS) unless this many replicas acknowledged within min-replicas-max-lag; 0 = off.";
    MinReplicasMaxLag, "min-replicas-max-lag", &["min-slaves-max-lag"], "replication.min_replicas_max_lag", Int { min: 0, max: I32 }, "10", true,
        "Seconds since its last acknowledgement within which a replica counts for min-replicas-to-write.";
    ReplicaPriority, "replica-priority", &["slave-priority"], "replication.priority", Int { min: 0, max: I32 }, "100", true,
        "Sentinel promotes the replica with the lowest priority first; 0 = never.";
    ReplicaAnnounceIp, "replica-announce-ip", &["slave-announce-ip"], "", Text, "", false,
        "Address this replica announces to its master (REPLCONF ip-address).";
    ReplicaAnnouncePort, "replica-announce-port", &["slave-announce-port"], "", Int { min: 0, max: 65535 }, "0", false,
        "Port this replica announces to its master (0: its own port).";
    NotifyKeyspaceEvents, "notify-keyspace-events", &[], "", Text, "", true,
        "Keyspace notification classes published over Pub/Sub (K, E, g, $, l, s, h, z, x, e, t, m, d, n, A); empty = off.";
    TrackingTableMaxKeys, "tracking-table-max-keys", &[], "", Int { min: 0, max: i64::MAX }, "1000000", true,
        "Most keys the client-side caching table remembers; past it the oldest are invalidated; 0 = no limit.";
    ClientOutputBufferLimit, "client-output-buffer-limit", &[], "", List(check_output_limits), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", true,
        "Per client class (normal, slave/replica, pubsub): `hard soft soft_seconds`; a client past hard, or past soft for soft_seconds, is disconnected. Setting one class keeps the others. The normal class also has Redistill's own 64 MB cap on pending replies.";
    Save, "save", &[], "persistence.save", List(check_save), "", true,
        "Redis's save points, `seconds changes` pairs: a snapshot is written when at least `changes` writes happened and `seconds` passed since the last one (also with persistence off); empty = none.";
    Appendonly, "appendonly", &[], "", Bool, "no", true,
        "Append-only file: only `no` (Redistill persists with snapshots).";
    Dir, "dir", &[], "", Text, "", false,
        "Working directory.";
    Hz, "hz", &[], "", Int { min: 10, max: 10 }, "10", false,
        "Background task frequency.";
    TcpKeepalive, "tcp-keepalive", &[], "", Int { min: 0, max: I32 }, "300", false,
        "TCP keepalive interval.";
    ProtectedMode, "protected-mode", &[], "", Bool, "no", false,
        "Redis's protected mode (Redistill warns instead).";
    ProtoMaxBulkLen, "proto-max-bulk-len", &[], "", Memory { min: 536870912, max: 536870912 }, "536870912", false,
        "Largest bulk string in a request.";
    // redis.conf parameters for features Redistill does not have (AOF,
    // defragmentation, CPU lists, syslog, ...): accepted, checked and shown
    // with redis-server 7.0's defaults so tools that read or set them work.
    AclPubsubDefault, "acl-pubsub-default", &[], "", Enum(&["allchannels", "resetchannels"]), "resetchannels", true,
        NO_EFFECT;
    Aclfile, "aclfile", &[], "", Text, "", false,
        NO_EFFECT;
    AcllogMaxLen, "acllog-max-len", &[], "", Int { min: 0, max: i64::MAX }, "128", true,
        NO_EFFECT;
    ActiveDefragCycleMax, "active-defrag-cycle-max", &[], "", Int { min: 1, max: 99 }, "25", true,
        NO_EFFECT;
    ActiveDefragCycleMin, "active-defrag-cycle-min", &[], "", Int { min: 1, max: 99 }, "1", true,
        NO_EFFECT;
    ActiveDefragIgnoreBytes, "active-defrag-ignore-bytes", &[], "", Memory { min: 0, max: u64::MAX }, "104857600", true,
        NO_EFFECT;
    ActiveDefragMaxScanFields, "active-defrag-max-scan-fields", &[], "", Int { min: 1, max: i64::MAX }, "1000", true,
        NO_EFFECT;
    ActiveDefragThresholdLower, "active-defrag-threshold-lower", &[], "", Int { min: 0, max: 1000 }, "10", true,
        NO_EFFECT;
    ActiveDefragThresholdUpper, "active-defrag-threshold-upper", &[], "", Int { min: 0, max: 1000 }, "100", true,
        NO_EFFECT;
    ActiveExpireEffort, "active-expire-effort", &[], "", Int { min: 1, max: 10 }, "1", true,
        NO_EFFECT;
    Activedefrag, "activedefrag", &[], "", Bool, "no", true,
        NO_EFFECT;
    Activerehashing, "activerehashing", &[], "", Bool, "yes", true,
        NO_EFFECT;
    AlwaysShowLogo, "always-show-logo", &[], "", Bool, "no", false,
        NO_EFFECT;
    AofDisableAutoGc, "aof-disable-auto-gc", &[], "", Bool, "no", true,
        NO_EFFECT;
    AofLoadTruncated, "aof-load-truncated", &[], "", Bool, "yes", true,
        NO_EFFECT;
    AofRewriteIncrementalFsync, "aof-rewrite-incremental-fsync", &[], "", Bool, "yes", true,
        NO_EFFECT;
    AofTimestampEnabled, "aof-timestamp-enabled", &[], "", Bool, "no", true,
        NO_EFFECT;
    AofUseRdbPreamble, "aof-use-rdb-preamble", &[], "", Bool, "yes", true,
        NO_EFFECT;
    AofRewriteCpulist, "aof_rewrite_cpulist", &[], "", Text, "", false,
        NO_EFFECT;
    Appenddirname, "appenddirname", &[], "", Text, "appendonlydir", false,
        NO_EFFECT;
    Appendfilename, "appendfilename", &[], "", Text, "appendonly.aof", false,
        NO_EFFECT;
    Appendfsync, "appendfsync", &[], "", Enum(&["everysec", "always", "no"]), "everysec", true,
        NO_EFFECT;
    AutoAofRewriteMinSize, "auto-aof-rewrite-min-size", &[], "", Memory { min: 0, max: u64::MAX }, "67108864", true,
        NO_EFFECT;
    AutoAofRewritePercentage, "auto-aof-rewrite-percentage", &[], "", Int { min: 0, max: I32 }, "100", true,
        NO_EFFECT;
    BgsaveCpulist, "bgsave_cpulist", &[], "", Text, "", false,
        NO_EFFECT;
    BindSourceAddr, "bind-source-addr", &[], "", Text, "", true,
        NO_EFFECT;
    BioCpulist, "bio_cpulist", &[], "", Text, "", false,
        NO_EFFECT;
    ClusterAllowPubsubshardWhenDown, "cluster-allow-pubsubshard-when-down", &[], "", Bool, "yes", true,
        NO_EFFECT;
    ClusterAllowReadsWhenDown, "cluster-allow-reads-when-down", &[], "", Bool, "no", true,
        NO_EFFECT;
    ClusterAllowReplicaMigration, "cluster-allow-replica-migration", &[], "", Bool, "yes", true,
        NO_EFFECT;
    ClusterAnnounceBusPort, "cluster-announce-bus-port", &[], "", Int { min: 0, max: 65535 }, "0", true,
        NO_EFFECT;
    ClusterAnnounceHostname, "cluster-announce-hostname", &[], "", List(check_hostname), "", true,
        NO_EFFECT;
    ClusterAnnounceIp, "cluster-announce-ip", &[], "", Text, "", true,
        NO_EFFECT;
    ClusterAnnouncePort, "cluster-announce-port", &[], "", Int { min: 0, max: 65535 }, "0", true,
        NO_EFFECT;
    ClusterAnnounceTlsPort, "cluster-announce-tls-port", &[], "", Int { min: 0, max: 65535 }, "0", true,
        NO_EFFECT;
    ClusterConfigFile, "cluster-config-file", &[], "cluster.config_file", Text, "nodes.conf", false,
        "Cluster mode: the file keeping this node's id and its view of the cluster (Redis's nodes.conf format), written on every change.";
    ClusterEnabled, "cluster-enabled", &[], "cluster.enabled", Bool, "no", false,
        "Redis Cluster mode: the node serves the hash slots assigned to it and redirects the others (MOVED/ASK); see docs/scaling.md.";
    ClusterLinkSendbufLimit, "cluster-link-sendbuf-limit", &[], "", Memory { min: 0, max: u64::MAX }, "0", true,
        NO_EFFECT;
    ClusterMigrationBarrier, "cluster-migration-barrier", &[], "", Int { min: 0, max: I32 }, "1", true,
        NO_EFFECT;
    ClusterNodeTimeout, "cluster-node-timeout", &[], "cluster.node_timeout", Int { min: 0, max: i64::MAX }, "15000", true,
        "Cluster mode: milliseconds without an answer before a node is suspected failing (and the base of the failover timers).";
    ClusterPort, "cluster-port", &[], "cluster.port", Int { min: 0, max: 65535 }, "0", false,
        "Cluster mode: the bus port this node announces (0 = port + 10000).";
    ClusterPreferredEndpointType, "cluster-preferred-endpoint-type", &[], "", Enum(&["ip", "hostname", "unknown-endpoint"]), "ip", true,
        NO_EFFECT;
    ClusterReplicaNoFailover, "cluster-replica-no-failover", &["cluster-slave-no-failover"], "", Bool, "no", true,
        NO_EFFECT;
    ClusterReplicaValidityFactor, "cluster-replica-validity-factor", &["cluster-slave-validity-factor"], "", Int { min: 0, max: I32 }, "10", true,
        NO_EFFECT;
    ClusterRequireFullCoverage, "cluster-require-full-coverage", &[], "", Bool, "yes", true,
        NO_EFFECT;
    CrashLogEnabled, "crash-log-enabled", &[], "", Bool, "yes", true,
        NO_EFFECT;
    CrashMemcheckEnabled, "crash-memcheck-enabled", &[], "", Bool, "yes", true,
        NO_EFFECT;
    Daemonize, "daemonize", &[], "", Bool, "no", false,
        NO_EFFECT;
    DisableThp, "disable-thp", &[], "", Bool, "yes", false,
        NO_EFFECT;
    DynamicHz, "dynamic-hz", &[], "", Bool, "yes", true,
        NO_EFFECT;
    EnableDebugCommand, "enable-debug-command", &[], "", Bool, "no", false,
        NO_EFFECT;
    EnableModuleCommand, "enable-module-command", &[], "", Bool, "no", false,
        NO_EFFECT;
    EnableProtectedConfigs, "enable-protected-configs", &[], "", Bool, "no", false,
        NO_EFFECT;
    HllSparseMaxBytes, "hll-sparse-max-bytes", &[], "", Memory { min: 0, max: u64::MAX }, "3000", true,
        NO_EFFECT;
    IgnoreWarnings, "ignore-warnings", &[], "", Text, "", true,
        NO_EFFECT;
    IoThreads, "io-threads", &[], "", Int { min: 1, max: 128 }, "1", false,
        NO_EFFECT;
    IoThreadsDoReads, "io-threads-do-reads", &[], "", Bool, "no", false,
        NO_EFFECT;
    JemallocBgThread, "jemalloc-bg-thread", &[], "", Bool, "yes", true,
        NO_EFFECT;
    LatencyMonitorThreshold, "latency-monitor-threshold", &[], "", Int { min: 0, max: i64::MAX }, "0", true,
        NO_EFFECT;
    LatencyTracking, "latency-tracking", &[], "", Bool, "yes", true,
        NO_EFFECT;
    LatencyTrackingInfoPercentiles, "latency-tracking-info-percentiles", &[], "", List(check_percentiles), "50 99 99.9", true,
        NO_EFFECT;
    LazyfreeLazyEviction, "lazyfree-lazy-eviction", &[], "", Bool, "no", true,
        NO_EFFECT;
    LazyfreeLazyExpire, "lazyfree-lazy-expire", &[], "", Bool, "no", true,
        NO_EFFECT;
    LazyfreeLazyServerDel, "lazyfree-lazy-server-del", &[], "", Bool, "no", true,
        NO_EFFECT;
    LazyfreeLazyUserDel, "lazyfree-lazy-user-del", &[], "", Bool, "no", true,
        NO_EFFECT;
    LazyfreeLazyUserFlush, "lazyfree-lazy-user-flush", &[], "", Bool, "no", true,
        NO_EFFECT;
    LfuDecayTime, "lfu-decay-time", &[], "", Int { min: 0, max: I32 }, "1", true,
        NO_EFFECT;
    LfuLogFactor, "lfu-log-factor", &[], "", Int { min: 0, max: I32 }, "10", true,
        NO_EFFECT;
    ListCompressDepth, "list-compress-depth", &[], "", Int { min: 0, max: I32 }, "0", true,
        NO_EFFECT;
    Logfile, "logfile", &[], "", Text, "", false,
        NO_EFFECT;
    MaxmemoryEvictionTenacity, "maxmemory-eviction-tenacity", &[], "", Int { min: 0, max: 100 }, "10", true,
        NO_EFFECT;
    NoAppendfsyncOnRewrite, "no-appendfsync-on-rewrite", &[], "", Bool, "no", true,
        NO_EFFECT;
    OomScoreAdj, "oom-score-adj", &[], "", Enum(&["no", "yes", "relative", "absolute"]), "no", true,
        NO_EFFECT;
    OomScoreAdjValues, "oom-score-adj-values", &[], "", List(check_oom_values), "0 200 800", true,
        NO_EFFECT;
    Pidfile, "pidfile", &[], "", Text, "", false,
        NO_EFFECT;
    ProcTitleTemplate, "proc-title-template", &[], "", Text, "{title} {listen-addr} {server-mode}", true,
        NO_EFFECT;
    PropagationErrorBehavior, "propagation-error-behavior", &[], "", Enum(&["ignore", "panic", "panic-on-replicas"]), "ignore", true,
        NO_EFFECT;
    RdbDelSyncFiles, "rdb-del-sync-files", &[], "", Bool, "no", true,
        NO_EFFECT;
    RdbSaveIncrementalFsync, "rdb-save-incremental-fsync", &[], "", Bool, "yes", true,
        NO_EFFECT;
    Rdbchecksum, "rdbchecksum", &[], "", Bool, "yes", false,
        NO_EFFECT;
    Rdbcompression, "rdbcompression", &[], "", Bool, "yes", true,
        NO_EFFECT;
    ReplBacklogTtl, "repl-backlog-ttl", &[], "", Int { min: 0, max: i64::MAX }, "3600", true,
        NO_EFFECT;
    ReplDisableTcpNodelay, "repl-disable-tcp-nodelay", &[], "", Bool, "no", true,
        NO_EFFECT;
    ReplDisklessLoad, "repl-diskless-load", &[], "", Enum(&["disabled", "on-empty-db", "swapdb"]), "disabled", true,
        NO_EFFECT;
    ReplDisklessSync, "repl-diskless-sync", &[], "", Bool, "yes", true,
        NO_EFFECT;
    ReplDisklessSyncDelay, "repl-diskless-sync-delay", &[], "", Int { min: 0, max: I32 }, "5", true,
        NO_EFFECT;
    ReplDisklessSyncMaxReplicas, "repl-diskless-sync-max-replicas", &[], "", Int { min: 0, max: I32 }, "0", true,
        NO_EFFECT;
    ReplicaAnnounced, "replica-announced", &[], "", Bool, "yes", true,
        NO_EFFECT;
    ReplicaIgnoreDiskWriteErrors, "replica-ignore-disk-write-errors", &[], "", Bool, "no", true,
        NO_EFFECT;
    ReplicaIgnoreMaxmemory, "replica-ignore-maxmemory", &["slave-ignore-maxmemory"], "", Bool, "yes", true,
        NO_EFFECT;
    ReplicaLazyFlush, "replica-lazy-flush", &["slave-lazy-flush"], "", Bool, "no", true,
        NO_EFFECT;
    ReplicaServeStaleData, "replica-serve-stale-data", &["slave-serve-stale-data"], "", Bool, "yes", true,
        NO_EFFECT;
    SanitizeDumpPayload, "sanitize-dump-payload", &[], "", Enum(&["no", "yes", "clients"]), "no", true,
        NO_EFFECT;
    ServerCpulist, "server_cpulist", &[], "", Text, "", false,
        NO_EFFECT;
    SetProcTitle, "set-proc-title", &[], "", Bool, "yes", false,
        NO_EFFECT;
    ShutdownOnSigint, "shutdown-on-sigint", &[], "", List(check_shutdown_flags), "default", true,
        NO_EFFECT;
    ShutdownOnSigterm, "shutdown-on-sigterm", &[], "", List(check_shutdown_flags), "default", true,
        NO_EFFECT;
    SocketMarkId, "socket-mark-id", &[], "", Int { min: 0, max: i64::MAX }, "0", false,
        NO_EFFECT;
    StreamNodeMaxBytes, "stream-node-max-bytes", &[], "", Memory { min: 0, max: i64::MAX as u64 }, "4096", true,
        "Bytes of a stream node (as Redis's listpack would hold them) before a new node starts; 0: no limit but 1 GB.";
    StreamNodeMaxEntries, "stream-node-max-entries", &[], "", Int { min: 0, max: i64::MAX }, "100", true,
        "Entries (deleted ones included) of a stream node before a new node starts; 0: no limit.";
    Supervised, "supervised", &[], "", Enum(&["upstart", "systemd", "auto", "no"]), "no", false,
        NO_EFFECT;
    SyslogEnabled, "syslog-enabled", &[], "", Bool, "no", false,
        NO_EFFECT;
    SyslogFacility, "syslog-facility", &[], "", Text, "local0", false,
        NO_EFFECT;
    SyslogIdent, "syslog-ident", &[], "", Text, "redis", false,
        NO_EFFECT;
    TcpBacklog, "tcp-backlog", &[], "", Int { min: 0, max: I32 }, "511", false,
        NO_EFFECT;
    TlsAuthClients, "tls-auth-clients", &[], "", Enum(&["no", "yes", "optional"]), "yes", true,
        NO_EFFECT;
    TlsCaCertDir, "tls-ca-cert-dir", &[], "", Text, "", true,
        NO_EFFECT;
    TlsCiphers, "tls-ciphers", &[], "", Text, "", true,
        NO_EFFECT;
    TlsCiphersuites, "tls-ciphersuites", &[], "", Text, "", true,
        NO_EFFECT;
    TlsClientCertFile, "tls-client-cert-file", &[], "", Text, "", true,
        NO_EFFECT;
    TlsClientKeyFile, "tls-client-key-file", &[], "", Text, "", true,
        NO_EFFECT;
    TlsClientKeyFilePass, "tls-client-key-file-pass", &[], "", Text, "", true,
        NO_EFFECT;
    TlsCluster, "tls-cluster", &[], "", Bool, "no", true,
        NO_EFFECT;
    TlsDhParamsFile, "tls-dh-params-file", &[], "", Text, "", true,
        NO_EFFECT;
    TlsKeyFilePass, "tls-key-file-pass", &[], "", Text, "", true,
        NO_EFFECT;
    TlsPreferServerCiphers, "tls-prefer-server-ciphers", &[], "", Bool, "no", true,
        NO_EFFECT;
    TlsProtocols, "tls-protocols", &[], "", Text, "", true,
        NO_EFFECT;
    TlsReplication, "tls-replication", &[], "", Bool, "no", true,
        NO_EFFECT;
    TlsSessionCacheSize, "tls-session-cache-size", &[], "", Int { min: 0, max: I32 }, "20480", true,
        NO_EFFECT;
    TlsSessionCacheTimeout, "tls-session-cache-timeout", &[], "", Int { min: 0, max: I32 }, "300", true,
        NO_EFFECT;
    TlsSessionCaching, "tls-session-caching", &[], "", Bool, "yes", true,
        NO_EFFECT;
    Unixsocket, "unixsocket", &[], "", Text, "", false,
        NO_EFFECT;
    Unixsocketperm, "unixsocketperm", &[], "", Int { min: 0, max: i64::MAX }, "0", false,
        NO_EFFECT;
}

impl P {
    pub fn param(self) -> &'static Param {
        &PARAMS[self as usize]
    }
    pub fn name(self) -> &'static str {
        self.param().name
    }
}

/// Finds a parameter by its name or an alias (case-insensitive).
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Finds a parameter by its TOML `section.key`.
pub fn find_toml(key: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| !p.toml.is_empty() && p.toml == key)
}

/// Parses a memory size as Redis does: bytes, or a number with `k`, `kb`,
/// `m`, `mb`, `g`, `gb` (case-insensitive; `k` = 1000, `kb` = 1024).
pub fn parse_memory(s: &str) -> Option<u64> {
    let lower = s.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

/// A checked value, ready to store.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    Int(i64),
    Text(String),
}

impl Param {
    /// False for parameters kept only for compatibility ([`NO_EFFECT`]).
    pub fn has_effect(&self) -> bool {
        self.doc != NO_EFFECT
    }

    /// Parses and checks `text`; the error says what is wrong (the caller
    /// names the parameter or the key).
    pub fn parse(&self, text: &str) -> Result<Parsed, String> {
        match self.kind {
            Int { min, max } => {
                let v: i64 = text
                    .trim()
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if v < min || v > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                if self.id == P::Shards && !(v as u64).is_power_of_two() {
                    return Err(format!(
                        "{v} must be a power of two between {min} and {max}"
                    ));
                }
                Ok(Parsed::Int(v))
            }
            Memory { min, max } => {
                let v = parse_memory(text).ok_or("argument must be a memory value")?;
                if v < min || v > max {
                    return Err(if min > 0 && max == u64::MAX {
                        format!("argument must be a memory value of at least {}", human(min))
                    } else {
                        format!("argument must be between {min} and {max} inclusive")
                    });
                }
                Ok(Parsed::Int(v.min(i64::MAX as u64) as i64))
            }
            Bool => match text.to_ascii_lowercase().as_str() {
                "yes" | "true" if self.id == P::Appendonly => {
                    Err(crate::errors::APPENDONLY_UNSUPPORTED.to_string())
                }
                "yes" | "true" => Ok(Parsed::Int(1)),
                "no" | "false" => Ok(Parsed::Int(0)),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Enum(words) => words
                .iter()
                .position(|w| w.eq_ignore_ascii_case(text))
                .map(|i| Parsed::Int(i as i64))
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        words.join(", ")
                    )
                }),
            // Kept as given: the rendering CONFIG GET shows loses `n`
            // next to `A`, as Redis's does.
            MemoryOrPercent => {
                let v = match parse_memory(text) {
                    Some(bytes) => bytes.min(i64::MAX as u64) as i64,
                    None => text
                        .strip_suffix('%')
                        .filter(|d| !d.is_empty() && !d.starts_with('+'))
                        .and_then(|d| d.parse::<i64>().ok())
                        .filter(|&p| p >= 0)
                        .map(|p| -p)
                        .ok_or("argument must be a memory or percent value")?,
                };
                if v < -100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                Ok(Parsed::Int(v))
            }
            // Kept as given: the rendering CONFIG GET shows loses `n`
            // next to `A`, as Redis's does.
            Text if self.id == P::NotifyKeyspaceEvents => super::keyspace_events::parse(text)
                .map(|_| Parsed::Text(text.to_string()))
                .ok_or_else(|| super::keyspace_events::INVALID.to_string()),
            Text => Ok(Parsed::Text(text.to_string())),
            List(check) => check(text).map(Parsed::Text),
        }
    }

    /// Renders a stored integer the way CONFIG GET shows it.
    pub fn render_int(&self, v: i64) -> String {
        match self.kind {
            Bool => if v != 0 { "yes" } else { "no" }.to_string(),
            Enum(words) => words.get(v as usize).copied().unwrap_or("").to_string(),
            MemoryOrPercent if v < 0 => format!("{}%", -v),
            _ => v.to_string(),
        }
    }
}

/// Output buffer limits of one client class: hard and soft bytes, and
/// how long the soft limit may be passed (seconds); 0 = none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// The client classes of `client-output-buffer-limit`, in its order.
pub const OUTPUT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Parses `class hard soft seconds` groups (Redis's checks and errors):
/// the classes given and their limits.
pub fn output_limits(text: &str) -> Result<Vec<(usize, OutputLimit)>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    words
        .chunks(4)
        .map(|g| {
            let class = match g[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "slave" | "replica" => 1,
                "pubsub" => 2,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    )
                }
            };
            let bad = || {
                "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                    .to_string()
            };
            let hard = parse_memory(g[1]).ok_or_else(bad)?;
            let soft = parse_memory(g[2]).ok_or_else(bad)?;
            let soft_seconds = g[3].parse::<u64>().map_err(|_| bad())?;
            Ok((
                class,
                OutputLimit {
                    hard,
                    soft,
                    soft_seconds,
                },
            ))
        })
        .collect()
}

/// Redis's save points: `seconds changes` pairs of non-negative integers,
/// separated by single spaces (as Redis splits them).
pub fn save_points(text: &str) -> Option<Vec<(u64, u64)>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let words: Vec<&str> = text.split(' ').collect();
    if words.len() % 2 != 0 {
        return None;
    }
    words
        .chunks(2)
        .map(|p| Some((p[0].parse::<u64>().ok()?, p[1].parse::<u64>().ok()?)))
        .collect()
}

/// Words separated by any whitespace, kept separated by single spaces.
fn words(text: &str) -> Result<String, String> {
    Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn check_output_limits(text: &str) -> Result<String, String> {
    output_limits(text)?;
    Ok(text.to_string())
}

fn check_save(text: &str) -> Result<String, String> {
    let points = save_points(text).ok_or("Invalid save parameters")?;
    let words: Vec<String> = points.iter().map(|(s, c)| format!("{s} {c}")).collect();
    Ok(words.join(" "))
}

/// `shutdown-on-sigint`/`-sigterm`: flags among `default save nosave now
/// force`, shown in that order (`default` alone when none).
fn check_shutdown_flags(text: &str) -> Result<String, String> {
    const FLAGS: [&str; 5] = ["default", "save", "nosave", "now", "force"];
    let mut set = [false; 5];
    for w in text.split_whitespace() {
        let i = FLAGS
            .iter()
            .position(|f| f.eq_ignore_ascii_case(w))
            .ok_or("argument(s) must be one of the following: default, save, nosave, now, force")?;
        set[i] = true;
    }
    if set[1] && set[2] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let named: Vec<&str> = (1..5).filter(|&i| set[i]).map(|i| FLAGS[i]).collect();
    Ok(if named.is_empty() {
        "default".to_string()
    } else {
        named.join(" ")
    })
}

/// `latency-tracking-info-percentiles`: numbers from 0 to 100, shown in
/// their shortest form.
fn check_percentiles(text: &str) -> Result<String, String> {
    let mut shown = Vec::new();
    for w in text.split_whitespace() {
        let p: f64 = w
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        shown.push(format!("{p}"));
    }
    Ok(shown.join(" "))
}

/// `oom-score-adj-values`: three integers from -2000 to 2000.
fn check_oom_values(text: &str) -> Result<String, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let values = words
        .iter()
        .map(|w| w.parse::<i64>().ok().filter(|v| (-2000..=2000).contains(v)))
        .collect::<Option<Vec<i64>>>()
        .ok_or("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")?;
    Ok(values
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" "))
}

/// `cluster-announce-hostname`: letters, digits, `-` and `.`, under 256 bytes.
fn check_hostname(text: &str) -> Result<String, String> {
    if text.len() >= 256 {
        return Err("Hostnames must be less than 256 characters".into());
    }
    if !text
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into());
    }
    Ok(text.to_string())
}

fn human(bytes: u64) -> String {
    if bytes % MB == 0 {
        format!("{}mb", bytes / MB)
    } else {
        bytes.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_rows_and_defaults_parse() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert_eq!(p.id as usize, i, "{}", p.name);
            p.parse(p.default)
                .unwrap_or_else(|e| panic!("default of {}: {e}", p.name));
        }
        let mut names: Vec<&str> = PARAMS
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len(), "a name or alias is used twice");
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("12xb"), None);
        assert_eq!(parse_memory("-1"), None);
    }

    #[test]
    fn parsing_checks_ranges_and_words() {
        let p = P::Port.param();
        assert_eq!(p.parse("80"), Ok(Parsed::Int(80)));
        assert!(p.parse("99999").is_err());
        assert!(P::Shards.param().parse("1000").is_err());
        assert_eq!(
            P::MaxmemoryPolicy.param().parse("NoEviction"),
            Ok(Parsed::Int(3))
        );
        assert!(P::MaxmemoryPolicy.param().parse("lfu").is_err());
        assert_eq!(P::Appendonly.param().parse("no"), Ok(Parsed::Int(0)));
        assert!(P::ClientQueryBufferLimit.param().parse("1000").is_err());
    }
}
