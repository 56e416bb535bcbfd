"""The Parquet reader against DuckDB: files DuckDB writes, and parquet-testing fixtures DuckDB reads.

tests/interop/duck_write_cases.mjs writes key/value/expire_at_ms files in every variant DuckDB
produces (codecs snappy/zstd/gzip/lz4_raw/uncompressed, PARQUET_VERSION v2 with its delta
encodings, dictionary pages, small row groups, NULL expiries, BLOB keys with NUL bytes, REQUIRED
columns, big values, zero rows) together with the rows DuckDB reads back;
`panda-check-parquet --dump` must print exactly those rows. The same script dumps columns of
the parquet-testing fixtures, which `--dump --columns` must match byte for byte.

Needs node and @duckdb/node-api in tests/interop/node_modules (or in the node_modules directory
named by $PANDA_NODE_MODULES); skipped otherwise.
"""
import os
import shutil
import subprocess

import pytest

from conftest import REPO
from test_parquet_fixtures import FIXTURES, checker_path, run_checker

INTEROP = os.path.join(REPO, "tests", "interop")
SCRIPT = os.path.join(INTEROP, "duck_write_cases.mjs")
NODE_MODULES = os.environ.get("PANDA_NODE_MODULES", os.path.join(INTEROP, "node_modules"))
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not os.path.isdir(os.path.join(NODE_MODULES, "@duckdb", "node-api")),
    reason="node or @duckdb/node-api (tests/interop/node_modules) not installed",
)

# Must match CASES in duck_write_cases.mjs: name -> codec the summary reports.
CASES = {
    "plain_snappy": "SNAPPY",
    "plain_zstd": "ZSTD",
    "plain_gzip": "GZIP",
    "plain_lz4_raw": "LZ4_RAW",
    "plain_uncompressed": "UNCOMPRESSED",
    "v2_snappy": "SNAPPY",
    "v2_zstd": "ZSTD",
    "v2_uncompressed": "UNCOMPRESSED",
    "dict_v1": "SNAPPY",
    "dict_v2": "ZSTD",
    "small_row_groups": "ZSTD",
    "binary_keys": "UNCOMPRESSED",
    "binary_keys_v2": "GZIP",
    "no_expire": "SNAPPY",
    "all_null_expire": "SNAPPY",
    "zero_rows": "SNAPPY",
    "big_values": "ZSTD",
    "many_rows_zstd": "ZSTD",
    "unicode": "SNAPPY",
    "one_value_dict": "SNAPPY",
}


def node_env():
    env = dict(os.environ)
    env["PANDA_NODE_MODULES"] = NODE_MODULES
    return env


@pytest.fixture(scope="module")
def checker():
    path = checker_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built")
    return path


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("duckdb-cases")
    p = subprocess.run([NODE, SCRIPT, "write", str(out)], capture_output=True, timeout=600,
                       env=node_env())
    assert p.returncode == 0, p.stderr.decode()
    return out


def test_case_list_in_sync(cases):
    written = {f[: -len(".parquet")] for f in os.listdir(cases) if f.endswith(".parquet")}
    assert written == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_duckdb_written_file(checker, cases, name):
    path = str(cases / f"{name}.parquet")
    expected = (cases / f"{name}.expected").read_bytes()
    rc, out, err = run_checker(checker, "--dump", path)
    assert rc == 0, err
    assert out == expected, f"{name}: --dump differs from DuckDB's rows"
    rows = expected.count(b"\n")
    assert f"rows: {rows}\n" in err
    assert f"codec: {CASES[name] if rows else 'none'}\n" in err or (
        rows == 0 and "codec: " in err)
    assert "created_by: DuckDB version" in err
    rc, out, err = run_checker(checker, path)  # without --dump: the summary on stdout
    assert rc == 0 and b"status: ok\n" in out, err


def test_binary_keys_escaped(checker, cases):
    """NUL, 0xFF, backslash and tab in a key come out escaped, one row per line."""
    rc, out, err = run_checker(checker, "--dump", str(cases / "binary_keys.parquet"))
    assert rc == 0, err
    first = out.split(b"\n")[0]
    assert first.startswith(b"\\x00\\xff0\\\\\\x09\t"), first


# parquet-testing files and columns DuckDB reads; expire columns may be INT32 here.
FIXTURE_COLUMNS = [
    ("data/alltypes_plain.parquet", "date_string_col", "string_col", "bigint_col"),
    ("data/alltypes_plain.snappy.parquet", "date_string_col", "string_col", "bigint_col"),
    ("data/alltypes_dictionary.parquet", "date_string_col", "string_col", "id"),
    ("data/binary.parquet", "foo", "foo", None),
    ("data/datapage_v2.snappy.parquet", "a", "a", "b"),
    ("data/delta_byte_array.parquet", "c_customer_id", "c_email_address", None),
    ("data/delta_byte_array.parquet", "c_salutation", "c_last_review_date", None),
    ("data/delta_byte_array.parquet", "c_first_name", "c_login", None),
    ("data/delta_length_byte_array.parquet", "FRUIT", "FRUIT", None),
    ("data/lz4_raw_compressed.parquet", "c1", "c1", "c0"),
    ("data/lz4_raw_compressed_larger.parquet", "a", "a", None),
    ("data/nation.dict-malformed.parquet", "name", "comment_col", "nation_key"),
    ("data/plain-dict-uncompressed-checksum.parquet", "binary_field", "binary_field",
     "long_field"),
    ("data/rle-dict-snappy-checksum.parquet", "binary_field", "binary_field", "long_field"),
    ("data/sort_columns.parquet", "b", "b", "a"),
    ("data/int32_with_null_pages.parquet", "", "", "int32_field"),
    ("data/concatenated_gzip_members.parquet", "", "", "long_col"),
    ("data/dict-page-offset-zero.parquet", "", "", "l_partkey"),
    ("data/page_v2_empty_compressed.parquet", "", "", "integer_column"),
    ("data/datapage_v1-uncompressed-checksum.parquet", "", "", "a"),
    ("data/datapage_v1-snappy-compressed-checksum.parquet", "", "", "b"),
    ("data/column_chunk_key_value_metadata.parquet", "", "", "column1"),
    ("bad_data/ARROW-GH-43605.parquet", "", "", "min_fl"),
]


@pytest.mark.skipif(not os.path.isdir(FIXTURES), reason="parquet-testing fixtures not found")
@pytest.mark.parametrize("rel,k,v,e", FIXTURE_COLUMNS,
                         ids=[f"{r}:{k},{v},{e}" for r, k, v, e in FIXTURE_COLUMNS])
def test_fixture_matches_duckdb(checker, rel, k, v, e):
    path = os.path.join(FIXTURES, rel)
    args = [NODE, SCRIPT, "dump", path, k, v] + ([e] if e else [])
    p = subprocess.run(args, capture_output=True, timeout=300, env=node_env())
    assert p.returncode == 0, p.stderr.decode()
    spec = f"{k},{v}" + (f",{e}" if e else "")
    rc, out, err = run_checker(checker, "--dump", "--columns", spec, path)
    assert rc == 0, err
    assert out == p.stdout, f"{rel}: rows differ from DuckDB's"
