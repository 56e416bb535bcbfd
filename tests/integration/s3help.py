"""A real S3-compatible server on loopback for the integration tests: tests/interop/s3server.mjs
(@20minutes/s3rver, which checks SigV4 signatures, plus conditional writes, a failure switch and
a request log), and boto3 helpers to look at the bucket.

    from s3help import s3server          # the pytest fixture (function scope, bucket "panda-test")

    def test_something(s3server, server_factory):
        srv = server_factory(env=s3server.env())          # Panda with PANDA_USE_S3=true ...
        ...
        assert s3server.list_keys("panda/") == [...]
        s3server.fail(True)                               # every request now gets 503 SlowDown
        s3server.restart()                                # same directory and port

S3Server(root) -- root is a scratch directory (data/, requests.log, fail, stderr.log go there):
    start(), stop() (SIGTERM and wait), kill() (SIGKILL), restart() (same dir and port),
    .port, .endpoint ("http://127.0.0.1:PORT"), .bucket, .alive()
    fail(on)                  create / remove the fail file (503 SlowDown while it exists)
    requests()                the request log: dicts {"method", "path", "query", "status"}
                              (path percent-decoded, e.g. "/panda-test/panda/x"; query a dict)
    env(prefix="panda/")      environment variables for a Panda server using this S3
    client()                  a boto3 client (path-style, us-east-1, s3v4, fails fast)
    list_keys(prefix), get_bytes(key) (None when missing), head(key) (dict or None),
    put_bytes(key, data, if_none_match=None, if_match=None) -> ETag, delete(key)

Credentials S3RVER / S3RVER. Needs node with tests/interop/node_modules/@20minutes/s3rver
(npm install in tests/interop) and boto3 (Debian python3-boto3, so run pytest with
/usr/bin/python3); the fixture skips the test when either is missing.
"""
import json
import os
import select
import signal
import subprocess
import time

import pytest

from interop import node_path

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    HAVE_BOTO3 = True
except ImportError:  # pragma: no cover - depends on the machine
    boto3 = None
    HAVE_BOTO3 = False

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INTEROP_DIR = os.path.join(REPO, "tests", "interop")
SCRIPT = os.path.join(INTEROP_DIR, "s3server.mjs")
S3RVER_MODULE = os.path.join(INTEROP_DIR, "node_modules", "@20minutes", "s3rver")

ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
REGION = "us-east-1"
DEFAULT_BUCKET = "panda-test"
DEFAULT_PREFIX = "panda/"
START_TIMEOUT = 20.0


def have_s3():
    """(True, "") when the harness can run, else (False, reason)."""
    if not HAVE_BOTO3:
        return False, "boto3 is not installed (Debian: python3-boto3; run pytest with /usr/bin/python3)"
    if node_path() is None:
        return False, "node is not installed"
    if not os.path.isdir(S3RVER_MODULE):
        return False, ("npm package @20minutes/s3rver missing in tests/interop/node_modules "
                       "(npm install --no-audit --no-fund in tests/interop)")
    return True, ""


class S3Error(AssertionError):
    """The S3 server could not be started or misbehaved."""


def make_client(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, timeout=5.0, retries=0):
    """A boto3 S3 client for endpoint: path-style, us-east-1, SigV4, short timeouts, no retries
    (a stopped server fails fast)."""
    if not HAVE_BOTO3:
        pytest.skip(have_s3()[1])
    cfg = botocore.config.Config(
        region_name=REGION,
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1 + retries, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name=REGION, config=cfg)


def add_headers(client, operation, headers):
    """Have every later call of operation (e.g. "PutObject", "CompleteMultipartUpload") on
    client send extra HTTP headers (signed). Returns a function that removes the hook."""
    def hook(request, **kwargs):
        for k, v in headers.items():
            request.headers[k] = v
    event = "before-sign.s3.%s" % operation
    client.meta.events.register(event, hook)
    return lambda: client.meta.events.unregister(event, hook)


def error_code(exc):
    """(HTTP status, S3 error code) of a botocore ClientError."""
    r = exc.response
    return r.get("ResponseMetadata", {}).get("HTTPStatusCode"), r.get("Error", {}).get("Code")


