/**
 * Benchmark of the Umbra filter against Envoy alone and Envoy's native
 * mirroring, side by side in one run on loopback.
 *
 * Each scenario is its own Envoy (concurrency 1) in front of a second Envoy
 * that answers instantly (direct response); load comes from wrk (a separate
 * process). Rounds alternate through the scenarios so drift hits all alike;
 * each figure is the median over rounds. Envoy's CPU time comes from
 * /proc/<pid>/stat, its memory from /proc/<pid>/status (VmRSS).
 *
 * With two or more CPUs the Envoy under test is pinned to the last one and
 * everything else (wrk, the upstream Envoy, this process and its telemetry
 * sink) to the others, so the Envoy under test is what saturates and the
 * load generator never competes with it for a core.
 *
 * Route gating as the daemon renders it (daemon/xds/resources/filter-gate.ts):
 * `filter-gated-off` has the filter in the listener, disabled, and no route
 * enabling it (a service with no deployment); `filter-5%-gated` lets 5 % +
 * the default live sample in through a runtime_fraction route, against
 * `native-5%` (request_mirror_policies at 5 %); `promotion-50-50` is a
 * weighted 50/50 step with the live sample in, against `no-filter-50-50`.
 *
 * Two reference filters, built here from filter/bench/, run beside Umbra's:
 * `empty-filter` exports the same callbacks and does nothing (the cost of
 * Envoy's Wasm plumbing alone, the floor under any Wasm filter), and
 * `minimal-mirror-100%` only copies each request's headers to the candidate
 * with one proxy_http_call (the least a mirroring Wasm filter must do).
 *
 *   npm run bench:filter                    (3 rounds of 5 s)
 *   UMBRA_BENCH_ROUNDS=5 UMBRA_BENCH_SECONDS=10 npm run bench:filter
 *   UMBRA_BENCH_VARIANTS=next=/tmp/next.wasm npm run bench:filter   (another build side by side)
 *   UMBRA_BENCH_PERF=/tmp/prof UMBRA_BENCH_ONLY=… npm run bench:filter (a perf profile per window)
 *   UMBRA_BENCH_STATS='batches_sent|pending_send' …                      (Envoy stats per window)
 *
 * Umbra's filter runs with the settings the daemon adds for the routes it
 * renders (DAEMON_SETTINGS); a variant runs with the plain configuration
 * only, so that builds older than a setting still load.
 *
 * The last line is one JSON object (see `summary` below).
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Mirroring } from '../daemon/config/schema.js';
import { projectRoot } from '../daemon/platform/envoy-binary.js';
import type { DesiredFilterGate } from '../daemon/xds/resources/desired.js';
import { gatedRoutes } from '../daemon/xds/resources/filter-gate.js';
import {
  adminBlock,
  freePort,
  httpListener,
  simpleRoute,
  startEnvoy,
  staticBootstrap,
  staticCluster,
  wasmHttpFilter,
} from '../test/harness/index.js';

const ROUNDS = Number(process.env['UMBRA_BENCH_ROUNDS'] ?? 3);
const SECONDS = Number(process.env['UMBRA_BENCH_SECONDS'] ?? 5);
const CONNECTIONS = Number(process.env['UMBRA_BENCH_CONNECTIONS'] ?? 16);
/**
 * Load before the measured window (UMBRA_BENCH_WARMUP, seconds). A VM that
 * sees only a gated share of requests is still starting after 1 s: it opens
 * its telemetry stream (a new HTTP/2 connection) at the first tick after its
 * first request, and V8 compiles each function on its first call. With 1 s,
 * that start-up cost landed in the measured window and hid the steady state
 * (docs/filter.md, Performance).
 */
const WARMUP_SECONDS = Number(process.env['UMBRA_BENCH_WARMUP'] ?? 5);
/**
 * UMBRA_BENCH_PERF=dir records a CPU profile of the Envoy under test during
 * each measured window (`perf record -e cpu-clock`, no call graphs) into
 * dir/<scenario>.<round>.data, with the window's request count beside it
 * (dir/<scenario>.<round>.requests), so profiles of scenarios at different
 * rates compare per request: `perf report -i … --sort dso,sym -n`.
 */
const PERF_DIR = process.env['UMBRA_BENCH_PERF'] ?? '';
/** UMBRA_BENCH_STATS=regex prints the Envoy stats matching it after each measured window. */
const STATS = process.env['UMBRA_BENCH_STATS'] ?? '';

