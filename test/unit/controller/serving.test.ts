/** What a service serves when the daemon starts, from its configuration and latest deployment. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catchUpMsFor, servingVersion } from '../../../daemon/controller/serving.js';
import type { DeploymentState } from '../../../daemon/rollout/types.js';
import { promotingAt, shadowing } from '../rollout/fixtures.js';
import { checkoutConfig } from './fixtures.js';

const config = checkoutConfig();
const cfg = config.services[0]!;

function inPhase(phase: DeploymentState['phase']): DeploymentState {
  return { ...shadowing(), phase };
}

test('no deployment yet: the configured stable version', () => {
  assert.equal(servingVersion(cfg, undefined), 'v1');
});

test('a completed deployment serves its version; every other phase the previous one', () => {
  assert.equal(servingVersion(cfg, inPhase('completed')), 'v2');
  for (const phase of ['rolled_back', 'rollback_failed', 'aborted', 'shadowing', 'baking'] as const) {
    assert.equal(servingVersion(cfg, inPhase(phase)), 'v1', phase);
  }
  // Mid-promotion the candidate takes a share, but production's version is still the previous one.
  assert.equal(servingVersion(cfg, promotingAt(1).state), 'v1');
});

test('catching up after a restart waits past the pipeline’s close delay, longer for longer mirror timeouts', () => {
  const longer = { ...config, services: [{ ...cfg, mirroring: { ...cfg.mirroring, timeout: 10_000 } }] };
  assert.ok(catchUpMsFor(config) > 5_000);
  assert.ok(catchUpMsFor(longer) > catchUpMsFor(config));
});
