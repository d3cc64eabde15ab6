/**
 * Recorded telemetry as history for training: the replay JSON-lines format
 * (one record per line) parsed and reduced to per-second {@link CellStats}
 * with the aggregate contract's definitions. Pure: callers read the files.
 *
 * Line format (unknown fields ignored):
 *   {"t_us":1234567,"start_us":1229267,"proxy":"envoy-1","worker":0,"service":"checkout",
 *    "request_id":"…","arm":"primary"|"candidate"|"baseline",
 *    "endpoint":"GET /cart","segment":"eu","status":200,"latency_us":5300,
 *    "bytes":812,"body_hash":"9f2c…","flags":["timeout"]}
 *
 * This reduction is offline and whole-file (records are paired by request id
 * over the file, so no arm is lost to a TTL; an arm that never appears is a
 * shadow timeout). The tail threshold of an endpoint is the quantile of its
 * primary latencies in the seconds before (never the current one).
 */
import {
  type AggregateOptions,
  BODY_TABLE,
  bodySlot,
  type CellStats,
  DEFAULT_AGGREGATE_OPTIONS,
  emptyPaired,
  type SignalName,
} from '../aggregate/stats.js';

export type Arm = 'primary' | 'candidate' | 'baseline';

export interface ReplayRecord {
  /** When the record arrived (the end of that arm's response), µs from the start of the file. */
  t_us: number;
  /** When the request started (default t_us − latency_us); cells are by the primary's start. */
  start_us: number;
  service: string;
  request_id: string;
  arm: Arm;
  endpoint: string;
  segment: string;
  status: number;
  latency_us: number;
  body_hash: string;
  flags: string[];
}

/** Parses one line; returns the record or a message (the caller adds the line number). */
export function parseRecordLine(line: string): { record: ReplayRecord } | { error: string } | null {
  const text = line.trim();
  if (text === '') return null;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { error: 'not JSON' };
  }
  if (typeof o !== 'object' || o === null) return { error: 'not an object' };
  const need = (k: string, t: 'string' | 'number'): string | null =>
    typeof o[k] === t ? null : `${k}: must be a ${t}`;
  for (const [k, t] of [
    ['t_us', 'number'],
    ['service', 'string'],
    ['request_id', 'string'],
    ['arm', 'string'],
    ['endpoint', 'string'],
    ['status', 'number'],
    ['latency_us', 'number'],
  ] as const) {
    const e = need(k, t);
    if (e) return { error: e };
  }
  const arm = o['arm'];
  if (arm !== 'primary' && arm !== 'candidate' && arm !== 'baseline')
    return { error: 'arm: must be primary|candidate|baseline' };
  const flags = Array.isArray(o['flags'])
    ? (o['flags'] as unknown[]).filter((f): f is string => typeof f === 'string')
    : [];
  const start =
    typeof o['start_us'] === 'number'
      ? (o['start_us'] as number)
      : (o['t_us'] as number) - (o['latency_us'] as number);
  return {
    record: {
      t_us: o['t_us'] as number,
      start_us: start,
      service: o['service'] as string,
      request_id: o['request_id'] as string,
      arm,
      endpoint: o['endpoint'] as string,
      segment: typeof o['segment'] === 'string' ? (o['segment'] as string) : '',
      status: o['status'] as number,
      latency_us: o['latency_us'] as number,
      body_hash: typeof o['body_hash'] === 'string' ? (o['body_hash'] as string) : '',
      flags,
    },
  };
}

/** Parses a whole file's text; bad lines are reported with their 1-based number and skipped. */
export function parseRecords(text: string): {
  records: ReplayRecord[];
  errors: { line: number; error: string }[];
} {
  const records: ReplayRecord[] = [];
  const errors: { line: number; error: string }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const r = parseRecordLine(lines[i]!);
    if (r === null) continue;
    if ('error' in r) errors.push({ line: i + 1, error: r.error });
    else records.push(r.record);
  }
  return { records, errors };
}

/** The aggregate contract's notion of a failed arm. */
export function recordFailed(r: ReplayRecord): boolean {
  if (r.status >= 500) return true;
  if (r.status === 0) return true;
  return r.flags.includes('timeout') || r.flags.includes('reset') || r.flags.includes('connect_failure');
}

interface Group {
  primary?: ReplayRecord;
  candidate?: ReplayRecord;
  baseline?: ReplayRecord;
}

/** Upper quantile of a sample (nearest rank). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.POSITIVE_INFINITY;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export interface CellsOptions extends AggregateOptions {
  /** Added to floor(start_us / 1e6) to make cell seconds (0: seconds from the start of the file). */
  baseSecond: number;
  /** Primary samples per endpoint needed before tail exceedances are counted. */
  minTailSamples: number;
  /** Primary latencies kept per endpoint for the tail threshold (most recent). */
  tailWindow: number;
}

export const DEFAULT_CELLS_OPTIONS: CellsOptions = {
  ...DEFAULT_AGGREGATE_OPTIONS,
  baseSecond: 0,
  minTailSamples: 100,
  tailWindow: 2000,
};

/**
 * Pairs records by (service, request id) and sums them into cells, in
 * ascending seconds. Requests without a primary arm are ignored.
 */
