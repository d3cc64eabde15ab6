/**
 * Joins the arms of each mirrored request (primary, candidate, optional
 * baseline) by request id, within a TTL, in bounded memory.
 *
 * - Keys are two 32-bit hashes of the request id bytes (64 bits in all); no
 *   string is built per record.
 * - Slots live in a ring allocated up front (`maxInFlight` of them), so slots
 *   are created and retired in arrival order; a slot is retired when its TTL
 *   has passed (measured from its first arm's arrival), or evicted as the
 *   oldest when the ring is full.
 * - The index is a table of hash buckets, each the head of a chain of the
 *   requests hashed there, newest first, linked through the slots by
 *   allocation number (with a tag of the hash, so most misses read no slot). Retiring is oldest first, so a retired request is
 *   always at the old end of its chain: a walk stops at the first request
 *   older than the ring's tail, and retiring touches no index memory at all
 *   (the index is the pairer's only random access; each cold cache line
 *   costs more than the rest of the work on a record).
 * - A pair (primary + one shadow arm) is emitted as soon as both are present.
 *   When a slot expires with its primary but without the candidate, a
 *   *missing* candidate pair is emitted (a shadow timeout); the same for the
 *   baseline when baseline records were seen for that series recently.
 * - A second arrival of the same arm within the TTL is a duplicate: counted,
 *   ignored. Completed slots stay until their TTL so late duplicates are seen.
 * - Time is whatever the caller says (`nowUs`): wall clock when live, the
 *   recorded arrival times in replay, so both give the same pairs.
 */
import {
  ARM_BASELINE,
  ARM_CANDIDATE,
  ARM_LIVE,
  ARM_PRIMARY,
  FLAG_MIRROR_ABANDONED,
} from '../wire/record-contract.js';

/**
 * One arm's record, filled in place by the caller (reused; read during `add`
 * only). The pairer keeps status and flags in 16 bits each (all defined flags
 * fit).
 */
export interface ArmRecord {
  series: number;
  /** The request id's two 32-bit hashes. */
  h1: number;
  h2: number;
  /** ARM_PRIMARY, ARM_CANDIDATE or ARM_BASELINE. */
  arm: number;
  /** Unix µs when the request started. */
  startUs: number;
  latencyUs: number;
  status: number;
  flags: number;
  hashLo: number;
  hashHi: number;
  /** The request id bytes: idBuf[idOff .. idOff + idLen). */
  idBuf: Uint8Array;
  idOff: number;
  idLen: number;
}

/**
 * Records as decoded columns (the telemetry decoder's BatchColumns fits):
 * request id hashes and bytes, arm, and the measured fields, by index.
 */
export interface ArmColumns {
  /** Start times are baseTimeUs + startDeltaUs[i]. */
  baseTimeUs: number;
  startDeltaUs: Float64Array;
  buf: Uint8Array;
  idOff: Int32Array;
  idLen: Int32Array;
  idH1: Int32Array;
  idH2: Int32Array;
  arm: Uint8Array;
  latencyUs: Uint32Array;
  status: Uint32Array;
  flags: Uint32Array;
  hashLo: Int32Array;
  hashHi: Int32Array;
}

/**
 * A pair as handed to the sink: valid only during the `onPair` call (the
 * object is reused). `missing` means the shadow arm never arrived (its s*
 * fields are zero).
 */
export interface PairView {
  series: number;
  /** Unix µs when the primary request started. */
  startUs: number;
  /** ARM_CANDIDATE or ARM_BASELINE. */
  shadowArm: number;
  missing: boolean;
  pStatus: number;
  pFlags: number;
  pLatencyUs: number;
  pHashLo: number;
  pHashHi: number;
  sStatus: number;
  sFlags: number;
  sLatencyUs: number;
  sHashLo: number;
  sHashHi: number;
  /** The request id as text (a UUID, printable text, or hex). Allocates: call only for examples. */
  requestId(): string;
  /**
   * Copies the request id bytes kept (at most 255) into `dst` at `at` and
   * returns how many; `dst` must have room for 255. Allocates nothing.
   */
  copyRequestId(dst: Uint8Array, at: number): number;
}

