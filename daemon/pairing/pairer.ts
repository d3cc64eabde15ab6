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
 * - A pair (primary + one shadow arm) is emitted as soon as both are present.
 *   When a slot expires with its primary but without the candidate, a
 *   *missing* candidate pair is emitted (a shadow timeout); the same for the
 *   baseline when baseline records were seen for that series recently.
 * - A second arrival of the same arm within the TTL is a duplicate: counted,
 *   ignored. Completed slots stay until their TTL so late duplicates are seen.
 * - Time is whatever the caller says (`nowUs`): wall clock when live, the
 *   recorded arrival times in replay, so both give the same pairs.
 */
import { ARM_BASELINE, ARM_CANDIDATE, ARM_PRIMARY, FLAG_MIRROR_ABANDONED } from '../telemetry/decode.js';

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
}

export interface PairSink {
  onPair(p: PairView): void;
}

export interface PairerOptions {
  /** How long a request waits for its other arms, from its first arm's arrival. */
  ttlUs: number;
  /** Slots allocated up front; the oldest is evicted when all are in use. */
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
/** arrived bits | done bits << 4 | kept id length << 8 */
const W_STATE = 3;
/** float64 words 4-5 and 6-7 (8-byte aligned: STRIDE is even). */
const F_DEADLINE = 2;
const F_START = 3;
const F_STRIDE = STRIDE / 2;
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
  private readonly mask: number;
  /** Open addressing, linear probing: [2i] = slot + 1 (0 empty), [2i + 1] = h1 of that slot. */
  private readonly table: Int32Array;
  private readonly w: Int32Array;
  private readonly f: Float64Array;
  private readonly idBytes: Uint8Array;
  private baselineUntil = new Float64Array(64);
  private head = 0;
  private tail = 0;
  private readonly view: PairView & { slot: number };

