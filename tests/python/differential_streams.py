"""Differential test of the stream commands: the same seeded command stream
against redis-server and Redistill, replies compared after normalising what
depends on the clock.

Covered: XADD (explicit IDs only: `ms-seq`, `ms`, `ms-*`, too-small, 0-0 and
malformed IDs, NOMKSTREAM, MAXLEN/MINID with `=`/`~`/LIMIT, field layouts
that match the node's master fields or not, integer-looking, empty and long
values so nodes reach their byte limit), XRANGE/XREVRANGE, XLEN, XDEL, XTRIM,
XSETID, XGROUP (all subcommands), XREADGROUP and XREAD (no blocking, except
XREAD BLOCK when redis-server already has data for it, and BLOCK inside
MULTI or scripts), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO, TYPE, EXISTS,
DEL, OBJECT ENCODING, wrong arity and syntax errors, MULTI/EXEC blocks, EVAL
scripts that call stream commands, and DUMP/RESTORE of streams across the
two servers (each server loads the other's payload; XINFO STREAM FULL of
the copies must match the original, also after one more XADD), and COPY of
streams. A tenth of the commands outside transactions go over a second pair
of connections speaking RESP3.

What depends on the clock is never compared as is:
* No `*` IDs (the `ms-*` form is deterministic and is used).
* Idle times and delivery/seen times become "recent" (under 50,000 s old)
  or "old"; small absolute times (XCLAIM TIME 1000) are compared exactly.
* min-idle thresholds (XCLAIM, XAUTOCLAIM, XPENDING IDLE) are 0 or 10^8 ms,
  and XCLAIM IDLE/TIME make entries either fresh or at least 10^9 ms old,
  so which entries pass a threshold does not depend on timing.

Usage: differential_streams.py REDISTILL_PORT REDIS_PORT [--commands N] [--seed S]
Prints every mismatch with its seed and recent history; exits 1 on any.
After a mismatch both servers are flushed and the stream goes on; the first
--detail mismatches (20) are printed with their history, later ones on one
line each, and the run stops after --max-mismatches (200).
DIFF_TRACE_KEY=k prints every command naming k at each mismatch;
DIFF_STREAMS_HISTORY=path writes the commands since the last resync (JSON)
at each mismatch, for shrinking by hand (a ["HELLO3:", ...] entry was sent
over the RESP3 connections, ["DUMP", k] stands for a DUMP/RESTORE check).
DIFF_STREAMS_DAMPEN=xclaim-force,xsetid-back avoids the triggers of known
Redistill bugs (XCLAIM FORCE; XSETID below the last ID), for exploring past
them; by default everything is generated.
"""
import argparse
import collections
import json
import os
import random
import sys
import time

from resp import Conn, Err, encode

MAX = 18446744073709551615
STREAM_KEYS = ["s%d" % i for i in range(6)]
# The key that gets IDs near the maximum (and so is sometimes exhausted).
MAX_KEY = "s5"
STR_KEY, HASH_KEY = "str", "hsh"
MISSING = ["nokey", "missing"]
GROUPS = ["g1", "g2", "g3"]
CONSUMERS = ["c1", "c2", "c3", "c4"]
# Field names each key uses by default (the node's master fields).
DEFAULT_FIELDS = {"s0": ["a"], "s1": ["a", "b"], "s2": ["f1", "f2", "f3"],
                  "s3": ["name", "value"], "s4": ["x"], "s5": ["a", "b"]}
TARGET_LEN = {"s0": 30, "s1": 120, "s2": 250, "s3": 400, "s4": 60, "s5": 150}
FIELD_NAMES = ["a", "b", "c", "f1", "f2", "f3", "name", "value", "x", "", "0", "12", "-1", "long-field-name"]
VALUES = ["", "0", "1", "-1", "12", "007", "127", "128", "-4096", "4095", "4096", "65535", "-32769",
          "8388608", "2147483648", "9223372036854775807", "-9223372036854775808",
          "9223372036854775808", "1.5", " 1", "+1", "-0", "hello", "a b", "\x00bin", "v"]
# Thresholds that never fall close to a real idle time: 0, or 10^8 ms
# (entries are either fresh or made at least 10^9 ms old).
MIN_IDLES = ["0", "0", "0", "100000000"]
RECENT = 50_000_000
# Exploration aid: DIFF_STREAMS_DAMPEN=name,... makes the listed known-bug
# triggers rare so that other divergences show up (off by default; the
# default run exercises everything). Names: see dampened() calls.
DAMPEN = set(filter(None, os.environ.get("DIFF_STREAMS_DAMPEN", "").split(",")))


class NullArray:
    """`*-1`, which resp.Conn would read as None like `$-1`."""

    def __eq__(self, other):
        return isinstance(other, NullArray)

    def __hash__(self):
        return 1

    def __repr__(self):
        return "*-1"


NULL_ARRAY = NullArray()


class Null3:
    """RESP3 `_`, which resp.Conn would read as None like `$-1`."""

    def __eq__(self, other):
        return isinstance(other, Null3)

    def __hash__(self):
        return 3

    def __repr__(self):
        return "_"


NULL3 = Null3()


class SConn(Conn):
    """resp.Conn telling a null array from a null bulk string."""

    def read(self):
        while b"\r\n" not in self.buf[:8]:
            if len(self.buf) >= 8:
                return Conn.read(self)
            self._fill()
        for line, value in ((b"*-1\r\n", NULL_ARRAY), (b"_\r\n", NULL3)):
            if self.buf.startswith(line):
                self.buf = self.buf[len(line):]
                return value
        return Conn.read(self)


def fmt(ms, seq):
    # A stream whose last ID is ms-(2^64-1) with ms < 2^64-1 answers the next
    # `ms-*` with an error text that depends on a stale errno (7.0.15: "too
    # large" or "equal or smaller"), so no generated ID comes near that.
    if ms < MAX and seq > MAX - 1000:
        seq = 0
    return "%d-%d" % (ms, seq)


def parse_id(b):
    if isinstance(b, bytes):
        b = b.decode("latin-1")
    ms, seq = b.split("-")
    return int(ms), int(seq)


class KeyModel:
    """What the generator believes about a stream key (from redis-server's
    replies): its last ID, recent IDs, its groups. Only guides generation."""

    def __init__(self, key):
        self.key = key
        self.last = (0, 0)
        self.ids = collections.deque(maxlen=150)
        self.groups = set()
        self.stale = False


# ---------------------------------------------------------------------------
# Generation