export interface PairSink {
  onPair(p: PairView): void;
  /**
   * A primary that started at `startUs` now waits for a shadow arm (+1), or
   * that wait ended (-1: the pair or its missing pair was emitted, or the
   * slot was evicted). Lets the sink tell when every pair of a second has
   * resolved. Optional.
   */
  onPending?(startUs: number, delta: 1 | -1): void;
}

export interface PairerOptions {
  /** How long a request waits for its other arms, from its first arm's arrival. */
  ttlUs: number;
  /** Slots allocated up front; the oldest is evicted when all are in use. At most 2^26. */
  maxInFlight: number;
  /** A series "has a baseline" while baseline records arrived within this window. */
  baselineWindowUs: number;
  /** Request id bytes kept per slot for examples (longer ids are cut). */
  idBytesKept: number;
}

export const DEFAULT_PAIRER_OPTIONS: PairerOptions = {
  ttlUs: 10_000_000,
  maxInFlight: 262_144,
  baselineWindowUs: 60_000_000,
  idBytesKept: 32,
};

/** Cumulative counts (plain numbers; read them any time). */
export interface PairerCounters {
  records: number;
  duplicates: number;
  /** Pairs emitted with both arms. */
  pairs: number;
  /** Missing-shadow pairs emitted at TTL (candidate or baseline). */
  shadowTimeouts: number;
  /** Slots that expired with shadow arms but no primary. */
  orphanShadows: number;
  /** Slots evicted before their TTL because the ring was full. */
  evicted: number;
  /** Of those, slots still waiting for an arm (nothing emitted for the missing arm). */
  evictedIncomplete: number;
  /** Primary records whose mirror was abandoned (no shadow expected). */
  abandoned: number;
}

const BIT_PRIMARY = 1;
const BIT_CANDIDATE = 2;
const BIT_BASELINE = 4;

// Slot layout: one record of STRIDE 32-bit words per slot, so a lookup touches
// one or two cache lines instead of one per field (the pairer is bound by
// memory latency, not arithmetic).
const STRIDE = 20;
const W_H1 = 0;
const W_H2 = 1;
const W_SERIES = 2;
/** arrived bits | done bits << 4 | kept id length << 8 | waits reported to the sink << 16 */
const W_STATE = 3;
/** A wait for the candidate (bit 16) or the baseline (bit 17) was reported with onPending(+1). */
const WAIT_SHIFT = 16;
/** float64 words 4-5 (8-byte aligned: STRIDE is even). */
const F_START = 2;
const F_STRIDE = STRIDE / 2;
/** The index entry of the next older request in the same bucket (0: none); see ENTRY_VALID. */
const W_NEXT = 6;

