"""Fault injection into the write-ahead log with the LD_PRELOAD shim tests/faults/faultfs.c.

What is checked (docs/FORMATS.md, /work/notes/wal-spec.md, reliability plan rows 10 and 11):
  * fsync EIO is fail-stop: the server exits 1 by itself, says `fsync`, and after a restart
    without the shim every acknowledged write is there (the shim also throws away the unsynced
    part of the file, as a kernel may, so an early acknowledgement would show as a lost key);
  * ENOSPC on append (plain, or a short write first) and on the fallocate reservation: writes
    are refused with `ERR Panda cannot write its WAL (... No space left on device ...)`, reads
    go on, an in-flight write gets no +OK while the disk is full, no partial record stays in
    the file, and everything resumes by itself once space is back.

The shim only works with the release binary (LD_PRELOAD and ASan do not mix). Build it with
  cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -fPIC -shared \
     -o build/faultfs.so tests/faults/faultfs.c -ldl -lpthread
"""
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import IS_REDIS, PANDA_BIN, REPO, RawClient, RespReader, encode_command
from snaphelp import without_snapshots

pytestmark = pytest.mark.panda_only

FAULTFS = os.path.join(REPO, "build", "faultfs.so")
CHECK_WAL = os.path.join(os.path.dirname(PANDA_BIN), "panda-check-wal")
WAL_NAME = "kv_database.wal"
REFUSAL = "ERR Panda cannot write its WAL"
ENOSPC_TEXT = "No space left on device"


# These tests are about the log itself (its bytes, LSNs from 1, every record kept): automatic
@pytest.fixture
def server_factory(server_factory):
    """No automatic snapshots here; snapshots with the log are covered by test_snapshot*.py."""
    return without_snapshots(server_factory)


def _skip_reason():
    if IS_REDIS:
        return "WAL fault injection is Panda-only (PANDA_TEST_TARGET=redis)"
    if "asan" in os.path.basename(PANDA_BIN):
        return ("LD_PRELOAD fault shim does not mix with the ASan build %s; run with "
                "PANDA_SERVER=<repo>/bin/panda-server" % PANDA_BIN)
    if not os.path.exists(FAULTFS):
        return ("fault shim %s missing: build it with `make build/faultfs.so` (or cc -std=c11 "
                "-D_GNU_SOURCE -O2 -fPIC -shared -o build/faultfs.so tests/faults/faultfs.c "
                "-ldl -lpthread)" % FAULTFS)
    return None


@pytest.fixture(autouse=True)
def _needs_shim():
    why = _skip_reason()
    if why:
        pytest.skip(why)


