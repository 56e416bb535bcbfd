#!/usr/bin/env node
// duck_write.mjs OUT SPEC
// Writes a Parquet file with DuckDB (temp table + COPY ... TO (FORMAT parquet, ...)).
// SPEC is a JSON document, given inline (starts with "{"), as a file path, or "-" for stdin:
// {
//   "rows": [{"key_hex": "6b31", "value_hex": "7631", "expire_at_ms": 1700000000000 | null}, ...],
//   "compression": "snappy" | "zstd" | "gzip" | "lz4_raw" | "uncompressed"   (default snappy),
//   "parquet_version": "v1" | "v2"                                           (default v1),
//   "row_group_size": 1000                                                   (default DuckDB's),
//   "key_type": "VARCHAR" | "BLOB", "value_type": "VARCHAR" | "BLOB"         (default BLOB),
//   "expire_type": "BIGINT"                                                  (default BIGINT),
//   "omit": ["value"]              columns to leave out of the file,
//   "not_null": ["key", "value"]   columns declared NOT NULL in the temp table (DuckDB 1.5 still
//                                  writes them OPTIONAL),
//   "extra_columns": ["note"]      extra columns (VARCHAR "extra-<row>") placed after the others,
//   "extra_first": true            put the extra columns first instead,
//   "kv_metadata": {"k": "v"}      file key-value metadata (KV_METADATA option)
// }
// A VARCHAR key/value must be valid UTF-8. Prints one JSON line with the DuckDB types written
// and the file's metadata summary, e.g.
//   {"out": "...", "types": {...}, "num_rows": 5000, "row_groups": 3, "row_group_rows": [...],
//    "compression": ["ZSTD"], "encodings": ["PLAIN", ...]}
// Batch mode (one DuckDB start for many files): OUT is "-" and SPEC is {"files": [{"out": PATH,
// ...spec}, ...]}; one summary line per file, in order.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { fromHex, utf8Strict, toBigIntOrNull, jsonLine, sqlString, die, writeOut } from './common.mjs';

const [outArg, specArg] = process.argv.slice(2);
if (!outArg || !specArg || process.argv.length !== 4) {
  die('usage: duck_write.mjs OUT SPEC_JSON|SPEC_FILE|-   (or: duck_write.mjs - BATCH_SPEC)');
}

let spec;
try {
  const text = specArg === '-' ? readFileSync(0, 'utf8')
    : specArg.trimStart().startsWith('{') ? specArg : readFileSync(specArg, 'utf8');
  spec = JSON.parse(text);
} catch (err) {
  die(`duck_write: cannot read spec: ${err.message}`);
}

const COMPRESSIONS = ['snappy', 'zstd', 'gzip', 'lz4_raw', 'lz4', 'brotli', 'uncompressed'];

