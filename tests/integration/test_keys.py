"""Keyspace commands: DEL UNLINK EXISTS KEYS SCAN RANDOMKEY DBSIZE TYPE RENAME RENAMENX FLUSH* SELECT."""
import pytest


def arity(cmd):
    return "ERR wrong number of arguments for '%s' command" % cmd


def fill(r, keys, value=b"v"):
    p = r.pipeline(transaction=False)
    for k in keys:
        p.set(k, value)
    p.execute()


def test_del(r, rc):
    fill(r, ["a", "b", "c"])
    assert r.delete("a") == 1
    assert r.delete("a") == 0
    assert r.delete("b", "c", "nokey", "b") == 2
    assert r.dbsize() == 0
    assert rc.err("DEL") == arity("del")


def test_unlink(r, rc):
    fill(r, ["a", "b", "c"])
    assert r.execute_command("UNLINK", "a", "b", "zz") == 2
    assert r.exists("a", "b", "c") == 1
    assert rc.err("UNLINK") == arity("unlink")


def test_exists_counts_duplicates(r, rc):
    fill(r, ["a", "b"])
    assert r.exists("a") == 1
    assert r.exists("nokey") == 0
    assert r.exists("a", "a", "a") == 3
    assert r.exists("a", "b", "nokey", "b") == 3
    assert rc.err("EXISTS") == arity("exists")


def test_keys_patterns(r):
    names = [b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"hbllo", b"hcllo", b"h*llo",
             b"h?llo", b"x", b"foo:1", b"foo:2", b"bar"]
    fill(r, names)

    def keys(pat):
        return sorted(r.keys(pat))

    assert keys("*") == sorted(names)
    assert keys("h?llo") == sorted([b"hello", b"hallo", b"hxllo", b"hbllo", b"hcllo", b"h*llo", b"h?llo"])
    assert keys("h*llo") == sorted([b"hello", b"hallo", b"hxllo", b"hllo", b"heeeello", b"hbllo", b"hcllo",
                                    b"h*llo", b"h?llo"])
    assert keys("h[ae]llo") == [b"hallo", b"hello"]
    assert keys("h[a-c]llo") == [b"hallo", b"hbllo", b"hcllo"]
    assert keys("h[^e]llo") == sorted([b"hallo", b"hxllo", b"hbllo", b"hcllo", b"h*llo", b"h?llo"])
    assert keys("h[^a-e]llo") == sorted([b"hxllo", b"h*llo", b"h?llo"])
    assert keys(r"h\*llo") == [b"h*llo"]
    assert keys(r"h\?llo") == [b"h?llo"]
    assert keys("foo:*") == [b"foo:1", b"foo:2"]
    assert keys("nomatch*") == []
    assert keys("x") == [b"x"]
    assert keys("?") == [b"x"]
    assert keys("*o:?") == [b"foo:1", b"foo:2"]


def test_keys_arity(rc):
    assert rc.err("KEYS") == arity("keys")
    assert rc.cmd("KEYS", "*") == []


def test_keys_skips_expired(r):
    r.execute_command("SET", "gone", "v", "PX", 1)
    r.set("stay", "v")
    import time
    time.sleep(0.02)
    assert r.keys("*") == [b"stay"]


def test_scan_full_iteration(r):
    names = {("key:%d" % i).encode() for i in range(1000)}
    fill(r, names)
    seen = set()
    cursor = 0
    calls = 0
    while True:
        cursor, batch = r.scan(cursor=cursor, count=10)
        seen.update(batch)
        calls += 1
        assert calls < 10000
        if cursor == 0:
            break
    assert seen == names
    assert calls > 1  # COUNT 10 on 1000 keys cannot finish in one call


def test_scan_reply_shape(rc):
    rc.cmd("SET", "a", "1")
    reply = rc.cmd("SCAN", "0")
    assert isinstance(reply, list) and len(reply) == 2
    assert isinstance(reply[0], bytes)  # the cursor is a bulk string
    assert reply[0] == b"0"
    assert reply[1] == [b"a"]


