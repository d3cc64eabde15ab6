/**
 * An A/B experiment as the user asks for it (`umbra experiment start SERVICE
 * VERSION --split P --outcome …`), validated at the edge: every problem is
 * returned with its path and nothing starts. Pure; no I/O.
 */

import { NAME } from '../config/fields.js';

/**
 * What counts as a user's outcome, observed over `windowMs` from the user's
 * first request in the experiment:
 * - `header`: the sum of the values of a response header the service sets
 *   (e.g. `x-outcome: 1`), capped at `max`; with `max` 1 and values 0/1 it
 *   is a proportion (the share of users with an outcome);
 * - `conversion`: whether the user later requests a path starting with
 *   `path` (a proportion).
 */
export type OutcomeSpec =
  | { kind: 'header'; header: string; max: number }
  | { kind: 'conversion'; path: string };

export interface ExperimentSpec {
  service: string;
  /** Version B; A is the service's stable version. */
  version: string;
  /** Share of users in B, strictly between 0 and 100. */
  split: number;
  outcome: OutcomeSpec;
  /** How long each user is watched for an outcome (ms). */
  windowMs: number;
  /** The false-winner rate allowed, however often the answer is looked at. */
  alpha: number;
  /** The smallest difference B − A (in outcome units) that matters; 0: any. */
  minEffect: number;
}

const HEADER = /^[a-z0-9-]+$/;

/** The experiment's defaults for what the user did not say. */
export const EXPERIMENT_DEFAULTS = { windowMs: 60_000, alpha: 0.05, minEffect: 0 } as const;

/** What the daemon knows of the service, to check a spec against. */
export interface ServiceFacts {
  /** Versions the service can run. */
  versions: readonly string[];
  stable: string;
  /** Endpoint names its records have shown (paths); empty when none are known yet. */
  endpoints: readonly string[];
}

/** Every problem in `s` for a service with `facts`, each with its path; empty when valid. */
export function experimentSpecErrors(s: ExperimentSpec, facts: ServiceFacts): string[] {
  const errors: string[] = [];
  if (!facts.versions.includes(s.version)) errors.push(`version: ${s.service} has no version ${s.version}`);
  else if (s.version === facts.stable) errors.push(`version: ${s.version} is the stable version (A) itself`);
  errors.push(...specFieldErrors(s));
  const o = s.outcome;
  if (
    o?.kind === 'conversion' &&
    typeof o.path === 'string' &&
    o.path.startsWith('/') &&
    facts.endpoints.length > 0 &&
    !facts.endpoints.some((e) => e.startsWith(o.path))
  ) {
    errors.push(
      `outcome.path: ${o.path} matches nothing ${s.service} serves (seen: ${facts.endpoints.slice(0, 8).join(', ')})`,
    );
  }
  return errors;
}

/**
 * Every problem in `s` that needs no facts of the service, each with its
 * path; empty when valid. Checks plain data (a stored spec read back from
 * JSON may be anything), so a new spec and a stored one meet the same rules.
 */
export function specFieldErrors(s: Readonly<Partial<Record<keyof ExperimentSpec, unknown>>>): string[] {
  const errors: string[] = [];
  for (const k of ['service', 'version'] as const)
    if (typeof s[k] !== 'string' || !NAME.test(s[k]))
      errors.push(`${k}: not a name (letters, digits, '.', '_' or '-'), got ${JSON.stringify(s[k])}`);
  if (typeof s.split !== 'number' || !(s.split > 0 && s.split < 100))
    errors.push(`split: must be a number between 0 and 100 (exclusive), got ${String(s.split)}`);
  const o = s.outcome as Partial<Record<string, unknown>> | null | undefined;
  if (o?.kind === 'header') {
    if (typeof o.header !== 'string' || !HEADER.test(o.header))
      errors.push(`outcome.header: must be a lower-case header name, got '${String(o.header)}'`);
    if (!(typeof o.max === 'number' && o.max > 0 && Number.isFinite(o.max)))
      errors.push(`outcome.max: must be a positive number, got ${String(o.max)}`);
  } else if (o?.kind === 'conversion') {
    if (typeof o.path !== 'string' || !o.path.startsWith('/'))
      errors.push(`outcome.path: must start with '/', got '${String(o.path)}'`);
  } else {
    errors.push(`outcome.kind: must be header or conversion, got ${JSON.stringify(o?.kind)}`);
  }
  if (!(typeof s.windowMs === 'number' && s.windowMs >= 1000 && s.windowMs <= 86_400_000))
    errors.push('window: must be 1s..24h');
  if (!(typeof s.alpha === 'number' && s.alpha > 0 && s.alpha <= 0.2))
    errors.push(`alpha: must be in (0, 0.2], got ${String(s.alpha)}`);
  if (!(typeof s.minEffect === 'number' && s.minEffect >= 0 && Number.isFinite(s.minEffect)))
    errors.push('minEffect: must be ≥ 0');
  return errors;
}

/** A deployment as the refusal needs it. */
export interface BusyDeployment {
  id: string;
  phase: string;
}

/**
 * Why an experiment may not start on a service now, or null: a deployment
 * in progress owns the service's routes and filter, and its verdict would
 * be mixed with the experiment's.
 */
export function busyReason(
  service: string,
  active: BusyDeployment | null,
  running: string | null,
): string | null {
  if (active)
    return `${service} has deployment ${active.id} in progress (${active.phase}); start the experiment after it ends`;
  if (running) return `${service} already runs experiment ${running}; stop it first`;
  return null;
}

/**
 * An outcome as the CLI writes it: `header:NAME` (a proportion),
 * `header:NAME:MAX` (a mean, each user's sum capped at MAX) or
 * `conversion:/PATH`. Answers the spec or an error naming `outcome`.
 */
export function parseOutcome(text: string): OutcomeSpec | string {
  const [kind, arg, max, ...rest] = text.split(':');
  if (kind === 'conversion' && arg !== undefined && max === undefined)
    return { kind: 'conversion', path: arg };
  if (kind === 'header' && arg && rest.length === 0) {
    const m = max === undefined ? 1 : Number(max);
    if (!(m > 0 && Number.isFinite(m))) return `outcome: the cap in '${text}' must be a positive number`;
    return { kind: 'header', header: arg.toLowerCase(), max: m };
  }
  return `outcome: '${text}' is not header:NAME[:MAX] or conversion:/PATH`;
}

/** An outcome as text again (the form {@link parseOutcome} reads). */
export function outcomeText(o: OutcomeSpec): string {
  return o.kind === 'conversion'
    ? `conversion:${o.path}`
    : `header:${o.header}${o.max === 1 ? '' : `:${o.max}`}`;
}
