"""Differential test: the same seeded command stream against redis-server
and Redistill, replies compared after normalising order-free replies.

The stream includes transactions (MULTI/EXEC/DISCARD/WATCH, interleaved
from two clients in lockstep mode, so one client's writes invalidate the
other's WATCH), databases 0-3 (SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB)
and Lua scripts (EVAL/EVALSHA/EVAL_RO, script errors,
Lua <-> RESP conversions).

Usage: differential.py REDISTILL_PORT REDIS_PORT [--commands N] [--seed S]
Prints every mismatch with its seed and recent history; exits 1 on any.
"""
import argparse
import os
import collections
import hashlib
import random
import sys
import time

from resp import Conn, Err, encode

KEYS = ["k%d" % i for i in range(40)] + ["", "key with space", "k\r\nx", "{tag}a", "\x00bin"]
FIELDS = ["f%d" % i for i in range(16)] + ["", "long" * 20]
INT_EDGES = ["9223372036854775807", "-9223372036854775808", "9223372036854775806",
             "-9223372036854775807", "4611686018427387904"]
VALUES = ["", "0", "-0", "01", "+1", " 1", "1 ", "1", "-1", "10", "123", "0.1", "1e15", "1e3",
          "inf", "-inf", "nan", "3.0e3", "-5.5", "10.50", "abc", "hello world", "\r\n\x00x",
          "x" * 45, "y" * 100] + INT_EDGES
FLOATS = ["0.1", "-0.1", "1.5", "1e3", "3.0e3", "-2", "10", "abc", "", "inf", "-inf", "nan",
          "1e15", "5.0e-3", " 1", "0x10", "1e400"]
INTS = ["0", "1", "-1", "5", "100", "-100", "abc", "", "01", "+1", "1.5"] + INT_EDGES
PATTERNS = ["*", "k*", "k1*", "k?", "k[0-3]", "k[^0-3]*", "*a*", "h*llo", "[", "\\*", "k[3-0]",
            "*x", "?", "", "**", "k\\1"]


# DIFF_TRACE_KEY=k names a key whose whole history a mismatch prints.
TRACE_ALWAYS = ("SELECT", "SWAPDB", "FLUSHDB", "FLUSHALL", "MULTI", "EXEC", "DISCARD", "MOVE", "COPY")


# Databases the streams use, and indexes Redis refuses.
DBS = ["0", "1", "2", "3"]
BAD_DBS = ["16", "-1", "x", "4294967296", "1.5"]


def pick_key(r):
    return r.choice(KEYS)


def pick_value(r):
    if r.random() < 0.01:
        return "z" * r.choice([1000, 65536])
    return r.choice(VALUES)


def expire_opts(r):
    opts = []
    for _ in range(r.choice([0, 0, 0, 1, 1, 2])):
        opts.append(r.choice(["NX", "XX", "GT", "LT", "nx", "bogus"]))
    return opts


def gen_set(r):
    cmd = ["SET", pick_key(r), pick_value(r)]
    for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
        o = r.choice(["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT", "ex", "bad"])
        cmd.append(o)
        if o.upper() in ("EX",):
            cmd.append(r.choice(["1000", "2000", "0", "-5", "abc", "9223372036854775807"]))
        elif o.upper() == "PX":
            cmd.append(r.choice(["1000000", "2000000", "0", "9223372036854775807"]))
        elif o.upper() == "EXAT":
            cmd.append(str(int(time.time()) + r.choice([5000, 10000])))
        elif o.upper() == "PXAT":
            cmd.append(str(int(time.time() * 1000) + r.choice([5000000, 10000000])))
    return cmd


# Scripts: each reads KEYS/ARGV as given; errors carry Redis's exact texts.
SCRIPTS = [
    "return redis.call('GET', KEYS[1])",
    "return redis.call('SET', KEYS[1], ARGV[1])",
    "return redis.call('INCR', KEYS[1])",
    "return redis.pcall('INCR', KEYS[1])",
    "local v = redis.call('GET', KEYS[1]) if v then return {v, #v, tonumber(v)} end return false",
    "return {1, 2.7, 'x', false, {3, -4.9}, true}",
    "return redis.call('HGETALL', KEYS[1])",
    "return redis.call('DEL', KEYS[1], KEYS[2])",
    # (Scaled so that no TTL ends while the stream runs.)
    "return redis.call('EXPIRE', KEYS[1], ARGV[1] .. '000000')",
    "return redis.call('nosuch')",
    "return redis.call('GET')",
    "return redis.error_reply('custom failure')",
    "return redis.status_reply('FINE')",
    "return redis.call('HINCRBYFLOAT', KEYS[1], 'f', ARGV[1])",
    "return tostring(tonumber(ARGV[1]))",
    "return cjson.encode({a = tonumber(ARGV[1]) or ARGV[1]})",
    "return cjson.decode(ARGV[1])",
    "return redis.call('TYPE', KEYS[1])",
    "return redis.sha1hex(ARGV[1])",
    "return redis.call('SET', KEYS[1], ARGV[1], 'GET')",
    "return redis.call('MGET', KEYS[1], KEYS[2])",
    "undeclared_global = 1",
    "return undeclared_global",
    "local t = redis.pcall('HGET', KEYS[1], 'f') if type(t) == 'table' then return t.err end return t",
    "return {err = 'MYERR thing'}",
    "return {ok = 'fine'}",
    "return redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])",
    "return #KEYS + #ARGV * 100",
    "return bit.band(tonumber(ARGV[1]) or 0, 255)",
    "error('plain error')",
    "error({err = 'TABLEERR raised'})",
    "return redis.call('EVAL', 'return 1', 0)",
    "return redis.call('MULTI')",
    "local n = 0 for i = 1, 3 do n = n + redis.call('RPUSH' == 'x' and 'x' or 'INCR', KEYS[1]) end return n",
    "return 3.99",
    "return -3.99",
    "return 'a' .. nil",
    "redis.call('SELECT', '2') redis.call('SET', KEYS[1], 'in2') return redis.call('DBSIZE')",
]