  constructor(
    private readonly sink: PairSink,
    options: Partial<PairerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_PAIRER_OPTIONS, ...options };
    this.ttlUs = this.opts.ttlUs;
    this.idKeep = Math.min(255, Math.max(0, this.opts.idBytesKept));
    const c = Math.max(1, Math.floor(this.opts.maxInFlight));
    this.cap = c;
    const size = nextPow2(c * 2);
    this.bits = Math.log2(size);
    this.mask = size - 1;
    this.table = new Int32Array(size * 2);
    const buf = new ArrayBuffer(c * STRIDE * 4);
    this.w = new Int32Array(buf);
    this.f = new Float64Array(buf);
    this.idBytes = new Uint8Array(c * this.idKeep);
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
    const { f, cap } = this;
    while (this.tail < this.head) {
      const s = this.tail % cap;
      if (f[s * F_STRIDE + F_DEADLINE]! > nowUs) return;
      this.retire(s, false);
      this.tail++;
    }
  }

  /** Adds one primary/candidate/baseline record arriving at `nowUs`. */
  add(r: ArmRecord, nowUs: number): void {
    const arm = r.arm;
    if (arm < ARM_PRIMARY || arm > ARM_BASELINE) return;
    this.counters.records++;
    let s = this.lookup(r.h1, r.h2);
    if (s < 0) s = this.allocate(r, nowUs);
    const w = this.w;
    const base = s * STRIDE;
    const bit = 1 << (arm - 1);
    const state = w[base + W_STATE]!;
    if (state & bit) {
      this.counters.duplicates++;
      return;
    }
    const k = base + W_ARMS + (arm - 1) * 4;
    w[k] = (r.status & 0xffff) | (r.flags << 16);
    w[k + 1] = r.latencyUs;
    w[k + 2] = r.hashLo;
    w[k + 3] = r.hashHi;
    const next = state | bit;
    if (arm === ARM_PRIMARY) {
      this.f[s * F_STRIDE + F_START] = r.startUs;
      if (r.flags & FLAG_MIRROR_ABANDONED) {
        this.counters.abandoned++;
        w[base + W_STATE] = next | ((BIT_CANDIDATE | BIT_BASELINE) << 4);
        return;
      }
    } else if (arm === ARM_BASELINE) {
      this.markBaseline(r.series, nowUs);
    }
    w[base + W_STATE] = next;
    if (!(next & BIT_PRIMARY)) return;
    const ready = next & 7 & ~(next >> 4);
    if (ready & BIT_CANDIDATE) this.emit(s, ARM_CANDIDATE, false);
    if (ready & BIT_BASELINE) this.emit(s, ARM_BASELINE, false);
  }

  /** Retires every slot now (end of a replay): incomplete ones count as timeouts. */
  flush(): void {
    while (this.tail < this.head) {
      this.retire(this.tail % this.cap, false);
      this.tail++;
    }
  }

  private markBaseline(series: number, nowUs: number): void {
    if (series >= this.baselineUntil.length) {
      const g = new Float64Array(Math.max(series + 1, this.baselineUntil.length * 2));
      g.set(this.baselineUntil);
      this.baselineUntil = g;
    }
    this.baselineUntil[series] = nowUs + this.opts.baselineWindowUs;
  }

  private home(h1: number): number {
    return Math.imul(h1, 0x9e3779b1) >>> (32 - this.bits);
  }

  private lookup(h1: number, h2: number): number {
    const { table, w, mask } = this;
    let i = this.home(h1);
    for (;;) {
      const e = table[2 * i]!;
      if (e === 0) return -1;
      if (table[2 * i + 1] === h1 && w[(e - 1) * STRIDE + W_H2] === h2) return e - 1;
      i = (i + 1) & mask;
    }
  }

  private allocate(r: ArmRecord, nowUs: number): number {
    if (this.head - this.tail >= this.cap) {
      this.retire(this.tail % this.cap, true);
      this.tail++;
    }
    const s = this.head % this.cap;
    this.head++;
    const w = this.w;
    const base = s * STRIDE;
    const keep = Math.min(r.idLen, this.idKeep);
    w[base + W_H1] = r.h1;
    w[base + W_H2] = r.h2;
    w[base + W_SERIES] = r.series;
    w[base + W_STATE] = keep << 8;
    this.f[s * F_STRIDE + F_DEADLINE] = nowUs + this.ttlUs;
    this.f[s * F_STRIDE + F_START] = 0;
    // A byte loop: no subarray view allocated per request.
    const src = r.idBuf;
    const dst = this.idBytes;
    const from = r.idOff;
    const to = s * this.idKeep;
    for (let k = 0; k < keep; k++) dst[to + k] = src[from + k]!;
    const { table, mask } = this;
    let i = this.home(r.h1);
    while (table[2 * i] !== 0) i = (i + 1) & mask;
    table[2 * i] = s + 1;
    table[2 * i + 1] = r.h1;
    return s;
  }

  /** Removes slot `s` from the index (backward-shift deletion for linear probing). */
  private unindex(s: number): void {
    const { table, mask } = this;
    let i = this.home(this.w[s * STRIDE + W_H1]!);
    while (table[2 * i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = table[2 * j]!;
      if (e === 0) break;
      const k = this.home(table[2 * j + 1]!);
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      table[2 * i] = e;
      table[2 * i + 1] = table[2 * j + 1]!;
      i = j;
    }
    table[2 * i] = 0;
  }

  private retire(s: number, evicted: boolean): void {
    this.unindex(s);
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
    const createdUs = this.f[s * F_STRIDE + F_DEADLINE]! - this.ttlUs;
    const series = this.w[base + W_SERIES]!;
    const wantBaseline = series < this.baselineUntil.length && this.baselineUntil[series]! > createdUs;
    const missCandidate = !(done & BIT_CANDIDATE);
    const missBaseline = wantBaseline && !(done & BIT_BASELINE);
    if (!missCandidate && !missBaseline) return;
    if (evicted) {
      c.evictedIncomplete++;
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
