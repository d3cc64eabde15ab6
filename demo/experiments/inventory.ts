/**
 * The sample service's dependency in the experiments demo: a small inventory
 * API (`GET /stock?items=N`) with deterministic answers, run inside the demo
 * driver. The shop's versions reach it through Umbra's egress listener.
 */
import { createServer, type Server } from 'node:http';

export interface Inventory {
  port: number;
  /** Calls answered. */
  readonly calls: number;
  close(): Promise<void>;
}

export function startInventory(port: number): Promise<Inventory> {
  let calls = 0;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://inventory');
    if (url.pathname !== '/stock') {
      res.statusCode = 404;
      res.end('{"error":"not found"}');
      return;
    }
    calls++;
    const items = Math.max(0, Math.min(20, Number(url.searchParams.get('items')) || 0));
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify(Array.from({ length: items }, (_, i) => ({ sku: `sku-${i}`, left: (i * 13) % 40 }))),
    );
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({
        port,
        get calls() {
          return calls;
        },
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
