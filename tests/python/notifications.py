"""Keyspace notifications compared event by event with redis-server.

    python3 notifications.py <redistill binary> [--seed N] [--commands N]

Starts Debian's redis-server and Redistill, turns on every class
(`notify-keyspace-events AKEn`) in both, subscribes to every keyspace and
keyevent channel of databases 0 and 1 on each, replays the same seeded
stream of writes (strings, counters, hashes, lists, sets, sorted sets,
expiries, renames, moves, copies, deletions, blocking-free pops, stores,
transactions and a script) against both, and compares the two sequences of
(channel, message) pairs. Also checks CONFIG GET's normalised class string
and that with notifications off nothing is published.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time

import redis

from procs import free_port, start_redistill, wait_ping
from resp import Conn

PROCS = []
KEYS = [f"k{i}" for i in range(6)]
FIELDS = ["f1", "f2", "f3"]
MEMBERS = ["a", "b", "c", "d"]


def rk():
    return random.choice(KEYS)


def commands(rng_seed, n):
    random.seed(rng_seed)
    far = str(int(time.time()) + 100000)
    makers = [
        lambda: ["SET", rk(), str(random.randint(0, 9))],
        lambda: ["SET", rk(), "v", "EX", "1000"],
        lambda: ["SET", rk(), "v", "NX"],
        lambda: ["SET", rk(), "v", "XX", "KEEPTTL"],
        lambda: ["SET", rk(), "v", "GET"],
        lambda: ["SETNX", rk(), "v"],
        lambda: ["SETEX", rk(), "1000", "v"],
        lambda: ["GETSET", rk(), "v"],
        lambda: ["GETDEL", rk()],
        lambda: ["GETEX", rk(), "EX", "1000"],
        lambda: ["GETEX", rk(), "PERSIST"],
        lambda: ["GETEX", rk(), "PXAT", "1"],
        lambda: ["MSET", rk(), "1", rk(), "2"],
        lambda: ["MSETNX", rk(), "1", rk(), "2"],
        lambda: ["APPEND", rk(), "x"],
        lambda: ["SETRANGE", rk(), "2", "zz"],
        lambda: ["SETRANGE", rk(), "0", ""],
        lambda: ["INCR", rk()],
        lambda: ["DECRBY", rk(), "3"],
        lambda: ["INCRBYFLOAT", rk(), "1.5"],
        lambda: ["HSET", rk(), random.choice(FIELDS), "1"],
        lambda: ["HSETNX", rk(), random.choice(FIELDS), "1"],
        lambda: ["HDEL", rk(), random.choice(FIELDS), random.choice(FIELDS)],
        lambda: ["HINCRBY", rk(), random.choice(FIELDS), "2"],
        lambda: ["HINCRBYFLOAT", rk(), random.choice(FIELDS), "0.5"],
        lambda: ["LPUSH", rk(), "x", "y"],
        lambda: ["RPUSH", rk(), "z"],
        lambda: ["LPUSHX", rk(), "x"],
        lambda: ["LPOP", rk()],
        lambda: ["RPOP", rk(), "2"],
        lambda: ["LSET", rk(), "0", "q"],
        lambda: ["LINSERT", rk(), "BEFORE", "x", "w"],
        lambda: ["LREM", rk(), "0", "x"],
        lambda: ["LTRIM", rk(), "0", str(random.randint(-1, 2))],
        lambda: ["LMOVE", rk(), rk(), "LEFT", "RIGHT"],
        lambda: ["RPOPLPUSH", rk(), rk()],
        lambda: ["LMPOP", "2", rk(), rk(), "LEFT", "COUNT", "2"],
        lambda: ["BLPOP", rk(), "0.01"],
        lambda: ["SADD", rk(), random.choice(MEMBERS), random.choice(MEMBERS)],
        lambda: ["SREM", rk(), random.choice(MEMBERS)],
        lambda: ["SMOVE", rk(), rk(), random.choice(MEMBERS)],
        lambda: ["SPOP", rk()],
        lambda: ["SPOP", rk(), "2"],
        lambda: ["SINTERSTORE", rk(), rk(), rk()],
        lambda: ["SUNIONSTORE", rk(), rk(), rk()],
        lambda: ["SDIFFSTORE", rk(), rk(), rk()],
        lambda: ["ZADD", rk(), str(random.randint(0, 5)), random.choice(MEMBERS)],
        lambda: ["ZADD", rk(), "GT", "CH", "3", random.choice(MEMBERS)],
        lambda: ["ZADD", rk(), "INCR", "1", random.choice(MEMBERS)],
        lambda: ["ZINCRBY", rk(), "1", random.choice(MEMBERS)],
        lambda: ["ZREM", rk(), random.choice(MEMBERS)],
        lambda: ["ZREMRANGEBYRANK", rk(), "0", "0"],
        lambda: ["ZREMRANGEBYSCORE", rk(), "0", "2"],
        lambda: ["ZREMRANGEBYLEX", rk(), "[a", "[b"],
        lambda: ["ZPOPMIN", rk()],
        lambda: ["ZPOPMAX", rk(), "2"],
        lambda: ["BZPOPMIN", rk(), "0.01"],
        lambda: ["ZMPOP", "1", rk(), "MIN"],
        lambda: ["ZUNIONSTORE", rk(), "2", rk(), rk()],
        lambda: ["ZINTERSTORE", rk(), "2", rk(), rk()],
        lambda: ["ZDIFFSTORE", rk(), "2", rk(), rk()],
        lambda: ["ZRANGESTORE", rk(), rk(), "0", "1"],
        lambda: ["DEL", rk(), rk()],
        lambda: ["UNLINK", rk()],
        lambda: ["EXPIRE", rk(), "1000"],
        lambda: ["EXPIRE", rk(), "1000", "NX"],
        lambda: ["PEXPIREAT", rk(), far + "000"],
        lambda: ["EXPIREAT", rk(), "1"],
        lambda: ["PERSIST", rk()],
        lambda: ["RENAME", rk(), rk()],
        lambda: ["RENAMENX", rk(), rk()],
        lambda: ["COPY", rk(), rk(), "REPLACE"],
        lambda: ["COPY", rk(), rk(), "DB", "1"],
        lambda: ["MOVE", rk(), "1"],
        lambda: ["EVAL", "redis.call('SET', KEYS[1], 'lua'); return redis.call('INCR', KEYS[2])",
                 "2", rk(), rk()],
    ]
    out = []
    for _ in range(n):
        if random.random() < 0.05:
            out.append(["MULTI"])
            for _ in range(random.randint(1, 3)):
                out.append(random.choice(makers)())
            out.append(["EXEC"])
        else:
            out.append(random.choice(makers)())
    return out


def events(port, stream):
    """Runs `stream` on a fresh connection and returns every keyspace event
    published meanwhile, in order."""
    r = redis.Redis(port=port, decode_responses=True)
    r.flushall()
    r.config_set("notify-keyspace-events", "AKEn")
    sub = redis.Redis(port=port, decode_responses=True).pubsub()
    sub.psubscribe("__key*@0__:*", "__key*@1__:*", "end")
    while sub.get_message(timeout=1) is not None:
        pass
    raw = Conn(port)
    for cmd in stream:
        raw.call(*cmd)
    raw.close()
    r.publish("end", "end")
    got = []
    deadline = time.time() + 30
    while time.time() < deadline:
        m = sub.get_message(timeout=1)
        if m is None or m["type"] != "pmessage":
            continue
        if m["channel"] == "end":
            break
        got.append((m["channel"], m["data"]))
    sub.close()
    r.config_set("notify-keyspace-events", "")
    return got


def misses_and_expiry(port, reads):
    """Keyspace events of `reads` on missing keys (class m) and of keys
    expiring by lazy and active expiry (class x)."""
    r = redis.Redis(port=port, decode_responses=True)
    r.flushall()
    r.config_set("notify-keyspace-events", "Kgxm$")
    sub = r.pubsub()
    sub.psubscribe("__keyspace@0__:*")
    sub.get_message(timeout=1)
    raw = Conn(port)
    for cmd in reads:
        raw.call(*cmd)
    raw.call("SET", "lazy", "v", "PX", "20")
    raw.call("SET", "active", "v", "PX", "20")
    time.sleep(0.05)
    raw.call("GET", "lazy")
    time.sleep(0.5)
    raw.close()
    got = []
    while (m := sub.get_message(timeout=0.3)) is not None:
        if m["type"] == "pmessage":
            got.append((m["channel"].split(":", 1)[1], m["data"]))
    sub.close()
    r.config_set("notify-keyspace-events", "")
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("NOTIFY_SEED", "7")))
    ap.add_argument("--commands", type=int, default=3000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        rport = free_port()
        PROCS.append(subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL))
        wait_ping(rport)
        _, port = start_redistill(args.binary, tmp, "redistill", [], PROCS)

        # CONFIG GET shows the classes normalised as Redis does.
        for p in (rport, port):
            r = redis.Redis(port=p, decode_responses=True)
            r.config_set("notify-keyspace-events", "KEA")
            assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
            r.config_set("notify-keyspace-events", "")

        stream = commands(args.seed, args.commands)
        expected = events(rport, stream)
        got = events(port, stream)
        print(f"notifications: {len(stream)} commands, redis-server published "
              f"{len(expected)} events, Redistill {len(got)}")
        for i, (a, b) in enumerate(zip(expected, got)):
            if a != b:
                lo = max(0, i - 5)
                raise SystemExit(f"event {i} differs: redis {a} redistill {b}\n"
                                 f"redis:     {expected[lo:i + 5]}\nredistill: {got[lo:i + 5]}")
        if len(expected) != len(got):
            raise SystemExit(f"redis published {len(expected)} events, Redistill {len(got)}: "
                             f"tails {expected[len(got):][:5]} / {got[len(expected):][:5]}")

        # Key misses (m) on reads, and expiry (x), as redis-server.
        reads = [["GET", "m1"], ["HGET", "m2", "f"], ["LRANGE", "m3", "0", "1"], ["EXISTS", "m4"],
                 ["TYPE", "m5"], ["TTL", "m6"], ["SCARD", "m7"], ["ZSCORE", "m8", "a"],
                 ["MGET", "m9", "m10"], ["LLEN", "m11"], ["SET", "m12", "v", "GET"],
                 ["INCR", "m13"], ["OBJECT", "ENCODING", "m14"]]
        seen = {}
        for p in (rport, port):
            seen[p] = misses_and_expiry(p, reads)
        # (Sorted: whether lazy or active expiry takes a key first is timing.)
        assert sorted(seen[rport]) == sorted(seen[port]), \
            f"redis {seen[rport]}\nredistill {seen[port]}"
        print(f"notifications: key misses and expiry as redis-server ({len(seen[port])} events)")

        # Eviction (e): every evicted key is announced and gone.
        r = redis.Redis(port=port, decode_responses=True)
        r.config_set("notify-keyspace-events", "Ee")
        sub = r.pubsub()
        sub.subscribe("__keyevent@0__:evicted")
        sub.get_message(timeout=1)
        r.config_set("maxmemory-policy", "allkeys-random")
        r.config_set("maxmemory", "2mb")
        pipe = r.pipeline(transaction=False)
        for i in range(20000):
            pipe.set(f"evict:{i}", "x" * 100)
        pipe.execute()
        evicted = []
        while (m := sub.get_message(timeout=0.5)) is not None:
            if m["type"] == "message":
                evicted.append(m["data"])
        assert evicted, "no evicted events"
        assert len(set(evicted)) == len(evicted), "a key was announced twice"
        assert r.exists(*evicted[:500]) == 0, "an announced key still exists"
        r.config_set("maxmemory", "0")
        r.config_set("notify-keyspace-events", "")
        sub.close()
        print(f"notifications: {len(evicted)} evictions announced")

        # Off: nothing is published.
        r = redis.Redis(port=port, decode_responses=True)
        sub = r.pubsub()
        sub.psubscribe("__key*__:*")
        sub.get_message(timeout=1)
        r.set("quiet", "1")
        r.delete("quiet")
        assert sub.get_message(timeout=0.3) is None
        print("notifications: passed")
    finally:
        for p in PROCS:
            p.kill()
            p.wait()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
