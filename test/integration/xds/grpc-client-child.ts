/**
 * A proxyless gRPC client (grpc-js + @grpc/grpc-js-xds) in its own process,
 * so the xDS client's process-wide state stays out of the test runner.
 * Bootstrap: GRPC_XDS_BOOTSTRAP_CONFIG (set by the parent). Target: argv[2].
 *
 * Reads lines `call N` on stdin, makes N unary calls, and answers one JSON
 * line `{"counts":{"v1":n,...},"errors":n,"firstError":"..."}`.
 */
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { ECHO_SERVICE } from './grpc-echo.js';

xds.register();
const target = process.argv[2] ?? 'xds:///shop';
const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
const client = new Echo(target, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
  Echo(req: Buffer, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
};

function callOnce(): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Echo(Buffer.from('hi'), { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res!.toString()),
    );
  });
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd !== 'call') return;
  const counts: Record<string, number> = {};
  let errors = 0;
  let firstError = '';
  for (let i = 0; i < Number(arg); i++) {
    try {
      const who = await callOnce();
      counts[who] = (counts[who] ?? 0) + 1;
    } catch (err) {
      errors++;
      firstError ||= (err as Error).message;
    }
  }
  process.stdout.write(`${JSON.stringify({ counts, errors, firstError })}\n`);
});
lines.on('close', () => {
  client.close();
  process.exit(0);
});
