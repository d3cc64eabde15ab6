/**
 * `services[].journeys` in umbra.yaml: synthetic transactions the daemon
 * runs against the version judged and the one it is compared with, during
 * shadowing and baking (docs/config.md, "Journeys"). The field rules are
 * here; {@link journeyChecks} adds the rules that span fields (templates
 * name known variables, JSON paths are in the supported subset, a write
 * needs `sideEffects: sandbox`, names are unique), each with its path.
 */
import { z } from 'zod';
import { compileJourney, isWrite } from '../synthetic/journey.js';
import { parseDuration } from './duration.js';
import { name } from './fields.js';

/** A duration within [min, max] ms (the same forms as every duration of umbra.yaml). */
function span(min: number, max: number) {
  return z
    .union([z.string(), z.number()], { error: 'must be a duration like 500ms, 5s or 1m' })
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms < min || ms > max) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration from ${min} ms to ${max / 1000} s (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

const VARIABLE = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  error: "must be a variable name: letters, digits and '_', not starting with a digit",
});

const Status = z
  .number()
  .int()
  .min(100, { error: 'must be 100..599' })
  .max(599, { error: 'must be 100..599' });

export const JourneyStep = z.strictObject({
  name: name('step'),
  method: z
    .string()
    .regex(/^[A-Z]+$/, { error: 'must be an upper-case HTTP method' })
    .default('GET'),
  /** The request path (templated), from '/'. */
  path: z.string().startsWith('/', { error: "must start with '/'" }),
  /** Request headers (values templated). */
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'must be a header name' }), z.string())
    .default({}),
  /** The request body (templated). */
  body: z.string().optional(),
  /** Variable → JSON path into this step's response body (docs/config.md has the supported subset). */
  extract: z.record(VARIABLE, z.string()).default({}),
  expect: z
    .strictObject({
      /** Statuses that pass (default: any 2xx). */
      status: z.union([Status, z.array(Status).min(1)]).optional(),
      /** JSON path → the value expected there. */
      body: z.record(z.string(), z.unknown()).default({}),
      /** Latency budget per request. */
      latency: span(1, 600_000).optional(),
    })
    .prefault({}),
});
export type JourneyStep = z.infer<typeof JourneyStep>;

export const JourneyConfig = z.strictObject({
  name: name('journey'),
  /** How often it runs while a deployment is shadowed or baked. */
  every: span(1_000, 3_600_000).default(30_000),
  /** Per request (each step, each version). */
  timeout: span(1, 60_000).default(5_000),
  /** Its share of the journeys' part of the false-alarm budget, relative to the other journeys. */
  weight: z.number().positive({ error: 'must be above 0' }).max(1000).default(1),
  /** Defined once per run (templated: builtins and earlier variables). */
  variables: z.record(VARIABLE, z.string()).default({}),
  steps: z.array(JourneyStep).min(1, { error: 'must list at least one step' }).max(20),
});
export type JourneyConfig = z.infer<typeof JourneyConfig>;

/**
 * Where a service's versions write: `production` (the default: a write
 * reaches real data) or `sandbox` (the user vouches that writes land in a
 * sandbox). Journeys with writes run only against a sandbox.
 */
export const SideEffects = z.enum(['production', 'sandbox'], { error: 'must be production or sandbox' });
export type SideEffects = z.infer<typeof SideEffects>;

type Issue = (path: (string | number)[], message: string) => void;

/** Rules across a service's journeys' fields; paths are relative to the service. */
export function journeyChecks(
  service: { journeys: JourneyConfig[]; sideEffects: SideEffects },
  issue: Issue,
): void {
  const names = new Set<string>();
  service.journeys.forEach((j, i) => {
    const at = ['journeys', i];
    if (names.has(j.name)) issue([...at, 'name'], `duplicate journey '${j.name}'`);
    names.add(j.name);
    const steps = new Set<string>();
    j.steps.forEach((s, k) => {
      if (steps.has(s.name)) issue([...at, 'steps', k, 'name'], `duplicate step '${s.name}'`);
      steps.add(s.name);
      if (isWrite(s.method) && service.sideEffects !== 'sandbox') {
        issue(
          [...at, 'steps', k, 'method'],
          `${s.method} writes: a journey may write only when the service's versions write to a sandbox (sideEffects: sandbox)`,
        );
      }
    });
    const compiled = compileJourney(j);
    if ('issues' in compiled) for (const p of compiled.issues) issue([...at, ...p.at], p.message);
  });
}
