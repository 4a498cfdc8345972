"""A minimal RESP client over a raw socket: exact bytes in, parsed replies out.

Used by the differential and client tests so that replies are compared as
the server sent them, with no client library normalising them first.
"""
import socket


class ReplyError(Exception):
    pass


class Err:
    """An error reply, kept as a value so it can be compared."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Err) and other.text == self.text

    def __hash__(self):
        return hash(self.text)

    def __repr__(self):
        return f"Err({self.text!r})"


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        # RESP3 push frames (`>`) read between replies, in arrival order.
        self.pushes = []

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        while kind == b">":
            self.pushes.append([self.read() for _ in range(int(rest))])
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
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if kind == b"%":
            n = int(rest)
            return {"__map__": [(self.read(), self.read()) for _ in range(n)]}
        if kind == b"_":
            return None
        if kind == b"=":
            return self._exact(int(rest))
        raise ValueError(f"unexpected reply line {line!r}")

    def poll_pushes(self, seconds=0.0):
        """Reads the push frames that arrived (waiting up to `seconds`)."""
        self.sock.settimeout(seconds if seconds > 0 else 0.001)
        try:
            while True:
                self._fill()
        except (socket.timeout, BlockingIOError):
            pass
        finally:
            self.sock.settimeout(10)
        while self.buf.startswith(b">"):
            line = self._line()
            self.pushes.append([self.read() for _ in range(int(line[1:]))])
        return self.pushes

    def call(self, *args):
        self.send_raw(encode(args))
        return self.read()

    def pipeline(self, commands):
        self.send_raw(b"".join(encode(c) for c in commands))
        return [self.read() for _ in commands]
