"""Blocking stream reads (XREAD / XREADGROUP with BLOCK), Redistill against
redis-server 7.0: every scenario runs on both servers (already running,
dedicated to this script: it FLUSHALLs them) and what a client observes is
compared, reply by reply.

Observed: the reply a blocked client gets when it is woken (by XADD from
another client, inside MULTI/EXEC, inside EVAL; several readers of one key;
XREADGROUP `>` readers served in arrival order; readers of several keys
getting only the key that became ready; `$`; COUNT; XADD MAXLEN 0), the
timeout reply (`*-1`, RESP3 `_`, and the woken reply as a RESP3 map),
the errors given to XREADGROUP readers whose key or group goes away (DEL,
UNLINK, SET over the key, DEL + SADD in one EXEC, RENAME, MOVE, SWAPDB,
expiry, FLUSHALL, FLUSHDB: `-UNBLOCKED`; XGROUP DESTROY or a stream
without the group renamed over the key: `-NOGROUP`) while plain XREAD
readers stay blocked (and are served once a stream with a greater ID is
back), XGROUP SETID while blocked, an entry added and deleted in one EXEC,
CLIENT UNBLOCK (TIMEOUT and ERROR), BLOCK inside MULTI and scripts, and the
group state (PEL, consumers) after blocked XREADGROUPs are served, with
and without NOACK.

The two servers are exercised at the same time (a thread each); a scenario
that misses a wakeup on one server cuts its later waits short, so the
whole run stays well under a minute even when many scenarios fail.
STREAMS_VERBOSE=1 prints each scenario's duration on both servers.

Replies are parsed from the raw socket, keeping `*-1`, `$-1` and `_`
apart; nothing time-dependent is compared (only whether a reply came
before or after a bound).

    streams_blocking.py REDISTILL_PORT REDIS_PORT
"""
import os
import socket
import sys
import threading
import time

from resp import Conn, encode

WAKE_TIMEOUT = 2.0     # how long a woken client may take to get its reply
STILL_BLOCKED = 0.15   # how long a client that must stay blocked is watched


# --- a raw RESP2/RESP3 client ------------------------------------------------

class Null:
    """A null reply, keeping its wire form (`*-1`, `$-1` or `_`)."""

    def __init__(self, form):
        self.form = form

    def __eq__(self, other):
        return isinstance(other, Null) and other.form == self.form

    def __repr__(self):
        return "null(%s)" % self.form


class Err:
    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Err) and other.text == self.text

    def __repr__(self):
        return "Err(%r)" % self.text


class Map:
    def __init__(self, pairs):
        self.pairs = pairs

    def __eq__(self, other):
        return isinstance(other, Map) and other.pairs == self.pairs

    def __repr__(self):
        return "Map(%r)" % (self.pairs,)


NOTHING = "<no reply>"


