/**
 * The live page: the report's views served by the daemon at `/ui` on the
 * admin HTTP address (`daemon.admin.httpListen`), read-only, behind the
 * admin token. The page polls `/ui/data` (same origin) and redraws.
 *
 *   GET /ui[?deployment=ID | ?service=NAME]   the page (latest deployment by default)
 *   GET /ui/data[?same]                       {report} or {message}, JSON
 *
 * Auth: `authorization: Bearer TOKEN`, or once `?token=TOKEN`, which sets an
 * HttpOnly, SameSite=Strict cookie holding a hash of the token and redirects
 * to the same URL without it (so the token leaves the address bar and the
 * history). Anything else is 401 with no data. TLS with `daemon.admin.tls`.
 */
import { createHash } from 'node:crypto';
import {
  createServer as createHttp,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Tls } from '../config/schema.js';
import { readTlsFiles, TlsFilesError } from '../config/tls.js';
import { logger } from '../log.js';
import { tokenMatches } from '../platform/token-file.js';
import { type BuildResult, buildReport, type ReportSource } from '../report/build.js';
import { cachingReader } from '../report/cache.js';
import type { HeldExperiments } from '../report/experiments.js';
import { renderReportPage } from '../report/page.js';

const log = logger('admin-ui');

/** The page polls this often: at least every 2 s while a deployment runs. */
export const UI_REFRESH_MS = 1500;
/**
 * A report is rebuilt at most this often, however many pages poll it (the
 * store reads are the cost), and never more often than keeps the daemon
 * under a tenth of its time on it: a long deployment's report costs more,
 * and the daemon's time belongs to ingest first. A final deployment's report
 * does not change.
 */
const REBUILD_MS = 1000;
const BUSY_SHARE = 0.1;
const FINAL_MS = 60_000;
const COOKIE = 'umbra_ui';

export interface UiServerOptions {
  store: ReportSource;
  token: string;
  host: string;
  port: number;
  tls?: Tls;
  /** Adds what the daemon knows now (the judge's live score) to a report of a deployment in progress. */
  live?: (result: BuildResult, nowMs: number) => BuildResult;
  /** The experiments the daemon holds (its chaos runner's, its A/B desk's), for the experiments section. */
  held?: HeldExperiments;
  now?: () => number;
}

export interface UiServer {
  /** e.g. `http://127.0.0.1:7073/ui` */
  url: string;
  port: number;
  close(): Promise<void>;
}

const cookieValue = (token: string) => createHash('sha256').update(`umbra-ui:${token}`).digest('hex');

function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m) return tokenMatches(m[1]!, token);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE && v) return tokenMatches(v, cookieValue(token));
  }
  return false;
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
) {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...extra,
  });
  res.end(body);
}

export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const now = o.now ?? Date.now;
  const cache = new Map<string, { until: number; result: BuildResult }>();
  const reader = cachingReader(o.store);

  /** The deployment a query names, else the latest one (of a service). */
  const resolve = (q: URLSearchParams): string | null => {
    const id = q.get('deployment');
    if (id) return id;
    const service = q.get('service');
    return o.store.listDeployments({ ...(service ? { service } : {}), limit: 1 })[0]?.id ?? null;
  };

  const report = (q: URLSearchParams): BuildResult => {
    const id = resolve(q);
    if (id === null) {
      const service = q.get('service');
      return {
        ok: false,
        reason: 'no_history',
        message: `no deployment${service ? ` of service '${service}'` : ''} yet: this page shows one as soon as it starts`,
      };
    }
    const hit = cache.get(id);
    const t = now();
    if (hit && t < hit.until) return hit.result;
    const started = performance.now();
    let result = buildReport(o.store, id, t, reader, o.held);
    if (o.live) result = o.live(result, t);
    const cost = performance.now() - started;
    const final = result.ok && result.report.deployment.final;
    if (cache.size > 32) cache.clear();
    cache.set(id, { until: t + (final ? FINAL_MS : Math.max(REBUILD_MS, cost / BUSY_SHARE)), result });
    return result;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://ui.invalid');
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'read-only\n', { allow: 'GET' });
    if (url.pathname !== '/ui' && url.pathname !== '/ui/data') {
      return send(res, 404, 'text/plain', 'not found; the live page is /ui\n');
    }
    const presented = url.searchParams.get('token');
    if (presented !== null) {
      if (!tokenMatches(presented, o.token)) return send(res, 401, 'text/plain', 'wrong admin token\n');
      url.searchParams.delete('token');
      return send(res, 303, 'text/plain', '', {
        location: `${url.pathname}${url.search}`,
        'set-cookie': `${COOKIE}=${cookieValue(o.token)}; HttpOnly; SameSite=Strict; Path=/ui${o.tls ? '; Secure' : ''}`,
      });
    }
    if (!authorized(req, o.token)) {
      const message =
        "the live page needs the admin token: open /ui?token=TOKEN (the token is in the daemon's admin.tokenFile) or send authorization: Bearer TOKEN";
      return url.pathname === '/ui/data'
        ? send(res, 401, 'application/json', JSON.stringify({ message }))
        : send(res, 401, 'text/plain; charset=utf-8', `${message}\n`);
    }
    let result: BuildResult;
    try {
      result = report(url.searchParams);
    } catch (err) {
      log.error('live report failed', { error: err as Error });
      return send(
        res,
        500,
        'application/json',
        JSON.stringify({ message: 'the report could not be built; see the daemon log' }),
      );
    }
    if (url.pathname === '/ui/data') {
      const body = result.ok ? { report: result.report } : { message: result.message };
      return send(
        res,
        result.ok || result.reason !== 'unknown_deployment' ? 200 : 404,
        'application/json',
        JSON.stringify(body),
      );
    }
    const page = renderReportPage(result.ok ? result.report : null, {
      live: { dataUrl: `/ui/data${url.search}`, intervalMs: UI_REFRESH_MS },
      ...(result.ok ? {} : { message: result.message }),
    });
    send(res, 200, 'text/html; charset=utf-8', page);
  };

  let server: Server;
  if (o.tls) {
    const files = readTlsFiles(o.tls, 'daemon.admin.tls');
    if (!files.ok) throw new TlsFilesError(files.errors);
    server = createHttps({ cert: files.material.certChain, key: files.material.privateKey }, handle);
  } else server = createHttp(handle);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const url = `${o.tls ? 'https' : 'http'}://${host}:${port}/ui`;
  log.info('live page listening', { url });
  return {
    url,
    port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
