"""Parquet snapshots against other Parquet implementations.

  a. Panda writes `kv_database.parquet` (SNAPSHOT / SAVE / BGSAVE); DuckDB (@duckdb/node-api)
     and hyparquet (+ hyparquet-compressors) read it; every row is compared with what was SET
     through redis-py, and a server started from that file alone serves the same keys and TTLs.
  b. DuckDB writes files in many shapes (codecs, PARQUET_VERSION v2, dictionaries, several row
     groups, VARCHAR or BLOB columns, extra columns, NULL expire_at_ms); Panda loads them from
     <data-dir>/kv_database.parquet and through `--import FILE`, and serves every row.

The snapshot format: columns `key` and `value` (BYTE_ARRAY, STRING-annotated only when every
key, respectively every value, in the file is valid UTF-8) and `expire_at_ms` (INT64 OPTIONAL,
null = no TTL); key-value metadata panda.format_version = "1" and panda.wal_lsn = <decimal>.

The Node side lives in tests/interop (see interop.py); these tests are skipped when node or its
npm packages are missing (`scripts/deps.sh test` installs them).
"""
import os
import re
import shutil
import signal
import time

import pytest

import interop
from conftest import RawClient

HAVE_NODE, NO_NODE_WHY = interop.have_node()

pytestmark = [
    pytest.mark.panda_only,
    pytest.mark.skipif(not HAVE_NODE, reason=NO_NODE_WHY or "node missing"),
]

SNAP = "kv_database.parquet"
CODEC_NAMES = {"zstd": "ZSTD", "snappy": "SNAPPY", "none": "UNCOMPRESSED"}
HOUR_MS = 3600 * 1000


# --------------------------------------------------------------------------- helpers

def now_ms():
    return int(time.time() * 1000)


def fresh_dir(tmp_path, name, parquet_src=None):
    """A new data dir, holding a copy of parquet_src as kv_database.parquet if given."""
    d = tmp_path / name
    d.mkdir()
    if parquet_src is not None:
        shutil.copyfile(parquet_src, str(d / SNAP))
    return str(d)


def snap_path(h):
    return os.path.join(h.data_dir, SNAP)


def snapshot(h, command="SNAPSHOT"):
    """Run SNAPSHOT (or SAVE) and return the snapshot's path; the reply must be +OK."""
    c = RawClient(h.port)
    try:
        reply = c.cmd(command)
    finally:
        c.close()
    assert reply == "OK", "%s replied %r\nstderr tail:\n%s" % (command, reply, h.stderr_text()[-2000:])
    p = snap_path(h)
    assert os.path.isfile(p), "%s replied +OK but %s does not exist" % (command, p)
    return p


def server_state(c, keys):
    """{key: (value, expire_at_ms or None)} as the server reports it (GET + PEXPIRETIME)."""
    keys = list(keys)
    out = {}
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        p = c.pipeline(transaction=False)
        for k in chunk:
            p.get(k)
            p.execute_command("PEXPIRETIME", k)
        res = p.execute()
        for j, k in enumerate(chunk):
            v, e = res[2 * j], res[2 * j + 1]
            if v is None:
                continue
            out[k] = (v, None if e == -1 else e)
    return out


def rows_to_state(rows, who):
    """File rows -> {key: (value, expire_at_ms)}; fails on duplicate keys or null keys/values."""
    out = {}
    for r in rows:
        assert r["key"] is not None, "%s read a null key: %r" % (who, r)
        assert r["value"] is not None, "%s read a null value for key %r" % (who, r["key"])
        assert r["key"] not in out, "%s read key %r twice" % (who, r["key"])
        out[r["key"]] = (r["value"], r["expire_at_ms"])
    return out


def assert_same_state(got, want, what):
    """Compare {key: (value, expire)} maps with a readable message for the first differences."""
    if got == want:
        return
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    diff = [k for k in want if k in got and got[k] != want[k]]

    def short(x):
        r = repr(x)
        return r if len(r) <= 120 else r[:117] + "..."

    lines = ["%s differs: %d missing, %d unexpected, %d different (of %d expected)"
             % (what, len(missing), len(extra), len(diff), len(want))]
    for k in missing[:5]:
        lines.append("  missing %s" % short(k))
    for k in extra[:5]:
        lines.append("  unexpected %s -> %s" % (short(k), short(got[k])))
    for k in diff[:5]:
        lines.append("  key %s: got %s, want %s" % (short(k), short(got[k]), short(want[k])))
    raise AssertionError("\n".join(lines))


