/**
 * Strict argument parsing for CLI commands: unknown flags and missing values
 * are usage errors, never silently ignored.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './command.js';

export type FlagSpec = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean }
>;

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseFlags(argv: string[], spec: FlagSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: spec,
      strict: true,
      allowPositionals: true,
    });
    return { flags: values as Parsed['flags'], positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A flag that must be a whole number within bounds. */
export function intFlag(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max} (got ${String(value)})`);
  }
  return n;
}
