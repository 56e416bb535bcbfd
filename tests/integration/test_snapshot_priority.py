"""The snapshot child's CPU priority (src/prio.h). It runs at SCHED_IDLE, so that it yields to
the server; when busy processes at normal priority leave it no CPU, the server raises it to
normal priority, or, without CAP_SYS_NICE, starts it again at normal priority. Either way
the SAVE answers OK and the snapshot holds every write."""
import contextlib
import os
import re
import signal
import subprocess
import sys

import pytest

from conftest import RawClient, encode_command
from snaphelp import (SNAP_FILE, SNAP_OFF, bulk_value, check_parquet, hold_snapshot_child, info, load_keys,
                      path, scaled, stop_clean)

pytestmark = pytest.mark.panda_only

CAP_SYS_NICE = 23
RAISED = r"snapshot 1 waited \d+ ms for a CPU and ran \d+ ms: raised to normal priority"
RESTARTED = (r"snapshot 1 waited \d+ ms for a CPU and ran \d+ ms; its priority cannot be raised "
             r"\(Operation not permitted\): starting it again at normal priority")
# Drops CAP_SYS_NICE from a root server (a server run as another user has none to drop).
WITHOUT_SYS_NICE = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"]


def has_sys_nice():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_NICE & 1)
    return False


@contextlib.contextmanager
def busy_loops():
    """One busy loop at normal priority per CPU we may run on: an idle-policy task beside
    them gets about 0.3% of a CPU."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(min(len(os.sched_getaffinity(0)), 64))]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def starved_save(h):
    """SAVE beside busy loops, with SETs of other keys while it runs; returns those keys."""
    saver, writer = RawClient(h.port, timeout=120), RawClient(h.port, timeout=60)
    with busy_loops():
        saver.send(encode_command("SAVE"))
        extra = [b"during:%d" % i for i in range(20)]
        for k in extra:
            assert writer.cmd("SET", k, k) == "OK"
        assert saver.read() == "OK"
    f = info(writer)
    assert f["snapshot_count"] == "1" and f["snapshot_failures"] == "0" and f["snapshot_last_status"] == "ok", f
    saver.close()
    writer.close()
    return extra


def check_everything_survives(server_factory, h, n, extra):
    rc, fields, _, text = check_parquet(path(h, SNAP_FILE))
    assert rc == 0 and int(fields["rows"]) >= n, text
    stop_clean(h)
    h2 = server_factory(extra_args=SNAP_OFF, data_dir=h.data_dir)
    c = RawClient(h2.port)
    assert c.cmd("DBSIZE") == n + len(extra)
    for i in (0, n // 2, n - 1):
        assert c.cmd("GET", b"key:%08d" % i) == bulk_value(i, 256)
    for k in extra:
        assert c.cmd("GET", k) == k
    c.close()


def test_snapshot_child_runs_at_idle_priority(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    load_keys(h.port, scaled(150000), vlen=256)
    saver = RawClient(h.port, timeout=60)
    saver.send(encode_command("SAVE"))
    pid = hold_snapshot_child(h, 1)
    try:
        policy = os.sched_getscheduler(pid)
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:  # killed to be started again at normal priority
        policy = None
    assert saver.read() == "OK"
    if policy != os.SCHED_IDLE:
        # Only on a machine busy enough to starve the child before the test could stop it.
        want = RAISED if policy == os.SCHED_OTHER else RESTARTED
        assert re.search(want, h.stderr_text()), (policy, h.stderr_text()[-2000:])
    saver.close()


@pytest.mark.skipif(not has_sys_nice(), reason="raising a task out of SCHED_IDLE needs CAP_SYS_NICE")
def test_starved_snapshot_child_is_raised(server_factory):
    h = server_factory(extra_args=SNAP_OFF)
    n = scaled(150000)
    load_keys(h.port, n, vlen=256)
    extra = starved_save(h)
    log = h.stderr_text()
    assert re.search(RAISED, log), log[-2000:]
    assert "starting it again" not in log
    check_everything_survives(server_factory, h, n, extra)


def test_starved_snapshot_child_restarts_where_it_cannot_be_raised(server_factory):
    h = server_factory(extra_args=SNAP_OFF, wrap=WITHOUT_SYS_NICE if has_sys_nice() else None)
    n = scaled(150000)
    load_keys(h.port, n, vlen=256)
    extra = starved_save(h)
    log = h.stderr_text()
    assert re.search(RESTARTED, log), log[-2000:]
    assert len(re.findall(r"for a CPU", log)) == 1, log[-2000:]  # the second child is not judged
    check_everything_survives(server_factory, h, n, extra)
