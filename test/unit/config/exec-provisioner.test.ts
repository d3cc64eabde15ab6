import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';

/** One service whose provisioner is `exec` with the given extra lines (YAML, indented under provisioner). */
function withExec(lines: string[]): string {
  return [
    'services:',
    '  - name: shop',
    '    stable: v1',
    '    provisioner:',
    '      kind: exec',
    ...lines.map((l) => `      ${l}`),
  ].join('\n');
}

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.ok ? [] : r.errors;
}

describe('umbra.yaml: the exec provisioner', () => {
  test('a minimal exec provisioner gets safe defaults', () => {
    const r = parseConfig(
      withExec(['command: [./deploy.sh]', 'versions: { v1: {}, v2: { env: { IMAGE: shop:2 } } }']),
    );
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    const p = r.config.services[0]!.provisioner;
    assert.equal(p.kind, 'exec');
    if (p.kind !== 'exec') return;
    assert.deepEqual(p.command, ['./deploy.sh']);
    assert.equal(p.replicas, 2);
    assert.deepEqual(p.timeouts, { ensure: 300_000, stop: 120_000, status: 30_000 });
    assert.equal(p.retries, 2);
    assert.equal(p.retryDelay, 2000);
    assert.equal(p.checkInterval, 10_000);
    assert.equal(p.probe, 'http');
    assert.equal(p.healthPath, '/healthz');
    assert.deepEqual(p.versions, { v1: { env: {} }, v2: { env: { IMAGE: 'shop:2' } } });
  });

  test('each bad setting is reported with its path', () => {
    const errors = errorsOf(
      withExec([
        'command: []',
        'timeouts: { status: 0s, ensure: 2h }',
        'retries: -1',
        'checkInterval: 10ms',
        'probe: grpc',
        'healthPath: healthz',
        'versions: { v1: { image: x } }',
        'extra: 1',
      ]),
    );
    assert.deepEqual(errors.sort(), [
      'services[0].provisioner.checkInterval: must be at least 100ms and at most 1h (got "10ms")',
      'services[0].provisioner.command: must name a program',
      'services[0].provisioner.extra: unknown setting',
      "services[0].provisioner.healthPath: must start with '/'",
      'services[0].provisioner.probe: must be one of http, tcp, none',
      'services[0].provisioner.retries: must be at least 0',
      'services[0].provisioner.timeouts.ensure: must be at least 1ms and at most 1h (got "2h")',
      'services[0].provisioner.timeouts.status: must be at least 1ms and at most 10m (got "0s")',
      'services[0].provisioner.versions.v1.image: unknown setting',
    ]);
  });

  test('the stable version must be one of its versions', () => {
    assert.deepEqual(errorsOf(withExec(['command: [./deploy.sh]', 'versions: { v2: {} }'])), [
      "services[0].stable: 'v1' is not in provisioner.versions",
    ]);
  });
});
