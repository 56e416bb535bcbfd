"""String commands: Redis 7.0 reply shapes and error texts."""
import time

import pytest
import redis

SYNTAX = "ERR syntax error"
NOTINT = "ERR value is not an integer or out of range"


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


# ----------------------------------------------------------------------------- SET

def test_set_get_basic(r):
    assert r.execute_command("SET", "k", "v") is True
    assert r.get("k") == b"v"
    assert r.get("missing") is None
    assert r.execute_command("SET", "k", "v2") is True
    assert r.get("k") == b"v2"


def test_set_empty_value(r):
    assert r.set("k", b"") is True
    assert r.get("k") == b""
    assert r.strlen("k") == 0
    assert r.exists("k") == 1


def test_set_ex(r):
    assert r.execute_command("SET", "k", "v", "EX", 100) is True
    assert 98 <= r.ttl("k") <= 100
    assert 98000 <= r.pttl("k") <= 100000


def test_set_px(r):
    assert r.execute_command("SET", "k", "v", "PX", 100000) is True
    assert 98000 <= r.pttl("k") <= 100000


def test_set_exat_pxat(r):
    now = int(time.time())
    assert r.execute_command("SET", "a", "v", "EXAT", now + 100) is True
    assert 98 <= r.ttl("a") <= 100
    assert r.execute_command("EXPIRETIME", "a") == now + 100
    nowms = int(time.time() * 1000)
    assert r.execute_command("SET", "b", "v", "PXAT", nowms + 100000) is True
    assert r.execute_command("PEXPIRETIME", "b") == nowms + 100000
    assert 98000 <= r.pttl("b") <= 100000


def test_set_exat_in_past_deletes(r):
    r.set("k", "old")
    assert r.execute_command("SET", "k", "v", "EXAT", 1) is True
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert r.execute_command("SET", "k2", "v", "PXAT", 1000) is True
    assert r.get("k2") is None


def test_set_px_expires(r):
    assert r.execute_command("SET", "k", "v", "PX", 50) is True
    assert r.get("k") == b"v"
    time.sleep(0.12)
    assert r.get("k") is None


def test_set_nx(r):
    assert r.execute_command("SET", "k", "v1", "NX") is True
    assert r.execute_command("SET", "k", "v2", "NX") is None
    assert r.get("k") == b"v1"


def test_set_xx(r):
    assert r.execute_command("SET", "k", "v1", "XX") is None
    assert r.exists("k") == 0
    r.set("k", "v1")
    assert r.execute_command("SET", "k", "v2", "XX") is True
    assert r.get("k") == b"v2"


def test_set_get_option(r, rc):
    assert rc.cmd("SET", "k", "v1", "GET") is None
    assert r.get("k") == b"v1"
    assert rc.cmd("SET", "k", "v2", "GET") == b"v1"
    assert r.get("k") == b"v2"
    assert rc.cmd("SET", "k", "v3", "GET", "EX", "100") == b"v2"
    assert 98 <= r.ttl("k") <= 100


def test_set_reply_shapes(rc):
    assert rc.cmd("SET", "k", "v") == "OK"
    assert rc.cmd("SET", "k", "v", "NX") is None
    assert rc.cmd("SET", "k", "v", "XX") == "OK"
    assert rc.cmd("SET", "nokey", "v", "XX") is None


def test_set_get_with_nx_xx(r, rc):
    # Redis 7.0 allows NX/XX together with GET.
    assert rc.cmd("SET", "k", "a", "NX", "GET") is None
    assert r.get("k") == b"a"
    assert rc.cmd("SET", "k", "b", "NX", "GET") == b"a"
    assert r.get("k") == b"a"
    assert rc.cmd("SET", "k", "c", "XX", "GET") == b"a"
    assert r.get("k") == b"c"
    assert rc.cmd("SET", "nokey", "c", "XX", "GET") is None
    assert r.exists("nokey") == 0


def test_set_keepttl(r):
    r.execute_command("SET", "k", "v1", "EX", 100)
    assert r.execute_command("SET", "k", "v2", "KEEPTTL") is True
    assert r.get("k") == b"v2"
    assert 98 <= r.ttl("k") <= 100
    # plain SET clears the TTL
    assert r.execute_command("SET", "k", "v3") is True
    assert r.ttl("k") == -1


def test_set_options_case_insensitive(r):
    assert r.execute_command("set", "k", "v", "ex", 100, "nx") is True
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("SeT", "k", "v2", "Xx", "kEePtTl") is True
    assert 98 <= r.ttl("k") <= 100


