"""Write-ahead log recovery: torn tails, corruption in the middle, what the server writes.

Contract: /work/notes/wal-spec.md; bytes: docs/FORMATS.md ("Write-ahead log"). The WAL files
are written by the real server and then damaged here with walfile.py (a pure-Python reader
and writer of the format, checked against the C reader by hand).
"""
import glob
import os
import random
import re
import signal
import subprocess
import tempfile
import time

import pytest

import walfile
from conftest import REPO, RawClient, encode_command
from snaphelp import without_snapshots

pytestmark = pytest.mark.panda_only

WAL = "kv_database.wal"
CHECK_WAL = os.environ.get("PANDA_CHECK_WAL", os.path.join(REPO, "bin", "panda-check-wal"))
HAVE_CHECK_WAL = os.access(CHECK_WAL, os.X_OK)
needs_checker = pytest.mark.skipif(not HAVE_CHECK_WAL, reason="bin/panda-check-wal not built yet")

N_KEYS = 50
LAST_VALUE_LEN = 300


# These tests are about the log itself (its bytes, LSNs from 1, every record kept): automatic
@pytest.fixture
def server_factory(server_factory):
    """No automatic snapshots here; snapshots with the log are covered by test_snapshot*.py."""
    return without_snapshots(server_factory)


# --------------------------------------------------------------------------- helpers

def wal_path(data_dir):
    return os.path.join(data_dir, WAL)


def read_wal(data_dir):
    with open(wal_path(data_dir), "rb") as f:
        return f.read()


def broken_files(data_dir):
    return sorted(glob.glob(os.path.join(data_dir, WAL + ".broken-*")))


def value_of(i):
    if i == N_KEYS - 1:
        return ("last-%d-" % i).encode() + bytes(random.Random(i).choice(b"abcdefghij") for _ in range(LAST_VALUE_LEN))
    return ("value-%d-" % i).encode() + b"x" * (i % 7)


def stop_clean(h):
    rc = h.stop(signal.SIGTERM)
    assert rc == 0, "server exited with %s on SIGTERM\n%s" % (rc, h.stderr_text()[-3000:])


def fresh_dir(tmp_path, name, wal_bytes=None):
    d = os.path.join(str(tmp_path), name)
    os.makedirs(d)
    if wal_bytes is not None:
        with open(wal_path(d), "wb") as f:
            f.write(wal_bytes)
    return d


def info_fields(c, section="persistence"):
    out = {}
    for line in c.cmd("INFO", section).decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def mget_all(c, keys):
    vals = []
    for i in range(0, len(keys), 500):
        part = keys[i:i + 500]
        v = c.cmd("MGET", *part)
        assert isinstance(v, list), "MGET answered %r" % (v,)
        vals.extend(v)
    return dict(zip(keys, vals))


