"""Three Redistill nodes as one Redis Cluster, from one topology written
into each node's nodes.conf by deploy/cluster/make-nodes-conf.py (a static
cluster: the nodes have no bus).

- `redis-cli --cluster check` finds every slot covered and the nodes
  agreeing;
- redis-py's RedisCluster runs mixed commands over keys in every slot,
  pipelines, hash-tagged multi-key commands and transactions, and each
  key lands on the node owning its slot;
- `redis-cli -c` follows MOVED; a node asked for another's key answers
  MOVED with the owner's address;
- a slot handed over with CLUSTER SETSLOT ... NODE on every node moves
  the clients to its new owner.

    cluster_static.py REDISTILL_BINARY
"""
import os
import random
import subprocess
import sys
import tempfile

import redis
from redis.cluster import ClusterNode, RedisCluster

from procs import free_port, owned_listener, start_redistill, stop_all

RANGES = [(0, 5460), (5461, 10922), (10923, 16383)]
MAKE_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                         "cluster", "make-nodes-conf.py")


def cli(*args):
    r = subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="redistill-cluster-static-")
    procs = []
    try:
        listeners = [owned_listener() for _ in RANGES]
        ports = [l.getsockname()[1] for l in listeners]
        cports = [free_port() for _ in RANGES]
        # The topology from the generator operators use.
        subprocess.run([sys.executable, MAKE_CONF, "--dir", tmp]
                       + [f"127.0.0.1:{p}@{c}" for p, c in zip(ports, cports)],
                       check=True, capture_output=True)
        for i in range(len(RANGES)):
            d = os.path.join(tmp, f"n{i}")
            os.makedirs(d)
            conf = os.path.join(tmp, f"nodes-{ports[i]}.conf")
            start_redistill(binary, d, f"n{i}",
                            ["--cluster-enabled", "yes", "--cluster-config-file", conf,
                             "--cluster-port", str(cports[i])],
                            procs, listener=listeners[i])
        ids = [redis.Redis(port=p).cluster("myid") for p in ports]
        ids = [i.decode() if isinstance(i, bytes) else i for i in ids]

        code, out = cli("--cluster", "check", f"127.0.0.1:{ports[0]}")
        assert code == 0 and "[OK] All 16384 slots covered." in out \
            and "[OK] All nodes agree about slots configuration." in out, out
        print("cluster_static: redis-cli --cluster check passed")

        rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", ports[0])],
                          decode_responses=True, socket_timeout=10)
        rng = random.Random(7)
        model = {}
        for i in range(3000):
            k = f"key:{rng.randrange(1000)}"
            op = rng.random()
            if op < 0.5:
                v = str(rng.randrange(10**6))
                assert rc.set(k, v)
                model[k] = v
            elif op < 0.7:
                assert rc.get(k) == model.get(k), k
            elif op < 0.8:
                n = rc.incr(f"ctr:{{{k}}}")
                model[f"ctr:{{{k}}}"] = str(n)
            elif op < 0.9:
                removed = rc.delete(k)
                assert removed == (1 if k in model else 0), k
                model.pop(k, None)
            else:
                rc.hset(f"h:{k}", "f", "v")
                model[f"h:{k}"] = None
        # Multi-key commands within one slot (hash tags), pipelines and
        # transactions.
        rc.mset_nonatomic({f"{{user}}:{i}": str(i) for i in range(50)})
        assert rc.mget([f"{{user}}:{i}" for i in range(50)]) == [str(i) for i in range(50)]
        pipe = rc.pipeline()
        for i in range(200):
            pipe.set(f"p:{i}", i)
            model[f"p:{i}"] = str(i)
        assert all(pipe.execute())
        tx = rc.pipeline(transaction=True)
        tx.set("{acct}:a", 10).incrby("{acct}:a", 5).get("{acct}:a")
        got = tx.execute()
        assert got[0] in (True, "OK") and got[1:] == [15, "15"], got
        try:
            redis.Redis(port=ports[0]).execute_command("MSET", "a", "1", "b", "2")
            raise AssertionError("MSET across slots was accepted")
        except redis.exceptions.ResponseError as e:
            assert str(e) == "Keys in request don't hash to the same slot", e
        for k, v in model.items():
            if v is not None:
                assert rc.get(k) == v, k

        # Every key is on the node owning its slot, and only there.
        total = 0
        for i, port in enumerate(ports):
            r = redis.Redis(port=port, decode_responses=True)
            keys = r.keys("*")
            total += len(keys)
            for k in keys:
                slot = r.cluster("keyslot", k)
                assert RANGES[i][0] <= slot <= RANGES[i][1], (k, slot, i)
        expected = len(model) + 50 + 1
        assert total == expected, (total, expected)
        print(f"cluster_static: redis-py RedisCluster: {total} keys over 3 nodes, each on its slot's owner")

        # redis-cli -c follows MOVED; plain redis-cli sees it.
        slot_foo = 12182  # CLUSTER KEYSLOT foo, owned by the third node
        code, out = cli("-p", str(ports[0]), "set", "foo", "bar")
        assert out.strip() == f"MOVED {slot_foo} 127.0.0.1:{ports[2]}", out
        code, out = cli("-c", "-p", str(ports[0]), "set", "foo", "bar")
        assert code == 0 and out.strip() == "OK", out
        code, out = cli("-c", "-p", str(ports[1]), "get", "foo")
        assert out.strip() == "bar", out

        # Hand slot 100 (empty) from the first node to the second on
        # every node, as redis-cli --cluster does: clients follow.
        key100 = next(f"m{i}" for i in range(100000)
                      if redis.Redis(port=ports[0]).cluster("keyslot", f"m{i}") == 100)
        for port in ports:
            assert redis.Redis(port=port).cluster("setslot", 100, "node", ids[1])
        assert rc.set(key100, "moved")
        assert redis.Redis(port=ports[1], decode_responses=True).get(key100) == "moved"
        code, out = cli("--cluster", "check", f"127.0.0.1:{ports[2]}")
        assert code == 0 and "[OK] All 16384 slots covered." in out, out
        print("cluster_static: slot 100 handed over; clients and --cluster check follow")

        # The topology survives a restart (nodes.conf rewritten on change).
        saved = open(os.path.join(tmp, f"nodes-{ports[1]}.conf")).read()
        assert f"{ids[1]} 127.0.0.1:{ports[1]}@{cports[1]} myself,master" in saved, saved
        assert " 100 " in saved or " 100\n" in saved or " 100-" in saved, saved
        for p in procs:
            assert p.poll() is None, "a node died"
    finally:
        stop_all(procs, tmp)


if __name__ == "__main__":
    main()
