"""Transactions: MULTI/EXEC/DISCARD/WATCH/UNWATCH and redis-py pipelines."""
import pytest
import redis

from conftest import RawClient, RespReader

EXECABORT = "EXECABORT Transaction discarded because of previous errors."


def test_multi_exec_basic(rc, r):
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    assert rc.cmd("INCR", "a") == "QUEUED"
    assert rc.cmd("GET", "a") == "QUEUED"
    assert rc.cmd("GET", "nokey") == "QUEUED"
    assert rc.cmd("MGET", "a", "nokey") == "QUEUED"
    # nothing applied yet
    assert r.get("a") is None
    assert rc.cmd("EXEC") == ["OK", 2, b"2", None, [b"2", None]]
    assert r.get("a") == b"2"


def test_queued_raw_bytes(server):
    s = server.raw()
    s.sendall(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nEXEC\r\n")
    expected = b"+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n$1\r\nv\r\n"
    data = b""
    s.settimeout(5)
    while len(data) < len(expected):
        chunk = s.recv(4096)
        assert chunk
        data += chunk
    assert data == expected
    s.close()


def test_empty_exec(rc):
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("EXEC") == []


def test_discard(rc, r):
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    assert rc.cmd("DISCARD") == "OK"
    assert r.exists("a") == 0
    assert rc.err("EXEC") == "ERR EXEC without MULTI"
    # connection back to normal mode
    assert rc.cmd("SET", "b", "2") == "OK"


def test_runtime_error_does_not_abort_others(rc, r):
    r.set("s", "notanumber")
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    assert rc.cmd("INCR", "s") == "QUEUED"
    assert rc.cmd("SET", "b", "2", "EX", "0") == "QUEUED"
    assert rc.cmd("INCR", "a") == "QUEUED"
    res = rc.cmd("EXEC")
    assert len(res) == 4
    assert res[0] == "OK"
    assert isinstance(res[1], RespReader.RespError)
    assert str(res[1]) == "ERR value is not an integer or out of range"
    assert isinstance(res[2], RespReader.RespError)
    assert str(res[2]) == "ERR invalid expire time in 'set' command"
    assert res[3] == 2
    assert r.get("a") == b"2"
    assert r.exists("b") == 0


def test_unknown_command_gives_execabort(rc, r):
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    assert rc.err("NOSUCHCMD", "x") == "ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' "
    assert rc.cmd("SET", "b", "1") == "QUEUED"
    assert rc.err("EXEC") == EXECABORT
    assert r.exists("a", "b") == 0
    # out of MULTI state now
    assert rc.err("EXEC") == "ERR EXEC without MULTI"


def test_wrong_arity_gives_execabort(rc, r):
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    assert rc.err("GET") == "ERR wrong number of arguments for 'get' command"
    assert rc.err("EXEC") == EXECABORT
    assert r.exists("a") == 0


def test_discard_after_queue_error(rc, r):
    assert rc.cmd("MULTI") == "OK"
    assert rc.err("GET").startswith("ERR wrong number of arguments")
    assert rc.cmd("DISCARD") == "OK"
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    assert rc.cmd("EXEC") == ["OK"]


def test_nested_multi(rc):
    assert rc.cmd("MULTI") == "OK"
    assert rc.err("MULTI") == "ERR MULTI calls can not be nested"
    assert rc.cmd("SET", "a", "1") == "QUEUED"
    # a nested MULTI does not abort the transaction
    assert rc.cmd("EXEC") == ["OK"]


def test_exec_discard_without_multi(rc):
    assert rc.err("EXEC") == "ERR EXEC without MULTI"
    assert rc.err("DISCARD") == "ERR DISCARD without MULTI"
    assert rc.cmd("PING") == "PONG"


def test_watch_aborts_on_other_client_write(server, rc, r):
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    r.set("w", "2")  # other client
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "w", "3") == "QUEUED"
    assert rc.cmd("EXEC") is None
    assert r.get("w") == b"2"
    # after EXEC watches are cleared
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "w", "4") == "QUEUED"
    assert rc.cmd("EXEC") == ["OK"]
    assert r.get("w") == b"4"


