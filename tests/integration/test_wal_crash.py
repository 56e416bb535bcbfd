"""kill -9 under write load, many times over one data directory (fsync=always).

Four writer threads pipeline SETs of unique keys, MULTI/EXEC blocks and INCRs as fast as the
server answers, remembering what was acknowledged and what was only sent. The server is
SIGKILLed at a random moment, restarted on the same data directory, and the recovered state
is checked against the writers' records:

  * every acknowledged SET is present with its value; an unacknowledged one is present with
    exactly its value or absent;
  * each transaction's three keys are all present (same value) or all absent, and present
    if EXEC was acknowledged;
  * each counter is >= its last acknowledged value and <= that + INCRs in flight;
  * whatever an earlier round recovered is still there, unchanged, and nothing else exists
    (DBSIZE matches);
  * the restart log has `WAL replay:`.

At the end the WAL is read with walfile.py: clean, LSNs consecutive, and replaying it gives
exactly the final keyspace.

PANDA_WAL_CRASH_ROUNDS (default 20) and PANDA_WAL_CRASH_SEED tune/reproduce a run.
"""
import os
import random
import signal
import threading
import time

import pytest

import walfile
from conftest import RawClient, RespReader, encode_command, raw_connect

pytestmark = pytest.mark.panda_only

ROUNDS = int(os.environ.get("PANDA_WAL_CRASH_ROUNDS", "20"))
THREADS = 4
MAX_PIPELINE = 8


def set_value(tid, seq):
    return b"v%d:%d:" % (tid, seq) + b"#" * ((tid * 7 + seq) % 23)


class Writer(threading.Thread):
    """One connection; pipelines small batches of operations until the connection dies."""

    def __init__(self, tid, port, seq, rng, ready):
        super().__init__(name="writer-%d" % tid, daemon=True)
        self.tid, self.port, self.seq, self.rng, self.ready = tid, port, seq, rng, ready
        self.stop_flag = threading.Event()
        self.counter_key = b"cnt%d" % tid
        self.acked = {}          # key -> value
        self.unacked = {}        # key -> value
        self.tx_acked = []       # (keys, value)
        self.tx_unacked = []
        self.incr_last_acked = None
        self.incr_unacked = 0    # INCRs sent after the last acknowledged one
        self.incr_acked_count = 0
        self.errors = []
        self.ops_acked = 0

    def _next_op(self):
        self.seq += 1
        s = self.seq
        if s % 10 == 0:
            keys = [b"tx%d:%d:%s" % (self.tid, s, x) for x in (b"a", b"b", b"c")]
            val = b"t%d:%d:%d" % (self.tid, s, self.rng.randrange(1 << 30))
            cmds = [("MULTI",)] + [("SET", k, val) for k in keys] + [("EXEC",)]
            return ("tx", (keys, val), cmds)
        if s % 10 in (3, 7):
            return ("incr", None, [("INCR", self.counter_key)])
        key = b"w%d:%d" % (self.tid, s)
        return ("set", (key, set_value(self.tid, s)), [("SET", key, set_value(self.tid, s))])

    def _settle(self, op, replies):
        """op got all its replies."""
        kind, meta, _ = op
        if kind == "set":
            if replies == ["OK"]:
                self.acked[meta[0]] = meta[1]
                self.ops_acked += 1
                return
            self.errors.append("SET %r -> %r" % (meta[0], replies))
            self.unacked[meta[0]] = meta[1]
        elif kind == "tx":
            if replies == ["OK", "QUEUED", "QUEUED", "QUEUED", ["OK", "OK", "OK"]]:
                self.tx_acked.append(meta)
                self.ops_acked += 1
                return
            self.errors.append("MULTI %r -> %r" % (meta[0][0], replies))
            self.tx_unacked.append(meta)
        else:
            r = replies[0]
            if isinstance(r, int) and not isinstance(r, bool):
                if self.incr_last_acked is not None and r <= self.incr_last_acked:
                    self.errors.append("INCR went from %d to %d" % (self.incr_last_acked, r))
                self.incr_last_acked = r
                self.incr_unacked = 0
                self.incr_acked_count += 1
                self.ops_acked += 1
                return
            self.errors.append("INCR -> %r" % (r,))

    def _unsettled(self, op):
        kind, meta, _ = op
        if kind == "set":
            self.unacked[meta[0]] = meta[1]
        elif kind == "tx":
            self.tx_unacked.append(meta)
        # INCRs are already counted in incr_unacked when sent

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
            while not self.stop_flag.is_set():
                batch = [self._next_op() for _ in range(self.rng.randint(1, MAX_PIPELINE))]
                for op in batch:
                    if op[0] == "incr":
                        self.incr_unacked += 1
                wire = b"".join(encode_command(*c) for op in batch for c in op[2])
                pending = list(batch)
                try:
                    sock.sendall(wire)
                    while pending:
                        op = pending[0]
                        replies = [reader.read() for _ in op[2]]
                        pending.pop(0)
                        self._settle(op, replies)
                except (OSError, ConnectionError):
                    for op in pending:
                        self._unsettled(op)
                    return
        finally:
            sock.close()


