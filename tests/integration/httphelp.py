"""Helpers for the HTTP API tests: a Panda server with its HTTP port open, curl, raw sockets.

    from httphelp import start_http, curl

    def test_x(server_factory, tmp_path):
        srv = start_http(server_factory)            # srv.http_port is set
        st, hdrs, body = curl(srv, "PUT", "/v1/kv/k", data=b"v")
        assert st == 201

The conftest keeps every other server's HTTP port closed (PANDA_HTTP_PORT=0).
"""
import json
import os
import socket
import subprocess
import tempfile

from conftest import free_port, recv_until_closed

CURL_TIMEOUT = 30


def start_http(server_factory, extra=(), env=None, **kw):
    """Starts a server with a free HTTP port (retrying if another process takes it first)."""
    last = None
    for _ in range(5):
        port = free_port()
        try:
            srv = server_factory(extra_args=["--http-port", str(port)] + list(extra), env=env, **kw)
        except AssertionError as e:
            last = e
            if "in use" not in str(e):
                raise
            continue
        srv.http_port = port
        return srv
    raise last


def curl(srv_or_port, method, path, data=None, headers=(), extra=(), timeout=CURL_TIMEOUT):
    """Runs curl; returns (status, {lower-case header: value}, body bytes). data: bytes."""
    port = getattr(srv_or_port, "http_port", srv_or_port)
    with tempfile.TemporaryDirectory() as d:
        hfile, bfile = os.path.join(d, "h"), os.path.join(d, "b")
        argv = ["curl", "-sS", "-X", method, "-D", hfile, "-o", bfile, "-w", "%{http_code}",
                "--max-time", str(timeout)]
        if method == "HEAD":  # (curl -I also writes the headers to the -o file)
            argv[2:4] = ["-I"]
        if data is not None:
            dfile = os.path.join(d, "data")
            with open(dfile, "wb") as f:
                f.write(data)
            argv += ["--data-binary", "@" + dfile]
        for h in headers:
            argv += ["-H", h]
        argv += list(extra) + ["http://127.0.0.1:%d%s" % (port, path)]
        p = subprocess.run(argv, capture_output=True, timeout=timeout + 10)
        assert p.returncode == 0, "curl %s %s failed: %r" % (method, path, p.stderr)
        status = int(p.stdout)
        hdrs = {}
        with open(hfile, "rb") as f:
            for line in f.read().decode("latin-1").split("\r\n"):  # the final response's
                if line.startswith("HTTP/"):
                    hdrs = {}
                elif ":" in line:
                    k, v = line.split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
        body = b""
        if os.path.exists(bfile):
            with open(bfile, "rb") as f:
                body = f.read()
        return status, hdrs, body


def curl_json(srv, method, path, **kw):
    st, hdrs, body = curl(srv, method, path, **kw)
    assert hdrs.get("content-type") == "application/json", (st, hdrs, body)
    return st, json.loads(body)


def raw_http(port, data, timeout=10.0):
    """Sends raw bytes, returns everything the server wrote until it closed (or timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out, _ = recv_until_closed(s, timeout)
        return out
    finally:
        s.close()


def status_of(response):
    """The status code of the first response in raw bytes."""
    return int(response.split(b" ", 2)[1])


def json_body(response):
    return json.loads(response.split(b"\r\n\r\n", 1)[1])
