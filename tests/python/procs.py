"""Process helpers shared by the multi-server test scripts: handing a
listening socket to a child (--listen-fd), and waiting for servers and states."""
import os
import shutil
import socket
import subprocess
import time

import redis


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ping(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=1).ping():
                return
        except redis.RedisError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answers on {port}")


def wait_for(what, check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def owned_listener():
    """A loopback listening socket for a child to serve (no port race)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s


def start_redistill(binary, tmp, name, extra, procs, listener=None):
    """Starts Redistill serving a listener of ours as fd 3 (`listener`, or
    a new one); appends the process to `procs` (for cleanup) and returns
    (process, port)."""
    lst = listener or owned_listener()
    port = lst.getsockname()[1]
    fd = lst.fileno()
    log = open(os.path.join(tmp, f"{name}.log"), "w")
    p = subprocess.Popen(
        # The child serves the socket under its own descriptor number
        # (renumbering it in the child raced with the close-fds pass).
        [binary, "--shards", "256", "--listen-fd", str(fd)] + extra,
        pass_fds=(fd,),
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    lst.close()
    procs.append(p)
    try:
        wait_ping(port)
    except TimeoutError:
        log.flush()
        with open(os.path.join(tmp, f"{name}.log")) as f:
            tail = f.read()[-3000:]
        raise TimeoutError(f"nothing answers on {port} (exit status {p.poll()}); its log ends:\n{tail}")
    return p, port


def stop_all(procs, tmp=None):
    """Kills the processes a test started and removes its directory."""
    for p in procs:
        p.kill()
        p.wait()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
