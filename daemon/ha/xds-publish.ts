/**
 * The leader's side of xDS on a shared store (docs/ha.md): every snapshot
 * its xDS server sets is stored (fenced by the lease), for the other daemons
 * to serve; and the ACKs and NACKs their proxies sent, stored by them, are
 * read back every {@link RELAY_MS} and handed to its refusal handling as its
 * own xDS server's events (a NACK holds the deployment in progress).
 *
 * Started by the controller as soon as its xDS server exists (before its
 * first publish), so the other daemons serve the new leader's snapshots,
 * and their proxies can ACK them, while that publish waits for the ACKs.
 */
import { logger, rateLimited } from '../log.js';
import type { SharedXds } from '../store/pg-shared-xds.js';
import { isKnownType, type Snapshot, snapshotVersions, type XdsServer } from '../xds/index.js';
import { snapshotToText } from '../xds/snapshot-codec.js';
import { XdsAnswerFeed } from './xds-answers.js';

const log = logger('ha');

/** How often the leader reads the stored answers, ms. */
export const RELAY_MS = 250;
/** Answers recorded before the leader took over that it still reads, ms (a NACK that came during the failover). */
const REPLAY_MS = 30_000;
/** Answers kept in the store, ms. */
const KEEP_MS = 600_000;

/** Whether a stored answer has what the refusal handling reads. */
function wellFormed(a: unknown): boolean {
  if (a === null || typeof a !== 'object') return false;
  const r = a as Record<string, unknown>;
  return (
    typeof r['nodeId'] === 'string' &&
    typeof r['typeUrl'] === 'string' &&
    isKnownType(r['typeUrl']) &&
    typeof r['version'] === 'string'
  );
}

/**
 * Stores every snapshot `xds` sets (and those it has), and relays the other
 * daemons' proxies' answers to it; returns the function that stops both.
 */
export function shareSnapshots(xds: XdsServer, shared: SharedXds): () => void {
  const limit = rateLimited(10_000);
  const save = (node: string, snapshot: Snapshot): void => {
    try {
      shared.publish(node, snapshotVersions(snapshot), snapshotToText(snapshot));
    } catch (err) {
      const suppressed = limit('publish');
      if (suppressed >= 0)
        log.error('snapshot not shared', { node, error: (err as Error).message, suppressed });
    }
  };
  for (const node of xds.nodeIds()) {
    const s = xds.snapshot(node);
    if (s) save(node, s);
  }
  xds.on('snapshot', save);
  let answers: XdsAnswerFeed | undefined;
  let pruned = 0;
  const relay = (): void => {
    try {
      answers ??= new XdsAnswerFeed(shared, shared.answersBefore(REPLAY_MS));
      for (const a of answers.read()) {
        if (wellFormed(a.answer)) xds.emit(a.kind, a.answer);
        else log.warn('stored xds answer ignored: malformed', { id: a.id, daemon: a.daemon });
      }
      if (Date.now() - pruned > 60_000) {
        pruned = Date.now();
        shared.pruneAnswers(KEEP_MS);
      }
    } catch (err) {
      const suppressed = limit('relay');
      if (suppressed >= 0)
        log.warn('stored xds answers not read', { error: (err as Error).message, suppressed });
    }
  };
  const timer = setInterval(relay, RELAY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    xds.off('snapshot', save);
  };
}
