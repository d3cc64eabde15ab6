/**
 * A journey as the runner follows it: ordered HTTP steps with templated
 * inputs, values extracted from earlier responses, and assertions. Plain
 * data, independent of how it was configured (daemon/config/journeys.ts
 * validates umbra.yaml and compiles it into this shape with
 * {@link compileJourney}); templates and JSON paths are parsed once.
 */
import { type JsonPath, parseJsonPath } from './json-path.js';
import { parseTemplate, type Template, templateNames } from './template.js';

/** Variables every run defines: its number, a fresh UUID, and its start (Unix ms). */
export const BUILTIN_VARIABLES = ['run', 'uuid', 'unixMs'] as const;

/** Methods that only read; any other method is a write (and needs a sandbox). */
export const READ_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

export interface StepExpect {
  /** Statuses that pass; empty: any 2xx. */
  status: number[];
  /** JSON path → the value expected there (compared as JSON). */
  body: { path: JsonPath; value: unknown }[];
  /** Latency budget in ms; absent: none. */
  latencyMs?: number;
}

export interface Step {
  name: string;
  method: string;
  path: Template;
  headers: [string, Template][];
  body?: Template;
  /** Variable → where its value is in this step's JSON response. */
  extract: [string, JsonPath][];
  expect: StepExpect;
}

export interface Journey {
  name: string;
  everyMs: number;
  /** Per step and arm. */
  timeoutMs: number;
  /** Defined once per run, before the first step, from builtins and earlier variables. */
  variables: [string, Template][];
  steps: Step[];
}

/** A journey as written (after the schema's own checks): raw templates and paths. */
export interface JourneySource {
  name: string;
  every: number;
  timeout: number;
  variables: Record<string, string>;
  steps: {
    name: string;
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string | undefined;
    extract: Record<string, string>;
    expect: {
      status?: number | number[] | undefined;
      body: Record<string, unknown>;
      latency?: number | undefined;
    };
  }[];
}

/** A problem in a journey: where (relative to the journey) and what. */
export interface JourneyIssue {
  at: (string | number)[];
  message: string;
}

/**
 * Parses a journey's templates and paths and checks that every variable a
 * template uses is defined before it: a builtin, one of `variables` listed
 * earlier, or extracted by an earlier step. Returns the compiled journey, or
 * every problem found with its path.
 */
export function compileJourney(src: JourneySource): { journey: Journey } | { issues: JourneyIssue[] } {
  const issues: JourneyIssue[] = [];
  const known = new Set<string>(BUILTIN_VARIABLES);
  const template = (text: string, at: (string | number)[]): Template => {
    const t = parseTemplate(text);
    if ('error' in t) {
      issues.push({ at, message: t.error });
      return { parts: [''] };
    }
    for (const name of templateNames(t)) {
      if (!known.has(name)) issues.push({ at, message: unknownVariable(name, known) });
    }
    return t;
  };
  const path = (text: string, at: (string | number)[]): JsonPath => {
    const p = parseJsonPath(text);
    if ('error' in p) {
      issues.push({ at, message: p.error });
      return { text, segments: [] };
    }
    return p;
  };
  const variables: [string, Template][] = [];
  for (const [name, text] of Object.entries(src.variables)) {
    variables.push([name, template(text, ['variables', name])]);
    known.add(name);
  }
  const steps: Step[] = src.steps.map((s, i) => {
    const at = ['steps', i];
    const step: Step = {
      name: s.name,
      method: s.method,
      path: template(s.path, [...at, 'path']),
      headers: Object.entries(s.headers).map(([h, v]) => [h, template(v, [...at, 'headers', h])]),
      ...(s.body === undefined ? {} : { body: template(s.body, [...at, 'body']) }),
      extract: Object.entries(s.extract).map(([v, p]) => [v, path(p, [...at, 'extract', v])]),
      expect: {
        status: s.expect.status === undefined ? [] : [s.expect.status].flat(),
        body: Object.entries(s.expect.body).map(([p, value]) => ({
          path: path(p, [...at, 'expect', 'body', p]),
          value,
        })),
        ...(s.expect.latency === undefined ? {} : { latencyMs: s.expect.latency }),
      },
    };
    // Extracted values are known from the next step on.
    for (const [v] of step.extract) known.add(v);
    return step;
  });
  if (issues.length > 0) return { issues };
  return {
    journey: { name: src.name, everyMs: src.every, timeoutMs: src.timeout, variables, steps },
  };
}

function unknownVariable(name: string, known: Set<string>): string {
  return `unknown variable '${name}': define it in variables, extract it in an earlier step, or use ${BUILTIN_VARIABLES.join(', ')} (known here: ${[...known].join(', ')})`;
}

/** Whether a method writes (anything but GET, HEAD, OPTIONS). */
export function isWrite(method: string): boolean {
  return !READ_METHODS.includes(method);
}

/** The endpoint name a step's records carry: `synthetic:<journey>/<step>`. */
export function syntheticEndpoint(journey: string, step: string): string {
  return `synthetic:${journey}/${step}`;
}
