/**
 * Whether an instance answers: an HTTP GET of its health path (2xx or 3xx is
 * healthy), or a bare TCP connect. Each resolves false on any failure or at
 * its timeout; neither rejects.
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
