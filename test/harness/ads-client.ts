/**
 * A minimal ADS client for protocol tests: real gRPC, hand-written requests,
 * responses queued for the test to take one at a time.
 */
import * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../../daemon/xds/ads-stream.js';
import { decodeResource, resourceName } from '../../daemon/xds/encode.js';
import { xdsProtos } from '../../daemon/xds/protos.js';

export interface RawAdsStream {
  send(req: DiscoveryRequest): void;
  /** The next response, or undefined after `timeoutMs`. */
  next(timeoutMs?: number): Promise<DiscoveryResponse | undefined>;
  /** ACKs (or NACKs with `error`) a response, keeping the given names. */
  reply(res: DiscoveryResponse, names?: string[], error?: string): void;
  /** Resolves with the gRPC status when the server ends the stream. */
  ended: Promise<grpc.StatusObject>;
  cancel(): void;
  close(): void;
}

let Client: grpc.ServiceClientConstructor | undefined;

/** A grpc-js client of the AggregatedDiscoveryService. */
export type AdsClient = grpc.Client & {
  StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
};

export function adsClient(port: number): AdsClient {
  Client ??= grpc.makeClientConstructor(xdsProtos().adsService, 'AggregatedDiscoveryService');
  return new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as AdsClient;
}

export function openAds(client: AdsClient, nodeId: string): RawAdsStream {
  const call = client.StreamAggregatedResources();
  const queue: DiscoveryResponse[] = [];
  const waiters: Array<(r: DiscoveryResponse) => void> = [];
  call.on('data', (r: DiscoveryResponse) => {
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => {});
  let first = true;
  const stream: RawAdsStream = {
    send(req) {
      call.write(first ? { ...req, node: { id: nodeId } } : req);
      first = false;
    },
    next(timeoutMs = 2000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          resolve(undefined);
        }, timeoutMs);
        const w = (r: DiscoveryResponse): void => {
          clearTimeout(timer);
          resolve(r);
        };
        waiters.push(w);
      });
    },
    reply(res, names = [], error) {
      stream.send({
        type_url: res.type_url,
        version_info: res.version_info,
        response_nonce: res.nonce,
        resource_names: names,
        ...(error ? { error_detail: { code: 3, message: error } } : {}),
      });
    },
    ended,
    cancel: () => call.cancel(),
    close: () => call.end(),
  };
  return stream;
}

/**
 * Every resource a node gets of `types` over one ADS stream, asked for in
 * order and each response ACKed, as the encoded bytes (hex) by
 * `<type> <name>`. `names` lists the resources of types that are asked for
 * by name (endpoints, routes).
 */
export async function fetchResources(
  port: number,
  nodeId: string,
  types: readonly string[],
  names: Record<string, string[]> = {},
  timeoutMs = 10_000,
): Promise<Map<string, string>> {
  const client = adsClient(port);
  const ads = openAds(client, nodeId);
  const out = new Map<string, string>();
  try {
    for (const type of types) {
      const resource_names = names[type] ?? [];
      ads.send({ type_url: type, resource_names });
      const res = await ads.next(timeoutMs);
      if (!res) throw new Error(`no ${type} from 127.0.0.1:${port} within ${timeoutMs} ms`);
      ads.reply(res, resource_names);
      for (const r of res.resources) {
        const name = resourceName(type, decodeResource(r));
        out.set(`${type} ${name}`, Buffer.from(r.value).toString('hex'));
      }
    }
  } finally {
    ads.cancel();
    client.close();
  }
  return out;
}
