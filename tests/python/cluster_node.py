"""Cluster mode, one node against redis-server 7.0 in cluster mode.

Both servers start from the same nodes.conf: this node owns slots
0-8191, a second master (never started, so both see it disconnected)
owns 8192-16383. The same command list then runs on both, and every
reply must match byte for byte once each server's own client port is
written PORT and the ping/pong times (Redis pings the absent node) and
bus message counters are set aside: CLUSTER subcommands and their
errors, MOVED / ASK / TRYAGAIN / CROSSSLOT / CLUSTERDOWN routing, keys in
slots, MULTI/EXEC and scripts across slots, SELECT/MOVE/SWAPDB/COPY.

    cluster_node.py REDISTILL_BINARY
"""
import os
import re
import subprocess
import sys
import tempfile

from procs import free_port, start_redistill, stop_all, wait_for, wait_ping
from resp import Conn, Err

ME = "1" * 40
PEER = "2" * 40
OTHER = "3" * 40
NODES_CONF = f"""\
{ME} 127.0.0.1:{{port}}@{{cport}} myself,master - 0 0 1 connected 0-8191
{PEER} 127.0.0.1:30999@40999 master - 0 0 2 connected 8192-16383
vars currentEpoch 2 lastVoteEpoch 0
"""
# Keys and their slots: "a" 15495, "b" 3300, "{a}x" 15495, "k1" 12706,
# "k2" 449, "foo" 12182, "bar" 5061, "{b}1" 3300.
COMMANDS = [
    ["CLUSTER", "MYID"],
    ["CLUSTER", "INFO"],
    ["CLUSTER", "NODES"],
    ["CLUSTER", "SLOTS"],
    ["CLUSTER", "KEYSLOT", "{user1000}.following"],
    ["CLUSTER", "KEYSLOT"],
    ["SET", "b", "1"],
    ["SET", "{b}1", "2"],
    ["SET", "bar", "3"],
    ["GET", "b"],
    ["GET", "a"],
    ["SET", "a", "1"],
    ["SET", "foo", "x"],
    ["MSET", "b", "1", "{b}1", "2"],
    ["MSET", "b", "1", "bar", "2"],
    ["MGET", "b", "a"],
    ["DEL", "b", "b"],
    ["EXISTS", "k1"],
    ["EXISTS", "k2"],
    ["CLUSTER", "COUNTKEYSINSLOT", "3300"],
    ["CLUSTER", "COUNTKEYSINSLOT", "x"],
    ["CLUSTER", "COUNTKEYSINSLOT", "-1"],
    ["CLUSTER", "COUNTKEYSINSLOT", "16384"],
    ["CLUSTER", "GETKEYSINSLOT", "5061", "10"],
    ["CLUSTER", "GETKEYSINSLOT", "5061", "0"],
    ["CLUSTER", "GETKEYSINSLOT", "5061", "-1"],
    ["CLUSTER", "GETKEYSINSLOT", "16384", "1"],
    ["CLUSTER", "GETKEYSINSLOT", "x", "1"],
    ["CLUSTER", "ADDSLOTS", "1"],
    ["CLUSTER", "ADDSLOTS", "8192"],
    ["CLUSTER", "ADDSLOTS", "x"],
    ["CLUSTER", "ADDSLOTS", "16384"],
    ["CLUSTER", "DELSLOTS", "1", "1"],
    ["CLUSTER", "ADDSLOTSRANGE", "5", "1"],
    ["CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"],
    ["CLUSTER", "DELSLOTSRANGE", "100", "200"],
    ["CLUSTER", "INFO"],
    ["SET", "k2", "in a slot nobody serves"],
    ["GET", "k2"],
    ["CLUSTER", "ADDSLOTSRANGE", "100", "200"],
    ["CLUSTER", "SLOTS"],
    ["CLUSTER", "SETSLOT", "1"],
    ["CLUSTER", "SETSLOT", "1", "bogus"],
    ["CLUSTER", "SETSLOT", "1", "stable", "x"],
    ["CLUSTER", "SETSLOT", "16384", "stable"],
    ["CLUSTER", "SETSLOT", "1", "migrating", OTHER],
    ["CLUSTER", "SETSLOT", "9000", "migrating", PEER],
    ["CLUSTER", "SETSLOT", "1", "importing", PEER],
    ["CLUSTER", "SETSLOT", "3300", "node", PEER],
    ["CLUSTER", "SETSLOT", "1", "node", OTHER],
    # Slot 3300 ({b}...) migrating to the peer: keys here are served,
    # missing ones are asked for there.
    ["CLUSTER", "SETSLOT", "3300", "migrating", PEER],
    ["CLUSTER", "NODES"],
    ["GET", "b"],
    ["GET", "{b}missing"],
    ["MGET", "{b}1", "{b}missing"],
    ["MGET", "{b}missing", "{b}gone"],
    ["CLUSTER", "SETSLOT", "3300", "stable"],
    # Slot 12182 (foo) importing from the peer: served only after ASKING.
    ["CLUSTER", "SETSLOT", "12182", "importing", PEER],
    ["GET", "foo"],
    ["ASKING"],
    ["GET", "foo"],
    ["GET", "foo"],
    ["ASKING"],
    ["MGET", "foo", "{foo}missing"],
    ["CLUSTER", "NODES"],
    ["CLUSTER", "SETSLOT", "12182", "node", ME],
    ["CLUSTER", "INFO"],
    ["GET", "foo"],
    ["CLUSTER", "SETSLOT", "12182", "node", PEER],
    ["CLUSTER", "SETSLOT", "12182", "node", PEER],
    ["CLUSTER", "BUMPEPOCH"],
    ["CLUSTER", "BUMPEPOCH"],
    ["CLUSTER", "SET-CONFIG-EPOCH", "x"],
    ["CLUSTER", "SET-CONFIG-EPOCH", "-1"],
    ["CLUSTER", "SET-CONFIG-EPOCH", "5"],
    ["CLUSTER", "REPLICAS", PEER],
    ["CLUSTER", "SLAVES", OTHER],
    ["CLUSTER", "COUNT-FAILURE-REPORTS", OTHER],
    ["CLUSTER", "REPLICATE", ME],
    ["CLUSTER", "REPLICATE", OTHER],
    ["CLUSTER", "REPLICATE", PEER],
    ["REPLICAOF", "127.0.0.1", "1"],
    ["REPLICAOF", "NO", "ONE"],
    ["CLUSTER", "MEET", "not-an-ip", "7000"],
    ["CLUSTER", "MEET", "127.0.0.1", "x"],
    ["CLUSTER", "MEET", "127.0.0.1", "7000", "y"],
    ["CLUSTER", "MEET", "127.0.0.1", "70000"],
    ["CLUSTER", "MEET", "127.0.0.1", "7000", "1", "2"],
    ["CLUSTER", "FORGET", OTHER],
    ["CLUSTER", "FORGET", ME],
    ["CLUSTER", "RESET", "bogus"],
    ["CLUSTER", "RESET", "soft", "extra"],
    ["CLUSTER", "RESET"],
    ["CLUSTER", "FAILOVER", "bogus"],
    ["CLUSTER", "FAILOVER"],
    ["CLUSTER", "FAILOVER", "force", "x"],
    ["CLUSTER", "BOGUS"],
    ["CLUSTER"],
    ["CLUSTER", "FLUSHSLOTS"],
    ["READONLY"],
    ["READWRITE"],
    ["SELECT", "0"],
    ["SELECT", "1"],
    ["SELECT", "x"],
    ["SELECT", "99999999999"],
    ["MOVE", "b", "1"],
    ["SWAPDB", "0", "1"],
    ["COPY", "b", "{b}2", "DB", "1"],
    ["COPY", "b", "{b}2"],
    ["COPY", "b", "a"],
    ["EVAL", "return redis.call('get', KEYS[1])", "1", "b"],
    ["EVAL", "return 1", "2", "b", "a"],
    ["EVAL", "return 1", "1", "a"],
    ["EVAL", "return 1", "0"],
    # Keys a script uses without declaring them.
    ["EVAL", "return redis.call('get', 'b')", "0"],
    ["EVAL", "return redis.call('get', 'a')", "0"],
    ["EVAL", "return redis.pcall('get', 'a')", "0"],
    ["EVAL", "redis.call('set', 'b', 1) return redis.call('get', 'bar')", "0"],
    ["EVAL", "return redis.call('get', 'bar')", "1", "b"],
    ["EVAL", "return redis.call('get', '{b}1')", "1", "b"],
    ["EVAL", "#!lua\nredis.call('set', 'b', 1) return redis.call('get', 'bar')", "0"],
    ["EVAL", "#!lua\nreturn redis.call('get', 'bar')", "1", "b"],
    ["EVAL", "#!lua\nreturn redis.call('get', '{b}1')", "1", "b"],
    ["EVAL", "#!lua flags=allow-cross-slot-keys\nredis.call('set', 'b', 1) return redis.call('get', 'bar')", "0"],
    ["EVAL", "#!lua flags=allow-cross-slot-keys\nreturn redis.call('get', 'a')", "0"],
    ["ZUNIONSTORE", "b", "2", "{b}1", "a"],
    ["ZUNIONSTORE", "{b}z", "1", "{b}1"],
    ["LMPOP", "2", "b", "{b}x", "LEFT"],
    ["COMMAND", "GETKEYS", "EVAL", "x", "0"],
    ["COMMAND", "GETKEYS", "EVAL", "x", "2", "a", "b", "c"],
    ["COMMAND", "GETKEYS", "EVAL", "x", "5", "a"],
    ["COMMAND", "GETKEYS", "ZUNIONSTORE", "d", "2", "a", "b"],
    ["COMMAND", "GETKEYS", "ZUNION", "x", "a"],
    ["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
    ["INFO", "cluster"],
    ["DBSIZE"],
    ["CLUSTER", "FLUSHSLOTS"],
    ["FLUSHALL"],
    ["CLUSTER", "FLUSHSLOTS"],
    ["CLUSTER", "NODES"],
    ["CLUSTER", "SLOTS"],
    ["SET", "b", "1"],
]
# Transactions, each a list of commands sent one after the other.
TRANSACTIONS = [
    [["MULTI"], ["SET", "{b}1", "1"], ["INCR", "{b}2"], ["EXEC"]],
    [["MULTI"], ["SET", "b", "1"], ["SET", "bar", "1"], ["EXEC"]],
    [["MULTI"], ["SET", "b", "1"], ["GET", "a"], ["EXEC"]],
    [["MULTI"], ["SET", "b", "1"], ["MSET", "b", "1", "bar", "2"], ["EXEC"]],
]


def normalise(reply, port, cport):
    """Own client port as PORT; ping/pong times and bus counters aside;
    CLUSTER NODES lines sorted."""
    if isinstance(reply, list):
        return [normalise(r, port, cport) for r in reply]
    if isinstance(reply, Err):
        return Err(reply.text.replace(f":{port}", ":PORT"))
    if isinstance(reply, bytes):
        reply = reply.decode("latin-1")
    if isinstance(reply, str):
        reply = reply.replace(f":{port}@{cport}", ":PORT@CPORT")
        lines = []
        for line in reply.split("\n"):
            if line.startswith("cluster_stats_messages") or line.startswith(
                    "total_cluster_links"):
                continue
            f = line.split(" ")
            if len(f) >= 8 and len(f[0]) == 40:
                f[4] = f[5] = "0"
                line = " ".join(f)
            lines.append(line)
        # Redis lists nodes in its hash table's order.
        if all(len(line) > 40 and line[40] == " " for line in lines if line):
            lines.sort()
        return "\n".join(lines)
    if isinstance(reply, int) and reply == port:
        return "PORT"
    return reply


def start_redis(tmp):
    port, cport = free_port(), free_port()
    d = os.path.join(tmp, "redis")
    os.makedirs(d)
    with open(os.path.join(d, "nodes.conf"), "w") as f:
        f.write(NODES_CONF.format(port=port, cport=cport))
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", d, "--cluster-enabled", "yes",
         "--cluster-node-timeout", "600000", "--cluster-port", str(cport)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, port, cport


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="redistill-cluster-node-")
    procs = []
    try:
        redis_proc, redis_port, redis_cport = start_redis(tmp)
        procs.append(redis_proc)
        wait_ping(redis_port)
        ours_dir = os.path.join(tmp, "ours")
        os.makedirs(ours_dir)
        conf = os.path.join(ours_dir, "nodes.conf")
        with open(conf, "w") as f:
            # The port in the file is replaced by the one the node listens on.
            f.write(NODES_CONF.format(port=1, cport=10001))
        our_cport = free_port()
        _, our_port = start_redistill(
            binary, ours_dir, "ours",
            ["--cluster-enabled", "yes", "--cluster-config-file", conf,
             "--cluster-port", str(our_cport)], procs)
        theirs, ours = Conn(redis_port), Conn(our_port)
        # redis-server turns ok after its start-up delay.
        wait_for("redis-server cluster_state:ok",
                 lambda: b"cluster_state:ok" in theirs.call("CLUSTER", "INFO"), 30)
        mismatches, compared, kinds = 0, 0, {}
        for cmd in COMMANDS + [c for t in TRANSACTIONS for c in t]:
            a = normalise(ours.call(*cmd), our_port, our_cport)
            b = normalise(theirs.call(*cmd), redis_port, redis_cport)
            compared += 1
            if isinstance(b, Err):
                kind = b.text.split(" ")[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            if a != b:
                mismatches += 1
                print(f"MISMATCH {cmd}\n  redistill: {a!r}\n  redis:     {b!r}")
        saved = open(conf).read()
        assert saved.startswith(f"{ME} 127.0.0.1:{our_port}@{our_cport} myself,master"), saved
        assert "vars currentEpoch" in saved, saved
        print(f"cluster_node: {compared} commands compared with redis-server, {mismatches} mismatches; "
              f"errors by kind: {sorted(kinds.items())}")
        for kind in ("MOVED", "ASK", "TRYAGAIN", "CROSSSLOT", "CLUSTERDOWN"):
            assert kinds.get(kind), f"the list no longer exercises {kind}"

        sys.exit(1 if mismatches else 0)
    finally:
        stop_all(procs, tmp)


if __name__ == "__main__":
    main()
