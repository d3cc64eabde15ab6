/**
 * The leader's reading of the ACKs and NACKs other daemons' proxies sent
 * (docs/ha.md): each stored answer handed on exactly once, in the order read.
 *
 * NOTE: answer ids come from an identity column, taken when a follower's
 * INSERT runs, visible when it commits. Two followers inserting at once can
 * make id N+1 visible before N, so reading only `id > highest seen` would
 * skip N for ever (a missed NACK: a deployment not held although a proxy
 * refused its config). Each read therefore also re-reads the answers recorded
 * in the last {@link SETTLE_MS} and skips the ids already handed on.
 * Bound: an answer is missed only if its INSERT committed more than
 * SETTLE_MS after the statement stamped `at` (both times are the database's
 * clock, so no skew between daemons enters). The ids remembered are those
 * still in that window, so the set holds at most the answers of SETTLE_MS.
 */
import type { SharedXds, StoredXdsAnswer } from '../store/pg-shared-xds.js';

/** How long after it was stamped an answer may still become visible, ms. */
export const SETTLE_MS = 10_000;

export class XdsAnswerFeed {
  readonly #shared: Pick<SharedXds, 'answersAfter'>;
  readonly #settleMs: number;
  /** The highest id handed on. */
  #after: number;
  /** Ids handed on that the window may return again. */
  #handled = new Set<number>();

  /** Starts after `afterId` (answers up to it, outside the window, count as handled). */
  constructor(shared: Pick<SharedXds, 'answersAfter'>, afterId: number, settleMs = SETTLE_MS) {
    this.#shared = shared;
    this.#after = afterId;
    this.#settleMs = settleMs;
  }

  /** The answers not handed on yet (throws what the store throws; nothing is marked handled then). */
  read(): StoredXdsAnswer[] {
    const rows = this.#shared.answersAfter(this.#after, this.#settleMs);
    const out = rows.filter((a) => !this.#handled.has(a.id));
    // Every id returned is handled after this read; ids the window no longer returns never come back.
    this.#handled = new Set(rows.map((a) => a.id));
    for (const a of rows) this.#after = Math.max(this.#after, a.id);
    return out;
  }
}
