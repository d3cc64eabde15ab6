/** Drives the traffic child (bench/xds-traffic.ts) from the benchmark process. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Epoch milliseconds with fractions, comparable across processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The traffic child: two upstreams (`v1`, `v2`), steady load, and first-response times. */
export async function startTraffic() {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./xds-traffic.ts', import.meta.url))],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const waiters: Array<(words: string[]) => void> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => waiters.shift()?.(l.split(' ')));
  const nextLine = () => new Promise<string[]>((resolve) => waiters.push(resolve));
  const [, p1, p2] = await nextLine();
  return {
    ports: [Number(p1), Number(p2)] as const,
    load(url: string) {
      child.stdin!.write(`load ${url}\n`);
    },
    /** Resolves with the time of the first response from `version` at or after `since`. */
    expect(version: string, since: number): Promise<number> {
      const line = nextLine();
      child.stdin!.write(`expect ${version} ${since}\n`);
      return line.then((w) => Number(w[2]));
    },
    async stop() {
      child.stdin!.end();
      await new Promise((r) => child.once('exit', r));
    },
  };
}
