"""Readiness over HTTP: /health and /ready while recovery runs (answered by the start-up
responder before the RESP port opens), and 503 for /ready and writes while the WAL cannot be
written."""
import os
import socket
import threading
import time

import pytest

from conftest import PANDA_BIN, free_port, wait_ping
from httphelp import curl, curl_json, start_http

pytestmark = pytest.mark.panda_only


def poll(fn, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail("timed out waiting for " + what)


def test_ready_is_503_while_recovery_runs(server_factory):
    # A fake S3 endpoint that accepts the manifest request and holds it: the server is stuck
    # in the "restoring from S3" phase of recovery until the test lets go.
    fake = socket.socket()
    fake.bind(("127.0.0.1", 0))
    fake.listen(4)
    fake.settimeout(30)
    http_port = free_port()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "PANDA_HTTP_PORT": str(http_port)}
    srv = server_factory(extra_args=["--s3-bucket", "panda-test", "--s3-endpoint",
                                     "http://127.0.0.1:%d" % fake.getsockname()[1]],
                         env=env, wait=False)
    held, _ = fake.accept()
    try:
        assert curl_json(http_port, "GET", "/health") == (200, {"status": "ok"})
        st, body = curl_json(http_port, "GET", "/ready")
        assert st == 503 and body["status"] == "not ready"
        assert "restoring from S3" in body["reason"]
        st, body = curl_json(http_port, "GET", "/v1/kv/x")
        assert st == 503 and "starting" in body["error"]
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
    finally:
        held.close()  # S3 "fails": the server starts without it (a warning)
        fake.close()
    ok, why = wait_ping(srv.proc, srv.port, 30)
    assert ok, why
    poll(lambda: curl(http_port, "GET", "/ready")[0] == 200, "/ready to turn 200")
    assert curl(http_port, "PUT", "/v1/kv/x", data=b"1")[0] == 201


FAULTFS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(PANDA_BIN))), "build",
                       "faultfs.so")


def test_writes_get_503_while_the_wal_cannot_be_written(server_factory, tmp_path):
    if "asan" in os.path.basename(PANDA_BIN) or not os.path.exists(FAULTFS):
        pytest.skip("needs build/faultfs.so and the release build (LD_PRELOAD shim)")
    flag = tmp_path / "disk-full"
    env = {"LD_PRELOAD": FAULTFS, "FAULTFS_ENOSPC_AT": "1", "FAULTFS_ENOSPC_FLAG": str(flag),
           "FAULTFS_ENOSPC_OPS": "write"}
    # Held responses are fsync always's promise (everysec and no answer before the write).
    srv = start_http(server_factory, extra=["--fsync", "always"], env=env)
    assert curl(srv, "PUT", "/v1/kv/a", data=b"1")[0] == 201
    flag.touch()
    result = {}
    # Executed, but its record cannot be written: no answer until the disk takes it.
    t = threading.Thread(target=lambda: result.update(put=curl(srv, "PUT", "/v1/kv/b", data=b"2")))
    t.start()
    st, body = poll(lambda: (lambda r: r if r[0] == 503 else None)(curl_json(srv, "GET", "/ready")),
                    "/ready to turn 503")
    assert "cannot write its WAL" in body["reason"]
    st, body = curl_json(srv, "PUT", "/v1/kv/c", data=b"3")
    assert st == 503 and "refused" in body["error"]
    st, body = curl_json(srv, "DELETE", "/v1/kv/a")
    assert st == 503
    assert curl(srv, "GET", "/v1/kv/a")[:3:2] == (200, b"1"), "reads keep working"
    assert "put" not in result, "the write was acknowledged before its record was written"
    flag.unlink()
    t.join(30)
    assert result["put"][0] == 201
    poll(lambda: curl(srv, "GET", "/ready")[0] == 200, "/ready to turn 200 again")
    assert curl(srv, "PUT", "/v1/kv/c", data=b"3")[0] == 201
    assert srv.client().mget("a", "b", "c") == [b"1", b"2", b"3"]
