/**
 * A snapshot as text and back, byte for byte: the leader of several daemons
 * stores what it publishes for each node, and the others serve it
 * (docs/ha.md). Versions are digests of the encoded resources
 * (snapshot.ts), so the decoded snapshot has the very versions the leader
 * published: a proxy moving from one daemon to another sees no change.
 */
import type { AnyResource } from './encode.js';
import { encodedSnapshot, type Snapshot } from './snapshot.js';
import { isKnownType, type TypeUrl } from './type-urls.js';

/** [type URL, [resource name, resource type URL, base64 bytes][]][] */
type SnapshotText = [string, [string, string, string][]][];

/** The snapshot's types and resources as JSON text. */
export function snapshotToText(snapshot: Snapshot): string {
  const out: SnapshotText = [];
  for (const [typeUrl, r] of snapshot.types) {
    out.push([
      typeUrl,
      [...r.items].map(([name, a]) => [name, a.type_url, Buffer.from(a.value).toString('base64')]),
    ]);
  }
  return JSON.stringify(out);
}

/** Parses {@link snapshotToText}'s text; every problem comes back with its path, and no snapshot. */
export function snapshotFromText(
  text: string,
): { ok: true; snapshot: Snapshot } | { ok: false; errors: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`(root): not JSON: ${(err as Error).message}`] };
  }
  if (!Array.isArray(parsed)) return { ok: false, errors: ['(root): must be a list of types'] };
  const errors: string[] = [];
  const types = new Map<TypeUrl, Map<string, AnyResource>>();
  parsed.forEach((entry: unknown, i) => {
    const at = `[${i}]`;
    if (!Array.isArray(entry) || entry.length !== 2 || !Array.isArray(entry[1])) {
      errors.push(`${at}: must be [type URL, resources]`);
      return;
    }
    const [typeUrl, items] = entry as [unknown, unknown[]];
    if (typeof typeUrl !== 'string' || !isKnownType(typeUrl)) {
      errors.push(`${at}[0]: unknown type URL ${JSON.stringify(typeUrl)}`);
      return;
    }
    const byName = new Map<string, AnyResource>();
    items.forEach((item, j) => {
      const ok = Array.isArray(item) && item.length === 3 && item.every((v) => typeof v === 'string');
      if (!ok) {
        errors.push(`${at}[1][${j}]: must be [name, type URL, base64]`);
        return;
      }
      const [name, url, b64] = item as [string, string, string];
      byName.set(name, { type_url: url, value: new Uint8Array(Buffer.from(b64, 'base64')) });
    });
    types.set(typeUrl, byName);
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, snapshot: encodedSnapshot(types) };
}
