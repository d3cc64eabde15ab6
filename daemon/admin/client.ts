/**
 * A promise-based client of the admin API, used by the CLI. Errors come back
 * as {@link AdminCallError} carrying the server's message and status code.
 */
import { readFileSync } from 'node:fs';
import { type Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { CommandName } from '../rollout/types.js';
import type { ChaosExperimentView } from './chaos-api.js';
import type { ExperimentStartInput, ExperimentView } from './experiment-backend.js';
import type { DecisionView, DeploymentView, HistoryEntryView, ServiceStatusView } from './port.js';
import { adminService } from './proto.js';

export interface AdminClientOptions {
  /** host:port of the admin API. */
  address: string;
  token: string;
  /** Use TLS, trusting this CA file (the system roots when empty string). */
  tlsCaFile?: string;
  /** Per-call deadline. Default 10 s. */
  timeoutMs?: number;
}

/** A failed call: `code` is the gRPC status, `message` the server's words. */
export class AdminCallError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

type Rpc = (
  req: unknown,
  md: Metadata,
  opts: { deadline: Date },
  cb: (err: ServiceError | null, res: unknown) => void,
) => void;

export class AdminClient {
  #client: Client;
  readonly #open: () => Client;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #address: string;

  constructor(opts: AdminClientOptions) {
    const Ctor = adminService();
    const creds =
      opts.tlsCaFile === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(opts.tlsCaFile ? readFileSync(opts.tlsCaFile) : null);
    this.#open = () => new Ctor(opts.address, creds);
    this.#client = this.#open();
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#address = opts.address;
  }

  deploy(service: string, version: string): Promise<{ deployment: DeploymentView; message: string }> {
    return this.#call('Deploy', { service, version });
  }

  experimentStart(req: ExperimentStartInput): Promise<{ experiment: ExperimentView; message: string }> {
    return this.#call('ExperimentStart', req);
  }

  async experimentStatus(service?: string): Promise<ExperimentView[]> {
    const r = await this.#call<{ experiments?: ExperimentView[] }>('ExperimentStatus', {
      service: service ?? '',
    });
    return r.experiments ?? [];
  }

  experimentStop(service: string, reason = ''): Promise<{ experiment: ExperimentView; message: string }> {
    return this.#call('ExperimentStop', { service, reason });
  }

  /**
   * `uiUrl`: the live page, '' when the daemon does not serve it. `follower`:
   * the daemon follows on a shared store (docs/ha.md); `leader` is then the
   * leader's admin address ('' when none leads).
   */
  async status(service?: string): Promise<{
    services: ServiceStatusView[];
    nowMs: number;
    uiUrl: string;
    follower: boolean;
    leader: string;
  }> {
    const r = await this.#call<{
      services: (ServiceStatusView & { deployment?: DeploymentView | null })[];
      nowMs: number;
      uiUrl?: string;
      follower?: boolean;
      leader?: string;
    }>('Status', { service: service ?? '' });
    return {
      ...r,
      uiUrl: r.uiUrl ?? '',
      follower: r.follower ?? false,
      leader: r.leader ?? '',
      services: r.services.map((s) => ({ ...s, deployment: s.deployment ?? null })),
    };
  }

  command(
    service: string,
    command: CommandName,
    reason?: string,
  ): Promise<{ deployment: DeploymentView; message: string }> {
    const rpc = command[0]!.toUpperCase() + command.slice(1);
    return this.#call(rpc, { service, reason: reason ?? '' });
  }

  async history(service?: string, limit = 20): Promise<HistoryEntryView[]> {
    const r = await this.#call<{ deployments: HistoryEntryView[] }>('History', {
      service: service ?? '',
      limit,
    });
    return r.deployments;
  }

  explain(decisionId: number): Promise<DecisionView> {
    return this.#call('Explain', { decisionId });
  }

  /** Starts a chaos experiment (`faults` as written: `db:delay=200ms@50%`, `lose-replica=1`). */
  chaosStart(req: {
    service: string;
    version: string;
    faults: string[];
    durationMs?: number;
    percentage?: number;
    failOnRegression?: boolean;
  }): Promise<{ experiment: ChaosExperimentView; message: string }> {
    return this.#call('ChaosStart', req);
  }

  async chaosStatus(service?: string): Promise<ChaosExperimentView[]> {
    const r = await this.#call<{ experiments: ChaosExperimentView[] }>('ChaosStatus', {
      service: service ?? '',
    });
    return r.experiments;
  }

  chaosStop(service: string): Promise<{ experiment: ChaosExperimentView; message: string }> {
    return this.#call('ChaosStop', { service, reason: '' });
  }

  close(): void {
    this.#client.close();
  }

  /**
   * NOTE: a daemon on a shared store swaps its admin server when it starts or
   * stops leading (docs/ha.md), on the same address. A channel connected to
   * the server going away may carry a call to it while it shuts down, which
   * then has no handlers and answers UNIMPLEMENTED (grpc-js: "The server does
   * not implement the method"), though the call was never run. Such a call is
   * made once more on a fresh channel, which reaches the server listening now.
   */
  async #call<T>(rpc: string, req: unknown): Promise<T> {
    try {
      return await this.#once<T>(rpc, req);
    } catch (err) {
      if (!(err instanceof AdminCallError) || err.code !== status.UNIMPLEMENTED) throw err;
      this.#client.close();
      this.#client = this.#open();
      return this.#once<T>(rpc, req);
    }
  }

  #once<T>(rpc: string, req: unknown): Promise<T> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.#token}`);
    const client = this.#client;
    const fn = (client as unknown as Record<string, Rpc>)[rpc.charAt(0).toLowerCase() + rpc.slice(1)]!;
    return new Promise((resolve, reject) => {
      fn.call(client, req, md, { deadline: new Date(Date.now() + this.#timeoutMs) }, (err, res) => {
        if (!err) return resolve(res as T);
        if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
          return reject(
            new AdminCallError(
              err.code,
              `cannot reach the Umbra daemon at ${this.#address} (${err.details.replace(/\.?\s*Resolution note:.*$/, '')})`,
            ),
          );
        }
        reject(new AdminCallError(err.code, err.details || err.message));
      });
    });
  }
}
