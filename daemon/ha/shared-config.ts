/**
 * What of umbra.yaml every daemon on one database must agree on: all of it
 * but the settings that are one daemon's own (where it listens, its files,
 * how it reaches the database). Two daemons that judged or routed the same
 * services differently would take turns undoing each other.
 */
import type { UmbraConfig } from '../config/schema.js';

/** Settings that may differ between the daemons of one database. */
const PER_DAEMON: readonly (readonly string[])[] = [
  ['daemon', 'admin'],
  ['daemon', 'telemetry'],
  ['daemon', 'xds', 'listen'],
  ['daemon', 'xds', 'tls'],
  ['daemon', 'xds', 'tokenFile'],
  ['daemon', 'filter'],
  ['daemon', 'store'],
];

/** The shared part of a parsed configuration, as plain JSON. */
export function sharedConfig(config: UmbraConfig): unknown {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const path of PER_DAEMON) {
    let node = copy as Record<string, unknown> | undefined;
    for (const key of path.slice(0, -1)) node = node?.[key] as Record<string, unknown> | undefined;
    if (node) delete node[path[path.length - 1]!];
  }
  // The lease must be the same everywhere: a follower waits out the leader's.
  const lease = config.daemon.store.postgres?.lease;
  if (lease !== undefined) (copy['daemon'] as Record<string, unknown>)['lease'] = lease;
  return copy;
}

function label(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The path of the first difference between two JSON values (`services[0].mirroring.shadowPercentage`), or undefined. */
export function firstDifference(a: unknown, b: unknown, path: (string | number)[] = []): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], [...path, i]);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) {
      const d = firstDifference(ra[k], rb[k], [...path, k]);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return label(path) || '(the whole configuration)';
}
