"""GET /metrics checked by promtool (Debian's prometheus package), its values after known
activity, S3's metrics, and a wrk run at 100 connections without errors."""
import re
import shutil
import subprocess
import time

import pytest

from httphelp import curl, start_http
from s3help import s3server  # noqa: F401 (fixture)

pytestmark = pytest.mark.panda_only


def need(tool, package):
    if not shutil.which(tool):
        pytest.skip("%s not installed (Debian package %s; scripts/deps.sh test)" % (tool, package))


def metrics(srv):
    st, hdrs, body = curl(srv, "GET", "/metrics")
    assert st == 200
    assert hdrs["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return body


def promtool_ok(body):
    need("promtool", "prometheus")
    p = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       timeout=60)
    assert p.returncode == 0 and not p.stdout.strip(), (p.stdout, p.stderr)


def value(text, sample):
    m = re.search(r"^%s (\S+)$" % re.escape(sample), text, re.M)
    assert m, "no sample %s in\n%s" % (sample, text[:3000])
    return float(m.group(1))


def test_metrics_pass_promtool_and_count_what_happened(server_factory):
    # fsync always, whatever policy the suite runs under: the fsync histogram must have counts.
    srv = start_http(server_factory, extra=["--fsync", "always"])
    r = srv.client()
    r.set("a", "x")
    r.get("a")
    with pytest.raises(Exception):
        r.execute_command("INCR", "a")
    with pytest.raises(Exception):
        r.execute_command("NOSUCHCOMMAND")
    r.execute_command("SAVE")
    assert curl(srv, "PUT", "/v1/kv/b", data=b"1")[0] == 201
    assert curl(srv, "GET", "/v1/kv/missing")[0] == 404
    body = metrics(srv)
    promtool_ok(body)
    text = body.decode()
    assert value(text, 'panda_commands_total{cmd="set"}') == 1
    assert value(text, 'panda_command_errors_total{cmd="incr"}') == 1
    assert value(text, "panda_unknown_commands_total") == 1
    assert value(text, 'panda_command_duration_seconds_count{cmd="get"}') == 1
    assert value(text, 'panda_command_duration_seconds_bucket{cmd="get",le="+Inf"}') == 1
    assert value(text, "panda_connected_clients") >= 1
    assert value(text, "panda_keys") == 2
    assert value(text, "panda_memory_used_bytes") > 0
    assert value(text, "panda_wal_bytes") > 0
    assert value(text, "panda_wal_fsync_duration_seconds_count") >= 1
    assert value(text, "panda_snapshots_total") >= 1
    assert value(text, "panda_snapshot_last_size_bytes") > 0
    assert value(text, "panda_snapshot_last_duration_seconds") >= 0
    assert value(text, "panda_s3_enabled") == 0
    assert value(text, "panda_uptime_seconds") >= 0
    assert value(text, 'panda_http_requests_total{route="kv_put",code="201"}') == 1
    assert value(text, 'panda_http_requests_total{route="kv_get",code="404"}') == 1
    assert value(text, "panda_http_request_duration_seconds_count") >= 2


def test_s3_metrics(s3server, server_factory):
    srv = start_http(server_factory, env=s3server.env())
    srv.client().set("k", "v")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = metrics(srv).decode()
        if value(text, 'panda_s3_requests_total{kind="put"}') >= 2:
            break
        time.sleep(0.2)
    else:
        pytest.fail("no S3 PUT counted")
    promtool_ok(text.encode())
    assert value(text, "panda_s3_enabled") == 1
    assert value(text, "panda_s3_up") == 1
    assert value(text, "panda_s3_errors_total") >= 0
    assert value(text, "panda_s3_backlog_bytes") >= 0


def test_wrk_100_connections_without_errors(server_factory):
    need("wrk", "wrk")
    srv = start_http(server_factory)
    assert curl(srv, "PUT", "/v1/kv/bench", data=b"v" * 32)[0] == 201
    p = subprocess.run(["wrk", "-t2", "-c100", "-d2s",
                        "http://127.0.0.1:%d/v1/kv/bench" % srv.http_port],
                       capture_output=True, timeout=120)
    out = p.stdout.decode()
    assert p.returncode == 0, out + p.stderr.decode()
    assert "Socket errors" not in out and "Non-2xx" not in out, out
    assert int(re.search(r"(\d+) requests in", out).group(1)) > 0, out
    assert curl(srv, "GET", "/health")[0] == 200
