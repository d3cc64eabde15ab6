/**
 * `envoy --mode validate` on rendered resources: Envoy's own verdict on what
 * the daemon would push, without starting a proxy. The resources (as
 * rendered for ADS) become one static bootstrap: EDS clusters get their load
 * assignment inline and each HCM its route configuration inline, so nothing
 * refers to a management server.
 *
 * NOTE: validate mode builds every listener, cluster and filter factory
 * (the Wasm filter's VM and its configure callback included) and exits 0 or
 * 1 without binding sockets or connecting upstream (Envoy docs, "Command line
 * options", --mode).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SnapshotInput } from './snapshot.js';
import { HCM_TYPE } from './type-urls.js';

type Obj = Record<string, unknown>;

/** Envoy's verdict: ok, or the lines of its output that say why not. */
export type EnvoyValidation = { ok: true } | { ok: false; errors: string[] };

/** Replaces RDS in every HCM of `v` with the named route configuration, inline. */
function inlineRoutes(v: unknown, routes: ReadonlyMap<string, Obj>): unknown {
  if (Array.isArray(v)) return v.map((x) => inlineRoutes(x, routes));
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Obj;
  const out: Obj = {};
  for (const [k, child] of Object.entries(o)) out[k] = inlineRoutes(child, routes);
  const rds = o['rds'] as Obj | undefined;
  if (o['@type'] === HCM_TYPE && rds) {
    delete out['rds'];
    out['route_config'] = routes.get(String(rds['route_config_name'])) ?? {};
  }
  return out;
}

/** The resources as one static bootstrap (JSON). */
export function staticBootstrap(input: SnapshotInput): Obj {
  const assignments = new Map((input.endpoints ?? []).map((e) => [String((e as Obj)['cluster_name']), e]));
  const routes = new Map((input.routes ?? []).map((r) => [String((r as Obj)['name']), r as Obj]));
  const clusters = (input.clusters ?? []).map((c) => {
    const o = { ...(c as Obj) };
    if (o['type'] !== 'EDS') return o;
    delete o['eds_cluster_config'];
    o['type'] = 'STATIC';
    o['load_assignment'] = assignments.get(String(o['name'])) ?? { cluster_name: o['name'] };
    return o;
  });
  return {
    node: { id: 'umbra-config-check', cluster: 'umbra' },
    static_resources: { clusters, listeners: (input.listeners ?? []).map((l) => inlineRoutes(l, routes)) },
  };
}

/** Runs `<envoy> --mode validate` on the resources; never throws for Envoy's own refusals. */
export async function envoyValidate(
  envoyPath: string,
  input: SnapshotInput,
  timeoutMs = 30_000,
): Promise<EnvoyValidation> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-validate-'));
  try {
    const file = join(dir, 'bootstrap.json');
    writeFileSync(file, JSON.stringify(staticBootstrap(input)), { mode: 0o600 });
    const args = [
      '--mode',
      'validate',
      '-c',
      file,
      '--log-level',
      'error',
      '--base-id-path',
      join(dir, 'id'),
    ];
    return await new Promise<EnvoyValidation>((resolve) => {
      execFile(envoyPath, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) {
          resolve({ ok: true });
          return;
        }
        const lines = `${stderr}\n${stdout}`
          .split('\n')
          // `[time][pid][level][logger] [source:line] message` → `message`
          .map((l) => l.replace(/^(\[[^\]]*\])+\s*(\[[^\]]*\]\s*)?/, '').trim())
          .filter((l) => l !== '' && !/^OK$/.test(l));
        const errors = lines.filter((l) => /error|invalid|refus|fail|exception|unable|cannot/i.test(l));
        const why = (errors.length > 0 ? errors : lines).slice(-10);
        resolve({
          ok: false,
          errors: why.length > 0 ? why : [`envoy exited with ${err.code ?? err.message}`],
        });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