def read_both(path):
    """Read path with DuckDB and hyparquet; both must agree. Returns a dict of everything."""
    dtypes, drows, dkv = interop.duck_read(path)
    htypes, hrows, hkv = interop.hyp_read(path)
    dstate = rows_to_state(drows, "DuckDB")
    hstate = rows_to_state(hrows, "hyparquet")
    assert_same_state(hstate, dstate, "hyparquet's rows vs DuckDB's rows")
    assert [r["key"] for r in drows] == [r["key"] for r in hrows], "readers disagree on row order"
    assert dkv == hkv, "key-value metadata: DuckDB %r, hyparquet %r" % (dkv, hkv)
    check_stats(hrows, interop.read_meta(path, "hyparquet"), path)
    return {
        "duck_types": dtypes, "hyp_types": htypes, "state": dstate, "rows": drows, "kv": dkv,
        "duck_meta": interop.read_meta(path, "duckdb"), "hyp_meta": interop.read_meta(path, "hyparquet"),
    }


def check_stats(rows, meta, what):
    """Each row group's column statistics (as hyparquet decodes them) agree with its rows:
    key/value min_value/max_value are the bytewise (unsigned) min/max, exact unless the file says
    is_*_exact false (then only bounds); expire_at_ms min/max over the non-null values and
    null_count the number of nulls. A bound the writer left out is not checked."""
    stats = meta.get("stats") or []
    counts = [int(n) for n in meta["row_group_rows"]]
    assert sum(counts) == len(rows), "%s: row groups hold %s rows, read %d" % (what, counts, len(rows))
    assert len(stats) == len(counts), "%s: %d stats for %d row groups" % (what, len(stats), len(counts))
    start = 0
    problems = []
    for g, (n, st) in enumerate(zip(counts, stats)):
        chunk = rows[start:start + n]
        start += n
        for col in ("key", "value", "expire_at_ms"):
            cs = st.get(col)
            if cs is None:
                continue
            vals = [r[col] for r in chunk if r[col] is not None]
            nulls = n - len(vals)
            if cs.get("null_count") is not None and cs["null_count"] != nulls:
                problems.append("row group %d %s: null_count %s, %d nulls" % (g, col, cs["null_count"], nulls))
            if not vals:
                continue
            if col == "expire_at_ms":
                lo, hi = min(vals), max(vals)
                dec = lambda b: None if b is None else b.get("int")  # noqa: E731
            else:
                lo, hi = min(vals), max(vals)  # bytes compare unsigned, as Parquet orders BYTE_ARRAY
                dec = lambda b: None if b is None else bytes.fromhex(b["hex"])  # noqa: E731
            mn, mx = dec(cs.get("min_value")), dec(cs.get("max_value"))
            if mn is not None:
                ok = mn == lo if cs.get("is_min_value_exact") is not False else mn <= lo
                if not ok:
                    problems.append("row group %d %s: min_value %r, rows' min %r" % (g, col, mn, lo))
            if mx is not None:
                ok = mx == hi if cs.get("is_max_value_exact") is not False else mx >= hi
                if not ok:
                    problems.append("row group %d %s: max_value %r, rows' max %r" % (g, col, mx, hi))
    assert not problems, "%s: statistics disagree with the rows:\n  %s" % (
        what, "\n  ".join(p if len(p) < 300 else p[:297] + "..." for p in problems[:10]))


def check_lookups(path):
    """DuckDB's filtered point lookups (which skip row groups by their statistics) find what a
    full scan finds."""
    probes, errors = interop.duck_lookup(path)
    assert probes > 0
    assert not errors, "DuckDB filter pushdown misses rows in %s:\n  %s" % (path, "\n  ".join(errors[:10]))


def check_panda_metadata(kv):
    assert kv.get("panda.format_version") == "1", "panda.format_version: %r" % (kv,)
    lsn = kv.get("panda.wal_lsn")
    assert lsn is not None and re.fullmatch(r"[0-9]+", lsn), "panda.wal_lsn not a decimal: %r" % (kv,)
    return int(lsn)


