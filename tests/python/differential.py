"""Differential test: the same seeded command stream against redis-server
and Redistill, replies compared after normalising order-free replies.

Usage: differential.py REDISTILL_PORT REDIS_PORT [--commands N] [--seed S]
Prints every mismatch with its seed and recent history; exits 1 on any.
"""
import argparse
import random
import sys
import time

from resp import Conn, Err

KEYS = ["k%d" % i for i in range(40)] + ["", "key with space", "k\r\nx", "{tag}a", "\x00bin"]
FIELDS = ["f%d" % i for i in range(16)] + ["", "long" * 20]
INT_EDGES = ["9223372036854775807", "-9223372036854775808", "9223372036854775806",
             "-9223372036854775807", "4611686018427387904"]
VALUES = ["", "0", "-0", "01", "+1", " 1", "1 ", "1", "-1", "10", "123", "0.1", "1e15", "1e3",
          "inf", "-inf", "nan", "3.0e3", "-5.5", "10.50", "abc", "hello world", "\r\n\x00x",
          "x" * 45, "y" * 100] + INT_EDGES
FLOATS = ["0.1", "-0.1", "1.5", "1e3", "3.0e3", "-2", "10", "abc", "", "inf", "-inf", "nan",
          "1e15", "5.0e-3", " 1", "0x10", "1e400"]
INTS = ["0", "1", "-1", "5", "100", "-100", "abc", "", "01", "+1", "1.5"] + INT_EDGES
PATTERNS = ["*", "k*", "k1*", "k?", "k[0-3]", "k[^0-3]*", "*a*", "h*llo", "[", "\\*", "k[3-0]",
            "*x", "?", "", "**", "k\\1"]


def pick_key(r):
    return r.choice(KEYS)


def pick_value(r):
    if r.random() < 0.01:
        return "z" * r.choice([1000, 65536])
    return r.choice(VALUES)


def expire_opts(r):
    opts = []
    for _ in range(r.choice([0, 0, 0, 1, 1, 2])):
        opts.append(r.choice(["NX", "XX", "GT", "LT", "nx", "bogus"]))
    return opts


def gen_set(r):
    cmd = ["SET", pick_key(r), pick_value(r)]
    for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
        o = r.choice(["NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT", "ex", "bad"])
        cmd.append(o)
        if o.upper() in ("EX",):
            cmd.append(r.choice(["1000", "2000", "0", "-5", "abc", "9223372036854775807"]))
        elif o.upper() == "PX":
            cmd.append(r.choice(["1000000", "2000000", "0", "9223372036854775807"]))
        elif o.upper() == "EXAT":
            cmd.append(str(int(time.time()) + r.choice([5000, 10000])))
        elif o.upper() == "PXAT":
            cmd.append(str(int(time.time() * 1000) + r.choice([5000000, 10000000])))
    return cmd


