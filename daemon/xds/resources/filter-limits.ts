/**
 * What the Umbra filter accepts in its plugin configuration: the fields and
 * the bounds of its numbers. A configuration outside them makes the filter's
 * configure callback return false, and Envoy refuses the whole listener
 * (NACK), or, on a proxy that has none yet, serves no listener at all.
 *
 * NOTE: the same rules as `parseConfig` in filter/assembly/config.ts (the
 * filter is AssemblyScript and cannot share this table); test/unit/filter/
 * pure.test.ts checks every bound here against the compiled filter parser.
 */

/** Numeric fields: inclusive bounds; `integer` unless a fraction is allowed. */
export const FILTER_NUMBER_LIMITS: Readonly<Record<string, { min: number; max: number; integer: boolean }>> =
  {
    shadowPercentage: { min: 0, max: 100, integer: false },
    segmentBuckets: { min: 1, max: 1_000_000, integer: true },
    maxBodyBytes: { min: 0, max: 64 * 1024 * 1024, integer: true },
    shadowTimeoutMs: { min: 1, max: 600_000, integer: true },
    maxShadowInFlight: { min: 1, max: 100_000, integer: true },
    breakerFailures: { min: 0, max: 1_000_000, integer: true },
    breakerCooldownMs: { min: 1, max: 600_000, integer: true },
    hashMaxBytes: { min: 0, max: 2 ** 30, integer: true },
    batchMaxRecords: { min: 1, max: 65_536, integer: true },
    flushIntervalMs: { min: 10, max: 600_000, integer: true },
    bufferMaxRecords: { min: 1, max: 2 ** 20, integer: true },
    maxUnackedBatches: { min: 1, max: 65_536, integer: true },
    liveSampleEvery: { min: 0, max: 2 ** 30, integer: true },
    splitPercentage: { min: 0, max: 100, integer: false },
    reconnectMinMs: { min: 10, max: 600_000, integer: true },
    reconnectMaxMs: { min: 10, max: 3_600_000, integer: true },
  };

/** Fields that name a cluster: each must exist in the snapshot. */
export const FILTER_CLUSTER_FIELDS = ['candidateCluster', 'baselineCluster', 'telemetryCluster'] as const;

/** Every other field the filter knows (strings and lists of strings). */
const OTHER_FIELDS = [
  'service',
  'proxyId',
  'telemetryToken',
  'mirroringStrategy',
  'segmentHeader',
  'segmentCookie',
  'regionHeader',
  'regions',
  'methods',
  'includePaths',
  'excludePaths',
  'stripHeaders',
  'splitHeader',
  'outcomeHeader',
  'endpointFrom',
];

/** Every field name the filter's configuration may carry. */
export const FILTER_FIELDS: ReadonlySet<string> = new Set([
  ...Object.keys(FILTER_NUMBER_LIMITS),
  ...FILTER_CLUSTER_FIELDS,
  ...OTHER_FIELDS,
]);

/** Every problem the filter would refuse in `config`, each as `field: message`. */
export function filterConfigErrors(config: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!FILTER_FIELDS.has(key)) {
      errors.push(`${key}: unknown field`);
      continue;
    }
    const limit = FILTER_NUMBER_LIMITS[key];
    if (!limit) continue;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!limit.integer || Number.isInteger(value)) &&
      value >= limit.min &&
      value <= limit.max;
    if (!ok) {
      errors.push(
        `${key}: must be ${limit.integer ? 'an integer ' : ''}${limit.min}..${limit.max} (got ${JSON.stringify(value)})`,
      );
    }
  }
  const min = config['reconnectMinMs'];
  const max = config['reconnectMaxMs'];
  if (typeof min === 'number' && typeof max === 'number' && max < min)
    errors.push('reconnectMaxMs: must be >= reconnectMinMs');
  const batch = config['batchMaxRecords'];
  const buffer = config['bufferMaxRecords'];
  if (typeof batch === 'number' && typeof buffer === 'number' && buffer < batch)
    errors.push('bufferMaxRecords: must be >= batchMaxRecords');
  if (
    typeof config['splitPercentage'] === 'number' &&
    config['splitPercentage'] > 0 &&
    !config['segmentHeader'] &&
    !config['segmentCookie']
  )
    errors.push('splitPercentage: a split of users needs segmentHeader or segmentCookie');
  if (typeof config['service'] !== 'string' || config['service'] === '') errors.push('service: required');
  if (typeof config['candidateCluster'] !== 'string' || config['candidateCluster'] === '')
    errors.push('candidateCluster: required');
  return errors;
}
