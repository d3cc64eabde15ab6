import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';

const SERVICE = [
  '  - name: shop',
  '    stable: v1',
  '    provisioner: { kind: static, versions: { v1: { endpoints: ["127.0.0.1:9001"] } } }',
];

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.ok ? [] : r.errors;
}

test('overlay mode: the upstream and each service’s overlay block parse', () => {
  const r = parseConfig(
    [
      'daemon:',
      '  xds: { upstream: { address: 127.0.0.1:15010 } }',
      'services:',
      ...SERVICE,
      '    overlay: { cluster: shop-v1, listener: ingress }',
    ].join('\n'),
  );

  assert.ok(r.ok, r.ok ? '' : r.errors.join('; '));
  assert.equal(r.config.daemon.xds.upstream?.address, '127.0.0.1:15010');
  assert.deepEqual(r.config.services[0]!.overlay, { cluster: 'shop-v1', listener: 'ingress' });
});

test('overlay mode: a service without its overlay block is refused with its path', () => {
  const errors = errorsOf(
    ['daemon:', '  xds: { upstream: { address: 127.0.0.1:15010 } }', 'services:', ...SERVICE].join('\n'),
  );

  assert.ok(
    errors.some((e) => e.startsWith('services[0].overlay: required with daemon.xds.upstream')),
    errors.join('\n'),
  );
});

test('overlay mode: a plaintext upstream off loopback, a half client certificate, an overlay block without upstream', () => {
  const offLoopback = errorsOf('daemon:\n  xds: { upstream: { address: istiod.istio-system:15010 } }');
  const half = errorsOf(
    'daemon:\n  xds: { upstream: { address: 127.0.0.1:15012, tls: { caFile: ca.pem, certFile: c.pem } } }',
  );
  const stray = errorsOf(['services:', ...SERVICE, '    overlay: { cluster: shop, listener: l }'].join('\n'));

  assert.ok(
    offLoopback.some((e) => e.startsWith('daemon.xds.upstream.address: a non-loopback address needs tls')),
  );
  assert.ok(half.some((e) => e.startsWith('daemon.xds.upstream.tls: certFile and keyFile go together')));
  assert.ok(stray.some((e) => e.startsWith('services[0].overlay: only with daemon.xds.upstream')));
});
