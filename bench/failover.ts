/**
 * `npm run bench:failover`: three daemons (`umbra daemon`) on one real
 * PostgreSQL, a real Envoy whose xDS cluster lists all three, the demo's
 * sample service run by the process provisioner, and ~100 requests/s of load.
 *
 * It deploys shop v3 (healthy), SIGKILLs the leader while it shadows, waits
 * for another daemon to lead (its admin API answers, with the deployment in
 * the phase it had), starts the killed one again, promotes, and SIGKILLs the
 * leader again while it promotes. Each failover is the time from the kill
 * until another daemon holds the lease (a new term in PostgreSQL, polled every
 * 50 ms); `resumed_s` adds the new leader's start until its admin API answers
 * with the deployment in its phase (on this busy machine, mostly the probes). Before each kill it reads every transition and
 * decision id from PostgreSQL; after the failover it counts those missing.
 * All along it asks every daemon's admin API every 100 ms whether it follows:
 * two answering as leader in one sweep would be two leaders. Every daemon
 * serves xDS (the leader's stored snapshots), so Envoy's ADS stream moves to
 * a live daemon at once; `listeners_modified` counts the listeners Envoy
 * changed (and drained) from the first kill to the end of the load.
 *
 * Then the ingest ratio: `bench:ingest` (decode → pairing → aggregation,
 * saving each closed second's cells on the daemon's thread) with the shared
 * store ÷ the same with SQLite: the median over seven rounds of each
 * PostgreSQL run over the SQLite run beside it (`ingest_ratio_spread`: the
 * lowest and highest), and each store's ms per saved second, once the
 * daemons, their instances and Envoy have stopped.
 *
 * The last line is one JSON object:
 *   {"bench":"failover","failover_s_p50":…,"failover_s_max":…,"transitions_lost":N,
 *    "decisions_lost":N,"user_errors":N,"two_leaders":false,"ingest_ratio_shared_vs_sqlite":…}
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { setLogLevel } from '../daemon/log.js';
import { projectRoot, requireEnvoy } from '../daemon/platform/envoy-binary.js';
import { adsBootstrap } from '../daemon/xds/bootstrap.js';
import { demoConfig, type LoadStats, startLoad } from '../demo/scenario.js';
import { type Cleanup, freePort, startEnvoy } from '../test/harness/index.js';
import { type PostgresServer, startPostgres } from '../test/harness/postgres.js';
import {
  type HaCluster,
  type HaDaemon,
  type HaPorts,
  startHaCluster,
  withAdmin,
} from '../test/integration/e2e/ha.js';
import { userErrors } from './faults/context.js';
import { say, stopLeftoverInstances, waitFor } from './faults/stack.js';

const NODE_ID = 'failover-edge';
const SERVICE = 'shop';
const LEASE = '3s';
const LOAD_RPS = 100;
const INGEST_RECORDS = 2_000_000;

const cleanups: (() => unknown)[] = [];
const cleanup: Cleanup = { after: (fn) => cleanups.push(fn) };

/** The demo's umbra.yaml for one daemon: its ports, the shared store, a long shadow and holds (only `promote` moves). */
function configFor(o: { pgUrl: string; listener: number; wasmPath: string; root: string }) {
  return (dir: string, p: HaPorts): string => {
    const cfg = parse(
      demoConfig({
        ports: { ...p, envoyAdmin: 0, listener: o.listener },
        dir,
        wasmPath: o.wasmPath,
        sampleCommand: [process.execPath, '--import', 'tsx', join(o.root, 'demo', 'sample-service.ts')],
      }),
    ) as {
      daemon: Record<string, Record<string, unknown>>;
      services: { provisioner: { versions: Record<string, Record<string, unknown>> }; rollout: object }[];
    };
    cfg.daemon['xds']!['nodes'] = [NODE_ID];
    cfg.daemon['training'] = { enabled: false };
    cfg.daemon['store'] = {
      path: `${dir}/umbra.db`,
      postgres: { url: o.pgUrl, lease: LEASE, timeout: '1s' },
    };
    const shop = cfg.services[0]!;
    for (const v of Object.values(shop.provisioner.versions)) {
      v['cwd'] = o.root;
      (v['env'] as Record<string, string>)['SAMPLE_SHADOW_COUNT_DIR'] = dir;
    }
    Object.assign(shop.rollout, {
      shadowDuration: '10m',
      steps: [
        { weight: 25, hold: '10m' },
        { weight: 100, hold: '10m' },
      ],
    });
    return stringify(cfg);
  };
}

