"""panda-cli end to end: run bin/panda-cli as a subprocess against a real server.

The binary is $PANDA_CLI (default <repo>/bin/panda-cli). The server comes from conftest's
server_factory ($PANDA_SERVER, or redis-server with PANDA_TEST_TARGET=redis), so these tests
also check that panda-cli prints what redis-cli 7 prints.

stdout of a subprocess is a pipe, so panda-cli prints raw replies by default; tests of the
terminal formatting pass --no-raw, and one test runs the client on a pseudo-terminal.
"""
import os
import pty
import select
import subprocess
import time

import pytest

from conftest import REPO, SANITIZER_MARKERS, free_port

CLI_BIN = os.environ.get("PANDA_CLI", os.path.join(REPO, "bin", "panda-cli"))


def run_cli(*args, input=None, env=None, timeout=20):
    """Run panda-cli with args; returns CompletedProcess with bytes stdout/stderr."""
    if not os.access(CLI_BIN, os.X_OK):
        pytest.fail("client binary %s does not exist (build it or set PANDA_CLI)" % CLI_BIN)
    full_env = {k: v for k, v in os.environ.items() if k not in ("PANDA_HOST", "PANDA_PORT")}
    full_env.update(env or {})
    p = subprocess.run([CLI_BIN] + [str(a) for a in args], input=input, capture_output=True,
                       env=full_env, timeout=timeout)
    text = p.stderr.decode("utf-8", "replace")
    for m in SANITIZER_MARKERS:
        assert m not in text, "sanitizer report from panda-cli:\n" + text
    return p


def cmd(server, *args, **kw):
    return run_cli("-p", server.port, *args, **kw)


# --------------------------------------------------------------------------- one-shot, formatted

def test_quoted_string_and_status(server):
    p = cmd(server, "--no-raw", "set", "greeting", "Hello, World!")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"OK\n", b"")
    p = cmd(server, "--no-raw", "get", "greeting")
    assert (p.returncode, p.stdout) == (0, b'"Hello, World!"\n')


def test_nil_and_integer(server):
    assert cmd(server, "--no-raw", "get", "missing").stdout == b"(nil)\n"
    assert cmd(server, "--no-raw", "incr", "counter").stdout == b"(integer) 1\n"
    assert cmd(server, "--no-raw", "incrby", "counter", "-6").stdout == b"(integer) -5\n"


def test_array_and_empty_array(server):
    server.client().mset({"a": "1", "b": "2"})
    p = cmd(server, "--no-raw", "mget", "a", "b", "nope")
    assert p.stdout == b'1) "1"\n2) "2"\n3) (nil)\n'
    assert cmd(server, "--no-raw", "keys", "nomatch*").stdout == b"(empty array)\n"


def test_array_index_alignment(server):
    keys = ["k%02d" % i for i in range(10)]
    server.client().mset({k: k for k in keys})
    p = cmd(server, "--no-raw", "mget", *keys)
    lines = p.stdout.decode().splitlines()
    assert lines[0] == ' 1) "k00"'
    assert lines[9] == '10) "k09"'


def test_binary_value_is_escaped_like_redis_cli(server):
    server.client().set("bin", b'a\nb\tc\x01\x7f"\\ \xc3\xa9\r\x00')
    p = cmd(server, "--no-raw", "get", "bin")
    assert p.stdout == b'"a\\nb\\tc\\x01\\x7f\\"\\\\ \\xc3\\xa9\\r\\x00"\n'


def test_error_reply_exits_1(server):
    p = cmd(server, "--no-raw", "nosuchcommand", "x")
    assert p.returncode == 1
    assert p.stdout.startswith(b"(error) ERR unknown command 'nosuchcommand'")
    p = cmd(server, "--no-raw", "get")
    assert p.returncode == 1
    assert p.stdout == b"(error) ERR wrong number of arguments for 'get' command\n"


def test_info_is_printed_as_text(server):
    p = cmd(server, "--no-raw", "info", "server")
    assert p.returncode == 0
    assert p.stdout.startswith(b"# Server\r\n")
    assert b"\\r\\n" not in p.stdout and not p.stdout.startswith(b'"')


