/**
 * Output helpers shared by the commands: `-o json|text` parsing and small
 * text formatting for tables and times.
 */
import { UsageError } from '../command.js';

/** True for `-o json`; undefined and `text` mean text; anything else is a usage error. */
export function outputFlag(value: unknown): boolean {
  if (value === undefined || value === 'text') return false;
  if (value === 'json') return true;
  throw new UsageError(`-o must be json or text (got ${String(value)})`);
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

/** ISO time without milliseconds, or `-` for 0/undefined. */
export function isoTime(ms: number | undefined): string {
  if (!ms) return '-';
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
