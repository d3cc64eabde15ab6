/**
 * The desired routing of one service: what the rollout machine wants the
 * proxies to do, in domain terms. The renderer turns it into Envoy resources;
 * nothing here knows about xDS versions or streams.
 *
 * Produced fresh for every change (treat as immutable). Validate with
 * {@link validateDesired} at the edge; the renderer assumes a valid value.
 */
import { isIP } from 'node:net';
import { type UpstreamTls, validateUpstreamTls } from './tls.js';

/** One upstream address of a version. */
export interface DesiredEndpoint {
  /** IP address or host name. */
  address: string;
  port: number;
}

/** The daemon's telemetry ingest as the proxy reaches it. */
export interface DesiredTelemetry extends DesiredEndpoint {
  /** TLS towards it (the daemon's `daemon.telemetry.tls`); plaintext when absent. */
  tls?: UpstreamTls;
  /** The token the filter presents on its telemetry stream (`telemetryToken`); none when absent. */
  token?: string;
  /**
   * Several daemons on a shared store: every live daemon's telemetry (IP
   * addresses), listed through EDS so that a change of members touches EDS
   * alone. Absent: the one daemon at `address`, a static cluster.
   */
  members?: DesiredEndpoint[];
}

/** One deployed version of the service and where it runs. */
export interface DesiredVersion {
  /** Version name (`v1`, `v2`, `v1-baseline`): `[A-Za-z0-9._-]+`. Its cluster is `<service>-<name>`. */
  name: string;
  /** May be empty only for a version with weight 0 (a mirror target may be empty: mirroring is off then). */
  endpoints: DesiredEndpoint[];
}

/** Shadow traffic: what the Umbra filter mirrors to, and its configuration. */
export interface DesiredMirror {
  /** Version receiving mirrored copies (the candidate). Without it, no filter is rendered. */
  candidate?: string;
  /** Optional second mirror target: the current version at the candidate's size. */
  baseline?: string;
  /**
   * The filter's plugin configuration (a JSON object, see filter/assembly/config.ts).
   * The renderer sets `service`, `candidateCluster`, `baselineCluster` and
   * `telemetryCluster` itself; everything else is passed as given.
   * NOTE: a change here changes the listener (connections drain); live
   * changes belong on the telemetry control stream.
   */
  filterConfig: Record<string, unknown>;
}

/**
 * Which of the service's requests run the Umbra filter. The filter sits in
 * the listener disabled; the routes enable it (RDS only, so turning it on or
 * off never drains a connection). A request whose route does not enable it
 * never enters the VM: Envoy does not create the filter for it at all.
 */
export interface DesiredFilterGate {
  /** Share of all requests (0..100, fractional ok) that run the filter; 100: every request. */
  share: number;
  /**
   * Requests whose `header` names one of `values` (ASCII case-insensitive)
   * run it at `share` here instead (at least the general share).
   */
  regions?: { header: string; values: string[]; share: number };
}

/**
 * A split of users between the weighted versions and one other version:
 * requests whose `header` is `b` go to `version`. The Umbra filter sets that
 * header for the users its consistent hash puts in the split (its
 * `splitPercentage`), so the filter runs on every request of the service
 * while a split is rendered; the header is removed before the request
 * reaches the upstream.
 */
export interface DesiredSplit {
  version: string;
  /** Lower-case request header name. */
  header: string;
}

/**
 * Who calls a dependency through the egress listener: one instance pool of a
 * version, and the role it plays now. The role decides the faults: a fault
 * reaches `candidate` and `baseline` callers, never `production` ones.
 */
export interface DesiredEgressCaller {
  version: string;
  /** The provisioner's pool (`main`, `baseline`). */
  pool: string;
  role: 'production' | 'candidate' | 'baseline';
}

/** A fault on the calls to one dependency (Envoy's HTTP fault filter). */
export interface DesiredFault {
  dependency: string;
  /** Share of the calls it hits, 0..100. */
  percent: number;
  /** Added latency in ms (≥ 1). */
  delayMs?: number;
  /** Answer this HTTP status (200..599) instead of calling the dependency. */
  abortStatus?: number;
  /**
   * Send the calls to this endpoint instead, which resets every connection it
   * accepts (Envoy's fault filter has no reset). Alone: not with a delay or an abort.
   */
  reset?: DesiredEndpoint;
}

/**
 * The service's egress listener: its versions' calls to their dependencies,
 * one route per (caller, dependency), so that faults can ride on the
 * non-production callers' routes alone.
 */
export interface DesiredEgress {
  listener: DesiredEndpoint;
  dependencies: Array<{ name: string; endpoint: DesiredEndpoint }>;
  callers: DesiredEgressCaller[];
  /** Faults on every non-production caller's calls to the named dependency. */
  faults: DesiredFault[];
}

