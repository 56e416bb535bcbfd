"""Panda's S3 backend against a real S3-compatible server on loopback (s3help.py: s3rver with
SigV4 checking, conditional writes, a 503 switch and a request log).

What is proved, end to end, with the bucket inspected through boto3 and independent readers
(walfile.py for WAL segments, panda-check-parquet and DuckDB for snapshots):

  * layout: the manifest, the Parquet snapshot and the WAL segments land in the bucket, hold
    exactly the server's data, objects the manifest drops are deleted, and shipping costs a
    few requests per interval, not one per write;
  * restore: a server with an empty data dir rebuilds every key, value and TTL from S3 (also
    after outages, kill -9 and a lease takeover);
  * failures: wrong credentials, S3 down at start or mid-run, 503s - the server keeps serving,
    says "degraded" (STATS, INFO) and catches up when S3 answers again;
  * the backlog bound refuses writes (reads still work) and lifts once S3 catches up;
  * ownership: a second server on the same prefix refuses to start until the first released
    it (clean shutdown) or its lease ran out (kill -9); a server whose manifest is replaced
    behind its back stops writing to S3; a partitioned ex-owner cannot overwrite the new
    owner's objects; data of another history is never mixed into the prefix;
  * large snapshots go up as multipart uploads, byte for byte;
  * configuration: credentials, bucket, region fallbacks, endpoint fallbacks, prefix checks.

Faults S3 itself cannot be told to make (503 on some requests only, slow part uploads, a
partitioned server) come from FaultProxy, an HTTP proxy in front of s3rver that passes
requests through unchanged (SigV4 stays valid) unless its rule says otherwise.
"""
import http.client
import http.server
import os
import random
import re
import signal
import threading
import time
import urllib.parse

import pytest

import interop
import walfile
from conftest import RawClient
from s3help import S3Error, error_code, have_s3, s3server  # noqa: F401  (s3server is a fixture)
from snaphelp import SNAP_FILE, SNAP_OFF, check_parquet, info, load_keys, bulk_value, wait_for

ok, why = have_s3()
if not ok:
    pytest.skip(why, allow_module_level=True)

import botocore.exceptions  # noqa: E402

pytestmark = pytest.mark.panda_only

PREFIX = "panda/"
# Ship every 0.1 s, upload every new local snapshot at once; local snapshots only on SAVE.
FAST = ["--s3-wal-interval", "0.1", "--s3-snapshot-interval", "0"] + SNAP_OFF
MIB = 1024 * 1024
HOUR_MS = 3600 * 1000


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No AWS_* / PANDA_* variable of the machine running the tests leaks into the servers."""
    for k in list(os.environ):
        if k.startswith("AWS_") or k.startswith("PANDA_S3") or k == "PANDA_USE_S3":
            monkeypatch.delenv(k, raising=False)


# --------------------------------------------------------------------------- helpers

def start(server_factory, s3, extra=(), env=None, data_dir=None, prefix=PREFIX, fast=True):
    """A Panda server using s3 (FAST settings unless fast=False); returns (handle, RawClient)."""
    e = s3.env(prefix=prefix)
    e.update(env or {})
    args = (FAST if fast else []) + list(extra)
    kw = {} if data_dir is None else {"data_dir": data_dir}
    h = server_factory(extra_args=args, env=e, **kw)
    return h, RawClient(h.port, timeout=60)


def start_refused(server_factory, env, extra=(), data_dir=None, timeout=20.0):
    """Starts a server that must exit; returns (exit status, stderr)."""
    kw = {} if data_dir is None else {"data_dir": data_dir}
    h = server_factory(extra_args=list(extra), env=env, wait=False, **kw)
    h.expect_nonzero_exit = True
    rc = h.wait_exit(timeout)
    if rc is None:
        h.stop(signal.SIGKILL)
        raise AssertionError("server did not exit within %.0fs\n%s" % (timeout, h.stderr_text()[-3000:]))
    return rc, h.stderr_text()


def stats(rc):
    v = rc.cmd("STATS")
    assert isinstance(v, bytes), v
    return v.decode()


def is_err(v):
    return isinstance(v, Exception)


_clients = {}


def _retrying(fn, what):
    """s3rver (the harness) is not atomic for a read racing an overwrite of the same key: the
    GET may fail with InternalError or hang. Real S3 is; retry such reads here."""
    for attempt in range(20):
        try:
            return fn()
        except (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ClientError) as e:
            if isinstance(e, botocore.exceptions.ClientError) and error_code(e)[1] != "InternalError":
                raise
            if attempt == 19:
                raise AssertionError("%s kept failing: %r" % (what, e))
            time.sleep(0.05)


def get_bytes(s3, key):
    """s3.get_bytes with a short timeout, retried over the harness's read/overwrite races."""
    c = _clients.get(s3.endpoint)
    if c is None:
        c = _clients[s3.endpoint] = s3.client(timeout=1.5)

    def get():
        try:
            return c.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as e:
            if error_code(e)[1] in ("NoSuchKey", "404"):
                return None
            raise
    return _retrying(get, "GET " + key)


def list_keys(s3, prefix):
    return _retrying(lambda: s3.list_keys(prefix), "LIST " + prefix)


ID = r"[0-9a-f]{32}"


def read_manifest(s3, prefix=PREFIX):
    """The manifest as {"history", "writer", "released", "last_lsn", "snapshot": (key, lsn,
    bytes) | None, "segments": [(key, first, last, bytes)], "text"}, or None when there is
    none. Checks the format (docs/FORMATS.md, "Manifest") on the way."""
    data = get_bytes(s3, prefix + "manifest")
    if data is None:
        return None
    text = data.decode()
    assert text.endswith("\n"), text
    lines = text.splitlines()
    assert lines[0] == "panda-manifest 1", text
    m = {"history": None, "writer": None, "released": False, "last_lsn": None, "snapshot": None,
         "segments": [], "text": text}
    p = re.escape(prefix)
    for line in lines[1:]:
        w = line.split()
        if w[0] in ("history", "writer"):
            assert len(w) == 2 and re.fullmatch(ID, w[1]), text
            m[w[0]] = w[1]
        elif w == ["released"]:
            m["released"] = True
        elif w[0] == "last_lsn":
            m["last_lsn"] = int(w[1])
        elif w[0] == "snapshot":
            assert m["snapshot"] is None, text
            m["snapshot"] = (w[1], int(w[2]), int(w[3]))
            assert re.fullmatch(p + r"snapshots/%020d-%s\.parquet" % (int(w[2]), ID), w[1]), text
        elif w[0] == "segment":
            seg = (w[1], int(w[2]), int(w[3]), int(w[4]))
            assert re.fullmatch(p + r"wal/%020d-%020d-%s\.wal" % (seg[1], seg[2], ID), w[1]), text
            m["segments"].append(seg)
        else:
            raise AssertionError("unexpected manifest line %r in\n%s" % (line, text))
    assert m["writer"] and m["history"] and m["last_lsn"] is not None, text
    return m


def object_writer(key):
    """The writer id an object name carries."""
    return re.search(r"-(%s)\.(parquet|wal)$" % ID, key).group(1)


def manifest_objects(m):
    return sorted(([m["snapshot"][0]] if m["snapshot"] else []) + [s[0] for s in m["segments"]])


def read_ids(h_or_dir):
    """(server id, history id or None) from the data dir's kv_database.id."""
    d = h_or_dir if isinstance(h_or_dir, str) else h_or_dir.data_dir
    with open(os.path.join(d, "kv_database.id")) as f:
        text = f.read()
    mt = re.fullmatch(r"server (%s)\nhistory (%s|-)\n" % (ID, ID), text)
    assert mt, repr(text)
    return mt.group(1), None if mt.group(2) == "-" else mt.group(2)


def server_id(h_or_dir):
    return read_ids(h_or_dir)[0]


def wait_caught_up(rc, timeout=30.0):
    """Polls INFO until S3 holds every record (s3_lsn == wal_last_lsn, empty backlog, ok)."""
    def done():
        f = info(rc)
        if (f["s3_status"] == "ok" and f["s3_lsn"] == f["wal_last_lsn"]
                and f["s3_backlog_bytes"] == "0"):
            return f
        return None
    try:
        return wait_for(done, timeout, "S3 to catch up", interval=0.05)
    except AssertionError as e:
        raise AssertionError("%s; last INFO: %r" % (e, info(rc)))


