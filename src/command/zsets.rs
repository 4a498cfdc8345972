//! Sorted-set commands (Redis 7.0 semantics): scores parsed by strtod
//! (inf, hex, exponents; NaN refused) and printed with `%.17g`, ranges by
//! rank, score (`(` exclusive) and lex (`[x`, `(x`, `-`, `+`), RESP3
//! doubles and pairs where Redis uses them. A sorted set whose last member
//! goes disappears; a STORE with an empty result deletes its destination.

use super::blocking::{self, BlockOp};
use super::hashes::parse_scan_options;
use super::lists::{positive_count, rank_range};
use super::{eq_ic, int_arg, Ctx};
use crate::engine::store::glob::glob_match;
use crate::engine::store::notify::class;
use crate::engine::store::zset::Change;
use crate::engine::store::ValueRef;
use crate::engine::store::{Access, Kind, SetValue, Value, ZSetValue};
use crate::engine::unit::{KeyRef, Unit};
use crate::errors::{self, CmdResult};
use crate::numeric::{fmt_double, parse_double, strtod_prefix};
use crate::protocol::Reply;

/// Largest reply a negative ZRANDMEMBER count may build.
const MAX_RANDOM_REPLY: u64 = 1 << 24;

fn as_zset<'a>(v: ValueRef<'a>) -> &'a ZSetValue {
    match v.boxed() {
        Some(Value::ZSet(z)) => z,
        _ => unreachable!("checked by the lookup"),
    }
}

fn as_zset_mut(v: &mut Value) -> &mut ZSetValue {
    match v {
        Value::ZSet(z) => z,
        _ => unreachable!("checked by the lookup"),
    }
}

fn read_zset<'a>(k: &'a mut KeyRef, access: Access) -> CmdResult<Option<&'a ZSetValue>> {
    Ok(k.find_kind(access, Kind::ZSet)?
        .map(|pos| as_zset(k.value(pos))))
}

fn score_arg(arg: &[u8]) -> CmdResult<f64> {
    parse_double(arg).ok_or(errors::NOT_FLOAT)
}

/// A score as RESP2 bulk / RESP3 double.
fn reply_score(out: &mut Reply, s: f64) {
    out.double(s);
}

// ------------------------------------------------------------ ranges

/// One end of a score range.
#[derive(Clone, Copy, Debug)]
pub(super) struct ScoreBound {
    value: f64,
    exclusive: bool,
}

/// strtod over the whole argument, as Redis parses range ends (leading
/// blanks allowed, an empty string is 0, NaN refused).
fn range_double(s: &[u8]) -> Option<f64> {
    if s.is_empty() {
        return Some(0.0);
    }
    match strtod_prefix(s) {
        Some((v, n)) if n == s.len() && !v.is_nan() => Some(v),
        _ => None,
    }
}

fn parse_score_bound(arg: &[u8]) -> CmdResult<ScoreBound> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let value = range_double(text).ok_or(errors::MIN_MAX_NOT_FLOAT)?;
    Ok(ScoreBound { value, exclusive })
}

/// One end of a lex range: `-`, `+`, or a member with `[` / `(`.
#[derive(Clone, Debug)]
pub(super) enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn parse_lex_bound(arg: &[u8]) -> CmdResult<LexBound> {
    match arg.first() {
        Some(b'-') if arg.len() == 1 => Ok(LexBound::Min),
        Some(b'+') if arg.len() == 1 => Ok(LexBound::Max),
        Some(b'[') => Ok(LexBound::Incl(arg[1..].to_vec())),
        Some(b'(') => Ok(LexBound::Excl(arg[1..].to_vec())),
        _ => Err(errors::MIN_MAX_NOT_STRING_RANGE),
    }
}

#[derive(Clone, Debug)]
enum By {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// The ranks `from..to` (exclusive end) a score range covers.
fn score_ranks(z: &ZSetValue, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
    let from = z.rank_of_score(min.value, min.exclusive);
    let to = z.rank_of_score(max.value, !max.exclusive);
    (from, to.max(from))
}

fn lex_gte_min(m: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(x) => m >= x.as_slice(),
        LexBound::Excl(x) => m > x.as_slice(),
    }
}

fn lex_lte_max(m: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= x.as_slice(),
        LexBound::Excl(x) => m < x.as_slice(),
    }
}

/// Whether a lex range is empty whatever the set holds (min above max, or
/// equal ends with one exclusive), as Redis decides it.
fn lex_range_empty(min: &LexBound, max: &LexBound) -> bool {
    use std::cmp::Ordering::*;
    let (a, a_ex) = match min {
        LexBound::Min => (None, false),
        LexBound::Max => return !matches!(max, LexBound::Max),
        LexBound::Incl(x) => (Some(x), false),
        LexBound::Excl(x) => (Some(x), true),
    };
    let (b, b_ex) = match max {
        LexBound::Max => (None, false),
        LexBound::Min => return !matches!(min, LexBound::Min),
        LexBound::Incl(x) => (Some(x), false),
        LexBound::Excl(x) => (Some(x), true),
    };
    let cmp = match (a, b) {
        (None, _) | (_, None) => Less,
        (Some(a), Some(b)) => a.cmp(b),
    };
    cmp == Greater || (cmp == Equal && (a_ex || b_ex))
}

