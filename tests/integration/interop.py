"""Parquet interop helpers: run the Node scripts in tests/interop (DuckDB and hyparquet) from
the integration tests.

    duck_read(path) -> (types, rows, kv)          rows read by DuckDB
    hyp_read(path)  -> (types, rows, kv)          rows read by hyparquet
    duck_write(path, rows, **opts) -> summary     a file written by DuckDB
    duck_write_many([(path, rows, opts), ...])    several files, one DuckDB start
    duck_lookup(path) -> (probes, errors)         filtered lookups vs a full scan (statistics)
    have_node() -> (bool, reason)                 False when node or tests/interop/node_modules is missing

rows are lists of dicts {"key": bytes, "value": bytes, "expire_at_ms": int|None} in file order.
types maps column name to the reader's type name (DuckDB: "VARCHAR", "BLOB", "BIGINT";
hyparquet: "BYTE_ARRAY", "BYTE_ARRAY/UTF8", "BYTE_ARRAY/STRING", "INT64", ...).
kv is the file key-value metadata as a dict of str. The last read's metadata summary (row groups,
compression, encodings) is in read_meta(path, reader).

Node: $PANDA_NODE, else `node` on PATH, else /usr/bin/node. Install the packages with
`scripts/deps.sh test` (or `npm install` in tests/interop).
"""
import json
import os
import shutil
import subprocess
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INTEROP_DIR = os.path.join(REPO, "tests", "interop")
NODE_MODULES = os.path.join(INTEROP_DIR, "node_modules")
REQUIRED_MODULES = ("@duckdb/node-api", "hyparquet", "hyparquet-compressors")
TIMEOUT = 60


def node_path():
    """Path of the node binary, or None."""
    env = os.environ.get("PANDA_NODE")
    if env:
        return env if os.access(env, os.X_OK) else None
    found = shutil.which("node") or shutil.which("nodejs")
    if found:
        return found
    for p in ("/usr/bin/node", "/usr/local/bin/node"):
        if os.access(p, os.X_OK):
            return p
    return None


def have_node():
    """(True, "") if node and the npm packages are installed, else (False, reason)."""
    node = node_path()
    if node is None:
        return False, "node is not installed (scripts/deps.sh test installs it)"
    for m in REQUIRED_MODULES:
        if not os.path.isdir(os.path.join(NODE_MODULES, m)):
            return False, ("npm package %s missing in tests/interop/node_modules "
                           "(run scripts/deps.sh test, or npm install in tests/interop)" % m)
    return True, ""


class InteropError(AssertionError):
    """A Node script failed (its stderr is in the message)."""


def _run(script, args, stdin=None):
    node = node_path()
    if node is None:
        raise InteropError("node not found")
    argv = [node, os.path.join(INTEROP_DIR, script)] + [str(a) for a in args]
    p = subprocess.run(argv, cwd=INTEROP_DIR, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=TIMEOUT)
    if p.returncode != 0:
        raise InteropError("%s failed with status %d:\n%s" % (" ".join(argv), p.returncode,
                                                           p.stderr.decode("utf-8", "replace")[-4000:]))
    return p.stdout.decode("utf-8")


_last_meta = {}


def _int_or_none(v):
    if v is None:
        return None
    return int(v)


def _parse_read(out, path, reader):
    lines = out.splitlines()
    if len(lines) < 3:
        raise InteropError("%s printed too few lines for %s:\n%s" % (reader, path, out[-2000:]))
    head = json.loads(lines[0])
    kv = json.loads(lines[1])["kv"]
    meta = json.loads(lines[2])["meta"]
    meta["schema"] = head.get("schema")
    _last_meta[(os.path.abspath(path), reader)] = meta
    rows = []
    for line in lines[3:]:
        d = json.loads(line)
        rows.append({
            "key": None if d["key_hex"] is None else bytes.fromhex(d["key_hex"]),
            "value": None if d["value_hex"] is None else bytes.fromhex(d["value_hex"]),
            "expire_at_ms": _int_or_none(d["expire_at_ms"]),
        })
    return head["types"], rows, kv


def duck_read(path):
    """Read a Parquet file with DuckDB. Returns (types, rows, kv)."""
    return _parse_read(_run("duck_read.mjs", [path]), path, "duckdb")


def hyp_read(path):
    """Read a Parquet file with hyparquet. Returns (types, rows, kv)."""
    return _parse_read(_run("hyp_read.mjs", [path]), path, "hyparquet")


def duck_lookup(path):
    """Point lookups through DuckDB's statistics-based filter pushdown (duck_lookup.mjs).
    Returns (probes, errors): errors lists every filtered query that counted other than a full
    scan (a sign of wrong min/max statistics in the file)."""
    d = json.loads(_run("duck_lookup.mjs", [path]).splitlines()[-1])
    return d["probes"], d["errors"]


def read_meta(path, reader="duckdb"):
    """Metadata summary from the last duck_read/hyp_read of path: num_rows, row_groups,
    row_group_rows, compression (codec names, e.g. ["ZSTD"]), column_compression, encodings,
    created_by, schema (hyparquet only)."""
    return _last_meta[(os.path.abspath(path), reader)]


def _hex(b):
    if b is None:
        return None
    if isinstance(b, str):
        b = b.encode("utf-8")
    return bytes(b).hex()


def _spec_rows(rows):
    spec_rows = []
    for r in rows:
        if isinstance(r, dict):
            k, v, e = r.get("key"), r.get("value"), r.get("expire_at_ms")
        else:
            k, v, e = r
        spec_rows.append({"key_hex": _hex(k), "value_hex": _hex(v),
                          "expire_at_ms": None if e is None else int(e)})
    return spec_rows


def _write(out_arg, spec):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
        spec_path = f.name
    try:
        out = _run("duck_write.mjs", [out_arg, spec_path])
    finally:
        os.unlink(spec_path)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def duck_write_many(jobs):
    """Write several files with one DuckDB start: jobs is a list of (path, rows, opts dict).
    Returns the summaries, in order."""
    files = []
    for path, rows, opts in jobs:
        spec = dict(opts or {})
        spec["out"] = path
        spec["rows"] = _spec_rows(rows)
        files.append(spec)
    return _write("-", {"files": files})


def duck_write(path, rows, **opts):
    """Write rows with DuckDB to path.

    rows: iterable of (key, value, expire_at_ms) tuples or dicts with those names; key and value
    are bytes or str (str is UTF-8 encoded), None writes NULL; expire_at_ms int or None.
    opts (see tests/interop/duck_write.mjs): compression (snappy|zstd|gzip|lz4_raw|uncompressed),
    parquet_version (v1|v2), row_group_size, key_type / value_type (VARCHAR|BLOB), omit (list of
    columns to leave out), extra_columns (list of names), extra_first, kv_metadata (dict).
    Returns the script's summary dict: out, types, num_rows, row_groups, row_group_rows,
    compression (e.g. ["SNAPPY"]), encodings."""
    spec = dict(opts)
    spec["rows"] = _spec_rows(rows)
    return _write(path, spec)[-1]
