import { parseFlags } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { ADMIN_FLAGS, ADMIN_FLAGS_USAGE, withAdmin } from './admin-connection.js';
import { isoTime, outputFlag } from './output.js';

/** `umbra explain DECISION`. */
export const explainCommand: Command = {
  path: ['explain'],
  summary: 'Explain a judge decision: signals, counts, effect sizes, example requests',
  usage: [
    'Usage: umbra explain DECISION [-o json]',
    '',
    'DECISION is a decision id, as shown by `umbra status` and `umbra history`.',
    '',
    'Flags:',
    ...ADMIN_FLAGS_USAGE,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, ADMIN_FLAGS);
    const json = outputFlag(flags['output']);
    if (positionals.length !== 1) throw new UsageError('expected DECISION');
    const id = Number(positionals[0]);
    if (!Number.isInteger(id) || id <= 0)
      throw new UsageError(`DECISION must be a positive whole number (got ${positionals[0]})`);
    return withAdmin(flags, json, async (client) => {
      const d = await client.explain(id);
      if (json) {
        console.log(JSON.stringify({ ...d, explanation: parseJson(d.explanationJson) }));
        return 0;
      }
      console.log(`decision ${d.id}  ${d.service}  ${isoTime(d.atMs)}  deployment ${d.deploymentId || '-'}`);
      console.log(
        `verdict ${d.verdict}: score ${d.score.toFixed(2)} against threshold ${d.threshold} (model ${d.modelVersion || 'default'})`,
      );
      if (d.summary) console.log(d.summary);
      console.log(JSON.stringify(parseJson(d.explanationJson), null, 2));
      return 0;
    });
  },
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