/// The ranks `from..to` a lex range covers. A small set is walked as Redis
/// walks its listpack (from the head for a forward range, from the tail
/// for a reverse one), so sets whose members are not in lex order (mixed
/// scores) give Redis's answer; a large one is searched (members assumed
/// in order, as Redis's skiplist search assumes).
fn lex_ranks(z: &ZSetValue, min: &LexBound, max: &LexBound, rev: bool) -> (usize, usize) {
    if lex_range_empty(min, max) {
        return (0, 0);
    }
    if z.encoding() == "listpack" {
        let items: Vec<&[u8]> = z.iter().map(|(m, _)| m).collect();
        let n = items.len();
        if n == 0 || !lex_gte_min(items[n - 1], min) || !lex_lte_max(items[0], max) {
            return (0, 0);
        }
        if !rev {
            let Some(i) = items.iter().position(|m| lex_gte_min(m, min)) else {
                return (0, 0);
            };
            if !lex_lte_max(items[i], max) {
                return (0, 0);
            }
            let j = i + items[i..]
                .iter()
                .take_while(|m| lex_lte_max(m, max))
                .count();
            return (i, j);
        }
        let Some(i) = items.iter().rposition(|m| lex_lte_max(m, max)) else {
            return (0, 0);
        };
        if !lex_gte_min(items[i], min) {
            return (0, 0);
        }
        let back = items[..=i]
            .iter()
            .rev()
            .take_while(|m| lex_gte_min(m, min))
            .count();
        return (i + 1 - back, i + 1);
    }
    let from = match min {
        LexBound::Min => 0,
        LexBound::Max => z.len(),
        LexBound::Incl(x) => z.rank_of_lex(x, false),
        LexBound::Excl(x) => z.rank_of_lex(x, true),
    };
    let to = match max {
        LexBound::Min => 0,
        LexBound::Max => z.len(),
        LexBound::Incl(x) => z.rank_of_lex(x, true),
        LexBound::Excl(x) => z.rank_of_lex(x, false),
    };
    (from, to.max(from))
}

/// The entries a range selects, in reply order.
fn select(z: &ZSetValue, by: &By, rev: bool, limit: Option<(i64, i64)>) -> Vec<(Vec<u8>, f64)> {
    let (from, to) = match by {
        By::Rank(a, b) => {
            let len = z.len();
            let Some((a, b)) = rank_range(*a, *b, len) else {
                return Vec::new();
            };
            if rev {
                (len - 1 - b, len - a)
            } else {
                (a, b + 1)
            }
        }
        By::Score(min, max) => score_ranks(z, *min, *max),
        By::Lex(min, max) => lex_ranks(z, min, max, rev),
    };
    if from >= to {
        return Vec::new();
    }
    let (offset, count) = match limit {
        Some((o, _)) if o < 0 => return Vec::new(),
        Some((o, c)) => (o as usize, if c < 0 { usize::MAX } else { c as usize }),
        None => (0, usize::MAX),
    };
    let n = to - from;
    if offset >= n {
        return Vec::new();
    }
    let take = count.min(n - offset);
    let it = if rev {
        z.walk(to - 1 - offset, true)
    } else {
        z.walk(from + offset, false)
    };
    it.take(take).map(|(m, s)| (m.to_vec(), s)).collect()
}

fn reply_entries(out: &mut Reply, items: &[(Vec<u8>, f64)], withscores: bool) {
    if withscores && out.resp3() {
        out.array(items.len());
        for (m, s) in items {
            out.array(2);
            out.bulk(m);
            reply_score(out, *s);
        }
    } else {
        out.array(items.len() * if withscores { 2 } else { 1 });
        for (m, s) in items {
            out.bulk(m);
            if withscores {
                reply_score(out, *s);
            }
        }
    }
}

// ------------------------------------------------------------ add

/// The scores one ZADD has set so far, in first-set order, by member (a
/// member repeated in the call keeps its last score). Indexed once it grows
/// past a few members, so a call with millions of pairs stays linear.
#[derive(Default)]
struct Pending<'a> {
    list: Vec<(&'a [u8], f64)>,
    index: Option<hashbrown::HashMap<&'a [u8], usize>>,
}

impl<'a> Pending<'a> {
    const INDEX_FROM: usize = 16;