type Shadow = 'healthy' | 'slow' | 'dead';
interface Scenario {
  name: string;
  /** The filter's own percentage (of the requests that enter it). */
  filterPct?: number;
  /**
   * Route gating as the daemon renders it: the filter disabled in the
   * listener, enabled by the routes for `gate` (null: no route enables it,
   * a service with no deployment in progress).
   */
  gate?: DesiredFilterGate | null;
  /** Users split 50/50 over two clusters of the same upstream (a weighted promotion step). */
  split?: boolean;
  /** Native mirroring of this share (runtime_fraction) instead of every request. */
  nativePct?: number;
  /** Extra plugin configuration (diagnostic scenarios). */
  extra?: Record<string, unknown>;
  native?: boolean;
  /** Runs a reference filter from filter/bench/ instead of Umbra's. */
  reference?: 'empty' | 'minimal-mirror';
  /** Runs this build of the filter instead of build/filter.wasm (UMBRA_BENCH_VARIANTS). */
  wasm?: string;
  shadow: Shadow;
  /** Set while running: the round number (for profile file names). */
  round?: number;
}

/** The daemon's default live sample (`mirroring.liveSample`), and the shadowing share measured with it. */
const LIVE = Mirroring.parse({}).liveSample;
const SHADOW5 = 5;

/** The gated scenarios for a live sample: shadowing at 5 % and a promotion step. */
function gatedScenarios(live: number): Scenario[] {
  return [
    {
      name: 'filter-5%-gated',
      // Envoy lets p + L % in; the filter mirrors p / (p + L) of them (controller/filter-gate.ts).
      filterPct: (100 * SHADOW5) / (SHADOW5 + live),
      gate: { share: SHADOW5 + live },
      shadow: 'healthy',
    },
    { name: 'promotion-50-50', filterPct: 0, gate: { share: live }, split: true, shadow: 'healthy' },
  ];
}

const [GATED_5, PROMOTION] = gatedScenarios(LIVE) as [Scenario, Scenario];
const SCENARIOS: Scenario[] = [
  { name: 'no-filter', shadow: 'healthy' },
  { name: 'filter-gated-off', filterPct: 0, gate: null, shadow: 'healthy' },
  GATED_5,
  { name: 'native-5%', native: true, nativePct: SHADOW5, shadow: 'healthy' },
  { name: 'no-filter-50-50', split: true, shadow: 'healthy' },
  PROMOTION,
  { name: 'empty-filter', filterPct: 0, reference: 'empty', shadow: 'healthy' },
  { name: 'filter-0%', filterPct: 0, shadow: 'healthy' },
  { name: 'filter-10%', filterPct: 10, shadow: 'healthy' },
  { name: 'filter-100%', filterPct: 100, shadow: 'healthy' },
  { name: 'native-100%', native: true, shadow: 'healthy' },
  { name: 'minimal-mirror-100%', filterPct: 100, reference: 'minimal-mirror', shadow: 'healthy' },
  { name: 'filter-100%-slow', filterPct: 100, shadow: 'slow' },
  { name: 'native-100%-slow', native: true, shadow: 'slow' },
  { name: 'filter-100%-dead', filterPct: 100, shadow: 'dead' },
  { name: 'native-100%-dead', native: true, shadow: 'dead' },
];

/** Diagnostic scenarios, run only when named in UMBRA_BENCH_ONLY. */
const DIAGNOSTIC: Scenario[] = [
  { name: 'filter-0%-no-live', filterPct: 0, shadow: 'healthy', extra: { liveSampleEvery: 0 } },
  { name: 'filter-0%-no-telemetry', filterPct: 0, shadow: 'healthy', extra: { telemetryCluster: '' } },
  // Every request that enters is mirrored, at three densities: the same Wasm
  // path, so its time per entering request (bench/profile-report.ts) shows
  // what density alone does to it.
  { name: 'filter-5%-all-mirrored', filterPct: 100, gate: { share: 5 }, shadow: 'healthy' },
  { name: 'filter-25%-all-mirrored', filterPct: 100, gate: { share: 25 }, shadow: 'healthy' },
];

/** UMBRA_BENCH_EXTRA='{"batchMaxRecords":16}' adds plugin configuration to every filter scenario. */
const EXTRA = JSON.parse(process.env['UMBRA_BENCH_EXTRA'] ?? '{}') as Record<string, unknown>;

