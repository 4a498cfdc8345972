"""Streams across replication and RDB files, Redistill with redis-server 7.0.

a) Replication. A Redistill master with two replicas, redis-server 7.0 and
   Redistill (`--replicaof`), linked before any write, so that everything
   reaches them through the command stream. On the master a stream
   workload runs: XADD with `*`, `ms-*` and explicit IDs, approximate
   trims (XADD MAXLEN ~ / MINID ~, XTRIM ~, whose propagation the master
   rewrites as exact trims), exact trims, XDEL, XSETID, XGROUP
   CREATE/SETID/CREATECONSUMER/DELCONSUMER/DESTROY, XREADGROUP (`>`,
   NOACK, history, a blocked one served by a later XADD, inside MULTI and
   EVAL), XACK, XCLAIM (IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID, an
   entry deleted while pending), XAUTOCLAIM (one reply with a non-empty
   deleted-IDs element). Once the replicas' offsets equal the master's,
   each replica must hold exactly what the master holds (see `describe`):
   entries, XLEN, XINFO STREAM, XINFO GROUPS, XINFO CONSUMERS (but idle),
   XPENDING (but idle) and XINFO STREAM FULL with the pending entries'
   delivery times (replicated exactly, through XCLAIM ... TIME); consumer
   seen-times are not replicated and are not compared. Nor are the groups'
   entries-read and lag: Redis 7.0 itself does not replicate them exactly
   (an entry delivered by XREADGROUP reaches replicas as XCLAIM ... LASTID,
   which does not move entries-read), so on each replica they must equal
   what redis-server's replica has in the control run below.
   The same workload runs first on a redis-server master with a
   redis-server replica (the control: the comparisons must hold there,
   which shows the workload only uses what Redis replicates exactly), and
   the workload replies of the two masters are compared too (except those
   that depend on the clock). After the workload a late replica of each
   master is started (redis-server following the Redistill master,
   Redistill following the redis-server master): full syncs, compared the
   same way. Then a short workload with stream-node-max-entries 10 (set
   on every server): node layout (XINFO STREAM radix-tree-keys/-nodes)
   and approximate trims.
b) RDB both ways: SAVE on the Redistill master, a fresh redis-server
   loading that file; SAVE on the control redis-server master, a fresh
   Redistill loading that file. Compared as above, consumer seen-times
   included (they are in the file).

Each comparison that fails is printed (where, the source's value, the
copy's value); the exit status is 1 if any did. STREAMS_KEEP_TMP=1 keeps
the servers' logs of a failed run.

    streams_replication.py REDISTILL_BINARY
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import redis

from procs import free_port, start_redistill, stop_all, wait_for, wait_ping
from resp import Conn, encode

DBS = 3
PROCS = []


# --- processes ---------------------------------------------------------------

def start_redis(tmp, name, extra):
    """A redis-server on a free port (retried if the port was taken)."""
    for _ in range(5):
        port = free_port()
        log = open(os.path.join(tmp, name + ".log"), "w")
        p = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp, "--dbfilename", name + ".rdb",
             "--repl-diskless-sync-delay", "0"] + extra,
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp)
        try:
            wait_ping(port, 10)
            if p.poll() is None and redis.Redis(port=port).info("server")["process_id"] == p.pid:
                PROCS.append(p)
                return port
        except (TimeoutError, redis.RedisError):
            pass
        p.kill()
        p.wait()
    raise RuntimeError("redis-server %s did not start" % name)


def start_ours(binary, tmp, name, extra):
    _, port = start_redistill(binary, tmp, name,
                              ["--dir", tmp, "--dbfilename", name + ".rdb"] + extra, PROCS)
    return port


def info_field(port, section, name):
    c = Conn(port, timeout=5)
    try:
        text = c.call("INFO", section).decode()
    finally:
        c.close()
    for line in text.split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def link_up(port):
    return info_field(port, "replication", "master_link_status") == "up"


def caught_up(master, replicas):
    m = int(info_field(master, "replication", "master_repl_offset"))
    return all(link_up(r) and int(info_field(r, "replication", "slave_repl_offset")) == m for r in replicas)


def wait_caught_up(label, master, replicas):
    try:
        wait_for(label + ": replicas caught up", lambda: caught_up(master, replicas), 20)
    except AssertionError:
        offs = [(p, info_field(p, "replication", "slave_repl_offset"), info_field(p, "replication", "master_link_status"))
                for p in replicas]
        raise AssertionError("%s: replicas did not catch up: master offset %s, replicas (port, offset, link) %s"
                             % (label, info_field(master, "replication", "master_repl_offset"), offs))


# --- the workload ------------------------------------------------------------

def blocked_count(c):
    for line in c.call("INFO", "clients").decode().split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    return -1


def workload(port):
    """Runs the stream workload on a master; returns [(label, reply,
    comparable)] where `comparable` is False for replies that depend on
    the clock (auto IDs)."""
    c = Conn(port)
    out = []
    now = int(time.time() * 1000)

    def do(label, *args, comparable=True):
        r = c.call(*args)
        out.append((label, r, comparable))
        return r

    def pipe(label, cmds):
        rs = c.pipeline(cmds)
        out.append((label, rs, True))
        return rs

    # s: 250 entries in three nodes of 100/100/50 (default node sizes),
    # then approximate and exact trims, tombstones, XSETID.
    pipe("fill s", [["XADD", "s", "%d-1" % i, "f", str(i), "g", "x" * (i % 7)] for i in range(1, 251)])
    do("xadd maxlen ~ (drops one node)", "XADD", "s", "MAXLEN", "~", "120", "251-1", "f", "251")
    do("xtrim maxlen ~ limit (nothing)", "XTRIM", "s", "MAXLEN", "~", "10", "LIMIT", "50")
    do("xdel s", "XDEL", "s", "201-1", "202-1", "205-1", "404-0")
    do("xtrim minid ~ (edge is a tombstone)", "XTRIM", "s", "MINID", "~", "203-1")
    do("xadd minid ~ (nothing trimmed)", "XADD", "s", "MINID", "~", "210-1", "252-1", "f", "252")
    do("xadd maxlen ~ limit", "XADD", "s", "MAXLEN", "~", "5", "LIMIT", "100", "253-1", "f", "253")
    do("xadd ms-*", "XADD", "s", "260-*", "f", "260")
    do("xadd ms-* again", "XADD", "s", "260-*", "f", "261")
    do("xtrim maxlen exact", "XTRIM", "s", "MAXLEN", "=", "40")
    do("xtrim minid exact", "XTRIM", "s", "MINID", "220-1")
    do("xdel top", "XDEL", "s", "260-1")
    do("xsetid", "XSETID", "s", "300-0", "ENTRIESADDED", "500", "MAXDELETEDID", "260-1")
    do("xadd after xsetid", "XADD", "s", "300-*", "f", "300")
    do("xadd nomkstream missing", "XADD", "nokey", "NOMKSTREAM", "*", "f", "v")
    do("xadd nomkstream existing", "XADD", "s", "NOMKSTREAM", "301-0", "f", "301")
    do("xadd maxlen 0 (empty stream)", "XADD", "empty", "MAXLEN", "0", "5-5", "f", "v")

    # auto: `*` IDs, approximate trims with `*`, XADD * inside a script.
    for i in range(120):
        do("xadd *", "XADD", "auto", "*", "i", str(i), comparable=False)
    do("xadd * maxlen ~", "XADD", "auto", "MAXLEN", "~", "30", "*", "i", "x", comparable=False)
    do("xadd * minid ~", "XADD", "auto", "MINID", "~", "0-1", "*", "i", "y", comparable=False)
    do("eval xadd *", "EVAL", "redis.call('XADD', KEYS[1], '*', 'lua', '1') "
       "return redis.call('XADD', KEYS[1], 'MAXLEN', '~', '10', '*', 'lua', '2')", "1", "auto", comparable=False)
    do("multi", "MULTI")
    do("queued xadd *", "XADD", "auto", "*", "m", "1")
    do("queued xtrim ~", "XTRIM", "auto", "MAXLEN", "~", "1")
    do("exec", "EXEC", comparable=False)

    # q: consumer groups.
    pipe("fill q", [["XADD", "q", "%d-0" % i, "n", str(i)] for i in range(1, 31)])
    do("create g1", "XGROUP", "CREATE", "q", "g1", "0")
    do("create g2 $", "XGROUP", "CREATE", "q", "g2", "$")
    do("create g3 entriesread", "XGROUP", "CREATE", "q", "g3", "0", "ENTRIESREAD", "5")
    do("create gone", "XGROUP", "CREATE", "q", "gone", "0")
    do("create busy", "XGROUP", "CREATE", "q", "g1", "0")
    do("create mkstream", "XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM")
    do("createconsumer", "XGROUP", "CREATECONSUMER", "q", "g1", "alice")
    do("createconsumer again", "XGROUP", "CREATECONSUMER", "q", "g1", "alice")
    do("createconsumer idle", "XGROUP", "CREATECONSUMER", "q", "g1", "idler")
    do("createconsumer temp", "XGROUP", "CREATECONSUMER", "q", "g1", "temp")
    do("delconsumer temp", "XGROUP", "DELCONSUMER", "q", "g1", "temp")
    do("delconsumer missing", "XGROUP", "DELCONSUMER", "q", "g1", "nobody")
    do("xreadgroup alice >", "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "q", ">")
    do("xreadgroup bob >", "XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "q", ">")
    do("xreadgroup carol noack", "XREADGROUP", "GROUP", "g1", "carol", "NOACK", "COUNT", "2", "STREAMS", "q", ">")
    do("xreadgroup bob noack", "XREADGROUP", "GROUP", "g1", "bob", "NOACK", "COUNT", "1", "STREAMS", "q", ">")
    # A history read bumps delivery counts and times on the master only
    # (Redis does not propagate it); the XCLAIM right after brings the
    # replicas back in line (it propagates RETRYCOUNT and TIME).
    do("xreadgroup alice history", "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", "q", "0")
    do("xclaim after history", "XCLAIM", "q", "g1", "alice", "0", "1-0", "2-0", "JUSTID")
    do("xack", "XACK", "q", "g1", "3-0", "6-0", "99-0")
    do("xack nothing", "XACK", "q", "g1", "3-0")
    do("xdel pending entries", "XDEL", "q", "4-0", "7-0", "10-0")
    do("xclaim idle retrycount", "XCLAIM", "q", "g1", "dave", "0", "5-0", "IDLE", "5000", "RETRYCOUNT", "7")
    do("xclaim time", "XCLAIM", "q", "g1", "erin", "0", "8-0", "TIME", str(now - 20000))
    do("xclaim force justid", "XCLAIM", "q", "g1", "frank", "0", "12-0", "13-0", "FORCE", "JUSTID")
    do("xclaim lastid", "XCLAIM", "q", "g1", "bob", "0", "2-0", "LASTID", "15-0", "JUSTID")
    do("xclaim lastid only", "XCLAIM", "q", "g1", "bob", "0", "999-0", "LASTID", "20-0")
    do("xclaim min-idle skips", "XCLAIM", "q", "g1", "bob", "3600000", "5-0")
    do("xclaim deleted pending", "XCLAIM", "q", "g1", "alice", "0", "7-0")
    r = do("xautoclaim count 3", "XAUTOCLAIM", "q", "g1", "zed", "0", "0-0", "COUNT", "3")
    if not (isinstance(r, list) and len(r) == 3 and r[2]):
        raise AssertionError("port %d: XAUTOCLAIM's deleted-IDs element is empty: %r" % (port, r))
    do("xautoclaim justid", "XAUTOCLAIM", "q", "g1", "yves", "0", r[0], "COUNT", "2", "JUSTID")
    do("xautoclaim min-idle", "XAUTOCLAIM", "q", "g1", "yves", "3600000", "0-0")
    do("xreadgroup g2 nothing", "XREADGROUP", "GROUP", "g2", "nobody", "STREAMS", "q", ">")
    do("xadd q 31", "XADD", "q", "31-0", "n", "31")
    do("xreadgroup g2 >", "XREADGROUP", "GROUP", "g2", "yann", "STREAMS", "q", ">")
    do("setid g3 entriesread", "XGROUP", "SETID", "q", "g3", "10-0", "ENTRIESREAD", "10")
    do("setid g2 $", "XGROUP", "SETID", "q", "g2", "$")
    do("destroy gone", "XGROUP", "DESTROY", "q", "gone")
    do("destroy gone again", "XGROUP", "DESTROY", "q", "gone")

    # Blocked readers served by a later XADD (the master propagates the
    # XCLAIM / CREATECONSUMER + SETID of the served read).
    do("create g4", "XGROUP", "CREATE", "q", "g4", "$")
    before = blocked_count(c)
    b1 = Conn(port)
    b1.send_raw(encode(["XREADGROUP", "GROUP", "g2", "blocky", "BLOCK", "5000", "STREAMS", "q", ">"]))
    b2 = Conn(port)
    b2.send_raw(encode(["XREADGROUP", "GROUP", "g4", "quiet", "NOACK", "BLOCK", "5000", "STREAMS", "q", ">"]))
    deadline = time.time() + 5
    while blocked_count(c) < before + 2 and time.time() < deadline:
        time.sleep(0.01)
    do("xadd q 32 (serves the blocked)", "XADD", "q", "32-0", "n", "32")
    out.append(("blocked xreadgroup served", b1.read(), True))
    out.append(("blocked xreadgroup noack served", b2.read(), True))
    b1.close()
    b2.close()

    do("multi", "MULTI")
    do("queued xadd", "XADD", "q", "33-0", "n", "33")
    do("queued xreadgroup", "XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "q", ">")
    do("queued xack", "XACK", "q", "g1", "1-0")
    do("queued xclaim", "XCLAIM", "q", "g1", "alice", "0", "8-0", "RETRYCOUNT", "3")
    do("exec", "EXEC")
    do("eval xreadgroup + xack", "EVAL",
       "local r = redis.call('XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', '2', 'STREAMS', KEYS[1], '>') "
       "redis.call('XACK', KEYS[1], 'g1', '11-0') return r", "1", "q")

    # big: several nodes (split by entry count and by bytes), fields that
    # change from entry to entry, binary and integer-like values,
    # tombstones, an approximate trim, and a group with a PEL.
    cmds = []
    for i in range(1, 351):
        fields = ["f", str(i)] if i % 3 else ["f", str(-i * 1000003), "bin", bytes([i % 256, 0, 255, 10, 13])]
        if i % 50 == 0:
            fields += ["large", "L" * 1500]
        if i % 7 == 0:
            fields = ["other%d" % (i % 4), "v" * (i % 30), "n", str(i * 12345678901)]
        cmds.append(["XADD", "big", "%d-%d" % (1000 + i // 3, i % 3)] + fields)
    pipe("fill big", cmds)
    do("xdel big", "XDEL", "big", *["%d-%d" % (1000 + i // 3, i % 3) for i in range(40, 200, 9)])
    do("xtrim big ~", "XTRIM", "big", "MAXLEN", "~", "300")
    do("create big", "XGROUP", "CREATE", "big", "g", "0")
    do("xreadgroup big", "XREADGROUP", "GROUP", "g", "w1", "COUNT", "40", "STREAMS", "big", ">")
    do("xreadgroup big w2", "XREADGROUP", "GROUP", "g", "w2", "COUNT", "25", "STREAMS", "big", ">")
    do("xack big", "XACK", "big", "g", *["%d-%d" % (1000 + i // 3, i % 3) for i in range(1, 351, 4)])
    do("xdel big pending", "XDEL", "big", *["%d-%d" % (1000 + i // 3, i % 3) for i in range(1, 351, 5)])
    # History with deleted entries ([id, nil]); bumps counts on the master
    # only, so XAUTOCLAIM (which propagates TIME and RETRYCOUNT) follows.
    do("xreadgroup big w1 history", "XREADGROUP", "GROUP", "g", "w1", "STREAMS", "big", "0")
    do("xautoclaim big", "XAUTOCLAIM", "big", "g", "w3", "0", "-", "COUNT", "1000", "JUSTID")

    # Another database, and a stream with its group destroyed by DEL + re-create.
    do("select 1", "SELECT", "1")
    do("xadd db1", "XADD", "d", "1-0", "a", "1")
    do("xadd db1", "XADD", "d", "2-0", "a", "2")
    do("create db1", "XGROUP", "CREATE", "d", "g", "0")
    do("xreadgroup db1", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "d", ">")
    do("select 0", "SELECT", "0")
    do("xadd tmp", "XADD", "tmp", "1-0", "a", "1")
    do("create tmp", "XGROUP", "CREATE", "tmp", "g", "0")
    do("del tmp", "DEL", "tmp")
    do("xadd tmp again", "XADD", "tmp", "2-0", "b", "2")
    c.close()
    return out


# --- what is compared ----------------------------------------------------------

def pairs(flat):
    """A flat RESP2 field/value list as a dict."""
    if not isinstance(flat, list):
        return {"<not a list>": flat}
    return dict(zip(flat[::2], flat[1::2]))


def describe(port, seen_times):
    """Every stream of every database, as the comparisons see it. Idle
    times are dropped; consumer seen-times are kept only if `seen_times`."""
    c = Conn(port)
    out = {}
    for db in range(DBS):
        c.call("SELECT", str(db))
        keys = set()
        cursor = b"0"
        while True:
            cursor, chunk = c.call("SCAN", cursor, "COUNT", "1000")
            keys.update(chunk)
            if cursor == b"0":
                break
        for k in sorted(keys):
            t = c.call("TYPE", k)
            name = "db%d %s" % (db, k.decode())
            if t != "stream":
                out[name] = {"type": t}
                continue
            d = {"type": t}
            d["XRANGE"] = c.call("XRANGE", k, "-", "+")
            d["XREVRANGE COUNT 3"] = c.call("XREVRANGE", k, "+", "-", "COUNT", "3")
            d["XLEN"] = c.call("XLEN", k)
            d["XINFO STREAM"] = pairs(c.call("XINFO", "STREAM", k))
            groups = c.call("XINFO", "GROUPS", k)
            d["XINFO GROUPS"] = [pairs(g) for g in groups]
            for g in groups:
                gname = pairs(g)[b"name"]
                cons = c.call("XINFO", "CONSUMERS", k, gname)
                d["XINFO CONSUMERS %s (idle dropped)" % gname.decode()] = [
                    {f: v for f, v in pairs(x).items() if f != b"idle"} for x in cons]
                d["XPENDING %s" % gname.decode()] = c.call("XPENDING", k, gname)
                ext = c.call("XPENDING", k, gname, "-", "+", "1000000")
                d["XPENDING %s - + (idle dropped)" % gname.decode()] = [[e[0], e[1], e[3]] for e in ext]
                for x in cons:
                    cname = pairs(x)[b"name"]
                    ext = c.call("XPENDING", k, gname, "-", "+", "1000000", cname)
                    d["XPENDING %s - + %s (idle dropped)" % (gname.decode(), cname.decode())] = [
                        [e[0], e[1], e[3]] for e in ext]
            full = pairs(c.call("XINFO", "STREAM", k, "FULL", "COUNT", "0"))
            fgroups = []
            for g in full.pop(b"groups", []):
                g = pairs(g)
                consumers = []
                for x in g.pop(b"consumers", []):
                    x = pairs(x)
                    if not seen_times:
                        x.pop(b"seen-time", None)
                    consumers.append(x)
                g[b"consumers"] = consumers
                fgroups.append(g)
            full[b"groups"] = fgroups
            d["XINFO STREAM FULL"] = full
            out[name] = d
    c.close()
    return out


COUNTERS = (b"entries-read", b"lag")


def split_counters(desc):
    """(desc without the groups' entries-read and lag, those counters).
    Redis 7.0 does not replicate them exactly: an entry delivered by
    XREADGROUP reaches replicas as XCLAIM ... LASTID, which moves the
    group's last-delivered-id but not its entries-read (see the control
    run), so a replica's counters are checked against what redis-server's
    own replica ends with instead."""
    rest, counters = {}, {}
    for key, d in desc.items():
        d = dict(d)
        if "XINFO GROUPS" in d:
            groups = []
            for g in d["XINFO GROUPS"]:
                g = dict(g)
                counters["%s group %s (XINFO GROUPS)" % (key, g[b"name"].decode())] = [g.pop(f, "-") for f in COUNTERS]
                groups.append(g)
            d["XINFO GROUPS"] = groups
        if "XINFO STREAM FULL" in d:
            full = dict(d["XINFO STREAM FULL"])
            groups = []
            for g in full[b"groups"]:
                g = dict(g)
                counters["%s group %s (FULL)" % (key, g[b"name"].decode())] = [g.pop(f, "-") for f in COUNTERS]
                groups.append(g)
            full[b"groups"] = groups
            d["XINFO STREAM FULL"] = full
        rest[key] = d
    return rest, counters


def without_times(desc, skip):
    """desc without delivery times and seen-times (for comparing two
    masters, whose clocks differ), and without the keys in `skip`."""
    out = {}
    for key, d in desc.items():
        if key in skip:
            continue
        d = dict(d)
        if "XINFO STREAM FULL" in d:
            full = dict(d["XINFO STREAM FULL"])
            groups = []
            for g in full[b"groups"]:
                g = dict(g)
                g[b"pending"] = [[e[0], e[1], e[3]] for e in g[b"pending"]]
                cons = []
                for x in g[b"consumers"]:
                    x = dict(x)
                    x.pop(b"seen-time", None)
                    x[b"pending"] = [[e[0], e[2]] for e in x[b"pending"]]
                    cons.append(x)
                g[b"consumers"] = cons
                groups.append(g)
            full[b"groups"] = groups
            d["XINFO STREAM FULL"] = full
        out[key] = d
    return out


COMPARED = [0]


def compare(label, want, got, want_name, got_name, problems):
    """Appends one entry per difference between two `describe` results."""
    if not want:
        problems.append("%s: nothing to compare on %s" % (label, want_name))
    for key in sorted(set(want) | set(got)):
        COMPARED[0] += 1
        if key not in got:
            problems.append("%s: %s missing on %s" % (label, key, got_name))
            continue
        if key not in want:
            problems.append("%s: %s exists on %s only" % (label, key, got_name))
            continue
        a, b = want[key], got[key]
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                problems.append("%s: %s\n    %s: %s\n    %s: %s" % (label, key, want_name, short(a), got_name, short(b)))
            continue
        for aspect in sorted(set(a) | set(b), key=repr):
            va, vb = a.get(aspect), b.get(aspect)
            if va == vb:
                continue
            where = "%s: %s %s" % (label, key, aspect)
            if isinstance(va, dict) and isinstance(vb, dict):
                for f in sorted(set(va) | set(vb), key=repr):
                    x, y = va.get(f), vb.get(f)
                    if x == y:
                        continue
                    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
                        for i, (xi, yi) in enumerate(zip(x, y)):
                            if xi != yi:
                                problems.append("%s field %r [%d]\n    %s: %s\n    %s: %s" % (
                                    where, f, i, want_name, short(xi), got_name, short(yi)))
                    else:
                        problems.append("%s field %r\n    %s: %s\n    %s: %s" % (
                            where, f, want_name, short(x), got_name, short(y)))
            elif isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
                for i, (x, y) in enumerate(zip(va, vb)):
                    if x != y:
                        problems.append("%s [%d]\n    %s: %s\n    %s: %s" % (
                            where, i, want_name, short(x), got_name, short(y)))
            else:
                problems.append("%s\n    %s: %s\n    %s: %s" % (where, want_name, short(va), got_name, short(vb)))


def short(v, limit=600):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


# --- main --------------------------------------------------------------------

class OutOfTime(BaseException):
    pass


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: streams_replication.py REDISTILL_BINARY")
    binary = os.path.abspath(sys.argv[1])

    def out_of_time(*_):
        raise OutOfTime()

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(55)
    tmp = tempfile.mkdtemp(prefix="streams-repl-")
    problems = []
    started = time.time()
    try:
        run(binary, tmp, problems)
    except OutOfTime:
        problems.append("out of time (55 s)")
    except Exception:
        problems.append("the run stopped: " + traceback.format_exc(limit=3))
    finally:
        signal.alarm(0)
        stop_all(PROCS)
        if problems and os.environ.get("STREAMS_KEEP_TMP"):
            print("logs kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        for p in problems:
            print(p)
        print("streams_replication: %d problems (%.1fs)" % (len(problems), time.time() - started))
        sys.exit(1)
    print("streams_replication: replicas (redis-server, Redistill, late full syncs) and RDB files "
          "both ways match their sources (%d key comparisons, %.1fs)" % (COMPARED[0], time.time() - started))


def run(binary, tmp, problems):
    # The control: redis-server master and replica.
    rmaster = start_redis(tmp, "control-master", [])
    rreplica = start_redis(tmp, "control-replica", ["--replicaof", "127.0.0.1", str(rmaster)])
    # Redistill master with a redis-server replica and a Redistill replica.
    master = start_ours(binary, tmp, "master", [])
    theirs = start_redis(tmp, "redis-replica", ["--replicaof", "127.0.0.1", str(master)])
    ours = start_ours(binary, tmp, "ours-replica", ["--replicaof", "127.0.0.1 %d" % master])
    wait_for("replication links up", lambda: all(link_up(p) for p in (rreplica, theirs, ours)), 20)

    want_log = workload(rmaster)
    got_log = workload(master)
    for (label, w, comparable), (_, g, _) in zip(want_log, got_log):
        if comparable and w != g:
            problems.append("workload reply (%s)\n    redis-server master: %s\n    Redistill master:    %s"
                            % (label, short(w), short(g)))
    c = Conn(master)
    wait_r = c.call("WAIT", "2", "2000")
    c.close()
    if wait_r != 2:
        problems.append("WAIT 2 2000 on the Redistill master: %r (want 2)" % (wait_r,))
    wait_caught_up("control", rmaster, [rreplica])
    wait_caught_up("Redistill master", master, [theirs, ours])

    # Replicas against their master: everything but the groups' counters,
    # which are checked against the control replica's.
    control, control_counters = split_counters(describe(rmaster, False))
    creplica, creplica_counters = split_counters(describe(rreplica, False))
    compare("control (redis-server master -> redis-server replica)", control, creplica,
            "redis master", "redis replica", problems)
    m, m_counters = split_counters(describe(master, False))
    for name, port in (("redis-server replica", theirs), ("Redistill replica", ours)):
        r, r_counters = split_counters(describe(port, False))
        compare("Redistill master -> " + name, m, r, "Redistill master", name, problems)
        compare("group entries-read/lag on the %s of the Redistill master vs on redis-server's replica "
                "in the control run" % name,
                creplica_counters, r_counters, "control replica", name, problems)
    # The two masters ran the same workload: all but the `*` IDs and the
    # clock-dependent fields must be equal.
    compare("Redistill master vs redis-server master (same workload)",
            without_times(dict(control, **{"counters": control_counters}), {"db0 auto"}),
            without_times(dict(m, **{"counters": m_counters}), {"db0 auto"}),
            "redis master", "Redistill master", problems)

    # Smaller nodes (stream-node-max-entries 10, set on every server):
    # node layout, approximate trims and their propagation.
    for port in (rmaster, rreplica, master, theirs, ours):
        c = Conn(port)
        r = c.call("CONFIG", "SET", "stream-node-max-entries", "10")
        c.close()
        if r != "OK":
            problems.append("CONFIG SET stream-node-max-entries 10 on %d: %r" % (port, r))
    small_logs = []
    for port in (rmaster, master):
        c = Conn(port)
        log = [c.pipeline([["XADD", "small", "%d-0" % i, "f", str(i)] for i in range(1, 36)])]
        for cmd in (["XINFO", "STREAM", "small"],
                    ["XADD", "small", "MAXLEN", "~", "15", "36-0", "f", "36"],
                    ["XTRIM", "small", "MINID", "~", "28-0"],
                    ["XDEL", "small", "31-0", "32-0", "33-0", "34-0", "35-0"],
                    ["XADD", "small", "37-0", "f", "37"],
                    ["XINFO", "STREAM", "small"]):
            log.append(c.call(*cmd))
        c.close()
        small_logs.append(log)
    if small_logs[0] != small_logs[1]:
        for i, (w, g) in enumerate(zip(*small_logs)):
            if w != g:
                problems.append("stream-node-max-entries 10, step %d\n    redis-server master: %s\n    "
                                "Redistill master:    %s" % (i, short(w), short(g)))
    wait_caught_up("control (small nodes)", rmaster, [rreplica])
    wait_caught_up("Redistill master (small nodes)", master, [theirs, ours])
    small = lambda port: {k: v for k, v in split_counters(describe(port, False))[0].items() if k == "db0 small"}
    compare("small nodes: control", small(rmaster), small(rreplica), "redis master", "redis replica", problems)
    for name, port in (("redis-server replica", theirs), ("Redistill replica", ours)):
        compare("small nodes: Redistill master -> " + name, small(master), small(port),
                "Redistill master", name, problems)
    compare("small nodes: Redistill master vs redis-server master", small(rmaster), small(master),
            "redis master", "Redistill master", problems)

    # Late replicas: full syncs, after the workload.
    late_theirs = start_redis(tmp, "late-redis-replica", ["--replicaof", "127.0.0.1", str(master)])
    late_ours = start_ours(binary, tmp, "late-ours-replica", ["--replicaof", "127.0.0.1 %d" % rmaster])
    wait_caught_up("late redis-server replica", master, [late_theirs])
    wait_caught_up("late Redistill replica", rmaster, [late_ours])
    # (A full sync carries the consumers' seen-times: compared too.)
    m_full = describe(master, True)
    control_full = describe(rmaster, True)
    compare("Redistill master -> late redis-server replica (full sync)", m_full, describe(late_theirs, True),
            "Redistill master", "redis-server replica", problems)
    compare("redis-server master -> late Redistill replica (full sync)", control_full, describe(late_ours, True),
            "redis master", "Redistill replica", problems)

    # RDB: Redistill's file in redis-server, redis-server's in Redistill.
    c = Conn(master)
    saved = c.call("SAVE")
    c.close()
    if saved != "OK":
        problems.append("SAVE on the Redistill master: %r" % (saved,))
    path = os.path.join(tmp, "master.rdb")
    rdb_dir = os.path.join(tmp, "from-redistill")
    os.mkdir(rdb_dir)
    shutil.copy(path, os.path.join(rdb_dir, "dump.rdb"))
    loaded = start_redis(rdb_dir, "dump", [])
    compare("Redistill RDB -> redis-server", m_full, describe(loaded, True),
            "Redistill (saved)", "redis-server (loaded)", problems)

    c = Conn(rmaster)
    saved = c.call("SAVE")
    c.close()
    if saved != "OK":
        problems.append("SAVE on the redis-server master: %r" % (saved,))
    ours_dir = os.path.join(tmp, "from-redis")
    os.mkdir(ours_dir)
    shutil.copy(os.path.join(tmp, "control-master.rdb"), os.path.join(ours_dir, "dump.rdb"))
    _, lport = start_redistill(binary, ours_dir, "loaded",
                               ["--persistence", "yes", "--dir", ours_dir, "--dbfilename", "dump.rdb",
                                "--snapshot-interval", "0", "--save-on-shutdown", "no"], PROCS)
    compare("redis-server RDB -> Redistill", control_full, describe(lport, True),
            "redis-server (saved)", "Redistill (loaded)", problems)


if __name__ == "__main__":
    main()
