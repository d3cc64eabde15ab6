/**
 * The A/B split of users: which version a user's requests go to, by the
 * same consistent hash of the user key that `user-segment` mirroring uses
 * (sampling.ts), and the outcome a response reports.
 *
 * A user whose point on [0, 100) is at or above 100 − splitPercentage is in
 * B: the filter sets `splitHeader: b` on the request and a route matching
 * that header sends it to B's cluster (daemon/xds/resources/filter-gate.ts).
 * Every other request is left as it came: A's users' requests are never
 * written to (a client-sent split header is removed, so no user picks B for
 * themselves). Raising the share only adds users to B, and a user stays in
 * the same arm on every Envoy and worker.
 */
import { borrowedPtr, borrowHeader, MapType, releaseBorrowed, removeHeader, replaceHeader } from './abi/host';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Config } from './config';
import { FNV_OFFSET, fnvUpdate } from './fnv';
import { findCookie, inB, parseMilli, userId } from './sampling';
import { buf } from './strings';

const COOKIE = buf('cookie');
const B = buf('b');

/** Header names of a configuration as bytes, made once at configure time. */
export class SplitKeys {
  segment: ArrayBuffer;
  split: ArrayBuffer;
  outcome: ArrayBuffer;
  constructor(c: Config) {
    this.segment = buf(c.segmentHeader);
    this.split = buf(c.splitHeader);
    this.outcome = buf(c.outcomeHeader);
  }
}

/** FNV-1a 64 of the request's user key (segment header first, then cookie); 0 without one. */
function userKeyHash(c: Config, keys: SplitKeys): u64 {
  let h: u64 = 0;
  if (c.segmentHeader.length > 0) {
    const n = borrowHeader(MapType.RequestHeaders, keys.segment);
    if (n > 0) h = fnvUpdate(FNV_OFFSET, borrowedPtr(), <usize>n);
    releaseBorrowed();
    if (h !== 0) return h;
  }
  if (c.segmentCookie.length > 0) {
    const n = borrowHeader(MapType.RequestHeaders, COOKIE);
    if (n > 0) {
      const at = findCookie(borrowedPtr(), <usize>n, c.segmentCookie);
      if (at >= 0) h = fnvUpdate(FNV_OFFSET, borrowedPtr() + <usize>(at >> 32), <usize>(at & 0xffffffff));
    }
    releaseBorrowed();
  }
  return h;
}

/**
 * Splits one request at its headers: sets the split header for B's users,
 * removes a client-sent one from anyone else's. Answers the user id for the
 * record (0: no user key, the request is not part of the experiment).
 */
export function splitUser(c: Config, keys: SplitKeys, percentage: f64): u32 {
  const h = userKeyHash(c, keys);
  if (h !== 0 && inB(h, percentage)) {
    replaceHeader(MapType.RequestHeaders, keys.split, B);
    return userId(h);
  }
  const forged = borrowHeader(MapType.RequestHeaders, keys.split);
  releaseBorrowed();
  if (forged >= 0) removeHeader(MapType.RequestHeaders, keys.split);
  return h === 0 ? 0 : userId(h);
}

/** The response's outcome header in thousandths, or -1 when absent or not a non-negative decimal. */
export function readOutcome(keys: SplitKeys): i64 {
  const n = borrowHeader(MapType.ResponseHeaders, keys.outcome);
  const v = n > 0 ? parseMilli(borrowedPtr(), <usize>n) : -1;
  releaseBorrowed();
  return v;
}