def wait_manifest(s3, pred, timeout=30.0, what="the manifest", prefix=PREFIX):
    def get():
        m = read_manifest(s3, prefix)
        return m if m is not None and pred(m) else None
    try:
        return wait_for(get, timeout, what, interval=0.05)
    except AssertionError as e:
        raise AssertionError("%s; manifest now:\n%s" % (e, (read_manifest(s3, prefix) or {}).get("text")))


def dump(c):
    """{key: (value, expire_at_ms or None)} of every key, through a redis-py client."""
    keys = c.keys("*")
    p = c.pipeline(transaction=False)
    for k in keys:
        p.get(k)
        p.execute_command("PEXPIRETIME", k)
    r = p.execute()
    out = {}
    for i, k in enumerate(keys):
        v, e = r[2 * i], r[2 * i + 1]
        if v is not None:
            out[k] = (v, None if e == -1 else e)
    return out


def bucket_state(s3, prefix=PREFIX, m=None):
    """What the bucket holds, read independently of Panda: the snapshot (panda-check-parquet)
    with the segments (walfile.py) applied. Returns ({key: (value, expire or None)}, manifest)."""
    m = m or read_manifest(s3, prefix)
    state = {}
    covered = 0
    if m["snapshot"]:
        key, lsn, size = m["snapshot"]
        data = get_bytes(s3, key)
        assert data is not None and len(data) == size, (key, size, None if data is None else len(data))
        path = os.path.join(s3.root, "check-%d.parquet" % lsn)
        with open(path, "wb") as f:
            f.write(data)
        st, fields, rows, text = check_parquet(path, dump=True)
        assert st == 0, text
        assert int(fields.get("panda_wal_lsn", lsn)) == lsn, fields
        state = dict(rows)
        covered = lsn
    expect = None
    for key, first, last, size in m["segments"]:
        data = get_bytes(s3, key)
        assert data is not None and len(data) == size, (key, size)
        sc = walfile.scan(data)
        assert sc.damage == walfile.CLEAN and sc.marker is None, (key, sc)
        assert sc.first_lsn == first and sc.last_lsn == last, (key, sc)
        assert expect is None or first == expect, "segments do not run on: %s" % m["text"]
        assert first <= covered + 1, "a gap between the snapshot and %s" % key
        expect = last + 1
        for rec in sc.records:
            if rec.lsn <= covered:
                continue
            for op in rec.ops:
                if op.op == walfile.OP_SET:
                    state[op.key] = (op.value, None if op.expire_ms == -1 else op.expire_ms)
                elif op.op == walfile.OP_DEL:
                    state.pop(op.key, None)
                else:
                    state.clear()
            covered = rec.lsn
    assert covered == m["last_lsn"], "the bucket holds up to LSN %d, the manifest says %d" % (covered, m["last_lsn"])
    return state, m


def s3_up(s3):
    """Starts the stopped S3 server again on its port (retrying while the port is held)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return s3.start()
        except S3Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "expect", "te", "upgrade"}
SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message></Error>')


class FaultProxy:
    """An HTTP proxy in front of the S3 server that passes requests through unchanged (Host
    included, so SigV4 signatures stay valid) unless rule(method, path, query) says otherwise:
    ("fail", status) answers an S3 error without forwarding, ("delay", seconds) forwards late."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.rule = lambda method, path, query: None
        self.log = []
        self.capture = None   # a list: (method, path, headers, body) of every request
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                u = urllib.parse.urlsplit(self.path)
                path = urllib.parse.unquote(u.path)
                query = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                action = proxy.rule(self.command, path, query)
                proxy.log.append((self.command, path, query, action))
                if proxy.capture is not None:
                    proxy.capture.append((self.command, path,
                                          {k.lower(): v for k, v in self.headers.items()}, body))
                if action and action[0] == "fail":
                    self.send_response_only(action[1])
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOWDOWN)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(SLOWDOWN)
                    return
                if action and action[0] == "delay":
                    time.sleep(action[1])
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=60)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in self.headers.items():
                        if k.lower() not in HOP:
                            conn.putheader(k, v)
                    conn.endheaders(body if body else None)
                    r = conn.getresponse()
                    data = r.read()
                except OSError:
                    self.close_connection = True
                    return
                finally:
                    conn.close()
                self.send_response_only(r.status, r.reason)
                for k, v in r.getheaders():
                    if k.lower() not in HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                if self.command == "HEAD":
                    self.send_header("Content-Length", r.getheader("Content-Length") or "0")
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(s3server):
    """A FaultProxy in front of s3server (no faults until its rule says so)."""
    p = FaultProxy(s3server.port)
    yield p
    p.close()


def put_count(reqs):
    return sum(1 for r in reqs if r["method"] == "PUT")


# --------------------------------------------------------------------------- 1. layout

def test_snapshot_and_segments_land_in_the_bucket(s3server, server_factory):
    """Keys written, SAVE, more keys: the manifest lists the snapshot (LSN of the SAVE) and the
    segments after it; the objects exist, the snapshot equals the local Parquet file byte for
    byte, the segments parse as WAL records holding exactly the later writes, last_lsn equals
    INFO wal_last_lsn, and the bucket's contents equal the server's keyspace. A second SAVE
    replaces the snapshot and the objects the manifest no longer lists are deleted. 2,000
    SETs spread over about a second cost a handful of PUTs (segment + manifest per interval),
    not one per write."""
    h, rc = start(server_factory, s3server, extra=["--s3-wal-interval", "0.2"])
    c = h.client()
    for i in range(200):
        c.set(b"a:%d" % i, b"va-%d" % i)
    assert c.execute_command("SAVE") in (b"OK", True)
    snap_lsn = int(info(rc)["snapshot_last_lsn"])
    assert snap_lsn == 200
    for i in range(100):
        c.set(b"b:%d" % i, b"vb-%d" % i)
    c.delete(b"a:0")
    f = wait_caught_up(rc)
    last = int(f["wal_last_lsn"])
    assert last == 301
    m = wait_manifest(s3server, lambda m: m["last_lsn"] == last and m["snapshot"] is not None,
                      what="manifest with snapshot and last_lsn %d" % last)
    assert m["writer"] == server_id(h)
    assert m["snapshot"][1] == snap_lsn
    assert f["s3_snapshot_lsn"] == str(snap_lsn) and f["s3_lsn"] == str(last)
    assert int(f["s3_snapshots_uploaded"]) == 1 and int(f["s3_segments_uploaded"]) >= 1, f
    assert m["segments"], m["text"]
    assert m["segments"][-1][2] == last and m["segments"][0][1] <= snap_lsn + 1, m["text"]

    # The objects: exactly the manifest's (the segments before the snapshot are gone).
    assert list_keys(s3server, PREFIX) == sorted(manifest_objects(m) + [PREFIX + "manifest"])
    with open(os.path.join(h.data_dir, SNAP_FILE), "rb") as fh:
        assert get_bytes(s3server, m["snapshot"][0]) == fh.read()

    # The segments hold the records after the snapshot: the b: keys and the DEL.
    after = []
    for key, first, seg_last, size in m["segments"]:
        sc = walfile.scan(get_bytes(s3server, key))
        assert sc.damage == walfile.CLEAN, sc
        after += [r for r in sc.records if r.lsn > snap_lsn]
    assert [r.lsn for r in after] == list(range(snap_lsn + 1, last + 1))
    ops = [op.as_tuple() for r in after for op in r.ops]
    assert ops == [("SET", b"b:%d" % i, b"vb-%d" % i, -1) for i in range(100)] + [("DEL", b"a:0")]

    state, _ = bucket_state(s3server, m=m)
    assert state == dump(c) and len(state) == 299

    # A second snapshot replaces the first; the old snapshot and the segments are deleted.
    assert c.execute_command("SAVE") in (b"OK", True)
    m2 = wait_manifest(s3server, lambda m: m["snapshot"] is not None and m["snapshot"][1] == last,
                       what="the second snapshot")
    assert m2["segments"] == [] and m2["last_lsn"] == last, m2["text"]
    wait_for(lambda: list_keys(s3server, PREFIX) == sorted([m2["snapshot"][0], PREFIX + "manifest"]), 15,
             "the objects the manifest dropped to be deleted")
    assert int(info(rc)["s3_requests_delete"]) >= 2

    # Request economy: ~2,000 writes spread over ~1 s.
    s3server.clear_requests()
    t0 = time.monotonic()
    p = c.pipeline(transaction=False)
    for batch in range(20):
        for i in range(100):
            p.set(b"c:%d:%d" % (batch, i), b"x" * 20)
        p.execute()
        time.sleep(0.05)
    f = wait_caught_up(rc)
    elapsed = time.monotonic() - t0
    assert int(f["wal_last_lsn"]) == last + 2000
    reqs = s3server.requests()
    puts = put_count(reqs)
    intervals = elapsed / 0.2
    assert puts <= 2 * (intervals + 2), "%d PUTs in %.2fs for 2,000 writes: %r" % (puts, elapsed, reqs)
    assert 2 <= puts < 100, puts
    segs = [r for r in reqs if r["method"] == "PUT" and "/wal/" in r["path"]]
    assert len(segs) >= 2, "the writes were not shipped as they came: %r" % reqs
    state, m3 = bucket_state(s3server)
    assert m3["last_lsn"] == last + 2000 and state == dump(c)


