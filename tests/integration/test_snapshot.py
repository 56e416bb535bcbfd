"""Parquet snapshots (src/snap.h, docs/FORMATS.md): what SAVE / SNAPSHOT / BGSAVE / LASTSAVE
do, automatic snapshots (interval, timeout, pacing), INFO and STATS, recovery from a snapshot
plus the WAL (after kill -9 too), a missing or damaged snapshot, a leftover .tmp, codecs,
--import, and binary keys and values.

Every snapshot is checked with bin/panda-check-parquet (the server's own reader, run offline)
and the WAL with walfile.py. Sizes shrink under the ASan build (snaphelp.scaled).
"""
import os
import re
import select
import shutil
import signal
import time

import pytest

import walfile
from conftest import RawClient, RespReader, encode_command, recv_until_closed, wait_ping
from snaphelp import (SNAP_FILE, SNAP_OFF, SNAP_TMP, WAL_FILE, bulk_value, check_parquet, dir_state,
                      hold_snapshot_child, info, info_int, kill9, load_keys, path, pipeline, proc_state,
                      read_file, scaled, snapshot_child_pid, start_expect_exit, stop_clean, wait_for,
                      wait_snapshot_count)

pytestmark = pytest.mark.panda_only

BIG = scaled(300000)  # keys for the tests that need a snapshot that takes a while


def is_err(v):
    return isinstance(v, RespReader.RespError)


def wal_scan(h_or_dir):
    s = walfile.scan_file(path(h_or_dir, WAL_FILE))
    assert s.damage == walfile.CLEAN, s
    return s


def wal_after_snapshot(h_or_dir, snap_lsn):
    """Checks the WAL as rewritten after a snapshot covering snap_lsn: the 16-byte header,
    then exactly one marker record (LSN snap_lsn, len 0, no ops) right after it, then the
    records snap_lsn + 1, snap_lsn + 2, ... back to back up to the end of the file, each with
    at least one op. Returns (scan, the records after the marker)."""
    p = path(h_or_dir, WAL_FILE)
    data = read_file(p)
    s = walfile.scan(data)
    assert s.damage == walfile.CLEAN, s
    m, body = s.split()
    assert m is not None, "the WAL after a snapshot of LSN %d does not start with a marker: %r" % (snap_lsn, s)
    assert (m.offset, m.lsn, m.length, m.ops) == (walfile.FILE_HDR, snap_lsn, 0, []), (m, s)
    assert data[walfile.FILE_HDR:m.end] == walfile.marker_record(snap_lsn), data[:m.end + 8]
    assert s.covers == snap_lsn, s
    assert [r.lsn for r in body] == list(range(snap_lsn + 1, snap_lsn + 1 + len(body))), s
    assert all(r.ops for r in body) and not s.stray_empty, "an empty record after the marker: %r" % (s,)
    assert (body[0].offset if body else m.end) == m.end, s
    assert s.good_end == len(data) == os.path.getsize(p), s
    return s, body


def stats(c):
    line = c.cmd("STATS").decode()
    m = re.fullmatch(r"Storage: Local \((.*)\), Parquet: (\d+)KB, WAL: (\d+)KB, In-memory: (\d+) keys, "
                     r"Pending: (\d+) ops", line)
    assert m, "STATS answered %r" % line
    return {"dir": m.group(1), "parquet_kb": int(m.group(2)), "wal_kb": int(m.group(3)),
            "keys": int(m.group(4)), "pending": int(m.group(5))}


def kb(nbytes):
    return (nbytes + 1023) // 1024


def key_state(c, keys):
    """{key: (value, PEXPIRETIME)} for present keys."""
    out = {}
    for k in keys:
        v = c.cmd("GET", k)
        if v is not None:
            out[k] = (v, c.cmd("PEXPIRETIME", k))
    return out


# --------------------------------------------------------------------------- SAVE / SNAPSHOT

@pytest.mark.parametrize("command", ["SAVE", "SNAPSHOT"])
def test_save_writes_a_readable_snapshot(server_factory, command):
    h = server_factory(extra_args=SNAP_OFF)
    c = RawClient(h.port)
    want = {}
    for i in range(120):
        k, v = b"k%d" % i, b"value-%d" % i
        assert c.cmd("SET", k, v) == "OK"
        want[k] = (v, None)
    assert c.cmd("SET", "ttl", "t", "PX", 3600000) == "OK"
    want[b"ttl"] = (b"t", c.cmd("PEXPIRETIME", "ttl"))
    assert c.cmd("DEL", "k7") == 1
    del want[b"k7"]
    lsn = info_int(c, "wal_last_lsn")
    assert lsn == 122

    assert c.cmd(command) == "OK"
    p = path(h, SNAP_FILE)
    assert os.path.isfile(p) and not os.path.exists(path(h, SNAP_TMP))
    rc, fields, rows, out = check_parquet(p, dump=True)
    assert rc == 0 and fields.get("status") == "ok", out
    assert int(fields["rows"]) == len(want) == c.cmd("DBSIZE"), out
    assert int(fields["panda_wal_lsn"]) == lsn == info_int(c, "snapshot_last_lsn"), out
    assert rows == want
    # The snapshot covers every record: the WAL was rewritten to its 16-byte header and the
    # marker saying it follows the snapshot of LSN lsn, nothing else ...
    s, body = wal_after_snapshot(h, lsn)
    assert body == [] and os.path.getsize(path(h, WAL_FILE)) == walfile.FILE_HDR + walfile.REC_HDR, s
    assert info_int(c, "wal_records_since_snapshot") == 0  # the marker is not counted
    # ... and the next write continues the LSN sequence after the snapshot.
    assert c.cmd("SET", "after", "1") == "OK"
    s, body = wal_after_snapshot(h, lsn)
    assert [r.lsn for r in body] == [lsn + 1], s
    assert [o.as_tuple() for o in body[0].ops] == [("SET", b"after", b"1", -1)]
    assert info_int(c, "wal_records_since_snapshot") == 1
    c.close()


