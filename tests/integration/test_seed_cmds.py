"""Panda seed commands: PUT GET DELETE LIST SIZE STATS HELP QUIT (case-insensitive)."""
import os
import re

import pytest

from conftest import RawClient, recv_exact, recv_until_closed

pytestmark = pytest.mark.panda_only


def test_put_get(rc):
    assert rc.cmd("PUT", "greeting", "Hello, World!") == "OK"
    assert rc.cmd("GET", "greeting") == b"Hello, World!"
    assert rc.cmd("PUT", "greeting", "again") == "OK"
    assert rc.cmd("GET", "greeting") == b"again"
    assert rc.cmd("GET", "nokey") is None


def test_put_is_visible_to_redis_commands(r, rc):
    assert rc.cmd("PUT", "k", "v") == "OK"
    assert r.get("k") == b"v"
    assert r.exists("k") == 1
    r.execute_command("SET", "k", "v", "EX", 100)
    assert rc.cmd("PUT", "k", "w") == "OK"
    assert r.ttl("k") == -1  # PUT behaves like a plain SET


def test_put_binary(rc):
    assert rc.cmd("PUT", b"a\x00b", b"\r\n\x00\xff") == "OK"
    assert rc.cmd("GET", b"a\x00b") == b"\r\n\x00\xff"


def test_put_arity(rc):
    assert rc.err("PUT", "k") == "ERR wrong number of arguments for 'put' command"
    assert rc.err("PUT", "k", "v", "x") == "ERR wrong number of arguments for 'put' command"


def test_delete(rc):
    for k in ("a", "b", "c"):
        assert rc.cmd("PUT", k, "1") == "OK"
    assert rc.cmd("DELETE", "a") == 1
    assert rc.cmd("DELETE", "a") == 0
    assert rc.cmd("DELETE", "b", "c", "nokey") == 2
    assert rc.cmd("SIZE") == 0
    assert rc.err("DELETE") == "ERR wrong number of arguments for 'delete' command"


def test_list(rc):
    assert rc.cmd("LIST") == []
    for k in ("user:1", "user:2", "item:1"):
        rc.cmd("PUT", k, "x")
    assert sorted(rc.cmd("LIST")) == [b"item:1", b"user:1", b"user:2"]
    assert sorted(rc.cmd("LIST", "user:*")) == [b"user:1", b"user:2"]
    assert rc.cmd("LIST", "item:?") == [b"item:1"]
    assert rc.cmd("LIST", "none*") == []


def test_size(rc):
    assert rc.cmd("SIZE") == 0
    for i in range(25):
        rc.cmd("PUT", "k%d" % i, "v")
    assert rc.cmd("SIZE") == 25
    assert rc.cmd("SIZE") == rc.cmd("DBSIZE")


def wal_kb(server):
    """The WAL's size in KB, rounded up, as STATS reports it."""
    size = os.path.getsize(os.path.join(server.data_dir, "kv_database.wal"))
    return (size + 1023) // 1024


def test_stats_format(server, rc):
    expected = "Storage: Local (%s), Parquet: 0KB, WAL: %dKB, In-memory: 0 keys, Pending: 0 ops"
    assert rc.cmd("STATS") == (expected % (server.data_dir, wal_kb(server))).encode()
    assert wal_kb(server) == 1  # a fresh WAL holds only its 16-byte header
    for i in range(7):
        rc.cmd("PUT", "k%d" % i, "v")
    # Pending counts the writes not yet in a snapshot (7 < the default interval of 50, so
    # no automatic snapshot has run).
    expected = "Storage: Local (%s), Parquet: 0KB, WAL: %dKB, In-memory: 7 keys, Pending: 7 ops"
    assert rc.cmd("STATS") == (expected % (server.data_dir, wal_kb(server))).encode()
    rc.cmd("PUT", "big", "x" * 5000)
    assert wal_kb(server) >= 6  # the WAL field follows the file as writes are logged
    assert ("WAL: %dKB" % wal_kb(server)).encode() in rc.cmd("STATS")


def test_help(rc):
    text = rc.cmd("HELP")
    assert isinstance(text, bytes)
    lines = [l.strip() for l in text.decode().splitlines() if l.strip()]
    assert "PUT key value" in lines or any(l.startswith("PUT key value") for l in lines)
    for name in ("PUT", "GET", "DELETE", "LIST", "SIZE", "STATS", "HELP", "QUIT", "SET", "SCAN"):
        assert any(re.match(r"^%s(\s|$)" % name, l) for l in lines), "HELP does not list %s" % name


def test_quit(server):
    s = server.raw()
    s.sendall(b"*1\r\n$4\r\nQUIT\r\n")
    data, closed = recv_until_closed(s, 5.0)
    assert data == b"+OK\r\n"
    assert closed
    s.close()
    c = RawClient(server.port)
    assert c.cmd("PING") == "PONG"
    c.close()


def test_quit_inline_lowercase(server):
    s = server.raw()
    s.sendall(b"quit\r\n")
    data, closed = recv_until_closed(s, 5.0)
    assert data == b"+OK\r\n" and closed
    s.close()


def test_case_insensitive(rc):
    assert rc.cmd("put", "a", "1") == "OK"
    assert rc.cmd("Put", "b", "2") == "OK"
    assert rc.cmd("pUT", "c", "3") == "OK"
    assert rc.cmd("get", "b") == b"2"
    assert sorted(rc.cmd("list")) == [b"a", b"b", b"c"]
    assert rc.cmd("size") == 3
    assert rc.cmd("Delete", "a", "b") == 2
    assert rc.cmd("stats").startswith(b"Storage: Local (")
    assert b"PUT" in rc.cmd("help")


def test_seed_commands_inline_like_nc(server):
    s = server.raw()
    s.settimeout(5)
    s.sendall(b'PUT greeting "Hello, World!"\r\n')
    assert recv_exact(s, 5) == b"+OK\r\n"
    s.sendall(b"GET greeting\r\n")
    assert recv_exact(s, 20) == b"$13\r\nHello, World!\r\n"
    s.sendall(b"SIZE\r\n")
    assert recv_exact(s, 4) == b":1\r\n"
    s.sendall(b"LIST\r\n")
    assert recv_exact(s, 18) == b"*1\r\n$8\r\ngreeting\r\n"
    s.sendall(b"LIST gr*\r\n")
    assert recv_exact(s, 18) == b"*1\r\n$8\r\ngreeting\r\n"
    s.sendall(b"DELETE greeting nokey\r\n")
    assert recv_exact(s, 4) == b":1\r\n"
    s.sendall(b"GET greeting\r\n")
    assert recv_exact(s, 5) == b"$-1\r\n"
    s.sendall(b"STATS\r\n")
    line = b""
    while not line.endswith(b"\r\n"):
        line += s.recv(1)
    n = int(line[1:-2])
    body = recv_exact(s, n + 2)
    assert body.startswith(b"Storage: Local (") and b"In-memory: 0 keys" in body
    s.sendall(b"QUIT\r\n")
    data, closed = recv_until_closed(s, 5.0)
    assert data == b"+OK\r\n" and closed
    s.close()


def test_seed_commands_via_nc(server):
    import shutil
    import subprocess
    if not shutil.which("nc"):
        pytest.skip("nc not installed")
    p = subprocess.run(["nc", "-q", "2", "127.0.0.1", str(server.port)],
                       input=b'PUT greeting "Hello, World!"\r\nGET greeting\r\nQUIT\r\n',
                       capture_output=True, timeout=15)
    assert p.stdout == b"+OK\r\n$13\r\nHello, World!\r\n+OK\r\n"