# --------------------------------------------------------------------------- 2. restore

def test_fresh_data_dir_recovers_everything_from_s3(s3server, server_factory):
    """Server A writes plain, binary and TTL'd keys, deletes some, SAVEs, writes, overwrites,
    deletes and sets TTLs after the SAVE, and stops cleanly (the manifest's writer becomes
    '-'). Server B, empty data dir, same S3: every key, value and expiry is equal; its log says
    it restored; its WAL position continues from A's; B now owns the prefix."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    now_ms = int(time.time() * 1000)
    binary = bytes(range(256))
    for i in range(300):
        c.set(b"k:%d" % i, b"value-%d" % i)
    c.set(b"bin\x00\xff\r\n", binary)
    c.set(b"empty", b"")
    for i in range(20):
        c.set(b"ttl:%d" % i, b"t%d" % i, px=HOUR_MS + i)
    c.execute_command("PEXPIREAT", b"k:5", now_ms + 2 * HOUR_MS)
    c.delete(b"k:1", b"k:2")
    assert c.execute_command("SAVE") in (b"OK", True)
    c.set(b"after", binary[::-1])
    c.set(b"k:3", b"overwritten")
    c.delete(b"k:4", b"ttl:0")
    c.expire(b"k:6", 7200)
    c.persist(b"ttl:1")
    c.mset({b"m:%d" % i: b"mv%d" % i for i in range(50)})
    c.set(b"k:1", b"back")
    expected = dump(c)
    lsn = info(rc)["wal_last_lsn"]
    assert len(expected) == 300 - 3 + 1 + 2 + 19 + 1 + 50
    assert expected[b"ttl:2"][1] is not None and expected[b"ttl:1"][1] is None
    a_id = server_id(h)
    assert h.stop() == 0
    m = read_manifest(s3server)
    assert m["released"] and m["writer"] == a_id and m["last_lsn"] == int(lsn), m["text"]
    assert read_ids(h) == (a_id, m["history"])

    h2, rc2 = start(server_factory, s3server)
    c2 = h2.client()
    assert dump(c2) == expected
    assert c2.get(b"bin\x00\xff\r\n") == binary
    f = info(rc2)
    assert f["wal_last_lsn"] == lsn, f
    log = h2.stderr_text()
    assert "restored from s3://%s/%s" % (s3server.bucket, PREFIX) in log, log[-3000:]
    assert not [n for n in os.listdir(h2.data_dir) if ".replaced-" in n]  # nothing to replace
    b_id = server_id(h2)
    assert b_id != a_id
    wait_manifest(s3server, lambda m: m["writer"] == b_id, what="B to own the prefix")
    # B carries on: its writes continue the LSNs and land in S3 too.
    c2.set(b"from-b", b"1")
    f = wait_caught_up(rc2)
    assert int(f["wal_last_lsn"]) == int(lsn) + 1
    state, _ = bucket_state(s3server)
    assert state == dump(c2)


def copy_dir_files(src, dst, names):
    os.makedirs(dst, exist_ok=True)
    for name in names:
        with open(os.path.join(src, name), "rb") as f, open(os.path.join(dst, name), "wb") as g:
            g.write(f.read())


def test_restore_replaces_an_older_copy_of_the_same_data_dir(s3server, server_factory, tmp_path):
    """A backup of A's data dir (kv_database.id included: the same server and history) that is
    behind S3 is brought up to date from S3 at start; the local files S3's data replaces are
    kept as <name>.replaced-<ms>."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(50):
        c.set(b"k:%d" % i, b"v%d" % i)
    assert c.execute_command("SAVE") in (b"OK", True)
    c.set(b"x", b"1")
    wait_caught_up(rc)
    old = str(tmp_path / "old")
    copy_dir_files(h.data_dir, old, ("kv_database.parquet", "kv_database.wal", "kv_database.id"))
    old_files = {n: open(os.path.join(old, n), "rb").read() for n in os.listdir(old)}
    for i in range(50, 80):
        c.set(b"k:%d" % i, b"v%d" % i)
    c.delete(b"k:0")
    expected = dump(c)
    assert h.stop() == 0

    h2, rc2 = start(server_factory, s3server, data_dir=old)
    assert dump(h2.client()) == expected
    replaced = sorted(n for n in os.listdir(old) if ".replaced-" in n)
    assert [n.split(".replaced-")[0] for n in replaced] == ["kv_database.parquet", "kv_database.wal"], replaced
    for n in replaced:
        assert open(os.path.join(old, n), "rb").read() == old_files[n.split(".replaced-")[0]]
    assert "restored from" in h2.stderr_text()


def test_data_dir_of_another_history_is_refused(s3server, server_factory, tmp_path):
    """A data dir holding data but no record of S3's history (here: A's files without its
    kv_database.id) is not overwritten and does not write to the prefix: the server refuses to
    start ('holds other data than this data dir ... refusing to start'), its files and the
    bucket unchanged."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(20):
        c.set(b"k:%d" % i, b"v")
    wait_caught_up(rc)
    other = str(tmp_path / "other")
    copy_dir_files(h.data_dir, other, ("kv_database.wal",))
    assert h.stop() == 0
    before = read_manifest(s3server)["text"]
    status, err = start_refused(server_factory, s3server.env(), extra=FAST, data_dir=other)
    assert status == 1, (status, err)
    assert re.search(r"s3://panda-test/panda/ holds other data than this data dir \(history %s, the "
                     r"data dir's none\).*refusing to start" % read_manifest(s3server)["history"], err), err
    assert sorted(n for n in os.listdir(other) if n != "kv_database.id") == ["kv_database.wal"]
    assert read_manifest(s3server)["text"] == before


# --------------------------------------------------------------------------- 3. DuckDB

@pytest.mark.skipif(not interop.have_node()[0], reason=interop.have_node()[1] or "node missing")
def test_duckdb_reads_the_snapshot_from_the_bucket(s3server, server_factory, tmp_path):
    """The snapshot object, downloaded with boto3, is a Parquet file DuckDB reads: one row per
    key with its value and expiry, and panda.wal_lsn equal to the LSN in its name."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    expected = {}
    for i in range(500):
        k, v = b"key:%04d" % i, b"val-%d" % i
        if i % 7 == 0:
            c.set(k, v, px=HOUR_MS)
        else:
            c.set(k, v)
    c.set(b"blob", bytes(range(256)))
    assert c.execute_command("SAVE") in (b"OK", True)
    expected = dump(c)
    m = wait_manifest(s3server, lambda m: m["snapshot"] is not None, what="the snapshot")
    path = str(tmp_path / "from-s3.parquet")
    s3server.client().download_file(s3server.bucket, m["snapshot"][0], path)
    types, rows, kv = interop.duck_read(path)
    assert kv.get("panda.wal_lsn") == str(m["snapshot"][1]) == info(rc)["snapshot_last_lsn"], kv
    got = {r["key"]: (r["value"], r["expire_at_ms"]) for r in rows}
    assert len(rows) == len(got) == 501
    assert got == expected


# --------------------------------------------------------------------------- 4. credentials

