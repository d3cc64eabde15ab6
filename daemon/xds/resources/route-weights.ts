/**
 * Reading back what a rendered route configuration does: the weight of each
 * cluster its routes send live traffic to. Used to show what a proxy has
 * ACKed next to what the daemon wants (render.ts writes these resources).
 */
import { type AnyResource, decodeResource } from '../encode.js';

/** Cluster → weight over every route of a route configuration (a single `cluster` counts 100). */
export function routeWeights(resource: AnyResource): Record<string, number> {
  const rc = decodeResource(resource);
  const out: Record<string, number> = {};
  const hosts = (rc['virtual_hosts'] as Array<Record<string, unknown>> | undefined) ?? [];
  for (const vh of hosts) {
    for (const r of (vh['routes'] as Array<Record<string, unknown>> | undefined) ?? []) {
      const action = r['route'] as Record<string, unknown> | undefined;
      if (!action) continue;
      if (typeof action['cluster'] === 'string') out[action['cluster']] = 100;
      const wc = (action['weighted_clusters'] as Record<string, unknown> | undefined)?.['clusters'] as
        | Array<Record<string, unknown>>
        | undefined;
      for (const c of wc ?? []) out[String(c['name'])] = weightOf(c['weight']);
    }
  }
  return out;
}

/** A `google.protobuf.UInt32Value` as decoded (a number, or `{ value }`). */
function weightOf(w: unknown): number {
  if (typeof w === 'number') return w;
  const v = (w as { value?: unknown } | undefined)?.value;
  return typeof v === 'number' ? v : 0;
}
