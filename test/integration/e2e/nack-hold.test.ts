/**
 * A configuration a real Envoy refuses (NACK) is attributed, reported and
 * holds the rollout: the real daemon publishes a listener on a port another
 * process holds, so Envoy refuses the listener. Before any deployment the
 * refusal shows in `status` (never idle) and /metrics, and the alert is sent
 * at once; a deployment started while it stands is held with Envoy's error,
 * and provisioning its candidate is not blamed for it (no rollback). Once
 * the port is free and the proxy restarts, it accepts the listener: the
 * refusal clears and the deployment goes on.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import test from 'node:test';
import { renderStatus } from '../../../daemon/cli/commands/render.js';
import { startUpstream, waitFor } from '../../harness/index.js';
import { connectAdmin, startDaemon, startProxy, staticShop } from './daemon.js';

interface Alert {
  key: string;
  severity: string;
  message: string;
  deploymentId: string;
}

test('a listener Envoy refuses holds the rollout, is reported with its error, and alerts at once', {
  skip: process.platform === 'linux' ? false : 'needs Linux',
  timeout: 180_000,
}, async (t) => {
  // Arrange: the service's listen port is taken by another process; a webhook receiver.
  const v1 = await startUpstream(t, { body: 'v1' });
  const v2 = await startUpstream(t, { body: 'v2' });
  const alerts: Alert[] = [];
  const webhook = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      alerts.push(JSON.parse(body) as Alert);
      res.end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  t.after(() => webhook.close());
  const hookPort = (webhook.address() as { port: number }).port;
  // Something else holds the port the service's listener asks for: Envoy will refuse the listener.
  const squatter = createTcpServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  t.after(() => squatter.close());
  const listen = (squatter.address() as { port: number }).port;
  const daemon = await startDaemon(
    t,
    {
      node: 'edge',
      daemonExtra: `  alerts: { webhook: 'http://127.0.0.1:${hookPort}/hook' }\n`,
      services: `${staticShop(listen, { v1: v1.port, v2: v2.port })}    rollout: { shadowDuration: 10m }\n`,
    },
    ['--metrics', '127.0.0.1:0'],
  );
  const { metrics } = daemon.ports;
  const client = await connectAdmin(t, daemon);

  // Act 1: a real Envoy gets the listener and refuses it.
  const first = await startProxy(t, daemon, { name: 'nack' });
  const status = async () => (await client.status('shop')).services[0]!;
  const refusal = await waitFor('the refusal in status', async () => (await status()).refusals[0]);

  // Assert 1: attributed (node, LDS, the listener), with Envoy's error; status not idle; alert sent; counted.
  assert.equal(refusal.node, 'edge');
  assert.equal(refusal.type, 'LDS');
  assert.deepEqual(refusal.resources, ['shop-ingress']);
  assert.match(refusal.message, /address already in use|cannot bind/i);
  const text = renderStatus([await status()], Date.now());
  assert.doesNotMatch(text, /\bidle\b/);
  assert.match(text, /refused by proxy/);
  const idleAlert = await waitFor('the alert', async () =>
    alerts.find((a) => a.key.includes(':rejected:edge:LDS:')),
  );
  assert.equal(idleAlert.severity, 'critical');
  assert.match(idleAlert.message, /refused LDS/);
  const exposition = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
  assert.match(exposition, /^umbra_xds_nacks_total\{service="shop",type="LDS"\} [1-9]/m);
  assert.match(exposition, /^umbra_xds_refusals_standing\{service="shop"\} 1$/m);

  // Act 2: deploy v2 while the refusal stands.
  const { deployment } = await client.deploy('shop', 'v2');
  // The hold's alert goes first; then the candidate is provisioned (and routing published) while held.
  await waitFor('the deployment’s hold alert', async () =>
    alerts.find((a) => a.deploymentId === deployment.id && a.key.includes(':rejected:')),
  );
  await waitFor('the candidate provisioned while held', async () =>
    (await status()).pools.some((p) => p.version === 'v2' && p.ready >= 1),
  );

  // Assert 2: held with Envoy's error, never rolled back; promote and resume refused; in history.
  const d = (await status()).deployment!;
  assert.equal(d.phase, 'provisioning');
  assert.equal(d.paused, true);
  assert.match(
    d.pausedReason,
    /^held: proxy edge refused LDS \S+ \(shop-ingress\): .*(address already in use|cannot bind)/i,
  );
  assert.match(
    (await client.command('shop', 'resume').catch((e: Error) => ({ message: e.message }))).message,
    /still refuses LDS/,
  );
  const history = await client.history('shop');
  const transitions = history[0]!.transitions;
  assert.ok(
    transitions.some((tr) => tr.event === 'rejected' && /refused LDS/.test(tr.reason)),
    JSON.stringify(transitions),
  );
  assert.ok(!transitions.some((tr) => tr.to === 'rolling_back'), 'no rollback');

  // Act 3: the port is freed and the proxy restarts: it accepts the very listener it refused.
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  await first.stop();
  await startProxy(t, daemon, { name: 'nack-again' });

  // Assert 3: the refusal clears and the hold it caused lifts: the ready candidate goes on to shadowing.
  await waitFor('shadowing', async () => (await status()).deployment?.phase === 'shadowing');
  assert.deepEqual((await status()).refusals, []);
  const after = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
  assert.match(after, /^umbra_xds_refusals_standing\{service="shop"\} 0$/m);
});
