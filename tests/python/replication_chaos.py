"""Replication under chaos: a Redistill master with a Redistill replica and
a redis-server replica, a client writing all the time, and for a bounded
time the replica processes killed with SIGKILL and restarted, links cut
(CLIENT KILL TYPE master) and the master itself killed and restarted (it
keeps its port, so the replicas reconnect). At the end, once the replicas
caught up, all three datasets must be equal.

Usage: replication_chaos.py REDISTILL_BINARY [--seconds S] [--seed N]
"""
import argparse
import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

from procs import free_port, wait_for, wait_ping
from replication import dataset, offsets
from resp import Conn

PROCS = []


class Node:
    """A Redistill process on a loopback socket this script keeps, so a
    restarted process serves the same port."""

    def __init__(self, binary, tmp, name, extra):
        self.binary, self.tmp, self.name, self.extra = binary, tmp, name, extra
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]
        self.proc = None
        self.start()

    def start(self):
        fd = self.listener.fileno()
        log = open(os.path.join(self.tmp, f"{self.name}.log"), "a")
        self.proc = subprocess.Popen(
            [self.binary, "--shards", "256", "--listen-fd", str(fd)] + self.extra,
            pass_fds=(fd,),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.tmp,
        )
        PROCS.append(self.proc)
        wait_ping(self.port)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def start_redis_replica(tmp, master_port):
    for _ in range(5):
        port = free_port()
        log = open(os.path.join(tmp, "redis-replica.log"), "w")
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp, "--replicaof", "127.0.0.1", str(master_port)],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ping(port)
            PROCS.append(p)
            return p, port
        except TimeoutError:
            p.kill()
            p.wait()
    raise RuntimeError("redis-server did not start")


def link_up(port):
    try:
        return redis.Redis(port=port, socket_timeout=1).info("replication").get("master_link_status") == "up"
    except redis.RedisError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    r = random.Random(seed)
    binary = os.path.abspath(args.binary)
    tmp = tempfile.mkdtemp(prefix="redistill-chaos-")
    master = Node(binary, tmp, "master", [])
    replica = Node(binary, tmp, "replica", ["--replicaof", f"127.0.0.1 {master.port}"])
    rproc, rport = start_redis_replica(tmp, master.port)
    wait_for("links up", lambda: link_up(replica.port) and link_up(rport))

    stop = threading.Event()
    written = [0]

    def writer():
        wr = random.Random(seed + 1)
        while not stop.is_set():
            try:
                c = redis.Redis(port=master.port, socket_timeout=2)
                while not stop.is_set():
                    p = c.pipeline(transaction=False)
                    for _ in range(50):
                        k = f"k{wr.randrange(2000)}"
                        op = wr.randrange(5)
                        if op == 0:
                            p.incr(k + ":n")
                        elif op == 1:
                            p.set(k, wr.randrange(1 << 30), ex=wr.choice([None, 1000]))
                        elif op == 2:
                            p.rpush(k + ":l", wr.randrange(100))
                        elif op == 3:
                            p.zadd(k + ":z", {str(wr.randrange(50)): wr.random()})
                        else:
                            p.delete(k)
                    p.execute()
                    written[0] += 50
            except redis.RedisError:
                time.sleep(0.05)

    t = threading.Thread(target=writer)
    t.start()
    events = []
    end = time.time() + args.seconds
    while time.time() < end:
        time.sleep(r.uniform(0.3, 1.0))
        what = r.choice(["kill replica", "kill replica", "cut redis link", "kill master"])
        events.append(what)
        if what == "kill replica":
            replica.kill()
            time.sleep(r.uniform(0, 0.3))
            replica.start()
        elif what == "cut redis link":
            try:
                redis.Redis(port=rport).execute_command("CLIENT", "KILL", "TYPE", "master")
            except redis.RedisError:
                pass
        else:
            master.kill()
            time.sleep(r.uniform(0, 0.3))
            master.start()
    time.sleep(0.5)
    stop.set()
    t.join()
    wait_for("links up after the chaos", lambda: link_up(replica.port) and link_up(rport))
    m = Conn(master.port)
    for port in (replica.port, rport):
        s = Conn(port)
        wait_for("a replica to catch up", lambda: (lambda o: o[0] == o[1])(offsets(m, s)))
    bad = 0
    keys = 0
    for db in range(1):
        a = dataset(m, db)
        keys += len(a)
        for port in (replica.port, rport):
            b = dataset(Conn(port), db)
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    bad += 1
                    if bad <= 10:
                        print(f"MISMATCH replica {port} {k!r}: master {a.get(k)!r}, replica {b.get(k)!r}")
    stats = redis.Redis(port=master.port).info("stats")
    print(f"chaos: seed={seed}, {len(events)} events ({', '.join(events)}), {written[0]} writes sent, "
          f"{keys} keys compared on 2 replicas, {bad} differ; master since its last start: "
          f"sync_full={stats['sync_full']} sync_partial_ok={stats['sync_partial_ok']}")
    assert bad == 0


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
