/**
 * Telemetry state that needs no host: the bounded record buffer (drops the
 * oldest when full) and the string dictionary (batch-encoder.ts encodes
 * them; telemetry.proto is the contract, its comments define every field).
 *
 * Dictionary ids are stable for the life of the root context; each stream
 * starts with nothing sent, so entries are (re)sent once per stream before the
 * first record that uses them (proto: "a reconnect starts a fresh dictionary").
 */
import { Record } from './generated/umbra/telemetry/v1/Record';

/** Dictionary entries kept at most; later new strings map to 0 ("none"). */
export const MAX_DICT = 4096;

/** Strings sent once per stream, then referred to by number (1..MAX_DICT). */
export class Dictionary {
  values: string[] = [];
  private byValue: Map<string, u32> = new Map();
  private byHash: Map<u64, u32> = new Map();
  private sent: Uint8Array = new Uint8Array(MAX_DICT + 1);

  /** The id of `value`, adding it when new (0 when the dictionary is full). */
  intern(value: string): u32 {
    if (value.length === 0) return 0;
    if (this.byValue.has(value)) return this.byValue.get(value);
    if (this.values.length >= MAX_DICT) return 0;
    this.values.push(value);
    const id = <u32>this.values.length;
    this.byValue.set(value, id);
    return id;
  }

  /** A cached id by a 64-bit hash of the raw bytes (saves building strings). */
  cached(hash: u64): u32 {
    return this.byHash.has(hash) ? this.byHash.get(hash) : 0;
  }

  /** Remembers the id of a raw-bytes hash. */
  remember(hash: u64, id: u32): void {
    if (id !== 0 && this.byHash.size < MAX_DICT * 2) this.byHash.set(hash, id);
  }

  /** Forgets what was sent: called when a new stream opens. */
  resetStream(): void {
    this.sent.fill(0);
  }

  /** Whether `id` is to be sent now (this stream does not have it yet); marks it sent. */
  announce(id: u32): bool {
    if (id === 0 || id > <u32>this.values.length || this.sent[id] !== 0) return false;
    this.sent[id] = 1;
    return true;
  }
}

/** Cumulative counters (proto Counters), owned by the root context. */
export class Counts {
  requests: u64 = 0;
  mirrored: u64 = 0;
  skippedSampling: u64 = 0;
  skippedMethod: u64 = 0;
  skippedPath: u64 = 0;
  skippedBodySize: u64 = 0;
  skippedPaused: u64 = 0;
  shadowBusy: u64 = 0;
  skippedNoSegment: u64 = 0;
  droppedRecords: u64 = 0;
  calloutFailures: u64 = 0;
  streamReconnects: u64 = 0;
}

/**
 * A ring of records, bounded by `capacity`. When full, {@link next} reuses
 * the oldest slot and counts a drop. Start times are kept absolute (µs) and
 * made relative to the batch's base time only when encoded.
 */
export class RecordBuffer {
  private slots: Record[] = [];
  private starts: StaticArray<i64>;
  private head: i32 = 0;
  count: i32 = 0;

  constructor(public capacity: i32) {
    this.starts = new StaticArray<i64>(capacity);
  }

  /**
   * The slot for a new record (all fields reset), and counts a drop in
   * `counts` when the oldest had to go.
   */
  next(startUs: i64, counts: Counts): Record {
    let index: i32;
    if (this.count === this.capacity) {
      index = this.head;
      this.head = (this.head + 1) % this.capacity;
      counts.droppedRecords++;
    } else {
      index = (this.head + this.count) % this.capacity;
      this.count++;
    }
    if (index >= this.slots.length) this.slots.push(new Record());
    const r = this.slots[index];
    r.endpoint = 0;
    r.segment = 0;
    r.latencyUs = 0;
    r.status = 0;
    r.flags = 0;
    r.responseBytes = 0;
    r.bodyHash = 0;
    r.cluster = 0;
    r.user = 0;
    r.outcomeMilli = 0;
    this.starts[index] = startUs;
    return r;
  }

  /** The i-th oldest record (0 = oldest). */
  at(i: i32): Record {
    return this.slots[(this.head + i) % this.capacity];
  }

  /** Start time (µs) of the i-th oldest record. */
  startAt(i: i32): i64 {
    return this.starts[(this.head + i) % this.capacity];
  }

  /** Removes the `n` oldest records (after they were sent). */
  shift(n: i32): void {
    const k = n < this.count ? n : this.count;
    this.head = (this.head + k) % this.capacity;
    this.count -= k;
  }
}

/** What identifies a batch's sender. */
export class BatchMeta {
  proxyId: string = '';
  worker: u32 = 0;
  service: string = '';
}
