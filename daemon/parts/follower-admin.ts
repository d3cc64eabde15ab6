/**
 * The admin API of a follower on a shared store (docs/ha.md), run by the
 * leader part while this daemon does not lead, on the same address as the
 * leader's: reads (status, history, explain) are answered from the store;
 * commands, and the experiments and chaos calls only the leader runs, are
 * refused with the leader's admin address. Status says the daemon follows
 * and names the leader.
 */
import { storedDecisions } from '../admin/decision-view.js';
import { RolloutAdminBackend } from '../admin/rollout-backend.js';
import { type AdminServer, startAdminServer } from '../admin/server.js';
import { ensureAdminToken } from '../admin/token.js';
import type { LeaderLease } from '../ha/lease.js';
import { logger } from '../log.js';
import { storeDeploymentRepo } from '../rollout/store-repo.js';
import type { DaemonPart, UmbradContext } from './context.js';

const log = logger('admin');

export function followerAdminPart(lease: LeaderLease): DaemonPart {
  let server: AdminServer | undefined;
  return {
    name: 'follower-admin',
    async start(ctx: UmbradContext) {
      const { config, store } = ctx;
      const leader = () => lease.leader()?.address;
      const refuse = () => {
        const at = leader();
        return at
          ? `this daemon follows: send commands to the leader's admin API at ${at}`
          : 'this daemon follows and no daemon leads at the moment (the lease is free or PostgreSQL is unreachable): try again shortly';
      };
      const backend = new RolloutAdminBackend({
        services: config.services,
        repo: storeDeploymentRepo(store),
        decision: storedDecisions(store),
        refuseCommands: refuse,
      });
      server = await startAdminServer({
        backend,
        token: ensureAdminToken(config.daemon.admin.tokenFile),
        listen: config.daemon.admin.listen,
        ...(config.daemon.admin.tls ? { tls: config.daemon.admin.tls } : {}),
        follower: { leader, refuse },
      });
      log.info('admin API listening (follower)', { port: server.port });
    },
    async stop() {
      await server?.close();
      server = undefined;
    },
  };
}
