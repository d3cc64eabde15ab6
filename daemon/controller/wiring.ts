/**
 * The controller's connections to the daemon's other parts, each built from
 * configuration: the xDS server the proxies connect to, and the control sink
 * that turns the rollout's mirroring settings into telemetry control messages.
 */
import { splitHostPort } from '../config/addresses.js';
import type { UmbraConfig } from '../config/schema.js';
import { serverCredentials } from '../config/tls.js';
import { ensureTokenFile } from '../platform/token-file.js';
import type { TelemetryServer } from '../telemetry/server.js';
import { XdsServer } from '../xds/index.js';
import { OverlayRelay } from '../xds/overlay/relay.js';
import { upstreamTarget } from '../xds/overlay/target.js';
import type { ControlSink } from './effects.js';
import type { RoutingTable } from './routing.js';

/** The xDS server, and in overlay mode the relay that feeds it from the upstream control plane. */
export interface XdsParts {
  xds: XdsServer;
  overlay?: OverlayRelay;
}

/**
 * Starts the xDS server of `daemon.xds`: configuration only for the node ids
 * configured (matched exactly), and only with the token when one is set. With
 * `upstream` (overlay mode) any node id is served what the upstream sends it.
 */
export async function startXdsServer(config: UmbraConfig): Promise<XdsParts> {
  const { xds } = config.daemon;
  const listen = splitHostPort(xds.listen);
  const overlay = xds.upstream ? new OverlayRelay(upstreamTarget(xds.upstream)) : undefined;
  const server = await XdsServer.start({
    host: listen.host,
    port: listen.port,
    credentials: serverCredentials(xds.tls, 'daemon.xds.tls'),
    ...(overlay ? { observer: overlay } : { nodes: new Set(xds.nodes) }),
    ...(xds.tokenFile ? { token: ensureTokenFile(xds.tokenFile, 'xds token') } : {}),
  });
  overlay?.attach(server);
  return { xds: server, ...(overlay ? { overlay } : {}) };
}

/** Mirroring settings to every filter stream of a service; nothing without a telemetry server. */
export function telemetryControl(telemetry: TelemetryServer | undefined): ControlSink {
  return {
    setControl(service, c) {
      if (!telemetry) return;
      telemetry.setPercentage(service, c.percentage);
      if (c.paused) telemetry.pause(service);
      else telemetry.resume(service);
    },
  };
}

/**
 * The configured mirror share turned into the share the filters apply to the
 * requests that enter them: Envoy already sampled those (filter-gate.ts).
 * Route effects run before the control effects that follow them
 * (rollout/desired.ts), so the scale is the one of the routes just published.
 */
export function gatedControl(
  sink: ControlSink,
  routing: Pick<RoutingTable, 'insidePercentage'>,
): ControlSink {
  return {
    setControl(service, c) {
      sink.setControl(service, { ...c, percentage: routing.insidePercentage(service, c.percentage) });
    },
  };
}

/** The alert webhook of a service: its own, else the daemon's. */
export function webhookFor(config: UmbraConfig): (service: string) => string | undefined {
  return (service) =>
    config.services.find((s) => s.name === service)?.alerts.webhook ?? config.daemon.alerts.webhook;
}
