/**
 * The per-stream protocol state machine on its own: requests in, responses
 * and events out, with a host that holds one snapshot.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AdsStream,
  blamedResources,
  type DiscoveryResponse,
  type StreamEvent,
  StreamProtocolError,
} from '../../../daemon/xds/ads-stream.js';
import { renderService } from '../../../daemon/xds/resources/render.js';
import { createSnapshot, type Snapshot } from '../../../daemon/xds/snapshot.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../daemon/xds/type-urls.js';

function snapshot(weights: Record<string, number>, http2 = false): Snapshot {
  const r = createSnapshot(
    renderService({
      service: 'shop',
      listener: { name: 'shop', port: 10000, address: '127.0.0.1' },
      versions: [
        { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 9001 }] },
        { name: 'v2', endpoints: [{ address: '127.0.0.1', port: 9002 }] },
      ],
      weights,
      upstreamHttp2: http2,
    }),
  );
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.snapshot;
}

function rig(initial: Snapshot | undefined) {
  const host = { current: initial, events: [] as StreamEvent[] };
  const sent: DiscoveryResponse[] = [];
  const stream = new AdsStream(
    { opened: () => {}, snapshot: () => host.current, report: (_s, e) => host.events.push(e) },
    (r) => sent.push(r),
  );
  const ack = (r: DiscoveryResponse, names: string[] = [], error?: string) =>
    stream.handle({
      type_url: r.type_url,
      response_nonce: r.nonce,
      version_info: r.version_info,
      resource_names: names,
      ...(error ? { error_detail: { code: 3, message: error } } : {}),
    });
  return { host, sent, stream, ack };
}

const EDS_NAMES = ['shop-v1', 'shop-v2'];

function subscribeAll(r: ReturnType<typeof rig>): void {
  r.stream.handle({ node: { id: 'n' }, type_url: CLUSTER_TYPE });
  r.stream.handle({ type_url: ENDPOINT_TYPE, resource_names: EDS_NAMES });
  r.stream.handle({ type_url: LISTENER_TYPE });
  r.stream.handle({ type_url: ROUTE_TYPE, resource_names: ['shop-routes'] });
}

function ackAllInOrder(r: ReturnType<typeof rig>, from: number): void {
  for (let i = from; i < r.sent.length; i++) {
    const res = r.sent[i]!;
    r.ack(
      res,
      res.type_url === ENDPOINT_TYPE ? EDS_NAMES : res.type_url === ROUTE_TYPE ? ['shop-routes'] : [],
    );
  }
}

test('the first request must name the node', () => {
  const r = rig(snapshot({ v1: 1 }));

  assert.throws(() => r.stream.handle({ type_url: CLUSTER_TYPE }), StreamProtocolError);
});

test('an ADS request without a type URL ends the stream', () => {
  const r = rig(snapshot({ v1: 1 }));

  assert.throws(() => r.stream.handle({ node: { id: 'n' } }), /type_url is required/);
});

test('clusters and endpoints go out together; listener and routes wait until both are ACKed', () => {
  const r = rig(snapshot({ v1: 1 }));
  subscribeAll(r);
  assert.deepEqual(
    r.sent.map((s) => s.type_url),
    [CLUSTER_TYPE, ENDPOINT_TYPE],
  );
  r.ack(r.sent[0]!);
  assert.equal(r.sent.length, 2, 'routes wait for the endpoints too');

  r.ack(r.sent[1]!, EDS_NAMES);

  assert.deepEqual(
    r.sent.map((s) => s.type_url),
    [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE],
  );
  ackAllInOrder(r, 2);
  assert.equal(r.host.events.filter((e) => e.kind === 'ack').length, 4);
});

test('a new cluster: its endpoints are served while the CDS ACK is outstanding, routes only after', () => {
  const r = rig(snapshot({ v1: 1 }));
  subscribeAll(r);
  ackAllInOrder(r, 0);
  const edsBefore = r.sent.filter((s) => s.type_url === ENDPOINT_TYPE).at(-1)!;
  const added = renderService({
    service: 'shop',
    listener: { name: 'shop', port: 10000, address: '127.0.0.1' },
    versions: [
      { name: 'v1', endpoints: [{ address: '127.0.0.1', port: 9001 }] },
      { name: 'v2', endpoints: [{ address: '127.0.0.1', port: 9002 }] },
      { name: 'v3', endpoints: [{ address: '127.0.0.1', port: 9003 }] },
    ],
    weights: { v3: 1 },
  });
  const built = createSnapshot(added);
  assert.ok(built.ok);
  r.host.current = built.snapshot;
  const from = r.sent.length;

  r.stream.pump();
  const cds = r.sent[from]!;
  // As Envoy does: re-subscribe EDS with the new name before ACKing CDS (warming).
  const eds = r.sent[from + 1]!;
  r.ack(eds, [...EDS_NAMES, 'shop-v3']);
  const withV3 = r.sent.at(-1)!;
  const routesEarly = r.sent.some((s, i) => i >= from && s.type_url === ROUTE_TYPE);
  r.ack(withV3, [...EDS_NAMES, 'shop-v3']);
  r.ack(cds);

  assert.equal(cds.type_url, CLUSTER_TYPE);
  assert.notEqual(eds.version_info, edsBefore.version_info);
  assert.equal(withV3.type_url, ENDPOINT_TYPE);
  assert.equal(withV3.resources.length, 3);
  assert.equal(routesEarly, false);
  assert.equal(r.sent.at(-1)!.type_url, ROUTE_TYPE);
});

test('a weight flip sends only the route configuration', () => {
  const r = rig(snapshot({ v1: 1 }));
  subscribeAll(r);
  ackAllInOrder(r, 0);
  const before = r.sent.length;

  r.host.current = snapshot({ v2: 1 });
  r.stream.pump();

  assert.deepEqual(
    r.sent.slice(before).map((s) => s.type_url),
    [ROUTE_TYPE],
  );
});

test('a NACKed type is not re-sent and holds the types after it until a new version arrives', () => {
  const r = rig(snapshot({ v1: 1 }));
  subscribeAll(r);
  ackAllInOrder(r, 0);
  r.host.current = snapshot({ v2: 1 }, true);
  r.stream.pump();
  const cds = r.sent.at(-1)!;

  r.ack(cds, [], 'bad cluster');
  r.stream.pump();
  const afterNack = r.sent.length;
  r.host.current = snapshot({ v2: 1 }, false);
  r.stream.pump();

  assert.equal(cds.type_url, CLUSTER_TYPE);
  assert.deepEqual(r.host.events.at(-1), {
    kind: 'nack',
    typeUrl: CLUSTER_TYPE,
    version: cds.version_info,
    nonce: cds.nonce,
    code: 3,
    message: 'bad cluster',
    // The message names no resource: every resource of the refused response is blamed.
    resources: ['shop-v1', 'shop-v2'],
  });
  assert.equal(afterNack, r.sent.length - 1, 'nothing sent while the NACK stands, then the fixed CDS');
  assert.equal(r.sent.at(-1)!.type_url, CLUSTER_TYPE);
});

test('a NACK is attributed to the version its nonce answers and the resources its message names', () => {
  const r = rig(snapshot({ v1: 1 }));
  subscribeAll(r);
  ackAllInOrder(r, 0);
  r.host.current = snapshot({ v2: 1 }, true);
  r.stream.pump();
  const refused = r.sent.at(-1)!;
  // A later publish while the refused response is in flight is not sent yet: the NACK answers `refused`.
  r.host.current = snapshot({ v1: 1, v2: 1 }, true);
  r.stream.pump();

  r.ack(refused, [], 'Error adding/updating cluster(s) shop-v2: bad protocol options');

  const nack = r.host.events.find((e) => e.kind === 'nack');
  assert.ok(nack && nack.kind === 'nack');
  assert.equal(nack.version, refused.version_info);
  assert.deepEqual(nack.resources, ['shop-v2']);
});

test('blamedResources matches whole names only, else blames every refused resource', () => {
  assert.deepEqual(blamedResources(['shop-v1', 'shop-v10'], "listener(s) shop-v10: can't bind"), [
    'shop-v10',
  ]);
  assert.deepEqual(blamedResources(['a', 'b'], 'malformed'), ['a', 'b']);
  assert.deepEqual(blamedResources(['shop-ingress'], 'shop-ingress: x; shop-ingress again'), [
    'shop-ingress',
  ]);
});

test('a stale nonce changes nothing, names included', () => {
  const r = rig(snapshot({ v1: 1 }));
  r.stream.handle({ node: { id: 'n' }, type_url: ENDPOINT_TYPE, resource_names: ['shop-v1'] });
  const first = r.sent[0]!;

  r.stream.handle({ type_url: ENDPOINT_TYPE, response_nonce: 'old', resource_names: EDS_NAMES });

  assert.equal(r.sent.length, 1);
  assert.equal(r.host.events.at(-1)?.kind, 'stale-nonce');
  r.ack(first, ['shop-v1']);
  assert.equal(r.sent.length, 1, 'same names, same version: nothing to send');
});

test('unknown type URLs are reported and not answered', () => {
  const r = rig(snapshot({ v1: 1 }));

  r.stream.handle({ node: { id: 'n' }, type_url: 'type.googleapis.com/some.Other' });

  assert.equal(r.sent.length, 0);
  assert.deepEqual(r.host.events, [{ kind: 'unknown-type', typeUrl: 'type.googleapis.com/some.Other' }]);
});

test('a closed stream neither answers nor reports', () => {
  const r = rig(snapshot({ v1: 1 }));
  r.stream.handle({ node: { id: 'n' }, type_url: CLUSTER_TYPE });
  r.stream.close();

  r.ack(r.sent[0]!);
  r.host.current = snapshot({ v2: 1 }, true);
  r.stream.pump();

  assert.equal(r.sent.length, 1);
  assert.equal(r.host.events.length, 0);
});
