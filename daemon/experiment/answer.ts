/**
 * The answer of an A/B experiment at one moment: the confidence sequence for
 * B − A in the outcome's units, the decision it supports, the effect with
 * its interval, and the users in each arm. Pure; may be computed as often as
 * anyone looks (that is what the confidence sequence is for).
 */
import { type Decision, decide, differenceSequence, type Interval } from './sequence.js';
import type { ExperimentSpec } from './spec.js';
import type { ArmName, DroppedUsers, ExperimentTally } from './tally.js';

export interface ExperimentAnswer {
  decision: Decision;
  /** The better version once decided, else null (also null for `no_effect`). */
  winner: ArmName | null;
  /** Observed mean outcome per finished user, B − A, in outcome units (0 before both arms have users). */
  effect: number;
  /** The anytime-valid interval for B − A at level alpha, in outcome units. */
  ci: Interval;
  /** Mean outcome per finished user in each arm. */
  means: Record<ArmName, number>;
  /** Users whose window has ended (they count), and users still watched. */
  users: Record<ArmName, number>;
  openUsers: Record<ArmName, number>;
  /** Users left out: seen in both arms, over the memory cap, or cut by a daemon restart. */
  dropped: DroppedUsers;
}

export function experimentAnswer(spec: ExperimentSpec, tally: ExperimentTally): ExperimentAnswer {
  const scale = spec.outcome.kind === 'header' ? spec.outcome.max : 1;
  const { A, B } = tally.arms;
  const [lo, hi] = differenceSequence(B, A, spec.alpha);
  const ci: Interval = [lo * scale, hi * scale];
  const decision = decide(ci, spec.minEffect);
  const mean = (t: { n: number; sum: number }) => (t.n > 0 ? (t.sum / t.n) * scale : 0);
  const means = { A: mean(A), B: mean(B) };
  return {
    decision,
    winner: decision === 'b_better' ? 'B' : decision === 'a_better' ? 'A' : null,
    effect: A.n > 0 && B.n > 0 ? means.B - means.A : 0,
    ci,
    means,
    users: { A: A.n, B: B.n },
    openUsers: tally.openUsers(),
    dropped: { ...tally.dropped },
  };
}