def script_args(r):
    numkeys = r.choice(["0", "1", "1", "2", "2", "-1", "x", "5"])
    keys = [pick_key(r) for _ in range(2)]
    argv = [r.choice(VALUES + ['{"a":1}', "[1,2]", "not json"]) for _ in range(r.randint(0, 2))]
    n = int(numkeys) if numkeys.lstrip("-").isdigit() and int(numkeys) in (1, 2) else 0
    return [numkeys] + keys[:n] + argv


SCORES = ["0", "1", "-1", "1.5", "2.5", "-0", "inf", "-inf", "+inf", "10", "1e3", "0x10", "nan",
          "abc", "", " 1", "1e400", "3.0", "0.1", "-2.25", "100"]
RANGES = ["-inf", "+inf", "(1", "(1.5", "0", "1", "2.5", "10", "(10", "x", "(", "-", "+", "[a", "(f1", "[f5"]
LEX = ["-", "+", "[f1", "(f1", "[f5", "(f9", "[", "(", "f1", "[long"]
INDEXES = ["0", "1", "-1", "2", "-2", "5", "-100", "100", "x", "9223372036854775807", "-9223372036854775808"]
COUNTS = ["0", "1", "2", "3", "5", "-1", "-3", "x", "100"]


def member(r):
    return r.choice(FIELDS + ["1", "2", "3", "10", "-5", "01", "9223372036854775807"])


def zmember(r):
    """Sorted-set members stay short: a long one makes a skiplist, whose lex
    ranges over mixed scores Redis leaves unspecified (they depend on its
    random levels)."""
    return r.choice([f for f in FIELDS if len(f) <= 64] + ["1", "2", "01"])


