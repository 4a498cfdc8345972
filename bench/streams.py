#!/usr/bin/env python3
"""Redis Streams, redis-server vs Redistill, side by side, in one run.

    bench/streams.py                          # 1,000,000 entries, 3 rounds
    bench/streams.py --entries 200000 --rounds 1
    bench/streams.py --big                    # adds XRANGE on a 10,000,000-entry stream
    bench/streams.py --binary /path/to/redistill

Every measurement starts a fresh process of each kind (redis-server with
--save '' --appendonly no, Redistill with its defaults) on loopback; the
kinds alternate and the order flips every round. Medians over --rounds are
printed with the ratio Redistill/Redis.

The entries look like an event log: explicit IDs `<ms>-0` one millisecond
apart from 1000000000000 (so a random ID is easy to name), and three small
fields, `name <8 chars> value <8-digit int> ts <13-digit int>`.

1. Memory per entry: --entries entries loaded over one connection (raw
   RESP, 1000 XADDs a batch, two batches in flight), which is then closed;
   (after - before) / entries of `used_memory` (INFO) and of VmRSS
   (/proc/<pid>/status). Three datasets: one stream; one stream whose
   entries have field names that differ from entry to entry (`name<j>
   value<j> ts<j>`, j = i mod 1000: Redis cannot reuse the field names of
   its node's master entry); the same entries spread over 10 streams.
   Redis's used_memory is what its allocator handed out; Redistill's is
   the memory its dataset accounts for (docs/compatibility.md), so the RSS
   column is the like-for-like one.
2. XRANGE latency: --calls calls of `XRANGE s <id> + COUNT 100` on a
   stream of --entries entries, one connection, no pipelining, each timed
   by this script from send to the last byte of its reply (redis-benchmark
   -c 1 reports percentiles from a histogram whose steps here are 15, 31,
   63 µs); <id> the middle entry's, and a second row with a random start
   ID (seeded; at least 100 entries from the end); p50 and p99, and the
   server's own time per call (usec_per_call of INFO commandstats, reset
   before the row; each server's own accounting), which leaves out the
   loopback round trip and the client; a PING row, measured the same way,
   shows that part alone. With --big the same on a stream of 10,000,000
   entries (skipped when MemAvailable is short): XRANGE is O(log n +
   COUNT), so the 10M figures should be close to the 1M ones.
3. Throughput: redis-benchmark -c 50 -P 16 (one thread): XADD of the same
   three fields with `*` IDs into one stream, the same capped with
   `MAXLEN ~ 10000`, XADD spread over 1000 streams, and `XRANGE s
   <random id> + COUNT 10` on the --entries stream of part 2 (same
   process, after its latency rows; both are read-only).
"""
import argparse
import csv
import io
import os
import random
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BINARY, Server  # noqa: E402
from resp import encode  # noqa: E402

T0 = 1_000_000_000_000  # first entry's ID (ms); "1__rand_int__" then names any entry
TS0 = 1_700_000_000_000  # the `ts` field: a millisecond timestamp
BATCH = 1000
BIG = 10_000_000
KINDS = ("redis", "redistill")


# ---------------------------------------------------------------- loading

def xadd_chunks(n, streams=1, distinct_fields=False, key="events"):
    """The RESP bytes of n XADDs, as (payload, commands) batches of BATCH.
    Entry i goes to stream i % streams with ID T0 + i // streams."""
    chunks = []
    keys = [key] if streams == 1 else [f"{key}:{s}" for s in range(streams)]
    kb = [f"${len(k)}\r\n{k}\r\n" for k in keys]
    for start in range(0, n, BATCH):
        out = []
        for i in range(start, min(n, start + BATCH)):
            eid = f"{T0 + i // streams}-0"
            name = f"user{(i * 7919) % 10000:04d}"
            value = f"{10_000_000 + (i * 104729) % 90_000_000}"
            ts = f"{TS0 + i * 3}"
            if distinct_fields:
                j = f"{i % 1000:03d}"
                fields = (f"$7\r\nname{j}\r\n$8\r\n{name}\r\n$8\r\nvalue{j}\r\n$8\r\n{value}\r\n"
                          f"$5\r\nts{j}\r\n$13\r\n{ts}\r\n")
            else:
                fields = (f"$4\r\nname\r\n$8\r\n{name}\r\n$5\r\nvalue\r\n$8\r\n{value}\r\n"
                          f"$2\r\nts\r\n$13\r\n{ts}\r\n")
            out.append(f"*9\r\n$4\r\nXADD\r\n{kb[i % streams]}${len(eid)}\r\n{eid}\r\n{fields}")
        chunks.append(("".join(out).encode(), min(n, start + BATCH) - start))
    return chunks, keys


