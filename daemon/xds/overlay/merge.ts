/**
 * The overlay's merge, pure: what the upstream control plane sent a node,
 * plus Umbra's desired state for the services named in umbra.yaml → what
 * the proxy gets. Every resource Umbra neither adds nor edits passes through
 * as the upstream encoded it, byte for byte.
 *
 * For each managed service (edits.ts): its version and mirror clusters, their
 * endpoints and the telemetry cluster are added (CDS, EDS); the Umbra filter
 * goes into the HCM of its listener; its routes get the deployment's weights.
 * A service whose upstream cluster or listener is missing, or whose names
 * clash with the upstream's, is left alone and reported with its path.
 *
 * NOTE: an edited resource is decoded and re-encoded with the Envoy protos
 * bundled in @grpc/grpc-js-xds (protos.ts): a field newer than those protos
 * is dropped from it. Resources Umbra does not edit are never decoded.
 */
import { type AnyResource, decodeResource, encodeResource, resourceName } from '../encode.js';
import { versionCluster } from '../resources/names.js';
import type { RenderOptions } from '../resources/render.js';
import { renderService } from '../resources/render.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  HCM_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  type TypeUrl,
} from '../type-urls.js';
import { editServiceRoute, insertUmbraFilter, type OverlayService } from './edits.js';

type Obj = Record<string, unknown>;

/** Encoded resources by type and name, as a node received them. */
export type EncodedTypes = ReadonlyMap<TypeUrl, ReadonlyMap<string, AnyResource>>;

/** Umbra's side of the merge. */
export interface OverlayEdits {
  services: readonly OverlayService[];
  /** Render the Umbra filter (absent: no filter). */
  filter?: RenderOptions['filter'];
  /** Services whose edits a proxy refused: passed through unedited until the edits change. */
  withdrawn?: ReadonlySet<string>;
}

export interface MergeResult {
  /** What the proxy gets, per type: only the types the upstream has sent (and EDS when Umbra adds some). */
  types: Map<TypeUrl, Map<string, AnyResource>>;
  /** Resources Umbra added or edited (`<type url> <name>`) → the services they serve. */
  umbra: Map<string, string[]>;
  /** Names Umbra serves itself (its clusters and their endpoints): never asked of upstream. */
  owned: Set<string>;
  /** Services left alone, with the reason and the umbra.yaml path. */
  errors: string[];
}

/** The key of a resource in {@link MergeResult.umbra}. */
export function umbraKey(typeUrl: TypeUrl, name: string): string {
  return `${typeUrl} ${name}`;
}

/** Merges; see the module comment. */
export function mergeOverlay(upstream: EncodedTypes, edits: OverlayEdits): MergeResult {
  const types = new Map<TypeUrl, Map<string, AnyResource>>();
  for (const [t, items] of upstream) types.set(t, new Map(items));
  const result: MergeResult = { types, umbra: new Map(), owned: new Set(), errors: [] };
  const clusters = upstream.get(CLUSTER_TYPE);
  for (const s of edits.services) {
    if (edits.withdrawn?.has(s.desired.service)) continue;
    const problem = missingOrClashing(upstream, s);
    if (problem) {
      result.errors.push(problem);
      continue;
    }
    if (clusters) addUmbraClusters(result, s, edits);
    editRoutes(result, upstream, s);
    if (edits.filter) editListener(result, upstream, s, edits.filter);
  }
  return result;
}

function missingOrClashing(upstream: EncodedTypes, s: OverlayService): string | undefined {
  const clusters = upstream.get(CLUSTER_TYPE);
  if (clusters && !clusters.has(s.upstreamCluster)) {
    return `${s.at}.overlay.cluster: the upstream control plane sends no cluster '${s.upstreamCluster}'; ${s.desired.service} is passed through unmanaged`;
  }
  const listeners = upstream.get(LISTENER_TYPE);
  if (listeners && !listeners.has(s.listener)) {
    return `${s.at}.overlay.listener: the upstream control plane sends no listener '${s.listener}'; ${s.desired.service} is passed through unmanaged`;
  }
  for (const v of s.desired.versions) {
    const name = versionCluster(s.desired.service, v.name);
    if (v.name !== s.stable && clusters?.has(name)) {
      return `${s.at}.name: the upstream control plane has a cluster '${name}' of its own, which Umbra would add; ${s.desired.service} is passed through unmanaged`;
    }
  }
  return undefined;
}

