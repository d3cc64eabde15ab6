/**
 * The contract every `umbra` subcommand implements. Commands are registered
 * explicitly in commands/index.ts; nothing happens at import time.
 */
export interface Command {
  /** Words that select it, e.g. `['model', 'train']`. */
  path: string[];
  /** One line for `umbra --help`. */
  summary: string;
  /** Full help text shown by `umbra <command> --help`. */
  usage: string;
  /** Runs with the arguments after the command words; returns the exit code. */
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed as `umbra <cmd>: <message>` with exit code 2. */
export class UsageError extends Error {}