# --------------------------------------------------------------------------- WAL reader

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def scan_wal(path, check_crc=True):
    """Walks the WAL framing (docs/FORMATS.md). Returns (records, last_lsn, problem or None).
    A file that stops in the middle of a record, or a bad CRC/LSN/type, is a problem."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[:8] != b"PANDAWAL":
        return 0, 0, "bad header (%d bytes)" % len(data)
    if struct.unpack_from("<I", data, 12)[0] != crc32c(data[:12]):
        return 0, 0, "bad header CRC"
    off, n, lsn = 16, 0, 0
    while off < len(data):
        if len(data) - off < 17:
            return n, lsn, "partial record header at offset %d (%d bytes left)" % (off, len(data) - off)
        crc, ln, rlsn, typ = struct.unpack_from("<IIQB", data, off)
        if off + 17 + ln > len(data):
            return n, lsn, ("partial record at offset %d: needs %d bytes, %d left"
                            % (off, 17 + ln, len(data) - off))
        if rlsn != lsn + 1:
            return n, lsn, "LSN %d at offset %d, expected %d" % (rlsn, off, lsn + 1)
        if typ != 1:
            return n, lsn, "type %d at offset %d" % (typ, off)
        if check_crc and crc != crc32c(data[off + 4:off + 17 + ln]):
            return n, lsn, "bad CRC at offset %d (LSN %d)" % (off, rlsn)
        off += 17 + ln
        n += 1
        lsn = rlsn
    return n, lsn, None


def check_wal_tool(path):
    """Runs bin/panda-check-wal if it exists; asserts a clean file (exit 0)."""
    if not os.access(CHECK_WAL, os.X_OK):
        return "panda-check-wal not built (check skipped)"
    p = subprocess.run([CHECK_WAL, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, "panda-check-wal %s exited %d:\n%s" % (path, p.returncode, out)
    return out


# --------------------------------------------------------------------------- helpers

def shim_env(tmp_path, **faults):
    env = {"LD_PRELOAD": FAULTFS, "FAULTFS_LOG": str(tmp_path / "faultfs.log")}
    for k, v in faults.items():
        env["FAULTFS_" + k.upper()] = str(v)
    return env


def shim_log(tmp_path):
    try:
        with open(str(tmp_path / "faultfs.log")) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def diag(srv, tmp_path):
    return "\n--- server stderr (tail):\n%s\n--- faultfs log (tail):\n%s" % (
        srv.stderr_text()[-3000:], shim_log(tmp_path)[-1500:])


def restart_clean(server_factory, data_dir):
    """Starts the server again on data_dir without the shim."""
    return server_factory(data_dir=data_dir)


def assert_all_present(srv, expected, what):
    """expected: dict key(bytes) -> value(bytes). Checks them with MGET in chunks."""
    c = RawClient(srv.port, timeout=30)
    try:
        keys = sorted(expected)
        missing, wrong = [], []
        for i in range(0, len(keys), 200):
            chunk = keys[i:i + 200]
            vals = c.cmd("MGET", *chunk)
            assert isinstance(vals, list), "MGET answered %r" % (vals,)
            for k, v in zip(chunk, vals):
                if v is None:
                    missing.append(k)
                elif v != expected[k]:
                    wrong.append(k)
        assert not missing and not wrong, (
            "%s: %d of %d acknowledged writes missing after restart (e.g. %r), %d with a wrong "
            "value (e.g. %r)\n%s" % (what, len(missing), len(expected), missing[:5], len(wrong),
                                     wrong[:5], srv.stderr_text()[-2000:]))
    finally:
        c.close()


def try_read(client, timeout):
    """Reads one reply, or returns the string 'TIMEOUT' if none came within timeout."""
    client.sock.settimeout(timeout)
    try:
        return client.read()
    except socket.timeout:
        return "TIMEOUT"
    finally:
        client.sock.settimeout(10.0)


def poll_write_accepted(port, key, value, timeout):
    """Retries SET from a fresh client until +OK; returns (ok, last_reply)."""
    c = RawClient(port)
    last = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            c.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                last = c.cmd("SET", key, value)
            except socket.timeout:
                return False, "no reply (held?)"
            if last == "OK":
                return True, last
            time.sleep(0.1)
        return False, last
    finally:
        c.close()


# --------------------------------------------------------------------------- 1. fsync EIO

def test_fsync_failure_is_fail_stop_and_loses_no_ack(server_factory, tmp_path):
    fail_at = 20
    srv = server_factory(env=shim_env(tmp_path, fsync_fail_at=fail_at, fsync_lose=1))
    srv.expect_nonzero_exit = True  # exit 1 is the expected outcome here
    data_dir = srv.data_dir

    acked = {}
    lock = threading.Lock()
    stop = threading.Event()
    nclients = 6

    def writer(ci):
        try:
            c = RawClient(srv.port, timeout=10)
        except OSError:
            return
        try:
            for n in range(5000):
                if stop.is_set():
                    return
                k = b"fs:%d:%d" % (ci, n)
                v = b"v-%d-%d-%s" % (ci, n, os.urandom(4).hex().encode())
                try:
                    rep = c.cmd("SET", k, v)
                except (OSError, ConnectionError, ValueError):
                    return
                if rep == "OK":
                    with lock:
                        acked[k] = v
                else:
                    return  # an error reply: stop this client
        finally:
            c.close()

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(nclients)]
    for t in threads:
        t.start()
    rc = srv.wait_exit(15.0)
    stop.set()
    for t in threads:
        t.join(15.0)
    assert rc is not None, "server still running 15 s after the injected fsync failure" + diag(srv, tmp_path)
    srv.stopped_rc = rc
    log = shim_log(tmp_path)
    assert "EIO" in log, "the shim never failed an fsync (server made < %d syncs?)%s" % (fail_at, diag(srv, tmp_path))
    assert rc == 1, "server exit status %r after fsync EIO, expected 1%s" % (rc, diag(srv, tmp_path))
    assert "fsync" in srv.stderr_text().lower(), "stderr does not mention fsync" + diag(srv, tmp_path)
    assert acked, "no write was acknowledged before the failure (fail_at too small?)" + diag(srv, tmp_path)

    srv2 = restart_clean(server_factory, data_dir)
    assert_all_present(srv2, acked, "after fsync EIO")
    c = RawClient(srv2.port)
    assert c.cmd("SET", "after", "restart") == "OK"
    c.close()


# --------------------------------------------------------------------------- 2./3./4. ENOSPC

def check_read(port, args, expect, timeout=1.0):
    """Runs one read command on a fresh connection; returns None if it answered `expect`
    (a value, or a predicate) within timeout, else a description of what went wrong."""
    c = RawClient(port)
    try:
        c.send(encode_command(*args))
        rep = try_read(c, timeout)
    finally:
        c.close()
    if rep == "TIMEOUT":
        return "%s got no reply within %.1f s while the disk is full (reply held?)" % (
            " ".join(a if isinstance(a, str) else a.decode() for a in args), timeout)
    ok = expect(rep) if callable(expect) else rep == expect
    return None if ok else "%s answered %r while the disk is full" % (args, rep)


def _run_enospc(server_factory, tmp_path, faults, value_size, max_writes):
    """Common body: a client writes until one SET is held (the WAL hit ENOSPC), then checks
    the refusal, reads, the held reply, recovery when the flag file goes, and the restart."""
    flag = tmp_path / "disk-full.flag"
    flag.write_bytes(b"")
    srv = server_factory(env=shim_env(tmp_path, enospc_flag=str(flag), **faults))
    try:
        return _enospc_body(server_factory, tmp_path, srv, flag, value_size, max_writes)
    finally:
        # So that a failed test does not also fail the fixture's SIGTERM (the server cannot
        # flush its WAL while the disk is "full" and then exits 1).
        if flag.exists():
            flag.unlink()


def _enospc_body(server_factory, tmp_path, srv, flag, value_size, max_writes):
    problems = []  # contract violations that do not stop the rest of the scenario
    data_dir = srv.data_dir
    wal = os.path.join(data_dir, WAL_NAME)
    acked = {}

    c1 = RawClient(srv.port)
    held_key = held_val = None
    for n in range(max_writes):
        k = b"ns:%d" % n
        v = (b"%d-" % n) + os.urandom(value_size // 2).hex().encode()[:value_size]
        c1.send(encode_command("SET", k, v))
        rep = try_read(c1, 1.0 if value_size < 4096 else 3.0)
        if rep == "OK":
            acked[k] = v
            continue
        assert rep == "TIMEOUT", ("SET %r got %r while the disk filled up; a write already "
                                  "executed must be held, not answered%s" % (k, rep, diag(srv, tmp_path)))
        held_key, held_val = k, v
        break
    assert held_key is not None, ("no write was ever held after %d writes: the WAL never hit the "
                                  "injected ENOSPC%s" % (max_writes, diag(srv, tmp_path)))
    assert acked, "the fault hit before any write was acknowledged" + diag(srv, tmp_path)
    assert srv.alive(), "server died on ENOSPC" + diag(srv, tmp_path)

    # New writes are refused with the WAL error, reads keep working.
    c2 = RawClient(srv.port)
    for cmd in (("SET", "refused", "x"), ("DEL", next(iter(acked))), ("INCR", "counter")):
        rep = c2.cmd(*cmd)
        assert isinstance(rep, RespReader.RespError), "%r accepted while the disk is full: %r%s" % (
            cmd, rep, diag(srv, tmp_path))
        assert str(rep).startswith(REFUSAL) and ENOSPC_TEXT in str(rep), (
            "%r refused with %r, expected '%s ... %s ...'" % (cmd, str(rep), REFUSAL, ENOSPC_TEXT))
    first_key = sorted(acked)[0]
    for args, expect in ((("PING",), "PONG"),
                         (("GET", first_key), acked[first_key]),
                         (("DBSIZE",), lambda v: isinstance(v, int) and v >= len(acked))):
        why = check_read(srv.port, args, expect)
        if why:
            problems.append("reads must keep working: " + why)

    # No partial record in the file while the disk is full.
    _, _, problem = scan_wal(wal, check_crc=value_size < 4096)
    assert problem is None, "WAL while the disk is full: %s%s" % (problem, diag(srv, tmp_path))

    # The in-flight write stays unacknowledged across at least one retry (once a second).
    rep = try_read(c1, 1.5)
    assert rep == "TIMEOUT", "held SET answered %r while the disk is still full%s" % (rep, diag(srv, tmp_path))

    # Space comes back: the retry succeeds, the held reply goes out, writes are accepted.
    flag.unlink()
    t0 = time.monotonic()
    ok, last = poll_write_accepted(srv.port, "probe", "after-space", 5.0)
    assert ok, "writes still refused 5 s after space came back (last reply %r)%s" % (last, diag(srv, tmp_path))
    acked[b"probe"] = b"after-space"
    rep = try_read(c1, max(0.5, 5.0 - (time.monotonic() - t0)))
    assert rep == "OK", "held SET %r got %r after space came back%s" % (held_key, rep, diag(srv, tmp_path))
    acked[held_key] = held_val
    deadline = time.monotonic() + 3
    while "WAL writable again" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    if "WAL writable again" not in srv.stderr_text():
        found = [ln for ln in srv.stderr_text().splitlines() if "writable" in ln]
        problems.append("no log line containing 'WAL writable again' (lines with 'writable': %r)"
                        % found)
    for n in range(5):
        k, v = b"post:%d" % n, b"after-%d" % n
        assert c1.cmd("SET", k, v) == "OK"
        acked[k] = v
    c1.close()
    c2.close()

    assert srv.stop(signal.SIGTERM) == 0, "exit status after SIGTERM" + diag(srv, tmp_path)
    _, _, problem = scan_wal(wal, check_crc=value_size < 4096)
    assert problem is None, "WAL after a clean shutdown: %s" % problem
    check_wal_tool(wal)

    srv2 = restart_clean(server_factory, data_dir)
    assert_all_present(srv2, acked, "after ENOSPC")
    assert srv2.stop(signal.SIGTERM) == 0
    check_wal_tool(wal)
    assert not problems, "\n".join(problems)
    return srv, shim_log(tmp_path)


def test_enospc_on_append_refuses_writes_and_recovers(server_factory, tmp_path):
    # Calls counted: header write (fresh log), the start-up reservation, then one write per
    # event-loop iteration: the fault lands after a few acknowledged SETs.
    _, log = _run_enospc(server_factory, tmp_path, dict(enospc_at=12), value_size=40, max_writes=200)
    assert "ENOSPC" in log


def test_enospc_after_short_write_leaves_no_partial_record(server_factory, tmp_path):
    _, log = _run_enospc(server_factory, tmp_path, dict(enospc_at=12, short=1), value_size=300,
                         max_writes=200)
    assert "short write" in log, "the shim never made a short write:\n" + log


def test_fallocate_enospc_refuses_writes_and_recovers(server_factory, tmp_path):
    # Only fallocate fails: the first reservation (at start-up) succeeds, the next one, needed
    # once the log outgrows it (64 MB ahead), hits ENOSPC. Appends themselves would succeed, so
    # the server must refuse writes because of the failed reservation alone.
    _, log = _run_enospc(server_factory, tmp_path, dict(enospc_at=2, enospc_ops="fallocate"),
                         value_size=1 << 20, max_writes=150)
    assert "fallocate" in log and "ENOSPC" in log, (
        "the server never called fallocate on the WAL a second time:\n" + log)


def _recv_for(sock, seconds):
    """Everything the socket delivers within `seconds` (stops early on close)."""
    sock.settimeout(0.1)
    data = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def test_held_reply_does_not_leave_with_a_slow_clients_output(server_factory, tmp_path):
    """Regression: a client whose socket was full kept EV_WRITABLE; a write it pipelined then
    left with the rest of its output before the WAL had it. With the disk 'full', the +OK of
    that write must not arrive until the WAL accepts the record."""
    flag = tmp_path / "disk-full.flag"
    srv = server_factory(env=shim_env(tmp_path, enospc_at=1, enospc_flag=str(flag)))
    try:
        value = b"v" * (6 << 20)  # more than the socket buffers hold
        srv.client().set("big", value)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((srv.host, srv.port))
        s.sendall(encode_command("GET", "big"))
        time.sleep(0.3)  # the server fills the socket and waits for it to drain
        flag.write_bytes(b"")  # from now on the WAL cannot be written
        s.sendall(encode_command("SET", "k", "after"))
        time.sleep(0.3)
        get_reply = b"$%d\r\n" % len(value) + value + b"\r\n"
        early = b""
        while True:  # drain until the server stops sending (or sent more than the GET)
            more = _recv_for(s, 1.0)
            early += more
            if not more or len(early) > len(get_reply):
                break
        assert len(early) <= len(get_reply), "the SET's reply left before the WAL had its record"
        flag.unlink()  # space returns: the record is written, the reply released
        rest = _recv_for(s, 5.0)
        while len(early) + len(rest) < len(get_reply) + 5:
            more = _recv_for(s, 1.0)
            if not more:
                break
            rest += more
        assert early + rest == get_reply + b"+OK\r\n"
        s.close()
    finally:
        if flag.exists():
            flag.unlink()


def test_read_held_behind_a_failing_write_is_released(server_factory, tmp_path):
    """Regression (CI): under fsync always a read waits for the records before it, except while
    the WAL cannot be written. A read run in the same loop iteration as a write whose record
    then hit ENOSPC was held until space came back. SIGSTOP makes both arrive in one iteration:
    the write first, then the read."""
    flag = tmp_path / "disk-full.flag"
    env = shim_env(tmp_path, enospc_at=1, enospc_flag=str(flag), enospc_ops="write")
    srv = server_factory(extra_args=["--fsync", "always"], env=env)
    writer, reader = RawClient(srv.port), RawClient(srv.port)
    try:
        assert writer.cmd("SET", "a", "1") == "OK"
        flag.write_bytes(b"")
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            writer.send(encode_command("SET", "b", "2"))
            time.sleep(0.05)
            reader.send(encode_command("GET", "a"))
            time.sleep(0.05)
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)
        assert try_read(reader, 5.0) == b"1", "the read stayed held" + diag(srv, tmp_path)
        assert try_read(writer, 0.5) == "TIMEOUT", "the write was acknowledged before its record"
        flag.unlink()
        assert try_read(writer, 10.0) == "OK"
        assert reader.cmd("GET", "b") == b"2"
    finally:
        writer.close()
        reader.close()
        if flag.exists():
            flag.unlink()
