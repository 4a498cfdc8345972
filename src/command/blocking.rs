//! Blocking pops and moves: parsing the timeout, parking a client that
//! found nothing, and serving parked clients once a command, transaction
//! or script that pushed has finished.
//!
//! Service happens on the thread that ran the pushing command, right after
//! it (in its own unit, which waits for any transaction or script still
//! holding the keys), before that connection runs its next command:
//! blocked clients are served in the order they blocked, keys in the order
//! they became ready, and a served BLMOVE can make its destination ready in
//! the same pass. Inside MULTI/EXEC or a script a blocking command does not
//! block: it answers as if it timed out.

use std::sync::Arc;

use crate::engine::blocking::Waiter;
pub use crate::engine::blocking::{BlockOp, End};
use crate::engine::gate::Pass;
use crate::engine::store::{Access, Kind};
use crate::engine::unit::Unit;
use crate::errors::{self, CmdResult};
use crate::protocol::Reply;

use super::{After, Ctx, Runtime};

/// A blocking timeout in seconds (fractions allowed) as milliseconds,
/// rounded up; 0 waits forever.
pub fn parse_timeout(arg: &[u8]) -> CmdResult<u64> {
    let ms = crate::numeric::timeout_ms(arg).ok_or(errors::TIMEOUT_NOT_FLOAT)?;
    if ms < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    let now = crate::engine::store::now_ms() as i64;
    if ms > i64::MAX - now {
        return Err(errors::TIMEOUT_OUT_OF_RANGE);
    }
    Ok(ms as u64)
}

/// Notes that `key` (in the client's database) may now satisfy blocked clients.
pub fn signal(ctx: &Ctx, key: &[u8]) {
    ctx.eng.blocking.signal(ctx.sess.db, key);
}

/// Parks the client on `keys` until one can serve `op` or `timeout_ms`
/// passes; inside MULTI/EXEC or a script, answers the timeout reply now.
pub fn block_or_null(ctx: &mut Ctx, keys: &[&[u8]], timeout_ms: u64, op: BlockOp) -> CmdResult {
    if ctx.sess.nested {
        // BLMOVE/BRPOPLPUSH answer a null bulk here, the others a null array.
        match op {
            BlockOp::ListMove { .. } => ctx.out.null(),
            _ => ctx.out.null_array(),
        }
        return Ok(());
    }
    let w = Arc::new(Waiter::new(
        ctx.sess.handle.id,
        ctx.sess.db,
        keys.iter().map(|k| k.to_vec()).collect(),
        op,
        ctx.out.resp3(),
    ));
    ctx.eng.blocking.register(w.clone());
    ctx.sess
        .handle
        .blocked
        .store(true, std::sync::atomic::Ordering::Relaxed);
    ctx.sess.blocked = Some((w, timeout_ms));
    ctx.after = After::Block;
    ctx.replies = 0;
    Ok(())
}

/// The reply a blocked client gets when its wait ends without service.
pub fn timeout_reply(resp3: bool) -> Vec<u8> {
    let mut r = Reply::new();
    r.set_resp3(resp3);
    r.null_array();
    r.as_bytes().to_vec()
}

/// Serves blocked clients on every key made ready so far. `pass` is the
/// caller's pass through the gate (taken here when missing).
pub fn serve<'g>(rt: &'g Runtime, pass: &mut Option<Pass<'g>>, now: u64) {
    let eng = &rt.engine;
    while let Some((db, key)) = eng.blocking.next_ready() {
        // Pops serve clients in order until one finds nothing; stream
        // readers each see the new entries, so all of them are tried.
        for w in eng.blocking.waiting_on(db, &key) {
            if pass.is_none() {
                *pass = eng.gate.shared();
            }
            let Some(held) = pass.as_ref() else {
                // A busy script holds the gate: it will signal again.
                return;
            };
            let mut unit = Unit::within(held, &eng.dbs, now);
            let outcome = match &w.op {
                BlockOp::Stream(read) => serve_stream(rt, &mut unit, &w, read, db, &key, now),
                _ => serve_one(rt, &mut unit, &w, db, &key),
            };
            if outcome == Outcome::NotReady && !matches!(w.op, BlockOp::Stream(_)) {
                break;
            }
        }
    }
}