function mark(result: MergeResult, typeUrl: TypeUrl, name: string, service: string): void {
  const key = umbraKey(typeUrl, name);
  result.umbra.set(key, [...(result.umbra.get(key) ?? []), service]);
}

function put(result: MergeResult, typeUrl: TypeUrl, obj: object, service: string, at: string): boolean {
  const encoded = encodeResource(typeUrl, obj);
  if (!encoded.ok) {
    result.errors.push(`${at}: ${encoded.errors.join('; ')}`);
    return false;
  }
  const name = resourceName(typeUrl, obj);
  let items = result.types.get(typeUrl);
  if (!items) {
    items = new Map();
    result.types.set(typeUrl, items);
  }
  items.set(name, encoded.resource);
  mark(result, typeUrl, name, service);
  return true;
}

/** The service's clusters but the stable version's (that one is the upstream's), and their endpoints. */
function addUmbraClusters(result: MergeResult, s: OverlayService, edits: OverlayEdits): void {
  const rendered = renderService(s.desired, edits.filter ? { filter: edits.filter } : {});
  const stable = versionCluster(s.desired.service, s.stable);
  for (const c of rendered.clusters ?? []) {
    const name = resourceName(CLUSTER_TYPE, c);
    if (name === stable) continue;
    if (put(result, CLUSTER_TYPE, c, s.desired.service, `${s.at} cluster ${name}`)) result.owned.add(name);
  }
  for (const e of rendered.endpoints ?? []) {
    const name = resourceName(ENDPOINT_TYPE, e);
    if (name === stable) continue;
    put(result, ENDPOINT_TYPE, e, s.desired.service, `${s.at} endpoints ${name}`);
  }
}

/** Bytes that cannot hold the cluster's name cannot route to it: skip decoding them. */
function mayName(resource: AnyResource, name: string): boolean {
  return Buffer.from(resource.value).includes(name);
}

/** Routes of any route configuration that send to the service's upstream cluster. */
function editRoutes(result: MergeResult, upstream: EncodedTypes, s: OverlayService): void {
  if (!upstream.has(ROUTE_TYPE)) return;
  for (const [name, current] of [...(result.types.get(ROUTE_TYPE) ?? [])]) {
    if (!mayName(current, s.upstreamCluster)) continue;
    const rc = decodeResource(current);
    let changed = false;
    for (const vh of (rc['virtual_hosts'] as Obj[] | undefined) ?? []) {
      for (const r of (vh['routes'] as Obj[] | undefined) ?? []) changed = editServiceRoute(r, s) || changed;
    }
    if (changed) put(result, ROUTE_TYPE, rc, s.desired.service, `${s.at} route configuration ${name}`);
  }
}

function editListener(
  result: MergeResult,
  upstream: EncodedTypes,
  s: OverlayService,
  filter: NonNullable<RenderOptions['filter']>,
): void {
  const current = result.types.get(LISTENER_TYPE)?.get(s.listener);
  if (!current || !upstream.get(LISTENER_TYPE)?.has(s.listener)) return;
  const listener = decodeResource(current);
  let changed = false;
  const chains = [...((listener['filter_chains'] as Obj[] | undefined) ?? [])];
  if (listener['default_filter_chain']) chains.push(listener['default_filter_chain'] as Obj);
  for (const chain of chains) {
    for (const f of (chain['filters'] as Obj[] | undefined) ?? []) {
      const hcm = f['typed_config'] as Obj | undefined;
      if (hcm?.['@type'] === HCM_TYPE) changed = insertUmbraFilter(hcm, s, filter) || changed;
    }
  }
  if (changed) put(result, LISTENER_TYPE, listener, s.desired.service, `${s.at} listener ${s.listener}`);
}