def test_save_serves_other_clients_meanwhile(server_factory):
    """SAVE blocks only its caller: while the snapshot of a large keyspace is written, another
    client's PING, GET and SET are answered before SAVE's +OK."""
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, BIG)
    saver = RawClient(h.port, timeout=120)
    other = RawClient(h.port)
    lsn_before = info_int(other, "wal_last_lsn")
    saver.send(encode_command("SAVE"))
    wait_for(lambda: info(other)["snapshot_in_progress"] == "1", 10, "SAVE's snapshot to start")
    t0 = time.monotonic()
    assert other.cmd("PING") == "PONG"
    assert other.cmd("GET", "key:00000007") == bulk_value(7, 64)
    assert other.cmd("SET", "during", "save") == "OK"
    assert other.cmd("GET", "during") == b"save"
    t_served = time.monotonic() - t0
    readable, _, _ = select.select([saver.sock], [], [], 0)
    assert not readable, "SAVE answered before the other client's commands (in %.3fs)" % t_served
    assert info(other)["snapshot_in_progress"] == "1"
    assert saver.read() == "OK"
    # The snapshot is the keyspace when SAVE ran; the SET made meanwhile is in the WAL after it.
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and int(fields["rows"]) == BIG, out
    assert int(fields["panda_wal_lsn"]) == lsn_before, out
    saver.close()
    other.close()
    stop_clean(h)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=h.data_dir)
    c = RawClient(h2.port)
    assert c.cmd("DBSIZE") == BIG + 1
    assert c.cmd("GET", "during") == b"save"
    assert c.cmd("GET", "key:%08d" % (BIG - 1)) == bulk_value(BIG - 1, 64)
    c.close()


def test_wal_keeps_only_the_writes_made_during_a_snapshot(server_factory):
    """After a snapshot the WAL holds exactly the records after its LSN: here the writes
    made while it was being written."""
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, scaled(100000), vlen=256)
    c = RawClient(h.port, timeout=120)
    lsn = info_int(c, "wal_last_lsn")
    assert c.cmd("BGSAVE") == "Background saving started"
    child = hold_snapshot_child(h, 1)
    try:
        assert c.cmd("SET", "during1", "a") == "OK"
        assert c.cmd("DEL", "key:00000001") == 1
        assert info(c)["snapshot_in_progress"] == "1"
    finally:
        os.kill(child, signal.SIGCONT)
    f = wait_snapshot_count(c, 1, timeout=60)
    assert f["snapshot_last_lsn"] == str(lsn) and f["snapshot_last_status"] == "ok", f
    s, body = wal_after_snapshot(h, lsn)
    assert [r.lsn for r in body] == [lsn + 1, lsn + 2], (
        "%r\nserver log:\n%s" % (s, "\n".join(l for l in h.stderr_text().splitlines() if "snapshot" in l)))
    assert [o.as_tuple() for r in body for o in r.ops] == [("SET", b"during1", b"a", -1),
                                                            ("DEL", b"key:00000001")]
    assert body[0].offset == walfile.FILE_HDR + walfile.REC_HDR  # right after the marker
    assert f["wal_records_since_snapshot"] == "2", f
    # A snapshot with no write during it leaves just the header and its marker.
    assert c.cmd("SAVE") == "OK"
    s, body = wal_after_snapshot(h, lsn + 2)
    assert body == [] and os.path.getsize(path(h, WAL_FILE)) == walfile.FILE_HDR + walfile.REC_HDR, s
    assert info_int(c, "wal_records_since_snapshot") == 0
    c.close()


