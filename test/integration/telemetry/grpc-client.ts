/**
 * A telemetry client over real gRPC (@grpc/grpc-js) that encodes with
 * protobufjs through @grpc/proto-loader: an encoder independent of the
 * daemon's hand-rolled decoder. For tests that play a filter, or a forger.
 */
import * as grpc from '@grpc/grpc-js';
import { CONTROL_ACK } from '../../../daemon/telemetry/server.js';
import { telemetryPackage } from '../../harness/index.js';

const pkg = telemetryPackage({ longs: Number, enums: Number, defaults: true });

type Duplex = grpc.ClientDuplexStream<Record<string, unknown>, Record<string, unknown>>;

/** One open stream: what it received, split into acks and ordered controls, and how it ended. */
export interface TelemetryStream {
  call: Duplex;
  controls: Record<string, unknown>[];
  acks: number[];
  status(): grpc.StatusObject | undefined;
}

/** A client of `127.0.0.1:port`; `close()` it when done. */
export function telemetryClient(
  port: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): grpc.Client & { Stream(metadata?: grpc.Metadata): Duplex } {
  return new pkg.umbra.telemetry.v1.Telemetry(
    `127.0.0.1:${port}`,
    credentials,
    options,
  ) as unknown as grpc.Client & {
    Stream(metadata?: grpc.Metadata): Duplex;
  };
}

/** Opens a stream on `client`, with initial `metadata` when given. */
export function openStream(
  client: ReturnType<typeof telemetryClient>,
  metadata?: grpc.Metadata,
): TelemetryStream {
  const call = metadata ? client.Stream(metadata) : client.Stream();
  const controls: Record<string, unknown>[] = [];
  const acks: number[] = [];
  let status: grpc.StatusObject | undefined;
  call.on('data', (m: Record<string, unknown>) =>
    m['kind'] === CONTROL_ACK ? acks.push(Number(m['ackedSequence'])) : controls.push(m),
  );
  call.on('error', () => {});
  call.on('status', (s: grpc.StatusObject) => {
    status = s;
  });
  return { call, controls, acks, status: () => status };
}
