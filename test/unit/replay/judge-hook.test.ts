import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import { judgeHook } from '../../../daemon/replay/judge-hook.js';
import { replay } from '../../../daemon/replay/replay.js';

setLogLevel('silent');
const dir = mkdtempSync(join(tmpdir(), 'umbra-judge-hook-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 40 s of paired traffic at 50 requests/s on two endpoints; `bad` fails that share of candidate calls on /pay. */
function scenario(name: string, bad: number): string {
  let x = 7;
  const rand = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 4294967296;
  };
  const lines: string[] = [];
  for (let i = 0; i < 40 * 50; i++) {
    const t = 1_000_000 + i * 20_000;
    const endpoint = i % 2 ? 'POST /pay' : 'GET /cart';
    const id = `req-${i}`;
    const lat = 2000 + Math.floor(rand() * 500);
    const candFails = endpoint === 'POST /pay' && rand() < bad;
    const base = { service: 'shop', endpoint, segment: 'eu', request_id: id };
    lines.push(
      JSON.stringify({ ...base, t_us: t, arm: 'primary', status: 200, latency_us: lat, body_hash: 'aa' }),
    );
    lines.push(
      JSON.stringify({
        ...base,
        t_us: t + 300,
        arm: 'candidate',
        status: candFails ? 503 : 200,
        // Same distribution, independent noise: an identical version.
        latency_us: 2000 + Math.floor(rand() * 500),
        body_hash: candFails ? 'bb' : 'aa',
      }),
    );
  }
  const path = join(dir, name);
  writeFileSync(path, lines.join('\n'));
  return path;
}

function verdicts(path: string) {
  const out: Record<string, unknown>[] = [];
  const summary = replay(path, { emit: (l) => out.push(l), judge: judgeHook() });
  return { verdicts: out.filter((l) => l['type'] === 'verdict'), summary };
}

test('a candidate failing on one endpoint is rolled back with that endpoint named', () => {
  const { verdicts: v, summary } = verdicts(scenario('bad.jsonl', 0.2));
  const rollback = v.find((l) => l['verdict'] === 'rollback');
  assert.ok(rollback, `no rollback in ${JSON.stringify(summary.verdicts)}`);
  const culprits = rollback['culprits'] as { endpoint: string; signal: string }[];
  assert.ok(
    culprits.some((c) => c.endpoint === 'POST /pay' || c.endpoint === '*'),
    JSON.stringify(culprits),
  );
  assert.ok(!culprits.some((c) => c.endpoint === 'GET /cart'), 'the healthy endpoint is not blamed');
  assert.ok(summary.first_rollback_t_us !== null);
  // The line names the second it judged (seconds of JSON lines count from the file's start):
  // what tells a rollback before a regression's onset from one after it.
  const second = rollback['second'];
  assert.ok(Number.isInteger(second) && (second as number) >= 0, `second: ${second}`);
  assert.ok((second as number) < (rollback['t_us'] as number) / 1e6, 'a second is judged after it ends');
});

test('an identical candidate is never rolled back, and the same input gives the same verdicts', () => {
  const path = scenario('good.jsonl', 0);
  const a = verdicts(path);
  assert.equal(a.verdicts.filter((l) => l['verdict'] === 'rollback').length, 0);
  assert.ok(
    a.verdicts.some((l) => l['verdict'] === 'healthy'),
    JSON.stringify(a.summary.verdicts),
  );
  const b = verdicts(path);
  assert.deepEqual(b.verdicts, a.verdicts);
});
