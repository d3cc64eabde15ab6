/**
 * The admin gRPC server: token check, request validation, and the mapping of
 * {@link AdminError}s to gRPC status codes. Everything else is the backend's.
 * Binds to loopback unless told otherwise; TLS when given a certificate.
 */
import { type Metadata, Server, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import type { Tls } from '../config/schema.js';
import { serverCredentials } from '../config/tls.js';
import { logger } from '../log.js';
import type { CommandName } from '../rollout/types.js';
import { type ChaosPort, chaosHandlers } from './chaos-api.js';
import type { ExperimentBackend } from './experiment-backend.js';
import type { AdminBackend } from './port.js';
import { AdminError } from './port.js';
import { adminServiceDefinition } from './proto.js';
import { tokenMatches } from './token.js';

const log = logger('admin');

export interface AdminServerOptions {
  backend: AdminBackend;
  /** A/B experiments; absent: their calls are refused. */
  experiments?: ExperimentBackend;
  token: string;
  /** host:port; port 0 picks a free one. Default 127.0.0.1:7070. */
  listen?: string;
  /** `daemon.admin.tls`: plaintext when absent; a file that cannot be used throws TlsFilesError. */
  tls?: Tls;
  /** The live page's address, reported by Status (absent: not served). */
  uiUrl?: string;
  /** Chaos experiments (absent: the chaos calls are refused as unavailable). */
  chaos?: ChaosPort;
  /**
   * On a follower of a shared store (docs/ha.md): the leader's admin address,
   * reported by Status; `refuse` words the refusal of what only the leader
   * runs (experiments, chaos), naming it.
   */
  follower?: { leader: () => string | undefined; refuse?: () => string };
}

export interface AdminServer {
  /** The bound port. */
  port: number;
  close(): Promise<void>;
}

const CODES = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  failed_precondition: status.FAILED_PRECONDITION,
} as const;

class Refusal extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

function authorize(metadata: Metadata, token: string): void {
  const values = metadata.get('authorization');
  if (values.length === 0)
    throw new Refusal(status.UNAUTHENTICATED, 'missing admin token (authorization: Bearer …)');
  const m = /^Bearer\s+(\S+)$/i.exec(String(values[0]));
  if (!m || !tokenMatches(m[1]!, token)) throw new Refusal(status.UNAUTHENTICATED, 'wrong admin token');
}

function required(req: Record<string, unknown>, field: string): string {
  const v = req[field];
  if (typeof v !== 'string' || v.trim() === '')
    throw new Refusal(status.INVALID_ARGUMENT, `${field} is required`);
  return v.trim();
}

type Handler = (req: Record<string, unknown>) => unknown;

/** Wraps a handler with auth and error mapping. */
function unary(name: string, token: string, fn: Handler) {
  return (call: ServerUnaryCall<Record<string, unknown>, unknown>, cb: sendUnaryData<unknown>) => {
    const fail = (err: unknown): void => {
      if (err instanceof Refusal) {
        cb({ code: err.code, details: err.message });
        return;
      }
      if (err instanceof AdminError) {
        cb({ code: CODES[err.code], details: err.message });
        return;
      }
      log.error('admin call failed', { rpc: name, error: err as Error });
      cb({ code: status.INTERNAL, details: `internal error: ${(err as Error).message}` });
    };
    try {
      authorize(call.metadata, token);
      const result = fn(call.request);
      // A handler may answer later (an experiment starts once its split is live).
      if (result instanceof Promise) result.then((r) => cb(null, r), fail);
      else cb(null, result);
    } catch (err) {
      fail(err);
    }
  };
}

/** Starts the admin server; resolves once it listens. */
export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const { backend, token } = opts;
  if (!token) throw new Error('the admin server needs a token');
  const server = new Server();
  const command = (c: CommandName) => (req: Record<string, unknown>) => {
    const reason = typeof req['reason'] === 'string' && req['reason'] ? req['reason'] : undefined;
    return backend.command(required(req, 'service'), c, reason);
  };
  const follows = opts.follower?.refuse;
  const experiments = (): ExperimentBackend => {
    if (opts.experiments) return opts.experiments;
    if (follows) throw new Refusal(status.FAILED_PRECONDITION, follows());
    throw new Refusal(status.UNIMPLEMENTED, 'this daemon runs no experiments');
  };
  const handlers: Record<string, Handler> = {
    Deploy: (req) => backend.deploy(required(req, 'service'), required(req, 'version')),
    Status: (req) => ({
      services: backend.status((req['service'] as string) || undefined).map((s) => ({
        ...s,
        deployment: s.deployment ?? undefined,
      })),
      nowMs: Date.now(),
      uiUrl: opts.uiUrl ?? '',
      follower: opts.follower !== undefined,
      leader: opts.follower?.leader() ?? '',
    }),
    Promote: command('promote'),
    Rollback: command('rollback'),
    Pause: command('pause'),
    Resume: command('resume'),
    Abort: command('abort'),
    History: (req) => ({
      deployments: backend.history((req['service'] as string) || undefined, Number(req['limit']) || 20),
    }),
    ExperimentStart: (req) =>
      experiments().start({
        service: required(req, 'service'),
        version: required(req, 'version'),
        split: Number(req['split']),
        outcome: required(req, 'outcome'),
        windowMs: Number(req['windowMs']),
        alpha: Number(req['alpha']),
        minEffect: Number(req['minEffect']),
      }),
    ExperimentStatus: (req) => ({
      experiments: experiments().status((req['service'] as string) || undefined),
    }),
    ExperimentStop: (req) => experiments().stop(required(req, 'service'), String(req['reason'] ?? '')),
    Explain: (req) => {
      const id = Number(req['decisionId']);
      if (!Number.isInteger(id) || id <= 0)
        throw new Refusal(status.INVALID_ARGUMENT, 'decision_id is required');
      return backend.explain(id);
    },
  };
  if (opts.chaos) Object.assign(handlers, chaosHandlers(opts.chaos));
  else if (follows) {
    // The leader runs chaos experiments: a follower names it rather than not knowing the calls.
    const refuse = () => {
      throw new Refusal(status.FAILED_PRECONDITION, follows());
    };
    Object.assign(handlers, { ChaosStart: refuse, ChaosStatus: refuse, ChaosStop: refuse });
  }
  const impl: Record<string, ReturnType<typeof unary>> = {};
  for (const [name, fn] of Object.entries(handlers)) impl[name] = unary(name, token, fn);
  server.addService(adminServiceDefinition(), impl);

  const credentials = serverCredentials(opts.tls, 'daemon.admin.tls');
  const listen = opts.listen ?? '127.0.0.1:7070';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info('admin API listening', { listen, port, tls: Boolean(opts.tls) });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
      }),
  };
}