@pytest.mark.parametrize("args", [
    ["NX", "XX"],
    ["XX", "NX"],
    ["EX", "10", "PX", "100"],
    ["PX", "100", "EX", "10"],
    ["EX", "10", "EXAT", "9999999999"],
    ["PXAT", "9999999999999", "EXAT", "9999999999"],
    ["EX", "10", "KEEPTTL"],
    ["KEEPTTL", "PX", "100"],
    ["EX"],
    ["PX"],
    ["FOO"],
    ["EX", "10", "BAR"],
])
def test_set_syntax_errors(rc, args):
    assert rc.err("SET", "k", "v", *args) == SYNTAX
    assert rc.cmd("EXISTS", "k") == 0


@pytest.mark.parametrize("opt", ["EX", "PX", "EXAT", "PXAT"])
def test_set_invalid_expire(rc, opt):
    assert rc.err("SET", "k", "v", opt, "0") == "ERR invalid expire time in 'set' command"
    assert rc.err("SET", "k", "v", opt, "-5") == "ERR invalid expire time in 'set' command"
    assert rc.err("SET", "k", "v", opt, "abc") == NOTINT
    assert rc.err("SET", "k", "v", opt, "1.5") == NOTINT
    assert rc.cmd("EXISTS", "k") == 0


def test_set_expire_overflow(rc):
    assert rc.err("SET", "k", "v", "EX", "9223372036854775807") == "ERR invalid expire time in 'set' command"
    assert rc.err("SET", "k", "v", "EX", "99999999999999999999") == NOTINT
    assert rc.cmd("EXISTS", "k") == 0


def test_set_arity(rc):
    assert rc.err("SET", "k") == arity("set")
    assert rc.err("SET") == arity("set")


# ----------------------------------------------------------------------------- GET family

def test_get_arity(rc):
    assert rc.err("GET") == arity("get")
    assert rc.err("GET", "a", "b") == arity("get")


def test_getdel(r, rc):
    r.set("k", "v")
    assert r.execute_command("GETDEL", "k") == b"v"
    assert r.exists("k") == 0
    assert r.execute_command("GETDEL", "k") is None
    assert rc.err("GETDEL") == arity("getdel")


def test_getex(r, rc):
    assert r.execute_command("GETEX", "nokey", "EX", 10) is None
    assert r.exists("nokey") == 0
    r.set("k", "v")
    assert r.execute_command("GETEX", "k") == b"v"
    assert r.ttl("k") == -1
    assert r.execute_command("GETEX", "k", "EX", 100) == b"v"
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("GETEX", "k", "PX", 50000) == b"v"
    assert 48000 <= r.pttl("k") <= 50000
    now = int(time.time())
    assert r.execute_command("GETEX", "k", "EXAT", now + 200) == b"v"
    assert r.execute_command("EXPIRETIME", "k") == now + 200
    nowms = int(time.time() * 1000)
    assert r.execute_command("GETEX", "k", "PXAT", nowms + 300000) == b"v"
    assert r.execute_command("PEXPIRETIME", "k") == nowms + 300000
    assert r.execute_command("GETEX", "k", "PERSIST") == b"v"
    assert r.ttl("k") == -1
    assert r.execute_command("getex", "k", "persist") == b"v"


def test_getex_errors(r, rc):
    r.set("k", "v")
    assert rc.err("GETEX", "k", "EX", "0") == "ERR invalid expire time in 'getex' command"
    assert rc.err("GETEX", "k", "PX", "-1") == "ERR invalid expire time in 'getex' command"
    assert rc.err("GETEX", "k", "EX", "abc") == NOTINT
    assert rc.err("GETEX", "k", "EX", "10", "PX", "100") == SYNTAX
    assert rc.err("GETEX", "k", "PERSIST", "EX", "10") == SYNTAX
    assert rc.err("GETEX", "k", "EX") == SYNTAX
    assert rc.err("GETEX", "k", "FOO") == SYNTAX
    assert rc.err("GETEX") == arity("getex")
    assert r.ttl("k") == -1


def test_getex_past_deletes(r):
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "EXAT", 1) == b"v"
    assert r.exists("k") == 0


def test_getset(r, rc):
    assert r.execute_command("GETSET", "k", "a") is None
    assert r.get("k") == b"a"
    r.execute_command("SET", "k", "a", "EX", 100)
    assert r.execute_command("GETSET", "k", "b") == b"a"
    assert r.get("k") == b"b"
    assert r.ttl("k") == -1
    assert rc.err("GETSET", "k") == arity("getset")


