#!/usr/bin/env python3
"""Golden command tables: each line is `COMMAND args => reply`, the reply
written as the exact RESP bytes with \\r, \\n, \\\\ and \\xNN escapes.

    golden.py record FILE...   run each file's commands against a fresh
                               redis-server and write the replies it gave
    golden.py check PORT FILE...  compare a running server with the files

Arguments are split like a shell line ("quoted words", \\xNN escapes
inside quotes). A command written `@COMMAND` runs but its reply is not
compared (for replies that name the server, like HELLO). After HELLO 3 a
reply is every frame the command caused (push messages included). Each file runs on a fresh connection after FLUSHALL, so the
tables are the oracle's replies, and tests/handlers.rs replays them
against Redistill in process.
"""
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time


def escape(b):
    out = []
    for c in b:
        if c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def unescape_arg(s):
    return s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def split_line(line):
    cmd, sep, expected = line.partition(" => ")
    args = [unescape_arg(a) for a in shlex.split(cmd, posix=True)]
    return args, (expected if sep else None)


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Raw:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def _line_end(self, at):
        while True:
            i = self.buf.find(b"\r\n", at)
            if i >= 0:
                return i
            self._need(len(self.buf) + 1)

    def _frame_end(self, at):
        end = self._line_end(at)
        kind, head = self.buf[at:at + 1], self.buf[at + 1:end]
        nxt = end + 2
        if kind in b"$=!":
            n = int(head)
            if n < 0:
                return nxt
            self._need(nxt + n + 2)
            return nxt + n + 2
        if kind in b"*~>%|":
            n = int(head)
            if kind in b"%|":
                n *= 2
            p = nxt
            for _ in range(max(n, 0)):
                p = self._frame_end(p)
            return p
        return nxt

    def call(self, args, all_frames=False):
        """One reply frame; with all_frames, every frame the command caused
        (RESP3 push messages come alongside replies), read until the
        connection has been quiet for a while."""
        self.sock.sendall(encode(args))
        end = self._frame_end(0)
        frame, self.buf = self.buf[:end], self.buf[end:]
        while all_frames:
            if not self.buf:
                self.sock.settimeout(0.15)
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    chunk = None
                finally:
                    self.sock.settimeout(10)
                if not chunk:
                    break
                self.buf += chunk
            end = self._frame_end(0)
            frame, self.buf = frame + self.buf[:end], self.buf[end:]
        return frame


def start_redis():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            Raw(port).call([b"PING"])
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def run_file(port, path, record):
    lines = open(path).read().splitlines()
    c = Raw(port)
    c.call([b"FLUSHALL"])
    out, bad = [], 0
    resp3 = False
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            out.append(line)
            continue
        args, expected = split_line(line.lstrip("@"))
        try:
            got = escape(c.call(args, all_frames=resp3))
            if [a.upper() for a in args[:2]] == [b"HELLO", b"3"]:
                resp3 = True
        except OSError as e:
            raise SystemExit(f"{path}:{n}: {line}: {e}")
        cmd = line.partition(" => ")[0]
        out.append(f"{cmd} => {got}")
        if not record and got != expected and not line.startswith("@"):
            bad += 1
            print(f"{path}:{n}: {cmd}\n  expected {expected}\n  got      {got}")
    if record:
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
    return bad


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    if sys.argv[1] == "record":
        proc, port = start_redis()
        try:
            for p in sys.argv[2:]:
                run_file(port, p, True)
        finally:
            proc.terminate()
            proc.wait()
    elif sys.argv[1] == "check":
        port = int(sys.argv[2])
        bad = sum(run_file(port, p, False) for p in sys.argv[3:])
        sys.exit(1 if bad else 0)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
