/** A one-method gRPC service on raw bytes: the server answers with its own name. */
import * as grpc from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/umbra.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Starts an Echo server on a free loopback port that answers `name`. */
export async function startEcho(name: string): Promise<{ port: number; close(): void }> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.from(name)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, close: () => server.forceShutdown() };
}
