/**
 * The admin API's A/B experiments: requests checked at the edge (every
 * problem named by its path, nothing started), the controller's experiment
 * desk behind them, and the flat view the admin proto carries.
 */
import { type ExperimentDesk, ExperimentRefused, type ExperimentStatus } from '../controller/experiments.js';
import { EXPERIMENT_DEFAULTS, type ExperimentSpec, outcomeText, parseOutcome } from '../experiment/spec.js';
import { AdminError } from './port.js';

/** umbra.admin.v1.Experiment in its JSON form. */
export interface ExperimentView {
  id: string;
  service: string;
  version: string;
  stable: string;
  split: number;
  outcome: string;
  phase: string;
  startedAtMs: number;
  stoppedAtMs: number;
  stopReason: string;
  harmful: boolean;
  decision: string;
  winner: string;
  effect: number;
  ciLow: number;
  ciHigh: number;
  usersA: number;
  usersB: number;
  openUsersA: number;
  openUsersB: number;
  meanA: number;
  meanB: number;
  guardScore: number;
  guardSignal: string;
  alpha: number;
  minEffect: number;
  windowMs: number;
  droppedUsers: number;
}

export function experimentView(s: ExperimentStatus): ExperimentView {
  const a = s.latest?.answer;
  const g = s.latest?.guard;
  return {
    id: s.id,
    service: s.spec.service,
    version: s.spec.version,
    stable: s.stable,
    split: s.spec.split,
    outcome: outcomeText(s.spec.outcome),
    phase: s.phase,
    startedAtMs: s.startedAtMs,
    stoppedAtMs: s.stoppedAtMs ?? 0,
    stopReason: s.stopReason ?? '',
    harmful: s.harmful,
    decision: a?.decision ?? 'undecided',
    winner: a?.winner ?? '',
    effect: a?.effect ?? 0,
    ciLow: a?.ci[0] ?? Number.NEGATIVE_INFINITY,
    ciHigh: a?.ci[1] ?? Number.POSITIVE_INFINITY,
    usersA: a?.users.A ?? 0,
    usersB: a?.users.B ?? 0,
    openUsersA: a?.openUsers.A ?? 0,
    openUsersB: a?.openUsers.B ?? 0,
    meanA: a?.means.A ?? 0,
    meanB: a?.means.B ?? 0,
    guardScore: g?.score ?? 0,
    guardSignal: g?.signal ?? '',
    alpha: s.spec.alpha,
    minEffect: s.spec.minEffect,
    windowMs: s.spec.windowMs,
    droppedUsers: (a?.dropped.switched ?? 0) + (a?.dropped.overCap ?? 0) + (a?.dropped.restart ?? 0),
  };
}

/** The request as it arrives (proto JSON form). */
export interface ExperimentStartInput {
  service: string;
  version: string;
  split: number;
  outcome: string;
  windowMs?: number;
  alpha?: number;
  minEffect?: number;
}

/** The spec of a start request; throws AdminError('invalid_argument') naming the field. */
export function specOf(req: ExperimentStartInput): ExperimentSpec {
  const outcome = parseOutcome(req.outcome ?? '');
  if (typeof outcome === 'string') throw new AdminError('invalid_argument', outcome);
  return {
    service: req.service,
    version: req.version,
    split: Number(req.split),
    outcome,
    windowMs: Number(req.windowMs) || EXPERIMENT_DEFAULTS.windowMs,
    alpha: Number(req.alpha) || EXPERIMENT_DEFAULTS.alpha,
    minEffect: Number(req.minEffect) || EXPERIMENT_DEFAULTS.minEffect,
  };
}

export class ExperimentBackend {
  constructor(
    private readonly desk: ExperimentDesk,
    private readonly now: () => number = Date.now,
  ) {}

  async start(req: ExperimentStartInput): Promise<{ experiment: ExperimentView; message: string }> {
    const spec = specOf(req);
    const s = await refused(async () => this.desk.start(spec, this.now()));
    return {
      experiment: experimentView(s),
      message: `${s.id} starting: ${spec.split} % of ${spec.service}'s users to ${spec.version}, the rest on ${s.stable}`,
    };
  }

  status(service?: string): ExperimentView[] {
    return this.desk.status(service).map(experimentView);
  }

  async stop(service: string, reason: string): Promise<{ experiment: ExperimentView; message: string }> {
    const why = `stopped by an operator${reason ? `: ${reason}` : ''}`;
    const s = await refused(async () => this.desk.stop(service, why, this.now()));
    return { experiment: experimentView(s), message: `${s.id} stopped; every user is on ${s.stable}` };
  }
}

async function refused<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ExperimentRefused) throw new AdminError('failed_precondition', err.message);
    throw err;
  }
}
