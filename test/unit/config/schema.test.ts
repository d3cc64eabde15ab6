import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, parseDuration } from '../../../daemon/config/duration.js';
import { loadConfig, parseConfig } from '../../../daemon/config/load.js';
import { isLoopback } from '../../../daemon/config/schema.js';

/** A minimal valid service, as YAML lines indented under `services:`. */
const SERVICE = [
  '  - name: checkout',
  '    stable: v1',
  '    provisioner:',
  '      kind: static',
  '      versions: { v1: { endpoints: ["127.0.0.1:9001"] }, v2: { endpoints: ["127.0.0.1:9002"] } }',
];

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  assert.equal(r.ok, false, 'expected the config to be refused');
  return r.ok ? [] : r.errors;
}

describe('umbra.yaml schema', () => {
  test('an empty file is a valid config with safe defaults', () => {
    const r = parseConfig('');
    assert.ok(r.ok);
    assert.equal(r.config.daemon.admin.listen, '127.0.0.1:7070');
    assert.equal(r.config.daemon.admin.insecure, false);
    assert.deepEqual(r.config.services, []);
  });

  test('the seed settings default safely and durations parse to ms', () => {
    const r = parseConfig(['services:', ...SERVICE].join('\n'));
    assert.ok(r.ok);
    const s = r.config.services[0]!;
    assert.equal(s.mirroring.shadowPercentage, 10);
    assert.equal(s.mirroring.mirroringStrategy, 'random');
    assert.equal(s.mirroring.liveSample, 5, 'the judge needs 2.2 % at 1,000 requests/s (docs/filter.md)');
    assert.equal(s.judge.anomalyThreshold, 3);
    assert.equal(s.rollout.validationPeriod, 300_000);
    assert.deepEqual(s.mirroring.methods, ['GET', 'HEAD', 'OPTIONS']);
    assert.deepEqual(s.mirroring.stripHeaders, ['authorization', 'cookie', 'proxy-authorization']);
    assert.deepEqual(
      s.rollout.steps.map((x) => [x.weight, x.hold]),
      [
        [10, 120_000],
        [25, 120_000],
        [50, 120_000],
        [100, 120_000],
      ],
    );
  });

  test('the shipped umbra.example.yaml is valid', () => {
    const r = loadConfig('umbra.example.yaml');
    assert.deepEqual(r.ok ? [] : r.errors, []);
  });

  test('an out-of-range shadowPercentage names its path', () => {
    const errors = errorsOf(['services:', ...SERVICE, '    mirroring: { shadowPercentage: 150 }'].join('\n'));
    assert.deepEqual(errors, ['services[0].mirroring.shadowPercentage: must be 0..100']);
  });

  test('an unknown mirroringStrategy, a typo and a bad duration are each reported with a path', () => {
    const errors = errorsOf(
      [
        'services:',
        ...SERVICE,
        '    mirroring: { mirroringStrategy: geo, shadowPercent: 3 }',
        '    rollout: { validationPeriod: 5x }',
      ].join('\n'),
    );
    assert.deepEqual(errors.sort(), [
      'services[0].mirroring.mirroringStrategy: must be one of random, user-segment, geographic',
      'services[0].mirroring.shadowPercent: unknown setting',
      'services[0].rollout.validationPeriod: must be a duration like 30s, 5m or 1h (got "5x")',
    ]);
  });

  test('anomalyThreshold must be 1..12', () => {
    const errors = errorsOf(['services:', ...SERVICE, '    judge: { anomalyThreshold: 0 }'].join('\n'));
    assert.deepEqual(errors, ['services[0].judge.anomalyThreshold: must be 1..12']);
  });

  test('cross-field rules: stable version, duplicate names, steps, writes, strategies', () => {
    const errors = errorsOf(
      [
        'services:',
        ...SERVICE.map((l) => l.replace('stable: v1', 'stable: v3')),
        '    mirroring: { methods: [GET, POST], mirroringStrategy: user-segment }',
        '    rollout: { steps: [{ weight: 50 }, { weight: 40 }] }',
        ...SERVICE,
        '    mirroring: { mirroringStrategy: geographic }',
      ].join('\n'),
    );
    assert.deepEqual(
      errors.sort(),
      [
        'services[0].mirroring.methods[1]: POST is not idempotent; set mirroring.allowWrites: true to mirror writes',
        'services[0].mirroring.userSegment: user-segment needs a header or a cookie',
        'services[0].rollout.steps[1].weight: must be greater than the previous step',
        'services[0].rollout.steps[1].weight: the last step must be 100',
        "services[0].stable: 'v3' is not in provisioner.versions",
        "services[1].name: duplicate service 'checkout'",
        'services[1].listen: 127.0.0.1:10000 is the same port as services[0].listen (127.0.0.1:10000)',
        'services[1].mirroring.geographic: geographic needs regions',
      ].sort(),
    );
  });

  test('writes may be mirrored only with allowWrites', () => {
    const r = parseConfig(
      ['services:', ...SERVICE, '    mirroring: { methods: [GET, POST], allowWrites: true }'].join('\n'),
    );
    assert.ok(r.ok);
  });

  test('a non-loopback admin address needs TLS or an explicit insecure', () => {
    assert.deepEqual(errorsOf('daemon: { admin: { listen: "0.0.0.0:7070" } }'), [
      'daemon.admin.listen: a non-loopback address needs tls (or insecure: true)',
    ]);
    assert.ok(parseConfig('daemon: { admin: { listen: "0.0.0.0:7070", insecure: true } }').ok);
    assert.ok(
      parseConfig('daemon: { admin: { listen: "0.0.0.0:7070", tls: { certFile: a.pem, keyFile: k.pem } } }')
        .ok,
    );
  });

  test('telemetry TLS with services says how their proxies reach it', () => {
    const tls = 'certFile: t.pem, keyFile: t.key';
    const withServices = (telemetryTls: string) =>
      [`daemon: { telemetry: { tls: { ${telemetryTls} } } }`, 'services:', ...SERVICE].join('\n');

    assert.deepEqual(errorsOf(withServices(tls)), [
      'daemon.telemetry.tls.proxy: required with services: how their proxies reach the telemetry port (caFile, serverName)',
    ]);
    assert.ok(
      parseConfig(`daemon: { telemetry: { tls: { ${tls} } } }`).ok,
      'no services, no proxies to tell',
    );
    const r = parseConfig(
      withServices(`${tls}, proxy: { caFile: /etc/envoy/ca.pem, serverName: umbrad.internal }`),
    );
    assert.ok(r.ok);
    assert.deepEqual(r.config.daemon.telemetry.tls?.proxy, {
      caFile: '/etc/envoy/ca.pem',
      serverName: 'umbrad.internal',
    });
  });

  test("the proxies' TLS names a DNS server name, and a client certificate when one is required", () => {
    const proxyErrors = (tls: string) =>
      errorsOf(`daemon: { telemetry: { tls: { certFile: t.pem, keyFile: t.key, ${tls} } } }`);

    assert.deepEqual(proxyErrors('proxy: { caFile: ca.pem, serverName: 127.0.0.1 }'), [
      'daemon.telemetry.tls.proxy.serverName: must be a DNS name: a TLS server name may not be an IP address',
    ]);
    assert.deepEqual(proxyErrors('proxy: { caFile: ca.pem, serverName: "umbrad:7071" }'), [
      'daemon.telemetry.tls.proxy.serverName: must be a DNS name, e.g. umbrad.internal',
    ]);
    assert.deepEqual(proxyErrors('proxy: { caFile: ca.pem, serverName: umbrad, certFile: c.pem }'), [
      'daemon.telemetry.tls.proxy.keyFile: certFile and keyFile go together',
    ]);
    assert.deepEqual(proxyErrors('clientCaFile: ca.pem, proxy: { caFile: ca.pem, serverName: umbrad }'), [
      'daemon.telemetry.tls.proxy.certFile: required when clientCaFile is set: the telemetry port asks the proxies for one',
    ]);
    assert.deepEqual(proxyErrors('proxy: { caFile: ca.pem, serverName: umbrad, sni: x }'), [
      'daemon.telemetry.tls.proxy.sni: unknown setting',
    ]);
  });

  test('alert webhooks must be http(s) URLs', () => {
    assert.deepEqual(errorsOf('daemon: { alerts: { webhook: "ftp://x/y" } }'), [
      'daemon.alerts.webhook: must be an http(s) URL',
    ]);
    const r = parseConfig('daemon: { alerts: { webhook: "https://hooks.example.com/umbra", timeout: 2s } }');
    assert.ok(r.ok);
    assert.equal(r.config.daemon.alerts.timeout, 2000);
  });

  test('an unknown provisioner kind is refused', () => {
    const errors = errorsOf(
      'services: [{ name: a, stable: v1, provisioner: { kind: kubernetes, versions: {} } }]',
    );
    assert.deepEqual(errors, ['services[0].provisioner.kind: must be process, static or exec']);
  });

  test('missing required fields and wrong types', () => {
    const errors = errorsOf(
      'services: [{ name: a, provisioner: { kind: static, versions: {} } }]\ndaemon: 3',
    );
    assert.deepEqual(errors.sort(), [
      'daemon: must be an object (got number)',
      'services[0].stable: required',
    ]);
  });

  test('broken YAML and an unreadable file are one clear error each', () => {
    assert.match(errorsOf('a: [')[0]!, /^yaml: /);
    const r = loadConfig('/nonexistent/umbra.yaml');
    assert.deepEqual(r.ok ? [] : r.errors, ['/nonexistent/umbra.yaml: cannot read (ENOENT)']);
  });
});

