/**
 * Summarises the profiles `UMBRA_BENCH_PERF=dir npm run bench:filter` wrote:
 * for each scenario, Envoy CPU per request (µs) by where it ran: `JIT` (the
 * Wasm VM's compiled code; perf shows it as `[JIT] tid …`), `envoy` (Envoy's
 * own code, its side of every host call and callback included), `kernel`
 * and `other` (libc, vdso), as the median over rounds with each round's
 * figure in brackets. Needs `perf` on PATH.
 *
 *   node --import tsx bench/profile-report.ts /tmp/prof
 *
 * Compare scenarios at different shares per request that entered the filter:
 * the JIT figure of `x-5%-gated` divided by the share that entered (0.05 for
 * a variant gated with live sample 0) against the same figure at 100 %.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The sampling frequency bench/filter.ts records at (perf -F). */
const HZ = 2999;
const PARTS = ['JIT', 'envoy', 'kernel', 'other'] as const;
type Part = (typeof PARTS)[number];

function partOf(dso: string): Part {
  if (dso.startsWith('[JIT]')) return 'JIT';
  if (dso === 'envoy') return 'envoy';
  if (dso.includes('kernel')) return 'kernel';
  return 'other';
}

/** µs per request by part, from one profile and its request count. */
function profile(data: string, requests: number): Record<Part, number> {
  const out = spawnSync('perf', ['report', '-i', data, '--sort', 'dso', '-n', '--stdio'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (out.status !== 0) throw new Error(`profile-report: perf report ${data} failed: ${out.stderr}`);
  const us: Record<Part, number> = { JIT: 0, envoy: 0, kernel: 0, other: 0 };
  for (const line of out.stdout.split('\n')) {
    const m = /^\s*[\d.]+%\s+(\d+)\s+(.+?)\s*$/.exec(line);
    if (!m) continue;
    us[partOf(m[2]!)] += (Number(m[1]) / HZ / requests) * 1e6;
  }
  return us;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function main(): void {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: profile-report.ts <dir written by UMBRA_BENCH_PERF>');
  const byScenario = new Map<string, Record<Part, number>[]>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.data'))
    .sort()) {
    const base = file.slice(0, -'.data'.length);
    const scenario = base.slice(0, base.lastIndexOf('.'));
    const requests = Number(readFileSync(join(dir, `${base}.requests`), 'utf8').trim());
    if (!(requests > 0)) continue;
    const list = byScenario.get(scenario) ?? [];
    list.push(profile(join(dir, file), requests));
    byScenario.set(scenario, list);
  }
  console.log(`${'scenario'.padEnd(22)}${PARTS.map((p) => p.padStart(24)).join('')}   (µs per request)`);
  for (const [scenario, rounds] of byScenario) {
    const cells = PARTS.map((p) => {
      const xs = rounds.map((r) => r[p]);
      return `${median(xs).toFixed(2)} [${xs.map((x) => x.toFixed(1)).join(' ')}]`.padStart(24);
    });
    console.log(`${scenario.padEnd(22)}${cells.join('')}`);
  }
}

main();