def gen_collections(r):
    """List, set and sorted-set commands, their options and bad input."""
    k = pick_key(r)
    k2 = pick_key(r)
    end = lambda: r.choice(["LEFT", "RIGHT", "left", "UP"])
    table = [
        lambda: [r.choice(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), k] + [pick_value(r) for _ in range(r.randint(1, 4))],
        lambda: [r.choice(["LPOP", "RPOP"]), k] + r.choice([[], [r.choice(COUNTS)], ["1", "2"]]),
        lambda: ["LLEN", k],
        lambda: ["LINDEX", k, r.choice(INDEXES)],
        lambda: ["LRANGE", k, r.choice(INDEXES), r.choice(INDEXES)],
        lambda: ["LSET", k, r.choice(INDEXES), pick_value(r)],
        lambda: ["LINSERT", k, r.choice(["BEFORE", "AFTER", "after", "MIDDLE"]), pick_value(r), pick_value(r)],
        lambda: ["LREM", k, r.choice(["0", "1", "-1", "2", "-2", "x"]), pick_value(r)],
        lambda: ["LTRIM", k, r.choice(INDEXES), r.choice(INDEXES)],
        lambda: ["LPOS", k, pick_value(r)] + sum([r.choice([["RANK", r.choice(["1", "-1", "2", "0", "-2"])], ["COUNT", r.choice(["0", "1", "2", "-1"])], ["MAXLEN", r.choice(["0", "1", "3", "-1"])]]) for _ in range(r.randint(0, 2))], []),
        lambda: ["LMOVE", k, k2, end(), end()],
        lambda: ["RPOPLPUSH", k, k2],
        lambda: ["LMPOP", r.choice(["1", "2", "0", "x"]), k, k2, end()] + r.choice([[], ["COUNT", r.choice(COUNTS)]]),
        lambda: ["SADD", k] + [member(r) for _ in range(r.randint(1, 4))],
        lambda: ["SREM", k] + [member(r) for _ in range(r.randint(1, 3))],
        lambda: ["SISMEMBER", k, member(r)],
        lambda: ["SMISMEMBER", k] + [member(r) for _ in range(r.randint(1, 3))],
        lambda: ["SMEMBERS", k],
        lambda: ["SCARD", k],
        # Only counts that take every member (or none): a partial SPOP removes
        # random members and the two datasets would part ways.
        lambda: ["SPOP", k, r.choice(["0", "100", "-1", "x"])],
        lambda: ["SRANDMEMBER", k] + r.choice([[], [r.choice(COUNTS)]]),
        lambda: ["SMOVE", k, k2, member(r)],
        lambda: [r.choice(["SINTER", "SUNION", "SDIFF"]), k] + [pick_key(r) for _ in range(r.randint(0, 2))],
        lambda: [r.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k, k2] + [pick_key(r) for _ in range(r.randint(0, 2))],
        lambda: ["SINTERCARD", r.choice(["1", "2", "0", "3"]), k, k2] + r.choice([[], ["LIMIT", r.choice(["0", "1", "-1"])]]),
        lambda: ["SSCAN", k, "0"] + r.choice([[], ["MATCH", "f*"], ["COUNT", "3"]]),
        lambda: ["ZADD", k] + r.sample(["NX", "XX", "GT", "LT", "CH", "INCR"], r.choice([0, 0, 1, 2])) + sum([[r.choice(SCORES), zmember(r)] for _ in range(r.randint(1, 3))], []),
        lambda: ["ZINCRBY", k, r.choice(SCORES), zmember(r)],
        lambda: ["ZREM", k] + [zmember(r) for _ in range(r.randint(1, 3))],
        lambda: ["ZCARD", k],
        lambda: ["ZSCORE", k, zmember(r)],
        lambda: ["ZMSCORE", k, zmember(r), zmember(r)],
        lambda: [r.choice(["ZRANK", "ZREVRANK"]), k, zmember(r)],
        lambda: ["ZCOUNT", k, r.choice(RANGES), r.choice(RANGES)],
        lambda: ["ZLEXCOUNT", k, r.choice(LEX), r.choice(LEX)],
        lambda: ["ZRANGE", k, r.choice(INDEXES + RANGES), r.choice(INDEXES + RANGES)] + r.sample(["BYSCORE", "BYLEX", "REV", "WITHSCORES", "LIMIT"], r.choice([0, 1, 2])),
        lambda: ["ZRANGE", k, r.choice(RANGES), r.choice(RANGES), "BYSCORE"] + r.choice([[], ["REV"], ["LIMIT", "0", "2"], ["WITHSCORES"]]),
        lambda: ["ZRANGE", k, r.choice(LEX), r.choice(LEX), "BYLEX"] + r.choice([[], ["REV"], ["LIMIT", "1", "1"]]),
        lambda: [r.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"]), k, r.choice(RANGES), r.choice(RANGES)] + r.choice([[], ["WITHSCORES"], ["LIMIT", r.choice(["0", "1", "-1"]), r.choice(["1", "-1", "2"])]]),
        lambda: [r.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), k, r.choice(LEX), r.choice(LEX)] + r.choice([[], ["LIMIT", "0", "2"]]),
        lambda: ["ZREVRANGE", k, r.choice(INDEXES), r.choice(INDEXES)] + r.choice([[], ["WITHSCORES"]]),
        lambda: ["ZRANGESTORE", k2, k, r.choice(INDEXES), r.choice(INDEXES)] + r.choice([[], ["REV"], ["WITHSCORES"]]),
        lambda: ["ZREMRANGEBYRANK", k, r.choice(INDEXES), r.choice(INDEXES)],
        lambda: ["ZREMRANGEBYSCORE", k, r.choice(RANGES), r.choice(RANGES)],
        lambda: ["ZREMRANGEBYLEX", k, r.choice(LEX), r.choice(LEX)],
        lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), k] + r.choice([[], [r.choice(COUNTS)]]),
        lambda: ["ZMPOP", r.choice(["1", "2", "0"]), k, k2, r.choice(["MIN", "MAX", "UP"])] + r.choice([[], ["COUNT", r.choice(COUNTS)]]),
        lambda: ["ZRANDMEMBER", k] + r.choice([[], [r.choice(COUNTS)], [r.choice(COUNTS), "WITHSCORES"]]),
        lambda: [r.choice(["ZUNION", "ZINTER", "ZDIFF"]), r.choice(["1", "2", "0", "3"]), k, k2] + r.choice([[], ["WITHSCORES"], ["WEIGHTS", "2", "0.5"], ["AGGREGATE", r.choice(["SUM", "MIN", "MAX", "avg"])]]),
        lambda: [r.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]), k, r.choice(["1", "2"]), k, k2] + r.choice([[], ["WEIGHTS", "1", "inf"]]),
        lambda: ["ZINTERCARD", r.choice(["1", "2", "0"]), k, k2],
        lambda: ["ZSCAN", k, "0"],
        lambda: ["OBJECT", "ENCODING", k],
        lambda: [r.choice(["BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"]), k, r.choice(["0", "-1", "x"])] if r.random() < 0.3 else [r.choice(["BLMPOP", "BZMPOP"]), "0", "1", k, r.choice(["LEFT", "MIN", "RIGHT", "MAX"])],
    ]
    return table[r.randrange(len(table))]()


# Blocking commands, their family and where their first key is.
BLOCKING = {"BLPOP": ("list", 1), "BRPOP": ("list", 1), "BLMPOP": ("list", 3),
            "BZPOPMIN": ("zset", 1), "BZPOPMAX": ("zset", 1), "BZMPOP": ("zset", 3)}


def would_block(cmd):
    """A blocking command whose timeout is valid (so it may wait)."""
    name = cmd[0].upper()
    if name not in BLOCKING:
        return False
    timeout = cmd[1] if name in ("BLMPOP", "BZMPOP") else cmd[-1]
    try:
        return float(timeout) >= 0
    except ValueError:
        return False


# CONFIG parameters whose replies are deterministic and equal in both
# servers, with valid and invalid values.
CONFIG_VALUES = {
    "maxmemory-samples": ["3", "5", "0", "x", "2147483648"],
    "slowlog-max-len": ["64", "128", "-1", "x"],
    "notify-keyspace-events": ["", "KEA", "Ex", "AKEn", "Kgx$", "Kq"],
    "tracking-table-max-keys": ["0", "1000000", "-1", "x"],
    "lfu-log-factor": ["10", "20", "-1"],
    "active-expire-effort": ["1", "10", "11", "0"],
    "busy-reply-threshold": ["5000", "6000", "-5"],
    "lua-time-limit": ["5000", "abc"],
    "appendonly": ["no", "maybe"],
    "appendfsync": ["everysec", "always", "sometimes"],
    "daemonize": ["no"],
    "databases": ["4"],
    "hash-max-listpack-value": ["64", "1k", "300", "8"],
    "hash-max-ziplist-value": ["-1", "abc"],
}


