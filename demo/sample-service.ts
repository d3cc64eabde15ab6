/**
 * The demo's sample service: a small "shop" API whose versions differ only in
 * the fault they are told to carry. Started by the process provisioner with
 * PORT set; everything else comes from the environment:
 *
 *   SAMPLE_VERSION   version name reported in `x-version` (default v1)
 *   SAMPLE_FAULT     optional regression, `ENDPOINT:REGION:RATE[:MIN_RPS]`, e.g.
 *                    `cart:eu:0.3:5` — answer 503 to that share of GET /cart
 *                    requests from region eu once the service sees at least
 *                    MIN_RPS requests a second (a fault that appears under load)
 *   SAMPLE_SLOW_MS   optional extra latency on every request
 *   SAMPLE_CONVERT   optional share (0..1) of GET /cart answers that carry
 *                    `x-outcome: 1` (a purchase, for A/B experiments)
 *   SAMPLE_SHADOW_COUNT_DIR  optional directory: the instance keeps the number
 *                    of mirrored copies it has answered (`x-umbra-shadow: 1`)
 *                    in `<dir>/shadow-<version>-<PORT>.count`, rewritten at most
 *                    every 200 ms (bench:faults reads it)
 *
 * Bodies are deterministic for a path and user, so a healthy new version
 * answers byte-for-byte like the old one.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

interface Fault {
  endpoint: string;
  region: string;
  rate: number;
  minRps: number;
}

function parseFault(spec: string | undefined): Fault | undefined {
  if (!spec) return undefined;
  const [endpoint, region, rate, minRps] = spec.split(':');
  const r = Number(rate);
  if (!endpoint || !region || !(r >= 0 && r <= 1)) {
    throw new Error(`SAMPLE_FAULT: expected ENDPOINT:REGION:RATE[:MIN_RPS], got '${spec}'`);
  }
  return { endpoint, region, rate: r, minRps: Number(minRps ?? 0) || 0 };
}

const port = Number(process.env['PORT']);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('sample-service: PORT must be set to a TCP port');
  process.exit(2);
}
const version = process.env['SAMPLE_VERSION'] ?? 'v1';
const fault = parseFault(process.env['SAMPLE_FAULT']);
const slowMs = Number(process.env['SAMPLE_SLOW_MS'] ?? 0) || 0;
const convert = Number(process.env['SAMPLE_CONVERT'] ?? 0) || 0;
const shadowCountDir = process.env['SAMPLE_SHADOW_COUNT_DIR'];

/** Mirrored copies answered, written to a file when SAMPLE_SHADOW_COUNT_DIR is set. */
let shadowCopies = 0;
let shadowWritten = -1;
function writeShadowCount(): void {
  if (!shadowCountDir || shadowWritten === shadowCopies) return;
  shadowWritten = shadowCopies;
  try {
    writeFileSync(join(shadowCountDir, `shadow-${version}-${port}.count`), String(shadowCopies));
  } catch (err) {
    console.error(JSON.stringify({ msg: 'shadow count not written', error: (err as Error).message }));
  }
}
if (shadowCountDir) {
  writeShadowCount();
  setInterval(writeShadowCount, 200).unref();
}

const CATALOG = Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${i}`, price: 5 + ((i * 37) % 90) }));

/** A rolling count of requests in the last second, to switch the fault on under load. */
let windowStart = Date.now();
let windowCount = 0;
let lastRps = 0;
function observeRate(): number {
  const now = Date.now();
  if (now - windowStart >= 1000) {
    lastRps = (windowCount * 1000) / (now - windowStart);
    windowStart = now;
    windowCount = 0;
  }
  windowCount++;
  return lastRps;
}

function body(path: string, user: string): unknown {
  if (path.startsWith('/cart')) {
    const n = [...user].reduce((a, c) => a + c.charCodeAt(0), 0) % 5;
    return {
      user,
      items: CATALOG.slice(0, n + 1),
      total: CATALOG.slice(0, n + 1).reduce((a, c) => a + c.price, 0),
    };
  }
  if (path.startsWith('/catalog')) return { items: CATALOG };
  if (path.startsWith('/profile')) return { user, tier: user.length % 2 === 0 ? 'gold' : 'basic' };
  return undefined;
}

/** Typical service time: 1-4 ms with a light tail. */
function serviceTimeMs(): number {
  const u = Math.random();
  return 1 + 3 * u + (u > 0.98 ? 10 * Math.random() : 0) + slowMs;
}

const server = createServer((req, res) => {
  const rps = observeRate();
  const url = new URL(req.url ?? '/', 'http://sample');
  if (url.pathname === '/healthz') {
    res.end('ok');
    return;
  }
  if (req.headers['x-umbra-shadow'] === '1') shadowCopies++;
  const region = String(req.headers['x-region'] ?? 'none');
  const user = String(req.headers['x-user'] ?? 'anonymous');
  const payload = body(url.pathname, user);
  setTimeout(() => {
    res.setHeader('x-version', version);
    if (!payload) {
      res.statusCode = 404;
      res.end('{"error":"not found"}');
      return;
    }
    const endpoint = url.pathname.split('/')[1];
    if (
      fault &&
      endpoint === fault.endpoint &&
      region === fault.region &&
      rps >= fault.minRps &&
      Math.random() < fault.rate
    ) {
      res.statusCode = 503;
      res.end('{"error":"inventory backend unavailable"}');
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (convert > 0 && endpoint === 'cart' && Math.random() < convert) res.setHeader('x-outcome', '1');
    res.end(JSON.stringify(payload));
  }, serviceTimeMs());
});
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'sample-service listening', port, version, fault: fault ?? null }));
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () =>
    server.close(() => {
      writeShadowCount();
      process.exit(0);
    }),
  );
}