export function cellsFromRecords(
  records: readonly ReplayRecord[],
  opts: CellsOptions = DEFAULT_CELLS_OPTIONS,
): CellStats[] {
  const groups = new Map<string, Group>();
  for (const r of records) {
    const key = `${r.service}\u0000${r.request_id}`;
    let g = groups.get(key);
    if (!g) {
      g = {};
      groups.set(key, g);
    }
    if (!g[r.arm]) g[r.arm] = r;
  }
  const list = [...groups.values()].filter(
    (g): g is Group & { primary: ReplayRecord } => g.primary !== undefined,
  );
  list.sort((a, b) => a.primary.start_us - b.primary.start_us);

  const cells = new Map<string, CellStats>();
  const bodies = new Map<string, Int32Array>();
  const tails = new Map<string, { recent: number[]; threshold: number }>();
  let second = Number.NEGATIVE_INFINITY;
  let pendingPrimary: { endpoint: string; latency: number }[] = [];
  for (const g of list) {
    const p = g.primary;
    const sec = Math.floor(p.start_us / 1e6) + opts.baseSecond;
    if (sec !== second) {
      refreshTails(tails, pendingPrimary, opts);
      pendingPrimary = [];
      second = sec;
    }
    const key = `${p.service}\u0000${p.endpoint}\u0000${p.segment}\u0000${sec}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = {
        key: { service: p.service, endpoint: p.endpoint, segment: p.segment, second: sec },
        candidate: emptyPaired(),
        baseline: emptyPaired(),
        live: {},
        examples: {},
      };
      cells.set(key, cell);
    }
    const tail = tails.get(`${p.service}\u0000${p.endpoint}`)?.threshold ?? Number.POSITIVE_INFINITY;
    addPair(cell, p, g.candidate, 'candidate', tail, opts);
    if (g.candidate) primaryBody(cell, p, bodies);
    if (g.baseline) addPair(cell, p, g.baseline, 'baseline', tail, opts);
    if (!recordFailed(p))
      pendingPrimary.push({ endpoint: `${p.service}\u0000${p.endpoint}`, latency: p.latency_us });
  }
  return [...cells.values()].sort((a, b) => a.key.second - b.key.second);
}

function refreshTails(
  tails: Map<string, { recent: number[]; threshold: number }>,
  pending: { endpoint: string; latency: number }[],
  opts: CellsOptions,
): void {
  const touched = new Set<string>();
  for (const x of pending) {
    let t = tails.get(x.endpoint);
    if (!t) {
      t = { recent: [], threshold: Number.POSITIVE_INFINITY };
      tails.set(x.endpoint, t);
    }
    t.recent.push(x.latency);
    touched.add(x.endpoint);
  }
  for (const e of touched) {
    const t = tails.get(e)!;
    if (t.recent.length > opts.tailWindow) t.recent.splice(0, t.recent.length - opts.tailWindow);
    if (t.recent.length >= opts.minTailSamples) {
      t.threshold = quantile(
        t.recent.slice().sort((a, b) => a - b),
        opts.tailQuantile,
      );
    }
  }
}

/** As the aggregator: a successful primary's body hash, and whether it is new to its endpoint. */
function primaryBody(cell: CellStats, p: ReplayRecord, bodies: Map<string, Int32Array>): void {
  if (recordFailed(p) || p.flags.includes('body_truncated') || !/^[0-9a-f]{1,16}$/i.test(p.body_hash)) return;
  const padded = p.body_hash.padStart(16, '0');
  const hi = Number.parseInt(padded.slice(0, 8), 16) | 0;
  const lo = Number.parseInt(padded.slice(8), 16) | 0;
  if (lo === 0 && hi === 0) return;
  const key = `${p.service}\u0000${p.endpoint}`;
  let seen = bodies.get(key);
  if (!seen) {
    seen = new Int32Array(BODY_TABLE);
    bodies.set(key, seen);
  }
  cell.candidate.bodyHashed++;
  const k = bodySlot(lo, hi);
  if (seen[k] === lo) return;
  seen[k] = lo;
  cell.candidate.bodyNovel++;
}

function addExample(cell: CellStats, signal: SignalName, id: string, max: number): void {
  const list = (cell.examples[signal] ??= []);
  if (list.length < max) list.push(id);
}

function addPair(
  cell: CellStats,
  p: ReplayRecord,
  s: ReplayRecord | undefined,
  side: 'candidate' | 'baseline',
  tail: number,
  opts: CellsOptions,
): void {
  const c = cell[side];
  const examples = side === 'candidate';
  const max = opts.examplesPerSignal;
  // As in the aggregator: a shadow record that never came is missing data, not a failure.
  if (s === undefined) {
    c.shadowMissing++;
    return;
  }
  c.pairs++;
  const pf = recordFailed(p);
  const sf = recordFailed(s);
  if (pf) c.primaryFailed++;
  if (sf) c.shadowFailed++;
  if (sf && !pf) {
    c.errShadowOnly++;
    if (examples) addExample(cell, 'errors', p.request_id, max);
  }
  if (pf && !sf) c.errPrimaryOnly++;
  if (s.status !== p.status) {
    c.statusMismatch++;
    if (examples) addExample(cell, 'status_mismatch', p.request_id, max);
  } else if (
    s.body_hash !== p.body_hash &&
    !s.flags.includes('body_truncated') &&
    !p.flags.includes('body_truncated')
  ) {
    c.bodyMismatch++;
    if (examples) addExample(cell, 'body_mismatch', p.request_id, max);
  }
  if (pf || sf) return;
  const lp = p.latency_us;
  const ls = s.latency_us;
  if (ls > lp * (1 + opts.latencyMarginRel) + opts.latencyMarginAbsUs) {
    c.latShadowSlower++;
    if (examples) addExample(cell, 'latency_shift', p.request_id, max);
  } else if (lp > ls * (1 + opts.latencyMarginRel) + opts.latencyMarginAbsUs) c.latPrimarySlower++;
  if (ls > tail && lp <= tail) {
    c.tailShadowOnly++;
    if (examples) addExample(cell, 'latency_tail', p.request_id, max);
  } else if (lp > tail && ls <= tail) c.tailPrimaryOnly++;
  c.latDeltaSumUs += ls - lp;
  c.latPrimarySumUs += lp;
  c.latPairs++;
}