def run_checker(path):
    p = subprocess.run([CHECK_WAL, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    fields = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip()] = v.strip()
    return p.returncode, fields, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


@pytest.fixture
def pristine(server_factory, tmp_path):
    """A WAL written by the server: N_KEYS SETs (k0..k49), last one with a 300-byte value,
    then SIGTERM. Returns (bytes, scan)."""
    d = fresh_dir(tmp_path, "pristine")
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    for i in range(N_KEYS):
        assert c.cmd("SET", "k%d" % i, value_of(i)) == "OK"
    c.close()
    stop_clean(h)
    data = read_wal(d)
    s = walfile.scan(data)
    assert s.damage == walfile.CLEAN, s
    assert len(s.records) == N_KEYS, s
    for i, rec in enumerate(s.records):
        assert [o.as_tuple() for o in rec.ops] == [("SET", b"k%d" % i, value_of(i), -1)], rec
    assert s.records[-1].end == len(data)
    return data, s


def start_on(server_factory, tmp_path, name, wal_bytes, extra_args=None, env=None):
    d = fresh_dir(tmp_path, name, wal_bytes)
    return server_factory(extra_args=extra_args, env=env, data_dir=d)


def start_expect_failure(server_factory, tmp_path, name, wal_bytes, extra_args=None, timeout=20.0):
    d = fresh_dir(tmp_path, name, wal_bytes)
    h = server_factory(extra_args=extra_args, data_dir=d, wait=False)
    h.expect_nonzero_exit = True
    rc = h.wait_exit(timeout)
    if rc is None:
        h.stop(signal.SIGKILL)
        raise AssertionError("server did not exit within %.0fs on a WAL corrupt in the middle\n%s"
                             % (timeout, h.stderr_text()[-3000:]))
    h.stopped_rc = rc
    return h, rc


def assert_prefix_served(h, n_before, absent_from=None):
    """Keys k0..k{n_before-1} present with their values, the rest of k0..k49 absent."""
    c = RawClient(h.port)
    keys = ["k%d" % i for i in range(N_KEYS)]
    got = mget_all(c, keys)
    bad = []
    for i, k in enumerate(keys):
        want = value_of(i) if i < n_before else None
        if got[k] != want:
            bad.append("%s: want %r got %r" % (k, want if want is None else want[:30], got[k] if got[k] is None else got[k][:30]))
    assert not bad, "after recovery (expect k0..k%d):\n%s" % (n_before - 1, "\n".join(bad[:20]))
    assert c.cmd("DBSIZE") == n_before
    c.close()


# --------------------------------------------------------------------------- torn tail

def _tail_cuts(last):
    """Cut offsets inside the last record: every byte of its header (after its first byte)
    and every byte of its payload."""
    return list(range(last.offset + 1, last.end))


@needs_checker
def test_checker_torn_tail_sweep(pristine):
    """Every cut point inside the last record (header and payload), with and without trailing
    garbage: panda-check-wal says torn tail at the last record's offset (exit 1)."""
    data, s = pristine
    last = s.records[-1]
    rng = random.Random(1234)
    rc, f, out = run_checker_bytes(data)
    assert rc == 0, out
    assert f.get("records") == str(N_KEYS) and f.get("last_lsn") == str(N_KEYS), out
    failures = []
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, WAL)
        for cut in _tail_cuts(last):
            variants = [data[:cut]]
            if cut % 3 == 0:
                variants.append(data[:cut] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))))
            if cut % 5 == 0:
                variants.append(data[:cut] + bytes(rng.randint(1, 4096)))
            for v in variants:
                with open(p, "wb") as fh:
                    fh.write(v)
                rc, f, out = run_checker(p)
                want = {"records": str(N_KEYS - 1), "last_lsn": str(N_KEYS - 1),
                        "first_bad_offset": str(last.offset), "damage": "torn-tail"}
                got = {k: f.get(k) for k in want}
                if rc != 1 or got != want:
                    failures.append("cut %d (+%d extra bytes): exit %d, %r" % (cut, len(v) - cut, rc, out.strip()[:200]))
    assert not failures, "%d checker failures, first ones:\n%s" % (len(failures), "\n".join(failures[:10]))


def run_checker_bytes(data):
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, WAL)
        with open(p, "wb") as fh:
            fh.write(data)
        return run_checker(p)


@needs_checker
def test_checker_bad_header_and_missing_file(tmp_path):
    rc, _, out = run_checker(os.path.join(str(tmp_path), "no-such.wal"))
    assert rc == 3, out
    img = bytearray(walfile.build([[("SET", "a", "1")]]))
    img[3] ^= 0x20  # magic
    rc, _, out = run_checker_bytes(bytes(img))
    assert rc == 3, out


def _server_cut_variants(last, rng):
    hdr = [last.offset + 1, last.offset + 4, last.offset + 8, last.offset + 16]
    pay = [last.payload_offset, last.payload_offset + last.length // 2, last.end - 1,
           last.payload_offset + rng.randrange(1, last.length - 1)]
    out = [(c, b"") for c in hdr + pay]
    out.append((last.offset + 5, bytes(rng.randrange(256) for _ in range(40))))   # garbage in the header
    out.append((last.payload_offset + 100, bytes(rng.randrange(256) for _ in range(500))))  # garbage in payload
    out.append((last.end - 3, bytes(8192)))  # zero-filled tail (preallocated space)
    return out


