/**
 * The reference point for the xDS flip: the same Envoy (concurrency 1) and
 * traffic, but the route configuration comes from a watched file, and a flip
 * is an atomic rename of a new file into place. Times from the rename to the
 * first response from the new version.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminBlock, freePort, startEnvoy, staticCluster } from '../test/harness/index.js';
import { now, startTraffic } from './xds-traffic-driver.js';

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTES = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

function routeFile(cluster: string): string {
  return JSON.stringify({
    resources: [
      {
        '@type': ROUTES,
        name: 'file-routes',
        virtual_hosts: [
          { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
        ],
      },
    ],
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `flips` file flips; returns the times to the first new-version response (ms). */
export async function fileFlipBench(flips: number): Promise<number[]> {
  const traffic = await startTraffic();
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-routes-'));
  const path = join(dir, 'routes.json');
  writeFileSync(path, routeFile('v1'));
  const listenerPort = await freePort();
  const config = {
    node: { id: 'bench-file', cluster: 'bench' },
    admin: adminBlock(await freePort()),
    static_resources: {
      clusters: [
        staticCluster({ name: 'v1', port: traffic.ports[0] }),
        staticCluster({ name: 'v2', port: traffic.ports[1] }),
      ],
      listeners: [
        {
          name: 'file',
          address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': HCM,
                    stat_prefix: 'file',
                    rds: {
                      route_config_name: 'file-routes',
                      config_source: { path_config_source: { path, watched_directory: { path: dir } } },
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  };
  const envoy = await startEnvoy(undefined, {
    name: 'bench-file',
    config,
    concurrency: 1,
    logLevel: 'warning',
  });
  const out: number[] = [];
  try {
    traffic.load(`http://127.0.0.1:${listenerPort}/`);
    await traffic.expect('v1', now());
    await sleep(300);
    let current = 'v1';
    for (let i = 0; i < flips; i++) {
      current = current === 'v1' ? 'v2' : 'v1';
      const staged = join(dir, `.routes-${i}.json`);
      writeFileSync(staged, routeFile(current));
      const t0 = now();
      const served = traffic.expect(current, t0);
      renameSync(staged, path);
      const at = await Promise.race([served, sleep(5000).then(() => Number.NaN)]);
      out.push(at - t0);
      await sleep(10);
    }
  } finally {
    await traffic.stop();
    await envoy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out.filter((v) => Number.isFinite(v));
}
