import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProvisionerConfig } from '../../../daemon/config/schema.js';
import { createProvisioner } from '../../../daemon/provision/factory.js';
import { ProvisionError } from '../../../daemon/provision/provisioner.js';
import { shadowReplicas } from '../../../daemon/provision/sizing.js';
import { StaticProvisioner } from '../../../daemon/provision/static.js';

describe('shadow sizing', () => {
  test('replicas = max(1, ⌈production × shadowPercentage/100 × headroom⌉)', () => {
    assert.equal(shadowReplicas({ productionReplicas: 10, shadowPercentage: 10, headroom: 1 }), 1);
    assert.equal(shadowReplicas({ productionReplicas: 10, shadowPercentage: 10, headroom: 1.5 }), 2);
    assert.equal(shadowReplicas({ productionReplicas: 40, shadowPercentage: 25, headroom: 1.2 }), 12);
    assert.equal(shadowReplicas({ productionReplicas: 3, shadowPercentage: 0, headroom: 2 }), 1);
    assert.equal(shadowReplicas({ productionReplicas: 4, shadowPercentage: 100, headroom: 1 }), 4);
  });
});

describe('provisioner factory', () => {
  test('builds each known kind', () => {
    const s = createProvisioner(
      { kind: 'static', versions: { v1: { endpoints: ['127.0.0.1:9001'] } } },
      { service: 'checkout' },
    );
    assert.equal(s.kind, 'static');
    const p = createProvisioner(
      {
        kind: 'process',
        replicas: 1,
        healthPath: '/healthz',
        errorPattern: 'ERROR',
        versions: { v1: { command: ['x'], env: {} } },
      },
      { service: 'checkout' },
    );
    assert.equal(p.kind, 'process');
    assert.deepEqual(p.versions(), ['v1']);
  });

  test('refuses an unknown kind instead of falling back', () => {
    assert.throws(
      () =>
        createProvisioner({ kind: 'kubernetes' } as unknown as ProvisionerConfig, { service: 'checkout' }),
      (err: Error) =>
        err instanceof ProvisionError &&
        err.message === "unknown provisioner kind 'kubernetes' (known: process, static, exec)",
    );
  });
});

describe('static provisioner', () => {
  const config = {
    kind: 'static' as const,
    versions: { v1: { endpoints: ['127.0.0.1:9001', '[::1]:9002'] }, v2: { endpoints: ['127.0.0.1:9101'] } },
  };

  test('ensure reports the fixed endpoints as ready, whatever the size asked', async () => {
    const p = new StaticProvisioner(config);
    assert.deepEqual(p.endpoints({ version: 'v1', pool: 'main' }), []);
    const st = await p.ensure({ version: 'v1', pool: 'main' }, 5);
    assert.equal(st.ready, 2);
    assert.deepEqual(p.endpoints({ version: 'v1', pool: 'main' }), [
      { host: '127.0.0.1', port: 9001 },
      { host: '::1', port: 9002 },
    ]);
    assert.deepEqual(
      p.status().map((s) => [s.version, s.pool, s.ready]),
      [['v1', 'main', 2]],
    );
    await p.stop({ version: 'v1', pool: 'main' });
    assert.deepEqual(p.status(), []);
  });

  test('an unknown version is refused', async () => {
    const p = new StaticProvisioner(config);
    await assert.rejects(
      p.ensure({ version: 'v9', pool: 'main' }, 1),
      /unknown version 'v9' \(configured: v1, v2\)/,
    );
  });
});
