/**
 * xDS benchmark (`npm run bench:xds`), loopback only:
 *
 * 1. Flip: a real Envoy (concurrency 1) under a steady request stream; each
 *    flip renders and publishes the other version at weight 100 and times
 *    (a) until Envoy ACKs the route configuration and (b) until the first
 *    response from the new version arrives. FLIPS flips (default 200).
 *    For reference, the same flips through a watched route file (Envoy's own
 *    fastest path, no control plane): rename to first new-version response.
 * 2. Fan-out: 1,000 light ADS clients (another process, 10 connections),
 *    one node id each; one flip is published to every node and timed until
 *    the last ACK. ROUNDS rounds (default 5); the median is reported.
 *
 * Last line: {"bench":"xds","flip_to_ack_p99_ms":…,"flip_to_traffic_p99_ms":…,"fanout_1000_last_ack_ms":…}
 * Environment: XDS_BENCH_FLIPS, XDS_BENCH_FANOUT, XDS_BENCH_ROUNDS.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setLogLevel } from '../daemon/log.js';
import { adsBootstrap } from '../daemon/xds/bootstrap.js';
import type { DesiredRouting } from '../daemon/xds/resources/desired.js';
import { renderService } from '../daemon/xds/resources/render.js';
import { type AckEvent, XdsServer } from '../daemon/xds/server.js';
import { createSnapshot, type Snapshot } from '../daemon/xds/snapshot.js';
import { ROUTE_TYPE } from '../daemon/xds/type-urls.js';
import { freePort, quantile, startEnvoy } from '../test/harness/index.js';
import { fileFlipBench } from './xds-file-baseline.js';
import { now, startTraffic } from './xds-traffic-driver.js';

const FLIPS = Number(process.env['XDS_BENCH_FLIPS'] ?? 200);
const FANOUT = Number(process.env['XDS_BENCH_FANOUT'] ?? 1000);
const ROUNDS = Number(process.env['XDS_BENCH_ROUNDS'] ?? 5);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function must(input: ReturnType<typeof renderService>): Snapshot {
  const r = createSnapshot(input);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.snapshot;
}

function fmt(v: number): number {
  return Math.round(v * 100) / 100;
}

async function flipBench(xds: XdsServer) {
  const traffic = await startTraffic();
  const [v1Port, v2Port] = traffic.ports;
  const listenerPort = await freePort();
  const nodeId = 'bench-envoy';
  const desired = (target: string): DesiredRouting => ({
    service: 'shop',
    listener: { name: 'shop', port: listenerPort, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: v1Port }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: v2Port }] },
    ],
    weights: { [target]: 100 },
  });
  const first = must(renderService(desired('v1')));
  xds.setSnapshot(nodeId, first);
  const adminPort = await freePort();
  const envoy = await startEnvoy(undefined, {
    name: 'bench-xds',
    config: adsBootstrap({ nodeId, xdsHost: '127.0.0.1', xdsPort: xds.port, adminPort }),
    concurrency: 1,
    logLevel: 'warning',
  });
  await xds.waitForAck(nodeId, ROUTE_TYPE, first.types.get(ROUTE_TYPE)!.version, 10_000);
  traffic.load(`http://127.0.0.1:${listenerPort}/`);
  await traffic.expect('v1', now());
  await sleep(300);
  let current = 'v1';
  const toAck: number[] = [];
  const toTraffic: number[] = [];
  const toPublish: number[] = [];
  try {
    for (let i = 0; i < FLIPS; i++) {
      const target = current === 'v1' ? 'v2' : 'v1';
      current = target;
      const t0 = now();
      const served = traffic.expect(target, t0);
      const snapshot = must(renderService(desired(target)));
      const acked = xds.waitForAck(nodeId, ROUTE_TYPE, snapshot.types.get(ROUTE_TYPE)!.version, 5000);
      const publishedAt = now();
      xds.setSnapshot(nodeId, snapshot);
      await acked;
      const ackedAt = now();
      const trafficAt = await Promise.race([served, sleep(5000).then(() => Number.NaN)]);
      toPublish.push(publishedAt - t0);
      toAck.push(ackedAt - t0);
      toTraffic.push(trafficAt - t0);
      await sleep(10);
    }
  } finally {
    await traffic.stop();
    await envoy.stop();
  }
  const valid = toTraffic.filter((v) => Number.isFinite(v));
  return {
    flips: FLIPS,
    renderP50: quantile(toPublish, 0.5),
    renderP99: quantile(toPublish, 0.99),
    ackP50: quantile(toAck, 0.5),
    ackP99: quantile(toAck, 0.99),
    trafficP50: quantile(valid, 0.5),
    trafficP99: quantile(valid, 0.99),
    missed: toTraffic.length - valid.length,
  };
}

async function fanoutBench(xds: XdsServer) {
  const prefix = 'fan';
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(new URL('./xds-fanout-clients.ts', import.meta.url)),
      String(xds.port),
      String(FANOUT),
      '10',
      prefix,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const desired = (target: string): DesiredRouting => ({
    service: 'shop',
    listener: { name: 'shop', port: 10000, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 9001 }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: 9002 }] },
    ],
    weights: { [target]: 100 },
  });
  const nodes = Array.from({ length: FANOUT }, (_, i) => `${prefix}-${i}`);
  const start = must(renderService(desired('v1')));
  for (const n of nodes) xds.setSnapshot(n, start);
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l === 'ready' && resolve());
    child.on('exit', (code) => reject(new Error(`fan-out clients exited (${code})`)));
  });
  await Promise.race([
    ready,
    sleep(60_000).then(() => Promise.reject(new Error('fan-out clients not ready in 60 s'))),
  ]);
  const rounds: number[] = [];
  let current = 'v1';
  try {
    for (let r = 0; r < ROUNDS; r++) {
      current = current === 'v1' ? 'v2' : 'v1';
      const t0 = performance.now();
      const snapshot = must(renderService(desired(current)));
      const version = snapshot.types.get(ROUTE_TYPE)!.version;
      const pending = new Set(nodes);
      const done = new Promise<number>((resolve) => {
        const onAck = (e: AckEvent): void => {
          if (e.typeUrl !== ROUTE_TYPE || e.version !== version || !pending.delete(e.nodeId)) return;
          if (pending.size === 0) {
            xds.off('ack', onAck);
            resolve(performance.now());
          }
        };
        xds.on('ack', onAck);
      });
      for (const n of nodes) xds.setSnapshot(n, snapshot);
      const last = await Promise.race([done, sleep(30_000).then(() => Number.NaN)]);
      rounds.push(last - t0);
      await sleep(200);
    }
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
  }
  return { clients: FANOUT, rounds };
}

async function main(): Promise<void> {
  setLogLevel('warn');
  const xds = await XdsServer.start({ port: 0 });
  try {
    const flip = await flipBench(xds);
    console.log(
      `flip (${flip.flips} flips, Envoy 1 worker): to ACK p50 ${fmt(flip.ackP50)} ms p99 ${fmt(flip.ackP99)} ms; ` +
        `to first new-version response p50 ${fmt(flip.trafficP50)} ms p99 ${fmt(flip.trafficP99)} ms; ` +
        `missed ${flip.missed}; ` +
        `render+snapshot p50 ${fmt(flip.renderP50)} ms p99 ${fmt(flip.renderP99)} ms`,
    );
    const file = await fileFlipBench(FLIPS);
    console.log(
      `file flip (${file.length} flips, same Envoy setup): rename to first new-version response ` +
        `p50 ${fmt(quantile(file, 0.5))} ms p99 ${fmt(quantile(file, 0.99))} ms`,
    );
    const fan = await fanoutBench(xds);
    const sorted = [...fan.rounds].sort((a, b) => a - b);
    console.log(
      `fan-out (${fan.clients} ADS clients, 10 connections): last ACK per round ${fan.rounds.map(fmt).join(', ')} ms`,
    );
    console.log(
      JSON.stringify({
        bench: 'xds',
        flip_to_ack_p99_ms: fmt(flip.ackP99),
        flip_to_traffic_p99_ms: fmt(flip.trafficP99),
        fanout_1000_last_ack_ms: fmt(quantile(sorted, 0.5)),
        flip_to_ack_p50_ms: fmt(flip.ackP50),
        flip_to_traffic_p50_ms: fmt(flip.trafficP50),
        fanout_1000_last_ack_max_ms: fmt(sorted[sorted.length - 1]!),
        file_flip_to_traffic_p50_ms: fmt(quantile(file, 0.5)),
        file_flip_to_traffic_p99_ms: fmt(quantile(file, 0.99)),
      }),
    );
  } finally {
    await xds.close();
  }
}

await main();
