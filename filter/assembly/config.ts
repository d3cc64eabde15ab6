/**
 * The filter's plugin configuration: a JSON object, parsed once by the root
 * context with {@link parseConfig} (pure; no host calls). Every error names
 * the field path, e.g. `shadowPercentage: must be a number in 0..100`.
 * Unknown fields are errors, so a typo never silently falls back to a default.
 *
 * The parsed {@link Config} is immutable and shared by every request of the
 * plugin; live changes (percentage, pause) go through the control stream and
 * are kept in the root context, never here.
 */
// biome-ignore lint/style/useImportType: AssemblyScript parses no type-only imports.
import { JsonKind, JsonValue, parseJson } from './json';

/** How requests are chosen for mirroring. */
export enum Strategy {
  /** Uniform sample of shadowPercentage. */
  Random = 0,
  /** Consistent hash of a header or cookie: one user is in or out everywhere. */
  UserSegment = 1,
  /** A region header matched against `regions`, then sampled. */
  Geographic = 2,
}

/** The validated configuration. Field names match the JSON. */
export class Config {
  /** Batch.service: the service this filter instance mirrors. Required. */
  service: string = '';
  /** Batch.proxy_id; empty means "Envoy's node id". */
  proxyId: string = '';
  /** Cluster that receives the mirrored copy. Required. */
  candidateCluster: string = '';
  /** Optional second mirror target (current version, same size). */
  baselineCluster: string = '';
  /** Share of eligible requests mirrored, 0..100, fractional allowed. */
  shadowPercentage: f64 = 0;
  mirroringStrategy: Strategy = Strategy.Random;
  /** user-segment: the header holding the user key (checked first). */
  segmentHeader: string = '';
  /** user-segment: the cookie holding the user key. */
  segmentCookie: string = '';
  /** user-segment: number of buckets reported as the segment. */
  segmentBuckets: u32 = 100;
  /** geographic: the header set by the edge. */
  regionHeader: string = '';
  /** geographic: regions that may be mirrored (exact, case-insensitive). */
  regions: string[] = [];
  /** Methods that may be mirrored (upper case). */
  methods: string[] = ['GET', 'HEAD', 'OPTIONS'];
  /** Path prefixes that may be mirrored; empty means every path. */
  includePaths: string[] = [];
  /** Path prefixes never mirrored (checked after includePaths). */
  excludePaths: string[] = [];
  /** Requests with a larger body are not mirrored. */
  maxBodyBytes: u32 = 65536;
  /** Request headers removed from the mirrored copy (lower case). */
  stripHeaders: string[] = ['authorization', 'cookie', 'proxy-authorization'];
  /** Timeout of each shadow call. */
  shadowTimeoutMs: u32 = 5000;
  /** Shadow calls in flight per worker; over it a request counts as shadow_busy. */
  maxShadowInFlight: u32 = 64;
  /**
   * Consecutive failed shadow calls (timeout, reset, connect failure) after
   * which mirroring rests for breakerCooldownMs (counted as shadow_busy);
   * 0 disables.
   */
  breakerFailures: u32 = 16;
  breakerCooldownMs: u32 = 1000;
  /** Response bytes hashed per arm; longer bodies set FLAG_BODY_TRUNCATED. */
  hashMaxBytes: u32 = 1048576;
  /** HTTP/2 cluster of the telemetry daemon; empty disables the stream. */
  telemetryCluster: string = '';
  /** Sent as initial metadata on the telemetry stream when set (the daemon's telemetry token). Never logged. */
  telemetryToken: string = '';
  /** Records per batch; a full batch is sent at once. */
  batchMaxRecords: u32 = 256;
  /** Timer tick: flush, control messages, reconnect checks. */
  flushIntervalMs: u32 = 1000;
  /** Records kept while the daemon is unreachable; oldest dropped beyond. */
  bufferMaxRecords: u32 = 8192;
  /**
   * Batches sent beyond the daemon's last ack (telemetry.proto CONTROL_ACK)
   * at most; the rest wait in the buffer. Applies once a stream saw an ack.
   */
  maxUnackedBatches: u32 = 64;
  /** One live record per this many non-mirrored requests; 0 disables. */
  liveSampleEvery: u32 = 1;
  /**
   * Where a record's endpoint comes from: the route's name, or the
   * normalised path when the route has none (`route`, the default), or the
   * path alone (`path`: for routes known to be unnamed, such as the ones the
   * daemon renders, it saves a property read per record).
   */
  endpointFromRoute: bool = true;
  /**
   * A/B experiment: share of users (0..100, by the consistent hash of the
   * segment header or cookie) whose requests carry `splitHeader: b`, which a
   * route sends to version B. 0: no split. While it is above 0, every request
   * with a user key gives a live record with the user's hash. The daemon
   * changes it live (CONTROL_SET_SPLIT), never through the listener.
   */
  splitPercentage: f64 = 0;
  /** A/B experiment: the request header set on B's users' requests (lower case). */
  splitHeader: string = 'x-umbra-arm';
  /** A/B experiment: a response header whose decimal value is the request's outcome (lower case); empty: none. */
  outcomeHeader: string = '';
  /**
   * Reconnect backoff bounds: capped low so that a daemon that comes back is
   * reached within about a second; a dead one is tried about once a second.
   */
  reconnectMinMs: u32 = 250;
  reconnectMaxMs: u32 = 1000;
}