def test_setnx(r, rc):
    assert r.execute_command("SETNX", "k", "a") == 1
    assert r.execute_command("SETNX", "k", "b") == 0
    assert r.get("k") == b"a"
    assert rc.err("SETNX", "k") == arity("setnx")


def test_setex_psetex(r, rc):
    assert r.execute_command("SETEX", "k", 100, "v") is True
    assert r.get("k") == b"v"
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("PSETEX", "p", 100000, "v") is True
    assert 98000 <= r.pttl("p") <= 100000
    assert rc.err("SETEX", "k", "0", "v") == "ERR invalid expire time in 'setex' command"
    assert rc.err("SETEX", "k", "-1", "v") == "ERR invalid expire time in 'setex' command"
    assert rc.err("PSETEX", "k", "0", "v") == "ERR invalid expire time in 'psetex' command"
    assert rc.err("SETEX", "k", "x", "v") == NOTINT
    assert rc.err("SETEX", "k", "10") == arity("setex")
    assert rc.err("PSETEX", "k") == arity("psetex")


def test_mget_mset(r, rc):
    assert r.execute_command("MSET", "a", "1", "b", "2", "c", "3") is True
    assert r.execute_command("MGET", "a", "nokey", "c", "b") == [b"1", None, b"3", b"2"]
    # last one wins for duplicate keys
    assert r.execute_command("MSET", "d", "x", "d", "y") is True
    assert r.get("d") == b"y"
    assert rc.err("MSET", "a") == arity("mset")
    assert rc.err("MSET", "a", "1", "b") == arity("mset")
    assert rc.err("MGET") == arity("mget")


def test_mset_clears_ttl(r):
    r.execute_command("SET", "a", "1", "EX", 100)
    r.execute_command("MSET", "a", "2")
    assert r.ttl("a") == -1


def test_msetnx(r, rc):
    assert r.execute_command("MSETNX", "a", "1", "b", "2") == 1
    assert r.execute_command("MSETNX", "b", "x", "c", "3") == 0
    assert r.get("b") == b"2"
    assert r.exists("c") == 0
    assert rc.err("MSETNX", "a", "1", "b") == arity("msetnx")


# ----------------------------------------------------------------------------- counters

def test_incr_decr(r):
    assert r.execute_command("INCR", "n") == 1
    assert r.execute_command("INCR", "n") == 2
    assert r.execute_command("DECR", "n") == 1
    assert r.execute_command("DECR", "m") == -1
    assert r.execute_command("INCRBY", "n", 10) == 11
    assert r.execute_command("INCRBY", "n", -20) == -9
    assert r.execute_command("DECRBY", "n", 5) == -14
    assert r.execute_command("DECRBY", "n", -14) == 0
    assert r.get("n") == b"0"
    r.set("s", "  5")
    with pytest.raises(redis.ResponseError):
        r.incr("s")


def test_incr_keeps_ttl(r):
    r.execute_command("SET", "n", "5", "EX", 100)
    assert r.incr("n") == 6
    assert 98 <= r.ttl("n") <= 100


def test_incr_large_values(r):
    r.set("n", "9223372036854775806")
    assert r.incr("n") == 9223372036854775807
    r.set("m", "-9223372036854775807")
    assert r.decr("m") == -9223372036854775808


def test_incr_overflow(r, rc):
    r.set("n", "9223372036854775807")
    assert rc.err("INCR", "n") == "ERR increment or decrement would overflow"
    assert rc.err("INCRBY", "n", "1") == "ERR increment or decrement would overflow"
    r.set("m", "-9223372036854775808")
    assert rc.err("DECR", "m") == "ERR increment or decrement would overflow"
    assert rc.err("DECRBY", "m", "1") == "ERR increment or decrement would overflow"
    assert r.get("n") == b"9223372036854775807"
    assert r.get("m") == b"-9223372036854775808"


@pytest.mark.parametrize("val", ["abc", "1.5", "", " 1", "1 ", "99999999999999999999", "0x10", "+1", "01"])
def test_incr_not_integer(r, rc, val):
    r.set("n", val)
    assert rc.err("INCR", "n") == NOTINT
    assert r.get("n") == val.encode()