/** UMBRA_BENCH_ONLY=name,name runs just those scenarios (the summary line has the figures they give). */
const ONLY = (process.env['UMBRA_BENCH_ONLY'] ?? '').split(',').filter(Boolean);
/** What the daemon adds to the filter's configuration for the routes it renders (xds/resources/render.ts). */
const DAEMON_SETTINGS = { endpointFrom: 'path' };

/**
 * UMBRA_BENCH_VARIANTS=name=path.wasm,... runs other builds of the filter at
 * 0 % and 100 %, gated at 5 % and in a promotion step, in the same rounds
 * (e.g. a change against the current build); `name=path.wasm@L` gates the
 * variant with live sample L instead of the default (e.g. a build from
 * before a change of the default); a JSON object at the end
 * (`name=path.wasm@0{"telemetryCluster":""}`) adds plugin configuration to
 * the variant's scenarios (to take one piece out, or try a setting).
 */
const VARIANTS: Scenario[] = (process.env['UMBRA_BENCH_VARIANTS'] ?? '')
  // Commas inside a variant's JSON do not separate variants.
  .split(/,(?![^{]*\})/)
  .filter(Boolean)
  .flatMap((spec) => {
    const m = /^([^=]+)=([^@{]+)(?:@([\d.]+))?(\{.*\})?$/.exec(spec);
    const liveSample = m?.[3] === undefined ? LIVE : Number(m[3]);
    if (!m || !(liveSample >= 0 && liveSample <= 100))
      throw new Error(
        `bench: UMBRA_BENCH_VARIANTS: "${spec}" is not name=path.wasm, name=path.wasm@0..100 or either with {json} after it`,
      );
    const [, name, wasm, , json] = m as unknown as [string, string, string, string?, string?];
    const extra = json === undefined ? undefined : (JSON.parse(json) as Record<string, unknown>);
    const gated = gatedScenarios(liveSample);
    return [
      { name: `${name}-0%`, filterPct: 0, shadow: 'healthy', wasm },
      { name: `${name}-100%`, filterPct: 100, shadow: 'healthy', wasm },
      ...gated.map((s) => ({ ...s, name: `${name}-${s.name.replace('filter-', '')}`, wasm })),
    ].map((s): Scenario => (extra ? { ...s, shadow: 'healthy', extra } : { ...s, shadow: 'healthy' }));
  });
const SELECTED = [
  ...(ONLY.length ? [...SCENARIOS, ...DIAGNOSTIC].filter((s) => ONLY.includes(s.name)) : SCENARIOS),
  ...VARIANTS.filter((v) => !ONLY.length || ONLY.includes(v.name) || ONLY.includes('variants')),
];

interface Run {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  cpuMsPer1k: number;
  rssMb: number;
}

function ensureWrk(): string {
  const found = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  console.log('bench: wrk not found; installing it with apt-get (Debian package "wrk")');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (args: string[]): void => {
    const r = spawnSync(sudo.length ? 'sudo' : args[0]!, sudo.length ? args : args.slice(1), {
      stdio: 'inherit',
    });
    if (r.status !== 0)
      throw new Error(`bench: "${args.join(' ')}" failed; install wrk by hand (apt-get install wrk)`);
  };
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', 'wrk']);
  return spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim() || 'wrk';
}

const CPUS = cpus().length;
/** The CPU of the Envoy under test, and the ones for everything else. */
const PIN = CPUS >= 2 ? { test: String(CPUS - 1), rest: CPUS === 2 ? '0' : `0-${CPUS - 2}` } : null;

/** Pins every thread of `pid` to `cpuList` (best effort: taskset may be missing). */
function pin(pid: number, cpuList: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
}

/** Builds a reference filter (see the header) next to the real one. */
function buildReferenceFilter(name: 'empty' | 'minimal-mirror'): string {
  const root = projectRoot();
  const out = join(root, 'build', `bench-${name}.wasm`);
  const asc = join(root, 'node_modules', '.bin', 'asc');
  const config = join(root, 'filter', 'bench', 'asconfig.json');
  const source = join(root, 'filter', 'bench', `${name}.ts`);
  const r = spawnSync(asc, [source, '--config', config, '--target', 'release', '-o', out], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bench: building the ${name} filter failed: ${r.stderr}`);
  return out;
}

function toMs(v: string, unit: string): number {
  const n = Number(v);
  if (unit === 'us') return n / 1000;
  if (unit === 's') return n * 1000;
  if (unit === 'm') return n * 60_000;
  return n;
}

/**
 * Runs wrk without blocking this process: the telemetry sink below lives in
 * this process's event loop, and a blocked loop reads nothing, so Envoy's
 * HTTP/2 window to the sink closed after 64 KiB and every later batch piled
 * up in Envoy's send buffer (10 MB in a 100 % run) instead of going out.
 */
async function wrk(
  bin: string,
  url: string,
  seconds: number,
): Promise<{ rps: number; p50: number; p99: number; requests: number; errors: number }> {
  const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', url];
  const [file, argv] = PIN ? ['taskset', ['-c', PIN.rest, bin, ...args]] : [bin, args];
  const out = await new Promise<string>((resolve, reject) =>
    execFile(file, argv, { encoding: 'utf8', timeout: (seconds + 30) * 1000 }, (e, stdout) =>
      e ? reject(e) : resolve(stdout),
    ),
  );
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50: pct('50'), p99: pct('99'), requests, errors };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * A gRPC sink for the telemetry stream that decodes nothing and acknowledges
 * every batch as the daemon does (daemon/telemetry/server.ts: a CONTROL_ACK
 * per handled batch; a stream's batch sequence starts at 1 and grows by one,
 * so the count on the call is the sequence), so the filter's side of flow
 * control (proxy_on_grpc_receive per ack) is in the figures.
 */
async function startSink(): Promise<{ port: number; batches: () => number; close: () => void }> {
  const server = new grpc.Server();
  let batches = 0;
  const identity = (b: Buffer): Buffer => b;
  server.addService(
    {
      Stream: {
        path: '/umbra.telemetry.v1.Telemetry/Stream',
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Stream(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
        call.sendMetadata(new grpc.Metadata());
        let onCall = 0;
        call.on('data', () => {
          batches++;
          onCall++;
          call.write(ackMessage(onCall));
        });
        call.on('end', () => call.end());
        call.on('error', () => {});
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { port, batches: () => batches, close: () => server.forceShutdown() };
}

/** Control { kind: CONTROL_ACK (2: 4), acked_sequence (4): n }, serialized. */
function ackMessage(n: number): Buffer {
  const out = [0x10, 4, 0x20];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

const DIRECT = { status: 200, body: { inline_string: 'ok' } };

function directListener(name: string, port: number, delay?: string): object {
  const filters: object[] = [];
  if (delay) {
    filters.push({
      name: 'envoy.filters.http.fault',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
        delay: { fixed_delay: delay, percentage: { numerator: 100, denominator: 'HUNDRED' } },
      },
    });
  }
  return httpListener({
    name,
    port,
    statPrefix: name,
    routes: [{ match: { prefix: '/' }, direct_response: DIRECT }],
    httpFilters: filters,
  });
}

async function main(): Promise<void> {
  const wasm = process.env['UMBRA_BENCH_WASM'] ?? join(projectRoot(), 'build', 'filter.wasm');
  if (!existsSync(wasm)) throw new Error(`bench: ${wasm} is missing; run \`npm run build:filter\` first`);
  const wrkBin = ensureWrk();
  const references = {
    empty: buildReferenceFilter('empty'),
    'minimal-mirror': buildReferenceFilter('minimal-mirror'),
  };
  if (PIN) pin(process.pid, PIN.rest);
  const [stablePort, candidatePort, slowPort, deadPort, upstreamAdmin] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const upstream = await startEnvoy(undefined, {
    name: 'bench-upstream',
    concurrency: 1,
    logLevel: 'warn',
    config: {
      admin: adminBlock(upstreamAdmin!),
      static_resources: {
        listeners: [
          directListener('stable', stablePort!),
          directListener('candidate', candidatePort!),
          directListener('slow', slowPort!, '10s'),
        ],
        clusters: [],
      },
    },
  });
  if (PIN) pin(upstream.pid, PIN.rest);
  const sink = await startSink();
  const shadowPort: Record<Shadow, number> = { healthy: candidatePort!, slow: slowPort!, dead: deadPort! };
  const results = new Map<string, Run[]>();
  console.log(
    `bench: ${ROUNDS} rounds × ${SELECTED.length} scenarios, ${SECONDS} s each, wrk -t1 -c${CONNECTIONS}, Envoy --concurrency 1${PIN ? ` on CPU ${PIN.test}, the rest on CPU ${PIN.rest}` : ''}`,
  );
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const s of SELECTED) {
        const run = await runScenario(
          { ...s, round },
          wrkBin,
          stablePort!,
          shadowPort[s.shadow],
          sink.port,
          s.reference ? references[s.reference] : (s.wasm ?? wasm),
        );
        const list = results.get(s.name) ?? [];
        list.push(run);
        results.set(s.name, list);
        console.log(
          `round ${round} ${s.name.padEnd(18)} ${run.rps.toFixed(0).padStart(7)} rps  p50 ${run.p50Ms.toFixed(3)} ms  p99 ${run.p99Ms.toFixed(3)} ms  cpu ${run.cpuMsPer1k.toFixed(1)} ms/1k req  rss ${run.rssMb.toFixed(1)} MB  errors ${run.errors}`,
        );
      }
    }
  } finally {
    await upstream.stop();
    sink.close();
  }
  const med = (name: string, f: (r: Run) => number): number => median((results.get(name) ?? []).map(f));
  console.log('\nmedians:');
  console.log('scenario             rps     p50 ms   p99 ms   cpu ms/1k req  rss MB');
  for (const s of SELECTED) {
    console.log(
      `${s.name.padEnd(18)} ${med(s.name, (r) => r.rps)
        .toFixed(0)
        .padStart(7)}  ${med(s.name, (r) => r.p50Ms)
        .toFixed(3)
        .padStart(7)}  ${med(s.name, (r) => r.p99Ms)
        .toFixed(3)
        .padStart(7)}  ${med(s.name, (r) => r.cpuMsPer1k)
        .toFixed(2)
        .padStart(12)}  ${med(s.name, (r) => r.rssMb)
        .toFixed(1)
        .padStart(6)}`,
    );
  }
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  const summary = {
    bench: 'filter',
    throughput_ratio_0pct: round3(med('filter-0%', (r) => r.rps) / med('no-filter', (r) => r.rps)),
    cpu_ratio_100pct_vs_native: round3(
      med('filter-100%', (r) => r.cpuMsPer1k) / med('native-100%', (r) => r.cpuMsPer1k),
    ),
    added_cpu_us_per_request_0pct: round3(
      med('filter-0%', (r) => r.cpuMsPer1k) - med('no-filter', (r) => r.cpuMsPer1k),
    ),
    p99_ratio_slow_shadow: round3(
      med('filter-100%-slow', (r) => r.p99Ms) / med('filter-100%', (r) => r.p99Ms),
    ),
    p99_ratio_dead_shadow: round3(
      med('filter-100%-dead', (r) => r.p99Ms) / med('filter-100%', (r) => r.p99Ms),
    ),
    empty_filter_throughput_ratio: round3(med('empty-filter', (r) => r.rps) / med('no-filter', (r) => r.rps)),
    empty_filter_added_cpu_us_per_request: round3(
      med('empty-filter', (r) => r.cpuMsPer1k) - med('no-filter', (r) => r.cpuMsPer1k),
    ),
    minimal_mirror_cpu_ratio_100pct_vs_native: round3(
      med('minimal-mirror-100%', (r) => r.cpuMsPer1k) / med('native-100%', (r) => r.cpuMsPer1k),
    ),
    idle_cpu_ratio: round3(
      med('filter-gated-off', (r) => r.cpuMsPer1k) / med('no-filter', (r) => r.cpuMsPer1k),
    ),
    shadow5_cpu_ratio_vs_native5: round3(
      med('filter-5%-gated', (r) => r.cpuMsPer1k) / med('native-5%', (r) => r.cpuMsPer1k),
    ),
    promotion_cpu_ratio: round3(
      med('promotion-50-50', (r) => r.cpuMsPer1k) / med('no-filter-50-50', (r) => r.cpuMsPer1k),
    ),
    idle_throughput_ratio: round3(med('filter-gated-off', (r) => r.rps) / med('no-filter', (r) => r.rps)),
    live_sample_pct: LIVE,
    native_p99_ratio_slow_shadow: round3(
      med('native-100%-slow', (r) => r.p99Ms) / med('native-100%', (r) => r.p99Ms),
    ),
    rounds: ROUNDS,
    seconds: SECONDS,
    telemetry_batches: sink.batches(),
  };
  console.log(
    `goals: idle_cpu_ratio <= 1.02, shadow5_cpu_ratio_vs_native5 <= 1.03, promotion_cpu_ratio <= 1.05, cpu_ratio_100pct_vs_native <= 1.10, p99 ratios (slow/dead shadow) <= 1.05`,
  );
  // With UMBRA_BENCH_ONLY, the figures whose scenarios ran (the others are NaN).
  const measured = Object.entries(summary).filter(([, v]) => typeof v !== 'number' || Number.isFinite(v));
  console.log(JSON.stringify(Object.fromEntries(measured)));
}

