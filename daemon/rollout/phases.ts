/**
 * The phases of a deployment (docs/cli.md lists what each allows):
 *
 * ```
 * provisioning ─► shadowing ─► promoting ─► baking ─► completed
 *       │             │            │           │
 *       └─────────────┴────────────┴───────────┴─► rolling_back ─► validating ─► rolled_back
 *                                                                       └────► rollback_failed
 * (provisioning | shadowing | promoting | baking) ── abort ──► aborted
 * ```
 * A rollout may also be *paused* in provisioning, shadowing, promoting or
 * baking: that is a flag on the state, not a phase (see `DeploymentState.paused`).
 */
export type Phase =
  /** The candidate (and the baseline, if any) is being started; users see nothing. */
  | 'provisioning'
  /** The candidate receives mirrored copies only; users never see its answers. */
  | 'shadowing'
  /** Live route weights move to the candidate in the configured steps, each held and judged. */
  | 'promoting'
  /** The candidate serves 100%; the previous version stays warm as the mirror target. */
  | 'baking'
  /** Final: the candidate is the stable version. */
  | 'completed'
  /** Traffic goes back to the previous version as fast as its capacity allows; mirroring off. */
  | 'rolling_back'
  /** The restored version serves 100% and is compared with its own history for validationPeriod. */
  | 'validating'
  /** Final: the previous version is restored and validated; mirroring stays off. */
  | 'rolled_back'
  /** Final, holding: the restored version failed validation (or never regained capacity); alerted; nothing automatic happens. */
  | 'rollback_failed'
  /** Final: an operator aborted; traffic went straight back to the previous version, without validation. */
  | 'aborted';

/** Every phase, in the order of the diagram. */
export const PHASES: readonly Phase[] = [
  'provisioning',
  'shadowing',
  'promoting',
  'baking',
  'completed',
  'rolling_back',
  'validating',
  'rolled_back',
  'rollback_failed',
  'aborted',
];

/** Phases after which the machine never moves on its own; a new deployment of the service may start. */
export const TERMINAL_PHASES: readonly Phase[] = ['completed', 'rolled_back', 'rollback_failed', 'aborted'];

/** Phases in which the candidate is being judged and may be rolled back, paused or aborted. */
export const FORWARD_PHASES: readonly Phase[] = ['provisioning', 'shadowing', 'promoting', 'baking'];

export function isTerminal(phase: Phase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

export function isPhase(value: string): value is Phase {
  return (PHASES as readonly string[]).includes(value);
}