describe('durations and addresses', () => {
  test('parseDuration accepts units, sums and bare seconds', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration(1.5), 1500);
    assert.equal(parseDuration('5 minutes'), undefined);
    assert.equal(parseDuration(-1), undefined);
    assert.equal(formatDuration(90_000), '1m30s');
  });

  test('isLoopback', () => {
    assert.ok(isLoopback('127.0.0.1:1'));
    assert.ok(isLoopback('[::1]:1'));
    assert.ok(isLoopback('localhost:1'));
    assert.ok(!isLoopback('0.0.0.0:1'));
    assert.ok(!isLoopback('10.0.0.1:1'));
  });
});

describe('adaptive shadowPercentage', () => {
  const withShare = (share: string) =>
    ['services:', ...SERVICE, `    mirroring: { shadowPercentage: ${share} }`].join('\n');

  test('{adaptive: {min, max}} is read as its range, with max as the share routes and pools are made for', () => {
    const r = parseConfig(withShare('{ adaptive: { min: 1, max: 20 } }'));

    assert.ok(r.ok, r.ok ? '' : r.errors.join('; '));
    assert.equal(r.config.services[0]!.mirroring.shadowPercentage, 20);
    assert.deepEqual(r.config.services[0]!.mirroring.adaptive, { min: 1, max: 20 });
  });

  test('a plain number keeps today’s behaviour: no adaptive range', () => {
    const r = parseConfig(withShare('5'));

    assert.ok(r.ok);
    assert.equal(r.config.services[0]!.mirroring.shadowPercentage, 5);
    assert.equal(r.config.services[0]!.mirroring.adaptive, undefined);
  });

  test('min > max is refused with its path', () => {
    assert.deepEqual(errorsOf(withShare('{ adaptive: { min: 30, max: 20 } }')), [
      'services[0].mirroring.shadowPercentage.adaptive.min: must be ≤ max (20)',
    ]);
  });

  test('a max of 0, a bound out of range, and an unknown key are refused with their paths', () => {
    const zero = errorsOf(withShare('{ adaptive: { min: 0, max: 0 } }'));
    const range = errorsOf(withShare('{ adaptive: { min: 1, max: 120 } }'));
    const typo = errorsOf(withShare('{ adaptive: { min: 1, max: 20, mx: 3 } }'));

    assert.deepEqual(zero, ['services[0].mirroring.shadowPercentage.adaptive.max: must be above 0']);
    assert.deepEqual(range, ['services[0].mirroring.shadowPercentage.adaptive.max: must be 0..100']);
    assert.equal(typo.length, 1);
    assert.match(typo[0]!, /^services\[0\]\.mirroring\.shadowPercentage\.adaptive/);
  });

  test('telemetry.advertise: a reachable host:port; with the shared store an IP address, required behind a wildcard', () => {
    const pg = 'store: { postgres: { url: "postgres://u@db/umbra" } }';
    const daemon = (telemetry: string, store = '') =>
      `daemon: { telemetry: { ${telemetry}, insecure: true, requireToken: false }${store ? `, ${store}` : ''} }`;
    assert.deepEqual(errorsOf(daemon('advertise: "0.0.0.0:7071"')), [
      'daemon.telemetry.advertise: must be an address the proxies can reach, not a wildcard',
    ]);
    assert.deepEqual(errorsOf(daemon('advertise: "10.0.0.5:0"')), [
      'daemon.telemetry.advertise: must name the port the proxies reach (not 0)',
    ]);
    // One daemon (SQLite): the cluster is static, a host name is resolved by Envoy.
    assert.ok(parseConfig(daemon('listen: "0.0.0.0:7071", advertise: "umbrad-b:7071"')).ok);
    assert.ok(parseConfig(daemon('listen: "0.0.0.0:7071"')).ok);
    // Several daemons: EDS lists IP addresses only, and the others' proxies must reach this one.
    assert.deepEqual(errorsOf(daemon('listen: "0.0.0.0:7071", advertise: "umbrad-b:7071"', pg)), [
      "daemon.telemetry.advertise: umbrad-b must be an IP address with store.postgres: the proxies' telemetry cluster lists every daemon through EDS, which resolves no host names",
    ]);
    assert.deepEqual(errorsOf(daemon('listen: "0.0.0.0:7071"', pg)), [
      "daemon.telemetry.advertise: required with store.postgres when telemetry.listen is a wildcard (0.0.0.0:7071): the address the proxies reach this daemon's telemetry at",
    ]);
    assert.ok(parseConfig(daemon('listen: "0.0.0.0:7071", advertise: "10.0.0.5:7071"', pg)).ok);
    assert.ok(parseConfig(daemon('listen: "127.0.0.1:7071"', pg)).ok);
  });
});
