/**
 * The ingest pipeline's metrics: records in, pairs made, timeouts, drops,
 * evictions, batch decode errors, per-stream lag and gaps. Read at scrape time.
 */

import type { Pipeline } from '../telemetry/pipeline.js';
import { COUNTER_NAMES } from '../wire/record-contract.js';
import { byLabel, type Collector, type MetricFamily, single } from './registry.js';

export function pipelineCollector(p: Pipeline): Collector {
  return (): MetricFamily[] => {
    const ic = p.ingest.counters;
    const pc = p.pairer.counters;
    const ac = p.aggregator.counters;
    const streams = [...p.ingest.streams.values()];
    const streamLabels = (s: (typeof streams)[number]) => ({
      proxy: s.proxyId,
      worker: s.worker,
      service: s.service,
    });
    return [
      single('umbra_telemetry_batches_total', 'Telemetry batches accepted.', 'counter', ic.batches),
      single('umbra_telemetry_records_total', 'Records accepted from the filters.', 'counter', ic.records),
      byLabel(
        'umbra_telemetry_batches_refused_total',
        'Batches refused, by reason (decode errors, protocol violations).',
        'counter',
        'reason',
        ic.batchesRefused,
      ),
      byLabel(
        'umbra_telemetry_records_skipped_total',
        'Records skipped inside accepted batches, by reason.',
        'counter',
        'reason',
        ic.recordsSkipped,
      ),
      single(
        'umbra_telemetry_sequence_gaps_total',
        'Batches lost in transit according to sequence gaps.',
        'counter',
        ic.sequenceGaps,
      ),
      single('umbra_telemetry_streams', 'Open telemetry streams.', 'gauge', streams.length),
      {
        name: 'umbra_telemetry_stream_lag_seconds',
        help: 'Arrival time minus the end of the newest record in the last batch, per stream.',
        type: 'gauge',
        samples: streams
          .filter((s) => s.batches > 0)
          .map((s) => ({ labels: streamLabels(s), value: s.lagUs / 1e6 })),
      },
      {
        name: 'umbra_telemetry_stream_gap_batches_total',
        help: 'Batches missing per stream (sequence gaps).',
        type: 'counter',
        samples: streams.map((s) => ({ labels: streamLabels(s), value: s.gapBatches })),
      },
      byLabel(
        'umbra_filter_events_total',
        "The filters' own counters (mirrored, skipped by reason, dropped records, …), summed over streams.",
        'counter',
        'event',
        Object.fromEntries(COUNTER_NAMES.map((n) => [n, ic.filter[n] ?? 0])),
      ),
      single(
        'umbra_pairing_records_total',
        'Mirrored-arm records seen by the pairer.',
        'counter',
        pc.records,
      ),
      single('umbra_pairing_pairs_total', 'Pairs made with both arms.', 'counter', pc.pairs),
      single(
        'umbra_pairing_shadow_timeouts_total',
        'Shadow arms still missing after the pairing TTL.',
        'counter',
        pc.shadowTimeouts,
      ),
      single('umbra_pairing_duplicates_total', 'Duplicate arms ignored.', 'counter', pc.duplicates),
      single(
        'umbra_pairing_orphan_shadows_total',
        'Shadow arms whose primary never arrived.',
        'counter',
        pc.orphanShadows,
      ),
      single(
        'umbra_pairing_evictions_total',
        'Requests evicted because the in-flight cap was reached.',
        'counter',
        pc.evicted,
      ),
      single(
        'umbra_pairing_evictions_incomplete_total',
        'Evicted requests that were still waiting for an arm.',
        'counter',
        pc.evictedIncomplete,
      ),
      single(
        'umbra_pairing_abandoned_total',
        'Primary records whose mirror was abandoned.',
        'counter',
        pc.abandoned,
      ),
      single('umbra_pairing_in_flight', 'Requests held by the pairer.', 'gauge', p.pairer.inFlight),
      single('umbra_pairing_capacity', 'The in-flight cap.', 'gauge', p.pairer.capacity),
      single(
        'umbra_aggregate_shadow_missing_total',
        'Primaries whose shadow record never arrived (telemetry loss): missing data, not judged.',
        'counter',
        ac.missing,
      ),
      single(
        'umbra_aggregate_late_total',
        'Records for seconds already final (dropped).',
        'counter',
        ac.late,
      ),
      single(
        'umbra_aggregate_future_total',
        'Records too far ahead of the clock (dropped).',
        'counter',
        ac.future,
      ),
      single(
        'umbra_aggregate_live_overflow_total',
        'Live records dropped: too many series × cluster combinations.',
        'counter',
        ac.liveOverflow,
      ),
      single('umbra_aggregate_cells_total', 'Per-second cells emitted.', 'counter', ac.cellsEmitted),
      single(
        'umbra_aggregate_series',
        'Service × endpoint × segment series known.',
        'gauge',
        p.registry.seriesCount,
      ),
    ];
  };
}
