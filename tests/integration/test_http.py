"""The HTTP API (issue 7), driven with curl: every route, status code and error, keys and
values beside RESP, durability, limits and timeouts, malformed input."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import PANDA_BIN, free_port, launch, raw_connect, recv_until_closed
from httphelp import curl, curl_json, json_body, raw_http, start_http, status_of

pytestmark = pytest.mark.panda_only


@pytest.fixture
def srv(server_factory):
    return start_http(server_factory)


def test_health_and_ready(srv):
    assert curl_json(srv, "GET", "/health") == (200, {"status": "ok"})
    assert curl_json(srv, "GET", "/ready") == (200, {"status": "ready"})


def test_put_get_delete(srv):
    st, hdrs, body = curl(srv, "PUT", "/v1/kv/greeting", data=b"Hello, World!")
    assert (st, body) == (201, b"")
    st, hdrs, body = curl(srv, "GET", "/v1/kv/greeting")
    assert (st, body) == (200, b"Hello, World!")
    assert hdrs["content-type"] == "application/octet-stream"
    assert hdrs["content-length"] == "13"
    assert curl(srv, "PUT", "/v1/kv/greeting", data=b"again")[0] == 204
    assert curl(srv, "GET", "/v1/kv/greeting")[2] == b"again"
    assert curl(srv, "DELETE", "/v1/kv/greeting")[0] == 204
    assert curl_json(srv, "DELETE", "/v1/kv/greeting") == (404, {"error": "no such key"})
    assert curl_json(srv, "GET", "/v1/kv/greeting") == (404, {"error": "no such key"})


def test_head(srv):
    curl(srv, "PUT", "/v1/kv/h", data=b"12345")
    out = raw_http(srv.http_port, b"HEAD /v1/kv/h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(out) == 200 and b"Content-Length: 5\r\n" in out
    assert out.endswith(b"\r\n\r\n"), "a HEAD response has no body"
    assert curl(srv, "HEAD", "/health")[0] == 200


def test_keys_and_values_are_binary_safe_and_shared_with_resp(srv):
    r = srv.client()
    value = bytes(range(256)) * 3
    assert curl(srv, "PUT", "/v1/kv/a%00b%2Fc%20d%C3%A9", data=value)[0] == 201
    assert r.get(b"a\x00b/c d\xc3\xa9") == value
    r.set(b"\xff\x01 k/x", b"from resp")
    st, _, body = curl(srv, "GET", "/v1/kv/%FF%01%20k/x")
    assert (st, body) == (200, b"from resp")
    assert curl(srv, "PUT", "/v1/kv/empty", data=b"")[0] == 201
    assert r.get(b"empty") == b""
    assert curl(srv, "GET", "/v1/kv/empty")[:3:2] == (200, b"")
    assert curl(srv, "PUT", "/v1/kv/", data=b"empty key")[0] == 201
    assert r.get(b"") == b"empty key"


def test_put_with_ttl(srv):
    r = srv.client()
    assert curl(srv, "PUT", "/v1/kv/t?ttl=100", data=b"v")[0] == 201
    assert 0 < r.ttl(b"t") <= 100
    assert curl(srv, "PUT", "/v1/kv/t", data=b"w")[0] == 204
    assert r.ttl(b"t") == -1, "a PUT without ttl drops the TTL, as SET does"
    for bad in ("0", "-5", "abc", "", "99999999999999999999"):
        st, body = curl_json(srv, "PUT", "/v1/kv/t?ttl=" + bad, data=b"x")
        assert st == 400 and "ttl" in body["error"]
    assert r.get(b"t") == b"w"


def test_list_by_prefix_with_pages(srv):
    r = srv.client()
    want = {b"p:%03d" % i for i in range(57)}
    for k in want:
        r.set(k, b"1")
    for i in range(30):
        r.set(b"other:%d" % i, b"1")
    got, cursor, pages = [], None, 0
    while True:
        q = "/v1/kv?prefix=p%3A&limit=10" + ("&cursor=" + cursor if cursor else "")
        st, body = curl_json(srv, "GET", q)
        assert st == 200 and len(body["keys"]) <= 10
        got += body["keys"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and pages < 100
    assert sorted(k.encode() for k in got) == sorted(want) and len(got) == len(want)
    st, body = curl_json(srv, "GET", "/v1/kv")
    assert st == 200 and len(body["keys"]) == 87 and body["next_cursor"] is None
    st, body = curl_json(srv, "GET", "/v1/kv?prefix=nothing")
    assert body == {"keys": [], "next_cursor": None}


def test_list_bad_parameters(srv):
    for q in ("limit=0", "limit=1001", "limit=x", "cursor=abc", "cursor=-1", "prefix=%zz"):
        st, body = curl_json(srv, "GET", "/v1/kv?" + q)
        assert st == 400 and body["error"], q


def test_list_shows_binary_keys_as_json(srv):
    r = srv.client()
    r.set(b"b:caf\xc3\xa9", b"1")
    r.set(b"b:\xff\"", b"1")
    raw = curl(srv, "GET", "/v1/kv?prefix=b%3A")[2]
    assert sorted(json.loads(raw)["keys"]) == ["b:caf\u00e9", "b:\u00ff\""]
    assert b"\\u00ff" in raw


def test_stats(srv):
    r = srv.client()
    for i in range(5):
        r.set("s%d" % i, "v")
    st, body = curl_json(srv, "GET", "/v1/stats")
    assert st == 200
    assert body["storage"] == "local" and body["keys"] == 5 and body["data_dir"] == srv.data_dir
    assert body["wal_bytes"] > 0 and body["pending_ops"] >= 0 and body["parquet_bytes"] >= 0
    assert b"In-memory: 5 keys" in r.execute_command("STATS")


def test_unknown_routes_and_methods(srv):
    assert curl_json(srv, "GET", "/nope") == (404, {"error": "no such route"})
    st, hdrs, body = curl(srv, "POST", "/v1/kv/x", data=b"v")
    assert (st, hdrs["allow"]) == (405, "GET, HEAD, PUT, DELETE")
    assert json.loads(body)["error"]
    for path in ("/health", "/ready", "/metrics", "/v1/stats", "/v1/kv"):
        st, hdrs, _ = curl(srv, "PUT", path, data=b"x")
        assert (st, hdrs["allow"]) == (405, "GET, HEAD"), path
    st, body = curl_json(srv, "GET", "/v1/kv/bad%zzkey")
    assert st == 400 and "percent" in body["error"]


def test_malformed_requests_get_json_errors(srv):
    cases = [
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET /health HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET health HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),  # TLS hello
        (b"GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
        (b"PUT /v1/kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"PUT /v1/kv/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
        (b"PUT /v1/kv/k HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nv", 417),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
    ]
    for req, want in cases:
        out = raw_http(srv.http_port, req)
        assert status_of(out) == want, (req[:60], out[:200])
        assert b"Connection: close" in out and json_body(out)["error"]
    assert srv.client().ping()
    assert curl(srv, "GET", "/health")[0] == 200


def test_chunked_upload_with_curl_is_refused(srv):
    st, body = curl_json(srv, "PUT", "/v1/kv/c", data=b"v", headers=["Transfer-Encoding: chunked"])
    assert st == 411 and "Content-Length" in body["error"]


def test_body_limit(server_factory):
    srv = start_http(server_factory, extra=["--max-bulk-bytes", "1000"])
    assert curl(srv, "PUT", "/v1/kv/k", data=b"x" * 1000)[0] == 201
    st, body = curl_json(srv, "PUT", "/v1/kv/k", data=b"x" * 1001)
    assert st == 413 and body["error"]
    assert srv.client().get("k") == b"x" * 1000


def test_large_value_and_expect_continue(srv):
    value = os.urandom(3 << 20)  # curl sends Expect: 100-continue for bodies this large
    assert curl(srv, "PUT", "/v1/kv/big", data=value, headers=["Expect: 100-continue"])[0] == 201
    assert curl(srv, "GET", "/v1/kv/big")[2] == value
    assert srv.client().get("big") == value


def test_keep_alive_and_pipelining(srv):
    s = raw_connect(srv.http_port)
    reqs = (b"PUT /v1/kv/p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /v1/kv/p HTTP/1.1\r\nHost: x\r\n\r\n"
            b"DELETE /v1/kv/p HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v1/kv/p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    for i in range(0, len(reqs), 7):  # in small pieces, to exercise partial heads and bodies
        s.sendall(reqs[i:i + 7])
    out, closed = recv_until_closed(s, 10)
    s.close()
    assert closed
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", out)]
    assert statuses == [201, 200, 204, 404]
    assert b"\r\n\r\nabc" in out


def test_http10_closes_unless_keep_alive(srv):
    out = raw_http(srv.http_port, b"GET /health HTTP/1.0\r\n\r\n")
    assert status_of(out) == 200 and b"Connection: close" in out
    s = raw_connect(srv.http_port)
    s.sendall(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    s.settimeout(10)
    first = s.recv(4096)
    assert b"Connection: keep-alive" in first
    s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
    out, closed = recv_until_closed(s, 10)
    s.close()
    assert closed and status_of(out) == 200


def test_put_is_durable_across_kill(server_factory):
    srv = start_http(server_factory)
    for i in range(20):
        assert curl(srv, "PUT", "/v1/kv/d%d" % i, data=b"v%d" % i)[0] == 201
    assert curl(srv, "DELETE", "/v1/kv/d0")[0] == 204
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.stopped_rc = 0
    again = start_http(server_factory, data_dir=srv.data_dir)
    assert curl(again, "GET", "/v1/kv/d0")[0] == 404
    for i in range(1, 20):
        assert curl(again, "GET", "/v1/kv/d%d" % i)[2] == b"v%d" % i


def test_max_connections(server_factory):
    srv = start_http(server_factory, extra=["--http-max-clients", "2"])
    held = []
    for _ in range(2):
        s = raw_connect(srv.http_port)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        held.append(s)
    out = raw_http(srv.http_port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(out) == 503 and "connections" in json_body(out)["error"]
    held.pop().close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the server notices the close on its next loop
        if curl(srv, "GET", "/health")[0] == 200:
            break
        time.sleep(0.05)
    else:
        pytest.fail("a connection slot did not free up")


def test_slow_and_idle_clients_time_out(server_factory):
    srv = start_http(server_factory, extra=["--http-timeout", "0.5"])
    slow = raw_connect(srv.http_port)
    slow.sendall(b"GET /health HTTP/1.1\r\nHo")  # never finishes its head
    idle = raw_connect(srv.http_port)
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    out, closed = recv_until_closed(slow, 20)
    assert closed and status_of(out) == 408 and json_body(out)["error"]
    out, closed = recv_until_closed(idle, 20)
    assert closed and status_of(out) == 200
    for s in (slow, idle):
        s.close()
    assert curl(srv, "GET", "/health")[0] == 200


def test_garbage_never_crashes(srv):
    rnd = random.Random(11)
    pieces = [b"GET ", b"PUT ", b"/v1/kv/", b"%", b"%4", b"?ttl=", b" HTTP/1.1", b"\r\n", b"\n",
              b"Host: x", b"Content-Length: ", b"5", b"\x00", b"\xff", b":", b" ", b"\r\n\r\n"]
    for _ in range(200):
        data = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30)))
        s = raw_connect(srv.http_port, timeout=5)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        recv_until_closed(s, 5)
        s.close()
    assert curl(srv, "GET", "/health")[0] == 200
    assert srv.client().ping()


def test_http_port_from_environment(server_factory):
    port = free_port()
    srv = server_factory(env={"PANDA_HTTP_PORT": str(port)})
    assert curl(port, "GET", "/health")[0] == 200
    assert srv.client().ping()


def test_http_port_in_use_fails(server_factory, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        h = launch(tmp_path, extra_args=["--http-port", str(port)], wait=False)
        assert h.wait_exit(20) not in (None, 0)
        assert str(port) in h.stderr_text()
    finally:
        taken.close()


@pytest.mark.parametrize("args", [["--http-port", "70000"], ["--http-port", "x"],
                                  ["--http-max-clients", "0"], ["--http-timeout", "0"]])
def test_bad_http_settings_exit_2(tmp_path, args):
    p = subprocess.run([PANDA_BIN] + args + ["--data-dir", str(tmp_path / "d")],
                       capture_output=True, timeout=10)
    assert p.returncode == 2 and args[0][2:] in p.stderr.decode()
    help_text = subprocess.run([PANDA_BIN, "--help"], capture_output=True, timeout=10).stdout
    assert b"PANDA_HTTP_PORT" in help_text and b"--http-timeout" in help_text


def test_info_http_section(srv, server_factory):
    for _ in range(3):
        assert curl(srv, "GET", "/health")[0] == 200
    assert curl(srv, "GET", "/v1/kv/missing")[0] == 404
    info = srv.client().info("http")
    assert info["http_port"] == srv.http_port
    assert info["http_total_requests"] == 4
    assert info["http_total_connections_received"] == 4  # curl: one connection per run
    assert info["http_connected_clients"] in (0, 1)  # the last curl may not be closed yet
    assert info["http_rejected_connections"] == 0 and info["http_timeouts"] == 0
    assert "http_port" in srv.client().info("all")
    off = server_factory(extra_args=["--http-port", "0"])
    assert off.client().info("http") == {"http_port": 0}
