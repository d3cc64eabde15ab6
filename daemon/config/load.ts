/**
 * Loading `umbra.yaml`: YAML → schema → either a config or a list of errors,
 * each naming the path of the field to fix
 * (`services[0].mirroring.shadowPercentage: must be 0..100`). Nothing is
 * thrown for bad input; only I/O failures other than "cannot read" propagate.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { formatPath } from './path.js';
import { UmbraConfig } from './schema.js';

export { formatPath } from './path.js';

export type ConfigResult = { ok: true; config: UmbraConfig } | { ok: false; errors: string[] };

/** Parses and validates the text of an umbra.yaml (or JSON, a subset of YAML). */
export function parseConfig(text: string): ConfigResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `yaml: line ${line}, column ${col}: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  const raw = dropNulls(doc.toJS() ?? {});
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, errors: ['(root): must be a mapping'] };
  const r = UmbraConfig.safeParse(raw);
  if (r.success) return { ok: true, config: r.data };
  return { ok: false, errors: r.error.issues.flatMap((i) => formatIssue(i).split('\n')) };
}

/** Reads and validates a file; a file that cannot be read is one error. */
export function loadConfig(path: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return {
      ok: false,
      errors: [`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`],
    };
  }
  return parseConfig(text);
}

/** One issue as `path: message`, with zod's generic wording made specific. */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const at = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown setting`).join('\n');
    case 'invalid_type':
      if (issue.message.startsWith('Invalid input')) {
        const got = /received (\w+)/.exec(issue.message)?.[1];
        return got === 'undefined'
          ? `${at}: required`
          : `${at}: must be ${article(issue.expected)}${got ? ` (got ${got})` : ''}`;
      }
      return `${at}: ${issue.message}`;
    case 'invalid_value':
      if (issue.message.startsWith('Invalid'))
        return `${at}: must be one of ${issue.values.map(String).join(', ')}`;
      return `${at}: ${issue.message}`;
    case 'invalid_union':
      if (
        issue.message.startsWith('Invalid input') &&
        'note' in issue &&
        issue.note === 'No matching discriminator'
      ) {
        return `${at}: must be process, static or exec`;
      }
      return `${at}: ${issue.message}`;
    case 'too_small':
      if (issue.message.startsWith('Too small')) return `${at}: must be at least ${String(issue.minimum)}`;
      return `${at}: ${issue.message}`;
    case 'too_big':
      if (issue.message.startsWith('Too big')) return `${at}: must be at most ${String(issue.maximum)}`;
      return `${at}: ${issue.message}`;
    default:
      return `${at}: ${issue.message}`;
  }
}

/** A key written with no value (`alerts:` with its lines commented out) counts as absent. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = dropNulls(x);
  return out;
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}
