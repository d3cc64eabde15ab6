/** Free loopback ports for tests. */
import { createServer } from 'node:net';

/** Asks the kernel for a free TCP port on 127.0.0.1 (released before it returns). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Several distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  for (let i = 0; i < n * 4 && out.size < n; i++) out.add(await freePort());
  if (out.size < n) throw new Error(`freePorts: could not find ${n} distinct free ports`);
  return [...out];
}
