/** A healthy candidate pair of request `id` in `series` at `startUs` (both sides 200 in 10 ms, same body), for aggregator tests. */
import type { PairView } from '../../../daemon/pairing/pairer.js';
import { ARM_CANDIDATE } from '../../../daemon/wire/record-contract.js';

export function pairView(series: number, startUs: number, id: string, p: Partial<PairView> = {}): PairView {
  return {
    series,
    startUs,
    shadowArm: ARM_CANDIDATE,
    missing: false,
    pStatus: 200,
    pFlags: 0,
    pLatencyUs: 10_000,
    pHashLo: 1,
    pHashHi: 1,
    sStatus: 200,
    sFlags: 0,
    sLatencyUs: 10_000,
    sHashLo: 1,
    sHashHi: 1,
    requestId: () => id,
    copyRequestId: (dst, at) => {
      const bytes = Buffer.from(id);
      dst.set(bytes, at);
      return bytes.length;
    },
    ...p,
  };
}