/** The desired routing of one service on one proxy. */
export interface DesiredRouting {
  /** Service name: `[A-Za-z0-9._-]+`, prefix of its cluster names. */
  service: string;
  /** Where the proxy accepts the service's traffic. */
  listener: { name: string; port: number; address: string };
  versions: DesiredVersion[];
  /**
   * Share of user traffic per version name (non-negative integers, any
   * scale, sum > 0). Versions absent or at 0 get no user traffic.
   */
  weights: Record<string, number>;
  mirror?: DesiredMirror;
  /** Which requests run the Umbra filter (see {@link DesiredFilterGate}); absent: none. */
  filterGate?: DesiredFilterGate;
  /** A split of users to one version (see {@link DesiredSplit}); needs `mirror` (the filter splits). */
  split?: DesiredSplit;
  /** The daemon's telemetry ingest (gRPC, HTTP/2); cluster `umbra-telemetry`. */
  telemetry?: DesiredTelemetry;
  /** Per-route timeout for user requests (default 15000). */
  routeTimeoutMs?: number;
  /** Speak HTTP/2 to the versions' upstreams (e.g. gRPC services). Default HTTP/1.1. */
  upstreamHttp2?: boolean;
  /** The versions' calls to their dependencies (absent: the service declares none). */
  egress?: DesiredEgress;
}

const NAME = /^[A-Za-z0-9._-]+$/;

function checkEndpoint(e: unknown, at: string, errors: string[]): void {
  const ep = e as Partial<DesiredEndpoint> | undefined;
  if (!ep || typeof ep !== 'object') {
    errors.push(`${at}: must be an object`);
    return;
  }
  if (typeof ep.address !== 'string' || ep.address.length === 0) errors.push(`${at}.address: must be a host`);
  if (!Number.isInteger(ep.port) || ep.port! < 1 || ep.port! > 65535)
    errors.push(`${at}.port: must be 1..65535`);
}

/**
 * Every problem in `d`, each with its path (`versions[1].endpoints[0].port:
 * must be 1..65535`). Empty when valid.
 */
export function validateDesired(d: DesiredRouting): string[] {
  const errors: string[] = [];
  if (typeof d.service !== 'string' || !NAME.test(d.service))
    errors.push('service: must match [A-Za-z0-9._-]+');
  const l = d.listener;
  if (!l || typeof l.name !== 'string' || l.name.length === 0) errors.push('listener.name: required');
  if (l) checkEndpoint({ address: l.address, port: l.port }, 'listener', errors);
  const names = new Set<string>();
  if (!Array.isArray(d.versions) || d.versions.length === 0) errors.push('versions: at least one version');
  for (const [i, v] of (d.versions ?? []).entries()) {
    if (typeof v.name !== 'string' || !NAME.test(v.name))
      errors.push(`versions[${i}].name: must match [A-Za-z0-9._-]+`);
    else if (names.has(v.name)) errors.push(`versions[${i}].name: duplicate ${v.name}`);
    names.add(v.name);
    if (!Array.isArray(v.endpoints)) errors.push(`versions[${i}].endpoints: must be a list`);
    else
      for (const [j, e] of v.endpoints.entries()) checkEndpoint(e, `versions[${i}].endpoints[${j}]`, errors);
  }
  const endpointsOf = (name: string) => d.versions?.find((v) => v.name === name)?.endpoints ?? [];
  let total = 0;
  for (const [name, w] of Object.entries(d.weights ?? {})) {
    if (!Number.isInteger(w) || w < 0) errors.push(`weights.${name}: must be a non-negative integer`);
    else if (names.has(name)) total += w;
    if (!names.has(name)) errors.push(`weights.${name}: no such version`);
    else if (w > 0 && endpointsOf(name).length === 0)
      errors.push(`weights.${name}: version has no endpoints`);
  }
  if (total <= 0) errors.push('weights: must give some version a positive weight');
  const m = d.mirror;
  if (m) {
    for (const key of ['candidate', 'baseline'] as const) {
      const name = m[key];
      if (name === undefined) continue;
      // A mirror target may have no endpoints: mirroring is off then, and copies reach nobody.
      if (!names.has(name)) errors.push(`mirror.${key}: no such version ${name}`);
    }
    if (m.candidate !== undefined && m.candidate === m.baseline)
      errors.push('mirror.baseline: must differ from candidate');
    if (!m.filterConfig || typeof m.filterConfig !== 'object' || Array.isArray(m.filterConfig)) {
      errors.push('mirror.filterConfig: must be an object');
    }
  }
  if (d.filterGate) errors.push(...gateErrors(d.filterGate));
  if (d.split) {
    if (!names.has(d.split.version)) errors.push(`split.version: no such version ${d.split.version}`);
    else if (endpointsOf(d.split.version).length === 0)
      errors.push('split.version: version has no endpoints');
    if (typeof d.split.header !== 'string' || !/^[a-z0-9-]+$/.test(d.split.header))
      errors.push('split.header: must be a lower-case header name');
    if (!m?.candidate) errors.push('split: needs mirror (the filter splits the users)');
  }
  if (d.egress) errors.push(...egressErrors(d.egress));
  if (d.telemetry) checkEndpoint(d.telemetry, 'telemetry', errors);
  for (const [i, e] of (d.telemetry?.members ?? []).entries()) {
    checkEndpoint(e, `telemetry.members[${i}]`, errors);
    if (typeof e.address === 'string' && isIP(e.address) === 0)
      errors.push(`telemetry.members[${i}].address: must be an IP address (EDS resolves no host names)`);
  }
  if (d.telemetry?.tls) errors.push(...validateUpstreamTls(d.telemetry.tls, 'telemetry.tls'));
  const t = d.routeTimeoutMs;
  if (t !== undefined && (!Number.isInteger(t) || t < 1))
    errors.push('routeTimeoutMs: must be a positive integer');
  return errors;
}

