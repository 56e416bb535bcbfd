"""Shared fixtures for the Panda integration suite.

Target selection:
  * default: the Panda binary from $PANDA_SERVER (default <repo>/bin/panda-server)
  * PANDA_TEST_TARGET=redis: a stock redis-server (tests marked panda_only are skipped)
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import redis

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PANDA_BIN = os.environ.get("PANDA_SERVER", os.path.join(REPO, "bin", "panda-server"))
TARGET = os.environ.get("PANDA_TEST_TARGET", "panda").lower()
IS_REDIS = TARGET == "redis"

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "panda_only: test exercises Panda-specific behaviour (skipped when PANDA_TEST_TARGET=redis)"
    )


def pytest_collection_modifyitems(config, items):
    # PANDA_TEST_NO_SKIP=1 runs panda_only tests against redis too (to debug the tests themselves).
    if not IS_REDIS or os.environ.get("PANDA_TEST_NO_SKIP") == "1":
        return
    skip = pytest.mark.skip(reason="panda_only test skipped with PANDA_TEST_TARGET=redis")
    for item in items:
        if "panda_only" in item.keywords:
            item.add_marker(skip)


# --------------------------------------------------------------------------- helpers

def free_port():
    """Return a TCP port on 127.0.0.1 that is currently free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    """True if a new server could listen on port (SO_REUSEADDR, like servers do, so
    TIME_WAIT leftovers do not count; only a live listener does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
        except OSError:
            return False
        return True


def wait_port_free(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_free(port):
            return True
        time.sleep(0.05)
    return port_is_free(port)


def raw_connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def recv_until_closed(sock, timeout=5.0):
    """Read everything until the peer closes. Returns (data, closed)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def is_closed(sock, timeout=5.0):
    """True if the peer closed the connection (EOF/RST) within timeout, ignoring pending data."""
    _, closed = recv_until_closed(sock, timeout)
    return closed


