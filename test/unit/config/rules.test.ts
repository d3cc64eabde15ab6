/**
 * The rules that keep a file `config check` accepts from failing at start or
 * in Envoy: colliding ports, telemetry and xDS open off loopback, timeouts
 * the filter refuses, periods that would spin, and YAML errors with a place.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';

const service = (name: string, listen: string, endpoint = '127.0.0.1:9001') =>
  `{ name: ${name}, stable: v1, listen: "${listen}", provisioner: { kind: static, versions: { v1: { endpoints: ["${endpoint}"] } } } }`;

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  return r.ok ? [] : r.errors;
}

describe('ports', () => {
  test('two daemon ports on one address are refused, localhost and 127.0.0.1 alike', () => {
    assert.deepEqual(
      errorsOf('daemon: { telemetry: { listen: "localhost:7072" }, xds: { listen: "127.0.0.1:7072" } }'),
      ['daemon.xds.listen: 127.0.0.1:7072 is the same port as daemon.telemetry.listen (localhost:7072)'],
    );
    assert.deepEqual(errorsOf('daemon: { admin: { listen: "127.0.0.1:7071" } }'), [
      'daemon.telemetry.listen: 127.0.0.1:7071 is the same port as daemon.admin.listen (127.0.0.1:7071)',
    ]);
  });

  test('a wildcard listen takes the port on loopback too', () => {
    const errors = errorsOf('daemon: { admin: { listen: "[::]:7072", insecure: true, tokenFile: t } }');
    assert.deepEqual(errors, [
      'daemon.xds.listen: 127.0.0.1:7072 is the same port as daemon.admin.listen ([::]:7072)',
    ]);
  });

  test('a service listening on a daemon port is refused', () => {
    assert.deepEqual(errorsOf(`services: [${service('shop', 'localhost:7072')}]`), [
      'services[0].listen: localhost:7072 is the same port as daemon.xds.listen (127.0.0.1:7072)',
    ]);
    assert.deepEqual(errorsOf(`services: [${service('shop', '127.0.0.1:10000', '127.0.0.1:7071')}]`), [
      'services[0].provisioner.versions.v1.endpoints[0]: 127.0.0.1:7071 is daemon.telemetry.listen (127.0.0.1:7071), not a service',
    ]);
  });

  test('distinct ports and different loopback addresses pass', () => {
    assert.deepEqual(
      errorsOf(
        `daemon: { xds: { listen: "127.0.0.2:7071" } }\nservices: [${service('a', '127.0.0.1:10000')}, ${service('b', '127.0.0.1:10001')}]`,
      ),
      [],
    );
  });
});

describe('telemetry and xDS off loopback', () => {
  test('plaintext is refused', () => {
    assert.deepEqual(
      errorsOf('daemon: { telemetry: { listen: "0.0.0.0:7071" }, xds: { listen: "10.0.0.5:7072" } }'),
      [
        'daemon.telemetry.listen: a non-loopback address needs tls with clientCaFile (mutual TLS), or insecure: true',
        'daemon.xds.listen: a non-loopback address needs tls with clientCaFile (mutual TLS), or insecure: true',
      ],
    );
  });

  test('TLS without client certificates is refused', () => {
    assert.deepEqual(
      errorsOf('daemon: { xds: { listen: "10.0.0.5:7072", tls: { certFile: c, keyFile: k } } }'),
      [
        'daemon.xds.tls.clientCaFile: required on a non-loopback address: only proxies with a client certificate may connect (or insecure: true)',
      ],
    );
  });

  test('mutual TLS, or an explicit insecure: true, passes', () => {
    assert.deepEqual(
      errorsOf(
        'daemon: { xds: { listen: "10.0.0.5:7072", tls: { certFile: c, keyFile: k, clientCaFile: ca } }, telemetry: { listen: "10.0.0.5:7071", insecure: true } }',
      ),
      [],
    );
  });
});

describe('timeouts and periods', () => {
  test('a mirroring timeout the filter refuses (0, or beyond 10 minutes) is refused', () => {
    const withTimeout = (t: string) =>
      errorsOf(
        `services: [{ name: a, stable: v1, provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }, mirroring: { timeout: ${t} } }]`,
      );
    assert.deepEqual(withTimeout('0'), [
      'services[0].mirroring.timeout: must be at least 1ms and at most 10m (got 0)',
    ]);
    assert.deepEqual(withTimeout('20m'), [
      'services[0].mirroring.timeout: must be at least 1ms and at most 10m (got "20m")',
    ]);
    assert.deepEqual(withTimeout('10m'), []);
  });

  test('training.every: 0 and zero timeouts are refused', () => {
    assert.deepEqual(errorsOf('daemon: { training: { every: 0 } }'), [
      'daemon.training.every: must be at least 1m (got 0)',
    ]);
    assert.deepEqual(errorsOf('daemon: { alerts: { timeout: 0s } }'), [
      'daemon.alerts.timeout: must be at least 1ms (got "0s")',
    ]);
    const rollout = errorsOf(
      'services: [{ name: a, stable: v1, provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }, rollout: { provisionTimeout: 0, capacityTimeout: 0ms } }]',
    );
    assert.deepEqual(rollout, [
      'services[0].rollout.provisionTimeout: must be at least 1ms (got 0)',
      'services[0].rollout.capacityTimeout: must be at least 1ms (got "0ms")',
    ]);
  });
});

test('YAML errors carry line and column', () => {
  assert.deepEqual(errorsOf('daemon:\n  admin: { listen: "127.0.0.1:1" }\n  admin: {}\n'), [
    'yaml: line 3, column 3: Map keys must be unique',
  ]);
  assert.match(errorsOf('services:\n  - name: a\n    stable: [v1\n')[0]!, /^yaml: line \d+, column \d+: /);
});
