"""Server/connection commands and redis-cli interoperability."""
import re
import subprocess
import time

import pytest

from conftest import RawClient, RespReader, encode_command


def info_dict(text):
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


# ----------------------------------------------------------------------------- PING/ECHO/TIME

def test_ping(rc):
    assert rc.cmd("PING") == "PONG"
    assert rc.cmd("PING", "hello world") == b"hello world"
    assert rc.cmd("ping") == "PONG"
    assert rc.err("PING", "a", "b") == "ERR wrong number of arguments for 'ping' command"


def test_ping_raw_bytes(server):
    s = server.raw()
    s.sendall(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n")
    s.settimeout(5)
    data = b""
    while len(data) < len(b"+PONG\r\n$2\r\nhi\r\n"):
        data += s.recv(100)
    assert data == b"+PONG\r\n$2\r\nhi\r\n"
    s.close()


def test_echo(rc):
    assert rc.cmd("ECHO", "hi") == b"hi"
    assert rc.cmd("ECHO", b"\x00\r\n") == b"\x00\r\n"
    assert rc.cmd("ECHO", "") == b""
    assert rc.err("ECHO") == "ERR wrong number of arguments for 'echo' command"


def test_time(rc):
    reply = rc.cmd("TIME")
    assert isinstance(reply, list) and len(reply) == 2
    assert all(isinstance(x, bytes) for x in reply)
    secs, usecs = int(reply[0]), int(reply[1])
    assert abs(secs - time.time()) < 5
    assert 0 <= usecs < 1000000


# ----------------------------------------------------------------------------- INFO

def test_info_default(server, rc):
    text = rc.cmd("INFO").decode()
    for header in ("# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Keyspace"):
        assert header in text, header
    d = info_dict(text)
    assert d["tcp_port"] == str(server.port)
    assert d["process_id"] == str(server.pid)
    assert re.match(r"^\d+\.\d+\.\d+", d["redis_version"])
    assert int(d["uptime_in_seconds"]) >= 0
    assert int(d["connected_clients"]) >= 1
    assert int(d["used_memory"]) > 0
    assert int(d["total_connections_received"]) >= 1
    assert int(d["total_commands_processed"]) >= 0
    assert "\r\n" in text and "\n\n" not in text.replace("\r\n", "")


@pytest.mark.parametrize("section,header,keys", [
    ("server", "# Server", ["redis_version", "process_id", "tcp_port", "uptime_in_seconds"]),
    ("clients", "# Clients", ["connected_clients"]),
    ("memory", "# Memory", ["used_memory"]),
    ("persistence", "# Persistence", ["loading"]),
    ("stats", "# Stats", ["total_connections_received", "total_commands_processed"]),
    ("keyspace", "# Keyspace", []),
])
def test_info_sections(rc, section, header, keys):
    text = rc.cmd("INFO", section).decode()
    assert text.startswith(header + "\r\n")
    others = {"# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Keyspace"} - {header}
    for o in others:
        assert o not in text
    d = info_dict(text)
    for k in keys:
        assert k in d, "%s missing in INFO %s" % (k, section)
    # case-insensitive section names
    assert rc.cmd("INFO", section.upper()).decode().startswith(header)


def test_info_keyspace_line(r, rc):
    assert rc.cmd("INFO", "keyspace") == b"# Keyspace\r\n"
    p = r.pipeline(transaction=False)
    for i in range(10):
        p.set("k%d" % i, "v")
    for i in range(3):
        p.execute_command("SET", "e%d" % i, "v", "EX", 1000)
    p.execute()
    text = rc.cmd("INFO", "keyspace").decode()
    m = re.search(r"^db0:keys=(\d+),expires=(\d+),avg_ttl=(\d+)\r$", text, re.M)
    assert m, text
    assert int(m.group(1)) == 13
    assert int(m.group(2)) == 3


def test_info_stats_counts_commands(rc):
    before = int(info_dict(rc.cmd("INFO", "stats").decode())["total_commands_processed"])
    for _ in range(10):
        rc.cmd("PING")
    after = int(info_dict(rc.cmd("INFO", "stats").decode())["total_commands_processed"])
    assert after - before >= 10


def test_info_clients_count(server, rc):
    extra = [RawClient(server.port) for _ in range(3)]
    try:
        for c in extra:
            assert c.cmd("PING") == "PONG"
        n = int(info_dict(rc.cmd("INFO", "clients").decode())["connected_clients"])
        assert n >= 4
    finally:
        for c in extra:
            c.close()


# ----------------------------------------------------------------------------- CONFIG

def test_config_get(rc):
    reply = rc.cmd("CONFIG", "GET", "maxclients")
    assert len(reply) == 2
    assert reply[0] == b"maxclients"
    assert int(reply[1]) > 0
    assert rc.cmd("CONFIG", "GET", "no-such-parameter-xyz") == []


def test_config_get_glob(rc):
    reply = rc.cmd("CONFIG", "GET", "maxc*")
    assert len(reply) % 2 == 0 and len(reply) >= 2
    names = reply[0::2]
    assert b"maxclients" in names
    for n in names:
        assert n.startswith(b"maxc")
    reply = rc.cmd("CONFIG", "GET", "*")
    assert b"maxclients" in reply[0::2]


def test_config_errors(rc):
    assert rc.err("CONFIG") == "ERR wrong number of arguments for 'config' command"
    assert rc.err("CONFIG", "GET") == "ERR wrong number of arguments for 'config|get' command"


@pytest.mark.panda_only
def test_config_get_reflects_flag(server_factory):
    srv = server_factory(["--max-clients", "123"])
    c = RawClient(srv.port)
    assert c.cmd("CONFIG", "GET", "maxclients") == [b"maxclients", b"123"]
    c.close()


# ----------------------------------------------------------------------------- COMMAND

def test_command_count(rc):
    n = rc.cmd("COMMAND", "COUNT")
    assert isinstance(n, int) and n > 50


def test_command_info(rc):
    reply = rc.cmd("COMMAND", "INFO", "get")
    assert len(reply) == 1
    get = reply[0]
    assert get[0] == b"get"
    assert get[1] == 2
    assert get[3:6] == [1, 1, 1]
    reply = rc.cmd("COMMAND", "INFO", "set", "mget", "nosuchcommand")
    assert reply[0][0] == b"set" and reply[0][1] == -3
    assert reply[1][0] == b"mget" and reply[1][1] == -2 and reply[1][3:6] == [1, -1, 1]
    assert reply[2] is None


def test_command_docs(rc):
    reply = rc.cmd("COMMAND", "DOCS", "get")
    # RESP2: flat array name, doc-map(as flat array)
    assert reply[0] == b"get"
    doc = reply[1]
    keys = doc[0::2]
    assert b"summary" in keys
    summary = doc[doc.index(b"summary") + 1]
    assert isinstance(summary, bytes) and len(summary) > 0


def test_command_docs_resp3_map(server):
    c = RawClient(server.port)
    try:
        hello = c.cmd("HELLO", "3")
        assert isinstance(hello, dict)
        reply = c.cmd("COMMAND", "DOCS", "get")
        assert isinstance(reply, dict)
        assert b"summary" in reply[b"get"]
    finally:
        c.close()


def test_command_plain(rc):
    reply = rc.cmd("COMMAND")
    names = {entry[0] for entry in reply}
    for n in (b"get", b"set", b"ping", b"multi", b"scan"):
        assert n in names


# ----------------------------------------------------------------------------- CLIENT

def test_client_id_name(server, rc):
    cid = rc.cmd("CLIENT", "ID")
    assert isinstance(cid, int) and cid > 0
    other = RawClient(server.port)
    assert other.cmd("CLIENT", "ID") != cid
    other.close()
    assert rc.cmd("CLIENT", "GETNAME") is None
    assert rc.cmd("CLIENT", "SETNAME", "tester") == "OK"
    assert rc.cmd("CLIENT", "GETNAME") == b"tester"
    assert rc.err("CLIENT", "SETNAME", "has space") == \
        "ERR Client names cannot contain spaces, newlines or special characters."
    assert rc.cmd("CLIENT", "GETNAME") == b"tester"
    assert rc.cmd("CLIENT", "SETNAME", "") == "OK"
    assert rc.cmd("CLIENT", "GETNAME") is None


def test_client_list_and_info(server, rc):
    cid = rc.cmd("CLIENT", "ID")
    rc.cmd("CLIENT", "SETNAME", "lister")
    other = RawClient(server.port)
    other.cmd("PING")
    text = rc.cmd("CLIENT", "LIST").decode()
    lines = [l for l in text.split("\n") if l]
    assert len(lines) >= 2
    mine = [l for l in lines if re.search(r"(^| )id=%d " % cid, l)]
    assert len(mine) == 1
    assert " name=lister " in mine[0]
    assert " addr=127.0.0.1:" in mine[0]
    for l in lines:
        assert l.startswith("id=") and "name=" in l
    info = rc.cmd("CLIENT", "INFO").decode()
    assert info.startswith("id=%d " % cid)
    assert " name=lister " in info
    assert info.endswith("\n") and info.count("\n") == 1
    other.close()


def test_client_errors(rc):
    assert rc.err("CLIENT") == "ERR wrong number of arguments for 'client' command"
    assert rc.err("CLIENT", "NOSUCHSUB").startswith("ERR unknown subcommand 'NOSUCHSUB'")


# ----------------------------------------------------------------------------- HELLO / RESP3

def test_hello3_null_and_map(server):
    s = server.raw()
    s.settimeout(5)
    s.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
    rd = RespReader(s)
    line = rd.read_line()
    assert line.startswith(b"%"), "HELLO 3 reply must be a RESP3 map, got %r" % line
    n = int(line[1:])
    fields = {}
    for _ in range(n):
        k = rd.read()
        fields[k] = rd.read()
    assert fields[b"server"] in (b"redis", b"panda") or fields[b"server"]
    assert fields[b"proto"] == 3
    assert isinstance(fields[b"id"], int)
    assert b"version" in fields
    s.sendall(b"*2\r\n$3\r\nGET\r\n$6\r\nnokey1\r\n")
    data = rd.buf
    while len(data) < 3:
        data += s.recv(100)
    assert data == b"_\r\n"
    s.close()


def test_hello2(rc):
    reply = rc.cmd("HELLO", "2")
    assert isinstance(reply, list)
    d = dict(zip(reply[0::2], reply[1::2]))
    assert d[b"proto"] == 2
    assert b"server" in d and b"version" in d and b"id" in d
    assert rc.cmd("GET", "nokey") is None
    # after HELLO 2 nil is still RESP2
    rc.send(b"*2\r\n$3\r\nGET\r\n$5\r\nnokey\r\n")
    assert rc.reader.read_line() == b"$-1"


def test_hello_no_args_and_errors(rc):
    reply = rc.cmd("HELLO")
    d = dict(zip(reply[0::2], reply[1::2]))
    assert d[b"proto"] == 2
    assert rc.err("HELLO", "4") == "NOPROTO unsupported protocol version"
    assert rc.err("HELLO", "abc") == "ERR Protocol version is not an integer or out of range"


def test_resp3_back_to_resp2(server):
    c = RawClient(server.port)
    c.cmd("HELLO", "3")
    c.send(b"*2\r\n$3\r\nGET\r\n$2\r\nzz\r\n")
    assert c.reader.read_line() == b"_"
    c.cmd("HELLO", "2")
    c.send(b"*2\r\n$3\r\nGET\r\n$2\r\nzz\r\n")
    assert c.reader.read_line() == b"$-1"
    c.close()


# ----------------------------------------------------------------------------- redis-cli interop

def cli(server, *args, stdin=None):
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port)] + list(args),
                       input=stdin, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_redis_cli_set_get(server):
    assert cli(server, "SET", "a", "b") == b"OK\n"
    assert cli(server, "GET", "a") == b"b\n"
    assert cli(server, "GET", "nokey") == b"\n"  # non-tty output: nil prints empty line
    assert cli(server, "--raw", "GET", "a") == b"b\n"
    assert cli(server, "INCR", "n") == b"1\n"
    assert cli(server, "--no-raw", "GET", "a") == b'"b"\n'
    assert cli(server, "--no-raw", "GET", "nokey") == b"(nil)\n"
    assert cli(server, "--no-raw", "INCR", "n") == b"(integer) 2\n"