def string_annotated(hyp_types, col):
    """True if hyparquet sees col as BYTE_ARRAY with a STRING/UTF8 annotation."""
    t = hyp_types[col]
    assert t.startswith("BYTE_ARRAY"), "%s is %s, not BYTE_ARRAY" % (col, t)
    return t in ("BYTE_ARRAY/STRING", "BYTE_ARRAY/UTF8")


def check_types(got, key_text, value_text):
    """DuckDB and hyparquet types for a Panda snapshot whose keys/values are (not) all UTF-8."""
    dt, ht = got["duck_types"], got["hyp_types"]
    assert dt.get("key") == ("VARCHAR" if key_text else "BLOB"), "DuckDB types %r" % (dt,)
    assert dt.get("value") == ("VARCHAR" if value_text else "BLOB"), "DuckDB types %r" % (dt,)
    assert dt.get("expire_at_ms") == "BIGINT", "DuckDB types %r" % (dt,)
    assert string_annotated(ht, "key") == key_text, "hyparquet types %r" % (ht,)
    assert string_annotated(ht, "value") == value_text, "hyparquet types %r" % (ht,)
    assert ht.get("expire_at_ms", "").startswith("INT64"), "hyparquet types %r" % (ht,)
    schema = got["hyp_meta"]["schema"]
    assert schema["expire_at_ms"]["repetition"] == "OPTIONAL", schema
    assert set(dt) == {"key", "value", "expire_at_ms"}, "unexpected columns %r" % (dt,)


def load_into(c, items, ttl=None):
    """SET every (key, value) with a pipeline; ttl: {key: absolute ms} applied with PEXPIREAT."""
    items = list(items)
    for i in range(0, len(items), 500):
        p = c.pipeline(transaction=False)
        for k, v in items[i:i + 500]:
            p.set(k, v)
            if ttl and k in ttl:
                p.execute_command("PEXPIREAT", k, ttl[k])
        p.execute()


def expected_state(items, ttl=None):
    ttl = ttl or {}
    return {k: (v, ttl.get(k)) for k, v in items}


def restart_from_file(server_factory, tmp_path, path, name, extra_args=None):
    """Start a server whose data dir holds only a copy of path as kv_database.parquet."""
    d = fresh_dir(tmp_path, name, path)
    return server_factory(extra_args=extra_args, data_dir=d)


def assert_served(h, want, what):
    c = h.client()
    got = server_state(c, want.keys())
    assert_same_state(got, want, what)
    assert c.dbsize() == len(want), "%s: DBSIZE %d, want %d" % (what, c.dbsize(), len(want))


TEXT_KEYS = ["plain", "with space", "nul\x00inside (still UTF-8)", "ключ", "键值", "🐼 panda", "e\u0301", "tab\there", "quote\"'",
             "a" * 300, "\u00ff\u0100\uffff", "\U0010ffff"]


def text_items():
    items = [(k.encode(), ("value of %s ✓" % k).encode()) for k in TEXT_KEYS]
    items += [(("text:%04d" % i).encode(), ("v%d-" % i).encode() * (i % 7 + 1)) for i in range(300)]
    items.append(("empty-value".encode(), b""))
    return items


BINARY_KEYS = [b"\x00", b"\x00\x00\x00", b"nul\x00inside", b"\xff\xfe\xfd", b"\xc3\x28",
               b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"trail\xc3",
               bytes(range(256)), b"ok-utf8-key"]


def binary_items():
    items = []
    for i, k in enumerate(BINARY_KEYS):
        items.append((k, b"\x00" * i + b"\xff\x00\xfe" + bytes([i])))
    items += [(b"bin:%d\xff" % i, bytes((i * 7 + j) % 256 for j in range(i % 50))) for i in range(200)]
    items.append((b"\xfe-empty", b""))
    return items


# =========================================================================== the harness itself

