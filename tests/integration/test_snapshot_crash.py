"""kill -9 under write load while Parquet snapshots run continuously (fsync=always,
--snapshot-interval 1 --snapshot-min-gap-ms 0), many times over one data directory.

The approach of test_wal_crash.py: writer threads pipeline writes as fast as the server
answers, each on its own disjoint set of keys, remembering per key the last acknowledged
value and the operations still in flight when the connection died. The server is SIGKILLed
at a random moment (in most rounds after the round's first snapshot completed) - while a
snapshot child writes its .tmp file, while one is installed, or while the WAL is rewritten -
restarted on the same data directory, and checked:

  * every acknowledged write is there with its acknowledged value (or a later in-flight one);
    more precisely, each writer's keys hold exactly the state after its acknowledged
    operations plus a prefix of its in-flight ones (no holes, nothing reordered);
  * keys written with a TTL still have one, the others have none;
  * nothing else exists (DBSIZE);
  * whatever earlier rounds recovered is still there.

At the end, after a clean shutdown, the files themselves are checked: panda-check-parquet
reads the snapshot; the WAL is clean with consecutive LSNs, starts with a marker (an empty
record) of an LSN the snapshot covers or, never rewritten, at LSN 1, holds no other empty
record; and the snapshot's rows plus the WAL records after its LSN give exactly the final
keyspace.

PANDA_SNAP_CRASH_ROUNDS (default 20) and PANDA_SNAP_CRASH_SEED tune/reproduce a run.
"""
import os
import random
import signal
import threading
import time

import pytest

import walfile
from conftest import RawClient, RespReader, encode_command, raw_connect
from snaphelp import SNAP_FILE, SNAP_TMP, WAL_FILE, check_parquet, path, pipeline, scaled

pytestmark = pytest.mark.panda_only

ROUNDS = int(os.environ.get("PANDA_SNAP_CRASH_ROUNDS", "20"))
THREADS = 4
KEYS_PER_WRITER = scaled(400)
MAX_PIPELINE = 8
ARGS = ["--fsync", "always", "--snapshot-interval", "1", "--snapshot-min-gap-ms", "0",
        "--snapshot-timeout", "0"]
HOUR_S = 3600


class Writer(threading.Thread):
    """One connection writing its own keys until the connection dies.

    An operation is (effects, commands, expected replies); effects is a list of
    (key, value or None for deleted); a value starting with b"t" was written with a TTL."""

    def __init__(self, tid, port, seq, rng, ready):
        super().__init__(name="snap-writer-%d" % tid, daemon=True)
        self.tid, self.port, self.seq, self.rng, self.ready = tid, port, seq, rng, ready
        self.keys = [b"w%d:%d" % (tid, j) for j in range(KEYS_PER_WRITER)]
        self.acked = {}      # key -> value/None: the last acknowledged effect this round
        self.pending = []    # effects of the operations without a reply when the connection died
        self.errors = []
        self.ops_acked = 0

    def _value(self, ttl):
        pad = b"." * self.rng.randrange(0, 60)
        return b"%sv%d:%d:%s" % (b"t" if ttl else b"p", self.tid, self.seq, pad)

    def _next_op(self):
        self.seq += 1
        r = self.rng.random()
        k = self.rng.choice(self.keys)
        if r < 0.10:
            return [(k, None)], [("DEL", k)], None
        if r < 0.20:
            k2 = self.rng.choice(self.keys)
            v1, v2 = self._value(False), self._value(False) + b"+"
            effects = [(k, v1), (k2, v2)] if k != k2 else [(k, v2)]
            return effects, [("MSET", k, v1, k2, v2)], ["OK"]
        if r < 0.30:
            v = self._value(True)
            return [(k, v)], [("SET", k, v, "EX", HOUR_S)], ["OK"]
        v = self._value(False)
        return [(k, v)], [("SET", k, v)], ["OK"]

    def run(self):
        try:
            sock = raw_connect(self.port, timeout=15.0)
        except OSError as e:
            self.errors.append("connect: %r" % e)
            self.ready.set()
            return
        reader = RespReader(sock)
        self.ready.set()
        try:
            while True:
                batch = [self._next_op() for _ in range(self.rng.randint(1, MAX_PIPELINE))]
                wire = b"".join(encode_command(*c) for op in batch for c in op[1])
                inflight = list(batch)
                try:
                    sock.sendall(wire)
                    while inflight:
                        effects, cmds, want = inflight[0]
                        replies = [reader.read() for _ in cmds]
                        inflight.pop(0)
                        ok = replies == want if want is not None else replies[0] in (0, 1)
                        if not ok:
                            self.errors.append("%r -> %r" % (cmds, replies))
                        for k, v in effects:
                            self.acked[k] = v
                        self.ops_acked += 1
                except (OSError, ConnectionError):
                    self.pending = [op[0] for op in inflight]
                    return
        finally:
            sock.close()


