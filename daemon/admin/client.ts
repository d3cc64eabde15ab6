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
  /**
   * Told (a sentence) when a call is tried again on a new connection: see
   * {@link AdminClient}. Default: nothing is said.
   */
  onReconnect?: (message: string) => void;
}

/** Calls that change nothing: tried again after a lost connection too. */
const READS = new Set(['Status', 'History', 'Explain', 'ExperimentStatus', 'ChaosStatus']);

/** How long a call tried again waits for the daemon to answer, at least. */
const RETRY_WAIT_MS = 30_000;

/**
 * Why a failed call is worth one more try on a new connection, or undefined.
 * NOTE: a daemon on a shared store swaps its admin server when it starts or
 * stops leading (docs/ha.md), on the same address, the leader's once its
 * controller has started. A call that meets the server going away finds it
 * without handlers and is answered UNIMPLEMENTED (grpc-js: "The server does
 * not implement the method"), though it never ran; in between, connections
 * are refused (UNAVAILABLE). A call is tried again on UNIMPLEMENTED; a read
 * also on UNAVAILABLE, but only on a channel the daemon answered before (a
 * loop watching it): a daemon that is down is said unreachable at once.
 */
function retryable(rpc: string, err: ServiceError, answeredBefore: boolean): string | undefined {
  if (err.code === status.UNIMPLEMENTED) return 'UNIMPLEMENTED';
  if (err.code === status.UNAVAILABLE && READS.has(rpc) && answeredBefore) return 'UNAVAILABLE';
  return undefined;
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

/**
 * One channel to a daemon's admin API. A call that failed in a way that ran
 * nothing (see `retryable`) is tried once more on a new channel, waiting
 * for the daemon to listen again (at least 30 s), after telling
 * `onReconnect`: a watch loop survives its daemon switching from follower to
 * leader.
 */
export class AdminClient {
  #client: Client;
  /**
   * Calls not yet ended, per channel. A channel replaced for a retry is
   * closed once its last call ends: closing it at once would cancel calls
   * other callers have in flight on it (they may have run).
   */
  readonly #inFlight = new Map<Client, number>();
  /** Channels replaced for a retry, still carrying calls. */
  readonly #retired = new Set<Client>();
  readonly #o: AdminClientOptions;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #address: string;
  /** A call on this client has been answered (the daemon was there). */
  #answered = false;

  constructor(opts: AdminClientOptions) {
    this.#o = opts;
    this.#client = AdminClient.#open(opts);
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#address = opts.address;
  }

  static #open(opts: AdminClientOptions): Client {
    const Ctor = adminService();
    const creds =
      opts.tlsCaFile === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(opts.tlsCaFile ? readFileSync(opts.tlsCaFile) : null);
    return new Ctor(opts.address, creds);
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

  /** Closes every channel: calls still in flight are cancelled. */
  close(): void {
    this.#client.close();
    for (const c of this.#retired) c.close();
    this.#retired.clear();
  }

  async #call<T>(rpc: string, req: unknown): Promise<T> {
    try {
      return await this.#once<T>(rpc, req, this.#timeoutMs, false);
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      const why = err.why;
      this.#o.onReconnect?.(
        `the daemon at ${this.#address} answered ${rpc} with ${why} (it may be switching between follower and leader); trying once more on a new connection`,
      );
      // Another call's retry may have replaced the channel already: then this one uses that.
      if (err.channel === this.#client) this.#replace();
      return this.#once<T>(rpc, req, Math.max(this.#timeoutMs, RETRY_WAIT_MS), true);
    }
  }

  /** A new channel for the calls to come; the old one closes once its calls have ended. */
  #replace(): void {
    const old = this.#client;
    this.#client = AdminClient.#open(this.#o);
    if (this.#inFlight.has(old)) this.#retired.add(old);
    else old.close();
  }

  /** Counts a call ending on `channel`, closing a replaced channel with its last call. */
  #ended(channel: Client): void {
    const n = (this.#inFlight.get(channel) ?? 1) - 1;
    if (n > 0) return void this.#inFlight.set(channel, n);
    this.#inFlight.delete(channel);
    if (this.#retired.delete(channel)) channel.close();
  }

  /** One call; `last`: errors are final, and the call waits for the daemon to listen. */
  #once<T>(rpc: string, req: unknown, timeoutMs: number, last: boolean): Promise<T> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.#token}`);
    if (last) md.setOptions({ waitForReady: true });
    const channel = this.#client;
    const fn = (channel as unknown as Record<string, Rpc>)[rpc.charAt(0).toLowerCase() + rpc.slice(1)]!;
    this.#inFlight.set(channel, (this.#inFlight.get(channel) ?? 0) + 1);
    return new Promise((resolve, reject) => {
      fn.call(channel, req, md, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        this.#ended(channel);
        if (!err) {
          this.#answered = true;
          return resolve(res as T);
        }
        const why = last ? undefined : retryable(rpc, err, this.#answered);
        if (why) return reject(new RetryableError(why, channel));
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

/** A first try that failed in a way worth one more (never leaves the client). */
class RetryableError extends Error {
  constructor(
    readonly why: string,
    /** The channel the call failed on. */
    readonly channel: Client,
  ) {
    super(why);
  }
}