/** A scenario's routes: plain, natively mirrored, or gated the way the daemon renders them. */
function benchRoutes(s: Scenario): object[] {
  const plain = simpleRoute({ cluster: 'stable', ...(s.native ? { mirrorCluster: 'candidate' } : {}) });
  const action = { ...(plain as { route: Record<string, unknown> }).route };
  if (s.nativePct !== undefined) {
    action['request_mirror_policies'] = [
      {
        cluster: 'candidate',
        runtime_fraction: { default_value: { numerator: s.nativePct * 10_000, denominator: 'MILLION' } },
      },
    ];
  }
  if (s.split) {
    delete action['cluster'];
    action['weighted_clusters'] = {
      clusters: [
        { name: 'stable', weight: 50 },
        { name: 'stable-b', weight: 50 },
      ],
    };
  }
  if (s.gate === undefined) return [{ match: { prefix: '/' }, route: action }];
  return gatedRoutes(action, s.gate ?? undefined, 100);
}

async function runScenario(
  s: Scenario,
  wrkBin: string,
  stablePort: number,
  shadowPort: number,
  sinkPort: number,
  wasm: string,
): Promise<Run> {
  const listenerPort = await freePort();
  const adminPort = await freePort();
  const filters =
    s.filterPct === undefined
      ? []
      : [
          {
            ...wasmHttpFilter({
              wasmPath: wasm,
              failOpen: true,
              configuration: {
                service: 'bench',
                candidateCluster: 'candidate',
                shadowPercentage: s.filterPct,
                telemetryCluster: 'umbra_telemetry',
                ...(s.wasm || s.reference ? {} : DAEMON_SETTINGS),
                ...EXTRA,
                ...s.extra,
              },
            }),
            ...(s.gate !== undefined ? { disabled: true } : {}),
          },
        ];
  const config = staticBootstrap({
    adminPort,
    listeners: [
      httpListener({
        port: listenerPort,
        routes: benchRoutes(s),
        httpFilters: filters,
      }),
    ],
    clusters: [
      staticCluster({ name: 'stable', port: stablePort }),
      staticCluster({ name: 'stable-b', port: stablePort }),
      staticCluster({ name: 'candidate', port: shadowPort }),
      staticCluster({ name: 'umbra_telemetry', port: sinkPort, http2: true }),
    ],
  });
  const envoy = await startEnvoy(undefined, {
    config,
    name: `bench-${s.name}`,
    concurrency: 1,
    logLevel: 'warn',
  });
  if (PIN) pin(envoy.pid, PIN.test);
  try {
    const url = `http://127.0.0.1:${listenerPort}/bench`;
    await wrk(wrkBin, url, WARMUP_SECONDS);
    const profile = PERF_DIR ? join(PERF_DIR, `${s.name}.${s.round ?? 0}`) : '';
    const perf = profile
      ? spawn(
          'perf',
          ['record', '-q', '-e', 'cpu-clock', '-F', '2999', '-p', String(envoy.pid), '-o', `${profile}.data`],
          {
            stdio: 'ignore',
          },
        )
      : null;
    const cpu0 = cpuMs(envoy.pid);
    const r = await wrk(wrkBin, url, SECONDS);
    const cpu1 = cpuMs(envoy.pid);
    if (STATS) {
      const stats = await fetch(`http://127.0.0.1:${adminPort}/stats?filter=${encodeURIComponent(STATS)}`);
      console.log(`stats ${s.name}: ${(await stats.text()).trim().split('\n').join('  ')}`);
    }
    if (perf) {
      const exited = new Promise((resolve) => perf.once('exit', resolve));
      perf.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      writeFileSync(`${profile}.requests`, `${r.requests}\n`);
    }
    return {
      rps: r.rps,
      p50Ms: r.p50,
      p99Ms: r.p99,
      requests: r.requests,
      errors: r.errors,
      cpuMsPer1k: r.requests > 0 ? ((cpu1 - cpu0) * 1000) / r.requests : Number.NaN,
      rssMb: rssMb(envoy.pid),
    };
  } finally {
    await envoy.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
