"""panda-check-parquet (the server's Parquet reader, src/pqread.c) over apache/parquet-testing.

The fixtures live in <repo>/../shared/fixtures/parquet-testing (data/ and bad_data/); the whole
module is skipped when they are absent. The checker binary is bin/panda-check-parquet next to
$PANDA_SERVER (bin/panda-check-parquet-asan when the server is the -asan build).

What is checked:
  * every file, in the default mode (columns key/value/expire_at_ms) and with --columns over
    columns it really has: the checker exits 0 or 1 within a timeout, is never killed by a
    signal, prints no sanitizer report, and an exit 1 comes with one
    "panda-check-parquet: FILE: <reason>" line;
  * no fixture has a `key` column, so the default mode must name the missing column;
  * files whose outcome is known: row counts and first rows of good files, the deprecated LZ4
    codec named in the error, CRC mismatches reported as such.
Exact row-by-row agreement with DuckDB is in test_parquet_read_duckdb.py.
"""
import os
import signal
import subprocess

import pytest

from conftest import PANDA_BIN, REPO, SANITIZER_MARKERS

FIXTURES = os.path.abspath(os.path.join(REPO, "..", "shared", "fixtures", "parquet-testing"))
TIMEOUT = 60

pytestmark = pytest.mark.skipif(
    not os.path.isdir(FIXTURES), reason=f"parquet-testing fixtures not found at {FIXTURES}"
)


def checker_path():
    bindir = os.path.dirname(os.path.abspath(PANDA_BIN))
    name = "panda-check-parquet-asan" if PANDA_BIN.endswith("-asan") else "panda-check-parquet"
    return os.path.join(bindir, name)


@pytest.fixture(scope="module")
def checker():
    path = checker_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built (make bin/panda-check-parquet bin/panda-check-parquet-asan)")
    return path


def run_checker(checker, *args):
    """Runs the checker; asserts it ended normally (no signal, no sanitizer report)."""
    p = subprocess.run([checker, *args], capture_output=True, timeout=TIMEOUT)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode >= 0, f"killed by signal {signal.Signals(-p.returncode).name}: {err}"
    for marker in SANITIZER_MARKERS:
        assert marker not in err, err
    return p.returncode, p.stdout, err


def fixture_files():
    out = []
    for sub in ("data", "bad_data"):
        d = os.path.join(FIXTURES, sub)
        if os.path.isdir(d):
            out += [os.path.join(sub, f) for f in sorted(os.listdir(d)) if f.endswith(".parquet")]
    return out


def fpath(rel):
    return os.path.join(FIXTURES, rel)


def assert_clean_result(rc, err, path):
    assert rc in (0, 1), f"exit {rc}: {err}"
    if rc == 1:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"panda-check-parquet: {path}: "), err


@pytest.mark.parametrize("rel", fixture_files() or ["none"])
def test_default_columns(checker, rel):
    """Every fixture: a clean exit; none has Panda's columns, so the error names `key`."""
    if rel == "none":
        pytest.skip("no fixtures")
    path = fpath(rel)
    rc, _, err = run_checker(checker, path)
    assert_clean_result(rc, err, path)
    assert rc == 1 and 'no top-level column named "key"' in err, err


@pytest.mark.parametrize("rel", fixture_files() or ["none"])
def test_dump_default_columns(checker, rel):
    if rel == "none":
        pytest.skip("no fixtures")
    rc, out, err = run_checker(checker, "--dump", fpath(rel))
    assert_clean_result(rc, err, fpath(rel))
    assert out == b""