def test_wrong_credentials_degrade_but_serve(s3server, server_factory):
    """A wrong secret key: S3 refuses every request (403 SignatureDoesNotMatch). The server
    starts anyway, serves reads and writes, STATS ends with 'S3: degraded (... 403 ...)', INFO
    s3_status says degraded and s3_errors counts, and nothing is written to the bucket."""
    h, rc = start(server_factory, s3server, env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    c = h.client()
    for i in range(20):
        assert c.set(b"k:%d" % i, b"v")
    assert c.get(b"k:3") == b"v" and c.dbsize() == 20
    line = wait_for(lambda: (lambda s: s if "degraded" in s else None)(stats(rc)), 10, "STATS degraded")
    assert re.search(r", S3: degraded \(.*(SignatureDoesNotMatch|403).*\)$", line), line
    assert line.startswith("Storage: S3 (bucket: panda-test, region: us-east-1)"), line
    f = info(rc)
    assert f["s3_status"].startswith("degraded (") and "403" in f["s3_status"], f["s3_status"]
    assert int(f["s3_errors"]) >= 1 and f["s3_lsn"] == "0", f
    time.sleep(0.5)   # a few shipping attempts (backoff from 250 ms)
    assert list_keys(s3server, "") == []
    reqs = [r for r in s3server.requests() if r["path"] != "/" + s3server.bucket]  # not boto3's listing
    assert len(reqs) >= 2 and all(r["status"] == 403 for r in reqs), reqs
    assert "degraded" in h.stderr_text()


# --------------------------------------------------------------------------- 5. S3 down at start

def test_s3_down_at_start_then_catches_up(s3server, server_factory):
    """S3 is stopped when Panda starts: Panda serves, degraded (INFO, STATS); writes are
    acknowledged. S3 comes back: Panda claims the prefix and uploads everything (manifest with
    last_lsn == wal_last_lsn, the bucket's contents equal the keyspace), status ok."""
    s3server.stop()
    h, rc = start(server_factory, s3server)
    c = h.client()
    f = info(rc)
    assert f["s3_status"].startswith("degraded"), f["s3_status"]
    assert "S3: degraded (" in stats(rc)
    for i in range(100):
        c.set(b"k:%d" % i, b"v%d" % i, ex=3600 if i % 3 == 0 else None)
    c.delete(b"k:1")
    assert info(rc)["s3_status"].startswith("degraded")
    s3_up(s3server)
    f = wait_caught_up(rc)
    assert f["wal_last_lsn"] == "101"
    assert stats(rc).endswith(", S3: ok")
    m = read_manifest(s3server)
    assert m["writer"] == server_id(h) and m["last_lsn"] == 101
    state, _ = bucket_state(s3server, m=m)
    assert state == dump(c)
    assert "reachable again" in h.stderr_text()


# --------------------------------------------------------------------------- 6. outage mid-run

@pytest.mark.parametrize("outage", ["stopped", "503"])
def test_outage_mid_run_then_catch_up_and_restore(s3server, server_factory, outage):
    """S3 goes away while Panda runs (process stopped, or every request answered 503
    SlowDown): writes keep being acknowledged, the status turns degraded, the backlog grows.
    When S3 answers again, s3_lsn reaches wal_last_lsn, and a fresh data dir restores all of
    it (after a clean stop of the first server)."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(50):
        c.set(b"before:%d" % i, b"v%d" % i)
    wait_caught_up(rc)
    if outage == "stopped":
        s3server.stop()
    else:
        s3server.fail(True)
    for i in range(200):
        assert c.set(b"during:%d" % i, b"w%d" % i)
    c.delete(b"before:0")
    wait_for(lambda: info(rc)["s3_status"].startswith("degraded"), 15, "degraded status")
    f = info(rc)
    assert int(f["s3_backlog_bytes"]) > 0 and int(f["s3_lsn"]) == 50, f
    reason = f["s3_status"]
    if outage == "503":
        assert "503" in reason or "SlowDown" in reason, reason
    for i in range(50):
        c.set(b"during2:%d" % i, b"x", px=HOUR_MS)
    if outage == "stopped":
        s3_up(s3server)
    else:
        s3server.fail(False)
    f = wait_caught_up(rc)
    assert f["wal_last_lsn"] == str(50 + 200 + 1 + 50)
    expected = dump(c)
    state, _ = bucket_state(s3server)
    assert state == expected
    assert h.stop() == 0
    h2, _ = start(server_factory, s3server)
    assert dump(h2.client()) == expected


# --------------------------------------------------------------------------- 7. two servers

def test_second_server_on_the_prefix_is_refused(s3server, server_factory):
    """Server A owns the prefix; server B (its own data dir, same S3) refuses to start with
    exit status 1 naming the other server. A is unaffected and keeps shipping. After A's
    clean shutdown released the prefix, B starts at once and restores A's data."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(30):
        c.set(b"k:%d" % i, b"v%d" % i)
    wait_caught_up(rc)
    a_id = server_id(h)
    env = s3server.env()
    status, err = start_refused(server_factory, env, extra=FAST)
    assert status == 1, (status, err)
    assert "is in use by another Panda server" in err and a_id in err, err
    assert "refusing to start" in err, err
    m = read_manifest(s3server)
    assert m["writer"] == a_id
    # A is unaffected.
    for i in range(30, 60):
        c.set(b"k:%d" % i, b"v%d" % i)
    f = wait_caught_up(rc)
    assert f["s3_status"] == "ok" and f["wal_last_lsn"] == "60"
    assert read_manifest(s3server)["last_lsn"] == 60
    expected = dump(c)
    assert h.stop() == 0
    assert read_manifest(s3server)["released"]
    t0 = time.monotonic()
    h2, rc2 = start(server_factory, s3server)
    assert time.monotonic() - t0 < 5
    assert dump(h2.client()) == expected
    wait_manifest(s3server, lambda m: m["writer"] == server_id(h2), what="B to own the prefix")


def test_another_prefix_is_independent(s3server, server_factory):
    """Two servers on two prefixes of one bucket both run and each restores only its own."""
    h1, rc1 = start(server_factory, s3server, prefix="one/")
    h2, rc2 = start(server_factory, s3server, prefix="two")   # the '/' is added
    h1.client().set(b"a", b"1")
    h2.client().set(b"b", b"2")
    wait_caught_up(rc1)
    wait_caught_up(rc2)
    assert info(rc2)["s3_prefix"] in ("two", "two/")
    assert read_manifest(s3server, "one/")["last_lsn"] == 1
    assert read_manifest(s3server, "two/")["last_lsn"] == 1
    assert h1.stop() == 0 and h2.stop() == 0
    h3, _ = start(server_factory, s3server, prefix="two/")
    assert dump(h3.client()) == {b"b": (b"2", None)}


# --------------------------------------------------------------------------- 8. kill -9

class Writer(threading.Thread):
    """SETs unique keys (and now and then DELs one of its own acknowledged keys) until the
    connection breaks. expected: key -> value (None = deleted) for acknowledged commands;
    uncertain: the key of the command in flight when the server died."""

    def __init__(self, port, tid, seed):
        super().__init__(daemon=True)
        self.port, self.tid = port, tid
        self.rng = random.Random(seed)
        self.expected = {}
        self.uncertain = set()
        self.count = 0

    def run(self):
        try:
            rc = RawClient(self.port, timeout=10)
        except OSError:
            return
        i = 0
        acked = []
        while True:
            if acked and self.rng.random() < 0.1:
                k = self.rng.choice(acked)
                cmd, val = ("DEL", k), None
            else:
                k = b"w%d:%d" % (self.tid, i)
                i += 1
                val = b"v%d-%d-" % (self.tid, i) + b"x" * self.rng.randrange(0, 200)
                cmd = ("SET", k, val)
            try:
                r = rc.cmd(*cmd)
            except (OSError, ConnectionError):
                self.uncertain.add(k)
                return
            if is_err(r):
                self.uncertain.add(k)
                return
            self.expected[k] = val
            self.count += 1
            if val is not None:
                acked.append(k)


def check_acked(c, writers):
    got = dump(c)
    missing = []
    for w in writers:
        for k, v in w.expected.items():
            if k in w.uncertain:
                continue
            have = got.get(k, (None,))[0]
            if have != v:
                missing.append((k, v[:20] if v else v, have[:20] if have else have))
    assert not missing, "%d acknowledged writes lost, e.g. %r" % (len(missing), missing[:5])
    return got


@pytest.mark.parametrize("round_", range(3))
def test_kill9_with_s3_loses_no_acknowledged_write(s3server, server_factory, proxy, round_):
    """Four writer threads (SET/DEL) and BGSAVEs now and then; kill -9 at a random moment.
    The restart on the same data dir comes up at once (its own id in the manifest), holds
    every acknowledged write, and ships the rest; after a clean stop a fresh data dir
    restored from S3 holds every acknowledged write too.

    The servers reach S3 through the proxy, which forwards a request only once its body is
    complete: s3rver writes objects in place, so a PUT cut off by the kill would otherwise
    leave a truncated manifest behind, which real S3 never does."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    via = {"PANDA_S3_ENDPOINT": proxy.endpoint}
    h, rc = start(server_factory, s3server, env=via)
    writers = [Writer(h.port, t, seed + t) for t in range(4)]
    for w in writers:
        w.start()
    t_kill = time.monotonic() + rng.uniform(0.8, 2.5)
    saver = RawClient(h.port)
    while time.monotonic() < t_kill:
        time.sleep(rng.uniform(0.1, 0.4))
        r = saver.cmd("BGSAVE")
        assert not is_err(r) or "in progress" in str(r), r
    h.expect_nonzero_exit = True
    assert h.stop(signal.SIGKILL) == -signal.SIGKILL
    for w in writers:
        w.join(10)
    assert sum(w.count for w in writers) > 100, "seed %d: too few writes" % seed

    t0 = time.monotonic()
    h2, rc2 = start(server_factory, s3server, data_dir=h.data_dir, env=via)
    took = time.monotonic() - t0
    assert took < 5, "restart took %.1fs" % took
    assert "in use by another" not in h2.stderr_text()
    c2 = h2.client()
    got = check_acked(c2, writers)
    f = wait_caught_up(rc2)
    assert read_manifest(s3server)["writer"] == server_id(h2) == server_id(h)
    state, _ = bucket_state(s3server)
    assert state == got, "seed %d: the bucket differs from the restarted server" % seed
    assert h2.stop() == 0

    h3, _ = start(server_factory, s3server)
    assert "restored from" in h3.stderr_text()
    c3 = h3.client()
    assert dump(c3) == got, "seed %d" % seed
    check_acked(c3, writers)
    assert info(RawClient(h3.port))["wal_last_lsn"] == f["wal_last_lsn"]


# --------------------------------------------------------------------------- 9. backlog bound

def test_backlog_bound_refuses_writes_until_s3_catches_up(s3server, server_factory):
    """--s3-max-backlog 64k with S3 stopped: writes are acknowledged until the WAL bytes not in
    S3 pass 64 KiB, then refused with 'ERR the S3 backlog is full (...)' (also DEL and
    MULTI/EXEC); reads still work and the refused key is absent. S3 comes back: writes are
    accepted again and everything acknowledged reaches S3."""
    h, rc = start(server_factory, s3server, extra=["--s3-max-backlog", "64k"])
    c = h.client()
    c.set(b"first", b"1")
    f = wait_caught_up(rc)
    assert f["s3_max_backlog"] == "65536"
    s3server.stop()
    val = b"x" * 1000
    refused = None
    acked = 0
    for i in range(1000):
        r = rc.cmd("SET", b"k:%d" % i, val)
        if is_err(r):
            refused = (i, str(r))
            break
        assert r == "OK"
        acked += 1
    assert refused is not None, "no write refused with 1 MB of backlog"
    i, text = refused
    assert 60 <= acked <= 70, acked
    m = re.fullmatch(r"ERR the S3 backlog is full \((\d+) bytes of WAL not yet in s3://panda-test/panda/, "
                     r"limit 65536\): writes are refused until that clears; reads still work", text)
    assert m, text
    assert int(m.group(1)) > 65536
    assert rc.cmd("GET", b"k:%d" % i) is None and rc.cmd("EXISTS", b"k:%d" % i) == 0
    assert rc.cmd("GET", b"k:0") == val and rc.cmd("GET", b"first") == b"1"
    assert rc.cmd("DBSIZE") == acked + 1
    assert "backlog is full" in rc.err("DEL", b"k:0")
    assert rc.cmd("MULTI") == "OK"
    rc.cmd("SET", b"t", b"1")
    assert "backlog" in rc.err("EXEC")
    wait_for(lambda: info(rc)["s3_status"].startswith("degraded"), 10, "degraded status")
    assert int(info(rc)["s3_backlog_bytes"]) > 65536

    s3_up(s3server)

    def accepted():
        r = rc.cmd("SET", b"k:%d" % i, val)
        return r == "OK"
    wait_for(accepted, 30, "writes to be accepted again", interval=0.1)
    assert rc.cmd("GET", b"k:%d" % i) == val
    f = wait_caught_up(rc)
    state, _ = bucket_state(s3server)
    assert state == dump(c) and len(state) == acked + 2


# --------------------------------------------------------------------------- 10. multipart

def test_large_snapshot_goes_up_in_parts(s3server, server_factory):
    """A snapshot over 32 MiB (250k keys x 128-byte values, no compression) is uploaded as a
    multipart upload in 16 MiB parts (POST ?uploads, PUT ?partNumber=1..3, POST ?uploadId);
    the object in the bucket equals data/kv_database.parquet byte for byte; a fresh data dir
    restores it."""
    h, rc = start(server_factory, s3server, extra=["--snapshot-compression", "none"])
    n = 250000
    load_keys(h.port, n, vlen=128)
    wait_caught_up(rc, timeout=60)
    # The load's segments may have made S3 ask for a snapshot of its own: let it finish, and
    # give the SAVE below a later LSN, so the upload watched is the SAVE's.
    wait_for(lambda: info(rc)["snapshot_in_progress"] == "0", 60, "a snapshot S3 asked for")
    time.sleep(1)
    assert rc.cmd("SET", b"last", b"1") == "OK"
    wait_caught_up(rc, timeout=60)
    s3server.clear_requests()
    mpu_before = int(info(rc)["s3_requests_multipart"])
    assert rc.cmd("SAVE") == "OK"
    size = os.path.getsize(os.path.join(h.data_dir, SNAP_FILE))
    assert size >= 32 * MIB, size
    # (the load itself may have made S3 ask for an earlier snapshot: wait for this one)
    wait_for(lambda: info(rc)["s3_snapshot_lsn"] == info(rc)["snapshot_last_lsn"], 60,
             "the snapshot upload")
    f = info(rc)
    reqs = s3server.requests()
    m = read_manifest(s3server)
    assert m["snapshot"][1] == int(f["snapshot_last_lsn"]) and object_writer(m["snapshot"][0]) == server_id(h)
    mine = [r for r in reqs if r["path"] == "/%s/%s" % (s3server.bucket, m["snapshot"][0])]
    creates = [r for r in mine if r["method"] == "POST" and "uploads" in r["query"]]
    parts = [r for r in mine if r["method"] == "PUT" and "partNumber" in r["query"]]
    completes = [r for r in mine if r["method"] == "POST" and "uploadId" in r["query"]]
    assert len(creates) == 1 and len(completes) == 1, mine
    nparts = (size + 16 * MIB - 1) // (16 * MIB)
    assert sorted(int(r["query"]["partNumber"]) for r in parts) == list(range(1, nparts + 1)), mine
    assert all(r["status"] == 200 for r in mine), mine
    assert int(f["s3_requests_multipart"]) - mpu_before == 1 + nparts + 1, f
    assert m["snapshot"][2] == size
    with open(os.path.join(h.data_dir, SNAP_FILE), "rb") as fh:
        local = fh.read()
    assert get_bytes(s3server, m["snapshot"][0]) == local
    assert h.stop() == 0
    h2, rc2 = start(server_factory, s3server)
    assert rc2.cmd("DBSIZE") == n + 1  # and "last"
    assert rc2.cmd("GET", b"key:%08d" % 12345) == bulk_value(12345, 128)


# --------------------------------------------------------------------------- 11. configuration

def test_config_errors_and_fallbacks(s3server, server_factory):
    """Credentials missing -> refused naming AWS_ACCESS_KEY_ID; S3 on without a bucket -> exit
    2 with a message; invalid prefixes and out-of-range settings refused; --s3-bucket alone
    turns S3 on; region from AWS_REGION / AWS_DEFAULT_REGION (PANDA_S3_REGION first, default
    us-east-1); endpoint from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; without S3 INFO says
    s3_enabled:0."""
    base = s3server.env()

    def without(*names, **extra):
        e = {k: v for k, v in base.items() if k not in names}
        e.update(extra)
        return e

    # credentials
    for missing in (("AWS_ACCESS_KEY_ID",), ("AWS_SECRET_ACCESS_KEY",),
                    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
        status, err = start_refused(server_factory, without(*missing))
        assert status != 0 and "AWS_ACCESS_KEY_ID" in err and "AWS_SECRET_ACCESS_KEY" in err, (missing, status, err)
    # no bucket
    status, err = start_refused(server_factory, without("PANDA_S3_BUCKET"))
    assert status == 2 and "no bucket" in err and "--s3-bucket" in err, (status, err)
    # prefixes
    for bad in ("/abs/", "has space/", "we!rd/", "a\\b/"):
        status, err = start_refused(server_factory, without(PANDA_S3_PREFIX=bad))
        assert status != 0 and "invalid S3 prefix" in err, (bad, status, err)
    # ranges
    for args in (["--s3-max-backlog", "1000"], ["--s3-lease", "2"], ["--s3-wal-interval", "0"],
                 ["--s3-max-backlog", "lots"]):
        status, err = start_refused(server_factory, base, extra=args)
        assert status == 2, (args, status, err)
    assert list_keys(s3server, "") == []

    # --s3-bucket alone turns S3 on; region defaults to us-east-1
    h = server_factory(extra_args=FAST + ["--s3-bucket", s3server.bucket],
                       env=without("PANDA_USE_S3", "PANDA_S3_BUCKET", "PANDA_S3_REGION"))
    f = info(RawClient(h.port))
    assert f["s3_enabled"] == "1" and f["s3_bucket"] == "panda-test" and f["s3_region"] == "us-east-1", f
    assert f["s3_prefix"] == "panda/"
    wait_for(lambda: info(RawClient(h.port))["s3_status"] == "ok", 10, "S3 ok")
    assert h.stop() == 0

    # region fallbacks
    for env, want in ((dict(AWS_REGION="eu-west-3"), "eu-west-3"),
                      (dict(AWS_DEFAULT_REGION="ap-south-1"), "ap-south-1"),
                      (dict(AWS_REGION="eu-west-3", AWS_DEFAULT_REGION="ap-south-1"), "eu-west-3"),
                      (dict(AWS_REGION="eu-west-3", PANDA_S3_REGION="us-west-2"), "us-west-2")):
        h = server_factory(extra_args=FAST, env=without("PANDA_S3_REGION", **env))
        rcx = RawClient(h.port)
        assert info(rcx)["s3_region"] == want, (env, info(rcx))
        assert stats(rcx).startswith("Storage: S3 (bucket: panda-test, region: %s)" % want)
        assert h.stop() == 0

    # endpoint fallbacks: the server reaches S3 through them
    for var in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        e = without("PANDA_S3_ENDPOINT", **{var: s3server.endpoint})
        h = server_factory(extra_args=FAST, env=e)
        rcx = RawClient(h.port)
        rcx.cmd("SET", var, "1")
        wait_caught_up(rcx)
        assert h.stop() == 0

    # without S3
    h = server_factory(extra_args=SNAP_OFF)
    f = info(RawClient(h.port))
    assert f["s3_enabled"] == "0" and "s3_bucket" not in f
    assert stats(RawClient(h.port)).startswith("Storage: Local (")


# --------------------------------------------------------------------------- 12. lease

def test_takeover_after_the_lease_of_a_dead_server(s3server, server_factory, proxy):
    """--s3-lease 3: A is killed with -9 (the prefix is not released). B (fresh data dir) is
    refused at first; once A's manifest is more than 3 s old (by S3's clock) B starts,
    restores A's acknowledged data and owns the prefix under a new history. (A goes through
    the proxy so that a manifest PUT cut off by the kill cannot leave s3rver a truncated
    object; see the kill -9 test.)"""
    lease = ["--s3-lease", "3"]
    h, rc = start(server_factory, s3server, extra=lease, env={"PANDA_S3_ENDPOINT": proxy.endpoint})
    c = h.client()
    for i in range(100):
        c.set(b"k:%d" % i, b"v%d" % i)
    assert c.execute_command("SAVE") in (b"OK", True)
    c.set(b"after", b"save")
    wait_caught_up(rc)
    expected = dump(c)
    time.sleep(1.2)  # a lease renewal (every lease/3) happens meanwhile
    assert read_manifest(s3server)["writer"] == server_id(h)
    h.expect_nonzero_exit = True
    h.stop(signal.SIGKILL)
    t_kill = time.monotonic()
    status, err = start_refused(server_factory, s3server.env(), extra=FAST + lease)
    assert status == 1 and "is in use by another Panda server" in err, (status, err)
    assert time.monotonic() - t_kill < 3

    h2 = None
    deadline = t_kill + 20
    attempts = 1
    while h2 is None:
        assert time.monotonic() < deadline, "B never took over"
        time.sleep(0.5)
        b = server_factory(extra_args=FAST + lease, env=s3server.env(), wait=False)
        b.expect_nonzero_exit = True
        attempts += 1
        from conftest import wait_ping
        ok_, _ = wait_ping(b.proc, b.port, 10)
        if ok_:
            h2 = b
            h2.expect_nonzero_exit = False
        else:
            assert "is in use by another Panda server" in b.stderr_text(), b.stderr_text()
    waited = time.monotonic() - t_kill
    assert waited >= 1.5, "B took over %.1fs after the kill (lease 3 s)" % waited
    assert dump(h2.client()) == expected
    assert "restored from" in h2.stderr_text()
    a_history = read_ids(h)[1]
    m = wait_manifest(s3server, lambda m: m["writer"] == server_id(h2), what="B to own the prefix")
    assert m["history"] != a_history and read_ids(h2) == (server_id(h2), m["history"])


# --------------------------------------------------------------------------- lost manifest

def test_server_that_loses_the_manifest_stops_shipping(s3server, server_factory):
    """Someone else replaces the manifest while A runs (simulated with boto3: another writer
    id). A's next conditional manifest write gets 412: A halts shipping for good (STATS and
    INFO say 'halted: ...', the log says why), keeps serving reads and writes locally, never
    touches the manifest again, not even at shutdown."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    c.set(b"a", b"1")
    wait_caught_up(rc)
    m = read_manifest(s3server)
    other = m["text"].replace("writer %s" % m["writer"], "writer " + "ab" * 16)
    s3server.put_bytes(PREFIX + "manifest", other.encode())
    c.set(b"b", b"2")
    wait_for(lambda: "halted" in info(rc)["s3_status"], 15, "A to halt")
    assert re.search(r", S3: degraded \(halted: another server replaced the manifest", stats(rc)), stats(rc)
    assert "no longer writing to it" in h.stderr_text()
    for i in range(100):
        c.set(b"k:%d" % i, b"v")
    assert c.get(b"b") == b"2" and c.dbsize() == 102
    time.sleep(0.5)
    assert get_bytes(s3server, PREFIX + "manifest").decode() == other
    assert int(info(rc)["s3_backlog_bytes"]) == 0   # writes are not refused when halted
    assert h.stop() == 0
    assert get_bytes(s3server, PREFIX + "manifest").decode() == other


