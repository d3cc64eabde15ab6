import { loadConfig } from '../../config/load.js';
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
    'Reads FILE, applies the defaults and checks every rule. Prints each error',
    'as `path: message` and exits 1 when the file is invalid, 0 when it is valid.',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, { output: { type: 'string', short: 'o' } });
    const json = outputFlag(flags['output']);
    if (positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const file = positionals[0]!;
    const r = loadConfig(file);
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
