/**
 * The schema of `umbra.yaml`. Each schema and the type it infers share a name
 * (`UmbraConfig` is both), so the parsed value is the documented shape.
 *
 * The seed's four settings are first-class fields of every service:
 * `mirroring.shadowPercentage`, `mirroring.mirroringStrategy`,
 * `judge.anomalyThreshold` and `rollout.validationPeriod`. Everything else has
 * a safe default (see docs/config.md). Durations are written as `30s`, `5m`,
 * … and parsed to milliseconds. Objects are strict: an unknown key is an error,
 * so a typo never silently falls back to a default.
 *
 * The halves live in daemon-schema.ts and service-schema.ts (field types in
 * fields.ts); cross-field rules (stable version exists, steps end at 100, …)
 * are {@link UmbraConfig}'s refinements (checks.ts) and report paths like the
 * field rules. Everything is re-exported here: import the schema from this file.
 */
import { z } from 'zod';
import { crossChecks } from './checks.js';
import { DaemonConfig } from './daemon-schema.js';
import { ServiceConfig } from './service-schema.js';

export { isLoopback, openPortProblem, telemetryAdvertise, telemetryTokenFile } from './checks.js';
export * from './daemon-schema.js';
export * from './service-schema.js';

export const UmbraConfig = z
  .strictObject({
    daemon: DaemonConfig.prefault({}),
    services: z.array(ServiceConfig).default([]),
  })
  .superRefine(crossChecks);
export type UmbraConfig = z.infer<typeof UmbraConfig>;
