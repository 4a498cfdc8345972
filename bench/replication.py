#!/usr/bin/env python3
"""Replication, Redistill against redis-server, side by side, in one run.

    bench/replication.py                  # all three measurements
    bench/replication.py --rounds 5 --keys 1000000

Each measurement starts a group of one kind only (a redis-server master
with redis-server replicas, a Redistill master with Redistill replicas),
fresh processes on loopback, and alternates the two kinds round by round
(the order flips every round). Medians are printed with the ratio
Redistill/Redis. On a small machine the master, its replicas and the load
generator share the cores: the figures show what replication costs each
server, not what a real deployment reaches.

1. Write throughput: redis-benchmark SET (64 B values, -c 50, -P 16,
   -r 1,000,000) against the master with 0, 1 and 2 replicas attached.
   After each run the bench waits until every replica's offset equals the
   master's, and prints how long the catch-up took.
2. Replica lag under load: while redis-benchmark runs SET -P 16 against the
   master with one replica, a probe PUBLISHes its send time on the master
   every 10 ms and a subscriber on the replica receives it (replicas
   deliver a master's PUBLISH to their own subscribers); lag is receive
   time minus send time, p50/p99/max over the run.
3. Full sync: the master holds --keys keys (16 B keys, 64 B values); a fresh
   replica is started with --replicaof and the time until it reports
   master_link_status:up with every key loaded is measured. redis-server
   runs with repl-diskless-sync-delay 0 (its default waits 5 s for more
   replicas before a diskless transfer begins).
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Server  # noqa: E402

LOADGEN = os.path.join(ROOT, "target", "release", "examples", "loadgen")
REDIS_MASTER = ["--repl-diskless-sync-delay", "0"]


def replica_args(kind, port):
    if kind == "redis":
        return ["--replicaof", "127.0.0.1", str(port)]
    return ["--replicaof", f"127.0.0.1 {port}"]


def info_fields(srv):
    text = srv.conn.call("INFO", "replication").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def wait_synced(master, replicas, timeout=120):
    """Waits until every replica's link is up and its offset equals the
    master's; returns the seconds it took."""
    started = time.time()
    while True:
        target = int(info_fields(master)["master_repl_offset"])
        done = True
        for r in replicas:
            f = info_fields(r)
            if f.get("master_link_status") != "up" or int(f.get("master_repl_offset", -1)) < target:
                done = False
                break
        if done:
            return time.time() - started
        if time.time() - started > timeout:
            raise SystemExit(f"replicas did not catch up within {timeout} s")
        time.sleep(0.01)


class Group:
    """A master and `n` replicas of one kind."""

    def __init__(self, kind, n):
        self.kind = kind
        self.master = Server(kind, REDIS_MASTER if kind == "redis" else ())
        self.replicas = [Server(kind, replica_args(kind, self.master.port)) for _ in range(n)]
        wait_synced(self.master, self.replicas)

    def stop(self):
        for srv in self.replicas + [self.master]:
            srv.stop()