class Model:
    """What the keyspace must hold after the last verified restart."""

    def __init__(self):
        self.kv = {}          # key -> value (bytes)
        self.seq = [0] * THREADS
        self.stats = {"acked": 0, "unacked": 0, "unacked_present": 0, "tx_acked": 0,
                      "tx_unacked": 0, "tx_unacked_present": 0, "incr_acked": 0, "rounds": 0}


def mget(c, keys):
    out = {}
    keys = list(keys)
    for i in range(0, len(keys), 1000):
        part = keys[i:i + 1000]
        vals = c.cmd("MGET", *part)
        assert isinstance(vals, list) and len(vals) == len(part), "MGET answered %r" % (vals,)
        out.update(zip(part, vals))
    return out


def verify(h, model, writers, round_no, seed):
    """Checks the restarted server h against model + the writers of the round before; folds
    the round's outcome into model."""
    ctx = "round %d (seed %d)" % (round_no, seed)
    log = h.stderr_text()
    assert "WAL replay:" in log, "%s: no 'WAL replay:' line in the restart log\n%s" % (ctx, log[-2000:])
    c = RawClient(h.port, timeout=30.0)
    bad = []

    # 1. everything earlier rounds recovered is still there (counters: checked below)
    counters = {w.counter_key for w in writers}
    got = mget(c, model.kv.keys())
    for k, v in model.kv.items():
        if got[k] != v and k not in counters:
            bad.append("earlier key %r: want %r got %r" % (k, v, got[k]))

    # 2. this round's writes
    for w in writers:
        keys = list(w.acked) + list(w.unacked) + [k for keys, _ in w.tx_acked + w.tx_unacked for k in keys]
        keys.append(w.counter_key)
        got = mget(c, keys)
        for k, v in w.acked.items():
            if got[k] != v:
                bad.append("acknowledged SET %r: want %r got %r" % (k, v, got[k]))
            model.kv[k] = v
        for k, v in w.unacked.items():
            if got[k] is None:
                continue
            if got[k] != v:
                bad.append("unacknowledged SET %r: want %r or nothing, got %r" % (k, v, got[k]))
            model.kv[k] = got[k]
            model.stats["unacked_present"] += 1
        for acked, txs in ((True, w.tx_acked), (False, w.tx_unacked)):
            for keys, val in txs:
                vals = [got[k] for k in keys]
                if vals == [val] * 3:
                    for k in keys:
                        model.kv[k] = val
                    if not acked:
                        model.stats["tx_unacked_present"] += 1
                elif vals == [None] * 3 and not acked:
                    pass
                else:
                    bad.append("%s transaction %r: want all three = %r%s, got %r"
                               % ("acknowledged" if acked else "unacknowledged", keys[0][:-2], val,
                                  "" if acked else " or none", vals))
        base = int(model.kv.get(w.counter_key, b"0"))
        lo = w.incr_last_acked if w.incr_last_acked is not None else base
        hi = lo + w.incr_unacked
        cv = got[w.counter_key]
        cur = int(cv) if cv is not None else 0
        if not lo <= cur <= hi:
            bad.append("counter %r = %r, want between %d (last acknowledged) and %d (+%d in flight)"
                       % (w.counter_key, cv, lo, hi, w.incr_unacked))
        if cv is not None:
            model.kv[w.counter_key] = cv
        model.stats["acked"] += len(w.acked)
        model.stats["unacked"] += len(w.unacked)
        model.stats["tx_acked"] += len(w.tx_acked)
        model.stats["tx_unacked"] += len(w.tx_unacked)
        model.stats["incr_acked"] += w.incr_acked_count

    # 3. nothing else exists
    n = c.cmd("DBSIZE")
    if n != len(model.kv):
        bad.append("DBSIZE %r, want %d (keys appeared that were never written, or vanished)" % (n, len(model.kv)))
    c.close()
    assert not bad, "%s: %d problems after kill -9 and restart:\n%s\nserver log tail:\n%s" % (
        ctx, len(bad), "\n".join(bad[:25]), log[-1500:])


