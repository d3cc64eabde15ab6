/**
 * Light ADS clients for the xDS fan-out benchmark, run as a child process:
 * N streams (node ids `<prefix>-<i>`) spread over a few HTTP/2 connections,
 * each subscribing like an Envoy (CDS and LDS wildcard, EDS and RDS by name)
 * and ACKing every response at once.
 *
 *   node --import tsx bench/xds-fanout-clients.ts <xdsPort> <streams> <connections> <prefix>
 *
 * Prints `ready` on stdout when every stream holds the first route
 * configuration; ends when stdin closes.
 */
import * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../daemon/xds/ads-stream.js';
import { xdsProtos } from '../daemon/xds/protos.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../daemon/xds/type-urls.js';

type AdsClient = grpc.Client & {
  StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
};

const [port, streams, connections, prefix] = [
  Number(process.argv[2]),
  Number(process.argv[3] ?? 1000),
  Number(process.argv[4] ?? 10),
  process.argv[5] ?? 'fan',
];
const Client = grpc.makeClientConstructor(xdsProtos().adsService, 'AggregatedDiscoveryService');
const clients: AdsClient[] = [];
for (let c = 0; c < connections; c++) {
  // A local subchannel pool per client: one HTTP/2 connection each.
  clients.push(
    new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    }) as unknown as AdsClient,
  );
}

const NAMES: Record<string, string[]> = {
  [ENDPOINT_TYPE]: ['shop-v1', 'shop-v2'],
  [ROUTE_TYPE]: ['shop-routes'],
};
let withRoutes = 0;
const calls: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>[] = [];
for (let i = 0; i < streams; i++) {
  const call = clients[i % connections]!.StreamAggregatedResources();
  calls.push(call);
  let gotRoutes = false;
  call.on('data', (r: DiscoveryResponse) => {
    call.write({
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names: NAMES[r.type_url] ?? [],
    });
    if (r.type_url === ROUTE_TYPE && !gotRoutes) {
      gotRoutes = true;
      if (++withRoutes === streams) process.stdout.write('ready\n');
    }
  });
  call.on('error', () => {});
  call.write({ node: { id: `${prefix}-${i}` }, type_url: CLUSTER_TYPE });
  call.write({ type_url: ENDPOINT_TYPE, resource_names: NAMES[ENDPOINT_TYPE]! });
  call.write({ type_url: LISTENER_TYPE });
  call.write({ type_url: ROUTE_TYPE, resource_names: NAMES[ROUTE_TYPE]! });
}

process.stdin.resume();
process.stdin.on('end', () => {
  for (const call of calls) call.cancel();
  for (const c of clients) c.close();
  process.exit(0);
});
