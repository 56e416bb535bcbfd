// duck_write_cases.mjs - DuckDB as the reference for Panda's Parquet reader
// (tests/integration/test_parquet_read_duckdb.py).
//
//   node duck_write_cases.mjs write OUTDIR
//       writes OUTDIR/<case>.parquet for every case below, plus OUTDIR/<case>.expected: the
//       rows as DuckDB reads them back, in panda-check-parquet --dump format.
//   node duck_write_cases.mjs dump FILE KEYCOL VALUECOL [EXPIRECOL]
//       prints FILE's rows (those columns) in the --dump format.
//
// --dump format: KEY \t VALUE \t EXPIRE-or-"-", bytes escaped: printable ASCII as is, "\" as
// "\\", other bytes as \xHH; a null key/value as \N. @duckdb/node-api is resolved from
// $PANDA_NODE_MODULES (a node_modules directory) if set, else next to this script.
import { createRequire } from 'node:module';
import path from 'node:path';
import fs from 'node:fs';

const req = createRequire(process.env.PANDA_NODE_MODULES
    ? path.join(path.dirname(path.resolve(process.env.PANDA_NODE_MODULES)), 'noop.js')
    : import.meta.url);
const { DuckDBInstance } = req('@duckdb/node-api');

function escapeHex(hex) {
    if (hex === null) return '\\N';
    let out = '';
    for (let i = 0; i < hex.length; i += 2) {
        const b = parseInt(hex.slice(i, i + 2), 16);
        if (b === 0x5c) out += '\\\\';
        else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
        else out += '\\x' + hex.slice(i, i + 2).toLowerCase();
    }
    return out;
}

const q = (name) => '"' + name.replaceAll('"', '""') + '"';
const lit = (s) => "'" + s.replaceAll("'", "''") + "'";