    fn position(&self, m: &[u8]) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(m).copied(),
            None => self.list.iter().position(|(x, _)| *x == m),
        }
    }

    fn get(&self, m: &[u8]) -> Option<f64> {
        self.position(m).map(|i| self.list[i].1)
    }

    fn set(&mut self, m: &'a [u8], score: f64) {
        if let Some(i) = self.position(m) {
            self.list[i].1 = score;
            return;
        }
        self.list.push((m, score));
        if let Some(ix) = &mut self.index {
            ix.insert(m, self.list.len() - 1);
        } else if self.list.len() >= Self::INDEX_FROM {
            let ix = self
                .list
                .iter()
                .enumerate()
                .map(|(i, (x, _))| (*x, i))
                .collect();
            self.index = Some(ix);
        }
    }
}

pub fn zadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut at = 2;
    while at < args.len() {
        let a = args[at];
        if eq_ic(a, "nx") {
            nx = true;
        } else if eq_ic(a, "xx") {
            xx = true;
        } else if eq_ic(a, "gt") {
            gt = true;
        } else if eq_ic(a, "lt") {
            lt = true;
        } else if eq_ic(a, "ch") {
            ch = true;
        } else if eq_ic(a, "incr") {
            incr = true;
        } else {
            break;
        }
        at += 1;
    }
    let rest = &args[at..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(errors::SYNTAX);
    }
    if nx && xx {
        return Err(errors::ZADD_XX_NX);
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return Err(errors::ZADD_GT_LT_NX);
    }
    if incr && rest.len() > 2 {
        return Err(errors::ZADD_INCR_PAIR);
    }
    let scores: Vec<f64> = rest
        .chunks(2)
        .map(|p| score_arg(p[0]))
        .collect::<CmdResult<_>>()?;
    let limits = ctx.eng.zset_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = match k.find_kind(Access::WRITE, Kind::ZSet)? {
        Some(p) => p,
        None if xx => {
            if incr {
                ctx.out.null();
            } else {
                ctx.out.int(0);
            }
            return Ok(());
        }
        None => {
            let z = ZSetValue::for_new(scores.len(), rest[1].len(), &limits);
            k.insert(Value::ZSet(z), 0)
        }
    };
    let mut added = 0;
    let mut updated = 0;
    let mut processed = 0;
    let mut last = 0.0;
    let mut nan = false;
    let mut pending = Pending::default();
    {
        let z = as_zset(k.value(pos));
        for (i, pair) in rest.chunks(2).enumerate() {
            let m = pair[1];
            // A member repeated in this call sees the score its earlier
            // pair gave it.
            let cur = pending.get(m).or_else(|| z.score(m));
            let mut score = scores[i];
            match cur {
                Some(c) => {
                    if nx {
                        continue;
                    }
                    if incr {
                        score += c;
                        if score.is_nan() {
                            nan = true;
                            break;
                        }
                    }
                    if (lt && score >= c) || (gt && score <= c) {
                        continue;
                    }
                    processed += 1;
                    last = score;
                    if score != c {
                        updated += 1;
                        pending.set(m, score);
                    }
                }
                None => {
                    if xx {
                        continue;
                    }
                    processed += 1;
                    added += 1;
                    last = score;
                    pending.set(m, score);
                }
            }
        }
    }
    if !pending.list.is_empty() {
        k.shard
            .update(pos, |v| as_zset_mut(v).set_all(&pending.list, &limits));
        blocking::signal(ctx, args[1]);
    } else if as_zset(k.value(pos)).is_empty() {
        // Created for nothing (every pair refused): no empty set stays.
        k.shard.remove_at(pos);
    }
    if added + updated > 0 {
        ctx.notify(class::ZSET, if incr { "zincr" } else { "zadd" }, args[1]);
    }
    if nan {
        return Err(errors::SCORE_NAN);
    }
    if incr {
        if processed > 0 {
            reply_score(ctx.out, last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

pub fn zincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let incr = score_arg(args[2])?;
    let limits = ctx.eng.zset_limits();
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let pos = match k.find_kind(Access::WRITE, Kind::ZSet)? {
        Some(p) => p,
        None => k.insert(
            Value::ZSet(ZSetValue::for_new(1, args[3].len(), &limits)),
            0,
        ),
    };
    let score = match as_zset(k.value(pos)).score(args[3]) {
        Some(c) => {
            let s = c + incr;
            if s.is_nan() {
                return Err(errors::SCORE_NAN);
            }
            s
        }
        None => incr,
    };
    let changed = k
        .shard
        .update(pos, |v| as_zset_mut(v).set(args[3], score, &limits));
    if changed != Change::Unchanged {
        ctx.notify(class::ZSET, "zincr", args[1]);
        blocking::signal(ctx, args[1]);
    }
    reply_score(ctx.out, score);
    Ok(())
}

// ------------------------------------------------------------ reads

pub fn zcard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let n = read_zset(&mut k, access)?.map_or(0, ZSetValue::len);
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    match read_zset(&mut k, access)?.and_then(|z| z.score(args[2])) {
        Some(s) => reply_score(ctx.out, s),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zmscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let z = read_zset(&mut k, access)?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => reply_score(ctx.out, s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let z = read_zset(&mut k, access)?;
    match z.and_then(|z| z.rank(args[2]).map(|r| (r, z.len()))) {
        Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

pub fn zrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, false)
}
pub fn zrevrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, true)
}

pub fn zcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let min = parse_score_bound(args[2])?;
    let max = parse_score_bound(args[3])?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let n = read_zset(&mut k, access)?.map_or(0, |z| {
        let (a, b) = score_ranks(z, min, max);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

pub fn zlexcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let min = parse_lex_bound(args[2])?;
    let max = parse_lex_bound(args[3])?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let n = read_zset(&mut k, access)?.map_or(0, |z| {
        let (a, b) = lex_ranks(z, &min, &max, false);
        b - a
    });
    ctx.out.int(n as i64);
    Ok(())
}

/// Which form of the range commands is running.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeCmd {
    /// ZRANGE / ZRANGESTORE: BYSCORE, BYLEX and REV allowed.
    Auto,
    Rank {
        rev: bool,
    },
    Score {
        rev: bool,
    },
    Lex {
        rev: bool,
    },
}

struct RangeArgs {
    by: By,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
}

/// Parses `min max [options]` starting at `at` (Redis's zrangeGenericCommand).
fn parse_range(args: &[&[u8]], at: usize, cmd: RangeCmd, store: bool) -> CmdResult<RangeArgs> {
    #[derive(PartialEq)]
    enum T {
        Auto,
        Rank,
        Score,
        Lex,
    }
    let (mut kind, mut rev) = match cmd {
        RangeCmd::Auto => (T::Auto, false),
        RangeCmd::Rank { rev } => (T::Rank, rev),
        RangeCmd::Score { rev } => (T::Score, rev),
        RangeCmd::Lex { rev } => (T::Lex, rev),
    };
    let mut withscores = false;
    let mut limit: Option<(i64, i64)> = None;
    let mut j = at + 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            let o = int_arg(args[j + 1])?;
            let c = int_arg(args[j + 2])?;
            limit = Some((o, c));
            j += 2;
        } else if kind == T::Auto && eq_ic(a, "byscore") {
            kind = T::Score;
        } else if kind == T::Auto && eq_ic(a, "bylex") {
            kind = T::Lex;
        } else if cmd == RangeCmd::Auto && eq_ic(a, "rev") {
            rev = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if kind == T::Auto {
        kind = T::Rank;
    }
    // LIMIT with a count of -1 is how Redis spells "no LIMIT".
    if limit.is_some_and(|(_, c)| c != -1) && kind == T::Rank {
        return Err(errors::LIMIT_NEEDS_BY);
    }
    if withscores && kind == T::Lex {
        return Err(errors::WITHSCORES_BYLEX);
    }
    if withscores && store {
        return Err(errors::SYNTAX);
    }
    let (lo, hi) = if rev && kind != T::Rank {
        (args[at + 1], args[at])
    } else {
        (args[at], args[at + 1])
    };
    let by = match kind {
        T::Rank => By::Rank(int_arg(lo)?, int_arg(hi)?),
        T::Score => By::Score(parse_score_bound(lo)?, parse_score_bound(hi)?),
        _ => By::Lex(parse_lex_bound(lo)?, parse_lex_bound(hi)?),
    };
    Ok(RangeArgs {
        by,
        rev,
        limit,
        withscores,
    })
}

fn range_generic(ctx: &mut Ctx, args: &[&[u8]], cmd: RangeCmd) -> CmdResult {
    let r = parse_range(args, 2, cmd, false)?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(z) = read_zset(&mut k, access)? else {
        ctx.out.empty_array();
        return Ok(());
    };
    let items = select(z, &r.by, r.rev, r.limit);
    reply_entries(ctx.out, &items, r.withscores);
    Ok(())
}

pub fn zrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Auto)
}
pub fn zrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Rank { rev: true })
}
pub fn zrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Score { rev: false })
}
pub fn zrevrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Score { rev: true })
}
pub fn zrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Lex { rev: false })
}
pub fn zrevrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_generic(ctx, args, RangeCmd::Lex { rev: true })
}