@pytest.mark.panda_only
def test_stats_is_printed_as_text(server):
    p = cmd(server, "--no-raw", "stats")
    assert p.returncode == 0
    assert p.stdout.startswith(b"Storage: Local (") and p.stdout.endswith(b"\n")


# --------------------------------------------------------------------------- raw output

def test_raw_is_the_default_when_stdout_is_a_pipe(server):
    server.client().set("greeting", "Hello, World!")
    assert cmd(server, "get", "greeting").stdout == b"Hello, World!\n"
    assert cmd(server, "--raw", "get", "greeting").stdout == b"Hello, World!\n"


def test_raw_values(server):
    c = server.client()
    c.mset({"a": "1", "b": b"x\ny"})
    assert cmd(server, "--raw", "get", "missing").stdout == b"\n"
    assert cmd(server, "--raw", "incr", "n").stdout == b"1\n"
    assert cmd(server, "--raw", "set", "k", "v").stdout == b"OK\n"
    assert cmd(server, "--raw", "mget", "a", "b", "nope").stdout == b"1\nx\ny\n\n"
    assert cmd(server, "--raw", "keys", "nomatch*").stdout == b"\n"


def test_raw_error_goes_to_stdout_and_exits_1(server):
    p = cmd(server, "--raw", "get")
    assert p.returncode == 1
    # redis-cli 7.0 prints a raw error followed by an empty line.
    assert p.stdout == b"ERR wrong number of arguments for 'get' command\n\n"


def test_large_value_arrives_in_pieces(server):
    value = bytes(range(256)) * (3 * 4096)  # 3 MiB, read in many chunks
    server.client().set("big", value)
    p = cmd(server, "--raw", "get", "big")
    assert p.returncode == 0
    assert p.stdout == value + b"\n"
    p = cmd(server, "--raw", "mget", "big", "big", "nope")
    assert p.stdout == value + b"\n" + value + b"\n\n"


def test_arguments_are_binary_safe_one_shot(server):
    assert cmd(server, "set", "sp ace", "").returncode == 0
    assert server.client().get("sp ace") == b""
    assert cmd(server, "set", "dash", "--raw").returncode == 0
    assert server.client().get("dash") == b"--raw"


# --------------------------------------------------------------------------- stdin lines

def test_piped_lines_with_quotes(server):
    script = (b'set plain value\n'
              b'\n'
              b'   \t \n'
              b'set "key with spaces" "a\\x00b\\n"\n'
              b"set single 'it\\'s \\n literal'\n"
              b'get "key with spaces"\n'
              b'get single\n'
              b'strlen "key with spaces"\n')
    p = cmd(server, "--no-raw", input=script)
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    assert p.stdout == (b'OK\nOK\nOK\n"a\\x00b\\n"\n"it\'s \\\\n literal"\n(integer) 4\n')
    c = server.client()
    assert c.get("key with spaces") == b"a\x00b\n"
    assert c.get("single") == b"it's \\n literal"
    assert c.get("plain") == b"value"


def test_piped_lines_raw_and_no_prompt(server):
    p = cmd(server, input=b"set a 1\nget a\nincr a\n")
    assert (p.returncode, p.stdout) == (0, b"OK\n1\n2\n")


def test_quit_and_exit_stop_reading(server):
    for word in (b"quit", b"EXIT", b"Quit"):
        p = cmd(server, input=b"set q 1\n" + word + b"\nset q 2\n")
        assert (p.returncode, p.stdout) == (0, b"OK\n")
        assert server.client().get("q") == b"1"


def test_unbalanced_quotes_are_reported_per_line(server):
    p = cmd(server, input=b'set a "unbalanced\nset b \'x\'y\nset c ok\n')
    assert p.returncode == 1
    assert p.stdout == b"OK\n"
    err = p.stderr.decode()
    assert err.count("Invalid argument(s)") == 2, err
    assert server.client().get("c") == b"ok"


