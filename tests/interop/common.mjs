// Helpers shared by the interop scripts (see README.md in this folder).

/** Lower-case hex of a Uint8Array / Buffer. */
export function toHex(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a hex string (throws on odd length or non-hex characters). */
export function fromHex(hex) {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new Error(`bad hex string: ${JSON.stringify(hex)}`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Strict UTF-8 decoding (throws on invalid sequences). */
export function utf8Strict(bytes) {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
}

/** UTF-8 bytes of a JS string. */
export function utf8Bytes(s) {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

/**
 * JSON.stringify that keeps 64-bit integers exact: a bigint (or a number written from one)
 * is written as a bare JSON integer, which Python's json module reads exactly.
 */
export function jsonLine(obj) {
  const marks = [];
  const text = JSON.stringify(obj, (k, v) => {
    if (typeof v === 'bigint') {
      marks.push(v.toString());
      return `\u0000BIGINT${marks.length - 1}\u0000`;
    }
    return v;
  });
  return text.replace(/"\\u0000BIGINT(\d+)\\u0000"/g, (m, i) => marks[Number(i)]);
}

/** The JSON line the readers print per row: key and value bytes as hex, expiry or null. */
export function rowLine(keyBytes, valueBytes, expire) {
  return jsonLine({
    key_hex: keyBytes === null ? null : toHex(keyBytes),
    value_hex: valueBytes === null ? null : toHex(valueBytes),
    expire_at_ms: expire === null || expire === undefined ? null : BigInt(expire),
  });
}

/** Integer (number or bigint) or null → bigint or null. */
export function toBigIntOrNull(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`not an integer: ${v}`);
    return BigInt(v);
  }
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new Error(`not an integer: ${JSON.stringify(v)}`);
}

/** SQL string literal. */
export function sqlString(s) {
  return `'${String(s).replace(/'/g, "''")}'`;
}

export function die(msg, code = 2) {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

/** Write lines to stdout and resolve once they are flushed (large outputs go to a pipe). */
export function writeOut(lines) {
  return new Promise((resolve, reject) => {
    const text = lines.length ? lines.join('\n') + '\n' : '';
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
