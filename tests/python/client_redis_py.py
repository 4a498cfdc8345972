"""Real client calls through redis-py against a running server.

Usage: client_redis_py.py PORT
"""
import sys

import redis


def main():
    port = int(sys.argv[1])
    checks = 0
    for protocol in (2, 3):
        r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, decode_responses=True)
        r.flushall()
        assert r.ping() is True
        assert r.set("greeting", "hello", ex=100) is True
        assert r.get("greeting") == "hello"
        assert 99 <= r.ttl("greeting") <= 100
        assert r.incr("counter") == 1
        assert r.incrby("counter", 41) == 42
        assert abs(r.incrbyfloat("f", 2.5) - 2.5) < 1e-9
        assert r.mset({"a": "1", "b": "2"}) is True
        assert r.mget(["a", "b", "nope"]) == ["1", "2", None]
        assert r.hset("user:1", mapping={"name": "ada", "age": "36"}) == 2
        assert r.hgetall("user:1") == {"name": "ada", "age": "36"}
        assert r.hincrby("user:1", "age", 1) == 37
        assert sorted(r.hkeys("user:1")) == ["age", "name"]
        assert r.exists("a", "b", "nope") == 2
        assert r.delete("a") == 1
        assert r.type("user:1") == "hash"
        assert set(r.scan_iter(match="user:*")) == {"user:1"}
        assert dict(r.hscan_iter("user:1")) == {"name": "ada", "age": "37"}
        assert r.expire("b", 50) is True
        assert r.persist("b") is True
        assert r.getdel("b") == "2"
        assert r.rename("greeting", "hi") is True
        assert r.copy("hi", "hi2") is True
        assert r.dbsize() == 5
        info = r.info()
        assert info["redis_mode"] == "standalone"
        assert "used_memory" in info
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
        r.client_setname("py")
        assert r.client_getname() == "py"
        p = r.pipeline(transaction=False)
        for i in range(100):
            p.set(f"p{i}", i)
        assert all(p.execute())
        try:
            r.hget("hi", "x")
            raise AssertionError("expected WRONGTYPE")
        except redis.ResponseError as e:
            assert str(e).startswith("WRONGTYPE"), e
        checks += 1
    print(f"redis-py: {checks} protocol versions passed")


if __name__ == "__main__":
    main()
