"""The S3 test harness itself (s3help.py, tests/interop/s3server.mjs), through boto3 only:
proves it is a real S3 that checks signatures, supports conditional writes and multipart
uploads, can be made to fail, and keeps its objects across a restart. No Panda involved."""
import hashlib
import os
import socket
import threading
import time

import pytest

from s3help import (ACCESS_KEY, S3Server, add_headers, error_code, have_s3, make_client,
                    s3server)  # noqa: F401  (s3server is a fixture)

ok, why = have_s3()
if not ok:
    pytest.skip(why, allow_module_level=True)

import botocore  # noqa: E402
import botocore.config  # noqa: E402
import botocore.exceptions  # noqa: E402

ClientError = botocore.exceptions.ClientError
MIB = 1024 * 1024


def md5_etag(data):
    return '"%s"' % hashlib.md5(data).hexdigest()


def expect_error(fn, status, code):
    with pytest.raises(ClientError) as ei:
        fn()
    assert error_code(ei.value) == (status, code), ei.value.response


def test_round_trip(s3server):
    c = s3server.client()
    b = s3server.bucket
    data = os.urandom(1000) + b"\x00\xff"
    r = c.put_object(Bucket=b, Key="panda/a/one", Body=data)
    assert r["ETag"] == md5_etag(data)                     # quoted lower-case hex MD5
    c.put_object(Bucket=b, Key="panda/a/two", Body=b"2")
    c.put_object(Bucket=b, Key="panda/b/three", Body=b"")
    c.put_object(Bucket=b, Key="other/x", Body=b"x")
    c.put_object(Bucket=b, Key="panda/with space+plus", Body=b"sp")

    got = c.get_object(Bucket=b, Key="panda/a/one")
    assert got["Body"].read() == data
    assert got["ETag"] == md5_etag(data)
    assert c.head_object(Bucket=b, Key="panda/a/one")["ContentLength"] == len(data)
    assert s3server.get_bytes("panda/b/three") == b""
    assert s3server.get_bytes("panda/with space+plus") == b"sp"
    assert c.get_object(Bucket=b, Key="panda/a/one", Range="bytes=10-19")["Body"].read() == data[10:20]

    # ListObjectsV2 with prefix, delimiter and pagination
    assert s3server.list_keys("panda/") == ["panda/a/one", "panda/a/two", "panda/b/three",
                                            "panda/with space+plus"]
    assert s3server.list_keys("panda/a/") == ["panda/a/one", "panda/a/two"]
    assert s3server.list_keys("nothing/") == []
    r = c.list_objects_v2(Bucket=b, Prefix="panda/", Delimiter="/")
    assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["panda/a/", "panda/b/"]
    pages = list(c.get_paginator("list_objects_v2").paginate(
        Bucket=b, Prefix="panda/", PaginationConfig={"PageSize": 1}))
    assert len(pages) == 4
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == s3server.list_keys("panda/")

    # missing key: 404 NoSuchKey (GET), 404 (HEAD)
    expect_error(lambda: c.get_object(Bucket=b, Key="panda/missing"), 404, "NoSuchKey")
    assert s3server.head("panda/missing") is None
    assert s3server.get_bytes("panda/missing") is None

    c.delete_object(Bucket=b, Key="panda/a/one")
    assert s3server.get_bytes("panda/a/one") is None
    c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "panda/a/two"}, {"Key": "other/x"}]})
    assert s3server.list_keys("") == ["panda/b/three", "panda/with space+plus"]


def test_signature_is_checked(s3server):
    s3server.put_bytes("panda/k", b"original")
    bad = make_client(s3server.endpoint, secret_key="wrong-secret")
    b = s3server.bucket
    expect_error(lambda: bad.put_object(Bucket=b, Key="panda/k", Body=b"evil"),
                 403, "SignatureDoesNotMatch")
    expect_error(lambda: bad.put_object(Bucket=b, Key="panda/new", Body=b"evil"),
                 403, "SignatureDoesNotMatch")
    expect_error(lambda: bad.get_object(Bucket=b, Key="panda/k"), 403, "SignatureDoesNotMatch")
    expect_error(lambda: bad.list_objects_v2(Bucket=b), 403, "SignatureDoesNotMatch")
    expect_error(lambda: bad.delete_object(Bucket=b, Key="panda/k"), 403, "SignatureDoesNotMatch")
    # a conditional write with a bad signature gets 403, not 412: it learns nothing
    add_headers(bad, "PutObject", {"If-None-Match": "*"})
    expect_error(lambda: bad.put_object(Bucket=b, Key="panda/k", Body=b"evil"),
                 403, "SignatureDoesNotMatch")
    # wrong access key
    other = make_client(s3server.endpoint, access_key="NOBODY", secret_key="S3RVER")
    expect_error(lambda: other.get_object(Bucket=b, Key="panda/k"), 403, "InvalidAccessKeyId")
    # unsigned requests are refused (S3rver alone would let them through)
    anon = make_client(s3server.endpoint)
    anon.meta.events.register("choose-signer.s3.*", botocore.handlers.disable_signing)
    expect_error(lambda: anon.get_object(Bucket=b, Key="panda/k"), 403, "AccessDenied")
    expect_error(lambda: anon.put_object(Bucket=b, Key="panda/k", Body=b"evil"), 403, "AccessDenied")
    assert s3server.get_bytes("panda/k") == b"original"
    assert s3server.list_keys("") == ["panda/k"]


