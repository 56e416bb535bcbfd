"""The legacy JSON snapshot (kv_database.json of the Rust Panda; src/jsonsnap.h, src/snap.h).

Without kv_database.parquet the server loads kv_database.json (one object key -> value;
strings as they are, any other value as its compact JSON text), snapshots at once and renames
the JSON file to kv_database.json.migrated. Malformed JSON, or a top-level value that is not
an object, stops the start with the line and column; a Parquet snapshot, when present, wins.
"""
import json
import os

import pytest

from conftest import RawClient
from snaphelp import (JSON_FILE, JSON_MIGRATED, SNAP_FILE, SNAP_OFF, check_parquet, dir_state, info,
                      kill9, path, read_file, start_expect_exit, stop_clean, wait_for)

pytestmark = pytest.mark.panda_only

# The file's text, written byte for byte (escapes as the Rust Panda's serde_json wrote them).
LEGACY_TEXT = r'''{
  "plain": "hello",
  "unicode": "héllo wörld ✓ 😀 日本",
  "escaped_unicode": "\u00e9\u2713\ud83d\ude00",
  "escapes": "quote\" backslash\\ slash\/ nl\n cr\r tab\t bs\b ff\f",
  "nul": "a\u0000b\u0000",
  "ctrl": "\u0001\u001f",
  "empty": "",
  "": "the empty key",
  "int": 42,
  "negative": -7,
  "zero": 0,
  "real": -1500.0,
  "exp": 1e2,
  "object": {"a": [1, 2, {"b": null}], "c": "x y", "d": {}},
  "array": [1, "two", true, false, null, [], {"k": "v"}],
  "true": true,
  "false": false,
  "null": null,
  "key with spaces": "v",
  "ключ": "значение"
}
'''

EXPECTED = {
    b"plain": b"hello",
    "unicode".encode(): "héllo wörld ✓ 😀 日本".encode(),
    b"escaped_unicode": "\u00e9\u2713\U0001F600".encode(),
    b"escapes": b"quote\" backslash\\ slash/ nl\n cr\r tab\t bs\b ff\f",
    b"nul": b"a\x00b\x00",
    b"ctrl": b"\x01\x1f",
    b"empty": b"",
    b"": b"the empty key",
    b"int": b"42",
    b"negative": b"-7",
    b"zero": b"0",
    b"real": b"-1500.0",
    b"exp": b"1e2",
    b"object": b'{"a":[1,2,{"b":null}],"c":"x y","d":{}}',
    b"array": b'[1,"two",true,false,null,[],{"k":"v"}]',
    b"true": b"true",
    b"false": b"false",
    b"null": b"null",
    b"key with spaces": b"v",
    "ключ".encode(): "значение".encode(),
}


