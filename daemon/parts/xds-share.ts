/**
 * Every daemon of a shared store serves xDS (docs/ha.md). The leader's
 * controller renders and publishes each node's snapshot; the publish part
 * below stores every snapshot it sets (fenced by the lease), and the
 * follower's xDS server, on the same address the leader's would use, serves
 * the stored snapshots and follows their changes within {@link FOLLOW_MS}.
 * Snapshots travel as their encoded resources, and versions are digests of
 * them, so every daemon sends a proxy the same versions: one moving from a
 * daemon to another sees no change, and nothing is drained.
 *
 * Why the rendered resources and not the routing inputs: what the leader
 * renders depends on its provisioners' live state (the ports of the
 * instances they run, their health), which no other daemon has.
 *
 * ACKs and NACKs a follower's proxies send are stored; the leader reads them
 * back on the same period and hands them to its refusal handling as its own
 * xDS server's events (a NACK holds the deployment in progress).
 */
import { joinHostPort, splitHostPort } from '../config/addresses.js';
import { startXdsServer } from '../controller/wiring.js';
import { XdsAnswerFeed } from '../ha/xds-answers.js';
import { logger, rateLimited } from '../log.js';
import type { SharedXds } from '../store/pg-shared-xds.js';
import { isKnownType, type Snapshot, snapshotVersions, type XdsServer } from '../xds/index.js';
import { snapshotFromText, snapshotToText } from '../xds/snapshot-codec.js';
import type { DaemonPart } from './context.js';

const log = logger('ha');

/** How often followers read the stored snapshots, and the leader the stored answers, ms. */
export const FOLLOW_MS = 250;
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

/** The leader's side: stores what its xDS server publishes, and relays the followers' proxies' answers to it. */
export function xdsPublishPart(shared: SharedXds): DaemonPart {
  const offs: (() => void)[] = [];
  return {
    name: 'xds-publish',
    async start(ctx) {
      const xds = ctx.xds;
      if (!xds || ctx.config.daemon.xds.upstream) return;
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
      offs.push(() => xds.off('snapshot', save));
      const answers = new XdsAnswerFeed(shared, shared.answersBefore(REPLAY_MS));
      let pruned = 0;
      const relay = (): void => {
        try {
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
      const timer = setInterval(relay, FOLLOW_MS);
      timer.unref();
      offs.push(() => clearInterval(timer));
    },
    async stop() {
      for (const off of offs.splice(0)) off();
    },
  };
}

/** A follower's xDS server: the leader's stored snapshots, followed within {@link FOLLOW_MS}. */
export function followerXdsPart(shared: SharedXds): DaemonPart {
  let xds: XdsServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  return {
    name: 'follower-xds',
    async start(ctx) {
      const { config } = ctx;
      // NOTE: in overlay mode each node's snapshot comes from its own upstream stream; followers serve none.
      if (config.daemon.xds.upstream) return;
      const server = (await startXdsServer(config)).xds;
      xds = server;
      ctx.bound['xds'] = joinHostPort(splitHostPort(config.daemon.xds.listen).host, server.port);
      const limit = rateLimited(10_000);
      const record = (kind: 'ack' | 'nack') => (answer: unknown) => {
        try {
          shared.recordAnswer(kind, answer);
        } catch (err) {
          const suppressed = limit('record');
          if (suppressed >= 0)
            log.warn('xds answer not stored', { kind, error: (err as Error).message, suppressed });
        }
      };
      server.on('ack', record('ack'));
      server.on('nack', record('nack'));
      const served = new Map<string, string>();
      const follow = (): void => {
        try {
          for (const [node, versions] of shared.versions()) {
            if (served.get(node) === versions) continue;
            const row = shared.snapshot(node);
            if (!row) continue;
            const decoded = snapshotFromText(row.snapshot);
            if (!decoded.ok) {
              const suppressed = limit(`decode:${node}`);
              if (suppressed >= 0)
                log.error('stored snapshot refused', { node, errors: decoded.errors, suppressed });
              continue;
            }
            server.setSnapshot(node, decoded.snapshot);
            served.set(node, row.versions);
          }
        } catch (err) {
          // The proxies keep the last snapshot served; the next round tries again.
          const suppressed = limit('follow');
          if (suppressed >= 0)
            log.warn('stored snapshots not read', { error: (err as Error).message, suppressed });
        }
      };
      follow();
      timer = setInterval(follow, FOLLOW_MS);
      timer.unref();
      log.info('xds server listening (follower)', { port: server.port });
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await xds?.close();
      xds = undefined;
    },
  };
}