def test_torn_tail_server_recovers(pristine, server_factory, tmp_path):
    """A cut inside the last record (optionally followed by garbage): the server starts, logs
    `torn tail`, keeps the cut bytes in kv_database.wal.broken-*, truncates the WAL to the
    last good record, serves k0..k48 but not k49, and appends the next write as LSN 50."""
    data, s = pristine
    last = s.records[-1]
    rng = random.Random(99)
    for n, (cut, extra) in enumerate(_server_cut_variants(last, rng)):
        damaged = data[:cut] + extra
        ps = walfile.scan(damaged)
        assert ps.damage == walfile.TORN and ps.bad_offset == last.offset, (cut, ps)
        h = start_on(server_factory, tmp_path, "torn%d" % n, damaged)
        where = "cut at %d (record at %d, +%d bytes of garbage)" % (cut, last.offset, len(extra))
        log = h.stderr_text()
        assert "torn tail" in log, where + "\n" + log[-2000:]
        assert "WAL replay:" in log, where + "\n" + log[-2000:]
        assert_prefix_served(h, N_KEYS - 1)
        br = broken_files(h.data_dir)
        assert len(br) == 1, "%s: broken files %r" % (where, br)
        with open(br[0], "rb") as f:
            assert f.read() == damaged[last.offset:], where + ": .broken file does not hold the cut-off bytes"
        assert os.path.getsize(wal_path(h.data_dir)) == last.offset, where + ": WAL not truncated to last good record"
        c = RawClient(h.port)
        assert c.cmd("SET", "after", "torn%d" % n) == "OK"
        c.close()
        stop_clean(h)
        h.check_sanitizers()
        after = walfile.scan(read_wal(h.data_dir))
        assert after.damage == walfile.CLEAN, (where, after)
        assert [r.lsn for r in after.records] == list(range(1, N_KEYS + 1)), where
        assert [o.as_tuple() for o in after.records[-1].ops] == [("SET", b"after", b"torn%d" % n, -1)]


# --------------------------------------------------------------------------- corruption in the middle

MIDDLE = 25  # index of the damaged record (LSN 26)


def _flip(data, s, field):
    rec = s.records[MIDDLE]
    if field == "payload":
        pos = rec.payload_offset + rec.length - 9  # last byte of the value
    elif field == "crc":
        pos = rec.offset + 1
    elif field == "lsn":
        pos = rec.offset + 8
    elif field == "len":
        pos = rec.offset + 5  # length += 256: runs into the next record
    else:
        raise ValueError(field)
    d = bytearray(data)
    d[pos] ^= 0x04
    return bytes(d), rec


@pytest.mark.parametrize("field", ["payload", "crc", "lsn", "len"])
def test_corrupt_middle_refuses_to_start(pristine, server_factory, tmp_path, field):
    """One flipped bit in record 26 of 50: exit status 1, stderr names the WAL path,
    `offset <N>` (the record's start) and `LSN 26`; the WAL is left untouched."""
    data, s = pristine
    damaged, rec = _flip(data, s, field)
    ps = walfile.scan(damaged)
    assert ps.damage == walfile.CORRUPT and ps.bad_offset == rec.offset and ps.bad_lsn == rec.lsn, ps
    h, rc = start_expect_failure(server_factory, tmp_path, "corrupt-" + field, damaged)
    err = h.stderr_text()
    assert rc == 1, "exit status %s, want 1\n%s" % (rc, err[-2000:])
    assert wal_path(h.data_dir) in err, "stderr does not name %s:\n%s" % (wal_path(h.data_dir), err[-2000:])
    assert re.search(r"offset %d\b" % rec.offset, err), "stderr lacks 'offset %d':\n%s" % (rec.offset, err[-2000:])
    assert re.search(r"LSN %d\b" % rec.lsn, err), "stderr lacks 'LSN %d':\n%s" % (rec.lsn, err[-2000:])
    assert read_wal(h.data_dir) == damaged, "the WAL was modified although the server refused to start"
    assert broken_files(h.data_dir) == []
    h.check_sanitizers()


@pytest.mark.parametrize("how", ["flag", "flag=yes", "env"])
def test_corrupt_middle_truncate_flag(pristine, server_factory, tmp_path, how):
    """--wal-truncate-corrupt (or PANDA_WAL_TRUNCATE_CORRUPT=yes): the server starts with
    exactly the 25 records before the flipped one, keeps everything from that offset in a
    .broken file, truncates there, and continues with LSN 26."""
    data, s = pristine
    damaged, rec = _flip(data, s, "payload")
    args, env = {"flag": (["--wal-truncate-corrupt"], None),
                 "flag=yes": (["--wal-truncate-corrupt=yes"], None),
                 "env": (None, {"PANDA_WAL_TRUNCATE_CORRUPT": "yes"})}[how]
    h = start_on(server_factory, tmp_path, "trunc-" + how.replace("=", "-"), damaged, extra_args=args, env=env)
    assert_prefix_served(h, MIDDLE)
    assert os.path.getsize(wal_path(h.data_dir)) == rec.offset, "WAL not truncated at the bad record"
    br = broken_files(h.data_dir)
    assert len(br) == 1, br
    with open(br[0], "rb") as f:
        assert f.read() == damaged[rec.offset:], ".broken file does not hold everything from the bad record"
    c = RawClient(h.port)
    assert c.cmd("SET", "after", "x") == "OK"
    c.close()
    stop_clean(h)
    after = walfile.scan(read_wal(h.data_dir))
    assert after.damage == walfile.CLEAN and [r.lsn for r in after.records] == list(range(1, MIDDLE + 2)), after