class Gen:
    def __init__(self, r):
        self.r = r
        self.models = {k: KeyModel(k) for k in STREAM_KEYS}
        self.refresh = None  # set by the runner: refreshes a stale model

    def dampened(self, name):
        """True when the trigger of known bug `name` should be skipped."""
        return name in DAMPEN

    @staticmethod
    def below(text, last):
        """Is `text` a well-formed ID below `last` (XSETID moving back)?"""
        try:
            return parse_id(text) < last
        except ValueError:
            return False

    def m(self, k):
        m = self.models.get(k)
        if m is not None and m.stale and self.refresh:
            self.refresh(m)
        return m

    # -- keys, groups, consumers
    def skey(self):
        return self.r.choice(STREAM_KEYS)

    def anykey(self):
        x = self.r.random()
        if x < 0.9:
            return self.skey()
        if x < 0.95:
            return self.r.choice([STR_KEY, HASH_KEY])
        return self.r.choice(MISSING)

    def group(self, k):
        m = self.m(k)
        if m and m.groups and self.r.random() < 0.9:
            return self.r.choice(sorted(m.groups))
        return self.r.choice(GROUPS + ["nogroup"] if self.r.random() < 0.1 else GROUPS)

    def consumer(self):
        if self.r.random() < 0.02:
            return self.r.choice(["", "c x", "C1"])
        return self.r.choice(CONSUMERS)

    # -- IDs
    def known_id(self, k):
        m = self.m(k)
        if m is None or not m.ids:
            return fmt(self.r.randint(0, 5), self.r.randint(0, 2))
        return self.r.choice(m.ids)

    def near_id(self, k):
        """An ID around the key's entries: known, last, or close to them."""
        m = self.m(k)
        r = self.r
        x = r.random()
        if x < 0.5:
            return self.known_id(k)
        if m is None:
            return fmt(r.randint(0, 50), r.randint(0, 3))
        ms, seq = m.last
        if x < 0.7:
            return fmt(ms, seq)
        if x < 0.85:
            return fmt(max(ms - r.randint(0, 100), 0), r.randint(0, 3))
        return fmt(ms + r.randint(0, 3), r.randint(0, 3))

    def xadd_id(self, k):
        r = self.r
        m = self.m(k)
        ms, seq = m.last if m else (0, 0)
        if k == MAX_KEY and r.random() < 0.01:
            return r.choice(["18446744073709551615-18446744073709551615", "18446744073709551615-*",
                             "18446744073709551615-0", "18446744073709551614-*"])
        x = r.random()
        if x < 0.62:
            if r.random() < 0.35:
                return fmt(ms, seq + r.randint(1, 3))
            return fmt(ms + r.randint(1, 5), r.randint(0, 3))
        if x < 0.72:
            return "%d-*" % (ms if r.random() < 0.5 else ms + r.randint(1, 3))
        if x < 0.77:
            return str(ms + r.randint(1, 4))
        if x < 0.85:
            return r.choice([fmt(ms, seq), fmt(ms, max(seq - 1, 0)), fmt(max(ms - 1, 0), seq), "0-0",
                             "0", str(ms), self.known_id(k), "%d-*" % max(ms - 1, 0)])
        if x < 0.88:
            return r.choice(["0-*", "0-1", "0-5"])
        if x < 0.95:
            n_ms, n_seq = ms + r.randint(1, 3), r.randint(0, 2)
            # (Never `N--M` with M > 0: strtoull makes it N-(2^64-M), whose
            # `ms-*` successor has an errno-dependent error text.)
            return r.choice([" %d-%d" % (n_ms, n_seq), "+%d-+%d" % (n_ms, n_seq), "%d--0" % n_ms,
                             "0%d-0%d" % (n_ms, n_seq), "%d-%d\x00junk" % (n_ms, n_seq),
                             "%d-%d " % (n_ms, n_seq)])
        return r.choice(["bad", "5-", "-", "+", "1-2-3", "*-1", "0x10-0", "18446744073709551616-0",
                         "8-*1", "", "(5", "-5", "1-18446744073709551616", "MAXLEN"])

    def bound(self, k):
        """A range bound for XRANGE/XREVRANGE/XPENDING/XAUTOCLAIM."""
        r = self.r
        x = r.random()
        if x < 0.3:
            return r.choice(["-", "+"])
        if x < 0.6:
            return self.near_id(k)
        if x < 0.72:
            return str(parse_id(self.near_id(k))[0])
        if x < 0.88:
            i = self.near_id(k)
            return "(" + (i if r.random() < 0.7 else i.split("-")[0])
        return r.choice(["0", "0-0", "(0-0", "(0", "(-", "(+", "(", "bad", "1-*",
                         "18446744073709551615-18446744073709551615", "(18446744073709551615-18446744073709551615",
                         "18446744073709551615", " 3", "+", "-"])

    # -- values
    def value(self):
        r = self.r
        x = r.random()
        if x < 0.003:
            # Alone past stream-node-max-bytes: a node of its own.
            return r.choice("xyz") * r.randint(1000, 5000)
        if x < 0.15:
            return r.choice("xyz") * r.randint(20, 400)
        if x < 0.25:
            return str(r.randint(-100000, 100000))
        return r.choice(VALUES)

    def fields(self, k):
        r = self.r
        x = r.random()
        if x < 0.5:
            names = list(DEFAULT_FIELDS.get(k, ["a"]))
        elif x < 0.8:
            names = r.sample(FIELD_NAMES, r.randint(1, 4))
        elif x < 0.88:
            names = r.choice([["a", "a"], ["", "b"], ["a", "b", "a"], ["b", "a"]])
        elif x < 0.9:
            names = ["f%d" % i for i in range(r.randint(8, 30))]
        else:
            names = list(DEFAULT_FIELDS.get(k, ["a"])) + ["extra"]
        out = []
        for n in names:
            out += [n, self.value()]
        y = r.random()
        if y < 0.015:
            out = out[:-1]                  # odd count: arity error
        elif y < 0.025:
            out = []                        # no pairs: arity error
        return out

    # -- trimming
    def trim_spec(self, k, xadd):
        r = self.r
        m = self.m(k)
        ms = m.last[0] if m else 0
        out = []
        strat = r.choice(["MAXLEN", "MAXLEN", "MINID", "maxlen", "minid"])
        out.append(strat)
        op = r.choice(["", "", "=", "~", "~", "~"])
        if op:
            out.append(op)
        # Each key has its own typical length, so some streams span several
        # 100-entry nodes and `~` trims meet node boundaries.
        size = int(TARGET_LEN.get(k, 50) * r.uniform(0.5, 1.5))
        if strat.upper() == "MAXLEN":
            out.append(r.choice([str(r.randint(0, 20)), str(r.randint(0, 300)), "0", "-1", "x", "1.5"]
                                if r.random() < 0.03 else [str(size)]))
        else:
            back = int(size * 2.5)
            y = r.random()
            out.append(r.choice([fmt(max(ms - back, 0), r.randint(0, 3)), str(max(ms - back, 0))]) if y < 0.96
                       else self.known_id(k) if y < 0.98
                       else r.choice(["0", "-", "+", "bad", "0-0", fmt(ms + 5, 0)]))
        if op == "~" and r.random() < 0.4:
            out += ["LIMIT", r.choice(["0", "1", "10", "50", "99", "100", "101", "150", "200", "1000", "-1", "x"])]
        elif r.random() < 0.03:
            out += ["LIMIT", r.choice(["0", "5"])]
        y = r.random()
        if y < 0.02:
            out += r.choice([["MAXLEN", "5"], ["MINID", "1"]])
        elif y < 0.03 and not xadd:
            out += ["BOGUS"]
        return out

    # -- commands
    def xadd(self):
        r = self.r
        k = self.anykey() if r.random() < 0.1 else self.skey()
        opts = []
        if r.random() < 0.06:
            opts.append(r.choice(["NOMKSTREAM", "nomkstream"]))
        if r.random() < 0.3:
            opts += self.trim_spec(k, True)
        if r.random() < 0.02:
            opts.append("NOMKSTREAM")
        if r.random() < 0.005:
            opts += ["LIMIT", r.choice(["5", "0"])]
        return ["XADD", k] + opts + [self.xadd_id(k)] + self.fields(k)

    def count_opt(self):
        r = self.r
        x = r.random()
        if x < 0.4:
            return []
        if x < 0.9:
            return ["COUNT", r.choice([str(r.randint(1, 10)), str(r.randint(1, 10)), "0", "-1", "50"])]
        return r.choice([["COUNT"], ["COUNT", "x"], ["COUNT", "2", "COUNT", "3"], ["LIMIT", "1"], ["count", "1"]])

    def xrange(self):
        k = self.anykey()
        a, b = self.bound(k), self.bound(k)
        return [self.r.choice(["XRANGE", "XREVRANGE"]), k, a, b] + self.count_opt()

    def xdel(self):
        r = self.r
        k = self.anykey()
        ids = []
        for _ in range(r.randint(1, 4)):
            x = r.random()
            ids.append(self.known_id(k) if x < 0.7 else self.near_id(k) if x < 0.9
                       else r.choice(["bad", "-", "+", "1-*", "0-0", "(1"]))
        return ["XDEL", k] + ids

    def xtrim(self):
        k = self.anykey()
        if self.r.random() < 0.03:
            return ["XTRIM", k] + self.r.choice([["NOMKSTREAM", "MAXLEN", "1"], ["LIMIT", "5"], ["FOO"], ["MAXLEN"]])
        return ["XTRIM", k] + self.trim_spec(k, False)

    def xsetid(self, k=None):
        r = self.r
        k = k or self.anykey()
        m = self.m(k)
        ms, seq = m.last if m else (0, 0)
        x = r.random()
        if x < 0.6:
            i = fmt(ms + r.randint(0, 3), seq + r.randint(0, 3))
        elif x < 0.85:
            i = self.near_id(k)
        else:
            i = r.choice(["0-0", "0", "bad", "-", "+", "1-*", fmt(max(ms - 1, 0), seq)])
        if m and self.below(i, m.last) and self.dampened("xsetid-back"):
            i = fmt(ms, seq)
        opts = []
        for _ in range(r.choice([0, 0, 1, 1, 2])):
            if r.random() < 0.5:
                opts += ["ENTRIESADDED", r.choice(["0", "1", str(r.randint(0, 500)), "100000", "-1", "x"])]
            else:
                opts += ["MAXDELETEDID", r.choice([self.near_id(k), "0-0", i, fmt(ms + 10, 0), "bad"])]
        if r.random() < 0.03:
            opts += r.choice([["FOO"], ["ENTRIESADDED"], ["MAXDELETEDID"]])
        return ["XSETID", k, i] + opts

    def xgroup(self):
        r = self.r
        k = self.anykey()
        g = self.group(k)
        x = r.random()
        if x < 0.35:
            g = r.choice(GROUPS) if r.random() < 0.7 else g
            idv = r.choice(["$", "$", "0", "0-0", self.near_id(k), self.near_id(k), "-", "+", "bad", "99999999-0"])
            opts = []
            if r.random() < 0.3:
                opts.append(r.choice(["MKSTREAM", "mkstream"]))
            if r.random() < 0.3:
                opts += ["ENTRIESREAD", r.choice(["-1", "0", "1", "3", "100", "100000", "-2", "x"])]
            if r.random() < 0.02:
                opts += ["BOGUS"]
            return ["XGROUP", r.choice(["CREATE", "create"]), k, g, idv] + opts
        if x < 0.6:
            idv = r.choice(["$", "0", "0-0", self.near_id(k), self.near_id(k), "-", "+", "bad", "(1"])
            opts = []
            if r.random() < 0.4:
                opts += ["ENTRIESREAD", r.choice(["-1", "0", "1", "3", "100", "100000", "-2", "x"])]
            if r.random() < 0.02:
                opts.append("MKSTREAM")
            return ["XGROUP", "SETID", k, g, idv] + opts
        if x < 0.7:
            return ["XGROUP", "DESTROY", k, g]
        if x < 0.82:
            return ["XGROUP", "CREATECONSUMER", k, g, self.consumer()]
        if x < 0.94:
            return ["XGROUP", "DELCONSUMER", k, g, self.consumer()]
        return r.choice([["XGROUP", "HELP"], ["XGROUP", "help"], ["XGROUP", "FOO", k], ["XGROUP"],
                         ["XGROUP", "CREATE", k, g], ["XGROUP", "DESTROY", k], ["XGROUP", "HELP", "x"],
                         ["XGROUP", "CREATE", k, g, "$", "MKSTREAM", "ENTRIESREAD"],
                         ["XGROUP", "SETID", k, g, "0", "ENTRIESREAD", "1", "X"],
                         ["XGROUP", "CREATECONSUMER", k, g, "c1", "x"]])

    def stream_keys(self):
        r = self.r
        n = r.choice([1, 1, 1, 2, 2, 3])
        return [self.anykey() if r.random() < 0.5 else self.skey() for _ in range(n)]

    def xread(self, block_ok):
        r = self.r
        keys = self.stream_keys()
        ids = []
        for k in keys:
            x = r.random()
            ids.append(r.choice(["0", "0-0"]) if x < 0.3 else "$" if x < 0.4 else self.near_id(k) if x < 0.9
                       else r.choice([">", "+", "-", "bad", "(1", "1-*"]))
        opts = self.count_opt() if r.random() < 0.6 else []
        opts = [o for o in opts if o.upper() != "LIMIT"] if opts[:1] == ["LIMIT"] else opts
        block = None
        if block_ok and r.random() < 0.08:
            block = r.choice(["1000", "0"]) if r.random() < 0.8 else r.choice(["-1", "x"])
            opts = ["BLOCK", block] + opts
        y = r.random()
        if y < 0.02:
            opts += r.choice([["GROUP", "g1", "c1"], ["NOACK"], ["FOO"], ["BLOCK"]])
        elif y < 0.03:
            ids = ids[:-1]
        elif y < 0.035:
            return ["XREAD"] + opts + keys + ids
        return ["XREAD"] + opts + ["STREAMS"] + keys + ids

    def xreadgroup(self, in_multi=False):
        r = self.r
        keys = self.stream_keys()
        k0 = keys[0]
        g = self.group(k0)
        # Mostly keys that have the group, so that NOGROUP does not dominate.
        with_g = [k for k in STREAM_KEYS if g in self.models[k].groups]
        if with_g and r.random() < 0.8:
            keys = [k0] + [r.choice(with_g) for _ in keys[1:]]
        c = self.consumer()
        ids = []
        for k in keys:
            x = r.random()
            ids.append(">" if x < 0.65 else "0" if x < 0.82 else self.near_id(k) if x < 0.95
                       else r.choice(["$", "bad", "+", "-"]))
        opts = []
        x = r.random()
        if x < 0.5:
            opts += ["COUNT", r.choice(["1", "2", "3", "5", "10", "0", "-1"])]
        if r.random() < 0.12:
            opts.append(r.choice(["NOACK", "noack"]))
        if in_multi and r.random() < 0.3:
            opts += ["BLOCK", r.choice(["0", "100"])]
        y = r.random()
        if y < 0.01:
            return ["XREADGROUP"] + opts + ["STREAMS"] + keys + ids + (["x"] if len(keys) % 2 == 0 else [])
        if y < 0.02:
            return ["XREADGROUP", "GROUP", g] + ["STREAMS"] + keys + ids
        if y < 0.03:
            return ["XREADGROUP", "GROUP", g, c] + opts + ["STREAMS"] + keys + ids[:-1]
        if y < 0.035:
            opts += ["BOGUS"]
        return ["XREADGROUP", "GROUP", g, c] + opts + ["STREAMS"] + keys + ids

    def xack(self):
        r = self.r
        k = self.anykey()
        ids = [self.known_id(k) if r.random() < 0.8 else self.near_id(k) for _ in range(r.randint(1, 4))]
        if r.random() < 0.05:
            ids.append(r.choice(["bad", "-", "1-*"]))
        return ["XACK", k, self.group(k)] + ids

    def xpending(self):
        r = self.r
        k = self.anykey()
        g = self.group(k)
        x = r.random()
        if x < 0.35:
            return ["XPENDING", k, g]
        opts = []
        if r.random() < 0.2:
            opts = ["IDLE", r.choice(["0", "0", "100000000", "x"])]
        cnt = r.choice([str(r.randint(1, 20)), "10", "100", "0", "-1", "x"])
        tail = [self.consumer()] if r.random() < 0.4 else []
        y = r.random()
        if y < 0.02:
            tail += ["extra", "args"]
        elif y < 0.04:
            return ["XPENDING", k, g] + r.choice([["-"], ["-", "+"], ["IDLE", "0", "-", "+"]])
        return ["XPENDING", k, g] + opts + [self.bound(k), self.bound(k), cnt] + tail

    def xclaim(self):
        r = self.r
        k = self.anykey()
        g = self.group(k)
        c = self.consumer()
        mi = r.choice(MIN_IDLES + ["-5", "x"] if r.random() < 0.05 else MIN_IDLES)
        ids = [self.known_id(k) if r.random() < 0.8 else self.near_id(k) for _ in range(r.randint(1, 4))]
        opts = []
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            o = r.choice(["FORCE", "JUSTID", "RETRYCOUNT", "LASTID", "IDLE", "TIME", "force", "justid"])
            if o.upper() == "FORCE" and self.dampened("xclaim-force"):
                o = "JUSTID"
            opts.append(o)
            if o == "RETRYCOUNT":
                opts.append(r.choice(["0", "1", "5", "100", "-1", "x"]))
            elif o == "LASTID":
                opts.append(r.choice([self.near_id(k), self.near_id(k), "0", "bad", "99999999-0"]))
            elif o == "IDLE":
                # Either fresh (0, 1000, negative means now) or at least 10^9 ms old.
                opts.append(r.choice(["0", "1000", "1000000000", "5000000000", "-5", "x"]))
            elif o == "TIME":
                opts.append(r.choice(["1000", "123456789", str(int(time.time() * 1000) + 10 ** 9), "-1", "x"]))
        if r.random() < 0.02:
            opts.append(r.choice(["BOGUS", "RETRYCOUNT"]))
        return ["XCLAIM", k, g, c, mi] + ids + opts

    def xautoclaim(self):
        r = self.r
        k = self.anykey()
        mi = r.choice(MIN_IDLES + ["-5", "x"] if r.random() < 0.05 else MIN_IDLES)
        opts = []
        if r.random() < 0.6:
            opts += ["COUNT", r.choice(["1", "2", "3", "5", "10", "100", "0", "-1", "x"])]
        if r.random() < 0.3:
            opts.append(r.choice(["JUSTID", "justid"]))
        if r.random() < 0.02:
            opts.append(r.choice(["BOGUS", "COUNT"]))
        return ["XAUTOCLAIM", k, self.group(k), self.consumer(), mi, self.bound(k)] + opts

    def xinfo(self):
        r = self.r
        k = self.anykey()
        x = r.random()
        if x < 0.3:
            return ["XINFO", "STREAM", k]
        if x < 0.55:
            return ["XINFO", "STREAM", k, "FULL"] + r.choice([[], [], ["COUNT", r.choice(["0", "1", "3", "-1"])]])
        if x < 0.7:
            return ["XINFO", "GROUPS", k]
        if x < 0.9:
            return ["XINFO", "CONSUMERS", k, self.group(k)]
        return r.choice([["XINFO", "HELP"], ["XINFO", "STREAM", k, "FOO"], ["XINFO", "STREAM", k, "FULL", "COUNT"],
                         ["XINFO", "STREAM", k, "FULL", "COUNT", "x"], ["XINFO", "FOO", k], ["XINFO"],
                         ["XINFO", "GROUPS"], ["XINFO", "CONSUMERS", k], ["xinfo", "stream", k, "full", "count", "2"]])

    def generic(self):
        r = self.r
        k = self.anykey()
        return r.choice([["TYPE", k], ["EXISTS", k] + [self.anykey() for _ in range(r.randint(0, 2))],
                         ["OBJECT", "ENCODING", k], ["XLEN", k], ["XLEN", k], ["XLEN", k]])

    def delete(self):
        return ["DEL"] + [self.r.choice(STREAM_KEYS + MISSING) for _ in range(self.r.randint(1, 2))]

    def bad(self):
        r = self.r
        k = self.skey()
        return r.choice([
            ["XADD", k], ["XADD", k, "1-0"], ["XADD", k, "MAXLEN", "5"], ["XLEN"], ["XLEN", k, "x"],
            ["XRANGE", k, "-"], ["XREVRANGE", k], ["XDEL", k], ["XTRIM", k, "MAXLEN"], ["XTRIM", k],
            ["XSETID", k], ["XREAD"], ["XREAD", "STREAMS"], ["XREAD", "COUNT", "1"], ["XREADGROUP", "GROUP", "g1", "c1", "STREAMS", k],
            ["XREADGROUP", "STREAMS", k, ">", "x", "y"], ["XACK", k, "g1"], ["XPENDING", k],
            ["XCLAIM", k, "g1", "c1", "0"], ["XAUTOCLAIM", k, "g1", "c1", "0"], ["XINFO", "STREAM"],
            ["XADD", k, "NOMKSTREAM"], ["XADD", k, "MAXLEN", "~", "1-0", "a", "1"],
            ["XADD", k, "MAXLEN", "=", "5", "LIMIT", "5", "1-0", "a", "1"], ["XTRIM", k, "MAXLEN", "~"],
            ["XCLAIM", k, "g1", "c1", "x", "1-0"], ["XAUTOCLAIM", k, "g1", "c1", "0", "0", "COUNT", "576460752303423488"],
            ["XREAD", "COUNT", "1", "STREAMS", k, "0", "STREAMS"], ["XREAD", "STREAMS", "STREAMS", "0"],
        ])

    def command(self, in_multi=False, block_ok=True):
        r = self.r
        table = [
            (30, self.xadd), (6, self.xrange), (2, self.xdel), (2, self.xtrim), (1.5, self.xsetid),
            (6, self.xgroup), (11, lambda: self.xreadgroup(in_multi)), (4, lambda: self.xread(block_ok or in_multi)),
            (5, self.xack), (5, self.xpending), (5, self.xclaim), (3.5, self.xautoclaim), (5, self.xinfo),
            (3.5, self.generic), (0.15, self.delete), (1.5, self.bad),
        ]
        total = sum(w for w, _ in table)
        x = r.random() * total
        for w, f in table:
            if x < w:
                return f()
            x -= w
        return table[-1][1]()


