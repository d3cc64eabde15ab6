/**
 * The rules of umbra.yaml that span fields (a stable version that exists,
 * steps that end at 100, addresses that do not clash, TLS that goes
 * together, …); each reports the path of the field to fix.
 */
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import type { z } from 'zod';
import { clashes, endpointClashes, type NamedAddress, splitHostPort } from './addresses.js';
import { chaosStepChecks } from './chaos-step.js';
import type { DaemonConfig, TelemetryTls, Tls } from './daemon-schema.js';
import { dependencyEnvName } from './dependencies.js';
import { journeyChecks } from './journeys.js';
import { IDEMPOTENT, type ServiceConfig } from './service-schema.js';

/** Overlay mode: a safe way to the upstream, and each service names its upstream resources. */
function upstreamChecks(cfg: { daemon: DaemonConfig; services: ServiceConfig[] }, ctx: Ctx): void {
  const up = cfg.daemon.xds.upstream;
  if (!up) {
    cfg.services.forEach((s, i) => {
      if (s.overlay) issue(ctx, ['services', i, 'overlay'], 'only with daemon.xds.upstream (overlay mode)');
    });
    return;
  }
  if (!isLoopback(up.address) && !up.tls && !up.insecure) {
    issue(
      ctx,
      ['daemon', 'xds', 'upstream', 'address'],
      'a non-loopback address needs tls (or insecure: true)',
    );
  }
  if (up.tls && Boolean(up.tls.certFile) !== Boolean(up.tls.keyFile)) {
    issue(ctx, ['daemon', 'xds', 'upstream', 'tls'], 'certFile and keyFile go together');
  }
  cfg.services.forEach((s, i) => {
    if (!s.overlay) {
      issue(
        ctx,
        ['services', i, 'overlay'],
        "required with daemon.xds.upstream: the upstream's cluster and listener of this service",
      );
    }
  });
}

type Ctx = z.RefinementCtx<unknown>;
const issue = (ctx: Ctx, path: (string | number)[], message: string) =>
  ctx.addIssue({ code: 'custom', path, message });

/** Rules that span fields; each reports the path of the field to fix. */
export function crossChecks(cfg: { daemon: DaemonConfig; services: ServiceConfig[] }, ctx: Ctx): void {
  const admin = cfg.daemon.admin;
  if (!isLoopback(admin.listen) && !admin.tls && !admin.insecure) {
    issue(ctx, ['daemon', 'admin', 'listen'], 'a non-loopback address needs tls (or insecure: true)');
  }
  if (admin.httpListen && !isLoopback(admin.httpListen) && !admin.tls && !admin.insecure) {
    issue(ctx, ['daemon', 'admin', 'httpListen'], 'a non-loopback address needs tls (or insecure: true)');
  }
  telemetryTlsChecks(cfg.daemon.telemetry.tls, cfg.services.length > 0, ctx);
  const advertised = advertiseProblem(cfg.daemon);
  if (advertised) issue(ctx, ['daemon', 'telemetry', 'advertise'], advertised);
  mutualTlsChecks(cfg.daemon, ctx);
  const bound = boundAddresses(cfg);
  for (const c of clashes(bound)) issue(ctx, c.at, c.message);
  for (const c of endpointClashes(staticEndpoints(cfg.services), bound)) issue(ctx, c.at, c.message);
  upstreamChecks(cfg, ctx);
  const seen = new Set<string>();
  cfg.services.forEach((s, i) => {
    if (seen.has(s.name)) issue(ctx, ['services', i, 'name'], `duplicate service '${s.name}'`);
    seen.add(s.name);
    if (!(s.stable in s.provisioner.versions)) {
      issue(ctx, ['services', i, 'stable'], `'${s.stable}' is not in provisioner.versions`);
    }
    const m = s.mirroring;
    if (m.mirroringStrategy === 'user-segment' && !m.userSegment?.header && !m.userSegment?.cookie) {
      issue(ctx, ['services', i, 'mirroring', 'userSegment'], 'user-segment needs a header or a cookie');
    }
    if (m.mirroringStrategy === 'geographic' && !m.geographic) {
      issue(ctx, ['services', i, 'mirroring', 'geographic'], 'geographic needs regions');
    }
    m.methods.forEach((method, j) => {
      if (!IDEMPOTENT.includes(method) && !m.allowWrites) {
        issue(
          ctx,
          ['services', i, 'mirroring', 'methods', j],
          `${method} is not idempotent; set mirroring.allowWrites: true to mirror writes`,
        );
      }
    });
    journeyChecks(s, (path, message) => issue(ctx, ['services', i, ...path], message));
    dependencyChecks(s, i, cfg.daemon.xds.upstream !== undefined, ctx);
    chaosStepChecks(s, (path, message) => issue(ctx, ['services', i, ...path], message));
    const steps = s.rollout.steps;
    steps.forEach((step, j) => {
      if (j > 0 && step.weight <= steps[j - 1]!.weight) {
        issue(
          ctx,
          ['services', i, 'rollout', 'steps', j, 'weight'],
          'must be greater than the previous step',
        );
      }
    });
    if (steps.length > 0 && steps[steps.length - 1]!.weight !== 100) {
      issue(
        ctx,
        ['services', i, 'rollout', 'steps', steps.length - 1, 'weight'],
        'the last step must be 100',
      );
    }
  });
}

