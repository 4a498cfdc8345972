//! Redistill: a Redis-compatible in-memory key-value server.
//!
//! The path of one request:
//!
//! ```text
//! socket ──► server::connection ──► protocol::parse ──► command::execute ──► handler ──► engine
//!  (TCP/TLS)  read buffer            arguments as        table, gates,       one file     unit: gate pass +
//!             ≥16 KiB                byte slices         unit of execution   per family   shard locks → entry
//!                                                                                │
//! socket ◄── one write per batch ◄── protocol::reply (RESP2 or RESP3) ◄─────────┘
//! ```
//!
//! Layers, each importing only the ones below it:
//! - [`server`]: listeners, the accept loop, connections, the HTTP health
//!   endpoint, shutdown; it builds the engine and is the command layer's host.
//! - [`command`]: the command table (the single source of truth), dispatch
//!   and its gates, one handler file per family, INFO, and an in-process
//!   test harness.
//! - [`engine`]: the keyspace (databases, shards, values), eviction,
//!   snapshots, units of execution, clients, statistics.
//! - [`protocol`], [`config`], [`errors`], [`numeric`]: RESP parsing and
//!   encoding, the parameter table and live settings, every error text,
//!   Redis's number rules.

pub mod command;
pub mod config;
pub mod engine;
pub mod errors;
#[doc(hidden)]
pub mod fuzz_support;
pub mod numeric;
pub mod protocol;
pub mod server;

/// The Redis version Redistill is compatible with, reported where clients
/// look for `redis_version` (INFO, HELLO).
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
