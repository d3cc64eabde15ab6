/**
 * The house's shape, kept by a test: imports inside daemon/ run one way,
 * down the layers below (wire → synthetic → config → pairing → aggregation → judge → rollout and
 * experiment → controller → admin → parts → umbrad → CLI), and no file of daemon/ or
 * filter/ imports itself back through others. A new folder must be given
 * its place in LAYERS; a failure names the import that breaks the order.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));

/** Rooms of daemon/ (a folder, or a file at its top) from the ground up; a room imports only rooms below it. */
const LAYERS: string[][] = [
  ['log', 'platform', 'wire', 'model'],
  ['synthetic'],
  ['config'],
  ['pairing', 'xds', 'provision'],
  ['aggregate'],
  ['judge', 'telemetry', 'store', 'adaptive'],
  ['replay', 'metrics', 'rollout', 'experiment', 'chaos', 'ha'],
  ['training', 'controller', 'report'],
  ['admin'],
  ['parts'],
  ['umbrad'],
  ['cli'],
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (name === 'generated' || name === 'node_modules') continue;
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Relative imports of a file, as repository paths of .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const spec = m[1] as string;
    const target = normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts');
    out.push(target.endsWith('.ts') ? target : `${target}.ts`);
  }
  return out;
}

function roomOf(file: string): string {
  const parts = relative('daemon', file).split('/');
  return parts.length > 1 ? (parts[0] as string) : (parts[0] as string).replace(/\.ts$/, '');
}

const layerOf = new Map<string, number>();
LAYERS.forEach((rooms, i) => {
  for (const r of rooms) layerOf.set(r, i);
});

test('every room of daemon/ has a layer, and imports run down the layers only', () => {
  const wrong: string[] = [];
  for (const file of sources('daemon')) {
    const from = roomOf(file);
    const a = layerOf.get(from);
    if (a === undefined) {
      wrong.push(`${file}: room '${from}' is on no layer (add it to LAYERS in this test)`);
      continue;
    }
    for (const target of importsOf(file)) {
      if (!target.startsWith('daemon/')) continue;
      const to = roomOf(target);
      if (to === from) continue;
      const b = layerOf.get(to);
      if (b === undefined || b >= a)
        wrong.push(`${file} → ${target}: '${from}' (layer ${a}) imports '${to}' (layer ${b})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no import cycle among the files of daemon/ and filter/', () => {
  for (const top of ['daemon', 'filter/assembly']) {
    const files = sources(top);
    const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => files.includes(t))]));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' → '));
        return;
      }
      state.set(f, 'open');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    assert.deepEqual(cycles, [], `import cycles under ${top}/`);
  }
});

test('the scanner reads real imports, so the checks above are not vacuous', () => {
  // The scanner reads the imports the checks above rely on (guards against a pattern that matches nothing).
  assert.ok(importsOf('daemon/umbrad.ts').includes('daemon/parts/context.ts'));
  assert.ok(importsOf('daemon/judge/judge.ts').includes('daemon/judge/terms.ts'));
  assert.ok((layerOf.get('judge') as number) < (layerOf.get('rollout') as number));
});