def gen_admin(r):
    """CONFIG, CLIENT and OBJECT calls with deterministic replies."""
    names = list(CONFIG_VALUES)
    def pair():
        n = r.choice(names + ["no-such-param"])
        return [n, r.choice(CONFIG_VALUES.get(n, ["1"]))]
    k = pick_key(r)
    table = [
        lambda: ["CONFIG", "SET"] + pair(),
        lambda: ["CONFIG", "SET"] + pair() + pair(),
        lambda: ["CONFIG", "SET"] + sum([pair() for _ in range(r.randint(1, 4))], []),
        lambda: ["CONFIG", "GET", r.choice(names)],
        lambda: ["CONFIG", r.choice(["GET", "SET"])],
        lambda: ["CLIENT", "SETNAME", r.choice(["app", "worker-1", "", "a b", "x\ny"])],
        lambda: ["CLIENT", "GETNAME"],
        lambda: ["CLIENT", "TRACKING", r.choice(["on", "off", "maybe"])] + r.choice([[], ["BCAST"], ["OPTIN"], ["OPTOUT"], ["NOLOOP"], ["BCAST", "PREFIX", "a"], ["PREFIX", "b"], ["OPTIN", "OPTOUT"], ["REDIRECT", "999999"]]),
        lambda: ["CLIENT", "CACHING", r.choice(["yes", "no", "maybe"])],
        lambda: ["CLIENT", r.choice(["GETREDIR", "TRACKINGINFO"])],
        lambda: ["CLIENT", "NO-EVICT", r.choice(["on", "off", "maybe"])],
        lambda: ["CLIENT", "KILL", "ID", r.choice(["999999", "0", "x"])],
        # (Never a filter that matches the stream's other client.)
        lambda: r.choice([["CLIENT", "KILL", "USER", "nobody"], ["CLIENT", "KILL", "TYPE", "maybe"], ["CLIENT", "KILL", "SKIPME", "maybe"]]),
        lambda: ["OBJECT", r.choice(["FREQ", "REFCOUNT", "ENCODING"]), k],
        lambda: ["OBJECT", "IDLETIME", "no-such-key"],
    ]
    return table[r.randrange(len(table))]()