pub fn zrangestore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let r = parse_range(args, 3, RangeCmd::Auto, true)?;
    let (dst, src) = (args[1], args[2]);
    let db = ctx.sess.db;
    let hashes = [ctx.unit.hash(dst), ctx.unit.hash(src)];
    ctx.unit.lock_keys(db, &hashes);
    let items = {
        let mut k = ctx.unit.key(db, src);
        match read_zset(&mut k, Access::READ)? {
            Some(z) => select(z, &r.by, r.rev, r.limit),
            None => Vec::new(),
        }
    };
    store_entries(ctx, dst, &items, "zrangestore");
    ctx.out.int(items.len() as i64);
    Ok(())
}

/// Replaces `dst` with a sorted set of `items` (deleted when there are
/// none) and publishes `event` (or `del`).
fn store_entries(ctx: &mut Ctx, dst: &[u8], items: &[(Vec<u8>, f64)], event: &str) {
    let limits = ctx.eng.zset_limits();
    let mut d = ctx.unit.key(ctx.sess.db, dst);
    if items.is_empty() {
        if d.delete() {
            ctx.notify(class::GENERIC, "del", dst);
        }
        return;
    }
    let first_len = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = ZSetValue::for_new(items.len(), first_len, &limits);
    for (m, s) in items {
        z.set(m, *s, &limits);
    }
    d.upsert(Value::ZSet(z), false);
    ctx.notify(class::ZSET, event, dst);
    blocking::signal(ctx, dst);
}

