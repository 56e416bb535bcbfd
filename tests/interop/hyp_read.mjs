#!/usr/bin/env node
// hyp_read.mjs FILE
// Reads a Panda snapshot with hyparquet (+ hyparquet-compressors for zstd, gzip, lz4, brotli)
// and prints the same JSON lines as duck_read.mjs:
//   {"types": {"key": "BYTE_ARRAY/STRING", "value": "BYTE_ARRAY", "expire_at_ms": "INT64", ...}}
//        physical type, then "/" and the logical (or converted) annotation when there is one;
//        "schema" gives the details: {"key": {"physical":..., "logical":..., "converted":..., "repetition":...}}
//   {"kv": {...}}                     file key-value metadata
//   {"meta": {"num_rows": N, "row_groups": G, "row_group_rows": [...], "compression": [...],
//             "encodings": [...], "created_by": "...", "stats": [per row group: {column:
//             {"min_value": {"hex": ..} | {"int": ..} | null, "max_value", "min", "max",
//              "null_count", "is_min_value_exact", "is_max_value_exact"} | null}]}}
//   {"key_hex": ..., "value_hex": ..., "expire_at_ms": ...}   (one per row, file order)
// Reads with utf8:false, so unannotated BYTE_ARRAY columns come back as raw bytes; a column
// annotated STRING/UTF8 is decoded as strict UTF-8 (invalid UTF-8 there is an error, exit 1).
import { readFileSync } from 'node:fs';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { toHex, utf8Strict, utf8Bytes, jsonLine, rowLine, die, writeOut } from './common.mjs';

const file = process.argv[2];
if (!file || process.argv.length !== 3) die('usage: hyp_read.mjs FILE');

function bytesOf(v, col) {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string') return utf8Bytes(v);
  throw new Error(`column ${col}: unexpected value ${String(v)} (${typeof v})`);
}

function logicalName(lt) {
  if (!lt) return null;
  return typeof lt === 'string' ? lt : lt.type ?? JSON.stringify(lt);
}

try {
  const buf = readFileSync(file);
  const arrayBuffer = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  // BYTE_ARRAY statistics stay raw bytes (the parser is only used for min/max here).
  const metadata = parquetMetadata(arrayBuffer, { parsers: { stringFromBytes: (b) => ({ raw: b }) } });

  const schema = {};
  const types = {};
  for (const el of metadata.schema.slice(1)) {
    const logical = logicalName(el.logical_type);
    schema[el.name] = {
      physical: el.type ?? null,
      logical,
      converted: el.converted_type ?? null,
      repetition: el.repetition_type ?? null,
    };
    const ann = logical ?? el.converted_type ?? null;
    types[el.name] = ann ? `${el.type}/${ann}` : `${el.type}`;
  }

  const kv = {};
  for (const { key, value } of metadata.key_value_metadata ?? []) kv[key] = value ?? null;

  const compression = new Set();
  const encodings = new Set();
  const columnCompression = {};
  for (const rg of metadata.row_groups) {
    for (const cc of rg.columns) {
      const m = cc.meta_data;
      if (!m) continue;
      compression.add(String(m.codec));
      columnCompression[m.path_in_schema.join('.')] = String(m.codec);
      for (const e of m.encodings ?? []) encodings.add(String(e));
    }
  }
  const stat = (v) => {
    if (v === undefined || v === null) return null;
    if (typeof v === 'object' && v.raw instanceof Uint8Array) return { hex: toHex(v.raw) };
    if (typeof v === 'bigint' || typeof v === 'number') return { int: BigInt(v) };
    return { other: String(v) };
  };
  // Per row group, per column: the chunk's statistics (raw bytes as hex, integers exact).
  const stats = metadata.row_groups.map((rg) => Object.fromEntries(rg.columns
    .filter((cc) => cc.meta_data)
    .map((cc) => {
      const st = cc.meta_data.statistics;
      return [cc.meta_data.path_in_schema.join('.'), st ? {
        min_value: stat(st.min_value), max_value: stat(st.max_value),
        min: stat(st.min), max: stat(st.max),
        null_count: st.null_count ?? null,
        is_min_value_exact: st.is_min_value_exact ?? null,
        is_max_value_exact: st.is_max_value_exact ?? null,
      } : null];
    })));
  const meta = {
    stats,
    num_rows: metadata.num_rows,
    row_groups: metadata.row_groups.length,
    row_group_rows: metadata.row_groups.map((rg) => rg.num_rows),
    compression: [...compression].sort(),
    column_compression: columnCompression,
    encodings: [...encodings].sort(),
    created_by: metadata.created_by ?? null,
  };

  const wanted = ['key', 'value', 'expire_at_ms'].filter((c) => c in schema);
  let rows = [];
  if (wanted.length && Number(metadata.num_rows) > 0) {
    rows = await parquetReadObjects({
      file: arrayBuffer,
      metadata,
      columns: wanted,
      compressors,
      utf8: false,
      parsers: {
        stringFromBytes(bytes) {
          if (bytes === null || bytes === undefined) return bytes;
          try {
            return utf8Strict(bytes);
          } catch {
            throw new Error(`invalid UTF-8 in a STRING-annotated column: ${toHex(bytes)}`);
          }
        },
      },
    });
  }

  const out = [jsonLine({ types, schema }), jsonLine({ kv }), jsonLine({ meta })];
  for (const row of rows) {
    out.push(rowLine(bytesOf(row.key, 'key'), bytesOf(row.value, 'value'), row.expire_at_ms));
  }
  await writeOut(out);
} catch (err) {
  die(`hyp_read: ${err && err.message ? err.message : err}`, 1);
}
