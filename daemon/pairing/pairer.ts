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

/** One arm's record, filled in place by the caller (reused; read during `add` only). */
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
  private readonly cap: number;
  private readonly bits: number;
  private readonly mask: number;
  private readonly table: Int32Array;
  private readonly kh1: Int32Array;
  private readonly kh2: Int32Array;
  private readonly series: Int32Array;
  private readonly deadline: Float64Array;
  private readonly startUs: Float64Array;
  private readonly arrived: Uint8Array;
  private readonly done: Uint8Array;
  // Per slot × arm (index slot * 3 + arm - 1).
  private readonly status: Uint16Array;
  private readonly flags: Uint32Array;
  private readonly lat: Uint32Array;
  private readonly hLo: Int32Array;
  private readonly hHi: Int32Array;
  private readonly idBytes: Uint8Array;
  private readonly idLen: Uint8Array;
  private baselineUntil = new Float64Array(64);
  private head = 0;
  private tail = 0;
  private readonly view: PairView & { slot: number };

  constructor(
    private readonly sink: PairSink,
    options: Partial<PairerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_PAIRER_OPTIONS, ...options };
    const c = Math.max(1, Math.floor(this.opts.maxInFlight));
    this.cap = c;
    const size = nextPow2(c * 2);
    this.bits = Math.log2(size);
    this.mask = size - 1;
    this.table = new Int32Array(size);
    this.kh1 = new Int32Array(c);
    this.kh2 = new Int32Array(c);
    this.series = new Int32Array(c);
    this.deadline = new Float64Array(c);
    this.startUs = new Float64Array(c);
    this.arrived = new Uint8Array(c);
    this.done = new Uint8Array(c);
    this.status = new Uint16Array(c * 3);
    this.flags = new Uint32Array(c * 3);
    this.lat = new Uint32Array(c * 3);
    this.hLo = new Int32Array(c * 3);
    this.hHi = new Int32Array(c * 3);
    this.idBytes = new Uint8Array(c * this.opts.idBytesKept);
    this.idLen = new Uint8Array(c);
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
    const { deadline, cap } = this;
    while (this.tail < this.head) {
      const s = this.tail % cap;
      if (deadline[s]! > nowUs) return;
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
    const bit = 1 << (arm - 1);
    const arrived = this.arrived[s]!;
    if (arrived & bit) {
      this.counters.duplicates++;
      return;
    }
    const k = s * 3 + arm - 1;
    this.status[k] = r.status;
    this.flags[k] = r.flags;
    this.lat[k] = r.latencyUs;
    this.hLo[k] = r.hashLo;
    this.hHi[k] = r.hashHi;
    this.arrived[s] = arrived | bit;
    if (arm === ARM_PRIMARY) {
      this.startUs[s] = r.startUs;
      if (r.flags & FLAG_MIRROR_ABANDONED) {
        this.counters.abandoned++;
        this.done[s] = BIT_CANDIDATE | BIT_BASELINE;
        return;
      }
    } else if (arm === ARM_BASELINE) {
      this.markBaseline(r.series, nowUs);
    }
    if (!((arrived | bit) & BIT_PRIMARY)) return;
    const ready = this.arrived[s]! & ~this.done[s]!;
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
    const { table, kh1, kh2, mask } = this;
    let i = this.home(h1);
    for (;;) {
      const e = table[i]!;
      if (e === 0) return -1;
      const s = e - 1;
      if (kh1[s] === h1 && kh2[s] === h2) return s;
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
    this.kh1[s] = r.h1;
    this.kh2[s] = r.h2;
    this.series[s] = r.series;
    this.deadline[s] = nowUs + this.opts.ttlUs;
    this.startUs[s] = 0;
    this.arrived[s] = 0;
    this.done[s] = 0;
    const keep = Math.min(r.idLen, this.opts.idBytesKept);
    // A byte loop: no subarray view allocated per request.
    const src = r.idBuf;
    const dst = this.idBytes;
    const from = r.idOff;
    const to = s * this.opts.idBytesKept;
    for (let k = 0; k < keep; k++) dst[to + k] = src[from + k]!;
    this.idLen[s] = keep;
    const { table, mask } = this;
    let i = this.home(r.h1);
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = s + 1;
    return s;
  }

  /** Removes slot `s` from the index (backward-shift deletion for linear probing). */
  private unindex(s: number): void {
    const { table, mask, kh1 } = this;
    let i = this.home(kh1[s]!);
    while (table[i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = table[j]!;
      if (e === 0) break;
      const k = this.home(kh1[e - 1]!);
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      table[i] = e;
      i = j;
    }
    table[i] = 0;
  }

  private retire(s: number, evicted: boolean): void {
    this.unindex(s);
    const arrived = this.arrived[s]!;
    const done = this.done[s]!;
    const c = this.counters;
    if (evicted) c.evicted++;
    if (!(arrived & BIT_PRIMARY)) {
      c.orphanShadows++;
      if (evicted) c.evictedIncomplete++;
      return;
    }
    const createdUs = this.deadline[s]! - this.opts.ttlUs;
    const series = this.series[s]!;
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
    const p = s * 3;
    const k = p + shadowArm - 1;
    v.slot = s;
    v.series = this.series[s]!;
    v.startUs = this.startUs[s]!;
    v.shadowArm = shadowArm;
    v.missing = missing;
    v.pStatus = this.status[p]!;
    v.pFlags = this.flags[p]!;
    v.pLatencyUs = this.lat[p]!;
    v.pHashLo = this.hLo[p]!;
    v.pHashHi = this.hHi[p]!;
    if (missing) {
      v.sStatus = 0;
      v.sFlags = 0;
      v.sLatencyUs = 0;
      v.sHashLo = 0;
      v.sHashHi = 0;
      this.counters.shadowTimeouts++;
    } else {
      v.sStatus = this.status[k]!;
      v.sFlags = this.flags[k]!;
      v.sLatencyUs = this.lat[k]!;
      v.sHashLo = this.hLo[k]!;
      v.sHashHi = this.hHi[k]!;
      this.counters.pairs++;
    }
    this.done[s] = this.done[s]! | (1 << (shadowArm - 1));
    this.sink.onPair(v);
  }

  private formatId(s: number): string {
    const n = this.idLen[s]!;
    const off = s * this.opts.idBytesKept;
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
