/**
 * Ingest benchmark: records per second through decode → pairing →
 * aggregation on one core (the daemon's thread), and peak memory.
 *
 *   npm run bench:ingest                      default: two runs (N/10 and N) in child processes
 *   npm run bench:ingest -- --records 5e6     one run of that many records
 *   npm run bench:ingest -- --hdr             also time hdr-histogram-js (JS, WebAssembly) vs ours
 *   npm run bench:ingest -- --records N --store sqlite|postgres://…
 *                                             also save every closed second's cells (and minute's
 *                                             histograms) to that store, timed (bench:failover compares)
 *
 * The generator builds realistic batches (4 proxy streams, 8 endpoints, 4
 * segments, 1,000 records per batch; mirrored requests with primary +
 * candidate and sometimes baseline arms arriving out of order and across
 * batches; live records; a little 5xx and timeouts) once, as templates, and
 * then patches a cycle number into every request id and the batch's base
 * time in place, so every request id in the run is unique without
 * generating anything during the timed loop. The patching is timed too and
 * reported separately (`patch_ns_per_record`).
 *
 * Also reported: `reference_records_per_s`, the loop the goal is stated
 * against (protobufjs decode + a Map keyed by the hex id + one HDR record)
 * measured in the same process, so a loaded machine can be told from a slow
 * path; `decode_only_records_per_s`; and `heap_after_gc_mb`, the live heap
 * after a full collection (typed arrays of the pairer and aggregator are
 * allocated up front, outside it), which stays flat as the run grows; and
 * `cpu_records_per_s`, the same count over the process's CPU time, which
 * moves less than wall time when other work shares the machine.
 *
 * The last line is one JSON object:
 *   {"bench":"ingest","records_per_s":…,"peak_rss_mb":…}
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import protobuf from 'protobufjs';
import { LatencyHistogram } from '../daemon/aggregate/latency-histogram.js';
import { setLogLevel } from '../daemon/log.js';
import { saveTaggedCells } from '../daemon/parts/store.js';
import { openPostgresStore } from '../daemon/store/postgres.js';
import { openStore } from '../daemon/store/sqlite.js';
import type { Store } from '../daemon/store/store.js';
import { BatchColumns, decodeBatch } from '../daemon/telemetry/decode.js';
import { encodeBatch, type RecordInput } from '../daemon/telemetry/encode.js';
import { createPipeline } from '../daemon/telemetry/pipeline.js';
import {
  ARM_BASELINE,
  ARM_CANDIDATE,
  ARM_LIVE,
  ARM_PRIMARY,
  FLAG_TIMEOUT,
} from '../daemon/wire/record-contract.js';

const STREAMS = 4;
const TEMPLATES = 16;
const PER_BATCH = 1000;
/** Virtual arrival rate of records (all streams together). */
const VIRTUAL_RECORDS_PER_S = 50_000;
const ENDPOINTS = [
  'GET /cart',
  'GET /product',
  'POST /search',
  'GET /home',
  'GET /user',
  'GET /reco',
  'HEAD /ping',
  'GET /img',
];
const SEGMENTS = ['eu', 'us', 'apac', 'latam'];