def legacy_dir(tmp_path, text, name="data"):
    d = str(tmp_path / name)
    os.makedirs(d)
    with open(path(d, JSON_FILE), "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    return d


def all_values(c, keys):
    return {k: c.cmd("GET", k) for k in keys}


def wait_migrated(d, timeout=20):
    wait_for(lambda: os.path.exists(path(d, JSON_MIGRATED)) and not os.path.exists(path(d, JSON_FILE)),
             timeout, "%s to be renamed to %s" % (JSON_FILE, JSON_MIGRATED))


def test_legacy_json_loads(server_factory, tmp_path):
    assert json.loads(LEGACY_TEXT)  # the fixture itself is valid JSON
    d = legacy_dir(tmp_path, LEGACY_TEXT)
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert all_values(c, EXPECTED) == EXPECTED
    assert c.cmd("DBSIZE") == len(EXPECTED)
    for k in (b"object", b"array"):  # compact JSON text that parses back to the same value
        assert json.loads(c.cmd("GET", k)) == json.loads(LEGACY_TEXT)[k.decode()]
    f = info(c)
    assert f["snapshot_loaded_from"] == "json" and f["snapshot_loaded_rows"] == str(len(EXPECTED)), f
    assert "loaded %d keys from %s" % (len(EXPECTED), path(d, JSON_FILE)) in h.stderr_text()
    c.close()


@pytest.mark.parametrize("args", [None, SNAP_OFF], ids=["defaults", "automatic-snapshots-off"])
def test_legacy_json_migrates_to_parquet(server_factory, tmp_path, args):
    d = legacy_dir(tmp_path, LEGACY_TEXT)
    original = read_file(path(d, JSON_FILE))
    h = server_factory(extra_args=args, data_dir=d)
    wait_migrated(d)
    c = RawClient(h.port)
    f = info(c)
    assert int(f["snapshot_count"]) >= 1 and f["snapshot_last_status"] == "ok", f
    assert read_file(path(d, JSON_MIGRATED)) == original, "the migrated JSON file was changed"
    rc, fields, rows, out = check_parquet(path(d, SNAP_FILE), dump=True)
    assert rc == 0 and {k: v for k, (v, _) in rows.items()} == EXPECTED, out
    assert "migrated" in h.stderr_text()
    # Writes after the migration go to the WAL on top of the snapshot.
    assert c.cmd("SET", "after", "1") == "OK" and c.cmd("DEL", "plain") == 1
    c.close()
    kill9(h)
    want = dict(EXPECTED)
    del want[b"plain"]
    want[b"after"] = b"1"
    h2 = server_factory(extra_args=args, data_dir=d)
    c = RawClient(h2.port)
    f = info(c)
    assert f["snapshot_loaded_from"] == "parquet" and f["snapshot_loaded_rows"] == str(len(EXPECTED)), f
    assert all_values(c, want) == want and c.cmd("GET", "plain") is None
    assert c.cmd("DBSIZE") == len(want)
    c.close()
    assert not os.path.exists(path(d, JSON_FILE))
    assert read_file(path(d, JSON_MIGRATED)) == original


def test_empty_legacy_object(server_factory, tmp_path):
    d = legacy_dir(tmp_path, "{}")
    h = server_factory(data_dir=d)
    wait_migrated(d)
    c = RawClient(h.port)
    assert c.cmd("DBSIZE") == 0
    c.close()
    rc, fields, _, out = check_parquet(path(d, SNAP_FILE))
    assert rc == 0 and fields["rows"] == "0", out


def test_duplicate_keys_last_wins(server_factory, tmp_path):
    d = legacy_dir(tmp_path, '{"a": "first", "b": "x", "a": "second"}')
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("GET", "a") == b"second" and c.cmd("DBSIZE") == 2
    c.close()


@pytest.mark.parametrize("text,line,column", [
    ('{"a": "b",\n  "c": }\n', 2, 8),
    ('{"a": "b"\n"c": "d"}', 2, 1),
    ('{"a": "unterminated\n', 1, None),
    ('{"a": "b"} trailing', 1, None),
    ('', 1, None),
    ('{"a": "\\ud800"}', 1, 8),                      # lone high surrogate
    ('{"a": ' + '[' * 600 + ']' * 600 + '}', 1, None),  # nested deeper than JSONSNAP_MAX_DEPTH
    ('{"a": 01}', 1, 8),                                 # leading zero
])
def test_malformed_json_refuses_to_start(server_factory, tmp_path, text, line, column):
    d = legacy_dir(tmp_path, text)
    before = dir_state(d)
    h, rc, err = start_expect_exit(server_factory, d, timeout=10)
    assert rc != 0, err
    assert path(d, JSON_FILE) in err and "malformed JSON" in err, err[-2000:]
    assert "line %d" % line in err, err[-2000:]
    assert ("column %d" % column if column is not None else "column ") in err, err[-2000:]
    assert dir_state(d) == before, "files changed although the server refused to start"
    assert not os.path.exists(path(d, SNAP_FILE)) and not os.path.exists(path(d, JSON_MIGRATED))


def test_invalid_utf8_refuses_to_start(server_factory, tmp_path):
    d = legacy_dir(tmp_path, b'{"a": "\xff"}')
    h, rc, err = start_expect_exit(server_factory, d, timeout=10)
    assert rc != 0 and path(d, JSON_FILE) in err and "line 1" in err, err[-2000:]
    assert read_file(path(d, JSON_FILE)) == b'{"a": "\xff"}'


@pytest.mark.parametrize("text", ['[1, 2, 3]', '"just a string"', '42', 'null'])
def test_top_level_not_an_object_refuses_to_start(server_factory, tmp_path, text):
    d = legacy_dir(tmp_path, text)
    h, rc, err = start_expect_exit(server_factory, d, timeout=10)
    assert rc != 0, err
    assert path(d, JSON_FILE) in err and "object" in err, err[-2000:]
    assert read_file(path(d, JSON_FILE)) == text.encode()
    assert not os.path.exists(path(d, SNAP_FILE)) and not os.path.exists(path(d, JSON_MIGRATED))


def test_parquet_wins_over_json(server_factory, tmp_path):
    d = str(tmp_path / "data")
    os.makedirs(d)
    h = server_factory(extra_args=SNAP_OFF, data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("SET", "from_parquet", "p") == "OK" and c.cmd("SET", "both", "parquet") == "OK"
    assert c.cmd("SAVE") == "OK"
    c.close()
    stop_clean(h)
    text = b'{"from_json": "j", "both": "json"}'
    with open(path(d, JSON_FILE), "wb") as f:
        f.write(text)
    h2 = server_factory(data_dir=d)
    c = RawClient(h2.port)
    assert c.cmd("GET", "from_parquet") == b"p" and c.cmd("GET", "both") == b"parquet"
    assert c.cmd("GET", "from_json") is None and c.cmd("DBSIZE") == 2
    f = info(c)
    assert f["snapshot_loaded_from"] == "parquet", f
    assert c.cmd("SAVE") == "OK"  # a later snapshot does not migrate the JSON file either
    c.close()
    assert read_file(path(d, JSON_FILE)) == text
    assert not os.path.exists(path(d, JSON_MIGRATED))


def test_crash_before_migration_keeps_json_and_wal(server_factory, tmp_path):
    """Writes acknowledged on top of the JSON file survive a kill -9, whether or not the
    migration snapshot had run (either the JSON + WAL or the Parquet file + WAL recover)."""
    d = legacy_dir(tmp_path, '{"a": "1", "b": "2"}')
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("SET", "c", "3") == "OK" and c.cmd("DEL", "a") == 1
    c.close()
    kill9(h)
    h2 = server_factory(data_dir=d)
    c = RawClient(h2.port)
    assert [c.cmd("GET", k) for k in ("a", "b", "c")] == [None, b"2", b"3"] and c.cmd("DBSIZE") == 2
    c.close()
    wait_migrated(d)
    stop_clean(h2)
    h3 = server_factory(data_dir=d)
    c = RawClient(h3.port)
    assert [c.cmd("GET", k) for k in ("a", "b", "c")] == [None, b"2", b"3"] and c.cmd("DBSIZE") == 2
    assert info(c)["snapshot_loaded_from"] == "parquet"
    c.close()


# ---- values a faithful loader keeps exactly

def test_u64_number_loads(server_factory, tmp_path):
    d = legacy_dir(tmp_path, '{"big": 18446744073709551615, "a": "x"}')
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("GET", "big") == b"18446744073709551615"
    c.close()


def test_nul_in_key_loads(server_factory, tmp_path):
    d = legacy_dir(tmp_path, '{"k\\u0000ey": "v"}')
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("GET", b"k\x00ey") == b"v"
    c.close()


def test_real_keeps_its_shortest_text(server_factory, tmp_path):
    d = legacy_dir(tmp_path, '{"r": 1.1, "s": 0.0025}')
    h = server_factory(data_dir=d)
    c = RawClient(h.port)
    assert c.cmd("GET", "r") == b"1.1" and c.cmd("GET", "s") == b"0.0025"
    c.close()
