// A real S3-compatible server on loopback for Panda's integration tests (see README.md).
//
//   node s3server.mjs --dir DIR [--port N] [--bucket NAME ...] [--fail-file PATH] [--log FILE]
//                     [--allow-anonymous]
//
// Runs @20minutes/s3rver (it checks SigV4 signatures; credentials S3RVER / S3RVER) on
// 127.0.0.1, port N (0 or no --port: a free port), storing objects under DIR, and creates the
// named buckets when missing. The same DIR and port can be used again after a restart.
// Prints exactly one line `PORT <n>` on stdout once listening; nothing else goes to stdout.
// Exits with status 0 on SIGTERM / SIGINT.
//
// Added in front of S3rver:
//   * conditional writes: on PUT object (also copy), CompleteMultipartUpload
//     (POST ?uploadId=...) and DELETE object, `If-None-Match: *` with an existing key or
//     `If-Match: "<etag>"` with a missing key or another ETag answer 412 PreconditionFailed
//     (S3 XML error). Evaluated after S3rver's signature check, so a badly signed request
//     still gets 403 and learns nothing. Writes to one key are serialised: racing conditional
//     writers get exactly one winner.
//   * requests without any signature (no Authorization header, no presigned query) get
//     403 AccessDenied, like a private bucket (S3rver itself lets them through);
//     --allow-anonymous turns this off.
//   * --fail-file PATH: while PATH exists every request gets 503 SlowDown.
//   * --log FILE: one JSON line per request appended to FILE:
//     {"method","path","query","status"} (path percent-decoded, query as an object).
//
// Paginated listings need DES (NODE_OPTIONS=--openssl-legacy-provider); without that flag the
// script swaps in AES for S3rver's continuation tokens (see desShim).

import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { die } from './common.mjs';

/**
 * S3rver encrypts ListObjectsV2 continuation tokens with DES, which node 20's OpenSSL 3 only
 * has with NODE_OPTIONS=--openssl-legacy-provider. Without it, map 'des' to AES-128-CBC with the
 * 8-byte key and IV doubled: the tokens stay opaque and are only read back by this process.
 */
function desShim() {
  try {
    crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
    return;
  } catch {
    // no legacy provider: install the shim
  }
  const wrap = (orig) => (alg, key, iv, options) => {
    if (String(alg).toLowerCase() === 'des') {
      const k = Buffer.from(key);
      const v = Buffer.from(iv);
      return orig('aes-128-cbc', Buffer.concat([k, k]), Buffer.concat([v, v]), options);
    }
    return orig(alg, key, iv, options);
  };
  crypto.createCipheriv = wrap(crypto.createCipheriv.bind(crypto));
  crypto.createDecipheriv = wrap(crypto.createDecipheriv.bind(crypto));
}

function parseArgs(argv) {
  const opts = { dir: null, port: 0, buckets: [], failFile: null, log: null, allowAnonymous: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) die(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--dir': opts.dir = val(); break;
      case '--port': {
        const v = val();
        if (!/^\d+$/.test(v) || Number(v) > 65535) die(`bad --port: ${v}`);
        opts.port = Number(v);
        break;
      }
      case '--bucket': opts.buckets.push(val()); break;
      case '--fail-file': opts.failFile = val(); break;
      case '--log': opts.log = val(); break;
      case '--allow-anonymous': opts.allowAnonymous = true; break;
      default: die(`unknown argument: ${a}\nusage: node s3server.mjs --dir DIR [--port N] ` +
        '[--bucket NAME ...] [--fail-file PATH] [--log FILE] [--allow-anonymous]');
    }
  }
  if (!opts.dir) die('--dir DIR is required');
  return opts;
}