class Client(Conn):
    """resp.Conn's socket and framing, with replies parsed so that the
    three kinds of null (`$-1`, `*-1`, `_`) stay apart."""

    def __init__(self, port):
        super().__init__(port, timeout=5)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, *args):
        self.sock.sendall(encode(args))

    def _parse(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("latin-1")
        if kind == b"-":
            return Err(rest.decode("latin-1"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return Null("$-1") if n < 0 else self._exact(n)
        if kind in (b"*", b"~"):
            n = int(rest)
            return Null("*-1") if n < 0 else [self._parse() for _ in range(n)]
        if kind == b"%":
            return Map([(self._parse(), self._parse()) for _ in range(int(rest))])
        if kind == b"_":
            return Null("_")
        if kind == b"#":
            return rest == b"t"
        if kind == b",":
            return float(rest)
        if kind in (b"=", b"!"):
            return self._exact(int(rest))
        if kind == b">":
            return ("push", [self._parse() for _ in range(int(rest))])
        raise ValueError("unexpected reply line %r" % line)

    def read(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            return self._parse()
        finally:
            self.sock.settimeout(5)

    def poll(self, seconds):
        """The reply that arrives within `seconds`, or NOTHING."""
        if not self.buf:
            self.sock.settimeout(seconds)
            try:
                self._fill()
            except socket.timeout:
                return NOTHING
            finally:
                self.sock.settimeout(5)
        return self.read()

    def call(self, *args):
        self.send(*args)
        return self.read()


# --- scenarios ---------------------------------------------------------------

TIMES = (b"idle", b"seen-time")


def normalise(v):
    """Drops what depends on the clock: the value after an `idle` or
    `seen-time` field name (in flat RESP2 lists and in RESP3 maps)."""
    if isinstance(v, list):
        out = []
        for i, x in enumerate(v):
            if i % 2 == 1 and v[i - 1] in TIMES and isinstance(x, int):
                out.append("<time>")
            else:
                out.append(normalise(x))
        return out
    if isinstance(v, Map):
        return Map([(k, "<time>" if k in TIMES and isinstance(x, int) else normalise(x)) for k, x in v.pairs])
    return v


class Ctx:
    """One scenario on one server: observations in order, clients to close."""

    def __init__(self, port):
        self.port = port
        self.obs = []
        self.clients = []
        self.missed = False
        self.admin = self.client()

    def client(self, resp3=False):
        c = Client(self.port)
        if resp3:
            hello = c.call("HELLO", "3")
            assert isinstance(hello, Map), "HELLO 3 failed: %r" % (hello,)
        self.clients.append(c)
        return c

    def note(self, label, value):
        self.obs.append((label, normalise(value)))

    def on(self, label, c, *args):
        """Runs a command on connection `c` (a formerly blocked one)."""
        c.send(*args)
        return self.reply(label, c, timeout=5)

    def call(self, label, *args):
        """Runs a command on the admin connection and records its reply."""
        r = self.admin.call(*args)
        self.note(label, r)
        return r

    def blocked_count(self):
        info = self.admin.call("INFO", "clients")
        for line in info.decode().split("\r\n"):
            if line.startswith("blocked_clients:"):
                return int(line.split(":")[1])
        raise AssertionError("INFO clients has no blocked_clients")

    def block(self, label, *cmd, resp3=False):
        """Sends a blocking command on a new connection and waits until the
        server counts it as blocked (or it answered at once: then that
        reply is recorded, and the scenarios diverge visibly)."""
        before = self.blocked_count()
        c = self.client(resp3)
        c.send(*cmd)
        deadline = time.time() + (0.3 if self.missed else WAKE_TIMEOUT)
        while time.time() < deadline:
            if self.blocked_count() > before:
                self.note(label + " blocked", True)
                return c
            r = c.poll(0.01)
            if r is not NOTHING:
                self.note(label + " blocked", ("answered at once", r))
                return c
        self.missed = True
        self.note(label + " blocked", "neither blocked nor answered")
        return c

    def wait_blocked(self, n):
        deadline = time.time() + (0.3 if self.missed else WAKE_TIMEOUT)
        while time.time() < deadline:
            if self.blocked_count() >= n:
                self.note("blocked_clients reached %d" % n, True)
                return
            time.sleep(0.01)
        self.missed = True
        self.note("blocked_clients reached %d" % n, False)

    def reply(self, label, c, timeout=WAKE_TIMEOUT):
        """Records the reply `c` gets within `timeout` (NOTHING if none).
        After one missed wakeup the scenario has diverged already: later
        waits are cut short so that a broken server cannot make the run
        slow."""
        r = c.poll(min(timeout, 0.3) if self.missed else timeout)
        if r is NOTHING:
            self.missed = True
        self.note(label, r)
        return r

    def still_blocked(self, label, c):
        r = c.poll(STILL_BLOCKED)
        self.note(label + " still blocked", True if r is NOTHING else ("got", r))

    def close(self):
        for c in self.clients:
            c.close()


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


@scenario
def xread_block0_woken_by_xadd(t):
    t.call("xadd first", "XADD", "s", "1-1", "a", "1")
    c = t.block("xread block 0 $", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("xadd", "XADD", "s", "2-1", "f", "v", "g", "w")
    t.reply("woken", c)
    t.on("ping after", c, "PING")
    # An explicit ID below the top answers at once, without blocking.
    t.on("xread block 0 from 0", c, "XREAD", "BLOCK", "0", "STREAMS", "s", "0")


@scenario
def xread_block_ms_woken_by_xadd(t):
    c = t.block("xread block 2000", "XREAD", "BLOCK", "2000", "STREAMS", "s", "$")
    start = time.time()
    t.call("xadd", "XADD", "s", "5-5", "f", "v")
    t.reply("woken", c)
    t.note("woken well before the timeout", time.time() - start < 1.5)
    # A missing key's `$` is 0-0: the first entry (even 0-1) wakes it.
    c2 = t.block("xread $ on a missing key", "XREAD", "BLOCK", "2000", "STREAMS", "new", "$")
    t.call("xadd 0-1", "XADD", "new", "0-1", "x", "y")
    t.reply("woken by 0-1", c2)


@scenario
def woken_by_multi_exec(t):
    t.call("xadd", "XADD", "s", "1-0", "a", "1")
    c = t.block("xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    g = t.block("xread count 2", "XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("multi", "MULTI")
    t.call("queued 1", "XADD", "s", "2-0", "b", "2")
    t.call("queued 2", "XADD", "s", "3-0", "c", "3")
    t.call("queued 3", "XADD", "s", "4-0", "d", "4")
    # Nothing is served before EXEC.
    t.still_blocked("before exec", c)
    t.call("exec", "EXEC")
    t.reply("woken after exec (all entries of the transaction)", c)
    t.reply("woken after exec, COUNT 2", g)


@scenario
def woken_by_eval(t):
    c = t.block("xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("eval xadd x2", "EVAL",
           "redis.call('XADD', KEYS[1], '7-1', 'a', '1') "
           "return redis.call('XADD', KEYS[1], '7-2', 'b', '2')", "1", "s")
    t.reply("woken after the script", c)
    # No group yet: NOGROUP at once, no blocking.
    t.block("xreadgroup without a group", "XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("create group", "XGROUP", "CREATE", "s", "g", "$")
    g2 = t.block("xreadgroup again", "XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("eval xadd", "EVAL", "return redis.call('XADD', KEYS[1], '8-0', 'z', '9')", "1", "s")
    t.reply("group reader woken after the script", g2)


@scenario
def several_readers_of_one_key(t):
    readers = [t.block("reader %d" % i, "XREAD", "BLOCK", "0", "STREAMS", "s", "$") for i in range(3)]
    other = t.block("reader of another key", "XREAD", "BLOCK", "0", "STREAMS", "other", "$")
    t.call("xadd", "XADD", "s", "1-0", "f", "v")
    for i, c in enumerate(readers):
        t.reply("reader %d woken" % i, c)
    t.still_blocked("reader of another key", other)
    t.note("blocked_clients", t.blocked_count())


@scenario
def xreadgroup_fifo(t):
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    t.call("create h", "XGROUP", "CREATE", "s", "h", "$")
    c1 = t.block("consumer a", "XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">")
    c2 = t.block("consumer b", "XREADGROUP", "GROUP", "g", "b", "BLOCK", "0", "STREAMS", "s", ">")
    c3 = t.block("consumer c of group h", "XREADGROUP", "GROUP", "h", "c", "BLOCK", "0", "STREAMS", "s", ">")
    x = t.block("plain xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("xadd 1", "XADD", "s", "1-0", "f", "1")
    t.reply("a served first", c1)
    t.still_blocked("b", c2)
    t.reply("c of the other group served too", c3)
    t.reply("plain xread served too", x)
    t.call("xadd 2", "XADD", "s", "2-0", "f", "2")
    t.reply("b served by the next entry", c2)
    p = t.admin.call("XPENDING", "s", "g", "-", "+", "10")
    t.note("xpending (idle dropped)", [[e[0], e[1], e[3]] for e in p] if isinstance(p, list) else p)
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")
    t.call("xinfo groups", "XINFO", "GROUPS", "s")
    # Two blocked, two entries added in one EXEC: the first to block takes
    # COUNT 1, the second gets the other.
    d1 = t.block("d1", "XREADGROUP", "GROUP", "g", "d1", "COUNT", "1", "BLOCK", "0",
                 "STREAMS", "s", ">")
    d2 = t.block("d2", "XREADGROUP", "GROUP", "g", "d2", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("multi", "MULTI")
    t.call("q1", "XADD", "s", "3-0", "f", "3")
    t.call("q2", "XADD", "s", "4-0", "f", "4")
    t.call("exec", "EXEC")
    t.reply("d1", d1)
    t.reply("d2", d2)
    # Served in the order they blocked, not by connection age: e2's
    # connection is older but blocked second.
    e2 = t.client()
    e1 = t.block("e1", "XREADGROUP", "GROUP", "g", "e1", "BLOCK", "0", "STREAMS", "s", ">")
    e2.send("XREADGROUP", "GROUP", "g", "e2", "BLOCK", "0", "STREAMS", "s", ">")
    t.wait_blocked(2)
    t.call("xadd 5", "XADD", "s", "5-0", "f", "5")
    t.reply("e1 (blocked first) served", e1)
    t.still_blocked("e2", e2)
    t.call("xadd 6", "XADD", "s", "6-0", "f", "6")
    t.reply("e2 served next", e2)


@scenario
def several_keys_only_the_ready_one(t):
    t.call("xadd a", "XADD", "a", "1-0", "x", "1")
    t.call("xadd b", "XADD", "b", "1-0", "x", "1")
    c = t.block("xread a b c", "XREAD", "BLOCK", "0", "STREAMS", "a", "b", "c", "$", "$", "$")
    t.call("xadd b", "XADD", "b", "2-0", "y", "2")
    t.reply("woken with b only", c)
    c2 = t.block("xread a b c again", "XREAD", "BLOCK", "0", "STREAMS", "a", "b", "c", "$", "$", "$")
    t.call("multi", "MULTI")
    t.call("q c", "XADD", "c", "5-0", "z", "5")
    t.call("q a", "XADD", "a", "6-0", "z", "6")
    t.call("exec", "EXEC")
    t.reply("woken with one key of the two made ready", c2)
    t.call("xgroup create a", "XGROUP", "CREATE", "a", "g", "$")
    t.call("xgroup create b", "XGROUP", "CREATE", "b", "g", "$")
    g = t.block("xreadgroup a b", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0",
                "STREAMS", "a", "b", ">", ">")
    t.call("xadd b", "XADD", "b", "9-0", "q", "1")
    t.reply("group reader woken with b only", g)
    t.call("xinfo groups a", "XINFO", "GROUPS", "a")
    t.call("xinfo groups b", "XINFO", "GROUPS", "b")


@scenario
def dollar_semantics(t):
    t.call("xadd", "XADD", "s", "1-0", "a", "1")
    t.call("xadd", "XADD", "s", "2-0", "a", "2")
    start = time.time()
    t.call("xread $ times out although entries exist", "XREAD", "BLOCK", "100", "STREAMS", "s", "$")
    t.note("waited the timeout", 0.08 <= time.time() - start < 1.5)
    c = t.block("xread $", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    # XDEL of the top leaves last_id: `$` stays at 2-0, so 2-1 wakes it.
    t.call("xdel top", "XDEL", "s", "2-0")
    t.still_blocked("after xdel", c)
    t.call("xadd 2-1", "XADD", "s", "2-1", "a", "3")
    t.reply("woken with the new entry only", c)
    # `$` is resolved when the client blocks: XSETID (which wakes nobody)
    # moves last_id forward, and the next entry is served.
    c2 = t.block("xread $ again", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("xsetid", "XSETID", "s", "10-0")
    t.still_blocked("after xsetid", c2)
    t.call("xadd 11-0", "XADD", "s", "11-0", "a", "4")
    t.reply("woken after xsetid + xadd", c2)
    # XREAD with an explicit ID equal to the top blocks, like `$`.
    c3 = t.block("xread from the top id", "XREAD", "BLOCK", "0", "STREAMS", "s", "11-0")
    t.call("xadd 12-0", "XADD", "s", "12-0", "a", "5")
    t.reply("woken", c3)


@scenario
def group_setid_while_blocked(t):
    for i in range(1, 4):
        t.call("xadd", "XADD", "s", "%d-0" % i, "f", str(i))
    t.call("create", "XGROUP", "CREATE", "s", "g", "$")
    g = t.block("xreadgroup", "XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK", "0", "STREAMS", "s", ">")
    # SETID does not wake anyone; the next XADD serves everything after the
    # group's (new) last-delivered-id.
    t.call("setid 0", "XGROUP", "SETID", "s", "g", "0")
    t.still_blocked("after setid", g)
    t.call("xadd 4", "XADD", "s", "4-0", "f", "4")
    t.reply("served from the rewound group", g)
    t.call("xinfo groups", "XINFO", "GROUPS", "s")
    # Blocking on a key of another type is refused at once.
    t.call("a string", "SET", "str", "x")
    w = t.block("xread on a string", "XREAD", "BLOCK", "0", "STREAMS", "str", "$")
    t.on("ping", w, "PING")


@scenario
def added_and_deleted_in_one_exec(t):
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    x = t.block("xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    g = t.block("xreadgroup", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("multi", "MULTI")
    t.call("q xadd", "XADD", "s", "1-0", "f", "v")
    t.call("q xdel", "XDEL", "s", "1-0")
    t.call("exec", "EXEC")
    t.reply("xread", x)
    t.reply("xreadgroup", g)
    t.call("xinfo groups", "XINFO", "GROUPS", "s")
    t.call("xpending", "XPENDING", "s", "g")
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")


@scenario
def timeout_resp2_and_resp3(t):
    c = t.client()
    start = time.time()
    t.note("xread timeout resp2", c.call("XREAD", "BLOCK", "100", "STREAMS", "s", "$"))
    t.note("xread waited", 0.08 <= time.time() - start < 1.5)
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    t.note("xreadgroup timeout resp2",
           c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">"))
    r3 = t.client(resp3=True)
    start = time.time()
    t.note("xread timeout resp3", r3.call("XREAD", "BLOCK", "100", "STREAMS", "s", "$"))
    t.note("xread resp3 waited", 0.08 <= time.time() - start < 1.5)
    t.note("xreadgroup timeout resp3",
           r3.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">"))
    # The consumer was not created by the reads that timed out.
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")
    # Woken in RESP3: a map of one key.
    b = t.block("resp3 xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$", resp3=True)
    bg = t.block("resp3 xreadgroup", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0",
                 "STREAMS", "s", ">", resp3=True)
    t.call("xadd", "XADD", "s", "3-0", "k", "v")
    t.reply("resp3 xread woken", b)
    t.reply("resp3 xreadgroup woken", bg)
    b2 = t.block("resp3 xread until timeout", "XREAD", "BLOCK", "150", "STREAMS", "s", "$", resp3=True)
    t.reply("resp3 timed out", b2)
    # Timeout 0.x: BLOCK takes integer milliseconds.
    t.note("fractional block", c.call("XREAD", "BLOCK", "0.5", "STREAMS", "s", "$"))
    t.note("negative block", c.call("XREAD", "BLOCK", "-1", "STREAMS", "s", "$"))


@scenario
def count_honoured_when_woken(t):
    t.call("xadd", "XADD", "s", "1-0", "a", "1")
    c1 = t.block("count 1", "XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "$")
    c2 = t.block("count 3", "XREAD", "COUNT", "3", "BLOCK", "0", "STREAMS", "s", "$")
    c3 = t.block("no count", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("create", "XGROUP", "CREATE", "s", "g", "$")
    g = t.block("group count 2", "XREADGROUP", "GROUP", "g", "x", "COUNT", "2", "BLOCK", "0",
                "STREAMS", "s", ">")
    g2 = t.block("second consumer, count 2", "XREADGROUP", "GROUP", "g", "y", "COUNT", "2",
                 "BLOCK", "0", "STREAMS", "s", ">")
    t.call("multi", "MULTI")
    for i in range(2, 7):
        t.call("q", "XADD", "s", "%d-0" % i, "f", str(i))
    t.call("exec", "EXEC")
    t.reply("count 1 woken", c1)
    t.reply("count 3 woken", c2)
    t.reply("no count woken", c3)
    t.reply("group count 2 woken", g)
    t.reply("second consumer woken with the next 2", g2)
    t.call("xpending", "XPENDING", "s", "g")
    t.call("xinfo groups", "XINFO", "GROUPS", "s")


@scenario
def xadd_maxlen_0_wakes(t):
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    c = t.block("xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    g = t.block("xreadgroup", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("xadd maxlen 0", "XADD", "s", "MAXLEN", "0", "1-0", "f", "v")
    t.reply("xread woken", c)
    t.reply("xreadgroup woken", g)
    t.call("xlen", "XLEN", "s")
    t.call("xpending", "XPENDING", "s", "g")
    t.call("xinfo groups", "XINFO", "GROUPS", "s")
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")
    # The same through MAXLEN = 0 on a fresh key with an XREAD on a missing key.
    c2 = t.block("xread missing", "XREAD", "BLOCK", "0", "STREAMS", "n", "$")
    t.call("xadd maxlen = 0", "XADD", "n", "MAXLEN", "=", "0", "1-0", "f", "v")
    t.reply("xread on missing woken", c2)
    t.call("exists", "EXISTS", "n")


def unblock_by(t, label, action):
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    g = t.block(label + ": xreadgroup", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    g2 = t.block(label + ": xreadgroup with a timeout", "XREADGROUP", "GROUP", "g", "d", "BLOCK", "5000",
                 "STREAMS", "s", ">")
    x = t.block(label + ": xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    x2 = t.block(label + ": xread with a timeout", "XREAD", "BLOCK", "300", "STREAMS", "s", "$")
    action()
    t.reply(label + ": xreadgroup gets", g)
    t.reply(label + ": xreadgroup with a timeout gets", g2)
    t.on(label + ": ping on the unblocked client", g, "PING")
    t.still_blocked(label + ": xread", x)
    t.reply(label + ": xread with a timeout times out", x2, timeout=1.5)
    return x


@scenario
def xreadgroup_unblocked_by_del(t):
    x = unblock_by(t, "del", lambda: t.call("del", "DEL", "s"))
    # The key comes back with an entry below the `$` (0-0 here: any entry).
    t.call("xadd recreate", "XADD", "s", "1-0", "f", "v")
    t.reply("xread woken by the recreated key", x)


@scenario
def xreadgroup_unblocked_by_del_recreated_below(t):
    t.call("xadd", "XADD", "s", "5-0", "a", "1")
    x = t.block("xread $ (5-0)", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("del", "DEL", "s")
    t.still_blocked("xread after del", x)
    t.call("xadd 3-0", "XADD", "s", "3-0", "b", "2")
    t.still_blocked("xread after a recreation below 5-0", x)
    t.call("xadd 6-0", "XADD", "s", "6-0", "c", "3")
    t.reply("xread woken with entries above 5-0", x)


@scenario
def xreadgroup_unblocked_by_set(t):
    unblock_by(t, "set", lambda: t.call("set", "SET", "s", "string"))


@scenario
def xreadgroup_unblocked_by_other_type_in_multi(t):
    def action():
        t.call("multi", "MULTI")
        t.call("q del", "DEL", "s")
        t.call("q sadd", "SADD", "s", "m")
        t.call("exec", "EXEC")
    unblock_by(t, "multi del+sadd", action)


@scenario
def xreadgroup_unblocked_by_flushall(t):
    unblock_by(t, "flushall", lambda: t.call("flushall", "FLUSHALL"))


@scenario
def xreadgroup_unblocked_by_flushdb(t):
    unblock_by(t, "flushdb", lambda: t.call("flushdb", "FLUSHDB"))


@scenario
def xreadgroup_unblocked_by_rename(t):
    unblock_by(t, "rename", lambda: t.call("rename", "RENAME", "s", "elsewhere"))


@scenario
def xreadgroup_unblocked_by_unlink(t):
    unblock_by(t, "unlink", lambda: t.call("unlink", "UNLINK", "s"))


@scenario
def xreadgroup_unblocked_by_move(t):
    unblock_by(t, "move", lambda: t.call("move", "MOVE", "s", "1"))


@scenario
def xreadgroup_unblocked_by_swapdb(t):
    t.call("select 1", "SELECT", "1")
    t.call("a string in db1", "SET", "s", "x")
    t.call("select 0", "SELECT", "0")
    unblock_by(t, "swapdb", lambda: t.call("swapdb", "SWAPDB", "0", "1"))


@scenario
def xreadgroup_unblocked_by_expiry(t):
    unblock_by(t, "expiry", lambda: t.call("pexpire", "PEXPIRE", "s", "30"))


@scenario
def xreadgroup_nogroup_when_replaced_by_another_stream(t):
    # RENAME of a stream (without the group) over the key: the group
    # readers get NOGROUP, the plain reader is served from the new stream.
    t.call("other stream", "XADD", "other", "1-0", "f", "v")
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    g = t.block("xreadgroup", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    x = t.block("xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("rename", "RENAME", "other", "s")
    t.reply("xreadgroup gets NOGROUP", g)
    t.reply("xread served from the new stream", x)
    # The same with the group present in the new stream: still blocked.
    t.call("other stream 2", "XADD", "other", "1-0", "f", "v")
    t.call("its group", "XGROUP", "CREATE", "other", "g", "$")
    t.call("group on s again", "XGROUP", "CREATE", "s", "g", "$")
    g2 = t.block("xreadgroup 2", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("rename 2", "RENAME", "other", "s")
    t.still_blocked("xreadgroup with the group in the new stream", g2)
    t.call("xadd", "XADD", "s", "2-0", "f", "w")
    t.reply("xreadgroup 2 served", g2)


@scenario
def xreadgroup_nogroup_on_destroy(t):
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    t.call("create h", "XGROUP", "CREATE", "s", "h", "$")
    g = t.block("xreadgroup g", "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    h = t.block("xreadgroup h", "XREADGROUP", "GROUP", "h", "c", "BLOCK", "0", "STREAMS", "s", ">")
    x = t.block("xread", "XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.call("destroy g", "XGROUP", "DESTROY", "s", "g")
    t.reply("g reader gets NOGROUP", g)
    t.still_blocked("h reader", h)
    t.still_blocked("xread", x)
    # Destroyed and recreated in one transaction: the reader stays blocked.
    t.call("multi", "MULTI")
    t.call("q destroy", "XGROUP", "DESTROY", "s", "h")
    t.call("q create", "XGROUP", "CREATE", "s", "h", "$")
    t.call("exec", "EXEC")
    t.still_blocked("h reader after destroy+create", h)
    t.call("xadd", "XADD", "s", "1-0", "f", "v")
    t.reply("h reader served", h)
    t.reply("xread served", x)


@scenario
def client_unblock(t):
    c = t.client()
    cid = c.call("CLIENT", "ID")
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.wait_blocked(1)
    t.call("client unblock (default = timeout)", "CLIENT", "UNBLOCK", str(cid))
    t.reply("xread after unblock timeout", c)
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.wait_blocked(1)
    t.call("client unblock timeout", "CLIENT", "UNBLOCK", str(cid), "TIMEOUT")
    t.reply("xread after explicit timeout", c)
    c.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.wait_blocked(1)
    t.call("client unblock error", "CLIENT", "UNBLOCK", str(cid), "ERROR")
    t.reply("xread after unblock error", c)
    t.call("client unblock of a client not blocked", "CLIENT", "UNBLOCK", str(cid))
    t.call("client unblock bad mode", "CLIENT", "UNBLOCK", str(cid), "MAYBE")
    # The same on XREADGROUP: no consumer is created.
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    c.send("XREADGROUP", "GROUP", "g", "cons", "BLOCK", "0", "STREAMS", "s", ">")
    t.wait_blocked(1)
    t.call("client unblock error on xreadgroup", "CLIENT", "UNBLOCK", str(cid), "ERROR")
    t.reply("xreadgroup after unblock error", c)
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")
    t.on("ping", c, "PING")


@scenario
def block_inside_multi(t):
    c = t.client()
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    t.note("multi", c.call("MULTI"))
    t.note("queued xread", c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$"))
    t.note("queued xread 2", c.call("XREAD", "BLOCK", "10000", "STREAMS", "missing", "0"))
    t.note("queued xreadgroup", c.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"))
    t.note("queued xread with data", c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "0"))
    t.note("queued xadd", c.call("XADD", "s", "1-0", "f", "v"))
    t.note("queued xread after the xadd", c.call("XREAD", "BLOCK", "0", "STREAMS", "s", "0"))
    start = time.time()
    t.on("exec", c, "EXEC")
    t.note("exec did not block", time.time() - start < 1.0)
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")


@scenario
def block_inside_scripts(t):
    t.call("xadd", "XADD", "s", "1-0", "f", "v")
    t.call("pcall xread", "EVAL", "return redis.pcall('xread', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')", "1", "s")
    t.call("pcall XREAD", "EVAL", "return redis.pcall('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '0')", "1", "s")
    t.call("call xread", "EVAL", "return redis.call('xread', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')", "1", "s")
    t.call("create", "XGROUP", "CREATE", "s", "g", "0")
    t.call("pcall xreadgroup", "EVAL",
           "return redis.pcall('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', KEYS[1], '>')", "1", "s")
    t.call("pcall xread without block", "EVAL",
           "return redis.pcall('xread', 'STREAMS', KEYS[1], '0')", "1", "s")
    t.call("scripts are refused before the timeout is parsed", "EVAL",
           "return redis.pcall('xread', 'BLOCK', 'x', 'STREAMS', KEYS[1], '0')", "1", "s")
    t.call("xinfo consumers", "XINFO", "CONSUMERS", "s", "g")


@scenario
def noack_and_pel_after_serving(t):
    t.call("create", "XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    n = t.block("noack", "XREADGROUP", "GROUP", "g", "quiet", "NOACK", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("xadd 1", "XADD", "s", "1-0", "f", "1")
    t.reply("noack served", n)
    t.call("xpending after noack", "XPENDING", "s", "g")
    t.call("xinfo consumers after noack", "XINFO", "CONSUMERS", "s", "g")
    a = t.block("ack-needed", "XREADGROUP", "GROUP", "g", "loud", "COUNT", "5", "BLOCK", "0", "STREAMS", "s", ">")
    t.call("multi", "MULTI")
    t.call("q 2", "XADD", "s", "2-0", "f", "2")
    t.call("q 3", "XADD", "s", "3-0", "f", "3")
    t.call("exec", "EXEC")
    t.reply("served", a)
    t.call("xpending summary", "XPENDING", "s", "g")
    p = t.admin.call("XPENDING", "s", "g", "-", "+", "10")
    t.note("xpending extended (idle dropped)", [[e[0], e[1], e[3]] for e in p] if isinstance(p, list) else p)
    t.call("history of loud", "XREADGROUP", "GROUP", "g", "loud", "STREAMS", "s", "0")
    p = t.admin.call("XPENDING", "s", "g", "-", "+", "10", "loud")
    t.note("delivery counts after a history read", [[e[0], e[1], e[3]] for e in p] if isinstance(p, list) else p)
    t.call("history of quiet", "XREADGROUP", "GROUP", "g", "quiet", "STREAMS", "s", "0")
    t.call("xinfo groups", "XINFO", "GROUPS", "s")
    full = t.admin.call("XINFO", "STREAM", "s", "FULL")
    groups = full[full.index(b"groups") + 1] if isinstance(full, list) else full
    for grp in groups:
        d = dict(zip(grp[::2], grp[1::2]))
        t.note("full group", [d[b"name"], d[b"last-delivered-id"], d[b"entries-read"], d[b"lag"],
                              d[b"pel-count"], [[e[0], e[1], e[3]] for e in d[b"pending"]]])
        for cons in d[b"consumers"]:
            cd = dict(zip(cons[::2], cons[1::2]))
            t.note("full consumer", [cd[b"name"], cd[b"pel-count"], [[e[0], e[2]] for e in cd[b"pending"]]])
    # A blocked NOACK reader on a group whose consumer does not exist yet
    # creates it when served.
    n2 = t.block("noack new consumer", "XREADGROUP", "GROUP", "g", "fresh", "NOACK", "COUNT", "1",
                 "BLOCK", "0", "STREAMS", "s", ">")
    t.call("xadd 4 and 5", "EVAL",
           "redis.call('XADD', KEYS[1], '4-0', 'f', '4') return redis.call('XADD', KEYS[1], '5-0', 'f', '5')",
           "1", "s")
    t.reply("served with count 1", n2)
    t.call("xinfo groups end", "XINFO", "GROUPS", "s")
    c = t.admin.call("XINFO", "CONSUMERS", "s", "g")
    t.note("consumers (idle dropped)", [[x[1], x[3]] for x in c] if isinstance(c, list) else c)


# --- running -----------------------------------------------------------------

def prepare(port):
    admin = Client(port)
    try:
        deadline = time.time() + 3
        while time.time() < deadline:
            info = admin.call("INFO", "clients").decode()
            if "blocked_clients:0" in info:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("port %d: clients of an earlier scenario are still blocked" % port)
        assert admin.call("FLUSHALL") == "OK"
    finally:
        admin.close()


def run(fn, port):
    prepare(port)
    t = Ctx(port)
    try:
        fn(t)
    except Exception as e:  # a crash is an observation too
        t.note("exception", "%s: %s" % (type(e).__name__, e))
    finally:
        t.close()
    return t.obs


def run_all(port, results):
    """Runs every scenario on one server (in a thread of its own: the two
    servers are exercised at the same time)."""
    for fn in SCENARIOS:
        start = time.time()
        results[fn.__name__] = (run(fn, port), time.time() - start)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: streams_blocking.py REDISTILL_PORT REDIS_PORT")
    ours, theirs = int(sys.argv[1]), int(sys.argv[2])
    verbose = os.environ.get("STREAMS_VERBOSE")
    started = time.time()
    want, got = {}, {}
    threads = [threading.Thread(target=run_all, args=(theirs, want), daemon=True),
               threading.Thread(target=run_all, args=(ours, got), daemon=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.0, started + 55 - time.time()))
    failures = []
    for fn in SCENARIOS:
        name = fn.__name__
        if name not in want or name not in got:
            failures.append("scenario %s did not finish in time on %s" % (
                name, " and ".join(n for n, d in (("redis-server", want), ("redistill", got)) if name not in d)))
            continue
        (w_obs, w_time), (g_obs, g_time) = want[name], got[name]
        if verbose:
            print("%-55s redis %.2fs redistill %.2fs" % (name, w_time, g_time), flush=True)
        if w_obs == g_obs:
            continue
        lines = ["scenario %s differs:" % name]
        for i in range(max(len(w_obs), len(g_obs))):
            w = w_obs[i] if i < len(w_obs) else ("<missing>", None)
            g = g_obs[i] if i < len(g_obs) else ("<missing>", None)
            if w != g:
                lines.append("  step %d %s\n    redis-server: %r\n    redistill:    %r" % (i, w[0], w[1], g[1]))
        failures.append("\n".join(lines))
    elapsed = time.time() - started
    if failures:
        print("\n".join(failures))
        print("streams_blocking: %d of %d scenarios differ (%.1fs)" % (len(failures), len(SCENARIOS), elapsed))
        sys.stdout.flush()
        os._exit(1)  # (threads still waiting on a socket are not joined)
    print("streams_blocking: %d scenarios ok on both servers (%.1fs)" % (len(SCENARIOS), elapsed))


if __name__ == "__main__":
    main()
