//! The command table: the single source of truth for every command's name,
//! arity, flags, key positions, family, summary, syntax and handler. It
//! drives dispatch, the arity and AUTH gates, COMMAND / COMMAND DOCS, and
//! per-command statistics. Adding a command is one row plus one handler.

use std::sync::OnceLock;

use hashbrown::HashMap;

use super::Ctx;
use super::{
    admin, cluster, counters, expiry, hashes, introspect, keys, lists, migrate, persistence,
    pubsub, replication, script, session as conn, sets, streams, strings, tracking, txn, zsets,
};
use crate::errors::CmdResult;

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

// Flags.
pub const WRITE: u32 = 1;
pub const READONLY: u32 = 1 << 1;
pub const DENYOOM: u32 = 1 << 2;
pub const FAST: u32 = 1 << 3;
pub const NO_AUTH: u32 = 1 << 4;
pub const ADMIN: u32 = 1 << 5;
pub const LOADING: u32 = 1 << 6;
pub const STALE: u32 = 1 << 7;
pub const NOSCRIPT: u32 = 1 << 8;
/// Runs in an exclusive unit: nothing else runs while it does (FLUSHALL,
/// the start of a snapshot).
pub const EXCLUSIVE: u32 = 1 << 9;
/// Touches keys it does not declare, or changes which database later
/// commands use (KEYS, SCAN, SELECT...): a transaction holding it runs in
/// an exclusive unit.
pub const UNDECLARED: u32 = 1 << 10;
/// Runs at once inside MULTI instead of being queued (EXEC, DISCARD...).
pub const NO_QUEUE: u32 = 1 << 11;
/// Refused inside MULTI (`Command not allowed inside a transaction`).
pub const NO_MULTI: u32 = 1 << 12;
/// EXEC: dispatch plans its unit from the queued commands.
pub const EXEC: u32 = 1 << 13;
/// Served while a busy script holds the keyspace (never touches it).
pub const ALLOW_BUSY: u32 = 1 << 14;
/// May block the client (BLPOP...).
pub const BLOCKING: u32 = 1 << 15;
/// Its keys are found by parsing (a `numkeys` argument): COMMAND INFO's
/// `movablekeys`. Such a command also counts as UNDECLARED in a transaction.
pub const MOVABLE: u32 = 1 << 16;

/// Names a key of another database (MOVE, COPY ... DB n): dispatch plans
/// its locks with `keys::other_db_keys`, and a transaction holding one that
/// does runs in an exclusive unit.
pub const OTHER_DB: u32 = 1 << 17;

/// Not a write, yet fed to replicas when it succeeds (PUBLISH). Writes are
/// fed as received unless the handler feeds a rewritten form.
pub const PROPAGATE: u32 = 1 << 18;

/// Allowed on a slot being imported without ASKING first
/// (RESTORE-ASKING, which MIGRATE sends in cluster mode).
pub const ASKING: u32 = 1 << 19;

/// Flag names as COMMAND INFO prints them.
pub const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (NOSCRIPT, "noscript"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (ASKING, "asking"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (BLOCKING, "blocking"),
    (MOVABLE, "movablekeys"),
];

pub struct CommandSpec {
    /// Lower-case name; subcommands are `parent|sub`.
    pub name: &'static str,
    /// Redis arity: exact when positive, a minimum when negative (name included).
    pub arity: i32,
    pub flags: u32,
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// Arguments after the name, in the syntax described in `docs`.
    pub syntax: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// The subcommand part of `parent|sub`, or the whole name.
    pub fn short_name(&self) -> &'static str {
        self.name.split('|').nth(1).unwrap_or(self.name)
    }

    /// True when `argc` arguments (the name included) fit the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        (self.arity > 0 && argc == self.arity) || (self.arity < 0 && argc >= -self.arity)
    }

    /// The index of the last key for `argc` arguments, if the command has keys.
    #[inline]
    fn last_key_index(&self, argc: usize) -> Option<usize> {
        if self.first_key <= 0 {
            return None;
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key.min(argc as i32 - 1)
        };
        (last >= self.first_key).then_some(last as usize)
    }

    /// How many keys a call with `argc` arguments names.
    #[inline]
    pub fn key_count(&self, argc: usize) -> usize {
        match self.last_key_index(argc) {
            Some(last) => (last - self.first_key as usize) / self.step.max(1) as usize + 1,
            None => 0,
        }
    }

    /// The keys a call names, from the table's key positions.
    pub fn keys<'a, 'b>(&self, args: &'b [&'a [u8]]) -> impl Iterator<Item = &'a [u8]> + 'b {
        let range = match self.last_key_index(args.len()) {
            Some(last) => self.first_key as usize..last + 1,
            None => 0..0,
        };
        range
            .step_by(self.step.max(1) as usize)
            .map(move |i| args[i])
    }
}

/// For a command whose keys follow a `numkeys` argument, that argument's
/// index (the keys come right after it).
fn numkeys_index(name: &str) -> Option<usize> {
    match name {
        "lmpop" | "sintercard" | "zmpop" | "zunion" | "zinter" | "zdiff" | "zintercard" => Some(1),
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "zunionstore"
        | "zinterstore" | "zdiffstore" => Some(2),
        _ => None,
    }
}

impl CommandSpec {
    /// The command names keys (at fixed positions or after a `numkeys`).
    pub fn has_keys(&self) -> bool {
        self.first_key > 0
            || numkeys_index(self.name).is_some()
            || self.name == "xread"
            || self.name == "xreadgroup"
    }

    /// Every key a call names: the table's key positions plus, for
    /// commands with a `numkeys` argument, the keys it counts (nothing
    /// from a `numkeys` that is not a count the arguments hold).
    pub fn all_keys<'a>(&self, args: &[&'a [u8]]) -> Vec<&'a [u8]> {
        if self.name == "migrate" {
            // MIGRATE ... KEYS k...: the keys follow KEYS (the key
            // argument is then empty).
            if let Some(at) = args
                .iter()
                .skip(6)
                .position(|a| a.eq_ignore_ascii_case(b"keys"))
            {
                return args[6 + at + 1..].to_vec();
            }
        }
        if self.name == "xread" || self.name == "xreadgroup" {
            // ... STREAMS key... id...: the first half after STREAMS.
            let skip = if self.name == "xreadgroup" { 4 } else { 1 };
            if let Some(at) = args
                .iter()
                .skip(skip)
                .position(|a| a.eq_ignore_ascii_case(b"streams"))
            {
                let rest = &args[skip + at + 1..];
                return rest[..rest.len() / 2].to_vec();
            }
            return Vec::new();
        }
        let mut keys: Vec<&'a [u8]> = self.keys(args).collect();
        if let Some(at) = numkeys_index(self.name) {
            let n = args
                .get(at)
                .and_then(|a| crate::numeric::parse_i64(a))
                .filter(|&n| n >= 0 && (n as usize) <= args.len().saturating_sub(at + 1));
            if let Some(n) = n {
                keys.extend_from_slice(&args[at + 1..at + 1 + n as usize]);
            }
        }
        keys
    }
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal, $summary:literal, $syntax:literal, $handler:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $keys.0,
            last_key: $keys.1,
            step: $keys.2,
            group: $group,
            since: $since,
            summary: $summary,
            syntax: $syntax,
            handler: $handler,
            subcommands: &[],
        }
    };
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $since:literal, $summary:literal, $syntax:literal, $handler:expr, $subs:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $keys.0,
            last_key: $keys.1,
            step: $keys.2,
            group: $group,
            since: $since,
            summary: $summary,
            syntax: $syntax,
            handler: $handler,
            subcommands: $subs,
        }
    };
}