// ------------------------------------------------------------ removal

/// Removes the entries with ranks `from..to`; returns how many, and
/// whether the key went with them.
fn remove_ranks(k: &mut KeyRef, pos: usize, from: usize, to: usize) -> (usize, bool) {
    if from >= to {
        return (0, false);
    }
    let members: Vec<Vec<u8>> = as_zset(k.value(pos))
        .walk(from, false)
        .take(to - from)
        .map(|(m, _)| m.to_vec())
        .collect();
    let empty = k.shard.update(pos, |v| {
        let z = as_zset_mut(v);
        for m in &members {
            z.remove(m);
        }
        z.is_empty()
    });
    if empty {
        k.shard.remove_at(pos);
    }
    (members.len(), empty)
}

pub fn zrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::ZSet)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if !args[2..]
        .iter()
        .any(|m| as_zset(k.value(pos)).score(m).is_some())
    {
        ctx.out.int(0);
        return Ok(());
    }
    let (n, empty) = k.shard.update(pos, |v| {
        let z = as_zset_mut(v);
        let n = args[2..].iter().filter(|m| z.remove(m)).count();
        (n, z.is_empty())
    });
    if empty {
        k.shard.remove_at(pos);
    }
    ctx.out.int(n as i64);
    ctx.notify(class::ZSET, "zrem", args[1]);
    if empty {
        ctx.notify(class::GENERIC, "del", args[1]);
    }
    Ok(())
}

fn remrange(ctx: &mut Ctx, args: &[&[u8]], by: By) -> CmdResult {
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::ZSet)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let z = as_zset(k.value(pos));
    let (from, to) = match &by {
        By::Rank(a, b) => match rank_range(*a, *b, z.len()) {
            Some((a, b)) => (a, b + 1),
            None => (0, 0),
        },
        By::Score(min, max) => score_ranks(z, *min, *max),
        By::Lex(min, max) => lex_ranks(z, min, max, false),
    };
    let (n, emptied) = remove_ranks(&mut k, pos, from, to);
    ctx.out.int(n as i64);
    if n > 0 {
        let event = match by {
            By::Rank(..) => "zremrangebyrank",
            By::Score(..) => "zremrangebyscore",
            By::Lex(..) => "zremrangebylex",
        };
        ctx.notify(class::ZSET, event, args[1]);
        if emptied {
            ctx.notify(class::GENERIC, "del", args[1]);
        }
    }
    Ok(())
}

pub fn zremrangebyrank(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = By::Rank(int_arg(args[2])?, int_arg(args[3])?);
    remrange(ctx, args, by)
}
pub fn zremrangebyscore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = By::Score(parse_score_bound(args[2])?, parse_score_bound(args[3])?);
    remrange(ctx, args, by)
}
pub fn zremrangebylex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = By::Lex(parse_lex_bound(args[2])?, parse_lex_bound(args[3])?);
    remrange(ctx, args, by)
}

// ------------------------------------------------------------ pops

/// Pops up to `count` lowest (or highest) entries of the set at `k`.
fn pop_entries(k: &mut KeyRef, pos: usize, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let z = as_zset(k.value(pos));
    let len = z.len();
    let n = count.min(len);
    let items: Vec<(Vec<u8>, f64)> = if max {
        z.walk(len - 1, true)
            .take(n)
            .map(|(m, s)| (m.to_vec(), s))
            .collect()
    } else {
        z.walk(0, false)
            .take(n)
            .map(|(m, s)| (m.to_vec(), s))
            .collect()
    };
    let empty = k.shard.update(pos, |v| {
        let z = as_zset_mut(v);
        for (m, _) in &items {
            z.remove(m);
        }
        z.is_empty()
    });
    if empty {
        k.shard.remove_at(pos);
    }
    if !items.is_empty() {
        let key = k.key;
        k.shard
            .notify(class::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        if empty {
            k.shard.notify(class::GENERIC, "del", key);
        }
    }
    items
}

fn pop_generic(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(errors::SYNTAX);
    }
    let count = match args.get(2) {
        Some(a) => Some(positive_count(a)?),
        None => None,
    };
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(pos) = k.find_kind(Access::WRITE, Kind::ZSet)? else {
        ctx.out.empty_array();
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.empty_array();
        return Ok(());
    }
    let items = pop_entries(&mut k, pos, max, count.unwrap_or(1));
    if count.is_some() && ctx.out.resp3() {
        reply_entries(ctx.out, &items, true);
    } else {
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            reply_score(ctx.out, *s);
        }
    }
    Ok(())
}