# --------------------------------------------------------------------------- shutdown, damage

def test_clean_shutdown_ships_the_rest_and_releases(s3server, server_factory):
    """With a shipping interval of 60 s nothing goes up while the server runs; a clean stop
    ships the records still waiting as a last segment, then releases the prefix (writer -)."""
    h, rc = start(server_factory, s3server, extra=["--s3-wal-interval", "60"])
    c = h.client()
    wait_manifest(s3server, lambda m: m["writer"] == server_id(h), what="the claim")
    for i in range(40):
        c.set(b"k:%d" % i, b"v%d" % i)
    time.sleep(0.3)
    f = info(rc)
    assert f["s3_lsn"] == "0" and int(f["s3_backlog_bytes"]) > 0, f
    expected = dump(c)
    assert h.stop() == 0
    m = read_manifest(s3server)
    assert m["released"] and m["writer"] == server_id(h) and m["last_lsn"] == 40, m["text"]
    state, _ = bucket_state(s3server, m=m)
    assert state == expected
    assert "released (LSN 40)" in h.stderr_text()


def test_damaged_bucket_refuses_to_start(s3server, server_factory):
    """A manifest that does not parse, or one that lists a segment S3 no longer has, makes a
    server that needs it refuse to start (exit 1) rather than serve a partial copy; the data
    dir is left as it was."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(20):
        c.set(b"k:%d" % i, b"v")
    wait_caught_up(rc)
    assert h.stop() == 0
    m = read_manifest(s3server)
    good = m["text"]

    s3server.put_bytes(PREFIX + "manifest", b"panda-manifest 1\nwriter -\nlast_lsn banana\n")
    status, err = start_refused(server_factory, s3server.env(), extra=FAST)
    assert status == 1 and "manifest is damaged" in err and "refusing to start" in err, (status, err)

    s3server.put_bytes(PREFIX + "manifest", good.encode())
    s3server.delete(m["segments"][0][0])
    status, err = start_refused(server_factory, s3server.env(), extra=FAST)
    assert status == 1 and "cannot restore from s3://panda-test/panda/" in err, (status, err)
    assert "404 NoSuchKey" in err and m["segments"][0][0] in err and "refusing to start" in err, err


@pytest.mark.parametrize("b_writes", [0, 5, 30])
def test_server_that_could_not_restore_never_mixes_histories(s3server, server_factory, b_writes):
    """A wrote a:0..49 (LSN 1..50) and shut down. S3 is down when B starts on an empty data
    dir, so B cannot restore; it serves (degraded) and takes b_writes writes. When S3 answers,
    B must not append its own lineage to A's: it halts shipping - 'S3 holds newer data ...
    restart to restore' when it has no data of its own, 'holds other data than this data dir'
    when it has (even with more records than S3) - leaves the manifest exactly as it was, and
    keeps serving locally. With nothing of its own, B restarted on the same dir restores A's
    data."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(50):
        c.set(b"a:%d" % i, b"A")
    wait_caught_up(rc)
    a_state = dump(c)
    assert h.stop() == 0
    before = read_manifest(s3server)["text"]
    s3server.stop()
    h2, rc2 = start(server_factory, s3server)
    c2 = h2.client()
    for i in range(b_writes):
        c2.set(b"b:%d" % i, b"B")
    s3_up(s3server)
    wait_for(lambda: "halted" in info(rc2)["s3_status"], 20, "B to halt")
    line = stats(rc2)
    if b_writes == 0:
        assert "S3 holds newer data (LSN 50) than this server (LSN 0): restart to restore from it" in line, line
    else:
        assert "holds other data than this data dir" in line, line
    if b_writes:
        c2.set(b"later", b"1")
    assert c2.dbsize() == b_writes + (1 if b_writes else 0) and c2.get(b"a:1") is None
    time.sleep(0.3)
    assert read_manifest(s3server)["text"] == before
    if b_writes == 0:
        d = h2.data_dir
        assert h2.stop() == 0
        assert read_manifest(s3server)["text"] == before   # a halted server does not release
        h3, _ = start(server_factory, s3server, data_dir=d)
        assert dump(h3.client()) == a_state


