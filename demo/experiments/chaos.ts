/**
 * Experiment (a) of `npm run demo -- --experiments`: chaos on the shadow leg.
 *
 * v4 of shop lost its retry on the inventory. Umbra runs it beside
 * production on mirrored requests (and the serving version as the baseline,
 * under the same faults), makes 30 % of their inventory calls fail, and
 * judges the difference. Meanwhile the demo asks production the same
 * questions it asked before the experiment and checks the answers byte for
 * byte; users' answers are counted by the load generator.
 */
import type { AdminClient } from '../../daemon/admin/client.js';
import type { LoadStats } from '../scenario.js';

export interface ChaosDemoContext {
  client: AdminClient;
  /** shop's listener on the demo's Envoy (production). */
  listenerPort: number;
  /** The running load's counters (users' answers). */
  load: LoadStats;
  say(msg: string): void;
}

/** The `chaos` part of the experiments' JSON line. */
export interface ChaosDemoResult {
  /** Users' answers that were not 200, plus production answers that changed, while the experiment ran. */
  production_errors: number;
  resilience_regression: boolean;
  culprit: string | null;
}

const FAULT = 'inventory:abort=503@30%';
const USERS = Array.from({ length: 12 }, (_, i) => `user-${i * 41}`);

/** The same production questions each time: every answer's status and bytes. */
async function productionAnswers(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const [i, user] of USERS.entries()) {
    for (const path of ['/cart', '/catalog']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        headers: { 'x-user': user, 'x-region': ['eu', 'us', 'ap'][i % 3]! },
        signal: AbortSignal.timeout(5000),
      });
      out.push(`${path} ${user} ${res.status} ${Buffer.from(await res.arrayBuffer()).toString('base64')}`);
    }
  }
  return out;
}

const notOk = (s: LoadStats) =>
  Object.entries(s.statuses).reduce((n, [k, v]) => n + (k === '200' ? 0 : v), 0);

export async function chaosDemo(ctx: ChaosDemoContext): Promise<ChaosDemoResult> {
  const { client, say } = ctx;
  say(
    `── experiment (a): chaos on shop v4 (it lost its retry on inventory): ${FAULT} on the shadow leg only`,
  );
  const before = await productionAnswers(ctx.listenerPort);
  const usersBefore = notOk(ctx.load);
  const started = await client.chaosStart({
    service: 'shop',
    version: 'v4',
    faults: [FAULT],
    durationMs: 30_000,
    percentage: 100,
  });
  say(started.message);
  let changed = 0;
  let compared = false;
  let phase = '';
  // Bounded: warm-up, 30 s of faults, cleanup; each turn takes about a second.
  for (let i = 0; i < 240; i++) {
    const e = (await client.chaosStatus('shop'))[0];
    if (!e) throw new Error('the chaos experiment vanished');
    if (e.phase !== phase) {
      phase = e.phase;
      say(`chaos: ${phase}${e.baseline ? ` (baseline ${e.baseline})` : ''}`);
    }
    if (e.phase === 'injecting' && !compared && Date.now() - e.faultsOnAtMs > 5000) {
      const during = await productionAnswers(ctx.listenerPort);
      changed = during.filter((a, j) => a !== before[j]).length;
      compared = true;
      say(
        `production under chaos: ${during.length - changed}/${during.length} answers byte-identical to before`,
      );
      if (e.verdict) say(`chaos so far: ${e.verdict.explanation}`);
    }
    if (['passed', 'failed', 'stopped', 'aborted'].includes(e.phase)) {
      if (e.phase === 'aborted') throw new Error(`the chaos experiment could not run: ${e.reason}`);
      const v = e.verdict;
      say(`chaos verdict: ${v?.explanation ?? 'none'}`);
      const usersFailed = notOk(ctx.load) - usersBefore;
      say(`users' answers that were not 200 during the experiment: ${usersFailed}`);
      return {
        production_errors: usersFailed + changed + (compared ? 0 : before.length),
        resilience_regression: v?.regression ?? false,
        culprit: v?.culprit || null,
      };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error('the chaos experiment did not end in time');
}
