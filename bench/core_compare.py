#!/usr/bin/env python3
"""Side-by-side throughput: redis-server vs Redistill under redis-benchmark.

Starts both servers on loopback, then runs
  redis-benchmark -t set,get,incr,hset -P <depth> -c 50 -d 64 -r 100000
against each, alternating A B A B for --rounds rounds, and prints the median
requests/second per test and the ratio Redistill / Redis.

Usage: bench/core_compare.py [--rounds 3] [--requests 200000] [--pipelines 1,16]
Needs a release build (cargo build --release) and Debian's redis-server/redis-tools.
"""
import argparse
import csv
import io
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402

TESTS = ["SET", "GET", "INCR", "HSET"]


def bench(port, pipeline, requests):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set,get,incr,hset", "-P", str(pipeline),
         "-c", "50", "-d", "64", "-r", "100000", "-n", str(requests), "--csv"],
        capture_output=True, text=True, check=True).stdout
    result = {}
    for row in csv.reader(io.StringIO(out)):
        if row and row[0] in TESTS:
            result[row[0]] = float(row[1])
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--pipelines", default="1,16")
    args = ap.parse_args()
    servers = {k: Server(k) for k in ("redis", "redistill")}
    try:
        print(f"redis-benchmark -c 50 -d 64 -r 100000 -n {args.requests}, {args.rounds} rounds, alternating")
        print(f"{'test':<6} {'-P':>3} {'redis ops/s':>14} {'redistill ops/s':>16} {'ratio':>7}")
        for depth in [int(p) for p in args.pipelines.split(",")]:
            samples = {k: {t: [] for t in TESTS} for k in servers}
            for _ in range(args.rounds):
                for kind in ("redis", "redistill"):
                    for t, v in bench(servers[kind].port, depth, args.requests).items():
                        samples[kind][t].append(v)
            for t in TESTS:
                a = statistics.median(samples["redis"][t])
                b = statistics.median(samples["redistill"][t])
                print(f"{t:<6} {depth:>3} {a:>14.0f} {b:>16.0f} {b / a:>6.2f}x")
    finally:
        for srv in servers.values():
            srv.stop()


if __name__ == "__main__":
    main()
