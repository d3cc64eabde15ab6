/**
 * One entry of `services:` in umbra.yaml: how its traffic is mirrored (the
 * seed's `shadowPercentage` and `mirroringStrategy`), judged
 * (`anomalyThreshold`), rolled out (`validationPeriod`, steps), provisioned,
 * and what it depends on. Cross-field rules are in checks.ts.
 */
import { z } from 'zod';
import { RolloutChaos } from './chaos-step.js';
import { duration, HostPort, isRegex, name, timeout, WebhookUrl } from './fields.js';
import { JourneyConfig, SideEffects } from './journeys.js';

/** How the filter picks the requests it mirrors. */
export const MirroringStrategy = z.enum(['random', 'user-segment', 'geographic'], {
  error: 'must be one of random, user-segment, geographic',
});
export type MirroringStrategy = z.infer<typeof MirroringStrategy>;

export const IDEMPOTENT = ['GET', 'HEAD', 'OPTIONS'];

/**
 * NOTE: the filter refuses a shadowTimeoutMs outside 1..600000
 * (filter/assembly/config.ts), and a filter whose configuration is refused
 * makes Envoy reject the whole listener (a NACK).
 */
const SHADOW_TIMEOUT_MAX_MS = 600_000;

const percentage = z
  .number({ error: 'must be a number 0..100' })
  .min(0, { error: 'must be 0..100' })
  .max(100, { error: 'must be 0..100' });

/** `shadowPercentage: {adaptive: {min, max}}`: the daemon moves the share in force within [min, max]. */
export const AdaptiveShare = z
  .strictObject({
    min: percentage,
    max: percentage.refine((v) => v > 0, { error: 'must be above 0' }),
  })
  .superRefine((a, ctx) => {
    if (a.min > a.max) ctx.addIssue({ code: 'custom', path: ['min'], message: `must be ≤ max (${a.max})` });
  });
export type AdaptiveShare = z.infer<typeof AdaptiveShare>;

const MirroringFields = z.strictObject({
  /**
   * Share of eligible production requests copied to the candidate, 0..100,
   * or `{adaptive: {min, max}}` (daemon/adaptive/policy.ts).
   */
  shadowPercentage: z
    .union([percentage, z.strictObject({ adaptive: AdaptiveShare })], {
      error: 'must be a number 0..100 or {adaptive: {min, max}}',
    })
    .default(10),
  mirroringStrategy: MirroringStrategy.default('random'),
  /** `user-segment`: the header or cookie whose value is hashed into buckets. */
  userSegment: z
    .strictObject({
      header: z.string().min(1).optional(),
      cookie: z.string().min(1).optional(),
      buckets: z.number().int().min(2).max(10_000).default(100),
    })
    .optional(),
  /** `geographic`: the header set by the edge and the regions to sample from. */
  geographic: z
    .strictObject({
      header: z.string().min(1).default('x-region'),
      regions: z.array(z.string().min(1)).min(1, { error: 'must list at least one region' }),
    })
    .optional(),
  methods: z
    .array(z.string().regex(/^[A-Z]+$/, { error: 'must be an upper-case HTTP method' }))
    .default(IDEMPOTENT),
  /** Opt-in to mirroring non-idempotent methods (writes are duplicated!). */
  allowWrites: z.boolean().default(false),
  paths: z
    .strictObject({
      include: z.array(z.string().startsWith('/', { error: "must start with '/'" })).default(['/']),
      exclude: z.array(z.string().startsWith('/', { error: "must start with '/'" })).default([]),
    })
    .prefault({}),
  maxBodyBytes: z
    .number()
    .int()
    .min(0)
    .max(16 * 1024 * 1024)
    .default(64 * 1024),
  stripHeaders: z.array(z.string().min(1)).default(['authorization', 'cookie', 'proxy-authorization']),
  /**
   * Share of requests (0..100, of every version serving) that give the judge a
   * live (unpaired) record while a deployment needs the filter, besides the
   * mirrored ones. Only these requests and the mirrored ones enter the filter
   * (random, geographic); docs/filter.md, "Route gating", says why 5 (the
   * judge's minimum sample in a promotion's first step at 1,000 requests/s).
   */
  liveSample: z
    .number({ error: 'must be a number 0..100' })
    .min(0, { error: 'must be 0..100' })
    .max(100, { error: 'must be 0..100' })
    .default(5),
  /** Also mirror to a baseline (current version, candidate-sized) to measure noise live. */
  baseline: z.boolean().default(false),
  /** Time allowed for a mirrored request (the filter's shadowTimeoutMs: 1 ms..10 min). */
  timeout: timeout('5s', SHADOW_TIMEOUT_MAX_MS),
});

