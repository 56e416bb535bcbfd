#!/usr/bin/env node
// duck_lookup.mjs FILE
// Point lookups through DuckDB's filter pushdown, which skips row groups (and pages) by the
// file's statistics: wrong min/max bounds in the file make rows vanish from filtered queries
// although a full scan sees them. Probes, per row group: its first and last rows and the rows
// holding its smallest and largest key, value and expire_at_ms; for each, `WHERE key = ?`,
// `WHERE value = ?` and `WHERE expire_at_ms = ?` must count as many rows as a full scan does,
// and `WHERE expire_at_ms IS NULL` too. Prints {"probes": N, "errors": ["...", ...]}.
import { DuckDBInstance, DuckDBBlobValue, blobValue } from '@duckdb/node-api';
import { toHex, jsonLine, sqlString, die, writeOut } from './common.mjs';

const file = process.argv[2];
if (!file || process.argv.length !== 3) die('usage: duck_lookup.mjs FILE');

const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await instance.connect();
const errors = [];
let probes = 0;
try {
  const src = `read_parquet(${sqlString(file)})`;
  const desc = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
  const types = Object.fromEntries(desc.getRows().map(([n, t]) => [String(n), String(t)]));
  for (const c of ['key', 'value']) if (!(c in types)) throw new Error(`no column ${c}`);
  const hasExpire = 'expire_at_ms' in types;

  const rgRes = await conn.runAndReadAll(
    `SELECT row_group_id, row_group_num_rows FROM parquet_metadata(${sqlString(file)})
      WHERE column_id = 0 ORDER BY row_group_id`);
  const groups = rgRes.getRows().map(([, n]) => Number(n));

  // Full scan in file order; hex strings compare like unsigned bytes.
  const all = await conn.runAndReadAll(
    `SELECT key, value, ${hasExpire ? 'expire_at_ms' : 'NULL::BIGINT'} FROM ${src}`);
  const hex = (v) => (v instanceof DuckDBBlobValue ? toHex(v.bytes) : Buffer.from(String(v), 'utf8').toString('hex'));
  const rows = all.getRows().map(([k, v, e]) => ({ k, v, e, kh: hex(k), vh: hex(v) }));
  const count = (pred) => rows.reduce((n, r) => n + (pred(r) ? 1 : 0), 0);

  const picks = new Set();
  let start = 0;
  for (const n of groups) {
    if (n === 0) continue;
    const idx = [...Array(n).keys()].map((i) => start + i);
    const by = (f, cmp) => idx.reduce((best, i) => (cmp(f(rows[i]), f(rows[best])) ? i : best), idx[0]);
    picks.add(idx[0]).add(idx[n - 1]);
    picks.add(by((r) => r.kh, (a, b) => a < b)).add(by((r) => r.kh, (a, b) => a > b));
    picks.add(by((r) => r.vh, (a, b) => a < b)).add(by((r) => r.vh, (a, b) => a > b));
    const withE = idx.filter((i) => rows[i].e !== null);
    if (withE.length) {
      picks.add(withE.reduce((b, i) => (rows[i].e < rows[b].e ? i : b), withE[0]));
      picks.add(withE.reduce((b, i) => (rows[i].e > rows[b].e ? i : b), withE[0]));
    }
    start += n;
  }

  const param = (v) => (v instanceof DuckDBBlobValue ? blobValue(v.bytes) : v);
  async function probe(sql, value, want, what) {
    probes++;
    const res = await conn.runAndReadAll(sql, value === undefined ? undefined : [value]);
    const got = Number(res.getRows()[0][0]);
    if (got !== want) errors.push(`${what}: filtered query counts ${got}, a full scan ${want}`);
  }
  for (const i of [...picks].sort((a, b) => a - b)) {
    const r = rows[i];
    await probe(`SELECT count(*) FROM ${src} WHERE key = $1`, param(r.k), count((x) => x.kh === r.kh),
      `row ${i} key ${r.kh.slice(0, 80)}`);
    await probe(`SELECT count(*) FROM ${src} WHERE value = $1`, param(r.v), count((x) => x.vh === r.vh),
      `row ${i} value ${r.vh.slice(0, 80)}`);
    if (hasExpire && r.e !== null) {
      await probe(`SELECT count(*) FROM ${src} WHERE expire_at_ms = $1`, r.e, count((x) => x.e === r.e),
        `row ${i} expire_at_ms ${r.e}`);
    }
  }
  if (hasExpire) {
    await probe(`SELECT count(*) FROM ${src} WHERE expire_at_ms IS NULL`, undefined,
      count((x) => x.e === null), 'expire_at_ms IS NULL');
    await probe(`SELECT count(*) FROM ${src} WHERE expire_at_ms IS NOT NULL`, undefined,
      count((x) => x.e !== null), 'expire_at_ms IS NOT NULL');
  }
  await writeOut([jsonLine({ probes, errors })]);
} catch (err) {
  die(`duck_lookup: ${err && err.message ? err.message : err}`, 1);
} finally {
  conn.closeSync();
  instance.closeSync();
}