def test_turning_s3_on_for_an_existing_data_dir_uploads_all_of_it(s3server, server_factory):
    """A data dir used without S3 (writes, a snapshot, more writes after it) is switched to S3
    with an empty prefix: the server claims it and uploads its whole state (the snapshot and
    the records after it); a fresh data dir restores exactly that."""
    h = server_factory(extra_args=SNAP_OFF)
    c = h.client()
    for i in range(100):
        c.set(b"k:%d" % i, b"v%d" % i, px=HOUR_MS if i % 4 == 0 else None)
    assert c.execute_command("SAVE") in (b"OK", True)
    for i in range(100, 130):
        c.set(b"k:%d" % i, b"w")
    c.delete(b"k:1")
    expected = dump(c)
    d = h.data_dir
    assert h.stop() == 0
    h2, rc2 = start(server_factory, s3server, data_dir=d)
    f = wait_caught_up(rc2)
    assert f["wal_last_lsn"] == "131"
    m = wait_manifest(s3server, lambda m: m["snapshot"] is not None, what="the snapshot")
    state, _ = bucket_state(s3server, m=m)
    assert state == dump(h2.client()) == expected
    assert "uploading" in h2.stderr_text() or m["snapshot"][1] == 100
    assert h2.stop() == 0
    h3, _ = start(server_factory, s3server)
    assert dump(h3.client()) == expected