/** Asks every daemon's admin API at once, every 100 ms; records a sweep in which two answered. */
function watchLeaders(cluster: HaCluster): { stop(): Promise<void>; twoLeaders: () => boolean } {
  let stopped = false;
  let two = false;
  const loop = (async () => {
    while (!stopped) {
      const answers = await Promise.all(
        cluster.daemons.map((d) =>
          d.child.exitCode === null && d.child.signalCode === null
            ? d.client.status().then(
                // A follower answers too, saying it follows: only a leader counts.
                (r) => (r.follower ? 0 : 1),
                () => 0,
              )
            : 0,
        ),
      );
      if (answers.reduce((a: number, b: number) => a + b, 0) > 1) two = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
    twoLeaders: () => two,
  };
}

async function ids(db: pg.Client, table: 'transitions' | 'decisions'): Promise<Set<number>> {
  const r = await db.query(`SELECT id FROM ${table}`);
  return new Set(r.rows.map((x: { id: string }) => Number(x.id)));
}

interface Kill {
  /** From the kill until another daemon holds the lease (a new term in PostgreSQL). */
  failoverS: number;
  /** From the kill until the new leader's admin API answers with the deployment in its phase. */
  resumedS: number;
  transitionsLost: number;
  decisionsLost: number;
}

/** SIGKILLs the leader while the deployment is in `phase`; measures the failover and what was lost. */
async function killLeader(cluster: HaCluster, db: pg.Client, phase: string): Promise<Kill> {
  const leader = await waitFor('a leader', () => cluster.leader(), 60_000);
  const [transitions, decisions] = [await ids(db, 'transitions'), await ids(db, 'decisions')];
  const token = async () => Number((await db.query('SELECT token FROM umbra_lease')).rows[0]?.token ?? 0);
  const term = await token();
  const killedAt = Date.now();
  leader.child.kill('SIGKILL');
  await new Promise((r) => leader.child.once('exit', r));
  let failoverS = Number.NaN;
  for (let i = 0; i < 1200 && Number.isNaN(failoverS); i++) {
    if ((await token()) > term) failoverS = (Date.now() - killedAt) / 1000;
    else await new Promise((r) => setTimeout(r, 50));
  }
  const next: HaDaemon = await waitFor(
    `a new leader with the deployment ${phase}`,
    async () => {
      const d = await cluster.leader();
      if (!d) return undefined;
      const s = (await withAdmin(d, (c) => c.status(SERVICE))).services[0]?.deployment;
      return s?.phase === phase ? d : undefined;
    },
    60_000,
  );
  const resumedS = (Date.now() - killedAt) / 1000;
  const [tAfter, dAfter] = [await ids(db, 'transitions'), await ids(db, 'decisions')];
  const lost = (before: Set<number>, after: Set<number>) => [...before].filter((id) => !after.has(id)).length;
  say(
    `leader ${leader.name} killed while ${phase}: ${next.name} took the lease after ${failoverS.toFixed(2)} s, answered with the deployment after ${resumedS.toFixed(2)} s`,
  );
  // The killed daemon comes back as a follower, so three run again.
  await cluster.add(`${leader.name}'`);
  return {
    failoverS,
    resumedS,
    transitionsLost: lost(transitions, tAfter),
    decisionsLost: lost(decisions, dAfter),
  };
}

/**
 * bench:ingest with `--store`, `rounds` alternating runs per store. One run
 * takes about a second on a fast machine, so a busy machine moves it by more
 * than the store does: the ratio is the median of each round's PostgreSQL run
 * over the SQLite run beside it, with the spread, and each store's ms per
 * saved second (the store's own cost, what a daemon pays once per second).
 */
function ingestRatio(pgUrl: string, rounds = 7): IngestFigures {
  const self = join(projectRoot(), 'bench', 'ingest.ts');
  const runs: Record<'sqlite' | 'postgres', { rps: number; saveMs: number }[]> = { sqlite: [], postgres: [] };
  for (let i = 0; i < rounds; i++) {
    for (const [kind, store] of [
      ['sqlite', 'sqlite'],
      ['postgres', pgUrl],
    ] as const) {
      const c = spawnSync(
        process.execPath,
        ['--import', 'tsx', self, '--records', String(INGEST_RECORDS), '--store', store, '--child'],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      if (c.status !== 0) throw new Error(`bench:ingest --store ${kind} failed with status ${c.status}`);
      const line = c.stdout.trim().split('\n').pop() ?? '{}';
      const r = JSON.parse(line) as { records_per_s: number; save_ms_per_second_p50: number };
      say(
        `ingest with ${kind}: ${r.records_per_s} records/s, ${r.save_ms_per_second_p50} ms per saved second`,
      );
      runs[kind].push({ rps: Number(r.records_per_s), saveMs: Number(r.save_ms_per_second_p50) });
    }
  }
  const ratios = runs.postgres.map((p, i) => p.rps / runs.sqlite[i]!.rps).sort((a, b) => a - b);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ratio: r3(median(ratios)),
    spread: [r3(ratios[0]!), r3(ratios[ratios.length - 1]!)],
    sqlite: Math.round(median(runs.sqlite.map((r) => r.rps))),
    postgres: Math.round(median(runs.postgres.map((r) => r.rps))),
    saveMs: {
      sqlite: median(runs.sqlite.map((r) => r.saveMs)),
      postgres: median(runs.postgres.map((r) => r.saveMs)),
    },
  };
}

interface IngestFigures {
  ratio: number;
  spread: [number, number];
  sqlite: number;
  postgres: number;
  saveMs: { sqlite: number; postgres: number };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  setLogLevel('warn');
  const root = projectRoot();
  const envoyBin = requireEnvoy();
  const wasmPath = join(root, 'build', 'filter.wasm');
  if (!existsSync(wasmPath)) throw new Error(`${wasmPath} is missing; run \`npm run build:filter\` first`);
  const server: PostgresServer = await startPostgres();
  cleanups.push(() => server.stop());
  say(`PostgreSQL on 127.0.0.1:${server.port}; Envoy ${envoyBin.version.replace(/^.*version: /, '')}`);

  const listener = await freePort();
  const cluster = await startHaCluster(configFor({ pgUrl: server.url, listener, wasmPath, root }), [
    'a',
    'b',
    'c',
  ]);
  cleanups.push(() => stopLeftoverInstances(cluster.dir));
  cleanups.push(() => cluster.close());
  const first = await waitFor('a leader', () => cluster.leader(), 120_000);
  say(`daemon ${first.name} leads (it runs shop v1 as 2 local processes)`);
  const [a, ...others] = cluster.daemons;
  const envoy = await startEnvoy(cleanup, {
    name: 'failover',
    config: adsBootstrap({
      nodeId: NODE_ID,
      xdsHost: '127.0.0.1',
      xdsPort: a!.xds,
      adminPort: 0,
      moreXds: others.map((d) => ({ host: '127.0.0.1', port: d.xds })),
    }),
    logLevel: 'warn',
    readyTimeoutMs: 60_000,
  });
  await waitFor(
    'Envoy to serve shop v1',
    async () => {
      const res = await fetch(`http://127.0.0.1:${listener}/catalog`, { signal: AbortSignal.timeout(2000) });
      return res.status === 200 ? true : undefined;
    },
    60_000,
  );
  const load: LoadStats = { sent: 0, statuses: {}, errors: 0, failures: [] };
  const stopLoad = startLoad(listener, LOAD_RPS, load);
  cleanups.push(() => stopLoad());
  const leaders = watchLeaders(cluster);
  cleanups.push(() => leaders.stop());
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  cleanups.push(() => db.end());

  const { deployment } = await withAdmin(first, (c) => c.deploy(SERVICE, 'v3'), 15_000);
  say(`deployed ${SERVICE} v3 (${deployment.id})`);
  await waitFor(
    'shadowing',
    async () => {
      const d = await cluster.leader();
      const s = d && (await withAdmin(d, (c) => c.status(SERVICE))).services[0]?.deployment;
      return s?.phase === 'shadowing' ? true : undefined;
    },
    120_000,
  );
  // Some judged seconds (decisions) before the kill.
  await new Promise((r) => setTimeout(r, 12_000));
  // Listeners Envoy changed across the failovers (each change drains the listener's connections).
  const modifiedBefore = (await envoy.stat('listener_manager.listener_modified')) ?? 0;
  const kills: Kill[] = [await killLeader(cluster, db, 'shadowing')];

  const leader = await waitFor('a leader', () => cluster.leader(), 60_000);
  // A command waits for its answer longer than a probe: this machine may be busy.
  await withAdmin(leader, (c) => c.command(SERVICE, 'promote', 'bench:failover'), 15_000);
  await new Promise((r) => setTimeout(r, 8_000));
  kills.push(await killLeader(cluster, db, 'promoting'));
  // Traffic keeps flowing through the second failover and a little after.
  await new Promise((r) => setTimeout(r, 5_000));
  await stopLoad();
  await leaders.stop();
  const listenersModified = ((await envoy.stat('listener_manager.listener_modified')) ?? 0) - modifiedBefore;
  say(`load: ${load.sent} requests, statuses ${JSON.stringify(load.statuses)}, errors ${load.errors}`);

  // The ingest runs measure one process against PostgreSQL: the daemons, their instances and Envoy go first.
  await cluster.close();
  stopLeftoverInstances(cluster.dir);
  const ingest = ingestRatio(server.url);
  const failovers = kills.map((k) => k.failoverS);
  console.log(
    JSON.stringify({
      bench: 'failover',
      failover_s_p50: Math.round(median(failovers) * 100) / 100,
      failover_s_max: Math.round(Math.max(...failovers) * 100) / 100,
      transitions_lost: kills.reduce((n, k) => n + k.transitionsLost, 0),
      decisions_lost: kills.reduce((n, k) => n + k.decisionsLost, 0),
      user_errors: userErrors(load),
      two_leaders: leaders.twoLeaders(),
      ingest_ratio_shared_vs_sqlite: ingest.ratio,
      ingest_ratio_spread: ingest.spread,
      ingest_records_per_s: { sqlite: ingest.sqlite, postgres: ingest.postgres },
      ingest_save_ms_per_second: ingest.saveMs,
      failovers_s: failovers,
      resumed_s: kills.map((k) => k.resumedS),
      requests: load.sent,
      listeners_modified: listenersModified,
      lease: LEASE,
    }),
  );
}

try {
  await main();
} finally {
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error(`bench:failover cleanup: ${(err as Error).message}`);
    }
  }
}