def gen(r):
    k = pick_key(r)
    f = r.choice(FIELDS)
    c = r.randrange(100)
    now = int(time.time())
    table = [
        lambda: gen_set(r),
        lambda: ["GET", k],
        lambda: ["GETSET", k, pick_value(r)],
        lambda: ["SETNX", k, pick_value(r)],
        lambda: ["SETEX", k, r.choice(["1000", "0", "-1", "x"]), pick_value(r)],
        lambda: ["PSETEX", k, r.choice(["1000000", "0"]), pick_value(r)],
        lambda: ["GETDEL", k],
        lambda: ["GETEX", k] + r.choice([[], ["PERSIST"], ["EX", "1000"], ["PX", "0"], ["EXAT", str(now + 5000)], ["FOO"], ["EX", "10", "PERSIST"]]),
        lambda: ["APPEND", k, pick_value(r)],
        lambda: ["STRLEN", k],
        lambda: ["SETRANGE", k, r.choice(["0", "3", "10", "-1", "x", "536870912", "9223372036854775807"]), r.choice(["", "ab", "xyz"])],
        lambda: [r.choice(["GETRANGE", "SUBSTR"]), k, r.choice(["0", "-1", "2", "-100", "x", "9223372036854775807", "-9223372036854775808"]), r.choice(["-1", "0", "3", "100", "-5"])],
        lambda: ["MSET"] + sum([[pick_key(r), pick_value(r)] for _ in range(r.randint(1, 4))], []),
        lambda: ["MSETNX"] + sum([[pick_key(r), pick_value(r)] for _ in range(r.randint(1, 3))], []),
        lambda: ["MGET"] + [pick_key(r) for _ in range(r.randint(1, 5))],
        lambda: ["INCR", k],
        lambda: ["DECR", k],
        lambda: ["INCRBY", k, r.choice(INTS)],
        lambda: ["DECRBY", k, r.choice(INTS)],
        lambda: ["INCRBYFLOAT", k, r.choice(FLOATS)],
        lambda: [r.choice(["DEL", "UNLINK"])] + [pick_key(r) for _ in range(r.randint(1, 3))],
        lambda: ["EXISTS"] + [pick_key(r) for _ in range(r.randint(1, 3))],
        lambda: ["TYPE", k],
        lambda: [r.choice(["RENAME", "RENAMENX"]), k, pick_key(r)],
        lambda: ["COPY", k, pick_key(r)] + r.choice([[], ["REPLACE"], ["DB", "0"], ["DB", "x"], ["BAD"]]),
        lambda: ["TOUCH"] + [pick_key(r) for _ in range(r.randint(1, 3))],
        lambda: [r.choice(["EXPIRE", "PEXPIRE"]), k, r.choice(["1000", "5000", "2000000", "-1", "0", "x", "9223372036854775807"])] + expire_opts(r),
        lambda: [r.choice(["EXPIREAT", "PEXPIREAT"]), k, r.choice([str(now + 5000), str((now + 5000) * 1000), "1", "-5"])] + expire_opts(r),
        lambda: ["PERSIST", k],
        lambda: [r.choice(["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]), k],
        lambda: ["HSET", k] + sum([[r.choice(FIELDS), pick_value(r)] for _ in range(r.randint(1, 4))], []),
        lambda: ["HMSET", k, f, pick_value(r)],
        lambda: ["HSETNX", k, f, pick_value(r)],
        lambda: ["HGET", k, f],
        lambda: ["HMGET", k] + [r.choice(FIELDS) for _ in range(r.randint(1, 4))],
        lambda: ["HGETALL", k],
        lambda: ["HDEL", k] + [r.choice(FIELDS) for _ in range(r.randint(1, 3))],
        lambda: ["HEXISTS", k, f],
        lambda: ["HLEN", k],
        lambda: ["HKEYS", k],
        lambda: ["HVALS", k],
        lambda: ["HINCRBY", k, f, r.choice(INTS)],
        lambda: ["HINCRBYFLOAT", k, f, r.choice(FLOATS)],
        lambda: ["HSTRLEN", k, f],
        lambda: ["HSCAN", k, "0"] + r.choice([[], ["MATCH", "f1*"], ["COUNT", "5"], ["COUNT", "0"], ["BAD", "x"]]),
        lambda: ["HRANDFIELD", k] + r.choice([[], ["0"], ["3"], ["-3"], ["5", "WITHVALUES"], ["-2", "withvalues"], ["x"], ["1", "BAD"]]),
        lambda: ["KEYS", r.choice(PATTERNS)],
        lambda: ["SCAN", "0"] + r.choice([[], ["MATCH", r.choice(PATTERNS)], ["COUNT", "3"], ["TYPE", r.choice(["string", "hash", "list"])], ["COUNT", "0"], ["MATCH"]]),
        lambda: ["DBSIZE"],
        lambda: ["PING"] + r.choice([[], ["hi"], ["a", "b"]]),
        lambda: ["ECHO", pick_value(r)],
        lambda: [r.choice(["GET", "SET", "HSET", "INCR", "EXPIRE", "MSET", "HGET"])],  # wrong arity
        lambda: [r.choice(["NOSUCHCMD", "gett", "HSETX"]), k, "a\r\nb"],
        lambda: ["SET", k, "v", "EX", "10", "PX", "10"],
        lambda: ["SELECT", "0"],
    ]
    return table[c % len(table)]()


def normalise(cmd, reply, conn_for_scan, pipelined):
    name = cmd[0].upper() if cmd else ""
    if isinstance(reply, Err):
        return reply
    if name == "KEYS" and isinstance(reply, list):
        return sorted(reply)
    if name in ("HKEYS", "HVALS") and isinstance(reply, list):
        return sorted(reply)
    if name == "HGETALL" and isinstance(reply, list):
        return sorted(zip(reply[::2], reply[1::2]))
    if name in ("SCAN", "HSCAN") and isinstance(reply, list) and pipelined:
        # Later commands of the batch already ran: only the shape is comparable.
        return ("scan", len(reply))
    if name in ("SCAN", "HSCAN") and isinstance(reply, list):
        # Complete the iteration and compare the set of results.
        items = set()
        cursor = reply[0]
        chunk = reply[1]
        rounds = 0
        while True:
            if name == "HSCAN":
                items.update(zip(chunk[::2], chunk[1::2]))
            else:
                items.update(chunk)
            if cursor == b"0" or rounds > 10000:
                break
            rounds += 1
            nxt = list(cmd)
            nxt[2 if name == "HSCAN" else 1] = cursor
            r = conn_for_scan.call(*nxt)
            cursor, chunk = r[0], r[1]
        return sorted(items)
    if name == "HRANDFIELD":
        if isinstance(reply, list):
            return ("list", len(reply))
        return ("scalar", reply is None)
    if name in ("TTL", "EXPIRETIME") and isinstance(reply, int) and reply >= 0:
        return ("ttl", reply // 3)
    if name in ("PTTL", "PEXPIRETIME") and isinstance(reply, int) and reply >= 0:
        return ("pttl", reply // 3000)
    return reply


def close_enough(cmd, a, b):
    if a == b:
        return True
    name = cmd[0].upper()
    if name in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME") and isinstance(a, tuple) and isinstance(b, tuple):
        return abs(a[1] - b[1]) <= 1
    return False


def show(x, limit=200):
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "..."


def run(ours_port, redis_port, n, seed, pipelined):
    r = random.Random(seed)
    ours, theirs = Conn(ours_port), Conn(redis_port)
    scan_ours, scan_theirs = Conn(ours_port), Conn(redis_port)
    for c in (ours, theirs):
        assert c.call("FLUSHALL") == "OK"
    history = []
    mismatches = 0
    batch = 100 if pipelined else 1
    done = 0
    while done < n:
        cmds = [gen(r) for _ in range(min(batch, n - done))]
        if pipelined:
            got_o, got_t = ours.pipeline(cmds), theirs.pipeline(cmds)
        else:
            got_o, got_t = [ours.call(*cmds[0])], [theirs.call(*cmds[0])]
        for i, cmd in enumerate(cmds):
            history.append(cmd)
            a = normalise(cmd, got_o[i], scan_ours, pipelined)
            b = normalise(cmd, got_t[i], scan_theirs, pipelined)
            if not close_enough(cmd, a, b):
                mismatches += 1
                print(f"MISMATCH seed={seed} index={done + i} mode={'pipelined' if pipelined else 'lockstep'}")
                print("  command:   ", show(cmd))
                print("  redistill: ", show(got_o[i]))
                print("  redis:     ", show(got_t[i]))
                print("  last commands:")
                for h in history[-10:-1]:
                    print("    ", show(h, 120))
                if mismatches >= 20:
                    return mismatches
                # Resynchronise the two datasets so one divergence is reported once.
                for c in (ours, theirs):
                    c.call("FLUSHALL")
        done += len(cmds)
    return mismatches


def glob_vs_keys(ours_port, redis_port, seed, rounds):
    """Random keys and patterns over a small alphabet: KEYS must agree."""
    r = random.Random(seed)
    ours, theirs = Conn(ours_port), Conn(redis_port)
    alphabet = "ab[]^-\\*?c"
    bad = 0
    for _ in range(rounds):
        for c in (ours, theirs):
            c.call("FLUSHALL")
        keys = {"".join(r.choice(alphabet) for _ in range(r.randint(0, 6))) for _ in range(25)}
        mset = ["MSET"] + sum([[k, "1"] for k in keys], [])
        ours.call(*mset)
        theirs.call(*mset)
        for _ in range(40):
            pat = "".join(r.choice(alphabet) for _ in range(r.randint(0, 7)))
            a = sorted(ours.call("KEYS", pat))
            b = sorted(theirs.call("KEYS", pat))
            if a != b:
                bad += 1
                print(f"GLOB MISMATCH seed={seed} pattern={pat!r}\n  keys={sorted(keys)!r}\n  redistill={a!r}\n  redis={b!r}")
                if bad > 10:
                    return bad
    return bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", type=int)
    ap.add_argument("redis", type=int)
    ap.add_argument("--commands", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"differential: seed={seed}, {args.commands} lockstep + {args.commands} pipelined commands")
    t0 = time.time()
    bad = run(args.ours, args.redis, args.commands, seed, False)
    bad += run(args.ours, args.redis, args.commands, seed + 1, True)
    gbad = glob_vs_keys(args.ours, args.redis, seed + 2, 100)
    total = 2 * args.commands + 4000
    print(f"differential: {total} comparisons in {time.time() - t0:.1f}s, {bad + gbad} mismatches")
    print(f"{total - bad - gbad} passed, {bad + gbad} failed")
    sys.exit(1 if bad or gbad else 0)


if __name__ == "__main__":
    main()