def gen(r, in_multi=False, allow_block=True):
    if in_multi and r.random() < 0.2:
        return [r.choice(["EXEC", "EXEC", "EXEC", "DISCARD"])]
    if r.random() < 0.45:
        cmd = gen_collections(r)
        if would_block(cmd) and not (allow_block or in_multi):
            # A pipeline cannot wait for another client: a bad timeout instead.
            at = 1 if cmd[0] in ("BLMPOP", "BZMPOP") else len(cmd) - 1
            cmd[at] = "-1"
        return cmd
    k = pick_key(r)
    f = r.choice(FIELDS)
    now = int(time.time())
    table = [
        lambda: gen_set(r),
        lambda: ["GET", k],
        lambda: ["GETSET", k, pick_value(r)],
        lambda: ["SETNX", k, pick_value(r)],
        lambda: ["SETEX", k, r.choice(["1000", "0", "-1", "x"]), pick_value(r)],
        lambda: ["PSETEX", k, r.choice(["1000000", "0"]), pick_value(r)],
        lambda: ["GETDEL", k],
        lambda: ["GETEX", k] + r.choice([[], ["PERSIST"], ["EX", "1000"], ["PX", "0"], ["EXAT", str(now + 5000)], ["FOO"], ["EX", "10", "PERSIST"]]),
        lambda: ["APPEND", k, pick_value(r)],
        lambda: ["STRLEN", k],
        lambda: ["SETRANGE", k, r.choice(["0", "3", "10", "-1", "x", "536870912", "9223372036854775807"]), r.choice(["", "ab", "xyz"])],
        lambda: [r.choice(["GETRANGE", "SUBSTR"]), k, r.choice(["0", "-1", "2", "-100", "x", "9223372036854775807", "-9223372036854775808"]), r.choice(["-1", "0", "3", "100", "-5"])],
        lambda: ["MSET"] + sum([[pick_key(r), pick_value(r)] for _ in range(r.randint(1, 4))], []),
        lambda: ["MSETNX"] + sum([[pick_key(r), pick_value(r)] for _ in range(r.randint(1, 3))], []),
        lambda: ["MGET"] + [pick_key(r) for _ in range(r.randint(1, 5))],
        lambda: ["INCR", k],
        lambda: ["DECR", k],
        lambda: ["INCRBY", k, r.choice(INTS)],
        lambda: ["DECRBY", k, r.choice(INTS)],
        lambda: ["INCRBYFLOAT", k, r.choice(FLOATS)],
        lambda: [r.choice(["DEL", "UNLINK"])] + [pick_key(r) for _ in range(r.randint(1, 3))],
        lambda: ["EXISTS"] + [pick_key(r) for _ in range(r.randint(1, 3))],
        lambda: ["TYPE", k],
        lambda: [r.choice(["RENAME", "RENAMENX"]), k, pick_key(r)],
        lambda: ["COPY", k, pick_key(r)] + r.choice([[], ["REPLACE"], ["DB", "0"], ["DB", "x"], ["BAD"]]),
        lambda: ["TOUCH"] + [pick_key(r) for _ in range(r.randint(1, 3))],
        # (No TTL may end while the stream runs: a key expiring between the
        # two servers' lookups would differ by timing alone.)
        lambda: [r.choice(["EXPIRE", "PEXPIRE"]), k, r.choice(["1000000", "5000000", "2000000", "-1", "0", "x", "9223372036854775807"])] + expire_opts(r),
        lambda: [r.choice(["EXPIREAT", "PEXPIREAT"]), k, r.choice([str(now + 5000), str((now + 5000) * 1000), "1", "-5"])] + expire_opts(r),
        lambda: ["PERSIST", k],
        lambda: [r.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k],
        lambda: ["HSET", k] + sum([[r.choice(FIELDS), pick_value(r)] for _ in range(r.randint(1, 4))], []),
        lambda: ["HMSET", k, f, pick_value(r)],
        lambda: ["HSETNX", k, f, pick_value(r)],
        lambda: ["HGET", k, f],
        lambda: ["HMGET", k] + [r.choice(FIELDS) for _ in range(r.randint(1, 4))],
        lambda: ["HGETALL", k],
        lambda: ["HDEL", k] + [r.choice(FIELDS) for _ in range(r.randint(1, 3))],
        lambda: ["HEXISTS", k, f],
        lambda: ["HLEN", k],
        lambda: ["HKEYS", k],
        lambda: ["HVALS", k],
        lambda: ["HINCRBY", k, f, r.choice(INTS)],
        lambda: ["HINCRBYFLOAT", k, f, r.choice(FLOATS)],
        lambda: ["HSTRLEN", k, f],
        lambda: ["HSCAN", k, "0"] + r.choice([[], ["MATCH", "f1*"], ["COUNT", "5"], ["COUNT", "0"], ["BAD", "x"]]),
        lambda: ["HRANDFIELD", k] + r.choice([[], ["0"], ["3"], ["-3"], ["5", "WITHVALUES"], ["-2", "withvalues"], ["x"], ["1", "BAD"]]),
        lambda: ["KEYS", r.choice(PATTERNS)],
        lambda: ["SCAN", "0"] + r.choice([[], ["MATCH", r.choice(PATTERNS)], ["COUNT", "3"], ["TYPE", r.choice(["string", "hash", "list"])], ["COUNT", "0"], ["MATCH"]]),
        lambda: ["DBSIZE"],
        lambda: ["PING"] + r.choice([[], ["hi"], ["a", "b"]]),
        lambda: ["ECHO", pick_value(r)],
        lambda: [r.choice(["GET", "SET", "HSET", "INCR", "EXPIRE", "MSET", "HGET"])],  # wrong arity
        lambda: [r.choice(["NOSUCHCMD", "gett", "HSETX"]), k, "a\r\nb"],
        lambda: ["SET", k, "v", "EX", "10", "PX", "10"],
        lambda: ["SELECT", r.choice(DBS)],
        lambda: ["SELECT", r.choice(DBS)],
        lambda: ["SELECT", r.choice(DBS + BAD_DBS)],
        lambda: ["MOVE", k, r.choice(DBS + DBS + BAD_DBS)],
        lambda: ["MOVE", k, r.choice(DBS)],
        lambda: ["SWAPDB", r.choice(DBS), r.choice(DBS + BAD_DBS)] if r.random() < 0.5 else ["SWAPDB", r.choice(DBS), r.choice(DBS)],
        lambda: ["COPY", k, pick_key(r), "DB", r.choice(DBS + BAD_DBS)] + r.choice([[], ["REPLACE"]]),
        lambda: ["FLUSHDB"] + r.choice([[], ["ASYNC"], ["SYNC"], ["BAD"]]) if r.random() < 0.05 else ["DBSIZE"],
        lambda: ["RANDOMKEY"],
        lambda: ["MULTI"],
        lambda: ["MULTI"],
        lambda: [r.choice(["EXEC", "DISCARD"])],
        lambda: ["WATCH"] + [pick_key(r) for _ in range(r.randint(0, 3))],
        lambda: ["UNWATCH"],
        lambda: [r.choice(["EVAL", "EVAL", "EVAL_RO"]), r.choice(SCRIPTS)] + script_args(r),
        lambda: [r.choice(["EVAL", "EVAL", "EVAL_RO"]), r.choice(SCRIPTS)] + script_args(r),
        lambda: [r.choice(["EVALSHA", "EVALSHA_RO"]), sha1(r.choice(SCRIPTS))] + script_args(r),
        lambda: ["SCRIPT", "LOAD", r.choice(SCRIPTS)],
        lambda: ["SCRIPT", "EXISTS"] + [sha1(r.choice(SCRIPTS)) for _ in range(r.randint(1, 3))],
        lambda: ["SCRIPT", r.choice(["FLUSH", "FLUSH", "BOGUS", "KILL"])] if r.random() < 0.1 else ["SCRIPT", "EXISTS", "x"],
        lambda: gen_admin(r),
        lambda: gen_admin(r),
    ]
    return table[r.randrange(len(table))]()


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


SCRIPT_BY_SHA = {sha1(s): s for s in SCRIPTS}


def script_text(cmd):
    """The source of the script an EVAL-family command runs."""
    if len(cmd) < 2:
        return ""
    if cmd[0].upper().startswith("EVALSHA"):
        return SCRIPT_BY_SHA.get(cmd[1], "")
    return cmd[1]


