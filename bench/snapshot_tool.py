#!/usr/bin/env python3
"""Helpers for the snapshot section of bench/run.sh (see bench/README.md).

Standard library only. Subcommands:

  gen FILE COUNT SEED
      RESP stream of COUNT `SET key:%012d <32 lowercase hex chars>` commands
      (16-byte keys, 32-byte values from a PRNG seeded with SEED, so every run
      and both servers get the same data).

  ready PORT COUNT TIMEOUT_S GOFILE PIDFILE
      Touch GOFILE once polling has begun, then poll 127.0.0.1:PORT every
      millisecond with `PING` + `DBSIZE` (one connection, reused while it
      lasts) until the replies are +PONG and :COUNT. Prints the wall-clock
      time of that moment in microseconds since the epoch (comparable with
      bash's $EPOCHREALTIME) and exits 0. Once PIDFILE exists it holds the
      server's pid: exits 2 when that process is gone; 1 on timeout. The last
      replies seen go to stderr on failure.

  loop PORT MODE STOPFILE STARTFILE OUTFILE
      Snapshots back to back until STOPFILE exists. MODE `snapshot`: send
      SNAPSHOT and wait for its reply, again and again (panda). MODE `bgsave`:
      send BGSAVE, poll `INFO persistence` every 10 ms until
      rdb_bgsave_in_progress:0, again and again (redis). STARTFILE is touched
      once the first command has been sent. At the end OUTFILE gets one line:
      `OK ERRORS SECONDS FIRST_ERROR` (completed snapshots, failed ones, time
      spent in the loop).
"""
import os
import random
import socket
import sys
import time


class Conn:
    """A minimal RESP client: enough for simple, error, integer and bulk replies."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def reply(self):
        line = self._line()
        kind = line[:1]
        if kind == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(max(int(line[1:]), 0))]
        return line  # +simple, -error, :integer (prefix kept)

    def send(self, *cmds):
        self.sock.sendall(b"".join(c.encode() + b"\r\n" for c in cmds))

    def call(self, cmd):
        self.send(cmd)
        return self.reply()


def now_us():
    return time.time_ns() // 1000


def cmd_gen(path, count, seed):
    rnd = random.Random(int(seed))
    count = int(count)
    chunk = []
    with open(path, "wb") as f:
        for i in range(count):
            chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$32\r\n%032x\r\n" % (i, rnd.getrandbits(128)))
            if len(chunk) == 10000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))
    return 0


def _proc_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except (OSError, IndexError):
        return True


def cmd_ready(port, count, timeout_s, gofile, pidfile):
    port, want = int(port), b":%d" % int(count)
    deadline = time.monotonic() + float(timeout_s)
    pid, conn, last, checked = None, None, "no connection yet", 0.0
    open(gofile, "w").close()
    while time.monotonic() < deadline:
        if pid is None and os.path.exists(pidfile):
            with open(pidfile) as f:
                text = f.read().strip()
            pid = int(text) if text else None
        if pid is not None and time.monotonic() - checked > 0.05:
            checked = time.monotonic()
            if _proc_gone(pid):
                print("server process %d exited; last: %s" % (pid, last), file=sys.stderr)
                return 2
        try:
            if conn is None:
                conn = Conn(port, 10)
            conn.send("PING", "DBSIZE")
            r1, r2 = conn.reply(), conn.reply()
            if r1 == b"+PONG" and r2 == want:
                print(now_us())
                conn.close()
                return 0
            last = "%r %r" % (r1, r2)
        except (OSError, ValueError) as e:
            last = "%s: %s" % (type(e).__name__, e)
            if conn is not None:
                conn.close()
            conn = None
        time.sleep(0.001)
    print("not ready after %s s; last: %s" % (timeout_s, last), file=sys.stderr)
    return 1


def _show(reply):
    if isinstance(reply, bytes):
        return reply.decode(errors="replace")
    return repr(reply)


def _info_field(text, field):
    for line in text.decode(errors="replace").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def cmd_loop(port, mode, stopfile, startfile, outfile):
    ok = err = 0
    first_err = "-"
    t0 = time.monotonic()
    started = False
    conn = None
    try:
        conn = Conn(int(port), 3600)
        while not os.path.exists(stopfile):
            if mode == "snapshot":
                conn.send("SNAPSHOT")
                if not started:
                    open(startfile, "w").close()
                    started = True
                r = conn.reply()
                if r == b"+OK":
                    ok += 1
                else:
                    err += 1
                    first_err = first_err if err > 1 else _show(r)
                    time.sleep(0.01)
                continue
            r = conn.call("BGSAVE")
            if not started:
                open(startfile, "w").close()
                started = True
            if not (isinstance(r, bytes) and r.startswith(b"+")):
                err += 1
                first_err = first_err if err > 1 else _show(r)
                time.sleep(0.01)
                continue
            while True:
                time.sleep(0.01)
                info = conn.call("INFO persistence")
                if _info_field(info, "rdb_bgsave_in_progress") == "0":
                    break
            if _info_field(info, "rdb_last_bgsave_status") == "ok":
                ok += 1
            else:
                err += 1
                first_err = first_err if err > 1 else "rdb_last_bgsave_status not ok"
    except (OSError, ValueError) as e:
        err += 1
        first_err = first_err if err > 1 else "%s: %s" % (type(e).__name__, e)
    finally:
        if not started:
            open(startfile, "w").close()
        if conn is not None:
            conn.close()
        with open(outfile, "w") as f:
            f.write("%d %d %.3f %s\n" % (ok, err, time.monotonic() - t0, first_err.replace("\n", " ")))
    return 0


def main(argv):
    cmds = {"gen": (cmd_gen, 3), "ready": (cmd_ready, 5), "loop": (cmd_loop, 5)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 64
    fn, _ = cmds[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