# (file, --columns spec, expected): expected is ("ok", rows) or ("error", substring).
KNOWN = [
    ("data/alltypes_plain.parquet", "date_string_col,string_col,bigint_col", ("ok", 8)),
    ("data/alltypes_plain.parquet", "string_col,string_col,id", ("ok", 8)),
    ("data/alltypes_plain.snappy.parquet", "date_string_col,string_col,bigint_col", ("ok", 2)),
    ("data/alltypes_dictionary.parquet", "date_string_col,string_col,bigint_col", ("ok", 2)),
    ("data/alltypes_plain.parquet", "bool_col,string_col",
     ("error", "column bool_col has type BOOLEAN, want BYTE_ARRAY")),
    ("data/alltypes_plain.parquet", "string_col,string_col,double_col",
     ("error", "column double_col has type DOUBLE, want INT64")),
    ("data/binary.parquet", "foo,foo", ("ok", 12)),
    ("data/datapage_v2.snappy.parquet", "a,a,b", ("ok", 5)),
    ("data/datapage_v2.snappy.parquet", "a,e", ("error", 'no top-level column named "e"')),
    ("data/delta_byte_array.parquet", "c_customer_id,c_email_address", ("ok", 1000)),
    ("data/delta_byte_array.parquet", "c_salutation,c_last_review_date", ("ok", 1000)),
    ("data/delta_length_byte_array.parquet", "FRUIT,FRUIT", ("ok", 1000)),
    ("data/lz4_raw_compressed.parquet", "c1,c1,c0", ("ok", 4)),
    ("data/lz4_raw_compressed_larger.parquet", "a,a", ("ok", 10000)),
    ("data/nation.dict-malformed.parquet", "name,comment_col,nation_key", ("ok", 25)),
    ("data/plain-dict-uncompressed-checksum.parquet", "binary_field,binary_field,long_field",
     ("ok", 1000)),
    ("data/rle-dict-snappy-checksum.parquet", "binary_field,binary_field,long_field",
     ("ok", 1000)),
    ("data/sort_columns.parquet", "b,b,a", ("ok", 6)),
    ("data/int32_with_null_pages.parquet", ",,int32_field", ("ok", 1000)),
    ("data/concatenated_gzip_members.parquet", ",,long_col", ("ok", 513)),
    ("data/dict-page-offset-zero.parquet", ",,l_partkey", ("ok", 39)),
    ("data/page_v2_empty_compressed.parquet", ",,integer_column", ("ok", 10)),
    ("data/datapage_v1-uncompressed-checksum.parquet", ",,a", ("ok", 5120)),
    ("data/datapage_v1-snappy-compressed-checksum.parquet", ",,b", ("ok", 5120)),
    ("data/column_chunk_key_value_metadata.parquet", ",,column1", ("ok", 0)),
    ("data/hadoop_lz4_compressed.parquet", "c1,c1,c0",
     ("error", "unsupported compression codec LZ4 (deprecated Hadoop framing) (id 5)")),
    ("data/non_hadoop_lz4_compressed.parquet", "c1,c1,c0",
     ("error", "unsupported compression codec LZ4 (deprecated Hadoop framing) (id 5)")),
    ("data/datapage_v1-corrupt-checksum.parquet", ",,a", ("error", "CRC mismatch")),
    ("data/datapage_v1-corrupt-checksum.parquet", ",,b", ("error", "CRC mismatch")),
    ("data/rle-dict-uncompressed-corrupt-checksum.parquet", "binary_field,binary_field",
     ("error", "CRC mismatch")),
    ("data/datapage_v2_empty_datapage.snappy.parquet", ",,value",
     ("error", "column value has type FLOAT, want INT64")),
    ("bad_data/ARROW-GH-43605.parquet", ",,min_fl", ("ok", 21186)),
    ("bad_data/ARROW-GH-47662.parquet", "flba_field,flba_field", ("error", "run past")),
    ("bad_data/ARROW-RS-GH-6229-DICTHEADER.parquet", "name,comment_col,nation_key",
     ("error", "row group 0, column name")),
    ("bad_data/ARROW-GH-41317.parquet", "string,binary,int64", ("ok", 5)),
    ("bad_data/ARROW-GH-41321.parquet", "string,binary,int64",
     ("error", "definition levels truncated or malformed")),
    ("bad_data/ARROW-GH-41321.parquet", "large_string,dict,uint64", ("ok", 5)),
]


@pytest.mark.parametrize("rel,spec,expected", KNOWN, ids=[f"{r}:{s}" for r, s, _ in KNOWN])
def test_known_outcomes(checker, rel, spec, expected):
    path = fpath(rel)
    if not os.path.exists(path):
        pytest.skip(f"{rel} missing")
    rc, out, err = run_checker(checker, "--dump", "--columns", spec, path)
    assert_clean_result(rc, err, path)
    kind, what = expected
    if kind == "ok":
        assert rc == 0, err
        assert out.count(b"\n") == what
        assert f"rows: {what}\n" in err and "status: ok" in err
    else:
        assert rc == 1 and what in err, err


