//! Persistence in the Redis RDB format. `rdb` is the codec (write version
//! 10, read versions 1..=12 for the types Redistill holds); `crc64` and
//! `lzf` are the checksum and compression it needs.
//!
//! `snapshot` takes point-in-time images of the keyspace without fork()
//! and writes them crash-safely; it also loads a snapshot at start.
//! `control` keeps the state SAVE, BGSAVE and INFO persistence share.

pub mod control;
pub mod crc64;
pub mod lzf;
pub mod rdb;
pub mod rdb_stream;
pub mod snapshot;