def test_scan_match_count(r):
    fill(r, ["user:%d" % i for i in range(300)] + ["other:%d" % i for i in range(300)])
    seen = set()
    cursor = 0
    while True:
        cursor, batch = r.scan(cursor=cursor, match="user:*", count=50)
        for k in batch:
            assert k.startswith(b"user:")
        seen.update(batch)
        if cursor == 0:
            break
    assert seen == {("user:%d" % i).encode() for i in range(300)}
    assert set(r.scan_iter(match="other:1?")) == {("other:%d" % i).encode() for i in range(10, 20)}


def test_scan_type(r):
    fill(r, ["s%d" % i for i in range(50)])
    assert set(r.scan_iter(_type="string", count=7)) == {("s%d" % i).encode() for i in range(50)}
    assert list(r.scan_iter(_type="hash")) == []
    assert list(r.scan_iter(_type="list")) == []


def test_scan_errors(rc):
    assert rc.err("SCAN", "abc") == "ERR invalid cursor"
    assert rc.err("SCAN", "0", "COUNT", "0") == "ERR syntax error"
    assert rc.err("SCAN", "0", "COUNT", "x") == "ERR value is not an integer or out of range"
    assert rc.err("SCAN", "0", "MATCH") == "ERR syntax error"
    assert rc.err("SCAN", "0", "FOO", "bar") == "ERR syntax error"
    assert rc.err("SCAN") == arity("scan")


def test_scan_guarantee_under_growth_and_deletes(r):
    """Every key present for the whole iteration is returned at least once, even when the
    keyspace grows a lot (forcing rehash/resizes) and other keys are deleted meanwhile."""
    stable = [("stable:%d" % i).encode() for i in range(2000)]
    fill(r, stable)
    seen = set()
    cursor = 0
    calls = 0
    added = 0
    ephemeral = []
    deleted_from = 0
    while True:
        cursor, batch = r.scan(cursor=cursor, count=20)
        seen.update(batch)
        calls += 1
        assert calls < 200000
        if added < 40000:
            p = r.pipeline(transaction=False)
            for i in range(added, added + 1000):
                k = ("eph:%d" % i).encode()
                p.set(k, b"x")
                ephemeral.append(k)
            added += 1000
            # delete some earlier ephemerals (never the stable ones)
            dele = ephemeral[deleted_from:deleted_from + 300]
            deleted_from += 300
            if dele:
                p.delete(*dele)
            p.execute()
        if cursor == 0:
            break
    missing = set(stable) - seen
    assert not missing, "SCAN missed %d stable keys, e.g. %r" % (len(missing), sorted(missing)[:5])
    assert r.dbsize() == 2000 + 40000 - deleted_from


def test_randomkey(r):
    assert r.randomkey() is None
    r.set("only", "1")
    assert r.randomkey() == b"only"
    fill(r, ["a", "b", "c"])
    seen = {r.randomkey() for _ in range(200)}
    assert seen <= {b"only", b"a", b"b", b"c"}
    assert len(seen) >= 2


def test_dbsize(r):
    assert r.dbsize() == 0
    fill(r, ["k%d" % i for i in range(123)])
    assert r.dbsize() == 123
    r.delete("k0")
    assert r.dbsize() == 122


def test_type(r, rc):
    r.set("s", "v")
    assert rc.cmd("TYPE", "s") == "string"
    assert rc.cmd("TYPE", "nokey") == "none"
    assert rc.err("TYPE") == arity("type")


def test_rename(r, rc):
    r.execute_command("SET", "a", "1", "EX", 100)
    assert rc.cmd("RENAME", "a", "b") == "OK"
    assert r.exists("a") == 0
    assert r.get("b") == b"1"
    assert 98 <= r.ttl("b") <= 100  # TTL moves with the key
    r.set("c", "3")
    assert rc.cmd("RENAME", "b", "c") == "OK"  # overwrites
    assert r.get("c") == b"1"
    assert rc.cmd("RENAME", "c", "c") == "OK"
    assert r.get("c") == b"1"
    assert rc.err("RENAME", "nokey", "x") == "ERR no such key"
    assert rc.err("RENAME", "a") == arity("rename")


