"""panda-cli at a terminal: drives the real client ($PANDA_CLI) inside tmux, which gives it a
real pseudo-terminal and renders the screen (capture-pane), against real servers from
conftest's server_factory.

What is asserted is what a person would check: the screen, what the server stored (redis-py),
the history file and the exit status. Every wait is a poll with a generous deadline.
"""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import IS_REDIS, REPO, SANITIZER_MARKERS, free_port

CLI_BIN = os.environ.get("PANDA_CLI", os.path.join(REPO, "bin", "panda-cli"))
DEADLINE_S = 15.0

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Term:
    """One panda-cli running in its own tmux server (own socket, own environment)."""

    def __init__(self, tmp_path, args, env=None, width=200):
        if not os.access(CLI_BIN, os.X_OK):
            pytest.fail("client binary %s does not exist (build it or set PANDA_CLI)" % CLI_BIN)
        # A socket path must be short (sun_path), so not under pytest's deep tmp_path.
        self.dir = tempfile.mkdtemp(prefix="pcli-", dir="/tmp")
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.status_path = os.path.join(self.dir, "status")
        self.san_dir = os.path.join(str(tmp_path), "sanitizer-%d" % time.monotonic_ns())
        os.makedirs(self.san_dir)
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("PANDA_HOST", "PANDA_PORT", "PANDA_HISTFILE", "TMUX")}
        full_env["HOME"] = str(tmp_path)
        # Sanitizer reports go to files: the screen is not where a test should find them.
        full_env["ASAN_OPTIONS"] = "log_path=%s/asan" % self.san_dir
        full_env["UBSAN_OPTIONS"] = "log_path=%s/ubsan:print_stacktrace=1" % self.san_dir
        full_env.update(env or {})
        # The pane runs the client, then records its exit status and stays, so the last
        # screen can still be read.
        script = '"$@"; echo $? > %s; exec sleep 600' % self.status_path
        cmd = ["sh", "-c", script, "sh", CLI_BIN] + [str(a) for a in args]
        self.tmux("new-session", "-d", "-x", str(width), "-y", "50", "--", *cmd, env=full_env)

    def tmux(self, *args, env=None):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                              capture_output=True, check=True, env=env, timeout=20).stdout

    def type(self, text):
        self.tmux("send-keys", "-l", "--", text)

    def keys(self, *names):
        self.tmux("send-keys", *names)

    def line(self, text):
        self.type(text)
        self.keys("Enter")

    def screen(self, escapes=False):
        args = ["capture-pane", "-p", "-J"] + (["-e"] if escapes else [])
        return self.tmux(*args).decode("utf-8", "replace")

    def lines(self):
        return [ln.rstrip() for ln in self.screen().splitlines() if ln.strip()]

    def wait(self, pred, what):
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if pred(self.screen()):
                return
            time.sleep(0.05)
        pytest.fail("screen never showed %s; it shows:\n%s" % (what, self.screen()))

    def wait_text(self, text):
        self.wait(lambda s: text in s, repr(text))

    def wait_last(self, text):
        """Waits until the last non-empty row of the screen is text."""
        def last_is(s):
            rows = [r.rstrip() for r in s.splitlines() if r.strip()]
            return bool(rows) and rows[-1] == text
        self.wait(last_is, "a last row of %r" % text)

    def exit_status(self):
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if os.path.exists(self.status_path):
                with open(self.status_path) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            time.sleep(0.05)
        pytest.fail("panda-cli did not exit; screen:\n%s" % self.screen())

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)
        reports = []
        for name in os.listdir(self.san_dir):
            with open(os.path.join(self.san_dir, name), errors="replace") as f:
                reports.append(f.read())
        text = "\n".join(reports)
        assert not any(m in text for m in SANITIZER_MARKERS), "sanitizer report:\n" + text


@pytest.fixture
def term(tmp_path):
    started = []

    def start(port, *args, env=None, width=200):
        t = Term(tmp_path, ["-p", port] + list(args), env=env, width=width)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()


def prompt(port):
    return "127.0.0.1:%d>" % port