/** The outcome of {@link parseConfig}: a Config, or a message naming the path. */
export class ConfigResult {
  config: Config | null = null;
  error: string = '';
}

const KNOWN: string[] = [
  'service',
  'proxyId',
  'candidateCluster',
  'baselineCluster',
  'shadowPercentage',
  'mirroringStrategy',
  'segmentHeader',
  'segmentCookie',
  'segmentBuckets',
  'regionHeader',
  'regions',
  'methods',
  'includePaths',
  'excludePaths',
  'maxBodyBytes',
  'stripHeaders',
  'shadowTimeoutMs',
  'maxShadowInFlight',
  'breakerFailures',
  'breakerCooldownMs',
  'hashMaxBytes',
  'telemetryCluster',
  'telemetryToken',
  'batchMaxRecords',
  'flushIntervalMs',
  'bufferMaxRecords',
  'maxUnackedBatches',
  'liveSampleEvery',
  'endpointFrom',
  'splitPercentage',
  'splitHeader',
  'outcomeHeader',
  'reconnectMinMs',
  'reconnectMaxMs',
];

class Reader {
  error: string = '';
  constructor(public obj: JsonValue) {}

  fail(path: string, message: string): void {
    if (this.error.length === 0) this.error = path + ': ' + message;
  }

  str(name: string, fallback: string, required: bool): string {
    const v = this.obj.get(name);
    if (v === null) {
      if (required) this.fail(name, 'is required');
      return fallback;
    }
    if (v.kind !== JsonKind.String) {
      this.fail(name, 'must be a string');
      return fallback;
    }
    if (required && v.str.length === 0) this.fail(name, 'must not be empty');
    return v.str;
  }

  num(name: string, fallback: f64, min: f64, max: f64): f64 {
    const v = this.obj.get(name);
    if (v === null) return fallback;
    if (v.kind !== JsonKind.Number || !(v.num >= min && v.num <= max)) {
      this.fail(name, 'must be a number in ' + fmt(min) + '..' + fmt(max));
      return fallback;
    }
    return v.num;
  }

  int(name: string, fallback: u32, min: u32, max: u32): u32 {
    const v = this.obj.get(name);
    if (v === null) return fallback;
    if (v.kind !== JsonKind.Number || v.num !== Math.floor(v.num) || v.num < <f64>min || v.num > <f64>max) {
      this.fail(name, 'must be an integer in ' + min.toString() + '..' + max.toString());
      return fallback;
    }
    return <u32>v.num;
  }

  strings(name: string, fallback: string[], lower: bool, upper: bool): string[] {
    const v = this.obj.get(name);
    if (v === null) return fallback;
    if (v.kind !== JsonKind.Array) {
      this.fail(name, 'must be an array of strings');
      return fallback;
    }
    const out: string[] = [];
    for (let i = 0; i < v.items.length; i++) {
      const item = v.items[i];
      if (item.kind !== JsonKind.String || item.str.length === 0) {
        this.fail(name + '[' + i.toString() + ']', 'must be a non-empty string');
        return fallback;
      }
      out.push(lower ? item.str.toLowerCase() : upper ? item.str.toUpperCase() : item.str);
    }
    return out;
  }
}