pub fn zpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, false)
}
pub fn zpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_generic(ctx, args, true)
}

/// `*2 key *[*2 member score ...]` (ZMPOP, BZMPOP), nested in both RESPs.
fn reply_key_entries(out: &mut Reply, key: &[u8], items: &[(Vec<u8>, f64)]) {
    out.array(2);
    out.bulk(key);
    out.array(items.len());
    for (m, s) in items {
        out.array(2);
        out.bulk(m);
        reply_score(out, *s);
    }
}

/// Members with scores.
type Entries = Vec<(Vec<u8>, f64)>;

/// Pops from the first non-empty sorted set of `keys`.
fn mpop_zsets(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    max: bool,
    count: usize,
) -> CmdResult<Option<(Vec<u8>, Entries)>> {
    let db = ctx.sess.db;
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(db, &hashes);
    for key in keys {
        let mut k = ctx.unit.key(db, key);
        if let Some(pos) = k.find_kind(Access::WRITE, Kind::ZSet)? {
            return Ok(Some((key.to_vec(), pop_entries(&mut k, pos, max, count))));
        }
    }
    Ok(None)
}

pub fn zmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, end, count) = super::lists::parse_mpop(args, 1, ("min", "max"))?;
    let max = end == blocking::End::Right;
    match mpop_zsets(ctx, &keys, max, count.unwrap_or(1))? {
        Some((key, items)) => reply_key_entries(ctx.out, &key, &items),
        None => ctx.out.null_array(),
    }
    Ok(())
}

fn bzpop(ctx: &mut Ctx, args: &[&[u8]], max: bool) -> CmdResult {
    let timeout = blocking::parse_timeout(args[args.len() - 1])?;
    let keys = &args[1..args.len() - 1];
    if let Some((key, items)) = mpop_zsets(ctx, keys, max, 1)? {
        let (m, s) = &items[0];
        ctx.out.array(3);
        ctx.out.bulk(&key);
        ctx.out.bulk(m);
        reply_score(ctx.out, *s);
        ctx.propagate(&zpop_command(max, &key, None));
        return Ok(());
    }
    ctx.propagate_nothing();
    blocking::block_or_null(ctx, keys, timeout, BlockOp::ZPop { max, count: None })
}

/// What replicas get for a blocking pop that popped: `ZPOPMIN|ZPOPMAX key [n]`.
pub(super) fn zpop_command(max: bool, key: &[u8], count: Option<usize>) -> Vec<Vec<u8>> {
    let name = if max { "ZPOPMAX" } else { "ZPOPMIN" };
    let mut cmd = vec![name.as_bytes().to_vec(), key.to_vec()];
    if let Some(n) = count {
        cmd.push(n.to_string().into_bytes());
    }
    cmd
}

pub fn bzpopmin(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, false)
}
pub fn bzpopmax(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bzpop(ctx, args, true)
}

pub fn bzmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // As Redis: the keys, end and count are checked before the timeout.
    let (keys, end, count) = super::lists::parse_mpop(args, 2, ("min", "max"))?;
    let timeout = blocking::parse_timeout(args[1])?;
    let max = end == blocking::End::Right;
    if let Some((key, items)) = mpop_zsets(ctx, &keys, max, count.unwrap_or(1))? {
        reply_key_entries(ctx.out, &key, &items);
        ctx.propagate(&zpop_command(max, &key, Some(count.unwrap_or(1))));
        return Ok(());
    }
    ctx.propagate_nothing();
    let op = BlockOp::ZPop {
        max,
        count: Some(count.unwrap_or(1)),
    };
    blocking::block_or_null(ctx, &keys, timeout, op)
}

/// Serves a blocked BZPOPMIN/BZPOPMAX/BZMPOP from `key` (a sorted set).
pub(super) fn serve_pop(
    unit: &mut Unit,
    db: usize,
    key: &[u8],
    max: bool,
    count: Option<usize>,
    out: &mut Reply,
) {
    let mut k = unit.key(db, key);
    let Some(pos) = k.find(Access::WRITE) else {
        out.null_array();
        return;
    };
    let items = pop_entries(&mut k, pos, max, count.unwrap_or(1));
    match count {
        None => {
            let (m, s) = &items[0];
            out.array(3);
            out.bulk(key);
            out.bulk(m);
            reply_score(out, *s);
        }
        Some(_) => reply_key_entries(out, key, &items),
    }
}

// ------------------------------------------------------------ random, scan

