/**
 * A sample upstream for tests: an HTTP/1.1 server on a free loopback port
 * whose latency, status, body and failure mode the test controls, and which
 * records every request it receives.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Cleanup } from './envoy.js';

export interface Behaviour {
  status?: number;
  delayMs?: number;
  /** Response body (default: `ok <path>`). */
  body?: string | Buffer;
  /** Or a generated body of this many bytes (streamed in 64 KiB chunks). */
  bodyBytes?: number;
  headers?: Record<string, string>;
  /** reset: destroy the socket without answering; hang: never answer. */
  mode?: 'normal' | 'reset' | 'hang';
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Date.now() when the request was complete. */
  at: number;
}

export type BehaviourFn = (req: SeenRequest) => Behaviour;

export interface Upstream {
  port: number;
  url: string;
  requests: SeenRequest[];
  readonly hits: number;
  setBehaviour(b: Behaviour | BehaviourFn): void;
  /** Keeps at most this many recorded requests (default 100 000). */
  maxRecorded: number;
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(64 * 1024, 'x');

function writeBody(res: ServerResponse, b: Behaviour, path: string): void {
  if (b.bodyBytes !== undefined) {
    let left = b.bodyBytes;
    res.setHeader('content-length', String(left));
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  res.end(b.body ?? `ok ${path}`);
}

export async function startUpstream(
  t: Cleanup | undefined,
  behaviour: Behaviour | BehaviourFn = {},
): Promise<Upstream> {
  let current: Behaviour | BehaviourFn = behaviour;
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let hits = 0;
  const up: Upstream = {
    port: 0,
    url: '',
    requests: [],
    maxRecorded: 100_000,
    get hits() {
      return hits;
    },
    setBehaviour(b) {
      current = b;
    },
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hits++;
      const seen: SeenRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      };
      if (up.requests.length < up.maxRecorded) up.requests.push(seen);
      const b = typeof current === 'function' ? current(seen) : current;
      if (b.mode === 'hang') return;
      const answer = (): void => {
        if (b.mode === 'reset') {
          req.socket.destroy();
          return;
        }
        res.statusCode = b.status ?? 200;
        for (const [k, v] of Object.entries(b.headers ?? {})) res.setHeader(k, v);
        writeBody(res, b, seen.path);
      };
      if (b.delayMs && b.delayMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, b.delayMs);
        timers.add(timer);
      } else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  up.port = typeof addr === 'object' && addr ? addr.port : 0;
  up.url = `http://127.0.0.1:${up.port}`;
  let closed = false;
  up.close = async () => {
    if (closed) return;
    closed = true;
    for (const timer of timers) clearTimeout(timer);
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t?.after(() => up.close());
  return up;
}