interface Template {
  bytes: Uint8Array;
  /** Offsets of the 4 cycle bytes inside each request id. */
  idCycleOffsets: Int32Array;
  /** Offset of the base_time_us fixed64 payload. */
  baseOffset: number;
  /** Offset of the 5-byte padded sequence varint. */
  seqOffset: number;
  /** The cycle number currently patched into the ids. */
  cycle: number;
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

function latency(r: () => number, ep: number): number {
  // Log-normal-ish around 2-20 ms by endpoint.
  const base = 2000 + ep * 2000;
  const n = (r() + r() + r() - 1.5) * 0.8;
  return Math.max(50, Math.round(base * Math.exp(n)));
}

function makeId(stream: number, template: number, k: number, r: () => number): Uint8Array {
  const id = new Uint8Array(16);
  for (let i = 0; i < 16; i++) id[i] = Math.floor(r() * 256);
  id[0] = stream;
  id[1] = template;
  id[2] = k & 0xff;
  id[3] = (k >>> 8) & 0xff;
  // bytes 8..11: cycle number, patched per run of the template.
  id[8] = id[9] = id[10] = id[11] = 0;
  return id;
}

/** Builds one template batch: ~70 % mirrored arms (in shuffled order, some spilling into the next template), 30 % live. */
function buildTemplate(
  stream: number,
  t: number,
  spill: RecordInput[],
  r: () => number,
): { records: RecordInput[]; next: RecordInput[] } {
  const records: RecordInput[] = [...spill];
  const next: RecordInput[] = [];
  let k = 0;
  while (records.length < PER_BATCH) {
    const ep = Math.floor(r() * ENDPOINTS.length);
    const seg = Math.floor(r() * SEGMENTS.length);
    const id = makeId(stream, t, k++, r);
    const start = Math.floor(r() * 20_000) - 10_000;
    if (r() < 0.3) {
      records.push({
        requestId: id,
        arm: ARM_LIVE,
        endpoint: ep + 1,
        segment: seg + 10,
        startDeltaUs: start,
        latencyUs: latency(r, ep),
        status: r() < 0.005 ? 503 : 200,
        responseBytes: 800,
        cluster: 20,
      });
      continue;
    }
    const pLat = latency(r, ep);
    const hash = Math.floor(r() * 4294967296) | 0;
    const arms: RecordInput[] = [
      {
        requestId: id,
        arm: ARM_PRIMARY,
        endpoint: ep + 1,
        segment: seg + 10,
        startDeltaUs: start,
        latencyUs: pLat,
        status: r() < 0.005 ? 500 : 200,
        responseBytes: 800,
        hashLo: hash,
        hashHi: 7,
        cluster: 20,
      },
    ];
    const timeout = r() < 0.002;
    arms.push({
      requestId: id,
      arm: ARM_CANDIDATE,
      endpoint: ep + 1,
      segment: seg + 10,
      startDeltaUs: start + 30,
      latencyUs: timeout ? 0 : latency(r, ep),
      status: timeout ? 0 : r() < 0.006 ? 500 : 200,
      flags: timeout ? FLAG_TIMEOUT : 0,
      responseBytes: 800,
      hashLo: r() < 0.01 ? hash + 1 : hash,
      hashHi: 7,
    });
    if (ep < 2)
      arms.push({
        requestId: id,
        arm: ARM_BASELINE,
        endpoint: ep + 1,
        segment: seg + 10,
        startDeltaUs: start + 30,
        latencyUs: latency(r, ep),
        status: 200,
        responseBytes: 800,
        hashLo: hash,
        hashHi: 7,
      });
    // Out of order: shuffle arms; the last template keeps everything (no spill across cycles).
    for (let i = arms.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [arms[i], arms[j]] = [arms[j]!, arms[i]!];
    }
    for (const a of arms) {
      if (t < TEMPLATES - 1 && records.length + arms.length > PER_BATCH - 20 && r() < 0.5) next.push(a);
      else records.push(a);
    }
  }
  return { records, next };
}

function templatesFor(stream: number): Template[] {
  const r = rng(1234 + stream);
  const dict = [
    ...ENDPOINTS.map((value, i) => ({ id: i + 1, value })),
    ...SEGMENTS.map((value, i) => ({ id: i + 10, value })),
    { id: 20, value: 'shop-v1' },
  ];
  const out: Template[] = [];
  let spill: RecordInput[] = [];
  for (let t = 0; t < TEMPLATES; t++) {
    const { records, next } = buildTemplate(stream, t, spill, r);
    spill = next;
    // A recognisable base time (< 2^53 so it encodes exactly): 0x00005a5a_5a5a5a5a.
    const markerHi = 0x5a5a;
    const markerLo = 0x5a5a5a5a;
    const encoded = encodeBatch({
      proxyId: `envoy-${stream}`,
      worker: 0,
      service: 'shop',
      baseTimeUs: markerHi * 4294967296 + markerLo,
      dict: t === 0 ? dict : [],
      records,
    });
    // The sequence goes last as a fixed-width (5-byte, zero-padded) varint so it can be
    // patched in place; protobuf allows fields in any order and padded varints.
    const bytes = new Uint8Array(encoded.length + 6);
    bytes.set(encoded);
    bytes[encoded.length] = 0x28; // field 5, varint
    bytes.fill(0x80, encoded.length + 1, encoded.length + 5);
    bytes[encoded.length + 5] = 0;
    const seqOffset = encoded.length + 1;
    // Locate patch points: the base time marker and the cycle bytes of each id.
    let baseOffset = -1;
    const pattern = [0x31, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x00, 0x00];
    search: for (let i = 0; i + pattern.length <= bytes.length; i++) {
      for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue search;
      baseOffset = i + 1;
      break;
    }
    if (baseOffset < 0) throw new Error('base time marker not found');
    const offs: number[] = [];
    let from = 0;
    for (const rec of records) {
      const id = rec.requestId;
      // Records are written in order: find each id (unique 8-byte prefix) after the previous one.
      outer: for (let i = from; i + 16 <= bytes.length; i++) {
        for (let j = 0; j < 8; j++) if (bytes[i + j] !== id[j]) continue outer;
        offs.push(i + 8);
        from = i + 16;
        break;
      }
    }
    if (offs.length !== records.length) throw new Error('request id not found in template');
    out.push({ bytes, idCycleOffsets: Int32Array.from(offs), baseOffset, seqOffset, cycle: 0 });
  }
  return out;
}

function patch(tpl: Template, cycle: number, seq: number, baseUs: number): void {
  const b = tpl.bytes;
  const offs = tpl.idCycleOffsets;
  // Only the bytes of the cycle number that changed since this template's last patch.
  const changed = (cycle ^ tpl.cycle) >>> 0;
  tpl.cycle = cycle;
  for (let byte = 0; byte < 4; byte++) {
    if (((changed >>> (8 * byte)) & 0xff) === 0) continue;
    const v = (cycle >>> (8 * byte)) & 0xff;
    for (let i = 0; i < offs.length; i++) b[offs[i]! + byte] = v;
  }
  const lo = baseUs % 4294967296;
  const hi = Math.floor(baseUs / 4294967296);
  const o = tpl.baseOffset;
  b[o] = lo & 0xff;
  b[o + 1] = (lo >>> 8) & 0xff;
  b[o + 2] = (lo >>> 16) & 0xff;
  b[o + 3] = (lo >>> 24) & 0xff;
  b[o + 4] = hi & 0xff;
  b[o + 5] = (hi >>> 8) & 0xff;
  b[o + 6] = (hi >>> 16) & 0xff;
  b[o + 7] = (hi >>> 24) & 0xff;
  const q = tpl.seqOffset;
  b[q] = 0x80 | (seq & 0x7f);
  b[q + 1] = 0x80 | ((seq >>> 7) & 0x7f);
  b[q + 2] = 0x80 | ((seq >>> 14) & 0x7f);
  b[q + 3] = 0x80 | ((seq >>> 21) & 0x7f);
  b[q + 4] = (seq >>> 28) & 0x7f;
}

/**
 * The reference loop the goal is stated against, on the same batches:
 * protobufjs decode, a Map keyed by the hex request id, one HDR record per
 * record. Measured in the same process so results can be compared on a
 * loaded or slower machine.
 */
function referenceLoop(streams: Template[][], seconds: number): number {
  const root = protobuf.loadSync(
    fileURLToPath(new URL('../proto/umbra/telemetry/v1/telemetry.proto', import.meta.url)),
  );
  const Batch = root.lookupType('umbra.telemetry.v1.Batch');
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2 ** 26,
    numberOfSignificantValueDigits: 2,
  });
  const pending = new Map<string, number>();
  let records = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  for (let b = 0; ; b++) {
    const tpl = streams[b % STREAMS]![Math.floor(b / STREAMS) % TEMPLATES]!;
    const batch = Batch.decode(tpl.bytes) as unknown as {
      records: { requestId: Uint8Array; latencyUs: number }[];
    };
    for (const r of batch.records) {
      const key = Buffer.from(r.requestId.buffer, r.requestId.byteOffset, r.requestId.length).toString('hex');
      if (pending.has(key)) pending.delete(key);
      else pending.set(key, r.latencyUs);
      h.recordValue(r.latencyUs);
    }
    records += batch.records.length;
    if (pending.size > 500_000) pending.clear();
    if ((b & 15) === 0 && process.hrtime.bigint() > deadline) break;
  }
  const ns = Number(process.hrtime.bigint() - start);
  return Math.round(records / (ns / 1e9));
}

