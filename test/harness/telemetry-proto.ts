/**
 * The published telemetry contract (proto/umbra/telemetry/v1) loaded with
 * protobufjs through @grpc/proto-loader: an encoding independent of the
 * daemon's own decoder, for the tests' clients and servers and the forger.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { projectRoot } from '../../daemon/platform/envoy-binary.js';

export interface TelemetryPackage {
  umbra: { telemetry: { v1: { Telemetry: grpc.ServiceClientConstructor } } };
}

/** The package, its messages shaped by `options` (how longs, enums and bytes come out). */
export function telemetryPackage(options: protoLoader.Options): TelemetryPackage {
  const proto = join(projectRoot(), 'proto', 'umbra', 'telemetry', 'v1', 'telemetry.proto');
  return grpc.loadPackageDefinition(protoLoader.loadSync(proto, options)) as unknown as TelemetryPackage;
}
