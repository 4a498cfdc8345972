//! Persistence in the Redis RDB format. `rdb` is the codec (write version
//! 10, read versions 1..=12 for the types Redistill holds); `crc64` and
//! `lzf` are the checksum and compression it needs.
//!
//! Wiring snapshots into the server (SAVE, BGSAVE, loading at start) is not
//! done yet: this module is the tested file format only.

pub mod crc64;
pub mod lzf;
pub mod rdb;
