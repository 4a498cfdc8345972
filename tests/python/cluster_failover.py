"""A master dies in a cluster of Redistill nodes with replicas.

Six nodes from `redis-cli --cluster create --cluster-replicas 1`
(cluster-node-timeout set to 1000 with CONFIG SET). Keys are written and the replicas catch up;
then one master is killed with SIGKILL:

- the other nodes suspect it (`fail?`) and agree it has failed (FAIL, from
  a majority of masters' reports);
- its replica wins the failover election (the masters' votes) and takes
  its slots: the cluster is `ok` again everywhere and every key is
  readable, the dead master's included;
- the old master, restarted from its nodes.conf, learns that its slots
  moved (the new owner's greater epoch) and becomes a replica of the new
  master; `redis-cli --cluster check` is clean;
- `CLUSTER FAILOVER TAKEOVER` on that replica switches the roles back
  while both are up.

    cluster_failover.py REDISTILL_BINARY
"""
import os
import socket
import subprocess
import sys
import tempfile

import redis
from redis.cluster import ClusterNode, RedisCluster

from procs import free_port, start_redistill, stop_all, wait_for


def listener(port=0):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    return s


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                          text=True, timeout=30).stdout


def info_field(port, section, field):
    return redis.Redis(port=port).info(section).get(field)


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="redistill-cluster-failover-")
    procs, args, ports = {}, {}, []
    try:
        for i in range(6):
            d = os.path.join(tmp, f"n{i}")
            os.makedirs(d)
            extra = ["--cluster-enabled", "yes", "--cluster-port", str(free_port())]
            started = []
            _, port = start_redistill(binary, d, f"n{i}", extra, started, listener=listener())
            procs[port], args[port] = started[0], (d, extra)
            ports.append(port)
        out = subprocess.run(["redis-cli", "--cluster", "create",
                              *[f"127.0.0.1:{p}" for p in ports],
                              "--cluster-replicas", "1", "--cluster-yes"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0 and "[OK] All 16384 slots covered." in out.stdout, out.stdout
        # cluster-node-timeout changed at run time (default 15 s): failure
        # is then agreed within the 10 s the test waits.
        for p in ports:
            assert redis.Redis(port=p).config_set("cluster-node-timeout", 1000)
            args[p][1].extend(["--cluster-node-timeout", "1000"])
        roles = {p: redis.Redis(port=p).execute_command("ROLE") for p in ports}
        masters = [p for p in ports if roles[p][0] == b"master"]
        victim = masters[0]
        replica = next(p for p in ports
                       if roles[p][0] == b"slave" and roles[p][2] == victim)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", masters[1])],
                          decode_responses=True)
        for i in range(1000):
            rc.set(f"key:{i}", i)
        wait_for("the victim's replica to catch up", lambda: info_field(
            replica, "replication", "slave_repl_offset") == info_field(
            victim, "replication", "master_repl_offset"), 30)

        procs[victim].kill()
        procs[victim].wait()
        others = [p for p in ports if p != victim]
        victim_id = next(l.split()[0] for l in cli(masters[1], "cluster", "nodes").splitlines()
                         if f":{victim}@" in l)

        def failed_everywhere():
            for p in others:
                line = next(l for l in cli(p, "cluster", "nodes").splitlines()
                            if l.startswith(victim_id))
                flags = line.split()[2].split(",")
                if "fail" not in flags or "fail?" in flags:
                    return False
            return True
        wait_for("FAIL agreed on every node", failed_everywhere, 10)

        def promoted():
            return redis.Redis(port=replica).execute_command("ROLE")[0] == b"master"
        wait_for("the replica to win its election", promoted, 30)

        def ok_everywhere():
            return all(cli(p, "cluster", "info").startswith("cluster_state:ok") for p in others)
        wait_for("cluster_state:ok after the failover", ok_everywhere, 30)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", replica)],
                          decode_responses=True)
        missing = [i for i in range(1000) if rc.get(f"key:{i}") != str(i)]
        assert not missing, missing[:10]
        print("cluster_failover: the killed master is FAIL on every node; its replica won "
              "the election and serves its slots; 1000 keys readable")

        # The old master comes back from its nodes.conf and follows the new one.
        d, extra = args[victim]
        started = []
        start_redistill(binary, d, "again", extra, started, listener=listener(victim))
        procs[victim] = started[0]

        def demoted():
            role = redis.Redis(port=victim).execute_command("ROLE")
            return role[0] == b"slave" and role[2] == replica and role[3] == b"connected"
        wait_for("the old master to replicate the new one", demoted, 30)
        wait_for("the old master to lose its FAIL flag", ok_everywhere, 30)
        out = subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{replica}"],
                             capture_output=True, text=True, timeout=60)
        assert "[OK] All 16384 slots covered." in out.stdout \
            and "[OK] All nodes agree" in out.stdout, out.stdout
        print("cluster_failover: the old master returned as a replica of the new one")

        # A switch by hand while the master is up: TAKEOVER on its replica
        # (now the old master); FAILOVER without TAKEOVER needs an election.
        try:
            redis.Redis(port=victim).execute_command("CLUSTER", "FAILOVER")
            raise AssertionError("CLUSTER FAILOVER was accepted")
        except redis.ResponseError as e:
            assert "TAKEOVER" in str(e), e
        assert redis.Redis(port=victim).execute_command("CLUSTER", "FAILOVER", "TAKEOVER")

        def switched():
            return (redis.Redis(port=victim).execute_command("ROLE")[0] == b"master"
                    and redis.Redis(port=replica).execute_command("ROLE")[0] == b"slave")
        wait_for("the live master to follow the node that took over", switched, 30)
        wait_for("cluster_state:ok after the takeover", ok_everywhere, 30)
        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", victim)],
                          decode_responses=True)
        assert all(rc.get(f"key:{i}") == str(i) for i in range(1000))
        print("cluster_failover: CLUSTER FAILOVER TAKEOVER switched master and replica")
        for p in procs.values():
            assert p.poll() is None, "a node died"
    finally:
        stop_all(procs.values(), tmp)


if __name__ == "__main__":
    main()