/** Decode alone over the same batches, for a breakdown of where the time goes. */
function decodeOnly(streams: Template[][], seconds: number): number {
  const cols = new BatchColumns(1024);
  let records = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  for (let b = 0; ; b++) {
    const tpl = streams[b % STREAMS]![Math.floor(b / STREAMS) % TEMPLATES]!;
    records += decodeBatch(tpl.bytes, cols).count;
    if ((b & 15) === 0 && process.hrtime.bigint() > deadline) break;
  }
  return Math.round(records / (Number(process.hrtime.bigint() - start) / 1e9));
}

/** `--store sqlite` (a WAL file in a temporary directory) or `--store postgres://…`: where closed seconds are saved, as the daemon saves them. */
function openBenchStore(arg: string): { store: Store; close(): void } {
  if (arg.startsWith('postgres://') || arg.startsWith('postgresql://')) {
    const store = openPostgresStore({ url: arg, connectTimeoutMs: 5000, timeoutMs: 5000, daemonId: 'bench' });
    return { store, close: () => store.close() };
  }
  if (arg !== 'sqlite') throw new Error('--store must be sqlite or a postgres:// URL');
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-ingest-'));
  const store = openStore(join(dir, 'umbra.db'));
  return {
    store,
    close: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function runOnce(totalRecords: number, store?: Store): Record<string, number> {
  setLogLevel('warn');
  const streams = Array.from({ length: STREAMS }, (_, s) => templatesFor(s));
  const p = createPipeline();
  let cells = 0;
  /** ms each closed second's save took (the store's share of the timed loop). */
  const saveMs: number[] = [];
  p.aggregator.onSecond((c) => {
    cells += c.length;
    // Saved on the daemon's thread, inside the timed loop, as persistStatsPart does.
    if (!store) return;
    const t = process.hrtime.bigint();
    saveTaggedCells(store, c);
    saveMs.push(Number(process.hrtime.bigint() - t) / 1e6);
  });
  if (store) p.aggregator.onMinute((rows) => store.saveHistograms(rows));
  const batchIntervalUs = (PER_BATCH / VIRTUAL_RECORDS_PER_S) * 1e6;
  const t0 = 1_732_700_000_000_000;
  const batches = Math.ceil(totalRecords / PER_BATCH);
  // Warm-up pass over one cycle on a separate pipeline (JIT), not counted.
  {
    const w = createPipeline();
    for (let b = 0; b < STREAMS * TEMPLATES; b++) {
      const tpl = streams[b % STREAMS]![Math.floor(b / STREAMS) % TEMPLATES]!;
      patch(tpl, 1 << 30, Math.floor(b / STREAMS) + 1, t0);
      w.ingest.onBatch(1000 + (b % STREAMS), tpl.bytes, t0 + b * batchIntervalUs);
    }
  }
  let patchNs = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let b = 0; b < batches; b++) {
    const s = b % STREAMS;
    const i = Math.floor(b / STREAMS);
    const tpl = streams[s]![i % TEMPLATES]!;
    const now = t0 + b * batchIntervalUs;
    const cycle = Math.floor(i / TEMPLATES);
    if ((b & 1023) === 0) {
      const ps = process.hrtime.bigint();
      patch(tpl, cycle, i + 1, now - 5000);
      patchNs += Number(process.hrtime.bigint() - ps) * 1024;
    } else patch(tpl, cycle, i + 1, now - 5000);
    p.ingest.onBatch(s, tpl.bytes, now);
  }
  p.ingest.advance(t0 + batches * batchIntervalUs);
  p.pairer.flush();
  p.aggregator.flush(t0 + batches * batchIntervalUs);
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuStart);
  const records = p.ingest.counters.records;
  // Peak memory of the ingest run itself, before the comparison loops allocate their own.
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  // Live heap after a full collection (children run with --expose-gc): flat when nothing leaks.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapAfterGcMb = gc ? Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10 : -1;
  const reference = referenceLoop(streams, 2);
  const decode = decodeOnly(streams, 1);
  return {
    records,
    reference_records_per_s: reference,
    decode_only_records_per_s: decode,
    seconds: ns / 1e9,
    records_per_s: Math.round(records / (ns / 1e9)),
    // Over the process's CPU time instead (all threads, so GC helpers count): tells a slow path from a busy machine.
    cpu_records_per_s: Math.round(records / ((cpu.user + cpu.system) / 1e6)),
    patch_ns_per_record: Math.round((patchNs / records) * 10) / 10,
    pairs: p.pairer.counters.pairs,
    shadow_timeouts: p.pairer.counters.shadowTimeouts,
    duplicates: p.pairer.counters.duplicates,
    evicted: p.pairer.counters.evicted,
    late: p.aggregator.counters.late,
    cells,
    seconds_saved: saveMs.length,
    save_ms_per_second_p50: Math.round(quantile(saveMs, 0.5) * 1000) / 1000,
    save_ms_per_second_max: Math.round(Math.max(0, ...saveMs) * 1000) / 1000,
    refused: Object.values(p.ingest.counters.batchesRefused).reduce((a, b) => a + b, 0),
    peak_rss_mb: peakRssMb,
    heap_after_gc_mb: heapAfterGcMb,
  };
}

