//! Client-side caching commands: CLIENT TRACKING, CACHING, GETREDIR and
//! TRACKINGINFO, with Redis's options, checks and error texts, and the
//! after-command step that records the keys a tracking client read. The
//! table of tracked keys and the invalidations live in the engine
//! (`engine::store::tracking`); this module keeps each session's mode.

use std::sync::atomic::Ordering::Relaxed;

use super::{eq_ic, int_arg, Ctx, Session};
use crate::engine::store::tracking::Mode;
use crate::engine::Engine;
use crate::errors::{self, CmdResult};

/// A session's tracking mode (None on the session: not tracking).
#[derive(Clone, Debug, Default)]
pub struct TrackingState {
    pub mode: Mode,
    pub optin: bool,
    pub optout: bool,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) was given for the next
    /// command.
    pub caching: bool,
}

pub fn client_tracking(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut redirect = 0u64;
    let (mut bcast, mut optin, mut optout, mut noloop) = (false, false, false, false);
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = args[j];
        if eq_ic(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(errors::TRACKING_ONE_REDIRECT);
            }
            let id = int_arg(args[j])?;
            if id <= 0 || ctx.eng.clients.get(id as u64).is_none() {
                return Err(errors::TRACKING_NO_REDIRECT_CLIENT);
            }
            redirect = id as u64;
        } else if eq_ic(a, "bcast") {
            bcast = true;
        } else if eq_ic(a, "optin") {
            optin = true;
        } else if eq_ic(a, "optout") {
            optout = true;
        } else if eq_ic(a, "noloop") {
            noloop = true;
        } else if eq_ic(a, "prefix") && more {
            j += 1;
            prefixes.push(args[j].to_vec());
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let id = ctx.sess.handle.id;
    if eq_ic(args[2], "on") {
        if !bcast && !prefixes.is_empty() {
            return Err(errors::TRACKING_PREFIX_NEEDS_BCAST);
        }
        if let Some(cur) = &ctx.sess.tracking {
            if cur.mode.bcast != bcast {
                return Err(errors::TRACKING_SWITCH_BCAST);
            }
        }
        if bcast && (optin || optout) {
            return Err(errors::TRACKING_OPT_WITH_BCAST);
        }
        if optin && optout {
            return Err(errors::TRACKING_OPTIN_AND_OPTOUT);
        }
        if let Some(cur) = &ctx.sess.tracking {
            if (optin && cur.optout) || (optout && cur.optin) {
                return Err(errors::TRACKING_SWITCH_OPT);
            }
        }
        let mut all = ctx
            .sess
            .tracking
            .as_ref()
            .map(|t| t.mode.prefixes.clone())
            .unwrap_or_default();
        if bcast {
            check_prefixes(&all, &prefixes)?;
            if prefixes.is_empty() && !all.iter().any(Vec::is_empty) {
                // No prefix: every key.
                all.push(Vec::new());
            }
            all.extend(prefixes);
        }
        // As in Redis: prefixes add up, the other options replace the
        // previous ones.
        let cur = ctx.sess.tracking.take().map(|b| *b).unwrap_or_default();
        let state = TrackingState {
            mode: Mode {
                redirect,
                bcast,
                noloop,
                prefixes: all,
            },
            optin,
            optout,
            caching: cur.caching,
        };
        ctx.eng.dbs.shared().tracking.enable(id, state.mode.clone());
        let handle = &ctx.sess.handle;
        handle.tracking.store(1 | (bcast as u8) << 1, Relaxed);
        handle.redirect.store(redirect, Relaxed);
        ctx.sess.tracking = Some(Box::new(state));
    } else if eq_ic(args[2], "off") {
        stop(ctx.sess, ctx.eng);
    } else {
        return Err(errors::SYNTAX);
    }
    ctx.out.ok();
    Ok(())
}

/// Redis refuses prefixes of one client that contain one another.
fn check_prefixes(current: &[Vec<u8>], new: &[Vec<u8>]) -> CmdResult {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    for (i, p) in new.iter().enumerate() {
        // Redis reports the first clash in its prefix tree's (byte) order.
        if let Some(c) = current.iter().filter(|c| overlap(c, p)).min() {
            return Err(errors::prefix_overlap(p, c, "an existing prefix"));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(errors::prefix_overlap(p, q, "another provided prefix"));
        }
    }
    Ok(())
}

/// Ends tracking for the session (CLIENT TRACKING OFF, RESET, disconnect).
pub fn stop(sess: &mut Session, eng: &Engine) {
    if sess.tracking.take().is_some() {
        eng.dbs.shared().tracking.disable(sess.handle.id);
        sess.handle.tracking.store(0, Relaxed);
        sess.handle.redirect.store(0, Relaxed);
    }
}

pub fn client_caching(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let Some(t) = ctx.sess.tracking.as_mut() else {
        return Err(errors::CACHING_NOT_TRACKING);
    };
    if eq_ic(args[2], "yes") {
        if !t.optin {
            return Err(errors::CACHING_YES_NEEDS_OPTIN);
        }
    } else if eq_ic(args[2], "no") {
        if !t.optout {
            return Err(errors::CACHING_NO_NEEDS_OPTOUT);
        }
    } else {
        return Err(errors::SYNTAX);
    }
    t.caching = true;
    ctx.out.ok();
    Ok(())
}

pub fn client_getredir(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let redir = match &ctx.sess.tracking {
        Some(t) => t.mode.redirect as i64,
        None => -1,
    };
    ctx.out.int(redir);
    Ok(())
}

pub fn client_trackinginfo(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let t = ctx.sess.tracking.as_deref().cloned();
    let mut flags: Vec<&str> = vec![if t.is_some() { "on" } else { "off" }];
    if let Some(t) = &t {
        if t.mode.bcast {
            flags.push("bcast");
        }
        if t.optin {
            flags.push("optin");
            if t.caching {
                flags.push("caching-yes");
            }
        }
        if t.optout {
            flags.push("optout");
            if t.caching {
                flags.push("caching-no");
            }
        }
        if t.mode.noloop {
            flags.push("noloop");
        }
        if t.mode.redirect != 0 && ctx.eng.clients.get(t.mode.redirect).is_none() {
            flags.push("broken_redirect");
        }
    }
    ctx.out.map(3);
    ctx.out.bulk_str("flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk_str(f);
    }
    ctx.out.bulk_str("redirect");
    ctx.out
        .int(t.as_ref().map_or(-1, |t| t.mode.redirect as i64));
    ctx.out.bulk_str("prefixes");
    // In byte order, as Redis lists them (from its radix tree).
    let mut prefixes = t.map(|t| t.mode.prefixes).unwrap_or_default();
    prefixes.sort();
    ctx.out.array(prefixes.len());
    for p in prefixes {
        ctx.out.bulk(&p);
    }
    Ok(())
}

/// After a read-only command of a session tracking in the default mode:
/// records the keys it read, unless OPTIN without CACHING YES or OPTOUT
/// with CACHING NO; a CACHING given for this command is then used up.
pub fn after_command(
    sess: &mut Session,
    eng: &Engine,
    read_only: bool,
    keys: impl Iterator<Item = impl AsRef<[u8]>>,
) {
    let Some(t) = sess.tracking.as_mut() else {
        return;
    };
    let caching = std::mem::take(&mut t.caching);
    if !read_only || t.mode.bcast || (t.optin && !caching) || (t.optout && caching) {
        return;
    }
    let keys: Vec<_> = keys.collect();
    if !keys.is_empty() {
        eng.dbs
            .shared()
            .tracking
            .remember(sess.handle.id, keys.iter().map(|k| k.as_ref()));
    }
}
