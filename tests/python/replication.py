"""Replication check: a seeded stream of mixed writes against a master,
then, once the replica has caught up (its offset equals the master's), the
two datasets compared key by key in every database: type, value and
absolute expiry time.

The stream covers what masters rewrite before feeding replicas (relative
TTLs, INCRBYFLOAT, SPOP, GETEX, GETDEL), MULTI/EXEC, scripts, SELECT and
the cross-database commands, and short TTLs so keys expire (lazily and
actively) while it runs.

Usage: replication.py MASTER_PORT REPLICA_PORT [--writes N] [--seed S]
"""
import argparse
import random
import sys
import time

from resp import Conn, Err

DBS = 4
KEYS = ["k%d" % i for i in range(300)]
VALUES = ["", "0", "1", "-7", "12345678901234", "3.5", "abc", "x" * 40, "y" * 300, "1e3"]


def gen(r):
    k = r.choice(KEYS)
    k2 = r.choice(KEYS)
    v = r.choice(VALUES)
    now_ms = int(time.time() * 1000)
    ttl_ms = str(r.choice([40, 200, 5000, 600000]))
    table = [
        lambda: ["SET", k, v],
        lambda: ["SET", k, v, "EX", r.choice(["100", "1000"])],
        lambda: ["SET", k, v, "PX", ttl_ms],
        lambda: ["SET", k, v, r.choice(["NX", "XX"]), "PX", ttl_ms],
        lambda: ["SET", k, v, "KEEPTTL"],
        lambda: ["SET", k, v, "GET"],
        lambda: ["SETEX", k, "500", v],
        lambda: ["PSETEX", k, ttl_ms, v],
        lambda: ["GETEX", k, r.choice(["EX", "PX"]), r.choice(["100", "2000"])],
        lambda: ["GETEX", k, "PERSIST"],
        lambda: ["GETEX", k, "PXAT", str(now_ms - 10)],
        lambda: ["GETDEL", k],
        lambda: ["GETSET", k, v],
        lambda: ["INCR", "n" + k],
        lambda: ["INCRBYFLOAT", "f" + k, r.choice(["0.1", "1.5", "-2.25", "1e-3"])],
        lambda: ["APPEND", k, v],
        lambda: ["SETRANGE", k, str(r.randint(0, 20)), v],
        lambda: ["DEL", k, k2],
        lambda: ["UNLINK", k],
        lambda: [r.choice(["EXPIRE", "PEXPIRE"]), k, r.choice(["100", "1000", "0", "-1"])] + r.choice([[], ["NX"], ["XX"], ["GT"], ["LT"]]),
        lambda: ["PEXPIRE", k, ttl_ms],
        lambda: ["EXPIREAT", k, str(now_ms // 1000 + r.choice([-10, 500]))],
        lambda: ["PERSIST", k],
        lambda: ["HSET", "h" + k, r.choice("abcdef"), v],
        lambda: ["HDEL", "h" + k, r.choice("abcdef")],
        lambda: ["HINCRBY", "h" + k, "n", str(r.randint(-5, 5))],
        lambda: ["HINCRBYFLOAT", "h" + k, "f", r.choice(["0.1", "2.5"])],
        lambda: [r.choice(["LPUSH", "RPUSH"]), "l" + k] + [r.choice(VALUES) for _ in range(r.randint(1, 4))],
        lambda: [r.choice(["LPOP", "RPOP"]), "l" + k] + r.choice([[], ["2"]]),
        lambda: ["LMOVE", "l" + k, "l" + k2, r.choice(["LEFT", "RIGHT"]), r.choice(["LEFT", "RIGHT"])],
        lambda: ["LTRIM", "l" + k, "0", str(r.randint(0, 5))],
        lambda: ["BLPOP", "l" + k, "l" + k2, "0.01"],
        lambda: ["SADD", "s" + k] + [str(r.randint(0, 20)) for _ in range(r.randint(1, 5))],
        lambda: ["SADD", "s" + k] + [r.choice(VALUES) for _ in range(r.randint(1, 3))],
        lambda: ["SREM", "s" + k, str(r.randint(0, 20))],
        lambda: ["SPOP", "s" + k] + r.choice([[], ["2"], ["50"]]),
        lambda: ["SMOVE", "s" + k, "s" + k2, str(r.randint(0, 20))],
        lambda: ["SINTERSTORE", "s" + k, "s" + k, "s" + k2],
        lambda: ["ZADD", "z" + k, str(r.randint(-50, 50) / 4), r.choice(VALUES)],
        lambda: ["ZINCRBY", "z" + k, "0.1", r.choice(VALUES)],
        lambda: ["ZREM", "z" + k, r.choice(VALUES)],
        lambda: [r.choice(["ZPOPMIN", "ZPOPMAX"]), "z" + k],
        lambda: ["BZPOPMIN", "z" + k, "0.01"],
        lambda: ["ZUNIONSTORE", "z" + k, "2", "z" + k, "z" + k2, "WEIGHTS", "1", "0.5"],
        lambda: ["ZREMRANGEBYSCORE", "z" + k, "-inf", str(r.randint(-10, 0))],
        lambda: ["RENAME", k, k2],
        lambda: ["COPY", k, k2] + r.choice([[], ["REPLACE"], ["DB", str(r.randrange(DBS))]]),
        lambda: ["MOVE", k, str(r.randrange(DBS))],
        lambda: ["MSET", k, v, k2, v],
        lambda: ["EVAL", "redis.call('SET', KEYS[1], ARGV[1]) redis.call('EXPIRE', KEYS[1], 300) return redis.call('INCR', KEYS[2])", "2", k, "n" + k2, v],
        lambda: ["EVAL", "return redis.call('SPOP', KEYS[1])", "1", "s" + k],
        lambda: ["EVAL", "redis.call('SELECT', ARGV[1]) return redis.call('SET', KEYS[1], 'from-script')", "1", k, str(r.randrange(DBS))],
        lambda: ["SELECT", str(r.randrange(DBS))],
        lambda: ["SELECT", str(r.randrange(DBS))],
        lambda: ["SWAPDB", str(r.randrange(DBS)), str(r.randrange(DBS))] if r.random() < 0.05 else ["PING"],
        lambda: ["FLUSHDB"] if r.random() < 0.005 else ["PING"],
        lambda: ["PUBLISH", "ch", v],
    ]
    return table[r.randrange(len(table))]()


def stream(master, n, seed):
    r = random.Random(seed)
    done = 0
    while done < n:
        batch = []
        for _ in range(min(500, n - done)):
            if r.random() < 0.02:
                batch.append(["MULTI"])
                batch.extend(gen(r) for _ in range(r.randint(1, 5)))
                batch.append(["EXEC"])
            else:
                batch.append(gen(r))
        master.pipeline(batch)
        done += len(batch)
    return done


def offsets(master, replica):
    mi = master.call("INFO", "replication").decode()
    ri = replica.call("INFO", "replication").decode()
    m = int(field(mi, "master_repl_offset"))
    s = int(field(ri, "slave_repl_offset"))
    return m, s


def field(info, name):
    for line in info.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    raise KeyError(name)


def dataset(c, db):
    c.call("SELECT", str(db))
    out = {}
    cursor = b"0"
    keys = set()
    while True:
        cursor, chunk = c.call("SCAN", cursor, "COUNT", "1000")
        keys.update(chunk)
        if cursor == b"0":
            break
    now = int(time.time() * 1000)
    for k in keys:
        t = c.call("TYPE", k)
        if t == "string":
            v = c.call("GET", k)
        elif t == "hash":
            x = c.call("HGETALL", k)
            v = sorted(zip(x[::2], x[1::2]))
        elif t == "list":
            v = c.call("LRANGE", k, "0", "-1")
        elif t == "set":
            v = sorted(c.call("SMEMBERS", k))
        elif t == "zset":
            v = c.call("ZRANGE", k, "0", "-1", "WITHSCORES")
        else:
            continue
        at = c.call("PEXPIRETIME", k)
        if at == -2:
            continue  # its TTL ended while it was being read
        if isinstance(at, int) and 0 < at < now + 5000:
            continue  # may expire between the two reads
        out[k] = (t, v, at)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("master", type=int)
    ap.add_argument("replica", type=int)
    ap.add_argument("--writes", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    master, replica = Conn(args.master), Conn(args.replica)
    t0 = time.time()
    n = stream(master, args.writes, seed)
    print(f"replication: seed={seed}, {n} commands in {time.time() - t0:.1f}s")
    deadline = time.time() + 60
    while True:
        m, s = offsets(master, replica)
        if m == s:
            break
        if time.time() > deadline:
            print(f"replica never caught up: master offset {m}, replica offset {s}")
            sys.exit(1)
        time.sleep(0.05)
    print(f"replication: replica caught up at offset {m}")
    bad = 0
    total = 0
    for db in range(16):
        a, b = dataset(master, db), dataset(replica, db)
        total += len(a)
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                bad += 1
                if bad <= 20:
                    print(f"MISMATCH db{db} {k!r}: master {a.get(k)!r}, replica {b.get(k)!r}")
    print(f"replication: {total} keys compared, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
