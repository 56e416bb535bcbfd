"""Expiration: EXPIRE family with NX/XX/GT/LT, TTL/PTTL, PERSIST, EXPIRETIME, lazy and active expiry."""
import time

NOTINT = "ERR value is not an integer or out of range"


def test_ttl_pttl_states(r):
    assert r.ttl("nokey") == -2
    assert r.pttl("nokey") == -2
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.execute_command("EXPIRETIME", "k") == -1
    assert r.execute_command("PEXPIRETIME", "k") == -1
    assert r.execute_command("EXPIRETIME", "nokey") == -2
    assert r.execute_command("PEXPIRETIME", "nokey") == -2


def test_expire_basic(r):
    assert r.execute_command("EXPIRE", "nokey", 10) == 0
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", 100) == 1
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("PEXPIRE", "k", 50000) == 1
    assert 48000 <= r.pttl("k") <= 50000
    assert 48 <= r.ttl("k") <= 50


def test_expireat_pexpireat(r):
    r.set("k", "v")
    at = int(time.time()) + 100
    assert r.execute_command("EXPIREAT", "k", at) == 1
    assert r.execute_command("EXPIRETIME", "k") == at
    assert r.execute_command("PEXPIRETIME", "k") == at * 1000
    atms = int(time.time() * 1000) + 200000
    assert r.execute_command("PEXPIREAT", "k", atms) == 1
    assert r.execute_command("PEXPIRETIME", "k") == atms
    assert r.execute_command("EXPIRETIME", "k") == (atms + 500) // 1000
    assert r.execute_command("EXPIREAT", "nokey", at) == 0


def test_expiretime_rounding(r):
    # EXPIRETIME is PEXPIRETIME/1000 rounded to nearest in Redis 7.0 ((ms+500)/1000).
    r.set("k", "v")
    atms = (int(time.time()) + 1000) * 1000 + 999
    r.execute_command("PEXPIREAT", "k", atms)
    assert r.execute_command("EXPIRETIME", "k") == (atms + 500) // 1000


def test_expire_in_past_deletes(r):
    r.set("a", "v")
    assert r.execute_command("EXPIRE", "a", -1) == 1
    assert r.exists("a") == 0
    r.set("b", "v")
    assert r.execute_command("PEXPIRE", "b", 0) == 1
    assert r.exists("b") == 0
    r.set("c", "v")
    assert r.execute_command("EXPIREAT", "c", 1) == 1
    assert r.exists("c") == 0
    r.set("d", "v")
    assert r.execute_command("PEXPIREAT", "d", 1) == 1
    assert r.exists("d") == 0
    assert r.dbsize() == 0


