/**
 * Builds the ingest → pairing → aggregation chain with consistent timing:
 * the aggregator's close delay is never shorter than the pairing TTL plus a
 * margin, so a shadow timeout always lands in a second that is still open.
 * Used by the live daemon and by replay alike (same code, same results).
 */

import { Aggregator, type AggregatorOptions, DEFAULT_AGGREGATOR_OPTIONS } from '../aggregate/aggregator.js';
import { SeriesRegistry } from '../aggregate/series.js';
import type { UmbraConfig } from '../config/schema.js';
import { DEFAULT_PAIRER_OPTIONS, Pairer, type PairerOptions } from '../pairing/pairer.js';
import { Ingest, type IngestOptions } from './ingest.js';

export interface PipelineOptions {
  pairing: Partial<PairerOptions>;
  aggregate: Partial<AggregatorOptions>;
  ingest: Partial<IngestOptions>;
  /** Cap on service × endpoint × segment series. */
  maxSeries: number;
}

/** Margin between the pairing TTL and the close of a second (batching, transport). */
export const CLOSE_MARGIN_US = 2_000_000;

/** The default of a service's `mirroring.timeout` (daemon/config/schema.ts), in ms. */
export const DEFAULT_MIRROR_TIMEOUT_MS = 5_000;

/**
 * The filter flushes its records at least every second (`flushIntervalMs`);
 * with transport, a primary's record reaches the daemon within this much of
 * the end of its request.
 */
export const ARRIVAL_GRACE_US = 2_000_000;

/**
 * The daemon's timing for a given longest mirroring timeout: the pairing
 * TTL (the timeout plus batching, so the filter's own timeout record comes
 * first), the bound on closing a second, and the grace after which a second
 * whose pairs have all resolved closes. `umbra replay` uses the same with
 * the default timeout, so it judges as a daemon with default settings.
 */
export function pipelineTiming(longestTimeoutMs: number): Pick<PipelineOptions, 'pairing' | 'aggregate'> {
  const ttlUs = (longestTimeoutMs + 2_000) * 1000;
  return {
    pairing: { ttlUs },
    aggregate: {
      closeDelayUs: ttlUs + longestTimeoutMs * 1000 + 1_000_000,
      arrivalGraceUs: ARRIVAL_GRACE_US,
    },
  };
}

export interface Pipeline {
  /** The effective options (defaults filled in), e.g. for a recording's metadata. */
  options: { pairing: PairerOptions; aggregate: AggregatorOptions };
  registry: SeriesRegistry;
  pairer: Pairer;
  aggregator: Aggregator;
  ingest: Ingest;
}

export function createPipeline(options: Partial<PipelineOptions> = {}): Pipeline {
  const registry = new SeriesRegistry(options.maxSeries ?? 20_000);
  const ttlUs = options.pairing?.ttlUs ?? DEFAULT_PAIRER_OPTIONS.ttlUs;
  const closeDelayUs = Math.max(
    options.aggregate?.closeDelayUs ?? DEFAULT_AGGREGATOR_OPTIONS.closeDelayUs,
    ttlUs + CLOSE_MARGIN_US,
  );
  const arrivalGraceUs = Math.min(
    options.aggregate?.arrivalGraceUs ?? DEFAULT_AGGREGATOR_OPTIONS.arrivalGraceUs,
    closeDelayUs,
  );
  const aggregator = new Aggregator(registry, { ...options.aggregate, closeDelayUs, arrivalGraceUs });
  const pairer = new Pairer(aggregator, options.pairing ?? {});
  const ingest = new Ingest(registry, pairer, aggregator, options.ingest ?? {});
  return {
    options: {
      pairing: { ...DEFAULT_PAIRER_OPTIONS, ...options.pairing },
      aggregate: { ...aggregator.options },
    },
    registry,
    pairer,
    aggregator,
    ingest,
  };
}

/**
 * Timing from the services' mirror timeouts. The pairing TTL (from a
 * request's first arm) covers the shadow's timeout plus batching and
 * transport; a second closes once every request that started in it has had
 * its first arm arrive (after up to a timeout's worth of latency) and its TTL
 * run out, so shadow timeouts are never late.
 */
export function pipelineOptionsFor(config: UmbraConfig): Partial<PipelineOptions> {
  // A journey step holds its second open while it runs (daemon/controller/journeys.ts): its timeout counts too.
  const journeys = config.services.flatMap((s) => s.journeys.map((j) => j.timeout));
  return pipelineTiming(Math.max(500, ...config.services.map((s) => s.mirroring.timeout), ...journeys));
}
