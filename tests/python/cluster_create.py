"""Clusters built by `redis-cli --cluster create` over the cluster bus:
three Redistill nodes, and a mixed cluster of two redis-server nodes and
one Redistill node.

- create finishes (the nodes MEET, learn each other by gossip and agree on
  every slot's owner), `--cluster check` is clean from every node, and
  every node lists the others as connected masters with their slots;
- redis-py RedisCluster writes and reads keys over all nodes, and so does
  ioredis's Cluster client (pipeline, hash-tagged transaction, CROSSSLOT);
- in the mixed cluster `redis-cli --cluster reshard` moves slots with keys
  from a redis-server node to the Redistill node and on to the other
  redis-server node; every node (both kinds) agrees on the result and no
  key is lost;
- CLUSTER FORGET on every other node removes a node for good (gossip does
  not bring it back);
- six Redistill nodes with `--cluster-replicas 1`: each replica
  replicates its master (CLUSTER REPLICATE, then the replication
  protocol), CLUSTER SLOTS lists it once synced, redis-py with
  replicas in its load balancing reads every key back, and a
  write sent to a replica is redirected to its master;
- malformed frames on the bus port (bad signature, absurd lengths, gossip
  counts beyond the frame, a truncated header) are dropped and the node
  keeps serving and agreeing.

    cluster_create.py REDISTILL_BINARY
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import redis
from redis.cluster import ClusterNode, LoadBalancingStrategy, RedisCluster

from procs import free_port, owned_listener, start_redistill, stop_all, wait_for, wait_ping


BUS_PORTS = {}


def cli(*args, timeout=120):
    r = subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def start_node(kind, binary, tmp, name, procs):
    """A cluster node of `kind`; returns its client port. The bus port is
    given explicitly (a free one), as port + 10000 may not be free."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    cport = free_port()
    if kind == "redis":
        port = free_port()
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", d, "--cluster-enabled", "yes",
             "--cluster-port", str(cport), "--cluster-node-timeout", "5000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        wait_ping(port)
        BUS_PORTS[port] = cport
        return port
    _, port = start_redistill(binary, d, name,
                             ["--cluster-enabled", "yes", "--cluster-port", str(cport),
                              "--cluster-node-timeout", "5000"],
                             procs, listener=owned_listener())
    BUS_PORTS[port] = cport
    return port


def bus_garbage(port):
    """Malformed frames on the bus port: the link is dropped or the frame
    ignored, and the node goes on serving."""
    cport = BUS_PORTS[port]
    header = bytearray(2256)
    header[0:4] = b"RCmb"
    struct.pack_into(">IH", header, 4, 2256, 1)
    short_gossip = bytes(header)
    short_gossip = short_gossip[:14] + struct.pack(">H", 500) + short_gossip[16:]
    for frame in (b"GARBAGE!" * 10, b"RCmb\x7f\xff\xff\xff", b"RCmb\x00\x00\x00\x10",
                  short_gossip, bytes(header[:2000])):
        s = socket.create_connection(("127.0.0.1", cport), timeout=5)
        try:
            # The node may drop the link as soon as it reads the bad bytes.
            s.sendall(frame)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()
    assert redis.Redis(port=port).ping()


def create(ports):
    code, out = cli("--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-yes")
    assert code == 0 and "[OK] All 16384 slots covered." in out \
        and "[OK] All nodes agree about slots configuration." in out, out[-3000:]


def agree(ports):
    """Every node sees every node, connected, with the same slot owners."""
    views = []
    for port in ports:
        raw = subprocess.run(["redis-cli", "-p", str(port), "cluster", "nodes"],
                             capture_output=True, text=True).stdout
        lines = sorted(l for l in raw.splitlines() if l)
        if len(lines) != len(ports) or any(" connected" not in l for l in lines):
            return False
        views.append([(l.split()[0], tuple(l.split()[8:])) for l in lines])
    return all(v == views[0] for v in views)


