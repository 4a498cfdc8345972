#!/usr/bin/env python3
"""Throughput of a Redis Cluster of redis-server nodes and of Redistill
nodes, through a cluster client, in one run.

    bench/cluster.py                      # 1, 2 and 3 nodes, 3 rounds
    bench/cluster.py --rounds 5 --nodes 3 --requests 400000

For each node count, each round starts fresh nodes of one kind from the
same topology (deploy/cluster/make-nodes-conf.py: the slots split evenly),
waits for `cluster_state:ok`, runs `redis-benchmark --cluster` SET then
GET (-c 50, -P 16, 64 B values, -r 100000; redis-benchmark reads CLUSTER
NODES and sends each key to its slot's node; with one node, which serves
every slot, it connects directly), and stops everything; the
kinds alternate and the order flips every round. Medians are printed with
the ratio Redistill/Redis.

On a 2-core machine the nodes and the load generator share the cores:
more nodes do not add cores, so the figures show what each server costs
in cluster mode (slot routing, the cluster client's fan-out), not how far
a deployment with a machine per node scales.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, free_port, node_count_table  # noqa: E402

MAKE_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy", "cluster",
                         "make-nodes-conf.py")


def start_cluster(kind, nodes, tmp):
    ports = [free_port() for _ in range(nodes)]
    cports = [free_port() for _ in range(nodes)]
    subprocess.run([sys.executable, MAKE_CONF, "--dir", tmp]
                   + [f"127.0.0.1:{p}@{c}" for p, c in zip(ports, cports)],
                   check=True, capture_output=True)
    servers = []
    for p, c in zip(ports, cports):
        conf = os.path.join(tmp, f"nodes-{p}.conf")
        extra = ["--cluster-enabled", "yes", "--cluster-config-file", conf,
                 "--cluster-port", str(c)]
        if kind == "redis":
            extra += ["--cluster-node-timeout", "60000"]
        servers.append(Server(kind, extra=extra, port=p))
    deadline = time.time() + 30
    while not all(b"cluster_state:ok" in s.conn.call("CLUSTER", "INFO") for s in servers):
        if time.time() > deadline:
            raise SystemExit(f"{kind} cluster did not reach cluster_state:ok")
        time.sleep(0.1)
    return servers


def load(port, nodes, test, requests):
    # redis-benchmark's cluster mode wants two masters or more; one node
    # serving every slot is addressed directly.
    cluster = ["--cluster"] if nodes > 1 else []
    cmd = ["redis-benchmark", *cluster, "-p", str(port), "-P", "16", "-c", "50",
           "-r", "100000", "-n", str(requests), "-t", test, "-d", "64", "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    rows = [r for r in out.stdout.splitlines() if r.startswith(f'"{test.upper()}"')]
    if not rows:
        raise SystemExit(f"redis-benchmark printed no {test} row:\n{out.stdout}\n{out.stderr}")
    return float(rows[-1].split(",")[1].strip('"'))


def one_round(kind, nodes, requests):
    with tempfile.TemporaryDirectory() as tmp:
        servers = start_cluster(kind, nodes, tmp)
        try:
            return {t: load(servers[0].port, nodes, t, requests) for t in ("set", "get")}
        finally:
            for s in servers:
                s.stop()


if __name__ == "__main__":
    node_count_table(one_round, __doc__.splitlines()[0])
