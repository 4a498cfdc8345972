"""Real client calls through redis-py against a running server.

Usage: client_redis_py.py PORT
"""
import sys
import threading
import time

import redis
from redis.lock import Lock


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
        transactions(r)
        lock(r)
        pubsub(r)
        checks += 1
    databases(port)
    print(f"redis-py: {checks} protocol versions passed, databases passed")


def databases(port):
    """The db number of a client or URL selects a database of its own."""
    zero = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    one = redis.Redis(host="127.0.0.1", port=port, db=1, decode_responses=True)
    url = redis.Redis.from_url(f"redis://127.0.0.1:{port}/1", decode_responses=True)
    zero.flushall()
    assert one.set("k", "in-one") is True
    assert zero.get("k") is None
    assert url.get("k") == "in-one"
    assert zero.set("k", "in-zero") is True
    assert one.get("k") == "in-one"
    assert one.dbsize() == 1 and zero.dbsize() == 1
    # A pool reconnects into its own db.
    one.connection_pool.disconnect()
    assert one.get("k") == "in-one"
    assert one.client_info()["db"] == 1
    assert zero.move("k", 2) is True
    assert zero.get("k") is None
    assert redis.Redis(host="127.0.0.1", port=port, db=2).get("k") == b"in-zero"
    assert zero.swapdb(1, 2) is True
    assert one.get("k") == "in-zero"
    assert zero.copy("nope", "x", destination_db=3) is False
    assert one.copy("k", "k", destination_db=3) is True
    assert redis.Redis(host="127.0.0.1", port=port, db=3).get("k") == b"in-zero"
    one.flushdb()
    assert one.dbsize() == 0
    assert redis.Redis(host="127.0.0.1", port=port, db=2).dbsize() == 1
    info = zero.info("keyspace")
    assert set(info) == {"db2", "db3"}, info
    assert info["db2"]["keys"] == 1
    try:
        redis.Redis(host="127.0.0.1", port=port, db=16).ping()
        raise AssertionError("expected an error for db 16")
    except redis.ResponseError as e:
        assert str(e) == "DB index is out of range", e


def transactions(r):
    """redis-py's default pipeline is MULTI/EXEC; WATCH through transaction()."""
    p = r.pipeline()  # transaction=True is the default
    p.set("t:a", "1").incr("t:a").get("t:a")
    assert p.execute() == [True, 2, "2"]
    # A run-time error inside EXEC is that command's reply, the rest applies.
    p = r.pipeline()
    p.set("t:s", "x").incr("t:s").set("t:b", "ok")
    res = p.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], redis.ResponseError) and res[2] is True, res
    assert r.get("t:b") == "ok"
    # A queue-time error discards the whole transaction.
    p = r.pipeline()
    p.set("t:c", "1")
    p.execute_command("NOSUCHCOMMAND")
    try:
        p.execute()
        raise AssertionError("expected EXECABORT")
    except redis.ResponseError as e:
        assert "EXECABORT" in str(e) or "unknown command" in str(e), e
    assert r.get("t:c") is None

    # transaction() retries on WATCH conflicts; a second client interferes once.
    other = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"])
    r.set("t:n", 10)
    attempts = []

    def bump(pipe):
        v = int(pipe.get("t:n"))
        if not attempts:
            other.incr("t:n")
        attempts.append(v)
        pipe.multi()
        pipe.set("t:n", v * 2)

    r.transaction(bump, "t:n")
    assert attempts == [10, 11], attempts
    assert r.get("t:n") == "22"
    other.close()


def lock(r):
    """redis-py's Lock is built on SET NX PX and Lua scripts."""
    a = Lock(r, "t:lock", timeout=5, blocking_timeout=0.2)
    b = Lock(r, "t:lock", timeout=5, blocking_timeout=0.2)
    assert a.acquire() is True
    assert b.acquire() is False
    assert a.owned() is True and b.owned() is False
    assert a.extend(10) is True
    assert 10 <= r.pttl("t:lock") / 1000 <= 15
    assert a.reacquire() is True
    try:
        b.release()
        raise AssertionError("releasing an unowned lock must fail")
    except redis.exceptions.LockError:
        pass
    a.release()
    assert r.exists("t:lock") == 0
    assert b.acquire() is True
    b.release()
    with r.lock("t:ctx", timeout=2):
        assert r.exists("t:ctx") == 1
    assert r.exists("t:ctx") == 0


def wait_message(ps, timeout=2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ps.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if m is not None:
            return m
    raise AssertionError("no message arrived")


def pubsub(r):
    ps = r.pubsub()
    ps.subscribe("news")
    ps.psubscribe("user:*")
    # The subscribe confirmations come first.
    confirmations = []
    deadline = time.time() + 2
    while len(confirmations) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.1)
        if m:
            confirmations.append((m["type"], m["channel"], m["data"]))
    assert confirmations == [("subscribe", "news", 1), ("psubscribe", "user:*", 2)], confirmations
    assert r.publish("news", "hello") == 1
    m = wait_message(ps)
    assert (m["type"], m["channel"], m["data"]) == ("message", "news", "hello"), m
    assert r.publish("user:7", "joined") == 1
    m = wait_message(ps)
    assert (m["type"], m["pattern"], m["channel"], m["data"]) == ("pmessage", "user:*", "user:7", "joined"), m
    assert r.pubsub_numsub("news") == [("news", 1)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == ["news"]
    # A publisher in another thread, the subscriber in a handler thread.
    got = []
    done = threading.Event()

    def handler(msg):
        got.append(msg["data"])
        if len(got) == 20:
            done.set()

    ps2 = r.pubsub()
    ps2.subscribe(**{"jobs": handler})
    worker = ps2.run_in_thread(sleep_time=0.01)
    deadline = time.time() + 2
    while r.pubsub_numsub("jobs")[0][1] != 1 and time.time() < deadline:
        time.sleep(0.01)
    for i in range(20):
        r.publish("jobs", str(i))
    assert done.wait(3), got
    assert got == [str(i) for i in range(20)]
    worker.stop()
    worker.join(2)
    ps2.close()
    ps.unsubscribe("news")
    ps.punsubscribe("user:*")
    ps.close()
    assert r.publish("news", "nobody") == 0


if __name__ == "__main__":
    main()
