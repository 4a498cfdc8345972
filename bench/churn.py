#!/usr/bin/env python3
"""No growth under churn: RSS after heavy overwrite/delete churn against a
fresh server holding the same data, and GET latency around a big delete.

For redis-server, then Redistill (fresh processes, default settings):
  a. SET N keys "key:%012d" (16 B) with 64 B values;
  b. overwrite every key 5 times (each pass in a new random order) with
     values of uniform random size 16..512 B;
  c. DEL a random half of the keys, then SET N/2 new keys (the same 16 B
     form, numbered from N) with values of 16..512 B;
  d. wait --settle seconds (background compaction; Redistill's runs in its
     100 ms housekeeping tick), then read RSS (VmRSS of /proc/<pid>/status)
     and INFO mem_fragmentation_ratio;
  e. start a fresh process of the same server and SET exactly the final
     dataset (same keys, same final values, in key order), read its RSS;
  f. print churned RSS, fresh RSS, churned / fresh (aim: <= 1.2) and the
     fragmentation ratio of the churned server (aim: <= 1.2).
Value bytes are "<key number>:<version>:" padded with "v", so every
overwrite changes the value; all randomness comes from --seed. Bulk
traffic is pipelined 1000 commands at a time from one connection.

Latency (g): a separate process (so no GIL is shared with the loader) does
single GETs, one in flight at a time, of random keys among those that the
delete in c keeps, timing each round trip on its own connection:
  - idle: for 2 s after a and a 1 s pause, with no other traffic;
  - after the delete: the --after seconds (default 3) right after the
    pipelined DEL burst of N/2 keys in c, with no other traffic: the
    compaction period. "churn p99" is this window's p99, and the printed
    ratio is churn p99 / idle p99 (aim: <= 2x);
  - during the delete burst itself, printed for information: those GETs
    wait behind batches of 1000 pipelined DELs, so their p99 is about one
    batch's time in either server (compare with redis-server's, not with
    the idle p99).
The server and the probe are pinned to CPU 0 and this script's loader to
the other CPUs: on this 2-vCPU VM a round trip between processes on
different CPUs costs ~70-90 us (waking an idle vCPU) against ~9 us on the
same CPU, and unpinned runs flip between the two, which swamped any
difference between servers. Pinning also means anything the server does in
extra threads (compaction, say) competes with serving on that one CPU.

Finally 10,000 random key numbers (deleted ones included) are read back
from the churned server and compared with the value each should hold (or
nil).

Usage: bench/churn.py [--keys 1000000] [--seed 1] [--settle 5] [--after 3]
           [--only redis|redistill] [--redistill PATH]
       (PATH defaults to $REDISTILL_BIN, else target/release/redistill)
"""
import argparse
import array
import itertools
import multiprocessing
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server  # noqa: E402

BATCH = 1000
# CPU 0 for the server and the latency probe, the rest for the loader
# (nothing pinned on a single-CPU machine).
CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS = {CPUS[0]} if len(CPUS) > 1 else None
LOADER_CPUS = set(CPUS[1:]) if len(CPUS) > 1 else None
PASSES = 5
MIN_SIZE, MAX_SIZE = 16, 512


def key(i):
    return b"key:%012d" % i


def value(i, version, size):
    head = b"%d:%d:" % (i, version)
    return head + b"v" * (size - len(head))


def set_cmd(i, version, size):
    v = value(i, version, size)
    return b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$%d\r\n%s\r\n" % (key(i), len(v), v)


def del_cmd(i):
    return b"*2\r\n$3\r\nDEL\r\n$16\r\n%s\r\n" % key(i)


def send_all(conn, commands, reply):
    """Sends the encoded commands (any iterable) BATCH at a time; every
    reply must be `reply`."""
    commands = iter(commands)
    while True:
        chunk = list(itertools.islice(commands, BATCH))
        if not chunk:
            return
        conn.send_raw(b"".join(chunk))
        want = len(reply) * len(chunk)
        while len(conn.buf) < want:
            conn._fill()
        got, conn.buf = conn.buf[:want], conn.buf[want:]
        assert got == reply * len(chunk), got[:200]


