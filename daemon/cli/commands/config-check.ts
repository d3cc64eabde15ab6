import { loadConfig } from '../../config/load.js';
import type { UmbraConfig } from '../../config/schema.js';
import { checkRendering, renderAll } from '../../controller/render-check.js';
import { findEnvoy } from '../../platform/envoy-binary.js';
import { envoyValidate } from '../../xds/envoy-validate.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { outputFlag } from './output.js';

/** `umbra config check FILE`: validates an umbra.yaml without starting anything. */
export const configCheckCommand: Command = {
  path: ['config', 'check'],
  summary: 'Validate an umbra.yaml without starting anything',
  usage: [
    'Usage: umbra config check FILE [-o json]',
    '',
    'Reads FILE, applies the defaults and checks every rule. Then renders each',
    'service as the daemon would push it to Envoy and checks that (durations,',
    'names, the Umbra filter settings); when an Envoy binary is at hand',
    '(`umbra envoy`), Envoy itself validates the rendering (`envoy --mode',
    'validate`), unless --no-envoy. Prints each error as `path: message` and',
    'exits 1 when the file is invalid, 0 when it is valid.',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      output: { type: 'string', short: 'o' },
      'no-envoy': { type: 'boolean' },
    });
    const json = outputFlag(flags['output']);
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const file = positionals[0]!;
    const loaded = loadConfig(file);
    const r = loaded.ok ? await checkForEnvoy(loaded.config, flags['no-envoy'] !== true) : loaded;
    if (json) {
      console.log(
        JSON.stringify(
          r.ok
            ? { ok: true, file, services: r.config.services.map((s) => s.name) }
            : { ok: false, file, errors: r.errors },
        ),
      );
      return r.ok ? 0 : 1;
    }
    if (!r.ok) {
      console.error(`${file}: invalid (${r.errors.length} error${r.errors.length === 1 ? '' : 's'})`);
      for (const e of r.errors) console.error(`  ${e}`);
      return 1;
    }
    const names = r.config.services.map((s) => s.name);
    console.log(
      `${file}: valid (${names.length} service${names.length === 1 ? '' : 's'}${names.length ? `: ${names.join(', ')}` : ''})`,
    );
    return 0;
  },
};

/** The loaded config, or what proxies would refuse in its rendering (and Envoy's own verdict when at hand). */
async function checkForEnvoy(
  config: UmbraConfig,
  withEnvoy: boolean,
): Promise<{ ok: true; config: UmbraConfig } | { ok: false; errors: string[] }> {
  const errors = checkRendering(config);
  if (errors.length > 0) return { ok: false, errors };
  const envoy = withEnvoy ? findEnvoy() : undefined;
  if (!envoy || config.services.length === 0) return { ok: true, config };
  const v = await envoyValidate(envoy.path, renderAll(config));
  if (v.ok) return { ok: true, config };
  return { ok: false, errors: v.errors.map((e) => `envoy --mode validate (${envoy.path}): ${e}`) };
}
