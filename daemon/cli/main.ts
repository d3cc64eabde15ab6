/**
 * `umbra`: dispatches to the registered subcommands.
 */
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { commands } from './commands/index.js';

function topHelp(list: Command[]): string {
  const width = Math.max(...list.map((c) => c.path.join(' ').length));
  const lines = list.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'umbra: shadow a new version on real traffic inside Envoy, judge it, roll it back automatically.',
    '',
    'Usage: umbra <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run `umbra <command> --help` for a command's flags.",
  ].join('\n');
}

/** Longest command path that prefixes argv. */
function match(list: Command[], argv: string[]): Command | undefined {
  let best: Command | undefined;
  for (const c of list) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best;
}

export async function runCli(argv: string[], list: Command[] = commands()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(topHelp(list));
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    console.log('umbra 0.1.0');
    return 0;
  }
  const cmd = match(list, argv);
  if (!cmd) {
    console.error(`umbra: unknown command '${argv[0]}'; run \`umbra --help\` for the list`);
    return 2;
  }
  const rest = argv.slice(cmd.path.length);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`umbra ${cmd.path.join(' ')}: ${err.message}`);
      console.error(`run \`umbra ${cmd.path.join(' ')} --help\` for usage`);
      return 2;
    }
    console.error(`umbra ${cmd.path.join(' ')}: ${(err as Error).message}`);
    return 1;
  }
}
