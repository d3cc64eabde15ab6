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
  const aggregator = new Aggregator(registry, { ...options.aggregate, closeDelayUs });
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
  const longestTimeoutMs = Math.max(500, ...config.services.map((s) => s.mirroring.timeout));
  // Batching: the filter flushes at least every second (flushIntervalMs), plus transport.
  const ttlUs = (longestTimeoutMs + 2_000) * 1000;
  return { pairing: { ttlUs }, aggregate: { closeDelayUs: ttlUs + longestTimeoutMs * 1000 + 1_000_000 } };
}
