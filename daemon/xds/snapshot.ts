/**
 * Snapshots: the complete set of resources one node should have, encoded,
 * versioned per type, and checked for consistency before anyone may publish it.
 *
 * A version is a digest of the type's encoded resources, so a type whose
 * resources did not change keeps its version (and is not pushed again): a
 * weight flip changes the route configuration's version and nothing else.
 */
import { createHash } from 'node:crypto';
import { type AnyResource, encodeResource, isEdsCluster, resourceName } from './encode.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  HCM_TYPE,
  LISTENER_TYPE,
  PUSH_ORDER,
  ROUTE_TYPE,
  type TypeUrl,
} from './type-urls.js';

/** Plain-object resources for one node (Envoy proto field names, see encode.ts). */
export interface SnapshotInput {
  clusters?: object[];
  endpoints?: object[];
  listeners?: object[];
  routes?: object[];
}

/** The resources of one type inside a snapshot. */
export interface TypeResources {
  /** Digest of the encoded resources; equal content ⇒ equal version. */
  readonly version: string;
  /** Encoded resources by name, in name order. */
  readonly items: ReadonlyMap<string, AnyResource>;
}

/** An immutable, consistent, encoded snapshot. Built only by {@link createSnapshot}. */
export interface Snapshot {
  readonly types: ReadonlyMap<TypeUrl, TypeResources>;
}

/** Result of {@link createSnapshot}: a snapshot, or every problem with its path. */
export type SnapshotResult = { ok: true; snapshot: Snapshot } | { ok: false; errors: string[] };

const INPUT_KEYS: ReadonlyArray<[keyof SnapshotInput, TypeUrl]> = [
  ['clusters', CLUSTER_TYPE],
  ['endpoints', ENDPOINT_TYPE],
  ['listeners', LISTENER_TYPE],
  ['routes', ROUTE_TYPE],
];

