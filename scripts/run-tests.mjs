// Runs the test suite with Node's built-in runner (its closing summary is what
// CI reads). Tests are TypeScript, loaded through tsx.
//   node scripts/run-tests.mjs            all tests
//   node scripts/run-tests.mjs --unit     only tests outside test/integration/
//   node scripts/run-tests.mjs FILE...    just these files
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
let files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  files = walk('test', []).sort();
  if (unitOnly) files = files.filter((f) => !f.startsWith(join('test', 'integration')));
}
const concurrency = process.env.UMBRA_TEST_CONCURRENCY ?? String(Math.max(1, cpus().length));
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(r.status ?? 1);
