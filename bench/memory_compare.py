#!/usr/bin/env python3
"""Bytes per key, redis-server vs Redistill, from RSS growth.

Loads the same datasets into a fresh server of each kind and prints the RSS
growth divided by the number of keys, and the ratio Redistill / Redis:
  - 1,000,000 keys of 16 bytes with 8-byte values
  - 1,000,000 keys of 16 bytes with 64-byte values
  - the same with a one-day TTL on every key
  - 1,000,000 keys of 16 bytes with integer values: "100000", "100001", ...
    (key i holds 100000 + i), all distinct and >= 10000, so redis-server
    cannot use its shared integer objects (0..9999) and stores each value
    as an integer-encoded object of its own
  - 1,000,000 keys of 16 bytes with 1024-byte values (~1.3 GB of RSS
    per server, one server at a time; about 12 s of the run)
  - 100,000 hashes of 10 fields (8-byte field names, 8-byte values)
  - 100,000 lists of 10 items, 100,000 sets of 10 strings, 100,000 sets
    of 10 integers, 100,000 sorted sets of 10 members
  - one sorted set of 1,000,000 members (bytes per member)
  - with --big only: 10,000,000 keys of 16 bytes with 64-byte values
    (about 1.8 GB of RSS per server; adds about a minute)

For each row it also prints the accounting ratio of each server:
(INFO used_memory after loading - used_memory of the empty server) /
(RSS after loading - RSS of the empty server), i.e. how much of the real
memory growth the server's own accounting sees (1.00 = all of it; the aim
for Redistill is 0.90-1.10). RSS is VmRSS from /proc/<pid>/status.

Usage: bench/memory_compare.py [--keys 1000000] [--hashes 100000] [--big]
           [--redistill PATH]   (default $REDISTILL_BIN, else target/release/redistill)
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


def measure(kind, loader, n, keys=None, binary=None):
    """(RSS growth per unit, accounting ratio) for `n` units loaded into a
    fresh server; `keys` is the DBSIZE to expect (`n` when not given). The
    accounting ratio is used_memory growth / RSS growth."""
    srv = Server(kind, binary=binary)
    try:
        rss0, used0 = srv.rss(), int(srv.info("used_memory"))
        loader(srv.conn)
        count = srv.conn.call("DBSIZE")
        want = n if keys is None else keys
        assert count == want, f"{kind}: {count} keys instead of {want}"
        rss, used = srv.rss() - rss0, int(srv.info("used_memory")) - used0
        return rss / n, (used / rss if rss > 0 else float("nan"))
    finally:
        srv.stop()


def load_integers(conn, n):
    batch = []
    for i in range(n):
        batch.append(("SET", "key:%012d" % i, str(100000 + i)))
        if len(batch) == 5000:
            conn.pipeline(batch)
            batch = []
    if batch:
        conn.pipeline(batch)


def datasets(keys, hashes):
    """(name, loader, key count) for every dataset the memory table lists."""
    value64 = "x" * 63 + "y"
    value8 = "abcdefgh"
    value1k = "k" * 1023 + "z"
    return [
        (f"{keys} keys, 16 B key, 8 B value", lambda c: load_strings(c, keys, value8), keys),
        (f"{keys} keys, 16 B key, 64 B value", lambda c: load_strings(c, keys, value64), keys),
        (f"{keys} keys, 16 B key, 64 B value, TTL",
         lambda c: load_strings(c, keys, value64, ttl=86400), keys),
        (f"{keys} keys, 16 B key, integer value >= 100000",
         lambda c: load_integers(c, keys), keys),
        (f"{keys} keys, 16 B key, 1024 B value", lambda c: load_strings(c, keys, value1k), keys),
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


def huge_datasets(keys):
    """The --big rows: (name, loader, key count)."""
    value64 = "x" * 63 + "y"
    return [(f"{keys} keys, 16 B key, 64 B value", lambda c: load_strings(c, keys, value64), keys)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--hashes", type=int, default=100_000)
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--big", action="store_true", help="add a 10,000,000-key 16 B/64 B row")
    ap.add_argument("--keys-big", type=int, default=0, help="add that row with N keys instead")
    ap.add_argument("--redistill", default=None, help="Redistill binary (default $REDISTILL_BIN, "
                    "else target/release/redistill)")
    args = ap.parse_args()
    rows = [(name, loader, n, None) for name, loader, n in datasets(args.keys, args.hashes)]
    rows += big_datasets(args.members)
    if args.big or args.keys_big:
        huge = huge_datasets(args.keys_big or 10_000_000)
        rows += [(name, loader, n, None) for name, loader, n in huge]
    print(f"{'dataset':<46} {'redis B/key':>12} {'redistill B/key':>16} {'ratio':>7}"
          f" {'redis used/RSS':>15} {'redistill used/RSS':>19}")
    for name, loader, n, keys in rows:
        a, acct_a = measure("redis", loader, n, keys)
        b, acct_b = measure("redistill", loader, n, keys, binary=args.redistill)
        print(f"{name:<46} {a:>12.1f} {b:>16.1f} {b / a:>6.2f}x {acct_a:>15.2f} {acct_b:>19.2f}",
              flush=True)


if __name__ == "__main__":
    main()