def test_redis_cli_pipe_stdin(server):
    out = cli(server, stdin=b"SET x 1\nINCR x\nGET x\nMGET x nokey\nPING\n")
    assert out == b"OK\n2\n2\n2\n\nPONG\n"


def test_redis_cli_pipe_mode(server):
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k)
                       for k in (b"p%d" % i for i in range(500)))
    p = subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], input=payload,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert b"errors: 0, replies: 500" in p.stdout
    assert cli(server, "DBSIZE") == b"500\n"


def test_redis_cli_scan(server):
    r = server.client()
    r.mset({"s%d" % i: "v" for i in range(300)})
    out = cli(server, "--scan")
    assert sorted(out.split()) == sorted(("s%d" % i).encode() for i in range(300))
    out = cli(server, "--scan", "--pattern", "s1?")
    assert sorted(out.split()) == sorted(("s%d" % i).encode() for i in range(10, 20))


def test_redis_cli_error_output(server):
    out = cli(server, "GET")
    assert out.strip() == b"ERR wrong number of arguments for 'get' command"


def test_resp3_reply_shapes(server):
    """Reply types that change under RESP3 (as redis 7.0 sends them)."""
    c = RawClient(server.port)
    try:
        c.cmd("HELLO", "3")

        def first_line(*args):
            c.send(encode_command(*args))
            line = c.reader.read_line()
            # consume the rest of the reply
            c.reader.buf = line + b"\r\n" + c.reader.buf
            c.read()
            return line

        assert first_line("SET", "k", "v") == b"+OK"
        assert first_line("SET", "k", "v", "NX") == b"_"
        assert first_line("GET", "k") == b"$1"
        assert first_line("MGET", "k", "nokey") == b"*2"
        assert c.cmd("MGET", "k", "nokey") == [b"v", None]
        assert first_line("CONFIG", "GET", "maxclients") == b"%1"
        assert first_line("EXISTS", "k") == b":1"
        assert first_line("INCRBYFLOAT", "f", "1.5") == b"$3"
        c.cmd("WATCH", "k")
        c.cmd("SET", "k", "v2")
        c.cmd("MULTI")
        c.cmd("PING")
        assert first_line("EXEC") == b"_"
    finally:
        c.close()


