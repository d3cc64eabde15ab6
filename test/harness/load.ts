/**
 * A bounded loopback load driver: a fixed number of requests or a fixed
 * duration (whichever ends first), with a fixed number of concurrent workers.
 */
import { Agent, request } from 'node:http';

export interface DriveOptions {
  url: string;
  /** Stop after this many requests (default 100). */
  requests?: number;
  /** Stop after this long (default 60 s, the upper bound of every run). */
  durationMs?: number;
  concurrency?: number;
  method?: string;
  headers?: (i: number) => Record<string, string>;
  body?: string | Buffer | ((i: number) => string | Buffer);
  /** Keep response bodies (default false). */
  keepBodies?: boolean;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Path for request i (appended to url's origin); default the url's own path. */
  path?: (i: number) => string;
}

export interface DriveResult {
  count: number;
  statuses: Record<number, number>;
  errors: number;
  latenciesMs: number[];
  bodies?: Buffer[];
  /** Response header sets in request order when keepBodies is set. */
  elapsedMs: number;
}

export async function drive(o: DriveOptions): Promise<DriveResult> {
  const total = o.requests ?? 100;
  const until = Date.now() + Math.min(o.durationMs ?? 60_000, 600_000);
  const url = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency ?? 4 });
  const result: DriveResult = { count: 0, statuses: {}, errors: 0, latenciesMs: [], elapsedMs: 0 };
  if (o.keepBodies) result.bodies = [];
  const started = Date.now();
  let next = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const body = typeof o.body === 'function' ? o.body(i) : o.body;
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: o.path ? o.path(i) : url.pathname + url.search,
          method: o.method ?? 'GET',
          headers: {
            ...(o.headers ? o.headers(i) : {}),
            ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          },
          agent,
          timeout: o.timeoutMs ?? 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (o.keepBodies) chunks.push(c);
          });
          res.on('end', () => {
            result.count++;
            result.statuses[res.statusCode ?? 0] = (result.statuses[res.statusCode ?? 0] ?? 0) + 1;
            result.latenciesMs.push(performance.now() - t0);
            if (o.keepBodies) result.bodies![i] = Buffer.concat(chunks);
            resolve();
          });
          res.on('error', () => {
            result.errors++;
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        result.errors++;
        resolve();
      });
      if (body !== undefined) req.write(body);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (next < total && Date.now() < until) {
      const i = next++;
      await one(i);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, () => worker()));
  agent.destroy();
  result.elapsedMs = Date.now() - started;
  return result;
}

/** The q-quantile (0..1) of a list of numbers (nearest rank). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Load running in the background over kept-alive connections; see {@link startKeptAliveLoad}. */
export interface KeptAliveLoad {
  /** 200 answers so far, by the first word of their body (e.g. the version that served). */
  readonly answered: Record<string, number>;
  /** Every other outcome (status and body, or the error), the first 50. */
  readonly failures: string[];
  /** 200 answers so far. */
  total(): number;
  /** Stops after the requests in flight; resolves when they are done. */
  stop(): Promise<void>;
}

/** GETs `url` from `workers` kept-alive connections, one request after another, until stopped (10 min at most). */
export function startKeptAliveLoad(url: string, workers: number): KeptAliveLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: workers });
  const answered: Record<string, number> = {};
  const failures: string[] = [];
  let running = true;
  const fail = (what: string) => {
    if (failures.length < 50) failures.push(what);
  };
  const one = () =>
    new Promise<void>((resolve) => {
      const req = request(url, { agent, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          if (body.length < 200) body += c.toString();
        });
        res.on('end', () => {
          const word = body.split(' ')[0]!;
          if (res.statusCode === 200) answered[word] = (answered[word] ?? 0) + 1;
          else fail(`${res.statusCode} ${body.slice(0, 200)}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        fail(`error ${e.message}`);
        resolve();
      });
      req.end();
    });
  const end = Date.now() + 600_000;
  const done = Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < 10_000_000 && running && Date.now() < end; i++) await one();
    }),
  );
  return {
    answered,
    failures,
    total: () => Object.values(answered).reduce((a, b) => a + b, 0),
    async stop() {
      running = false;
      await done;
      agent.destroy();
    },
  };
}
