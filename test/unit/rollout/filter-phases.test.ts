/**
 * The Umbra filter is on a service's routes only while a phase needs it:
 * copies (shadowing, baking) or live records to judge (promoting,
 * validating). Every other phase, final ones included, asks for routes
 * without it, so a service with no deployment in progress costs nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredEffects } from '../../../daemon/rollout/desired.js';
import { PHASES } from '../../../daemon/rollout/phases.js';
import type { RouteEffect } from '../../../daemon/rollout/types.js';
import { shadowing } from './fixtures.js';

test('route effects ask for the filter in shadowing, promoting, baking and validating only', () => {
  const wanted = new Set(['shadowing', 'promoting', 'baking', 'validating']);
  for (const phase of PHASES) {
    // Arrange: the same deployment in each phase (effects depend on the state alone).
    const state = { ...shadowing(), phase, candidateWeight: phase === 'promoting' ? 50 : 0 };

    // Act
    const routes = desiredEffects(state).filter((e): e is RouteEffect => e.kind === 'route');

    // Assert
    assert.equal(routes.length, 1, `${phase}: one route effect`);
    assert.equal(
      routes[0]!.filter,
      wanted.has(phase),
      `${phase}: filter ${wanted.has(phase) ? 'on' : 'off'}`,
    );
  }
});