class S3Server:
    def __init__(self, root, bucket=DEFAULT_BUCKET, extra_buckets=(), port=0, allow_anonymous=False):
        self.root = os.path.abspath(root)
        self.data_dir = os.path.join(self.root, "data")
        self.fail_path = os.path.join(self.root, "fail")
        self.log_path = os.path.join(self.root, "requests.log")
        self.stderr_path = os.path.join(self.root, "stderr.log")
        self.bucket = bucket
        self.buckets = [bucket] + [b for b in extra_buckets if b != bucket]
        self.port = port
        self.allow_anonymous = allow_anonymous
        self.proc = None
        self._client = None
        os.makedirs(self.root, exist_ok=True)

    # ------------------------------------------------------------------ process

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        ok, why = have_s3()
        if not ok:
            pytest.skip(why)
        if self.alive():
            raise S3Error("S3 server already running")
        argv = [node_path(), SCRIPT, "--dir", self.data_dir, "--port", str(self.port),
                "--fail-file", self.fail_path, "--log", self.log_path]
        for b in self.buckets:
            argv += ["--bucket", b]
        if self.allow_anonymous:
            argv.append("--allow-anonymous")
        env = dict(os.environ)
        opts = env.get("NODE_OPTIONS", "")
        if "--openssl-legacy-provider" not in opts.split():
            env["NODE_OPTIONS"] = (opts + " --openssl-legacy-provider").strip()
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(argv, cwd=INTEROP_DIR, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err)
        line = self._read_port_line()
        if not line.startswith("PORT "):
            self.kill()
            raise S3Error("s3server.mjs printed %r instead of PORT n; stderr:\n%s"
                          % (line, self._stderr_tail()))
        self.port = int(line.split()[1])
        return self

    def _read_port_line(self):
        deadline = time.monotonic() + START_TIMEOUT
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise S3Error("s3server.mjs did not start within %.0fs; stderr:\n%s"
                              % (START_TIMEOUT, self._stderr_tail()))
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    self.proc.wait(timeout=5)
                    raise S3Error("s3server.mjs exited with status %s; stderr:\n%s"
                                  % (self.proc.returncode, self._stderr_tail()))
                buf += chunk
        return buf.split(b"\n", 1)[0].decode("utf-8", "replace").strip()

    def _stderr_tail(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def _reap(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()

    def stop(self, timeout=10.0):
        """SIGTERM and wait. Returns the exit status (None if it was not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self._reap(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self._reap(5)
                raise S3Error("s3server.mjs ignored SIGTERM for %.0fs" % timeout)
        else:
            self._reap(5)
        rc = self.proc.returncode
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL and wait."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self._reap(10)
        self.proc = None

    def restart(self):
        """Stop (if running) and start again on the same directory and port."""
        self.stop()
        deadline = time.monotonic() + 10
        while True:
            try:
                return self.start()
            except S3Error:
                # the port may still be held for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # ------------------------------------------------------------------ switches and log

    def fail(self, on=True):
        """While on, every request gets 503 SlowDown."""
        if on:
            with open(self.fail_path, "w"):
                pass
        else:
            try:
                os.unlink(self.fail_path)
            except FileNotFoundError:
                pass

    def requests(self):
        """Every request logged so far (oldest first)."""
        try:
            with open(self.log_path, "r", encoding="utf-8") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass  # a line being written right now
        return out

    def clear_requests(self):
        """Forget the request log so far."""
        with open(self.log_path, "w"):
            pass

    # ------------------------------------------------------------------ Panda environment

    def env(self, prefix=DEFAULT_PREFIX):
        """Environment variables for a Panda server that uses this S3."""
        return {
            "PANDA_USE_S3": "true",
            "PANDA_S3_BUCKET": self.bucket,
            "PANDA_S3_ENDPOINT": self.endpoint,
            "PANDA_S3_REGION": REGION,
            "PANDA_S3_PREFIX": prefix,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    # ------------------------------------------------------------------ boto3 helpers

    def client(self, **kw):
        """A fresh boto3 client (keyword arguments go to make_client)."""
        return make_client(self.endpoint, **kw)

    def _c(self):
        if self._client is None or self._client.meta.endpoint_url != self.endpoint:
            self._client = self.client()
        return self._client

    def list_keys(self, prefix=""):
        """All keys under prefix, sorted (follows pagination)."""
        keys = []
        kw = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            r = self._c().list_objects_v2(**kw)
            keys += [o["Key"] for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                return sorted(keys)
            kw["ContinuationToken"] = r["NextContinuationToken"]

    def get_bytes(self, key):
        """The object's bytes, or None when the key does not exist."""
        try:
            return self._c().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as e:
            if error_code(e)[1] in ("NoSuchKey", "404"):
                return None
            raise

    def head(self, key):
        """HeadObject response (dict with ETag, ContentLength, ...) or None when missing."""
        try:
            return self._c().head_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as e:
            if error_code(e)[0] == 404:
                return None
            raise

    def etag(self, key):
        """The object's ETag as S3 sends it (quoted hex), or None."""
        h = self.head(key)
        return None if h is None else h["ETag"]

    def put_bytes(self, key, data, if_none_match=None, if_match=None):
        """PutObject; returns the new ETag. if_none_match="*" / if_match='"<etag>"' send the
        conditional headers; a failed condition raises botocore ClientError (412)."""
        headers = {}
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        if if_match is not None:
            headers["If-Match"] = if_match
        c = self.client() if headers else self._c()
        if headers:
            add_headers(c, "PutObject", headers)
        return c.put_object(Bucket=self.bucket, Key=key, Body=data)["ETag"]

    def delete(self, key):
        self._c().delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture
def s3server(tmp_path):
    """A running S3 server (bucket "panda-test") in a fresh directory; stopped afterwards."""
    ok, why = have_s3()
    if not ok:
        pytest.skip(why)
    srv = S3Server(str(tmp_path / "s3"))
    srv.start()
    try:
        yield srv
    finally:
        srv.fail(False)
        if srv.alive():
            srv.stop()
        else:
            srv.kill()
