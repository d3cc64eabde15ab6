/**
 * The proxies connected to the other daemons of a shared store, as the
 * leader's routing sees them (docs/ha.md): a publish waits for their ACKs
 * as for its own proxies'. Every daemon that does not lead records the
 * nodes with an ADS stream open on it, with the versions each ACKed there
 * and its standing refusal (parts/xds-share.ts, within 250 ms of a change);
 * a daemon that dies stops counting once it is no longer live (its streams
 * went with it), and a proxy that went away is no longer recorded, so it is
 * not waited for.
 *
 * NOTE: the wait reads the versions ACKed from the store, not the ACK events
 * the leader relays: a proxy that ACKed a version before this leader took
 * over (or more than the relay's replay window ago) sends no new ACK for
 * it, and a publish that changes one type still waits for every type.
 *
 * As for the leader's own proxies, a node whose refusal (NACK) stands is not
 * waited for: a proxy that refused a listener never subscribes to its
 * routes, so the wait would only time out.
 */
import type { SharedXds, StoredXdsStream } from '../store/pg-shared-xds.js';
import { type NackRecord, SHORT_NAME, type TypeUrl, XdsNackError } from '../xds/index.js';

/** How often a wait reads the store, ms. */
export const REMOTE_POLL_MS = 250;

/** The controller's `RemoteProxies` (controller/routing.ts) over the shared store. */
export class RemoteProxyTracker {
  readonly #shared: Pick<SharedXds, 'streamsElsewhere'>;
  readonly #liveMs: number;
  readonly #pollMs: number;

  constructor(shared: Pick<SharedXds, 'streamsElsewhere'>, liveMs: number, pollMs = REMOTE_POLL_MS) {
    this.#shared = shared;
    this.#liveMs = liveMs;
    this.#pollMs = pollMs;
  }

  #read(): StoredXdsStream[] {
    return this.#shared.streamsElsewhere(this.#liveMs);
  }

  /**
   * Nodes with an ADS stream open on another live daemon and no refusal
   * standing there: those a publish waits for (one read; throws what the
   * store throws).
   */
  awaited(): ReadonlySet<string> {
    const rows = this.#read();
    const refusing = new Set(rows.filter((s) => s.nack !== undefined).map((s) => s.node));
    return new Set(rows.map((s) => s.node).filter((n) => !refusing.has(n)));
  }

  /** Per node and other live daemon it is connected to, what it ACKed there (throws what the store throws). */
  acked(): { node: string; acked: Record<string, string> }[] {
    return this.#read().map((s) => ({ node: s.node, acked: s.acked }));
  }

  /**
   * Resolves once the node ACKed `version` of `typeUrl` on another daemon;
   * rejects with {@link XdsNackError} when it refused that version there,
   * or with an Error after `timeoutMs`. A store that cannot be read is
   * read again on the next round.
   */
  async waitForAck(nodeId: string, typeUrl: TypeUrl, version: string, timeoutMs: number): Promise<void> {
    const short = SHORT_NAME[typeUrl];
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let rows: StoredXdsStream[] = [];
      try {
        rows = this.#read().filter((s) => s.node === nodeId);
      } catch {
        // The next round reads again; the deadline bounds the wait.
      }
      if (rows.some((s) => s.acked[short] === version)) return;
      const nack = rows.map((s) => s.nack as NackRecord | undefined).find((n) => n?.typeUrl === typeUrl);
      if (nack && nack.version === version) throw new XdsNackError(nack);
      const left = deadline - performance.now();
      if (left <= 0)
        throw new Error(
          `no ACK of ${short} ${version} from ${nodeId} (through another daemon) in ${timeoutMs} ms`,
        );
      await new Promise((r) => setTimeout(r, Math.min(this.#pollMs, left)));
    }
  }
}
