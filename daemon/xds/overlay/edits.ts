/**
 * The two edits Umbra makes to an upstream's own resources for a service it
 * manages, each in one function: the Umbra filter into the HCM of the
 * service's listener, and the deployment's weights into the service's route.
 * Both work on decoded plain objects (encode.ts field names) and render what
 * resources/render.ts renders for a service of Umbra's own.
 */
import type { DesiredRouting } from '../resources/desired.js';
import { FILTER_NAME, filterEnabled } from '../resources/filter-gate.js';
import { versionCluster } from '../resources/names.js';
import type { RenderOptions } from '../resources/render.js';
import { wasmFilter } from '../resources/render.js';
import { ROUTER_TYPE } from '../type-urls.js';

type Obj = Record<string, unknown>;

/** What Umbra wants for one service it manages beside the upstream. */
export interface OverlayService {
  /** Where the service sits in umbra.yaml, for errors (`services[0]`). */
  at: string;
  /** The upstream's cluster that serves the stable version. */
  upstreamCluster: string;
  /** The upstream listener whose HCM gets the Umbra filter. */
  listener: string;
  /** The version the upstream cluster serves. */
  stable: string;
  /** Umbra's routing of the service (weights, candidate and mirror versions, telemetry). */
  desired: DesiredRouting;
}

/**
 * Inserts the Umbra filter into one HCM (before its router), unless it holds
 * one already. Returns whether it changed.
 */
export function insertUmbraFilter(
  hcm: Obj,
  s: OverlayService,
  filter: NonNullable<RenderOptions['filter']>,
): boolean {
  if (!s.desired.mirror?.candidate) return false;
  const filters = (hcm['http_filters'] as Obj[] | undefined) ?? [];
  if (filters.some((f) => f['name'] === FILTER_NAME)) return false;
  const router = filters.findIndex(
    (f) =>
      f['name'] === 'envoy.filters.http.router' ||
      (f['typed_config'] as Obj | undefined)?.['@type'] === ROUTER_TYPE,
  );
  filters.splice(router < 0 ? filters.length : router, 0, wasmFilter(s.desired, filter) as Obj);
  hcm['http_filters'] = filters;
  return true;
}

/**
 * Edits one upstream route of the service for the deployment: the Umbra
 * filter (disabled in the HCM) is enabled on the whole route while the
 * desired gate lets requests in (overlay mode splits no upstream route, see
 * controller/filter-gate.ts), and the route points at the deployment's
 * weights: the stable version stays on the upstream's cluster, every other
 * version goes to Umbra's `<service>-<version>` cluster. A route that does
 * not send to the upstream cluster with a plain `cluster` is left as
 * upstream sent it, and so is one with no deployment in progress. Returns
 * whether it changed.
 */
export function editServiceRoute(route: Obj, s: OverlayService): boolean {
  const action = route['route'] as Obj | undefined;
  if (!action || action['cluster'] !== s.upstreamCluster) return false;
  let changed = false;
  if ((s.desired.filterGate?.share ?? 0) > 0) {
    route['typed_per_filter_config'] = {
      ...((route['typed_per_filter_config'] as Obj | undefined) ?? {}),
      ...filterEnabled(),
    };
    changed = true;
  }
  const serving = Object.entries(s.desired.weights).filter(([, w]) => w > 0);
  if (serving.every(([v]) => v === s.stable)) return changed;
  const clusters = serving.map(([v, w]) => ({
    name: v === s.stable ? s.upstreamCluster : versionCluster(s.desired.service, v),
    weight: { value: w },
  }));
  delete action['cluster'];
  action['weighted_clusters'] = { clusters };
  return true;
}