def test_incrby_bad_arg(rc):
    assert rc.err("INCRBY", "n", "abc") == NOTINT
    assert rc.err("DECRBY", "n", "1.0") == NOTINT
    assert rc.err("INCRBY", "n", "99999999999999999999") == NOTINT
    assert rc.err("INCR") == arity("incr")
    assert rc.err("INCRBY", "n") == arity("incrby")
    assert rc.cmd("EXISTS", "n") == 0


def test_incrbyfloat(r, rc):
    r.set("f", "10.5")
    assert rc.cmd("INCRBYFLOAT", "f", "0.1") == b"10.6"
    assert r.get("f") == b"10.6"
    assert rc.cmd("INCRBYFLOAT", "g", "3") == b"3"
    assert rc.cmd("INCRBYFLOAT", "g", "-3") == b"0"
    r.set("h", "5.0e3")
    assert rc.cmd("INCRBYFLOAT", "h", "2.0e2") == b"5200"
    assert rc.cmd("INCRBYFLOAT", "i", "1.5") == b"1.5"
    assert rc.cmd("INCRBYFLOAT", "i", "-2.75") == b"-1.25"
    r.set("j", "1")
    assert rc.cmd("INCRBYFLOAT", "j", "0.000001") == b"1.000001"
    r.set("big", "1")
    assert rc.cmd("INCRBYFLOAT", "big", "1e20") == b"100000000000000000000"  # long double, humanized (no exponent)


def test_incrbyfloat_errors(r, rc):
    r.set("s", "abc")
    assert rc.err("INCRBYFLOAT", "s", "1") == "ERR value is not a valid float"
    assert rc.err("INCRBYFLOAT", "f", "abc") == "ERR value is not a valid float"
    assert rc.err("INCRBYFLOAT", "f", "") == "ERR value is not a valid float"
    r.set("g", "1")
    assert rc.err("INCRBYFLOAT", "g", "inf") == "ERR increment would produce NaN or Infinity"
    assert r.get("g") == b"1"
    assert rc.err("INCRBYFLOAT", "g") == arity("incrbyfloat")


def test_incrbyfloat_keeps_ttl(r):
    r.execute_command("SET", "f", "1", "EX", 100)
    r.execute_command("INCRBYFLOAT", "f", "1.5")
    assert 98 <= r.ttl("f") <= 100


# ----------------------------------------------------------------------------- APPEND/STRLEN/ranges

def test_append_strlen(r, rc):
    assert r.append("k", "Hello") == 5
    assert r.append("k", ", World") == 12
    assert r.get("k") == b"Hello, World"
    assert r.strlen("k") == 12
    assert r.strlen("nokey") == 0
    assert r.append("e", "") == 0
    assert r.exists("e") == 1
    assert rc.err("APPEND", "k") == arity("append")
    assert rc.err("STRLEN") == arity("strlen")


def test_append_keeps_ttl(r):
    r.execute_command("SET", "k", "a", "EX", 100)
    r.append("k", "b")
    assert 98 <= r.ttl("k") <= 100


def test_getrange(r, rc):
    r.set("k", "This is a string")
    assert r.getrange("k", 0, 3) == b"This"
    assert r.getrange("k", -3, -1) == b"ing"
    assert r.getrange("k", 0, -1) == b"This is a string"
    assert r.getrange("k", 10, 100) == b"string"
    assert r.getrange("k", 5, 3) == b""
    assert r.getrange("k", -100, 3) == b"This"
    assert r.getrange("k", 100, 200) == b""
    assert r.getrange("k", -1, -5) == b""
    assert r.getrange("nokey", 0, -1) == b""
    assert rc.err("GETRANGE", "k", "a", "1") == NOTINT
    assert rc.err("GETRANGE", "k", "0") == arity("getrange")


def test_setrange(r, rc):
    r.set("k", "Hello World")
    assert r.setrange("k", 6, "Redis") == 11
    assert r.get("k") == b"Hello Redis"
    # zero padding
    assert r.setrange("pad", 5, "x") == 6
    assert r.get("pad") == b"\x00\x00\x00\x00\x00x"
    assert r.setrange("k", 15, "!") == 16
    assert r.get("k") == b"Hello Redis\x00\x00\x00\x00!"
    # empty value on missing key: no key created
    assert r.setrange("nokey", 10, "") == 0
    assert r.exists("nokey") == 0
    # empty value on existing key: length returned unchanged
    assert r.setrange("k", 100, "") == 16
    assert r.strlen("k") == 16