@needs_checker
def test_checker_corrupt_middle(pristine):
    data, s = pristine
    for field in ("payload", "crc", "lsn", "len"):
        damaged, rec = _flip(data, s, field)
        rc, f, out = run_checker_bytes(damaged)
        assert rc == 2, "%s: exit %d\n%s" % (field, rc, out)
        assert f.get("first_bad_offset") == str(rec.offset), "%s: %s" % (field, out)
        assert f.get("damage") == "corrupt-middle", "%s: %s" % (field, out)
        assert f.get("records") == str(MIDDLE) and f.get("last_lsn") == str(MIDDLE), "%s: %s" % (field, out)


# --------------------------------------------------------------------------- a log that follows a snapshot

# Built here with walfile.py: a log rewritten after a snapshot of LSN 5 starts with a marker (an
# empty record of LSN 5); a log that starts past LSN 1 without one follows LSN first - 1. With no
# snapshot in the data dir (covering LSN 0) the records up to there are missing: refused.
FOLLOWS_SNAPSHOT = {
    "marker-only": (walfile.build([], first_lsn=6, marker=True), 5),
    "marker-and-records": (walfile.build([[("SET", "a", "1")], [("DEL", "a")]], first_lsn=6, marker=True), 5),
    "no-marker": (walfile.build([[("SET", "a", "1")], [("DEL", "a")]], first_lsn=6), 5),
}


@pytest.mark.parametrize("name", sorted(FOLLOWS_SNAPSHOT))
def test_log_after_a_missing_snapshot_refuses_to_start(server_factory, tmp_path, name):
    img, need = FOLLOWS_SNAPSHOT[name]
    s = walfile.scan(img)
    assert s.damage == walfile.CLEAN and s.covers == need, s
    assert (s.marker is not None) == name.startswith("marker"), s
    h, rc = start_expect_failure(server_factory, tmp_path, name, img)
    err = h.stderr_text()
    assert rc not in (None, 0), err[-2000:]
    assert ("WAL %s continues from LSN %d but the snapshot covers LSNs up to 0 only: the records in between "
            "are missing" % (wal_path(h.data_dir), need)) in err, err[-2000:]
    assert read_wal(h.data_dir) == img and broken_files(h.data_dir) == [], "files changed although refused"
    if HAVE_CHECK_WAL:  # the file itself is clean
        rc, f, out = run_checker_bytes(img)
        assert rc == 0 and f.get("status") == "ok" and f.get("last_lsn") == str(s.last_lsn), out


# --------------------------------------------------------------------------- what the server writes