/// Serves a client blocked in XREAD/XREADGROUP if `key` has what it waits for.
fn serve_stream(
    rt: &Runtime,
    unit: &mut Unit,
    w: &Arc<Waiter>,
    read: &crate::engine::blocking::StreamRead,
    db: usize,
    key: &[u8],
    now: u64,
) -> Outcome {
    let eng = &rt.engine;
    let hash = unit.hash(key);
    unit.lock_keys(db, &[hash]);
    // Claimed once it is known to be servable and before anything
    // changes, so a timeout racing with the service loses nothing.
    let claim = || eng.blocking.claim(w);
    match super::streams::serve_blocked(unit, w, read, db, key, now, claim) {
        Some(reply) => {
            unit.feed_propagated();
            eng.blocking.finish(w, reply);
            Outcome::Served
        }
        None => Outcome::NotReady,
    }
}

#[derive(PartialEq, Eq)]
enum Outcome {
    Served,
    NotReady,
}

/// Serves `w` from `key` if the key can: pops (or moves) and hands the
/// reply over.
fn serve_one(rt: &Runtime, unit: &mut Unit, w: &Arc<Waiter>, db: usize, key: &[u8]) -> Outcome {
    let eng = &rt.engine;
    let kind = match w.op {
        BlockOp::ZPop { .. } => Kind::ZSet,
        BlockOp::Stream(_) => Kind::Stream,
        _ => Kind::List,
    };
    let mut hashes = vec![unit.hash(key)];
    if let BlockOp::ListMove { dst, .. } = &w.op {
        hashes.push(unit.hash(dst));
    }
    unit.lock_keys(db, &hashes);
    {
        let mut k = unit.key(db, key);
        match k.find_kind(Access::WRITE, kind) {
            Ok(Some(_)) => {}
            _ => return Outcome::NotReady,
        }
    }
    if !eng.blocking.claim(w) {
        // Timed out or unblocked meanwhile: the next waiter's turn.
        return Outcome::Served;
    }
    let mut out = Reply::new();
    out.set_resp3(w.resp3);
    match &w.op {
        BlockOp::ListPop { end, count } => {
            let limits = eng.list_limits();
            let mut k = unit.key(db, key);
            let pos = k.find(Access::WRITE).expect("checked above");
            let mut items = super::lists::pop_from(&mut k, pos, *end, count.unwrap_or(1), &limits);
            unit.propagate(db, super::lists::pop_command(*end, key, *count));
            match count {
                None => {
                    out.array(2);
                    out.bulk(key);
                    out.bulk(&items.pop().expect("one"));
                }
                Some(_) => super::lists::reply_key_items(&mut out, key, &items),
            }
        }
        BlockOp::ListMove { from, to, dst } => {
            let limits = eng.list_limits();
            match super::lists::move_element(unit, db, key, dst, *from, *to, &limits) {
                Ok(Some(item)) => {
                    out.bulk(&item);
                    eng.blocking.signal(db, dst);
                    unit.propagate(db, super::lists::move_command(key, dst, *from, *to));
                }
                Ok(None) => out.null(),
                Err(e) => out.error_bytes(e.text()),
            }
        }
        BlockOp::ZPop { max, count } => {
            super::zsets::serve_pop(unit, db, key, *max, *count, &mut out);
            unit.propagate(db, super::zsets::zpop_command(*max, key, *count));
        }
        BlockOp::Stream(_) => unreachable!("served by serve_stream"),
    }
    // Fed before the unit lets go of the keys.
    unit.feed_propagated();
    eng.blocking.finish(w, out.as_bytes().to_vec());
    Outcome::Served
}
