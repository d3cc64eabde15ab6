/**
 * One HTTP request of a journey step to one version's endpoint, straight
 * from the daemon (never through production's Envoy): bounded in time (the
 * journey's timeout covers connect, headers and body) and in memory (at most
 * {@link MAX_BODY_BYTES} of the body are kept). Never throws: a failure is a
 * {@link StepResponse} with `transport` set.
 */
import { request } from 'node:http';
import type { StepResponse } from './assertions.js';

/** Body bytes kept per response; beyond, the response is cut and marked truncated. */
export const MAX_BODY_BYTES = 1 << 20;

export interface StepRequest {
  host: string;
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export function sendStep(r: StepRequest): Promise<StepResponse> {
  const started = process.hrtime.bigint();
  const elapsedUs = () => Number((process.hrtime.bigint() - started) / 1000n);
  return new Promise((resolve) => {
    let done = false;
    const finish = (res: StepResponse): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(res);
    };
    const failed = (transport: NonNullable<StepResponse['transport']>): StepResponse => ({
      status: 0,
      latencyUs: elapsedUs(),
      body: Buffer.alloc(0),
      transport,
      truncated: false,
    });
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const req = request({
      host: r.host,
      port: r.port,
      method: r.method,
      path: r.path,
      headers: { ...r.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      agent: false,
    });
    const timer = setTimeout(() => {
      finish(failed('timeout'));
      req.destroy();
    }, r.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      finish(
        failed(err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' ? 'connect_failure' : 'reset'),
      );
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      res.on('data', (c: Buffer) => {
        if (kept >= MAX_BODY_BYTES) {
          truncated = true;
          return;
        }
        const part = c.subarray(0, MAX_BODY_BYTES - kept);
        if (part.length < c.length) truncated = true;
        chunks.push(part);
        kept += part.length;
      });
      res.on('error', () => finish(failed('reset')));
      res.on('aborted', () => finish(failed('reset')));
      res.on('end', () =>
        finish({
          status: res.statusCode ?? 0,
          latencyUs: elapsedUs(),
          body: Buffer.concat(chunks),
          truncated,
        }),
      );
    });
    req.end(body);
  });
}