def test_expire_nx_xx(r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", 100, "XX") == 0
    assert r.ttl("k") == -1
    assert r.execute_command("EXPIRE", "k", 100, "NX") == 1
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("EXPIRE", "k", 200, "NX") == 0
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("EXPIRE", "k", 200, "XX") == 1
    assert 198 <= r.ttl("k") <= 200
    assert r.execute_command("PEXPIRE", "k", 300000, "xx") == 1
    assert 298 <= r.ttl("k") <= 300


def test_expire_gt_lt(r):
    r.set("k", "v")
    # persistent key: treated as infinite TTL
    assert r.execute_command("EXPIRE", "k", 100, "GT") == 0
    assert r.ttl("k") == -1
    assert r.execute_command("EXPIRE", "k", 100, "LT") == 1
    assert 98 <= r.ttl("k") <= 100
    assert r.execute_command("EXPIRE", "k", 50, "GT") == 0
    assert r.execute_command("EXPIRE", "k", 200, "GT") == 1
    assert 198 <= r.ttl("k") <= 200
    assert r.execute_command("EXPIRE", "k", 300, "LT") == 0
    assert r.execute_command("EXPIRE", "k", 150, "LT") == 1
    assert 148 <= r.ttl("k") <= 150
    at = int(time.time()) + 1000
    assert r.execute_command("EXPIREAT", "k", at, "GT") == 1
    assert r.execute_command("EXPIRETIME", "k") == at
    assert r.execute_command("PEXPIREAT", "k", at * 1000 + 5000, "LT") == 0
    assert r.execute_command("PEXPIREAT", "k", at * 1000 - 5000, "LT") == 1
    assert r.execute_command("EXPIRE", "k", 100, "XX", "GT") == 0
    assert r.execute_command("EXPIRE", "k", 100, "XX", "LT") == 1
    assert 98 <= r.ttl("k") <= 100


def test_expire_option_errors(r, rc):
    r.set("k", "v")
    assert rc.err("EXPIRE", "k", "10", "NX", "XX") == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert rc.err("EXPIRE", "k", "10", "NX", "GT") == \
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    assert rc.err("EXPIRE", "k", "10", "GT", "LT") == \
        "ERR GT and LT options at the same time are not compatible"
    assert rc.err("EXPIRE", "k", "10", "FOO") == "ERR Unsupported option FOO"
    assert rc.err("EXPIRE", "k", "abc") == NOTINT
    assert rc.err("PEXPIRE", "k", "1.5") == NOTINT
    assert rc.err("EXPIRE", "k") == "ERR wrong number of arguments for 'expire' command"
    assert rc.err("PEXPIREAT", "k") == "ERR wrong number of arguments for 'pexpireat' command"
    assert rc.err("TTL") == "ERR wrong number of arguments for 'ttl' command"
    assert r.ttl("k") == -1


def test_expire_overflow(r, rc):
    r.set("k", "v")
    assert rc.err("EXPIRE", "k", "9223372036854775807") == "ERR invalid expire time in 'expire' command"
    assert rc.err("PEXPIRE", "k", "9223372036854775807") == "ERR invalid expire time in 'pexpire' command"
    assert r.ttl("k") == -1


def test_persist(r):
    assert r.persist("nokey") == 0
    r.set("k", "v")
    assert r.persist("k") == 0
    r.expire("k", 100)
    assert r.persist("k") == 1
    assert r.ttl("k") == -1
    assert r.get("k") == b"v"


def test_lazy_expiry_on_access(r):
    r.execute_command("SET", "a", "v", "PX", 100)
    r.execute_command("SET", "b", "v", "PX", 100)
    r.execute_command("SET", "c", "v", "PX", 100)
    r.execute_command("SET", "d", "v", "PX", 100)
    assert r.get("a") == b"v"
    time.sleep(0.2)
    assert r.get("a") is None
    assert r.exists("b") == 0
    assert r.ttl("c") == -2
    assert r.execute_command("STRLEN", "d") == 0
    # writing to an expired key behaves like writing to a missing key
    r.execute_command("SET", "e", "5", "PX", 50)
    time.sleep(0.1)
    assert r.incr("e") == 1
    assert r.ttl("e") == -1
    r.execute_command("SET", "f", "abc", "PX", 50)
    time.sleep(0.1)
    assert r.append("f", "x") == 1
    assert r.execute_command("SETNX", "f", "y") == 0
    r.execute_command("SET", "g", "abc", "PX", 50)
    time.sleep(0.1)
    assert r.execute_command("SETNX", "g", "y") == 1
    assert r.ttl("g") == -1


def test_active_expiry(r):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.execute_command("SET", "tmp:%d" % i, "v", "PX", 300)
    p.execute()
    assert r.dbsize() == 200
    deadline = time.monotonic() + 2.0
    size = None
    while time.monotonic() < deadline:
        size = r.dbsize()
        if size == 0:
            break
        time.sleep(0.05)
    assert size == 0, "DBSIZE still %d 2s after 300ms TTLs (no background expiry?)" % size


def test_active_expiry_keeps_persistent_keys(r):
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.execute_command("SET", "tmp:%d" % i, "v", "PX", 100)
        p.execute_command("SET", "keep:%d" % i, "v")
    p.execute()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and r.dbsize() != 100:
        time.sleep(0.05)
    assert r.dbsize() == 100
    assert sorted(r.keys("*")) == sorted(("keep:%d" % i).encode() for i in range(100))


def test_set_without_keepttl_clears_ttl(r):
    r.execute_command("SET", "k", "v", "EX", 100)
    assert r.ttl("k") > 0
    r.execute_command("SET", "k", "v2")
    assert r.ttl("k") == -1
    r.execute_command("SET", "k", "v3", "EX", 100)
    r.execute_command("SET", "k", "v4", "KEEPTTL")
    assert r.ttl("k") > 0
    r.execute_command("SETEX", "k", 100, "v")
    r.execute_command("GETSET", "k", "v")
    assert r.ttl("k") == -1


def test_info_keyspace_expires(r):
    r.set("a", "1")
    r.execute_command("SET", "b", "1", "EX", 100)
    info = r.info("keyspace")
    assert info["db0"]["keys"] == 2
    assert info["db0"]["expires"] == 1


def test_ttl_rounds_to_nearest_second(r):
    # Redis returns (ms + 500) / 1000
    r.set("k", "v")
    r.pexpire("k", 1700)
    assert r.ttl("k") == 2
    r.pexpire("k", 1300)
    assert r.ttl("k") == 1
    r.pexpire("k", 400)
    assert r.ttl("k") == 0


def test_expire_on_expired_key(r):
    r.execute_command("SET", "k", "v", "PX", 30)
    time.sleep(0.08)
    assert r.expire("k", 100) == 0
    assert r.persist("k") == 0
    assert r.exists("k") == 0


def test_rename_expired_source(r, rc):
    r.execute_command("SET", "k", "v", "PX", 30)
    time.sleep(0.08)
    assert rc.err("RENAME", "k", "x") == "ERR no such key"
