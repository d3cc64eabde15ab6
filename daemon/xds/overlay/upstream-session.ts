/**
 * The upstream side of one relayed ADS stream, as protocol state only: per
 * type, what the proxy subscribes to (less the names Umbra serves itself),
 * the upstream response not yet answered, and the version last ACKed
 * upstream. Every method returns the request to send upstream, or nothing;
 * no I/O, no timers (upstream-connection.ts sends, relay.ts decides when).
 *
 * NOTE: xDS protocol, "ACK/NACK and resource type instance version": a
 * request carries the nonce of the response it answers and, on an ACK, that
 * response's version; a NACK carries the version last accepted and the
 * error_detail. A control plane sends the next response of a type only after
 * the previous one was answered (go-control-plane opens its next watch on
 * the answer), so each response is answered exactly once, and only when the
 * proxy has answered what Umbra made of it.
 */
import type { DiscoveryRequest } from '../ads-stream.js';
import type { TypeUrl } from '../type-urls.js';

interface UpstreamTypeState {
  names: string[];
  /** The latest upstream response not yet ACKed or NACKed. */
  pending?: { version: string; nonce: string };
  /** The nonce of the last upstream response on the current connection ('' after a reconnect). */
  lastNonce: string;
  /** The version last ACKed upstream ('' before any). */
  acked: string;
}

/** Protocol state of one upstream stream. Owned by one relay entry. */
export class UpstreamSession {
  private readonly types = new Map<TypeUrl, UpstreamTypeState>();

  /**
   * The proxy's subscription to `typeUrl` (names it wants from upstream).
   * Returns the request that tells upstream, when one is due now: the first
   * for the type, or a changed subscription while no response is owed (one
   * that is owed carries the new names with its answer).
   */
  subscribe(typeUrl: TypeUrl, names: readonly string[]): DiscoveryRequest | undefined {
    const sorted = [...names].sort();
    const state = this.types.get(typeUrl);
    if (!state) {
      this.types.set(typeUrl, { names: sorted, lastNonce: '', acked: '' });
      return { type_url: typeUrl, version_info: '', resource_names: sorted, response_nonce: '' };
    }
    const changed = sorted.join('\0') !== state.names.join('\0');
    state.names = sorted;
    if (!changed || state.pending) return undefined;
    return this.request(typeUrl, state, state.acked, state.lastNonce);
  }

  /** Records an upstream response; it stays owed until {@link ack} or {@link nack}. */
  received(typeUrl: TypeUrl, version: string, nonce: string): void {
    const state = this.types.get(typeUrl);
    if (!state) return;
    state.pending = { version, nonce };
    state.lastNonce = nonce;
  }

  /** The owed response of the type, if any. */
  pending(typeUrl: TypeUrl): { version: string; nonce: string } | undefined {
    return this.types.get(typeUrl)?.pending;
  }

  /** ACKs the owed response of `typeUrl` (nothing when none is owed). */
  ack(typeUrl: TypeUrl): DiscoveryRequest | undefined {
    const state = this.types.get(typeUrl);
    if (!state?.pending) return undefined;
    const { version, nonce } = state.pending;
    state.pending = undefined;
    state.acked = version;
    return this.request(typeUrl, state, version, nonce);
  }

  /** NACKs the owed response of `typeUrl` with the proxy's error (nothing when none is owed). */
  nack(typeUrl: TypeUrl, error: { code: number; message: string }): DiscoveryRequest | undefined {
    const state = this.types.get(typeUrl);
    if (!state?.pending) return undefined;
    const { nonce } = state.pending;
    state.pending = undefined;
    return { ...this.request(typeUrl, state, state.acked, nonce), error_detail: error };
  }

  /**
   * A new upstream connection: nonces of the old one mean nothing there, so
   * every subscribed type is asked for afresh, with the version last ACKed
   * (NOTE: xDS protocol: a client reconnecting sends the version it has, so
   * the server may skip what did not change).
   */
  reconnected(): DiscoveryRequest[] {
    const out: DiscoveryRequest[] = [];
    for (const [typeUrl, state] of this.types) {
      state.pending = undefined;
      state.lastNonce = '';
      out.push(this.request(typeUrl, state, state.acked, ''));
    }
    return out;
  }

  private request(
    typeUrl: TypeUrl,
    state: UpstreamTypeState,
    version: string,
    nonce: string,
  ): DiscoveryRequest {
    return {
      type_url: typeUrl,
      version_info: version,
      resource_names: [...state.names],
      response_nonce: nonce,
    };
  }
}
