#!/usr/bin/env python3
"""GET latency and RSS while a BGSAVE runs, against the same without it.

Loads 1,000,000 keys (16 B keys, 64 B values) into a release Redistill with
snapshots on, then measures lockstep GET round trips from one client: first
with no snapshot running, then while BGSAVE runs (repeating BGSAVE until
enough samples are taken). Prints p50/p99/max latency and peak RSS for both.

Usage: bench/bgsave_latency.py [--keys 1000000] [--samples 20000]
"""
import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "redistill.toml")
        with open(cfg, "w") as f:
            f.write(f'[persistence]\nenabled = true\nsnapshot_path = "{d}/dump.rdb"\nsnapshot_interval = 0\n')
        srv = Server("redistill", [cfg])
        try:
            value = "v" * 64
            batch = []
            for i in range(args.keys):
                batch.append(("SET", "key:%012d" % i, value))
                if len(batch) == 5000:
                    srv.conn.pipeline(batch)
                    batch = []
            if batch:
                srv.conn.pipeline(batch)
            from resp import Conn
            probe = Conn(srv.port)
            rng = random.Random(1)

            def batch(lat):
                for _ in range(200):
                    k = "key:%012d" % rng.randrange(args.keys)
                    t = time.perf_counter()
                    probe.call("GET", k)
                    lat.append((time.perf_counter() - t) * 1e6)

            # Alternate: a batch with no snapshot running, then batches while
            # one runs (kept only if the snapshot ran before and after them).
            base, during = [], []
            base_rss = during_rss = srv.rss()
            saves = 0
            while len(during) < args.samples or len(base) < args.samples:
                while srv.info("rdb_bgsave_in_progress") != "0":
                    time.sleep(0.01)
                if len(base) < args.samples:
                    batch(base)
                    base_rss = max(base_rss, srv.rss())
                srv.conn.call("BGSAVE")
                saves += 1
                while srv.info("rdb_bgsave_in_progress") == "1" and len(during) < args.samples:
                    chunk = []
                    batch(chunk)
                    if srv.info("rdb_bgsave_in_progress") == "1":
                        during.extend(chunk)
                    during_rss = max(during_rss, srv.rss())
            while srv.info("rdb_bgsave_in_progress") != "0":
                time.sleep(0.05)
            size = os.path.getsize(os.path.join(d, "dump.rdb"))
            print(f"{args.keys} keys, {args.samples} GETs each, {saves} BGSAVEs alternating with snapshot-free batches, file {size >> 20} MB")
            print(f"{'':<16} {'p50 us':>8} {'p99 us':>8} {'max us':>9} {'peak RSS MB':>12}")
            for name, lat, rss in (("no snapshot", base, base_rss), ("during BGSAVE", during, during_rss)):
                print(f"{name:<16} {pct(lat, 0.5):>8.0f} {pct(lat, 0.99):>8.0f} {max(lat):>9.0f} {rss / 2**20:>12.1f}")
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
