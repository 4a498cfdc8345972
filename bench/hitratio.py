#!/usr/bin/env python3
"""Hit ratio of each eviction policy under read-through caching.

Each request is a GET of a Zipf-distributed key; a miss is followed by a
SET of that key (the usual cache-aside pattern). The cache is sized to hold
1% or 10% of the objects. One extra workload adds a one-time scan over cold
keys every 100,000 requests (the scan's own requests are not counted).
Redistill runs each policy; redis-server's allkeys-lru is the reference.

Usage: bench/hitratio.py [--objects 1000000] [--requests 2000000] [--shards 256]
"""
import argparse
import bisect
import itertools
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402

VALUE = "v" * 100
BATCH = 500


def zipf_cdf(n, alpha):
    weights = [1.0 / (i + 1) ** alpha for i in range(n)]
    return list(itertools.accumulate(weights))


def object_charge(kind, extra):
    srv = Server(kind, extra)
    try:
        srv.conn.call("SET", "obj:500000", VALUE)
        return srv.conn.call("MEMORY", "USAGE", "obj:500000"), int(srv.info("used_memory"))
    finally:
        srv.stop()


def run(kind, policy, extra, limit, cdf, args, scan, seed):
    srv = Server(kind, list(extra) + ["--maxmemory", str(limit), "--maxmemory-policy", policy])
    rng = random.Random(seed)
    total = cdf[-1]
    hits = misses = 0
    cold = 10 * args.objects
    try:
        done = 0
        while done < args.requests:
            keys = ["obj:%d" % bisect.bisect_left(cdf, rng.random() * total) for _ in range(BATCH)]
            replies = srv.conn.pipeline([("GET", k) for k in keys])
            sets = []
            for k, r in zip(keys, replies):
                if r is None:
                    misses += 1
                    sets.append(("SET", k, VALUE))
                else:
                    hits += 1
            if sets:
                srv.conn.pipeline(sets)
            done += BATCH
            if scan and done % 100_000 == 0:
                # A one-time scan over keys nobody asked for before.
                scan_keys = ["obj:%d" % (cold + i) for i in range(args.scan_length)]
                cold += args.scan_length
                for i in range(0, len(scan_keys), BATCH):
                    chunk = scan_keys[i:i + BATCH]
                    srv.conn.pipeline([("GET", k) for k in chunk])
                    srv.conn.pipeline([("SET", k, VALUE) for k in chunk])
        return hits / (hits + misses)
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=2_000_000)
    ap.add_argument("--shards", type=int, default=256)
    ap.add_argument("--scan-length", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    ours_extra = ["--shards", str(args.shards)]
    ours_charge, ours_base = object_charge("redistill", ours_extra)
    redis_charge, redis_base = object_charge("redis", [])
    policies = ["allkeys-lru", "allkeys-random", "allkeys-s3fifo"]
    rows = [(a, f, False) for a in (0.8, 1.0, 1.2) for f in (0.01, 0.10)] + [(1.0, 0.10, True)]
    print(f"objects={args.objects} requests={args.requests} value=100 B, Redistill shards={args.shards}")
    print(f"{'alpha':>5} {'cache':>6} {'scan':>5} | " + " ".join(f"{p:>15}" for p in policies) + f" | {'redis lru':>10}")
    for alpha, frac, scan in rows:
        cdf = zipf_cdf(args.objects, alpha)
        cached = int(frac * args.objects)
        ours = [run("redistill", p, ours_extra, ours_base + cached * ours_charge, cdf, args, scan, args.seed)
                for p in policies]
        ref = run("redis", "allkeys-lru", [], redis_base + cached * redis_charge, cdf, args, scan, args.seed)
        print(f"{alpha:>5} {frac:>6.0%} {'yes' if scan else 'no':>5} | "
              + " ".join(f"{h:>15.2%}" for h in ours) + f" | {ref:>10.2%}", flush=True)


if __name__ == "__main__":
    main()