def test_if_none_match(s3server):
    etag = s3server.put_bytes("panda/k", b"first")
    with pytest.raises(ClientError) as ei:
        s3server.put_bytes("panda/k", b"second", if_none_match="*")
    assert error_code(ei.value) == (412, "PreconditionFailed")
    assert s3server.get_bytes("panda/k") == b"first"
    assert s3server.etag("panda/k") == etag
    # a new key: written
    assert s3server.put_bytes("panda/new", b"fresh", if_none_match="*") == md5_etag(b"fresh")
    assert s3server.get_bytes("panda/new") == b"fresh"
    # after a delete the key is new again
    s3server.delete("panda/k")
    s3server.put_bytes("panda/k", b"third", if_none_match="*")
    assert s3server.get_bytes("panda/k") == b"third"


def test_if_match(s3server):
    e1 = s3server.put_bytes("panda/k", b"v1")
    e2 = s3server.put_bytes("panda/k", b"v2", if_match=e1)
    assert e2 == md5_etag(b"v2") and e2 != e1
    assert s3server.get_bytes("panda/k") == b"v2"
    # stale ETag
    with pytest.raises(ClientError) as ei:
        s3server.put_bytes("panda/k", b"v3", if_match=e1)
    assert error_code(ei.value) == (412, "PreconditionFailed")
    assert s3server.get_bytes("panda/k") == b"v2"
    # missing key
    with pytest.raises(ClientError) as ei:
        s3server.put_bytes("panda/absent", b"x", if_match=e2)
    assert error_code(ei.value) == (412, "PreconditionFailed")
    assert s3server.get_bytes("panda/absent") is None
    # the ETag from a GET / HEAD / LIST is the one If-Match wants
    c = s3server.client()
    listed = c.list_objects_v2(Bucket=s3server.bucket, Prefix="panda/k")["Contents"][0]["ETag"]
    assert listed == e2 == s3server.etag("panda/k")
    s3server.put_bytes("panda/k", b"v4", if_match=listed)
    assert s3server.get_bytes("panda/k") == b"v4"


class Racers:
    """n boto3 clients, each sending the conditional headers set for it before a race."""

    def __init__(self, s3server, n):
        self.s3 = s3server
        self.n = n
        self.headers = [{} for _ in range(n)]
        self.clients = []
        for i in range(n):
            c = s3server.client()
            c.meta.events.register("before-sign.s3.PutObject", self._hook(i))
            self.clients.append(c)

    def _hook(self, i):
        def hook(request, **kwargs):
            for k, v in self.headers[i].items():
                request.headers[k] = v
        return hook

    def race(self, key, headers):
        """All n clients PUT key at once with headers; returns 200 or (status, code) each."""
        barrier = threading.Barrier(self.n)
        results = [None] * self.n

        def worker(i):
            self.headers[i] = dict(headers)
            barrier.wait()
            try:
                self.clients[i].put_object(Bucket=self.s3.bucket, Key=key, Body=b"writer %d" % i)
                results[i] = 200
            except ClientError as e:
                results[i] = error_code(e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(self.n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return results


def test_racing_conditional_writers(s3server):
    racers = Racers(s3server, 8)
    for r in range(10):
        key = "panda/race%d" % r
        etag = s3server.put_bytes(key, b"base")
        results = racers.race(key, {"If-Match": etag})
        winners = [i for i, x in enumerate(results) if x == 200]
        assert len(winners) == 1, results
        assert all(x == (412, "PreconditionFailed") for i, x in enumerate(results) if i != winners[0])
        assert s3server.get_bytes(key) == b"writer %d" % winners[0]

        key = "panda/create%d" % r
        results = racers.race(key, {"If-None-Match": "*"})
        winners = [i for i, x in enumerate(results) if x == 200]
        assert len(winners) == 1, results
        assert all(x == (412, "PreconditionFailed") for i, x in enumerate(results) if i != winners[0])
        assert s3server.get_bytes(key) == b"writer %d" % winners[0]


def _multipart(c, bucket, key, parts_data, complete_headers=None):
    up = c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for i, data in enumerate(parts_data, 1):
        r = c.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=i, Body=data)
        assert r["ETag"] == md5_etag(data)
        parts.append({"PartNumber": i, "ETag": r["ETag"]})
    remove = add_headers(c, "CompleteMultipartUpload", complete_headers) if complete_headers else None
    try:
        return c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                           MultipartUpload={"Parts": parts})
    finally:
        if remove:
            remove()