class RespReader:
    """Minimal RESP2/RESP3 reply parser over a raw socket (returns python values,
    errors as RespError instances, simple strings as str)."""

    class RespError(Exception):
        pass

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def read_line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def read_bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self.read_line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespReader.RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.read_bytes(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"%":
            n = int(rest)
            out = {}
            for _ in range(n):
                k = self.read()
                out[k] = self.read()
            return out
        if t == b"_":
            return None
        if t == b",":
            return float(rest)
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return int(rest)
        if t in (b"=", b"!"):
            return self.read_bytes(int(rest))
        raise ValueError("bad RESP type byte in %r" % line)


def encode_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_vmrss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# --------------------------------------------------------------------------- server handle

class ServerHandle:
    def __init__(self, proc, host, port, data_dir, tmp_dir, stderr_path, argv):
        self.proc = proc
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.tmp_dir = tmp_dir
        self.stderr_path = stderr_path
        self.argv = argv
        self._clients = []
        self.stopped_rc = None

    @property
    def pid(self):
        return self.proc.pid

    def client(self, **kw):
        opts = dict(host=self.host, port=self.port, decode_responses=False, socket_timeout=10)
        opts.update(kw)
        c = redis.Redis(**opts)
        self._clients.append(c)
        return c

    def raw(self, timeout=10.0):
        return raw_connect(self.port, self.host, timeout)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig (if still running) and wait for exit; returns the exit status."""
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit within %.0fs after signal %s\nstderr tail:\n%s"
                                 % (timeout, sig, self.stderr_text()[-3000:]))
        self.stopped_rc = rc
        return rc

    def wait_exit(self, timeout=10.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def check_sanitizers(self):
        text = self.stderr_text()
        for m in SANITIZER_MARKERS:
            assert m not in text, "sanitizer report in server stderr:\n" + text[-5000:]


def build_argv(port, data_dir, extra_args):
    extra = list(extra_args or [])
    if IS_REDIS:
        return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", data_dir] + extra
    return [PANDA_BIN, "--port", str(port), "--bind", "127.0.0.1", "--data-dir", data_dir,
            "--log-level", "debug"] + extra


def wait_ping(proc, port, timeout=10.0, stderr_path=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False, "server exited with status %s" % proc.returncode
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.sendall(b"*1\r\n$4\r\nPING\r\n")
                s.settimeout(1.0)
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(100)
                    if not chunk:
                        break
                    data += chunk
                if data == b"+PONG\r\n":
                    return True, None
                last = "PING answered %r" % data
        except OSError as e:
            last = repr(e)
        time.sleep(0.02)
    return False, "no PONG within %.0fs (%s)" % (timeout, last)


def launch(tmp_root, extra_args=None, env=None, port=None, wait=True, data_dir=None, bare=False, wrap=None):
    """Start a server process. Returns ServerHandle. Raises on failure to become ready.

    bare=True runs just `BIN extra_args...` (no default flags); pass port= to say where to PING.
    wrap: a command that execs the server (argv prefix), such as setpriv; the pid stays."""
    if not IS_REDIS and not os.access(PANDA_BIN, os.X_OK):
        pytest.fail("server binary %s does not exist (build with `make` or set PANDA_SERVER)" % PANDA_BIN)
    tmp_dir = tempfile.mkdtemp(prefix="srv-", dir=str(tmp_root))
    if data_dir is None:
        data_dir = os.path.join(tmp_dir, "data")
        os.makedirs(data_dir)
    attempts = 1 if (port is not None or bare) else 5
    last_err = None
    for _ in range(attempts):
        p = port if port is not None else free_port()
        stderr_path = os.path.join(tmp_dir, "server-%d.stderr" % p)
        if bare:
            argv = [PANDA_BIN] + list(extra_args or [])
        else:
            argv = build_argv(p, data_dir, extra_args)
        argv = list(wrap or []) + argv
        full_env = dict(os.environ)
        # The HTTP port (default 8081) stays closed unless a test asks for it, so servers
        # started side by side never compete for it (tests/integration/httphelp.py opens it).
        full_env.setdefault("PANDA_HTTP_PORT", "0")
        if env:
            full_env.update(env)
        errf = open(stderr_path, "wb")
        stdout_target = errf if IS_REDIS else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdout=stdout_target, stderr=errf, stdin=subprocess.DEVNULL,
                                env=full_env, cwd=tmp_dir)
        errf.close()
        h = ServerHandle(proc, "127.0.0.1", p, data_dir, tmp_dir, stderr_path, argv)
        if not wait:
            return h
        ok, why = wait_ping(proc, p, 10.0)
        if ok:
            return h
        last_err = why
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # Retry on a different port only if the port was probably stolen.
        if "Address already in use" not in h.stderr_text() and "address already in use" not in h.stderr_text().lower():
            break
    raise AssertionError("server failed to start: %s\nargv: %s\nstderr:\n%s"
                         % (last_err, argv, h.stderr_text()[-3000:]))


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def factory(extra_args=None, env=None, **kw):
        h = launch(tmp_path, extra_args=extra_args, env=env, **kw)
        started.append(h)
        return h

    yield factory

    errors = []
    for h in started:
        try:
            if h.stopped_rc is None and h.proc.returncode is None:
                rc = h.stop(signal.SIGTERM, timeout=10.0)
            else:
                rc = h.stopped_rc if h.stopped_rc is not None else h.proc.returncode
            if rc != 0 and not getattr(h, "expect_nonzero_exit", False):
                errors.append("server %s exited with status %s\nstderr tail:\n%s"
                              % (h.port, rc, h.stderr_text()[-3000:]))
            h.check_sanitizers()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def r(server):
    c = server.client()
    yield c
    c.close()


class RawClient:
    """A RESP client over a plain socket that returns errors (with their full text,
    e.g. 'ERR syntax error') instead of raising."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = raw_connect(port, host, timeout)
        self.reader = RespReader(self.sock)

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        self.sock.sendall(encode_command(*args))
        return self.read()

    def read(self):
        v = self.reader.read()
        return v

    def err(self, *args):
        """Run a command that must fail; return the error text."""
        v = self.cmd(*args)
        assert isinstance(v, RespReader.RespError), "expected an error from %r, got %r" % (args, v)
        return str(v)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture
def rc(server):
    c = RawClient(server.port)
    yield c
    c.close()
