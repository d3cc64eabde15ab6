/**
 * The one call the daemon makes per change: desired routing of every service
 * on a node → validated, rendered, merged, checked (resources/check.ts),
 * consistency-checked snapshot → published. Nothing is published unless every step succeeds.
 */
import { checkRendered } from './resources/check.js';
import { type DesiredRouting, validateDesired } from './resources/desired.js';
import { mergeResources, type RenderOptions, renderService } from './resources/render.js';
import { createSnapshot, type Snapshot } from './snapshot.js';

/** Where snapshots go (an XdsServer). */
export interface SnapshotSink {
  setSnapshot(nodeId: string, snapshot: Snapshot): Record<string, string>;
}

/** Published versions by short type name, or every error with its path. */
export type PublishResult = { ok: true; versions: Record<string, string> } | { ok: false; errors: string[] };

/** Renders `services` for `nodeId` and publishes them as one snapshot. */
export function publishServices(
  sink: SnapshotSink,
  nodeId: string,
  services: DesiredRouting[],
  options: RenderOptions = {},
): PublishResult {
  const errors: string[] = [];
  for (const [i, d] of services.entries()) {
    errors.push(...validateDesired(d).map((e) => `services[${i}].${e}`));
  }
  if (errors.length > 0) return { ok: false, errors };
  const merged = mergeResources(services.map((d) => renderService(d, options)));
  // What a proxy would refuse is never pushed: a refused listener is a listener gone.
  const refused = checkRendered(merged);
  if (refused.length > 0) return { ok: false, errors: refused };
  const built = createSnapshot(merged);
  if (!built.ok) return { ok: false, errors: built.errors };
  return { ok: true, versions: sink.setSnapshot(nodeId, built.snapshot) };
}