def mget(c, keys):
    out = {}
    for i in range(0, len(keys), 1000):
        part = keys[i:i + 1000]
        vals = c.cmd("MGET", *part)
        assert isinstance(vals, list) and len(vals) == len(part), "MGET answered %r" % (vals,)
        out.update(zip(part, vals))
    return out


def verify(h, model, writers, ctx):
    """Checks the restarted server against model (key -> value/None, all writers' keys) and
    the round's writers; folds what was recovered into model. Returns problems."""
    bad = []
    c = RawClient(h.port, timeout=60.0)
    all_keys = [k for t in range(THREADS) for k in (b"w%d:%d" % (t, j) for j in range(KEYS_PER_WRITER))]
    got = mget(c, all_keys)
    by_writer = {w.tid: w for w in writers}
    for t in range(THREADS):
        keys = [b"w%d:%d" % (t, j) for j in range(KEYS_PER_WRITER)]
        state = {k: model.get(k) for k in keys}
        w = by_writer.get(t)
        pending = []
        if w is not None:
            state.update(w.acked)
            pending = w.pending
        mine = {k: got[k] for k in keys}
        match = state == mine
        cur = dict(state)
        for effects in pending:
            for k, v in effects:
                cur[k] = v
            match = match or cur == mine
        if not match:
            inflight = {}
            for effects in pending:
                for k, v in effects:
                    inflight.setdefault(k, []).append(v)
            lost = ["%r: want %r%s, got %r" % (k, state[k], " or one of %r" % inflight[k] if k in inflight else "",
                                               mine[k])
                    for k in keys if mine[k] != state[k] and mine[k] not in inflight.get(k, [])]
            bad.append("%s: writer %d's keys are not its acknowledged state plus a prefix of its %d in-flight "
                       "operations; %d keys differ without an in-flight explanation: %s"
                       % (ctx, t, len(pending), len(lost), "; ".join(lost[:10])))
        model.update(mine)
    # TTLs: values written with EX carry a "t" prefix.
    present = [k for k in all_keys if got[k] is not None]
    ttls = pipeline(c, [("PTTL", k) for k in present])
    for k, ttl in zip(present, ttls):
        if got[k].startswith(b"t") and not (isinstance(ttl, int) and 0 < ttl <= HOUR_S * 1000):
            bad.append("%s: %r was written with EX %d, PTTL now %r" % (ctx, k, HOUR_S, ttl))
        if got[k].startswith(b"p") and ttl != -1:
            bad.append("%s: %r was written without a TTL, PTTL now %r" % (ctx, k, ttl))
    n = c.cmd("DBSIZE")
    if n != len(present):
        bad.append("%s: DBSIZE %r, but %d of the written keys exist" % (ctx, n, len(present)))
    c.close()
    return bad


def completed_snapshots(h):
    return sum(1 for line in h.stderr_text().splitlines() if "] snapshot " in line and " keys, " in line)


