#!/usr/bin/env python3
"""Bytes per key, redis-server vs Redistill, from RSS growth.

Loads the same datasets into a fresh server of each kind and prints the RSS
growth divided by the number of keys, and the ratio Redistill / Redis:
  - 1,000,000 keys of 16 bytes with 8-byte values
  - 1,000,000 keys of 16 bytes with 64-byte values
  - the same with a one-day TTL on every key
  - 100,000 hashes of 10 fields (8-byte field names, 8-byte values)

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


def measure(kind, loader, n):
    srv = Server(kind)
    try:
        before = srv.rss()
        loader(srv.conn)
        count = srv.conn.call("DBSIZE")
        assert count == n, f"{kind}: {count} keys instead of {n}"
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
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--hashes", type=int, default=100_000)
    args = ap.parse_args()
    rows = datasets(args.keys, args.hashes)
    print(f"{'dataset':<42} {'redis B/key':>12} {'redistill B/key':>16} {'ratio':>7}")
    for name, loader, n in rows:
        a = measure("redis", loader, n)
        b = measure("redistill", loader, n)
        print(f"{name:<42} {a:>12.1f} {b:>16.1f} {b / a:>6.2f}x")


if __name__ == "__main__":
    main()
