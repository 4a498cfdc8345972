"""Django's own Redis cache backend, two caches on databases 2 and 3 of one
server: neither sees the other's keys, and clearing one leaves the other.

Usage: client_django.py PORT
"""
import sys

import django
from django.conf import settings


def main():
    port = int(sys.argv[1])
    settings.configure(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/2",
            },
            "sessions": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/3",
            },
        }
    )
    django.setup()
    from django.core.cache import caches
    import redis

    raw = redis.Redis(host="127.0.0.1", port=port)
    raw.flushall()
    a, b = caches["default"], caches["sessions"]
    a.set("user:1", {"name": "ada"}, timeout=300)
    b.set("user:1", "someone else", timeout=300)
    a.set_many({"n:1": 1, "n:2": 2})
    assert a.incr("n:1") == 2
    assert a.get("user:1") == {"name": "ada"}
    assert b.get("user:1") == "someone else"
    assert b.get("n:1") is None
    assert a.get_many(["n:1", "n:2"]) == {"n:1": 2, "n:2": 2}
    assert a.add("user:1", "x") is False
    assert b.touch("user:1", 10) is True
    assert raw.execute_command("SELECT", 2) in (b"OK", True)
    db2 = redis.Redis(host="127.0.0.1", port=port, db=2)
    db3 = redis.Redis(host="127.0.0.1", port=port, db=3)
    assert db2.dbsize() == 3 and db3.dbsize() == 1
    assert 0 < db3.ttl(db3.keys("*")[0]) <= 10
    a.clear()
    assert a.get("user:1") is None
    assert b.get("user:1") == "someone else"
    assert db2.dbsize() == 0 and db3.dbsize() == 1
    print("django: caches on /2 and /3 stay apart")


if __name__ == "__main__":
    main()
