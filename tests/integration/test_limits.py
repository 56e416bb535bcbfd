"""Resource limits configured by flags (Panda only)."""
import socket
import time

import pytest

from conftest import (RawClient, encode_command, read_vmrss_kb, recv_exact,
                      recv_until_closed)

pytestmark = pytest.mark.panda_only


def test_max_clients(server_factory):
    srv = server_factory(["--max-clients", "5"])
    clients = []
    for _ in range(5):
        c = RawClient(srv.port)
        assert c.cmd("PING") == "PONG"
        clients.append(c)
    s = srv.raw()
    data, closed = recv_until_closed(s, 5.0)
    s.close()
    assert data == b"-ERR max number of clients reached\r\n"
    assert closed
    # existing clients unaffected
    for c in clients:
        assert c.cmd("PING") == "PONG"
    # free one slot; a new connection must work (the server may need a moment to notice)
    clients.pop().close()
    deadline = time.monotonic() + 5
    ok = False
    while time.monotonic() < deadline:
        c = RawClient(srv.port)
        try:
            reply = c.cmd("PING")
        except (ConnectionError, OSError):
            reply = None
        if reply == "PONG":
            ok = True
            clients.append(c)
            break
        c.close()
        time.sleep(0.05)
    assert ok, "no new client accepted after one disconnected"
    # and the limit still holds
    s = srv.raw()
    data, closed = recv_until_closed(s, 5.0)
    s.close()
    assert data == b"-ERR max number of clients reached\r\n" and closed
    for c in clients:
        c.close()


def test_max_inline_bytes(server_factory):
    srv = server_factory(["--max-inline-bytes", "1024"])
    s = srv.raw()
    s.sendall(b"a" * 2000)  # no newline
    data, closed = recv_until_closed(s, 5.0)
    s.close()
    assert data == b"-ERR Protocol error: too big inline request\r\n"
    assert closed
    # a short inline line is still fine; one just under the limit too
    c = srv.raw()
    c.sendall(b"ECHO " + b"x" * 900 + b"\r\n")
    assert recv_exact(c, 908) == b"$900\r\n" + b"x" * 900 + b"\r\n"
    c.close()
    c = RawClient(srv.port)
    assert c.cmd("PING") == "PONG"
    c.close()


def test_max_bulk_bytes(server_factory):
    srv = server_factory(["--max-bulk-bytes", "1000"])
    s = srv.raw()
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n")
    data, closed = recv_until_closed(s, 5.0)
    s.close()
    assert data == b"-ERR Protocol error: invalid bulk length\r\n"
    assert closed
    c = RawClient(srv.port)
    assert c.cmd("SET", "k", b"x" * 1000) == "OK"
    assert c.cmd("STRLEN", "k") == 1000
    c.close()


def test_huge_declared_bulk_does_not_allocate(server_factory):
    srv = server_factory()  # default max-bulk-bytes (512 MB) accepts the declaration
    c = RawClient(srv.port)
    assert c.cmd("PING") == "PONG"
    before = read_vmrss_kb(srv.pid)
    s = srv.raw()
    s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\n" + b"abc")
    time.sleep(0.5)
    assert c.cmd("PING") == "PONG"
    after = read_vmrss_kb(srv.pid)
    assert after - before < 20 * 1024, "RSS grew from %d kB to %d kB" % (before, after)
    s.close()
    assert c.cmd("PING") == "PONG"
    c.close()


def test_huge_declared_bulks_many_connections(server_factory):
    srv = server_factory()
    c = RawClient(srv.port)
    before = read_vmrss_kb(srv.pid)
    socks = []
    for _ in range(20):
        s = srv.raw()
        s.sendall(b"*2\r\n$3\r\nGET\r\n$400000000\r\nxyz")
        socks.append(s)
    time.sleep(0.5)
    assert c.cmd("PING") == "PONG"
    after = read_vmrss_kb(srv.pid)
    assert after - before < 20 * 1024, "RSS grew from %d kB to %d kB" % (before, after)
    for s in socks:
        s.close()
    c.close()


def test_max_args(server_factory):
    srv = server_factory(["--max-args", "10"])
    c = RawClient(srv.port)
    # 10 arguments are accepted by the protocol layer (this one then fails MSET's arity check)
    assert c.err("MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e") == \
        "ERR wrong number of arguments for 'mset' command"
    assert c.cmd("DEL", *["k%d" % i for i in range(9)]) == 0  # 10 args OK
    s = srv.raw()
    s.sendall(b"*11\r\n")
    data, closed = recv_until_closed(s, 5.0)
    s.close()
    assert data == b"-ERR Protocol error: invalid multibulk length\r\n"
    assert closed
    assert c.cmd("PING") == "PONG"
    c.close()


def test_max_output_bytes(server_factory):
    srv = server_factory(["--max-output-bytes", "1048576"])
    good = RawClient(srv.port)
    assert good.cmd("SET", "big", b"v" * 100000) == "OK"
    hog = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.settimeout(10)
    hog.connect(("127.0.0.1", srv.port))
    hog.sendall(encode_command("CLIENT", "ID"))
    line = b""
    while not line.endswith(b"\r\n"):
        line += hog.recv(1)
    hog_id = int(line[1:-2])
    # 500 GETs of a 100 KB value = 50 MB of replies that are never read
    hog.sendall(encode_command("GET", "big") * 500)
    deadline = time.monotonic() + 10
    gone = False
    while time.monotonic() < deadline:
        assert good.cmd("PING") == "PONG"
        listing = good.cmd("CLIENT", "LIST").decode()
        if not any(l.startswith("id=%d " % hog_id) for l in listing.splitlines()):
            gone = True
            break
        time.sleep(0.05)
    assert gone, "client over --max-output-bytes was not disconnected"
    # the hog sees EOF/RST after at most the data that was already in flight
    data, closed = recv_until_closed(hog, 10.0)
    hog.close()
    assert closed
    assert len(data) < 500 * 100000
    # the well-behaved client keeps being served, including large replies
    assert good.cmd("GET", "big") == b"v" * 100000
    good.close()