def test_pipelined_commands_after_save_wait_for_it(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    n = scaled(20000)
    load_keys(h.port, n)
    c = RawClient(h.port)
    replies = pipeline(c, [("SAVE",), ("SET", "x", "1"), ("GET", "x"), ("SNAPSHOT",), ("DEL", "x")])
    assert replies == ["OK", "OK", b"1", "OK", 1], replies
    f = info(c)
    assert f["snapshot_count"] == "2" and f["snapshot_pending_ops"] == "1", f
    # SNAPSHOT ran after SET x (and before DEL x): its file holds x.
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and int(fields["rows"]) == n + 1, out
    c.close()


@pytest.mark.parametrize("command", ["SAVE", "SNAPSHOT"])
def test_save_inside_multi_is_an_error(server_factory, command):
    """As in Redis 7 (SAVE is no-multi): refused when queued, and EXEC then aborts the whole
    transaction, so nothing queued with it runs."""
    h = server_factory(extra_args=SNAP_OFF)
    c = RawClient(h.port)
    assert c.cmd("MULTI") == "OK"
    assert c.cmd("SET", "before", "v") == "QUEUED"
    queued = c.cmd(command)
    assert is_err(queued) and str(queued) == "ERR Command not allowed inside a transaction", queued
    assert c.cmd("SET", "k", "v") == "QUEUED"  # still in the transaction
    res = c.cmd("EXEC")
    assert is_err(res) and str(res) == "EXECABORT Transaction discarded because of previous errors.", res
    assert c.cmd("MGET", "before", "k") == [None, None]
    assert c.err("EXEC") == "ERR EXEC without MULTI"  # the transaction is over
    assert info_int(c, "wal_last_lsn") == 0  # nothing was logged
    f = info(c)
    assert f["snapshot_count"] == "0" and f["snapshot_in_progress"] == "0", f
    assert not os.path.exists(path(h, SNAP_FILE))
    # BGSAVE is the way to snapshot from a transaction.
    assert c.cmd("MULTI") == "OK"
    assert c.cmd("BGSAVE") == "QUEUED"
    assert c.cmd("EXEC") == ["Background saving started"]
    wait_snapshot_count(c, 1)
    c.close()


# --------------------------------------------------------------------------- BGSAVE / LASTSAVE

def test_bgsave_then_lastsave_advances(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    c = RawClient(h.port)
    l0 = c.cmd("LASTSAVE")
    assert isinstance(l0, int) and abs(l0 - time.time()) < 30, l0  # start-up time: no snapshot yet
    assert c.cmd("SET", "a", "1") == "OK"
    wait_for(lambda: int(time.time()) > l0, 3, "the clock to pass LASTSAVE")  # 1 s resolution
    t_before = int(time.time())
    assert c.cmd("BGSAVE") == "Background saving started"
    f = wait_snapshot_count(c, 1)
    l1 = c.cmd("LASTSAVE")
    assert l0 < l1 and t_before <= l1 <= time.time() + 1, (l0, l1, t_before)
    assert f["rdb_last_save_time"] == f["snapshot_last_time"] == str(l1), f
    assert f["rdb_last_bgsave_status"] == "ok" and f["rdb_bgsave_in_progress"] == "0", f
    assert f["rdb_saves"] == "1" and f["snapshot_failures"] == "0", f
    rc, fields, rows, out = check_parquet(path(h, SNAP_FILE), dump=True)
    assert rc == 0 and rows == {b"a": (b"1", None)}, out
    assert c.err("BGSAVE", "NOW") == "ERR syntax error"
    assert c.cmd("LASTSAVE") == l1
    c.close()


def test_bgsave_while_one_runs(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, BIG)
    c = RawClient(h.port, timeout=120)
    assert c.cmd("BGSAVE") == "Background saving started"
    assert c.err("BGSAVE") == "ERR Background save already in progress"
    f = info(c)
    assert f["rdb_bgsave_in_progress"] == "1" and f["snapshot_in_progress"] == "1", f
    assert c.cmd("SET", "late", "1") == "OK"  # after the running snapshot's fork
    assert c.cmd("BGSAVE", "SCHEDULE") == "Background saving scheduled"
    f = wait_snapshot_count(c, 2, timeout=120)
    assert f["snapshot_count"] == "2" and f["snapshot_failures"] == "0", f
    # The scheduled snapshot ran after the first one, so it holds the write made meanwhile.
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and int(fields["rows"]) == BIG + 1, out
    assert int(fields["panda_wal_lsn"]) == info_int(c, "wal_last_lsn"), out
    # With nothing running, SCHEDULE starts one at once.
    assert c.cmd("BGSAVE", "SCHEDULE") == "Background saving started"
    # SAVE while it runs answers only once a snapshot taken after the SAVE is durable.
    assert c.cmd("SET", "late2", "1") == "OK"
    assert c.cmd("SAVE") == "OK"
    f = info(c)
    assert f["snapshot_count"] == "4" and f["snapshot_pending_ops"] == "0", f
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and int(fields["rows"]) == BIG + 2, out
    c.close()


def test_pipelined_save_of_a_waiting_client_and_a_queued_request(server_factory):
    """Client B pipelines SAVE SAVE: the first starts snapshot 1 and blocks B. Client A's SAVE
    comes while it runs (it asks for another). When snapshot 1 ends, B's second SAVE starts
    snapshot 2 itself; A's request must ride on it, not start a third (this used to trip an
    assertion and kill the server)."""
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, 1000)
    b = RawClient(h.port, timeout=60)
    b.send(encode_command("SAVE") + encode_command("SAVE"))
    child = hold_snapshot_child(h, 1)
    a = RawClient(h.port, timeout=60)
    a.send(encode_command("SAVE"))
    c = RawClient(h.port)
    assert c.cmd("PING") == "PONG"  # A's SAVE, sent before, has been read by now
    c.close()
    os.kill(child, signal.SIGCONT)
    assert b.read() == "OK" and b.read() == "OK"
    assert a.read() == "OK"
    f = info(b)
    assert f["snapshot_count"] == "2" and f["snapshot_failures"] == "0", f
    assert h.alive()
    a.close()
    b.close()


# --------------------------------------------------------------------------- failures

def test_killed_snapshot_child_fails_the_save(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    n = scaled(150000)
    load_keys(h.port, n, vlen=256)
    saver = RawClient(h.port, timeout=120)
    c = RawClient(h.port)
    wal_size = os.path.getsize(path(h, WAL_FILE))
    saver.send(encode_command("SAVE"))
    os.kill(hold_snapshot_child(h, 1), signal.SIGKILL)
    reply = saver.read()
    assert is_err(reply) and str(reply) == "ERR snapshot failed: the snapshot process was killed by signal 9", reply
    f = info(c)
    assert f["snapshot_failures"] == "1" and f["snapshot_count"] == "0", f
    assert f["snapshot_last_status"] == "err" and f["rdb_last_bgsave_status"] == "err", f
    assert f["snapshot_last_error"] == "the snapshot process was killed by signal 9", f
    assert f["snapshot_in_progress"] == "0" and f["snapshot_pending_ops"] == str(info_int(c, "wal_last_lsn")), f
    assert not os.path.exists(path(h, SNAP_TMP)) and not os.path.exists(path(h, SNAP_FILE))
    # The WAL is untouched: it still holds everything.
    assert os.path.getsize(path(h, WAL_FILE)) == wal_size
    assert f["wal_records_since_snapshot"] == f["wal_last_lsn"] == f["snapshot_pending_ops"], f
    # The next one works and clears the error.
    assert c.cmd("SAVE") == "OK"
    f = info(c)
    assert f["snapshot_count"] == "1" and f["snapshot_last_status"] == "ok" and f["snapshot_last_error"] == "", f
    assert f["rdb_last_bgsave_status"] == "ok" and f["snapshot_failures"] == "1", f
    saver.close()
    c.close()


def test_unwritable_snapshot_file_fails_the_save(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(os.path.join(d, SNAP_TMP))  # a directory where the .tmp file must go
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("SET", "a", "1") == "OK"
    reply = c.cmd("SAVE")
    assert is_err(reply) and str(reply).startswith("ERR snapshot failed: ") and SNAP_TMP in str(reply), reply
    assert c.cmd("BGSAVE") == "Background saving started"
    f = wait_for(lambda: (lambda f: f if f["snapshot_failures"] == "2" else None)(info(c)), 10, "BGSAVE to fail")
    assert f["snapshot_count"] == "0" and f["snapshot_last_status"] == "err" and SNAP_TMP in f["snapshot_last_error"], f
    assert not os.path.exists(path(d, SNAP_FILE))
    os.rmdir(path(d, SNAP_TMP))
    assert c.cmd("SAVE") == "OK"
    assert c.cmd("GET", "a") == b"1"
    c.close()


def test_client_gone_while_its_save_runs(server_factory):
    """A client that disconnects while SAVE waits is forgotten; the snapshot completes and
    the server goes on (the teardown's sanitizer check catches a use after free)."""
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, scaled(100000))
    c = RawClient(h.port)
    for _ in range(3):
        gone = RawClient(h.port)
        gone.send(encode_command("SAVE"))
        gone.send(encode_command("PING"))
        wait_for(lambda: info(c)["snapshot_in_progress"] == "1", 10, "SAVE's snapshot to start")
        gone.close()
    f = wait_snapshot_count(c, 1, timeout=60)
    assert f["snapshot_failures"] == "0", f
    assert c.cmd("PING") == "PONG"
    assert c.cmd("SAVE") == "OK"
    c.close()


def test_shutdown_answers_a_waiting_save(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    n = scaled(150000)
    load_keys(h.port, n, vlen=256)
    saver = RawClient(h.port, timeout=120)
    c = RawClient(h.port)
    assert c.cmd("SET", "last", "write") == "OK"
    saver.send(encode_command("SAVE"))
    hold_snapshot_child(h, 1)  # shutdown kills it, stopped or not
    c.send(encode_command("SHUTDOWN"))
    reply = saver.read()
    assert is_err(reply) and str(reply) == "ERR snapshot failed: the server is shutting down", reply
    assert h.wait_exit(20) == 0
    assert not os.path.exists(path(h, SNAP_TMP)), "the abandoned snapshot's .tmp file was left behind"
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=h.data_dir)
    c = RawClient(h2.port)
    assert c.cmd("DBSIZE") == n + 1 and c.cmd("GET", "last") == b"write"
    c.close()


def child_fds(pid):
    """{fd: link target} of a process's open files."""
    d = "/proc/%d/fd" % pid
    out = {}
    for fd in os.listdir(d):
        try:
            out[int(fd)] = os.readlink(os.path.join(d, fd))
        except FileNotFoundError:
            pass
    return out


def hold_snapshot_child_writing(h, gen, timeout=10.0):
    """hold_snapshot_child, but stopped only once the child writes its .tmp file (past its
    set-up after fork, where it drops the descriptors it inherited): a stop that comes too
    early is undone and tried again."""
    pid = snapshot_child_pid(h, gen)
    tmp = path(h, SNAP_TMP)
    deadline = time.monotonic() + timeout
    while True:
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: proc_state(pid) in ("T", "Z", None), 5, "the snapshot child to stop")
        assert proc_state(pid) == "T", "snapshot %d finished before it could be held" % gen
        if tmp in child_fds(pid).values():
            return pid
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "snapshot %d's child never opened %s" % (gen, tmp)
        time.sleep(0.0005)


def test_connection_closed_during_a_snapshot_closes_at_once(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, scaled(100000), vlen=256)
    c = RawClient(h.port)
    q = RawClient(h.port)
    assert c.cmd("BGSAVE") == "Background saving started"
    child = hold_snapshot_child_writing(h, 1)
    try:
        # The child keeps stdio, its report pipe and the file it writes: no client socket.
        fds = child_fds(child)
        assert not [t for t in fds.values() if t.startswith("socket:")], fds
        q.send(b"QUIT\r\n")
        data, closed = recv_until_closed(q.sock, 3.0)
        assert data == b"+OK\r\n"
        assert closed, "QUIT answered +OK but the connection stayed open while the snapshot ran"
    finally:
        os.kill(child, signal.SIGCONT)
        q.close()
    wait_snapshot_count(c, 1, timeout=60)
    c.close()


# --------------------------------------------------------------------------- automatic snapshots

def test_automatic_snapshot_by_interval(server_factory):
    args = ["--snapshot-interval", "20", "--snapshot-min-gap-ms", "0", "--snapshot-timeout", "0"]
    h = server_factory(extra_args=args)
    c = RawClient(h.port)
    for i in range(19):
        assert c.cmd("SET", "k%d" % i, "v%d" % i) == "OK"
    time.sleep(0.3)  # three cron runs: 19 pending writes are below the interval
    f = info(c)
    assert f["snapshot_count"] == "0" and f["snapshot_pending_ops"] == "19", f
    assert not os.path.exists(path(h, SNAP_FILE))
    assert c.cmd("SET", "k19", "v19") == "OK"
    f = wait_snapshot_count(c, 1, timeout=10)
    lsn = int(f["snapshot_last_lsn"])
    assert lsn == 20 and f["snapshot_last_rows"] == "20", f
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and fields["rows"] == "20" and int(fields["panda_wal_lsn"]) == lsn, out
    # Later writes (fewer than the interval) are the only records left in the WAL, right
    # after its header and the snapshot's marker.
    for i in range(20, 25):
        assert c.cmd("SET", "k%d" % i, "v%d" % i) == "OK"
    s, body = wal_after_snapshot(h, lsn)
    assert [r.lsn for r in body] == list(range(lsn + 1, lsn + 6)), s
    assert body[0].offset == walfile.FILE_HDR + walfile.REC_HDR and body[-1].end == os.path.getsize(path(h, WAL_FILE))
    assert [r.ops[0].key for r in body] == [b"k%d" % i for i in range(20, 25)]
    f = info(c)
    assert f["snapshot_count"] == "1" and f["snapshot_pending_ops"] == "5", f
    c.close()
    stop_clean(h)
    h2 = server_factory(extra_args=args, data_dir=h.data_dir)
    c = RawClient(h2.port)
    assert c.cmd("MGET", *["k%d" % i for i in range(25)]) == [b"v%d" % i for i in range(25)]
    f = info(c)
    assert f["snapshot_loaded_from"] == "parquet" and f["snapshot_loaded_rows"] == "20", f
    assert f["wal_replayed_records"] == "5", f
    assert f["snapshot_pending_ops"] == "5" and stats(c)["pending"] == 5, f
    c.close()


def test_automatic_snapshot_by_timeout(server_factory):
    h = server_factory(extra_args=["--snapshot-interval", "0", "--snapshot-timeout", "1",
                                   "--snapshot-min-gap-ms", "0"])
    c = RawClient(h.port)
    assert c.cmd("SET", "a", "1") == "OK"
    wait_snapshot_count(c, 1, timeout=10)
    t1 = time.monotonic()  # the first snapshot ended before this
    # One pending write: the next snapshot comes a timeout after the last one ended.
    assert c.cmd("SET", "b", "2") == "OK"
    f = wait_snapshot_count(c, 2, timeout=10)
    assert time.monotonic() - t1 >= 0.8, "second snapshot %.2fs after the first" % (time.monotonic() - t1)
    assert f["snapshot_pending_ops"] == "0" and f["snapshot_last_rows"] == "2", f
    # Nothing pending: no snapshot, however many timeouts pass.
    time.sleep(1.5)
    f = info(c)
    assert f["snapshot_count"] == "2" and f["snapshot_in_progress"] == "0", f
    rc, fields, rows, out = check_parquet(path(h, SNAP_FILE), dump=True)
    assert rc == 0 and rows == {b"a": (b"1", None), b"b": (b"2", None)}, out
    c.close()


def test_min_gap_paces_automatic_snapshots(server_factory):
    gap = 2.0
    h = server_factory(extra_args=["--snapshot-interval", "1", "--snapshot-min-gap-ms", str(int(gap * 1000)),
                                   "--snapshot-timeout", "0"])
    c = RawClient(h.port)
    assert c.cmd("SET", "a", "1") == "OK"
    t_save = time.monotonic()
    assert c.cmd("SAVE") == "OK"  # a requested snapshot is not paced
    assert info(c)["snapshot_count"] == "1"
    assert c.cmd("SET", "b", "2") == "OK"  # pending >= interval: due, but inside the gap
    while time.monotonic() < t_save + gap - 0.25:
        f = info(c)
        assert f["snapshot_count"] == "1" and f["snapshot_in_progress"] == "0", (
            "automatic snapshot %.2fs after the last one, min gap %.1fs: %r" % (time.monotonic() - t_save, gap, f))
        assert f["snapshot_pending_ops"] == "1", f
        time.sleep(0.05)
    f = wait_snapshot_count(c, 2, timeout=gap + 10)
    assert time.monotonic() - t_save >= gap
    assert f["snapshot_pending_ops"] == "0", f
    c.close()


def test_slow_snapshot_paces_the_next_automatic_one(server_factory):
    """Automatic snapshots also wait 4x the last one's duration after it ended."""
    h = server_factory(extra_args=["--snapshot-interval", "1", "--snapshot-min-gap-ms", "0",
                                   "--snapshot-timeout", "0"])
    keys = scaled(400000)  # a snapshot of ~0.07 s (150,000 keys took 0.025 s here)
    load_keys(h.port, keys, vlen=256)
    c = RawClient(h.port, timeout=120)

    def idle():
        f = info(c)
        return f["snapshot_in_progress"] == "0" and f["snapshot_pending_ops"] == "0"
    wait_for(idle, 60, "automatic snapshots to catch up with the load")
    t0 = time.monotonic()
    assert c.cmd("SAVE") == "OK"
    f = info(c)
    dur = int(f["snapshot_last_duration_ms"]) / 1000.0
    n = int(f["snapshot_count"])
    assert dur >= 0.03, "snapshot of %d keys took only %.3fs: too fast to measure pacing" % (keys, dur)
    assert c.cmd("SET", "x", "1") == "OK"
    f = wait_snapshot_count(c, n + 1, timeout=30 * dur + 10)
    # It started >= 4 x dur after SAVE's snapshot ended, which was >= dur after t0.
    elapsed = time.monotonic() - t0
    assert elapsed >= 5 * dur * 0.95, "next automatic snapshot after %.2fs; last took %.2fs" % (elapsed, dur)
    c.close()


# --------------------------------------------------------------------------- INFO / STATS

def test_info_and_stats_agree(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    c = RawClient(h.port)
    f = info(c)
    for k, v in {"snapshot_count": "0", "snapshot_in_progress": "0", "rdb_bgsave_in_progress": "0",
                 "parquet_bytes": "0", "snapshot_pending_ops": "0", "rdb_changes_since_last_save": "0",
                 "snapshot_loaded_from": "none", "snapshot_loaded_rows": "0", "snapshot_codec": "ZSTD",
                 "snapshot_last_status": "ok", "snapshot_failures": "0", "rdb_saves": "0"}.items():
        assert f.get(k) == v, "%s: %r, want %r" % (k, f.get(k), v)
    st = stats(c)
    assert st["parquet_kb"] == 0 and st["pending"] == 0 and st["keys"] == 0 and st["dir"] == h.data_dir, st

    for i in range(30):
        assert c.cmd("SET", "k%d" % i, "x" * 100) == "OK"
    assert c.cmd("MSET", "m1", "1", "m2", "2", "m3", "3") == "OK"
    assert c.cmd("DEL", "k0") == 1
    f = info(c)
    assert f["snapshot_pending_ops"] == f["rdb_changes_since_last_save"] == "32", f
    assert f["wal_last_lsn"] == "32" and f["wal_records_since_snapshot"] == "32", f
    st = stats(c)
    assert st["pending"] == 32 and st["keys"] == c.cmd("DBSIZE") == 32 and st["parquet_kb"] == 0, st

    assert c.cmd("SNAPSHOT") == "OK"
    f = info(c)
    st = stats(c)
    size = os.path.getsize(path(h, SNAP_FILE))
    wal_size = os.path.getsize(path(h, WAL_FILE))
    assert st["pending"] == 0 and f["snapshot_pending_ops"] == f["rdb_changes_since_last_save"] == "0", (st, f)
    assert f["wal_records_since_snapshot"] == "0", f
    assert f["snapshot_count"] == f["rdb_saves"] == "1", f
    assert int(f["snapshot_last_rows"]) == 32 == st["keys"], f
    assert int(f["snapshot_last_bytes"]) == int(f["parquet_bytes"]) == size, (f, size)
    assert st["parquet_kb"] == kb(size) and st["wal_kb"] == kb(wal_size), (st, size, wal_size)
    assert int(f["wal_bytes"]) == wal_size == walfile.FILE_HDR + walfile.REC_HDR, f  # header + marker
    wal_after_snapshot(h, 32)
    assert f["snapshot_last_lsn"] == f["wal_last_lsn"] == "32", f
    assert f["snapshot_last_time"] == f["rdb_last_save_time"] == str(c.cmd("LASTSAVE")), f
    assert int(f["snapshot_last_duration_ms"]) >= 0 and f["snapshot_last_error"] == "", f
    assert f["snapshot_last_status"] == "ok" and f["rdb_last_bgsave_status"] == "ok", f
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and fields["codec"] == f["snapshot_codec"] and fields["rows"] == "32", out

    assert c.cmd("SET", "after", "1") == "OK"
    assert c.cmd("SET", "after2", "1") == "OK"
    f = info(c)
    assert stats(c)["pending"] == 2 and f["snapshot_pending_ops"] == "2", f
    assert f["wal_records_since_snapshot"] == "2" and f["wal_last_lsn"] == "34", f
    c.close()


# --------------------------------------------------------------------------- recovery

def test_restart_after_snapshot_more_writes_and_kill9(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    hour = 3600 * 1000
    cmds = [("SET", "keep", "v0"), ("SET", "overwritten", "old"), ("SET", "deleted", "x"),
            ("SET", "ttl_long", "t", "PX", hour), ("SET", "persisted", "p", "PX", hour),
            ("SET", "expire_later", "e"), ("SET", "renamed_from", "r"), ("INCR", "counter"),
            ("INCR", "counter"), ("SET", "gone_before", "g", "PX", hour), ("DEL", "gone_before")]
    assert all(not is_err(v) for v in pipeline(c, cmds))
    soon_ms = 1500
    assert c.cmd("SET", "soon", "s", "PX", soon_ms) == "OK"  # in the snapshot, expired at restart
    soon_at = c.cmd("PEXPIRETIME", "soon")
    assert c.cmd("SNAPSHOT") == "OK"
    snap_rows = int(check_parquet(path(d, SNAP_FILE))[1]["rows"])
    assert snap_rows == 9  # the 8 keys set before it, plus "soon"
    after = [("SET", "overwritten", "new"), ("DEL", "deleted"), ("PERSIST", "persisted"),
             ("PEXPIRE", "expire_later", 2 * hour), ("SET", "wal_ttl", "w", "PX", hour), ("INCR", "counter"),
             ("SET", "newkey", "n"), ("RENAME", "renamed_from", "renamed_to"), ("APPEND", "keep", "+1")]
    assert all(not is_err(v) for v in pipeline(c, after))
    names = ["keep", "overwritten", "deleted", "ttl_long", "persisted", "expire_later", "renamed_from",
             "renamed_to", "counter", "gone_before", "wal_ttl", "newkey", "soon"]
    want = key_state(c, names)
    assert c.cmd("PTTL", "soon") > 0, "the test ran too slowly: 'soon' expired before the kill"
    del want["soon"]
    assert set(want) == {"keep", "overwritten", "ttl_long", "persisted", "expire_later", "renamed_to", "counter",
                         "wal_ttl", "newkey"}
    assert want["keep"][0] == b"v0+1" and want["counter"][0] == b"3" and want["persisted"][1] == -1
    assert want["expire_later"][1] > 0 and want["ttl_long"][1] > 0
    c.close()
    kill9(h)
    wait_for(lambda: time.time() * 1000 > soon_at + 50, soon_ms / 1000 + 2, "'soon' to expire")

    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h2.port)
    got = key_state(c, names)
    assert got == want
    assert c.cmd("DBSIZE") == len(want)
    f = info(c)
    assert f["snapshot_loaded_from"] == "parquet", f
    assert int(f["snapshot_loaded_rows"]) == snap_rows - 1, f  # 'soon' was skipped: its TTL had passed
    assert int(f["wal_replayed_records"]) == len(after), f
    assert re.search(r"loaded %d keys from %s" % (snap_rows - 1, re.escape(path(d, SNAP_FILE))), h2.stderr_text())
    c.close()


def test_flushall_after_snapshot_survives_kill9(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    assert pipeline(c, [("SET", "k%d" % i, "v") for i in range(50)]) == ["OK"] * 50
    assert c.cmd("SNAPSHOT") == "OK"
    assert c.cmd("FLUSHALL") == "OK"
    assert c.cmd("SET", "after_flush", "1") == "OK"
    c.close()
    kill9(h)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h2.port)
    assert c.cmd("KEYS", "*") == [b"after_flush"]
    assert c.cmd("SNAPSHOT") == "OK"
    c.close()
    rc, fields, rows, out = check_parquet(path(d, SNAP_FILE), dump=True)
    assert rc == 0 and rows == {b"after_flush": (b"1", None)}, out


def test_wal_without_its_snapshot_refuses_to_start(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    for i in range(10):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    assert c.cmd("SNAPSHOT") == "OK"
    for i in range(10, 15):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    c.close()
    stop_clean(h)
    s, body = wal_after_snapshot(d, 10)
    assert [r.lsn for r in body] == list(range(11, 16)), s
    os.remove(path(d, SNAP_FILE))
    before = dir_state(d)
    h2, rc, err = start_expect_exit(server_factory, d, SNAP_OFF)
    assert rc != 0, err
    assert missing_records_refusal(d, 10, 0) in err, err[-2000:]
    assert dir_state(d) == before, "files changed although the server refused to start"


def missing_records_refusal(d, need, have):
    """The start-up error for a WAL that follows a snapshot of LSN `need` found with a snapshot
    covering only up to `have`."""
    return ("WAL %s continues from LSN %d but the snapshot covers LSNs up to %d only: the records in "
            "between are missing" % (path(d, WAL_FILE), need, have))


@pytest.mark.parametrize("writes_after", [5, 0])
def test_older_snapshot_restored_refuses_to_start(server_factory, tmp_path, writes_after):
    """A backup of an older snapshot (LSN 10) put back in place of the newer one (LSN 15) the
    WAL follows: records 11..15 are in neither file. Refused whether or not records follow the
    WAL's marker (with none, the log is just its header and the marker of LSN 15)."""
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    for i in range(10):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    assert c.cmd("SNAPSHOT") == "OK"
    old = read_file(path(d, SNAP_FILE))
    for i in range(10, 15):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    assert c.cmd("SNAPSHOT") == "OK"
    for i in range(15, 15 + writes_after):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    c.close()
    stop_clean(h)
    s, body = wal_after_snapshot(d, 15)
    assert [r.lsn for r in body] == list(range(16, 16 + writes_after)), s
    newer = read_file(path(d, SNAP_FILE))
    with open(path(d, SNAP_FILE), "wb") as f:  # a backup of the first snapshot put back
        f.write(old)
    before = dir_state(d)
    h2, rc, err = start_expect_exit(server_factory, d, SNAP_OFF)
    assert rc != 0 and missing_records_refusal(d, 15, 10) in err, err[-2000:]
    assert dir_state(d) == before, "files changed although the server refused to start"
    # With the snapshot the WAL follows put back, everything is there.
    with open(path(d, SNAP_FILE), "wb") as f:
        f.write(newer)
    h3 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h3.port)
    assert c.cmd("DBSIZE") == 15 + writes_after
    f = info(c)
    assert f["wal_last_lsn"] == str(15 + writes_after) and f["wal_replayed_records"] == str(writes_after), f
    assert f["wal_records_since_snapshot"] == str(writes_after), f
    c.close()


def test_header_only_wal_without_its_snapshot_refuses_to_start(server_factory, tmp_path):
    """After a snapshot covering every write the WAL holds no record but its marker, which
    still says which snapshot it follows: with that snapshot removed the server must not start
    empty (and reuse LSNs 1..10)."""
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    for i in range(10):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    assert c.cmd("SNAPSHOT") == "OK"
    c.close()
    stop_clean(h)
    s, body = wal_after_snapshot(d, 10)
    assert body == [], s
    os.remove(path(d, SNAP_FILE))
    before = dir_state(d)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d, wait=False)
    h2.expect_nonzero_exit = True
    started, _ = wait_ping(h2.proc, h2.port, 20)
    if started:
        c = RawClient(h2.port)
        n = c.cmd("DBSIZE")
        c.close()
        raise AssertionError("the server started with %d keys although the snapshot holding 10 is gone" % n)
    assert h2.wait_exit(10) not in (None, 0) and dir_state(d) == before
    err = h2.stderr_text()
    assert missing_records_refusal(d, 10, 0) in err, err[-2000:]


def make_snapshot_dir(server_factory, d, n=2000):
    """A data dir holding a snapshot of n keys and a WAL holding only its marker."""
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    load_keys(h.port, n, vlen=40)
    c = RawClient(h.port)
    lsn = info_int(c, "wal_last_lsn")
    assert c.cmd("SNAPSHOT") == "OK"
    c.close()
    stop_clean(h)
    assert wal_after_snapshot(d, lsn)[1] == []


def damage_file(p, how):
    data = bytearray(read_file(p))
    if how == "flip-middle":
        mid = len(data) // 2
        for i in range(mid, mid + 8):
            data[i] ^= 0x5A
    elif how == "truncate-half":
        data = data[:len(data) // 2]
    elif how == "truncate-tail":
        data = data[:-3]  # the footer's magic is cut
    elif how == "empty":
        data = b""
    else:
        raise ValueError(how)
    with open(p, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("how", ["flip-middle", "truncate-half", "truncate-tail", "empty"])
def test_damaged_snapshot_refuses_to_start(server_factory, tmp_path, how):
    d = str(tmp_path / "data")
    os.makedirs(d)
    make_snapshot_dir(server_factory, d)
    p = path(d, SNAP_FILE)
    good = read_file(p)
    damage_file(p, how)
    assert check_parquet(p)[0] == 1, "panda-check-parquet accepts the damaged file"
    before = dir_state(d)
    h, rc, err = start_expect_exit(server_factory, d, SNAP_OFF)
    assert rc != 0, err
    assert p in err and "cannot be loaded" in err, err[-2000:]
    assert dir_state(d) == before, "files changed although the server refused to start"
    # Put the good file back: everything is there, nothing else was harmed.
    with open(p, "wb") as f:
        f.write(good)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h2.port)
    assert c.cmd("DBSIZE") == 2000
    assert c.cmd("GET", "key:00001999") == bulk_value(1999, 40)
    c.close()


def test_leftover_tmp_removed_at_start(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("SET", "a", "1") == "OK"
    assert c.cmd("SNAPSHOT") == "OK"
    assert c.cmd("SET", "b", "2") == "OK"
    c.close()
    stop_clean(h)
    snap = read_file(path(d, SNAP_FILE))
    with open(path(d, SNAP_TMP), "wb") as f:
        f.write(b"PAR1 half a snapshot from a crash" * 100)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    assert not os.path.exists(path(d, SNAP_TMP))
    assert "removed %s" % path(d, SNAP_TMP) in h2.stderr_text()
    assert read_file(path(d, SNAP_FILE)) == snap
    c = RawClient(h2.port)
    assert c.cmd("MGET", "a", "b") == [b"1", b"2"]
    c.close()


# --------------------------------------------------------------------------- settings

@pytest.mark.parametrize("codec,name", [("zstd", "ZSTD"), ("snappy", "SNAPPY"), ("none", "UNCOMPRESSED")])
def test_snapshot_compression(server_factory, tmp_path, codec, name):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF + ["--snapshot-compression", codec], data_dir=d)
    c = RawClient(h.port)
    want = {}
    for i in range(300):
        k, v = b"key%d" % i, b"%d:" % i + b"abcd" * 50
        want[k] = (v, None)
    assert pipeline(c, [("SET", k, v) for k, (v, _) in want.items()]) == ["OK"] * 300
    assert c.cmd("SAVE") == "OK"
    assert info(c)["snapshot_codec"] == name
    c.close()
    p = path(d, SNAP_FILE)
    rc, fields, rows, out = check_parquet(p, dump=True)
    assert rc == 0 and fields["codec"] == name and rows == want, out
    raw = sum(len(k) + len(v) for k, (v, _) in want.items())
    if codec == "none":
        assert os.path.getsize(p) > raw, (os.path.getsize(p), raw)
    else:
        assert os.path.getsize(p) < raw // 4, (os.path.getsize(p), raw)
    stop_clean(h)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)  # any codec loads, whatever the setting
    c = RawClient(h2.port)
    assert c.cmd("DBSIZE") == 300 and c.cmd("GET", "key299") == want[b"key299"][0]
    c.close()


@pytest.mark.parametrize("argv,env,name", [
    (["--snapshot-compression", "lz4"], None, "snapshot-compression"),
    (["--snapshot-interval", "-1"], None, "snapshot-interval"),
    (["--snapshot-timeout", "soon"], None, "snapshot-timeout"),
    (["--snapshot-min-gap-ms", "-5"], None, "snapshot-min-gap-ms"),
    (["--snapshot-row-group-rows", "0"], None, "snapshot-row-group-rows"),
    ([], {"PANDA_SNAPSHOT_COMPRESSION": "brotli"}, "PANDA_SNAPSHOT_COMPRESSION"),
])
def test_bad_snapshot_settings_exit_2(server_factory, tmp_path, argv, env, name):
    h = server_factory(extra_args=argv + ["--data-dir", str(tmp_path / "d")], env=env, bare=True, wait=False)
    h.expect_nonzero_exit = True
    rc = h.wait_exit(10)
    assert rc == 2 and name in h.stderr_text(), (rc, h.stderr_text()[-1000:])


def test_snapshot_settings_from_env_and_config_file(server_factory, tmp_path):
    conf = tmp_path / "panda.conf"
    conf.write_text("# snapshots\nsnapshot-compression none\nsnapshot-interval 3\nsnapshot-min-gap-ms 0\n")
    # config file: none; environment: snappy (wins over the file); interval 3 from the file
    h = server_factory(extra_args=["--config", str(conf)], env={"PANDA_SNAPSHOT_COMPRESSION": "snappy"})
    c = RawClient(h.port)
    assert info(c)["snapshot_codec"] == "SNAPPY"
    for i in range(3):
        assert c.cmd("SET", "k%d" % i, "v") == "OK"
    wait_snapshot_count(c, 1, timeout=10)
    c.close()
    rc, fields, _, out = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and fields["codec"] == "SNAPPY" and fields["rows"] == "3", out
    # a flag wins over both
    h2 = server_factory(extra_args=["--config", str(conf), "--snapshot-compression", "zstd"],
                        env={"PANDA_SNAPSHOT_COMPRESSION": "snappy"})
    c = RawClient(h2.port)
    assert info(c)["snapshot_codec"] == "ZSTD"
    c.close()


def test_row_groups(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF + ["--snapshot-row-group-rows", "100"], data_dir=d)
    load_keys(h.port, 1050, vlen=20)
    c = RawClient(h.port)
    assert c.cmd("SAVE") == "OK"
    c.close()
    rc, fields, rows, out = check_parquet(path(d, SNAP_FILE), dump=True)
    # two writer threads, each in groups of at most 100 rows: 11 or 12 groups
    assert rc == 0 and fields["rows"] == "1050" and fields["row_groups"] in ("11", "12"), out
    assert rows == {b"key:%08d" % i: (bulk_value(i, 20), None) for i in range(1050)}
    stop_clean(h)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h2.port)
    assert c.cmd("DBSIZE") == 1050
    c.close()