# Scripts: (source, generator of [numkeys, keys..., argv...]).
def _scripts():
    def k1(g, *argv):
        return ["1", g.anykey()] + [a() for a in argv]
    return [
        ("return redis.call('XADD', KEYS[1], ARGV[1], 'f', 'v')", lambda g: ["1", (k := g.anykey()), g.xadd_id(k)]),
        ("return redis.pcall('XADD', KEYS[1], ARGV[1], 'f', 'v')", lambda g: ["1", (k := g.anykey())] + [g.xadd_id(k)]),
        ("return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])",
         lambda g: k1(g, lambda: g.r.choice(["0", "1", "3", "-1"]))),
        ("local r = redis.call('XRANGE', KEYS[1], '-', '+') return #r", lambda g: k1(g)),
        ("local r = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1) if #r == 0 then return 'empty' end "
         "return {r[1][1], r[1][2], #r[1][2]}", lambda g: k1(g)),
        ("local r = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', 2) local out = {} "
         "for i, e in ipairs(r) do out[#out + 1] = e[1] .. '=' .. table.concat(e[2], ',') end return out",
         lambda g: ["1", (k := g.anykey()), g.bound(k)]),
        ("return redis.call('XLEN', KEYS[1])", lambda g: k1(g)),
        ("return redis.call('XREADGROUP', 'GROUP', ARGV[1], 'c1', 'COUNT', '2', 'STREAMS', KEYS[1], ARGV[2])",
         lambda g: ["1", (k := g.skey()), g.group(k), g.r.choice([">", ">", "0"])]),
        ("local r = redis.call('XREAD', 'COUNT', 2, 'STREAMS', KEYS[1], '0') if not r then return 'none' end "
         "return {r[1][1], #r[1][2]}", lambda g: k1(g)),
        ("return redis.pcall('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '0')", lambda g: k1(g)),
        ("return redis.pcall('xreadgroup', 'GROUP', 'g1', 'c1', 'BLOCK', '10', 'STREAMS', KEYS[1], '>')", lambda g: k1(g)),
        ("return redis.call('XINFO', 'STREAM', KEYS[1])", lambda g: k1(g)),
        ("local r = redis.call('XINFO', 'GROUPS', KEYS[1]) return #r", lambda g: k1(g)),
        ("return redis.call('XPENDING', KEYS[1], ARGV[1])", lambda g: ["1", (k := g.skey()), g.group(k)]),
        ("return redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')",
         lambda g: ["1", (k := g.skey()), g.r.choice(GROUPS)]),
        ("return redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])", lambda g: k1(g, lambda: str(g.r.randint(0, 200)))),
        ("local id = redis.call('XADD', KEYS[1], ARGV[1], 'a', '1', 'b', '2') return redis.call('XRANGE', KEYS[1], id, id)",
         lambda g: ["1", (k := g.skey()), g.xadd_id(k)]),
        ("return redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])", lambda g: ["1", (k := g.skey()), g.group(k), g.known_id(k)]),
        ("return redis.call('XDEL', KEYS[1], ARGV[1])", lambda g: ["1", (k := g.skey()), g.known_id(k)]),
        ("return redis.pcall('XSETID', KEYS[1], ARGV[1])", lambda g: ["1", (k := g.skey()), g.xsetid(k)[2]]),
        ("return redis.pcall('XCLAIM', KEYS[1], ARGV[1], 'c2', '0', ARGV[2], 'JUSTID')",
         lambda g: ["1", (k := g.skey()), g.group(k), g.known_id(k)]),
        ("return redis.pcall('XAUTOCLAIM', KEYS[1], ARGV[1], 'c3', '0', '-', 'COUNT', '3')",
         lambda g: ["1", (k := g.skey()), g.group(k)]),
        ("return redis.pcall('XADD', KEYS[1], ARGV[1], 'f')", lambda g: ["1", (k := g.skey()), g.xadd_id(k)]),
        ("local r = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 10) local out = {} "
         "for i, e in ipairs(r) do out[#out + 1] = {e[1], e[2], e[4]} end return out",
         lambda g: ["1", (k := g.skey()), g.group(k)]),
        ("return redis.call('TYPE', KEYS[1])", lambda g: k1(g)),
    ]