def test_harness_duckdb_and_hyparquet_agree(tmp_path):
    """No server: files DuckDB writes read back the same through DuckDB and hyparquet (checks
    the Node scripts and hyparquet's decompressors, so a failure below is Panda's)."""
    cases = [
        ("bin-zstd-v2", dict(n=3000), dict(compression="zstd", parquet_version="v2", row_group_size=1000)),
        ("text-gzip", dict(n=200, text=True, repeat_values=3),
         dict(compression="gzip", key_type="VARCHAR", value_type="VARCHAR", kv_metadata={"a": "b"})),
        ("lz4", dict(n=50), dict(compression="lz4_raw", extra_columns=["x"])),
    ]
    jobs = [(str(tmp_path / ("%s.parquet" % name)), duck_rows(**row_kw), opts) for name, row_kw, opts in cases]
    summaries = interop.duck_write_many(jobs)
    assert [s["out"] for s in summaries] == [j[0] for j in jobs]
    assert summaries[0]["row_groups"] >= 2 and summaries[0]["compression"] == ["ZSTD"], summaries[0]
    for (name, _, _), (path, rows, opts) in zip(cases, jobs):
        got = read_both(path)
        assert_same_state(got["state"], want_from_rows(rows), "harness round trip " + name)
        assert [r["key"] for r in got["rows"]] == [r[0] for r in rows], "row order " + name
        if "kv_metadata" in opts:
            assert got["kv"].get("a") == "b", got["kv"]
        if opts.get("key_type") == "VARCHAR":
            assert got["duck_types"]["key"] == "VARCHAR" and string_annotated(got["hyp_types"], "key")
        else:
            assert got["duck_types"]["key"] == "BLOB" and not string_annotated(got["hyp_types"], "key")


# =========================================================================== a. Panda writes

def test_text_snapshot_read_by_duckdb_and_hyparquet(server_factory, tmp_path):
    h = server_factory()
    items = text_items()
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    check_types(got, key_text=True, value_text=True)
    assert_same_state(got["state"], expected_state(items), "Panda's text snapshot read by DuckDB")
    check_lookups(snap_path(h))
    check_panda_metadata(got["kv"])
    assert got["duck_meta"]["num_rows"] == len(items)
    # Default codec is zstd.
    assert got["duck_meta"]["compression"] == ["ZSTD"], got["duck_meta"]
    assert got["state"][b"empty-value"] == (b"", None)

    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert_served(h2, expected_state(items), "server started from the text snapshot")


def test_binary_snapshot_bytes_exact(server_factory, tmp_path):
    h = server_factory()
    items = binary_items()
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    check_types(got, key_text=False, value_text=False)
    assert_same_state(got["state"], expected_state(items), "Panda's binary snapshot read by DuckDB")
    check_lookups(snap_path(h))
    check_panda_metadata(got["kv"])

    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert_served(h2, expected_state(items), "server started from the binary snapshot")


def test_utf8_annotation_is_decided_per_column(server_factory):
    # Keys all UTF-8, one value is not: key VARCHAR, value BLOB.
    h = server_factory()
    items = [(("k%d" % i).encode(), ("v%d" % i).encode()) for i in range(50)] + [(b"k-bin", b"\xff\x00")]
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    check_types(got, key_text=True, value_text=False)
    assert_same_state(got["state"], expected_state(items), "mixed snapshot")

    # One key is not UTF-8, every value is: key BLOB, value VARCHAR.
    h2 = server_factory()
    items2 = [(("k%d" % i).encode(), ("v%d é" % i).encode()) for i in range(50)] + [(b"\xffk", b"text")]
    load_into(h2.client(), items2)
    got2 = read_both(snapshot(h2))
    check_types(got2, key_text=False, value_text=True)
    assert_same_state(got2["state"], expected_state(items2), "mixed snapshot 2")


def test_empty_values_and_empty_key(server_factory, tmp_path):
    h = server_factory()
    items = [(b"", b"value of the empty key"), (b"e1", b""), (b"e2", b""), (b"full", b"x")]
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    check_types(got, key_text=True, value_text=True)
    assert_same_state(got["state"], expected_state(items), "snapshot with empty key and values")
    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert_served(h2, expected_state(items), "server started from a snapshot with empty strings")


