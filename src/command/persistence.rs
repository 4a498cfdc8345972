//! Persistence commands: SAVE, BGSAVE, LASTSAVE.

use super::Ctx;

fn require_enabled(ctx: &mut Ctx) -> bool {
    if !ctx.srv.persist.enabled {
        ctx.error(
            "ERR snapshots are disabled: set [persistence] enabled = true in the configuration",
        );
        return false;
    }
    true
}

pub fn save(ctx: &mut Ctx, _args: &[&[u8]]) {
    if !require_enabled(ctx) {
        return;
    }
    match ctx.srv.save_now(ctx.now) {
        Ok(()) => ctx.out.ok(),
        Err(SaveError::InProgress) => ctx.error("ERR Background save already in progress"),
        Err(SaveError::Failed) => ctx.error("ERR"),
    }
}

pub fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) {
    if args.len() > 2 || (args.len() == 2 && !super::eq_ic(args[1], "schedule")) {
        return ctx.syntax_error();
    }
    if !require_enabled(ctx) {
        return;
    }
    if ctx.srv.start_bgsave(ctx.now) {
        ctx.out.simple("Background saving started");
    } else {
        ctx.error("ERR Background save already in progress");
    }
}

pub fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) {
    ctx.out.int(ctx.srv.persist.last_save_unix() as i64);
}

pub use crate::server::persistence::SaveError;