SCRIPTS = _scripts()


# ---------------------------------------------------------------------------
# Normalisation


def classify_abs(t, now):
    if not isinstance(t, int) or t < 10 ** 11:
        return t
    return "recent" if abs(now - t) < RECENT else "old"


def classify_idle(d):
    if not isinstance(d, int):
        return d
    return "recent" if d < RECENT else "old"


INFO_FIRST_KEYS = (b"length", b"name")


def norm_field(key, v, now):
    if key == b"seen-time":
        return classify_abs(v, now)
    if key == b"idle":
        return classify_idle(v)
    if key == b"pending" and isinstance(v, list):
        nv = []
        for e in v:
            if isinstance(e, list) and len(e) == 4:
                e = [e[0], e[1], classify_abs(e[2], now), e[3]]
            elif isinstance(e, list) and len(e) == 3:
                e = [e[0], classify_abs(e[1], now), e[2]]
            nv.append(e)
        return nv
    if key in (b"groups", b"consumers") and isinstance(v, list):
        return [norm_info(e, now) for e in v]
    return v


def norm_info(x, now):
    """XINFO replies (RESP2 flat name/value arrays, RESP3 maps): times
    become classes."""
    if isinstance(x, dict) and "__map__" in x:
        return {"__map__": [(k, norm_field(k, v, now)) for k, v in x["__map__"]]}
    if isinstance(x, list) and x and len(x) % 2 == 0 and x[0] in INFO_FIRST_KEYS:
        out = []
        for key, v in zip(x[0::2], x[1::2]):
            out += [key, norm_field(key, v, now)]
        return out
    if isinstance(x, list):
        return [norm_info(e, now) for e in x]
    return x


