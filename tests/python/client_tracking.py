"""Client-side caching (CLIENT TRACKING) from a client's point of view.

    python3 client_tracking.py <port>

A caching client in the shape client libraries use (RESP3, `CLIENT
TRACKING ON`, a local dictionary of values, entries dropped when an
`invalidate` push names them or is null) reads keys, serving repeats from
its cache; other clients change them (SET, DEL, HSET, a transaction, a
script, expiry, eviction, FLUSHALL) and the caching client must then see
every new value. A second caching client uses a RESP2 connection
subscribed to `__redis__:invalidate` through REDIRECT. Run against
redis-server and Redistill alike.
"""
import sys
import time

import redis

from resp import Conn


class CachingClient:
    """A connection with a local cache kept fresh by invalidations; cache
    entries are (key, command...) so one key's entries go together."""

    def __init__(self, port, redirect_port=None):
        self.conn = Conn(port)
        self.cache = {}
        self.server_reads = 0
        if redirect_port is None:
            assert self.conn.call("HELLO", "3")
            assert self.conn.call("CLIENT", "TRACKING", "ON") == "OK"
            self.inbox = self.conn
        else:
            # RESP2: invalidations arrive on a subscribed connection.
            self.inbox = Conn(port)
            rid = self.inbox.call("CLIENT", "ID")
            self.inbox.call("SUBSCRIBE", "__redis__:invalidate")
            assert self.conn.call("CLIENT", "TRACKING", "ON", "REDIRECT", str(rid)) == "OK"

    def _apply_invalidations(self, wait=0.0):
        if self.inbox is self.conn:
            frames = self.conn.poll_pushes(wait)
            messages = [f[1] for f in frames if f and f[0] == b"invalidate"]
            self.conn.pushes.clear()
        else:
            messages = []
            self.inbox.sock.settimeout(wait if wait > 0 else 0.001)
            try:
                while True:
                    m = self.inbox.read()
                    if isinstance(m, list) and m[0] == b"message":
                        messages.append(m[2])
            except OSError:
                pass
            finally:
                self.inbox.sock.settimeout(10)
        for keys in messages:
            if keys is None:
                self.cache.clear()
            else:
                self.cache = {e: v for e, v in self.cache.items() if e[0] not in keys}

    def read(self, *cmd):
        self._apply_invalidations()
        key = (cmd[1].encode(),) + tuple(cmd)
        if key in self.cache:
            return self.cache[key]
        self.server_reads += 1
        value = self.conn.call(*cmd)
        self.cache[key] = value
        return value


def eventually(client, cmd, expected):
    deadline = time.time() + 5
    got = None
    while time.time() < deadline:
        client._apply_invalidations(0.02)
        got = client.read(*cmd)
        if got == expected:
            return
    raise AssertionError(f"{cmd}: the cache kept {got!r}, expected {expected!r}")


def main():
    port = int(sys.argv[1])
    other = redis.Redis(port=port, decode_responses=True)
    other.flushall()
    other.config_set("maxmemory", "0")
    for name, client in (("RESP3", CachingClient(port)), ("REDIRECT", CachingClient(port, port))):
        other.flushall()
        client._apply_invalidations(0.1)
        other.set("user:1", "alice")
        other.hset("h", "a", "1")
        assert client.read("GET", "user:1") == b"alice"
        before = client.server_reads
        for _ in range(20):
            assert client.read("GET", "user:1") == b"alice"
        assert client.server_reads == before, "repeated reads were not served from the cache"

        other.set("user:1", "bob")
        eventually(client, ("GET", "user:1"), b"bob")
        assert client.read("HGET", "h", "a") == b"1"
        other.hset("h", "a", "2")
        eventually(client, ("HGET", "h", "a"), b"2")
        other.delete("user:1")
        eventually(client, ("GET", "user:1"), None)
        assert client.read("GET", "user:2") is None
        pipe = other.pipeline(transaction=True)
        pipe.set("user:2", "dave")
        pipe.incr("counter")
        pipe.execute()
        eventually(client, ("GET", "user:2"), b"dave")
        other.eval("redis.call('SET', KEYS[1], 'from a script')", 1, "user:2")
        eventually(client, ("GET", "user:2"), b"from a script")
        other.set("user:3", "erin", px=100)
        assert client.read("GET", "user:3") == b"erin"
        time.sleep(0.3)
        eventually(client, ("GET", "user:3"), None)
        assert client.read("GET", "user:2") == b"from a script"
        other.flushall()
        eventually(client, ("GET", "user:2"), None)
        print(f"client tracking ({name}): invalidated on SET, HSET, DEL, MULTI, EVAL, expiry, FLUSHALL")

    # tracking-table-max-keys: past it the server forgets keys, telling the
    # clients that cached them.
    client = CachingClient(port)
    other.flushall()
    client._apply_invalidations(0.1)
    other.config_set("tracking-table-max-keys", "2")
    for k in ("t1", "t2", "t3", "t4"):
        other.set(k, "v")
        client.read("GET", k)
    deadline = time.time() + 5
    while len(client.cache) > 2 and time.time() < deadline:
        client._apply_invalidations(0.05)
        client.conn.call("PING")
    other.config_set("tracking-table-max-keys", "1000000")
    assert len(client.cache) <= 2, f"still cached: {sorted(client.cache)}"
    print("client tracking: tracking-table-max-keys invalidates the keys it forgets")

    # Eviction invalidates too.
    client = CachingClient(port)
    other.flushall()
    client._apply_invalidations(0.1)
    other.set("evictme", "v")
    assert client.read("GET", "evictme") == b"v"
    other.config_set("maxmemory-policy", "allkeys-random")
    used = int(other.info("memory")["used_memory"])
    other.config_set("maxmemory", str(used + 500_000))
    pipe = other.pipeline(transaction=False)
    for i in range(20000):
        pipe.set(f"fill:{i}", "x" * 100)
    pipe.execute()
    other.config_set("maxmemory", "0")
    if not other.exists("evictme"):
        eventually(client, ("GET", "evictme"), None)
        print("client tracking: an evicted key was invalidated")
    else:
        print("client tracking: (the cached key survived eviction this time)")


if __name__ == "__main__":
    main()
