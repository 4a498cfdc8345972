"""TLS client checks against a running server's TLS port.

Usage: tls_client.py PORT CA_PEM [CLIENT_CERT CLIENT_KEY]
1. redis-py over TLS: SET/GET/PING.
2. A ClientHello delivered one byte per write still completes the handshake.
"""
import socket
import ssl
import sys
import time

import redis


def redis_py(port, ca, cert, key):
    r = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=ca,
                    ssl_certfile=cert, ssl_keyfile=key, ssl_cert_reqs="required")
    assert r.ping() is True
    assert r.set("tls-key", "over tls") is True
    assert r.get("tls-key") == b"over tls"


def tls12_only(port, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            assert s.version() == "TLSv1.2", s.version()
            s.sendall(b"PING\r\n")
            assert s.recv(16) == b"+PONG\r\n"


def fragmented_hello(port, ca, cert, key):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    first = True
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pass
        data = outgoing.read()
        if first:
            # The ClientHello, one byte per TCP write.
            for b in data:
                sock.sendall(bytes([b]))
                time.sleep(0.001)
            first = False
        elif data:
            sock.sendall(data)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("server closed during a fragmented handshake")
        incoming.write(chunk)
    sock.sendall(outgoing.read())
    tls.write(b"PING\r\n")
    sock.sendall(outgoing.read())
    reply = b""
    while b"\r\n" not in reply:
        try:
            reply += tls.read(64)
        except ssl.SSLWantReadError:
            incoming.write(sock.recv(65536))
    assert reply == b"+PONG\r\n", reply


def main():
    port, ca = int(sys.argv[1]), sys.argv[2]
    cert = sys.argv[3] if len(sys.argv) > 3 else None
    key = sys.argv[4] if len(sys.argv) > 4 else None
    redis_py(port, ca, cert, key)
    tls12_only(port, ca, cert, key)
    fragmented_hello(port, ca, cert, key)
    print("tls: redis-py, TLS 1.2 and a fragmented ClientHello passed")


if __name__ == "__main__":
    main()
