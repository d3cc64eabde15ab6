/**
 * The umbra.yaml of an in-process daemon (startUmbrad) in a test: every
 * listener on a port the daemon picks (0), token files and the store in
 * `dir`, the proxy `envoy-1`; `services` and extra admin keys as the test
 * needs them. Fails the test with the config's own errors when invalid.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseConfig } from '../../daemon/config/load.js';
import type { UmbraConfig } from '../../daemon/config/schema.js';

export function inProcessConfig(dir: string, services: object[], admin: object = {}): UmbraConfig {
  const parsed = parseConfig(
    JSON.stringify({
      daemon: {
        // The daemon accepts records only from the proxies and for the services it configures.
        xds: { listen: '127.0.0.1:0', nodes: ['envoy-1'] },
        telemetry: { tokenFile: join(dir, 'telemetry.token') },
        admin: { listen: '127.0.0.1:0', tokenFile: join(dir, 'admin.token'), ...admin },
        store: { path: join(dir, 'umbra.db') },
      },
      services,
    }),
  );
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('\n'));
  return parsed.config;
}
