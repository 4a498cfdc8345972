//! The RESP wire protocol: turning request bytes into arguments (`parse`) and
//! encoding replies in RESP2 or RESP3 (`reply`). This layer never touches the
//! keyspace.

pub mod parse;
pub mod reply;

pub use parse::{ParseError, ParseLimits, Parser, Request};
pub use reply::Reply;