def test_rename_overwrites_ttl(r, rc):
    r.set("a", "1")
    r.execute_command("SET", "b", "2", "EX", 100)
    rc.cmd("RENAME", "a", "b")
    assert r.ttl("b") == -1


def test_renamenx(r, rc):
    r.set("a", "1")
    r.set("b", "2")
    assert rc.cmd("RENAMENX", "a", "b") == 0
    assert r.get("a") == b"1"
    assert rc.cmd("RENAMENX", "a", "c") == 1
    assert r.exists("a") == 0
    assert r.get("c") == b"1"
    assert rc.cmd("RENAMENX", "c", "c") == 0
    assert rc.err("RENAMENX", "nokey", "x") == "ERR no such key"


def test_flushall_flushdb(r, rc):
    fill(r, ["k%d" % i for i in range(100)])
    assert rc.cmd("FLUSHDB") == "OK"
    assert r.dbsize() == 0
    fill(r, ["k%d" % i for i in range(100)])
    assert rc.cmd("FLUSHALL") == "OK"
    assert r.dbsize() == 0
    fill(r, ["k%d" % i for i in range(100)])
    assert rc.cmd("FLUSHDB", "ASYNC") == "OK"
    assert r.dbsize() == 0
    fill(r, ["k%d" % i for i in range(100)])
    assert rc.cmd("FLUSHALL", "SYNC") == "OK"
    assert r.dbsize() == 0
    fill(r, ["k%d" % i for i in range(10)])
    assert rc.cmd("flushall", "async") == "OK"
    assert r.dbsize() == 0
    assert r.get("k1") is None
    assert rc.err("FLUSHDB", "LATER") == "ERR syntax error"
    assert rc.err("FLUSHALL", "SYNC", "ASYNC") == "ERR syntax error"


def test_flush_clears_expires(r):
    r.execute_command("SET", "a", "1", "EX", 100)
    r.flushall()
    r.set("a", "2")
    assert r.ttl("a") == -1


def test_select(r, rc):
    r.set("k", "v")
    assert rc.cmd("SELECT", "0") == "OK"
    assert rc.cmd("GET", "k") == b"v"
    assert rc.err("SELECT", "16") == "ERR DB index is out of range"
    assert rc.err("SELECT", "-1") == "ERR DB index is out of range"
    assert rc.err("SELECT", "abc") == "ERR value is not an integer or out of range"
    assert rc.err("SELECT") == arity("select")


@pytest.mark.panda_only
def test_select_nonzero_rejected(rc):
    assert rc.err("SELECT", "1") == "ERR DB index is out of range"
    assert rc.cmd("PING") == "PONG"


def test_keys_glob_edge_cases(r):
    names = [b"a", b"b", b"z", b"-", b"]", b"[", b"\\", b"ab", b"a[", b"abc", b"x]y"]
    fill(r, names)

    def keys(pat):
        return sorted(r.keys(pat))

    assert keys("[z-a]") == [b"a", b"b", b"z"]      # reversed range is swapped
    assert keys("[]]") == []  # Redis: "[]" is an empty set that matches nothing
    assert keys("[\\]]") == [b"]"]
    assert keys("\\[") == [b"["]
    assert keys("a\\[") == [b"a["]
    assert keys("\\\\") == [b"\\"]
    assert keys("**c") == [b"abc"]
    assert keys("*?*?*") == sorted([b"ab", b"a[", b"abc", b"x]y"])
    assert keys("x]y") == [b"x]y"]
    assert keys("[^a-y]") == sorted([b"z", b"-", b"]", b"[", b"\\"])