# Exact first rows of a few good files, as DuckDB 1.5.6 reads them.
FIRST_ROWS = [
    ("data/alltypes_plain.parquet", "date_string_col,string_col,bigint_col",
     [b"03/01/09\t0\t0", b"03/01/09\t1\t10"]),
    ("data/lz4_raw_compressed.parquet", "c1,c1,c0",
     [b"abc\tabc\t1593604800", b"def\tdef\t1593604800"]),
    ("data/delta_byte_array.parquet", "c_customer_id,c_email_address",
     [b"AAAAAAAAIODAAAAA\tMark.Bailey@rg9qCNVJ0s7qeY.com\t-",
      b"AAAAAAAAHODAAAAA\tLisa.Clark@goPYS4tMB0.org\t-"]),
    ("data/nation.dict-malformed.parquet", "name,name,region_key",
     [b"ALGERIA\tALGERIA\t0", b"ARGENTINA\tARGENTINA\t1"]),
    ("data/int32_with_null_pages.parquet", ",,int32_field", None),
]


@pytest.mark.parametrize("rel,spec,first", FIRST_ROWS, ids=[r for r, _, _ in FIRST_ROWS])
def test_first_rows(checker, rel, spec, first):
    rc, out, err = run_checker(checker, "--dump", "--columns", spec, fpath(rel))
    assert rc == 0, err
    lines = out.split(b"\n")
    if first is None:  # nulls in the expire slot print as "-", missing key/value as \N
        assert all(l == b"" or (l.startswith(b"\\N\t\\N\t")) for l in lines)
        assert any(l.endswith(b"\t-") for l in lines) and any(
            not l.endswith(b"\t-") for l in lines if l)
        return
    assert lines[: len(first)] == first


@pytest.mark.parametrize("rel", fixture_files() or ["none"])
def test_every_byte_array_pair_is_clean(checker, rel):
    """Any column names at all: the reader must fail or succeed cleanly, never crash."""
    if rel == "none":
        pytest.skip("no fixtures")
    path = fpath(rel)
    for spec in ("a,b,c", "value,value", "key,key,key", "c1,c0", "string,geometry,date64",
                 "binary,large_binary,uint32", "x,x,x"):
        rc, _, err = run_checker(checker, "--columns", spec, path)
        assert_clean_result(rc, err, path)


def test_summary_lines(checker):
    path = fpath("data/sort_columns.parquet")
    rc, out, err = run_checker(checker, "--columns", "b,b,a", path)
    assert rc == 0, err
    text = out.decode()
    assert text.startswith(f"file: {path}\n")
    for line in ("rows: 6\n", "row_groups: 2\n", "codec: SNAPPY\n",
                 "created_by: parquet-cpp-arrow version 16.1.0", "status: ok\n"):
        assert line in text, text
    assert "panda_" not in text


def test_usage(checker, tmp_path):
    p = subprocess.run([checker, "--help"], capture_output=True, timeout=TIMEOUT)
    assert p.returncode == 0 and b"Exit status: 0" in p.stdout and b"2 bad usage" in p.stdout
    for args in ([], ["--bogus", "x"], ["a", "b"], ["--columns"], ["--columns", "a,b,c,d", "x"]):
        p = subprocess.run([checker, *args], capture_output=True, timeout=TIMEOUT)
        assert p.returncode == 2, args
        assert b"usage:" in p.stderr
    rc, _, err = run_checker(checker, str(tmp_path / "missing.parquet"))
    assert rc == 2 and "cannot open" in err
    rc, _, err = run_checker(checker, str(tmp_path))
    assert rc == 2, err
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    rc, _, err = run_checker(checker, str(empty))
    assert rc == 1 and "too small" in err
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1" + b"\x00" * 100 + b"PARE")
    rc, _, err = run_checker(checker, str(junk))
    assert rc == 1 and "encrypted" in err


def test_truncated_fixture(checker, tmp_path):
    """Every cut of a real file fails cleanly (the footer says where the pages were)."""
    src = open(fpath("data/alltypes_plain.parquet"), "rb").read()
    for cut in range(0, len(src), 37):
        f = tmp_path / "cut.parquet"
        f.write_bytes(src[:cut])
        rc, _, err = run_checker(checker, "--columns", "string_col,date_string_col", str(f))
        assert rc == 1, (cut, err)