function fmt(n: f64): string {
  return n === Math.floor(n) ? (<i64>n).toString() : n.toString();
}

/** Parses and validates the plugin configuration (UTF-8 JSON text). */
export function parseConfig(text: string): ConfigResult {
  const result = new ConfigResult();
  const parsed = parseJson(text);
  if (parsed.value === null) {
    result.error = '(root): not valid JSON: ' + parsed.error;
    return result;
  }
  const root = parsed.value!;
  if (root.kind !== JsonKind.Object) {
    result.error = '(root): must be a JSON object';
    return result;
  }
  for (let i = 0; i < root.keys.length; i++) {
    if (!KNOWN.includes(root.keys[i])) {
      result.error = root.keys[i] + ': unknown field';
      return result;
    }
  }
  const r = new Reader(root);
  const c = new Config();
  c.service = r.str('service', '', true);
  c.proxyId = r.str('proxyId', '', false);
  c.candidateCluster = r.str('candidateCluster', '', true);
  c.baselineCluster = r.str('baselineCluster', '', false);
  c.shadowPercentage = r.num('shadowPercentage', 0, 0, 100);
  const strategy = r.str('mirroringStrategy', 'random', false);
  if (strategy === 'random') c.mirroringStrategy = Strategy.Random;
  else if (strategy === 'user-segment') c.mirroringStrategy = Strategy.UserSegment;
  else if (strategy === 'geographic') c.mirroringStrategy = Strategy.Geographic;
  else r.fail('mirroringStrategy', 'must be one of random, user-segment, geographic');
  c.segmentHeader = r.str('segmentHeader', '', false).toLowerCase();
  c.segmentCookie = r.str('segmentCookie', '', false);
  c.segmentBuckets = r.int('segmentBuckets', 100, 1, 1000000);
  c.regionHeader = r.str('regionHeader', '', false).toLowerCase();
  c.regions = r.strings('regions', [], true, false);
  c.methods = r.strings('methods', c.methods, false, true);
  c.includePaths = r.strings('includePaths', [], false, false);
  c.excludePaths = r.strings('excludePaths', [], false, false);
  c.maxBodyBytes = r.int('maxBodyBytes', c.maxBodyBytes, 0, 64 * 1024 * 1024);
  c.stripHeaders = r.strings('stripHeaders', c.stripHeaders, true, false);
  c.shadowTimeoutMs = r.int('shadowTimeoutMs', c.shadowTimeoutMs, 1, 600000);
  c.maxShadowInFlight = r.int('maxShadowInFlight', c.maxShadowInFlight, 1, 100000);
  c.breakerFailures = r.int('breakerFailures', c.breakerFailures, 0, 1000000);
  c.breakerCooldownMs = r.int('breakerCooldownMs', c.breakerCooldownMs, 1, 600000);
  c.hashMaxBytes = r.int('hashMaxBytes', c.hashMaxBytes, 0, 1 << 30);
  c.telemetryCluster = r.str('telemetryCluster', '', false);
  c.telemetryToken = r.str('telemetryToken', '', false);
  c.batchMaxRecords = r.int('batchMaxRecords', c.batchMaxRecords, 1, 65536);
  c.flushIntervalMs = r.int('flushIntervalMs', c.flushIntervalMs, 10, 600000);
  c.bufferMaxRecords = r.int('bufferMaxRecords', c.bufferMaxRecords, 1, 1 << 20);
  c.maxUnackedBatches = r.int('maxUnackedBatches', c.maxUnackedBatches, 1, 65536);
  c.liveSampleEvery = r.int('liveSampleEvery', c.liveSampleEvery, 0, 1 << 30);
  const endpointFrom = r.str('endpointFrom', 'route', false);
  if (endpointFrom === 'path') c.endpointFromRoute = false;
  else if (endpointFrom !== 'route') r.fail('endpointFrom', 'must be one of route, path');
  c.splitPercentage = r.num('splitPercentage', 0, 0, 100);
  c.splitHeader = r.str('splitHeader', c.splitHeader, false).toLowerCase();
  c.outcomeHeader = r.str('outcomeHeader', '', false).toLowerCase();
  c.reconnectMinMs = r.int('reconnectMinMs', c.reconnectMinMs, 10, 600000);
  c.reconnectMaxMs = r.int('reconnectMaxMs', c.reconnectMaxMs, 10, 3600000);
  if (r.error.length === 0) crossCheck(c, r);
  if (r.error.length > 0) {
    result.error = r.error;
    return result;
  }
  result.config = c;
  return result;
}

