/**
 * `npm run demo`: Umbra end to end on this machine.
 *
 * Starts the daemon (which provisions the sample service's stable version as
 * local processes and serves xDS), a real Envoy configured only over ADS, and
 * a load generator. Then:
 *   1. deploys v2, which fails 30 % of /cart requests from region eu under
 *      load: Umbra shadows it, detects the regression, rolls back, validates v1;
 *   2. deploys v3, a good version: Umbra shadows it and promotes it step by step.
 * Prints progress and the timeline, writes a report of each deployment to
 * reports/ beside its store (`umbra report`); the last line is one JSON object.
 * `--keep` leaves everything running (Ctrl-C stops it); `umbra status` works
 * from another terminal meanwhile (UMBRA_ADMIN and the token file are printed).
 * `--overlay` runs the same scenarios with shop's listener, routes and cluster
 * owned by an upstream control plane and umbrad as the overlay (overlay.ts);
 * the JSON line then adds `"mode":"overlay"` and `"passthrough_exact"`.
 * `--experiments` then runs the experiments on the shadow environment
 * (experiments/index.ts): a chaos experiment under the story's load, then an
 * A/B test that finds a better B and an A/A split that finds nothing; their
 * JSON line `{"experiments":"done","chaos":{…},"ab":{…}}` comes last.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { AdminClient } from '../daemon/admin/client.js';
import type { ServiceStatusView } from '../daemon/admin/port.js';
import { readAdminToken } from '../daemon/admin/token.js';
import { projectRoot, requireEnvoy } from '../daemon/platform/envoy-binary.js';
import { adsBootstrap } from '../daemon/xds/bootstrap.js';
import { runExperiments } from './experiments/index.js';
import { startInventory } from './experiments/inventory.js';
import { passthroughExact, startOverlayUpstream } from './overlay.js';
import { type DemoPorts, demoConfig, type LoadStats, startLoad } from './scenario.js';

const root = projectRoot();
const keep = process.argv.includes('--keep');
/** The shop service's listener, routes and cluster come from an upstream control plane; umbrad overlays it. */
const overlayMode = process.argv.includes('--overlay');
/** `--ports auto` picks free ports (tests); the default uses the well-known ones so `umbra status` needs no flags. */
const autoPorts = process.argv.includes('auto');
/** After the story, the experiments on the shadow environment (experiments/index.ts); the last line is theirs. */
const experimentsMode = process.argv.includes('--experiments');
const t0 = Date.now();
const children: ChildProcess[] = [];

function say(msg: string): void {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  console.log(`[${s}s] ${msg}`);
}

