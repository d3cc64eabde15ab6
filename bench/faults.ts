/**
 * `npm run bench:faults`: Umbra under real faults (issue 14's battery).
 *
 * A real Envoy configured over ADS by the real daemon (`umbra daemon`, a child
 * process the bench stops and starts), the daemon's process provisioner
 * running the demo's sample service, and ~120 requests/s of load on kept-alive
 * connections. Scenarios, in order:
 *   clean stop and SIGKILL of the daemon (10 s down), weight flips by
 *   promotion, forged telemetry (failures; health, after the same regression
 *   unforged as a yardstick), a deadline that passes while the daemon is
 *   down, a series flood, a filter setting Envoy rejects.
 * Prints progress lines, then as its last line one JSON object (docs/faults.md
 * says what each figure means). A scenario that fails reports null and the
 * error; the rest still run.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, requireEnvoy } from '../daemon/platform/envoy-binary.js';
import { adsBootstrap } from '../daemon/xds/bootstrap.js';
import { type LoadStats, startLoad } from '../demo/scenario.js';
import { type Cleanup, freePort, hasOpenssl, makeTestPki, startEnvoy } from '../test/harness/index.js';
import { faultsConfig, NODE_ID } from './faults/config.js';
import { type Bench, userErrors } from './faults/context.js';
import { weightFlips } from './faults/flips.js';
import { forgedHiddenRegression, forgedRollback, regressionControl, seriesFlood } from './faults/forgery.js';
import { nackFalseRollback } from './faults/nack.js';
import { restartUnderLoad, staleDeadline } from './faults/restarts.js';
import { Daemon, type Ports, say, stopLeftoverInstances, waitFor } from './faults/stack.js';

const LOAD_RPS = 120;
const SCENARIOS = [
  'clean_stop',
  'kill_restart',
  'weight_flips',
  'forged_rollback',
  'regression_control',
  'forged_hidden',
  'stale_deadline',
  'series_flood',
  'nack',
];
/** The whole bench is stopped after this long, whatever it is doing. */
const BENCH_TIMEOUT_MS = 15 * 60_000;

const cleanups: (() => unknown)[] = [];
const cleanup: Cleanup = { after: (fn) => cleanups.push(fn) };

async function runCleanups(): Promise<void> {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`bench:faults cleanup: ${(err as Error).message}`);
    }
  }
}

/**
 * `--only a,b`: run just these scenarios (the others report null), e.g.
 * `--only kill_restart,weight_flips` to look at one fault closely.
 */
function onlyScenarios(argv: string[]): Set<string> | undefined {
  const i = argv.indexOf('--only');
  if (i < 0) return undefined;
  const names = (argv[i + 1] ?? '').split(',').filter((n) => n.length > 0);
  const unknown = names.filter((n) => !SCENARIOS.includes(n));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(`--only: expected a comma-separated list of ${SCENARIOS.join(', ')}`);
  return new Set(names);
}

const only = onlyScenarios(process.argv.slice(2));

/** Runs one scenario; a failure is reported and leaves its figures null. */
async function scenario<T>(b: Bench, name: string, fn: () => Promise<T>): Promise<T | null> {
  if (only && !only.has(name)) return null;
  const started = Date.now();
  say(`── ${name}`);
  try {
    return await fn();
  } catch (err) {
    say(`${name} failed: ${(err as Error).message}`);
    b.notes[`${name}_error`] = (err as Error).message;
    return null;
  } finally {
    b.notes[`${name}_s`] = Math.round((Date.now() - started) / 1000);
  }
}

