"""Helpers shared by the Parquet snapshot tests (test_snapshot*.py, test_legacy_json.py).

bin/panda-check-parquet is $PANDA_CHECK_PARQUET, default: next to the server binary under
test (<repo>/bin for both the release and the ASan build).
"""
import os
import re
import signal
import subprocess
import time

from conftest import PANDA_BIN, RawClient, encode_command

SNAP_FILE = "kv_database.parquet"
SNAP_TMP = "kv_database.parquet.tmp"
WAL_FILE = "kv_database.wal"
JSON_FILE = "kv_database.json"
JSON_MIGRATED = "kv_database.json.migrated"

CHECK_PARQUET = os.environ.get("PANDA_CHECK_PARQUET",
                               os.path.join(os.path.dirname(PANDA_BIN), "panda-check-parquet"))
ASAN = "asan" in os.path.basename(PANDA_BIN)

# No automatic snapshots: the test decides when one runs.
SNAP_OFF = ["--snapshot-interval", "0", "--snapshot-timeout", "0"]


def without_snapshots(factory):
    """server_factory for servers that take no automatic snapshots (for tests of the log
    itself, which a snapshot would rewrite without the records it covers)."""
    def f(extra_args=None, **kw):
        return factory(extra_args=SNAP_OFF + list(extra_args or []), **kw)
    return f


def scaled(n, asan_div=2):
    """n for the release build, n / asan_div under ASan (everything is several times slower)."""
    return max(1, n // asan_div) if ASAN else n


def wait_for(pred, timeout, what, interval=0.02):
    """Polls pred() until it returns something truthy; returns it, or fails naming what."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def info(c, section="persistence"):
    """INFO section as {field: str} over a RawClient (exact text, nothing converted)."""
    text = c.cmd("INFO", section)
    assert isinstance(text, bytes), "INFO %s answered %r" % (section, text)
    out = {}
    for line in text.decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def info_int(c, field, section="persistence"):
    return int(info(c, section)[field])


def wait_snapshot_count(c, n, timeout=30.0):
    """Waits until snapshot_count >= n and no snapshot is running; returns the INFO fields."""
    def done():
        f = info(c)
        return f if int(f["snapshot_count"]) >= n and f["snapshot_in_progress"] == "0" else None
    return wait_for(done, timeout, "snapshot_count >= %d" % n)


def path(h_or_dir, name):
    d = h_or_dir if isinstance(h_or_dir, str) else h_or_dir.data_dir
    return os.path.join(d, name)


def read_file(p):
    with open(p, "rb") as f:
        return f.read()


def dir_state(d):
    """{file name: bytes} of every file in d: compare before/after to prove nothing changed."""
    out = {}
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            out[name] = read_file(p)
    return out


def _unescape(s):
    """Undoes panda-check-parquet --dump escaping (\\\\ and \\xHH)."""
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == 0x5C and i + 1 < len(s) and s[i + 1] == 0x5C:
            out.append(0x5C)
            i += 2
        elif c == 0x5C and i + 3 < len(s) and s[i + 1] == ord("x"):
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(c)
            i += 1
    return bytes(out)


def check_parquet(p, dump=False):
    """Runs panda-check-parquet. Returns (exit status, {summary field: str}, rows, output text);
    rows (with dump) is {key: (value, expire_ms or None)}."""
    argv = [CHECK_PARQUET] + (["--dump"] if dump else []) + [p]
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    summary_text = (r.stderr if dump else r.stdout).decode("utf-8", "replace")
    fields = {}
    for line in summary_text.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            fields.setdefault(k.strip(), v.strip())
    rows = {}
    if dump and r.returncode == 0:
        for line in r.stdout.split(b"\n"):
            if not line:
                continue
            k, v, e = line.split(b"\t")
            rows[_unescape(k)] = (_unescape(v), None if e == b"-" else int(e))
    text = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    return r.returncode, fields, rows, text


def stop_clean(h):
    rc = h.stop(signal.SIGTERM)
    assert rc == 0, "server exited with %s on SIGTERM\n%s" % (rc, h.stderr_text()[-3000:])


def kill9(h):
    h.expect_nonzero_exit = True
    rc = h.stop(signal.SIGKILL)
    assert rc == -signal.SIGKILL, rc


def start_expect_exit(server_factory, data_dir, extra_args=None, timeout=20.0):
    """Starts a server that must refuse to start; returns (handle, exit status, stderr)."""
    h = server_factory(extra_args=extra_args, data_dir=data_dir, wait=False)
    h.expect_nonzero_exit = True
    rc = h.wait_exit(timeout)
    if rc is None:
        h.stop(signal.SIGKILL)
        raise AssertionError("server did not exit within %.0fs\n%s" % (timeout, h.stderr_text()[-3000:]))
    return h, rc, h.stderr_text()


def load_keys(port, n, vlen=64, prefix=b"key:", batch=1000):
    """Loads n keys prefix%08d -> bulk_value(i, vlen) with pipelined MSETs (one WAL record
    per MSET of `batch` keys)."""
    s = RawClient(port, timeout=120)
    pieces = []
    for start in range(0, n, batch):
        end = min(n, start + batch)
        parts = [b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * (end - start))]
        for i in range(start, end):
            k = prefix + b"%08d" % i
            v = bulk_value(i, vlen)
            parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        pieces.append(b"".join(parts))
    s.send(b"".join(pieces))
    for _ in pieces:
        assert s.read() == "OK"
    s.close()


def bulk_value(i, vlen):
    return (b"v%d-" % i).ljust(vlen, b"x")


def pipeline(c, cmds):
    """Sends every command at once on RawClient c, returns the replies."""
    c.send(b"".join(encode_command(*a) for a in cmds))
    return [c.read() for _ in cmds]


def snapshot_child_pid(h, gen):
    m = wait_for(lambda: re.search(r"snapshot %d started by pid (\d+)" % gen, h.stderr_text()), 10,
                 "the log line of snapshot %d's child" % gen, interval=0.001)
    return int(m.group(1))


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def hold_snapshot_child(h, gen):
    """SIGSTOPs the child writing snapshot gen, so that the snapshot lasts as long as the test
    needs; returns its pid (SIGCONT it to let it finish)."""
    pid = snapshot_child_pid(h, gen)
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: proc_state(pid) in ("T", "Z", None), 5, "the snapshot child to stop")
    assert proc_state(pid) == "T", "snapshot %d finished before it could be held" % gen
    return pid