def test_error_line_sets_exit_status_but_continues(server):
    p = cmd(server, "--no-raw", input=b"nosuch\nset after 1\n")
    assert p.returncode == 1
    assert p.stdout.startswith(b"(error) ERR unknown command")
    assert p.stdout.endswith(b"OK\n")


def test_resp3_map_after_hello_3(server):
    p = cmd(server, "--no-raw", input=b"hello 3\nset k v\nget k\n")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[0].startswith('1# "server" => ')
    assert lines[-2:] == ["OK", '"v"']


def test_prompt_on_a_terminal(server):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(CLI_BIN, [CLI_BIN, "-p", str(server.port)])
    out = b""

    def read_until(needle, timeout=10.0):
        nonlocal out
        deadline = time.monotonic() + timeout
        while needle not in out and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return needle in out

    prompt = b"127.0.0.1:%d> " % server.port
    try:
        assert read_until(prompt)
        os.write(fd, b'set greeting "Hello, World!"\n')
        assert read_until(b"OK\r\n" + prompt)
        os.write(fd, b"get greeting\n")
        assert read_until(b'"Hello, World!"\r\n' + prompt)
        os.write(fd, b"exit\n")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


# --------------------------------------------------------------------------- connection

def test_server_down_one_shot():
    port = free_port()
    p = run_cli("-p", port, "ping")
    assert p.returncode == 1
    assert p.stdout == b""
    err = p.stderr.decode()
    assert "Could not connect to 127.0.0.1:%d: Connection refused" % port in err
    assert "bin/panda-server --port %d" % port in err


def test_server_down_lines():
    port = free_port()
    p = run_cli("-p", port, input=b"ping\n")
    assert p.returncode == 1
    assert "Could not connect to 127.0.0.1:%d" % port in p.stderr.decode()


def test_host_and_port_from_env_and_flags(server):
    env = {"PANDA_HOST": "127.0.0.1", "PANDA_PORT": str(server.port)}
    assert run_cli("ping", env=env).stdout == b"PONG\n"
    bad = {"PANDA_PORT": str(free_port())}
    assert run_cli("-h", "127.0.0.1", "-p", server.port, "ping", env=bad).stdout == b"PONG\n"
    assert run_cli("--host=localhost", "--port=%d" % server.port, "ping").stdout == b"PONG\n"


def test_reconnects_after_server_restart(server_factory):
    first = server_factory()
    port = first.port
    proc = subprocess.Popen([CLI_BIN, "-p", str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"ping\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"PONG\n"
        assert first.stop() == 0
        # The old sockets may sit in TIME_WAIT; servers bind with SO_REUSEADDR.
        server_factory(port=port)
        # The client sees that the server closed the idle connection and reconnects before
        # sending the next command, so no command is lost or sent twice.
        proc.stdin.write(b"ping\nping\n")
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (out, err, proc.returncode) == (b"PONG\nPONG\n", b"", 0)


def test_gives_up_when_reconnect_fails(server):
    proc = subprocess.Popen([CLI_BIN, "-p", str(server.port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"ping\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"PONG\n"
        assert server.stop() == 0
        proc.stdin.write(b"ping\nping\nping\n")
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().count("Could not connect") == 1


def test_shutdown_closing_the_connection_is_success(server):
    p = cmd(server, "shutdown")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"", b"")
    assert server.wait_exit(10.0) == 0


# --------------------------------------------------------------------------- usage

def test_unknown_option_exits_2():
    p = run_cli("--bogus", "ping")
    assert p.returncode == 2
    assert p.stdout == b""
    assert b"--bogus" in p.stderr


def test_bad_port_exits_2():
    assert run_cli("-p", "0", "ping").returncode == 2
    assert run_cli("--port", "http", "ping").returncode == 2
    assert run_cli("-p").returncode == 2
    assert run_cli("ping", env={"PANDA_PORT": "nope"}).returncode == 2


def test_help_and_version():
    p = run_cli("--help")
    assert p.returncode == 0
    text = p.stdout.decode()
    assert "Usage: panda-cli" in text and "Exit status" in text and "--host" in text
    p = run_cli("--version")
    assert p.returncode == 0 and p.stdout.startswith(b"panda-cli ")