def set_load(port, requests, depth=16):
    cmd = ["redis-benchmark", "-p", str(port), "-P", str(depth), "-c", "50", "-r", "1000000",
           "-n", str(requests), "-t", "set", "-d", "64", "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    row = [r for r in out.stdout.splitlines() if r.startswith('"SET"')][-1]
    return float(row.split(",")[1].strip('"'))


def throughput(args):
    print("\n== write throughput (SET -P 16, -c 50) ==")
    header = "| replicas | redis SET/s | redistill SET/s | ratio | redis catch-up s | redistill catch-up s |"
    print(header)
    print("|" + " --- |" * 6)
    requests = int(1_000_000 * args.seconds / 1.5)
    for n in (0, 1, 2):
        groups = {kind: Group(kind, n) for kind in ("redis", "redistill")}
        samples = {kind: [] for kind in groups}
        catch = {kind: [] for kind in groups}
        try:
            for r in range(args.rounds):
                order = list(groups.items()) if r % 2 == 0 else list(groups.items())[::-1]
                for kind, g in order:
                    samples[kind].append(set_load(g.master.port, requests))
                    catch[kind].append(wait_synced(g.master, g.replicas))
        finally:
            for g in groups.values():
                g.stop()
        a, b = statistics.median(samples["redis"]), statistics.median(samples["redistill"])
        ca, cb = statistics.median(catch["redis"]), statistics.median(catch["redistill"])
        print(f"| {n} | {a:.0f} | {b:.0f} | **{b / a:.2f}x** | {ca:.2f} | {cb:.2f} |", flush=True)


def resp_array(*parts):
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        p = p if isinstance(p, bytes) else str(p).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def probe_lag(master_port, replica_port, stop, lags):
    """PUBLISH the send time on the master every 10 ms; a subscriber on the
    replica records arrival minus send time (ms)."""
    sub = socket.create_connection(("127.0.0.1", replica_port))
    sub.sendall(resp_array("SUBSCRIBE", "lagprobe"))
    buf = b""
    while buf.count(b"\r\n") < 6:
        buf += sub.recv(4096)
    buf = b""
    pub = socket.create_connection(("127.0.0.1", master_port))

    def reader():
        nonlocal buf
        sub.settimeout(0.5)
        while not stop.is_set() or buf:
            try:
                chunk = sub.recv(65536)
            except socket.timeout:
                if stop.is_set():
                    return
                continue
            if not chunk:
                return
            now = time.monotonic_ns()
            buf += chunk
            # message frames: *3 $7 message $8 lagprobe $N <ns>
            while True:
                i = buf.find(b"lagprobe\r\n$")
                if i < 0:
                    break
                j = buf.find(b"\r\n", i + 11)
                if j < 0:
                    break
                n = int(buf[i + 11:j])
                if len(buf) < j + 2 + n + 2:
                    break
                sent = int(buf[j + 2:j + 2 + n])
                lags.append((now - sent) / 1e6)
                buf = buf[j + 2 + n + 2:]

    t = threading.Thread(target=reader)
    t.start()
    while not stop.is_set():
        pub.sendall(resp_array("PUBLISH", "lagprobe", time.monotonic_ns()))
        pub.recv(64)
        time.sleep(0.01)
    time.sleep(1.0)
    stop.set()
    t.join()
    pub.close()
    sub.close()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def lag(args):
    print("\n== replica lag under SET -P 16 load (1 replica) ==")
    header = "| server | SET/s | lag p50 ms | lag p99 ms | lag max ms | probes |"
    print(header)
    print("|" + " --- |" * 6)
    requests = int(2_000_000 * args.seconds / 1.5)
    groups = {kind: Group(kind, 1) for kind in ("redis", "redistill")}
    results = {kind: [] for kind in groups}
    try:
        for r in range(args.rounds):
            order = list(groups.items()) if r % 2 == 0 else list(groups.items())[::-1]
            for kind, g in order:
                stop, lags = threading.Event(), []
                probe = threading.Thread(target=probe_lag,
                                         args=(g.master.port, g.replicas[0].port, stop, lags))
                probe.start()
                time.sleep(0.2)
                ops = set_load(g.master.port, requests)
                stop.set()
                probe.join()
                wait_synced(g.master, g.replicas)
                results[kind].append((ops, lags))
    finally:
        for g in groups.values():
            g.stop()
    for kind, runs in results.items():
        ops = statistics.median(r[0] for r in runs)
        p50 = statistics.median(percentile(r[1], 50) for r in runs)
        p99 = statistics.median(percentile(r[1], 99) for r in runs)
        worst = statistics.median(max(r[1]) for r in runs)
        count = sum(len(r[1]) for r in runs)
        print(f"| {kind} | {ops:.0f} | {p50:.2f} | {p99:.2f} | {worst:.2f} | {count} |", flush=True)


def full_sync(args):
    print(f"\n== full sync of {args.keys} keys (16 B keys, 64 B values) ==")
    header = "| server | seconds to a loaded replica | replica RSS MB |"
    print(header)
    print("|" + " --- |" * 3)
    times = {"redis": [], "redistill": []}
    rss = {"redis": [], "redistill": []}
    masters = {}
    try:
        for kind in times:
            masters[kind] = Server(kind, REDIS_MASTER if kind == "redis" else ())
            subprocess.run([LOADGEN, "--port", str(masters[kind].port), "--preload", str(args.keys),
                            "--datasize", "64"], check=True, timeout=600)
        for r in range(args.rounds):
            order = list(times) if r % 2 == 0 else list(times)[::-1]
            for kind in order:
                m = masters[kind]
                started = time.time()
                rep = Server(kind, replica_args(kind, m.port))
                while True:
                    f = info_fields(rep)
                    if f.get("master_link_status") == "up" and rep.conn.call("DBSIZE") >= args.keys:
                        break
                    if time.time() - started > 300:
                        raise SystemExit("full sync did not finish in 300 s")
                    time.sleep(0.005)
                times[kind].append(time.time() - started)
                rss[kind].append(rep.rss() / 1e6)
                rep.stop()
    finally:
        for m in masters.values():
            m.stop()
    for kind in times:
        print(f"| {kind} | {statistics.median(times[kind]):.2f} "
              f"| {statistics.median(rss[kind]):.0f} |", flush=True)
    a, b = statistics.median(times["redis"]), statistics.median(times["redistill"])
    print(f"\nRedistill/Redis full-sync time: {b / a:.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="throughput,lag,fullsync")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.5, help="rough length of one load run")
    ap.add_argument("--keys", type=int, default=1_000_000, help="keys for the full sync")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "redistill", "--example", "loadgen"],
                       cwd=ROOT, check=True)
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{os.cpu_count()} CPUs, {version}, median of {args.rounds} alternating rounds")
    sections = {"throughput": throughput, "lag": lag, "fullsync": full_sync}
    for name in args.only.split(","):
        sections[name](args)


if __name__ == "__main__":
    main()