def test_import(server_factory, tmp_path):
    # The file to import: a snapshot taken by another server.
    src = str(tmp_path / "src")
    os.makedirs(src)
    a = server_factory(extra_args=SNAP_OFF, data_dir=src)
    c = RawClient(a.port)
    cmds = [("SET", "imp%d" % i, "val%d" % i) for i in range(200)]
    cmds += [("SET", "imp_ttl", "t", "PX", 3600 * 1000), ("SET", "shared", "from-import"),
             ("SET", b"bin\x00\xff", b"\x00\x01\xfe")]
    assert all(v == "OK" for v in pipeline(c, cmds))
    names = ["imp%d" % i for i in range(200)] + ["imp_ttl", "shared", b"bin\x00\xff"]
    want = key_state(c, names)
    assert c.cmd("SAVE") == "OK"
    c.close()
    stop_clean(a)
    export = str(tmp_path / "export.parquet")
    shutil.copyfile(path(src, SNAP_FILE), export)
    export_bytes = read_file(export)

    # A server with data of its own imports it.
    d = str(tmp_path / "data")
    os.makedirs(d)
    b = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(b.port)
    assert c.cmd("SET", "own", "mine") == "OK" and c.cmd("SET", "shared", "old") == "OK"
    c.close()
    stop_clean(b)
    b = server_factory(extra_args=SNAP_OFF + ["--import", export], data_dir=d)
    c = RawClient(b.port)
    assert key_state(c, names) == want  # 'shared' overwritten by the imported row
    assert c.cmd("GET", "own") == b"mine" and c.cmd("DBSIZE") == len(want) + 1
    f = info(c)
    assert int(f["snapshot_count"]) >= 1 and f["snapshot_last_status"] == "ok", f
    c.close()
    # The import was snapshotted before serving: the data dir's snapshot holds it all.
    rc, fields, _, out = check_parquet(path(d, SNAP_FILE))
    assert rc == 0 and int(fields["rows"]) == len(want) + 1, out
    assert int(fields["panda_wal_lsn"]) == int(f["wal_last_lsn"]), (out, f)
    assert read_file(export) == export_bytes, "--import changed the file it imported"
    stop_clean(b)
    b2 = server_factory(extra_args=SNAP_OFF, data_dir=d)  # without --import
    c = RawClient(b2.port)
    assert key_state(c, names) == want
    assert c.cmd("GET", "own") == b"mine" and c.cmd("DBSIZE") == len(want) + 1
    c.close()


