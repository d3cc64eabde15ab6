/**
 * The /metrics endpoint on plain node:http. Binds to loopback unless told
 * otherwise; serves GET /metrics only.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logger } from '../log.js';
import type { MetricsRegistry } from './registry.js';

const log = logger('metrics');

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  registry: MetricsRegistry,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    let body: string;
    try {
      body = registry.render();
    } catch (err) {
      log.error('metrics collection failed', { error: err as Error });
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info('metrics listening', { host, port: bound });
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
