/**
 * A step's assertions against one arm's response: status, body fields (by
 * JSON path, compared as JSON values), latency budget; and the values the
 * step extracts for later steps. Pure: a response in, failures out.
 */

import type { Step } from './journey.js';
import { readJsonPath } from './json-path.js';

/** What the runner saw of one arm's answer to a step. */
export interface StepResponse {
  /** HTTP status; 0 when there was no response (timeout, reset, no connection). */
  status: number;
  latencyUs: number;
  body: Buffer;
  /** Why there was no response, when there was none. */
  transport?: 'timeout' | 'reset' | 'connect_failure';
  /** The body was longer than the runner reads; only its start was kept. */
  truncated: boolean;
}

export interface StepCheck {
  /** Empty when every assertion held. */
  failures: string[];
  /** Values extracted for later steps (only when the step passed). */
  extracted: [string, string][];
}

/** Checks `step`'s assertions against `r` and extracts its variables. */
export function checkStep(step: Step, r: StepResponse): StepCheck {
  if (r.transport) return { failures: [`no response: ${r.transport.replace('_', ' ')}`], extracted: [] };
  const failures: string[] = [];
  const want = step.expect.status;
  const statusOk = want.length === 0 ? r.status >= 200 && r.status < 300 : want.includes(r.status);
  if (!statusOk)
    failures.push(`status ${r.status}, expected ${want.length === 0 ? '2xx' : want.join(' or ')}`);
  const budget = step.expect.latencyMs;
  if (budget !== undefined && r.latencyUs > budget * 1000) {
    failures.push(`latency ${(r.latencyUs / 1000).toFixed(1)} ms over the ${budget} ms budget`);
  }
  const needsJson = step.expect.body.length > 0 || step.extract.length > 0;
  let doc: unknown;
  if (needsJson) {
    const parsed = parseJson(r.body, r.truncated);
    if ('error' in parsed) failures.push(parsed.error);
    else doc = parsed.value;
  }
  if (doc === undefined) return { failures, extracted: [] };
  for (const { path, value } of step.expect.body) {
    const got = readJsonPath(path, doc);
    if (!sameJson(got, value)) {
      failures.push(
        `${path.text} is ${got === undefined ? 'absent' : JSON.stringify(got)}, expected ${JSON.stringify(value)}`,
      );
    }
  }
  const extracted: [string, string][] = [];
  for (const [name, path] of step.extract) {
    const got = readJsonPath(path, doc);
    if (got === undefined || got === null) failures.push(`extract ${name}: ${path.text} has no value`);
    else extracted.push([name, typeof got === 'string' ? got : JSON.stringify(got)]);
  }
  return { failures, extracted: failures.length === 0 ? extracted : [] };
}

function parseJson(body: Buffer, truncated: boolean): { value: unknown } | { error: string } {
  if (truncated) return { error: 'body too long to read as JSON' };
  try {
    return { value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { error: 'body is not JSON' };
  }
}

/** Deep equality of JSON values (object keys in any order). */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(ob, k) && sameJson((a as Record<string, unknown>)[k], ob[k]));
}
