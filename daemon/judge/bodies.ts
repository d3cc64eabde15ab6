/**
 * Whether an endpoint's bodies can be compared at all, told by the primary
 * arm's own bodies in the present run. Pure (mutates only the state it is given).
 */
import type { CellStats } from '../aggregate/stats.js';
import { num } from './counts.js';
import type { JudgeState } from './types.js';

/** Primary bodies of an endpoint seen before its learned body floor is trusted. */
export const BODY_SAMPLE = 40;
/** Share of those new to the endpoint above which its bodies are dynamic (timestamps, ids). */
const DYNAMIC_BODY_SHARE = 0.9;

/**
 * Stale history, bodies: a floor learned when an endpoint's bodies were
 * deterministic says nothing once they carry timestamps (in both versions
 * alike). The primary arm's own bodies tell, whatever the candidate does:
 * after {@link BODY_SAMPLE} of them, nearly all new to the endpoint means
 * dynamic, and its bodies are not compared (the conservative model's
 * choice); until then they are not compared either.
 */
export function observeBodies(s: JudgeState, cells: CellStats[]): void {
  const bodies = (s.bodies ??= {});
  for (const cell of cells) {
    const c = cell.candidate;
    const hashed = num(c?.bodyHashed);
    if (!(hashed > 0)) continue;
    const ep = cell.key.endpoint;
    const b = (bodies[ep] ??= { hashed: 0, novel: 0, state: 'unknown' });
    if (b.state !== 'unknown') continue;
    b.hashed += hashed;
    b.novel += Math.min(num(c.bodyNovel), hashed);
    if (b.hashed >= BODY_SAMPLE) b.state = b.novel >= DYNAMIC_BODY_SHARE * b.hashed ? 'dynamic' : 'stable';
  }
}
