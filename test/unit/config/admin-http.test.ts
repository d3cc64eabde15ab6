/** `daemon.admin.httpListen` (the live page): off unless set, bound like the admin port's other rules. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../daemon/config/load.js';

function errorsOf(text: string): string[] {
  const r = parseConfig(text);
  return r.ok ? [] : r.errors;
}

test('the admin HTTP address is off by default and follows the admin port rules', () => {
  const r = parseConfig('daemon: {}');
  assert.ok(r.ok);
  assert.equal(r.config.daemon.admin.httpListen, undefined);
  assert.deepEqual(errorsOf('daemon: { admin: { httpListen: "127.0.0.1:7073" } }'), []);
  assert.deepEqual(errorsOf('daemon: { admin: { httpListen: "0.0.0.0:7073" } }'), [
    'daemon.admin.httpListen: a non-loopback address needs tls (or insecure: true)',
  ]);
  assert.deepEqual(errorsOf('daemon: { admin: { httpListen: "127.0.0.1:7071" } }'), [
    'daemon.telemetry.listen: 127.0.0.1:7071 is the same port as daemon.admin.httpListen (127.0.0.1:7071)',
  ]);
  // (like daemon.admin.listen, a malformed address also trips the port and loopback rules after it)
  assert.equal(
    errorsOf('daemon: { admin: { httpListen: "nope" } }')[0],
    'daemon.admin.httpListen: must be host:port, e.g. 127.0.0.1:7070',
  );
});
