"""Thousands of idle connections plus active clients (Panda only)."""
import resource
import socket
import threading
import time

import pytest

from conftest import IS_REDIS, RawClient

pytestmark = pytest.mark.panda_only

IDLE = 5000
ACTIVE = 50


@pytest.fixture
def high_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if want < IDLE + ACTIVE + 200:
        pytest.skip("RLIMIT_NOFILE hard limit %d too low for %d connections" % (hard, IDLE))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connected_clients(c):
    text = c.cmd("INFO", "clients").decode()
    for line in text.split("\r\n"):
        if line.startswith("connected_clients:"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no connected_clients in INFO clients")


def test_5000_idle_and_50_active(high_nofile, server_factory):
    # the server inherits the raised RLIMIT_NOFILE
    srv = server_factory(["--maxclients", "19000"] if IS_REDIS else ["--max-clients", "20000"])
    idle = []
    try:
        for i in range(IDLE):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            idle.append(s)
            if i % 500 == 499:
                # every so often make sure the server keeps up (and has not refused anyone)
                s.sendall(b"PING\r\n")
                s.settimeout(10)
                assert s.recv(7) == b"+PONG\r\n"
        errors = []

        def worker(n):
            try:
                c = RawClient(srv.port)
                for j in range(50):
                    key = "act:%d:%d" % (n, j)
                    val = ("value-%d-%d" % (n, j)).encode() * 10
                    assert c.cmd("SET", key, val) == "OK"
                    assert c.cmd("GET", key) == val
                assert c.cmd("INCRBY", "total", 50) >= 50
                c.close()
            except Exception as e:  # noqa
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(ACTIVE)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
        c = RawClient(srv.port)
        assert c.cmd("GET", "total") == str(50 * ACTIVE).encode()
        assert c.cmd("DBSIZE") == ACTIVE * 50 + 1
        deadline = time.monotonic() + 10
        n = 0
        while time.monotonic() < deadline:
            n = connected_clients(c)
            if n >= IDLE:
                break
            time.sleep(0.1)
        assert n >= IDLE, "connected_clients=%d" % n
        # every idle connection is still alive and served
        for s in idle[::250]:
            s.sendall(b"PING\r\n")
            assert s.recv(7) == b"+PONG\r\n"
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = connected_clients(c)
        if n <= 2:
            break
        time.sleep(0.1)
    assert n <= 2, "connected_clients still %d after closing everything" % n
    c.close()