function crossCheck(c: Config, r: Reader): void {
  if (
    c.mirroringStrategy === Strategy.UserSegment &&
    c.segmentHeader.length === 0 &&
    c.segmentCookie.length === 0
  ) {
    r.fail('segmentHeader', 'user-segment needs segmentHeader or segmentCookie');
  }
  if (c.mirroringStrategy === Strategy.Geographic) {
    if (c.regionHeader.length === 0) r.fail('regionHeader', 'is required by the geographic strategy');
    else if (c.regions.length === 0)
      r.fail('regions', 'must list at least one region for the geographic strategy');
  }
  if (c.baselineCluster.length > 0 && c.baselineCluster === c.candidateCluster) {
    r.fail('baselineCluster', 'must differ from candidateCluster');
  }
  if (c.splitPercentage > 0 && c.segmentHeader.length === 0 && c.segmentCookie.length === 0) {
    r.fail('splitPercentage', 'a split of users needs segmentHeader or segmentCookie');
  }
  if (c.splitPercentage > 0 && c.splitHeader.length === 0) r.fail('splitHeader', 'must not be empty');
  if (c.reconnectMaxMs < c.reconnectMinMs) r.fail('reconnectMaxMs', 'must be >= reconnectMinMs');
  if (c.bufferMaxRecords < c.batchMaxRecords) r.fail('bufferMaxRecords', 'must be >= batchMaxRecords');
}

/** A one-line summary for the start-up log (no secrets in the config). */
export function describeConfig(c: Config): string {
  const names = ['random', 'user-segment', 'geographic'];
  return (
    'service=' +
    c.service +
    ' candidateCluster=' +
    c.candidateCluster +
    ' baselineCluster=' +
    (c.baselineCluster.length > 0 ? c.baselineCluster : '-') +
    ' shadowPercentage=' +
    c.shadowPercentage.toString() +
    ' mirroringStrategy=' +
    names[<i32>c.mirroringStrategy] +
    ' methods=' +
    c.methods.join(',') +
    ' includePaths=' +
    c.includePaths.join(',') +
    ' excludePaths=' +
    c.excludePaths.join(',') +
    ' maxBodyBytes=' +
    c.maxBodyBytes.toString() +
    ' stripHeaders=' +
    c.stripHeaders.join(',') +
    ' shadowTimeoutMs=' +
    c.shadowTimeoutMs.toString() +
    ' maxShadowInFlight=' +
    c.maxShadowInFlight.toString() +
    ' breakerFailures=' +
    c.breakerFailures.toString() +
    ' telemetryCluster=' +
    (c.telemetryCluster.length > 0 ? c.telemetryCluster : '-') +
    ' batchMaxRecords=' +
    c.batchMaxRecords.toString() +
    ' flushIntervalMs=' +
    c.flushIntervalMs.toString() +
    ' bufferMaxRecords=' +
    c.bufferMaxRecords.toString() +
    ' maxUnackedBatches=' +
    c.maxUnackedBatches.toString() +
    ' liveSampleEvery=' +
    c.liveSampleEvery.toString() +
    ' endpointFrom=' +
    (c.endpointFromRoute ? 'route' : 'path') +
    ' splitPercentage=' +
    c.splitPercentage.toString() +
    ' outcomeHeader=' +
    (c.outcomeHeader.length > 0 ? c.outcomeHeader : '-')
  );
}