def normalise(cmd, reply, conn_for_scan, pipelined, queued=None):
    name = cmd[0].upper() if cmd else ""
    if isinstance(reply, Err):
        return reply
    if name == "EXEC" and isinstance(reply, list) and queued is not None and len(queued) == len(reply):
        # Each reply of the transaction, normalised as its own command; the
        # rest of the stream has run, as in a pipeline.
        return [normalise(c, x, conn_for_scan, True) for c, x in zip(queued, reply)]
    if name == "KEYS" and isinstance(reply, list):
        return sorted(reply)
    if name in ("HKEYS", "HVALS") and isinstance(reply, list):
        return sorted(reply)
    if name == "HGETALL" and isinstance(reply, list):
        return sorted(zip(reply[::2], reply[1::2]))
    if name.startswith("EVAL") and "HGETALL" in script_text(cmd) and isinstance(reply, list):
        return sorted(zip(reply[::2], reply[1::2]))
    if name in ("SMEMBERS", "SINTER", "SUNION", "SDIFF", "SPOP") and isinstance(reply, list):
        return sorted(reply)
    if name in ("SRANDMEMBER", "ZRANDMEMBER") and isinstance(reply, list):
        return ("random", len(reply))
    if name in ("SRANDMEMBER", "ZRANDMEMBER", "RANDOMKEY"):
        return ("random", reply is None)
    if name in ("SCAN", "HSCAN", "SSCAN", "ZSCAN") and isinstance(reply, list) and pipelined:
        # Later commands of the batch already ran: only the shape is comparable.
        return ("scan", len(reply))
    if name in ("SCAN", "HSCAN", "SSCAN", "ZSCAN") and isinstance(reply, list):
        # Complete the iteration and compare the set of results.
        items = set()
        cursor = reply[0]
        chunk = reply[1]
        rounds = 0
        while True:
            if name in ("HSCAN", "ZSCAN"):
                items.update(zip(chunk[::2], chunk[1::2]))
            else:
                items.update(chunk)
            if cursor == b"0" or rounds > 10000:
                break
            rounds += 1
            nxt = list(cmd)
            nxt[1 if name == "SCAN" else 2] = cursor
            r = conn_for_scan.call(*nxt)
            if isinstance(r, Err):
                return ("scan continuation failed", nxt, r)
            cursor, chunk = r[0], r[1]
        return sorted(items)
    if name == "HRANDFIELD":
        if isinstance(reply, list):
            return ("list", len(reply))
        return ("scalar", reply is None)
    if name in ("TTL", "EXPIRETIME") and isinstance(reply, int) and reply >= 0:
        return ("ttl", reply // 3)
    if name in ("PTTL", "PEXPIRETIME") and isinstance(reply, int) and reply >= 0:
        return ("pttl", reply // 3000)
    return reply


def close_enough(cmd, a, b):
    if a == b:
        return True
    name = cmd[0].upper()
    if name in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME") and isinstance(a, tuple) and isinstance(b, tuple):
        return abs(a[1] - b[1]) <= 1
    return False


def show(x, limit=200):
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "..."


class Client:
    """One client's connections to both servers, and its transaction state:
    `in_multi` as the generator predicts it, `queued` the commands the
    server answered QUEUED (to normalise EXEC's replies)."""

    def __init__(self, ours_port, redis_port, name):
        self.ours, self.theirs = Conn(ours_port), Conn(redis_port)
        self.name = name
        self.in_multi = False
        self.queued = []
        self.db = "0"

    def predict(self, cmd):
        name = cmd[0].upper()
        if name == "MULTI":
            self.in_multi = True
        elif name in ("EXEC", "DISCARD"):
            self.in_multi = False

    def track(self, cmd, reply):
        """Follows the server's replies; returns the queue EXEC ran."""
        name = cmd[0].upper()
        COVERAGE[f"commands in db {self.db}"] += 1
        if name == "SELECT" and reply == "OK":
            self.db = cmd[1]
        if name == "EXEC" and isinstance(reply, list):
            for c, x in zip(self.queued, reply):
                if c[0].upper() == "SELECT" and x == "OK":
                    self.db = c[1]
        if name == "MULTI" and reply == "OK":
            self.queued = []
        elif reply == "QUEUED":
            self.queued.append(cmd)
        elif name in ("EXEC", "DISCARD"):
            ran, self.queued = self.queued, []
            return ran
        return None

    def resync(self):
        for c in (self.ours, self.theirs):
            c.call("DISCARD")
            c.call("UNWATCH")
            c.call("SELECT", "0")
        self.db = "0"
        self.in_multi = False
        self.queued = []


# What the streams exercised, printed at the end so a run shows its coverage.
COVERAGE = collections.Counter()


def count_coverage(cmd, reply):
    name = cmd[0].upper()
    if name == "EXEC":
        if reply is None:
            COVERAGE["EXEC aborted by a WATCHed change"] += 1
        elif isinstance(reply, list):
            COVERAGE["EXEC ran"] += 1
        else:
            COVERAGE["EXEC refused"] += 1
    elif name.startswith("EVAL"):
        COVERAGE["script error" if isinstance(reply, Err) else "script ran"] += 1


def blocked_and_served(client, other, cmd, r):
    """Sends a blocking command, then has the other client push to its
    first key (or, if that client is inside MULTI, lets the command see a
    bad timeout); returns both servers' replies to the blocking command,
    after checking the push got the same reply from both."""
    name = cmd[0].upper()
    family, at = BLOCKING[name]
    if other.in_multi:
        # (The command as sent differs from the one the history shows.)
        cmd = list(cmd)
        cmd[1 if name in ("BLMPOP", "BZMPOP") else len(cmd) - 1] = "-1"
        return [client.ours.call(*cmd)], [client.theirs.call(*cmd)]
    key = cmd[at]
    value = r.choice(["pushed", "7", "x y"])
    push = ["RPUSH", key, value] if family == "list" else ["ZADD", key, r.choice(["1", "-2", "7"]), value]
    COVERAGE["blocking command served by another client"] += 1
    for conn in (client.ours, client.theirs):
        conn.send_raw(encode(cmd))
    # Let both servers take the blocking command before the push arrives.
    time.sleep(0.01)
    # The push goes to the blocked client's database.
    for conn in (other.ours, other.theirs):
        conn.call("SELECT", client.db)
    a = other.ours.call(*push)
    b = other.theirs.call(*push)
    for conn in (other.ours, other.theirs):
        conn.call("SELECT", other.db)
    if a != b:
        print(f"MISMATCH on the serving push {push}: redistill {a!r}, redis {b!r}")
    return [client.ours.read()], [client.theirs.read()]


def run(ours_port, redis_port, n, seed, pipelined):
    r = random.Random(seed)
    # Lockstep mode interleaves two clients, so WATCH sees the other's writes.
    clients = [Client(ours_port, redis_port, "A")]
    if not pipelined:
        clients.append(Client(ours_port, redis_port, "B"))
    scan_ours, scan_theirs = Conn(ours_port), Conn(redis_port)
    for c in (clients[0].ours, clients[0].theirs):
        assert c.call("FLUSHALL") == "OK"
        assert c.call("SCRIPT", "FLUSH") == "OK"
    history = []
    trace_key = os.environ.get("DIFF_TRACE_KEY")
    mismatches = 0
    batch = 100 if pipelined else 1
    done = 0
    while done < n:
        client = clients[0] if len(clients) == 1 or r.random() < 0.6 else clients[1]
        cmds = []
        for _ in range(min(batch, n - done)):
            cmd = gen(r, client.in_multi, allow_block=not pipelined)
            client.predict(cmd)
            cmds.append(cmd)
        if pipelined:
            got_o, got_t = client.ours.pipeline(cmds), client.theirs.pipeline(cmds)
        elif would_block(cmds[0]) and not client.in_multi:
            other = clients[1] if client is clients[0] else clients[0]
            got_o, got_t = blocked_and_served(client, other, cmds[0], r)
        else:
            got_o, got_t = [client.ours.call(*cmds[0])], [client.theirs.call(*cmds[0])]
        for i, cmd in enumerate(cmds):
            history.append((client.name, cmd))
            ran = client.track(cmd, got_t[i])
            count_coverage(cmd, got_t[i])
            if cmd[0].upper() in ("SCAN", "HSCAN", "SSCAN", "ZSCAN") and not pipelined:
                # The scan is completed in the client's database.
                for sc in (scan_ours, scan_theirs):
                    sc.call("SELECT", client.db)
            if cmd[0].upper() == "DBSIZE" and not pipelined and got_o[i] != got_t[i]:
                # DBSIZE counts keys whose TTL passed until they are
                # reclaimed, which each server's active expiry does on its
                # own clock: reclaim them (lookups expire lazily) and ask again.
                for conn in (client.ours, client.theirs):
                    conn.pipeline([["EXISTS", k] for k in KEYS])
                got_o[i], got_t[i] = client.ours.call("DBSIZE"), client.theirs.call("DBSIZE")
                COVERAGE["DBSIZE asked again after reclaiming expired keys"] += 1
            a = normalise(cmd, got_o[i], scan_ours, pipelined, ran)
            b = normalise(cmd, got_t[i], scan_theirs, pipelined, ran)
            if not close_enough(cmd, a, b):
                mismatches += 1
                print(f"MISMATCH seed={seed} index={done + i} mode={'pipelined' if pipelined else 'lockstep'} client={client.name}")
                print("  command:   ", show(cmd))
                print("  redistill: ", show(got_o[i]))
                print("  redis:     ", show(got_t[i]))
                print("  last commands:")
                for who, h in history[-12:-1]:
                    print("    ", who, show(h, 120))
                if trace_key:
                    print(f"  every command naming {trace_key!r}, with database changes:")
                    for who, h in history:
                        if trace_key in h or h[0].upper() in TRACE_ALWAYS:
                            print("    ", who, show(h, 200))
                if mismatches >= 20:
                    return mismatches
                # Resynchronise the two datasets so one divergence is reported once.
                for c in clients:
                    c.resync()
                for c in (clients[0].ours, clients[0].theirs):
                    c.call("FLUSHALL")
        done += len(cmds)
    return mismatches


def glob_vs_keys(ours_port, redis_port, seed, rounds):
    """Random keys and patterns over a small alphabet: KEYS must agree."""
    r = random.Random(seed)
    ours, theirs = Conn(ours_port), Conn(redis_port)
    alphabet = "ab[]^-\\*?c"
    bad = 0
    for _ in range(rounds):
        for c in (ours, theirs):
            c.call("FLUSHALL")
        keys = {"".join(r.choice(alphabet) for _ in range(r.randint(0, 6))) for _ in range(25)}
        mset = ["MSET"] + sum([[k, "1"] for k in keys], [])
        ours.call(*mset)
        theirs.call(*mset)
        for _ in range(40):
            pat = "".join(r.choice(alphabet) for _ in range(r.randint(0, 7)))
            a = sorted(ours.call("KEYS", pat))
            b = sorted(theirs.call("KEYS", pat))
            if a != b:
                bad += 1
                print(f"GLOB MISMATCH seed={seed} pattern={pat!r}\n  keys={sorted(keys)!r}\n  redistill={a!r}\n  redis={b!r}")
                if bad > 10:
                    return bad
    return bad


# (setup, another client's command): does the second invalidate a WATCH
# on k? Redis invalidates only on a real change, so no-op writes must not.
WATCH_CASES = [
 (["HSET","k","f","1"], ["HSETNX","k","f","2"]),
 (["SET","k","s"], ["HSETNX","k","f","2"]),
 (["SET","k","s"], ["HSET","k","f","2"]),
 (["SET","k","1"], ["SETNX","k","2"]),
 (["SET","k","1"], ["SET","k","2","NX"]),
 (["SET","k","1"], ["SET","k","1","XX"]),
 (["SET","k","1"], ["MSETNX","k","2","z","1"]),
 (["SET","k","1"], ["EXPIRE","k","100","GT"]),
 (["SET","k","1"], ["EXPIRE","k","100"]),
 (["SET","k","1"], ["PERSIST","k"]),
 (["SET","k","1","EX","100"], ["PERSIST","k"]),
 (["SET","k","1"], ["APPEND","k",""]),
 (["SET","k","1"], ["SETRANGE","k","0",""]),
 (["SET","k","1"], ["INCRBY","k","0"]),
 (["SET","k","1"], ["GETEX","k"]),
 (["SET","k","1"], ["GETEX","k","PERSIST"]),
 (["SET","k","1"], ["GETEX","k","EX","100"]),
 (["SET","k","1"], ["TOUCH","k"]),
 (["SET","k","1"], ["DEL","nokey"]),
 (["HSET","k","f","1"], ["HDEL","k","zz"]),
 (["HSET","k","f","1"], ["HINCRBY","k","f","0"]),
 (["HSET","k","f","1"], ["HSET","k","f","1"]),
 (["SET","k","1"], ["RENAME","k","k"]),
 (["SET","k","1"], ["COPY","k","k2"]),
 (["SET","k","1"], ["COPY","j","k"]),
 (["SET","k","1"], ["RENAMENX","j","k"]),
 (["SET","k","1"], ["SET","j","1"]),
 (["SET","k","1"], ["FLUSHALL"]),
 (["DEL","k"], ["FLUSHALL"]),
 (["DEL","k"], ["DEL","k"]),
 (["SET","k","1"], ["EXPIRE","k","0"]),
 (["SET","k","1"], ["SET","k","1","KEEPTTL"]),
 (["SET","k","1"], ["GETDEL","nokey"]),
 (["SET","k","1"], ["EVAL","return redis.call('GET', KEYS[1])","1","k"]),
 (["SET","k","1"], ["EVAL","return redis.call('SET', KEYS[1], '1')","1","k"]),
 (["SET","k","1"], ["INCRBYFLOAT","k","0"]),
 (["HSET","k","f","1"], ["HINCRBYFLOAT","k","f","0"]),
 (["SET","k","1"], ["MSET","k","1"]),
 (["SET","k","1"], ["SETEX","k","100","1"]),
 (["SET","k","1"], ["GETSET","k","1"]),
 (["SET","k","1"], ["SWAPDB","0","1"]),
 (["DEL","k"], ["SWAPDB","0","1"]),
 (["SET","k","1"], ["SWAPDB","1","2"]),
 (["SET","k","1"], ["MOVE","k","1"]),
 (["SET","k","1"], ["MOVE","nokey","1"]),
 (["SET","k","1"], ["COPY","k","k","DB","1"]),
 (["SET","k","1"], ["FLUSHDB"]),
]


def watch_table(ours_port, redis_port):
    """Each WATCH case on both servers: EXEC must run or abort alike."""
    def outcomes(port):
        a, b = Conn(port), Conn(port)
        out = []
        for setup, probe in WATCH_CASES:
            a.call("FLUSHALL")
            a.call(*setup)
            a.call("WATCH", "k")
            b.call(*probe)
            a.call("MULTI")
            a.call("PING")
            out.append("aborted" if a.call("EXEC") is None else "ran")
        return out
    bad = 0
    for (setup, probe), x, y in zip(WATCH_CASES, outcomes(ours_port), outcomes(redis_port)):
        if x != y:
            bad += 1
            print(f"WATCH MISMATCH after {setup}, other client {probe}: redistill {x}, redis {y}")
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", type=int)
    ap.add_argument("redis", type=int)
    ap.add_argument("--commands", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"differential: seed={seed}, {args.commands} lockstep + {args.commands} pipelined commands")
    t0 = time.time()
    bad = run(args.ours, args.redis, args.commands, seed, False)
    bad += run(args.ours, args.redis, args.commands, seed + 1, True)
    gbad = glob_vs_keys(args.ours, args.redis, seed + 2, 100)
    gbad += watch_table(args.ours, args.redis)
    total = 2 * args.commands + 4000 + len(WATCH_CASES)
    print(f"differential: {total} comparisons in {time.time() - t0:.1f}s, {bad + gbad} mismatches")
    print("differential: " + ", ".join(f"{k}: {v}" for k, v in sorted(COVERAGE.items())))
    print(f"{total - bad - gbad} passed, {bad + gbad} failed")
    sys.exit(1 if bad or gbad else 0)


if __name__ == "__main__":
    main()