def test_kill9_under_load(server_factory, tmp_path):
    seed = int(os.environ.get("PANDA_WAL_CRASH_SEED", str(int(time.time() * 1000) % 1000000)))
    rng = random.Random(seed)
    data_dir = os.path.join(str(tmp_path), "data")
    os.makedirs(data_dir)
    model = Model()
    writers = []
    torn = 0
    t_start = time.monotonic()
    for rnd in range(ROUNDS + 1):
        # Snapshots off: the end of the test replays the whole log, from LSN 1, to the keyspace
        # (kill -9 with snapshots running is test_snapshot_crash.py).
        h = server_factory(data_dir=data_dir, extra_args=["--snapshot-interval", "0", "--snapshot-timeout", "0"])
        if rnd > 0:
            verify(h, model, writers, rnd - 1, seed)
            if "torn tail" in h.stderr_text():
                torn += 1
        if rnd == ROUNDS:
            break
        ready = [threading.Event() for _ in range(THREADS)]
        writers = [Writer(t, h.port, model.seq[t], random.Random(rng.random()), ready[t]) for t in range(THREADS)]
        for w in writers:
            w.start()
        for e in ready:
            assert e.wait(15), "round %d (seed %d): writer did not connect" % (rnd, seed)
        time.sleep(rng.uniform(0.05, 0.4))
        assert h.alive(), "round %d (seed %d): server died by itself\n%s" % (rnd, seed, h.stderr_text()[-3000:])
        h.expect_nonzero_exit = True
        rc = h.stop(signal.SIGKILL)
        assert rc == -signal.SIGKILL, rc
        for w in writers:
            w.join(30)
            assert not w.is_alive(), "round %d (seed %d): writer %d hung" % (rnd, seed, w.tid)
        for w in writers:
            assert not w.errors, "round %d (seed %d): writer %d got unexpected replies: %r" % (
                rnd, seed, w.tid, w.errors[:5])
            model.seq[w.tid] = w.seq
        model.stats["rounds"] += 1

    # Final: clean shutdown, then the file itself must replay to exactly the keyspace.
    rc = h.stop(signal.SIGTERM)
    assert rc == 0, "clean shutdown after the last round: exit %s\n%s" % (rc, h.stderr_text()[-2000:])
    with open(os.path.join(data_dir, "kv_database.wal"), "rb") as f:
        data = f.read()
    s = walfile.scan(data)
    assert s.damage == walfile.CLEAN, "WAL after the last clean shutdown: %r" % (s,)
    lsns = [r.lsn for r in s.records]
    assert lsns == list(range(1, len(lsns) + 1)), "LSNs not consecutive"
    # Never rewritten (no snapshots): no marker, and every record holds changes.
    assert s.marker is None and all(r.ops for r in s.records), "empty record in a log never rewritten: %r" % (s,)
    state = {k: v for k, (v, exp) in s.state().items()}
    assert state == model.kv, "replaying the WAL does not give the verified keyspace (%d vs %d keys)" % (
        len(state), len(model.kv))

    st = model.stats
    assert st["acked"] + st["tx_acked"] + st["incr_acked"] > 100, "too little load to mean anything: %r" % st
    print("\nkill -9 x%d (seed %d): %s; torn tails %d; WAL %d records / %d bytes; %.1fs" % (
        ROUNDS, seed, st, torn, len(lsns), len(data), time.monotonic() - t_start))
