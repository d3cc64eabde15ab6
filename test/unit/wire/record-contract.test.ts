/**
 * The record contract has one source, telemetry.proto. The daemon's constants
 * (record-contract.ts), the filter's generated enums and the filter's counter
 * names must all say what it says, or records would be read as something else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as contract from '../../../daemon/wire/record-contract.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const PROTO = read('proto/umbra/telemetry/v1/telemetry.proto');

/** `NAME = n;` entries of a proto enum or message block, in order. */
function protoBlock(kind: 'enum' | 'message', name: string): [string, number][] {
  const m = new RegExp(`${kind} ${name} \\{([^}]*)\\}`).exec(PROTO);
  assert.ok(m, `${kind} ${name} in telemetry.proto`);
  return [...m[1]!.matchAll(/(\w+) = (\d+);/g)].map((x) => [x[1]!, Number(x[2])]);
}

/** `NAME = n,` entries of a generated AssemblyScript enum. */
function generatedEnum(name: string): [string, number][] {
  const text = read(`filter/assembly/generated/umbra/telemetry/v1/${name}.ts`);
  return [...text.matchAll(/(\w+) = (\d+),/g)].map((x) => [x[1]!, Number(x[2])]);
}

function contractEntries(prefix: string): [string, number][] {
  return Object.entries(contract)
    .filter(([k, v]) => k.startsWith(prefix) && typeof v === 'number')
    .map(([k, v]) => [k, v as number]);
}

test('the daemon’s arms and flags are the proto’s', () => {
  const sorted = (e: [string, number][]) => [...e].sort((a, b) => a[1] - b[1]);
  assert.deepEqual(sorted(contractEntries('ARM_')), protoBlock('enum', 'Arm'));
  assert.deepEqual(
    sorted(contractEntries('FLAG_')),
    protoBlock('enum', 'Flag').filter(([n]) => n !== 'FLAG_NONE'),
  );
});

test('the filter’s generated enums are the proto’s (regenerate with npm run gen)', () => {
  for (const name of ['Arm', 'Flag', 'ControlKind']) {
    assert.deepEqual(generatedEnum(name), protoBlock('enum', name), name);
  }
});

test('counter names are the Counters fields in field order, in the daemon and in the filter’s stats', () => {
  const fields = protoBlock('message', 'Counters');
  assert.deepEqual(
    fields.map(([, n]) => n),
    fields.map((_, i) => i + 1),
  );
  assert.deepEqual(
    [...contract.COUNTER_NAMES],
    fields.map(([name]) => name),
  );
  const metrics = read('filter/assembly/metrics.ts');
  const names = /const NAMES: string\[\] = \[([^\]]*)\]/.exec(metrics);
  assert.ok(names, 'NAMES in filter/assembly/metrics.ts');
  assert.deepEqual(
    [...names[1]!.matchAll(/'(\w+)'/g)].map((x) => x[1]),
    fields.map(([name]) => name),
  );
});

test('the filter sets flag bits only through the generated enum', () => {
  const flags = read('filter/assembly/record-flags.ts');
  for (const [name] of protoBlock('enum', 'Flag').filter(([n]) => n !== 'FLAG_NONE')) {
    assert.match(flags, new RegExp(`export const ${name}: u32 = <u32>Flag\\.${name};`), name);
  }
  for (const file of ['stream.ts', 'root.ts', 'shadow.ts']) {
    const text = read(`filter/assembly/${file}`);
    assert.doesNotMatch(text, /const FLAG_\w+: u32 = \d+/, file);
    assert.doesNotMatch(text, /flags \|= \d+|flags & \d+|return [1248];/, file);
  }
});
