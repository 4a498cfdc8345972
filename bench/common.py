"""Shared helpers for the side-by-side benchmarks: start redis-server and
Redistill on free loopback ports, talk RESP over raw sockets, read RSS."""
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
from resp import Conn  # noqa: E402  (the same raw RESP client the tests use)
BINARY = os.environ.get("REDISTILL_BIN", os.path.join(ROOT, "target", "release", "redistill"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, kind, extra=(), binary=None, port=None):
        self.kind = kind
        self.port = port or free_port()
        self.tmp = tempfile.TemporaryDirectory()
        if kind == "redis":
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", self.tmp.name]
        else:
            binary = binary or BINARY
            if not os.path.exists(binary):
                raise SystemExit(f"{binary} is missing: build first (cargo build --release)")
            cmd = [binary, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.conn = Conn(self.port)
                self.conn.call("PING")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def info(self, field):
        text = self.conn.call("INFO", "all").decode()
        for line in text.split("\r\n"):
            if line.startswith(field + ":"):
                return line.split(":", 1)[1]
        return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.tmp.cleanup()




def node_count_table(one_round, description):
    """The command line and table of bench/twemproxy.py and bench/cluster.py:
    for each node count, `one_round(kind, nodes, requests)` (a dict of
    ops/s per test) runs for redis-server and Redistill alternately, the
    order flipping every round; medians and ratios are printed."""
    import argparse
    import statistics
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nodes", default="1,2,3")
    ap.add_argument("--requests", type=int, default=400000)
    args = ap.parse_args()
    print("| nodes | test | redis ops/s | redistill ops/s | ratio |")
    print("|---|---|---|---|---|")
    for nodes in [int(n) for n in args.nodes.split(",")]:
        results = {"redis": [], "redistill": []}
        for r in range(args.rounds):
            order = ["redis", "redistill"] if r % 2 == 0 else ["redistill", "redis"]
            for kind in order:
                results[kind].append(one_round(kind, nodes, args.requests))
        for test in ("set", "get"):
            theirs = statistics.median(x[test] for x in results["redis"])
            ours = statistics.median(x[test] for x in results["redistill"])
            print(f"| {nodes} | {test.upper()} | {theirs:.0f} | {ours:.0f} | **{ours / theirs:.2f}x** |",
                  flush=True)
