/**
 * The controller's way to the proxies: the provisioners of every service, the
 * xDS server (and in overlay mode the relay from the upstream), and the
 * routing table over them. Pools whose endpoints move on their own (exec;
 * process instances turning healthy or not) are republished where they are
 * now, but only once every service's routing is set (`routesSet`).
 */
import { join, resolve } from 'node:path';
import { joinHostPort, splitHostPort } from '../../config/addresses.js';
import { dependencyEnv } from '../../config/dependencies.js';
import { RoutingTable } from '../../controller/routing.js';
import { startXdsServer } from '../../controller/wiring.js';
import { logger } from '../../log.js';
import { createProvisioner } from '../../provision/factory.js';
import type { PoolRef, Provisioner } from '../../provision/provisioner.js';
import type { XdsServer } from '../../xds/index.js';
import type { OverlayRelay } from '../../xds/overlay/relay.js';
import type { UmbradContext } from '../context.js';
import type { Teardown } from './teardown.js';

const log = logger('controller');

export interface RoutingWiring {
  provisioners: Map<string, Provisioner>;
  xds: XdsServer;
  overlay?: OverlayRelay;
  routing: RoutingTable;
  /** Call once every service's routing is set: endpoint changes publish from then on. */
  routesSet(): void;
}

export interface RoutingWiringOptions {
  logDir?: string;
  stopInstancesOnExit?: boolean;
}

export async function wireRouting(
  ctx: UmbradContext,
  o: RoutingWiringOptions,
  teardown: Teardown,
): Promise<RoutingWiring> {
  const { config } = ctx;
  const logDir = resolve(o.logDir ?? join(config.daemon.store.path, '..', 'instances'));
  const provisioners = new Map<string, Provisioner>();
  for (const s of config.services) {
    const dependencyEnvOf = (ref: PoolRef) => dependencyEnv(s, ref.version, ref.pool);
    provisioners.set(
      s.name,
      createProvisioner(s.provisioner, { service: s.name, logDir, dependencyEnv: dependencyEnvOf }),
    );
  }
  // A daemon stop is not an outage: what serves production keeps running unless asked otherwise.
  teardown.add('provisioners', async () => {
    for (const p of provisioners.values()) {
      await (o.stopInstancesOnExit ? p.close() : p.release()).catch((err: Error) =>
        log.error('provisioner failed to stop', { error: err.message }),
      );
    }
  });

  const { xds, overlay } = await startXdsServer(config);
  teardown.add('xds', () => xds.close());
  if (overlay) teardown.add('overlay', () => overlay.close());
  ctx.bound['xds'] = joinHostPort(splitHostPort(config.daemon.xds.listen).host, xds.port);
  ctx.xds = xds;
  // Several daemons: the others serve what this leader publishes from its first publish on.
  if (ctx.shared && !overlay) teardown.add('xds share', ctx.shared.shareXds(xds));

  const telemetry = ctx.telemetry;
  const routing = new RoutingTable({
    config,
    xds,
    provisioners,
    ...(overlay ? { overlay } : {}),
    ...(telemetry?.token ? { telemetryToken: telemetry.token } : {}),
    ...(telemetry ? { telemetryPort: telemetry.port } : {}),
    // Several daemons: the proxies' telemetry cluster lists them all, and publishes wait for their proxies too.
    ...(ctx.shared && !overlay
      ? { telemetryMembers: ctx.shared.telemetryMembers, remoteProxies: ctx.shared.remoteProxies }
      : {}),
  });
  // NOTE: a publish before the services' routing is set (startServices) would
  // send the proxies the default, the stable version alone, and drop the
  // clusters a deployment in progress routes users to.
  let set = false;
  let missed = false;
  const republish = (reason: Record<string, unknown>): void => {
    if (!set) {
      missed = true;
      return;
    }
    routing
      .publish()
      .catch((err: Error) =>
        log.warn('routing not republished after an endpoint change', { ...reason, error: err.message }),
      );
  };
  for (const [service, p] of provisioners) {
    const off = p.onEndpointsChange?.((ref) => republish({ service, ...ref }));
    if (off) teardown.add(`endpoint changes of ${service}`, off);
  }
  // A daemon joining or leaving changes the telemetry cluster's endpoints (EDS only).
  if (ctx.shared && !overlay) {
    teardown.add(
      'telemetry members',
      ctx.shared.onMembersChange(() => republish({ at: 'telemetry members' })),
    );
  }
  return {
    provisioners,
    xds,
    ...(overlay ? { overlay } : {}),
    routing,
    routesSet() {
      set = true;
      // An endpoint change while the serving versions came up may postdate their publish.
      if (missed) republish({ at: 'start' });
    },
  };
}