/** Per-key FIFO lock: run(key, fn) runs fn once every earlier fn for that key has settled. */
class KeyLocks {
  constructor() { this.tails = new Map(); }
  async run(key, fn) {
    const prev = this.tails.get(key) || Promise.resolve();
    let release;
    const mine = new Promise((r) => { release = r; });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Consume the rest of a request body (so an early error reply leaves the connection usable). */
function drain(req) {
  if (req.complete || req.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    req.on('end', resolve);
    req.on('error', resolve);
    req.on('close', resolve);
    req.resume();
  });
}

/** The entity tags of an If-Match / If-None-Match header: ['*'] or hex strings. */
function parseTags(value) {
  return String(value)
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((t) => (t === '*' ? '*' : t.replace(/^W\//, '').replace(/^"(.*)"$/, '$1')));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const require = createRequire(import.meta.url);
  const S3rver = require('@20minutes/s3rver');
  const S3Error = require('@20minutes/s3rver/lib/models/error');
  const router = require('@20minutes/s3rver/lib/routes');

  fs.mkdirSync(opts.dir, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: opts.port,
    directory: opts.dir,
    silent: true,
    // path-style addressing only: 127.0.0.1 is never a virtual-host bucket name anyway
    vhostBuckets: false,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  });
  const store = server.store;
  const locks = new KeyLocks();

  // S3rver writes an object's bytes in place, so a GET racing an overwrite could see a mix and
  // a kill -9 mid-PUT left a truncated object; real S3 does neither. Write each file beside
  // its final name and rename it in (a reader with the old file open keeps the old bytes).
  const origPutContent = store.putContent.bind(store);
  store.putContent = async (objectPath, content) => {
    const tmp = `${objectPath}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
    try {
      const res = await origPutContent(tmp, content);
      await fs.promises.rename(tmp, objectPath);
      return res;
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
  };

  // Current ETag of bucket/key exactly as S3rver sends it (a quoted hex string), or null.
  async function currentEtag(bucket, key) {
    try {
      return (await store.getMetadata(bucket, key)).etag;
    } catch (err) {
      if (err.code === 'ENOENT') return null;
      throw err;
    }
  }

  async function checkConditions(ctx, bucket, key) {
    const ifMatch = ctx.get('if-match');
    const ifNoneMatch = ctx.get('if-none-match');
    if (!ifMatch && !ifNoneMatch) return;
    const etag = await currentEtag(bucket, key);
    const hex = etag === null ? null : JSON.parse(etag);
    if (ifNoneMatch) {
      const tags = parseTags(ifNoneMatch);
      if (!(tags.length === 1 && tags[0] === '*')) {
        await drain(ctx.req);
        throw new S3Error('NotImplemented',
          'A header you provided implies functionality that is not implemented',
          { Header: 'If-None-Match' });
      }
      if (etag !== null) {
        await drain(ctx.req);
        throw new S3Error('PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          { Condition: 'If-None-Match' });
      }
    }
    if (ifMatch) {
      const tags = parseTags(ifMatch);
      const ok = etag !== null && tags.some((t) => t === '*' || t === hex);
      if (!ok) {
        await drain(ctx.req);
        throw new S3Error('PreconditionFailed',
          'At least one of the pre-conditions you specified did not hold',
          { Condition: 'If-Match' });
      }
    }
  }

  // Router layer placed right after S3rver's authentication layer: requests reaching it have a
  // valid signature (or none at all, which the front middleware refuses unless allowed).
  async function conditionalWrites(ctx, next) {
    const { bucket, key } = ctx.params;
    if (!bucket || !key) return next();
    const q = ctx.query;
    const isWrite =
      (ctx.method === 'PUT' && !('uploadId' in q) && !('tagging' in q) && !('acl' in q)) ||
      (ctx.method === 'POST' && 'uploadId' in q) ||
      (ctx.method === 'DELETE' && Object.keys(q).length === 0);
    // Reads take the key's lock too: the metadata (length, ETag) and the bytes then come from
    // one version.
    const isRead = (ctx.method === 'GET' || ctx.method === 'HEAD') && Object.keys(q).length === 0;
    if (isRead) return locks.run(`${bucket}/${key}`, next);
    if (!isWrite) return next();
    return locks.run(`${bucket}/${key}`, async () => {
      await checkConditions(ctx, bucket, key);
      await next();
    });
  }
  router.use('/:bucket/:key+', conditionalWrites);
  const layer = router.stack.pop();
  const authIndex = router.stack.findIndex((l) => l.stack.some((fn) => fn.name === 'authentication'));
  if (authIndex < 0) die('s3server: could not find the authentication layer of S3rver', 1);
  router.stack.splice(authIndex + 1, 0, layer);

  let logFd = null;
  if (opts.log) logFd = fs.openSync(opts.log, 'a');

  // Front middleware: request log, fail switch, anonymous requests. Runs before S3rver's own.
  // Logged before the reply goes out, so a client that got its answer finds the line already
  // in the file.
  const logRequest = (ctx, status) => {
    if (logFd === null) return;
    let p = ctx.path;
    try { p = decodeURIComponent(p); } catch { /* keep it raw */ }
    const line = JSON.stringify({ method: ctx.method, path: p, query: { ...ctx.query }, status });
    try { fs.writeSync(logFd, line + '\n'); } catch { /* ignore */ }
  };

  // Front middleware: request log, fail switch, anonymous requests. Runs before S3rver's own.
  server.middleware.unshift(async function pandaFront(ctx, next) {
    try {
      if (opts.failFile && fs.existsSync(opts.failFile)) {
        await drain(ctx.req);
        throw new S3Error('SlowDown', 'Please reduce your request rate.');
      }
      if (!opts.allowAnonymous && ctx.method !== 'OPTIONS') {
        const signed = 'authorization' in ctx.headers || 'X-Amz-Algorithm' in ctx.query ||
          'Signature' in ctx.query;
        if (!signed) {
          await drain(ctx.req);
          throw new S3Error('AccessDenied', 'Access Denied');
        }
      }
      await next();
    } catch (err) {
      // what Koa's onerror (S3rver's version) will answer
      logRequest(ctx, (err && err.status) || 500);
      throw err;
    }
    logRequest(ctx, ctx.status);
  });

  let addr;
  try {
    addr = await server.run();
  } catch (err) {
    die(`s3server: cannot start: ${err.message}`, 1);
  }

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const t = setTimeout(() => process.exit(0), 2000);
    t.unref();
    server.httpServer.close(() => process.exit(0));
    server.httpServer.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`PORT ${addr.port}\n`);
}

desShim();
await main();
