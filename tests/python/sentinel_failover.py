"""redis-sentinel fails over a group of Redistill servers.

Starts a Redistill master and two Redistill replicas (each on a loopback
socket this script owns, passed as --listen-fd), three redis-sentinel
processes watching the master, and a redis-py client writing through
Sentinel's master_for. Then kills the master with SIGKILL and checks:
a replica is promoted, the other follows it, the client keeps writing,
and every write acknowledged more than the replication lag before the
kill is on the new master. Prints the failover time, the lag seen before
the kill and how many acknowledged writes were lost (with their age).

Usage: sentinel_failover.py REDISTILL_BINARY
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis
from redis.sentinel import Sentinel

from procs import free_port, start_redistill, wait_for, wait_ping

PROCS = []


def start_sentinel(tmp, i, master_port):
    for _ in range(5):
        port = free_port()
        conf = os.path.join(tmp, f"sentinel{i}.conf")
        with open(conf, "w") as f:
            f.write(
                f"port {port}\nbind 127.0.0.1\ndir {tmp}\n"
                f"sentinel monitor mymaster 127.0.0.1 {master_port} 2\n"
                "sentinel down-after-milliseconds mymaster 1000\n"
                "sentinel failover-timeout mymaster 10000\n"
                "sentinel parallel-syncs mymaster 1\n"
            )
        log = open(os.path.join(tmp, f"sentinel{i}.log"), "w")
        p = subprocess.Popen(["redis-sentinel", conf], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ping(port)
            PROCS.append(p)
            return p, port
        except TimeoutError:
            p.kill()
            p.wait()
    raise RuntimeError("redis-sentinel did not start")


def main():
    binary = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="redistill-sentinel-")
    master, mport = start_redistill(binary, tmp, "master", [], PROCS)
    replicas = []
    for i in range(2):
        p, port = start_redistill(binary, tmp, f"replica{i}", ["--replicaof", f"127.0.0.1 {mport}"], PROCS)
        replicas.append((p, port))
    for _, port in replicas:
        wait_for("replica link", lambda port=port:
                 redis.Redis(port=port).info("replication").get("master_link_status") == "up")
    sentinels = [start_sentinel(tmp, i, mport) for i in range(3)]
    s0 = redis.Redis(port=sentinels[0][1], decode_responses=True)

    def discovered():
        m = s0.execute_command("SENTINEL", "MASTER", "mymaster")
        info = dict(zip(m[::2], m[1::2])) if isinstance(m, list) else m
        return int(info["num-slaves"]) == 2 and int(info["num-other-sentinels"]) == 2

    wait_for("sentinels to see 2 replicas and each other", discovered, 60)

    sentinel = Sentinel([("127.0.0.1", p) for _, p in sentinels], socket_timeout=0.5)
    acked = []
    stop = threading.Event()

    def writer():
        client = sentinel.master_for("mymaster", socket_timeout=0.5, retry_on_timeout=False)
        i = 0
        while not stop.is_set():
            try:
                client.set(f"w{i}", i)
                acked.append((i, time.time()))
                i += 1
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.ResponseError):
                time.sleep(0.02)

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(2)
    info = redis.Redis(port=mport).info("replication")
    lags = [info[k] for k in sorted(info) if k.startswith("slave")]
    master_offset = info["master_repl_offset"]
    t_kill = time.time()
    master.send_signal(signal.SIGKILL)
    master.wait()
    acked_before_kill = len(acked)

    def new_master():
        addr = s0.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        return addr and int(addr[1]) != mport

    wait_for("a new master", new_master, 60)
    t_new = time.time()
    addr = s0.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
    new_port = int(addr[1])
    assert new_port in [p for _, p in replicas], addr
    other = [p for _, p in replicas if p != new_port][0]
    nm = redis.Redis(port=new_port)
    wait_for("the new master to report role:master",
             lambda: nm.info("replication")["role"] == "master")
    wait_for("the other replica to follow the new master",
             lambda: (lambda i: i.get("master_port") == new_port and i.get("master_link_status") == "up")(
                 redis.Redis(port=other).info("replication")), 60)
    # The client keeps writing through Sentinel.
    wait_for("writes after the failover", lambda: len(acked) >= acked_before_kill + 200, 30)
    stop.set()
    t.join()

    keys = nm.mget([f"w{i}" for i, _ in acked])
    lost = [(i, ts) for (i, ts), v in zip(acked, keys) if v is None]
    lost_before_kill = [(i, ts) for i, ts in lost if ts < t_kill]
    lost_after = [(i, ts) for i, ts in lost if ts >= t_kill]
    oldest = max((t_kill - ts for _, ts in lost_before_kill), default=0.0)
    print(f"sentinel: master killed at offset {master_offset}; replicas before the kill: {lags}")
    print(f"sentinel: new master {new_port} chosen {t_new - t_kill:.2f}s after the kill")
    print(f"sentinel: {len(acked)} writes acknowledged ({acked_before_kill} before the kill); "
          f"{len(lost_before_kill)} acknowledged before the kill are missing, the oldest "
          f"{oldest * 1000:.0f} ms before it; {len(lost_after)} after it missing")
    assert not lost_after, lost_after[:5]
    # Asynchronous replication loses at most what was in flight: nothing
    # acknowledged a full second before the kill may be missing.
    assert oldest < 1.0, lost_before_kill[:5]
    # The remaining replica converges on the new master's data.
    last = acked[-1][0]
    wait_for("the other replica to have the last write",
             lambda: redis.Redis(port=other).get(f"w{last}") is not None, 30)
    print("sentinel: failover passed")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
