#!/usr/bin/env python3
"""Write storm far past the memory limit: 300 MB of 1 KB values into a
32 MB Redistill, for each eviction policy. Samples used_memory and RSS after
every pipeline of 1,000 SETs and prints the worst seen against the limit.

Usage: bench/storm.py [--limit-mb 32] [--total-mb 300]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit-mb", type=int, default=32)
    ap.add_argument("--total-mb", type=int, default=300)
    args = ap.parse_args()
    limit = args.limit_mb << 20
    value = b"v" * 1024
    print(f"{args.total_mb} MB of 1 KB values into maxmemory {args.limit_mb} MB")
    print(f"{'policy':<16} {'max used_memory':>16} {'over limit':>11} {'max RSS':>10} {'RSS/limit':>10} {'evicted':>9}")
    for policy in ["allkeys-lru", "allkeys-random", "allkeys-s3fifo"]:
        srv = Server("redistill", ["--maxmemory", str(limit), "--maxmemory-policy", policy])
        try:
            worst_used = worst_rss = 0
            n = args.total_mb * 1024
            for start in range(0, n, 1000):
                srv.conn.pipeline([("SET", "key:%d" % i, value) for i in range(start, min(n, start + 1000))])
                worst_used = max(worst_used, int(srv.info("used_memory")))
                worst_rss = max(worst_rss, srv.rss())
            evicted = int(srv.info("evicted_keys"))
            over = (worst_used - limit) / limit
            print(f"{policy:<16} {worst_used:>16} {over:>+10.2%} {worst_rss >> 20:>8}MB {worst_rss / limit:>9.2f}x {evicted:>9}")
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