def load(port, chunks):
    """Sends the batches over a new connection, two in flight, and waits
    for every reply (an XADD's reply is a bulk string: two lines)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(120)
    got = 0
    tail = b"\r\n"

    def drain(target):
        nonlocal got, tail
        while got < target:
            data = sock.recv(1 << 20)
            if not data:
                raise SystemExit("server closed the connection while loading")
            window = tail + data
            if b"\r\n-" in window:
                err = window[window.find(b"\r\n-") + 2:].split(b"\r\n")[0]
                raise SystemExit(f"XADD failed: {err.decode(errors='replace')}")
            got += window.count(b"\r\n") - tail.count(b"\r\n")
            tail = window[-2:]

    want = []
    try:
        for payload, count in chunks:
            sock.sendall(payload)
            want.append(2 * count)
            if len(want) > 1:
                drain(sum(want[:-1]))
        drain(sum(want))
    finally:
        sock.close()


def count_entries(srv, keys):
    return sum(srv.conn.call("XLEN", k) for k in keys)


# ------------------------------------------------------- redis-benchmark

def rb(port, clients, depth, requests, rand, args):
    """One redis-benchmark run; returns its ops/s."""
    cmd = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-P", str(depth),
           "-n", str(requests), "--csv"] + (["-r", str(rand)] if rand else []) + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    rows = [r for r in csv.reader(io.StringIO(out.stdout)) if r and r[0] != "test"]
    if not rows:
        raise SystemExit(f"{' '.join(cmd)} printed no result:\n{out.stdout}\n{out.stderr}")
    return float(rows[-1][1])


# ---------------------------------------------------------- measurements

def measure_memory(kind, binary, chunks, keys, n):
    srv = Server(kind, binary=binary)
    try:
        used0, rss0 = int(srv.info("used_memory")), srv.rss()
        load(srv.port, chunks)
        got = count_entries(srv, keys)
        assert got == n, f"{kind}: {got} entries instead of {n}"
        time.sleep(0.3)  # the loading connection is gone; let its buffers go
        used1, rss1 = int(srv.info("used_memory")), srv.rss()
        return {"used": (used1 - used0) / n, "rss": (rss1 - rss0) / n}
    finally:
        srv.stop()


def xrange_requests(n, calls, random_start):
    """`calls` XRANGE <id> + COUNT 100 requests (RESP bytes) on the stream of
    n entries, each with the number of reply lines it must get back (an
    entry of three fields: 16 lines). The start is the middle entry, or a
    random one at least 100 from the end."""
    rng = random.Random(1)
    out = []
    for _ in range(calls):
        i = rng.randrange(n - 100) if random_start else n // 2
        out.append((encode(["XRANGE", "events", str(T0 + i), "+", "COUNT", "100"]), 1 + 16 * 100))
    return out


def round_trips(port, requests):
    """Sends each request, in turn, on one connection (no pipelining) and
    times it until its whole reply has arrived: µs per request, sorted."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(30)
    clock = time.perf_counter_ns
    times = []
    try:
        for req, lines in requests:
            t = clock()
            sock.sendall(req)
            got, last = 0, b""
            while got < lines:
                data = sock.recv(1 << 20)
                if not data:
                    raise SystemExit("server closed the connection")
                got += data.count(b"\r\n") + (last == b"\r" and data[:1] == b"\n")
                last = data[-1:]
            times.append((clock() - t) / 1000)
            if got != lines:
                raise SystemExit(f"reply of {got} lines instead of {lines} to {req[:80]!r}")
    finally:
        sock.close()
    times.sort()
    return times


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def usec_per_call(srv, command):
    """usec_per_call of INFO commandstats: the server's own time per call."""
    for line in srv.conn.call("INFO", "commandstats").decode().split("\r\n"):
        if line.startswith(f"cmdstat_{command}:"):
            return float(line.split("usec_per_call=")[1].split(",")[0])
    raise SystemExit(f"no cmdstat_{command} in INFO commandstats")


