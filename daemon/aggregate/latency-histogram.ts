/**
 * A fixed-size latency histogram in µs with the bucket layout of an HDR
 * histogram of 2 significant digits (values below 256 exact, then 128
 * sub-buckets per power of two: ≤ 0.8 % relative error), up to 2^26 µs
 * (67 s; larger values are clamped).
 *
 * Why not record into hdr-histogram-js directly: its `recordValue` costs
 * 60-250 ns per value on this class of machine (JS build ~4 M/s, WebAssembly
 * build ~8-16 M/s; see bench/ingest.ts --hdr), which alone would eat most of
 * the ingest budget. Recording here is an index computation and an
 * increment. {@link LatencyHistogram.toHdr} folds the counts losslessly into
 * an hdr-histogram-js histogram with the same precision, which is what the
 * store keeps (`encodeIntoCompressedBase64`) and what readers decode.
 */
import * as hdr from 'hdr-histogram-js';

const SUB_BITS = 7; // 128 sub-buckets per half-range → 2 significant digits.
const SUB_HALF = 1 << SUB_BITS;
const EXACT = SUB_HALF * 2;
const MAX_EXP = 25; // values < 2^26
/** Largest value kept exactly in range; larger values are clamped to it. */
export const MAX_LATENCY_US = 2 ** (MAX_EXP + 1) - 1;
const SIZE = (MAX_EXP - SUB_BITS + 1 + 1) * SUB_HALF;

/** The counter index of a value (µs, integer ≥ 0). */
export function bucketIndex(v: number): number {
  if (v < EXACT) return v < 0 ? 0 : v | 0;
  if (v > MAX_LATENCY_US) v = MAX_LATENCY_US;
  const e = 31 - Math.clz32(v);
  const shift = e - SUB_BITS;
  return ((shift + 1) << SUB_BITS) + ((v >>> shift) - SUB_HALF);
}

/** The lowest value that maps to counter `i`. */
export function bucketLow(i: number): number {
  if (i < EXACT) return i;
  const shift = (i >>> SUB_BITS) - 1;
  return ((i & (SUB_HALF - 1)) + SUB_HALF) * 2 ** shift;
}

/** The highest value that maps to counter `i` (what HDR reports for a percentile). */
export function bucketHigh(i: number): number {
  if (i < EXACT) return i;
  const shift = (i >>> SUB_BITS) - 1;
  return ((i & (SUB_HALF - 1)) + SUB_HALF + 1) * 2 ** shift - 1;
}

export class LatencyHistogram {
  readonly counts = new Uint32Array(SIZE);
  total = 0;

  record(v: number): void {
    this.counts[bucketIndex(v)]!++;
    this.total++;
  }

  reset(): void {
    if (this.total === 0) return;
    this.counts.fill(0);
    this.total = 0;
  }

  /** The value at quantile q (0..1), HDR-style (highest equivalent value); NaN when empty. */
  valueAtQuantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    const { counts } = this;
    // High quantiles are found faster from the top.
    if (q >= 0.5) {
      let above = 0;
      const need = this.total - rank;
      for (let i = SIZE - 1; i >= 0; i--) {
        above += counts[i]!;
        if (above > need) return bucketHigh(i);
      }
      return bucketHigh(0);
    }
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += counts[i]!;
      if (seen >= rank) return bucketHigh(i);
    }
    return bucketHigh(SIZE - 1);
  }

  /** An hdr-histogram-js histogram (JS build, 2 significant digits) with the same counts. */
  toHdr(): hdr.Histogram {
    const h = hdr.build({
      bitBucketSize: 32,
      lowestDiscernibleValue: 1,
      highestTrackableValue: MAX_LATENCY_US + 1,
      numberOfSignificantValueDigits: 2,
    });
    const { counts } = this;
    for (let i = 0; i < SIZE; i++) {
      const c = counts[i]!;
      if (c !== 0) h.recordValueWithCount(bucketLow(i), c);
    }
    return h;
  }

  /** `encodeIntoCompressedBase64` of {@link toHdr}. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.toHdr());
  }
}