def run_cli(*args, input=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PANDA_HOST", "PANDA_PORT")}
    return subprocess.run([CLI_BIN] + [str(a) for a in args], input=input,
                          capture_output=True, env=env, timeout=20)


# --------------------------------------------------------------------------- quoting

def test_quoting_stores_exact_bytes(server, term):
    t = term(server.port)
    p = prompt(server.port)
    t.wait_last(p)
    t.line('%s greeting "Hello, World!"' % ("SET" if IS_REDIS else "PUT"))
    t.wait_last(p)
    t.line(r'SET esc "tab\there\nnul\x00end" ')
    t.wait_last(p)
    t.line("SET single 'it\\'s raw\\n'")
    t.wait_last(p)
    t.line("GET greeting")
    t.wait_text('"Hello, World!"')
    c = server.client()
    assert c.get("greeting") == b"Hello, World!"
    assert c.get("esc") == b"tab\there\nnul\x00end"
    assert c.get("single") == b"it's raw\\n"
    t.line("GET esc")
    t.wait_text(r'"tab\there\nnul\x00end"')
    assert t.lines().count("OK") == 3


# --------------------------------------------------------------------------- completion

def test_tab_completes_command_names(server, term):
    t = term(server.port)
    p = prompt(server.port)
    t.wait_last(p)
    t.type("INCRBYF")
    t.keys("Tab")
    t.wait(lambda s: (p + " INCRBYFLOAT ") in s, "INCRBYFLOAT completed")
    t.keys("C-u")
    t.type("getd")  # the case typed is the case completed
    t.keys("Tab")
    t.wait(lambda s: (p + " getdel ") in s, "getdel completed")
    t.keys("C-u")
    t.type("SETN")
    t.keys("Tab")
    t.wait(lambda s: (p + " SETNX ") in s, "SETNX completed")
    t.keys("C-u")
    t.type("SE")
    t.keys("Tab")  # several: listed under the line, the line is kept
    t.wait(lambda s: any("SETEX" in r and "SETNX" in r and "SELECT" in r for r in s.splitlines()),
           "a list of the SE commands")
    t.wait_last(p + " SE")


def test_tab_completes_key_names(server, term):
    c = server.client()
    c.mset({"user:1000:name": "Ada", "user:1000:email": "ada@example.com", "other": "x",
            "my key": "spaced"})
    t = term(server.port)
    p = prompt(server.port)
    t.wait_last(p)
    t.type("GET user:1000:n")
    t.keys("Tab")
    t.wait(lambda s: (p + " GET user:1000:name ") in s, "the key completed")
    t.keys("Enter")
    t.wait_text('"Ada"')
    t.wait_last(p)
    t.type("GET us")
    t.keys("Tab")  # two keys share "user:1000:"
    t.wait(lambda s: (p + " GET user:1000:") in s, "the common prefix")
    t.keys("C-u")
    t.type("STRLEN my")
    t.keys("Tab")  # a key with a space is completed quoted, so it can be sent as typed
    t.wait(lambda s: (p + ' STRLEN "my key" ') in s, "the quoted key")
    t.keys("Enter")
    t.wait_text("(integer) 6")
    t.type("SET ot")
    t.keys("Tab")
    t.wait(lambda s: (p + " SET other ") in s, "the key after SET")
    t.type("va")
    t.keys("Tab")  # SET's second argument is a value: no key is offered
    t.keys("Enter")
    t.wait_last(p)
    assert c.get("other") == b"va"


# --------------------------------------------------------------------------- history

def test_history_across_two_runs(server, term, tmp_path):
    p = prompt(server.port)
    t = term(server.port)
    t.wait_last(p)
    t.line("SET h1 v1")
    t.wait_last(p)
    t.line("GET h1")
    t.wait_text('"v1"')
    t.line("QUIT")
    assert t.exit_status() == 0
    path = tmp_path / ".panda_history"
    assert path.read_text() == "SET h1 v1\nGET h1\nQUIT\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    t2 = term(server.port)
    t2.wait_last(p)
    t2.keys("Up")
    t2.wait_last(p + " QUIT")
    t2.keys("Up")
    t2.wait_last(p + " GET h1")
    t2.keys("C-u", "C-r")
    t2.type("SET h")  # incremental search back through the history
    t2.wait(lambda s: "SET h1 v1" in s.split(p)[-1], "the search finding SET h1 v1")
    t2.keys("Enter")
    t2.wait_text("OK")
    t2.line("SET h2 v2")
    t2.wait_last(p)
    assert path.read_text().splitlines()[-2:] == ["SET h1 v1", "SET h2 v2"]
    t2.keys("C-d")
    assert t2.exit_status() == 0


def test_history_file_from_env_or_off(server, term, tmp_path):
    p = prompt(server.port)
    custom = tmp_path / "custom_history"
    t = term(server.port, env={"PANDA_HISTFILE": str(custom)})
    t.wait_last(p)
    t.line("PING")
    t.wait_text("PONG")
    t.keys("C-d")
    assert t.exit_status() == 0
    assert custom.read_text() == "PING\n"
    assert not (tmp_path / ".panda_history").exists()

    t2 = term(server.port, env={"PANDA_HISTFILE": ""})
    t2.wait_last(p)
    t2.line("ECHO nohistory")
    t2.wait_text('"nohistory"')
    t2.line("EXIT")
    assert t2.exit_status() == 0
    assert not (tmp_path / ".panda_history").exists()
    assert custom.read_text() == "PING\n"


# --------------------------------------------------------------------------- hints

def test_hint_shows_the_syntax_in_grey(server, term):
    p = prompt(server.port)
    t = term(server.port)
    t.wait_last(p)
    t.type("SET")  # the name typed: the hint starts with a space
    t.wait(lambda s: (p + " SET key value [NX | XX]") in s, "the hint after SET")
    grey = "\x1b[90m"
    assert "SET" + grey + " key value" in t.screen(escapes=True)
    t.type(" ")
    t.wait(lambda s: (p + " SET key value [NX | XX]") in s, "the hint after SET")
    assert grey + "key value [NX | XX]" in t.screen(escapes=True)
    t.type("k1 ")  # one argument typed: the hint moves on
    t.wait(lambda s: (p + " SET k1 value [NX | XX]") in s, "the hint after the key")
    t.type("v")  # inside a word: no hint
    t.wait_last(p + " SET k1 v")
    t.keys("Enter")  # the hint never reaches the server or the history
    t.wait_last(p)
    assert server.client().get("k1") == b"v"
    assert (p + " SET k1 v") in t.lines()
    t.type("GET ")
    t.wait_last(p + " GET key")
    t.type("k1")
    t.wait_last(p + " GET k1")
    t.keys("Enter")
    t.wait_text('"v"')


# --------------------------------------------------------------------------- errors

def test_did_you_mean(server, term):
    p = prompt(server.port)
    t = term(server.port)
    t.wait_last(p)
    t.line("GTE greeting")
    t.wait_text("Did you mean GET?")
    assert "(error) ERR unknown command" in t.screen()
    t.line("ZZZZZZ")
    t.wait_last(p)
    assert t.screen().count("Did you mean") == 1  # nothing is close to ZZZZZZ
    one = run_cli("-p", server.port, "INCRR", "n")
    assert one.returncode == 1
    assert one.stdout.startswith(b"ERR unknown command")
    assert b"Did you mean INCR?" in one.stderr


def test_server_down_then_up(server_factory, term):
    port = free_port()
    t = term(port)
    t.wait_text("Could not connect to 127.0.0.1:%d: Connection refused" % port)
    t.wait_text("bin/panda-server --port %d" % port)
    t.wait_last("not connected>")
    t.line("PING")
    t.wait(lambda s: s.count("Connection refused") == 2, "a second refusal")
    t.wait_last("not connected>")
    server_factory(port=port)
    t.line("PING")
    t.wait_text("PONG")
    t.wait_last(prompt(port))
    t.line("QUIT")
    assert t.exit_status() == 0  # the session exits 0: its errors were shown as they came


def test_reconnects_after_a_restart(server_factory, term):
    first = server_factory()
    port = first.port
    p = prompt(port)
    t = term(port)
    t.wait_last(p)
    t.line("SET kept 1")
    t.wait_last(p)
    assert first.stop() == 0
    server_factory(port=port, data_dir=first.data_dir)
    t.line("INCR kept")  # sent once, on a new connection
    t.wait_text("(integer) %d" % (1 if IS_REDIS else 2))  # redis-server runs without a save
    assert "Error" not in t.screen() and "Could not connect" not in t.screen()
    t.keys("C-d")
    assert t.exit_status() == 0


# --------------------------------------------------------------------------- help, stats, exit

def test_help_in_the_client(server, term):
    p = prompt(server.port)
    t = term(server.port)
    t.wait_last(p)
    t.line("HELP SET")
    t.wait_text("summary:")
    rows = t.lines()
    assert any(r.startswith("  SET key value [NX | XX]") for r in rows)
    assert any(r.startswith("  group: string") for r in rows)
    t.line("HELP")
    t.wait_last(p)
    assert sum(1 for r in t.lines() if re.match(r"[A-Z][A-Z-]+( |$)", r)) >= 20
    one = run_cli("-p", server.port, "HELP")
    assert one.returncode == 0
    assert b"\nPING [message] " in one.stdout and b"\nGET key " in one.stdout
    one = run_cli("-p", server.port, "HELP", "GET")
    assert one.returncode == 0 and b"  GET key\n" in one.stdout
    one = run_cli("-p", server.port, "HELP", "GTE")
    assert one.returncode == 1 and b"Did you mean GET?" in one.stdout


@pytest.mark.panda_only
def test_stats_one_field_a_line(server, term):
    p = prompt(server.port)
    t = term(server.port)
    t.wait_last(p)
    t.line("STATS")
    t.wait_text("Pending: ")
    rows = t.lines()
    assert any(r.startswith("Storage: Local (") for r in rows)
    assert any(r.startswith("WAL: ") for r in rows)
    assert any(r.startswith("In-memory: ") and r.endswith(" keys") for r in rows)
    # Scripts keep the one line.
    one = run_cli("-p", server.port, "STATS")
    assert one.stdout.count(b"\n") == 1 and b", WAL: " in one.stdout


def test_piped_and_one_shot_exit_codes(server):
    ok = run_cli("-p", server.port, input=b'SET p "a b"\nGET p\n')
    assert (ok.returncode, ok.stdout) == (0, b"OK\na b\n")
    bad = run_cli("-p", server.port, input=b"GET p\nNOSUCH\nGET p\n")
    assert bad.returncode == 1 and bad.stdout.count(b"a b\n") == 2
    assert run_cli("-p", server.port, "GET", "p").returncode == 0
    assert run_cli("-p", server.port, "GET").returncode == 1
    assert run_cli("-p", free_port(), "GET", "p").returncode == 1
    helptext = run_cli("--help").stdout.decode()
    assert "Exit status" in helptext and "PANDA_HISTFILE" in helptext


def test_interactive_errors_exit_0_and_exit_leaves(server, term):
    p = prompt(server.port)
    t = term(server.port)
    t.wait_last(p)
    t.line("GET")
    t.wait_text("(error) ERR wrong number of arguments")
    t.line('SET broken "unterminated')
    t.wait_text("Invalid argument(s)")
    t.line("exit")
    assert t.exit_status() == 0


def test_ctrl_d_deletes_in_a_line_and_leaves_on_an_empty_one(server, term):
    p = prompt(server.port)
    t = term(server.port, env={"PANDA_HISTFILE": ""})
    t.wait_last(p)
    t.type("PINGX")
    t.keys("C-b", "C-d")  # deletes the X under the cursor, as in a shell
    t.wait(lambda s: "PINGX" not in s, "the X deleted")
    t.keys("Enter")
    t.wait_text("PONG")
    t.wait_last(p)
    t.keys("C-d")
    assert t.exit_status() == 0
    assert "^D" not in t.screen()