def test_ttls_match_pexpiretime(server_factory, tmp_path):
    h = server_factory()
    c = h.client()
    base = now_ms() + HOUR_MS
    c.set(b"ex", b"1", ex=3600)
    c.set(b"px", b"2", px=7200 * 1000)
    c.set(b"pxat", b"3", pxat=base + 123)
    c.set(b"exat", b"4", exat=(base // 1000) + 86400)
    c.set(b"none", b"5")
    c.set(b"persisted", b"6", ex=100)
    c.persist(b"persisted")
    c.set(b"far", b"7")
    c.execute_command("PEXPIREAT", b"far", 32503680000000)  # year 3000
    c.set(b"bin\xff", b"\x00", px=HOUR_MS)
    for i in range(100):
        c.set(b"ttl:%d" % i, b"v%d" % i)
        if i % 3:
            c.execute_command("PEXPIREAT", b"ttl:%d" % i, base + i)
    keys = [b"ex", b"px", b"pxat", b"exat", b"none", b"persisted", b"far", b"bin\xff"] + \
        [b"ttl:%d" % i for i in range(100)]
    want = server_state(c, keys)
    assert len(want) == len(keys)
    assert want[b"none"][1] is None and want[b"persisted"][1] is None
    assert want[b"pxat"][1] == base + 123 and want[b"far"][1] == 32503680000000

    got = read_both(snapshot(h))
    assert_same_state(got["state"], want, "expire_at_ms vs PEXPIRETIME")
    check_lookups(snap_path(h))

    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert_served(h2, want, "TTLs after a restart from the snapshot")
    h3 = server_factory(extra_args=["--import", snap_path(h)], data_dir=fresh_dir(tmp_path, "imported"))
    assert_served(h3, want, "TTLs after --import of Panda's own snapshot")


def test_zero_rows_after_flushall(server_factory, tmp_path):
    h = server_factory()
    c = h.client()
    load_into(c, [(b"k%d" % i, b"v") for i in range(20)])
    c.flushall()
    got = read_both(snapshot(h))
    assert got["rows"] == []
    assert got["duck_meta"]["num_rows"] == 0
    assert got["hyp_meta"]["num_rows"] == 0
    check_panda_metadata(got["kv"])
    assert set(got["duck_types"]) == {"key", "value", "expire_at_ms"}, got["duck_types"]

    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert h2.client().dbsize() == 0


def test_several_row_groups(server_factory, tmp_path):
    h = server_factory(extra_args=["--snapshot-row-group-rows", "1000"])
    base = now_ms() + HOUR_MS
    items = [(b"rg:%05d" % i, (b"value-%05d-" % i) * (i % 40 + 1)) for i in range(5000)]
    ttl = {k: base + i for i, (k, _) in enumerate(items) if i % 5 == 0}
    load_into(h.client(), items, ttl)
    got = read_both(snapshot(h))
    want = expected_state(items, ttl)
    assert_same_state(got["state"], want, "5000 rows in row groups of 1000")
    check_lookups(snap_path(h))
    for meta in (got["duck_meta"], got["hyp_meta"]):
        # Two threads write a snapshot, each half of the keys in groups of at most 1000 rows,
        # so at most two groups are partly filled.
        counts = [int(n) for n in meta["row_group_rows"]]
        assert sum(counts) == 5000 and max(counts) == 1000, meta
        assert meta["row_groups"] in (5, 6) and sum(n < 1000 for n in counts) <= 2, meta
    check_types(got, key_text=True, value_text=True)

    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert_served(h2, want, "server started from a several-row-group snapshot")


@pytest.mark.parametrize("codec", ["zstd", "snappy", "none"])
def test_compression_flag(server_factory, codec):
    h = server_factory(extra_args=["--snapshot-compression", codec])
    items = text_items() + binary_items()[:5]
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    assert_same_state(got["state"], expected_state(items), "snapshot compressed with %s" % codec)
    for meta in (got["duck_meta"], got["hyp_meta"]):
        assert meta["compression"] == [CODEC_NAMES[codec]], meta
    check_types(got, key_text=False, value_text=False)


def test_compression_from_environment(server_factory):
    h = server_factory(env={"PANDA_SNAPSHOT_COMPRESSION": "snappy"})
    items = text_items()
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    assert got["duck_meta"]["compression"] == ["SNAPPY"], got["duck_meta"]
    assert_same_state(got["state"], expected_state(items), "snapshot with PANDA_SNAPSHOT_COMPRESSION")


def test_large_values_span_pages(server_factory, tmp_path):
    h = server_factory()
    items = [(b"big1", os.urandom(3 << 20)), (b"big2", b"z" * (1 << 20) + b"\xff"),
             (b"after", b"small")] + [(b"m%d" % i, os.urandom(20000)) for i in range(100)]
    load_into(h.client(), items)
    got = read_both(snapshot(h))
    assert_same_state(got["state"], expected_state(items), "snapshot with multi-megabyte values")
    h2 = restart_from_file(server_factory, tmp_path, snap_path(h), "restore")
    assert_served(h2, expected_state(items), "server started from a snapshot with big values")


def test_wal_lsn_grows_and_save_bgsave_lastsave(server_factory):
    h = server_factory()
    c = h.client()
    load_into(c, [(b"a%d" % i, b"v") for i in range(10)])
    lsn1 = check_panda_metadata(read_both(snapshot(h))["kv"])
    load_into(c, [(b"b%d" % i, b"v") for i in range(10)])
    got = read_both(snapshot(h, "SAVE"))
    lsn2 = check_panda_metadata(got["kv"])
    assert lsn2 > lsn1, "panda.wal_lsn did not grow after 10 more writes: %d then %d" % (lsn1, lsn2)
    assert len(got["rows"]) == 20

    rc = RawClient(h.port)
    try:
        last = rc.cmd("LASTSAVE")
        assert isinstance(last, int) and abs(last - time.time()) < 60, "LASTSAVE replied %r" % (last,)
        def file_id():
            st = os.stat(snap_path(h))
            return (st.st_ino, st.st_mtime_ns, st.st_size)

        before = file_id()
        assert rc.cmd("SET", "c0", "after-save") == "OK"
        assert rc.cmd("BGSAVE") == "Background saving started"
        deadline = time.monotonic() + 10
        while True:
            # The snapshot is replaced as a whole: wait for a new file, then read it.
            while file_id() == before:
                assert time.monotonic() < deadline, "BGSAVE never replaced %s" % SNAP
                time.sleep(0.02)
            before = file_id()
            got = read_both(snap_path(h))
            if b"c0" in got["state"]:
                break
            assert time.monotonic() < deadline, "BGSAVE's snapshot never showed key c0"
        assert check_panda_metadata(got["kv"]) > lsn2
        assert rc.cmd("LASTSAVE") >= last
    finally:
        rc.close()


# =========================================================================== b. DuckDB writes

def duck_rows(n, text=False, ttl_every=3, repeat_values=None, big_values=0):
    """n rows for DuckDB: UTF-8 (text=True) or binary keys/values, a TTL (1 h ahead) on every
    ttl_every-th row, values drawn from repeat_values distinct ones when given, or values of
    about big_values bytes."""
    base = now_ms() + HOUR_MS
    rows = []
    for i in range(n):
        if text:
            k = ("ключ-%05d-🐼" % i).encode()
        else:
            k = b"\x00k\xff%05d" % i
        if repeat_values:
            v = ("repeated value number %d" % (i % repeat_values)).encode()
            if not text:
                v += b"\xfe\x00"
        elif big_values:
            v = (("%d:" % i) * big_values)[:big_values].encode()
        elif text:
            v = ("значение %d " % i).encode() * (i % 5)
        else:
            v = bytes((i + j) % 256 for j in range(i % 64))
        e = base + i if ttl_every and i % ttl_every == 0 else None
        rows.append((k, v, e))
    return rows


def edge_rows(text=False):
    """Empty key, empty values, NUL bytes, a 2 MB value, an expiry in the year 3000."""
    rows = [(b"", b"value of the empty key", None), (b"empty", b"", now_ms() + HOUR_MS),
            (b"nul\x00key", b"nul\x00value", None), (b"big", b"\xe2\x82\xac" * 700000, None),
            (b"far", b"future", 32503680000000)]
    if not text:
        rows += [(b"\xff\xfe", b"\x80", None), (b"\x00", b"\x00" * 1000, None)]
    return rows


def want_from_rows(rows):
    return {k: (v, e) for k, v, e in rows}


def load_both_ways(server_factory, tmp_path, path, want, what):
    """Serve path (a) as <data-dir>/kv_database.parquet and (b) through --import FILE into an
    empty data dir, which must survive a restart without --import."""
    h = restart_from_file(server_factory, tmp_path, path, "placed")
    assert_served(h, want, "%s placed as %s" % (what, SNAP))
    h.stop()

    d = fresh_dir(tmp_path, "imported")
    h2 = server_factory(extra_args=["--import", path], data_dir=d)
    assert_served(h2, want, "%s loaded with --import" % what)
    assert h2.stop() == 0
    h3 = server_factory(data_dir=d)
    assert_served(h3, want, "%s after --import and a restart" % what)


DUCK_CASES = {
    # name: (rows kwargs, duck_write opts, check on DuckDB's metadata)
    "dictionary": (dict(n=400, repeat_values=4), dict(compression="snappy"),
                   lambda m: any("DICTIONARY" in e for e in m["encodings"])),
    "snappy": (dict(n=300), dict(compression="snappy"), lambda m: m["compression"] == ["SNAPPY"]),
    "zstd": (dict(n=300), dict(compression="zstd"), lambda m: m["compression"] == ["ZSTD"]),
    "gzip": (dict(n=300), dict(compression="gzip"), lambda m: m["compression"] == ["GZIP"]),
    "lz4_raw": (dict(n=300), dict(compression="lz4_raw"), lambda m: m["compression"] == ["LZ4_RAW"]),
    "uncompressed": (dict(n=300), dict(compression="uncompressed"),
                     lambda m: m["compression"] == ["UNCOMPRESSED"]),
    "v2_zstd": (dict(n=300), dict(compression="zstd", parquet_version="v2"),
                lambda m: "DELTA_LENGTH_BYTE_ARRAY" in m["encodings"] or "DELTA_BYTE_ARRAY" in m["encodings"]),
    "v2_dictionary_text": (dict(n=300, text=True, repeat_values=3),
                           dict(compression="snappy", parquet_version="v2", key_type="VARCHAR",
                                value_type="VARCHAR"), None),
    "row_groups": (dict(n=5000), dict(compression="snappy", row_group_size=1000),
                   lambda m: m["row_groups"] >= 2),
    "row_groups_v2": (dict(n=5000, text=True), dict(compression="zstd", row_group_size=1000,
                                                   parquet_version="v2", key_type="VARCHAR",
                                                   value_type="VARCHAR"),
                      lambda m: m["row_groups"] >= 2),
    "all_null_expire": (dict(n=200, ttl_every=0), dict(compression="snappy"), None),
    "varchar": (dict(n=300, text=True), dict(compression="snappy", key_type="VARCHAR",
                                            value_type="VARCHAR"), None),
    "blob": (dict(n=300), dict(compression="snappy", key_type="BLOB", value_type="BLOB"), None),
    "extra_column_last": (dict(n=200), dict(compression="zstd", extra_columns=["note"]), None),
    "extra_column_first": (dict(n=200, text=True), dict(compression="zstd", extra_columns=["id", "note"],
                                                        extra_first=True, key_type="VARCHAR"), None),
    "many_pages": (dict(n=1500, text=True, big_values=3000), dict(compression="zstd", key_type="VARCHAR",
                                                                 value_type="VARCHAR"), None),
    "zero_rows": (dict(n=0), dict(compression="zstd"), lambda m: int(m["num_rows"]) == 0),
    "edge_values": (lambda: edge_rows(), dict(compression="zstd"), None),
    "edge_values_v2_varchar": (lambda: edge_rows(text=True),
                               dict(compression="snappy", parquet_version="v2", key_type="VARCHAR",
                                    value_type="VARCHAR"), None),
    "no_expire_column": (dict(n=200, ttl_every=0), dict(compression="snappy", omit=["expire_at_ms"]), None),
}


@pytest.fixture(scope="module")
def duck_files(tmp_path_factory):
    """Every DUCK_CASES file, written by one DuckDB process: {case: (path, rows, summary)}."""
    d = tmp_path_factory.mktemp("duckdb-files")
    jobs, rows_of = [], {}
    for case in sorted(DUCK_CASES):
        row_kw, opts, _ = DUCK_CASES[case]
        rows_of[case] = row_kw() if callable(row_kw) else duck_rows(**row_kw)
        jobs.append((str(d / ("%s.parquet" % case)), rows_of[case], opts))
    summaries = interop.duck_write_many(jobs)
    assert len(summaries) == len(jobs)
    return {case: (path, rows_of[case], summ)
            for (path, _, _), case, summ in zip(jobs, sorted(DUCK_CASES), summaries)}


@pytest.mark.parametrize("case", sorted(DUCK_CASES))
def test_duckdb_file_loads(server_factory, tmp_path, duck_files, case):
    path, rows, summary = duck_files[case]
    check = DUCK_CASES[case][2]
    # The file has the intended shape (checks the harness, not Panda).
    assert int(summary["num_rows"]) == len(rows), summary
    if check is not None:
        assert check(summary), "DuckDB file does not have the intended shape: %r" % (summary,)
    load_both_ways(server_factory, tmp_path, path, want_from_rows(rows), "DuckDB file (%s)" % case)


def test_duckdb_file_with_expired_rows(server_factory, tmp_path):
    """Rows whose expire_at_ms is already past are not served; the others are."""
    past = now_ms() - HOUR_MS
    rows = duck_rows(100)
    rows += [(b"gone-%d" % i, b"x", past + i) for i in range(10)]
    path = str(tmp_path / "expired.parquet")
    interop.duck_write(path, rows, compression="snappy")
    h = restart_from_file(server_factory, tmp_path, path, "placed")
    c = h.client()
    want = {k: (v, e) for k, v, e in rows if e is None or e > now_ms()}
    assert_same_state(server_state(c, [r[0] for r in rows]), want, "file with expired rows")
    assert c.dbsize() == len(want)


def test_import_overwrites_and_keeps_other_keys(server_factory, tmp_path):
    """--import into a data dir that already has keys: the file's keys are overwritten, the
    others stay, TTLs come from the file, and all of it survives a restart without --import."""
    d = fresh_dir(tmp_path, "data")
    h = server_factory(data_dir=d)
    c = h.client()
    c.set(b"shared", b"old value", ex=10000)
    c.set(b"mine", b"kept")
    assert h.stop() == 0
    exp = now_ms() + HOUR_MS
    path = str(tmp_path / "import.parquet")
    interop.duck_write(path, [(b"shared", b"from the file", None), (b"new\xff", b"\x00", exp)],
                       compression="zstd")
    want = {b"shared": (b"from the file", None), b"new\xff": (b"\x00", exp), b"mine": (b"kept", None)}
    h2 = server_factory(extra_args=["--import", path], data_dir=d)
    assert_served(h2, want, "keyspace after --import over existing keys")
    assert h2.stop() == 0
    h3 = server_factory(data_dir=d)
    assert_served(h3, want, "keyspace after --import and a restart")


def start_must_fail(server_factory, extra_args=None, data_dir=None, timeout=20.0):
    h = server_factory(extra_args=extra_args, data_dir=data_dir, wait=False)
    h.expect_nonzero_exit = True
    rc = h.wait_exit(timeout)
    if rc is None:
        h.stop(signal.SIGKILL)
        raise AssertionError("server kept running on a bad Parquet file\nstderr:\n%s"
                             % h.stderr_text()[-3000:])
    h.stopped_rc = rc
    return h, rc


def assert_names_column(text, col):
    """Some stderr line mentions a column and names col, quoted or right after "column"."""
    name = re.escape(col)
    pat = re.compile(r"([\"'`]%s[\"'`]|\bcolumn(\s+named)?:?\s+%s\b)" % (name, name), re.I)
    lines = [ln for ln in text.splitlines() if pat.search(ln) and re.search(r"column", ln, re.I)]
    assert lines, "stderr does not name the missing column %r:\n%s" % (col, text[-3000:])


@pytest.mark.parametrize("missing", ["value", "key"])
@pytest.mark.parametrize("how", ["placed", "import"])
def test_file_without_column_refuses_to_start(server_factory, tmp_path, missing, how):
    path = str(tmp_path / "bad-file.parquet")  # no column name in the path: stderr must name it
    interop.duck_write(path, duck_rows(20), compression="snappy", omit=[missing])
    if how == "placed":
        h, rc = start_must_fail(server_factory, data_dir=fresh_dir(tmp_path, "d", path))
    else:
        h, rc = start_must_fail(server_factory, extra_args=["--import", path],
                                data_dir=fresh_dir(tmp_path, "d"))
    assert rc != 0 and rc > 0, "exit status %r (want a non-zero status, not a signal)" % rc
    assert_names_column(h.stderr_text(), missing)