pub fn zrandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut count = None;
    let mut withscores = false;
    if args.len() >= 3 {
        let c = int_arg(args[2])?;
        if c == i64::MIN {
            return Err(errors::COUNT_OUT_OF_RANGE);
        }
        if args.len() > 4 || (args.len() == 4 && !eq_ic(args[3], "withscores")) {
            return Err(errors::SYNTAX);
        }
        withscores = args.len() == 4;
        if (withscores && c < -(i64::MAX / 2)) || (c < 0 && c.unsigned_abs() > MAX_RANDOM_REPLY) {
            return Err(errors::VALUE_OUT_OF_RANGE);
        }
        count = Some(c);
    }
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let z = read_zset(&mut k, access)?;
    let Some(count) = count else {
        match z {
            Some(z) => ctx.out.bulk(z.nth_any(fastrand::usize(..z.len())).0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(z) = z.filter(|_| count != 0) else {
        ctx.out.empty_array();
        return Ok(());
    };
    let len = z.len();
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| fastrand::usize(..len))
            .collect()
    } else if count as usize >= len {
        (0..len).collect()
    } else {
        let mut idx: Vec<usize> = (0..len).collect();
        fastrand::shuffle(&mut idx);
        idx.truncate(count as usize);
        idx
    };
    let items: Vec<(Vec<u8>, f64)> = picks
        .into_iter()
        .map(|i| {
            let (m, s) = z.nth_any(i);
            (m.to_vec(), s)
        })
        .collect();
    reply_entries(ctx.out, &items, withscores);
    Ok(())
}

pub fn zscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = crate::numeric::parse_cursor(args[2]).ok_or(errors::INVALID_CURSOR)?;
    let access = ctx.access(Access::READ);
    let mut k = ctx.unit.key(ctx.sess.db, args[1]);
    let Some(z) = read_zset(&mut k, access)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.empty_array();
        return Ok(());
    };
    let opts = parse_scan_options(args, 3, false)?;
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, opts.count, |m, s| {
        if opts.pattern.is_none_or(|p| glob_match(p, m, false)) {
            found.push((m.to_vec(), s));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk_u64(next);
    ctx.out.array(found.len() * 2);
    for (m, s) in &found {
        ctx.out.bulk(m);
        ctx.out.bulk(fmt_double(*s).as_bytes());
    }
    Ok(())
}

// ------------------------------------------------------------ algebra

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(a: Aggregate, x: f64, y: f64) -> f64 {
    let r = match a {
        Aggregate::Sum => x + y,
        Aggregate::Min => x.min(y),
        Aggregate::Max => x.max(y),
    };
    if r.is_nan() {
        0.0
    } else {
        r
    }
}

/// `numkeys key...` from `at`: the keys (numkeys checked as Redis does).
fn parse_numkeys<'a>(args: &[&'a [u8]], at: usize, name: &str) -> CmdResult<Vec<&'a [u8]>> {
    let numkeys = int_arg(args[at])?;
    if numkeys < 1 {
        return Err(errors::at_least_one_key(name));
    }
    let numkeys = numkeys as usize;
    if numkeys > args.len() - at - 1 {
        return Err(errors::SYNTAX);
    }
    Ok(args[at + 1..at + 1 + numkeys].to_vec())
}

