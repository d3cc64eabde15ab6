/**
 * Ports in tests. Servers bind port 0 themselves and the test reads back the
 * port actually bound (`server.address()`, Envoy's `adminPort` and
 * `listenerPort`, the daemon's `--ports-file`). {@link freePort} is for the
 * few ports that must be named before anything can bind them.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where the kernel's ephemeral range starts (port-0 binds and outgoing connections take ports from there). */
function ephemeralStart(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(lo) && lo > 21_000 ? lo : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A loopback port for a server that must be named before anything binds it,
 * because its owner is told the port and cannot report one it picked:
 *  - a service's listener that reaches Envoy over xDS (`services[].listen`,
 *    the desired routing's listener): part of the configuration, which
 *    refuses port 0, as clients must know where to connect;
 *  - a telemetry server the filter is pointed at before it exists (the
 *    filter with its daemon down);
 *  - the demo's sample service, given its PORT as every instance the
 *    process provisioner runs.
 * NOTE: drawn at random below the kernel's ephemeral range, where neither
 * port-0 binds nor outgoing connections take ports, so the other tests'
 * servers and clients do not take it between this check and its use; a
 * port that is in use (EADDRINUSE) is passed over for another draw.
 */
export async function freePort(): Promise<number> {
  const lo = 20_000;
  const hi = ephemeralStart();
  for (let i = 0; i < 50; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo));
    if (await bindable(port)) return port;
  }
  throw new Error(`freePort: no free loopback port in 50 draws from ${lo}..${hi - 1}`);
}

/** True for a failed bind of a port in use (Node's net and grpc-js word it differently). */
export function isAddressInUse(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  return e?.code === 'EADDRINUSE' || /EADDRINUSE|address already in use|is in use/i.test(String(e?.message));
}

/**
 * Binds a named port with `bind`, again while it fails because the port is
 * in use (a process that just let it go, a connection still closing): at
 * most `tries` times, `pauseMs` apart. Any other failure is thrown at once.
 */
export async function retryInUse<T>(
  what: string,
  bind: () => Promise<T>,
  tries = 25,
  pauseMs = 200,
): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await bind();
    } catch (err) {
      if (!isAddressInUse(err)) throw err;
      last = err;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
  throw new Error(`${what}: port still in use after ${tries} tries: ${(last as Error)?.message}`);
}
