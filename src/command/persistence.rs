//! Persistence commands: SAVE, BGSAVE, LASTSAVE. SAVE and BGSAVE run in an
//! exclusive unit (table flag), so the snapshot they start is one instant.
//! They write the snapshot file whether or not periodic snapshots are on,
//! as redis-server does with `save ""`.

use super::{eq_ic, Ctx};
use crate::engine::persist::control::SaveError;
use crate::errors::{self, CmdResult};

fn save_error(e: SaveError) -> errors::CmdError {
    match e {
        SaveError::InProgress => errors::SAVE_IN_PROGRESS,
        SaveError::Failed => errors::SAVE_FAILED,
    }
}

pub fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.eng.save(ctx.unit).map_err(save_error)?;
    ctx.out.ok();
    Ok(())
}

pub fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !eq_ic(args[1], "schedule")) {
        return Err(errors::SYNTAX);
    }
    ctx.eng.bgsave(ctx.unit).map_err(save_error)?;
    ctx.out.simple("Background saving started");
    Ok(())
}

pub fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.eng.persist.last_save_unix() as i64);
    Ok(())
}