/// `[WEIGHTS w...] [AGGREGATE a] [WITHSCORES]` from `from` (parsed after the
/// keys were read, as Redis does): weights, aggregate and WITHSCORES.
fn parse_algebra_options(
    args: &[&[u8]],
    from: usize,
    numkeys: usize,
    op: SetOp,
    store: bool,
) -> CmdResult<(Vec<f64>, Aggregate, bool)> {
    let mut weights = vec![1.0; numkeys];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut j = from;
    while j < args.len() {
        let left = args.len() - j - 1;
        if op != SetOp::Diff && eq_ic(args[j], "weights") && left >= numkeys {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_double(args[j + 1 + i]).ok_or(errors::WEIGHT_NOT_FLOAT)?;
            }
            j += numkeys;
        } else if op != SetOp::Diff && eq_ic(args[j], "aggregate") && left >= 1 {
            let a = args[j + 1];
            agg = if eq_ic(a, "sum") {
                Aggregate::Sum
            } else if eq_ic(a, "min") {
                Aggregate::Min
            } else if eq_ic(a, "max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX);
            };
            j += 1;
        } else if !store && eq_ic(args[j], "withscores") {
            withscores = true;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((weights, agg, withscores))
}

/// Reads each key as a sorted set (a plain set counts with score 1).
fn load_inputs(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult<Vec<Option<Entries>>> {
    let db = ctx.sess.db;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let mut k = ctx.unit.key(db, key);
        let entries = match k.find(Access::READ) {
            None => None,
            Some(pos) => match k.value(pos).boxed() {
                Some(Value::ZSet(z)) => Some(z.iter().map(|(m, s)| (m.to_vec(), s)).collect()),
                Some(Value::Set(s)) => Some(set_members(s)),
                _ => return Err(errors::WRONGTYPE),
            },
        };
        out.push(entries);
    }
    Ok(out)
}

fn set_members(s: &SetValue) -> Vec<(Vec<u8>, f64)> {
    s.iter().map(|m| (m.to_vec(), 1.0)).collect()
}

fn compute(
    inputs: Vec<Option<Entries>>,
    weights: &[f64],
    agg: Aggregate,
    op: SetOp,
) -> Vec<(Vec<u8>, f64)> {
    let weighted = |i: usize, s: f64| {
        let r = s * weights[i];
        if r.is_nan() {
            0.0
        } else {
            r
        }
    };
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Union => {
            let mut index: hashbrown::HashMap<Vec<u8>, usize> = hashbrown::HashMap::new();
            for (i, input) in inputs.into_iter().enumerate() {
                for (m, s) in input.into_iter().flatten() {
                    let s = weighted(i, s);
                    match index.get(&m) {
                        Some(&at) => result[at].1 = aggregate(agg, result[at].1, s),
                        None => {
                            index.insert(m.clone(), result.len());
                            result.push((m, s));
                        }
                    }
                }
            }
        }
        SetOp::Inter => {
            if inputs.iter().any(Option::is_none) {
                return result;
            }
            let inputs: Vec<Vec<(Vec<u8>, f64)>> = inputs.into_iter().flatten().collect();
            let maps: Vec<hashbrown::HashMap<&[u8], f64>> = inputs
                .iter()
                .map(|v| v.iter().map(|(m, s)| (m.as_slice(), *s)).collect())
                .collect();
            'member: for (m, s) in &inputs[0] {
                let mut acc = weighted(0, *s);
                for (i, map) in maps.iter().enumerate().skip(1) {
                    match map.get(m.as_slice()) {
                        Some(&x) => acc = aggregate(agg, acc, weighted(i, x)),
                        None => continue 'member,
                    }
                }
                result.push((m.clone(), acc));
            }
        }
        SetOp::Diff => {
            let mut it = inputs.into_iter();
            let Some(Some(first)) = it.next() else {
                return result;
            };
            let rest: hashbrown::HashSet<Vec<u8>> =
                it.flatten().flatten().map(|(m, _)| m).collect();
            result.extend(first.into_iter().filter(|(m, _)| !rest.contains(m)));
        }
    }
    result.sort_by(|a, b| crate::engine::store::zset::cmp_key((a.1, &a.0), (b.1, &b.0)));
    result
}

fn algebra(ctx: &mut Ctx, args: &[&[u8]], op: SetOp, name: &str) -> CmdResult {
    let keys = parse_numkeys(args, 1, name)?;
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(ctx.sess.db, &hashes);
    let inputs = load_inputs(ctx, &keys)?;
    let (weights, agg, withscores) =
        parse_algebra_options(args, 2 + keys.len(), keys.len(), op, false)?;
    let result = compute(inputs, &weights, agg, op);
    reply_entries(ctx.out, &result, withscores);
    Ok(())
}

fn algebra_store(ctx: &mut Ctx, args: &[&[u8]], op: SetOp, name: &str) -> CmdResult {
    let keys = parse_numkeys(args, 2, name)?;
    let mut all = keys.clone();
    all.push(args[1]);
    let hashes: Vec<u64> = all.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(ctx.sess.db, &hashes);
    let inputs = load_inputs(ctx, &keys)?;
    let (weights, agg, _) = parse_algebra_options(args, 3 + keys.len(), keys.len(), op, true)?;
    let result = compute(inputs, &weights, agg, op);
    let event = match op {
        SetOp::Union => "zunionstore",
        SetOp::Inter => "zinterstore",
        SetOp::Diff => "zdiffstore",
    };
    store_entries(ctx, args[1], &result, event);
    ctx.out.int(result.len() as i64);
    Ok(())
}

pub fn zunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra(ctx, args, SetOp::Union, "zunion")
}
pub fn zinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra(ctx, args, SetOp::Inter, "zinter")
}
pub fn zdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra(ctx, args, SetOp::Diff, "zdiff")
}
pub fn zunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, args, SetOp::Union, "zunionstore")
}
pub fn zinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, args, SetOp::Inter, "zinterstore")
}
pub fn zdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    algebra_store(ctx, args, SetOp::Diff, "zdiffstore")
}

pub fn zintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // As Redis: keys are read (and type-checked) before LIMIT is parsed.
    let keys = parse_numkeys(args, 1, "zintercard")?;
    let hashes: Vec<u64> = keys.iter().map(|k| ctx.unit.hash(k)).collect();
    ctx.unit.lock_keys(ctx.sess.db, &hashes);
    let inputs = load_inputs(ctx, &keys)?;
    let (_, limit) = super::sets::parse_card_args(args, errors::at_least_one_key("zintercard"))?;
    let n = compute(inputs, &vec![1.0; keys.len()], Aggregate::Sum, SetOp::Inter).len();
    let n = if limit > 0 { n.min(limit) } else { n };
    ctx.out.int(n as i64);
    Ok(())
}