def normalise(cmd, reply, queued=None):
    if isinstance(reply, Err):
        return reply
    name = cmd[0].upper()
    now = int(time.time() * 1000)
    if name == "EXEC" and isinstance(reply, list) and queued is not None and len(queued) == len(reply):
        return [normalise(c, x) for c, x in zip(queued, reply)]
    if name == "XINFO":
        return norm_info(reply, now)
    if name == "XPENDING" and len(cmd) > 3 and isinstance(reply, list):
        return [[e[0], e[1], classify_idle(e[2]), e[3]] if isinstance(e, list) and len(e) == 4 else e
                for e in reply]
    return reply


# ---------------------------------------------------------------------------
# Coverage


COMMANDS = collections.Counter()
ERRORS = collections.Counter()
PATHS = collections.Counter()


def cmd_name(cmd):
    name = cmd[0].upper()
    if name in ("XGROUP", "XINFO", "OBJECT") and len(cmd) > 1:
        return name + " " + cmd[1].upper()
    return name


def err_class(text):
    """An error text with its key, group and option names taken out."""
    out, quoted = [], False
    for part in text.split("'"):
        out.append("*" if quoted else part)
        quoted = not quoted
    s = "'".join(out)
    if s.startswith("ERR Error running script") or "script:" in s:
        s = s.split(" script:")[0]
    return s[:110]