/** Dependencies are reached through the service's egress listener, which Umbra serves itself. */
function dependencyChecks(s: ServiceConfig, i: number, overlay: boolean, ctx: Ctx): void {
  const named = Object.keys(s.dependencies).length > 0;
  if (named && !s.egress) issue(ctx, ['services', i, 'egress'], 'required with dependencies');
  if (!named && s.egress) issue(ctx, ['services', i, 'egress'], 'only with dependencies');
  if (named && overlay)
    issue(ctx, ['services', i, 'dependencies'], 'not available with daemon.xds.upstream (overlay mode)');
  const byEnv = new Map<string, string>();
  for (const dep of Object.keys(s.dependencies)) {
    const env = dependencyEnvName(dep);
    const other = byEnv.get(env);
    if (other) issue(ctx, ['services', i, 'dependencies', dep], `same variable ${env} as '${other}'`);
    byEnv.set(env, dep);
  }
}

/**
 * The proxies reach the telemetry port through the `umbra-telemetry` cluster
 * Umbra sends them: with TLS on that port, the cluster needs TLS too, or every
 * filter's stream fails.
 */
function telemetryTlsChecks(tls: TelemetryTls | undefined, hasServices: boolean, ctx: Ctx): void {
  if (!tls) return;
  const at = ['daemon', 'telemetry', 'tls', 'proxy'];
  const proxy = tls.proxy;
  if (!proxy) {
    if (hasServices)
      issue(
        ctx,
        at,
        'required with services: how their proxies reach the telemetry port (caFile, serverName)',
      );
    return;
  }
  if ((proxy.certFile === undefined) !== (proxy.keyFile === undefined)) {
    issue(
      ctx,
      [...at, proxy.certFile === undefined ? 'certFile' : 'keyFile'],
      'certFile and keyFile go together',
    );
  } else if (tls.clientCaFile && proxy.certFile === undefined) {
    issue(
      ctx,
      [...at, 'certFile'],
      'required when clientCaFile is set: the telemetry port asks the proxies for one',
    );
  }
}

/**
 * Telemetry decides rollouts and xDS hands out configuration: off loopback
 * both need TLS with client certificates (`clientCaFile`) unless the
 * operator opts out with `insecure: true`.
 */
function mutualTlsChecks(daemon: DaemonConfig, ctx: Ctx): void {
  for (const key of ['telemetry', 'xds'] as const) {
    const problem = openPortProblem(daemon[key], daemon[key].listen);
    if (problem) issue(ctx, ['daemon', key, ...problem.at], problem.message);
  }
}

/**
 * Why `listen` (the port's own, or a command-line override) would be open to
 * the network: non-loopback without mutual TLS and without `insecure: true`.
 */
