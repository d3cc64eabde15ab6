/**
 * The contract between the daemon's composition (umbrad.ts) and its parts: the
 * shared context and the part interface. Parts import this file, never
 * umbrad.ts, so the composition sits above everything it composes.
 */
import type { CellStats } from './aggregate/stats.js';
import type { UmbraConfig } from './config/schema.js';
import type { MetricsRegistry } from './metrics/registry.js';
import type { Store } from './store/store.js';
import type { Pipeline } from './telemetry/pipeline.js';
import type { TelemetryServer } from './telemetry/server.js';

/** Everything parts share. Mutable only where documented. */
export interface UmbradContext {
  readonly config: UmbraConfig;
  readonly store: Store;
  readonly pipeline: Pipeline;
  readonly metrics: MetricsRegistry;
  /** µs since the Unix epoch. */
  readonly now: () => number;
  /** Set by the telemetry part once it listens: control messages to the filters. */
  telemetry?: TelemetryServer;
  /** Subscribes to final per-second cells (all services; shared objects: do not mutate); returns the unsubscribe function. */
  onCells(fn: (cells: CellStats[], second: number, nowUs: number) => void): () => void;
}

/** One capability of the daemon. `stop` must be safe to call after a failed or partial `start`. */
export interface DaemonPart {
  readonly name: string;
  start(ctx: UmbradContext): Promise<void>;
  stop(): Promise<void>;
}
