#!/usr/bin/env python3
"""Bytes per key, redis-server vs Redistill, from RSS growth.

Loads the same datasets into a fresh server of each kind and prints the RSS
growth divided by the number of keys, and the ratio Redistill / Redis:
  - 1,000,000 keys of 16 bytes with 8-byte values
  - 1,000,000 keys of 16 bytes with 64-byte values
  - the same with a one-day TTL on every key
  - 100,000 hashes of 10 fields (8-byte field names, 8-byte values)
  - 100,000 lists of 10 items, 100,000 sets of 10 strings, 100,000 sets
    of 10 integers, 100,000 sorted sets of 10 members
  - one sorted set of 1,000,000 members (bytes per member)

Usage: bench/memory_compare.py [--keys 1000000] [--hashes 100000]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402


def load_strings(conn, n, value, ttl=None):
    batch = []
    expiry = ("EX", str(ttl)) if ttl else ()
    for i in range(n):
        batch.append(("SET", "key:%012d" % i, value) + expiry)
        if len(batch) == 5000:
            conn.pipeline(batch)
            batch = []
    if batch:
        conn.pipeline(batch)


def load_hashes(conn, n):
    batch = []
    for i in range(n):
        args = ["HSET", "hash:%011d" % i]
        for f in range(10):
            args += ["field:%02d" % f, "val%05d" % f]
        batch.append(args)
        if len(batch) == 1000:
            conn.pipeline(batch)
            batch = []
    if batch:
        conn.pipeline(batch)


def load_collections(conn, n, make):
    batch = []
    for i in range(n):
        batch.append(make(i))
        if len(batch) == 1000:
            conn.pipeline(batch)
            batch = []
    if batch:
        conn.pipeline(batch)


def load_big_zset(conn, members):
    batch = []
    for start in range(0, members, 1000):
        args = ["ZADD", "leaderboard"]
        for i in range(start, min(start + 1000, members)):
            args += [str(i * 7 % 1000003), "player:%07d" % i]
        batch.append(args)
        if len(batch) == 50:
            conn.pipeline(batch)
            batch = []
    if batch:
        conn.pipeline(batch)


def measure(kind, loader, n, keys=None):
    """RSS growth per unit (`n` units; `keys` the DBSIZE to expect, `n`
    when not given)."""
    srv = Server(kind)
    try:
        before = srv.rss()
        loader(srv.conn)
        count = srv.conn.call("DBSIZE")
        want = n if keys is None else keys
        assert count == want, f"{kind}: {count} keys instead of {want}"
        return (srv.rss() - before) / n
    finally:
        srv.stop()


def datasets(keys, hashes):
    """(name, loader, key count) for every dataset the memory table lists."""
    value64 = "x" * 63 + "y"
    value8 = "abcdefgh"
    return [
        (f"{keys} keys, 16 B key, 8 B value", lambda c: load_strings(c, keys, value8), keys),
        (f"{keys} keys, 16 B key, 64 B value", lambda c: load_strings(c, keys, value64), keys),
        (f"{keys} keys, 16 B key, 64 B value, TTL",
         lambda c: load_strings(c, keys, value64, ttl=86400), keys),
        (f"{hashes} hashes of 10 fields", lambda c: load_hashes(c, hashes), hashes),
        (f"{hashes} lists of 10 items",
         lambda c: load_collections(c, hashes, lambda i: ["RPUSH", "list:%011d" % i] + ["item:%04d" % j for j in range(10)]),
         hashes),
        (f"{hashes} sets of 10 strings",
         lambda c: load_collections(c, hashes, lambda i: ["SADD", "set:%012d" % i] + ["member:%03d" % j for j in range(10)]),
         hashes),
        (f"{hashes} sets of 10 integers",
         lambda c: load_collections(c, hashes, lambda i: ["SADD", "iset:%011d" % i] + [str(1000 + j * 37) for j in range(10)]),
         hashes),
        (f"{hashes} sorted sets of 10 members",
         lambda c: load_collections(c, hashes, lambda i: ["ZADD", "zset:%011d" % i] + sum([[str(j * 10), "m:%03d" % j] for j in range(10)], [])),
         hashes),
    ]


def big_datasets(members):
    """(name, loader, unit count, keys) for one-key datasets, per member."""
    return [(f"1 sorted set of {members} members (per member)",
             lambda c: load_big_zset(c, members), members, 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--hashes", type=int, default=100_000)
    ap.add_argument("--members", type=int, default=1_000_000)
    args = ap.parse_args()
    rows = datasets(args.keys, args.hashes)
    print(f"{'dataset':<42} {'redis B/key':>12} {'redistill B/key':>16} {'ratio':>7}")
    for name, loader, n in rows:
        a = measure("redis", loader, n)
        b = measure("redistill", loader, n)
        print(f"{name:<42} {a:>12.1f} {b:>16.1f} {b / a:>6.2f}x")
    for name, loader, n, keys in big_datasets(args.members):
        a = measure("redis", loader, n, keys)
        b = measure("redistill", loader, n, keys)
        print(f"{name:<42} {a:>12.1f} {b:>16.1f} {b / a:>6.2f}x")


if __name__ == "__main__":
    main()
