/**
 * The xDS server against a second, independent client: proxyless gRPC
 * (@grpc/grpc-js-xds) resolving `xds:///shop` through the same server, in a
 * child process, calling two real gRPC backends.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DesiredRouting } from '../../../daemon/xds/resources/desired.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { XdsServer } from '../../../daemon/xds/server.js';
import { mustSnapshot, waitAllAcked } from './fixture.js';
import { startEcho } from './grpc-echo.js';

interface CallResult {
  counts: Record<string, number>;
  errors: number;
  firstError: string;
}

function startChild(xdsPort: number, nodeId: string): { call(n: number): Promise<CallResult>; stop(): void } {
  const bootstrap = {
    xds_servers: [
      { server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: [] },
    ],
    node: { id: nodeId, locality: {} },
  };
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./grpc-client-child.ts', import.meta.url)), 'xds:///shop'],
    { env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) }, stdio: 'pipe' },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 100_000) stderr += d.toString();
  });
  const replies = createInterface({ input: child.stdout });
  const pending: Array<(r: CallResult) => void> = [];
  replies.on('line', (line) => pending.shift()?.(JSON.parse(line) as CallResult));
  return {
    call(n) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`child did not answer; stderr: ${stderr.slice(-2000)}`)),
          30_000,
        );
        pending.push((r) => {
          clearTimeout(timer);
          resolve(r);
        });
        child.stdin.write(`call ${n}\n`);
      });
    },
    stop() {
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    },
  };
}

test('a proxyless gRPC client resolves xds:///shop through the server and follows weight flips', async (t) => {
  const xds = await XdsServer.start({ port: 0 });
  const v1 = await startEcho('v1');
  const v2 = await startEcho('v2');
  const nodeId = 'grpc-client';
  const desired = (weights: Record<string, number>): DesiredRouting => ({
    service: 'shop',
    listener: { name: 'shop', port: 1, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: v1.port }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: v2.port }] },
    ],
    weights,
  });
  const first = mustSnapshot(renderService(desired({ v1: 100 }), { proxy: 'grpc' }));
  xds.setSnapshot(nodeId, first);
  const client = startChild(xds.port, nodeId);
  t.after(async () => {
    client.stop();
    v1.close();
    v2.close();
    await xds.close();
  });

  const onV1 = await client.call(20);
  await waitAllAcked(xds, nodeId, first);
  const flipped = mustSnapshot(renderService(desired({ v2: 100 }), { proxy: 'grpc' }));
  xds.setSnapshot(nodeId, flipped);
  // The client subscribes to shop-v2's cluster and endpoints only once the route names it.
  let settle: CallResult | undefined;
  for (let i = 0; i < 50; i++) {
    settle = await client.call(5);
    if (settle.counts['v2'] === 5) break;
  }
  const onV2 = await client.call(20);
  const split = mustSnapshot(renderService(desired({ v1: 50, v2: 50 }), { proxy: 'grpc' }));
  xds.setSnapshot(nodeId, split);
  await waitAllAcked(xds, nodeId, split);
  const both = await client.call(100);
  const status = xds.status(nodeId)!;

  assert.deepEqual(onV1, { counts: { v1: 20 }, errors: 0, firstError: '' });
  assert.deepEqual(onV2, { counts: { v2: 20 }, errors: 0, firstError: '' });
  assert.equal(both.errors, 0);
  // 50/50 over 100 calls: each side ≥ 20 is ~6 sd away from failing by chance.
  assert.ok((both.counts['v1'] ?? 0) >= 20 && (both.counts['v2'] ?? 0) >= 20, JSON.stringify(both.counts));
  assert.equal(status.lastNack, undefined);
  assert.deepEqual(status.acked, status.snapshot);
});