/** The q-quantile of `xs` (0 when empty). */
function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function hdrComparison(): Promise<void> {
  await hdr.initWebAssembly();
  const vals = new Uint32Array(1 << 20);
  const r = rng(7);
  for (let i = 0; i < vals.length; i++) vals[i] = latency(r, i & 7);
  const time = (name: string, record: (v: number) => void): void => {
    for (let k = 0; k < 2; k++) for (const v of vals) record(v);
    const s = process.hrtime.bigint();
    for (let k = 0; k < 5; k++) for (let i = 0; i < vals.length; i++) record(vals[i]!);
    const ns = Number(process.hrtime.bigint() - s);
    console.log(JSON.stringify({ hdr: name, values_per_s: Math.round((5 * vals.length) / (ns / 1e9)) }));
  };
  const opts = {
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2 ** 26,
    numberOfSignificantValueDigits: 2 as const,
  };
  const js = hdr.build({ ...opts, bitBucketSize: 32 });
  time('hdr-histogram-js (JS, 32-bit buckets)', (v) => js.recordValue(v));
  const wasm = hdr.build({ ...opts, bitBucketSize: 32, useWebAssembly: true });
  time('hdr-histogram-js (WebAssembly, 32-bit buckets)', (v) => wasm.recordValue(v));
  wasm.destroy();
  const ours = new LatencyHistogram();
  time('LatencyHistogram (same layout, folded into hdr-histogram-js per minute)', (v) => ours.record(v));
}