function digest(items: ReadonlyMap<string, AnyResource>): string {
  const h = createHash('sha256');
  for (const [name, r] of items) {
    h.update(name);
    h.update('\0');
    h.update(r.value);
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * A snapshot of resources that are already encoded (an overlay passes a
 * control plane's bytes through): versioned like {@link createSnapshot}, but
 * holding only the types given; a type absent from `types` is not sent at all
 * (ads-stream.ts), so a proxy keeps what it has of it. Consistency is the
 * encoder's business.
 */
export function encodedSnapshot(types: ReadonlyMap<TypeUrl, ReadonlyMap<string, AnyResource>>): Snapshot {
  const out = new Map<TypeUrl, TypeResources>();
  for (const [typeUrl, byName] of types) {
    const items = new Map([...byName].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
    out.set(typeUrl, { version: digest(items), items });
  }
  return { types: out };
}

/** Encodes, names and versions every resource, then runs {@link checkConsistency}. */
export function createSnapshot(input: SnapshotInput): SnapshotResult {
  const errors: string[] = [];
  const types = new Map<TypeUrl, TypeResources>();
  for (const [key, typeUrl] of INPUT_KEYS) {
    const list = input[key] ?? [];
    const named: Array<[string, AnyResource]> = [];
    const seen = new Set<string>();
    list.forEach((obj, i) => {
      const at = `${key}[${i}]`;
      const name = resourceName(typeUrl, obj);
      if (!name) errors.push(`${at}: has no name`);
      else if (seen.has(name)) errors.push(`${at}: duplicate name ${name}`);
      seen.add(name);
      const encoded = encodeResource(typeUrl, obj);
      if (!encoded.ok) errors.push(...encoded.errors.map((e) => `${at}.${e}`));
      else if (name) named.push([name, encoded.resource]);
    });
    named.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const items = new Map(named);
    types.set(typeUrl, { version: digest(items), items });
  }
  if (errors.length > 0) return { ok: false, errors };
  const inconsistent = checkConsistency(input);
  if (inconsistent.length > 0) return { ok: false, errors: inconsistent };
  return { ok: true, snapshot: { types } };
}

/** The HCMs inside a listener object (filter chains, the default chain, an API listener). */
function connectionManagers(listener: Record<string, unknown>): Array<[string, Record<string, unknown>]> {
  const out: Array<[string, Record<string, unknown>]> = [];
  const chains = (listener['filter_chains'] as Array<Record<string, unknown>> | undefined) ?? [];
  const all: Array<[string, Record<string, unknown>]> = chains.map((c, i) => [`filter_chains[${i}]`, c]);
  if (listener['default_filter_chain']) {
    all.push(['default_filter_chain', listener['default_filter_chain'] as Record<string, unknown>]);
  }
  for (const [at, chain] of all) {
    const filters = (chain['filters'] as Array<Record<string, unknown>> | undefined) ?? [];
    filters.forEach((f, j) => {
      const cfg = f['typed_config'] as Record<string, unknown> | undefined;
      if (cfg?.['@type'] === HCM_TYPE) out.push([`${at}.filters[${j}].typed_config`, cfg]);
    });
  }
  const api = (listener['api_listener'] as Record<string, unknown> | undefined)?.['api_listener'] as
    | Record<string, unknown>
    | undefined;
  if (api?.['@type'] === HCM_TYPE) out.push(['api_listener.api_listener', api]);
  return out;
}

/** Every cluster a route configuration names, with its path. */
function routeClusters(rc: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const hosts = (rc['virtual_hosts'] as Array<Record<string, unknown>> | undefined) ?? [];
  hosts.forEach((vh, i) => {
    const routes = (vh['routes'] as Array<Record<string, unknown>> | undefined) ?? [];
    routes.forEach((r, j) => {
      const action = r['route'] as Record<string, unknown> | undefined;
      if (!action) return;
      const at = `virtual_hosts[${i}].routes[${j}].route`;
      if (typeof action['cluster'] === 'string') out.push([`${at}.cluster`, action['cluster']]);
      const wc = (action['weighted_clusters'] as Record<string, unknown> | undefined)?.['clusters'] as
        | Array<Record<string, unknown>>
        | undefined;
      for (const [k, c] of (wc ?? []).entries()) {
        out.push([`${at}.weighted_clusters.clusters[${k}].name`, String(c['name'])]);
      }
      const mirrors = (action['request_mirror_policies'] as Array<Record<string, unknown>> | undefined) ?? [];
      for (const [k, m] of mirrors.entries()) {
        out.push([`${at}.request_mirror_policies[${k}].cluster`, String(m['cluster'])]);
      }
    });
  });
  return out;
}

/**
 * References that would make a proxy route to nothing: a route naming a
 * missing cluster, an EDS cluster without a load assignment, a listener
 * naming a missing route configuration. Returns errors with paths.
 * NOTE: the same rule as go-control-plane's `Snapshot.Consistent()`.
 */
export function checkConsistency(input: SnapshotInput): string[] {
  const errors: string[] = [];
  const clusters = (input.clusters ?? []) as Array<Record<string, unknown>>;
  const clusterNames = new Set(clusters.map((c) => resourceName(CLUSTER_TYPE, c)));
  const assignments = new Set((input.endpoints ?? []).map((e) => resourceName(ENDPOINT_TYPE, e)));
  const routeNames = new Set((input.routes ?? []).map((r) => resourceName(ROUTE_TYPE, r)));

  clusters.forEach((c, i) => {
    if (!isEdsCluster(CLUSTER_TYPE, c)) return;
    const eds = c['eds_cluster_config'] as Record<string, unknown> | undefined;
    const serviceName = (eds?.['service_name'] as string | undefined) || resourceName(CLUSTER_TYPE, c);
    if (!assignments.has(serviceName)) {
      errors.push(`clusters[${i}]: EDS cluster ${c['name']} has no endpoints resource ${serviceName}`);
    }
  });
  (input.routes ?? []).forEach((rc, i) => {
    for (const [at, name] of routeClusters(rc as Record<string, unknown>)) {
      if (!clusterNames.has(name)) errors.push(`routes[${i}].${at}: cluster ${name} does not exist`);
    }
  });
  (input.listeners ?? []).forEach((l, i) => {
    for (const [at, hcm] of connectionManagers(l as Record<string, unknown>)) {
      const rds = hcm['rds'] as Record<string, unknown> | undefined;
      const name = rds?.['route_config_name'];
      if (typeof name === 'string' && !routeNames.has(name)) {
        errors.push(
          `listeners[${i}].${at}.rds.route_config_name: route configuration ${name} does not exist`,
        );
      }
    }
  });
  return errors;
}

/** Versions of every type in a snapshot, in push order (for logs and status). */
export function snapshotVersions(snapshot: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of PUSH_ORDER) out[t] = snapshot.types.get(t)?.version ?? '';
  return out;
}