def test_multipart_upload(s3server):
    c = s3server.client(timeout=30)
    b = s3server.bucket
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]
    whole = b"".join(parts)
    r = _multipart(c, b, "panda/big", parts, {"If-None-Match": "*"})
    assert r["Key"] == "panda/big"
    assert s3server.get_bytes("panda/big") == whole
    head = s3server.head("panda/big")
    assert head["ContentLength"] == len(whole)
    assert head["ETag"] == r["ETag"]
    # completing onto an existing key with If-None-Match: * fails and leaves it alone
    with pytest.raises(ClientError) as ei:
        _multipart(c, b, "panda/big", [os.urandom(5 * MIB), b"tail"], {"If-None-Match": "*"})
    assert error_code(ei.value) == (412, "PreconditionFailed")
    assert s3server.get_bytes("panda/big") == whole
    # If-Match with the current ETag replaces it
    new = [os.urandom(5 * MIB), b"tail"]
    _multipart(c, b, "panda/big", new, {"If-Match": head["ETag"]})
    assert s3server.get_bytes("panda/big") == b"".join(new)


def test_fail_switch(s3server):
    s3server.put_bytes("panda/k", b"v")
    s3server.clear_requests()
    s3server.fail(True)
    c = s3server.client()
    expect_error(lambda: c.get_object(Bucket=s3server.bucket, Key="panda/k"), 503, "SlowDown")
    expect_error(lambda: c.put_object(Bucket=s3server.bucket, Key="panda/k", Body=b"w" * 100000),
                 503, "SlowDown")
    expect_error(lambda: c.list_objects_v2(Bucket=s3server.bucket), 503, "SlowDown")
    s3server.fail(False)
    assert s3server.get_bytes("panda/k") == b"v"
    reqs = s3server.requests()
    assert [(r["method"], r["status"]) for r in reqs] == [
        ("GET", 503), ("PUT", 503), ("GET", 503), ("GET", 200)]
    assert reqs[0]["path"] == "/panda-test/panda/k"
    assert reqs[2]["path"] == "/panda-test" and reqs[2]["query"].get("list-type") == "2"


def test_request_log(s3server):
    s3server.put_bytes("panda/dir/a b", b"1")
    s3server.list_keys("panda/")
    s3server.get_bytes("panda/nothing")
    s3server.delete("panda/dir/a b")
    reqs = s3server.requests()
    assert [(r["method"], r["path"], r["status"]) for r in reqs] == [
        ("PUT", "/panda-test/panda/dir/a b", 200),
        ("GET", "/panda-test", 200),
        ("GET", "/panda-test/panda/nothing", 404),
        ("DELETE", "/panda-test/panda/dir/a b", 204),
    ]
    assert reqs[1]["query"]["prefix"] == "panda/"


def test_restart_keeps_objects(s3server):
    data = os.urandom(4096)
    s3server.put_bytes("panda/keep", data)
    port = s3server.port
    assert s3server.stop() == 0
    # a stopped server fails fast
    c = make_client(s3server.endpoint, timeout=2)
    t0 = time.monotonic()
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        c.get_object(Bucket=s3server.bucket, Key="panda/keep")
    assert time.monotonic() - t0 < 5
    s3server.start()
    assert s3server.port == port
    assert s3server.get_bytes("panda/keep") == data
    assert s3server.list_keys("panda/") == ["panda/keep"]
    # restart() and kill() work too, and the bucket survives a SIGKILL
    s3server.restart()
    assert s3server.port == port
    s3server.kill()
    assert not s3server.alive()
    s3server.start()
    assert s3server.port == port and s3server.get_bytes("panda/keep") == data
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_env(s3server):
    e = s3server.env()
    assert e == {
        "PANDA_USE_S3": "true",
        "PANDA_S3_BUCKET": "panda-test",
        "PANDA_S3_ENDPOINT": "http://127.0.0.1:%d" % s3server.port,
        "PANDA_S3_REGION": "us-east-1",
        "PANDA_S3_PREFIX": "panda/",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": "S3RVER",
    }
    assert s3server.env(prefix="x/")["PANDA_S3_PREFIX"] == "x/"


def test_two_servers_side_by_side(tmp_path):
    a = S3Server(str(tmp_path / "a"), bucket="one").start()
    b = S3Server(str(tmp_path / "b"), bucket="two", extra_buckets=["three"]).start()
    try:
        assert a.port != b.port
        a.put_bytes("k", b"a")
        b.put_bytes("k", b"b")
        assert a.get_bytes("k") == b"a" and b.get_bytes("k") == b"b"
        b.client().put_object(Bucket="three", Key="z", Body=b"z")
        assert b.client().get_object(Bucket="three", Key="z")["Body"].read() == b"z"
        expect_error(lambda: a.client().get_object(Bucket="two", Key="k"), 404, "NoSuchBucket")
    finally:
        assert a.stop() == 0
        assert b.stop() == 0
