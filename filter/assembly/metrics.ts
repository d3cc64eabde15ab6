/**
 * The filter's counters as Envoy stats (proxy_define_metric). Envoy prefixes
 * them with `wasmcustom.`; names are `umbra.<service>.<counter>`, e.g.
 * `wasmcustom.umbra.shop.mirrored`. Counters are summed across workers by
 * Envoy. To keep host calls off the request path the root context syncs the
 * deltas once per tick.
 */
import { defineMetric, incrementMetric, MetricType } from './abi/host';
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { Counts } from './telemetry';

const NAMES: string[] = [
  'requests',
  'mirrored',
  'skipped_sampling',
  'skipped_method',
  'skipped_path',
  'skipped_body_size',
  'skipped_paused',
  'shadow_busy',
  'skipped_no_segment',
  'dropped_records',
  'callout_failures',
  'stream_reconnects',
];

function values(c: Counts): u64[] {
  return [
    c.requests,
    c.mirrored,
    c.skippedSampling,
    c.skippedMethod,
    c.skippedPath,
    c.skippedBodySize,
    c.skippedPaused,
    c.shadowBusy,
    c.skippedNoSegment,
    c.droppedRecords,
    c.calloutFailures,
    c.streamReconnects,
  ];
}

/** Envoy stats of one root context. Define at configure time only. */
export class Metrics {
  private ids: u32[] = [];
  private synced: u64[] = [];
  private batchesId: u32 = 0;
  private recordsId: u32 = 0;
  private inFlightId: u32 = 0;
  private bufferedId: u32 = 0;
  private connectedId: u32 = 0;
  batchesSent: u64 = 0;
  recordsSent: u64 = 0;
  private batchesSynced: u64 = 0;
  private inFlightLast: u32 = 0;
  private bufferedLast: u32 = 0;
  private connectedLast: u32 = 0;
  private recordsSynced: u64 = 0;

  constructor(service: string) {
    const prefix = 'umbra.' + service + '.';
    for (let i = 0; i < NAMES.length; i++) {
      this.ids.push(defineMetric(MetricType.Counter, prefix + NAMES[i]));
      this.synced.push(0);
    }
    this.batchesId = defineMetric(MetricType.Counter, prefix + 'batches_sent');
    this.recordsId = defineMetric(MetricType.Counter, prefix + 'records_sent');
    this.inFlightId = defineMetric(MetricType.Gauge, prefix + 'shadow_in_flight');
    this.bufferedId = defineMetric(MetricType.Gauge, prefix + 'buffered_records');
    this.connectedId = defineMetric(MetricType.Gauge, prefix + 'stream_connected');
  }

  /** Pushes counter deltas and gauge values to Envoy. */
  sync(c: Counts, inFlight: u32, buffered: u32, connected: bool): void {
    const v = values(c);
    for (let i = 0; i < v.length; i++) {
      const delta = v[i] - this.synced[i];
      if (delta > 0) {
        incrementMetric(this.ids[i], <i64>delta);
        this.synced[i] = v[i];
      }
    }
    incrementMetric(this.batchesId, <i64>(this.batchesSent - this.batchesSynced));
    this.batchesSynced = this.batchesSent;
    incrementMetric(this.recordsId, <i64>(this.recordsSent - this.recordsSynced));
    this.recordsSynced = this.recordsSent;
    // NOTE: every VM of the plugin (the main thread's and each worker's)
    // shares one Envoy gauge per name, so gauges move by deltas, never set.
    this.inFlightLast = moveGauge(this.inFlightId, this.inFlightLast, inFlight);
    this.bufferedLast = moveGauge(this.bufferedId, this.bufferedLast, buffered);
    this.connectedLast = moveGauge(this.connectedId, this.connectedLast, connected ? 1 : 0);
  }
}

function moveGauge(id: u32, last: u32, now: u32): u32 {
  if (now !== last) incrementMetric(id, <i64>now - <i64>last);
  return now;
}
