/**
 * The reset sink: a loopback TCP listener that resets every connection it
 * accepts, once the request has arrived. A reset fault routes a share of
 * the candidate's (and the baseline's) calls to a dependency here
 * (xds/resources/egress.ts), so that Envoy meets a real upstream reset on
 * them. Opened by the first reset fault, kept while the daemon runs; it
 * never holds the process open.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type ChaosFault, dependencyFaults, resets } from '../chaos/fault.js';
import { logger } from '../log.js';
import type { DesiredEndpoint, DesiredFault } from '../xds/resources/desired.js';

const log = logger('chaos');

export class ResetSink {
  #server: Server | undefined;
  #opening: Promise<DesiredEndpoint> | undefined;
  #resets = 0;

  /** Connections reset so far. */
  get resets(): number {
    return this.#resets;
  }

  /** Where the sink listens; opens it on first use (127.0.0.1, a port the kernel picks). */
  endpoint(): Promise<DesiredEndpoint> {
    this.#opening ??= new Promise((resolve, reject) => {
      const server = createServer((socket) => this.#reset(socket));
      server.once('error', (err) => {
        this.#opening = undefined;
        reject(err);
      });
      server.listen(0, '127.0.0.1', () => {
        server.unref();
        this.#server = server;
        const { port } = server.address() as { port: number };
        log.info('reset sink listening', { port });
        resolve({ address: '127.0.0.1', port });
      });
    });
    return this.#opening;
  }

  #reset(socket: Socket): void {
    socket.on('error', () => {});
    // Once the request is in: the caller's proxy sees its upstream reset before any response.
    socket.once('data', () => {
      this.#resets++;
      socket.resetAndDestroy();
    });
    // A connection that sends nothing is reset too, not kept open.
    socket.setTimeout(5000, () => socket.resetAndDestroy());
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#opening = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** The daemon's one reset sink. */
export const resetSink = new ResetSink();

/** The xDS faults of a chaos experiment; a reset fault opens the sink first (its address goes in the route). */
export async function desiredFaults(
  faults: readonly ChaosFault[],
  sink = resetSink,
): Promise<DesiredFault[]> {
  return dependencyFaults(faults, resets(faults) ? await sink.endpoint() : undefined);
}
