/** Runs the CLI in-process and captures what it prints. */

import type { Command } from '../../../daemon/cli/command.js';
import { runCli } from '../../../daemon/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `umbra <argv>` with the given commands, capturing console.log/console.error. */
export async function runCaptured(argv: string[], list: Command[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(' '));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(' '));
  try {
    const code = await runCli(argv, list);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}