def test_setrange_errors(r, rc):
    assert rc.err("SETRANGE", "k", "-1", "x") == "ERR offset is out of range"
    assert rc.err("SETRANGE", "k", "abc", "x") == NOTINT
    assert rc.err("SETRANGE", "k", "536870911", "xx") == \
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    assert rc.err("SETRANGE", "k", "0") == arity("setrange")
    assert r.exists("k") == 0


# ----------------------------------------------------------------------------- binary safety

def test_binary_keys_and_values(r):
    key = b"k\x00ey\r\n\xff"
    val = b"\x00\x01\x02\r\n$3\r\nfoo\r\n\xff\xfe"
    assert r.set(key, val) is True
    assert r.get(key) == val
    assert r.get(b"k") is None
    assert r.strlen(key) == len(val)
    assert r.exists(key) == 1
    assert r.keys(b"k*") == [key]
    assert r.append(key, b"\x00") == len(val) + 1
    assert r.getrange(key, 0, 0) == b"\x00"


def test_all_byte_values(r):
    val = bytes(range(256)) * 4
    r.set(bytes(range(1, 256)), val)
    assert r.get(bytes(range(1, 256))) == val


def test_one_megabyte_value(r):
    val = bytes((i * 7) & 0xFF for i in range(1 << 20))
    assert r.set("big", val) is True
    assert r.get("big") == val
    assert r.strlen("big") == 1 << 20
    assert r.getrange("big", -3, -1) == val[-3:]


# ----------------------------------------------------------------------------- generic errors

def test_unknown_command(rc):
    assert rc.err("foo", "a", "b") == "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    assert rc.err("foo") == "ERR unknown command 'foo', with args beginning with: "
    assert rc.err("NOPE", "x") == "ERR unknown command 'NOPE', with args beginning with: 'x' "
    assert rc.cmd("PING") == "PONG"


def test_connection_usable_after_errors(rc):
    assert rc.err("GET") == arity("get")
    assert rc.err("SET", "k", "v", "NX", "XX") == SYNTAX
    assert rc.err("bogus") .startswith("ERR unknown command 'bogus'")
    assert rc.cmd("SET", "k", "v") == "OK"
    assert rc.cmd("GET", "k") == b"v"


def test_commands_case_insensitive(r):
    assert r.execute_command("set", "k", "v") is True
    assert r.execute_command("gEt", "k") == b"v"
    assert r.execute_command("STRLEN", "k") == 1


@pytest.mark.parametrize("val", ["-0", "+10", "1e3", "0x1", " 5", "5 ", "--1", "9223372036854775808"])
def test_integer_argument_parsing(rc, val):
    # Redis' string2ll: no sign '+', no '-0', no spaces, no exponents, within int64.
    assert rc.err("INCRBY", "n", val) == NOTINT
    assert rc.err("SET", "k", "v", "EX", val) == NOTINT
    assert rc.cmd("EXISTS", "n", "k") == 0


def test_integer_argument_extremes(r, rc):
    assert rc.cmd("INCRBY", "n", "-9223372036854775808") == -9223372036854775808
    assert rc.cmd("SET", "m", "0") == "OK"
    assert rc.cmd("DECRBY", "m", "-9223372036854775807") == 9223372036854775807
    # DECRBY cannot negate LLONG_MIN; Redis 7.0 has a dedicated message for it
    assert rc.err("DECRBY", "z", "-9223372036854775808") == "ERR decrement would overflow"


def test_unknown_command_long_args_truncated(rc):
    err = rc.err("nosuch", "a" * 300, "b")
    assert err.startswith("ERR unknown command 'nosuch', with args beginning with: 'aaaa")
    # Redis stops adding arguments at ~128 bytes of quoted args
    assert len(err) < 250
    assert "'b'" not in err
    assert rc.cmd("PING") == "PONG"


def test_unknown_command_with_crlf_stays_framed(rc):
    err = rc.err("bad\r\ncmd", "x\r\ny")
    assert "\r" not in err and "\n" not in err
    assert err.startswith("ERR unknown command 'bad  cmd'")
    assert rc.cmd("PING") == "PONG"


def test_msetnx_duplicate_keys(r):
    assert r.execute_command("MSETNX", "a", "1", "a", "2") == 1
    assert r.get("a") == b"2"


def test_getrange_extremes(r):
    r.set("k", "abc")
    assert r.getrange("k", 0, 9223372036854775807) == b"abc"
    assert r.getrange("k", -9223372036854775808, -1) == b"abc"
    assert r.getrange("k", 9223372036854775807, 9223372036854775807) == b""
    r.set("e", "")
    assert r.getrange("e", 0, -1) == b""