async function main(): Promise<void> {
  const root = projectRoot();
  const envoyBin = requireEnvoy();
  const wasmPath = join(root, 'build', 'filter.wasm');
  if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing; run \`npm run build:filter\` first`);
  if (!hasOpenssl()) throw new Error('openssl is needed for the telemetry certificates');
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-faults-'));
  cleanups.push(() => stopLeftoverInstances(dir));
  const pki = makeTestPki(cleanup);
  // The daemon is stopped and started again on the same ports mid-run: named here, not picked by it.
  const picked = new Set<number>();
  for (let i = 0; i < 30 && picked.size < 6; i++) picked.add(await freePort());
  const [admin, telemetry, xds, metrics, envoyAdmin, listener] = [...picked];
  const ports: Ports = {
    admin: admin!,
    telemetry: telemetry!,
    xds: xds!,
    metrics: metrics!,
    envoyAdmin: envoyAdmin!,
    listener: listener!,
  };
  const configOf = (mirrorTimeout?: string) =>
    faultsConfig({
      ports,
      dir,
      pki,
      wasmPath,
      root,
      sampleCommand: [process.execPath, '--import', 'tsx', join(root, 'demo', 'sample-service.ts')],
      ...(mirrorTimeout ? { mirrorTimeout } : {}),
    });
  const configPath = join(dir, 'umbra.yaml');
  writeFileSync(configPath, configOf());
  say(`Envoy ${envoyBin.version.replace(/^.*version: /, '')}; working directory ${dir}`);

  const daemon = new Daemon(dir, ports, configPath);
  cleanups.push(() => daemon.close());
  daemon.start();
  await daemon.ready();
  say('umbrad is up (it runs shop v1 as 2 local processes)');
  const envoy = await startEnvoy(cleanup, {
    name: 'faults',
    config: adsBootstrap({
      nodeId: NODE_ID,
      xdsHost: '127.0.0.1',
      xdsPort: ports.xds,
      adminPort: ports.envoyAdmin,
    }),
    logLevel: 'warn',
    readyTimeoutMs: 60_000,
  });
  await waitFor(
    'Envoy to serve shop v1',
    async () => {
      const res = await fetch(`http://127.0.0.1:${ports.listener}/catalog`, {
        signal: AbortSignal.timeout(2000),
      });
      return res.status === 200 ? true : undefined;
    },
    60_000,
  );
  const load: LoadStats = { sent: 0, statuses: {}, errors: 0, failures: [] };
  const stopLoad = startLoad(ports.listener, LOAD_RPS, load);
  cleanups.push(() => stopLoad());
  say(`load: ~${LOAD_RPS} requests/s on kept-alive connections`);
  const b: Bench = { daemon, envoy, load, pki, dir, reconnects: [], notes: {} };
  await new Promise((r) => setTimeout(r, 3000));
  b.notes['warmup_user_errors'] = userErrors(load);

  const clean = await scenario(b, 'clean_stop', () => restartUnderLoad(b, 'SIGTERM', 10_000));
  const kill = await scenario(b, 'kill_restart', () => restartUnderLoad(b, 'SIGKILL', 10_000));
  const flips = await scenario(b, 'weight_flips', () => weightFlips(b));
  const forged = await scenario(b, 'forged_rollback', () => forgedRollback(b));
  b.notes['regression_control_detect_s'] = await scenario(b, 'regression_control', () =>
    regressionControl(b),
  );
  const hidden = await scenario(b, 'forged_hidden', () => forgedHiddenRegression(b));
  const stale = await scenario(b, 'stale_deadline', () => staleDeadline(b));
  const blinded = await scenario(b, 'series_flood', () => seriesFlood(b));
  const nack = await scenario(b, 'nack', () => nackFalseRollback(b, configOf('20m')));

  await stopLoad();
  const mirrored =
    flips === null && hidden === null ? null : (flips?.mirroredAfterEnd ?? 0) + (hidden?.mirrored ?? 0);
  const result = {
    bench: 'faults',
    clean_stop_user_errors: clean,
    kill_restart_user_errors: kill,
    weight_flips: flips?.flips ?? null,
    flip_user_errors: flips?.userErrors ?? null,
    reconnect_s_max: b.reconnects.length ? Math.round(Math.max(...b.reconnects) * 10) / 10 : null,
    forged_rollbacks: forged,
    forged_hidden_regressions: hidden?.hidden ?? null,
    series_flood_blinded: blinded,
    nack_false_rollbacks: nack?.falseRollbacks ?? null,
    nack_prevented_by_config_check: nack?.prevented ?? null,
    mirrored_after_end: mirrored,
    stale_deadline_promotions: stale,
    reconnects_s: b.reconnects.map((s) => Math.round(s * 10) / 10),
    requests: load.sent,
    statuses: load.statuses,
    ...b.notes,
  };
  say(
    `load: ${load.sent} answers, statuses ${JSON.stringify(load.statuses)}, failed requests ${load.errors}`,
  );
  await runCleanups();
  // A user error is worth the daemon's logs too (umbrad-N.log, instances/).
  if (Object.keys(b.notes).some((k) => k.endsWith('_error')) || userErrors(load) > 0)
    say(`logs kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result));
}

const watchdog = setTimeout(() => {
  console.error(`bench:faults: still running after ${BENCH_TIMEOUT_MS / 60_000} min; stopping`);
  void runCleanups().then(() => process.exit(1));
}, BENCH_TIMEOUT_MS);
watchdog.unref();

main()
  .then(() => {
    clearTimeout(watchdog);
    // The admin client's channel and timers must not keep the process up.
    process.exit(0);
  })
  .catch(async (err) => {
    console.error(`bench:faults: ${(err as Error).message}`);
    await runCleanups();
    process.exit(1);
  });
