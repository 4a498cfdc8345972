//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH and
//! PUBSUB, in RESP2 (subscribed mode: dispatch allows only these, PING,
//! QUIT and RESET) and RESP3 (push frames, any command allowed).
//!
//! A client's own subscriptions are kept in its session (for the counts in
//! the replies and to leave them all when it goes); the engine's registry
//! delivers messages.

use std::sync::atomic::Ordering::Relaxed;

use hashbrown::HashSet;

use super::{eq_ic, Ctx, Session};
use crate::engine::clients::ClientKind;
use crate::engine::pubsub::Space;
use crate::engine::Engine;
use crate::errors::CmdResult;

/// A session's subscriptions in the three namespaces.
#[derive(Default)]
pub struct Subscriptions {
    sets: [HashSet<Box<[u8]>>; 3],
}

fn slot(space: Space) -> usize {
    match space {
        Space::Channel => 0,
        Space::Pattern => 1,
        Space::Shard => 2,
    }
}

impl Subscriptions {
    /// The count a (P)SUBSCRIBE reply reports: channels plus patterns;
    /// shard channels count on their own.
    fn count(&self, space: Space) -> usize {
        match space {
            Space::Shard => self.sets[2].len(),
            _ => self.sets[0].len() + self.sets[1].len(),
        }
    }

    /// True when the client is subscribed to anything (RESP2 subscribed mode).
    pub fn any(&self) -> bool {
        self.sets.iter().any(|s| !s.is_empty())
    }
}

const KINDS: [(&[u8], &[u8]); 3] = [
    (b"subscribe", b"unsubscribe"),
    (b"psubscribe", b"punsubscribe"),
    (b"ssubscribe", b"sunsubscribe"),
];

/// Publishes the session's subscription counts for CLIENT LIST and its
/// client type (pubsub while subscribed).
fn publish_counts(sess: &Session) {
    for i in 0..3 {
        sess.handle.subs[i].store(sess.subs.sets[i].len() as u32, Relaxed);
    }
    let kind = sess.handle.kind();
    if sess.subs.any() && kind == ClientKind::Normal {
        sess.handle.set_kind(ClientKind::Pubsub);
    } else if !sess.subs.any() && kind == ClientKind::Pubsub {
        sess.handle.set_kind(ClientKind::Normal);
    }
}

/// One (un)subscribe confirmation frame.
fn confirm(ctx: &mut Ctx, kind: &[u8], name: Option<&[u8]>, count: usize) {
    if ctx.out.resp3() {
        ctx.out.push_header(3);
    } else {
        ctx.out.array(3);
    }
    ctx.out.bulk(kind);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn subscribe(ctx: &mut Ctx, args: &[&[u8]], space: Space) -> CmdResult {
    let s = slot(space);
    for name in &args[1..] {
        if ctx.sess.subs.sets[s].insert(Box::from(*name)) {
            ctx.eng.pubsub.subscribe(space, name, &ctx.sess.handle);
        }
        let count = ctx.sess.subs.count(space);
        confirm(ctx, KINDS[s].0, Some(name), count);
    }
    ctx.replies = args.len() - 1;
    publish_counts(ctx.sess);
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx, args: &[&[u8]], space: Space) -> CmdResult {
    let s = slot(space);
    let names: Vec<Box<[u8]>> = if args.len() > 1 {
        args[1..].iter().map(|a| Box::from(*a)).collect()
    } else {
        ctx.sess.subs.sets[s].iter().cloned().collect()
    };
    if names.is_empty() {
        let count = ctx.sess.subs.count(space);
        confirm(ctx, KINDS[s].1, None, count);
        publish_counts(ctx.sess);
        return Ok(());
    }
    for name in &names {
        if ctx.sess.subs.sets[s].remove(name) {
            ctx.eng.pubsub.unsubscribe(space, name, ctx.sess.handle.id);
        }
        let count = ctx.sess.subs.count(space);
        confirm(ctx, KINDS[s].1, Some(name), count);
    }
    ctx.replies = names.len();
    publish_counts(ctx.sess);
    Ok(())
}

/// Leaves every subscription without confirmations (RESET, disconnect).
pub fn leave_all(sess: &mut Session, eng: &Engine) {
    for (i, space) in [Space::Channel, Space::Pattern, Space::Shard]
        .into_iter()
        .enumerate()
    {
        for name in sess.subs.sets[i].drain() {
            eng.pubsub.unsubscribe(space, &name, sess.handle.id);
        }
    }
    publish_counts(sess);
}

pub fn subscribe_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe(ctx, args, Space::Channel)
}
pub fn psubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe(ctx, args, Space::Pattern)
}
pub fn ssubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe(ctx, args, Space::Shard)
}
pub fn unsubscribe_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe(ctx, args, Space::Channel)
}
pub fn punsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe(ctx, args, Space::Pattern)
}
pub fn sunsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe(ctx, args, Space::Shard)
}

fn publish_in(ctx: &mut Ctx, args: &[&[u8]], space: Space) -> CmdResult {
    let self_id = ctx.sess.handle.id;
    // Messages to the publisher itself come before its reply, as in Redis.
    let mut own = 0;
    let out = &mut *ctx.out;
    let n = ctx.eng.pubsub.publish(
        space,
        args[1],
        args[2],
        &mut |_, bytes| {
            out.raw(bytes);
            own += 1;
        },
        self_id,
    );
    ctx.replies = own + 1;
    ctx.out.int(n as i64);
    Ok(())
}

pub fn publish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    publish_in(ctx, args, Space::Channel)
}

pub fn spublish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    publish_in(ctx, args, Space::Shard)
}

fn list_names(ctx: &mut Ctx, args: &[&[u8]], space: Space) -> CmdResult {
    if args.len() > 3 {
        return Err(ctx.arity_error());
    }
    let names = ctx.eng.pubsub.names(space, args.get(2).copied());
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

fn count_subscribers(ctx: &mut Ctx, args: &[&[u8]], space: Space) -> CmdResult {
    let names = &args[2..];
    // A flat array in RESP3 too, as Redis 7.0 replies.
    ctx.out.array(names.len() * 2);
    for n in names {
        ctx.out.bulk(n);
        ctx.out.int(ctx.eng.pubsub.count(space, n) as i64);
    }
    Ok(())
}

pub fn pubsub_channels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    list_names(ctx, args, Space::Channel)
}
pub fn pubsub_shardchannels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    list_names(ctx, args, Space::Shard)
}
pub fn pubsub_numsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, args, Space::Channel)
}
pub fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    count_subscribers(ctx, args, Space::Shard)
}
pub fn pubsub_numpat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.eng.pubsub.len(Space::Pattern) as i64);
    Ok(())
}

pub fn pubsub_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::admin::help_lines(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
        ],
    )
}

/// PING in RESP2 subscribed mode answers `["pong", message]`.
pub fn ping_subscribed(ctx: &mut Ctx, args: &[&[u8]]) -> bool {
    if ctx.out.resp3() || !ctx.sess.subs.any() {
        return false;
    }
    ctx.out.array(2);
    ctx.out.bulk(b"pong");
    ctx.out.bulk(args.get(1).copied().unwrap_or(b""));
    true
}

/// True for a command allowed in RESP2 subscribed mode.
pub fn allowed_when_subscribed(name: &str) -> bool {
    [
        "subscribe",
        "psubscribe",
        "ssubscribe",
        "unsubscribe",
        "punsubscribe",
        "sunsubscribe",
        "ping",
        "quit",
        "reset",
    ]
    .iter()
    .any(|n| eq_ic(name.as_bytes(), n))
}
