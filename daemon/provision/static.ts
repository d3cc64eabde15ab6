/**
 * The `static` provisioner: versions run elsewhere at fixed endpoints. It
 * starts and stops nothing; `ensure` reports the configured endpoints (all
 * taken as healthy: Envoy's own health checking applies), whatever the size
 * asked for, and the `baseline` pool of a version is that version's
 * endpoints.
 */
import type { StaticProvisioner as StaticConfig } from '../config/schema.js';
import type { Endpoint, PoolRef, PoolStatus, Provisioner } from './provisioner.js';
import { ProvisionError } from './provisioner.js';

function parseEndpoint(hostPort: string): Endpoint {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

export class StaticProvisioner implements Provisioner {
  readonly kind = 'static';
  readonly #versions: Map<string, Endpoint[]>;
  readonly #ensured = new Map<string, PoolRef>();

  constructor(config: StaticConfig) {
    this.#versions = new Map(
      Object.entries(config.versions).map(([v, c]) => [v, c.endpoints.map(parseEndpoint)]),
    );
  }

  versions(): string[] {
    return [...this.#versions.keys()];
  }

  async ensure(ref: PoolRef, _replicas?: number): Promise<PoolStatus> {
    this.#endpointsOf(ref.version);
    this.#ensured.set(`${ref.version}/${ref.pool}`, ref);
    return this.#status(ref);
  }

  async stop(ref: PoolRef): Promise<void> {
    this.#ensured.delete(`${ref.version}/${ref.pool}`);
  }

  endpoints(ref: PoolRef): Endpoint[] {
    return this.#ensured.has(`${ref.version}/${ref.pool}`) ? this.#endpointsOf(ref.version) : [];
  }

  status(): PoolStatus[] {
    return [...this.#ensured.values()].map((r) => this.#status(r));
  }

  async close(): Promise<void> {
    this.#ensured.clear();
  }

  /** Static endpoints run on their own: nothing to leave running or to stop. */
  async release(): Promise<void> {
    this.#ensured.clear();
  }

  #endpointsOf(version: string): Endpoint[] {
    const e = this.#versions.get(version);
    if (!e)
      throw new ProvisionError(`unknown version '${version}' (configured: ${this.versions().join(', ')})`);
    return e.map((x) => ({ ...x }));
  }

  #status(ref: PoolRef): PoolStatus {
    const eps = this.#endpointsOf(ref.version);
    return {
      ...ref,
      desired: eps.length,
      ready: eps.length,
      instances: eps.map((endpoint, index) => ({ index, endpoint, healthy: true })),
    };
  }
}