def measure_reads(kind, binary, chunks, n, calls, requests, throughput=True):
    """Latency rows on a stream of n entries and, when asked, the XRANGE
    COUNT 10 throughput on the same stream."""
    srv = Server(kind, binary=binary)
    try:
        load(srv.port, chunks)
        got = count_entries(srv, ["events"])
        assert got == n, f"{kind}: {got} entries instead of {n}"
        res = {}
        # The reply checked once in full: 100 entries from the start ID.
        first = srv.conn.call("XRANGE", "events", str(T0 + n // 2), "+", "COUNT", "100")
        assert len(first) == 100 and first[0][0] == f"{T0 + n // 2}-0".encode(), first[:1]
        assert len(first[0][1]) == 6, first[0]
        round_trips(srv.port, xrange_requests(n, 500, False))  # warm-up, not measured
        ping = round_trips(srv.port, [(encode(["PING"]), 1)] * calls)
        res[f"PING alone, {n:,}-entry stream p50"] = percentile(ping, 0.5)
        res[f"PING alone, {n:,}-entry stream p99"] = percentile(ping, 0.99)
        for name, random_start in ((f"XRANGE mid COUNT 100, {n:,} entries", False),
                                   (f"XRANGE random COUNT 100, {n:,} entries", True)):
            requests_ = xrange_requests(n, calls, random_start)
            srv.conn.call("CONFIG", "RESETSTAT")
            times = round_trips(srv.port, requests_)
            res[name + " server"] = usec_per_call(srv, "xrange")
            res[name + " p50"] = percentile(times, 0.5)
            res[name + " p99"] = percentile(times, 0.99)
        if throughput:
            ops = rb(srv.port, 50, 16, requests, n, XRANGE10)
            res["XRANGE random COUNT 10"] = ops
        return res
    finally:
        srv.stop()


FIELDS = ["name", "user__rand_int__", "value", "__rand_int__", "ts", "__rand_int__"]
XRANGE10 = ["XRANGE", "events", "1__rand_int__", "+", "COUNT", "10"]
# name, redis-benchmark arguments, -r
WRITES = [
    ("XADD *, 1 stream", ["XADD", "events", "*"] + FIELDS, 100_000_000),
    ("XADD MAXLEN ~ 10000 *, 1 stream", ["XADD", "events", "MAXLEN", "~", "10000", "*"] + FIELDS,
     100_000_000),
    ("XADD *, 1000 streams", ["XADD", "events:__rand_int__", "*"] + FIELDS, 1000),
]


def measure_write(kind, binary, args, rand, requests):
    srv = Server(kind, binary=binary)
    try:
        ops = rb(srv.port, 50, 16, requests, rand, args)
        return ops
    finally:
        srv.stop()


def server_row(row):
    return row[:-len(" server")] + ", server time/call" if row.endswith(" server") else row


def cpu_jiffies():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def machine_busy():
    """What else runs on the machine, checked between measurements (no
    server of this script is running then): cargo or rustc, or more than a
    quarter of a core busy over 0.25 s. On a 2-core machine either skews
    every timing; the table then carries a warning."""
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() in ("cargo", "rustc"):
                    return "cargo/rustc"
        except OSError:
            pass
    total0, idle0 = cpu_jiffies()
    time.sleep(0.25)
    total1, idle1 = cpu_jiffies()
    busy = (1 - (idle1 - idle0) / max(1, total1 - total0)) * os.cpu_count()
    return f"{busy:.1f} cores busy" if busy > 0.25 else None


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default=BINARY)
    ap.add_argument("--big", action="store_true",
                    help=f"also XRANGE latency on a stream of {BIG:,} entries")
    ap.add_argument("--calls", type=int, default=10_000,
                    help="XRANGE calls per latency measurement")
    ap.add_argument("--requests", type=int, default=1_000_000,
                    help="requests per XADD throughput run (XRANGE COUNT 10: half)")
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        raise SystemExit(f"{args.binary} is missing: build first (cargo build --release)")
    started = time.time()
    cmdline = "python3 bench/streams.py" + "".join(" " + a for a in sys.argv[1:])
    print(f"# {cmdline}", flush=True)
    print(f"# redistill: {args.binary}; redis-server: "
          + subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
          .stdout.split()[2], flush=True)
    n = args.entries
    print(f"# generating {n:,} XADDs for each dataset...", flush=True)
    datasets = [
        ("1 stream", *xadd_chunks(n)),
        ("1 stream, field names differ per entry", *xadd_chunks(n, distinct_fields=True)),
        ("10 streams", *xadd_chunks(n, streams=10)),
    ]
    read_chunks = datasets[0][1]
    samples = {}  # (section, row, unit) -> {kind: [values]}

    busy = []

    def check_busy():
        why = machine_busy()
        if why:
            busy.append(why)

    def add(section, row, unit, kind, value):
        samples.setdefault((section, row, unit), {k: [] for k in KINDS})[kind].append(value)

    for r in range(args.rounds):
        order = KINDS if r % 2 == 0 else KINDS[::-1]
        print(f"# round {r + 1}/{args.rounds}, order {' then '.join(order)}", flush=True)
        for name, chunks, keys in datasets:
            for kind in order:
                m = measure_memory(kind, args.binary, chunks, keys, n)
                check_busy()
                add("memory", f"{name}, used_memory", "B/entry", kind, m["used"])
                add("memory", f"{name}, RSS", "B/entry", kind, m["rss"])
                print(f"  memory  {name:<40} {kind:<9} used_memory {m['used']:7.1f} "
                      f"RSS {m['rss']:7.1f} B/entry", flush=True)
        for kind in order:
            res = measure_reads(kind, args.binary, read_chunks, n, args.calls, args.requests // 2)
            check_busy()
            for row, value in res.items():
                if row.endswith((" p50", " p99", " server")):
                    add("latency", server_row(row), "µs", kind, value)
                else:
                    add("throughput", row, "ops/s", kind, value)
            print(f"  reads   {kind:<9} " + ", ".join(f"{k} {v:.0f}" for k, v in res.items()),
                  flush=True)
        for name, wargs, rand in WRITES:
            for kind in order:
                ops = measure_write(kind, args.binary, wargs, rand, args.requests)
                check_busy()
                add("throughput", name, "ops/s", kind, ops)
                print(f"  write   {name:<40} {kind:<9} {ops:9.0f} ops/s", flush=True)

    big_note = None
    if args.big:
        rss = max(statistics.median(v) for (s, row, _), d in samples.items()
                  if row == "1 stream, RSS" for v in d.values())
        payload = sum(len(p) for p, _ in read_chunks) * BIG / n
        need = BIG * max(rss, 50) * 1.5 + payload * 1.2  # one server at a time, plus the batches
        avail = mem_available()
        if avail < need:
            big_note = (f"--big skipped: {avail / 2**20:,.0f} MB available, about "
                        f"{need / 2**20:,.0f} MB needed")
            print(f"# {big_note}", flush=True)
        else:
            print(f"# --big: {avail / 2**20:,.0f} MB available, about {need / 2**20:,.0f} MB "
                  f"needed; generating {BIG:,} XADDs...", flush=True)
            big_chunks, _ = xadd_chunks(BIG)
            for r in range(args.rounds):
                order = KINDS if r % 2 == 0 else KINDS[::-1]
                for kind in order:
                    t = time.time()
                    res = measure_reads(kind, args.binary, big_chunks, BIG, args.calls, 0,
                                        throughput=False)
                    check_busy()
                    for row, value in res.items():
                        add("latency", server_row(row), "µs", kind, value)
                    print(f"  big     round {r + 1} {kind:<9} "
                          + ", ".join(f"{k} {v:.0f}" for k, v in res.items())
                          + f" ({time.time() - t:.0f} s)", flush=True)
            del big_chunks

    elapsed = time.time() - started
    print()
    print(f"Streams, redis-server vs Redistill: medians of {args.rounds} rounds, "
          f"fresh processes, alternating; ratio = Redistill / Redis")
    print(f"Command: {cmdline}")
    print()
    print("| section | measurement | unit | redis | redistill | ratio |")
    print("|---|---|---|---|---|---|")
    sections = ["memory", "latency", "throughput"]
    for (section, row, unit), d in sorted(samples.items(), key=lambda kv: sections.index(kv[0][0])):
        a, b = statistics.median(d["redis"]), statistics.median(d["redistill"])
        fmt = "{:.1f}" if unit != "ops/s" else "{:.0f}"
        ratio = f"**{b / a:.2f}x**" if a > 0 else "n/a"
        print(f"| {section} | {row} | {unit} | {fmt.format(a)} | {fmt.format(b)} | {ratio} |")
    print()
    print(f"Memory: {n:,} entries (name <8 chars> value <8-digit int> ts <13-digit int>), "
          f"explicit IDs; used_memory is allocator bytes in Redis but accounted dataset bytes "
          f"in Redistill, compare RSS. Latency: {args.calls} calls, one connection, timed by "
          f"this script (server time/call: INFO commandstats usec_per_call). "
          f"Throughput: redis-benchmark -c 50 -P 16 -n {args.requests} "
          f"(XRANGE: -n {args.requests // 2}).")
    if big_note:
        print(big_note)
    if busy:
        print(f"WARNING: the machine was busy after {len(busy)} of the measurements "
              f"({', '.join(sorted(set(busy))[:5])}); the timings are skewed, run again "
              f"on an idle machine.")
    print(f"Run took {elapsed:.0f} s.")


if __name__ == "__main__":
    main()