function parseRecords(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < PER_BATCH) throw new Error(`--records must be a number ≥ ${PER_BATCH}`);
  return Math.floor(n);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--records');
  const records = parseRecords(at >= 0 ? args[at + 1] : undefined);
  if (args.includes('--hdr')) await hdrComparison();
  const storeAt = args.indexOf('--store');
  const bench = storeAt >= 0 ? openBenchStore(args[storeAt + 1] ?? '') : undefined;
  if (records !== undefined) {
    const r = runOnce(records, bench?.store);
    bench?.close();
    console.log(JSON.stringify({ run: 'ingest', ...r }));
    if (args.includes('--child')) return;
    console.log(
      JSON.stringify({ bench: 'ingest', records_per_s: r['records_per_s'], peak_rss_mb: r['peak_rss_mb'] }),
    );
    return;
  }
  // Default: N/10 and N in fresh processes, to show peak memory does not grow with the run.
  const big = 30_000_000;
  const self = fileURLToPath(import.meta.url);
  const results: Record<string, number>[] = [];
  for (const n of [big / 10, big]) {
    const c = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', self, '--records', String(n), '--child'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const line = c.stdout.trim().split('\n').pop() ?? '';
    console.log(line);
    if (c.status !== 0) throw new Error(`bench child failed with status ${c.status}`);
    results.push(JSON.parse(line) as Record<string, number>);
  }
  const [small, large] = results as [Record<string, number>, Record<string, number>];
  console.log(
    JSON.stringify({
      bench: 'ingest',
      records_per_s: large['records_per_s'],
      peak_rss_mb: large['peak_rss_mb'],
      peak_rss_mb_at_tenth: small['peak_rss_mb'],
      heap_after_gc_mb: large['heap_after_gc_mb'],
      heap_after_gc_mb_at_tenth: small['heap_after_gc_mb'],
      records: large['records'],
    }),
  );
}

await main();