def test_server_wal_parses(server_factory, tmp_path):
    """The WAL matches the commands: one record per write command, LSNs 1..N, resulting
    state per key (INCR -> SET of the result, EXPIRE -> SET with absolute expiry, RENAME ->
    DEL + SET, FLUSHALL -> FLUSH); reads and failed commands write nothing."""
    d = fresh_dir(tmp_path, "parse")
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    exp = []  # list of (description, set of op tuples, or callable check)

    def w(desc, want, *cmd, reply=None):
        r = c.cmd(*cmd)
        if reply is not None:
            assert r == reply, "%s: reply %r" % (desc, r)
        exp.append((desc, want))
        return r

    def ro(*cmd):
        before = info_fields(c)["wal_last_lsn"]
        c.cmd(*cmd)
        assert info_fields(c)["wal_last_lsn"] == before, "%r wrote a WAL record" % (cmd,)

    w("SET", [("SET", b"a", b"1", -1)], "SET", "a", "1", reply="OK")
    w("SET binary", [("SET", b"bin\x00\xff", b"\r\n\x00" * 100, -1)], "SET", b"bin\x00\xff", b"\r\n\x00" * 100, reply="OK")
    big = bytes(range(256)) * 64
    w("SET big", [("SET", b"big", big, -1)], "SET", "big", big, reply="OK")
    w("INCR new", [("SET", b"n", b"1", -1)], "INCR", "n", reply=1)
    w("INCRBY", [("SET", b"n", b"42", -1)], "INCRBY", "n", 41, reply=42)
    w("DECR", [("SET", b"n", b"41", -1)], "DECR", "n", reply=41)
    w("APPEND", [("SET", b"a", b"1xyz", -1)], "APPEND", "a", "xyz", reply=4)
    t0 = int(time.time() * 1000)
    w("EXPIRE", [("SET", b"a", b"1xyz", ("range", t0 + 100000))], "EXPIRE", "a", 100, reply=1)
    t1 = int(time.time() * 1000)
    w("PEXPIREAT", [("SET", b"n", b"41", 4102444800123)], "PEXPIREAT", "n", 4102444800123, reply=1)
    w("PERSIST", [("SET", b"n", b"41", -1)], "PERSIST", "n", reply=1)
    t2 = int(time.time() * 1000)
    w("SET PX", [("SET", b"p", b"v", ("range", t2 + 500000))], "SET", "p", "v", "PX", 500000, reply="OK")
    t3 = int(time.time() * 1000)
    w("DEL", [("DEL", b"p")], "DEL", "p", reply=1)
    w("MSET", [("SET", b"m1", b"x", -1), ("SET", b"m2", b"y", -1)], "MSET", "m1", "x", "m2", "y", reply="OK")
    w("DEL 2", [("DEL", b"m1"), ("DEL", b"m2")], "DEL", "m1", "m2", "nosuch", reply=2)
    w("RENAME", [("DEL", b"n"), ("SET", b"n2", b"41", -1)], "RENAME", "n", "n2", reply="OK")
    ro("GET", "a")
    ro("MGET", "a", "n2")
    ro("EXISTS", "a")
    ro("INCR", "a")  # not an integer: error, no change
    w("FLUSHALL", [("FLUSH",)], "FLUSHALL", reply="OK")
    w("SET after flush", [("SET", b"z", b"last", -1)], "SET", "z", "last", reply="OK")

    inf = info_fields(c)
    assert inf.get("wal_enabled") == "1" and inf.get("wal_fsync") == "always", inf
    assert inf.get("wal_last_lsn") == str(len(exp)) and inf.get("wal_durable_lsn") == str(len(exp)), inf
    assert inf.get("wal_status") == "ok", inf
    c.close()
    stop_clean(h)

    data = read_wal(d)
    s = walfile.scan(data)
    assert s.damage == walfile.CLEAN, s
    assert [r.lsn for r in s.records] == list(range(1, len(exp) + 1)), \
        "LSNs %r for %d write commands" % ([r.lsn for r in s.records], len(exp))
    assert int(inf["wal_bytes"]) == len(data)
    for (desc, want), rec in zip(exp, s.records):
        got = sorted(o.as_tuple() for o in rec.ops)
        want_s = sorted(want, key=lambda t: t[:2])
        assert len(got) == len(want_s), "%s (LSN %d): ops %r, want %r" % (desc, rec.lsn, got, want_s)
        for g, wnt in zip(got, want_s):
            if len(wnt) == 4 and isinstance(wnt[3], tuple):
                # absolute expiry = command time + TTL; 2 s of slack for a cached clock
                lo = wnt[3][1] - 2000
                hi = wnt[3][1] + {"EXPIRE": t1 - t0, "SET PX": t3 - t2}[desc] + 2000
                assert g[:3] == wnt[:3] and lo <= g[3] <= hi, "%s (LSN %d): %r, want expiry in [%d, %d]" % (desc, rec.lsn, g, lo, hi)
            else:
                assert g == wnt, "%s (LSN %d): ops %r, want %r" % (desc, rec.lsn, got, want_s)

    # The replay reproduces the state.
    h2 = server_factory(data_dir=d)
    log = h2.stderr_text()
    assert re.search(r"WAL replay: %d records" % len(exp), log), log[-2000:]
    c = RawClient(h2.port)
    assert c.cmd("KEYS", "*") == [b"z"] and c.cmd("GET", "z") == b"last"
    assert info_fields(c).get("wal_replayed_records") == str(len(exp))
    c.close()