def test_import_missing_file_refuses_to_start(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    missing = str(tmp_path / "nope.parquet")
    h, rc, err = start_expect_exit(server_factory, d, SNAP_OFF + ["--import", missing])
    assert rc != 0 and missing in err, err[-2000:]
    assert not os.path.exists(path(d, SNAP_FILE))


# --------------------------------------------------------------------------- values

BINARY_PAIRS = {
    bytes(range(256)): bytes(range(256))[::-1],
    b"nul\x00inside": b"\x00\x00\x00",
    b"\r\n": b"crlf key",
    b"\xff\xfe\xfd": b"\xc3\x28 invalid utf-8 \x80",
    "ключ-🔑".encode(): "значение ✓".encode(),
    b"big": bytes((i * 7 + 3) % 256 for i in range(1 << 20)),
    b"tab\tkey": b"back\\slash",
}

EMPTY_PAIRS = {
    b"empty-value": b"",
    b"": b"empty key",
    b"also-empty": b"",
}


def round_trip(server_factory, tmp_path, pairs):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    for k, v in pairs.items():
        assert c.cmd("SET", k, v) == "OK", k
    reply = c.cmd("SAVE")
    assert reply == "OK", "SAVE answered %r\n%s" % (reply, h.stderr_text()[-2000:])
    c.close()
    rc, fields, rows, out = check_parquet(path(d, SNAP_FILE), dump=True)
    assert rc == 0, out
    assert rows == {k: (v, None) for k, v in pairs.items()}
    kill9(h)  # the WAL holds nothing after the snapshot: the restart reads the Parquet file
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h2.port)
    assert info(c)["snapshot_loaded_rows"] == str(len(pairs))
    for k, v in pairs.items():
        assert c.cmd("GET", k) == v, k
    assert c.cmd("DBSIZE") == len(pairs)
    c.close()


def test_binary_keys_and_values_round_trip(server_factory, tmp_path):
    round_trip(server_factory, tmp_path, BINARY_PAIRS)


def test_empty_keys_and_values_round_trip(server_factory, tmp_path):
    round_trip(server_factory, tmp_path, EMPTY_PAIRS)
