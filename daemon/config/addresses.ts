/**
 * Listen addresses compared as the kernel compares them: `localhost:7071`
 * and `127.0.0.1:7071` are one socket, and a wildcard host (`0.0.0.0`,
 * `[::]`) takes the port on every address of its family (and, for `[::]` on
 * Linux, of IPv4 too). Used to refuse a configuration whose daemon ports
 * collide with each other or with a service's listener before anything binds.
 */
import { formatPath } from './path.js';

/** One address a setting asks for, with the setting's path (`daemon.xds.listen`). */
export interface NamedAddress {
  at: (string | number)[];
  hostPort: string;
}

/** `host:port` → a canonical host and the port; the host may be in brackets. */
export function canonicalAddress(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  let host = hostPort
    .slice(0, i)
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  // NOTE: a daemon or Envoy resolving `localhost` gets 127.0.0.1 first (glibc, /etc/hosts).
  if (host === 'localhost') host = '127.0.0.1';
  if (host === '0:0:0:0:0:0:0:0') host = '::';
  return { host, port: Number(hostPort.slice(i + 1)) };
}

/** `host:port` → its parts as written (no canonical form); an IPv6 host may be in brackets. */
export function splitHostPort(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  const host = v.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(v.slice(i + 1)) };
}

/** The inverse of {@link splitHostPort}: an IPv6 host goes in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** True when binding both addresses would clash (same port, same or wildcard host). */
export function addressesClash(a: string, b: string): boolean {
  const x = canonicalAddress(a);
  const y = canonicalAddress(b);
  // Port 0 asks the kernel for a free port: never the same one twice.
  if (x.port !== y.port || x.port === 0) return false;
  if (x.host === y.host) return true;
  const family = (h: string) => (h.includes(':') ? 6 : 4);
  // NOTE: `[::]` binds IPv4 too on Linux (net.ipv6.bindv6only=0), as Node's dual-stack sockets do.
  if (x.host === '::' || y.host === '::') return true;
  if (WILDCARDS.has(x.host) && family(y.host) === 4) return true;
  if (WILDCARDS.has(y.host) && family(x.host) === 4) return true;
  return false;
}

/** For each address that clashes with an earlier one: its path and which earlier setting it collides with. */
export function clashes(addresses: NamedAddress[]): { at: (string | number)[]; message: string }[] {
  const out: { at: (string | number)[]; message: string }[] = [];
  addresses.forEach((a, i) => {
    const earlier = addresses.slice(0, i).find((b) => addressesClash(a.hostPort, b.hostPort));
    if (!earlier) return;
    out.push({
      at: a.at,
      message: `${a.hostPort} is the same port as ${formatPath(earlier.at)} (${earlier.hostPort})`,
    });
  });
  return out;
}

/**
 * For each upstream endpoint that is one of the bound addresses: the request
 * would reach the daemon (or loop back into Envoy) instead of a service. Only
 * the same host counts: behind a wildcard listen, an endpoint on another
 * machine is another socket.
 */
export function endpointClashes(
  endpoints: NamedAddress[],
  bound: NamedAddress[],
): { at: (string | number)[]; message: string }[] {
  const out: { at: (string | number)[]; message: string }[] = [];
  for (const e of endpoints) {
    const x = canonicalAddress(e.hostPort);
    const hit = bound.find((b) => {
      const y = canonicalAddress(b.hostPort);
      return x.port !== 0 && x.port === y.port && x.host === y.host;
    });
    if (hit)
      out.push({
        at: e.at,
        message: `${e.hostPort} is ${formatPath(hit.at)} (${hit.hostPort}), not a service`,
      });
  }
  return out;
}

/**
 * For a failed bind (grpc-js: `… EADDRINUSE: address already in use
 * 127.0.0.1:7071]`; Node's net: `code: 'EADDRINUSE', port`), the line that
 * names the setting: `daemon.telemetry.listen 127.0.0.1:7071 is in use`.
 * Undefined when the error is no port clash or names no known address.
 */
export function addressInUse(err: unknown, addresses: NamedAddress[]): string | undefined {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  const message = String(e?.message ?? '');
  if (e?.code !== 'EADDRINUSE' && !message.includes('EADDRINUSE')) return undefined;
  const inMessage = /EADDRINUSE[^\]]*?((?:\[[^\]]+\]|[^\s\]]+):(\d+))/.exec(message)?.[1];
  const failed = inMessage ?? (e.port !== undefined ? `${e.address ?? '0.0.0.0'}:${e.port}` : undefined);
  if (failed === undefined) return undefined;
  const hit = addresses.find((a) => addressesClash(a.hostPort, failed));
  return hit ? `${formatPath(hit.at)} ${hit.hostPort} is in use` : undefined;
}
