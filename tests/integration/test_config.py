"""Command line, environment and config file handling (Panda only)."""
import os
import re
import subprocess

import pytest

from conftest import PANDA_BIN, RawClient, free_port, port_is_free

pytestmark = pytest.mark.panda_only

ALL_FLAGS = ["--port", "--bind", "--data-dir", "--log-level", "--config", "--max-clients",
             "--max-inline-bytes", "--max-bulk-bytes", "--max-args", "--max-output-bytes",
             "--help", "--version"]

LOG_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(error|warn|info|debug)\] ")


def run_bin(args, env=None, cwd=None, timeout=10):
    full_env = dict(os.environ)
    for k in list(full_env):
        if k.startswith("PANDA_") and k not in ("PANDA_SERVER",):
            del full_env[k]
    if env:
        full_env.update(env)
    return subprocess.run([PANDA_BIN] + args, capture_output=True, env=full_env, cwd=cwd, timeout=timeout)


def test_help(tmp_path):
    p = run_bin(["--help"], cwd=tmp_path)
    assert p.returncode == 0
    out = p.stdout.decode()
    for flag in ALL_FLAGS:
        assert flag in out, "--help does not mention %s" % flag
    assert not os.path.exists(tmp_path / "data"), "--help must not create the data dir"


def test_version(tmp_path):
    p = run_bin(["--version"], cwd=tmp_path)
    assert p.returncode == 0
    assert re.match(r"^panda-server \S+\n?$", p.stdout.decode()), p.stdout


def one_line_error(p):
    assert p.returncode == 2, "exit status %s, stderr %r" % (p.returncode, p.stderr)
    err = p.stderr.decode()
    lines = err.splitlines()
    assert len(lines) == 1, "expected exactly one stderr line, got %r" % err
    return lines[0]


def test_unknown_flag(tmp_path):
    line = one_line_error(run_bin(["--bogus-flag"], cwd=tmp_path))
    assert "--bogus-flag" in line


def test_unknown_flag_after_valid_ones(tmp_path):
    line = one_line_error(run_bin(["--port", str(free_port()), "--nope=3"], cwd=tmp_path))
    assert "--nope" in line


@pytest.mark.parametrize("args,flag,value", [
    (["--port", "abc"], "--port", "abc"),
    (["--port", "70000"], "--port", "70000"),
    (["--port", "-1"], "--port", "-1"),
    (["--port=12x"], "--port", "12x"),
    (["--log-level", "loud"], "--log-level", "loud"),
    (["--max-clients", "lots"], "--max-clients", "lots"),
    (["--max-bulk-bytes", "-5"], "--max-bulk-bytes", "-5"),
])
def test_bad_values(tmp_path, args, flag, value):
    line = one_line_error(run_bin(args, cwd=tmp_path))
    assert flag in line
    assert value in line


def test_missing_value(tmp_path):
    line = one_line_error(run_bin(["--port"], cwd=tmp_path))
    assert "--port" in line


def test_bad_env_value(tmp_path):
    line = one_line_error(run_bin([], env={"PANDA_PORT": "notaport"}, cwd=tmp_path))
    assert "notaport" in line


def ping(port):
    c = RawClient(port)
    try:
        return c.cmd("PING")
    finally:
        c.close()


def test_env_port_used(server_factory, tmp_path):
    port = free_port()
    server_factory(["--data-dir", str(tmp_path / "d")], env={"PANDA_PORT": str(port)},
                         bare=True, port=port)
    assert ping(port) == "PONG"


def test_flag_beats_env(server_factory, tmp_path):
    env_port = free_port()
    flag_port = free_port()
    while flag_port == env_port:
        flag_port = free_port()
    server_factory(["--port", str(flag_port), "--data-dir", str(tmp_path / "d")],
                         env={"PANDA_PORT": str(env_port)}, bare=True, port=flag_port)
    assert ping(flag_port) == "PONG"
    assert port_is_free(env_port)


def test_env_data_dir_and_log(server_factory, tmp_path):
    port = free_port()
    d = tmp_path / "envdata"
    srv = server_factory(["--port", str(port)], env={"PANDA_DATA_DIR": str(d), "PANDA_LOG": "debug"},
                         bare=True, port=port)
    assert d.is_dir()
    c = RawClient(port)
    assert c.cmd("STATS").startswith(b"Storage: Local (%s)" % str(d).encode())
    c.close()
    assert "[debug]" in srv.stderr_text()


def test_config_file(server_factory, tmp_path):
    port = free_port()
    d = tmp_path / "cfgdata"
    cfg = tmp_path / "panda.conf"
    cfg.write_text("# a comment\n\nport %d\ndata-dir %s\nmax-clients 7\nlog-level debug\n" % (port, d))
    server_factory(["--config", str(cfg)], bare=True, port=port)
    assert ping(port) == "PONG"
    assert d.is_dir()
    c = RawClient(port)
    assert c.cmd("CONFIG", "GET", "maxclients") == [b"maxclients", b"7"]
    c.close()


