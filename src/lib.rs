//! Redistill: a Redis-compatible in-memory key-value server.
//!
//! The path of one request:
//!
//! ```text
//! socket ──► server::connection ──► protocol::parse ──► command table ──► handler ──► store (shard lock)
//!  (TCP)      read buffer            arguments as        arity, AUTH       one file    hash(key) → shard
//!             ≥16 KiB                byte slices         gates              per family  → entry
//!                                                                               │
//! socket ◄── one write per batch ◄── protocol::reply (RESP2 or RESP3) ◄────────┘
//! ```
//!
//! Modules, from the wire inwards:
//! - [`server`]: listeners, the accept loop, connections, shared state, INFO.
//! - [`protocol`]: RESP request parsing and reply encoding; never touches the store.
//! - [`command`]: the command table (the single source of truth) and handlers.
//! - [`store`]: the sharded keyspace, values, expiry and glob matching.
//! - [`config`], [`errors`], [`numeric`], [`stats`]: configuration, every
//!   error text, Redis's number rules, and statistics.

pub mod command;
pub mod config;
pub mod errors;
pub mod evict;
#[doc(hidden)]
pub mod fuzz_support;
pub mod numeric;
pub mod persist;
pub mod protocol;
pub mod server;
pub mod stats;
pub mod store;

/// The Redis version Redistill is compatible with, reported where clients
/// look for `redis_version` (INFO, HELLO).
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
