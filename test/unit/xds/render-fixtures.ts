/** A rendered service for the renderer's unit tests: shop, v1 serving, v2 the candidate, a baseline. */

import { decodeResource } from '../../../daemon/xds/encode.js';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { createSnapshot, type Snapshot } from '../../../daemon/xds/snapshot.js';
import type { TypeUrl } from '../../../daemon/xds/type-urls.js';

export function desired(over: Partial<DesiredRouting> = {}): DesiredRouting {
  return {
    service: 'shop',
    listener: { name: 'shop-in', port: 10000, address: '0.0.0.0' },
    versions: [
      { name: 'v1', endpoints: [{ address: '10.0.0.1', port: 8080 }] },
      { name: 'v2', endpoints: [{ address: '10.0.0.2', port: 8080 }] },
      { name: 'v1-baseline', endpoints: [{ address: '10.0.0.3', port: 8080 }] },
    ],
    weights: { v1: 100, v2: 0 },
    mirror: { candidate: 'v2', baseline: 'v1-baseline', filterConfig: { shadowPercentage: 5 } },
    telemetry: { address: '127.0.0.1', port: 7001 },
    routeTimeoutMs: 2500,
    ...over,
  };
}

export const FILTER = { filter: { wasmPath: '/opt/umbra/filter.wasm' } };

export function snap(d: DesiredRouting, options = {}): Snapshot {
  const r = createSnapshot(renderService(d, options));
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.snapshot;
}

// biome-ignore lint/suspicious/noExplicitAny: decoded protobuf trees are walked by field name in assertions
export function one(s: Snapshot, type: TypeUrl, name: string): Record<string, any> {
  return decodeResource(s.types.get(type)!.items.get(name)!);
}
