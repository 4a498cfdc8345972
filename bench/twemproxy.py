#!/usr/bin/env python3
"""Throughput through twemproxy (nutcracker): redis-server nodes and
Redistill nodes behind the same proxy configuration, in one run.

    bench/twemproxy.py                      # 1, 2 and 3 nodes, 3 rounds
    bench/twemproxy.py --rounds 5 --nodes 3 --requests 400000

For each node count, each round starts fresh nodes of one kind (redis-server
or Redistill) and one nutcracker in front of them (ketama, murmur), runs
redis-benchmark SET then GET (-c 50, -P 16, 64 B values, -r 100000) against
the proxy, and stops everything; the kinds alternate and the order flips
every round. Medians are printed with the ratio Redistill/Redis.

On a 2-core machine the proxy, the nodes and the load generator share the
cores and one nutcracker process is usually the bottleneck: the figures
show what each server costs behind the proxy, not what a deployment with
a core per process reaches.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, free_port, node_count_table  # noqa: E402

NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"


def start_proxy(tmp, ports):
    listen, stats = free_port(), free_port()
    servers = "\n".join(f"    - 127.0.0.1:{p}:1 node{i + 1}" for i, p in enumerate(ports))
    conf = os.path.join(tmp, "nutcracker.yml")
    with open(conf, "w") as f:
        f.write(f"""pool:
  listen: 127.0.0.1:{listen}
  hash: murmur
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  timeout: 2000
  preconnect: true
  servers:
{servers}
""")
    proc = subprocess.Popen([NUTCRACKER, "-c", conf, "-s", str(stats), "-a", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        out = subprocess.run(["redis-cli", "-p", str(listen), "SET", "warm", "1"],
                             capture_output=True, text=True)
        if out.stdout.strip() == "OK":
            return proc, listen
        if time.time() > deadline:
            raise SystemExit("nutcracker did not come up")
        time.sleep(0.05)


def load(port, test, requests):
    cmd = ["redis-benchmark", "-p", str(port), "-P", "16", "-c", "50", "-r", "100000",
           "-n", str(requests), "-t", test, "-d", "64", "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    row = [r for r in out.stdout.splitlines() if r.startswith(f'"{test.upper()}"')][-1]
    return float(row.split(",")[1].strip('"'))


def one_round(kind, nodes, requests):
    servers = [Server(kind) for _ in range(nodes)]
    tmp = tempfile.TemporaryDirectory()
    proxy, port = start_proxy(tmp.name, [s.port for s in servers])
    try:
        return {t: load(port, t, requests) for t in ("set", "get")}
    finally:
        proxy.terminate()
        proxy.wait()
        for s in servers:
            s.stop()
        tmp.cleanup()


if __name__ == "__main__":
    node_count_table(one_round, __doc__.splitlines()[0])
