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
 * Cross-field rules (stable version exists, steps end at 100, …) live in
 * {@link UmbraConfig}'s refinements and report paths like the field rules.
 */
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { clashes, endpointClashes, type NamedAddress } from './addresses.js';
import { dependencyEnvName } from './dependencies.js';
import { formatDuration, parseDuration } from './duration.js';
import { JourneyConfig, journeyChecks, SideEffects } from './journeys.js';

/**
 * A duration (`30s`, `5m`, `1h`, or seconds as a number) → milliseconds,
 * within `[min, max]` when given (a period of 0 would spin; a timeout of 0
 * would fail everything or, in Envoy, never time out).
 */
function duration(fallback: string, range: { min?: number; max?: number } = {}) {
  return z
    .union([z.string(), z.number()], { error: 'must be a duration like 30s, 5m or 1h' })
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration like 30s, 5m or 1h (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      const { min, max } = range;
      if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) {
        const lo = min === undefined ? '' : `at least ${formatDuration(min)}`;
        const hi = max === undefined ? '' : `at most ${formatDuration(max)}`;
        ctx.addIssue({
          code: 'custom',
          message: `must be ${[lo, hi].filter(Boolean).join(' and ')} (got ${JSON.stringify(v)})`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

/** A timeout: 0 would fail at once (or never time out), so at least 1 ms. */
const timeout = (fallback: string, max?: number) =>
  duration(fallback, { min: 1, ...(max === undefined ? {} : { max }) });

const NAME = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/i;
const name = (what: string) =>
  z
    .string()
    .regex(NAME, { error: `must be a ${what} name: letters, digits, '.', '_' or '-' (1-63 characters)` });

/** `host:port`; the host may be a name, an IPv4 address or `[IPv6]`. */
const HostPort = z
  .string()
  .regex(/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i, { error: 'must be host:port, e.g. 127.0.0.1:7070' })
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, { error: 'port must be 1..65535' });

/** Where alerts are POSTed. */
const WebhookUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** PostgreSQL as the shared store of several daemons, one of them leading (docs/ha.md). */
export const PostgresStore = z
  .strictObject({
    /** `postgres://user[:password]@host[:port]/database[?sslmode=…]`. */
    url: z.string().regex(/^postgres(ql)?:\/\/[^\s]+$/, { error: 'must be a postgres:// URL' }),
    /** Longest wait to open a connection. */
    connectTimeout: timeout('5s', 60_000),
    /** Longest wait for any one answer of the store; the daemon's thread waits that long at most. */
    timeout: timeout('2s', 30_000),
    /** How long the leader's lease lasts without a renewal: a dead leader is replaced within it. */
    lease: duration('5s', { min: 1_000, max: 60_000 }),
    /** The admin address other daemons name as this one when it leads (default: `admin.listen`). */
    advertise: HostPort.optional(),
  })
  .refine((p) => p.timeout * 2 <= p.lease, {
    // A leader blocked on one answer must still renew its lease in time.
    error: 'must be at most half of lease',
    path: ['timeout'],
  });
export type PostgresStore = z.infer<typeof PostgresStore>;

/** TLS for one listening port; absent means plaintext. */
export const Tls = z.strictObject({
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** When set, clients must present a certificate signed by this CA. */
  clientCaFile: z.string().min(1).optional(),
});
export type Tls = z.infer<typeof Tls>;

/** A DNS name; a TLS server name may not be an IP address (RFC 6066 §3). */
const ServerName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i, {
    error: 'must be a DNS name, e.g. umbrad.internal',
  })
  .refine((v) => isIP(v) === 0, { error: 'must be a DNS name: a TLS server name may not be an IP address' });

/**
 * How the proxies reach a daemon port over TLS, for the clusters Umbra sends
 * them over xDS. Every path is on the proxies' machines, not the daemon's.
 */
export const ProxyTls = z.strictObject({
  /** The CA that signed the daemon's certificate. */
  caFile: z.string().min(1),
  /** A DNS name in the daemon's certificate: sent as SNI and required in the certificate. */
  serverName: ServerName,
  /** The proxies' client certificate and key; required when the daemon sets clientCaFile. */
  certFile: z.string().min(1).optional(),
  keyFile: z.string().min(1).optional(),
});
export type ProxyTls = z.infer<typeof ProxyTls>;

/** TLS of the telemetry port, plus how the proxies Umbra configures reach it. */
export const TelemetryTls = Tls.extend({ proxy: ProxyTls.optional() });
export type TelemetryTls = z.infer<typeof TelemetryTls>;

/** An existing xDS control plane Umbra relays (overlay mode). */
export const UpstreamControlPlane = z.strictObject({
  /** Its ADS endpoint, `host:port` (gRPC). */
  address: HostPort,
  /** TLS towards it; plaintext when absent (then only on loopback, unless `insecure`). */
  tls: z
    .strictObject({
      /** The CA that signed the control plane's certificate. */
      caFile: z.string().min(1),
      /** Name expected in its certificate (default: the host of `address`). */
      serverName: ServerName.optional(),
      /** Umbra's client certificate and key, when the control plane wants mutual TLS. */
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
    })
    .optional(),
  /** Allows a plaintext connection off loopback (the proxies' whole configuration crosses the network in clear). */
  insecure: z.boolean().default(false),
});
export type UpstreamControlPlane = z.infer<typeof UpstreamControlPlane>;

export const AdminConfig = z.strictObject({
  /** Loopback by default: the admin API steers production traffic. */
  listen: HostPort.default('127.0.0.1:7070'),
  /** File holding the bearer token (created with a random token when missing). `UMBRA_ADMIN_TOKEN` overrides. */
  tokenFile: z.string().min(1).default('.umbra/admin.token'),
  tls: Tls.optional(),
  /** Allows a non-loopback listen address without TLS (the token would cross the network in clear). */
  insecure: z.boolean().default(false),
  /** The admin HTTP address: the live page at /ui (same token, same tls). Absent: not served. */
  httpListen: HostPort.optional(),
});
export type AdminConfig = z.infer<typeof AdminConfig>;

export const DaemonConfig = z.strictObject({
  admin: AdminConfig.prefault({}),
  telemetry: z
    .strictObject({
      listen: HostPort.default('127.0.0.1:7071'),
      tls: TelemetryTls.optional(),
      /** Allows a non-loopback listen address without mutual TLS (anyone who reaches it can forge records). */
      insecure: z.boolean().default(false),
      /**
       * Streams must present the token in this file (created with a random
       * token when missing; by default `telemetry.token` beside the store);
       * the daemon hands it to the filters it configures over xDS.
       * `requireToken: false` accepts any stream.
       */
      tokenFile: z.string().min(1).optional(),
      requireToken: z.boolean().default(true),
    })
    .prefault({}),
  xds: z
    .strictObject({
      listen: HostPort.default('127.0.0.1:7072'),
      tls: Tls.optional(),
      /** Allows a non-loopback listen address without mutual TLS (anyone who reaches it gets the configuration). */
      insecure: z.boolean().default(false),
      /**
       * When set, proxies must present the token in this file (created with a
       * random token when missing) as `x-umbra-xds-token` initial metadata of
       * their ADS stream (the bootstrap's `initial_metadata`). Unset: no token.
       */
      tokenFile: z.string().min(1).optional(),
      /**
       * Overlay mode: the proxies' configuration comes from this existing
       * control plane, relayed per proxy with the proxy's own node, and Umbra
       * adds only what its services' deployments need (docs/overlay.md). Any
       * node id is then served: the upstream decides what each node gets.
       */
      upstream: UpstreamControlPlane.optional(),
      /** Envoy node ids (`node.id` in their bootstrap) that get the services' configuration. */
      nodes: z
        .array(z.string().min(1))
        .min(1, { error: 'must list at least one node id' })
        .default(['umbra-edge']),
    })
    .prefault({}),
  /** Scheduled training of the judge on the store's finished deployments (`umbra model train` by hand). */
  training: z
    .strictObject({ enabled: z.boolean().default(true), every: duration('6h', { min: 60_000 }) })
    .prefault({}),
  /** The compiled Umbra filter that Envoy loads (a path on the proxies' machine). */
  filter: z.strictObject({ wasmPath: z.string().min(1).default('build/filter.wasm') }).prefault({}),
  store: z
    .strictObject({
      path: z.string().min(1).default('.umbra/umbra.db'),
      /** The shared store of several daemons (docs/ha.md); when set, `path` is not used. */
      postgres: PostgresStore.optional(),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      /** Receives a JSON POST on rollbacks and failed validations; none by default. */
      webhook: WebhookUrl.optional(),
      timeout: timeout('5s'),
    })
    .prefault({}),
});
export type DaemonConfig = z.infer<typeof DaemonConfig>;

/** How the filter picks the requests it mirrors. */
export const MirroringStrategy = z.enum(['random', 'user-segment', 'geographic'], {
  error: 'must be one of random, user-segment, geographic',
});
export type MirroringStrategy = z.infer<typeof MirroringStrategy>;

const IDEMPOTENT = ['GET', 'HEAD', 'OPTIONS'];

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

export const UmbraConfig = z
  .strictObject({
    daemon: DaemonConfig.prefault({}),
    services: z.array(ServiceConfig).default([]),
  })
  .superRefine(crossChecks);
export type UmbraConfig = z.infer<typeof UmbraConfig>;

/** Overlay mode: a safe way to the upstream, and each service names its upstream resources. */
function upstreamChecks(cfg: { daemon: DaemonConfig; services: ServiceConfig[] }, ctx: Ctx): void {
  const up = cfg.daemon.xds.upstream;
  if (!up) {
    cfg.services.forEach((s, i) => {
      if (s.overlay) issue(ctx, ['services', i, 'overlay'], 'only with daemon.xds.upstream (overlay mode)');
    });
    return;
  }
  if (!isLoopback(up.address) && !up.tls && !up.insecure) {
    issue(
      ctx,
      ['daemon', 'xds', 'upstream', 'address'],
      'a non-loopback address needs tls (or insecure: true)',
    );
  }
  if (up.tls && Boolean(up.tls.certFile) !== Boolean(up.tls.keyFile)) {
    issue(ctx, ['daemon', 'xds', 'upstream', 'tls'], 'certFile and keyFile go together');
  }
  cfg.services.forEach((s, i) => {
    if (!s.overlay) {
      issue(
        ctx,
        ['services', i, 'overlay'],
        "required with daemon.xds.upstream: the upstream's cluster and listener of this service",
      );
    }
  });
}

function isRegex(p: string): boolean {
  try {
    new RegExp(p);
    return true;
  } catch {
    return false;
  }
}

type Ctx = z.RefinementCtx<unknown>;
const issue = (ctx: Ctx, path: (string | number)[], message: string) =>
  ctx.addIssue({ code: 'custom', path, message });

/** Rules that span fields; each reports the path of the field to fix. */
function crossChecks(cfg: { daemon: DaemonConfig; services: ServiceConfig[] }, ctx: Ctx): void {
  const admin = cfg.daemon.admin;
  if (!isLoopback(admin.listen) && !admin.tls && !admin.insecure) {
    issue(ctx, ['daemon', 'admin', 'listen'], 'a non-loopback address needs tls (or insecure: true)');
  }
  if (admin.httpListen && !isLoopback(admin.httpListen) && !admin.tls && !admin.insecure) {
    issue(ctx, ['daemon', 'admin', 'httpListen'], 'a non-loopback address needs tls (or insecure: true)');
  }
  telemetryTlsChecks(cfg.daemon.telemetry.tls, cfg.services.length > 0, ctx);
  mutualTlsChecks(cfg.daemon, ctx);
  const bound = boundAddresses(cfg);
  for (const c of clashes(bound)) issue(ctx, c.at, c.message);
  for (const c of endpointClashes(staticEndpoints(cfg.services), bound)) issue(ctx, c.at, c.message);
  upstreamChecks(cfg, ctx);
  const seen = new Set<string>();
  cfg.services.forEach((s, i) => {
    if (seen.has(s.name)) issue(ctx, ['services', i, 'name'], `duplicate service '${s.name}'`);
    seen.add(s.name);
    if (!(s.stable in s.provisioner.versions)) {
      issue(ctx, ['services', i, 'stable'], `'${s.stable}' is not in provisioner.versions`);
    }
    const m = s.mirroring;
    if (m.mirroringStrategy === 'user-segment' && !m.userSegment?.header && !m.userSegment?.cookie) {
      issue(ctx, ['services', i, 'mirroring', 'userSegment'], 'user-segment needs a header or a cookie');
    }
    if (m.mirroringStrategy === 'geographic' && !m.geographic) {
      issue(ctx, ['services', i, 'mirroring', 'geographic'], 'geographic needs regions');
    }
    m.methods.forEach((method, j) => {
      if (!IDEMPOTENT.includes(method) && !m.allowWrites) {
        issue(
          ctx,
          ['services', i, 'mirroring', 'methods', j],
          `${method} is not idempotent; set mirroring.allowWrites: true to mirror writes`,
        );
      }
    });
    journeyChecks(s, (path, message) => issue(ctx, ['services', i, ...path], message));
    dependencyChecks(s, i, cfg.daemon.xds.upstream !== undefined, ctx);
    const steps = s.rollout.steps;
    steps.forEach((step, j) => {
      if (j > 0 && step.weight <= steps[j - 1]!.weight) {
        issue(
          ctx,
          ['services', i, 'rollout', 'steps', j, 'weight'],
          'must be greater than the previous step',
        );
      }
    });
    if (steps.length > 0 && steps[steps.length - 1]!.weight !== 100) {
      issue(
        ctx,
        ['services', i, 'rollout', 'steps', steps.length - 1, 'weight'],
        'the last step must be 100',
      );
    }
  });
}

/** Dependencies are reached through the service's egress listener, which Umbra serves itself. */
function dependencyChecks(s: ServiceConfig, i: number, overlay: boolean, ctx: Ctx): void {
  const named = Object.keys(s.dependencies).length > 0;
  if (named && !s.egress) issue(ctx, ['services', i, 'egress'], 'required with dependencies');
  if (!named && s.egress) issue(ctx, ['services', i, 'egress'], 'only with dependencies');
  if (named && overlay)
    issue(ctx, ['services', i, 'dependencies'], 'not available with daemon.xds.upstream (overlay mode)');
  const byEnv = new Map<string, string>();
  for (const dep of Object.keys(s.dependencies)) {
    const env = dependencyEnvName(dep);
    const other = byEnv.get(env);
    if (other) issue(ctx, ['services', i, 'dependencies', dep], `same variable ${env} as '${other}'`);
    byEnv.set(env, dep);
  }
}

/**
 * The proxies reach the telemetry port through the `umbra-telemetry` cluster
 * Umbra sends them: with TLS on that port, the cluster needs TLS too, or every
 * filter's stream fails.
 */
function telemetryTlsChecks(tls: TelemetryTls | undefined, hasServices: boolean, ctx: Ctx): void {
  if (!tls) return;
  const at = ['daemon', 'telemetry', 'tls', 'proxy'];
  const proxy = tls.proxy;
  if (!proxy) {
    if (hasServices)
      issue(
        ctx,
        at,
        'required with services: how their proxies reach the telemetry port (caFile, serverName)',
      );
    return;
  }
  if ((proxy.certFile === undefined) !== (proxy.keyFile === undefined)) {
    issue(
      ctx,
      [...at, proxy.certFile === undefined ? 'certFile' : 'keyFile'],
      'certFile and keyFile go together',
    );
  } else if (tls.clientCaFile && proxy.certFile === undefined) {
    issue(
      ctx,
      [...at, 'certFile'],
      'required when clientCaFile is set: the telemetry port asks the proxies for one',
    );
  }
}

/**
 * Telemetry decides rollouts and xDS hands out configuration: off loopback
 * both need TLS with client certificates (`clientCaFile`) unless the
 * operator opts out with `insecure: true`.
 */
function mutualTlsChecks(daemon: DaemonConfig, ctx: Ctx): void {
  for (const key of ['telemetry', 'xds'] as const) {
    const problem = openPortProblem(daemon[key], daemon[key].listen);
    if (problem) issue(ctx, ['daemon', key, ...problem.at], problem.message);
  }
}

/**
 * Why `listen` (the port's own, or a command-line override) would be open to
 * the network: non-loopback without mutual TLS and without `insecure: true`.
 */
export function openPortProblem(
  port: { tls?: Tls | undefined; insecure: boolean },
  listen: string,
): { at: string[]; message: string } | undefined {
  if (isLoopback(listen) || port.insecure) return undefined;
  if (!port.tls)
    return {
      at: ['listen'],
      message: 'a non-loopback address needs tls with clientCaFile (mutual TLS), or insecure: true',
    };
  if (!port.tls.clientCaFile)
    return {
      at: ['tls', 'clientCaFile'],
      message:
        'required on a non-loopback address: only proxies with a client certificate may connect (or insecure: true)',
    };
  return undefined;
}

/** Every address the daemon binds, then every service's listener, in order: a clash names the later one. */
function boundAddresses(cfg: { daemon: DaemonConfig; services: ServiceConfig[] }): NamedAddress[] {
  const d = cfg.daemon;
  return [
    { at: ['daemon', 'admin', 'listen'], hostPort: d.admin.listen },
    ...(d.admin.httpListen ? [{ at: ['daemon', 'admin', 'httpListen'], hostPort: d.admin.httpListen }] : []),
    { at: ['daemon', 'telemetry', 'listen'], hostPort: d.telemetry.listen },
    { at: ['daemon', 'xds', 'listen'], hostPort: d.xds.listen },
    ...cfg.services.map((s, i) => ({ at: ['services', i, 'listen'], hostPort: s.listen })),
    ...cfg.services.flatMap((s, i) =>
      s.egress ? [{ at: ['services', i, 'egress'], hostPort: s.egress }] : [],
    ),
  ];
}

/** Where the static versions' instances listen. */
function staticEndpoints(services: ServiceConfig[]): NamedAddress[] {
  const out: NamedAddress[] = [];
  services.forEach((s, i) => {
    if (s.provisioner.kind !== 'static') return;
    for (const [version, v] of Object.entries(s.provisioner.versions)) {
      v.endpoints.forEach((e, j) => {
        out.push({ at: ['services', i, 'provisioner', 'versions', version, 'endpoints', j], hostPort: e });
      });
    }
  });
  return out;
}

/** Where the telemetry token lives: `daemon.telemetry.tokenFile`, else beside the store. */
export function telemetryTokenFile(daemon: DaemonConfig): string {
  if (daemon.telemetry.tokenFile !== undefined) return daemon.telemetry.tokenFile;
  const store = daemon.store.path;
  return store === ':memory:' ? '.umbra/telemetry.token' : join(dirname(store), 'telemetry.token');
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(hostPort: string): boolean {
  const host = hostPort.slice(0, hostPort.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