def test_failed_restore_refuses_to_start_and_leaves_the_dir_alone(s3server, server_factory, proxy,
                                                                 tmp_path):
    """S3 answers the manifest but 503 SlowDown to the snapshot and segment downloads a server
    with an older data dir needs: the server refuses to start (exit 1, 'cannot restore from
    ... refusing to start', naming the 503) rather than serve the older data, and the data dir
    is exactly as it was (no .s3tmp left, nothing renamed). Once S3 answers, the same start
    restores and the old files are kept as .replaced-<ms>."""
    h, rc = start(server_factory, s3server)
    c = h.client()
    for i in range(20):
        c.set(b"k:%d" % i, b"v")
    assert c.execute_command("SAVE") in (b"OK", True)
    old = str(tmp_path / "old")
    copy_dir_files(h.data_dir, old, ("kv_database.parquet", "kv_database.wal", "kv_database.id"))
    c.set(b"after", b"1")
    wait_caught_up(rc)
    expected = dump(c)
    assert h.stop() == 0
    before = {n: open(os.path.join(old, n), "rb").read() for n in os.listdir(old)}

    proxy.rule = lambda m, p, q: ("fail", 503) if m == "GET" and ("/wal/" in p or "/snapshots/" in p) else None
    env = s3server.env()
    env["PANDA_S3_ENDPOINT"] = proxy.endpoint
    status, err = start_refused(server_factory, env, extra=FAST, data_dir=old)
    assert status == 1, (status, err)
    assert re.search(r"cannot restore from s3://panda-test/panda/, which holds newer data \(LSN 21 > 20\): "
                     r".*503 SlowDown.*; local files untouched, refusing to start", err), err
    after = {n: open(os.path.join(old, n), "rb").read() for n in os.listdir(old)}
    assert after == before
    assert any(e[3] for e in proxy.log), "the proxy failed nothing"

    proxy.rule = lambda m, p, q: None
    h2, rc2 = start(server_factory, s3server, data_dir=old, env={"PANDA_S3_ENDPOINT": proxy.endpoint})
    assert dump(h2.client()) == expected
    replaced = sorted(n.split(".replaced-")[0] for n in os.listdir(old) if ".replaced-" in n)
    assert replaced == ["kv_database.parquet", "kv_database.wal"], os.listdir(old)


def test_every_put_carries_a_correct_crc32c(s3server, server_factory, proxy):
    """Each object PUT (segments, manifest, a small snapshot) carries x-amz-checksum-crc32c,
    the base64 of the big-endian CRC32C of the body it sends (docs/FORMATS.md, "S3")."""
    import base64
    import struct
    seen = []

    proxy.capture = seen
    env = s3server.env()
    env["PANDA_S3_ENDPOINT"] = proxy.endpoint
    h = server_factory(extra_args=FAST, env=env)
    c = h.client()
    for i in range(30):
        c.set(b"k:%d" % i, os.urandom(50))
    assert c.execute_command("SAVE") in (b"OK", True)
    c.set(b"x", b"y")
    wait_caught_up(RawClient(h.port))
    puts = [x for x in seen if x[0] == "PUT"]
    kinds = {("manifest" if p.endswith("/manifest") else "wal" if "/wal/" in p else "snap") for _, p, _, _ in puts}
    assert kinds == {"manifest", "wal", "snap"}, puts
    for _, p, headers, body in puts:
        want = base64.b64encode(struct.pack(">I", walfile.crc32c(body))).decode()
        assert headers.get("x-amz-checksum-crc32c") == want, (p, headers.get("x-amz-checksum-crc32c"), want)