export function openPortProblem(
  port: { tls?: Tls | undefined; insecure: boolean },
  listen: string,
): { at: string[]; message: string } | undefined {
  if (isLoopback(listen) || port.insecure) return undefined;
  if (!port.tls)
    return {
      at: ['listen'],
      message: 'a non-loopback address needs tls with clientCaFile (mutual TLS), or insecure: true',
    };
  if (!port.tls.clientCaFile)
    return {
      at: ['tls', 'clientCaFile'],
      message:
        'required on a non-loopback address: only proxies with a client certificate may connect (or insecure: true)',
    };
  return undefined;
}

/** Every address the daemon binds, then every service's listener, in order: a clash names the later one. */
function boundAddresses(cfg: { daemon: DaemonConfig; services: ServiceConfig[] }): NamedAddress[] {
  const d = cfg.daemon;
  return [
    { at: ['daemon', 'admin', 'listen'], hostPort: d.admin.listen },
    ...(d.admin.httpListen ? [{ at: ['daemon', 'admin', 'httpListen'], hostPort: d.admin.httpListen }] : []),
    { at: ['daemon', 'telemetry', 'listen'], hostPort: d.telemetry.listen },
    { at: ['daemon', 'xds', 'listen'], hostPort: d.xds.listen },
    ...cfg.services.map((s, i) => ({ at: ['services', i, 'listen'], hostPort: s.listen })),
    ...cfg.services.flatMap((s, i) =>
      s.egress ? [{ at: ['services', i, 'egress'], hostPort: s.egress }] : [],
    ),
  ];
}

/** Where the static versions' instances listen. */
function staticEndpoints(services: ServiceConfig[]): NamedAddress[] {
  const out: NamedAddress[] = [];
  services.forEach((s, i) => {
    if (s.provisioner.kind !== 'static') return;
    for (const [version, v] of Object.entries(s.provisioner.versions)) {
      v.endpoints.forEach((e, j) => {
        out.push({ at: ['services', i, 'provisioner', 'versions', version, 'endpoints', j], hostPort: e });
      });
    }
  });
  return out;
}

/**
 * Where the proxies reach this daemon's telemetry: `daemon.telemetry.advertise`,
 * else the listen host with `boundPort` (the port bound, when `listen` asked
 * for 0) or the listen port.
 */
export function telemetryAdvertise(daemon: DaemonConfig, boundPort?: number): { host: string; port: number } {
  const advertise = daemon.telemetry.advertise;
  if (advertise !== undefined) return splitHostPort(advertise);
  const listen = splitHostPort(daemon.telemetry.listen);
  return { host: listen.host, port: boundPort ?? listen.port };
}

/**
 * What is wrong with the telemetry address the proxies would be told, if
 * anything. With the shared store the leader lists every daemon's address
 * in the proxies' telemetry cluster through EDS, which takes IP addresses
 * only, and the other daemons' proxies must reach it: no wildcard.
 */
function advertiseProblem(d: DaemonConfig): string | undefined {
  const given = d.telemetry.advertise;
  const { host, port } = telemetryAdvertise(d);
  const wildcard = host === '0.0.0.0' || host === '::';
  if (given !== undefined) {
    if (wildcard) return 'must be an address the proxies can reach, not a wildcard';
    if (port === 0) return 'must name the port the proxies reach (not 0)';
  }
  if (d.store.postgres === undefined) return undefined;
  if (given === undefined && wildcard)
    return `required with store.postgres when telemetry.listen is a wildcard (${d.telemetry.listen}): the address the proxies reach this daemon's telemetry at`;
  if (isIP(host) === 0)
    return `${given === undefined ? `telemetry.listen's host (${host})` : host} must be an IP address with store.postgres: the proxies' telemetry cluster lists every daemon through EDS, which resolves no host names`;
  return undefined;
}

/** Where the telemetry token lives: `daemon.telemetry.tokenFile`, else beside the store. */
export function telemetryTokenFile(daemon: DaemonConfig): string {
  if (daemon.telemetry.tokenFile !== undefined) return daemon.telemetry.tokenFile;
  const store = daemon.store.path;
  return store === ':memory:' ? '.umbra/telemetry.token' : join(dirname(store), 'telemetry.token');
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