class Dataset:
    """The value each key number should hold: size 0 = absent."""

    def __init__(self, n):
        self.size = array.array("H", [0]) * (n + n // 2)
        self.version = array.array("B", [0]) * (n + n // 2)

    def set(self, i, size):
        self.version[i] += 1
        self.size[i] = size
        return set_cmd(i, self.version[i], size)

    def expected(self, i):
        return value(i, self.version[i], self.size[i]) if self.size[i] else None

    def load_commands(self):
        return (set_cmd(i, self.version[i], s) for i, s in enumerate(self.size) if s)


def probe(port, keys, seed, stop, out):
    """Single GETs until `stop` is set; sends back (start time, µs) pairs."""
    if SERVER_CPUS:
        os.sched_setaffinity(0, SERVER_CPUS)
    rng = random.Random(seed)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    samples = []
    while not stop.is_set():
        req = b"*2\r\n$3\r\nGET\r\n$16\r\n%s\r\n" % key(rng.choice(keys))
        t = time.perf_counter()
        sock.sendall(req)
        buf = sock.recv(4096)
        while b"\r\n" not in buf:
            buf += sock.recv(4096)
        head = buf[:buf.index(b"\r\n")]
        assert head[:1] == b"$" and head != b"$-1", head
        want = len(head) + 2 + int(head[1:]) + 2
        while len(buf) < want:
            buf += sock.recv(4096)
        samples.append((t, (time.perf_counter() - t) * 1e6))
    sock.close()
    out.send(samples)


class Probe:
    """The latency probe in its own process, started and stopped around a phase."""

    def __init__(self, port, keys, seed):
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=probe, args=(port, keys, seed, self.stop, send))
        self.proc.start()

    def finish(self):
        self.stop.set()
        samples = self.recv.recv()
        self.proc.join()
        return samples


def start(kind, args):
    """A fresh server, started seeing every CPU (so Redistill sizes its
    thread pool as usual), then with every thread pinned to SERVER_CPUS
    (threads it starts later inherit that)."""
    os.sched_setaffinity(0, CPUS)
    srv = Server(kind, binary=args.redistill if kind == "redistill" else None)
    if SERVER_CPUS:
        for tid in os.listdir(f"/proc/{srv.proc.pid}/task"):
            os.sched_setaffinity(int(tid), SERVER_CPUS)
        os.sched_setaffinity(0, LOADER_CPUS)
    return srv


def p99(samples):
    xs = sorted(lat for _, lat in samples)
    return xs[min(len(xs) - 1, int(len(xs) * 0.99))] if xs else float("nan")


def churn(kind, args):
    n = args.keys
    rng = random.Random(args.seed)
    data = Dataset(n)
    srv = start(kind, args)
    try:
        t0 = time.time()
        send_all(srv.conn, (data.set(i, 64) for i in range(n)), b"+OK\r\n")  # a
        order = list(range(n))
        doomed = set(rng.sample(order, n // 2))
        kept = [i for i in order if i not in doomed]
        time.sleep(1)
        p = Probe(srv.port, kept, args.seed)
        time.sleep(2)
        idle = p.finish()
        for _ in range(PASSES):  # b
            rng.shuffle(order)
            send_all(srv.conn, (data.set(i, rng.randint(MIN_SIZE, MAX_SIZE)) for i in order),
                     b"+OK\r\n")
        deletes = [del_cmd(i) for i in rng.sample(sorted(doomed), len(doomed))]  # c
        p = Probe(srv.port, kept, args.seed + 1)
        time.sleep(0.2)  # the probe is connected and running
        burst_start = time.perf_counter()
        send_all(srv.conn, deletes, b":1\r\n")
        burst_end = time.perf_counter()
        for i in doomed:
            data.size[i] = 0
        time.sleep(args.after)
        during = p.finish()
        send_all(srv.conn, (data.set(i, rng.randint(MIN_SIZE, MAX_SIZE))
                            for i in range(n, n + n // 2)), b"+OK\r\n")
        assert srv.conn.call("DBSIZE") == n - n // 2 + n // 2
        churn_s = time.time() - t0
        time.sleep(args.settle)  # d
        rss, frag, used = srv.rss(), srv.info("mem_fragmentation_ratio"), int(srv.info("used_memory"))
        sample = random.Random(args.seed + 2).sample(range(len(data.size)), min(10_000, len(data.size)))
        wrong = [i for i in sample if srv.conn.call("GET", key(i)) != data.expected(i)]
    finally:
        srv.stop()
    fresh = start(kind, args)  # e
    try:
        send_all(fresh.conn, data.load_commands(), b"+OK\r\n")
        fresh_rss = fresh.rss()
    finally:
        fresh.stop()
    return {
        "rss": rss, "fresh_rss": fresh_rss, "frag": frag, "used": used, "churn_s": churn_s,
        "burst_s": burst_end - burst_start, "wrong": wrong, "checked": len(sample),
        "idle": idle,
        "in_burst": [s for s in during if burst_start <= s[0] < burst_end],
        "after": [s for s in during if s[0] >= burst_end],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait before reading RSS")
    ap.add_argument("--after", type=float, default=3.0,
                    help="seconds of GETs measured after the big delete")
    ap.add_argument("--only", choices=("redis", "redistill"))
    ap.add_argument("--redistill", default=None,
                    help="Redistill binary (default $REDISTILL_BIN, else target/release/redistill)")
    args = ap.parse_args()
    if LOADER_CPUS:
        os.sched_setaffinity(0, LOADER_CPUS)
    mb = 1 << 20
    print(f"{args.keys} keys of 16 B, 64 B values, {PASSES} overwrite passes of {MIN_SIZE}-{MAX_SIZE} B, "
          f"half deleted, {args.keys // 2} new; seed {args.seed}, settle {args.settle:g} s")
    for kind in [args.only] if args.only else ["redis", "redistill"]:
        r = churn(kind, args)
        ratio = r["rss"] / r["fresh_rss"]
        idle, churned = p99(r["idle"]), p99(r["after"])
        print(f"\n{kind}: phases a-c took {r['churn_s']:.1f} s (delete burst {r['burst_s']:.2f} s)")
        print(f"  RSS churned {r['rss'] / mb:.1f} MB, fresh {r['fresh_rss'] / mb:.1f} MB, "
              f"churned/fresh {ratio:.2f} (aim <= 1.2)")
        print(f"  mem_fragmentation_ratio after churn: {r['frag']} (aim <= 1.2); "
              f"used_memory {r['used'] / mb:.1f} MB")
        print(f"  GET p99: idle {idle:.0f} us ({len(r['idle'])} GETs), after the delete {churned:.0f} us "
              f"({len(r['after'])} GETs in {args.after:g} s), churn/idle {churned / idle:.2f}x (aim <= 2x)")
        print(f"  GET p99 during the delete burst: {p99(r['in_burst']):.0f} us ({len(r['in_burst'])} GETs)")
        status = "all match" if not r["wrong"] else f"{len(r['wrong'])} WRONG, e.g. key {r['wrong'][:5]}"
        print(f"  read-back of {r['checked']} random keys (deleted ones included): {status}", flush=True)


if __name__ == "__main__":
    main()