/**
 * Mirroring as the daemon reads it: `shadowPercentage` is always a number,
 * the configured share or, when adaptive, its `max` (what routes, pool sizes
 * and the filter's gate are made for); `adaptive` is set only when adaptive.
 */
export const Mirroring = MirroringFields.transform(
  ({ shadowPercentage: p, ...rest }): typeof rest & { shadowPercentage: number; adaptive?: AdaptiveShare } =>
    typeof p === 'number'
      ? { ...rest, shadowPercentage: p }
      : { ...rest, shadowPercentage: p.adaptive.max, adaptive: p.adaptive },
);
export type Mirroring = z.infer<typeof Mirroring>;

export const JudgeConfig = z.strictObject({
  /** t: P(false rollback of a good version) ≤ 10^-t, however often checked. */
  anomalyThreshold: z
    .number({ error: 'must be a number 1..12' })
    .min(1, { error: 'must be 1..12' })
    .max(12, { error: 'must be 1..12' })
    .default(3),
  /** Paired samples needed before any verdict other than insufficient. */
  minSamples: z.number().int().min(1).default(200),
  /** Time after a phase starts during which nothing is judged. */
  warmup: duration('30s'),
  /** Share of the false-alarm budget given to the service's journeys (when it has any), split by their weights. */
  syntheticShare: z
    .number({ error: 'must be a number 0.01..0.5' })
    .min(0.01, { error: 'must be 0.01..0.5' })
    .max(0.5, { error: 'must be 0.01..0.5' })
    .default(0.2),
});
export type JudgeConfig = z.infer<typeof JudgeConfig>;

export const RolloutStep = z.strictObject({
  /** Candidate's share of live traffic, 1..100. */
  weight: z.number().int().min(1, { error: 'must be 1..100' }).max(100, { error: 'must be 1..100' }),
  /** How long the step is held (and judged) before the next. */
  hold: duration('2m'),
});
export type RolloutStep = z.infer<typeof RolloutStep>;

export const RolloutConfig = z.strictObject({
  shadowDuration: duration('5m'),
  steps: z
    .array(RolloutStep)
    .min(1)
    .prefault([
      { weight: 10, hold: '2m' },
      { weight: 25, hold: '2m' },
      { weight: 50, hold: '2m' },
      { weight: 100, hold: '2m' },
    ]),
  /** Time at 100% with the previous version kept warm as the mirror target. */
  bake: duration('5m'),
  /** After a rollback, how long the restored version is compared with its own history. */
  validationPeriod: duration('5m'),
  /** Extra capacity factor in shadow sizing. */
  headroom: z.number().min(1, { error: 'must be at least 1' }).max(10).default(1.5),
  provisionTimeout: timeout('2m'),
  /** Time allowed, during a rollback, for the previous version to regain its capacity. */
  capacityTimeout: timeout('2m'),
  /** Times a hold is extended for lack of evidence before the rollout pauses itself. */
  maxHoldExtensions: z.number().int().min(0).max(100).default(3),
  /** Chaos experiments on the candidate once shadowing judged it healthy (chaos-step.ts). */
  chaos: RolloutChaos.optional(),
});
export type RolloutConfig = z.infer<typeof RolloutConfig>;

export const ProcessVersion = z.strictObject({
  /** argv; `PORT` is set in the environment of each instance. */
  command: z.array(z.string().min(1)).min(1, { error: 'must name a program' }),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});
export type ProcessVersion = z.infer<typeof ProcessVersion>;

export const ProcessProvisioner = z.strictObject({
  kind: z.literal('process'),
  /** Production replicas of the stable version. */
  replicas: z.number().int().min(1).max(256).default(2),
  healthPath: z.string().startsWith('/').default('/healthz'),
  /** A log line matching this (JavaScript regex) counts as an error line. */
  errorPattern: z
    .string()
    .default('\\b(ERROR|FATAL|panic)\\b')
    .refine((p) => isRegex(p), { error: 'must be a valid regular expression' }),
  versions: z.record(name('version'), ProcessVersion),
});
export type ProcessProvisioner = z.infer<typeof ProcessProvisioner>;