def test_resp3_verbatim_info(server):
    c = RawClient(server.port)
    try:
        c.cmd("HELLO", "3")
        c.send(encode_command("INFO", "server"))
        line = c.reader.read_line()
        assert line.startswith(b"="), line
        body = c.reader.read_bytes(int(line[1:]))
        assert body.startswith(b"txt:# Server\r\n")
        c.send(encode_command("CLIENT", "INFO"))
        line = c.reader.read_line()
        assert line.startswith(b"="), line
        body = c.reader.read_bytes(int(line[1:]))
        assert body.startswith(b"txt:id=")
        assert c.cmd("PING") == "PONG"
    finally:
        c.close()


def test_config_get_multiple_patterns(rc):
    # Redis 7.0 accepts several parameters in one CONFIG GET
    reply = rc.cmd("CONFIG", "GET", "maxclients", "no-such-param")
    assert reply[0::2] == [b"maxclients"]


def test_client_ids_increase(server):
    ids = []
    for _ in range(5):
        c = RawClient(server.port)
        ids.append(c.cmd("CLIENT", "ID"))
        c.close()
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_hello_setname(rc):
    reply = rc.cmd("HELLO", "2", "SETNAME", "viahello")
    assert isinstance(reply, list)
    assert rc.cmd("CLIENT", "GETNAME") == b"viahello"