def check_everywhere(ports):
    for port in ports:
        code, out = cli("--cluster", "check", f"127.0.0.1:{port}")
        assert code == 0 and "[OK] All 16384 slots covered." in out \
            and "[OK] All nodes agree about slots configuration." in out, out[-3000:]


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="redistill-cluster-create-")
    procs = []
    try:
        # Three Redistill nodes.
        ports = [start_node("redistill", binary, tmp, f"r{i}", procs) for i in range(3)]
        started = time.time()
        create(ports)
        wait_for("the nodes to agree", lambda: agree(ports), 30)
        check_everywhere(ports)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[1])],
                          decode_responses=True)
        for i in range(500):
            rc.set(f"user:{i}", i)
        assert all(rc.get(f"user:{i}") == str(i) for i in range(500))
        sizes = [redis.Redis(port=p).dbsize() for p in ports]
        assert sum(sizes) == 500 and min(sizes) > 100, sizes
        bus_garbage(ports[0])
        wait_for("the nodes to agree after bad frames", lambda: agree(ports), 30)
        # ioredis's Cluster client (tests/node, installed by scripts/test).
        node_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")
        out = subprocess.run(["node", os.path.join(node_dir, "cluster_ioredis.mjs"), str(ports[2])],
                             capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, out.stdout + out.stderr
        print("cluster_create: " + out.stdout.strip())
        print(f"cluster_create: three Redistill nodes created by redis-cli in "
              f"{time.time() - started:.1f}s; keys per node {sizes}")

        # FORGET: the third node leaves every other node's table and gossip
        # does not bring it back.
        ids = [redis.Redis(port=p, decode_responses=True).cluster("myid") for p in ports]
        for port in ports[:2]:
            redis.Redis(port=port).cluster("forget", ids[2])
        time.sleep(2.5)
        for port in ports[:2]:
            nodes = subprocess.run(["redis-cli", "-p", str(port), "cluster", "nodes"],
                                   capture_output=True, text=True).stdout
            assert ids[2] not in nodes, nodes
        print("cluster_create: a forgotten node stays forgotten")

        # Six nodes, one replica per master.
        six = [start_node("redistill", binary, tmp, f"s{i}", procs) for i in range(6)]
        code, out = cli("--cluster", "create", *[f"127.0.0.1:{p}" for p in six],
                        "--cluster-replicas", "1", "--cluster-yes")
        assert code == 0 and "[OK] All 16384 slots covered." in out, out[-3000:]
        wait_for("the six nodes to agree", lambda: agree(six), 30)
        roles = {p: redis.Redis(port=p).execute_command("ROLE")[0] for p in six}
        assert sorted(roles.values()) == [b"master"] * 3 + [b"slave"] * 3, roles
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", six[0])],
                          decode_responses=True,
                          load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)
        for i in range(600):
            rc.set(f"r:{i}", i)

        def replicas_listed():
            slots = redis.Redis(port=six[0]).cluster("slots")
            return len(slots) == 3 and all(len(s[3:]) == 1 for s in slots)
        wait_for("CLUSTER SLOTS to list the synced replicas", replicas_listed, 30)

        def replicas_caught_up():
            offs = [redis.Redis(port=p).info("replication") for p in six]
            masters = {o["master_repl_offset"] for o in offs if o["role"] == "master"}
            return all(o.get("slave_repl_offset", 0) in masters for o in offs
                       if o["role"] == "slave")
        wait_for("the replicas to catch up", replicas_caught_up, 30)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", six[0])],
                          decode_responses=True,
                          load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS)
        assert all(rc.get(f"r:{i}") == str(i) for i in range(600))
        replica_reads = sum(
            redis.Redis(port=p).info("commandstats").get("cmdstat_get", {}).get("calls", 0)
            for p in six if roles[p] == b"slave")
        assert replica_reads > 0, replica_reads
        replica = next(p for p in six if roles[p] == b"slave")
        role = redis.Redis(port=replica).execute_command("ROLE")
        try:
            redis.Redis(port=replica).set("r:1", "x")
            raise AssertionError("a replica accepted a write")
        except redis.exceptions.MovedError as e:
            slot = redis.Redis(port=replica).cluster("keyslot", "r:1")
            owner = next(s for s in redis.Redis(port=replica).cluster("slots")
                         if s[0] <= slot <= s[1])
            assert (e.slot_id, e.port) == (slot, owner[2][1]), (e, owner, role)
        print(f"cluster_create: six nodes with --cluster-replicas 1: {replica_reads} of 600 "
              f"reads served by replicas")

        # Mixed: two redis-server nodes and one Redistill node.
        mixed = [start_node("redis", binary, tmp, "m0", procs),
                 start_node("redis", binary, tmp, "m1", procs),
                 start_node("redistill", binary, tmp, "m2", procs)]
        create(mixed)
        wait_for("the mixed nodes to agree", lambda: agree(mixed), 30)
        check_everywhere(mixed)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", mixed[0])],
                          decode_responses=True)
        for i in range(2000):
            rc.set(f"k{i}", i)
        mids = [redis.Redis(port=p, decode_responses=True).cluster("myid") for p in mixed]
        for src, dst, n in ((0, 2, 500), (2, 1, 700)):
            code, out = cli("--cluster", "reshard", f"127.0.0.1:{mixed[0]}",
                            "--cluster-from", mids[src], "--cluster-to", mids[dst],
                            "--cluster-slots", str(n), "--cluster-yes", timeout=300)
            assert code == 0 and "Moving slot" in out, out[-3000:]
        wait_for("the mixed nodes to agree after resharding", lambda: agree(mixed), 30)
        check_everywhere(mixed)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", mixed[2])],
                          decode_responses=True)
        missing = [i for i in range(2000) if rc.get(f"k{i}") != str(i)]
        assert not missing, missing[:10]
        sizes = [redis.Redis(port=p).dbsize() for p in mixed]
        print(f"cluster_create: mixed cluster (2 redis-server + 1 Redistill) created and "
              f"resharded both ways; 2000 keys intact, keys per node {sizes}")
        for p in procs:
            assert p.poll() is None, "a node died"
    finally:
        stop_all(procs, tmp)


if __name__ == "__main__":
    main()