/** Ends the demo with a message; main's catch stops everything and exits 1. */
function fail(msg: string): never {
  throw new Error(msg);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((r) => {
    const srv = createServer();
    srv.once('error', () => r(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => r(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((r, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => r(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

async function freePorts(): Promise<DemoPorts> {
  return {
    admin: await freePort(),
    ui: await freePort(),
    telemetry: await freePort(),
    xds: await freePort(),
    envoyAdmin: await freePort(),
    listener: await freePort(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stopped: Promise<void> | undefined;

/**
 * Stops what the demo started, newest first, once. umbrad gets time to stop
 * the service instances it runs (it drains and stops each pool) before SIGKILL.
 */
function shutdown(): Promise<void> {
  stopped ??= (async () => {
    for (const c of [...children].reverse()) {
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGTERM');
      for (let i = 0; i < 200 && c.exitCode === null && c.signalCode === null; i++) await sleep(100);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  })();
  return stopped;
}

function spawnLogged(
  name: string,
  cmd: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const out = createWriteStream(logFile);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  child.on('exit', (code, sig) => {
    if (!stopping) say(`${name} exited (${code ?? sig}); see ${logFile}`);
  });
  children.push(child);
  return child;
}

let stopping = false;

/** The demo proxy's node id. */
const NODE_ID = 'umbra-demo-edge';

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    await sleep(250);
  }
  return fail(`timed out waiting for ${what}${lastErr ? ` (${lastErr})` : ''}`);
}

function line(s: ServiceStatusView): string {
  const d = s.deployment;
  if (!d) return `${s.name}: serving ${s.stableVersion}`;
  const w = `${d.previousVersion} ${100 - d.candidateWeight}% / ${d.version} ${d.candidateWeight}%`;
  const pred = s.hasPrediction ? ` ~${Math.round(s.predictedSecondsToThreshold)}s to threshold` : '';
  const culprits = s.culprits.length ? ` culprits ${s.culprits.join(',')}` : '';
  return `${s.name} ${d.version} ${d.phase.padEnd(12)} traffic ${w}  score ${s.score.toFixed(2)}/${s.threshold} (${s.verdict}, ${s.pairs} samples)${culprits}${pred}`;
}

async function follow(
  client: AdminClient,
  until: (s: ServiceStatusView) => boolean,
  timeoutMs: number,
): Promise<ServiceStatusView> {
  let last = '';
  let lastAt = 0;
  return waitFor('the deployment to finish', timeoutMs, async () => {
    const { services } = await client.status('shop');
    const s = services[0];
    if (!s) return undefined;
    const l = line(s);
    if (l !== last && (Date.now() - lastAt > 2000 || l.split(' ')[2] !== last.split(' ')[2])) {
      say(l);
      last = l;
      lastAt = Date.now();
    }
    return until(s) ? s : undefined;
  });
}

/** `umbra report` for each deployment into `<dir>/reports/`; returns the files written. */
function writeReports(cli: string, dir: string, ids: string[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const file = join(dir, 'reports', `${id}.html`);
    const r = spawnSync(process.execPath, [cli, 'report', id, '--store', join(dir, 'umbra.db'), '-o', file], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) fail(`umbra report ${id} failed: ${(r.stderr || r.error?.message || '').trim()}`);
    say(`report of ${id}: ${file}`);
    out.push(file);
  }
  return out;
}

async function main(): Promise<void> {
  const envoy = requireEnvoy();
  const wasm = join(root, 'build', 'filter.wasm');
  const sample = join(root, 'dist', 'demo', 'sample-service.js');
  const cli = join(root, 'bin', 'umbra.mjs');
  for (const f of [wasm, sample]) if (!existsSync(f)) fail(`${f} is missing; run \`npm run build\` first`);
  const ports: DemoPorts = autoPorts
    ? await freePorts()
    : { admin: 7070, ui: 7073, telemetry: 7071, xds: 7072, envoyAdmin: 9901, listener: 10000 };
  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port)))
      fail(`port ${port} (${name}) is in use; stop what holds it (another demo?) and retry`);
  }
  const dir = join(root, '.umbra', autoPorts ? `demo-${process.pid}` : 'demo');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const configPath = join(dir, 'umbra.yaml');
  const upstream = overlayMode
    ? await startOverlayUpstream({
        spawn: spawnLogged,
        dir,
        sample,
        listener: ports.listener,
        nodeId: NODE_ID,
        freePort,
        waitFor,
      })
    : undefined;
  if (upstream)
    say(
      `upstream control plane (go-control-plane) on 127.0.0.1:${upstream.adsPort} owns shop's listener, routes and cluster`,
    );
  const experimentPorts = {
    inventory: autoPorts ? await freePort() : 7074,
    egress: autoPorts ? await freePort() : 10001,
  };
  if (experimentsMode)
    for (const [name, port] of Object.entries(experimentPorts))
      if (!(await portFree(port))) fail(`port ${port} (${name}) is in use; stop what holds it and retry`);
  const inventory = experimentsMode ? await startInventory(experimentPorts.inventory) : undefined;
  const egressPort = experimentPorts.egress;
  writeFileSync(
    configPath,
    demoConfig({
      ports,
      dir,
      sampleCommand: [process.execPath, sample],
      wasmPath: wasm,
      ...(upstream ? { upstreamPort: upstream.adsPort } : {}),
      ...(inventory ? { experiments: { inventoryPort: inventory.port, egressPort } } : {}),
    }),
  );
  say(`Envoy: ${envoy.version.replace(/^.*version: /, '')}`);

  say('starting umbrad (it starts shop v1 as 2 local processes and serves xDS)');
  spawnLogged(
    'umbrad',
    process.execPath,
    // The demo owns its instances: a daemon stop leaves them serving unless told otherwise.
    [cli, 'daemon', '--config', configPath, '--stop-instances', ...(autoPorts ? ['--metrics', 'off'] : [])],
    join(dir, 'umbrad.log'),
  );
  const token = await waitFor('the admin token', 20_000, async () =>
    existsSync(join(dir, 'admin.token')) ? readAdminToken(join(dir, 'admin.token')) : undefined,
  );
  const client = new AdminClient({ address: `127.0.0.1:${ports.admin}`, token });
  await waitFor(
    'the admin API',
    30_000,
    async () => (await client.status()).services.length > 0 || undefined,
  );

  say('starting Envoy (configured only over ADS by umbrad)');
  const bootstrap = adsBootstrap({
    nodeId: NODE_ID,
    xdsHost: '127.0.0.1',
    xdsPort: ports.xds,
    adminPort: ports.envoyAdmin,
  });
  writeFileSync(join(dir, 'envoy.json'), JSON.stringify(bootstrap));
  spawnLogged(
    'envoy',
    envoy.path,
    ['-c', join(dir, 'envoy.json'), '--concurrency', '1', '--disable-hot-restart', '--log-level', 'warn'],
    join(dir, 'envoy.log'),
  );
  await waitFor('Envoy to serve shop v1', 60_000, async () => {
    const res = await fetch(`http://127.0.0.1:${ports.listener}/catalog`, {
      signal: AbortSignal.timeout(2000),
    });
    return res.status === 200 ? true : undefined;
  });
  say(
    `shop is live on http://127.0.0.1:${ports.listener}/ (try: curl -H 'x-region: eu' 127.0.0.1:${ports.listener}/cart)`,
  );
  say(
    `from another terminal: UMBRA_ADMIN=127.0.0.1:${ports.admin} npx umbra status --token-file ${join(dir, 'admin.token')}`,
  );
  say(`live page: http://127.0.0.1:${ports.ui}/ui?token=$(cat ${join(dir, 'admin.token')})`);

  const load: LoadStats = { sent: 0, statuses: {}, errors: 0, failures: [] };
  const stopLoad = startLoad(ports.listener, 150, load);
  say('load: ~150 requests/s, regions eu/us/ap, endpoints /cart /catalog /profile');
  await sleep(5000);

  // Scenario 1: a regression.
  say('── scenario 1: deploy shop v2 (30 % 503s on /cart for region eu under load)');
  await client.deploy('shop', 'v2');
  const bad = await follow(
    client,
    (s) => ['rolled_back', 'rollback_failed', 'completed', 'aborted'].includes(s.deployment?.phase ?? ''),
    240_000,
  );
  const history1 = await client.history('shop', 1);
  const tr1 = history1[0]?.transitions ?? [];
  const shadowAt = tr1.find((t) => t.to === 'shadowing')?.atMs;
  const rollbackAt = tr1.find((t) => t.to === 'rolling_back')?.atMs;
  const rollbackDecision = bad.deployment?.rollbackDecisionId ?? 0;
  let culprits: string[] = [];
  if (rollbackDecision > 0) {
    const d = await client.explain(rollbackDecision);
    say(`decision #${d.id}: ${d.summary}`);
    const ex = JSON.parse(d.explanationJson || '{}') as {
      culprits?: { endpoint: string; segment: string; signal: string }[];
    };
    culprits = (ex.culprits ?? []).map((c) => `${c.endpoint}/${c.segment}/${c.signal}`);
  }

  // Scenario 2: a good version.
  say('── scenario 2: deploy shop v3 (a good version)');
  await client.deploy('shop', 'v3');
  const good = await follow(
    client,
    (s) =>
      ['completed', 'rolling_back', 'rolled_back', 'rollback_failed', 'aborted'].includes(
        s.deployment?.phase ?? '',
      ),
    240_000,
  );
  const experiments = experimentsMode
    ? await runExperiments({ client, listenerPort: ports.listener, load, say }, stopLoad)
    : undefined;
  await stopLoad();
  await inventory?.close();
  const exact = upstream ? await passthroughExact(upstream.adsPort, ports.xds, NODE_ID) : undefined;

  const reports = writeReports(
    cli,
    dir,
    [bad.deployment?.id, good.deployment?.id].filter((id): id is string => Boolean(id)),
  );
  const history = await client.history('shop', 5);
  console.log('\ntimeline:');
  for (const entry of [...history].reverse()) {
    for (const t of entry.transitions) {
      console.log(
        `  ${new Date(t.atMs).toISOString().slice(11, 23)}  ${entry.deployment.version}  ${t.from || '·'} → ${t.to}  (${t.event}) ${t.reason}`,
      );
    }
  }
  for (const f of load.failures) {
    console.log(
      f.status === 0
        ? `  ${new Date(f.at).toISOString().slice(11, 23)}  a user's request for ${f.path} failed: ${f.detail}`
        : `  ${new Date(f.at).toISOString().slice(11, 23)}  a user got ${f.status} for ${f.path} (x-version: ${f.version})`,
    );
  }
  console.log(
    `\nload: ${load.sent} responses, statuses ${JSON.stringify(load.statuses)}, client errors ${load.errors}`,
  );
  const result = {
    demo: 'done',
    regression: {
      rolled_back: bad.deployment?.phase === 'rolled_back',
      detect_s: shadowAt && rollbackAt ? Math.round((rollbackAt - shadowAt) / 100) / 10 : null,
      culprits,
      validated: bad.deployment?.phase === 'rolled_back',
    },
    good: { promoted: good.deployment?.phase === 'completed' },
    reports,
    ...(upstream ? { mode: 'overlay', passthrough_exact: exact } : {}),
  };
  if (keep) {
    say('--keep: everything stays up; Ctrl-C stops it');
    await new Promise<void>((r) => process.once('SIGINT', () => r()));
  }
  stopping = true;
  await shutdown();
  console.log(JSON.stringify(result));
  if (experiments) console.log(JSON.stringify(experiments));
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    if (keep) return;
    stopping = true;
    void shutdown().then(() => process.exit(130));
  });
}

main().catch(async (err) => {
  console.error(`demo: ${(err as Error).message}`);
  stopping = true;
  await shutdown();
  process.exit(1);
});
