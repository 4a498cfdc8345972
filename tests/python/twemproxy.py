"""Redistill behind twemproxy (nutcracker): three servers on one ketama
ring. Commands through the proxy land on every server and read back; the
same run against three redis-server nodes must give the same replies.
Then one server is killed: the proxy ejects it (auto_eject_hosts) and
serves every key from the two left.

    twemproxy.py REDISTILL_BINARY
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import redis

from procs import free_port, start_redistill, wait_for, wait_ping

NUTCRACKER = shutil.which("nutcracker") or "/usr/sbin/nutcracker"
KEYS = [f"user:{i}" for i in range(300)]


def start_redis_server(tmp, name, procs):
    port = free_port()
    p = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    wait_ping(port)
    return p, port


def start_proxy(tmp, ports, procs):
    """nutcracker over `ports` (ketama, eject after one failure, and keep
    an ejected server out for a minute); returns (proxy port, stats port)."""
    listen, stats = free_port(), free_port()
    conf = os.path.join(tmp, "nutcracker.yml")
    servers = "\n".join(f"    - 127.0.0.1:{p}:1 node{i + 1}" for i, p in enumerate(ports))
    with open(conf, "w") as f:
        f.write(f"""pool:
  listen: 127.0.0.1:{listen}
  hash: murmur
  distribution: ketama
  hash_tag: "{{}}"
  redis: true
  auto_eject_hosts: true
  server_failure_limit: 1
  server_retry_timeout: 60000
  timeout: 500
  preconnect: true
  servers:
{servers}
""")
    log = open(os.path.join(tmp, "nutcracker.log"), "w")
    procs.append(subprocess.Popen(
        [NUTCRACKER, "-c", conf, "-s", str(stats), "-a", "127.0.0.1", "-i", "1000"],
        stdout=log, stderr=subprocess.STDOUT))
    wait_for("the proxy", lambda: proxy_client(listen).ping(), 30)
    return listen, stats


def proxy_client(port):
    """A redis-py client twemproxy accepts: RESP2 (the proxy does not know
    HELLO) and no CLIENT SETINFO on connect (it does not know CLIENT)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return redis.Redis(port=port, protocol=2, lib_name=None, lib_version=None,
                           decode_responses=True, socket_timeout=10)


def proxy_stats(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def commands(c):
    """Mixed commands through the proxy; their replies, for comparing."""
    out = []
    for i, k in enumerate(KEYS):
        out.append(c.set(k, f"v{i}"))
    out.append([c.get(k) for k in KEYS])
    out.append(c.mget(KEYS[:100]))               # split across servers by the proxy
    out.append(c.delete(*KEYS[250:]))            # likewise, counts summed
    out.append(c.mget(KEYS[240:260]))
    out.append([c.incr("hits") for _ in range(5)])
    out.append(c.hset("{user:1}:profile", mapping={"name": "ann", "lang": "en"}))
    out.append(c.hgetall("{user:1}:profile"))
    out.append(c.rpush("{user:1}:queue", "a", "b", "c"))
    out.append(c.lrange("{user:1}:queue", 0, -1))
    out.append(c.expire("user:3", 100))
    out.append(c.ttl("user:3"))
    out.append(c.exists("user:1", "user:2", "user:299"))
    pipe = c.pipeline(transaction=False)
    for k in KEYS[:50]:
        pipe.append(k, "+")
    out.append(pipe.execute())
    try:
        c.execute_command("KEYS", "*")           # the proxy refuses it
        out.append("KEYS served")
    except redis.RedisError as e:
        out.append(type(e).__name__)
    return out


def run(kind, binary, tmp):
    procs = []
    try:
        ports = []
        for i in range(3):
            if kind == "redis":
                _, port = start_redis_server(tmp, f"r{i}", procs)
            else:
                _, port = start_redistill(binary, tmp, f"n{i}", [], procs)
            ports.append(port)
        listen, stats = start_proxy(tmp, ports, procs)
        c = proxy_client(listen)
        replies = commands(c)
        sizes = [redis.Redis(port=p).dbsize() for p in ports]
        assert all(n > 40 for n in sizes), f"{kind}: keys per server {sizes}"
        assert sum(sizes) == 250 + 3, f"{kind}: {sizes}"   # + hits, profile, queue
        print(f"twemproxy/{kind}: keys per server {sizes}")

        # Kill the second server: the first command that reaches it fails,
        # the proxy ejects it, and its keys are served by the other two.
        victim = procs[1]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        failed = 0
        deadline = time.time() + 30
        for i, k in enumerate(KEYS):
            while True:
                try:
                    assert c.set(k, f"after{i}")
                    break
                except redis.RedisError:
                    failed += 1
                    assert time.time() < deadline, f"{kind}: {k} never served after the kill"
                    time.sleep(0.05)
        assert [c.get(k) for k in KEYS] == [f"after{i}" for i in range(len(KEYS))]
        left = [redis.Redis(port=p).dbsize() for i, p in enumerate(ports) if i != 1]
        assert sum(left) >= len(KEYS), f"{kind}: {left}"

        def ejected():
            s = proxy_stats(stats)["pool"]
            return s["node2"]["server_ejected_at"] != 0 and s["server_ejects"] >= 1
        wait_for("node2 ejected in the proxy's stats", ejected, 10)
        print(f"twemproxy/{kind}: node2 killed, {failed} commands failed before it was "
              f"ejected, every key served by the two left {left}")
        return replies
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        theirs = run("redis", binary, a)
        ours = run("redistill", binary, b)
    for i, (x, y) in enumerate(zip(theirs, ours)):
        assert x == y, f"reply {i} differs: redis-server {x!r}, Redistill {y!r}"
    print(f"twemproxy: {len(ours)} replies equal to redis-server's behind the same proxy")


if __name__ == "__main__":
    main()
