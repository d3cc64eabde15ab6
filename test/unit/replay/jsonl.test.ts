import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setLogLevel } from '../../../daemon/log.js';
import { parseJsonLine } from '../../../daemon/replay/jsonl.js';
import { replay } from '../../../daemon/replay/replay.js';

setLogLevel('silent');
const dir = mkdtempSync(join(tmpdir(), 'umbra-jsonl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const base = { service: 'shop', endpoint: 'GET /cart', request_id: 'r1' };
const line = (o: Record<string, unknown>): string => JSON.stringify({ ...base, ...o });

/** Replays the lines as `umbra replay` does; the timeline and the summary. */
function replayLines(name: string, lines: string[]) {
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(path, lines.join('\n'));
  const out: Record<string, unknown>[] = [];
  const summary = replay(path, { emit: (l) => out.push(l) });
  return { out, summary };
}

describe('JSON lines: the parser', () => {
  it('returns the known fields of a valid line, null for a blank one', () => {
    const r = parseJsonLine(
      line({ t_us: 10, arm: 'live', status: 200, latency_us: 5, cluster: 'v1', flags: [], extra: 1 }),
    );
    assert.deepEqual(r, {
      ...base,
      t_us: 10,
      arm: 'live',
      status: 200,
      latency_us: 5,
      cluster: 'v1',
      flags: [],
    });
    assert.equal(parseJsonLine('   '), null);
  });

  it('refuses a line that does not say how the request ended: status and latency are required', () => {
    assert.equal(
      parseJsonLine(line({ t_us: 10, arm: 'candidate', latency_us: 5 })),
      'status: must be an integer 0..999',
    );
    assert.equal(
      parseJsonLine(line({ t_us: 10, arm: 'candidate', status: 200 })),
      'latency_us: must be an integer 0..4294967295',
    );
  });
});

describe('JSON lines: a record without its outcome', () => {
  it('is a bad line and changes nothing: a candidate without a status is missing, not failed', () => {
    const { out, summary } = replayLines('no-status', [
      line({ t_us: 1_000_000, arm: 'primary', status: 200, latency_us: 5000 }),
      line({ t_us: 1_001_000, arm: 'candidate', latency_us: 6000 }),
    ]);
    assert.deepEqual(
      out.filter((l) => l['type'] === 'bad_line').map((l) => [l['line'], l['error']]),
      [[2, 'status: must be an integer 0..999']],
    );
    assert.equal(summary.records, 1);
    const pairs = out.filter((l) => l['type'] === 'pairs');
    assert.deepEqual(
      pairs.map((l) => [l['pairs'], l['errors_shadow_only'], l['shadow_missing']]),
      [[0, 0, 1]],
    );
  });
});

describe('JSON lines: names', () => {
  it('takes arm and flag names from the format only, never from an object prototype', () => {
    const { out, summary } = replayLines('prototype-names', [
      line({ t_us: 1_000_000, arm: 'constructor', status: 200, latency_us: 5000 }),
      line({ t_us: 1_000_000, arm: 'primary', status: 200, latency_us: 5000, flags: ['toString'] }),
    ]);
    const bad = out.filter((l) => l['type'] === 'bad_line');
    assert.deepEqual(
      bad.map((l) => l['line']),
      [1, 2],
    );
    assert.equal(bad[0]!['error'], 'arm: must be primary, candidate, baseline or live');
    assert.match(String(bad[1]!['error']), /^flags\[0\]: must be one of timeout, /);
    assert.equal(summary.records, 0);
  });
});