const isShare = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 100;

function gateErrors(g: DesiredFilterGate): string[] {
  const errors: string[] = [];
  if (!isShare(g.share)) errors.push('filterGate.share: must be a number 0..100');
  const r = g.regions;
  if (!r) return errors;
  if (typeof r.header !== 'string' || !/^[a-z0-9-]+$/.test(r.header))
    errors.push('filterGate.regions.header: must be a lower-case header name');
  if (!Array.isArray(r.values) || r.values.length === 0)
    errors.push('filterGate.regions.values: at least one');
  for (const [i, v] of (r.values ?? []).entries())
    if (typeof v !== 'string' || v.length === 0)
      errors.push(`filterGate.regions.values[${i}]: must be non-empty`);
  if (!isShare(r.share)) errors.push('filterGate.regions.share: must be a number 0..100');
  return errors;
}

const ROLES = ['production', 'candidate', 'baseline'];

function egressErrors(e: DesiredEgress): string[] {
  const errors: string[] = [];
  checkEndpoint(e.listener, 'egress.listener', errors);
  const deps = new Set<string>();
  for (const [i, d] of (e.dependencies ?? []).entries()) {
    if (typeof d.name !== 'string' || !NAME.test(d.name))
      errors.push(`egress.dependencies[${i}].name: must match [A-Za-z0-9._-]+`);
    else if (deps.has(d.name)) errors.push(`egress.dependencies[${i}].name: duplicate ${d.name}`);
    deps.add(d.name);
    checkEndpoint(d.endpoint, `egress.dependencies[${i}].endpoint`, errors);
  }
  if (deps.size === 0) errors.push('egress.dependencies: at least one');
  for (const [i, c] of (e.callers ?? []).entries()) {
    if (!NAME.test(c.version) || !NAME.test(c.pool))
      errors.push(`egress.callers[${i}]: version and pool must match [A-Za-z0-9._-]+`);
    if (!ROLES.includes(c.role)) errors.push(`egress.callers[${i}].role: must be one of ${ROLES.join(', ')}`);
  }
  const kinds = new Set<string>();
  for (const [i, f] of (e.faults ?? []).entries()) {
    const at = `egress.faults[${i}]`;
    for (const kind of ['delayMs', 'abortStatus'] as const) {
      if (f[kind] === undefined) continue;
      if (kinds.has(`${f.dependency}/${kind}`)) errors.push(`${at}.${kind}: a second one on ${f.dependency}`);
      kinds.add(`${f.dependency}/${kind}`);
    }
    if (!deps.has(f.dependency)) errors.push(`${at}.dependency: no such dependency ${f.dependency}`);
    if (!isShare(f.percent)) errors.push(`${at}.percent: must be a number 0..100`);
    const filtered = f.delayMs !== undefined || f.abortStatus !== undefined;
    if (f.reset !== undefined) {
      if (filtered) errors.push(`${at}.reset: alone, not with a delay or an abort`);
      if (kinds.has(`${f.dependency}/reset`)) errors.push(`${at}.reset: a second one on ${f.dependency}`);
      kinds.add(`${f.dependency}/reset`);
      checkEndpoint(f.reset, `${at}.reset`, errors);
    } else if (!filtered) errors.push(`${at}: a delay, an abort or a reset`);
    if (f.delayMs !== undefined && (!Number.isInteger(f.delayMs) || f.delayMs < 1))
      errors.push(`${at}.delayMs: must be a positive integer`);
    const s = f.abortStatus;
    if (s !== undefined && (!Number.isInteger(s) || s < 200 || s > 599))
      errors.push(`${at}.abortStatus: must be 200..599`);
  }
  return errors;
}
