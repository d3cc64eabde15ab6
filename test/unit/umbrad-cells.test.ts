import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellStats } from '../../daemon/aggregate/stats.js';
import { parseConfig } from '../../daemon/config/load.js';
import { setLogLevel } from '../../daemon/log.js';
import { openStore } from '../../daemon/store/sqlite.js';
import { startUmbrad } from '../../daemon/umbrad.js';
import { pairView } from './aggregate/pair-view.js';

setLogLevel('silent');

test('a listener of final seconds that throws (its store out of reach) stops neither the pipeline nor the other listeners', async () => {
  const parsed = parseConfig('{}');
  assert.ok(parsed.ok);
  const daemon = await startUmbrad({ config: parsed.config, store: openStore(':memory:') }, []);
  try {
    const { pipeline } = daemon.context;
    daemon.context.onCells(() => {
      throw new Error('PostgreSQL did not answer within 2000 ms (batch)');
    });
    const seen: CellStats[] = [];
    daemon.context.onCells((cells) => seen.push(...cells));
    const T0 = 1_700_000_000;
    pipeline.aggregator.advance(T0 * 1e6);
    pipeline.aggregator.onPair(
      pairView(pipeline.registry.series('checkout', 'GET /cart', 'eu'), T0 * 1e6 + 100, 'req-1'),
    );
    pipeline.aggregator.flush((T0 + 100) * 1e6);
    assert.equal(seen.length, 1, 'the second listener still got the second');
    assert.equal(seen[0]!.candidate.pairs, 1);
  } finally {
    await daemon.stop();
  }
});