def count_coverage(cmd, reply):
    name = cmd_name(cmd)
    COMMANDS[name] += 1
    if isinstance(reply, Err):
        ERRORS[(name, err_class(reply.text))] += 1
        return
    base = cmd[0].upper()
    if base == "XADD" and reply is None:
        PATHS["XADD NOMKSTREAM on a missing key"] += 1
    elif base == "XADD" and any(a.endswith("-*") for a in cmd[2:]):
        PATHS["XADD ms-* id"] += 1
    elif base in ("XRANGE", "XREVRANGE") and reply == NULL_ARRAY:
        PATHS["XRANGE/XREVRANGE COUNT<=0 null array"] += 1
    elif base in ("XRANGE", "XREVRANGE") and any(a.startswith("(") for a in cmd[2:4]):
        PATHS["XRANGE/XREVRANGE exclusive bound"] += 1
    elif base == "XREADGROUP" and isinstance(reply, list):
        hist = any(i != ">" for i in cmd[len(cmd) - (len(cmd) - cmd.index("STREAMS") - 1) // 2:])
        PATHS["XREADGROUP served (history id)" if hist else "XREADGROUP served (>)"] += 1
        if "*-1" in repr(reply):
            PATHS["XREADGROUP history with a deleted entry"] += 1
    elif base == "XREADGROUP" and reply == NULL_ARRAY:
        PATHS["XREADGROUP nothing new"] += 1
    elif base == "XREAD" and isinstance(reply, list):
        PATHS["XREAD served" + (" with BLOCK" if "BLOCK" in [a.upper() for a in cmd] else "")] += 1
    elif base == "XAUTOCLAIM" and isinstance(reply, list) and len(reply) == 3 and reply[2]:
        PATHS["XAUTOCLAIM reported deleted ids"] += 1
    elif base == "XCLAIM" and isinstance(reply, list) and reply:
        PATHS["XCLAIM claimed"] += 1
    elif base == "XINFO" and "b'lag', None" in repr(reply):
        PATHS["XINFO lag null"] += 1
    elif base == "XTRIM" and isinstance(reply, int) and reply > 0:
        PATHS["XTRIM removed entries"] += 1
    elif base == "XDEL" and isinstance(reply, int) and reply > 0:
        PATHS["XDEL removed entries"] += 1
    elif base == "XACK" and isinstance(reply, int) and reply > 0:
        PATHS["XACK acknowledged"] += 1


# ---------------------------------------------------------------------------
# Running


def first_diff(a, b, path=()):
    """Where two replies first differ: (path of indexes, a's part, b's part)."""
    if isinstance(a, dict) and isinstance(b, dict) and "__map__" in a and "__map__" in b:
        a, b = [list(p) for p in a["__map__"]], [list(p) for p in b["__map__"]]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_diff(x, y, path + (i,))
        if len(a) != len(b):
            return path + ("len",), len(a), len(b)
    return path, a, b


def show(x, limit=300):
    s = repr(x)
    return s if len(s) <= limit else s[:limit] + "..."


def written_keys(cmd):
    """Stream keys a command may have changed in ways the model misses."""
    name = cmd[0].upper()
    if name in ("XSETID", "XGROUP", "DEL", "XTRIM") and len(cmd) > 1:
        return [a for a in cmd[1:] if a in STREAM_KEYS]
    if name.startswith("EVAL") and len(cmd) > 3:
        return [a for a in cmd[3:] if a in STREAM_KEYS]
    return []


class Runner:
    def __init__(self, ours_port, redis_port, seed, n, max_mismatches, detail=20):
        self.ours, self.theirs = SConn(ours_port), SConn(redis_port)
        self.side = SConn(redis_port)  # read-only questions to redis-server
        # A second pair of connections speaking RESP3 (maps, `_` nulls).
        self.ours3, self.theirs3 = SConn(ours_port), SConn(redis_port)
        for c in (self.ours3, self.theirs3):
            assert isinstance(c.call("HELLO", "3"), dict)
        self.seed = seed
        self.n = n
        self.max_mismatches = max_mismatches
        self.detail = detail
        self.r = random.Random(seed)
        self.gen = Gen(self.r)
        self.gen.refresh = self.refresh
        self.done = 0
        self.comparisons = 0
        self.mismatches = 0
        self.signatures = collections.Counter()
        self.history = []
        self.trace_key = os.environ.get("DIFF_TRACE_KEY")
        self.history_file = os.environ.get("DIFF_STREAMS_HISTORY")
        self.in_multi = False
        self.queued = []

    # -- the model
    def refresh(self, m):
        m.stale = False
        info, groups = self.side.pipeline([["XINFO", "STREAM", m.key], ["XINFO", "GROUPS", m.key]])
        if not isinstance(info, list):
            m.last = (0, 0)
            m.groups = set()
            return
        d = dict(zip(info[0::2], info[1::2]))
        m.last = parse_id(d[b"last-generated-id"])
        m.groups = {dict(zip(g[0::2], g[1::2]))[b"name"].decode("latin-1") for g in groups} \
            if isinstance(groups, list) else set()

    def learn(self, cmd, reply):
        """Updates the model from redis-server's reply."""
        name = cmd[0].upper()
        if name == "XADD" and isinstance(reply, bytes) and cmd[1] in self.gen.models:
            m = self.gen.models[cmd[1]]
            m.last = parse_id(reply)
            m.ids.append(reply.decode())
        elif name == "XADD" and isinstance(reply, Err) and "equal or smaller" in reply.text and cmd[1] in self.gen.models:
            self.gen.models[cmd[1]].stale = True
        for k in written_keys(cmd):
            self.gen.models[k].stale = True

    def reset(self):
        for c in (self.ours, self.theirs):
            if self.in_multi:
                c.call("DISCARD")
            assert c.call("FLUSHALL") == "OK"
            assert c.call("SET", STR_KEY, "x") == "OK"
            assert c.call("HSET", HASH_KEY, "f", "v") == 1
        self.in_multi = False
        self.queued = []
        for m in self.gen.models.values():
            m.stale = True
            m.ids.clear()
        self.history = []

    # -- comparing
    def both(self, cmd, resp3=False):
        ours, theirs = (self.ours3, self.theirs3) if resp3 else (self.ours, self.theirs)
        ours.send_raw(encode(cmd))
        theirs.send_raw(encode(cmd))
        return ours.read(), theirs.read()

    def mismatch(self, what, cmd, a, b, extra=None):
        self.mismatches += 1
        self.signatures[(cmd_name(cmd), "error" if isinstance(b, Err) else "reply")] += 1
        if self.mismatches > self.detail:
            # Past the first few, one line each (the run goes on).
            diff = first_diff(a, b)
            print(f"MISMATCH seed={self.seed} index={self.done} {what} {show(cmd, 150)}: "
                  f"redistill {show(diff[1], 150)}, redis {show(diff[2], 150)} at {list(diff[0])}")
            return
        print(f"MISMATCH seed={self.seed} index={self.done} {what}")
        print("  command:   ", show(cmd))
        print("  redistill: ", show(a, 2000))
        print("  redis:     ", show(b, 2000))
        if extra:
            print("  " + extra)
        if isinstance(a, (list, dict)) and isinstance(b, (list, dict)):
            path, x, y = first_diff(a, b)
            print(f"  first difference at {list(path)}: redistill {show(x)}, redis {show(y)}")
        print("  last commands:")
        for h, rep in self.history[-13:-1]:
            print("    ", show(h, 160), "->", show(rep, 120))
        if self.trace_key:
            print(f"  every command naming {self.trace_key!r}:")
            for h, rep in self.history:
                if self.trace_key in h or h[0].upper() in ("MULTI", "EXEC", "DISCARD", "FLUSHALL"):
                    print("    ", show(h, 200), "->", show(rep, 160))
        if self.history_file:
            with open(self.history_file, "w") as f:
                json.dump([[a.encode("latin-1", "replace").decode("latin-1") if isinstance(a, str) else a
                            for a in h] for h, _ in self.history], f)

    def compare(self, cmd, a, b, queued=None, what="", count=True):
        self.comparisons += 1
        if count:
            count_coverage(cmd, b)
        na, nb = normalise(cmd, a, queued), normalise(cmd, b, queued)
        if na != nb:
            self.mismatch(what, cmd, na, nb)
            return False
        return True

    def step(self, cmd):
        """Sends one command to both servers, compares, tracks MULTI.
        Outside transactions a tenth of the commands go over RESP3."""
        name = cmd[0].upper()
        resp3 = not self.in_multi and name not in ("MULTI", "EXEC", "DISCARD") and self.r.random() < 0.1
        a, b = self.both(cmd, resp3)
        if resp3:
            PATHS["commands over RESP3"] += 1
        self.history.append((["HELLO3:"] + cmd if resp3 else cmd, b))
        queued = None
        if name == "MULTI" and b == "OK":
            self.in_multi, self.queued = True, []
        elif b == "QUEUED":
            self.queued.append(cmd)
        elif name in ("EXEC", "DISCARD"):
            queued, self.queued, self.in_multi = self.queued, [], False
            if name == "EXEC" and isinstance(b, list):
                for c, x in zip(queued, b):
                    self.learn(c, x)
                    count_coverage(c, x)
                PATHS["MULTI/EXEC ran"] += 1
        if b != "QUEUED":
            self.learn(cmd, b)
        self.done += 1
        ok = self.compare(cmd, a, b, queued, count=b != "QUEUED")
        return ok

    def block_precheck(self, cmd):
        """XREAD BLOCK is sent only when redis-server has data for it now."""
        if "BLOCK" not in cmd:
            return cmd
        at = cmd.index("BLOCK")
        timeout = cmd[at + 1]
        if not timeout.isdigit():
            return cmd
        probe = cmd[:at] + cmd[at + 2:]
        got = self.side.call(*probe)
        if isinstance(got, list):
            return cmd[:at] + ["BLOCK", "1000"] + cmd[at + 2:]
        return probe

    def multi_block(self):
        r = self.r
        cmds = [["MULTI"]]
        for _ in range(r.randint(1, 6)):
            cmds.append(self.gen.command(in_multi=True) if r.random() < 0.95 else r.choice(
                [["XADD", self.gen.skey()], ["MULTI"], ["XREAD", "BLOCK", "0", "STREAMS", self.gen.skey(), "$"]]))
        cmds.append(["EXEC"] if r.random() < 0.9 else ["DISCARD"])
        PATHS["MULTI blocks"] += 1
        for c in cmds:
            if not self.step(c):
                return False
        return True

    def script(self):
        r = self.r
        src, args = r.choice(SCRIPTS)
        cmd = ["EVAL", src] + args(self.gen)
        PATHS["EVAL"] += 1
        return self.step(cmd)

    def dump_restore(self):
        """Each server loads the other's DUMP of a stream; XINFO STREAM FULL
        of the copies (and after one more XADD) must match redis-server's."""
        k = self.gen.skey()
        a, b = self.both(["DUMP", k])
        self.history.append((["DUMP", k], "<payload>" if isinstance(b, bytes) else b))
        self.done += 1
        self.comparisons += 1
        COMMANDS["DUMP"] += 1
        if (a is None) != (b is None) or isinstance(a, Err) or isinstance(b, Err):
            self.mismatch("DUMP", ["DUMP", k], a, b)
            return False
        if a is None:
            return True
        PATHS["DUMP/RESTORE cross-checks"] += 1
        if len(a) == len(b):
            PATHS["DUMP payloads of equal length"] += 1
        # rk on redistill: redis-server's payload; rk on redis: Redistill's;
        # rk2 on redis: its own payload (the reference).
        got_o = self.ours.call("RESTORE", "rk", "0", b, "REPLACE")
        got_t = self.theirs.call("RESTORE", "rk", "0", a, "REPLACE")
        ref = self.theirs.call("RESTORE", "rk2", "0", b, "REPLACE")
        self.comparisons += 2
        COMMANDS["RESTORE"] += 2
        ok = True
        if got_o != "OK" or ref != "OK":
            self.mismatch("RESTORE of redis-server's payload into Redistill", ["RESTORE", "rk", "0", "<redis payload of %s>" % k], got_o, ref)
            ok = False
        if got_t != "OK":
            self.mismatch("RESTORE of Redistill's payload into redis-server", ["RESTORE", "rk", "0", "<redistill payload of %s>" % k], got_t, "OK",
                          extra="payload: " + show(a, 600))
            ok = False
        if not ok:
            for c in (self.ours, self.theirs):
                c.call("DEL", "rk", "rk2")
            return False
        full = ["XINFO", "STREAM", None, "FULL", "COUNT", "0"]
        def info(conn, key):
            c = list(full)
            c[2] = key
            return conn.call(*c)
        orig_t = info(self.theirs, k)
        checks = [("XINFO STREAM FULL of the original", info(self.ours, k), orig_t, k),
                  ("XINFO STREAM FULL of redis-server's payload restored in Redistill", info(self.ours, "rk"), orig_t, "rk"),
                  ("XINFO STREAM FULL of Redistill's payload restored in redis-server", info(self.theirs, "rk"), orig_t, "rk")]
        last = dict(zip(orig_t[0::2], orig_t[1::2]))[b"last-generated-id"] if isinstance(orig_t, list) else None
        if last is not None and parse_id(last) != (MAX, MAX):
            ms, seq = parse_id(last)
            nid = fmt(ms, seq + 1) if seq < MAX - 1 else fmt(ms + 1, 0)
            add = ["XADD", None, "MAXLEN", "~", "50", nid, "a", self.gen.value()]
            for conn, key in ((self.ours, "rk"), (self.theirs, "rk"), (self.theirs, "rk2")):
                c = list(add)
                c[1] = key
                conn.call(*c)
            ref2 = info(self.theirs, "rk2")
            checks += [("XINFO STREAM FULL after XADD to redis-server's payload restored in Redistill", info(self.ours, "rk"), ref2, "rk"),
                       ("XINFO STREAM FULL after XADD to Redistill's payload restored in redis-server", info(self.theirs, "rk"), ref2, "rk")]
        for what, x, y, key in checks:
            c = list(full)
            c[2] = key
            if not self.compare(c, x, y, what=what, count=False):
                ok = False
                break
        for c in (self.ours, self.theirs):
            c.call("DEL", "rk", "rk2")
        return ok

    def copy_check(self):
        """COPY of a stream (groups, PELs, consumers): the copy must match,
        also after one more XADD to it."""
        k = self.gen.skey()
        PATHS["COPY cross-checks"] += 1
        ok = self.step(["COPY", k, "cp", "REPLACE"])
        full = ["XINFO", "STREAM", "cp", "FULL", "COUNT", "0"]
        ok = ok and self.step(full)
        info = self.side.call("XINFO", "STREAM", "cp")
        if ok and isinstance(info, list):
            ms, seq = parse_id(dict(zip(info[0::2], info[1::2]))[b"last-generated-id"])
            if (ms, seq) != (MAX, MAX):
                nid = fmt(ms, seq + 1) if seq < MAX - 1 else fmt(ms + 1, 0)
                ok = self.step(["XADD", "cp", "MAXLEN", "~", "30", nid] + self.gen.fields(k)) and self.step(full)
        self.step(["DEL", "cp"])
        return ok

    def run(self):
        self.reset()
        t0 = time.time()
        while self.done < self.n:
            r = self.r
            x = r.random()
            if x < 0.006:
                ok = self.dump_restore()
            elif x < 0.008:
                ok = self.copy_check()
            elif x < 0.012:
                ok = self.multi_block()
            elif x < 0.03:
                ok = self.script()
            else:
                cmd = self.gen.command()
                if cmd[0] == "XREAD":
                    cmd = self.block_precheck(cmd)
                ok = self.step(cmd)
            if not ok:
                if self.mismatches >= self.max_mismatches:
                    break
                # Start over so that one divergence is reported once.
                self.reset()
        return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours", type=int)
    ap.add_argument("redis", type=int)
    ap.add_argument("--commands", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--max-mismatches", type=int, default=200, help="stop the run after this many")
    ap.add_argument("--detail", type=int, default=20,
                    help="mismatches printed with their history; later ones get one line")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"differential_streams: seed={seed}, {args.commands} commands")
    run = Runner(args.ours, args.redis, seed, args.commands, args.max_mismatches, args.detail)
    elapsed = run.run()
    print("differential_streams: commands: " + ", ".join(f"{k} {v}" for k, v in sorted(COMMANDS.items())))
    print("differential_streams: paths: " + ", ".join(f"{k} {v}" for k, v in sorted(PATHS.items())))
    print(f"differential_streams: {len(ERRORS)} distinct error replies:")
    for (name, text), v in sorted(ERRORS.items()):
        print(f"    {name}: {text} ({v})")
    if run.signatures:
        print("differential_streams: mismatches by command: " +
              ", ".join(f"{k[0]} ({k[1]}) {v}" for k, v in sorted(run.signatures.items())))
    print(f"differential_streams: {run.done} commands, {run.comparisons} comparisons, seed {seed}, "
          f"{run.mismatches} mismatches ({elapsed:.1f}s)")
    sys.exit(1 if run.mismatches else 0)


if __name__ == "__main__":
    main()
