#!/usr/bin/env node
// duck_read.mjs FILE
// Reads a Panda snapshot (or any Parquet file with key/value/expire_at_ms columns) with DuckDB
// and prints JSON lines:
//   {"types": {"key": "VARCHAR"|"BLOB", "value": ..., "expire_at_ms": "BIGINT", ...}}
//   {"kv": {"panda.format_version": "1", "panda.wal_lsn": "123", ...}}      (file key-value metadata)
//   {"meta": {"num_rows": N, "row_groups": G, "row_group_rows": [...], "compression": [...],
//             "encodings": [...], "created_by": "..."}}
//   {"key_hex": "...", "value_hex": "...", "expire_at_ms": 1234|null}           (one per row, file order)
// A column the file lacks is reported as null in every row (and absent from "types").
// VARCHAR values are turned into bytes as UTF-8, BLOB values are taken as they are.
import { DuckDBInstance, DuckDBBlobValue } from '@duckdb/node-api';
import { utf8Bytes, jsonLine, rowLine, sqlString, die, writeOut } from './common.mjs';

const file = process.argv[2];
if (!file || process.argv.length !== 3) die('usage: duck_read.mjs FILE');

function bytesOf(v, col) {
  if (v === null || v === undefined) return null;
  if (v instanceof DuckDBBlobValue) return v.bytes;
  if (typeof v === 'string') return utf8Bytes(v);
  throw new Error(`column ${col}: unexpected DuckDB value ${String(v)} (${typeof v})`);
}

function blobText(v) {
  if (v === null || v === undefined) return null;
  if (v instanceof DuckDBBlobValue) return Buffer.from(v.bytes).toString('utf8');
  return String(v);
}

const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
try {
  const src = `read_parquet(${sqlString(file)})`;

  const desc = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
  const types = {};
  for (const [name, type] of desc.getRows()) types[String(name)] = String(type);

  const kvRes = await conn.runAndReadAll(`SELECT key, value FROM parquet_kv_metadata(${sqlString(file)})`);
  const kv = {};
  for (const [k, v] of kvRes.getRows()) kv[blobText(k)] = blobText(v);

  const fm = await conn.runAndReadAll(
    `SELECT num_rows, num_row_groups, created_by FROM parquet_file_metadata(${sqlString(file)})`);
  const [numRows, numRowGroups, createdBy] = fm.getRows()[0];
  const md = await conn.runAndReadAll(
    `SELECT row_group_id, row_group_num_rows, path_in_schema, compression, encodings
       FROM parquet_metadata(${sqlString(file)}) ORDER BY row_group_id, column_id`);
  const rgRows = new Map();
  const compression = new Set();
  const encodings = new Set();
  const columnCompression = {};
  for (const [rg, rgN, path, comp, enc] of md.getRows()) {
    rgRows.set(Number(rg), rgN);
    compression.add(String(comp));
    columnCompression[String(path)] = String(comp);
    for (const e of String(enc ?? '').split(',')) if (e.trim()) encodings.add(e.trim());
  }
  const meta = {
    num_rows: numRows,
    row_groups: Number(numRowGroups),
    row_group_rows: [...rgRows.keys()].sort((a, b) => a - b).map((k) => rgRows.get(k)),
    compression: [...compression].sort(),
    column_compression: columnCompression,
    encodings: [...encodings].sort(),
    created_by: createdBy === null ? null : String(createdBy),
  };

  const col = (name) => (name in types ? `"${name}"` : `NULL AS "${name}"`);
  const res = await conn.runAndReadAll(
    `SELECT ${col('key')}, ${col('value')}, ${col('expire_at_ms')} FROM ${src}`);
  const out = [jsonLine({ types }), jsonLine({ kv }), jsonLine({ meta })];
  for (const [k, v, e] of res.getRows()) out.push(rowLine(bytesOf(k, 'key'), bytesOf(v, 'value'), e));
  await writeOut(out);
} catch (err) {
  die(`duck_read: ${err && err.message ? err.message : err}`, 1);
} finally {
  conn.closeSync();
  instance.closeSync();
}