def test_kill9_while_snapshots_run(server_factory, tmp_path):
    seed = int(os.environ.get("PANDA_SNAP_CRASH_SEED", str(int(time.time() * 1000) % 1000000)))
    rng = random.Random(seed)
    data_dir = os.path.join(str(tmp_path), "data")
    os.makedirs(data_dir)
    model = {}
    writers = []
    seqs = [0] * THREADS
    stats = {"acked": 0, "in_flight": 0, "parquet_loads": 0, "tmp_removed": 0, "torn": 0, "snapshots": 0}
    t_start = time.monotonic()
    for rnd in range(ROUNDS + 1):
        h = server_factory(extra_args=ARGS, data_dir=data_dir)
        log = h.stderr_text()
        ctx = "round %d (seed %d)" % (rnd, seed)
        if rnd > 0:
            assert "WAL replay:" in log, "%s: no 'WAL replay:' in the restart log\n%s" % (ctx, log[-2000:])
            stats["parquet_loads"] += "from %s" % path(data_dir, SNAP_FILE) in log
            stats["tmp_removed"] += ("removed %s" % path(data_dir, SNAP_TMP)) in log
            stats["torn"] += "torn tail" in log
            bad = verify(h, model, writers, ctx)
            assert not bad, "%d problems after kill -9 and restart:\n%s\nrestart log tail:\n%s" % (
                len(bad), "\n".join(bad[:20]), log[-1500:])
        if rnd == ROUNDS:
            break
        ready = [threading.Event() for _ in range(THREADS)]
        writers = [Writer(t, h.port, seqs[t], random.Random(rng.random()), ready[t]) for t in range(THREADS)]
        for w in writers:
            w.start()
        for e in ready:
            assert e.wait(15), "%s: writer did not connect" % ctx
        # Snapshots run back to back. On a loaded machine the first of a round may take a
        # second or more (the child starts at idle priority), so in most rounds wait for it,
        # and the kill lands at a random point of a later one; in the others it may land in
        # the first, which rewrites the WAL the last crash left.
        deadline = time.monotonic() + 20 if rng.random() < 0.75 else 0
        while completed_snapshots(h) == 0 and time.monotonic() < deadline and h.alive():
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.5))
        assert h.alive(), "%s: server died by itself\n%s" % (ctx, h.stderr_text()[-3000:])
        h.expect_nonzero_exit = True
        rc = h.stop(signal.SIGKILL)
        assert rc == -signal.SIGKILL, rc
        for w in writers:
            w.join(30)
            assert not w.is_alive(), "%s: writer %d hung" % (ctx, w.tid)
            assert not w.errors, "%s: writer %d got unexpected replies: %r" % (ctx, w.tid, w.errors[:5])
            seqs[w.tid] = w.seq
            stats["acked"] += w.ops_acked
            stats["in_flight"] += len(w.pending)
        stats["snapshots"] += completed_snapshots(h)

    # Final: clean shutdown; the snapshot plus the WAL records after it are the keyspace.
    c = RawClient(h.port)
    final = {k: v for k, v in mget(c, list(model)).items() if v is not None}
    c.close()
    rc = h.stop(signal.SIGTERM)
    assert rc == 0, "clean shutdown after the last round: exit %s\n%s" % (rc, h.stderr_text()[-2000:])
    rc, fields, rows, out = check_parquet(path(data_dir, SNAP_FILE), dump=True)
    assert rc == 0, out
    snap_lsn = int(fields["panda_wal_lsn"])
    s = walfile.scan_file(path(data_dir, WAL_FILE))
    assert s.damage == walfile.CLEAN, "WAL after the last clean shutdown: %r" % (s,)
    lsns = [r.lsn for r in s.records]
    assert lsns == list(range(s.first_lsn, s.first_lsn + len(lsns))), "LSNs not consecutive"
    # A rewritten log starts with a marker (an empty record carrying the LSN of the snapshot it
    # follows); a log never rewritten starts at LSN 1. No other record is empty.
    marker, body = s.split()
    assert marker is not None or not lsns or s.first_lsn == 1, "WAL starts at LSN %d without a marker" % s.first_lsn
    assert not s.stray_empty, "empty records after the first: %r" % (s.stray_empty,)
    assert s.covers <= snap_lsn, "the WAL follows LSN %d, the snapshot covers up to %d only" % (s.covers, snap_lsn)
    state = {k: v for k, (v, _) in rows.items()}
    replayed = walfile.apply_records([r for r in body if r.lsn > snap_lsn],
                                     {k: (v, -1) for k, v in state.items()})
    assert {k: v for k, (v, _) in replayed.items()} == final, (
        "the snapshot (LSN %d, %d rows) plus the WAL's %d later records do not give the keyspace (%d keys)"
        % (snap_lsn, len(rows), sum(1 for x in lsns if x > snap_lsn), len(final)))

    assert stats["acked"] > 500, "too little load to mean anything: %r" % stats
    assert stats["snapshots"] >= ROUNDS // 2 and stats["parquet_loads"] >= ROUNDS // 2, (
        "snapshots were rarely in play: %r" % stats)
    print("\nkill -9 x%d with snapshots (seed %d): %r; final snapshot LSN %d, WAL %d records; %.1fs" % (
        ROUNDS, seed, stats, snap_lsn, len(lsns), time.monotonic() - t_start))