function parseSpec(s) {
  const compression = String(s.compression ?? 'snappy').toLowerCase();
  if (!COMPRESSIONS.includes(compression)) throw new Error(`bad compression ${compression}`);
  const version = String(s.parquet_version ?? 'v1').toLowerCase();
  if (!['v1', 'v2'].includes(version)) throw new Error(`bad parquet_version ${version}`);
  const kind = (t, name) => {
    const u = String(t ?? 'BLOB').toUpperCase();
    if (!['VARCHAR', 'BLOB'].includes(u)) throw new Error(`bad ${name} ${t}`);
    return u;
  };
  const expireType = String(s.expire_type ?? 'BIGINT').toUpperCase();
  if (!['BIGINT', 'INTEGER', 'UBIGINT'].includes(expireType)) throw new Error(`bad expire_type ${expireType}`);
  const omit = new Set(s.omit ?? []);
  const base = [
    { name: 'key', type: kind(s.key_type, 'key_type') },
    { name: 'value', type: kind(s.value_type, 'value_type') },
    { name: 'expire_at_ms', type: expireType },
  ].filter((c) => !omit.has(c.name));
  const extraCols = (s.extra_columns ?? []).map((name) => ({ name: String(name), type: 'VARCHAR', extra: true }));
  const notNull = new Set(s.not_null ?? []);
  for (const c of base) if (notNull.has(c.name)) c.type += ' NOT NULL';
  const cols = s.extra_first ? [...extraCols, ...base] : [...base, ...extraCols];
  const opts = ['FORMAT parquet', `COMPRESSION ${compression}`, `PARQUET_VERSION ${version.toUpperCase()}`];
  if (s.row_group_size !== undefined && s.row_group_size !== null) {
    opts.push(`ROW_GROUP_SIZE ${Number.parseInt(s.row_group_size, 10)}`);
  }
  if (s.kv_metadata) {
    const pairs = Object.entries(s.kv_metadata).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`);
    opts.push(`KV_METADATA {${pairs.join(', ')}}`);
  }
  return { cols, opts, expireType, rows: s.rows ?? [] };
}

async function writeOne(conn, out, s) {
  const { cols, opts, expireType, rows } = parseSpec(s);
  await conn.run('DROP TABLE IF EXISTS t');
  await conn.run(`CREATE TEMP TABLE t (${cols.map((c) => `"${c.name}" ${c.type}`).join(', ')})`);
  const app = await conn.createAppender('t');
  rows.forEach((row, i) => {
    for (const c of cols) {
      if (c.extra) { app.appendVarchar(`extra-${i}`); continue; }
      if (c.name === 'expire_at_ms') {
        const e = toBigIntOrNull(row.expire_at_ms);
        if (e === null) app.appendNull();
        else if (expireType === 'INTEGER') app.appendInteger(Number(e));
        else if (expireType === 'UBIGINT') app.appendUBigInt(e);
        else app.appendBigInt(e);
        continue;
      }
      const hex = row[`${c.name}_hex`];
      if (hex === null || hex === undefined) { app.appendNull(); continue; }
      const bytes = fromHex(hex);
      if (c.type.startsWith('VARCHAR')) app.appendVarchar(utf8Strict(bytes));
      else app.appendBlob(bytes);
    }
    app.endRow();
  });
  app.flushSync();
  app.closeSync();

  // ORDER BY rowid keeps the rows in the order given (a single thread does anyway).
  await conn.run(`COPY (SELECT * FROM t ORDER BY rowid) TO ${sqlString(out)} (${opts.join(', ')})`);
  await conn.run('DROP TABLE t');

  const fm = await conn.runAndReadAll(
    `SELECT num_rows, num_row_groups FROM parquet_file_metadata(${sqlString(out)})`);
  const [numRows, numRowGroups] = fm.getRows()[0];
  const md = await conn.runAndReadAll(
    `SELECT row_group_id, row_group_num_rows, compression, encodings
       FROM parquet_metadata(${sqlString(out)}) ORDER BY row_group_id, column_id`);
  const rgRows = new Map();
  const compression = new Set();
  const encodings = new Set();
  for (const [rg, rgN, comp, enc] of md.getRows()) {
    rgRows.set(Number(rg), rgN);
    compression.add(String(comp));
    for (const e of String(enc ?? '').split(',')) if (e.trim()) encodings.add(e.trim());
  }
  return jsonLine({
    out,
    types: Object.fromEntries(cols.map((c) => [c.name, c.type])),
    num_rows: numRows,
    row_groups: Number(numRowGroups),
    row_group_rows: [...rgRows.keys()].sort((a, b) => a - b).map((k) => rgRows.get(k)),
    compression: [...compression].sort(),
    encodings: [...encodings].sort(),
  });
}

if (outArg === '-' && !Array.isArray(spec.files)) die('duck_write: OUT "-" needs a spec with "files"');
const jobs = outArg === '-'
  ? spec.files.map((f) => [f.out, f])
  : [[outArg, spec]];
const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
try {
  const lines = [];
  for (const [out, s] of jobs) {
    if (!out) throw new Error('a file spec has no "out"');
    try {
      lines.push(await writeOne(conn, out, s));
    } catch (err) {
      throw new Error(`${out}: ${err && err.message ? err.message : err}`);
    }
  }
  await writeOut(lines);
} catch (err) {
  die(`duck_write: ${err && err.message ? err.message : err}`, 1);
} finally {
  conn.closeSync();
  instance.closeSync();
}
