/**
 * A chaos experiment run as the store keeps it (store `chaos_runs`): the
 * experiment, production's route when it began, its tally and per-second
 * results so far. Written by the runner on every change and every tallied
 * second; read back by a restarted daemon, which resumes a run still within
 * its window and closes one whose window passed (chaos-runner.ts).
 */
import type { PairedCounts } from '../aggregate/stats.js';
import type { ChaosExperiment } from '../chaos/experiment.js';
import type { ChaosTally } from '../chaos/verdict.js';
import type { ChaosRunRow, ChaosRunStore } from '../store/store.js';

/** One tallied second: pairs and failures of each arm. */
export interface ChaosSecond {
  second: number;
  candidate: { pairs: number; failed: number };
  baseline: { pairs: number; failed: number };
}

/** What the runner keeps of a run. */
export interface ChaosRecord {
  id: string;
  exp: ChaosExperiment;
  /** Production's route when the run began (restored at its end). */
  serving: Record<string, number>;
  tally: ChaosTally;
  seconds: ChaosSecond[];
}

interface StoredData {
  exp: ChaosExperiment;
  serving: Record<string, number>;
  tally: {
    candidate: PairedCounts;
    baseline: PairedCounts;
    byEndpoint: [string, { candidate: PairedCounts; baseline: PairedCounts }][];
  };
  seconds: ChaosSecond[];
}

export function toRow(r: ChaosRecord, at: number): ChaosRunRow {
  const data: StoredData = {
    exp: r.exp,
    serving: r.serving,
    tally: { candidate: r.tally.candidate, baseline: r.tally.baseline, byEndpoint: [...r.tally.byEndpoint] },
    seconds: r.seconds,
  };
  return {
    id: r.id,
    service: r.exp.service,
    phase: r.exp.phase,
    startedAt: r.exp.startedAt,
    updatedAt: at,
    data,
  };
}

/** A stored run, or the reason it cannot be read (it is then left alone). */
export function fromRow(row: ChaosRunRow): { record: ChaosRecord; savedAt: number } | { error: string } {
  const d = row.data as Partial<StoredData> | null;
  const e = d?.exp;
  if (!d || !e || typeof e.service !== 'string' || !Array.isArray(e.faults) || !d.tally || !d.serving)
    return { error: `chaos run ${row.id}: unreadable data` };
  const tally: ChaosTally = {
    candidate: d.tally.candidate,
    baseline: d.tally.baseline,
    byEndpoint: new Map(d.tally.byEndpoint ?? []),
  };
  return {
    record: { id: row.id, exp: e, serving: d.serving, tally, seconds: d.seconds ?? [] },
    savedAt: row.updatedAt,
  };
}

/** The second's figures of one service's cells, as added to the tally. */
export function secondOf(second: number, candidate: PairedCounts, baseline: PairedCounts): ChaosSecond {
  return {
    second,
    candidate: { pairs: candidate.pairs, failed: candidate.shadowFailed },
    baseline: { pairs: baseline.pairs, failed: baseline.shadowFailed },
  };
}

/** The stored runs of `services` (newest first, up to `limit` each), without those `shown` already. */
export function pastRuns(
  store: ChaosRunStore,
  services: readonly string[],
  shown: ReadonlySet<string>,
  limit: number,
): ChaosExperiment[] {
  const out: ChaosExperiment[] = [];
  for (const service of services)
    for (const row of store.listChaosRuns({ service, limit: limit + 1 })) {
      const read = fromRow(row);
      if (!shown.has(row.id) && !('error' in read)) out.push(read.record.exp);
    }
  return out;
}
