/**
 * The traffic side of the xDS flip benchmark, run as a child process so that
 * neither the upstreams nor the load share the xDS server's event loop.
 *
 *   node --import tsx bench/xds-traffic.ts
 *
 * Starts two upstreams answering `v1` and `v2`, prints `ports <v1> <v2>`,
 * then reads commands on stdin:
 *   `load <url>`           keep 2 requests in flight to url
 *   `expect <version> <t>` answer `served <version> <at>` with the time of the
 *                          first response from that version at or after t
 *                          (times are epoch milliseconds with fractions:
 *                          performance.timeOrigin + performance.now())
 * Ends when stdin closes.
 */
import { Agent, createServer, request } from 'node:http';
import { createInterface } from 'node:readline';

function now(): number {
  return performance.timeOrigin + performance.now();
}

async function upstream(body: string): Promise<number> {
  const server = createServer((_req, res) => res.end(body));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

let expecting: { version: string; since: number } | undefined;
let running = true;

function served(version: string, at: number): void {
  if (expecting && version === expecting.version && at >= expecting.since) {
    expecting = undefined;
    process.stdout.write(`served ${version} ${at}\n`);
  }
}

function load(url: string, concurrency: number): void {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const loop = async (): Promise<void> => {
    while (running) {
      await new Promise<void>((resolve) => {
        const req = request(url, { agent, timeout: 5000 }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => {
            served(body, now());
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('error', () => setTimeout(resolve, 5));
        req.on('timeout', () => req.destroy());
        req.end();
      });
    }
  };
  for (let i = 0; i < concurrency; i++) void loop();
}

const v1 = await upstream('v1');
const v2 = await upstream('v2');
process.stdout.write(`ports ${v1} ${v2}\n`);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, a, b] = line.trim().split(' ');
  if (cmd === 'load' && a) load(a, 2);
  if (cmd === 'expect' && a && b) expecting = { version: a, since: Number(b) };
});
lines.on('close', () => {
  running = false;
  process.exit(0);
});