export const StaticProvisioner = z.strictObject({
  kind: z.literal('static'),
  versions: z.record(
    name('version'),
    z.strictObject({ endpoints: z.array(HostPort).min(1, { error: 'must list at least one endpoint' }) }),
  ),
});
export type StaticProvisioner = z.infer<typeof StaticProvisioner>;

/**
 * The `exec` provisioner: versions are started, resized, checked and stopped
 * by a command the user configures (docs/provisioners.md has the contract).
 */
export const ExecProvisioner = z.strictObject({
  kind: z.literal('exec'),
  /** argv; Umbra appends `ACTION SERVICE VERSION ROLE REPLICAS`. */
  command: z.array(z.string().min(1)).min(1, { error: 'must name a program' }),
  cwd: z.string().min(1).optional(),
  /** Environment of every call (besides the `UMBRA_*` variables). */
  env: z.record(z.string(), z.string()).default({}),
  /** Production replicas of the stable version. */
  replicas: z.number().int().min(1).max(10_000).default(2),
  /** Per attempt; a command still running then is killed with its whole process group. */
  timeouts: z
    .strictObject({
      ensure: timeout('5m', 3_600_000),
      stop: timeout('2m', 3_600_000),
      status: timeout('30s', 600_000),
    })
    .prefault({}),
  /** Extra attempts after a temporary failure (exit code 75, or a timeout). */
  retries: z.number().int().min(0).max(10).default(2),
  /** Wait before the first retry; it doubles for each further one. */
  retryDelay: duration('2s', { max: 600_000 }),
  /** How often `status` runs for each pool, and its endpoints are probed. */
  checkInterval: duration('10s', { min: 100, max: 3_600_000 }),
  /** How Umbra checks that a reported endpoint answers: HTTP GET healthPath (2xx/3xx), a TCP connect, or not at all. */
  probe: z.enum(['http', 'tcp', 'none'], { error: 'must be one of http, tcp, none' }).default('http'),
  healthPath: z.string().startsWith('/', { error: "must start with '/'" }).default('/healthz'),
  versions: z.record(
    name('version'),
    z.strictObject({ env: z.record(z.string(), z.string()).default({}) }).prefault({}),
  ),
});
export type ExecProvisioner = z.infer<typeof ExecProvisioner>;

export const ProvisionerConfig = z.discriminatedUnion(
  'kind',
  [ProcessProvisioner, StaticProvisioner, ExecProvisioner],
  { error: 'must be process, static or exec' },
);
export type ProvisionerConfig = z.infer<typeof ProvisionerConfig>;

export const ServiceConfig = z.strictObject({
  name: name('service'),
  /** The version serving production now. */
  stable: name('version'),
  /** Where Envoy accepts this service's traffic (each service has its own listener). */
  listen: HostPort.default('127.0.0.1:10000'),
  provisioner: ProvisionerConfig,
  mirroring: Mirroring.prefault({}),
  judge: JudgeConfig.prefault({}),
  rollout: RolloutConfig.prefault({}),
  /**
   * Overlay mode (`daemon.xds.upstream`): which of the upstream's resources
   * are this service's. The upstream cluster serves the `stable` version;
   * the listener's HCM gets the Umbra filter.
   */
  overlay: z.strictObject({ cluster: z.string().min(1), listener: z.string().min(1) }).optional(),
  /** Overrides daemon.alerts.webhook for this service. */
  alerts: z.strictObject({ webhook: WebhookUrl.optional() }).prefault({}),
  /** Synthetic transactions run against both versions during shadowing and baking (docs/config.md). */
  journeys: z.array(JourneyConfig).max(50).default([]),
  /** Whether the service's versions write to real data or to a sandbox (journeys with writes need a sandbox). */
  sideEffects: SideEffects.default('production'),
  /** A/B experiments (docs/experiments.md); they split users by `mirroring.userSegment`'s key. */
  experiments: z
    .strictObject({
      /** The response header whose decimal value is a request's outcome (read only for users of a split). */
      outcomeHeader: z
        .string()
        .regex(/^[a-z0-9-]+$/, { error: 'must be a lower-case header name' })
        .default('x-outcome'),
    })
    .prefault({}),
  /**
   * What the service's versions call (name → `host:port`). Their calls go
   * through Envoy's egress listener for the service (`egress`), so that
   * chaos experiments can fault the candidate's calls alone (docs/experiments.md).
   */
  dependencies: z.record(name('dependency'), HostPort).default({}),
  /** Where Envoy accepts the versions' calls to their dependencies; required with dependencies. */
  egress: HostPort.optional(),
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;
