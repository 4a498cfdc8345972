#!/usr/bin/env python3
"""Writes one nodes.conf per node for a static Redistill cluster: the
16384 hash slots split evenly over the masters, in Redis Cluster's
nodes.conf format, each file naming its own node `myself`.

    make-nodes-conf.py [--dir DIR] HOST:PORT[@BUSPORT] HOST:PORT[@BUSPORT] ...

writes DIR/nodes-PORT.conf for every node (DIR defaults to .). Start each
node with `--cluster-enabled yes --cluster-config-file <its file>`.
HOST must be the address clients reach the node at (it is what MOVED
redirections name). Node ids are random; run the script once and give
every node its file.
"""
import argparse
import os
import secrets

SLOTS = 16384


def split(n):
    """Even slot ranges for n masters, as redis-cli --cluster create splits."""
    per = SLOTS / n
    ranges, first, cursor = [], 0, 0.0
    for i in range(n):
        last = int(cursor + per - 1 + 0.5)
        if last > SLOTS - 1 or i == n - 1:
            last = SLOTS - 1
        ranges.append((first, last))
        first, cursor = last + 1, cursor + per
    return ranges


def parse(addr):
    hostport, _, bus = addr.partition("@")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"not HOST:PORT[@BUSPORT]: {addr}")
    port = int(port)
    bus = int(bus) if bus else port + 10000
    if bus > 65535:
        raise SystemExit(f"{addr}: the bus port (port + 10000) is above 65535; give @BUSPORT")
    return host, port, bus


def render(nodes, ids, ranges, me):
    lines = []
    for i, ((host, port, bus), node_id, (first, last)) in enumerate(zip(nodes, ids, ranges)):
        flags = "myself,master" if i == me else "master"
        lines.append(f"{node_id} {host}:{port}@{bus} {flags} - 0 0 {i + 1} connected {first}-{last}")
    lines.append(f"vars currentEpoch {len(nodes)} lastVoteEpoch 0")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=".")
    ap.add_argument("nodes", nargs="+", metavar="HOST:PORT[@BUSPORT]")
    args = ap.parse_args()
    nodes = [parse(a) for a in args.nodes]
    ids = [secrets.token_hex(20) for _ in nodes]
    ranges = split(len(nodes))
    for me, (_, port, _) in enumerate(nodes):
        path = os.path.join(args.dir, f"nodes-{port}.conf")
        with open(path, "w") as f:
            f.write(render(nodes, ids, ranges, me))
        print(f"{path}: {ids[me]} slots {ranges[me][0]}-{ranges[me][1]}")


if __name__ == "__main__":
    main()