const NK: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const K12: (i32, i32, i32) = (1, 2, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);
const KPAIRS: (i32, i32, i32) = (1, -1, 2);
/// Every argument but the last (the blocking timeout) is a key.
const KBLOCK: (i32, i32, i32) = (1, -2, 1);
const WM: u32 = WRITE | MOVABLE | UNDECLARED;
const RM: u32 = READONLY | MOVABLE | UNDECLARED;
const WB: u32 = WRITE | NOSCRIPT | BLOCKING;
const W: u32 = WRITE;
const WD: u32 = WRITE | DENYOOM;
const WDF: u32 = WRITE | DENYOOM | FAST;
const WF: u32 = WRITE | FAST;
const R: u32 = READONLY;
const RF: u32 = READONLY | FAST;

pub static COMMANDS: &[CommandSpec] = &[
    // Strings
    cmd!("get", 2, RF, K1, "string", "1.0.0", "Returns the string value of a key.", "key", strings::get),
    cmd!("set", -3, WD, K1, "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "key value [NX|XX] [GET] [EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|KEEPTTL]", strings::set),
    cmd!("setnx", 3, WDF, K1, "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", "key value", strings::setnx),
    cmd!("setex", 4, WD, K1, "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "key seconds:integer value", strings::setex),
    cmd!("psetex", 4, WD, K1, "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "key milliseconds:integer value", strings::psetex),
    cmd!("getset", 3, WDF, K1, "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", "key value", strings::getset),
    cmd!("getdel", 2, WF, K1, "string", "6.2.0", "Returns the string value of a key after deleting the key.", "key", strings::getdel),
    cmd!("getex", -2, WF, K1, "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", "key [EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|PERSIST]", strings::getex),
    cmd!("append", 3, WDF, K1, "string", "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist.", "key value", strings::append),
    cmd!("strlen", 2, RF, K1, "string", "2.2.0", "Returns the length of a string value.", "key", strings::strlen),
    cmd!("getrange", 4, R, K1, "string", "2.4.0", "Returns a substring of the string stored at a key.", "key start:integer end:integer", strings::getrange),
    cmd!("substr", 4, R, K1, "string", "1.0.0", "Returns a substring from a string value.", "key start:integer end:integer", strings::getrange),
    cmd!("setrange", 4, WD, K1, "string", "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "key offset:integer value", strings::setrange),
    cmd!("mset", -3, WD, KPAIRS, "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", "(key value)...", strings::mset),
    cmd!("msetnx", -3, WD, KPAIRS, "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", "(key value)...", strings::msetnx),
    cmd!("mget", -2, RF, KALL, "string", "1.0.0", "Atomically returns the string values of one or more keys.", "key...", strings::mget),
    // Counters
    cmd!("incr", 2, WDF, K1, "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "key", counters::incr),
    cmd!("decr", 2, WDF, K1, "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "key", counters::decr),
    cmd!("incrby", 3, WDF, K1, "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "key increment:integer", counters::incrby),
    cmd!("decrby", 3, WDF, K1, "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "key decrement:integer", counters::decrby),
    cmd!("incrbyfloat", 3, WDF, K1, "string", "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "key increment:double", counters::incrbyfloat),
    // Hashes
    cmd!("hset", -4, WDF, K1, "hash", "2.0.0", "Creates or modifies the value of a field in a hash.", "key (field value)...", hashes::hset),
    cmd!("hmset", -4, WDF, K1, "hash", "2.0.0", "Sets the values of multiple fields.", "key (field value)...", hashes::hmset),
    cmd!("hsetnx", 4, WDF, K1, "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist.", "key field value", hashes::hsetnx),
    cmd!("hget", 3, RF, K1, "hash", "2.0.0", "Returns the value of a field in a hash.", "key field", hashes::hget),
    cmd!("hmget", -3, RF, K1, "hash", "2.0.0", "Returns the values of all fields in a hash.", "key field...", hashes::hmget),
    cmd!("hgetall", 2, R, K1, "hash", "2.0.0", "Returns all fields and values in a hash.", "key", hashes::hgetall),
    cmd!("hdel", -3, WF, K1, "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "key field...", hashes::hdel),
    cmd!("hexists", 3, RF, K1, "hash", "2.0.0", "Determines whether a field exists in a hash.", "key field", hashes::hexists),
    cmd!("hlen", 2, RF, K1, "hash", "2.0.0", "Returns the number of fields in a hash.", "key", hashes::hlen),
    cmd!("hkeys", 2, R, K1, "hash", "2.0.0", "Returns all fields in a hash.", "key", hashes::hkeys),
    cmd!("hvals", 2, R, K1, "hash", "2.0.0", "Returns all values in a hash.", "key", hashes::hvals),
    cmd!("hincrby", 4, WDF, K1, "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "key field increment:integer", hashes::hincrby),
    cmd!("hincrbyfloat", 4, WDF, K1, "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "key field increment:double", hashes::hincrbyfloat),
    cmd!("hstrlen", 3, RF, K1, "hash", "3.2.0", "Returns the length of the value of a field.", "key field", hashes::hstrlen),
    cmd!("hscan", -3, R, K1, "hash", "2.8.0", "Iterates over fields and values of a hash.", "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]", hashes::hscan),
    cmd!("hrandfield", -2, R, K1, "hash", "6.2.0", "Returns one or more random fields from a hash.", "key [count:integer [WITHVALUES]]", hashes::hrandfield),
    // Lists
    cmd!("lpush", -3, WDF, K1, "list", "1.0.0", "Prepend one or multiple elements to a list", "key element...", lists::lpush),
    cmd!("rpush", -3, WDF, K1, "list", "1.0.0", "Append one or multiple elements to a list", "key element...", lists::rpush),
    cmd!("lpushx", -3, WDF, K1, "list", "2.2.0", "Prepend an element to a list, only if the list exists", "key element...", lists::lpushx),
    cmd!("rpushx", -3, WDF, K1, "list", "2.2.0", "Append an element to a list, only if the list exists", "key element...", lists::rpushx),
    cmd!("lpop", -2, WF, K1, "list", "1.0.0", "Remove and get the first elements in a list", "key [count:integer]", lists::lpop),
    cmd!("rpop", -2, WF, K1, "list", "1.0.0", "Remove and get the last elements in a list", "key [count:integer]", lists::rpop),
    cmd!("llen", 2, RF, K1, "list", "1.0.0", "Get the length of a list", "key", lists::llen),
    cmd!("lindex", 3, R, K1, "list", "1.0.0", "Get an element from a list by its index", "key index:integer", lists::lindex),
    cmd!("lrange", 4, R, K1, "list", "1.0.0", "Get a range of elements from a list", "key start:integer stop:integer", lists::lrange),
    cmd!("lpos", -3, R, K1, "list", "6.0.6", "Return the index of matching elements on a list", "key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]", lists::lpos),
    cmd!("lset", 4, WD, K1, "list", "1.0.0", "Set the value of an element in a list by its index", "key index:integer element", lists::lset),
    cmd!("linsert", 5, WD, K1, "list", "2.2.0", "Insert an element before or after another element in a list", "key BEFORE|AFTER pivot element", lists::linsert),
    cmd!("lrem", 4, W, K1, "list", "1.0.0", "Remove elements from a list", "key count:integer element", lists::lrem),
    cmd!("ltrim", 4, W, K1, "list", "1.0.0", "Trim a list to the specified range", "key start:integer stop:integer", lists::ltrim),
    cmd!("lmove", 5, WD, K12, "list", "6.2.0", "Pop an element from a list, push it to another list and return it", "source destination LEFT|RIGHT LEFT|RIGHT", lists::lmove),
    cmd!("rpoplpush", 3, WD, K12, "list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", "source destination", lists::rpoplpush),
    cmd!("lmpop", -4, WM, NK, "list", "7.0.0", "Pop elements from a list", "numkeys:integer key... LEFT|RIGHT [COUNT count:integer]", lists::lmpop),
    cmd!("blpop", -3, WB, KBLOCK, "list", "2.0.0", "Remove and get the first element in a list, or block until one is available", "key... timeout:double", lists::blpop),
    cmd!("brpop", -3, WB, KBLOCK, "list", "2.0.0", "Remove and get the last element in a list, or block until one is available", "key... timeout:double", lists::brpop),
    cmd!("blmpop", -5, WRITE | BLOCKING | MOVABLE | UNDECLARED, NK, "list", "7.0.0", "Pop elements from a list, or block until one is available", "timeout:double numkeys:integer key... LEFT|RIGHT [COUNT count:integer]", lists::blmpop),
    cmd!("blmove", 6, WB | DENYOOM, K12, "list", "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "source destination LEFT|RIGHT LEFT|RIGHT timeout:double", lists::blmove),
    cmd!("brpoplpush", 4, WB | DENYOOM, K12, "list", "2.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available", "source destination timeout:double", lists::brpoplpush),
    // Sets
    cmd!("sadd", -3, WDF, K1, "set", "1.0.0", "Add one or more members to a set", "key member...", sets::sadd),
    cmd!("srem", -3, WF, K1, "set", "1.0.0", "Remove one or more members from a set", "key member...", sets::srem),
    cmd!("sismember", 3, RF, K1, "set", "1.0.0", "Determine if a given value is a member of a set", "key member", sets::sismember),
    cmd!("smismember", -3, RF, K1, "set", "6.2.0", "Returns the membership associated with the given elements for a set", "key member...", sets::smismember),
    cmd!("smembers", 2, R, K1, "set", "1.0.0", "Get all the members in a set", "key", sets::smembers),
    cmd!("scard", 2, RF, K1, "set", "1.0.0", "Get the number of members in a set", "key", sets::scard),
    cmd!("spop", -2, WF, K1, "set", "1.0.0", "Remove and return one or multiple random members from a set", "key [count:integer]", sets::spop),
    cmd!("srandmember", -2, R, K1, "set", "1.0.0", "Get one or multiple random members from a set", "key [count:integer]", sets::srandmember),
    cmd!("smove", 4, WF, K12, "set", "1.0.0", "Move a member from one set to another", "source destination member", sets::smove),
    cmd!("sinter", -2, R, KALL, "set", "1.0.0", "Intersect multiple sets", "key...", sets::sinter),
    cmd!("sunion", -2, R, KALL, "set", "1.0.0", "Add multiple sets", "key...", sets::sunion),
    cmd!("sdiff", -2, R, KALL, "set", "1.0.0", "Subtract multiple sets", "key...", sets::sdiff),
    cmd!("sinterstore", -3, WD, KALL, "set", "1.0.0", "Intersect multiple sets and store the resulting set in a key", "destination key...", sets::sinterstore),
    cmd!("sunionstore", -3, WD, KALL, "set", "1.0.0", "Add multiple sets and store the resulting set in a key", "destination key...", sets::sunionstore),
    cmd!("sdiffstore", -3, WD, KALL, "set", "1.0.0", "Subtract multiple sets and store the resulting set in a key", "destination key...", sets::sdiffstore),
    cmd!("sintercard", -3, RM, NK, "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result", "numkeys:integer key... [LIMIT limit:integer]", sets::sintercard),
    cmd!("sscan", -3, R, K1, "set", "2.8.0", "Incrementally iterate Set elements", "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]", sets::sscan),
    // Sorted sets
    cmd!("zadd", -4, WDF, K1, "sorted-set", "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", "key [NX|XX] [GT|LT] [CH] [INCR] (score:double member)...", zsets::zadd),
    cmd!("zincrby", 4, WDF, K1, "sorted-set", "1.2.0", "Increment the score of a member in a sorted set", "key increment:integer member", zsets::zincrby),
    cmd!("zcard", 2, RF, K1, "sorted-set", "1.2.0", "Get the number of members in a sorted set", "key", zsets::zcard),
    cmd!("zscore", 3, RF, K1, "sorted-set", "1.2.0", "Get the score associated with the given member in a sorted set", "key member", zsets::zscore),
    cmd!("zmscore", -3, RF, K1, "sorted-set", "6.2.0", "Get the score associated with the given members in a sorted set", "key member...", zsets::zmscore),
    cmd!("zrank", 3, RF, K1, "sorted-set", "2.0.0", "Determine the index of a member in a sorted set", "key member", zsets::zrank),
    cmd!("zrevrank", 3, RF, K1, "sorted-set", "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", "key member", zsets::zrevrank),
    cmd!("zcount", 4, RF, K1, "sorted-set", "2.0.0", "Count the members in a sorted set with scores within the given values", "key min:double max:double", zsets::zcount),
    cmd!("zlexcount", 4, RF, K1, "sorted-set", "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", "key min max", zsets::zlexcount),
    cmd!("zrange", -4, R, K1, "sorted-set", "1.2.0", "Return a range of members in a sorted set", "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset:integer count:integer] [WITHSCORES]", zsets::zrange),
    cmd!("zrevrange", -4, R, K1, "sorted-set", "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", "key start:integer stop:integer [WITHSCORES]", zsets::zrevrange),
    cmd!("zrangebyscore", -4, R, K1, "sorted-set", "1.0.5", "Return a range of members in a sorted set, by score", "key min:double max:double [WITHSCORES] [LIMIT offset:integer count:integer]", zsets::zrangebyscore),
    cmd!("zrevrangebyscore", -4, R, K1, "sorted-set", "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", "key max:double min:double [WITHSCORES] [LIMIT offset:integer count:integer]", zsets::zrevrangebyscore),
    cmd!("zrangebylex", -4, R, K1, "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range", "key min max [LIMIT offset:integer count:integer]", zsets::zrangebylex),
    cmd!("zrevrangebylex", -4, R, K1, "sorted-set", "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", "key max min [LIMIT offset:integer count:integer]", zsets::zrevrangebylex),
    cmd!("zrangestore", -5, WD, K12, "sorted-set", "6.2.0", "Store a range of members from sorted set into another key", "dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset:integer count:integer]", zsets::zrangestore),
    cmd!("zrem", -3, WF, K1, "sorted-set", "1.2.0", "Remove one or more members from a sorted set", "key member...", zsets::zrem),
    cmd!("zremrangebyrank", 4, W, K1, "sorted-set", "2.0.0", "Remove all members in a sorted set within the given indexes", "key start:integer stop:integer", zsets::zremrangebyrank),
    cmd!("zremrangebyscore", 4, W, K1, "sorted-set", "1.2.0", "Remove all members in a sorted set within the given scores", "key min:double max:double", zsets::zremrangebyscore),
    cmd!("zremrangebylex", 4, W, K1, "sorted-set", "2.8.9", "Remove all members in a sorted set between the given lexicographical range", "key min max", zsets::zremrangebylex),
    cmd!("zpopmin", -2, WF, K1, "sorted-set", "5.0.0", "Remove and return members with the lowest scores in a sorted set", "key [count:integer]", zsets::zpopmin),
    cmd!("zpopmax", -2, WF, K1, "sorted-set", "5.0.0", "Remove and return members with the highest scores in a sorted set", "key [count:integer]", zsets::zpopmax),
    cmd!("zmpop", -4, WM, NK, "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set", "numkeys:integer key... MIN|MAX [COUNT count:integer]", zsets::zmpop),
    cmd!("bzpopmin", -3, WB | FAST, KBLOCK, "sorted-set", "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", "key... timeout:double", zsets::bzpopmin),
    cmd!("bzpopmax", -3, WB | FAST, KBLOCK, "sorted-set", "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", "key... timeout:double", zsets::bzpopmax),
    cmd!("bzmpop", -5, WRITE | BLOCKING | MOVABLE | UNDECLARED, NK, "sorted-set", "7.0.0", "Remove and return members with scores in a sorted set or block until one is available", "timeout:double numkeys:integer key... MIN|MAX [COUNT count:integer]", zsets::bzmpop),
    cmd!("zrandmember", -2, R, K1, "sorted-set", "6.2.0", "Get one or multiple random elements from a sorted set", "key [count:integer [WITHSCORES]]", zsets::zrandmember),
    cmd!("zscan", -3, R, K1, "sorted-set", "2.8.0", "Incrementally iterate sorted sets elements and associated scores", "key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]", zsets::zscan),
    cmd!("zunion", -3, RM, NK, "sorted-set", "6.2.0", "Add multiple sorted sets", "numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]", zsets::zunion),
    cmd!("zinter", -3, RM, NK, "sorted-set", "6.2.0", "Intersect multiple sorted sets", "numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]", zsets::zinter),
    cmd!("zdiff", -3, RM, NK, "sorted-set", "6.2.0", "Subtract multiple sorted sets", "numkeys:integer key... [WITHSCORES]", zsets::zdiff),
    cmd!("zunionstore", -4, WD | MOVABLE | UNDECLARED, K1, "sorted-set", "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX]", zsets::zunionstore),
    cmd!("zinterstore", -4, WD | MOVABLE | UNDECLARED, K1, "sorted-set", "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE SUM|MIN|MAX]", zsets::zinterstore),
    cmd!("zdiffstore", -4, WD | MOVABLE | UNDECLARED, K1, "sorted-set", "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", "destination numkeys:integer key...", zsets::zdiffstore),
    cmd!("zintercard", -3, RM, NK, "sorted-set", "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", "numkeys:integer key... [LIMIT limit:integer]", zsets::zintercard),
    // Keyspace
    cmd!("del", -2, W, KALL, "generic", "1.0.0", "Deletes one or more keys.", "key...", keys::del),
    cmd!("unlink", -2, WF, KALL, "generic", "4.0.0", "Asynchronously deletes one or more keys.", "key...", keys::del),
    cmd!("exists", -2, RF, KALL, "generic", "1.0.0", "Determines whether one or more keys exist.", "key...", keys::exists),
    cmd!("type", 2, RF, K1, "generic", "1.0.0", "Determines the type of value stored at a key.", "key", keys::type_),
    cmd!("keys", 2, R | UNDECLARED, NK, "generic", "1.0.0", "Returns all key names that match a pattern.", "pattern:pattern", keys::keys),
    cmd!("scan", -2, R | UNDECLARED, NK, "generic", "2.8.0", "Iterates over the key names in the database.", "cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type]", keys::scan),
    cmd!("randomkey", 1, R | UNDECLARED, NK, "generic", "1.0.0", "Returns a random key name from the database.", "", keys::randomkey),
    cmd!("move", 3, WF | OTHER_DB, K1, "generic", "1.0.0", "Moves a key to another database.", "key db:integer", keys::move_key),
    cmd!("swapdb", 3, WF | EXCLUSIVE | UNDECLARED, NK, "server", "4.0.0", "Swaps two Redis databases.", "index1:integer index2:integer", keys::swapdb),
    cmd!("rename", 3, W, K12, "generic", "1.0.0", "Renames a key and overwrites the destination.", "key newkey", keys::rename),
    cmd!("renamenx", 3, WF, K12, "generic", "1.0.0", "Renames a key only when the target key name doesn't exist.", "key newkey", keys::renamenx),
    cmd!("copy", -3, WD | OTHER_DB, K12, "generic", "6.2.0", "Copies the value of a key to a new key.", "source destination [DB destination-db:integer] [REPLACE]", keys::copy),
    cmd!("dump", 2, R, K1, "generic", "2.6.0", "Return a serialized version of the value stored at the specified key.", "key", migrate::dump),
    cmd!("restore", -4, WD, K1, "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.", "key ttl:integer serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds:integer] [FREQ frequency:integer]", migrate::restore),
    cmd!("restore-asking", -4, WD | ASKING, K1, "server", "3.0.0", "An internal command for migrating keys in a cluster", "key ttl:integer serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds:integer] [FREQ frequency:integer]", migrate::restore),
    cmd!("migrate", -6, W | MOVABLE | UNDECLARED, (3, 3, 1), "generic", "2.6.0", "Atomically transfer a key from a Redis instance to another one.", "host port key|\"\" destination-db:integer timeout:integer [COPY] [REPLACE] [AUTH password | AUTH2 username password] [KEYS key...]", migrate::migrate),
    cmd!("touch", -2, RF, KALL, "generic", "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "key...", keys::touch),
    cmd!("xadd", -5, WDF, K1, "stream", "5.0.0", "Appends a new entry to a stream", "key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count:integer]] *|id field value [field value ...]", streams::xadd),
    cmd!("xrange", -4, R, K1, "stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval", "key start end [COUNT count:integer]", streams::xrange),
    cmd!("xrevrange", -4, R, K1, "stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", "key end start [COUNT count:integer]", streams::xrevrange),
    cmd!("xlen", 2, RF, K1, "stream", "5.0.0", "Return the number of entries in a stream", "key", streams::xlen),
    cmd!("xdel", -3, WF, K1, "stream", "5.0.0", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", "key id...", streams::xdel),
    cmd!("xtrim", -4, W, K1, "stream", "5.0.0", "Trims the stream to (approximately if '~' is passed) a certain size", "key MAXLEN|MINID [=|~] threshold [LIMIT count:integer]", streams::xtrim),
    cmd!("xsetid", -3, WDF, K1, "stream", "5.0.0", "An internal command for replicating stream values", "key last-id [ENTRIESADDED entries-added:integer] [MAXDELETEDID max-deleted-id]", streams::xsetid),
    cmd!("xread", -4, READONLY | BLOCKING | MOVABLE | UNDECLARED, NK, "stream", "5.0.0", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", "[COUNT count:integer] [BLOCK milliseconds:integer] STREAMS key... id...", streams::xread),
    cmd!("xreadgroup", -7, WRITE | BLOCKING | MOVABLE | UNDECLARED, NK, "stream", "5.0.0", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", "GROUP group consumer [COUNT count:integer] [BLOCK milliseconds:integer] [NOACK] STREAMS key... id...", streams::xreadgroup),
    cmd!("xack", -4, WF, K1, "stream", "5.0.0", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", "key group id...", streams::xack),
    cmd!("xpending", -3, R, K1, "stream", "5.0.0", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", "key group [[IDLE min-idle-time:integer] start end count:integer [consumer]]", streams::xpending),
    cmd!("xclaim", -6, WF, K1, "stream", "5.0.0", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", "key group consumer min-idle-time id... [IDLE ms:integer] [TIME unix-time-milliseconds:integer] [RETRYCOUNT count:integer] [FORCE] [JUSTID] [LASTID lastid]", streams::xclaim),
    cmd!("xautoclaim", -6, WF, K1, "stream", "6.2.0", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", "key group consumer min-idle-time start [COUNT count:integer] [JUSTID]", streams::xautoclaim),
    cmd!("xgroup", -2, 0, NK, "stream", "5.0.0", "A container for consumer groups commands", "", streams::xgroup, &[
        cmd!("xgroup|create", -5, WD, (2, 2, 1), "stream", "5.0.0", "Create a consumer group.", "key group id|$ [MKSTREAM] [ENTRIESREAD entries-read:integer]", streams::xgroup),
        cmd!("xgroup|setid", -5, W, (2, 2, 1), "stream", "5.0.0", "Set a consumer group to an arbitrary last delivered ID value.", "key group id|$ [ENTRIESREAD entries-read:integer]", streams::xgroup),
        cmd!("xgroup|destroy", 4, W, (2, 2, 1), "stream", "5.0.0", "Destroy a consumer group.", "key group", streams::xgroup),
        cmd!("xgroup|createconsumer", 5, WD, (2, 2, 1), "stream", "6.2.0", "Create a consumer in a consumer group.", "key group consumer", streams::xgroup),
        cmd!("xgroup|delconsumer", 5, W, (2, 2, 1), "stream", "5.0.0", "Delete a consumer from a consumer group.", "key group consumer", streams::xgroup),
        cmd!("xgroup|help", 2, LOADING | STALE, NK, "stream", "5.0.0", "Show helpful text about the different subcommands", "", streams::xgroup),
    ]),
    cmd!("xinfo", -2, 0, NK, "stream", "5.0.0", "A container for stream introspection commands", "", streams::xinfo, &[
        cmd!("xinfo|stream", -3, R, (2, 2, 1), "stream", "5.0.0", "Get information about a stream", "key [FULL [COUNT count:integer]]", streams::xinfo),
        cmd!("xinfo|groups", 3, R, (2, 2, 1), "stream", "5.0.0", "List the consumer groups of a stream", "key", streams::xinfo),
        cmd!("xinfo|consumers", 4, R, (2, 2, 1), "stream", "5.0.0", "List the consumers in a consumer group", "key group", streams::xinfo),
        cmd!("xinfo|help", 2, LOADING | STALE, NK, "stream", "5.0.0", "Show helpful text about the different subcommands", "", streams::xinfo),
    ]),
    cmd!("object", -2, 0, NK, "generic", "2.2.3", "A container for object introspection commands.", "", keys::object_help, &[
        cmd!("object|encoding", 3, R, (2, 2, 1), "generic", "2.2.3", "Returns the internal encoding of a Redis object.", "key", keys::object_encoding),
        cmd!("object|freq", 3, R, (2, 2, 1), "generic", "4.0.0", "Returns the logarithmic access frequency counter of a Redis object.", "key", keys::object_freq),
        cmd!("object|idletime", 3, R, (2, 2, 1), "generic", "2.2.3", "Returns the time since the last access to a Redis object.", "key", keys::object_idletime),
        cmd!("object|refcount", 3, R, (2, 2, 1), "generic", "2.2.3", "Returns the reference count of a value of a key.", "key", keys::object_refcount),
        cmd!("object|help", 2, LOADING | STALE, NK, "generic", "6.2.0", "Returns helpful text about the different subcommands.", "", keys::object_help),
    ]),
    cmd!("dbsize", 1, RF | UNDECLARED, NK, "server", "1.0.0", "Returns the number of keys in the database.", "", keys::dbsize),
    cmd!("flushdb", -1, W | EXCLUSIVE | UNDECLARED, NK, "server", "1.0.0", "Removes all keys from the current database.", "[ASYNC|SYNC]", keys::flush),
    cmd!("flushall", -1, W | EXCLUSIVE | UNDECLARED, NK, "server", "1.0.0", "Removes all keys from all databases.", "[ASYNC|SYNC]", keys::flush),
    // Expiry
    cmd!("expire", -3, WF, K1, "generic", "1.0.0", "Sets the expiration time of a key in seconds.", "key seconds:integer [NX|XX|GT|LT]", expiry::expire),
    cmd!("pexpire", -3, WF, K1, "generic", "2.6.0", "Sets the expiration time of a key in milliseconds.", "key milliseconds:integer [NX|XX|GT|LT]", expiry::pexpire),
    cmd!("expireat", -3, WF, K1, "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp.", "key unix-time-seconds:unix-time [NX|XX|GT|LT]", expiry::expireat),
    cmd!("pexpireat", -3, WF, K1, "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp.", "key unix-time-milliseconds:unix-time [NX|XX|GT|LT]", expiry::pexpireat),
    cmd!("ttl", 2, RF, K1, "generic", "1.0.0", "Returns the expiration time in seconds of a key.", "key", expiry::ttl),
    cmd!("pttl", 2, RF, K1, "generic", "2.6.0", "Returns the expiration time in milliseconds of a key.", "key", expiry::pttl),
    cmd!("expiretime", 2, RF, K1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp.", "key", expiry::expiretime),
    cmd!("pexpiretime", 2, RF, K1, "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp.", "key", expiry::pexpiretime),
    cmd!("persist", 2, WF, K1, "generic", "2.2.0", "Removes the expiration time of a key.", "key", expiry::persist),
    // Transactions
    cmd!("multi", 1, NOSCRIPT | LOADING | STALE | FAST | NO_QUEUE | ALLOW_BUSY, NK, "transactions", "1.2.0", "Starts a transaction.", "", txn::multi),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | NO_QUEUE | EXEC, NK, "transactions", "1.2.0", "Executes all commands in a transaction.", "", txn::exec),
    cmd!("discard", 1, NOSCRIPT | LOADING | STALE | FAST | NO_QUEUE | ALLOW_BUSY, NK, "transactions", "2.0.0", "Discards a transaction.", "", txn::discard_cmd),
    cmd!("watch", -2, NOSCRIPT | LOADING | STALE | FAST | NO_QUEUE, KALL, "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction.", "key...", txn::watch),
    cmd!("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NK, "transactions", "2.2.0", "Forgets about watched keys of a transaction.", "", txn::unwatch),
    // Scripting
    cmd!("eval", -3, NOSCRIPT | STALE | EXCLUSIVE | UNDECLARED, NK, "scripting", "2.6.0", "Executes a server-side Lua script.", "script numkeys:integer [key...] [arg...]", script::eval),
    cmd!("evalsha", -3, NOSCRIPT | STALE | EXCLUSIVE | UNDECLARED, NK, "scripting", "2.6.0", "Executes a server-side Lua script by SHA1 digest.", "sha1 numkeys:integer [key...] [arg...]", script::evalsha),
    cmd!("eval_ro", -3, NOSCRIPT | STALE | READONLY | EXCLUSIVE | UNDECLARED, NK, "scripting", "7.0.0", "Executes a read-only server-side Lua script.", "script numkeys:integer [key...] [arg...]", script::eval_ro),
    cmd!("evalsha_ro", -3, NOSCRIPT | STALE | READONLY | EXCLUSIVE | UNDECLARED, NK, "scripting", "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest.", "sha1 numkeys:integer [key...] [arg...]", script::evalsha_ro),
    cmd!("script", -2, 0, NK, "scripting", "2.6.0", "A container for Lua scripts management commands.", "", script::script_help, &[
        cmd!("script|load", 3, NOSCRIPT | STALE, NK, "scripting", "2.6.0", "Loads a server-side Lua script to the script cache.", "script", script::script_load),
        cmd!("script|exists", -3, NOSCRIPT, NK, "scripting", "2.6.0", "Determines whether server-side Lua scripts exist in the script cache.", "sha1...", script::script_exists),
        cmd!("script|flush", -2, NOSCRIPT, NK, "scripting", "2.6.0", "Removes all server-side Lua scripts from the script cache.", "[ASYNC|SYNC]", script::script_flush),
        cmd!("script|kill", 2, NOSCRIPT | ALLOW_BUSY, NK, "scripting", "2.6.0", "Terminates a server-side Lua script during execution.", "", script::script_kill),
        cmd!("script|help", 2, LOADING | STALE, NK, "scripting", "5.0.0", "Returns helpful text about the different subcommands.", "", script::script_help),
    ]),
    // Pub/Sub
    cmd!("subscribe", -2, NOSCRIPT | LOADING | STALE, NK, "pubsub", "2.0.0", "Listens for messages published to channels.", "channel...", pubsub::subscribe_cmd),
    cmd!("unsubscribe", -1, NOSCRIPT | LOADING | STALE, NK, "pubsub", "2.0.0", "Stops listening to messages posted to channels.", "[channel...]", pubsub::unsubscribe_cmd),
    cmd!("psubscribe", -2, NOSCRIPT | LOADING | STALE, NK, "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns.", "pattern...", pubsub::psubscribe),
    cmd!("punsubscribe", -1, NOSCRIPT | LOADING | STALE, NK, "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns.", "[pattern...]", pubsub::punsubscribe),
    cmd!("ssubscribe", -2, NOSCRIPT | LOADING | STALE, KALL, "pubsub", "7.0.0", "Listens for messages published to shard channels.", "shardchannel...", pubsub::ssubscribe),
    cmd!("sunsubscribe", -1, NOSCRIPT | LOADING | STALE, KALL, "pubsub", "7.0.0", "Stops listening to messages posted to shard channels.", "[shardchannel...]", pubsub::sunsubscribe),
    cmd!("publish", 3, LOADING | STALE | FAST | PROPAGATE, NK, "pubsub", "2.0.0", "Posts a message to a channel.", "channel message", pubsub::publish),
    cmd!("spublish", 3, LOADING | STALE | FAST, K1, "pubsub", "7.0.0", "Post a message to a shard channel", "shardchannel message", pubsub::spublish),
    cmd!("pubsub", -2, 0, NK, "pubsub", "2.8.0", "A container for Pub/Sub commands.", "", pubsub::pubsub_help, &[
        cmd!("pubsub|channels", -2, LOADING | STALE, NK, "pubsub", "2.8.0", "Returns the active channels.", "[pattern:pattern]", pubsub::pubsub_channels),
        cmd!("pubsub|numsub", -2, LOADING | STALE, NK, "pubsub", "2.8.0", "Returns a count of subscribers to channels.", "[channel...]", pubsub::pubsub_numsub),
        cmd!("pubsub|numpat", 2, LOADING | STALE, NK, "pubsub", "2.8.0", "Returns a count of unique pattern subscriptions.", "", pubsub::pubsub_numpat),
        cmd!("pubsub|shardchannels", -2, LOADING | STALE, NK, "pubsub", "7.0.0", "Returns the active shard channels.", "[pattern:pattern]", pubsub::pubsub_shardchannels),
        cmd!("pubsub|shardnumsub", -2, LOADING | STALE, NK, "pubsub", "7.0.0", "Returns the count of subscribers of shard channels.", "[shardchannel...]", pubsub::pubsub_shardnumsub),
        cmd!("pubsub|help", 2, LOADING | STALE, NK, "pubsub", "6.2.0", "Returns helpful text about the different subcommands.", "", pubsub::pubsub_help),
    ]),
    // Connection
    cmd!("ping", -1, FAST | STALE, NK, "connection", "1.0.0", "Returns the server's liveliness response.", "[message]", conn::ping),
    cmd!("echo", 2, FAST | STALE | LOADING, NK, "connection", "1.0.0", "Returns the given string.", "message", conn::echo),
    cmd!("quit", -1, NO_AUTH | FAST | STALE | LOADING | NO_QUEUE | ALLOW_BUSY, NK, "connection", "1.0.0", "Closes the connection.", "", conn::quit),
    cmd!("reset", 1, NO_AUTH | FAST | STALE | LOADING | NO_QUEUE | ALLOW_BUSY, NK, "connection", "6.2.0", "Resets the connection.", "", conn::reset),
    cmd!("hello", -1, NO_AUTH | FAST | STALE | LOADING | ALLOW_BUSY, NK, "connection", "6.0.0", "Handshakes with the Redis server.", "[protover:integer [AUTH username password] [SETNAME clientname]]", conn::hello),
    cmd!("auth", -2, NO_AUTH | FAST | STALE | LOADING | ALLOW_BUSY, NK, "connection", "1.0.0", "Authenticates the connection.", "[username] password", conn::auth),
    cmd!("select", 2, FAST | STALE | LOADING | UNDECLARED, NK, "connection", "1.0.0", "Changes the selected database.", "index:integer", conn::select),
    cmd!("client", -2, 0, NK, "connection", "2.4.0", "A container for client connection commands.", "", conn::client_help, &[
        cmd!("client|id", 2, STALE | LOADING, NK, "connection", "5.0.0", "Returns the unique client ID of the connection.", "", conn::client_id),
        cmd!("client|getname", 2, STALE | LOADING, NK, "connection", "2.6.9", "Returns the name of the connection.", "", conn::client_getname),
        cmd!("client|setname", 3, STALE | LOADING, NK, "connection", "2.6.9", "Sets the connection name.", "connection-name", conn::client_setname),
        cmd!("client|info", 2, STALE | LOADING, NK, "connection", "6.2.0", "Returns information about the connection.", "", conn::client_info),
        cmd!("client|list", -2, ADMIN | STALE | LOADING, NK, "connection", "2.4.0", "Lists open connections.", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id:integer...]", conn::client_list),
        cmd!("client|setinfo", 4, STALE | LOADING, NK, "connection", "7.2.0", "Sets information specific to the client or connection.", "LIB-NAME libname|LIB-VER libver", conn::client_setinfo),
        cmd!("client|kill", -3, ADMIN | STALE | LOADING, NK, "connection", "2.4.0", "Terminates open connections.", "ip:port|(ID client-id:integer|ADDR ip:port|LADDR ip:port|SKIPME yes-no|TYPE type|USER username)...", conn::client_kill),
        cmd!("client|no-evict", 3, ADMIN | STALE | LOADING, NK, "connection", "7.0.0", "Sets the client eviction mode of the connection.", "ON|OFF", conn::client_no_evict),
        cmd!("client|unblock", -3, NOSCRIPT | LOADING | STALE, NK, "connection", "5.0.0", "Unblock a client blocked in a blocking command from a different connection", "client-id:integer [TIMEOUT|ERROR]", conn::client_unblock),
        cmd!("client|no-touch", 3, STALE | LOADING, NK, "connection", "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", "ON|OFF", conn::client_no_touch),
        cmd!("client|reply", 3, STALE | LOADING, NK, "connection", "3.2.0", "Instructs the server whether to reply to commands.", "ON|OFF|SKIP", conn::client_reply),
        cmd!("client|tracking", -3, NOSCRIPT | LOADING | STALE, NK, "connection", "6.0.0", "Controls server-assisted client-side caching for the connection.", "ON|OFF [REDIRECT client-id:integer] [PREFIX prefix [PREFIX prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]", tracking::client_tracking),
        cmd!("client|caching", 3, NOSCRIPT | LOADING | STALE, NK, "connection", "6.0.0", "Instructs the server whether to track the keys in the next request.", "YES|NO", tracking::client_caching),
        cmd!("client|getredir", 2, NOSCRIPT | LOADING | STALE, NK, "connection", "6.0.0", "Returns the client ID to which the connection's tracking notifications are redirected.", "", tracking::client_getredir),
        cmd!("client|trackinginfo", 2, NOSCRIPT | LOADING | STALE, NK, "connection", "6.2.0", "Returns information about server-assisted client-side caching for the connection.", "", tracking::client_trackinginfo),
        cmd!("client|help", 2, STALE | LOADING, NK, "connection", "5.0.0", "Returns helpful text about the different subcommands.", "", conn::client_help),
    ]),
    // Replication
    cmd!("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, NK, "server", "3.0.0", "An internal command for configuring the replication stream.", "", replication::replconf),
    cmd!("psync", 3, NOSCRIPT | NO_MULTI, NK, "server", "2.8.0", "An internal command used in replication.", "replicationid offset:integer", replication::psync),
    cmd!("sync", 1, NOSCRIPT | NO_MULTI, NK, "server", "1.0.0", "An internal command used in replication.", "", replication::sync),
    cmd!("replicaof", 3, ADMIN | NOSCRIPT | STALE, NK, "server", "5.0.0", "Configures a server as replica of another, or promotes it to a master.", "host port", replication::replicaof),
    cmd!("slaveof", 3, ADMIN | NOSCRIPT | STALE, NK, "server", "1.0.0", "Sets a Redis server as a replica of another, or promotes it to being a master.", "host port", replication::replicaof),
    cmd!("wait", 3, NOSCRIPT, NK, "generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "numreplicas:integer timeout:integer", replication::wait),
    cmd!("role", 1, NOSCRIPT | LOADING | STALE | FAST, NK, "server", "2.8.12", "Returns the replication role.", "", replication::role),
    cmd!("cluster", -2, 0, NK, "cluster", "3.0.0", "A container for cluster commands.", "", cluster::help, &[
        cmd!("cluster|addslots", -3, ADMIN | STALE, NK, "cluster", "3.0.0", "Assign new hash slots to receiving node.", "slot [slot ...]", cluster::addslots),
        cmd!("cluster|addslotsrange", -4, ADMIN | STALE, NK, "cluster", "7.0.0", "Assign new hash slots to receiving node.", "start-slot end-slot [start-slot end-slot ...]", cluster::addslotsrange),
        cmd!("cluster|bumpepoch", 2, ADMIN | STALE, NK, "cluster", "3.0.0", "Advance the cluster config epoch.", "", cluster::bumpepoch),
        cmd!("cluster|count-failure-reports", 3, ADMIN | STALE, NK, "cluster", "3.0.0", "Return the number of failure reports active for a given node.", "node-id", cluster::count_failure_reports),
        cmd!("cluster|countkeysinslot", 3, STALE, NK, "cluster", "3.0.0", "Return the number of local keys in the specified hash slot.", "slot", cluster::countkeysinslot),
        cmd!("cluster|delslots", -3, ADMIN | STALE, NK, "cluster", "3.0.0", "Set hash slots as unbound in receiving node.", "slot [slot ...]", cluster::addslots),
        cmd!("cluster|delslotsrange", -4, ADMIN | STALE, NK, "cluster", "7.0.0", "Set hash slots as unbound in receiving node.", "start-slot end-slot [start-slot end-slot ...]", cluster::addslotsrange),
        cmd!("cluster|failover", -2, ADMIN | STALE, NK, "cluster", "3.0.0", "Forces a replica to perform a manual failover of its master.", "[<force | takeover>]", cluster::failover),
        cmd!("cluster|flushslots", 2, ADMIN | STALE, NK, "cluster", "3.0.0", "Delete a node's own slots information.", "", cluster::flushslots),
        cmd!("cluster|forget", 3, ADMIN | STALE, NK, "cluster", "3.0.0", "Remove a node from the nodes table.", "node-id", cluster::forget),
        cmd!("cluster|getkeysinslot", 4, STALE, NK, "cluster", "3.0.0", "Return local key names in the specified hash slot.", "slot count", cluster::getkeysinslot),
        cmd!("cluster|help", 2, LOADING | STALE, NK, "cluster", "5.0.0", "Show helpful text about the different subcommands.", "", cluster::help),
        cmd!("cluster|info", 2, STALE, NK, "cluster", "3.0.0", "Provides info about Redis Cluster node state.", "", cluster::info),
        cmd!("cluster|keyslot", 3, STALE, NK, "cluster", "3.0.0", "Returns the hash slot of the specified key.", "key", cluster::keyslot),
        cmd!("cluster|links", 2, STALE, NK, "cluster", "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster.", "", cluster::links),
        cmd!("cluster|meet", -4, ADMIN | STALE, NK, "cluster", "3.0.0", "Force a node cluster to handshake with another node.", "ip port [cluster_bus_port]", cluster::meet),
        cmd!("cluster|myid", 2, STALE, NK, "cluster", "3.0.0", "Return the node id.", "", cluster::myid),
        cmd!("cluster|nodes", 2, STALE, NK, "cluster", "3.0.0", "Get Cluster config for the node.", "", cluster::nodes),
        cmd!("cluster|replicas", 3, ADMIN | STALE, NK, "cluster", "5.0.0", "List replica nodes of the specified master node.", "node-id", cluster::replicas),
        cmd!("cluster|replicate", 3, ADMIN | STALE, NK, "cluster", "3.0.0", "Reconfigure a node as a replica of the specified master node.", "node-id", cluster::replicate),
        cmd!("cluster|reset", -2, ADMIN | STALE | NOSCRIPT, NK, "cluster", "3.0.0", "Reset a Redis Cluster node.", "[<hard | soft>]", cluster::reset),
        cmd!("cluster|saveconfig", 2, ADMIN | STALE, NK, "cluster", "3.0.0", "Forces the node to save cluster state on disk.", "", cluster::saveconfig),
        cmd!("cluster|set-config-epoch", 3, ADMIN | STALE, NK, "cluster", "3.0.0", "Set the configuration epoch in a new node.", "config-epoch", cluster::set_config_epoch),
        cmd!("cluster|setslot", -4, ADMIN | STALE, NK, "cluster", "3.0.0", "Bind a hash slot to a specific node.", "slot <importing | migrating | node | stable>", cluster::setslot),
        cmd!("cluster|shards", 2, STALE, NK, "cluster", "7.0.0", "Get array of cluster slots to node mappings.", "", cluster::shards),
        cmd!("cluster|slaves", 3, ADMIN | STALE, NK, "cluster", "3.0.0", "List replica nodes of the specified master node.", "node-id", cluster::replicas),
        cmd!("cluster|slots", 2, STALE, NK, "cluster", "3.0.0", "Get array of Cluster slot to node mappings.", "", cluster::slots),
    ]),
    cmd!("asking", 1, FAST, NK, "cluster", "3.0.0", "Sent by cluster clients after an -ASK redirect.", "", cluster::asking),
    cmd!("readonly", 1, FAST | LOADING | STALE, NK, "cluster", "3.0.0", "Enables read queries for a connection to a cluster replica node.", "", cluster::readonly),
    cmd!("readwrite", 1, FAST | LOADING | STALE, NK, "cluster", "3.0.0", "Disables read queries for a connection to a cluster replica node.", "", cluster::readwrite),
    // Server
    cmd!("info", -1, LOADING | STALE | UNDECLARED, NK, "server", "1.0.0", "Returns information and statistics about the server.", "[section...]", admin::info),
    cmd!("config", -2, 0, NK, "server", "2.0.0", "A container for server configuration commands.", "", admin::config_help, &[
        cmd!("config|get", -3, ADMIN | NOSCRIPT | LOADING | STALE, NK, "server", "2.0.0", "Returns the effective values of configuration parameters.", "parameter...", admin::config_get),
        cmd!("config|set", -4, ADMIN | NOSCRIPT | LOADING | STALE, NK, "server", "2.0.0", "Sets configuration parameters in-flight.", "(parameter value)...", admin::config_set),
        cmd!("config|resetstat", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, "server", "2.0.0", "Resets the server's statistics.", "", admin::config_resetstat),
        cmd!("config|rewrite", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, "server", "2.8.0", "Persists the effective configuration to file.", "", admin::config_rewrite),
        cmd!("config|help", 2, LOADING | STALE, NK, "server", "5.0.0", "Returns helpful text about the different subcommands.", "", admin::config_help),
    ]),
    cmd!("command", -1, LOADING | STALE, NK, "server", "2.8.13", "Returns detailed information about all commands.", "", introspect::command, &[
        cmd!("command|count", 2, LOADING | STALE, NK, "server", "2.8.13", "Returns a count of commands.", "", introspect::command_count),
        cmd!("command|info", -2, LOADING | STALE, NK, "server", "2.8.13", "Returns information about one, multiple or all commands.", "[command-name...]", introspect::command_info),
        cmd!("command|docs", -2, LOADING | STALE, NK, "server", "7.0.0", "Returns documentary information about one, multiple or all commands.", "[command-name...]", introspect::command_docs),
        cmd!("command|list", -2, LOADING | STALE, NK, "server", "7.0.0", "Returns a list of command names.", "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern:pattern]", introspect::command_list),
        cmd!("command|getkeys", -4, LOADING | STALE, NK, "server", "2.8.13", "Extracts the key names from an arbitrary command.", "command arg...", introspect::command_getkeys),
        cmd!("command|help", 2, LOADING | STALE, NK, "server", "5.0.0", "Returns helpful text about the different subcommands.", "", introspect::command_help),
    ]),
    cmd!("time", 1, LOADING | STALE | FAST, NK, "server", "2.6.0", "Returns the server time.", "", admin::time),
    cmd!("memory", -2, 0, NK, "server", "4.0.0", "A container for memory diagnostics commands.", "", admin::memory_help, &[
        cmd!("memory|usage", -3, R, (2, 2, 1), "server", "4.0.0", "Estimates the memory usage of a key.", "key [SAMPLES count:integer]", admin::memory_usage),
        cmd!("memory|doctor", 2, UNDECLARED, NK, "server", "4.0.0", "Outputs a memory problems report.", "", admin::memory_doctor),
        cmd!("memory|help", 2, LOADING | STALE, NK, "server", "4.0.0", "Returns helpful text about the different subcommands.", "", admin::memory_help),
    ]),
    cmd!("slowlog", -2, 0, NK, "server", "2.2.12", "A container for slow log commands.", "", admin::slowlog_help, &[
        cmd!("slowlog|get", -2, ADMIN | LOADING | STALE, NK, "server", "2.2.12", "Returns the slow log's entries.", "[count:integer]", admin::slowlog_get),
        cmd!("slowlog|len", 2, ADMIN | LOADING | STALE, NK, "server", "2.2.12", "Returns the number of entries in the slow log.", "", admin::slowlog_len),
        cmd!("slowlog|reset", 2, ADMIN | LOADING | STALE, NK, "server", "2.2.12", "Clears all entries from the slow log.", "", admin::slowlog_reset),
        cmd!("slowlog|help", 2, LOADING | STALE, NK, "server", "6.2.0", "Show helpful text about the different subcommands", "", admin::slowlog_help),
    ]),
    cmd!("save", 1, ADMIN | NOSCRIPT | EXCLUSIVE | NO_MULTI, NK, "server", "1.0.0", "Synchronously saves the database(s) to disk.", "", persistence::save),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT | EXCLUSIVE, NK, "server", "1.0.0", "Asynchronously saves the database(s) to disk.", "[SCHEDULE]", persistence::bgsave),
    cmd!("lastsave", 1, LOADING | STALE | FAST, NK, "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", "", persistence::lastsave),
    cmd!("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, NK, "server", "1.0.0", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]", admin::shutdown),
];

/// Lookup structures built once from [`COMMANDS`].
pub struct CommandTable {
    all: Vec<&'static CommandSpec>,
    top: HashMap<&'static [u8], usize>,
    subs: HashMap<usize, Vec<(&'static [u8], usize)>>,
    unknown: CommandSpec,
}

fn noop(_: &mut Ctx, _: &[&[u8]]) -> CmdResult {
    Ok(())
}

impl CommandTable {
    pub fn get() -> &'static CommandTable {
        static TABLE: OnceLock<CommandTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            let mut t = CommandTable {
                all: Vec::new(),
                top: HashMap::new(),
                subs: HashMap::new(),
                unknown: cmd!("unknown", -1, 0, NK, "server", "", "", "", noop),
            };
            for spec in COMMANDS {
                let id = t.all.len();
                t.all.push(spec);
                t.top.insert(spec.name.as_bytes(), id);
                for sub in spec.subcommands {
                    let sid = t.all.len();
                    t.all.push(sub);
                    t.subs
                        .entry(id)
                        .or_default()
                        .push((sub.short_name().as_bytes(), sid));
                }
            }
            t
        })
    }

    /// Finds a top-level command by name, case-insensitively, without allocating.
    #[inline]
    pub fn lookup(&self, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 24];
        let lower = lowercase(name, &mut buf)?;
        self.top.get(lower).copied()
    }

    pub fn lookup_sub(&self, parent: usize, name: &[u8]) -> Option<usize> {
        let mut buf = [0u8; 24];
        let lower = lowercase(name, &mut buf)?;
        self.subs
            .get(&parent)?
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|&(_, id)| id)
    }

    pub fn spec(&self, id: usize) -> &'static CommandSpec {
        self.all[id]
    }

    pub fn unknown(&self) -> &'static CommandSpec {
        &CommandTable::get().unknown
    }

    /// Every command and subcommand, in table order.
    pub fn all(&self) -> &[&'static CommandSpec] {
        &self.all
    }

    /// Top-level commands only.
    pub fn top_level(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        COMMANDS.iter()
    }
}

fn lowercase<'a>(name: &[u8], buf: &'a mut [u8; 24]) -> Option<&'a [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        let t = CommandTable::get();
        assert_eq!(t.spec(t.lookup(b"GeT").unwrap()).name, "get");
        assert!(t.lookup(b"nosuchcommand").is_none());
        let cfg = t.lookup(b"config").unwrap();
        assert_eq!(
            t.spec(t.lookup_sub(cfg, b"GET").unwrap()).name,
            "config|get"
        );
    }

    #[test]
    fn every_syntax_parses() {
        for spec in CommandTable::get().all() {
            super::super::docs::parse_syntax(spec.syntax)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        }
    }
}