// An index entry (a bucket head, or a slot's W_NEXT) is one int32:
//   bit 0 valid, bit 1 "had a live successor when written", then the
//   request's allocation number modulo 2^linkBits, then a tag of its h2.
// The tag lets a walk skip a request without reading its slot (a cold cache
// line); the successor bit lets it stop there.
const ENTRY_VALID = 1;
const ENTRY_HAS_NEXT = 2;
/** maxInFlight above this leaves too few bits for links and tags. */
const MAX_CAPACITY = 2 ** 26;
/** Per arm (primary, candidate, baseline) 4 words: status | flags << 16, latency, hash lo, hash hi. */
const W_ARMS = 8;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class Pairer {
  readonly counters: PairerCounters = {
    records: 0,
    duplicates: 0,
    pairs: 0,
    shadowTimeouts: 0,
    orphanShadows: 0,
    evicted: 0,
    evictedIncomplete: 0,
    abandoned: 0,
  };
  private readonly opts: PairerOptions;
  private readonly ttlUs: number;
  private readonly idKeep: number;
  private readonly cap: number;
  private readonly bits: number;
  private readonly linkBits: number;
  private readonly linkMask: number;
  private readonly tagMask: number;
  /** Per bucket: the index entry of the newest request hashed there (0: none). */
  private readonly buckets: Int32Array;
  /** Allocation number of the newest request, modulo 2^linkBits. */
  private lastLink: number;
  private readonly w: Int32Array;
  private readonly f: Float64Array;
  /** Per slot: when its TTL ends (read in ring order only, so kept apart from the slots). */
  private readonly deadline: Float64Array;
  private readonly idBytes: Uint8Array;
  /** The same bytes as idBytes, for copying request ids a word at a time. */
  private readonly idView: DataView;
  /** The last request-id buffer seen, and a view of it. */
  private idSrc: Uint8Array = new Uint8Array(0);
  private idSrcView = new DataView(this.idSrc.buffer);
  /** Where beginColumns leaves what it read (so the reads are not optimized away). */
  private readonly touched = new Int32Array(1);
  /** Arrival time and start time of the record being added (fields, not arguments: see addColumn). */
  private nowUs = 0;
  private startUs = 0;
  private baselineUntil = new Float64Array(64);
  /** Requests allocated and retired since the start; the live ones are [tail, head). */
  private head = 0;
  private tail = 0;
  /** Ring positions of head and tail. */
  private headSlot = 0;
  private tailSlot = 0;
  private readonly view: PairView & { slot: number };

  constructor(
    private readonly sink: PairSink,
    options: Partial<PairerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_PAIRER_OPTIONS, ...options };
    this.ttlUs = this.opts.ttlUs;
    this.idKeep = Math.min(255, Math.max(0, this.opts.idBytesKept));
    const c = Math.max(1, Math.floor(this.opts.maxInFlight));
    if (c > MAX_CAPACITY) throw new Error(`maxInFlight ${c} exceeds ${MAX_CAPACITY}`);
    this.cap = c;
    // Twice as many buckets as slots: chains average at most half a request.
    const size = nextPow2(c * 2);
    this.bits = Math.log2(size);
    this.buckets = new Int32Array(size);
    // Links must tell live requests (ages < cap) from retired ones up to 2 caps
    // old; 2^5 times the bucket count also makes a never-rewritten bucket head
    // practically never look live again. The rest of the word is the tag.
    this.linkBits = Math.min(28, this.bits + 5);
    this.linkMask = 2 ** this.linkBits - 1;
    this.tagMask = 2 ** (30 - this.linkBits) - 1;
    this.lastLink = this.linkMask;
    const buf = new ArrayBuffer(c * STRIDE * 4);
    this.w = new Int32Array(buf);
    this.f = new Float64Array(buf);
    this.deadline = new Float64Array(c);
    this.idBytes = new Uint8Array(c * this.idKeep);
    this.idView = new DataView(this.idBytes.buffer);
    const self = this;
    this.view = {
      slot: 0,
      series: 0,
      startUs: 0,
      shadowArm: 0,
      missing: false,
      pStatus: 0,
      pFlags: 0,
      pLatencyUs: 0,
      pHashLo: 0,
      pHashHi: 0,
      sStatus: 0,
      sFlags: 0,
      sLatencyUs: 0,
      sHashLo: 0,
      sHashHi: 0,
      requestId() {
        return self.formatId(this.slot);
      },
      copyRequestId(dst: Uint8Array, at: number) {
        return self.copyId(this.slot, dst, at);
      },
    };
  }

  /** Requests currently held (complete ones stay until their TTL). */
  get inFlight(): number {
    return this.head - this.tail;
  }

  get capacity(): number {
    return this.cap;
  }

  /**
   * Retires every slot whose TTL has passed at `nowUs`, emitting missing
   * pairs. Call before each batch with its arrival time, and on a timer.
   */
  advance(nowUs: number): void {
    const deadline = this.deadline;
    while (this.tail < this.head) {
      const s = this.tailSlot;
      if (deadline[s]! > nowUs) return;
      this.retire(s, false);
      this.dropTail();
    }
  }

  /** Adds one primary/candidate/baseline record arriving at `nowUs`. */
  add(r: ArmRecord, nowUs: number): void {
    this.nowUs = nowUs;
    this.startUs = r.startUs;
    this.put(
      r.series,
      r.h1,
      r.h2,
      r.arm,
      r.latencyUs,
      r.status,
      r.flags,
      r.hashLo,
      r.hashHi,
      r.idBuf,
      r.idOff,
      r.idLen,
    );
  }

  /**
   * Starts a batch of decoded columns arriving at `nowUs`, for
   * {@link addColumn}; also reads the index buckets that records `0 .. n`
   * will look up, all in one tight loop, so their cache misses (one per new
   * request, the pairer's main cost) overlap instead of stalling `addColumn`
   * one by one.
   */
  beginColumns(c: ArmColumns, n: number, nowUs: number): void {
    this.nowUs = nowUs;
    const buckets = this.buckets;
    const shift = 32 - this.bits;
    const h1s = c.idH1;
    const arms = c.arm;
    let acc = 0;
    for (let i = 0; i < n; i++) {
      // Branch-free: live records (arm 4) read bucket 0 instead of a random one.
      const mask = (arms[i]! - ARM_LIVE) >> 31;
      acc ^= buckets[(Math.imul(h1s[i]!, 0x9e3779b1) >>> shift) & mask]!;
    }
    this.touched[0] = acc;
  }

  /**
   * Adds record `i` of the columns passed to {@link beginColumns} (the same
   * as {@link add} without copying into an {@link ArmRecord}); `series` comes
   * from the caller, everything else from the columns. No floating-point
   * value crosses a call here: V8 would box each one on the heap.
   */
  addColumn(c: ArmColumns, i: number, series: number): void {
    this.startUs = c.baseTimeUs + c.startDeltaUs[i]!;
    this.put(
      series,
      c.idH1[i]!,
      c.idH2[i]!,
      c.arm[i]!,
      c.latencyUs[i]!,
      c.status[i]!,
      c.flags[i]!,
      c.hashLo[i]!,
      c.hashHi[i]!,
      c.buf,
      c.idOff[i]!,
      c.idLen[i]!,
    );
  }

  private put(
    series: number,
    h1: number,
    h2: number,
    arm: number,
    latencyUs: number,
    status: number,
    flags: number,
    hashLo: number,
    hashHi: number,
    idBuf: Uint8Array,
    idOff: number,
    idLen: number,
  ): void {
    if (arm < ARM_PRIMARY || arm > ARM_BASELINE) return;
    this.counters.records++;
    let s = this.lookup(h1, h2);
    if (s < 0) s = this.allocate(series, h1, h2, idBuf, idOff, idLen);
    const w = this.w;
    const base = s * STRIDE;
    const bit = 1 << (arm - 1);
    const state = w[base + W_STATE]!;
    if (state & bit) {
      this.counters.duplicates++;
      return;
    }
    const k = base + W_ARMS + (arm - 1) * 4;
    w[k] = (status & 0xffff) | (flags << 16);
    w[k + 1] = latencyUs;
    w[k + 2] = hashLo;
    w[k + 3] = hashHi;
    const next = state | bit;
    if (arm === ARM_PRIMARY) {
      this.f[s * F_STRIDE + F_START] = this.startUs;
      if (flags & FLAG_MIRROR_ABANDONED) {
        this.counters.abandoned++;
        w[base + W_STATE] = next | ((BIT_CANDIDATE | BIT_BASELINE) << 4);
        return;
      }
    } else if (arm === ARM_BASELINE) {
      this.markBaseline(series, this.nowUs);
    }
    w[base + W_STATE] = next;
    if (!(next & BIT_PRIMARY)) return;
    if (arm === ARM_PRIMARY && this.sink.onPending) this.reportWaits(s, series, next);
    const ready = next & 7 & ~(next >> 4);
    if (ready & BIT_CANDIDATE) this.emit(s, ARM_CANDIDATE, false);
    if (ready & BIT_BASELINE) this.emit(s, ARM_BASELINE, false);
  }

  /** Reports the shadow arms a just-arrived primary waits for (the baseline only where baselines run). */
  private reportWaits(s: number, series: number, state: number): void {
    let waits = 0;
    if (!(state & BIT_CANDIDATE)) waits |= BIT_CANDIDATE;
    if (
      !(state & BIT_BASELINE) &&
      series < this.baselineUntil.length &&
      this.baselineUntil[series]! > this.nowUs
    )
      waits |= BIT_BASELINE;
    if (waits === 0) return;
    this.w[s * STRIDE + W_STATE] = state | (waits << WAIT_SHIFT);
    const startUs = this.f[s * F_STRIDE + F_START]!;
    if (waits & BIT_CANDIDATE) this.sink.onPending!(startUs, 1);
    if (waits & BIT_BASELINE) this.sink.onPending!(startUs, 1);
  }

  /** Ends the reported wait for `bit`'s arm of slot `s`, if one was reported. */
  private endWait(s: number, bit: number): void {
    const k = s * STRIDE + W_STATE;
    const state = this.w[k]!;
    const b = bit << WAIT_SHIFT;
    if (!(state & b)) return;
    this.w[k] = state & ~b;
    this.sink.onPending!(this.f[s * F_STRIDE + F_START]!, -1);
  }

  /** Retires every slot now (end of a replay): incomplete ones count as timeouts. */
  flush(): void {
    while (this.tail < this.head) {
      this.retire(this.tailSlot, false);
      this.dropTail();
    }
  }

  /** Forgets the oldest slot (after `retire`): it leaves every chain by being older than the tail. */
  private dropTail(): void {
    this.tail++;
    this.tailSlot = this.tailSlot + 1 === this.cap ? 0 : this.tailSlot + 1;
  }

  private markBaseline(series: number, nowUs: number): void {
    if (series >= this.baselineUntil.length) {
      const g = new Float64Array(Math.max(series + 1, this.baselineUntil.length * 2));
      g.set(this.baselineUntil);
      this.baselineUntil = g;
    }
    this.baselineUntil[series] = nowUs + this.opts.baselineWindowUs;
  }

  private bucket(h1: number): number {
    return Math.imul(h1, 0x9e3779b1) >>> (32 - this.bits);
  }

  /**
   * How many allocations ago the request of index entry `e` was made: 0 for
   * the newest. A live request is less than `inFlight` ago; anything else is
   * retired.
   */
  private age(e: number): number {
    return (this.lastLink - (e >>> 2)) & this.linkMask;
  }

  /** The ring position of the request made `age` allocations ago. */
  private slotAt(age: number): number {
    const s = this.headSlot - 1 - age;
    return s < 0 ? s + this.cap : s;
  }

  private lookup(h1: number, h2: number): number {
    const w = this.w;
    const live = this.head - this.tail;
    const tag = h2 & this.tagMask;
    const tagShift = this.linkBits + 2;
    let e = this.buckets[this.bucket(h1)]!;
    let prevAge = -1;
    while (e & ENTRY_VALID) {
      const age = this.age(e);
      // Ages grow along a chain; the first retired request ends it (all after it are older).
      if (age >= live || age <= prevAge) return -1;
      const base = this.slotAt(age) * STRIDE;
      if (e >>> tagShift === tag && w[base + W_H1] === h1 && w[base + W_H2] === h2) return base / STRIDE;
      if (!(e & ENTRY_HAS_NEXT)) return -1;
      e = w[base + W_NEXT]!;
      prevAge = age;
    }
    return -1;
  }

  private allocate(
    series: number,
    h1: number,
    h2: number,
    idBuf: Uint8Array,
    idOff: number,
    idLen: number,
  ): number {
    if (this.head - this.tail >= this.cap) {
      this.retire(this.tailSlot, true);
      this.dropTail();
    }
    const b = this.bucket(h1);
    const first = this.buckets[b]!;
    // Link the bucket's newest request only while it is live, so no link outlives its target by more than the ring.
    const next = first & ENTRY_VALID && this.age(first) < this.head - this.tail ? first : 0;
    const s = this.headSlot;
    this.headSlot = s + 1 === this.cap ? 0 : s + 1;
    this.head++;
    this.lastLink = (this.lastLink + 1) & this.linkMask;
    this.buckets[b] =
      ENTRY_VALID |
      (next !== 0 ? ENTRY_HAS_NEXT : 0) |
      (this.lastLink << 2) |
      ((h2 & this.tagMask) << (this.linkBits + 2));
    const w = this.w;
    const base = s * STRIDE;
    const keep = Math.min(idLen, this.idKeep);
    w[base + W_H1] = h1;
    w[base + W_H2] = h2;
    w[base + W_SERIES] = series;
    w[base + W_STATE] = keep << 8;
    w[base + W_NEXT] = next;
    this.deadline[s] = this.nowUs + this.ttlUs;
    this.f[s * F_STRIDE + F_START] = 0;
    this.keepId(s, idBuf, idOff, keep);
    return s;
  }

  /** Copies the first `keep` id bytes into slot `s`'s share of idBytes, a word at a time. */
  private keepId(s: number, src: Uint8Array, from: number, keep: number): void {
    if (src !== this.idSrc) {
      this.idSrc = src;
      this.idSrcView = new DataView(src.buffer, src.byteOffset, src.byteLength);
    }
    const sv = this.idSrcView;
    const dv = this.idView;
    const to = s * this.idKeep;
    let k = 0;
    for (; k + 4 <= keep; k += 4) dv.setInt32(to + k, sv.getInt32(from + k, true), true);
    for (; k < keep; k++) dv.setUint8(to + k, sv.getUint8(from + k));
  }

  private retire(s: number, evicted: boolean): void {
    const base = s * STRIDE;
    const state = this.w[base + W_STATE]!;
    const arrived = state & 7;
    const done = (state >> 4) & 7;
    const c = this.counters;
    if (evicted) c.evicted++;
    if (!(arrived & BIT_PRIMARY)) {
      c.orphanShadows++;
      if (evicted) c.evictedIncomplete++;
      return;
    }
    const createdUs = this.deadline[s]! - this.ttlUs;
    const series = this.w[base + W_SERIES]!;
    const wantBaseline = series < this.baselineUntil.length && this.baselineUntil[series]! > createdUs;
    const missCandidate = !(done & BIT_CANDIDATE);
    const missBaseline = wantBaseline && !(done & BIT_BASELINE);
    if (!missCandidate && !missBaseline) {
      // A wait reported while a baseline ran, for a baseline no longer expected.
      if ((state >> WAIT_SHIFT) & BIT_BASELINE) this.endWait(s, BIT_BASELINE);
      return;
    }
    if (evicted) {
      c.evictedIncomplete++;
      if ((state >> WAIT_SHIFT) & BIT_CANDIDATE) this.endWait(s, BIT_CANDIDATE);
      if ((state >> WAIT_SHIFT) & BIT_BASELINE) this.endWait(s, BIT_BASELINE);
      return;
    }
    if (missCandidate) this.emit(s, ARM_CANDIDATE, true);
    if (missBaseline) this.emit(s, ARM_BASELINE, true);
  }

  private emit(s: number, shadowArm: number, missing: boolean): void {
    const v = this.view;
    const w = this.w;
    const base = s * STRIDE;
    const p = base + W_ARMS;
    v.slot = s;
    v.series = w[base + W_SERIES]!;
    v.startUs = this.f[s * F_STRIDE + F_START]!;
    v.shadowArm = shadowArm;
    v.missing = missing;
    const pw = w[p]!;
    v.pStatus = pw & 0xffff;
    v.pFlags = pw >>> 16;
    v.pLatencyUs = w[p + 1]! >>> 0;
    v.pHashLo = w[p + 2]!;
    v.pHashHi = w[p + 3]!;
    if (missing) {
      v.sStatus = 0;
      v.sFlags = 0;
      v.sLatencyUs = 0;
      v.sHashLo = 0;
      v.sHashHi = 0;
      this.counters.shadowTimeouts++;
    } else {
      const k = p + (shadowArm - 1) * 4;
      const sw = w[k]!;
      v.sStatus = sw & 0xffff;
      v.sFlags = sw >>> 16;
      v.sLatencyUs = w[k + 1]! >>> 0;
      v.sHashLo = w[k + 2]!;
      v.sHashHi = w[k + 3]!;
      this.counters.pairs++;
    }
    w[base + W_STATE] = w[base + W_STATE]! | (1 << (shadowArm - 1 + 4));
    this.sink.onPair(v);
    if ((w[base + W_STATE]! >> WAIT_SHIFT) & (1 << (shadowArm - 1))) this.endWait(s, 1 << (shadowArm - 1));
  }

  private copyId(s: number, dst: Uint8Array, at: number): number {
    const n = (this.w[s * STRIDE + W_STATE]! >> 8) & 0xff;
    const src = this.idBytes;
    const off = s * this.idKeep;
    for (let k = 0; k < n; k++) dst[at + k] = src[off + k]!;
    return n;
  }

  private formatId(s: number): string {
    const n = (this.w[s * STRIDE + W_STATE]! >> 8) & 0xff;
    const off = s * this.idKeep;
    return formatRequestId(this.idBytes.subarray(off, off + n));
  }
}

/** Request id bytes as text: a UUID for 16 binary bytes, the text if printable, else hex. */
export function formatRequestId(bytes: Uint8Array): string {
  let printable = bytes.length > 0;
  for (const c of bytes) {
    if (c < 0x20 || c > 0x7e) {
      printable = false;
      break;
    }
  }
  if (printable) return String.fromCharCode(...bytes);
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
  if (bytes.length !== 16) return hex;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