def test_flag_beats_config_file(server_factory, tmp_path):
    file_port = free_port()
    flag_port = free_port()
    while flag_port == file_port:
        flag_port = free_port()
    cfg = tmp_path / "panda.conf"
    cfg.write_text("port %d\ndata-dir %s\n" % (file_port, tmp_path / "cfgdata"))
    srv = server_factory(["--config", str(cfg), "--port", str(flag_port)], bare=True, port=flag_port)
    assert ping(flag_port) == "PONG"
    assert port_is_free(file_port)
    assert srv.stop() == 0  # frees the data dir for the next server
    # flag order must not matter
    flag_port2 = free_port()
    server_factory(["--port", str(flag_port2), "--config", str(cfg)], bare=True, port=flag_port2)
    assert ping(flag_port2) == "PONG"


def test_env_beats_config_file(server_factory, tmp_path):
    file_port = free_port()
    env_port = free_port()
    while env_port == file_port:
        env_port = free_port()
    cfg = tmp_path / "panda.conf"
    cfg.write_text("port %d\ndata-dir %s\n" % (file_port, tmp_path / "cfgdata"))
    server_factory(["--config", str(cfg)], env={"PANDA_PORT": str(env_port)}, bare=True, port=env_port)
    assert ping(env_port) == "PONG"
    assert port_is_free(file_port)


def test_bad_config_file(tmp_path):
    cfg = tmp_path / "bad.conf"
    cfg.write_text("port notanumber\n")
    p = run_bin(["--config", str(cfg)], cwd=tmp_path)
    assert p.returncode == 2
    assert "notanumber" in p.stderr.decode()
    p = run_bin(["--config", str(tmp_path / "missing.conf")], cwd=tmp_path)
    assert p.returncode != 0


def test_equals_form(server_factory, tmp_path):
    port = free_port()
    d = tmp_path / "eqdata"
    server_factory(["--port=%d" % port, "--data-dir=%s" % d, "--log-level=debug",
                          "--max-clients=9"], bare=True, port=port)
    assert ping(port) == "PONG"
    assert d.is_dir()
    c = RawClient(port)
    assert c.cmd("CONFIG", "GET", "maxclients") == [b"maxclients", b"9"]
    c.close()


def test_data_dir_created(server_factory, tmp_path):
    d = tmp_path / "does-not-exist-yet"
    assert not d.exists()
    server_factory(data_dir=str(d))
    assert d.is_dir()


def test_default_data_dir_relative(server_factory):
    port = free_port()
    srv = server_factory(["--port", str(port)], bare=True, port=port)
    c = RawClient(port)
    assert c.cmd("STATS").startswith(b"Storage: Local (./data)")
    c.close()
    assert os.path.isdir(os.path.join(srv.tmp_dir, "data"))


def test_log_format(server_factory):
    srv = server_factory()
    c = RawClient(srv.port)
    c.cmd("SET", "a", "b")
    c.close()
    srv.stop()
    text = srv.stderr_text()
    lines = text.splitlines()
    assert lines, "no log output at --log-level debug"
    for line in lines:
        assert LOG_RE.match(line), "bad log line: %r" % line


def test_log_level_error_is_quiet(server_factory, tmp_path):
    port = free_port()
    srv = server_factory(["--port", str(port), "--data-dir", str(tmp_path / "d"), "--log-level", "error"],
                         bare=True, port=port)
    c = RawClient(srv.port)
    c.cmd("PING")
    c.close()
    srv.stop()
    for line in srv.stderr_text().splitlines():
        assert LOG_RE.match(line) and "[error]" in line, line


def test_unknown_config_file_name(tmp_path):
    cfg = tmp_path / "unknown.conf"
    cfg.write_text("port %d\nbogus-setting 1\n" % free_port())
    line = one_line_error(run_bin(["--config", str(cfg)], cwd=tmp_path))
    assert "bogus-setting" in line


def test_bad_env_log_level(tmp_path):
    line = one_line_error(run_bin(["--port", str(free_port())], env={"PANDA_LOG": "loud"}, cwd=tmp_path))
    assert "loud" in line


def test_port_in_use_fails(server_factory, tmp_path):
    srv = server_factory()
    p = run_bin(["--port", str(srv.port), "--data-dir", str(tmp_path / "other")], cwd=tmp_path)
    assert p.returncode not in (0, None)
    assert p.stderr, "no error message when the port is taken"
    assert ping(srv.port) == "PONG"