def test_new_snapshot_during_an_upload(s3server, server_factory, proxy):
    """A large snapshot goes up slowly (each part delayed 1 s by a proxy); meanwhile a second
    SAVE installs a newer snapshot. The store must finish or abandon the first upload cleanly
    and upload the second: no S3 error, never degraded, the bucket's snapshot equals the local
    file."""
    env = s3server.env()
    env["PANDA_S3_ENDPOINT"] = proxy.endpoint
    h = server_factory(extra_args=FAST + ["--snapshot-compression", "none"], env=env)
    rc = RawClient(h.port, timeout=60)
    load_keys(h.port, 250000, vlen=128)
    wait_caught_up(rc, timeout=60)
    errors0 = int(info(rc)["s3_errors"])
    proxy.rule = lambda m, p, q: ("delay", 1.0) if m == "PUT" and "partNumber" in q else None
    assert rc.cmd("SAVE") == "OK"
    wait_for(lambda: any("partNumber" in e[2] for e in proxy.log), 10, "the first part upload")
    rc.cmd("SET", "x", "1")
    assert rc.cmd("SAVE") == "OK"
    lsn = int(info(rc)["snapshot_last_lsn"])
    wait_for(lambda: int(info(rc)["s3_snapshot_lsn"]) == lsn and info(rc)["s3_status"] == "ok", 60,
             "the second snapshot upload")
    m = read_manifest(s3server)
    with open(os.path.join(h.data_dir, SNAP_FILE), "rb") as fh:
        assert get_bytes(s3server, m["snapshot"][0]) == fh.read()
    log = h.stderr_text()
    assert "Bad file descriptor" not in log and "degraded" not in log, log[-3000:]
    assert int(info(rc)["s3_errors"]) == errors0


def test_snapshot_uploads_are_paced(s3server, server_factory):
    """--s3-snapshot-interval 3: the first snapshot after start goes up at once; a newer one
    made right after waits until 3 s have passed since that upload, while WAL segments keep
    shipping meanwhile; it then replaces the first."""
    h, rc = start(server_factory, s3server, extra=["--s3-snapshot-interval", "3"])
    c = h.client()
    for i in range(100):
        c.set(b"k:%d" % i, b"v")
    assert c.execute_command("SAVE") in (b"OK", True)
    wait_manifest(s3server, lambda m: m["snapshot"] and m["snapshot"][1] == 100, what="first snapshot")
    t_first = time.monotonic()
    for i in range(10):
        c.set(b"j:%d" % i, b"v")
    assert c.execute_command("SAVE") in (b"OK", True)
    f = wait_caught_up(rc)    # the segments go up although the snapshot waits
    assert f["s3_snapshot_lsn"] == "100" and f["s3_lsn"] == "110", f
    assert read_manifest(s3server)["snapshot"][1] == 100
    wait_manifest(s3server, lambda m: m["snapshot"][1] == 110, timeout=10, what="second snapshot")
    waited = time.monotonic() - t_first
    assert 2.0 <= waited <= 6.0, waited


def start_when_lease_expires(server_factory, env, extra, timeout=20.0, data_dir=None):
    """Starts a server, retrying every 0.3 s while the prefix is still in use by another."""
    from conftest import wait_ping
    deadline = time.monotonic() + timeout
    kw = {} if data_dir is None else {"data_dir": data_dir}
    while True:
        assert time.monotonic() < deadline, "the lease never expired"
        b = server_factory(extra_args=extra, env=env, wait=False, **kw)
        b.expect_nonzero_exit = True
        up, _ = wait_ping(b.proc, b.port, 10)
        if up:
            b.expect_nonzero_exit = False
            return b
        assert "is in use by another Panda server" in b.stderr_text(), b.stderr_text()
        time.sleep(0.3)


def test_partitioned_owner_does_not_overwrite_the_new_owners_objects(s3server, server_factory, proxy):
    """Split brain: A (lease 3 s) loses S3 (every request through its proxy gets 503) while
    it keeps taking writes; after the lease B (fresh dir) takes the prefix over, restores, and
    writes. When A reaches S3 again it must find out it lost the prefix without damaging B's
    copy: B's segment objects keep B's records and a restore from S3 gives B's keyspace."""
    lease = ["--s3-lease", "3"]
    env_a = s3server.env()
    env_a["PANDA_S3_ENDPOINT"] = proxy.endpoint
    a = server_factory(extra_args=FAST + lease, env=env_a)
    rca = RawClient(a.port)
    ca = a.client()
    for i in range(10):
        ca.set(b"k:%d" % i, b"v")
    wait_caught_up(rca)
    proxy.rule = lambda m, p, q: ("fail", 503)
    ca.set(b"from-a", b"A")          # LSN 11 on A, cannot be shipped
    wait_for(lambda: info(rca)["s3_status"].startswith("degraded"), 10, "A degraded")

    b = start_when_lease_expires(server_factory, s3server.env(), FAST + lease)
    rcb = RawClient(b.port)
    cb = b.client()
    assert cb.get(b"from-a") is None and cb.dbsize() == 10
    cb.set(b"from-b", b"B")          # LSN 11 on B
    wait_caught_up(rcb)
    m = read_manifest(s3server)
    assert m["writer"] == server_id(b) and m["last_lsn"] == 11
    seg = [s for s in m["segments"] if s[2] == 11][0]
    assert [op.key for r in walfile.scan(get_bytes(s3server, seg[0])).records for op in r.ops
            if r.lsn == 11] == [b"from-b"]

    proxy.rule = lambda m, p, q: None    # A reaches S3 again
    wait_for(lambda: "halted" in info(rca)["s3_status"], 30, "A to halt")
    assert ca.get(b"from-a") == b"A"     # A still serves locally
    time.sleep(0.3)
    m2 = read_manifest(s3server)
    assert m2["writer"] == server_id(b)
    data = get_bytes(s3server, seg[0])
    keys = [op.key for r in walfile.scan(data).records for op in r.ops if r.lsn == 11]
    expected = dump(cb)
    assert b.stop() == 0
    c, _ = start(server_factory, s3server)
    got = dump(c.client())
    assert got == expected, "restored from S3: %r, B had %r; B's segment %s now holds %r" % (
        sorted(got), sorted(expected), seg[0], keys)
    assert keys == [b"from-b"]


def test_refusal_message_keeps_its_reason_with_a_long_prefix(s3server, server_factory, proxy):
    """With a 100-character prefix (valid: the limit is 255) a restore that fails on a 503
    must still say why and what happens: the log line names the S3 error (503 SlowDown) and
    ends with 'refusing to start'."""
    prefix = "tenants/" + "a" * 91 + "/"
    assert len(prefix) == 100
    h, rc = start(server_factory, s3server, prefix=prefix)
    h.client().set(b"k", b"v")
    wait_caught_up(rc)
    assert h.stop() == 0
    proxy.rule = lambda m, p, q: ("fail", 503) if m == "GET" and "/wal/" in p else None
    env = s3server.env(prefix=prefix)
    env["PANDA_S3_ENDPOINT"] = proxy.endpoint
    status, err = start_refused(server_factory, env, extra=FAST)
    assert status == 1
    line = [x for x in err.splitlines() if "cannot start" in x][0]
    assert "503 SlowDown" in line and line.endswith("refusing to start"), line


# --------------------------------------------------------------------------- segments outgrow

def test_segments_outgrowing_the_snapshot_get_one_taken(s3server, server_factory):
    """With automatic snapshots off, segments would pile up in the bucket for ever (and a
    restore replay all of them). Once they hold more than 1 MiB (the least a snapshot counts
    as), the store asks the server for a snapshot, which then goes up and lets the segments
    it covers be deleted: the manifest lists a snapshot and fewer bytes of segments."""
    h, rc = start(server_factory, s3server)
    val = b"x" * 10000
    for i in range(150):
        assert rc.cmd("SET", b"k:%d" % i, val) == "OK"
    wait_for(lambda: int(info(rc)["snapshot_count"]) >= 1, 20, "a snapshot asked for by S3")
    wait_for(lambda: int(info(rc)["s3_snapshot_lsn"]) > 0, 20, "its upload")
    f = wait_caught_up(rc)
    m = read_manifest(s3server)
    assert m["snapshot"][1] == int(f["s3_snapshot_lsn"])
    assert sum(seg[3] for seg in m["segments"]) < 1500000 - 100 * 10000, m["segments"]
    state, _ = bucket_state(s3server)
    assert state == dump(h.client())
