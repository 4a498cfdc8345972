"""DUMP / RESTORE / MIGRATE between redis-server 7.0 and Redistill.

- Every type, in each encoding redis-server picks (small and large
  lists, sets of integers and of strings, small and large hashes and
  sorted sets, integers, binary and 100 KB strings), with and without a
  TTL: DUMP on one side, RESTORE on the other, in both directions, and the
  contents read back equal; payloads of short strings are byte-identical.
- MIGRATE both ways: single key and KEYS form, COPY, REPLACE, AUTH to a
  password-protected target, the target's BUSYKEY error reported as
  redis-server reports it, keys left in place when the target refuses.

    migrate.py REDISTILL_PORT REDIS_PORT
"""
import sys

import redis

PASSWORD = "s3cret"


def fill(r):
    r.flushall()
    p = r.pipeline(transaction=False)
    p.set("str", "hello")
    p.set("int", 12345)
    p.set("neg", -9876543210)
    p.set("bin", bytes(range(256)))
    p.set("big", "x" * 100_000)
    p.set("ttl", "soon", px=600_000)
    p.rpush("list:small", "a", "b", "c")
    p.rpush("list:big", *[f"item-{i}" * 20 for i in range(2000)])
    p.sadd("set:ints", 1, 2, 3, -4, 70000, 5_000_000_000)
    p.sadd("set:strs", *[f"m{i}" for i in range(600)])
    p.hset("hash:small", mapping={"f": "v", "g": "w"})
    p.hset("hash:big", mapping={f"field{i}": f"value{i}" for i in range(1000)})
    p.zadd("zset:small", {"a": 1, "b": 2.5, "c": -3})
    p.zadd("zset:big", {f"m{i}": i / 7 for i in range(300)})
    p.execute()


def contents(r, key):
    t = r.type(key)
    if t == b"string":
        v = r.get(key)
    elif t == b"list":
        v = r.lrange(key, 0, -1)
    elif t == b"set":
        v = sorted(r.smembers(key))
    elif t == b"hash":
        v = sorted(r.hgetall(key).items())
    elif t == b"zset":
        v = r.zrange(key, 0, -1, withscores=True)
    else:
        v = None
    return t, v


def copy_all(src, dst, label):
    dst.flushall()
    for key in src.keys("*"):
        payload = src.dump(key)
        pttl = max(src.pttl(key), 0)
        assert dst.restore(key, pttl, payload), key
        assert contents(src, key) == contents(dst, key), (label, key)
        if pttl:
            assert abs(dst.pttl(key) - pttl) < 5000, (label, key)
        if src.type(key) == b"string" and src.strlen(key) <= 20:
            # (Longer strings redis-server compresses with LZF; Redistill
            # writes them plain. Both read either.)
            assert dst.dump(key) == payload, (label, key)
    return len(src.keys("*"))


def migrate_checks(source, target, target_port, label):
    fill(source)
    target.flushall()
    # Single key.
    assert source.migrate("127.0.0.1", target_port, "str", 0, 5000)
    assert not source.exists("str") and target.get("str") == b"hello", label
    # KEYS form, with a key that is not there.
    assert source.migrate("127.0.0.1", target_port, ["list:big", "hash:big", "nothere"], 0, 5000)
    assert not source.exists("list:big", "hash:big"), label
    assert target.llen("list:big") == 2000 and target.hlen("hash:big") == 1000, label
    # TTL travels.
    assert source.migrate("127.0.0.1", target_port, "ttl", 0, 5000)
    assert 0 < target.pttl("ttl") <= 600_000, label
    # COPY keeps the source; a second copy meets BUSYKEY, REPLACE overwrites.
    assert source.migrate("127.0.0.1", target_port, "zset:big", 0, 5000, copy=True)
    assert source.exists("zset:big") and target.zcard("zset:big") == 300, label
    try:
        source.migrate("127.0.0.1", target_port, "zset:big", 0, 5000, copy=True)
        raise AssertionError(f"{label}: BUSYKEY not reported")
    except redis.ResponseError as e:
        assert str(e) == "Target instance replied with error: BUSYKEY Target key name already exists.", e
    assert source.exists("zset:big"), label
    source.zadd("zset:big", {"new": 1000})
    assert source.migrate("127.0.0.1", target_port, "zset:big", 0, 5000, replace=True)
    assert target.zscore("zset:big", "new") == 1000 and not source.exists("zset:big"), label
    # Another database on the target.
    assert source.migrate("127.0.0.1", target_port, "set:ints", 2, 5000)
    t2 = redis.Redis(port=target_port, db=2, password=target.connection_pool.connection_kwargs.get("password"))
    assert t2.scard("set:ints") == 6, label
    # NOKEY.
    assert source.execute_command("MIGRATE", "127.0.0.1", target_port, "nothere", 0, 5000) == b"NOKEY"


def auth_checks(source, target_port, label):
    # "localhost": redis-server keeps its MIGRATE connections (per
    # host:port, 10 s), and one opened before requirepass stays logged in.
    host = "localhost"
    source.set("secret", "v")
    try:
        source.execute_command("MIGRATE", host, target_port, "secret", 0, 5000)
        raise AssertionError(f"{label}: NOAUTH not reported")
    except redis.ResponseError as e:
        assert str(e) == "Target instance replied with error: NOAUTH Authentication required.", e
    assert source.exists("secret")
    try:
        source.execute_command("MIGRATE", host, target_port, "secret", 0, 5000,
                               "AUTH", "wrong")
        raise AssertionError(f"{label}: WRONGPASS not reported")
    except redis.ResponseError as e:
        assert "WRONGPASS" in str(e), e
    assert source.execute_command("MIGRATE", host, target_port, "secret", 0, 5000,
                                  "AUTH", PASSWORD) == b"OK"
    assert not source.exists("secret")
    source.set("secret2", "w")
    assert source.execute_command("MIGRATE", host, target_port, "", 0, 5000,
                                  "AUTH2", "default", PASSWORD, "KEYS", "secret2") == b"OK"
    assert not source.exists("secret2")
    target = redis.Redis(port=target_port, password=PASSWORD)
    assert target.get("secret") == b"v" and target.get("secret2") == b"w", label


def main():
    ours_port, redis_port = int(sys.argv[1]), int(sys.argv[2])
    ours, theirs = redis.Redis(port=ours_port), redis.Redis(port=redis_port)

    fill(theirs)
    n = copy_all(theirs, ours, "redis-server -> redistill")
    fill(ours)
    m = copy_all(ours, theirs, "redistill -> redis-server")
    print(f"migrate: DUMP/RESTORE of {n} keys redis-server -> Redistill and {m} back: equal")

    migrate_checks(ours, theirs, redis_port, "MIGRATE redistill -> redis-server")
    migrate_checks(theirs, ours, ours_port, "MIGRATE redis-server -> redistill")
    print("migrate: MIGRATE both ways (single key, KEYS, COPY, REPLACE, TTL, db, BUSYKEY, NOKEY)")

    # A password-protected target, each way.
    for target, port in ((theirs, redis_port), (ours, ours_port)):
        target.config_set("requirepass", PASSWORD)
    try:
        auth_checks(redis.Redis(port=ours_port, password=PASSWORD), redis_port, "to redis-server")
        auth_checks(redis.Redis(port=redis_port, password=PASSWORD), ours_port, "to redistill")
    finally:
        for port in (redis_port, ours_port):
            redis.Redis(port=port, password=PASSWORD).config_set("requirepass", "")
    print("migrate: AUTH / AUTH2 to a password-protected target, NOAUTH and WRONGPASS reported")


if __name__ == "__main__":
    main()
