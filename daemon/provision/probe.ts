/**
 * Whether an instance answers: an HTTP GET of its health path (2xx or 3xx is
 * healthy), or a bare TCP connect. Each resolves false on any failure or at
 * its timeout; neither rejects. {@link nextHealth} turns probe results into
 * health with a threshold, as Envoy's health checker does.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Endpoint } from './provisioner.js';

export function probeHttp(at: Endpoint, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: at.host,
        port: at.port,
        path,
        method: 'GET',
        timeout: timeoutMs,
        headers: { 'user-agent': 'umbra-health' },
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

export function probeTcp(at: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: at.host, port: at.port, timeout: timeoutMs });
    const end = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => end(true));
    socket.once('timeout', () => end(false));
    socket.once('error', () => end(false));
  });
}

/** An endpoint's health from its probes so far. */
export interface ProbedHealth {
  healthy: boolean;
  /** Probes failed in a row. */
  failures: number;
}

/** Probes an endpoint that was healthy must fail in a row before it counts as unhealthy. */
export const UNHEALTHY_AFTER = 2;

/**
 * The health after one more probe: one success makes an endpoint healthy; a
 * healthy one turns unhealthy only after {@link UNHEALTHY_AFTER} failures in
 * a row, so that one probe lost to a busy daemon or network never takes an
 * instance out of production's routing. A new endpoint (`prev` undefined) is
 * healthy only once it has answered.
 */
export function nextHealth(prev: ProbedHealth | undefined, ok: boolean): ProbedHealth {
  if (ok) return { healthy: true, failures: 0 };
  const failures = (prev?.failures ?? 0) + 1;
  return { healthy: (prev?.healthy ?? false) && failures < UNHEALTHY_AFTER, failures };
}
