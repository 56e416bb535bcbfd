"""Graceful shutdown on SIGTERM, SIGINT and SHUTDOWN (Panda only)."""
import signal
import socket
import time

import pytest

from conftest import RawClient, encode_command, recv_exact, recv_until_closed, wait_port_free

pytestmark = pytest.mark.panda_only


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero(server_factory, sig):
    srv = server_factory()
    c = RawClient(srv.port)
    assert c.cmd("SET", "a", "1") == "OK"
    rc = srv.stop(sig)
    assert rc == 0, srv.stderr_text()[-2000:]
    _, closed = recv_until_closed(c.sock, 5.0)
    assert closed
    c.close()
    assert wait_port_free(srv.port, 5.0), "port still bound after exit"


def test_signal_with_idle_clients(server_factory):
    srv = server_factory()
    clients = [RawClient(srv.port) for _ in range(20)]
    for c in clients:
        assert c.cmd("PING") == "PONG"
    assert srv.stop(signal.SIGTERM) == 0
    for c in clients:
        _, closed = recv_until_closed(c.sock, 5.0)
        assert closed
        c.close()


def test_shutdown_command(server_factory):
    srv = server_factory()
    other = RawClient(srv.port)
    assert other.cmd("PING") == "PONG"
    s = srv.raw()
    s.sendall(encode_command("SHUTDOWN"))
    data, closed = recv_until_closed(s, 10.0)
    s.close()
    assert closed, "connection not closed after SHUTDOWN"
    assert not data.startswith(b"-"), "SHUTDOWN replied with an error: %r" % data
    rc = srv.wait_exit(10.0)
    assert rc == 0, "server exit status %r after SHUTDOWN" % rc
    srv.stopped_rc = rc
    _, closed = recv_until_closed(other.sock, 5.0)
    assert closed
    other.close()
    assert wait_port_free(srv.port, 5.0)


def test_pipelined_replies_flushed_on_sigterm(server_factory):
    srv = server_factory()
    s = srv.raw()
    s.sendall(b"*1\r\n$4\r\nPING\r\n" * 1000)
    assert recv_exact(s, 7) == b"+PONG\r\n"
    srv.proc.send_signal(signal.SIGTERM)
    s.settimeout(10)
    rest = recv_exact(s, 7 * 999)
    assert rest == b"+PONG\r\n" * 999
    data, closed = recv_until_closed(s, 10.0)
    assert data == b"" and closed
    s.close()
    rc = srv.wait_exit(10.0)
    assert rc == 0
    srv.stopped_rc = rc
    assert wait_port_free(srv.port, 5.0)


def test_large_pending_reply_flushed_on_sigterm(server_factory):
    srv = server_factory()
    c = RawClient(srv.port)
    assert c.cmd("SET", "big", b"z" * 1000000) == "OK"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.settimeout(10)
    s.connect(("127.0.0.1", srv.port))
    s.sendall(encode_command("GET", "big") * 5)
    time.sleep(0.3)  # let the server queue ~5 MB it cannot write yet
    srv.proc.send_signal(signal.SIGTERM)
    one = b"$1000000\r\n" + b"z" * 1000000 + b"\r\n"
    got = recv_exact(s, len(one) * 5)
    assert got == one * 5
    s.close()
    c.close()
    rc = srv.wait_exit(10.0)
    assert rc == 0
    srv.stopped_rc = rc


def test_restart_on_same_port(server_factory):
    srv = server_factory()
    port = srv.port
    assert srv.stop(signal.SIGTERM) == 0
    assert wait_port_free(port, 5.0)
    server_factory(port=port)
    c = RawClient(port)
    assert c.cmd("PING") == "PONG"
    c.close()