def test_watch_missing_key_created(rc, r):
    assert rc.cmd("WATCH", "nokey") == "OK"
    r.set("nokey", "x")
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("GET", "nokey") == "QUEUED"
    assert rc.cmd("EXEC") is None


def test_watch_delete_and_expire_touch(rc, r):
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    r.delete("w")
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("PING") == "QUEUED"
    assert rc.cmd("EXEC") is None
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    r.expire("w", 100)
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("PING") == "QUEUED"
    assert rc.cmd("EXEC") is None


def test_watch_untouched_succeeds(rc, r):
    r.set("w", "1")
    assert rc.cmd("WATCH", "w", "other") == "OK"
    r.set("unrelated", "x")
    r.get("w")  # reads do not invalidate
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("INCR", "w") == "QUEUED"
    assert rc.cmd("EXEC") == [2]


def test_watch_own_write_aborts(rc, r):
    # Redis: a write by the watching client itself (before MULTI) also aborts.
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    assert rc.cmd("SET", "w", "2") == "OK"
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("GET", "w") == "QUEUED"
    assert rc.cmd("EXEC") is None


def test_unwatch(rc, r):
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    assert rc.cmd("UNWATCH") == "OK"
    r.set("w", "2")
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "w", "3") == "QUEUED"
    assert rc.cmd("EXEC") == ["OK"]
    assert r.get("w") == b"3"


def test_discard_clears_watch(rc, r):
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    r.set("w", "2")
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("DISCARD") == "OK"
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("SET", "w", "3") == "QUEUED"
    assert rc.cmd("EXEC") == ["OK"]


def test_watch_inside_multi(rc):
    assert rc.cmd("MULTI") == "OK"
    assert rc.err("WATCH", "x") == "ERR WATCH inside MULTI is not allowed"
    assert rc.cmd("SET", "x", "1") == "QUEUED"
    assert rc.cmd("EXEC") == ["OK"]
    assert rc.err("WATCH") == "ERR wrong number of arguments for 'watch' command"


def test_flushall_touches_watched(rc, r):
    r.set("w", "1")
    assert rc.cmd("WATCH", "w") == "OK"
    r.flushall()
    assert rc.cmd("MULTI") == "OK"
    assert rc.cmd("PING") == "QUEUED"
    assert rc.cmd("EXEC") is None


def test_pipeline_transaction(r):
    with r.pipeline(transaction=True) as p:
        for i in range(1000):
            p.set("k%d" % i, i)
        for i in range(1000):
            p.incr("k%d" % i)
        res = p.execute()
    assert res[:1000] == [True] * 1000
    assert res[1000:] == [i + 1 for i in range(1000)]
    assert r.dbsize() == 1000
    assert r.get("k999") == b"1000"


def test_pipeline_no_transaction(r):
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set("k%d" % i, "v%d" % i)
        for i in range(1000):
            p.get("k%d" % i)
        res = p.execute()
    assert res[:1000] == [True] * 1000
    assert res[1000:] == [("v%d" % i).encode() for i in range(1000)]


def test_pipeline_transaction_watch_conflict(server, r):
    r.set("cnt", "0")
    other = server.client()
    with r.pipeline(transaction=True) as p:
        p.watch("cnt")
        val = int(p.get("cnt"))
        other.set("cnt", "100")
        p.multi()
        p.set("cnt", val + 1)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("cnt") == b"100"


def test_pipeline_transaction_with_error(r):
    r.set("s", "x")
    with r.pipeline(transaction=True) as p:
        p.set("a", "1")
        p.incr("s")
        p.set("b", "2")
        res = p.execute(raise_on_error=False)
    assert res[0] is True and res[2] is True
    assert isinstance(res[1], redis.ResponseError)
    assert r.get("b") == b"2"


def test_multi_state_is_per_connection(server):
    a = RawClient(server.port)
    b = RawClient(server.port)
    try:
        assert a.cmd("MULTI") == "OK"
        assert a.cmd("SET", "k", "1") == "QUEUED"
        assert b.cmd("SET", "k", "2") == "OK"  # b is not in MULTI
        assert b.cmd("GET", "k") == b"2"
        assert a.cmd("EXEC") == ["OK"]
        assert b.cmd("GET", "k") == b"1"
    finally:
        a.close()
        b.close()
