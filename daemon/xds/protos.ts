/**
 * Envoy's xDS protos, loaded once from the copies that ship inside
 * @grpc/grpc-js-xds (deps/envoy-api, googleapis, xds, protoc-gen-validate).
 *
 * One protobufjs root serves two purposes: @grpc/proto-loader builds the ADS
 * service definition from it (for @grpc/grpc-js), and the resource encoder
 * looks message types up in it, so the bytes inside every `Any` come from
 * the same definitions the service uses. Nothing is loaded at import time;
 * the first call to {@link xdsProtos} pays ~0.2 s.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** The .proto files the server and the renderer need (their imports follow). */
const ENTRY_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/wasm/v3/wasm.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'google/protobuf/wrappers.proto',
];

/** The loaded definitions. Immutable after load; share freely. */
export interface XdsProtos {
  /** protobufjs root (field names as in the .proto files: snake_case). */
  root: protobuf.Root;
  /** `envoy.service.discovery.v3.AggregatedDiscoveryService` for grpc-js. */
  adsService: ServiceDefinition;
  /** Decoded-request type, for tests and tools that speak ADS directly. */
  discoveryRequest: protobuf.Type;
  discoveryResponse: protobuf.Type;
}

let loaded: XdsProtos | undefined;

/** Directory holding the proto trees inside @grpc/grpc-js-xds. */
export function protoDepsDir(): string {
  const main = require.resolve('@grpc/grpc-js-xds');
  return join(dirname(main), '..', '..', 'deps');
}

function loadRoot(): protobuf.Root {
  const deps = protoDepsDir();
  const includeDirs = ['envoy-api', 'googleapis', 'xds', 'protoc-gen-validate'].map((d) => join(deps, d));
  // NOTE: protobufjs bundles only some well-known types; descriptor.proto
  // (imported by the validate/udpa annotations) must be registered, as
  // @grpc/proto-loader itself does.
  const descriptor = require('protobufjs/google/protobuf/descriptor.json');
  protobuf.common('descriptor', descriptor.nested.google.nested.protobuf.nested);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(ENTRY_FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

/** Loads (once) and returns the xDS definitions. */
export function xdsProtos(): XdsProtos {
  if (loaded) return loaded;
  const root = loadRoot();
  const definition = protoLoader.fromJSON(root.toJSON(), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const adsService = definition['envoy.service.discovery.v3.AggregatedDiscoveryService'] as ServiceDefinition;
  loaded = {
    root,
    adsService,
    discoveryRequest: root.lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    discoveryResponse: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
  };
  return loaded;
}