async function dumpRows(con, file, k, v, e) {
    const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${lit(file)})`))
        .getRows();
    const types = Object.fromEntries(desc.map((r) => [r[0], r[1]]));
    // VARCHAR -> its UTF-8 bytes (a plain cast rejects non-ASCII); BLOB as is.
    const bytes = (c) => !c ? 'NULL::BLOB'
        : types[c] === 'VARCHAR' ? `encode(${q(c)})` : `CAST(${q(c)} AS BLOB)`;
    const exp = e ? `CAST(${q(e)} AS BIGINT)` : 'NULL::BIGINT';
    const sql = `SELECT hex(${bytes(k)}), hex(${bytes(v)}), ${exp}
                 FROM read_parquet(${lit(file)})`;
    const rows = (await con.runAndReadAll(sql)).getRows();
    return rows.map(([kh, vh, ex]) =>
        `${escapeHex(kh)}\t${escapeHex(vh)}\t${ex === null ? '-' : ex.toString()}\n`).join('');
}

// Each case: a SELECT producing key, value, expire_at_ms, and COPY options.
const gen = (n) => `range(${n}) t(i)`;
const basic = (n) => `SELECT 'k' || lpad(i::VARCHAR, 6, '0') AS key,
    'value-' || i::VARCHAR || '-' || repeat('x', (i % 13)::INT) AS value,
    CASE WHEN i % 3 = 0 THEN NULL ELSE 1700000000000 + i END AS expire_at_ms FROM ${gen(n)}`;
const dictq = (n) => `SELECT 'key' || (i % 50)::VARCHAR || '/' || i::VARCHAR AS key,
    'v' || (i % 7)::VARCHAR AS value,
    CASE WHEN i % 2 = 0 THEN 42::BIGINT ELSE NULL END AS expire_at_ms FROM ${gen(n)}`;
const binq = (n) => `SELECT ('\\x00\\xFF'::BLOB || CAST(i::VARCHAR AS BLOB) || '\\x5C\\x09'::BLOB) AS key,
    CASE WHEN i % 4 = 0 THEN ''::BLOB ELSE CAST(repeat(chr(65 + (i % 26)::INT), (i % 40)::INT) AS BLOB) END AS value,
    (i * -1000)::BIGINT AS expire_at_ms FROM ${gen(n)}`;
const CASES = {
    plain_snappy: [basic(1000), 'COMPRESSION snappy'],
    plain_zstd: [basic(1000), 'COMPRESSION zstd'],
    plain_gzip: [basic(1000), 'COMPRESSION gzip'],
    plain_lz4_raw: [basic(1000), 'COMPRESSION lz4_raw'],
    plain_uncompressed: [basic(1000), 'COMPRESSION uncompressed'],
    v2_snappy: [basic(3000), 'COMPRESSION snappy, PARQUET_VERSION v2'],
    v2_zstd: [basic(3000), 'COMPRESSION zstd, PARQUET_VERSION v2'],
    v2_uncompressed: [basic(3000), 'COMPRESSION uncompressed, PARQUET_VERSION v2'],
    dict_v1: [dictq(5000), 'COMPRESSION snappy'],
    dict_v2: [dictq(5000), 'COMPRESSION zstd, PARQUET_VERSION v2'],
    small_row_groups: [basic(20000), 'COMPRESSION zstd, ROW_GROUP_SIZE 2048'],
    binary_keys: [binq(2000), 'COMPRESSION uncompressed'],
    binary_keys_v2: [binq(2000), 'COMPRESSION gzip, PARQUET_VERSION v2'],
    no_expire: [`SELECT key, value FROM (${basic(500)})`, 'COMPRESSION snappy'],
    all_null_expire: [`SELECT key, value, NULL::BIGINT AS expire_at_ms FROM (${basic(500)})`,
        'COMPRESSION snappy'],
    zero_rows: [`SELECT * FROM (${basic(10)}) WHERE false`, 'COMPRESSION snappy'],
    big_values: [`SELECT 'k' || i::VARCHAR AS key, repeat(chr(97 + (i % 26)::INT), 70000 + i) AS value,
        NULL::BIGINT AS expire_at_ms FROM ${gen(40)}`, 'COMPRESSION zstd'],
    many_rows_zstd: [basic(300000), 'COMPRESSION zstd'],
    unicode: [`SELECT 'ключ-' || i::VARCHAR || '-🐼' AS key, 'värde ' || i::VARCHAR AS value,
        NULL::BIGINT AS expire_at_ms FROM ${gen(300)}`, 'COMPRESSION snappy'],
    one_value_dict: [`SELECT 'k' || i::VARCHAR AS key, 'same' AS value, 7::BIGINT AS expire_at_ms
        FROM ${gen(10000)}`, 'COMPRESSION snappy'],
};

async function main() {
    const [mode, ...args] = process.argv.slice(2);
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    await con.run('SET threads = 1');
    if (mode === 'dump') {
        process.stdout.write(await dumpRows(con, args[0], args[1], args[2], args[3]));
        return;
    }
    if (mode !== 'write' || !args[0]) throw new Error('usage: write OUTDIR | dump FILE K V [E]');
    fs.mkdirSync(args[0], { recursive: true });
    const only = args.slice(1);
    for (const [name, [sql, opts]] of Object.entries(CASES)) {
        if (only.length && !only.includes(name)) continue;
        const file = path.join(args[0], name + '.parquet');
        const not_null = name === 'binary_keys';
        let src = sql;
        if (not_null) { // REQUIRED columns: a table with NOT NULL constraints
            await con.run(`CREATE OR REPLACE TABLE t (key BLOB NOT NULL, value BLOB NOT NULL,
                expire_at_ms BIGINT NOT NULL)`);
            await con.run(`INSERT INTO t ${sql}`);
            src = 'SELECT * FROM t';
        }
        await con.run(`COPY (${src}) TO ${lit(file)} (FORMAT parquet, ${opts})`);
        const hasExp = !name.startsWith('no_expire');
        fs.writeFileSync(path.join(args[0], name + '.expected'),
            await dumpRows(con, file, 'key', 'value', hasExp ? 'expire_at_ms' : null));
    }
}

main().catch((e) => { console.error(e.message); process.exit(1); });