def test_expired_key_logged_as_del(server_factory, tmp_path):
    """A key that expires while the server runs ends up as a DEL in the WAL."""
    d = fresh_dir(tmp_path, "exp")
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("SET", "e", "v", "PX", 100) == "OK"
    assert c.cmd("SET", "keep", "v") == "OK"
    deadline = time.monotonic() + 5
    while c.cmd("DBSIZE") != 1 and time.monotonic() < deadline:  # active expiry (no access)
        time.sleep(0.05)
    assert c.cmd("GET", "e") is None
    c.close()
    stop_clean(h)
    s = walfile.scan(read_wal(d))
    assert s.damage == walfile.CLEAN
    ops = [o.as_tuple() for r in s.records for o in r.ops]
    assert ("DEL", b"e") in ops, ops
    h2 = server_factory(data_dir=d)
    c = RawClient(h2.port)
    assert c.cmd("KEYS", "*") == [b"keep"]
    c.close()


def test_multi_exec_is_one_record(server_factory, tmp_path):
    """MULTI/EXEC lands in one record; a cut anywhere inside it leaves none of its changes."""
    d = fresh_dir(tmp_path, "multi")
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    for i in range(10):
        assert c.cmd("SET", "k%d" % i, "v%d" % i) == "OK"
    c.send(b"".join(encode_command(*a) for a in (
        ("MULTI",), ("SET", "ta", "1"), ("SET", "tb", "2" * 200), ("INCR", "tc"), ("DEL", "k0"), ("EXEC",))))
    replies = [c.read() for _ in range(6)]
    assert replies[0] == "OK" and replies[1:5] == ["QUEUED"] * 4, replies
    assert replies[5] == ["OK", "OK", 1, 1], replies
    c.close()
    stop_clean(h)
    data = read_wal(d)
    s = walfile.scan(data)
    assert s.damage == walfile.CLEAN and len(s.records) == 11, s
    tx = s.records[-1]
    assert sorted(o.as_tuple() for o in tx.ops) == sorted([
        ("SET", b"ta", b"1", -1), ("SET", b"tb", b"2" * 200, -1), ("SET", b"tc", b"1", -1), ("DEL", b"k0")]), tx
    cuts = [tx.offset + 3, tx.offset + 16, tx.payload_offset + 1, tx.payload_offset + tx.length // 2, tx.end - 1]
    for n, cut in enumerate(cuts):
        h = start_on(server_factory, tmp_path, "multicut%d" % n, data[:cut])
        c = RawClient(h.port)
        got = mget_all(c, ["ta", "tb", "tc", "k0", "k9"])
        assert got == {"ta": None, "tb": None, "tc": None, "k0": b"v0", "k9": b"v9"}, "cut at %d: %r" % (cut, got)
        assert c.cmd("DBSIZE") == 10
        c.close()
        assert "torn tail" in h.stderr_text()


# --------------------------------------------------------------------------- fsync policies

@pytest.mark.parametrize("policy", ["always", "everysec", "no", "always-nogroup", "env-everysec"])
def test_policy_clean_restart(server_factory, tmp_path, policy):
    """Every fsync policy keeps everything across SIGTERM + restart."""
    args, env, want = {
        "always": (["--fsync", "always"], None, "always"),
        "everysec": (["--fsync", "everysec"], None, "everysec"),
        "no": (["--fsync", "no"], None, "no"),
        "always-nogroup": (["--fsync", "always", "--wal-group-commit", "no"], None, "always"),
        "env-everysec": (None, {"PANDA_FSYNC": "everysec"}, "everysec"),
    }[policy]
    d = fresh_dir(tmp_path, "pol")
    h = server_factory(extra_args=args, env=env, data_dir=d)
    c = h.client()
    assert c.info("persistence").get("wal_fsync") == want
    n = 300
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set("p%d" % i, "val%d" % i)
    assert all(p.execute())
    assert c.incrby("ctr", 7) == 7
    stop_clean(h)
    s = walfile.scan(read_wal(d))
    assert s.damage == walfile.CLEAN and len(s.records) == n + 1, s
    h2 = server_factory(extra_args=args, env=env, data_dir=d)
    assert "WAL replay: %d records" % (n + 1) in h2.stderr_text()
    c2 = h2.client()
    vals = c2.mget(["p%d" % i for i in range(n)])
    missing = [i for i, v in enumerate(vals) if v != b"val%d" % i]
    assert not missing, "%s: %d keys lost or wrong after restart, e.g. %r" % (policy, len(missing), missing[:10])
    assert c2.get("ctr") == b"7" and c2.dbsize() == n + 1
