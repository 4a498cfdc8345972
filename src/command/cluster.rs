//! Redis Cluster commands: CLUSTER and its subcommands, ASKING, READONLY
//! and READWRITE. Cluster mode is not available yet (`cluster-enabled` is
//! only `no`), so each answers as redis-server does with cluster support
//! disabled; cluster-aware clients pointed at Redistill learn that from
//! Redis's own error.

use super::Ctx;
use crate::errors::{self, CmdResult};

pub fn disabled(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(errors::CLUSTER_DISABLED)
}
