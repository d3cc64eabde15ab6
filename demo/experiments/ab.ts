/**
 * The demo's A/B half (`npm run demo -- --experiments`): on the running shop,
 * an A/B test where B (v4) converts better than A (v3) by a few points, then
 * an A/A split (v3 against v3-aa, the same code) that must declare nothing.
 * New users arrive at a steady rate, each with one `GET /cart`; a user's
 * outcome is whether that answer carried `x-outcome: 1`. Returns the `ab`
 * object of the demo's last JSON line.
 */
import { Agent, request } from 'node:http';
import type { AdminClient } from '../../daemon/admin/client.js';
import type { ExperimentView } from '../../daemon/admin/experiment-backend.js';

export interface AbResult {
  winner: 'B' | null;
  effect: number;
  ci: [number, number];
  aa_winner: 'A' | 'B' | null;
  users: { A: number; B: number };
  aa_users: { A: number; B: number };
}

export interface AbOptions {
  client: AdminClient;
  /** Envoy's listener for shop. */
  port: number;
  say: (msg: string) => void;
  /** New users a second (default 150). */
  usersPerSecond?: number;
}

/** Sends one request per new user at `rate` a second until stopped. */
function arrivals(port: number, prefix: string, rate: number): () => Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let seq = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < Math.max(1, Math.round(rate / 20)) && inFlight < 64; k++) {
      inFlight++;
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/cart',
          agent,
          timeout: 10_000,
          headers: { 'x-user': `${prefix}-${seq++}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => inFlight--);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => inFlight--);
      req.end();
    }
  }, 50);
  return async () => {
    clearInterval(timer);
    for (let i = 0; i < 100 && inFlight > 0; i++) await new Promise((r) => setTimeout(r, 50));
    agent.destroy();
  };
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < end && i < 100_000; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const WINDOW_MS = 3000;

/** One experiment: starts it, sends users until it decides (or `maxMs`), lets the last windows close, stops it. */
async function experiment(o: AbOptions, version: string, maxMs: number): Promise<ExperimentView> {
  const { client, say } = o;
  await client.experimentStart({
    service: 'shop',
    version,
    split: 50,
    outcome: 'header:x-outcome',
    windowMs: WINDOW_MS,
  });
  await until('the split to go live', 60_000, async () =>
    (await client.experimentStatus('shop'))[0]?.phase === 'running' ? true : undefined,
  );
  const stopLoad = arrivals(o.port, `ab-${version}-${Date.now()}`, o.usersPerSecond ?? 150);
  const started = Date.now();
  let last: ExperimentView | undefined;
  try {
    await until(`a decision on ${version}`, maxMs + 5000, async () => {
      [last] = await client.experimentStatus('shop');
      if (last?.phase !== 'running') throw new Error(`experiment ended: ${last?.stopReason}`);
      say(
        `  ${version}: users A ${last.usersA} B ${last.usersB}, effect ${last.effect.toFixed(3)}, ` +
          `interval [${last.ciLow.toFixed(3)}, ${last.ciHigh.toFixed(3)}], ${last.decision}`,
      );
      return last.decision !== 'undecided' || Date.now() - started > maxMs ? last : undefined;
    });
  } finally {
    await stopLoad();
  }
  // Users still in their window count once it has passed.
  last = await until('the last windows', WINDOW_MS * 4, async () => {
    const [e] = await client.experimentStatus('shop');
    return e && e.openUsersA + e.openUsersB === 0 ? e : undefined;
  });
  const stopped = await client.experimentStop('shop', 'demo done');
  say(`  ${stopped.message}`);
  return last;
}

export async function runAbExperiments(o: AbOptions): Promise<AbResult> {
  o.say('── A/B: half of the users on v4 (converts 6 points better than v3), the outcome a purchase header');
  const ab = await experiment(o, 'v4', 120_000);
  o.say(
    `  A/B: ${ab.winner ? `${ab.winner} wins` : 'no winner'}: effect ${ab.effect.toFixed(3)}, ` +
      `${(100 * (1 - ab.alpha)).toFixed(0)} % anytime interval [${ab.ciLow.toFixed(3)}, ${ab.ciHigh.toFixed(3)}]`,
  );
  o.say('── A/A: half of the users on v3-aa (the same code as v3), for as long');
  const aa = await experiment(o, 'v3-aa', 60_000);
  o.say(`  A/A: ${aa.winner ? `${aa.winner} wins (a false winner)` : 'no winner'}`);
  const round = (x: number) => Math.round(x * 10_000) / 10_000;
  return {
    winner: ab.winner === 'B' ? 'B' : null,
    effect: round(ab.effect),
    ci: [round(ab.ciLow), round(ab.ciHigh)],
    aa_winner: aa.winner === 'A' || aa.winner === 'B' ? aa.winner : null,
    users: { A: ab.usersA, B: ab.usersB },
    aa_users: { A: aa.usersA, B: aa.usersB },
  };
}
