/**
 * Every daemon of a shared store serves xDS (docs/ha.md). The leader's
 * controller renders and publishes each node's snapshot and stores every
 * snapshot it sets (fenced by the lease, ha/xds-publish.ts); the follower's
 * xDS server below, on the same address the leader's would use, serves the
 * stored snapshots and follows their changes within {@link FOLLOW_MS}.
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
 * xDS server's events (a NACK holds the deployment in progress). Each
 * follower also stores which nodes are connected to it, so that the
 * leader's publishes wait for those proxies' ACKs (ha/remote-proxies.ts).
 */
import { joinHostPort, splitHostPort } from '../config/addresses.js';
import { startXdsServer } from '../controller/wiring.js';
import { logger, rateLimited } from '../log.js';
import type { SharedXds, StoredXdsStream } from '../store/pg-shared-xds.js';
import type { XdsServer } from '../xds/index.js';
import { snapshotFromText } from '../xds/snapshot-codec.js';
import type { DaemonPart } from './context.js';

const log = logger('ha');

/** How often followers read the stored snapshots, ms. */
export const FOLLOW_MS = 250;

/** A follower's xDS server: the leader's stored snapshots, followed within {@link FOLLOW_MS}. */
export function followerXdsPart(shared: SharedXds): DaemonPart {
  let xds: XdsServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  let clearStreams: (() => void) | undefined;
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
      // The nodes connected here, for the leader to wait for their ACKs (ha/remote-proxies.ts).
      let recorded: string | undefined;
      const recordStreams = (): void => {
        const nodes: StoredXdsStream[] = [];
        for (const node of server.nodeIds().sort()) {
          const st = server.status(node);
          if (!st || st.streams === 0) continue;
          nodes.push({ node, acked: st.acked, ...(st.lastNack ? { nack: st.lastNack } : {}) });
        }
        const key = JSON.stringify(nodes);
        if (key === recorded) return;
        try {
          shared.setStreams(nodes);
          recorded = key;
        } catch (err) {
          const suppressed = limit('streams');
          if (suppressed >= 0)
            log.warn('connected proxies not stored', { error: (err as Error).message, suppressed });
        }
      };
      clearStreams = () => {
        try {
          shared.setStreams([]);
        } catch {
          // The leader stops counting them once this daemon is no longer live.
        }
      };
      const follow = (): void => {
        recordStreams();
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
      clearStreams?.();
      clearStreams = undefined;
    },
  };
}
